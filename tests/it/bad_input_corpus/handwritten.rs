//! Cases written by hand: the list first, then each check's own mistakes.

use serde_json::{Value, json};

use super::{Case, read};

const A: &str = "client-configs/client-a/mcp-servers.json";
const CRM: &str = "custom-mcp-servers/clients/client-a/custom-crm-mcp/scalewize.json";
const STORE_A: &str = "client-configs/client-a/secrets.env";
const TEMPLATE: &str = "templates/librechat.yaml.j2";

fn store_line(name: &str) -> (usize, String) {
    read(STORE_A)
        .lines()
        .enumerate()
        .find_map(|(i, l)| {
            l.strip_prefix(&format!("{name}="))
                .map(|v| (i + 1, v.to_string()))
        })
        .unwrap()
}

fn store_with(edits: &[(&str, &str)]) -> String {
    read(STORE_A)
        .lines()
        .map(|l| {
            for (name, value) in edits {
                if l.starts_with(&format!("{name}=")) {
                    return format!("{name}={value}");
                }
            }
            l.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

pub fn cases() -> Vec<Case> {
    let va = &["validate", "client-a"];
    let store_lines = read(STORE_A).lines().count();
    let (mongo_line, mongo) = store_line("MONGO_URI");
    let (jwt_line, jwt) = store_line("JWT_SECRET");
    let template = read(TEMPLATE);
    let template_lines = template.lines().count();
    vec![
        // The list.
        Case::new("mcp_servers: null", va, 1)
            .json(A, |v| v["mcp_servers"] = Value::Null)
            .expect(format!("{A}:8:1: mcp_servers: `mcp_servers` is null"))
            .expect("for a list, `[]`"),
        Case::new("run.cargo_bin climbing out", va, 1)
            .json(CRM, |v| v["run"] = json!({"cargo_bin": "../../../bin/true"}))
            .expect(format!("{CRM}: run.cargo_bin"))
            .expect("is not a binary name"),
        Case::new("an image tagged latest", va, 1)
            .json(CRM, |v| v["image"] = json!("ghcr.io/scalewize-example/custom-crm-mcp:latest"))
            .expect(format!("{CRM}: image"))
            .expect("`latest` is a moving tag"),
        Case::new("a BOM before the JSON is accepted", va, 0).write(
            A,
            [b"\xef\xbb\xbf".as_slice(), read(A).as_bytes()].concat(),
        ),
        Case::new("invalid UTF-8 names line and column", va, 1)
            .write(A, {
                let mut b = read(A).into_bytes();
                let at = read(A).find("Client A Corporation").unwrap();
                b[at + 7] = 0xff;
                b
            })
            .expect(format!("{A}:4:26: the file is not UTF-8 text")),
        Case::new("a misspelled template variable", va, 1)
            .write(TEMPLATE, template.replace("client.name", "client.nmae"))
            .expect(format!("{TEMPLATE}:7"))
            .expect("`client.nmae` is undefined"),
        Case::new("a corrupt secrets.env line", va, 1)
            .write(STORE_A, read(STORE_A) + "not a store line\n")
            .expect(format!("{STORE_A}:{}:1: not a store line", store_lines + 1))
            .expect(format!("git checkout -- {STORE_A}")),
        Case::new("a corrupt secrets.env line stops deploy once", &["deploy", "client-a", "--yes"], 1)
            .write(STORE_A, read(STORE_A) + "not a store line\n")
            .expect(format!("{STORE_A}:{}:1: not a store line", store_lines + 1)),
        Case::new("secret set into a store with a value for another key", &["secret", "set", "client-a", "NEW_ONE"], 1)
            .write(STORE_A, store_with(&[("MONGO_URI", "age:YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBub3RhcmVhbGtleQp4Ci0tLSB4Cng=")]))
            .stdin(b"value")
            .expect(format!("refusing to write to {STORE_A}"))
            .expect(format!("`MONGO_URI` (line {mongo_line})")),
        Case::new("swapped ciphertexts fail validate", va, 1)
            .write(STORE_A, store_with(&[("MONGO_URI", &jwt), ("JWT_SECRET", &mongo)]))
            .expect(format!("{STORE_A}:{mongo_line}"))
            .expect("was encrypted for `JWT_SECRET`"),
        Case::new("swapped ciphertexts fail deploy", &["deploy", "client-a", "--yes"], 1)
            .write(STORE_A, store_with(&[("MONGO_URI", &jwt), ("JWT_SECRET", &mongo)]))
            .expect(format!("{STORE_A}:{jwt_line}")),
        // JSON syntax.
        Case::new("a missing comma", va, 1)
            .write(A, read(A).replacen("\"client-a\",", "\"client-a\"", 1))
            .expect(format!("{A}:4:3: JSON syntax error")),
        Case::new("trailing garbage", va, 1)
            .write(A, read(A) + "}\n")
            .expect(format!("{A}:23:1: JSON syntax error")),
        Case::new("an empty client file", va, 1)
            .write(A, "")
            .expect(format!("{A}:1:0: JSON syntax error")),
        Case::new("a JSON array instead of an object", va, 1)
            .write(A, "[]\n")
            .expect(format!("{A}:1:")),
        Case::new("a truncated file", va, 1)
            .write(A, &read(A)[..200])
            .expect(format!("{A}:")).expect("JSON syntax error"),
        Case::new("a BOM in a manifest is accepted", va, 0).write(
            CRM,
            [b"\xef\xbb\xbf".as_slice(), read(CRM).as_bytes()].concat(),
        ),
        // Identity and structure.
        Case::new("client_id of another client", va, 1)
            .json(A, |v| v["client_id"] = json!("client-b"))
            .expect(format!("{A}: client_id: `client_id` is \"client-b\"")),
        Case::new("an empty client_name", va, 1)
            .json(A, |v| v["client_name"] = json!("  "))
            .expect(format!("{A}: client_name: missing `client_name`")),
        Case::new("two servers with the same name", va, 1)
            .json(A, |v| {
                let s = v["mcp_servers"][1].clone();
                v["mcp_servers"].as_array_mut().unwrap().push(s);
            })
            .expect(format!("{A}: mcp_servers[2]")),
        Case::new("a server folder that does not exist", va, 1)
            .json(A, |v| v["mcp_servers"][1]["server"] = json!("no-such-mcp"))
            .expect(format!("{A}: mcp_servers[1].name"))
            .expect("custom-mcp-servers/clients/client-a/no-such-mcp does not exist"),
        Case::new("a server without a name", va, 1)
            .json(A, |v| {
                v["mcp_servers"][1].as_object_mut().unwrap().remove("name");
            })
            .expect(format!("{A}:")).expect("mcp_servers[1]: missing field `name`"),
        Case::new("an unknown server type", va, 1)
            .json(A, |v| v["mcp_servers"][1]["type"] = json!("private"))
            .expect(format!("{A}:")).expect("mcp_servers[1].type"),
        Case::new("sse for a deployed server", va, 1)
            .json(A, |v| v["mcp_servers"][1]["transport"] = json!("sse"))
            .expect(format!("{A}: mcp_servers[1].transport")),
        Case::new("an external URL with an unknown reference", va, 1)
            .json(A, |v| {
                v["mcp_servers"].as_array_mut().unwrap().push(json!({"name": "Wiki", "type": "shared", "url": "https://${WIKI_HOST}/mcp"}));
            })
            .expect(format!("{A}: mcp_servers[2].url")),
        Case::new("an external URL that is not a URL", va, 1)
            .json(A, |v| {
                v["mcp_servers"].as_array_mut().unwrap().push(json!({"name": "Wiki", "type": "shared", "url": "wiki.example"}));
            })
            .expect(format!("{A}: mcp_servers[2].url")),
        Case::new("a header referencing an unlisted secret", va, 1)
            .json(A, |v| {
                v["mcp_servers"].as_array_mut().unwrap().push(json!({"name": "Wiki", "type": "shared", "url": "https://wiki.example/mcp", "headers": {"Authorization": "Bearer ${WIKI_TOKEN}"}}));
            })
            .expect(format!("{A}: mcp_servers[2].headers.Authorization"))
            .expect("`${WIKI_TOKEN}` is not a known reference"),
        Case::new("an invalid header name", va, 1)
            .json(A, |v| {
                v["mcp_servers"].as_array_mut().unwrap().push(json!({"name": "Wiki", "type": "shared", "url": "https://wiki.example/mcp", "headers": {"Bad Header": "x"}}));
            })
            .expect(format!("{A}: mcp_servers[2].headers.Bad Header")),
        Case::new("an external per-user-instance server", va, 1)
            .json(A, |v| {
                v["mcp_servers"].as_array_mut().unwrap().push(json!({"name": "Wiki", "type": "shared", "url": "https://wiki.example/mcp", "credential_mode": "per-user-instance"}));
            })
            .expect(format!("{A}: mcp_servers[2].credential_mode")),
        Case::new("librechat.image latest", va, 1)
            .json(A, |v| v["librechat"]["image"] = json!("ghcr.io/danny-avila/librechat:latest"))
            .expect(format!("{A}: librechat.image")),
        Case::new("librechat.image without a tag", va, 1)
            .json(A, |v| v["librechat"]["image"] = json!("ghcr.io/danny-avila/librechat"))
            .expect(format!("{A}: librechat.image")).expect("it has no tag"),
        Case::new("librechat.domain that is not a URL", va, 1)
            .json(A, |v| v["librechat"]["domain"] = json!("chat.client-a"))
            .expect(format!("{A}: librechat.domain")),
        Case::new("an invalid librechat.env name", va, 1)
            .json(A, |v| v["librechat"]["env"] = json!({"BAD-NAME": "x"}))
            .expect(format!("{A}: librechat.env.BAD-NAME")),
        Case::new("a secret in librechat.env", va, 1)
            .json(A, |v| v["librechat"]["env"] = json!({"JWT_SECRET": "x"}))
            .expect(format!("{A}: librechat.env.JWT_SECRET")),
        Case::new("an invalid env_override name", va, 1)
            .json(A, |v| v["librechat"]["env_override"] = json!(["not valid"]))
            .expect(format!("{A}: librechat.env_override[0]")),
        Case::new("an env value with a newline", va, 1)
            .json(A, |v| {
                v["librechat"]["env"] = json!({"MY_SETTING": "a\nb"});
            })
            .expect(format!("{A}: librechat.env.MY_SETTING")),
        // Reserved variables.
        Case::new("a server whose URL variable is RAG_API_URL", va, 1)
            .json(A, |v| {
                v["mcp_servers"].as_array_mut().unwrap().push(json!({"name": "RAG", "server": "rag-api", "type": "shared", "url": "https://rag.example/mcp"}));
            })
            .expect(format!("{A}: mcp_servers[2].name")).expect("`RAG_API_URL`"),
        Case::new("librechat.env PORT", va, 1)
            .json(A, |v| v["librechat"]["env"] = json!({"PORT": "x"}))
            .expect(format!("{A}: librechat.env.PORT")),
        Case::new("a header secret named OPENAI_API_KEY", va, 1)
            .json(A, |v| {
                v["mcp_servers"].as_array_mut().unwrap().push(json!({"name": "Wiki", "type": "shared", "url": "https://wiki.example/mcp", "secrets": ["OPENAI_API_KEY"], "headers": {"Authorization": "Bearer ${OPENAI_API_KEY}"}}));
            })
            .expect(format!("{A}: mcp_servers[2].secrets[0]")),
        // Manifests.
        Case::new("port 0", va, 1)
            .json(CRM, |v| v["port"] = json!(0))
            .expect(format!("{CRM}: port")),
        Case::new("port out of range", va, 1)
            .json(CRM, |v| v["port"] = json!(70000))
            .expect(format!("{CRM}:")).expect("port: invalid value"),
        Case::new("a path without a slash", va, 1)
            .json(CRM, |v| v["path"] = json!("mcp"))
            .expect(format!("{CRM}: path")),
        Case::new("a health path with a space", va, 1)
            .json(CRM, |v| v["health_path"] = json!("/he alth"))
            .expect(format!("{CRM}: health_path")),
        Case::new("an undeployable size", va, 1)
            .json(CRM, |v| v["size"] = json!({"cpus": 1, "memory_mb": 100}))
            .expect(format!("{CRM}: size")),
        Case::new("run with both cargo_bin and command", va, 1)
            .json(CRM, |v| v["run"] = json!({"cargo_bin": "custom-crm-mcp", "command": ["./x"]}))
            .expect(format!("{CRM}: run")),
        Case::new("run with neither", va, 1)
            .json(CRM, |v| v["run"] = json!({}))
            .expect(format!("{CRM}: run")),
        Case::new("an empty command", va, 1)
            .json(CRM, |v| v["run"] = json!({"command": []}))
            .expect(format!("{CRM}: run.command")),
        Case::new("a command climbing out", va, 1)
            .json(CRM, |v| v["run"] = json!({"command": ["../../../../../bin/true"]}))
            .expect(format!("{CRM}: run.command[0]")),
        Case::new("an image with whitespace", va, 1)
            .json(CRM, |v| v["image"] = json!("ghcr.io/x/y :1"))
            .expect(format!("{CRM}: image")),
        Case::new("an image without a tag", va, 1)
            .json(CRM, |v| v["image"] = json!("ghcr.io/scalewize-example/custom-crm-mcp"))
            .expect(format!("{CRM}: image")),
        Case::new("an invalid manifest secret name", va, 1)
            .json(CRM, |v| v["secrets"] = json!(["not valid"]))
            .expect(format!("{CRM}: secrets[0]")),
        Case::new("a manifest that is not JSON", va, 1)
            .write(CRM, "run: cargo\n")
            .expect(format!("{CRM}:1:1: JSON syntax error")),
        // The secret store.
        Case::new("a store value that is not encrypted", va, 1)
            .write(STORE_A, store_with(&[("MONGO_URI", "mongodb://u:p@h/db")]))
            .expect(format!("{STORE_A}:{mongo_line}:1"))
            .expect("is not encrypted"),
        Case::new("a store value that is not base64", va, 1)
            .write(STORE_A, store_with(&[("MONGO_URI", "age:!!!")]))
            .expect(format!("{STORE_A}:{mongo_line}:1")),
        Case::new("a store value that is damaged", va, 1)
            .write(STORE_A, store_with(&[("MONGO_URI", "age:AAAA")]))
            .expect(format!("{STORE_A}:{mongo_line}")).expect("damaged"),
        Case::new("a duplicated store line", va, 1)
            .write(STORE_A, read(STORE_A) + &format!("MONGO_URI={mongo}\n"))
            .expect(format!("{STORE_A}:{}:1", store_lines + 1)).expect("appears twice"),
        Case::new("an invalid user in the store", va, 1)
            .write(STORE_A, read(STORE_A) + "Alice!/X=age:AAAA\n")
            .expect(format!("{STORE_A}:{}:1", store_lines + 1)),
        Case::new("a store that is not UTF-8", va, 1)
            .write(STORE_A, b"\xff\xfe\n".to_vec())
            .expect(STORE_A.to_string()).expect("not UTF-8"),
        // Templates.
        Case::new("a template syntax error", va, 1)
            .write(TEMPLATE, template.replace("[% endblock %]", "[% endblok %]"))
            .expect(format!("{TEMPLATE}:{template_lines}")),
        Case::new("an unknown template filter", va, 1)
            .write(TEMPLATE, template.replace("client.name ~", "client.name | shout ~"))
            .expect(format!("{TEMPLATE}:7")),
        // Workspace settings.
        Case::new("a recipient that is not a key", &["validate"], 1)
            .json("scalewize.json", |v| v["recipients"] = json!(["age1nope"]))
            .expect("scalewize.json: recipients"),
        Case::new("a prefix with capitals", &["validate"], 1)
            .json("scalewize.json", |v| v["prefix"] = json!("SW"))
            .expect("scalewize.json: prefix"),
        // Links out of the workspace.
        Case::new("a client folder linked outside", va, 1)
            .link_out("client-configs/client-a")
            .expect("client-configs/client-a is a symbolic link to"),
        Case::new("a template linked outside", va, 1)
            .link_out(TEMPLATE)
            .expect(format!("{TEMPLATE} is a symbolic link to")),
        Case::new("a server folder linked outside", va, 1)
            .link_out("custom-mcp-servers/clients/client-a/custom-crm-mcp")
            .expect("custom-mcp-servers/clients/client-a/custom-crm-mcp is a symbolic link to"),
        // The same breakage through render and deploy: refused before anything is written.
        Case::new("render with mcp_servers null", &["render", "client-a"], 1)
            .json(A, |v| v["mcp_servers"] = Value::Null)
            .expect(format!("{A}:8:1: mcp_servers")),
        Case::new("deploy with an unpinned image", &["deploy", "client-a", "--yes", "--platform", "fly"], 1)
            .json(CRM, |v| v["image"] = json!("ghcr.io/x/y:latest"))
            .expect(format!("{CRM}: image")),
        Case::new("deploy with a reserved variable", &["deploy", "client-a", "--yes"], 1)
            .json(A, |v| v["librechat"]["env"] = json!({"PORT": "x"}))
            .expect(format!("{A}: librechat.env.PORT")),
    ]
}
