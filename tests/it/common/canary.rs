//! Canary checks: plant unique values, run commands, and look for the values in every output
//! and every file. Reused by every test that proves secrets do not leak (later: deploy, status,
//! logs): add the new commands' runs to the outputs given to `assert_no_canaries`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use base64::Engine;
use scalewize::secrets::SecretStore;
use scalewize::secrets::{SecretRef, SecretScope};
use scalewize::workspace::{DEFAULT_CLIENT, Workspace};

use super::Run;

/// A unique value that cannot occur by accident: `CANARY-<label>-<32 hex digits>`.
pub fn canary(label: &str) -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    format!("CANARY-{label}-{}", hex::encode(bytes))
}

/// A value to look for, and what it is (shown in failures instead of the value).
#[derive(Debug, Clone)]
pub struct Canary {
    pub label: String,
    pub value: String,
}

impl Canary {
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Canary {
            label: label.into(),
            value: value.into(),
        }
    }

    /// The forms a leak may take: the value itself, and its base64 (e.g. in a Basic auth
    /// header or a base64-encoded variable).
    fn needles(&self) -> Vec<(&'static str, String)> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.value);
        vec![
            ("plain", self.value.clone()),
            ("base64", b64.trim_end_matches('=').to_string()),
        ]
    }
}

/// One command's output, labelled with how it was run.
pub struct Output<'a> {
    pub label: String,
    pub run: &'a Run,
}

/// Every file under `dir` (`.git` included: a leak into git objects is a leak), recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Where any canary appears: in stdout or stderr of any output, or in any file under `dir`
/// (`exclude`: files that hold a canary on purpose, e.g. a hand-broken store).
pub fn find_leaks(
    canaries: &[Canary],
    outputs: &[Output],
    dir: Option<&Path>,
    exclude: &[PathBuf],
) -> Vec<String> {
    let needles: Vec<(&Canary, &'static str, String)> = canaries
        .iter()
        .flat_map(|c| c.needles().into_iter().map(move |(f, n)| (c, f, n)))
        .filter(|(_, _, n)| !n.is_empty())
        .collect();
    let mut leaks = Vec::new();
    let mut check = |text: &str, place: &dyn Fn() -> String| {
        for (c, form, needle) in &needles {
            if text.contains(needle.as_str()) {
                leaks.push(format!("canary `{}` ({form}) in {}", c.label, place()));
            }
        }
    };
    for o in outputs {
        check(&o.run.stdout, &|| format!("stdout of `{}`", o.label));
        check(&o.run.stderr, &|| format!("stderr of `{}`", o.label));
    }
    if let Some(dir) = dir {
        for f in files_under(dir) {
            if exclude.contains(&f) {
                continue;
            }
            if let Ok(bytes) = std::fs::read(&f) {
                let text = String::from_utf8_lossy(&bytes);
                let rel = f.strip_prefix(dir).unwrap_or(&f).display().to_string();
                check(&text, &|| format!("file {rel}"));
            }
        }
    }
    leaks
}

/// Fail (naming each leak by canary label and place, never printing the value) when any canary
/// appears in an output or a file.
pub fn assert_no_canaries(canaries: &[Canary], outputs: &[Output], dir: Option<&Path>) {
    assert_no_canaries_except(canaries, outputs, dir, &[]);
}

pub fn assert_no_canaries_except(
    canaries: &[Canary],
    outputs: &[Output],
    dir: Option<&Path>,
    exclude: &[PathBuf],
) {
    assert!(
        !canaries.is_empty(),
        "no canaries planted: the check would pass vacuously"
    );
    let leaks = find_leaks(canaries, outputs, dir, exclude);
    assert!(
        leaks.is_empty(),
        "secret values leaked ({} place(s)):\n  {}",
        leaks.len(),
        leaks.join("\n  ")
    );
}

/// Every value every store holds, decrypted with the example identity, labelled by where it is
/// (generated credentials and tokens are secrets too).
pub fn store_values(dir: &Path) -> Vec<Canary> {
    let ws = Workspace::open(dir).unwrap();
    let env = vec![(
        OsString::from("SCALEWIZE_AGE_KEY_FILE"),
        dir.join("example-only.age-identity.txt").into_os_string(),
    )];
    let store = SecretStore::open_with_env(&ws, env).unwrap();
    let mut ids = vec![DEFAULT_CLIENT.to_string()];
    ids.extend(ws.client_ids().unwrap());
    let mut out = Vec::new();
    for id in ids {
        let keys: Vec<_> = store.file(&id).unwrap().keys().cloned().collect();
        for k in keys {
            let scope = match (&k.user, id.as_str()) {
                (_, DEFAULT_CLIENT) => SecretScope::Shared,
                (Some(u), _) => SecretScope::User {
                    client: id.clone(),
                    user: u.clone(),
                },
                (None, _) => SecretScope::Client(id.clone()),
            };
            let r = SecretRef {
                name: k.name.clone(),
                scope,
            };
            let v = store.get_stored(&r).unwrap().unwrap();
            out.push(Canary::new(
                format!("stored {id}:{k}"),
                v.expose().to_string(),
            ));
        }
    }
    out
}
