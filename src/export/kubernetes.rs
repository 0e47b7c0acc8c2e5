//! Desired services → Kubernetes manifests: a namespace per client (`<prefix>-<client>`) and one
//! for shared servers (`<prefix>-shared`); a Deployment + Service per server and per-user instance
//! (probes on the health path, resources from the size, non-root, read-only root filesystem); the
//! client's `librechat.yaml` in a ConfigMap mounted into LibreChat's Deployment; NetworkPolicies
//! so a client's MCP pods accept traffic only from that client's LibreChat and shared servers only
//! from LibreChat pods of client namespaces. Secrets are `secretKeyRef`s to one Secret per secret
//! scope (`scalewize-client`, `scalewize-user-<user>`, `scalewize-shared`), which the export fills
//! only with `--with-secrets`, in a separate 0600 `secrets.yaml` outside the kustomization.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::k8s_objects::*;
use super::k8s_policies::*;
use super::{ExportFile, Input, comment_block, internal_url, port_var};
use crate::error::{Error, Result};
use crate::model::{LIBRECHAT_CONFIG_PATH, ServiceKey, ServiceSpec, SpecValue, content_digest};
use crate::render::allowed_addresses::with_allowed_addresses;
use crate::secrets::{SecretRef, SecretScope};
use crate::yaml;

const CONFIG_MAP: &str = "librechat-config";
const CONFIG_KEY: &str = "librechat.yaml";
/// The UID MCP servers run as (no image needs root to serve HTTP on a high port).
const SERVER_UID: u32 = 65532;
/// LibreChat's image runs as its `node` user.
const LIBRECHAT_UID: u32 = 1000;
/// What `DOMAIN_CLIENT`/`DOMAIN_SERVER` say when the client sets no domain: `kubectl port-forward`.
const LIBRECHAT_LOCAL_URL: &str = "http://localhost:3080";
pub const SECRETS_FILE: &str = "secrets.yaml";

/// Every manifest of the selected clients (and of the shared servers they use).
pub fn kubernetes_files(input: &Input) -> Result<Vec<ExportFile>> {
    input.check()?;
    let shared_ns = format!("{}-shared", input.prefix);
    let mut shared: BTreeMap<&ServiceKey, &ServiceSpec> = BTreeMap::new();
    for c in input.clients {
        shared.extend(input.shared_servers(c).into_iter().map(|s| (&s.key, s)));
    }
    let mut out = Vec::new();
    let mut dirs = Vec::new();
    // (namespace, Secret name) → key → where its value is.
    let mut secrets: BTreeMap<(String, String), BTreeMap<String, SecretRef>> = BTreeMap::new();
    if !shared.is_empty() {
        let mut ns = Namespace::new(input, "shared", &shared_ns, shared_ns_labels());
        for spec in shared.values() {
            ns.server(spec, &|_| unreachable_url(spec), &mut secrets)?;
        }
        ns.policies(shared_policies());
        out.extend(ns.files()?);
        dirs.push("shared".to_string());
    }
    for client in input.clients {
        let ns_name = format!("{}-{client}", input.prefix);
        let mut ns = Namespace::new(input, client, &ns_name, client_ns_labels(client));
        let own = input.own_servers(client);
        for spec in &own {
            ns.server(spec, &|k| unreachable_url_of(k), &mut secrets)?;
        }
        let lc = input.librechat(client)?;
        let url_of = |key: &ServiceKey| -> Result<(String, Option<String>)> {
            if let Some(s) = own.iter().find(|s| &s.key == key) {
                let host = key.name_in_project();
                return Ok((internal_url(&host, s), Some(format!("{host}:{}", s.port))));
            }
            if let Some(s) = shared.get(key) {
                let host = format!("{}.{shared_ns}.svc", key.name_in_project());
                return Ok((internal_url(&host, s), Some(format!("{host}:{}", s.port))));
            }
            match input.shared_urls.get(&key.service) {
                Some(u) if key.is_shared() => Ok((u.clone(), None)),
                _ => Err(Error::new(format!(
                    "{client}: LibreChat needs the URL of {key}, which is not part of the export"
                ))),
            }
        };
        ns.librechat(lc, &url_of, &mut secrets)?;
        ns.policies(client_policies(lc.port));
        out.extend(ns.files()?);
        dirs.push(client.clone());
    }
    out.push(ExportFile::public(
        "kustomization.yaml",
        documents(
            &input.header("every namespace below (kubectl apply -k .)"),
            &[to_yaml(&Kustomization {
                api_version: "kustomize.config.k8s.io/v1beta1",
                kind: "Kustomization",
                resources: dirs,
            })?],
        ),
    ));
    if input.secrets.is_some() {
        out.push(secrets_file(input, &secrets)?);
    }
    Ok(out)
}

fn unreachable_url(spec: &ServiceSpec) -> Result<(String, Option<String>)> {
    Err(Error::new(format!(
        "{}: a shared server cannot depend on another service's URL",
        spec.key
    )))
}

fn unreachable_url_of(key: &ServiceKey) -> Result<(String, Option<String>)> {
    Err(Error::new(format!(
        "an MCP server cannot depend on the URL of {key} in this export"
    )))
}

/// The Secret that holds a scope's values in a namespace.
pub fn secret_name(scope: &SecretScope) -> String {
    match scope {
        SecretScope::Shared => "scalewize-shared".into(),
        SecretScope::Client(_) => "scalewize-client".into(),
        SecretScope::User { user, .. } => format!("scalewize-user-{user}"),
    }
}

fn to_yaml<T: Serialize>(v: &T) -> Result<String> {
    yaml::to_string_of(v).map_err(|e| Error::new(format!("cannot write a manifest: {e}")))
}

/// Header comments, then the documents separated by `---`.
fn documents(header: &[String], docs: &[String]) -> String {
    let mut out = comment_block(header);
    for d in docs {
        out.push_str("---\n");
        out.push_str(d);
    }
    out
}

fn probe(path: &str, initial: u32, period: u32, failures: u32) -> Probe {
    Probe {
        http_get: HttpGet {
            path: path.to_string(),
            port: "http",
        },
        initial_delay_seconds: initial,
        period_seconds: period,
        timeout_seconds: 5,
        failure_threshold: failures,
    }
}

/// One namespace's folder: its objects, one file each kind of thing.
struct Namespace<'a> {
    input: &'a Input<'a>,
    dir: PathBuf,
    name: String,
    labels: Labels,
    /// file name → documents
    files: BTreeMap<String, Vec<String>>,
    policies: Vec<(String, NetworkPolicySpec)>,
}

type UrlOf<'f> = dyn Fn(&ServiceKey) -> Result<(String, Option<String>)> + 'f;

impl<'a> Namespace<'a> {
    fn new(input: &'a Input<'a>, dir: &str, name: &str, labels: Labels) -> Self {
        Namespace {
            input,
            dir: PathBuf::from(dir),
            name: name.to_string(),
            labels,
            files: BTreeMap::new(),
            policies: Vec::new(),
        }
    }

    fn meta(&self, name: &str, labels: Labels) -> Meta {
        Meta {
            name: name.to_string(),
            namespace: Some(self.name.clone()),
            labels,
        }
    }

    /// The container's environment: values, URLs, and `secretKeyRef`s (remembered in `secrets`).
    fn env(
        &self,
        spec: &ServiceSpec,
        url_of: &UrlOf,
        own_url: &str,
        secrets: &mut BTreeMap<(String, String), BTreeMap<String, SecretRef>>,
    ) -> Result<(Vec<EnvVar>, Vec<String>)> {
        let mut env = Vec::new();
        let mut addresses = Vec::new();
        let plain = |name: &str, value: String| EnvVar {
            name: name.to_string(),
            value: Some(value),
            value_from: None,
        };
        if let Some((k, v)) = port_var(spec) {
            env.push(plain(&k, v));
        }
        for (name, value) in &spec.env {
            env.push(match value {
                SpecValue::Plain { value } => plain(name, value.clone()),
                SpecValue::OwnUrl => plain(name, own_url.to_string()),
                SpecValue::UrlOf { service } => {
                    let (url, address) = url_of(service)?;
                    addresses.extend(address);
                    plain(name, url)
                }
                SpecValue::Secret(r) => {
                    let secret = secret_name(&r.scope);
                    secrets
                        .entry((self.name.clone(), secret.clone()))
                        .or_default()
                        .insert(r.name.clone(), r.clone());
                    EnvVar {
                        name: name.clone(),
                        value: None,
                        value_from: Some(EnvSource {
                            secret_key_ref: KeyRef {
                                name: secret,
                                key: r.name.clone(),
                            },
                        }),
                    }
                }
            });
        }
        env.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((env, addresses))
    }

    #[allow(clippy::too_many_arguments)]
    fn deployment(
        &mut self,
        spec: &ServiceSpec,
        env: Vec<EnvVar>,
        uid: u32,
        read_only_root: bool,
        mounts: Vec<VolumeMount>,
        volumes: Vec<Volume>,
        annotations: BTreeMap<String, String>,
    ) -> Result<()> {
        let key = &spec.key;
        let name = key.name_in_project();
        let image = spec.image.clone().ok_or_else(|| {
            Error::new(format!("{key}: no image to run in Kubernetes; scalewize builds no images"))
                .hint("set \"image\" (pinned by tag or digest) in the server's scalewize.json or librechat.image")
        })?;
        let size = BTreeMap::from([
            ("cpu", spec.size.cpus.to_string()),
            ("memory", format!("{}Mi", spec.size.memory_mb)),
        ]);
        let deployment = Object {
            api_version: "apps/v1",
            kind: "Deployment",
            metadata: self.meta(&name, pod_labels(key)),
            body: Spec {
                spec: DeploymentSpec {
                    replicas: 1,
                    selector: LabelSelector {
                        match_labels: selector(key),
                        match_expressions: Vec::new(),
                    },
                    template: PodTemplate {
                        metadata: TemplateMeta {
                            labels: pod_labels(key),
                            annotations,
                        },
                        spec: PodSpec {
                            automount_service_account_token: false,
                            security_context: PodSecurityContext {
                                run_as_non_root: true,
                                run_as_user: uid,
                                run_as_group: uid,
                                seccomp_profile: SeccompProfile {
                                    kind: "RuntimeDefault",
                                },
                            },
                            containers: vec![Container {
                                name: key.service.clone(),
                                image,
                                ports: vec![ContainerPort {
                                    name: "http",
                                    container_port: spec.port,
                                    protocol: "TCP",
                                }],
                                env,
                                resources: Resources {
                                    requests: size.clone(),
                                    limits: size,
                                },
                                readiness_probe: probe(&spec.health_path, 5, 10, 3),
                                liveness_probe: probe(&spec.health_path, 15, 20, 6),
                                security_context: ContainerSecurityContext {
                                    allow_privilege_escalation: false,
                                    read_only_root_filesystem: read_only_root,
                                    capabilities: Capabilities { drop: vec!["ALL"] },
                                },
                                volume_mounts: mounts,
                            }],
                            volumes,
                        },
                    },
                },
            },
        };
        let service = Object {
            api_version: "v1",
            kind: "Service",
            metadata: self.meta(&name, pod_labels(key)),
            body: Spec {
                spec: ServiceSpecBody {
                    selector: selector(key),
                    ports: vec![ServicePort {
                        name: "http",
                        port: spec.port,
                        target_port: "http",
                        protocol: "TCP",
                    }],
                },
            },
        };
        self.files.insert(
            format!("service-{name}.yaml"),
            vec![to_yaml(&deployment)?, to_yaml(&service)?],
        );
        Ok(())
    }

    /// An MCP server or per-user instance: read-only root, a writable `/tmp`.
    fn server(
        &mut self,
        spec: &ServiceSpec,
        url_of: &UrlOf,
        secrets: &mut BTreeMap<(String, String), BTreeMap<String, SecretRef>>,
    ) -> Result<()> {
        let (env, _) = self.env(spec, url_of, LIBRECHAT_LOCAL_URL, secrets)?;
        self.deployment(
            spec,
            env,
            SERVER_UID,
            true,
            vec![VolumeMount {
                name: "tmp",
                mount_path: "/tmp".into(),
                sub_path: None,
                read_only: false,
            }],
            vec![Volume {
                name: "tmp",
                empty_dir: Some(Empty {}),
                config_map: None,
            }],
            BTreeMap::new(),
        )
    }

    /// LibreChat: the ConfigMap with its resolved `librechat.yaml` (plus `allowedAddresses` for
    /// the cluster-internal MCP hosts it calls), and its Deployment + Service. Its root
    /// filesystem stays writable: LibreChat writes logs and uploads under /app.
    fn librechat(
        &mut self,
        spec: &ServiceSpec,
        url_of: &UrlOf,
        secrets: &mut BTreeMap<(String, String), BTreeMap<String, SecretRef>>,
    ) -> Result<()> {
        let (env, addresses) = self.env(spec, url_of, LIBRECHAT_LOCAL_URL, secrets)?;
        let rendered = spec
            .files
            .get(LIBRECHAT_CONFIG_PATH)
            .ok_or_else(|| Error::new(format!("{}: no rendered librechat.yaml", spec.key)))?;
        let mut addresses = addresses;
        addresses.sort();
        addresses.dedup();
        let config = with_allowed_addresses(
            rendered,
            &addresses,
            "Added by scalewize export (kubernetes): LibreChat blocks cluster-internal MCP hosts unless listed.",
        )?;
        let digest = content_digest(config.as_bytes());
        let cm = Object {
            api_version: "v1",
            kind: "ConfigMap",
            metadata: self.meta(CONFIG_MAP, pod_labels(&spec.key)),
            body: Data {
                data: BTreeMap::from([(CONFIG_KEY.to_string(), config)]),
            },
        };
        self.files
            .insert("librechat-config.yaml".into(), vec![to_yaml(&cm)?]);
        self.deployment(
            spec,
            env,
            LIBRECHAT_UID,
            false,
            vec![VolumeMount {
                name: "config",
                mount_path: LIBRECHAT_CONFIG_PATH.into(),
                sub_path: Some(CONFIG_KEY.into()),
                read_only: true,
            }],
            vec![Volume {
                name: "config",
                empty_dir: None,
                config_map: Some(ConfigMapVolume {
                    name: CONFIG_MAP.into(),
                }),
            }],
            // A subPath mount does not follow ConfigMap updates: a changed config rolls the pods.
            BTreeMap::from([("scalewize.io/config-digest".to_string(), digest)]),
        )
    }

    fn policies(&mut self, policies: Vec<(String, NetworkPolicySpec)>) {
        self.policies = policies;
    }

    fn files(self) -> Result<Vec<ExportFile>> {
        let header = |what: &str| {
            self.input
                .header(&format!("{what} of namespace {}", self.name))
        };
        let mut out = Vec::new();
        let ns = Object {
            api_version: "v1",
            kind: "Namespace",
            metadata: Meta {
                name: self.name.clone(),
                namespace: None,
                labels: self.labels.clone(),
            },
            body: Empty {},
        };
        let mut files = self.files.clone();
        files.insert("namespace.yaml".into(), vec![to_yaml(&ns)?]);
        let mut policies = Vec::new();
        for (name, spec) in &self.policies {
            policies.push(to_yaml(&Object {
                api_version: "networking.k8s.io/v1",
                kind: "NetworkPolicy",
                metadata: self.meta(name, labels(&[MANAGED_BY])),
                body: Spec { spec },
            })?);
        }
        files.insert("network-policies.yaml".into(), policies);
        let resources: Vec<String> = files.keys().cloned().collect();
        for (file, docs) in &files {
            let what = file.trim_end_matches(".yaml");
            out.push(ExportFile::public(
                self.dir.join(file),
                documents(&header(what), docs),
            ));
        }
        out.push(ExportFile::public(
            self.dir.join("kustomization.yaml"),
            documents(
                &header("the kustomization"),
                &[to_yaml(&Kustomization {
                    api_version: "kustomize.config.k8s.io/v1beta1",
                    kind: "Kustomization",
                    resources,
                })?],
            ),
        ));
        Ok(out)
    }
}

/// `secrets.yaml` (0600): every referenced Secret, filled from the store.
fn secrets_file(
    input: &Input,
    secrets: &BTreeMap<(String, String), BTreeMap<String, SecretRef>>,
) -> Result<ExportFile> {
    let mut docs = Vec::new();
    for ((ns, name), keys) in secrets {
        let mut data = BTreeMap::new();
        for (key, r) in keys {
            data.insert(key.clone(), input.secret_value(r)?.unwrap_or_default());
        }
        docs.push(to_yaml(&Object {
            api_version: "v1",
            kind: "Secret",
            metadata: Meta {
                name: name.clone(),
                namespace: Some(ns.clone()),
                labels: labels(&[MANAGED_BY]),
            },
            body: SecretBody {
                kind: "Opaque",
                string_data: data,
            },
        })?);
    }
    Ok(ExportFile::private(
        SECRETS_FILE,
        documents(
            &input.header("secret VALUES, mode 0600 — never commit; kubectl apply -f"),
            &docs,
        ),
    ))
}
