//! Strict request-body schemas, written for this emulator from the research notes
//! (`shared/reference/notes/fly.md`, cited as "notes l.N") and the 2024 Machines OpenAPI
//! document (`shared/reference/fly/openapi.json`, cited as "spec24 <SchemaName>").
//!
//! The real API silently ignores unknown JSON keys (notes l.246-249). This emulator refuses them
//! with a 400 that names the key, so that a misspelled or fly.toml-only name
//! (`auto_stop_machines`, `internal_port` at config level, ...) fails loudly in tests.

use serde::Serialize;
use serde_json::{Map, Value};

/// Why a request body was refused. One entry per offending key or value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Dotted path of the offending key or value, e.g. `config.services[0].auto_stop_machines`.
    pub path: String,
    /// The offending key (last path segment) when the problem is about a key.
    pub key: Option<String>,
    pub kind: ProblemKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A key that no schema here knows.
    UnknownKey,
    /// A name that exists only in fly.toml (notes l.72-73, l.192-199), e.g. `auto_stop_machines`.
    FlyTomlName,
    /// An older spelling or form the current API replaced (notes l.38-41, l.68, l.246-247),
    /// e.g. `app_name`, a boolean `autostop`.
    LegacyForm,
    /// An API field sent at the wrong level, e.g. `image` outside `config`.
    MisplacedKey,
    WrongType,
    BadValue,
    Missing,
    Conflict,
}

impl ProblemKind {
    /// The kinds that are unknown keys in the strict sense (refused names).
    pub fn is_key_rejection(self) -> bool {
        matches!(
            self,
            ProblemKind::UnknownKey
                | ProblemKind::FlyTomlName
                | ProblemKind::LegacyForm
                | ProblemKind::MisplacedKey
        )
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Ty {
    Str,
    Bool,
    /// A JSON integer within [min, max].
    Int(i64, i64),
    Enum(&'static [&'static str]),
    /// A Go duration string such as "15s" or "1m30s" (notes l.64-65).
    Duration,
    ArrStr,
    ArrEnum(&'static [&'static str]),
    ArrObj(&'static Obj),
    /// An object whose values are strings (env, metadata).
    StrMap,
    /// An object whose values follow one schema (config.checks: name → check).
    ObjMap(&'static Obj),
    /// An object whose values are not checked (http_options.response.headers: spec24 gives
    /// `additionalProperties: object`).
    AnyMap,
    /// An array of objects whose contents are not checked (config.containers: named in notes
    /// l.66, no schema in the notes or spec24).
    ArrAnyObj,
    Obj(&'static Obj),
    /// services[].autostop: "off"|"stop"|"suspend"; the older boolean form is refused (notes l.68).
    Autostop,
}

pub(crate) struct Field {
    name: &'static str,
    ty: Ty,
    required: bool,
}

const fn f(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}

/// A refused name that deserves a specific message.
pub(crate) struct Hint {
    name: &'static str,
    kind: ProblemKind,
    says: &'static str,
}

const fn toml(name: &'static str, says: &'static str) -> Hint {
    Hint {
        name,
        kind: ProblemKind::FlyTomlName,
        says,
    }
}

const fn legacy(name: &'static str, says: &'static str) -> Hint {
    Hint {
        name,
        kind: ProblemKind::LegacyForm,
        says,
    }
}

const fn misplaced(name: &'static str, says: &'static str) -> Hint {
    Hint {
        name,
        kind: ProblemKind::MisplacedKey,
        says,
    }
}

pub(crate) struct Obj {
    name: &'static str,
    fields: &'static [Field],
    hints: &'static [Hint],
}

const U32: i64 = u32::MAX as i64;
const PORT: Ty = Ty::Int(1, 65_535);

// ---------------------------------------------------------------------------------------------
// Apps
// ---------------------------------------------------------------------------------------------

/// `POST /v1/apps` (notes l.38-42: `{"name", "org_slug", "network"?, "enable_subdomains"?}`;
/// fly-go also sends `app_role_id`, notes l.40).
pub(crate) static CREATE_APP: Obj = Obj {
    name: "CreateAppRequest",
    fields: &[
        req("name", Ty::Str),             // notes l.38, l.40 (spec26/fly-go `name`)
        req("org_slug", Ty::Str),         // notes l.38
        f("network", Ty::Str),            // notes l.38, l.44
        f("enable_subdomains", Ty::Bool), // notes l.38; spec24 CreateAppRequest
        f("app_role_id", Ty::Str),        // notes l.40 (fly-go CreateAppRequest.AppRoleID)
    ],
    hints: &[
        legacy(
            "app_name",
            "`app_name` is the docs/spec24 spelling; the current API and fly-go send `name` (notes l.39-41)",
        ),
        toml(
            "app",
            "`app` is the fly.toml key; the Machines API takes `name` (notes l.193)",
        ),
        toml(
            "primary_region",
            "`primary_region` is fly.toml-only; apps have no region in the Machines API (notes l.193)",
        ),
    ],
};

// ---------------------------------------------------------------------------------------------
// Machines: config (fly.MachineConfig, notes l.60-73; spec24 fly.MachineConfig)
// ---------------------------------------------------------------------------------------------

/// notes l.61: `guest{cpu_kind:"shared"|"performance", cpus, memory_mb (multiple of 256),
/// kernel_args, persist_rootfs}`; spec24 fly.MachineGuest adds gpu_kind, gpus, host_dedication_id.
static GUEST: Obj = Obj {
    name: "MachineGuest",
    fields: &[
        f("cpu_kind", Ty::Enum(&["shared", "performance"])), // notes l.61
        f("cpus", Ty::Int(1, 64)),                           // notes l.61; spec24 integer
        f("memory_mb", Ty::Int(256, 1 << 20)), // notes l.61 (multiple of 256: checked below)
        f("kernel_args", Ty::ArrStr),          // notes l.61; spec24 array of string
        f("persist_rootfs", Ty::Str), // notes l.61 (type not given there: any string accepted)
        f("gpu_kind", Ty::Str),       // spec24 fly.MachineGuest
        f("gpus", Ty::Int(0, 64)),    // spec24 fly.MachineGuest
        f("host_dedication_id", Ty::Str), // spec24 fly.MachineGuest
    ],
    hints: &[
        toml(
            "memory",
            "`memory` is the fly.toml [[vm]] key; the API takes `guest.memory_mb` (notes l.61, l.198)",
        ),
        misplaced(
            "size",
            "`size` belongs to `config.size` and excludes `guest` (notes l.62)",
        ),
    ],
};

/// notes l.63: `restart{policy:"no"|"on-failure"|"always", max_retries}`; spec24 fly.MachineRestart.
static RESTART: Obj = Obj {
    name: "MachineRestart",
    fields: &[
        f("policy", Ty::Enum(&["no", "on-failure", "always"])), // notes l.63; spec24 enum
        f("max_retries", Ty::Int(0, U32)),                      // notes l.63; spec24 integer
    ],
    hints: &[],
};

/// spec24 fly.MachineHTTPHeader `{name, values[]}` (check headers, notes l.64).
static CHECK_HEADER: Obj = Obj {
    name: "MachineHTTPHeader",
    fields: &[f("name", Ty::Str), f("values", Ty::ArrStr)],
    hints: &[],
};

/// notes l.64-65: `{type:"tcp"|"http", port, interval, timeout, grace_period, method, path,
/// protocol, headers}`, durations as Go duration strings; spec24 fly.MachineCheck adds
/// tls_server_name and tls_skip_verify. Used for `config.checks{}` and `services[].checks[]`
/// (notes l.71; spec24 fly.MachineService.checks items are fly.MachineCheck).
static CHECK: Obj = Obj {
    name: "MachineCheck",
    fields: &[
        f("type", Ty::Enum(&["tcp", "http"])), // notes l.64; spec24 "tcp or http"
        f("port", PORT),                       // notes l.64
        f("interval", Ty::Duration),           // notes l.64-65
        f("timeout", Ty::Duration),            // notes l.64-65
        f("grace_period", Ty::Duration),       // notes l.64-65
        f("method", Ty::Str),                  // notes l.64
        f("path", Ty::Str),                    // notes l.64
        f("protocol", Ty::Enum(&["http", "https"])), // notes l.64; spec24 "whether to use http or https"
        f("headers", Ty::ArrObj(&CHECK_HEADER)), // notes l.64; spec24 array of MachineHTTPHeader
        f("tls_server_name", Ty::Str),           // spec24 fly.MachineCheck
        f("tls_skip_verify", Ty::Bool),          // spec24 fly.MachineCheck
    ],
    hints: &[],
};

/// notes l.69: `concurrency{type:"connections"|"requests", soft_limit, hard_limit}`.
static CONCURRENCY: Obj = Obj {
    name: "MachineServiceConcurrency",
    fields: &[
        f("type", Ty::Enum(&["connections", "requests"])), // notes l.69
        f("soft_limit", Ty::Int(0, U32)),                  // notes l.69; spec24 integer
        f("hard_limit", Ty::Int(0, U32)),                  // notes l.69; spec24 integer
    ],
    hints: &[],
};

/// notes l.70: `http_options{compress,h2_backend,response{headers,pristine}}`; spec24
/// fly.HTTPResponseOptions.
static HTTP_RESPONSE: Obj = Obj {
    name: "HTTPResponseOptions",
    fields: &[f("headers", Ty::AnyMap), f("pristine", Ty::Bool)],
    hints: &[],
};

/// notes l.70; spec24 fly.HTTPOptions adds headers_read_timeout and idle_timeout (integers).
static HTTP_OPTIONS: Obj = Obj {
    name: "HTTPOptions",
    fields: &[
        f("compress", Ty::Bool),                    // notes l.70
        f("h2_backend", Ty::Bool),                  // notes l.70
        f("response", Ty::Obj(&HTTP_RESPONSE)),     // notes l.70
        f("headers_read_timeout", Ty::Int(0, U32)), // spec24 fly.HTTPOptions
        f("idle_timeout", Ty::Int(0, U32)),         // spec24 fly.HTTPOptions
    ],
    hints: &[],
};

/// notes l.70: `tls_options{alpn,versions,default_self_signed}`; spec24 fly.TLSOptions.
static TLS_OPTIONS: Obj = Obj {
    name: "TLSOptions",
    fields: &[
        f("alpn", Ty::ArrStr),
        f("versions", Ty::ArrStr),
        f("default_self_signed", Ty::Bool),
    ],
    hints: &[],
};

/// notes l.70: `proxy_proto_options{version}`; spec24 fly.ProxyProtoOptions.
static PROXY_PROTO: Obj = Obj {
    name: "ProxyProtoOptions",
    fields: &[f("version", Ty::Str)],
    hints: &[],
};

/// Port handlers. notes l.70 and l.77 name "http" and "tls"; "proxy_proto" is implied by
/// `proxy_proto_options` (notes l.70); "pg_tls" is NOT in the notes (see README).
const HANDLERS: &[&str] = &["http", "tls", "proxy_proto", "pg_tls"];

/// notes l.70: `{port, start_port, end_port, handlers, force_https, http_options, tls_options,
/// proxy_proto_options}`; spec24 fly.MachinePort.
static SERVICE_PORT: Obj = Obj {
    name: "MachinePort",
    fields: &[
        f("port", PORT),                                 // notes l.70
        f("start_port", PORT),                           // notes l.70
        f("end_port", PORT),                             // notes l.70
        f("handlers", Ty::ArrEnum(HANDLERS)),            // notes l.70, l.77
        f("force_https", Ty::Bool),                      // notes l.70
        f("http_options", Ty::Obj(&HTTP_OPTIONS)),       // notes l.70
        f("tls_options", Ty::Obj(&TLS_OPTIONS)),         // notes l.70
        f("proxy_proto_options", Ty::Obj(&PROXY_PROTO)), // notes l.70
    ],
    hints: &[],
};

/// notes l.67-71: `protocol:"tcp"|"udp"`, `internal_port`, `autostop:"off"|"stop"|"suspend"`,
/// `autostart:bool`, `min_machines_running`, `concurrency`, `ports[]`, `checks[]`;
/// spec24 fly.MachineService adds force_instance_key and force_instance_description.
static SERVICE: Obj = Obj {
    name: "MachineService",
    fields: &[
        req("protocol", Ty::Enum(&["tcp", "udp"])), // notes l.68 (required here: see README)
        req("internal_port", PORT),                 // notes l.68 (required here: see README)
        f("autostop", Ty::Autostop),                // notes l.68, l.72
        f("autostart", Ty::Bool),                   // notes l.69, l.72
        f("min_machines_running", Ty::Int(0, U32)), // notes l.69
        f("concurrency", Ty::Obj(&CONCURRENCY)),    // notes l.69
        f("ports", Ty::ArrObj(&SERVICE_PORT)),      // notes l.70
        f("checks", Ty::ArrObj(&CHECK)),            // notes l.71
        f("force_instance_key", Ty::Str),           // spec24 fly.MachineService
        f("force_instance_description", Ty::Str),   // spec24 fly.MachineService
    ],
    hints: &[
        toml(
            "auto_stop_machines",
            "`auto_stop_machines` exists only in fly.toml; the Machines API field is `autostop` (\"off\"|\"stop\"|\"suspend\") (notes l.72-73, l.247-249)",
        ),
        toml(
            "auto_start_machines",
            "`auto_start_machines` exists only in fly.toml; the Machines API field is `autostart` (notes l.72-73)",
        ),
        toml(
            "force_https",
            "`force_https` is a fly.toml [http_service] key; in the API it belongs to `ports[].force_https` (notes l.70, l.195)",
        ),
        toml(
            "http_checks",
            "`http_checks` is fly.toml; the API takes `checks[]` with `type: \"http\"` (notes l.64, l.71)",
        ),
        toml(
            "tcp_checks",
            "`tcp_checks` is fly.toml; the API takes `checks[]` with `type: \"tcp\"` (notes l.64, l.71)",
        ),
        toml(
            "processes",
            "`processes` on a service is fly.toml; a machine config has no per-service process list",
        ),
    ],
};

/// spec24 fly.MachineInit.
static INIT: Obj = Obj {
    name: "MachineInit",
    fields: &[
        f("cmd", Ty::ArrStr),                   // notes l.61
        f("entrypoint", Ty::ArrStr),            // notes l.61
        f("exec", Ty::ArrStr),                  // notes l.61
        f("kernel_args", Ty::ArrStr),           // spec24 fly.MachineInit
        f("swap_size_mb", Ty::Int(0, 1 << 20)), // spec24 fly.MachineInit
        f("tty", Ty::Bool),                     // spec24 fly.MachineInit
    ],
    hints: &[],
};

/// spec24 fly.MachineMount (notes l.66 names `mounts[]`).
static MOUNT: Obj = Obj {
    name: "MachineMount",
    fields: &[
        f("add_size_gb", Ty::Int(0, U32)),
        f("encrypted", Ty::Bool),
        f("extend_threshold_percent", Ty::Int(0, 100)),
        f("name", Ty::Str),
        f("path", Ty::Str),
        f("size_gb", Ty::Int(0, U32)),
        f("size_gb_limit", Ty::Int(0, U32)),
        f("volume", Ty::Str),
    ],
    hints: &[
        toml(
            "source",
            "`source` is the fly.toml [mounts] key; the API takes `volume` (spec24 fly.MachineMount)",
        ),
        toml(
            "destination",
            "`destination` is the fly.toml [mounts] key; the API takes `path` (spec24 fly.MachineMount)",
        ),
    ],
};

/// spec24 fly.File: one of raw_value or secret_name must be set (notes l.66 names `files[]`).
static FILE: Obj = Obj {
    name: "File",
    fields: &[
        req("guest_path", Ty::Str),
        f("raw_value", Ty::Str),
        f("secret_name", Ty::Str),
    ],
    hints: &[],
};

/// spec24 fly.StopConfig (notes l.66 names `stop_config`); timeout as a Go duration (notes l.107).
static STOP_CONFIG: Obj = Obj {
    name: "StopConfig",
    fields: &[f("signal", Ty::Str), f("timeout", Ty::Duration)],
    hints: &[],
};

static DNS_FORWARD: Obj = Obj {
    name: "dnsForwardRule",
    fields: &[f("addr", Ty::Str), f("basename", Ty::Str)],
    hints: &[],
};

static DNS_OPTION: Obj = Obj {
    name: "dnsOption",
    fields: &[f("name", Ty::Str), f("value", Ty::Str)],
    hints: &[],
};

/// spec24 fly.DNSConfig (notes l.66 names `dns`).
static DNS: Obj = Obj {
    name: "DNSConfig",
    fields: &[
        f("dns_forward_rules", Ty::ArrObj(&DNS_FORWARD)),
        f("nameservers", Ty::ArrStr),
        f("options", Ty::ArrObj(&DNS_OPTION)),
        f("searches", Ty::ArrStr),
        f("skip_registration", Ty::Bool),
    ],
    hints: &[],
};

/// spec24 fly.EnvFrom.
static ENV_FROM: Obj = Obj {
    name: "EnvFrom",
    fields: &[
        req("env_var", Ty::Str),
        f(
            "field_ref",
            Ty::Enum(&["id", "version", "app_name", "private_ip", "region", "image"]),
        ),
    ],
    hints: &[],
};

/// spec24 fly.MachineSecret.
static PROCESS_SECRET: Obj = Obj {
    name: "MachineSecret",
    fields: &[req("env_var", Ty::Str), f("name", Ty::Str)],
    hints: &[],
};

/// spec24 fly.MachineProcess (notes l.66 names `processes[]`).
static PROCESS: Obj = Obj {
    name: "MachineProcess",
    fields: &[
        f("cmd", Ty::ArrStr),
        f("entrypoint", Ty::ArrStr),
        f("env", Ty::StrMap),
        f("env_from", Ty::ArrObj(&ENV_FROM)),
        f("exec", Ty::ArrStr),
        f("ignore_app_secrets", Ty::Bool),
        f("secrets", Ty::ArrObj(&PROCESS_SECRET)),
        f("user", Ty::Str),
    ],
    hints: &[],
};

/// spec24 fly.Static (guest_path and url_prefix required there; notes l.66 names `statics[]`).
static STATIC: Obj = Obj {
    name: "Static",
    fields: &[
        req("guest_path", Ty::Str),
        req("url_prefix", Ty::Str),
        f("index_document", Ty::Str),
        f("tigris_bucket", Ty::Str),
    ],
    hints: &[],
};

/// spec24 fly.MachineMetrics.
static METRICS: Obj = Obj {
    name: "MachineMetrics",
    fields: &[f("path", Ty::Str), f("port", PORT)],
    hints: &[],
};

/// notes l.60-73; spec24 fly.MachineConfig.
pub(crate) static MACHINE_CONFIG: Obj = Obj {
    name: "MachineConfig",
    fields: &[
        req("image", Ty::Str),           // notes l.57, l.61 (the only required field)
        f("env", Ty::StrMap),            // notes l.61; spec24 additionalProperties string
        f("metadata", Ty::StrMap),       // notes l.61; spec24 additionalProperties string
        f("init", Ty::Obj(&INIT)),       // notes l.61
        f("guest", Ty::Obj(&GUEST)),     // notes l.61
        f("size", Ty::Str),              // notes l.62 (excludes `guest`: checked below)
        f("restart", Ty::Obj(&RESTART)), // notes l.63
        f("auto_destroy", Ty::Bool),     // notes l.64; spec24 boolean
        f("schedule", Ty::Str),          // notes l.64; spec24 string
        f("checks", Ty::ObjMap(&CHECK)), // notes l.64 (name → check)
        f("mounts", Ty::ArrObj(&MOUNT)), // notes l.66
        f("files", Ty::ArrObj(&FILE)),   // notes l.66
        f("stop_config", Ty::Obj(&STOP_CONFIG)), // notes l.66
        f("dns", Ty::Obj(&DNS)),         // notes l.66
        f("processes", Ty::ArrObj(&PROCESS)), // notes l.66
        f("containers", Ty::ArrAnyObj),  // notes l.66 (no schema available: contents unchecked)
        f("statics", Ty::ArrObj(&STATIC)), // notes l.66
        f("standbys", Ty::ArrStr),       // notes l.66; spec24 array of string
        f("services", Ty::ArrObj(&SERVICE)), // notes l.67-71
        f("metrics", Ty::Obj(&METRICS)), // spec24 fly.MachineConfig
        f("disable_machine_autostart", Ty::Bool), // spec24 fly.MachineConfig (deprecated there)
    ],
    hints: &[
        toml(
            "internal_port",
            "`internal_port` at config level is fly.toml [http_service]; the API takes `services[].internal_port` (notes l.68, l.195)",
        ),
        toml(
            "auto_stop_machines",
            "`auto_stop_machines` exists only in fly.toml; the API takes `services[].autostop` (notes l.72-73)",
        ),
        toml(
            "auto_start_machines",
            "`auto_start_machines` exists only in fly.toml; the API takes `services[].autostart` (notes l.72-73)",
        ),
        toml(
            "min_machines_running",
            "`min_machines_running` at config level is fly.toml [http_service]; the API takes `services[].min_machines_running` (notes l.69, l.196)",
        ),
        toml(
            "force_https",
            "`force_https` at config level is fly.toml [http_service]; the API takes `services[].ports[].force_https` (notes l.70, l.195)",
        ),
        toml(
            "http_service",
            "`http_service` is fly.toml; the API takes `services[]` with ports 80 [\"http\"] and 443 [\"tls\",\"http\"] (notes l.199)",
        ),
        toml(
            "vm",
            "`vm` is fly.toml [[vm]]; the API takes `guest` or `size` (notes l.61-62, l.198)",
        ),
        toml(
            "memory",
            "`memory` is fly.toml [[vm]]; the API takes `guest.memory_mb` (notes l.61, l.198)",
        ),
        toml(
            "cpus",
            "`cpus` at config level is fly.toml [[vm]]; the API takes `guest.cpus` (notes l.61, l.198)",
        ),
        toml(
            "cpu_kind",
            "`cpu_kind` at config level is fly.toml [[vm]]; the API takes `guest.cpu_kind` (notes l.61, l.198)",
        ),
        toml(
            "primary_region",
            "`primary_region` is fly.toml; the API takes `region` on the create request (notes l.56, l.193)",
        ),
        toml(
            "app",
            "`app` is fly.toml; the app is in the URL path (notes l.55, l.193)",
        ),
        toml(
            "build",
            "`build` is fly.toml; the API takes `config.image` (notes l.190-191, l.193)",
        ),
        toml(
            "kill_signal",
            "`kill_signal` is fly.toml; the API takes `stop_config.signal` (spec24 fly.StopConfig)",
        ),
        toml(
            "kill_timeout",
            "`kill_timeout` is fly.toml; the API takes `stop_config.timeout` (spec24 fly.StopConfig)",
        ),
        toml(
            "http_checks",
            "`http_checks` is fly.toml; the API takes `checks{}` (notes l.64)",
        ),
        misplaced(
            "region",
            "`region` belongs to the create request, not to `config` (notes l.56)",
        ),
        misplaced(
            "name",
            "`name` belongs to the create request, not to `config` (notes l.56)",
        ),
        misplaced(
            "min_secrets_version",
            "`min_secrets_version` belongs to the request, not to `config` (notes l.56, l.87)",
        ),
    ],
};

/// Names that belong inside `config` but were sent at request level.
const MACHINE_REQUEST_HINTS: &[Hint] = &[
    misplaced("image", "`image` belongs inside `config` (notes l.57)"),
    misplaced("env", "`env` belongs inside `config` (notes l.61)"),
    misplaced("guest", "`guest` belongs inside `config` (notes l.61)"),
    misplaced(
        "services",
        "`services` belongs inside `config` (notes l.67)",
    ),
    misplaced("checks", "`checks` belongs inside `config` (notes l.64)"),
    misplaced(
        "metadata",
        "`metadata` belongs inside `config` (notes l.61)",
    ),
    misplaced("restart", "`restart` belongs inside `config` (notes l.63)"),
    toml(
        "app",
        "`app` is fly.toml; the app is in the URL path (notes l.55, l.193)",
    ),
    toml(
        "primary_region",
        "`primary_region` is fly.toml; the API takes `region` (notes l.56, l.193)",
    ),
    toml(
        "http_service",
        "`http_service` is fly.toml; the API takes `config.services[]` (notes l.199)",
    ),
    toml(
        "vm",
        "`vm` is fly.toml [[vm]]; the API takes `config.guest` (notes l.61, l.198)",
    ),
    toml(
        "build",
        "`build` is fly.toml; the API takes `config.image` (notes l.193)",
    ),
];

/// `POST /v1/apps/{app}/machines` (notes l.55-57; spec24 CreateMachineRequest adds `lsvd`).
pub(crate) static CREATE_MACHINE: Obj = Obj {
    name: "CreateMachineRequest",
    fields: &[
        f("name", Ty::Str),                             // notes l.56
        f("region", Ty::Str),                           // notes l.56
        req("config", Ty::Obj(&MACHINE_CONFIG)),        // notes l.56-57
        f("skip_launch", Ty::Bool),                     // notes l.56; spec24 boolean
        f("skip_service_registration", Ty::Bool),       // notes l.56; spec24 boolean
        f("lease_ttl", Ty::Int(1, U32)),                // notes l.56, l.100; spec24 integer
        f("min_secrets_version", Ty::Int(0, i64::MAX)), // notes l.56, l.129
        f("skip_secrets", Ty::Bool),                    // notes l.56
        f("lsvd", Ty::Bool),                            // spec24 CreateMachineRequest
    ],
    hints: MACHINE_REQUEST_HINTS,
};

/// `POST /v1/apps/{app}/machines/{id}` (notes l.86-90; spec24 UpdateMachineRequest also has
/// `name`/`region`, which are immutable: accepted only when equal to the machine's).
pub(crate) static UPDATE_MACHINE: Obj = Obj {
    name: "UpdateMachineRequest",
    fields: &[
        req("config", Ty::Obj(&MACHINE_CONFIG)), // notes l.87-88 (full config)
        f("current_version", Ty::Str),           // notes l.87, l.90
        f("skip_launch", Ty::Bool),              // notes l.87
        f("skip_service_registration", Ty::Bool), // notes l.87
        f("lease_ttl", Ty::Int(1, U32)),         // notes l.87
        f("min_secrets_version", Ty::Int(0, i64::MAX)), // notes l.87, l.129
        f("name", Ty::Str), // spec24 UpdateMachineRequest; immutable (notes l.88)
        f("region", Ty::Str), // spec24 UpdateMachineRequest; immutable (notes l.88)
        f("lsvd", Ty::Bool), // spec24 UpdateMachineRequest
    ],
    hints: MACHINE_REQUEST_HINTS,
};

/// `POST .../{id}/lease` (notes l.92-93; spec24 CreateLeaseRequest).
pub(crate) static CREATE_LEASE: Obj = Obj {
    name: "CreateLeaseRequest",
    fields: &[
        f("ttl", Ty::Int(1, U32)), // notes l.92; spec24 "seconds lease will be valid"
        f("description", Ty::Str), // notes l.92
    ],
    hints: &[],
};

/// Signals of spec24 SignalRequest.
pub(crate) const SIGNALS: &[&str] = &[
    "SIGABRT", "SIGALRM", "SIGFPE", "SIGHUP", "SIGILL", "SIGINT", "SIGKILL", "SIGPIPE", "SIGQUIT",
    "SIGSEGV", "SIGTERM", "SIGTRAP", "SIGUSR1",
];

/// `POST .../{id}/stop` optional body (notes l.107; spec24 StopRequest).
pub(crate) static STOP: Obj = Obj {
    name: "StopRequest",
    fields: &[f("signal", Ty::Enum(SIGNALS)), f("timeout", Ty::Duration)],
    hints: &[],
};

/// `PUT|PATCH .../{id}/metadata` (notes l.114-115: multi-key body, null or "" removes, stale
/// `machine_version` → 412). The exact envelope is not in the notes; see README.
pub(crate) static UPDATE_METADATA: Obj = Obj {
    name: "UpdateMetadataRequest",
    fields: &[
        req("metadata", Ty::AnyMap), // values: string, "" or null (checked by the handler)
        f("machine_version", Ty::Str), // notes l.115
    ],
    hints: &[],
};

/// `POST .../{id}/metadata/{key}` (notes l.115; body shape not in the notes, see README).
pub(crate) static SET_METADATA_KEY: Obj = Obj {
    name: "SetMetadataKeyRequest",
    fields: &[req("value", Ty::Str)],
    hints: &[],
};

/// `POST /v1/apps/{app}/secrets` (notes l.123-124): `{"values": {"NAME": "val"|null}}`.
pub(crate) static SET_SECRETS: Obj = Obj {
    name: "SetSecretsRequest",
    fields: &[req("values", Ty::AnyMap)], // values: string or null (checked by the handler)
    hints: &[],
};

/// `POST /v1/apps/{app}/secrets/{name}` (notes l.125): `{"value": "..."}`.
pub(crate) static SET_SECRET: Obj = Obj {
    name: "SetSecretRequest",
    fields: &[req("value", Ty::Str)],
    hints: &[],
};

/// `POST /v1/apps/{app}/ip_assignments` (notes l.150).
pub(crate) static ASSIGN_IP: Obj = Obj {
    name: "AssignIPRequest",
    fields: &[
        req(
            "type",
            Ty::Enum(&[
                "v6",
                "shared_v4",
                "v4",
                "private_v6",
                "egress_v4",
                "egress_v6",
                "egress_pair",
            ]),
        ), // notes l.150
        f("region", Ty::Str),       // notes l.150
        f("org_slug", Ty::Str),     // notes l.150
        f("network", Ty::Str),      // notes l.150
        f("service_name", Ty::Str), // notes l.150
    ],
    hints: &[],
};

// ---------------------------------------------------------------------------------------------
// The walker
// ---------------------------------------------------------------------------------------------

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong(path: &str, want: &str, got: &Value) -> Problem {
    Problem {
        path: path.to_string(),
        key: None,
        kind: ProblemKind::WrongType,
        message: format!("`{path}` must be {want}, got {}", type_name(got)),
    }
}

pub(crate) fn bad(path: &str, message: String) -> Problem {
    Problem {
        path: path.to_string(),
        key: None,
        kind: ProblemKind::BadValue,
        message,
    }
}

/// Validate `v` against `obj`; `path` is the dotted path of `v` ("" for the body).
pub(crate) fn check_obj(obj: &Obj, v: &Value, path: &str, out: &mut Vec<Problem>) {
    let Some(map) = v.as_object() else {
        let shown = if path.is_empty() { "the body" } else { path };
        out.push(Problem {
            path: path.to_string(),
            key: None,
            kind: ProblemKind::WrongType,
            message: format!(
                "{shown} must be a JSON object ({}), got {}",
                obj.name,
                type_name(v)
            ),
        });
        return;
    };
    for (key, value) in map {
        let p = join(path, key);
        match obj.fields.iter().find(|fd| fd.name == key) {
            Some(fd) => check_ty(fd.ty, value, &p, out),
            None => {
                let (kind, message) = match obj.hints.iter().find(|h| h.name == key) {
                    Some(h) => (
                        h.kind,
                        format!("unknown key `{p}` in {}: {}", obj.name, h.says),
                    ),
                    None => (
                        ProblemKind::UnknownKey,
                        format!(
                            "unknown key `{p}` in {}; known keys: {}",
                            obj.name,
                            obj.fields
                                .iter()
                                .map(|fd| fd.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                };
                out.push(Problem {
                    path: p,
                    key: Some(key.clone()),
                    kind,
                    message,
                });
            }
        }
    }
    for fd in obj.fields.iter().filter(|fd| fd.required) {
        if !map.contains_key(fd.name) {
            let p = join(path, fd.name);
            out.push(Problem {
                message: format!("missing required key `{p}` in {}", obj.name),
                path: p,
                key: Some(fd.name.to_string()),
                kind: ProblemKind::Missing,
            });
        }
    }
}

fn check_ty(ty: Ty, v: &Value, path: &str, out: &mut Vec<Problem>) {
    match ty {
        Ty::Str => {
            if !v.is_string() {
                out.push(wrong(path, "a string", v));
            }
        }
        Ty::Bool => {
            if !v.is_boolean() {
                out.push(wrong(path, "a boolean", v));
            }
        }
        Ty::Int(min, max) => match v.as_i64() {
            Some(n) if n >= min && n <= max => {}
            Some(n) => out.push(bad(
                path,
                format!("`{path}` must be between {min} and {max}, got {n}"),
            )),
            None => out.push(wrong(path, "an integer", v)),
        },
        Ty::Enum(allowed) => match v.as_str() {
            Some(s) if allowed.contains(&s) => {}
            Some(s) => out.push(bad(
                path,
                format!("`{path}` must be one of {}, got {s:?}", allowed.join("|")),
            )),
            None => out.push(wrong(path, &format!("a string ({})", allowed.join("|")), v)),
        },
        Ty::Duration => match v.as_str() {
            Some(s) if parse_go_duration(s).is_some() => {}
            Some(s) => out.push(bad(
                path,
                format!("`{path}` must be a Go duration string such as \"15s\", got {s:?}"),
            )),
            None => out.push(wrong(
                path,
                "a Go duration string such as \"15s\" (notes l.64-65)",
                v,
            )),
        },
        Ty::ArrStr => match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_ty(Ty::Str, item, &format!("{path}[{i}]"), out);
                }
            }
            None => out.push(wrong(path, "an array of strings", v)),
        },
        Ty::ArrEnum(allowed) => match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_ty(Ty::Enum(allowed), item, &format!("{path}[{i}]"), out);
                }
            }
            None => out.push(wrong(path, "an array of strings", v)),
        },
        Ty::ArrObj(obj) => match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_obj(obj, item, &format!("{path}[{i}]"), out);
                }
            }
            None => out.push(wrong(path, &format!("an array of {}", obj.name), v)),
        },
        Ty::ArrAnyObj => match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_object() {
                        out.push(wrong(&format!("{path}[{i}]"), "an object", item));
                    }
                }
            }
            None => out.push(wrong(path, "an array of objects", v)),
        },
        Ty::StrMap => match v.as_object() {
            Some(map) => {
                for (k, item) in map {
                    if !item.is_string() {
                        out.push(wrong(&join(path, k), "a string", item));
                    }
                }
            }
            None => out.push(wrong(path, "an object of strings", v)),
        },
        Ty::ObjMap(obj) => match v.as_object() {
            Some(map) => {
                for (k, item) in map {
                    check_obj(obj, item, &join(path, k), out);
                }
            }
            None => out.push(wrong(path, &format!("an object of {}", obj.name), v)),
        },
        Ty::AnyMap => {
            if !v.is_object() {
                out.push(wrong(path, "an object", v));
            }
        }
        Ty::Obj(obj) => check_obj(obj, v, path, out),
        Ty::Autostop => match v {
            Value::String(s) if ["off", "stop", "suspend"].contains(&s.as_str()) => {}
            Value::String(s) => out.push(bad(
                path,
                format!("`{path}` must be one of off|stop|suspend, got {s:?}"),
            )),
            Value::Bool(b) => out.push(Problem {
                path: path.to_string(),
                key: Some("autostop".to_string()),
                kind: ProblemKind::LegacyForm,
                message: format!(
                    "`{path}` is the legacy boolean form ({b}); send \"off\", \"stop\" or \"suspend\" (notes l.68, l.246-247)"
                ),
            }),
            other => out.push(wrong(path, "a string (off|stop|suspend)", other)),
        },
    }
}

/// Parse a Go `time.Duration` string ("300ms", "-1.5h", "2h45m", "0"). Returns nanoseconds.
pub(crate) fn parse_go_duration(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Some(if neg { -total } else { total })
}

// ---------------------------------------------------------------------------------------------
// Semantic checks beyond the structure
// ---------------------------------------------------------------------------------------------

/// Checks on a (structurally valid or not) machine config at `path`.
pub(crate) fn check_machine_config_semantics(cfg: &Value, path: &str, out: &mut Vec<Problem>) {
    let Some(cfg) = cfg.as_object() else { return };
    if let Some(Value::String(img)) = cfg.get("image")
        && img.trim().is_empty()
    {
        out.push(bad(
            &join(path, "image"),
            "`config.image` must not be empty".into(),
        ));
    }
    // notes l.62: `size` and `guest` are mutually exclusive.
    if cfg.contains_key("size") && cfg.contains_key("guest") {
        out.push(Problem {
            path: join(path, "size"),
            key: Some("size".into()),
            kind: ProblemKind::Conflict,
            message: "`config.size` and `config.guest` are mutually exclusive (notes l.62)".into(),
        });
    }
    // notes l.61: memory_mb is a multiple of 256.
    if let Some(mem) = cfg
        .get("guest")
        .and_then(|g| g.get("memory_mb"))
        .and_then(Value::as_i64)
        && mem % 256 != 0
    {
        out.push(bad(
            &join(path, "guest.memory_mb"),
            format!("`guest.memory_mb` must be a multiple of 256 (notes l.61), got {mem}"),
        ));
    }
    if let Some(files) = cfg.get("files").and_then(Value::as_array) {
        for (i, file) in files.iter().enumerate() {
            let has_raw = file.get("raw_value").is_some();
            let has_secret = file.get("secret_name").is_some();
            if has_raw == has_secret {
                out.push(Problem {
                    path: format!("{}[{i}]", join(path, "files")),
                    key: None,
                    kind: ProblemKind::Conflict,
                    message:
                        "a file needs exactly one of `raw_value` or `secret_name` (spec24 fly.File)"
                            .into(),
                });
            }
        }
    }
    if let Some(services) = cfg.get("services").and_then(Value::as_array) {
        for (i, svc) in services.iter().enumerate() {
            let Some(ports) = svc.get("ports").and_then(Value::as_array) else {
                continue;
            };
            for (j, port) in ports.iter().enumerate() {
                let p = format!("{}[{i}].ports[{j}]", join(path, "services"));
                let single = port.get("port").is_some();
                let range = port.get("start_port").is_some() || port.get("end_port").is_some();
                if single && range {
                    out.push(Problem {
                        path: p.clone(),
                        key: None,
                        kind: ProblemKind::Conflict,
                        message: "a port has either `port` or `start_port`/`end_port`, not both"
                            .into(),
                    });
                }
                if !single && !range {
                    out.push(Problem {
                        path: p.clone(),
                        key: Some("port".into()),
                        kind: ProblemKind::Missing,
                        message: format!("`{p}` needs `port` (or `start_port` and `end_port`)"),
                    });
                }
                if let (Some(a), Some(b)) = (
                    port.get("start_port").and_then(Value::as_i64),
                    port.get("end_port").and_then(Value::as_i64),
                ) && a > b
                {
                    out.push(bad(&p, "`start_port` must not exceed `end_port`".into()));
                }
            }
        }
    }
}

/// Validate a whole request body with `obj`, plus the machine-config semantics when the body
/// carries a `config`.
pub(crate) fn validate(obj: &Obj, body: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    check_obj(obj, body, "", &mut out);
    if let Some(cfg) = body.get("config") {
        check_machine_config_semantics(cfg, "config", &mut out);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Collecting the keys a client sent
// ---------------------------------------------------------------------------------------------

/// Every object key in `v`, at any depth (including keys of free-form maps such as `env`).
pub(crate) fn collect_keys(
    v: &Value,
    path: &str,
    names: &mut Vec<String>,
    paths: &mut Vec<String>,
) {
    match v {
        Value::Object(map) => collect_map(map, path, names, paths),
        Value::Array(items) => {
            for item in items {
                collect_keys(item, &format!("{path}[]"), names, paths);
            }
        }
        _ => {}
    }
}

fn collect_map(
    map: &Map<String, Value>,
    path: &str,
    names: &mut Vec<String>,
    paths: &mut Vec<String>,
) {
    for (k, v) in map {
        let p = join(path, k);
        names.push(k.clone());
        paths.push(p.clone());
        collect_keys(v, &p, names, paths);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_durations() {
        for ok in ["15s", "0", "1m30s", "300ms", "1.5h", "-2s", "10us", "1µs"] {
            assert!(parse_go_duration(ok).is_some(), "{ok}");
        }
        for no in ["", "15", "s", "1x", "1.2.3s", "15 s", "1s ", "PT15S"] {
            assert!(parse_go_duration(no).is_none(), "{no}");
        }
        assert_eq!(parse_go_duration("1m30s"), Some(90e9));
    }

    #[test]
    fn minimal_mcp_machine_from_the_notes_is_valid() {
        // notes l.75-77
        let body = json!({"region":"iad","config":{"image":"flyio/mcp:latest","guest":{"cpu_kind":"shared","cpus":1,"memory_mb":1024},
            "services":[{"protocol":"tcp","internal_port":8080,"autostop":"stop","autostart":true,
            "ports":[{"port":80,"handlers":["http"],"force_https":true},{"port":443,"handlers":["http","tls"]}]}]}});
        assert_eq!(validate(&CREATE_MACHINE, &body), vec![]);
    }

    #[test]
    fn flytoml_names_are_named() {
        let body = json!({"config":{"image":"x","internal_port":8080,
            "services":[{"protocol":"tcp","internal_port":8080,"auto_stop_machines":"stop","autostop":true}]}});
        let problems = validate(&CREATE_MACHINE, &body);
        let paths: Vec<_> = problems.iter().map(|p| (p.path.as_str(), p.kind)).collect();
        assert!(paths.contains(&("config.internal_port", ProblemKind::FlyTomlName)));
        assert!(paths.contains(&(
            "config.services[0].auto_stop_machines",
            ProblemKind::FlyTomlName
        )));
        assert!(paths.contains(&("config.services[0].autostop", ProblemKind::LegacyForm)));
    }
}
