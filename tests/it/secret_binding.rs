//! Each stored value is bound to its name, owner and user: a line swapped, moved to another
//! name or copied into another client's store fails with the file, the line and the fix, and
//! nothing is written. Old (unbound) stores keep working and `secret reencrypt` upgrades them;
//! a store holding a value the identity cannot read is refused by `secret set`.

use std::io::Write;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::common::TempWorkspace;
use crate::common::local::{Cleanup, pids, run_with};

const STORE_A: &str = "client-configs/client-a/secrets.env";
const STORE_B: &str = "client-configs/client-b/secrets.env";

/// The 1-based line of `name` and its `age:…` value.
fn line_of(text: &str, name: &str) -> (usize, String) {
    text.lines()
        .enumerate()
        .find_map(|(i, l)| {
            l.strip_prefix(&format!("{name}="))
                .map(|v| (i + 1, v.to_string()))
        })
        .unwrap_or_else(|| panic!("{name} not in store"))
}

fn replace_value(text: &str, name: &str, value: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with(&format!("{name}=")) {
                format!("{name}={value}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A value encrypted the way scalewize did before binding: the bare value, to `recipient`.
fn unbound_ciphertext(recipient: &str, value: &str) -> String {
    let r = age::x25519::Recipient::from_str(recipient).unwrap();
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(value.as_bytes()).unwrap();
    w.finish().unwrap();
    format!("age:{}", STANDARD.encode(out))
}

fn workspace_recipient(ws: &TempWorkspace) -> String {
    let v: serde_json::Value = serde_json::from_str(&ws.read("scalewize.json")).unwrap();
    v["recipients"][0].as_str().unwrap().to_string()
}

fn fingerprint_of(ws: &TempWorkspace, client: &str, name: &str) -> String {
    let run = ws.run(&["secret", "list", client, "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    v["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {run:?}"))["fingerprint"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn swapping_two_ciphertexts_fails_deploy_naming_the_file_the_line_and_the_fix() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let text = ws.read(STORE_A);
    let (mongo_line, mongo) = line_of(&text, "MONGO_URI");
    let (_, jwt) = line_of(&text, "JWT_SECRET");
    let swapped = replace_value(
        &replace_value(&text, "MONGO_URI", &jwt),
        "JWT_SECRET",
        &mongo,
    );
    ws.write(STORE_A, &swapped);
    let before = ws.snapshot();
    let run = run_with(&ws, &["deploy", "client-a", "--yes"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "cannot decrypt `MONGO_URI` in {STORE_A}:{mongo_line}"
        )),
        "file and line: {run:?}"
    );
    assert!(
        run.stderr
            .contains("was encrypted for `JWT_SECRET`, not for `MONGO_URI`"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(&format!("git checkout -- {STORE_A}"))
            && run
                .stderr
                .contains("scalewize secret set client-a MONGO_URI"),
        "the fix: {run:?}"
    );
    assert_eq!(ws.snapshot(), before, "nothing written");
    assert!(pids(&ws).is_empty(), "nothing started");
}

#[test]
fn a_line_copied_into_another_clients_store_names_the_store_it_belongs_to() {
    let ws = TempWorkspace::example();
    let (_, mongo_a) = line_of(&ws.read(STORE_A), "MONGO_URI");
    let b = ws.read(STORE_B);
    let (line, _) = line_of(&b, "MONGO_URI");
    ws.write(STORE_B, &replace_value(&b, "MONGO_URI", &mongo_a));
    let before = ws.snapshot();
    let run = ws.run(&["secret", "list", "client-b"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(&format!("{STORE_B}:{line}"))
            && run
                .stderr
                .contains("encrypted for `MONGO_URI` of store `client-a`"),
        "{run:?}"
    );
    // Writing another secret into that store is refused too: the store is not all readable.
    let set = ws.run_stdin(&["secret", "set", "client-b", "OTHER"], &[], b"v");
    assert_eq!(set.code, 1, "{set:?}");
    assert!(set.stderr.contains("refusing to write to"), "{set:?}");
    assert!(
        set.stderr.contains(&format!("`MONGO_URI` (line {line})")),
        "{set:?}"
    );
    assert_eq!(ws.snapshot(), before, "nothing written");
    // Setting the damaged value itself is the fix, and is allowed.
    let fix = ws.run_stdin(
        &["secret", "set", "client-b", "MONGO_URI"],
        &[],
        b"mongodb://b",
    );
    assert_eq!(fix.code, 0, "{fix:?}");
    assert_eq!(ws.run(&["secret", "list", "client-b"]).code, 0);
}

#[test]
fn an_unbound_store_keeps_working_and_reencrypt_binds_it_without_changing_values() {
    let ws = TempWorkspace::example();
    let recipient = workspace_recipient(&ws);
    let text = ws.read(STORE_A);
    ws.write(
        STORE_A,
        &replace_value(
            &text,
            "MONGO_URI",
            &unbound_ciphertext(&recipient, "mongodb://old"),
        ),
    );
    let before = fingerprint_of(&ws, "client-a", "MONGO_URI");
    let listed = ws.run(&["secret", "list", "client-a"]);
    assert_eq!(listed.code, 0, "old values still decrypt: {listed:?}");
    assert!(
        listed
            .stderr
            .contains("written before secrets were bound to their names")
            && listed
                .stderr
                .contains("scalewize secret reencrypt client-a"),
        "{listed:?}"
    );
    let up = ws.run(&["secret", "reencrypt", "client-a"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(
        !up.stderr.contains("written before"),
        "no warning while upgrading: {up:?}"
    );
    let after = ws.run(&["secret", "list", "client-a"]);
    assert_eq!(after.code, 0, "{after:?}");
    assert!(!after.stderr.contains("written before"), "{after:?}");
    assert_eq!(
        fingerprint_of(&ws, "client-a", "MONGO_URI"),
        before,
        "same value"
    );
    // Now bound: moving it is caught.
    let t = ws.read(STORE_A);
    let (_, mongo) = line_of(&t, "MONGO_URI");
    ws.write(STORE_A, &replace_value(&t, "CREDS_KEY", &mongo));
    assert_eq!(ws.run(&["secret", "list", "client-a"]).code, 1);
}

#[test]
fn secret_set_refuses_a_store_holding_a_value_for_another_key_and_says_reencrypt() {
    let ws = TempWorkspace::example();
    let stranger = age::x25519::Identity::generate().to_public().to_string();
    let text = ws.read(STORE_A);
    let (line, _) = line_of(&text, "MONGO_URI");
    ws.write(
        STORE_A,
        &replace_value(&text, "MONGO_URI", &unbound_ciphertext(&stranger, "x")),
    );
    let before = ws.snapshot();
    let set = ws.run_stdin(&["secret", "set", "client-a", "NEW_ONE"], &[], b"value");
    assert_eq!(set.code, 1, "{set:?}");
    assert!(
        set.stderr.contains(&format!(
            "refusing to write to {STORE_A}: 1 of its values cannot be read with this identity: `MONGO_URI` (line {line})"
        )),
        "{set:?}"
    );
    assert!(set.stderr.contains("not one of the recipients"), "{set:?}");
    assert!(
        set.stderr.contains("scalewize secret reencrypt client-a"),
        "the fix: {set:?}"
    );
    assert_eq!(ws.snapshot(), before, "nothing written");
}

#[test]
fn a_recipient_added_without_reencrypting_fails_validate_until_reencrypt() {
    let ws = TempWorkspace::example();
    let newcomer = age::x25519::Identity::generate().to_public().to_string();
    let mut settings: serde_json::Value = serde_json::from_str(&ws.read("scalewize.json")).unwrap();
    settings["recipients"]
        .as_array_mut()
        .unwrap()
        .push(newcomer.into());
    ws.write("scalewize.json", &settings.to_string());
    let before = ws.snapshot();
    let v = ws.run(&["validate", "client-a"]);
    assert_eq!(v.code, 1, "{v:?}");
    let (first_line, _) = ws
        .read(STORE_A)
        .lines()
        .enumerate()
        .find(|(_, l)| !l.starts_with('#'))
        .unwrap();
    assert!(
        v.stderr
            .contains(&format!("{STORE_A}:{}:1:", first_line + 1))
            && v.stderr
                .contains("are encrypted to 1 recipient(s) but scalewize.json lists 2")
            && v.stderr.contains("scalewize secret reencrypt client-a"),
        "{v:?}"
    );
    assert_eq!(ws.snapshot(), before, "validate writes nothing");
    assert_eq!(ws.run(&["secret", "reencrypt"]).code, 0);
    let ok = ws.run(&["validate", "client-a"]);
    assert_eq!(ok.code, 0, "{ok:?}");
}
