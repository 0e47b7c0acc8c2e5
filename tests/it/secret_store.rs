//! The secret store as a library (what the deploy engine calls): lookup order, per-user
//! namespaces, the `default` fallback, overrides, fingerprints, concurrency, what clients need.

use crate::common;

use std::ffi::OsString;

use common::TempWorkspace;
use scalewize::secrets::{self, Secret, SecretStore, Source};
use scalewize::secrets::{SecretRef, SecretScope};
use scalewize::workspace::Workspace;

fn client(c: &str, name: &str) -> SecretRef {
    SecretRef {
        name: name.into(),
        scope: SecretScope::Client(c.into()),
    }
}

fn shared(name: &str) -> SecretRef {
    SecretRef {
        name: name.into(),
        scope: SecretScope::Shared,
    }
}

fn user(c: &str, u: &str, name: &str) -> SecretRef {
    SecretRef {
        name: name.into(),
        scope: SecretScope::User {
            client: c.into(),
            user: u.into(),
        },
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    pairs
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect()
}

fn open(ws: &TempWorkspace, pairs: &[(&str, &str)]) -> SecretStore {
    let w = Workspace::open(ws.path()).unwrap();
    SecretStore::open_with_env(&w, env(pairs)).unwrap()
}

fn value(store: &SecretStore, r: &SecretRef) -> Option<String> {
    store.get(r).unwrap().map(|s| s.expose().to_string())
}

#[test]
fn set_get_rm_with_user_namespaces_default_fallback_and_overrides() {
    let ws = TempWorkspace::example();
    let store = open(&ws, &[]);

    // Round trip, and a second store instance reads the same value from disk.
    store
        .set(&client("client-a", "OPENAI_API_KEY"), &Secret::new("sk-a"))
        .unwrap();
    assert_eq!(
        value(&store, &client("client-a", "OPENAI_API_KEY")).as_deref(),
        Some("sk-a")
    );
    let again = open(&ws, &[]);
    assert_eq!(
        value(&again, &client("client-a", "OPENAI_API_KEY")).as_deref(),
        Some("sk-a")
    );

    // Per-user namespaces are separate from each other and from the client's own values.
    store
        .set(&user("client-a", "alice", "TOKEN"), &Secret::new("alice-t"))
        .unwrap();
    store
        .set(&user("client-a", "bob", "TOKEN"), &Secret::new("bob-t"))
        .unwrap();
    assert_eq!(
        value(&store, &user("client-a", "alice", "TOKEN")).as_deref(),
        Some("alice-t")
    );
    assert_eq!(
        value(&store, &user("client-a", "bob", "TOKEN")).as_deref(),
        Some("bob-t")
    );
    assert_eq!(value(&store, &client("client-a", "TOKEN")), None);
    assert_eq!(value(&store, &user("client-a", "carol", "TOKEN")), None);
    assert!(
        ws.read("client-configs/client-a/secrets.env")
            .contains("\nalice/TOKEN=age:")
    );

    // default's values are inherited; the client's own value wins.
    store
        .set(&shared("OPENAI_API_KEY"), &Secret::new("sk-shared"))
        .unwrap();
    assert_eq!(
        value(&store, &client("client-b", "OPENAI_API_KEY")).as_deref(),
        Some("sk-shared")
    );
    assert_eq!(
        value(&store, &client("client-a", "OPENAI_API_KEY")).as_deref(),
        Some("sk-a")
    );
    let found = store
        .locate(&client("client-b", "OPENAI_API_KEY"))
        .unwrap()
        .unwrap();
    assert!(found.inherited(&client("client-b", "OPENAI_API_KEY")));
    // ...but never the workspace key, and never into a user's namespace.
    assert_eq!(
        value(&store, &client("client-b", secrets::FINGERPRINT_KEY)),
        None
    );
    assert_eq!(
        value(&store, &user("client-b", "alice", "OPENAI_API_KEY")),
        None
    );

    // Overrides win for one run and are never written.
    let before = ws.snapshot();
    let o = open(
        &ws,
        &[
            ("SCALEWIZE_SECRET_CLIENT_A__OPENAI_API_KEY", "sk-override"),
            ("SCALEWIZE_SECRET_CLIENT_A__ALICE__TOKEN", "alice-override"),
            ("SCALEWIZE_SECRET_DEFAULT__SHARED_ONLY", "from-env"),
            ("SCALEWIZE_SECRET_CLIENT_B__EMPTY", ""),
        ],
    );
    assert_eq!(
        value(&o, &client("client-a", "OPENAI_API_KEY")).as_deref(),
        Some("sk-override")
    );
    assert_eq!(
        value(&o, &user("client-a", "alice", "TOKEN")).as_deref(),
        Some("alice-override")
    );
    assert_eq!(
        value(&o, &user("client-a", "bob", "TOKEN")).as_deref(),
        Some("bob-t")
    );
    assert_eq!(
        value(&o, &shared("SHARED_ONLY")).as_deref(),
        Some("from-env")
    );
    assert_eq!(
        value(&o, &client("client-c", "SHARED_ONLY")).as_deref(),
        Some("from-env")
    );
    assert_eq!(
        value(&o, &client("client-b", "EMPTY")),
        None,
        "empty overrides are ignored"
    );
    assert_eq!(
        o.locate(&client("client-a", "OPENAI_API_KEY"))
            .unwrap()
            .unwrap()
            .source,
        Source::Override("SCALEWIZE_SECRET_CLIENT_A__OPENAI_API_KEY".into())
    );
    assert!(
        o.names(&SecretScope::Client("client-a".into()))
            .unwrap()
            .contains(&"SHARED_ONLY".to_string())
    );
    assert_eq!(ws.snapshot(), before, "overrides are never written");
    assert_eq!(
        secrets::override_var(&user("client-a", "alice", "TOKEN")),
        "SCALEWIZE_SECRET_CLIENT_A__ALICE__TOKEN"
    );

    // rm removes from the named store only.
    assert!(store.remove(&user("client-a", "alice", "TOKEN")).unwrap());
    assert!(!store.remove(&user("client-a", "alice", "TOKEN")).unwrap());
    assert!(
        !store.remove(&client("client-b", "OPENAI_API_KEY")).unwrap(),
        "inherited, not own"
    );
    assert_eq!(
        value(&store, &client("client-b", "OPENAI_API_KEY")).as_deref(),
        Some("sk-shared")
    );
    assert_eq!(
        value(&open(&ws, &[]), &user("client-a", "alice", "TOKEN")),
        None
    );

    // require names the secret and the command, never a value.
    let e = store
        .require(&client("client-a", "MISSING_ONE"))
        .unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("`MISSING_ONE` is not set"), "{shown}");
    assert!(
        shown.contains("scalewize secret set client-a MISSING_ONE"),
        "{shown}"
    );
    assert!(
        shown.contains("SCALEWIZE_SECRET_CLIENT_A__MISSING_ONE"),
        "{shown}"
    );

    // Refs that would escape the workspace or are not names are refused.
    assert!(store.get(&client("../evil", "X")).is_err());
    assert!(store.get(&client("client-a", "A=B")).is_err());
    assert!(store.get(&user("client-a", "../x", "A")).is_err());
}

#[test]
fn names_need_no_identity_and_values_say_how_to_provide_one() {
    let ws = TempWorkspace::example();
    let mut settings: serde_json::Value = serde_json::from_str(&ws.read("scalewize.json")).unwrap();
    settings.as_object_mut().unwrap().remove("identity_file");
    ws.write("scalewize.json", &settings.to_string());
    let store = open(&ws, &[]);
    let names = store
        .names(&SecretScope::Client("client-b".into()))
        .unwrap();
    assert!(names.contains(&"ERP_API_KEY".to_string()), "{names:?}");
    assert!(
        names.contains(&"KNOWLEDGE_BASE_MCP_TOKEN".to_string()),
        "inherited: {names:?}"
    );
    assert!(!names.contains(&secrets::FINGERPRINT_KEY.to_string()));
    assert!(store.contains(&client("client-b", "ERP_API_KEY")).unwrap());
    let e = store
        .get(&client("client-b", "ERP_API_KEY"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot decrypt `ERP_API_KEY` in client-configs/client-b/secrets.env"),
        "{e}"
    );
    for way in [
        "SCALEWIZE_AGE_KEY",
        "SCALEWIZE_AGE_KEY_FILE",
        "identity_file",
    ] {
        assert!(e.contains(way), "{way}: {e}");
    }
    // With the key in the environment it works.
    let key = ws.read("example-only.age-identity.txt");
    let store = open(&ws, &[("SCALEWIZE_AGE_KEY", &key)]);
    assert!(value(&store, &client("client-b", "ERP_API_KEY")).is_some());
}

#[test]
fn fingerprints_are_stable_keyed_and_change_with_the_value() {
    let ws = TempWorkspace::example();
    let a = open(&ws, &[]);
    let r = client("client-a", "MONGO_URI");
    let v = a.require(&r).unwrap();
    let f1 = a.fingerprint("MONGO_URI", &v).unwrap();
    let f2 = open(&ws, &[]).fingerprint("MONGO_URI", &v).unwrap();
    assert_eq!(f1, f2, "stable across runs");
    assert!(f1.to_string().starts_with("hmac-sha256:"));
    assert_eq!(f1.to_string().len(), "hmac-sha256:".len() + 16);
    // Setting another secret does not change it; changing the value does.
    a.set(&client("client-a", "OTHER"), &Secret::new("x"))
        .unwrap();
    assert_eq!(open(&ws, &[]).fingerprint("MONGO_URI", &v).unwrap(), f1);
    assert_ne!(
        a.fingerprint("MONGO_URI", &Secret::new("mongodb://elsewhere"))
            .unwrap(),
        f1
    );
    // The same value under an override fingerprints the same (platforms compare it).
    let o = open(&ws, &[("SCALEWIZE_SECRET_CLIENT_A__MONGO_URI", v.expose())]);
    assert_eq!(
        o.fingerprint("MONGO_URI", &o.require(&r).unwrap()).unwrap(),
        f1
    );
    // Keyed by the workspace: another key gives another fingerprint.
    a.set(
        &shared(secrets::FINGERPRINT_KEY),
        &secrets::generate::random_hex(32),
    )
    .unwrap();
    assert_ne!(open(&ws, &[]).fingerprint("MONGO_URI", &v).unwrap(), f1);
}

#[test]
fn get_is_safe_from_many_threads() {
    let ws = TempWorkspace::example();
    let store = open(&ws, &[]);
    let w = Workspace::open(ws.path()).unwrap();
    let mut refs = Vec::new();
    for id in ["client-a", "client-b"] {
        let c = w.load_client(id).unwrap();
        refs.extend(scalewize::render::needed(&c));
    }
    assert!(refs.len() > 20);
    let results: Vec<Vec<Option<String>>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| refs.iter().map(|r| value(&store, r)).collect::<Vec<_>>()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.iter().all(|r| r == &results[0]));
    assert!(
        results[0].iter().all(Option::is_some),
        "the example stores are complete"
    );
    // Every value handed out is known to the redactor.
    let red = store.redactor();
    let mongo = store.require(&client("client-b", "MONGO_URI")).unwrap();
    assert_eq!(
        red.redact(&format!("connect {} now", mongo.expose())),
        "connect <redacted:MONGO_URI> now"
    );
}

#[test]
fn needed_covers_librechat_oauth_tokens_manifests_and_users() {
    let ws = TempWorkspace::example();
    ws.write(
        "client-configs/client-c/mcp-servers.json",
        r#"{"client_id": "client-c", "client_name": "Client C", "users": [{"id": "alice"}, {"id": "bob"}],
            "mcp_servers": [{"name": "ServiceDesk", "type": "client-specific"}, {"name": "Knowledge Base", "enabled": true}]}"#,
    );
    let w = Workspace::open(ws.path()).unwrap();
    let has = |refs: &[SecretRef], r: &SecretRef| refs.contains(r);

    let a = scalewize::render::needed(&w.load_client("client-a").unwrap());
    for n in [
        "MONGO_URI",
        "CREDS_KEY",
        "CREDS_IV",
        "JWT_SECRET",
        "JWT_REFRESH_SECRET",
    ] {
        assert!(has(&a, &client("client-a", n)), "{n}");
    }
    assert!(has(
        &a,
        &client("client-a", "GOOGLE_DRIVE_MCP_OAUTH_CLIENT_ID")
    ));
    assert!(has(
        &a,
        &client("client-a", "SLACK_MCP_OAUTH_CLIENT_SECRET")
    ));
    assert!(has(&a, &client("client-a", "CUSTOM_CRM_MCP_TOKEN")));
    assert!(has(&a, &shared("KNOWLEDGE_BASE_MCP_TOKEN")));

    let b = scalewize::render::needed(&w.load_client("client-b").unwrap());
    assert!(has(&b, &client("client-b", "ERP_API_KEY")));
    assert!(has(&b, &client("client-b", "HR_API_KEY")));
    assert!(
        !has(&b, &shared("KNOWLEDGE_BASE_MCP_TOKEN")),
        "disabled for client-b"
    );
    assert!(
        !b.iter().any(|r| r.name.starts_with("SLACK")),
        "Slack disabled for client-b"
    );

    let c = scalewize::render::needed(&w.load_client("client-c").unwrap());
    for u in ["alice", "bob"] {
        for n in [
            "SERVICEDESK_MCP_TOKEN",
            "SDP_CLIENT_ID",
            "SDP_CLIENT_SECRET",
            "SDP_REFRESH_TOKEN",
        ] {
            assert!(has(&c, &user("client-c", u, n)), "{u} {n}");
        }
    }
    assert!(!has(&c, &client("client-c", "SERVICEDESK_MCP_TOKEN")));
    let unique: std::collections::BTreeSet<_> = c.iter().collect();
    assert_eq!(unique.len(), c.len(), "each need once");

    // Generation covers the per-user tokens and the shared token, not the manifest's values.
    let gen_c: Vec<SecretRef> = secrets::generate::generatable(&w.load_client("client-c").unwrap())
        .into_iter()
        .map(|g| g.r)
        .collect();
    assert!(has(
        &gen_c,
        &user("client-c", "bob", "SERVICEDESK_MCP_TOKEN")
    ));
    assert!(has(&gen_c, &shared("KNOWLEDGE_BASE_MCP_TOKEN")));
    assert!(!gen_c.iter().any(|r| r.name.starts_with("SDP_")));
}
