//! `scalewize export`: Kubernetes manifests checked by `kubernetes-validate` (the Kubernetes 1.30
//! schemas, strict), Compose files by the Compose Specification's JSON schema (vendored under
//! tests/fixtures/compose-spec/), secrets only ever in the 0600 files of `--with-secrets`, one
//! Deployment per user for client-c, byte-identical re-runs, and `--check`.
//! The validators are Python packages that `.ci/run` installs; when one is missing the tests fail
//! with the install command instead of passing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;
use common::TempWorkspace;
use common::canary::{Canary, Output, assert_no_canaries, canary, files_under, store_values};
use scalewize::yaml;

const KUBERNETES_VERSION: &str = "1.30.0";
const INSTALL_HINT: &str =
    "pip install kubernetes-validate==1.37.0 jsonschema==4.26.0 pyyaml==6.0.3 (as .ci/run does)";

fn export(ws: &TempWorkspace, args: &[&str], env: &[(&str, &str)]) -> common::Run {
    let mut full = vec!["export"];
    full.extend_from_slice(args);
    let run = ws.run_env(&full, env);
    assert_eq!(run.code, 0, "{run:?}");
    run
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect()
}

/// The documents of a multi-document manifest.
fn documents(path: &Path) -> Vec<yaml::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split("\n---\n")
        .skip(1)
        .map(|d| yaml::from_str(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

fn tool_or_fail(program: &str, args: &[&str]) {
    let ok = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{program} {}` is not available: {INSTALL_HINT}",
        args.join(" ")
    );
}

#[test]
fn every_kubernetes_manifest_validates_against_the_kubernetes_schemas() {
    tool_or_fail("kubernetes-validate", &["--version"]);
    let ws = TempWorkspace::example();
    export(
        &ws,
        &["--all", "--format", "kubernetes", "--with-secrets"],
        &[],
    );
    let dir = ws.path().join("export/kubernetes");
    let manifests: Vec<PathBuf> = yaml_files(&dir)
        .into_iter()
        .filter(|p| p.file_name().unwrap() != "kustomization.yaml")
        .collect();
    let docs: usize = manifests.iter().map(|p| documents(p).len()).sum();
    assert!(manifests.len() >= 20 && docs >= 30, "{manifests:?}");
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "-k", KUBERNETES_VERSION])
        .args(&manifests)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubernetes-validate failed:\n{text}");
    assert_eq!(
        text.matches(" passed for resource ").count(),
        docs,
        "every document must be checked:\n{text}"
    );
    // The kustomizations list exactly the files beside them.
    for k in yaml_files(&dir)
        .into_iter()
        .filter(|p| p.file_name().unwrap() == "kustomization.yaml")
    {
        let doc = &documents(&k)[0];
        for r in doc["resources"].as_sequence().unwrap() {
            let p = k.parent().unwrap().join(r.as_str().unwrap());
            assert!(
                p.exists(),
                "{} lists a missing {}",
                k.display(),
                p.display()
            );
        }
    }
}

#[test]
fn every_compose_file_validates_against_the_compose_specification() {
    tool_or_fail("python3", &["-c", "import jsonschema, yaml"]);
    let ws = TempWorkspace::example();
    export(&ws, &["--all", "--format", "compose"], &[]);
    let files: Vec<PathBuf> = files_under(&ws.path().join("export/compose"))
        .into_iter()
        .filter(|p| p.file_name().unwrap() == "compose.yaml")
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    let schema = common::repo_root().join("tests/fixtures/compose-spec/compose-spec.json");
    let script = "import json, sys, yaml, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        bad = 0\n\
        for f in sys.argv[2:]:\n\
        \x20   for e in jsonschema.Draft7Validator(schema).iter_errors(yaml.safe_load(open(f))):\n\
        \x20       bad += 1; print(f, list(e.absolute_path), e.message)\n\
        print('checked', len(sys.argv) - 2)\n\
        sys.exit(1 if bad else 0)\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&schema)
        .args(&files)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "compose schema check failed:\n{text}");
    assert!(text.contains("checked 3"), "{text}");
    // Pinned images only; services reach each other by name; the config is mounted.
    for f in &files {
        let doc = yaml::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let services = doc["services"].as_mapping().unwrap();
        for (name, s) in services {
            let image = s["image"].as_str().unwrap();
            let tag = image.rsplit_once(':').map(|(_, t)| t);
            assert!(
                tag.is_some_and(|t| t != "latest" && !t.contains('/')),
                "{}: {name:?} runs an unpinned image {image}",
                f.display()
            );
            assert!(
                s["healthcheck"]["test"].is_sequence(),
                "{name:?} has no healthcheck"
            );
        }
        let lc = &doc["services"]["librechat"];
        assert_eq!(
            lc["volumes"][0].as_str(),
            Some("./librechat.yaml:/app/librechat.yaml:ro")
        );
        for (k, v) in lc["environment"].as_mapping().unwrap() {
            let k = k.as_str().unwrap();
            if k.ends_with("_MCP_URL") && v.as_str().unwrap().starts_with("http://") {
                let host = v.as_str().unwrap()["http://".len()..]
                    .split(':')
                    .next()
                    .unwrap();
                assert!(
                    services.contains_key(host),
                    "{k} points at {host}, which is no service of the project"
                );
            }
        }
    }
}

/// Canaries set through `SCALEWIZE_SECRET_…` overrides: a client's, a user's and a shared secret,
/// plus every value the stores hold.
fn canaries(ws: &TempWorkspace) -> (Vec<Canary>, Vec<(String, String)>) {
    let mut all = store_values(ws.path());
    let mut env = Vec::new();
    for var in [
        "SCALEWIZE_SECRET_CLIENT_A__CUSTOM_CRM_MCP_TOKEN",
        "SCALEWIZE_SECRET_CLIENT_C__ALICE__SDP_REFRESH_TOKEN",
        "SCALEWIZE_SECRET_DEFAULT__KNOWLEDGE_BASE_MCP_TOKEN",
    ] {
        let v = canary("export");
        all.push(Canary::new(var, v.clone()));
        env.push((var.to_string(), v));
    }
    (all, env)
}

#[test]
fn no_canary_secret_appears_in_any_exported_file_without_with_secrets() {
    let ws = TempWorkspace::example();
    let (canaries, env) = canaries(&ws);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = export(&ws, &["--all", "--format", "compose", "-v"], &env);
    let b = export(&ws, &["--all", "--format", "kubernetes", "-v"], &env);
    let outputs = [
        Output {
            label: "export compose".into(),
            run: &a,
        },
        Output {
            label: "export kubernetes".into(),
            run: &b,
        },
    ];
    assert!(files_under(&ws.path().join("export")).len() > 30);
    assert_no_canaries(&canaries, &outputs, Some(&ws.path().join("export")));
}

#[test]
fn with_secrets_the_values_are_only_in_the_0600_files() {
    use std::os::unix::fs::PermissionsExt;
    let ws = TempWorkspace::example();
    let (canaries, env) = canaries(&ws);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = export(
        &ws,
        &["--all", "--format", "compose", "--with-secrets"],
        &env,
    );
    let b = export(
        &ws,
        &["--all", "--format", "kubernetes", "--with-secrets"],
        &env,
    );
    assert!(a.stderr.contains("never commit"), "{a:?}");
    assert!(b.stderr.contains("secrets.yaml"), "{b:?}");
    let dir = ws.path().join("export");
    let private: Vec<PathBuf> = files_under(&dir)
        .into_iter()
        .filter(|p| {
            p.file_name().unwrap() == "secrets.yaml"
                || p.parent().unwrap().file_name().unwrap() == "secrets"
                    && p.extension().is_some_and(|e| e == "env")
        })
        .collect();
    assert!(private.len() >= 10, "{private:?}");
    for p in &private {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    // The values are there (for both formats), and nowhere else.
    let all_private: String = private
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for c in canaries
        .iter()
        .filter(|c| c.label.starts_with("SCALEWIZE_SECRET_"))
    {
        assert!(all_private.contains(&c.value), "{} not exported", c.label);
    }
    let outputs = [
        Output {
            label: "export compose --with-secrets".into(),
            run: &a,
        },
        Output {
            label: "export kubernetes --with-secrets".into(),
            run: &b,
        },
    ];
    common::canary::assert_no_canaries_except(&canaries, &outputs, Some(&dir), &private);
}

#[test]
fn client_c_gets_one_deployment_per_user_each_reading_only_its_users_secret() {
    let ws = TempWorkspace::example();
    export(&ws, &["client-c", "--format", "kubernetes"], &[]);
    let dir = ws.path().join("export/kubernetes/client-c");
    let mut per_user: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in yaml_files(&dir) {
        for doc in documents(&f) {
            if doc["kind"].as_str() != Some("Deployment")
                || doc["metadata"]["labels"]["scalewize.io/server"].as_str()
                    != Some("servicedesk-mcp")
            {
                continue;
            }
            let user = doc["metadata"]["labels"]["scalewize.io/user"]
                .as_str()
                .expect("a per-user Deployment is labelled with its user")
                .to_string();
            let env = doc["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_sequence()
                .unwrap();
            let secrets: BTreeSet<String> = env
                .iter()
                .filter_map(|e| e["valueFrom"]["secretKeyRef"]["name"].as_str())
                .map(str::to_string)
                .collect();
            assert!(
                per_user.insert(user, secrets).is_none(),
                "two Deployments for one user"
            );
        }
    }
    let users: Vec<&str> = per_user.keys().map(String::as_str).collect();
    assert_eq!(users, ["alice", "bob", "carol"]);
    for (user, secrets) in &per_user {
        assert_eq!(
            secrets,
            &BTreeSet::from([format!("scalewize-user-{user}")]),
            "{user}'s instance must read only its own Secret"
        );
    }
    // The shared namespace is not needed by client-c.
    assert!(!ws.path().join("export/kubernetes/shared").exists());
}

#[test]
fn client_mcp_pods_accept_only_their_librechat_and_shared_ones_every_clients() {
    let ws = TempWorkspace::example();
    export(&ws, &["--all", "--format", "kubernetes"], &[]);
    let k = ws.path().join("export/kubernetes");
    let client = documents(&k.join("client-a/network-policies.yaml"));
    let names: Vec<&str> = client
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "default-deny-ingress",
            "librechat-from-users",
            "mcp-from-own-librechat"
        ]
    );
    let mcp = &client[2]["spec"];
    assert_eq!(
        mcp["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["scalewize.io/server"].as_str(),
        Some("librechat")
    );
    assert!(
        mcp["ingress"][0]["from"][0]["namespaceSelector"].is_null(),
        "same namespace only"
    );
    let shared = documents(&k.join("shared/network-policies.yaml"));
    let from = &shared[1]["spec"]["ingress"][0]["from"][0];
    assert_eq!(
        from["namespaceSelector"]["matchExpressions"][0]["key"].as_str(),
        Some("scalewize.io/client")
    );
    assert_eq!(
        from["podSelector"]["matchLabels"]["scalewize.io/server"].as_str(),
        Some("librechat")
    );
    // LibreChat reaches the shared server across namespaces, and may (allowedAddresses).
    let cm = &documents(&k.join("client-a/librechat-config.yaml"))[0];
    let config = yaml::from_str(cm["data"]["librechat.yaml"].as_str().unwrap()).unwrap();
    let allowed: Vec<&str> = config["mcpSettings"]["allowedAddresses"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        allowed,
        [
            "custom-crm-mcp:8080",
            "knowledge-base-mcp.sw-shared.svc:8080"
        ]
    );
}

#[test]
fn two_exports_of_the_same_config_are_byte_identical() {
    let ws = TempWorkspace::example();
    for format in ["compose", "kubernetes"] {
        export(&ws, &["--all", "--format", format, "--out", "one"], &[]);
        export(&ws, &["--all", "--format", format, "--out", "two"], &[]);
        let read = |d: &str| -> Vec<(PathBuf, Vec<u8>)> {
            let root = ws.path().join(d);
            files_under(&root)
                .into_iter()
                .map(|p| {
                    (
                        p.strip_prefix(&root).unwrap().to_path_buf(),
                        std::fs::read(&p).unwrap(),
                    )
                })
                .collect()
        };
        let one = read("one");
        assert!(!one.is_empty());
        assert!(one == read("two"), "{format}: two runs differ");
        std::fs::remove_dir_all(ws.path().join("one")).unwrap();
        std::fs::remove_dir_all(ws.path().join("two")).unwrap();
    }
}

#[test]
fn check_exits_2_after_an_exported_file_is_edited_and_writes_nothing() {
    let ws = TempWorkspace::example();
    export(&ws, &["--all", "--format", "kubernetes"], &[]);
    let current = ws.run(&["export", "--all", "--format", "kubernetes", "--check"]);
    assert_eq!(current.code, 0, "{current:?}");
    let edited = "export/kubernetes/client-a/service-librechat.yaml";
    ws.write(
        edited,
        &ws.read(edited).replace("replicas: 1", "replicas: 3"),
    );
    let before = ws.snapshot();
    let stale = ws.run(&["export", "--all", "--format", "kubernetes", "--check"]);
    assert_eq!(stale.code, 2, "{stale:?}");
    assert!(
        stale
            .stdout
            .contains("would update export/kubernetes/client-a/service-librechat.yaml"),
        "{stale:?}"
    );
    assert!(before == ws.snapshot(), "--check wrote something");
}

#[test]
fn a_shared_url_replaces_the_shared_servers_copy_and_an_unknown_name_is_refused() {
    let ws = TempWorkspace::example();
    let url = "https://kb.example.com/mcp";
    export(
        &ws,
        &[
            "client-a",
            "--format",
            "compose",
            "--shared-url",
            &format!("knowledge-base-mcp={url}"),
        ],
        &[],
    );
    let doc = yaml::from_str(&ws.read("export/compose/client-a/compose.yaml")).unwrap();
    assert!(
        doc["services"]["knowledge-base-mcp"].is_null(),
        "the shared server is not copied"
    );
    assert_eq!(
        doc["services"]["librechat"]["environment"]["KNOWLEDGE_BASE_MCP_URL"].as_str(),
        Some(url)
    );
    let bad = ws.run(&[
        "export",
        "client-a",
        "--format",
        "compose",
        "--shared-url",
        "knowledge-base=https://x",
    ]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(
        bad.stderr
            .contains("no shared server named `knowledge-base`"),
        "{bad:?}"
    );
    assert!(
        bad.stderr.contains("did you mean `knowledge-base-mcp`"),
        "{bad:?}"
    );
}

#[test]
fn env_values_that_yaml_1_1_would_retype_stay_strings_in_both_formats() {
    tool_or_fail("python3", &["-c", "import yaml"]);
    let ws = TempWorkspace::example();
    let manifest = "custom-mcp-servers/clients/client-a/custom-crm-mcp/scalewize.json";
    let values = [
        "yes", "on", "12:30", "1_000", "y", "=", "<<", "0o17", "$HOME", "a: b # c",
    ];
    let mut doc: serde_json::Value = serde_json::from_str(&ws.read(manifest)).unwrap();
    for (i, v) in values.iter().enumerate() {
        doc["env"][format!("HOSTILE_{i}")] = serde_json::Value::from(*v);
    }
    ws.write(manifest, &serde_json::to_string_pretty(&doc).unwrap());
    export(&ws, &["client-a", "--format", "kubernetes"], &[]);
    export(&ws, &["client-a", "--format", "compose"], &[]);
    // PyYAML reads YAML 1.1, like Kubernetes' own reader: every value must come back a string.
    let script = "import json, sys, yaml\n\
        out = {}\n\
        for d in yaml.safe_load_all(open(sys.argv[1])):\n\
        \x20   if d and d['kind'] == 'Deployment':\n\
        \x20       out['k8s'] = {e['name']: e.get('value') for e in d['spec']['template']['spec']['containers'][0]['env']}\n\
        out['compose'] = yaml.safe_load(open(sys.argv[2]))['services']['custom-crm-mcp']['environment']\n\
        print(json.dumps(out))\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(
            ws.path()
                .join("export/kubernetes/client-a/service-custom-crm-mcp.yaml"),
        )
        .arg(ws.path().join("export/compose/client-a/compose.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (i, v) in values.iter().enumerate() {
        let name = format!("HOSTILE_{i}");
        assert_eq!(read["k8s"][&name].as_str(), Some(*v), "kubernetes {name}");
        // Compose interpolates `$`: a literal one is written `$$`.
        let compose = v.replace('$', "$$");
        assert_eq!(
            read["compose"][&name].as_str(),
            Some(compose.as_str()),
            "compose {name}"
        );
    }
}

#[test]
fn the_exported_librechat_configs_pass_librechats_schema_with_their_allowed_addresses() {
    let ws = TempWorkspace::example();
    export(&ws, &["--all", "--format", "compose"], &[]);
    export(&ws, &["--all", "--format", "kubernetes"], &[]);
    let validator = common::Validator::new();
    let mut checked = 0;
    for c in ["client-a", "client-b", "client-c"] {
        let env = ws.path().join(format!("{c}.env"));
        std::fs::write(
            &env,
            common::env_with_urls(&ws.read(&format!("client-configs/{c}/environment.env"))),
        )
        .unwrap();
        let cm = &documents(
            &ws.path()
                .join(format!("export/kubernetes/{c}/librechat-config.yaml")),
        )[0];
        let from_cluster = ws.path().join(format!("{c}-configmap.yaml"));
        std::fs::write(
            &from_cluster,
            cm["data"]["librechat.yaml"].as_str().unwrap(),
        )
        .unwrap();
        let from_compose = ws.path().join(format!("export/compose/{c}/librechat.yaml"));
        for file in [&from_compose, &from_cluster] {
            let v = validator.run(&[file], &[&env], true);
            assert!(v.ok, "{}: {}", file.display(), v.output);
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
    // The servers LibreChat calls are listed (client-a: its CRM and the shared Knowledge Base).
    let doc = yaml::from_str(&ws.read("export/compose/client-a/librechat.yaml")).unwrap();
    let allowed: Vec<&str> = doc["mcpSettings"]["allowedAddresses"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(allowed, ["custom-crm-mcp:8080", "knowledge-base-mcp:8080"]);
}

#[test]
fn a_removed_user_s_files_are_reported_by_check_and_removed_by_the_next_export() {
    let ws = TempWorkspace::example();
    export(&ws, &["client-c", "--format", "kubernetes"], &[]);
    export(&ws, &["client-c", "--format", "compose"], &[]);
    // A secret file the user filled in from its .example keeps the header: it must survive.
    let kept = "export/compose/client-c/secrets/servicedesk-mcp-carol.env";
    ws.write(kept, &ws.read(&format!("{kept}.example")));
    let file = "client-configs/client-c/mcp-servers.json";
    let mut doc: serde_json::Value = serde_json::from_str(&ws.read(file)).unwrap();
    doc["users"]
        .as_array_mut()
        .unwrap()
        .retain(|u| u["id"] != "carol");
    ws.write(file, &serde_json::to_string_pretty(&doc).unwrap());
    assert_eq!(ws.run(&["render", "client-c"]).code, 0);
    let carol = "export/kubernetes/client-c/service-servicedesk-mcp-carol.yaml";
    let check = ws.run(&["export", "client-c", "--format", "kubernetes", "--check"]);
    assert_eq!(check.code, 2, "{check:?}");
    assert!(
        check.stdout.contains(&format!("would remove {carol}")),
        "{check:?}"
    );
    assert!(ws.path().join(carol).exists(), "--check removed a file");
    export(&ws, &["client-c", "--format", "kubernetes"], &[]);
    assert!(!ws.path().join(carol).exists());
    export(&ws, &["client-c", "--format", "compose"], &[]);
    assert!(!ws.path().join(format!("{kept}.example")).exists());
    assert!(ws.path().join(kept).exists(), "a secret file was deleted");
    let again = ws.run(&["export", "client-c", "--format", "kubernetes", "--check"]);
    assert_eq!(again.code, 0, "{again:?}");
}
