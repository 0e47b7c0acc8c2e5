//! No secret value ever reaches stdout, stderr or a file other than the (encrypted) store:
//! canary values are planted in the store (client, shared and per-user scopes) and in
//! `SCALEWIZE_SECRET_…` overrides, every command the binary has runs with `-vvv` (success and
//! failure paths, `--json`), and every output and every file is searched for them, together
//! with every value the store holds (generated credentials and tokens included).
//!
//! Later issues add their commands (deploy, status, logs…) to `every_command`.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::canary::{
    Canary, Output, assert_no_canaries, assert_no_canaries_except, canary, find_leaks, store_values,
};
use common::{Run, TempWorkspace};

const CLIENT_C: &str = r#"{
  "client_id": "client-c",
  "client_name": "Client C",
  "users": [{"id": "alice"}, {"id": "bob"}],
  "mcp_servers": [{"name": "ServiceDesk", "type": "client-specific"}]
}
"#;

/// The one place secret values are written on purpose: the resolved env `deploy` writes for
/// LibreChat under `.scalewize/<client>/` (0600, git-ignored; SPEC §2).
fn resolved_envs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.join(".scalewize"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let f = e.path().join("environment.env");
        if f.is_file() {
            out.push(f);
        }
    }
    out
}

/// Runs commands with `-vvv` and the override canaries, remembering every output, and checks
/// the workspace's files after each one.
struct Harness {
    ws: TempWorkspace,
    env: Vec<(String, String)>,
    canaries: BTreeMap<String, Canary>,
    runs: Vec<(String, Run)>,
}

impl Harness {
    fn learn(&mut self, cs: impl IntoIterator<Item = Canary>) {
        for c in cs {
            self.canaries.entry(c.value.clone()).or_insert(c);
        }
    }

    fn canaries(&self) -> Vec<Canary> {
        self.canaries.values().cloned().collect()
    }

    fn run_with(&mut self, args: &[&str], extra_env: &[(&str, &str)], stdin: &[u8]) -> &Run {
        let mut full = vec!["-vvv"];
        full.extend_from_slice(args);
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.extend_from_slice(extra_env);
        let run = self.ws.run_stdin(&full, &env, stdin);
        let label = format!(
            "scalewize {}{}",
            full.join(" "),
            if extra_env.is_empty() {
                String::new()
            } else {
                format!(
                    " [{}]",
                    extra_env
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        // Values the command may just have created (generate, rotate) are canaries too.
        let now = store_values(self.ws.path());
        self.learn(now);
        let this = [Output {
            label: label.clone(),
            run: &run,
        }];
        assert_no_canaries_except(
            &self.canaries(),
            &this,
            Some(self.ws.path()),
            &resolved_envs(self.ws.path()),
        );
        self.runs.push((label, run));
        &self.runs.last().unwrap().1
    }

    fn run(&mut self, args: &[&str]) -> &Run {
        self.run_with(args, &[], b"")
    }

    fn expect(&mut self, code: i32, args: &[&str]) {
        let run = self.run(args);
        assert_eq!(run.code, code, "{args:?}: {run:?}");
    }
}

#[test]
fn no_command_leaks_a_secret() {
    let ws = TempWorkspace::example();
    ws.write("client-configs/client-c/mcp-servers.json", CLIENT_C);
    let (wrong_identity, _) = scalewize::secrets::keygen();
    let wrong_key = wrong_identity
        .expose()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string();

    // Overrides (this run only, never written) in every scope.
    let overrides = [
        (
            "SCALEWIZE_SECRET_CLIENT_A__JWT_SECRET",
            canary("override-client"),
        ),
        (
            "SCALEWIZE_SECRET_DEFAULT__KNOWLEDGE_BASE_MCP_TOKEN",
            canary("override-shared"),
        ),
        (
            "SCALEWIZE_SECRET_CLIENT_C__BOB__SDP_CLIENT_SECRET",
            canary("override-user"),
        ),
        (
            "SCALEWIZE_SECRET_CLIENT_B__HR_API_KEY",
            canary("override-manifest"),
        ),
    ];
    let mut h = Harness {
        ws,
        env: overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        canaries: BTreeMap::new(),
        runs: Vec::new(),
    };
    h.learn(overrides.iter().map(|(k, v)| Canary::new(*k, v.clone())));
    h.learn([Canary::new("wrong identity", wrong_key.clone())]);
    let initial = store_values(h.ws.path());
    assert!(initial.len() > 20, "the example stores hold values");
    h.learn(initial);

    // Plant canaries in the store through the command itself (client, shared, per user).
    let planted = [
        (
            vec!["secret", "set", "client-a", "MONGO_URI"],
            canary("client"),
        ),
        (
            vec!["secret", "set", "default", "OPENAI_API_KEY"],
            canary("shared"),
        ),
        (
            vec![
                "secret",
                "set",
                "client-c",
                "--user",
                "alice",
                "SDP_REFRESH_TOKEN",
            ],
            canary("user"),
        ),
        (
            vec!["secret", "set", "client-b", "ERP_API_KEY"],
            canary("manifest"),
        ),
    ];
    for (args, value) in &planted {
        h.learn([Canary::new(args.join(" "), value.clone())]);
        let run = h.run_with(args, &[], format!("{value}\n").as_bytes());
        assert_eq!(run.code, 0, "{run:?}");
    }
    let client_canary = planted[0].1.clone();

    // Success paths: every command.
    h.expect(0, &["secret", "generate", "client-c"]);
    h.expect(0, &["secret", "generate", "client-a"]);
    h.expect(0, &["secret", "generate", "default"]);
    h.expect(0, &["new", "acme", "--name", "Acme"]);
    h.expect(0, &["render"]);
    h.expect(0, &["render", "--check"]);
    h.expect(0, &["render", "client-a", "--all"]);
    h.expect(0, &["validate", "client-a", "client-b"]);
    h.expect(0, &["validate", "--json", "client-a"]);
    h.expect(1, &["validate"]); // acme and client-c lack values
    h.expect(1, &["validate", "--json"]);
    h.expect(0, &["diff", "--local"]);
    h.expect(0, &["diff", "--local", "--json"]);
    h.expect(0, &["diff", "--local", "--detailed-exitcode"]);
    for store in ["client-a", "client-b", "client-c", "acme", "default"] {
        h.expect(0, &["secret", "list", store]);
        h.expect(0, &["secret", "list", store, "--json"]);
    }
    h.expect(0, &["secret", "list", "client-c", "--user", "alice"]);
    h.expect(
        0,
        &["secret", "list", "client-c", "--user", "bob", "--json"],
    );
    h.expect(0, &["secret", "rotate", "client-a", "JWT_REFRESH_SECRET"]);
    h.expect(
        0,
        &[
            "secret",
            "rotate",
            "client-c",
            "--user",
            "bob",
            "SERVICEDESK_MCP_TOKEN",
        ],
    );
    h.expect(
        0,
        &["secret", "rotate", "default", "KNOWLEDGE_BASE_MCP_TOKEN"],
    );
    h.expect(0, &["secret", "reencrypt"]);
    h.expect(0, &["secret", "reencrypt", "client-a"]);
    let value = format!("{client_canary}\n");
    let run = h.run_with(
        &["secret", "set", "client-a", "MONGO_URI"],
        &[],
        value.as_bytes(),
    );
    assert!(run.stdout.contains("unchanged"), "{run:?}");
    h.expect(0, &["secret", "rm", "default", "OPENAI_API_KEY"]);
    let keygen_dir = tempfile::tempdir().unwrap();
    let out = keygen_dir.path().join("id.txt");
    h.expect(0, &["secret", "keygen", "--out", out.to_str().unwrap()]);
    for args in [
        vec!["--help"],
        vec!["secret", "--help"],
        vec!["secret", "set", "--help"],
        vec!["secret", "list", "--help"],
    ] {
        h.expect(0, &args);
    }

    // Failure paths.
    let wrong = [("SCALEWIZE_AGE_KEY", wrong_key.as_str())];
    let missing_file = [("SCALEWIZE_AGE_KEY_FILE", "/nonexistent/scalewize-key.txt")];
    h.expect(0, &["secret", "rm", "client-b", "CREDS_IV"]);
    for env in [&wrong[..], &missing_file[..]] {
        for args in [
            vec!["secret", "list", "client-a"],
            vec!["secret", "list", "client-c", "--json"],
            vec!["secret", "generate", "client-b"],
            vec!["secret", "rotate", "client-a", "CREDS_KEY"],
            vec!["secret", "reencrypt"],
            vec!["new", "other"],
        ] {
            let run = h.run_with(&args, env, b"");
            assert_eq!(run.code, 1, "{args:?}: {run:?}");
        }
        let run = h.run_with(&["secret", "set", "client-a", "NEW_ONE"], env, b"x\n");
        assert_eq!(run.code, 1, "{run:?}");
    }
    h.expect(0, &["secret", "generate", "client-b"]);
    // No identity at all (the workspace setting removed).
    let settings = h.ws.read("scalewize.json");
    let without: serde_json::Value = {
        let mut v: serde_json::Value = serde_json::from_str(&settings).unwrap();
        v.as_object_mut().unwrap().remove("identity_file");
        v
    };
    h.ws.write("scalewize.json", &without.to_string());
    h.expect(1, &["secret", "list", "client-b"]);
    h.expect(1, &["secret", "list", "client-b", "--json"]);
    let run = h.run_with(&["secret", "set", "client-b", "MONGO_URI"], &[], b"y\n");
    assert_eq!(run.code, 1, "{run:?}");
    h.expect(0, &["render", "--check"]); // names only: no identity needed
    h.expect(
        0,
        &[
            "secret",
            "rm",
            "client-c",
            "--user",
            "alice",
            "SDP_REFRESH_TOKEN",
        ],
    );
    h.ws.write("scalewize.json", &settings);

    h.expect(1, &["secret", "list", "nosuch"]);
    h.expect(1, &["secret", "set", "nosuch", "X"]);
    h.expect(1, &["render", "nosuch"]);
    h.expect(1, &["validate", "nosuch", "--json"]);
    h.expect(1, &["secret", "set", "client-a", "bad name"]);
    h.expect(
        1,
        &["secret", "set", "client-a", "--user", "Not_A_User", "X"],
    );
    h.expect(1, &["secret", "set", "default", "--user", "alice", "X"]);
    h.expect(1, &["secret", "rm", "client-a", "NOT_THERE"]);
    h.expect(1, &["secret", "rotate", "client-a", "MONGO_URI"]);
    h.expect(
        1,
        &["secret", "rotate", "client-a", "KNOWLEDGE_BASE_MCP_TOKEN"],
    );
    h.expect(1, &["new", "client-a"]);
    let run = h.run_with(&["secret", "set", "client-a", "EMPTY"], &[], b"\n");
    assert_eq!(run.code, 1, "{run:?}");
    // A value typed where a name, a user or a trailing argument belongs is never repeated.
    let typed = canary("typed-on-argv");
    h.learn([Canary::new(
        "value typed on the command line",
        typed.clone(),
    )]);
    for args in [
        vec!["secret", "set", "client-a", "MONGO_URI", typed.as_str()],
        vec!["secret", "set", "client-a", typed.as_str()],
        vec!["secret", "set", "client-a", "--user", typed.as_str(), "X"],
        vec!["secret", "rm", "client-a", "MONGO_URI", typed.as_str()],
        vec!["secret", "rotate", "client-a", typed.as_str()],
        vec!["secret", "list", "client-a", typed.as_str()],
    ] {
        let run = h.run_with(&args, &[], b"v\n");
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
    }
    let long = format!("--value={typed}");
    h.expect(1, &["secret", "set", "client-a", "MONGO_URI", &long]);

    // export: referenced secrets only (its --with-secrets files are checked in export_command).
    h.expect(0, &["render", "--all"]);
    h.expect(0, &["export", "--all", "--format", "compose"]);
    h.expect(2, &["export", "--all", "--format", "kubernetes", "--check"]);
    h.expect(0, &["export", "--all", "--format", "kubernetes"]);
    h.expect(
        1,
        &[
            "export",
            "client-a",
            "--format",
            "compose",
            "--shared-url",
            "nope=https://x",
        ],
    );

    // Finally: every output so far against every value ever seen, and every file.
    let outputs: Vec<Output> = h
        .runs
        .iter()
        .map(|(label, run)| Output {
            label: label.clone(),
            run,
        })
        .collect();
    assert_no_canaries_except(
        &h.canaries(),
        &outputs,
        Some(h.ws.path()),
        &resolved_envs(h.ws.path()),
    );
    assert!(h.runs.len() > 70, "ran {} commands", h.runs.len());
}

/// The platform commands on `local`: deploy (the secrets really reach the services), diff,
/// status, logs, destroy — success and failure paths, `-vvv`, `--json` — leak nothing; the only
/// file holding values is the resolved env deploy writes on purpose.
#[test]
fn no_platform_command_leaks_a_secret() {
    let ws = TempWorkspace::example();
    let overrides = [
        (
            "SCALEWIZE_SECRET_CLIENT_A__JWT_SECRET",
            canary("override-client"),
        ),
        (
            "SCALEWIZE_SECRET_DEFAULT__KNOWLEDGE_BASE_MCP_TOKEN",
            canary("override-shared"),
        ),
        (
            "SCALEWIZE_SECRET_CLIENT_C__BOB__SDP_CLIENT_SECRET",
            canary("override-user"),
        ),
    ];
    let mut env: Vec<(String, String)> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    env.extend(common::local::env());
    let mut h = Harness {
        ws,
        env,
        canaries: BTreeMap::new(),
        runs: Vec::new(),
    };
    // Declared after `h`, so it runs before the workspace is deleted.
    let _cleanup = common::local::Cleanup::new(&h.ws);
    h.learn(overrides.iter().map(|(k, v)| Canary::new(*k, v.clone())));
    let initial = store_values(h.ws.path());
    h.learn(initial);
    let mongo = canary("mongo");
    h.learn([Canary::new("client-a MONGO_URI", mongo.clone())]);
    let run = h.run_with(
        &["secret", "set", "client-a", "MONGO_URI"],
        &[],
        format!("{mongo}\n").as_bytes(),
    );
    assert_eq!(run.code, 0, "{run:?}");

    h.expect(0, &["diff", "client-a", "client-c"]);
    h.expect(0, &["diff", "client-a", "--json", "--out", "plan.json"]);
    h.expect(2, &["deploy", "client-a", "--dry-run"]);
    h.expect(1, &["deploy", "client-a"]); // no terminal, no --yes
    h.expect(0, &["deploy", "--plan", "plan.json", "--yes"]);
    h.expect(0, &["deploy", "client-c", "--yes", "--json"]);
    h.expect(0, &["deploy", "client-a", "client-c", "--yes"]);
    h.expect(0, &["status", "client-a", "client-c"]);
    h.expect(0, &["status", "client-a", "--json"]);
    h.expect(0, &["status", "client-a", "--orphans"]);
    h.expect(0, &["logs", "client-a", "custom-crm-mcp"]);
    h.expect(0, &["logs", "client-c", "servicedesk-mcp", "--user", "bob"]);
    h.expect(1, &["logs", "client-c", "servicedesk-mcp"]);
    h.expect(1, &["status", "client-b"]);
    h.expect(1, &["deploy", "--plan", "plan.json", "--yes"]); // out of date now
    // A deploy whose secret cannot be decrypted fails before changing anything.
    let (wrong, _) = scalewize::secrets::keygen();
    let wrong_key = wrong
        .expose()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string();
    h.learn([Canary::new("wrong identity", wrong_key.clone())]);
    let run = h.run_with(
        &["deploy", "client-a", "--yes"],
        &[("SCALEWIZE_AGE_KEY", wrong_key.as_str())],
        b"",
    );
    assert_eq!(run.code, 1, "{run:?}");

    // The secrets did reach LibreChat's resolved env (so the check above is not vacuous)…
    let resolved = h.ws.read(".scalewize/client-a/environment.env");
    assert!(
        resolved.contains(&mongo) && resolved.contains(&overrides[0].1),
        "the resolved env carries the values"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(h.ws.path().join(".scalewize/client-a/environment.env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // …and nothing else.
    h.expect(0, &["destroy", "client-a", "--yes"]);
    h.expect(0, &["destroy", "client-c", "--yes"]);
    let outputs: Vec<Output> = h
        .runs
        .iter()
        .map(|(label, run)| Output {
            label: label.clone(),
            run,
        })
        .collect();
    assert_no_canaries_except(
        &h.canaries(),
        &outputs,
        Some(h.ws.path()),
        &resolved_envs(h.ws.path()),
    );
}

/// A store someone edited by hand, with plaintext in it: errors name file and line, never the
/// text (the file itself holds the canary on purpose, so only outputs are checked).
#[test]
fn a_hand_edited_store_with_plaintext_is_never_echoed() {
    let ws = TempWorkspace::example();
    let leaked = canary("hand-edited");
    let path = "client-configs/client-a/secrets.env";
    for broken in [
        format!("MONGO_URI={leaked}\n"),
        format!("{leaked}\n"),
        format!("{leaked}=age:AAAA\n"),
        format!("X=age:{leaked}\n"),
    ] {
        let original = ws.read(path);
        ws.write(path, &format!("{original}{broken}"));
        let mut runs = Vec::new();
        for args in [
            vec!["-vvv", "secret", "list", "client-a"],
            vec!["-vvv", "secret", "list", "client-a", "--json"],
            vec!["-vvv", "validate", "client-a"],
            vec!["-vvv", "validate", "--json"],
            vec!["-vvv", "secret", "generate", "client-a"],
            vec!["-vvv", "secret", "rm", "client-a", "MONGO_URI"],
        ] {
            let run = ws.run(&args);
            assert_eq!(run.code, 1, "{args:?}: {run:?}");
            assert!(run.all().contains(path), "names the store: {run:?}");
            runs.push((args.join(" "), run));
        }
        let set = ws.run_stdin(&["-vvv", "secret", "set", "client-a", "Y"], &[], b"y");
        assert_eq!(set.code, 1, "{set:?}");
        runs.push(("secret set client-a Y".into(), set));
        let outputs: Vec<Output> = runs
            .iter()
            .map(|(l, r)| Output {
                label: l.clone(),
                run: r,
            })
            .collect();
        let file = ws.path().join(path);
        assert_no_canaries_except(
            &[Canary::new("hand-edited plaintext", leaked.clone())],
            &outputs,
            Some(ws.path()),
            &[file],
        );
        ws.write(path, &original);
    }
}

/// The check itself catches leaks: a value printed by a real process, in stdout or stderr,
/// base64-encoded, or written to a file. Without this, a broken check would pass silently.
#[test]
fn the_canary_check_catches_a_deliberate_leak() {
    let dir = tempfile::tempdir().unwrap();
    let value = canary("deliberate");
    let canaries = [Canary::new("deliberate", value.clone())];

    let printed = std::process::Command::new("sh")
        .args(["-c", "echo \"connecting with $V\"; echo \"auth: $B\" >&2"])
        .env("V", &value)
        .env(
            "B",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &value),
        )
        .output()
        .unwrap();
    let run = Run {
        code: 0,
        stdout: String::from_utf8_lossy(&printed.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&printed.stderr).into_owned(),
    };
    let outputs = [Output {
        label: "sh leak".into(),
        run: &run,
    }];
    let leaks = find_leaks(&canaries, &outputs, None, &[]);
    assert_eq!(
        leaks,
        [
            "canary `deliberate` (plain) in stdout of `sh leak`",
            "canary `deliberate` (base64) in stderr of `sh leak`",
        ]
    );

    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    std::fs::write(dir.path().join("a/b/out.env"), format!("TOKEN={value}\n")).unwrap();
    let leaks = find_leaks(&canaries, &[], Some(dir.path()), &[]);
    assert_eq!(leaks, ["canary `deliberate` (plain) in file a/b/out.env"]);
    let excluded: Vec<PathBuf> = vec![dir.path().join("a/b/out.env")];
    assert!(find_leaks(&canaries, &[], Some(dir.path()), &excluded).is_empty());

    // And the assertion fails on it, without printing the value.
    let panic = std::panic::catch_unwind(|| {
        assert_no_canaries(&canaries, &outputs, Some(dir.path()));
    })
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("secret values leaked (3 place(s))"), "{msg}");
    assert!(
        !msg.contains(&value),
        "the failure names the canary, not its value"
    );
}
