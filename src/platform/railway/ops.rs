//! Every GraphQL document scalewize sends to Railway, each with an operation name. All of them
//! validate against Railway's schema (`shared/reference/railway/schema.json`); the tests below
//! send each one to the emulator, which rejects anything the schema does not allow.
//!
//! The read side follows the notes (§5): one projects listing, then the service instances of
//! several projects' environments (settings, domains, latest deployment) in one request with
//! aliases, then the services' variables (unrendered) in one request with aliases.

/// Query or mutation, and what a request may carry that must never be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    Mutation,
}

#[derive(Debug, Clone)]
pub struct Op {
    /// The operation name (also used in messages).
    pub name: &'static str,
    pub document: std::borrow::Cow<'static, str>,
    pub kind: Kind,
    /// The request's variables may hold secret values (variable writes): never logged.
    pub secret_request: bool,
    /// The response may hold secret values (variable reads): never logged.
    pub secret_response: bool,
}

const fn op(name: &'static str, document: &'static str, kind: Kind) -> Op {
    Op {
        name,
        document: std::borrow::Cow::Borrowed(document),
        kind,
        secret_request: false,
        secret_response: false,
    }
}

const fn unlogged_response(mut o: Op) -> Op {
    o.secret_response = true;
    o
}

/// The workspaces the token reaches: works for account and workspace tokens alike, unlike
/// `me`, which refuses workspace tokens (notes §10).
pub const API_TOKEN: Op = op(
    "ScalewizeApiToken",
    "query ScalewizeApiToken { apiToken { workspaces { id name } } }",
    Kind::Query,
);

/// The workspace's projects, a page at a time: enough to find ours by name and marker.
pub const PROJECTS: Op = op(
    "ScalewizeProjects",
    "query ScalewizeProjects($workspaceId: String, $after: String) {
  projects(workspaceId: $workspaceId, first: 100, after: $after) {
    edges { node { id name description createdAt environments { edges { node { id name } } } } }
    pageInfo { hasNextPage endCursor }
  }
}",
    Kind::Query,
);

pub const PROJECT_CREATE: Op = op(
    "ScalewizeProjectCreate",
    "mutation ScalewizeProjectCreate($input: ProjectCreateInput!) {
  projectCreate(input: $input) { id name description createdAt environments { edges { node { id name } } } }
}",
    Kind::Mutation,
);

pub const PROJECT_DELETE: Op = op(
    "ScalewizeProjectDelete",
    "mutation ScalewizeProjectDelete($id: String!) { projectDelete(id: $id) }",
    Kind::Mutation,
);

/// What observe reads of each service instance.
const INSTANCE_FIELDS: &str = "fragment ScalewizeInstance on ServiceInstance {
  serviceId serviceName source { image repo } rootDirectory startCommand healthcheckPath region
  domains { serviceDomains { id domain targetPort } }
  latestDeployment { id status }
}";

/// The service instances of several environments (each `e<i>` with `p<i>` its project).
pub fn instances(count: usize) -> Op {
    let mut vars = Vec::new();
    let mut body = String::new();
    for i in 0..count {
        vars.push(format!("$p{i}: String!, $e{i}: String!, $a{i}: String"));
        body.push_str(&format!(
            "  e{i}: environment(id: $e{i}, projectId: $p{i}) {{ serviceInstances(first: 100, after: $a{i}) {{ edges {{ node {{ ...ScalewizeInstance }} }} pageInfo {{ hasNextPage endCursor }} }} }}\n"
        ));
    }
    Op {
        name: "ScalewizeInstances",
        document: format!(
            "query ScalewizeInstances({}) {{\n{body}}}\n{INSTANCE_FIELDS}",
            vars.join(", ")
        )
        .into(),
        kind: Kind::Query,
        secret_request: false,
        secret_response: false,
    }
}

/// The unrendered variables of several services (`v<i>`): values include secrets.
pub fn variables(count: usize) -> Op {
    let mut vars = Vec::new();
    let mut body = String::new();
    for i in 0..count {
        vars.push(format!("$p{i}: String!, $e{i}: String!, $s{i}: String!"));
        body.push_str(&format!(
            "  v{i}: variables(projectId: $p{i}, environmentId: $e{i}, serviceId: $s{i}, unrendered: true)\n"
        ));
    }
    Op {
        name: "ScalewizeVariables",
        document: format!("query ScalewizeVariables({}) {{\n{body}}}", vars.join(", ")).into(),
        kind: Kind::Query,
        secret_request: false,
        secret_response: true,
    }
}

/// One service instance (after a create that may have happened, and to find a deployment).
pub fn instance() -> Op {
    Op {
        name: "ScalewizeServiceInstance",
        document: format!(
            "query ScalewizeServiceInstance($serviceId: String!, $environmentId: String!) {{
  serviceInstance(serviceId: $serviceId, environmentId: $environmentId) {{ ...ScalewizeInstance }}
}}
{INSTANCE_FIELDS}"
        )
        .into(),
        kind: Kind::Query,
        secret_request: false,
        secret_response: false,
    }
}

/// The services of a project, by name (lists may lag behind writes: notes pitfall 6).
pub const PROJECT_SERVICES: Op = op(
    "ScalewizeProjectServices",
    "query ScalewizeProjectServices($id: String!) {
  project(id: $id) { services(first: 100) { edges { node { id name } } } }
}",
    Kind::Query,
);

pub const DOMAINS: Op = op(
    "ScalewizeDomains",
    "query ScalewizeDomains($projectId: String!, $environmentId: String!, $serviceId: String!) {
  domains(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId) { serviceDomains { id domain targetPort } }
}",
    Kind::Query,
);

pub const SERVICE_CREATE: Op = op(
    "ScalewizeServiceCreate",
    "mutation ScalewizeServiceCreate($input: ServiceCreateInput!) { serviceCreate(input: $input) { id name } }",
    Kind::Mutation,
);

pub const INSTANCE_UPDATE: Op = op(
    "ScalewizeServiceInstanceUpdate",
    "mutation ScalewizeServiceInstanceUpdate($serviceId: String!, $environmentId: String, $input: ServiceInstanceUpdateInput!) {
  serviceInstanceUpdate(serviceId: $serviceId, environmentId: $environmentId, input: $input)
}",
    Kind::Mutation,
);

pub const LIMITS_UPDATE: Op = op(
    "ScalewizeServiceInstanceLimitsUpdate",
    "mutation ScalewizeServiceInstanceLimitsUpdate($input: ServiceInstanceLimitsUpdateInput!) {
  serviceInstanceLimitsUpdate(input: $input)
}",
    Kind::Mutation,
);

pub const VARIABLES_UPSERT: Op = Op {
    name: "ScalewizeVariableCollectionUpsert",
    document: std::borrow::Cow::Borrowed(
        "mutation ScalewizeVariableCollectionUpsert($input: VariableCollectionUpsertInput!) {
  variableCollectionUpsert(input: $input)
}",
    ),
    kind: Kind::Mutation,
    secret_request: true,
    secret_response: false,
};

pub const DOMAIN_CREATE: Op = op(
    "ScalewizeServiceDomainCreate",
    "mutation ScalewizeServiceDomainCreate($input: ServiceDomainCreateInput!) {
  serviceDomainCreate(input: $input) { id domain targetPort }
}",
    Kind::Mutation,
);

pub const DOMAIN_UPDATE: Op = op(
    "ScalewizeServiceDomainUpdate",
    "mutation ScalewizeServiceDomainUpdate($input: ServiceDomainUpdateInput!) {
  serviceDomainUpdate(input: $input)
}",
    Kind::Mutation,
);

pub const DOMAIN_DELETE: Op = op(
    "ScalewizeServiceDomainDelete",
    "mutation ScalewizeServiceDomainDelete($id: String!) { serviceDomainDelete(id: $id) }",
    Kind::Mutation,
);

pub const SERVICE_CONNECT: Op = op(
    "ScalewizeServiceConnect",
    "mutation ScalewizeServiceConnect($id: String!, $input: ServiceConnectInput!) {
  serviceConnect(id: $id, input: $input) { id }
}",
    Kind::Mutation,
);

pub const DEPLOY: Op = op(
    "ScalewizeServiceInstanceDeployV2",
    "mutation ScalewizeServiceInstanceDeployV2($serviceId: String!, $environmentId: String!, $commitSha: String) {
  serviceInstanceDeployV2(serviceId: $serviceId, environmentId: $environmentId, commitSha: $commitSha)
}",
    Kind::Mutation,
);

/// `meta` is free-form JSON (it may describe the environment a deployment ran with): the
/// response is not logged.
pub const DEPLOYMENT: Op = unlogged_response(op(
    "ScalewizeDeployment",
    "query ScalewizeDeployment($id: String!) { deployment(id: $id) { id status meta } }",
    Kind::Query,
));

pub const LATEST_DEPLOYMENT: Op = op(
    "ScalewizeLatestDeployment",
    "query ScalewizeLatestDeployment($serviceId: String!, $environmentId: String!) {
  serviceInstance(serviceId: $serviceId, environmentId: $environmentId) { latestDeployment { id status } }
}",
    Kind::Query,
);

pub const SERVICE_DELETE: Op = op(
    "ScalewizeServiceDelete",
    "mutation ScalewizeServiceDelete($id: String!, $environmentId: String) {
  serviceDelete(id: $id, environmentId: $environmentId)
}",
    Kind::Mutation,
);

pub const DEPLOYMENT_LOGS: Op = op(
    "ScalewizeDeploymentLogs",
    "query ScalewizeDeploymentLogs($deploymentId: String!, $limit: Int) {
  deploymentLogs(deploymentId: $deploymentId, limit: $limit) { timestamp severity message }
}",
    Kind::Query,
);

#[cfg(test)]
mod tests {
    use super::*;
    use railway_emulator::{Config, DEFAULT_WORKSPACE_TOKEN, Emulator};
    use serde_json::{Value, json};

    fn post(url: &str, op: &Op, vars: Value) -> (u16, Value) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(DEFAULT_WORKSPACE_TOKEN)
                .json(&json!({"query": op.document, "operationName": op.name, "variables": vars}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        })
    }

    /// Every document validates against Railway's schema (the emulator answers 400 otherwise),
    /// with variables of the right types.
    #[test]
    fn every_document_validates_against_the_schema() {
        let emu = Emulator::start(Config::default().with_time_scale(0.001));
        let url = emu.url();
        let id = "00000000-0000-4000-8000-000000000000";
        let cases: Vec<(Op, Value)> = vec![
            (API_TOKEN, json!({})),
            (PROJECTS, json!({"workspaceId": null})),
            (
                PROJECT_CREATE,
                json!({"input": {"name": "sw-x", "description": "d"}}),
            ),
            (PROJECT_DELETE, json!({"id": id})),
            (
                instances(2),
                json!({"p0": id, "e0": id, "p1": id, "e1": id, "a1": id}),
            ),
            (variables(1), json!({"p0": id, "e0": id, "s0": id})),
            (instance(), json!({"serviceId": id, "environmentId": id})),
            (PROJECT_SERVICES, json!({"id": id})),
            (
                DOMAINS,
                json!({"projectId": id, "environmentId": id, "serviceId": id}),
            ),
            (
                SERVICE_CREATE,
                json!({"input": {"projectId": id, "name": "x", "environmentId": id, "variables": {"A": "1"}}}),
            ),
            (
                INSTANCE_UPDATE,
                json!({"serviceId": id, "environmentId": id, "input": {"healthcheckPath": "/health", "numReplicas": 1, "restartPolicyType": "ON_FAILURE", "restartPolicyMaxRetries": 5, "startCommand": "x", "multiRegionConfig": {"us-west2": {"numReplicas": 1}}, "rootDirectory": "a", "watchPatterns": ["a/**"], "source": {"image": "i:1"}}}),
            ),
            (
                LIMITS_UPDATE,
                json!({"input": {"serviceId": id, "environmentId": id, "vCPUs": 1.0, "memoryGB": 0.25}}),
            ),
            (
                VARIABLES_UPSERT,
                json!({"input": {"projectId": id, "environmentId": id, "serviceId": id, "variables": {"A": "1"}, "replace": true, "skipDeploys": true}}),
            ),
            (
                DOMAIN_CREATE,
                json!({"input": {"serviceId": id, "environmentId": id, "targetPort": 8080}}),
            ),
            (
                DOMAIN_UPDATE,
                json!({"input": {"serviceDomainId": id, "serviceId": id, "environmentId": id, "domain": "x.up.railway.app", "targetPort": 8080}}),
            ),
            (DOMAIN_DELETE, json!({"id": id})),
            (
                SERVICE_CONNECT,
                json!({"id": id, "input": {"repo": "o/r", "branch": "main"}}),
            ),
            (DEPLOY, json!({"serviceId": id, "environmentId": id})),
            (
                DEPLOY,
                json!({"serviceId": id, "environmentId": id, "commitSha": "abc"}),
            ),
            (DEPLOYMENT, json!({"id": id})),
            (
                LATEST_DEPLOYMENT,
                json!({"serviceId": id, "environmentId": id}),
            ),
            (SERVICE_DELETE, json!({"id": id, "environmentId": id})),
            (DEPLOYMENT_LOGS, json!({"deploymentId": id, "limit": 10})),
        ];
        for (op, vars) in cases {
            let (status, body) = post(&url, &op, vars);
            assert_eq!(status, 200, "{}: {body}", op.name);
        }
        // And a document that is not valid is refused, so the check above means something.
        let bad = Op {
            document: "query ScalewizeBad { project(id: \"x\") { owner } }".into(),
            ..API_TOKEN
        };
        let (status, _) = post(&url, &bad, json!({}));
        assert_eq!(status, 400);
    }
}
