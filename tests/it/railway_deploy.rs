//! The Railway platform end to end: the real binary against the Railway emulator (which
//! validates every document against Railway's schema). Golden request logs for a first deploy,
//! zero mutations on a second, exactly the calls one change needs, LibreChat's config byte for
//! byte, per-user instances, tokens, foreign projects, status and destroy.
//!
//! `SCALEWIZE_BLESS=1 cargo test --test it railway_deploy` rewrites `tests/golden/railway_*.txt`.

use crate::common;
use crate::railway_support;

use base64::Engine;
use railway_emulator::Faults;
use railway_support as rw;
use serde_json::{Value, json};

const CREATE: [&str; 6] = [
    "serviceCreate",
    "serviceInstanceUpdate",
    "serviceInstanceLimitsUpdate",
    "variableCollectionUpsert",
    "serviceDomainCreate",
    "serviceConnect",
];

fn edit_json(ws: &common::TempWorkspace, rel: &str, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&ws.read(rel)).unwrap();
    f(&mut v);
    ws.write(rel, &serde_json::to_string_pretty(&v).unwrap());
}

fn server<'a>(cfg: &'a mut Value, name: &str) -> &'a mut Value {
    cfg["mcp_servers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["name"] == name)
        .unwrap()
}

#[test]
fn first_deploy_then_nothing_then_exactly_what_changed() {
    let emu = rw::start(1, Faults::none());
    let ws = rw::workspace();

    // A first deploy: per service, the ordered mutations of the notes (§3, pitfalls 3 and 8).
    let first = rw::deploy(&ws, &emu, &["client-a"]);
    assert!(
        first.stdout.contains("LibreChat https://") && first.stdout.contains(".up.railway.app"),
        "{first:?}"
    );
    let log = emu.requests();
    let by_subject = rw::mutation_fields(&emu, &log);
    let fields = |s: &str| by_subject.get(s).cloned().unwrap_or_default();
    assert_eq!(fields("<project sw-client-a>"), vec!["projectCreate"]);
    assert_eq!(fields("<project sw-shared>"), vec!["projectCreate"]);
    for s in [
        "<service sw-shared/knowledge-base-mcp>",
        "<service sw-client-a/custom-crm-mcp>",
        "<service sw-client-a/librechat>",
    ] {
        assert_eq!(fields(s), CREATE, "{s}: {by_subject:#?}");
    }
    assert_eq!(by_subject.len(), 5, "{by_subject:#?}");
    // All of it under the platform lock, taken first and given back last.
    let with_lock = rw::mutation_fields_with_lock(&emu, &log);
    let lock_service = format!("<service {}/lock>", rw::LOCK_PROJECT);
    assert_eq!(with_lock[&lock_service], ["serviceCreate", "serviceDelete"]);
    assert_eq!(
        with_lock[&format!("<project {}>", rw::LOCK_PROJECT)],
        ["projectCreate"]
    );
    let muts = rw::mutations(&log);
    let take = muts
        .iter()
        .position(|r| r.root_fields == ["serviceCreate"])
        .unwrap();
    assert_eq!(
        muts[take].variables["input"]["name"], "lock",
        "the lock is taken first"
    );
    assert_eq!(muts.last().unwrap().root_fields, ["serviceDelete"]);
    rw::check_golden("railway_first_deploy_client_a.txt", &rw::golden(&emu, &log));
    // Reads: one listing, nothing else to read while nothing exists; then deployment polls.
    assert_eq!(log[0].root_fields, vec!["projects"]);
    assert!(emu.retry_after_violations().is_empty());

    // The projects carry the marker; services their record; secrets only their fingerprints.
    let snap = emu.snapshot();
    for p in &snap.projects {
        let owner = p.name.strip_prefix("sw-").unwrap();
        assert_eq!(
            p.description.as_deref(),
            Some(format!("managed by scalewize; owner={owner}; do not edit").as_str())
        );
    }
    let crm = rw::variables(&emu, "sw-client-a", "custom-crm-mcp");
    assert_eq!(crm["PORT"], "8080");
    assert_eq!(crm["MCP_SERVER_NAME"], "custom-crm-mcp");
    let fps: serde_json::Map<String, Value> =
        serde_json::from_str(&crm["SCALEWIZE_FINGERPRINTS"]).unwrap();
    assert!(
        fps["MCP_ACCESS_TOKEN"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    let record: Value = serde_json::from_str(&crm["SCALEWIZE_SERVICE"]).unwrap();
    assert_eq!(record["owner"], "client-a");
    assert_eq!(record["service"], "custom-crm-mcp");

    // LibreChat gets the rendered librechat.yaml byte for byte, the URLs of what it uses and
    // a start command that writes the file before running the image's own command.
    let lc = rw::variables(&emu, "sw-client-a", "librechat");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&lc["LIBRECHAT_YAML_B64"])
        .unwrap();
    assert_eq!(
        decoded,
        std::fs::read(ws.path().join("client-configs/client-a/librechat.yaml")).unwrap(),
        "the config LibreChat receives is the rendered file, byte for byte"
    );
    let crm_host = snap
        .projects
        .iter()
        .find(|p| p.name == "sw-client-a")
        .unwrap()
        .environments[0]
        .instances
        .iter()
        .find(|i| i.service_name == "custom-crm-mcp")
        .unwrap()
        .domains[0]
        .domain
        .clone();
    // (The state's hostnames are placeholders such as `<hostname:2>`.)
    assert_eq!(lc["CUSTOM_CRM_MCP_URL"], format!("https://{crm_host}/mcp"));
    assert!(
        lc["KNOWLEDGE_BASE_MCP_URL"].starts_with("https://<hostname:")
            && lc["KNOWLEDGE_BASE_MCP_URL"].ends_with(">/mcp"),
        "{lc:?}"
    );
    assert_eq!(lc["PORT"], "3080");
    assert_eq!(lc["DOMAIN_CLIENT"], "https://chat.client-a.example");
    let settings = &snap
        .projects
        .iter()
        .find(|p| p.name == "sw-client-a")
        .unwrap()
        .environments[0]
        .instances
        .iter()
        .find(|i| i.service_name == "librechat")
        .unwrap()
        .settings;
    let start = settings["startCommand"].as_str().unwrap();
    assert!(
        start.contains("base64 -d > /app/librechat.yaml")
            && start.ends_with("exec npm run backend'"),
        "{start}"
    );
    for i in snap.deployments() {
        assert_eq!(i.status, "SUCCESS");
    }

    // A second deploy: zero mutations.
    let before = emu.requests().len();
    let second = rw::deploy(&ws, &emu, &["client-a"]);
    assert!(second.stdout.contains("No changes"), "{second:?}");
    let again = rw::since(&emu, before);
    assert!(
        rw::mutations(&again).is_empty(),
        "{:#?}",
        rw::mutations(&again)
    );
    assert!(
        again.len() <= 3,
        "observe is a listing, one instances read and one variables read: {:?}",
        again.iter().map(|r| r.summary()).collect::<Vec<_>>()
    );

    // diff shows field-level changes; one changed variable → its upsert and one deploy.
    edit_json(&ws, "client-configs/client-a/mcp-servers.json", |cfg| {
        server(cfg, "Custom CRM")["deploy"] =
            json!({"env": {"GHL_BASE_URL": "https://eu.leadconnectorhq.example"}});
    });
    assert_eq!(rw::run(&ws, &emu, &["render", "client-a"], &[]).code, 0);
    let before = emu.requests().len();
    let diff = rw::run(
        &ws,
        &emu,
        &[
            "diff",
            "client-a",
            "--platform",
            "railway",
            "--detailed-exitcode",
        ],
        &[],
    );
    assert_eq!(diff.code, 2, "{diff:?}");
    assert!(
        diff.stdout.contains("~ client-a/custom-crm-mcp")
            && diff.stdout.contains(
                "env.GHL_BASE_URL: \"https://services.leadconnectorhq.com\" → \"https://eu.leadconnectorhq.example\""
            ),
        "{diff:?}"
    );
    assert!(!diff.stdout.contains("librechat (update"), "{diff:?}");
    assert!(rw::mutations(&rw::since(&emu, before)).is_empty());
    let before = emu.requests().len();
    rw::deploy(&ws, &emu, &["client-a"]);
    let log = rw::since(&emu, before);
    let changed = rw::mutation_fields(&emu, &log);
    assert_eq!(
        changed,
        [(
            "<service sw-client-a/custom-crm-mcp>".to_string(),
            vec![
                "variableCollectionUpsert".to_string(),
                "serviceInstanceDeployV2".to_string()
            ]
        )]
        .into(),
    );
    rw::check_golden("railway_one_variable_client_a.txt", &rw::golden(&emu, &log));
    assert_eq!(
        rw::variables(&emu, "sw-client-a", "custom-crm-mcp")["GHL_BASE_URL"],
        "https://eu.leadconnectorhq.example"
    );

    // A secret LibreChat consumes too (the CRM's access token): both services, nothing else.
    let token = [(
        "SCALEWIZE_SECRET_CLIENT_A__CUSTOM_CRM_MCP_TOKEN",
        "a-rotated-crm-token-0123456789",
    )];
    let diff = rw::run(
        &ws,
        &emu,
        &["diff", "client-a", "--platform", "railway"],
        &token,
    );
    assert!(
        diff.stdout
            .contains("~ secret.MCP_ACCESS_TOKEN: changed (hmac-sha256:")
            && diff
                .stdout
                .contains("~ secret.CUSTOM_CRM_MCP_TOKEN: changed (hmac-sha256:"),
        "{diff:?}"
    );
    let before = emu.requests().len();
    let r = rw::run(
        &ws,
        &emu,
        &["deploy", "client-a", "--platform", "railway", "--yes"],
        &token,
    );
    assert_eq!(r.code, 0, "{r:?}");
    let changed = rw::mutation_fields(&emu, &rw::since(&emu, before));
    let both = vec![
        "variableCollectionUpsert".to_string(),
        "serviceInstanceDeployV2".to_string(),
    ];
    assert_eq!(
        changed,
        [
            (
                "<service sw-client-a/custom-crm-mcp>".to_string(),
                both.clone()
            ),
            ("<service sw-client-a/librechat>".to_string(), both),
        ]
        .into()
    );
    // …and then nothing again.
    let before = emu.requests().len();
    let r = rw::run(
        &ws,
        &emu,
        &["deploy", "client-a", "--platform", "railway", "--yes"],
        &token,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(rw::mutations(&rw::since(&emu, before)).is_empty());

    // A new port: the variables, the domain's target port, one deploy. The URL stays.
    edit_json(
        &ws,
        "custom-mcp-servers/clients/client-a/custom-crm-mcp/scalewize.json",
        |m| m["port"] = json!(9090),
    );
    assert_eq!(rw::run(&ws, &emu, &["render", "client-a"], &[]).code, 0);
    let before = emu.requests().len();
    let r = rw::run(
        &ws,
        &emu,
        &["deploy", "client-a", "--platform", "railway", "--yes"],
        &token,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("~ port: \"8080\" → \"9090\""), "{r:?}");
    assert_eq!(
        rw::mutation_fields(&emu, &rw::since(&emu, before)),
        [(
            "<service sw-client-a/custom-crm-mcp>".to_string(),
            vec![
                "variableCollectionUpsert".to_string(),
                "serviceDomainUpdate".to_string(),
                "serviceInstanceDeployV2".to_string()
            ]
        )]
        .into()
    );
    let snap = emu.snapshot();
    let crm = snap
        .projects
        .iter()
        .find(|p| p.name == "sw-client-a")
        .unwrap()
        .environments[0]
        .instances
        .iter()
        .find(|i| i.service_name == "custom-crm-mcp")
        .unwrap();
    assert_eq!(crm.domains.len(), 1);
    assert_eq!(crm.domains[0].domain, crm_host);
    assert_eq!(crm.domains[0].target_port, Some(9090));
    assert_eq!(crm.variables["PORT"], "9090");
}

#[test]
fn a_project_token_alone_is_refused_before_any_request() {
    let emu = rw::start(2, Faults::none());
    let ws = rw::workspace();
    let r = rw::run(
        &ws,
        &emu,
        &["deploy", "client-a", "--platform", "railway", "--yes"],
        &[
            ("RAILWAY_API_TOKEN", ""),
            ("RAILWAY_TOKEN", "a-project-token"),
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("project token")
            && r.stderr.contains("one environment of one project")
            && r.stderr.contains("RAILWAY_API_TOKEN"),
        "{r:?}"
    );
    assert!(!r.all().contains("a-project-token"));
    // Neither token: both are named.
    let r = rw::run(
        &ws,
        &emu,
        &["diff", "client-a", "--platform", "railway"],
        &[("RAILWAY_API_TOKEN", ""), ("RAILWAY_TOKEN", "")],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("RAILWAY_API_TOKEN") && r.stderr.contains("RAILWAY_TOKEN"),
        "{r:?}"
    );
    assert_eq!(emu.request_count(), 0, "no request was made");

    // A token Railway refuses: the error says which token and workspace to use.
    let r = rw::run(
        &ws,
        &emu,
        &["diff", "client-a", "--platform", "railway"],
        &[("RAILWAY_API_TOKEN", "not-a-valid-token")],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("Not Authorized")
            && r.stderr.contains("RAILWAY_API_TOKEN")
            && r.stderr.contains(railway_emulator::DEFAULT_WORKSPACE_ID),
        "{r:?}"
    );
    assert!(!r.all().contains("not-a-valid-token"));
}

#[test]
fn a_same_named_project_without_the_marker_is_an_error_and_untouched() {
    let emu = rw::start(3, Faults::none());
    let ws = rw::workspace();
    let made = rw::gql(
        &emu,
        "mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { id } }",
        json!({"input": {"name": "sw-client-a", "description": "the client's own", "workspaceId": railway_emulator::DEFAULT_WORKSPACE_ID}}),
    );
    assert!(made["errors"].is_null(), "{made}");
    let before_state = rw::state(&emu);
    let before = emu.requests().len();
    for args in [
        vec!["deploy", "client-a", "--platform", "railway", "--yes"],
        vec!["diff", "client-a", "--platform", "railway"],
        vec!["destroy", "client-a", "--platform", "railway", "--yes"],
    ] {
        let r = rw::run(&ws, &emu, &args, &[]);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("sw-client-a")
                && r.stderr.contains("scalewize did not create it")
                && r.stderr.contains("never adopts"),
            "{r:?}"
        );
    }
    assert!(rw::mutations(&rw::since(&emu, before)).is_empty());
    assert_eq!(rw::state(&emu), before_state, "untouched");
}

#[test]
fn per_user_instances_and_removing_one_user() {
    let emu = rw::start(4, Faults::none());
    let ws = rw::workspace();
    rw::deploy(&ws, &emu, &["client-c"]);
    assert_eq!(
        rw::layout(&emu),
        vec![(
            "sw-client-c".to_string(),
            vec![
                "librechat".to_string(),
                "servicedesk-mcp-alice".to_string(),
                "servicedesk-mcp-bob".to_string(),
                "servicedesk-mcp-carol".to_string(),
            ]
        )]
    );
    let alice = rw::variables(&emu, "sw-client-c", "servicedesk-mcp-alice");
    let record: Value = serde_json::from_str(&alice["SCALEWIZE_SERVICE"]).unwrap();
    assert_eq!(
        (record["service"].as_str(), record["user"].as_str()),
        (Some("servicedesk-mcp"), Some("alice"))
    );
    for name in [
        "SDP_CLIENT_ID",
        "SDP_CLIENT_SECRET",
        "SDP_REFRESH_TOKEN",
        "MCP_ACCESS_TOKEN",
    ] {
        assert!(alice.contains_key(name), "{name}");
    }

    // Carol leaves: exactly her service is deleted; the project stays.
    edit_json(&ws, "client-configs/client-c/mcp-servers.json", |cfg| {
        cfg["users"]
            .as_array_mut()
            .unwrap()
            .retain(|u| u["id"] != "carol");
    });
    let render = rw::run(&ws, &emu, &["render", "client-c"], &[]);
    assert_eq!(render.code, 0, "{render:?}");
    let before = emu.requests().len();
    let r = rw::deploy(&ws, &emu, &["client-c"]);
    assert!(
        r.stdout.contains("- client-c/servicedesk-mcp@carol"),
        "{r:?}"
    );
    let changed = rw::mutation_fields(&emu, &rw::since(&emu, before));
    assert_eq!(
        changed,
        [(
            "<service sw-client-c/servicedesk-mcp-carol>".to_string(),
            vec!["serviceDelete".to_string()]
        )]
        .into(),
        "{changed:#?}"
    );
    assert_eq!(
        rw::layout(&emu)[0].1,
        vec!["librechat", "servicedesk-mcp-alice", "servicedesk-mcp-bob"]
    );
}

#[test]
fn status_destroy_shared_and_orphans_touch_only_what_is_ours() {
    let emu = rw::start(5, Faults::none());
    let ws = rw::workspace();
    // Someone else's project in the same workspace, and one with our prefix but not ours.
    for (name, description) in [("their-app", None), ("sw-legacy", Some("hand made"))] {
        let r = rw::gql(
            &emu,
            "mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { id } }",
            json!({"input": {"name": name, "description": description, "workspaceId": railway_emulator::DEFAULT_WORKSPACE_ID}}),
        );
        assert!(r["errors"].is_null(), "{r}");
    }
    rw::deploy(&ws, &emu, &["client-a", "client-b"]);

    let status = rw::run(
        &ws,
        &emu,
        &["status", "client-a", "--platform", "railway", "--json"],
        &[],
    );
    let out: Value =
        serde_json::from_str(&status.stdout).unwrap_or_else(|e| panic!("{e}: {status:?}"));
    let services = out["services"].as_array().unwrap();
    assert_eq!(services.len(), 3, "{out:#}");
    for s in services {
        assert_eq!(s["platform"], "railway");
        assert_eq!(s["state"], "running", "{s}");
        assert!(s["url"].as_str().unwrap().starts_with("https://"), "{s}");
    }
    let lc = services
        .iter()
        .find(|s| s["key"]["owner"] == "client-a" && s["key"]["service"] == "librechat")
        .unwrap();
    assert!(!lc["url"].as_str().unwrap().ends_with('/'));

    // destroy client-a: its services and its project, and the shared Knowledge Base (client-a
    // was its last deployed user, and sw-shared is empty then); client-b untouched.
    let r = rw::run(
        &ws,
        &emu,
        &["destroy", "client-a", "--platform", "railway", "--yes"],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let names: Vec<String> = rw::layout(&emu).into_iter().map(|(p, _)| p).collect();
    assert_eq!(names, vec!["sw-client-b", "sw-legacy", "their-app"]);
    assert_eq!(rw::live_lock_holder(&emu), None);

    // Nothing of it is left: destroying it by name has nothing to do.
    let r = rw::run(
        &ws,
        &emu,
        &[
            "destroy",
            "--shared",
            "knowledge-base-mcp",
            "--platform",
            "railway",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");

    // Nothing is an orphan while its config describes it (on the platform this run puts it).
    let before = emu.requests().len();
    let r = rw::run(
        &ws,
        &emu,
        &["destroy", "--orphans", "--platform", "railway", "--yes"],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(rw::mutations(&rw::since(&emu, before)).is_empty(), "{r:?}");

    // Orphans: client-b's config is gone, its resources remain until destroy --orphans.
    std::fs::remove_dir_all(ws.path().join("client-configs/client-b")).unwrap();
    let r = rw::run(
        &ws,
        &emu,
        &["status", "--orphans", "--platform", "railway", "--json"],
        &[],
    );
    let out: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    let mut orphans: Vec<String> = out["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["key"]["owner"].as_str().unwrap(),
                o["key"]["service"].as_str().unwrap()
            )
        })
        .collect();
    orphans.sort();
    assert_eq!(
        orphans,
        vec![
            "client-b/custom-erp-mcp",
            "client-b/custom-hr-mcp",
            "client-b/librechat"
        ]
    );
    let r = rw::run(
        &ws,
        &emu,
        &["destroy", "--orphans", "--platform", "railway", "--yes"],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        rw::layout(&emu),
        vec![
            ("sw-legacy".to_string(), vec![]),
            ("their-app".to_string(), vec![])
        ],
        "only what scalewize owns was removed"
    );
}

/// Commit everything and "push" it: `refs/remotes/origin/main` follows, as after a push.
fn commit_all(dir: &std::path::Path, msg: &str) -> String {
    let id = commit_unpushed(dir, msg);
    let repo = git2::Repository::open(dir).unwrap();
    if repo.find_remote("origin").is_err() {
        repo.remote("origin", "https://github.com/scalewize-example/servers")
            .unwrap();
    }
    let oid = git2::Oid::from_str(&id).unwrap();
    repo.reference("refs/remotes/origin/main", oid, true, "push")
        .unwrap();
    id
}

fn commit_unpushed(dir: &std::path::Path, msg: &str) -> String {
    let repo = git2::Repository::open(dir)
        .or_else(|_| git2::Repository::init(dir))
        .unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("test", "test@example.test").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &parents)
        .unwrap()
        .to_string()
}

#[test]
fn a_repo_source_deploys_the_last_commit_that_touched_its_folder() {
    let emu = rw::start(6, Faults::none());
    let ws = rw::workspace();
    let manifest = "custom-mcp-servers/clients/client-a/custom-crm-mcp/scalewize.json";
    edit_json(&ws, manifest, |m| {
        m.as_object_mut().unwrap().remove("image");
        m["railway"] = json!({"repo": "scalewize-example/servers", "branch": "main"});
    });
    let first = commit_all(ws.path(), "the workspace");
    std::fs::write(ws.path().join("README.md"), "elsewhere\n").unwrap();
    commit_all(ws.path(), "a commit that does not touch the server");

    rw::deploy(&ws, &emu, &["client-a"]);
    let by_subject = rw::mutation_fields(&emu, &emu.requests());
    assert_eq!(
        by_subject["<service sw-client-a/custom-crm-mcp>"],
        [
            "serviceCreate",
            "serviceInstanceUpdate",
            "serviceInstanceLimitsUpdate",
            "variableCollectionUpsert",
            "serviceDomainCreate",
            "serviceConnect",
            "serviceInstanceDeployV2"
        ]
    );
    let log = emu.requests();
    let connect = log
        .iter()
        .find(|r| r.root_fields == ["serviceConnect"] && r.variables["input"]["repo"].is_string())
        .unwrap();
    assert_eq!(
        connect.variables["input"],
        json!({"repo": "scalewize-example/servers", "branch": "main"})
    );
    let deploy = log
        .iter()
        .find(|r| r.root_fields == ["serviceInstanceDeployV2"])
        .unwrap();
    assert_eq!(deploy.variables["commitSha"], json!(first));
    let settings = log
        .iter()
        .find(|r| {
            r.root_fields == ["serviceInstanceUpdate"]
                && r.variables["input"]["rootDirectory"].is_string()
        })
        .unwrap();
    assert_eq!(
        settings.variables["input"]["rootDirectory"],
        "custom-mcp-servers/clients/client-a/custom-crm-mcp"
    );
    assert_eq!(
        settings.variables["input"]["watchPatterns"],
        json!(["custom-mcp-servers/clients/client-a/custom-crm-mcp/**"])
    );

    // Nothing changed: nothing sent.
    let before = emu.requests().len();
    let r = rw::deploy(&ws, &emu, &["client-a"]);
    assert!(r.stdout.contains("No changes"), "{r:?}");
    assert!(rw::mutations(&rw::since(&emu, before)).is_empty());

    // A commit touching the folder: its variables (which record the commit) and that commit.
    std::fs::write(
        ws.path()
            .join("custom-mcp-servers/clients/client-a/custom-crm-mcp/NOTES.md"),
        "changed\n",
    )
    .unwrap();
    let second = commit_all(ws.path(), "touch the server");
    let diff = rw::run(
        &ws,
        &emu,
        &["diff", "client-a", "--platform", "railway"],
        &[],
    );
    assert!(
        diff.stdout
            .contains(&format!("~ commit: \"{first}\" → \"{second}\"")),
        "{diff:?}"
    );
    let before = emu.requests().len();
    rw::deploy(&ws, &emu, &["client-a"]);
    let log = rw::since(&emu, before);
    assert_eq!(
        rw::mutation_fields(&emu, &log),
        [(
            "<service sw-client-a/custom-crm-mcp>".to_string(),
            vec![
                "variableCollectionUpsert".to_string(),
                "serviceInstanceDeployV2".to_string()
            ]
        )]
        .into()
    );
    let deploy = log
        .iter()
        .find(|r| r.root_fields == ["serviceInstanceDeployV2"])
        .unwrap();
    assert_eq!(deploy.variables["commitSha"], json!(second));

    // A commit that is not on the remote branch: Railway would answer "Commit not found".
    std::fs::write(
        ws.path()
            .join("custom-mcp-servers/clients/client-a/custom-crm-mcp/NOTES.md"),
        "not pushed\n",
    )
    .unwrap();
    let third = commit_unpushed(ws.path(), "not pushed yet");
    let before = emu.requests().len();
    let r = rw::run(
        &ws,
        &emu,
        &["deploy", "client-a", "--platform", "railway", "--yes"],
        &[],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&third[..12]) && r.stderr.contains("git push origin main"),
        "{r:?}"
    );
    assert!(rw::mutations(&rw::since(&emu, before)).is_empty());
}

#[test]
fn the_workspace_comes_from_the_token_when_not_configured() {
    use railway_emulator::{Config, Emulator, Plan, TokenConfig};
    const OTHER: &str = "0d6f3c1e-5b7a-4e2f-9c8d-1a2b3c4d5e6f";
    let emu = Emulator::start(
        Config::default()
            .with_time_scale(rw::TIME_SCALE)
            .with_workspace(OTHER, "Another", Plan::Pro)
            .with_token(TokenConfig::account(
                "one-workspace-account",
                &[railway_emulator::DEFAULT_WORKSPACE_ID],
                Plan::Pro,
            ))
            .with_token(TokenConfig::account(
                "two-workspaces-account",
                &[railway_emulator::DEFAULT_WORKSPACE_ID, OTHER],
                Plan::Pro,
            )),
    );
    let ws = rw::workspace();
    let unset = ("RAILWAY_WORKSPACE_ID", "");

    // An account token that sees several workspaces: which one must be said.
    let r = rw::run(
        &ws,
        &emu,
        &["diff", "client-a", "--platform", "railway"],
        &[("RAILWAY_API_TOKEN", "two-workspaces-account"), unset],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("2 workspaces")
            && r.stderr.contains(OTHER)
            && r.stderr.contains(railway_emulator::DEFAULT_WORKSPACE_ID)
            && r.stderr.contains("RAILWAY_WORKSPACE_ID"),
        "{r:?}"
    );
    assert!(rw::mutations(&emu.requests()).is_empty());

    // One workspace: it is used.
    let before = emu.requests().len();
    let r = rw::run(
        &ws,
        &emu,
        &["deploy", "client-b", "--platform", "railway", "--yes"],
        &[("RAILWAY_API_TOKEN", "one-workspace-account"), unset],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let log = rw::since(&emu, before);
    assert_eq!(log[0].root_fields, ["apiToken"]);
    let create = log
        .iter()
        .find(|r| r.root_fields == ["projectCreate"])
        .unwrap();
    assert_eq!(
        create.variables["input"]["workspaceId"],
        railway_emulator::DEFAULT_WORKSPACE_ID
    );

    // A workspace token may not ask `me`; `apiToken` names its one workspace.
    let r = rw::run(
        &ws,
        &emu,
        &["deploy", "client-b", "--platform", "railway", "--yes"],
        &[unset],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("No changes"), "{r:?}");
}

#[test]
fn a_workspace_token_deploys_once_and_finds_its_projects_again() {
    let emu = rw::start(11, Faults::none());
    let ws = rw::workspace();
    let unset = ("RAILWAY_WORKSPACE_ID", "");
    let first = rw::run(
        &ws,
        &emu,
        &["deploy", "client-b", "--platform", "railway", "--yes"],
        &[unset],
    );
    assert_eq!(first.code, 0, "{first:?}");
    let log = emu.requests();
    assert!(
        !log.iter().any(|r| r.root_fields == ["me"]),
        "a workspace token must not ask `me`"
    );
    for r in log
        .iter()
        .filter(|r| r.root_fields == ["projects"] || r.root_fields == ["projectCreate"])
    {
        let ws_id = if r.root_fields == ["projects"] {
            &r.variables["workspaceId"]
        } else {
            &r.variables["input"]["workspaceId"]
        };
        assert_eq!(
            ws_id,
            railway_emulator::DEFAULT_WORKSPACE_ID,
            "{:?} without the workspace",
            r.root_fields
        );
    }
    // Client projects (the platform lock's project is made once, like them).
    let creates = |log: &[railway_emulator::RequestRecord]| {
        log.iter()
            .filter(|r| r.root_fields == ["projectCreate"])
            .filter(|r| r.variables["input"]["name"] != rw::LOCK_PROJECT)
            .count()
    };
    assert_eq!(creates(&log), 1);

    let before = emu.requests().len();
    let again = rw::run(
        &ws,
        &emu,
        &["deploy", "client-b", "--platform", "railway", "--yes"],
        &[unset],
    );
    assert_eq!(again.code, 0, "{again:?}");
    let second = rw::since(&emu, before);
    assert!(
        rw::mutations(&second).is_empty(),
        "{:?}",
        rw::mutations(&second)
    );
    assert_eq!(creates(&emu.requests()), 1, "no project is created twice");
}

#[test]
fn destroy_converges_through_lost_responses() {
    use railway_emulator::ForcedFault;
    let emu = rw::start(7, Faults::none());
    let ws = rw::workspace();
    rw::deploy(&ws, &emu, &["client-c"]);
    // Every request loses its response: two in three applied, the third not (a 503).
    let from = emu.request_count() + 1;
    let mut faults = Faults::none();
    for seq in from..from + 60 {
        let fault = if seq % 3 != 0 {
            ForcedFault::ApplyThenDrop
        } else {
            ForcedFault::Status(503)
        };
        faults = faults.with_forced(seq, fault);
    }
    emu.set_faults(faults);
    let r = rw::run(
        &ws,
        &emu,
        &["destroy", "client-c", "--platform", "railway", "--yes"],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let c = emu.fault_counters();
    assert!(c.lost_response() >= 2 && c.http_5xx >= 2, "{c:?}");
    assert!(
        rw::layout(&emu).is_empty(),
        "services and the emptied project are gone: {:?}",
        rw::layout(&emu)
    );
}

#[test]
fn region_size_and_image_changes_send_what_they_need() {
    let emu = rw::start(8, Faults::none());
    let ws = rw::workspace();
    edit_json(&ws, "scalewize.json", |w| {
        w["railway"] = json!({"region": "europe-west4-drams3a", "plan": "pro"});
    });
    rw::deploy(&ws, &emu, &["client-b"]);
    let erp = |emu: &railway_emulator::EmulatorHandle| {
        let snap = emu.snapshot();
        snap.projects
            .iter()
            .find(|p| p.name == "sw-client-b")
            .unwrap()
            .environments[0]
            .instances
            .iter()
            .find(|i| i.service_name == "custom-erp-mcp")
            .unwrap()
            .clone()
    };
    // Placed as the CLI places it; the plain `region` field is not what Railway reads back.
    assert_eq!(
        erp(&emu).settings["multiRegionConfig"],
        json!({"europe-west4-drams3a": {"numReplicas": 1}})
    );
    assert_ne!(erp(&emu).settings["region"], "europe-west4-drams3a");
    assert_eq!(erp(&emu).limits["memoryGB"], json!(0.25));
    let before = emu.requests().len();
    rw::deploy(&ws, &emu, &["client-b"]);
    assert!(rw::mutations(&rw::since(&emu, before)).is_empty());

    let manifest = "custom-mcp-servers/clients/client-b/custom-erp-mcp/scalewize.json";
    let step = |ws: &common::TempWorkspace, f: &dyn Fn(&mut Value)| {
        edit_json(ws, manifest, |m| f(m));
        assert_eq!(rw::run(ws, &emu, &["render", "client-b"], &[]).code, 0);
        let before = emu.requests().len();
        rw::deploy(ws, &emu, &["client-b"]);
        rw::mutation_fields(&emu, &rw::since(&emu, before))
    };
    let erp_key = "<service sw-client-b/custom-erp-mcp>".to_string();
    // A size: the limits, the variables that record it, one deploy.
    let changed = step(&ws, &|m| m["size"] = json!({"cpus": 2, "memory_mb": 512}));
    assert_eq!(
        changed,
        [(
            erp_key.clone(),
            vec![
                "serviceInstanceLimitsUpdate".to_string(),
                "variableCollectionUpsert".to_string(),
                "serviceInstanceDeployV2".to_string()
            ]
        )]
        .into()
    );
    assert_eq!(erp(&emu).limits["memoryGB"], json!(0.5));
    assert_eq!(erp(&emu).limits["vCPUs"], json!(2.0));
    // A region (of this server only).
    let changed = step(&ws, &|m| m["region"] = json!("us-east4-eqdc4a"));
    assert_eq!(
        changed[&erp_key],
        [
            "serviceInstanceUpdate",
            "variableCollectionUpsert",
            "serviceInstanceDeployV2"
        ]
    );
    assert_eq!(changed.len(), 1);
    assert_eq!(
        erp(&emu).settings["multiRegionConfig"],
        json!({"us-east4-eqdc4a": {"numReplicas": 1}})
    );
    // A new image: the source (without a deploy), then the deploy that runs it.
    let changed = step(&ws, &|m| {
        m["image"] = json!("ghcr.io/scalewize-example/custom-erp-mcp:0.2.0")
    });
    assert_eq!(
        changed[&erp_key],
        [
            "serviceInstanceUpdate",
            "variableCollectionUpsert",
            "serviceInstanceDeployV2"
        ]
    );
    let e = erp(&emu);
    assert_eq!(
        e.source,
        Some(json!({"image": "ghcr.io/scalewize-example/custom-erp-mcp:0.2.0"}))
    );
    let last = e.deployments.last().unwrap();
    assert_eq!(last.status, "SUCCESS");
    assert_eq!(
        last.meta["image"],
        "ghcr.io/scalewize-example/custom-erp-mcp:0.2.0"
    );
    let before = emu.requests().len();
    rw::deploy(&ws, &emu, &["client-b"]);
    assert!(rw::mutations(&rw::since(&emu, before)).is_empty());
}
