//! The deployer's whole sequence against the emulator, in the order the notes recommend.

mod common;

use std::time::{Duration, Instant};

use common::*;
use railway_emulator::{Config, Emulator};
use serde_json::{Value, json};

const OBSERVE: &str = "query Observe($p: String!, $e: String!, $s: String!) {
  project(id: $p) { id name services { edges { node { id name } } } }
  environment(id: $e) { serviceInstances { edges { node {
    serviceId serviceName source { image repo } rootDirectory startCommand healthcheckPath
    healthcheckTimeout numReplicas region restartPolicyType restartPolicyMaxRetries
    domains { serviceDomains { id domain targetPort } }
    latestDeployment { id status meta } } } } }
  vars: variables(projectId: $p, environmentId: $e, serviceId: $s, unrendered: true)
}";

fn poll_status(emu: &railway_emulator::EmulatorHandle, id: &str, until: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = vec![];
    loop {
        let r = gql(
            emu,
            "query($id: String!) { deployment(id: $id) { id status meta staticUrl url } }",
            json!({"id": id}),
        )
        .ok();
        let status = r.data()["deployment"]["status"]
            .as_str()
            .unwrap()
            .to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if until.contains(&status.as_str()) {
            return seen.join(" -> ");
        }
        assert!(
            Instant::now() < deadline,
            "deployment stuck: {}",
            seen.join(" -> ")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn create_configure_deploy_observe_delete() {
    let emu = Emulator::start(Config::default().with_time_scale(0.01));

    // a. project with its default environment
    let (project, env) = create_project(&emu, "sw-client-a");
    let r = gql(&emu, "query($id: String!) { project(id: $id) { name workspaceId createdAt description environments { edges { node { name } } } } }", json!({"id": project})).ok();
    assert_eq!(
        r.data()["project"]["environments"]["edges"][0]["node"]["name"],
        "production"
    );
    assert_eq!(
        r.data()["project"]["workspaceId"],
        railway_emulator::DEFAULT_WORKSPACE_ID
    );

    // b. an empty service: nothing deploys
    let svc = create_service(&emu, &project, "mcp-foo", json!({}));
    assert!(emu.snapshot().deployments().next().is_none());

    // c. settings
    gql(
        &emu,
        "mutation($s: String!, $e: String, $input: ServiceInstanceUpdateInput!) { serviceInstanceUpdate(serviceId: $s, environmentId: $e, input: $input) }",
        json!({"s": svc, "e": env, "input": {
            "rootDirectory": "servers/foo", "startCommand": "node dist/index.js",
            "healthcheckPath": "/health", "healthcheckTimeout": 120, "numReplicas": 2,
            "region": "europe-west4-drams3a",
            "multiRegionConfig": {"europe-west4-drams3a": {"numReplicas": 2}},
            "restartPolicyType": "ON_FAILURE",
            "restartPolicyMaxRetries": 5, "preDeployCommand": ["npm run migrate"]}}),
    )
    .ok();
    gql(
        &emu,
        "mutation($input: ServiceInstanceLimitsUpdateInput!) { serviceInstanceLimitsUpdate(input: $input) }",
        json!({"input": {"serviceId": svc, "environmentId": env, "vCPUs": 1.0, "memoryGB": 0.5}}),
    )
    .ok();

    // d. variables, batched, without a deploy
    gql(
        &emu,
        "mutation($input: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $input) }",
        json!({"input": {"projectId": project, "environmentId": env, "serviceId": svc,
            "variables": {"PORT": "8080", "SELF_URL": "https://${{RAILWAY_PUBLIC_DOMAIN}}/mcp"},
            "skipDeploys": true}}),
    )
    .ok();
    assert!(
        emu.snapshot().deployments().next().is_none(),
        "skipDeploys must not deploy"
    );

    // f. a public domain (before the deploy, so the deploy sees RAILWAY_PUBLIC_DOMAIN)
    let r = gql(
        &emu,
        "mutation($input: ServiceDomainCreateInput!) { serviceDomainCreate(input: $input) { id domain suffix targetPort syncStatus } }",
        json!({"input": {"serviceId": svc, "environmentId": env, "targetPort": 8080}}),
    )
    .ok();
    let domain = r.data()["serviceDomainCreate"].clone();
    let host = domain["domain"].as_str().unwrap().to_string();
    assert!(host.ends_with(".up.railway.app"), "{host}");
    assert_eq!(domain["targetPort"], 8080);

    // connect an image: attaches the source and deploys
    let r = gql(
        &emu,
        "mutation($id: String!, $input: ServiceConnectInput!) { serviceConnect(id: $id, input: $input) { id name } }",
        json!({"id": svc, "input": {"image": "ghcr.io/org/mcp-foo:1.2"}}),
    )
    .ok();
    assert_eq!(r.data()["serviceConnect"]["name"], "mcp-foo");
    assert_eq!(emu.snapshot().deployments().count(), 1);

    // g. deploy explicitly and poll
    let r = gql(
        &emu,
        "mutation($s: String!, $e: String!) { serviceInstanceDeployV2(serviceId: $s, environmentId: $e) }",
        json!({"s": svc, "e": env}),
    )
    .ok();
    let dep = r.data()["serviceInstanceDeployV2"]
        .as_str()
        .unwrap()
        .to_string();
    let path = poll_status(&emu, &dep, &["SUCCESS", "FAILED"]);
    assert!(path.ends_with("SUCCESS"), "{path}");
    assert!(
        path.starts_with("QUEUED") || path.starts_with("BUILDING"),
        "{path}"
    );

    let r = gql(
        &emu,
        "query($id: String!) { deployment(id: $id) { status meta staticUrl url } }",
        json!({"id": dep}),
    )
    .ok();
    let d = &r.data()["deployment"];
    assert_eq!(d["meta"]["image"], "ghcr.io/org/mcp-foo:1.2");
    assert_eq!(d["meta"]["variables"]["PORT"], "8080");
    assert_eq!(
        d["meta"]["variables"]["SELF_URL"],
        format!("https://{host}/mcp")
    );
    assert_eq!(d["meta"]["variables"]["RAILWAY_PUBLIC_DOMAIN"], host);
    assert_eq!(d["staticUrl"], host);

    // the first deployment was superseded while in progress
    let first = &emu.snapshot().deployments().next().unwrap().status.clone();
    assert_eq!(first, "SKIPPED");

    // observe everything in one request
    let r = gql(&emu, OBSERVE, json!({"p": project, "e": env, "s": svc})).ok();
    assert_eq!(
        emu.requests().last().unwrap().root_fields,
        vec!["project", "environment", "variables"]
    );
    let data = r.data();
    assert_eq!(
        data["project"]["services"]["edges"][0]["node"]["name"],
        "mcp-foo"
    );
    let inst = &data["environment"]["serviceInstances"]["edges"][0]["node"];
    assert_eq!(inst["serviceId"], svc.as_str());
    assert_eq!(inst["serviceName"], "mcp-foo");
    assert_eq!(
        inst["source"],
        json!({"image": "ghcr.io/org/mcp-foo:1.2", "repo": null})
    );
    assert_eq!(inst["rootDirectory"], "servers/foo");
    assert_eq!(inst["startCommand"], "node dist/index.js");
    assert_eq!(inst["healthcheckPath"], "/health");
    assert_eq!(inst["healthcheckTimeout"], 120);
    assert_eq!(inst["numReplicas"], 2);
    // A plain `region` is ignored (notes §10): it reads back the default.
    assert_eq!(inst["region"], "us-west2");
    assert_eq!(inst["restartPolicyType"], "ON_FAILURE");
    assert_eq!(inst["restartPolicyMaxRetries"], 5);
    assert_eq!(
        inst["domains"]["serviceDomains"][0]["domain"],
        host.as_str()
    );
    assert_eq!(inst["latestDeployment"]["id"], dep.as_str());
    assert_eq!(inst["latestDeployment"]["status"], "SUCCESS");
    assert_eq!(
        data["vars"],
        json!({"PORT": "8080", "SELF_URL": "https://${{RAILWAY_PUBLIC_DOMAIN}}/mcp"})
    );

    // rendered variables resolve references and add Railway's own
    let r = gql(&emu, "query($p: String!, $e: String!, $s: String) { variables(projectId: $p, environmentId: $e, serviceId: $s) }", json!({"p": project, "e": env, "s": svc})).ok();
    assert_eq!(
        r.data()["variables"]["SELF_URL"],
        format!("https://{host}/mcp")
    );
    assert_eq!(r.data()["variables"]["RAILWAY_SERVICE_NAME"], "mcp-foo");

    // connections and aliases, fragments, __typename
    let r = gql(
        &emu,
        "query($p: String!) { a: project(id: $p) { ...P } b: project(id: $p) { __typename id } }
         fragment P on Project { services(first: 1) { edges { cursor node { ... on Service { __typename name } } } pageInfo { hasNextPage endCursor } } }",
        json!({"p": project}),
    )
    .ok();
    assert_eq!(
        r.data()["a"]["services"]["edges"][0]["node"],
        json!({"__typename": "Service", "name": "mcp-foo"})
    );
    assert_eq!(r.data()["b"]["__typename"], "Project");
    assert_eq!(r.data()["a"]["services"]["pageInfo"]["hasNextPage"], false);

    // deployments list with a status filter
    let r = gql(
        &emu,
        "query($p: String!, $s: String!) { deployments(first: 5, input: {projectId: $p, serviceId: $s, status: {in: [SUCCESS]}}) { edges { node { id status } } } }",
        json!({"p": project, "s": svc}),
    )
    .ok();
    assert_eq!(
        r.data()["deployments"]["edges"].as_array().unwrap().len(),
        1
    );

    // snapshot and golden log
    let snap = emu.snapshot();
    let inst = &snap.projects[0].environments[0].instances[0];
    assert_eq!(
        inst.settings["preDeployCommand"],
        json!(["npm run migrate"])
    );
    assert_eq!(inst.limits["memoryGB"], json!(0.5));
    assert_eq!(inst.domains[0].domain, "<hostname:1>");
    let golden = emu.golden_lines();
    assert!(
        golden[0].starts_with("mutation projectCreate {\"input\":{\"name\":\"sw-client-a\",\"workspaceId\":\"<workspace:1>\"}}"),
        "{}",
        golden[0]
    );
    assert!(golden.iter().any(|l| l == "mutation serviceInstanceDeployV2 {\"e\":\"<environment:1>\",\"s\":\"<service:1>\"}"), "{golden:#?}");

    // h. delete
    let domain_id = domain["id"].as_str().unwrap();
    gql(
        &emu,
        "mutation($id: String!) { serviceDomainDelete(id: $id) }",
        json!({"id": domain_id}),
    )
    .ok();
    gql(
        &emu,
        "mutation($id: String!, $e: String) { serviceDelete(id: $id, environmentId: $e) }",
        json!({"id": svc, "e": env}),
    )
    .ok();
    let r = gql(
        &emu,
        "query($id: String!) { service(id: $id) { id } }",
        json!({"id": svc}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.error(), "Service not found");
    assert_eq!(r.body["data"], Value::Null);
    gql(
        &emu,
        "mutation($id: String!) { projectDelete(id: $id) }",
        json!({"id": project}),
    )
    .ok();
    assert!(emu.snapshot().projects.is_empty());
}

#[test]
fn service_from_image_deploys_immediately_and_repo_needs_a_branch() {
    let emu = Emulator::start(Config::default().with_time_scale(0.01));
    let (project, env) = create_project(&emu, "p");
    create_service(
        &emu,
        &project,
        "img",
        json!({"source": {"image": "nginx:1"}, "variables": {"A": "1"}}),
    );
    let snap = emu.snapshot();
    let deps: Vec<_> = snap.deployments().collect();
    assert_eq!(deps.len(), 1);
    assert_eq!(deps[0].meta["image"], "nginx:1");
    assert_eq!(deps[0].meta["variables"]["A"], "1");

    // A repo without a branch: accepted, nothing attached, nothing deployed.
    let s = create_service(
        &emu,
        &project,
        "repo-no-branch",
        json!({"source": {"repo": "org/repo"}}),
    );
    let r = gql(&emu, "query($s: String!, $e: String!) { serviceInstance(serviceId: $s, environmentId: $e) { source { repo } latestDeployment { id } } }", json!({"s": s, "e": env})).ok();
    assert_eq!(
        r.data()["serviceInstance"],
        json!({"source": null, "latestDeployment": null})
    );

    // With a branch it deploys that repo at a commit.
    create_service(
        &emu,
        &project,
        "repo",
        json!({"source": {"repo": "org/repo"}, "branch": "main"}),
    );
    let snap = emu.snapshot();
    let d = snap
        .deployments()
        .find(|d| d.meta["repo"] == "org/repo")
        .unwrap();
    assert_eq!(d.meta["branch"], "main");
    assert_eq!(d.meta["commitHash"].as_str().unwrap().len(), 40);

    // Deploying a service without a source fails.
    let r = gql(&emu, "mutation($s: String!, $e: String!) { serviceInstanceDeployV2(serviceId: $s, environmentId: $e) }", json!({"s": s, "e": env})).ok();
    let id = r.data()["serviceInstanceDeployV2"].as_str().unwrap();
    let r = gql(
        &emu,
        "query($id: String!) { deployment(id: $id) { status } }",
        json!({"id": id}),
    )
    .ok();
    assert_eq!(r.data()["deployment"]["status"], "FAILED");
}

#[test]
fn variable_changes_redeploy_unless_skipped_and_redeploy_reuses_the_live_image() {
    let emu = Emulator::start(Config::default().with_time_scale(0.001));
    let (project, env) = create_project(&emu, "p");
    let svc = create_service(&emu, &project, "web", json!({"source": {"image": "app:1"}}));
    let count = || emu.snapshot().deployments().count();
    assert_eq!(count(), 1);
    let upsert = "mutation($input: VariableUpsertInput!) { variableUpsert(input: $input) }";
    gql(&emu, upsert, json!({"input": {"projectId": project, "environmentId": env, "serviceId": svc, "name": "A", "value": "1"}})).ok();
    assert_eq!(count(), 2, "each variableUpsert deploys");
    gql(&emu, upsert, json!({"input": {"projectId": project, "environmentId": env, "serviceId": svc, "name": "B", "value": "2", "skipDeploys": true}})).ok();
    assert_eq!(count(), 2);
    gql(&emu, "mutation($input: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $input) }",
        json!({"input": {"projectId": project, "environmentId": env, "serviceId": svc, "variables": {"C": "3"}, "replace": true}})).ok();
    assert_eq!(count(), 3);
    let r = gql(&emu, "query($p: String!, $e: String!, $s: String) { variables(projectId: $p, environmentId: $e, serviceId: $s, unrendered: true) }", json!({"p": project, "e": env, "s": svc})).ok();
    assert_eq!(
        r.data()["variables"],
        json!({"C": "3"}),
        "replace removes the others"
    );

    // Wait for the last deployment to be live, then change the source without deploying.
    std::thread::sleep(Duration::from_millis(100));
    gql(&emu, "mutation($s: String!, $e: String, $input: ServiceInstanceUpdateInput!) { serviceInstanceUpdate(serviceId: $s, environmentId: $e, input: $input) }",
        json!({"s": svc, "e": env, "input": {"source": {"image": "app:2"}}})).ok();
    assert_eq!(count(), 3, "serviceInstanceUpdate does not deploy");
    gql(&emu, "mutation($s: String!, $e: String!) { serviceInstanceRedeploy(serviceId: $s, environmentId: $e) }", json!({"s": svc, "e": env})).ok();
    let snap = emu.snapshot();
    let last = snap.deployments().last().unwrap();
    assert_eq!(
        last.meta["image"], "app:1",
        "redeploy re-runs the live image"
    );
    gql(&emu, "mutation($s: String!, $e: String!) { serviceInstanceDeployV2(serviceId: $s, environmentId: $e) }", json!({"s": svc, "e": env})).ok();
    let snap = emu.snapshot();
    assert_eq!(snap.deployments().last().unwrap().meta["image"], "app:2");
}

#[test]
fn deployment_cancel_removes_an_in_progress_deployment() {
    let emu = Emulator::start(Config::default());
    let (project, _env) = create_project(&emu, "p");
    create_service(&emu, &project, "web", json!({"source": {"image": "app:1"}}));
    let id = {
        let r = gql(&emu, "query($p: String!) { deployments(input: {projectId: $p}) { edges { node { id status } } } }", json!({"p": project})).ok();
        assert_eq!(
            r.data()["deployments"]["edges"][0]["node"]["status"],
            "QUEUED"
        );
        r.data()["deployments"]["edges"][0]["node"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    gql(
        &emu,
        "mutation($id: String!) { deploymentCancel(id: $id) }",
        json!({"id": id}),
    )
    .ok();
    let r = gql(
        &emu,
        "query($id: String!) { deployment(id: $id) { status } }",
        json!({"id": id}),
    )
    .ok();
    assert_eq!(r.data()["deployment"]["status"], "REMOVED");
}

#[test]
fn service_domain_update_moves_the_target_port() {
    let emu = Emulator::start(Config::default().with_time_scale(0.001));
    let (project, env) = create_project(&emu, "p");
    let svc = create_service(&emu, &project, "web", json!({}));
    let r = gql(
        &emu,
        "mutation($input: ServiceDomainCreateInput!) { serviceDomainCreate(input: $input) { id domain targetPort } }",
        json!({"input": {"serviceId": svc, "environmentId": env, "targetPort": 8080}}),
    )
    .ok();
    let d = r.data()["serviceDomainCreate"].clone();
    let update =
        "mutation($input: ServiceDomainUpdateInput!) { serviceDomainUpdate(input: $input) }";
    gql(
        &emu,
        update,
        json!({"input": {"serviceDomainId": d["id"], "serviceId": svc, "environmentId": env, "domain": d["domain"], "targetPort": 9090}}),
    )
    .ok();
    let r = gql(
        &emu,
        "query($p: String!, $e: String!, $s: String!) { domains(projectId: $p, environmentId: $e, serviceId: $s) { serviceDomains { domain targetPort } } }",
        json!({"p": project, "e": env, "s": svc}),
    )
    .ok();
    assert_eq!(
        r.data()["domains"]["serviceDomains"],
        json!([{"domain": d["domain"], "targetPort": 9090}])
    );
    // Omitted: unchanged. Another name: not implemented. Another service: not found.
    gql(
        &emu,
        update,
        json!({"input": {"serviceDomainId": d["id"], "serviceId": svc, "environmentId": env, "domain": d["domain"]}}),
    )
    .ok();
    assert_eq!(
        emu.snapshot().projects[0].environments[0].instances[0].domains[0].target_port,
        Some(9090)
    );
    let r = gql(
        &emu,
        update,
        json!({"input": {"serviceDomainId": d["id"], "serviceId": svc, "environmentId": env, "domain": "mine.up.railway.app"}}),
    );
    assert!(
        r.error().starts_with("not implemented by the emulator"),
        "{}",
        r.text
    );
    let other = create_service(&emu, &project, "other", json!({}));
    let r = gql(
        &emu,
        update,
        json!({"input": {"serviceDomainId": d["id"], "serviceId": other, "environmentId": env, "domain": d["domain"], "targetPort": 1}}),
    );
    assert_eq!(r.error(), "Domain not found");
}
