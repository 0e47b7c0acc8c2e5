//! LibreChat as a local service: deploy writes its compose project and, when Docker answers,
//! starts it and waits for `/health`; observe asks `docker compose ps` and `/health`; delete
//! runs `docker compose down -v`. Without Docker it is `config-only`, never `running`.

use std::path::Path;
use std::time::Duration;

use super::LocalPlatform;
use super::docker::Project;
use super::librechat::{self, COMPOSE_FILE};
use super::state::{Record, read_json, write_json};
use crate::error::{Error, Result};
use crate::model::{ServiceKind, State};
use crate::platform::{Applied, ResolvedSpec, Step};

impl LocalPlatform {
    fn project_of(&self, record: &Record) -> Option<Project> {
        let name = record.compose_project.as_ref()?;
        let file = record.files.iter().find(|f| f.ends_with(COMPOSE_FILE))?;
        Some(Project::new(name, file))
    }

    pub(super) async fn start_librechat(
        &self,
        step: &Step<'_>,
        spec: &ResolvedSpec,
    ) -> Result<Applied> {
        let key = step.key;
        let record_path = self.dirs.record(key);
        let previous = read_json::<Record>(&record_path);
        let port = librechat::choose_port(&key.owner, previous.as_ref().map(|r| r.port))?;
        let dir = self
            .workspace
            .join(crate::workspace::STATE_DIR)
            .join(&key.owner);
        // These files hold secret values: never through a link out of the workspace.
        self.check_inside(&dir)?;
        let name = librechat::project_name(&self.prefix, &key.owner);
        let written = librechat::write_project(&dir, spec, &name, port)?;
        for f in &written.files {
            (step.progress)(&format!(
                "wrote {}",
                f.strip_prefix(&self.workspace).unwrap_or(f).display()
            ));
        }
        // The fields as applied: the URL on the port actually chosen.
        let planned_url = format!("http://localhost:{}", librechat::preferred_port(&key.owner));
        let mut fields = spec.fields.clone();
        for v in fields.values_mut() {
            if *v == planned_url {
                *v = written.url.clone();
            }
        }
        let docker = self.docker();
        let record = Record {
            key: key.clone(),
            kind: ServiceKind::LibreChat,
            url: written.url.clone(),
            port,
            health_path: spec.spec.health_path.clone(),
            program: Default::default(),
            args: Vec::new(),
            cwd: Default::default(),
            log: Default::default(),
            files: written.files.clone(),
            compose_project: docker.then(|| name.clone()),
            fields,
        };
        write_json(&record_path, &record)?;
        if !docker {
            (step.progress)(&format!(
                "config-only: Docker does not answer; start it with `{}`",
                written.project.up_command(&self.workspace)
            ));
            return Ok(Applied { url: None });
        }
        (step.progress)(&format!("docker compose up ({name}), port {port}"));
        let project = written.project.clone();
        tokio::task::block_in_place(|| project.up())?;
        let health = format!("http://127.0.0.1:{port}{}", spec.spec.health_path);
        loop {
            if self.healthy(&health).await {
                return Ok(Applied {
                    url: Some(written.url),
                });
            }
            if std::time::Instant::now() > step.deadline {
                return Err(Error::new(format!(
                    "{key} did not become healthy at {health} in time"
                ))
                .hint(format!(
                    "see `scalewize logs {} librechat` (docker compose logs); --wait-timeout gives it longer",
                    key.owner
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// State and detail of a recorded LibreChat, and whether it has a URL to show.
    pub(super) async fn observe_librechat(&self, record: &Record) -> (State, Option<String>, bool) {
        if !record.files.iter().all(|f| f.is_file()) {
            return (
                State::Down,
                Some("its compose project is missing".into()),
                false,
            );
        }
        let Some(project) = self.project_of(record) else {
            let file = record.files.iter().find(|f| f.ends_with(COMPOSE_FILE));
            let cmd = file.map(|f| {
                Project::new(&librechat::project_name(&self.prefix, &record.key.owner), f)
                    .up_command(&self.workspace)
            });
            if self.docker() {
                // Docker answers now: a deploy starts it.
                return (
                    State::Down,
                    Some("Docker answers now; `scalewize deploy` starts it".into()),
                    false,
                );
            }
            return (
                State::ConfigOnly,
                Some(format!(
                    "Docker does not answer; start it with `{}`",
                    cmd.unwrap_or_default()
                )),
                false,
            );
        };
        if !self.docker() {
            return (State::Down, Some("Docker does not answer".into()), false);
        }
        let ps = tokio::task::block_in_place(|| project.ps());
        let running = match ps {
            Ok(cs) => cs
                .iter()
                .any(|c| c.service == super::compose::LIBRECHAT_SERVICE && c.state == "running"),
            Err(e) => return (State::Down, Some(e.message), false),
        };
        if !running {
            return (
                State::Down,
                Some("its container is not running".into()),
                false,
            );
        }
        let health = format!("http://127.0.0.1:{}{}", record.port, record.health_path);
        if self.healthy(&health).await {
            (State::Running, None, true)
        } else {
            (
                State::Starting,
                Some("/health not answering yet".into()),
                true,
            )
        }
    }

    /// Stop and remove its containers (and database volume), then its files.
    pub(super) fn remove_librechat(&self, record_path: &Path, record: &Record) -> Result<()> {
        if let Some(project) = self.project_of(record) {
            if !self.docker() {
                return Err(Error::new(format!(
                    "cannot stop {}'s containers: Docker does not answer",
                    record.key
                ))
                .hint("start Docker, then run destroy again"));
            }
            project.down()?;
        }
        for f in &record.files {
            let _ = std::fs::remove_file(f);
        }
        // Its folder too, when nothing else was put there.
        if let Some(dir) = record.files.first().and_then(|f| f.parent()) {
            let _ = std::fs::remove_dir(dir);
        }
        let _ = std::fs::remove_file(record_path);
        Ok(())
    }

    pub(super) fn librechat_logs(&self, record: &Record, lines: usize) -> Result<Vec<String>> {
        match self.project_of(record) {
            Some(p) if self.docker() => p.logs(super::compose::LIBRECHAT_SERVICE, lines),
            Some(_) => Err(Error::new("Docker does not answer: no LibreChat logs")),
            None => Err(Error::new(format!(
                "{} is config-only: Docker did not run it, so there are no logs",
                record.key
            ))),
        }
    }
}
