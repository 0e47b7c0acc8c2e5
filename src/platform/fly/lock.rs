//! The Fly platform lock: the app `<prefix>-scalewize-lock`. App names are one global namespace,
//! so `POST /v1/apps` either creates it (this run holds the lock) or answers 422 `name_taken`
//! (someone holds it) — one atomic call (notes §2). Deleting the app releases the lock.
//!
//! Fly keeps no readable free-text field on an app, and secret values are write-only (notes §4),
//! but secret *names* are listed with their `created_at`. So the holder's note is one secret
//! whose name carries it: `SCALEWIZE_LOCK_<hex of the note's JSON>` (hex digits are valid in a
//! variable name). The app is created with a `network` named `scalewize-lock-<host tag>-<pid>`,
//! fixed at create and readable back: after a create whose answer was lost, `name_taken` plus
//! our own network means "ours"; a network naming a process of this machine that is gone means
//! a stale lock (even one whose holder died before writing its note), taken over at once.
//! The app has no machines, so it costs nothing and no observe mistakes it for a service.

use serde_json::{Value, json};

use super::FlyPlatform;
use super::client::{Request, unexpected};
use super::is_name_taken;
use super::limits::Action;
use crate::error::Result;
use crate::net::backoff::backoff;
use crate::net::retry;
use crate::platform::lock::{LockNote, LockState, Taken, host_tag};

/// The prefix of the secret that names the holder.
const NOTE_SECRET: &str = "SCALEWIZE_LOCK_";

impl FlyPlatform {
    /// The lock app's name.
    pub(super) fn lock_app(&self) -> String {
        format!("{}-scalewize-lock", self.prefix)
    }

    fn lock_resource(&self) -> String {
        format!("Fly app `{}`", self.lock_app())
    }

    pub(super) async fn take_lock(&self, note: &LockNote) -> Result<Taken> {
        let app = self.lock_app();
        let network = format!("scalewize-lock-{}-{}", host_tag(note.host()), note.pid);
        let body = json!({"name": app, "org_slug": self.org(), "network": network});
        // At most one stale lock is taken over per attempt.
        for _ in 0..2 {
            let found = retry::converge(
                || async {
                    let req =
                        Request::post(Action::CreateApp, &app, "/v1/apps".into(), body.clone())
                            .query("wait", "true");
                    let r = self.client.call(&req).await?;
                    if r.ok() {
                        Ok(None)
                    } else if is_name_taken(&r) {
                        Ok(Some(self.lock_network().await?))
                    } else {
                        Err(unexpected(&format!("creating the lock app {app}"), &r))
                    }
                },
                retry::no_look,
            )
            .await?;
            match found {
                // Created, or created by us before an answer was lost.
                None => return self.write_note(note).await,
                Some(Some(net)) if net == network => return self.write_note(note).await,
                Some(Some(net)) if stale_network(&net) => {
                    self.free_lock().await?;
                }
                Some(_) => match self.read_lock().await? {
                    // The note names a gone process of this machine (a platform that does
                    // not return the network).
                    LockState::Held { note: Some(n), .. } if n.is_stale() => {
                        self.free_lock().await?;
                    }
                    state => return Ok(Taken::Theirs(state)),
                },
            }
        }
        Ok(Taken::Theirs(self.read_lock().await?))
    }

    /// The holder's note, as the name of a secret of the lock app.
    async fn write_note(&self, note: &LockNote) -> Result<Taken> {
        let app = self.lock_app();
        let hexed = hex::encode_upper(serde_json::to_vec(note).unwrap_or_default());
        let values = json!({"values": {format!("{NOTE_SECRET}{hexed}"): "held"}});
        let req = Request::post(
            Action::SetSecrets,
            &app,
            format!("/v1/apps/{app}/secrets"),
            values,
        );
        // Setting the same secret again is harmless: an unknown outcome is simply repeated.
        let mut attempt = 0;
        let r = loop {
            attempt += 1;
            match self.call_in_app(&req).await {
                Err(e) if e.is_transient() && attempt < retry::WRITE_TRIES => {
                    tokio::time::sleep(backoff(attempt, None)).await;
                }
                Err(e) => {
                    let _ = self.free_lock().await;
                    return Err(e);
                }
                Ok(r) => break r,
            }
        };
        if !r.ok() {
            // Holding a lock nobody can see the holder of helps no one: give it back.
            let _ = self.free_lock().await;
            return Err(unexpected(
                &format!("recording the holder of the lock app {app}"),
                &r,
            ));
        }
        Ok(Taken::Mine)
    }

    /// The lock app's network, or None when the app is missing.
    async fn lock_network(&self) -> Result<Option<String>> {
        let app = self.lock_app();
        let r = self
            .client
            .call(&Request::get(
                Action::GetApp,
                &app,
                format!("/v1/apps/{app}"),
            ))
            .await?;
        if r.status == 404 {
            return Ok(None);
        }
        if !r.ok() {
            return Err(unexpected(&format!("reading the lock app {app}"), &r));
        }
        let v = r.value();
        let net = v.get("network");
        Ok(net
            .and_then(Value::as_str)
            .or_else(|| net.and_then(|n| n.get("name")).and_then(Value::as_str))
            .map(str::to_string)
            .or(Some(String::new())))
    }

    pub(super) async fn read_lock(&self) -> Result<LockState> {
        let app = self.lock_app();
        let r = self
            .client
            .call(&Request::get(
                Action::ListSecrets,
                &app,
                format!("/v1/apps/{app}/secrets"),
            ))
            .await?;
        if r.status == 404 {
            return Ok(LockState::Free);
        }
        if !r.ok() {
            return Err(unexpected(&format!("reading the lock app {app}"), &r));
        }
        let note = r
            .value()
            .get("secrets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("name").and_then(Value::as_str))
            .filter_map(|n| n.strip_prefix(NOTE_SECRET))
            .find_map(|h| serde_json::from_slice(&hex::decode(h).ok()?).ok());
        Ok(LockState::Held {
            resource: self.lock_resource(),
            note,
        })
    }

    /// `DELETE /v1/apps/{lock}?force=true`; whether it was there. Deleting is idempotent, so
    /// an unknown outcome is simply tried again (a lock left behind blocks every later run).
    pub(super) async fn free_lock(&self) -> Result<bool> {
        let app = self.lock_app();
        let req = Request::delete(Action::DeleteApp, &app, format!("/v1/apps/{app}"))
            .query("force", "true");
        let mut attempt = 0;
        let mut deleted = false;
        loop {
            attempt += 1;
            let r = match self.client.call(&req).await {
                Err(e) if e.is_transient() && attempt < retry::WRITE_TRIES => {
                    tokio::time::sleep(backoff(attempt, None)).await;
                    continue;
                }
                r => r?,
            };
            if r.status == 404 {
                return Ok(deleted);
            }
            if !r.ok() {
                return Err(unexpected(&format!("deleting the lock app {app}"), &r));
            }
            deleted = true;
            // Gone once a read says so (an earlier delete's answer may have been the one lost).
            if self.lock_network().await?.is_none() {
                return Ok(true);
            }
        }
    }
}

/// A lock network naming a process of this machine that is gone.
fn stale_network(net: &str) -> bool {
    let Some(rest) = net.strip_prefix("scalewize-lock-") else {
        return false;
    };
    let Some((tag, pid)) = rest.rsplit_once('-') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    tag == host_tag(&crate::lock::hostname()) && !crate::lock::process_alive(pid)
}
