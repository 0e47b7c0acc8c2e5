//! Kubernetes labels (who a pod serves: client or shared, which server, which user) and the
//! NetworkPolicies built on them, which keep clients apart: a client's MCP pods accept traffic
//! only from that client's LibreChat, shared servers only from LibreChat pods of client namespaces.

use super::k8s_objects::*;
use crate::model::{LIBRECHAT, ServiceKey};

pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "scalewize");
pub const L_NAME: &str = "app.kubernetes.io/name";
pub const L_INSTANCE: &str = "app.kubernetes.io/instance";
pub const L_CLIENT: &str = "scalewize.io/client";
pub const L_SERVER: &str = "scalewize.io/server";
pub const L_USER: &str = "scalewize.io/user";
pub const L_SHARED: &str = "scalewize.io/shared";

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn client_ns_labels(client: &str) -> Labels {
    labels(&[
        MANAGED_BY,
        (L_CLIENT, client),
        ("pod-security.kubernetes.io/enforce", "restricted"),
    ])
}

pub fn shared_ns_labels() -> Labels {
    labels(&[
        MANAGED_BY,
        (L_SHARED, "true"),
        ("pod-security.kubernetes.io/enforce", "restricted"),
    ])
}

/// A pod's labels: who it serves (client, or shared), which server, which user.
pub fn pod_labels(key: &ServiceKey) -> Labels {
    let instance = key.name_in_project();
    let mut l = labels(&[
        MANAGED_BY,
        (L_NAME, &key.service),
        (L_INSTANCE, &instance),
        (L_SERVER, &key.service),
    ]);
    if key.is_shared() {
        l.insert(L_SHARED.into(), "true".into());
    } else {
        l.insert(L_CLIENT.into(), key.owner.clone());
    }
    if let Some(u) = &key.user {
        l.insert(L_USER.into(), u.clone());
    }
    l
}

pub fn selector(key: &ServiceKey) -> Labels {
    labels(&[
        (L_INSTANCE, &key.name_in_project()),
        (L_SERVER, &key.service),
    ])
}

pub fn match_labels(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: labels(pairs),
        match_expressions: Vec::new(),
    }
}

fn deny_all() -> (String, NetworkPolicySpec) {
    (
        "default-deny-ingress".into(),
        NetworkPolicySpec {
            pod_selector: LabelSelector::default(),
            policy_types: vec!["Ingress"],
            ingress: Vec::new(),
        },
    )
}

/// Nothing reaches a client's pods except: LibreChat from anywhere (its users), and MCP pods
/// from this namespace's LibreChat only.
pub fn client_policies(librechat_port: u16) -> Vec<(String, NetworkPolicySpec)> {
    vec![
        deny_all(),
        (
            "librechat-from-users".into(),
            NetworkPolicySpec {
                pod_selector: match_labels(&[(L_SERVER, LIBRECHAT)]),
                policy_types: vec!["Ingress"],
                ingress: vec![IngressRule {
                    from: Vec::new(),
                    ports: vec![PolicyPort {
                        port: librechat_port,
                        protocol: "TCP",
                    }],
                }],
            },
        ),
        (
            "mcp-from-own-librechat".into(),
            NetworkPolicySpec {
                pod_selector: LabelSelector {
                    match_labels: Labels::new(),
                    match_expressions: vec![Requirement {
                        key: L_SERVER.into(),
                        operator: "NotIn",
                        values: vec![LIBRECHAT.into()],
                    }],
                },
                policy_types: vec!["Ingress"],
                ingress: vec![IngressRule {
                    from: vec![Peer {
                        namespace_selector: None,
                        pod_selector: Some(match_labels(&[(L_SERVER, LIBRECHAT)])),
                    }],
                    ports: Vec::new(),
                }],
            },
        ),
    ]
}

/// Shared servers accept LibreChat pods of client namespaces, nothing else.
pub fn shared_policies() -> Vec<(String, NetworkPolicySpec)> {
    vec![
        deny_all(),
        (
            "mcp-from-every-librechat".into(),
            NetworkPolicySpec {
                pod_selector: LabelSelector::default(),
                policy_types: vec!["Ingress"],
                ingress: vec![IngressRule {
                    from: vec![Peer {
                        namespace_selector: Some(LabelSelector {
                            match_labels: Labels::new(),
                            match_expressions: vec![Requirement {
                                key: L_CLIENT.into(),
                                operator: "Exists",
                                values: Vec::new(),
                            }],
                        }),
                        pod_selector: Some(match_labels(&[(L_SERVER, LIBRECHAT)])),
                    }],
                    ports: Vec::new(),
                }],
            },
        ),
    ]
}
