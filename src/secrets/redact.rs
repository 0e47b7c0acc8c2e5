//! Redaction for debug output (`-vvv`): headers that carry credentials are masked by name, and a
//! `Redactor` replaces every known secret value in a text with `<redacted:NAME>`. The deploy
//! engine passes each outgoing log line and request dump through both.

use std::fmt;

use super::Secret;

pub const REDACTED: &str = "<redacted>";

/// Headers masked whatever their value looks like.
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "project-access-token",
    "fly-machine-lease-nonce",
    "x-mcp-access-token",
    "cookie",
    "set-cookie",
];

/// A header whose name contains one of these is masked too (`X-GHL-Api-Key`, `X-Auth-User`…).
const SENSITIVE_PARTS: &[&str] = &["token", "key", "secret", "auth", "cookie", "password"];

pub fn is_sensitive_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_HEADERS.contains(&lower.as_str()) || SENSITIVE_PARTS.iter().any(|p| lower.contains(p))
}

/// One header's value as it may be logged. `Authorization: Bearer x` keeps its scheme.
pub fn redact_header(name: &str, value: &str) -> String {
    if !is_sensitive_header(name) {
        return value.to_string();
    }
    if name.to_ascii_lowercase().ends_with("authorization")
        && let Some((scheme, rest)) = value.split_once(' ')
        && !rest.is_empty()
        && scheme.chars().all(|c| c.is_ascii_alphabetic())
    {
        return format!("{scheme} {REDACTED}");
    }
    REDACTED.to_string()
}

/// Headers as they may be logged: every credential-bearing value masked.
pub fn redact_headers<N: AsRef<str>, V: AsRef<str>>(headers: &[(N, V)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_ref().to_string(),
                redact_header(n.as_ref(), v.as_ref()),
            )
        })
        .collect()
}

/// A URL as it may be logged: passwords in the authority and sensitive query parameters
/// (`token`, `key`, `secret`, `auth`, `password`… in the name) are masked.
pub fn redact_url(url: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split(':').next().unwrap_or("");
                    format!("{scheme}://{user}:{REDACTED}@{host}{path}")
                }
                None => head.to_string(),
            }
        }
        None => head.to_string(),
    };
    if let Some(q) = query {
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if is_sensitive_header(k) => format!("{k}={REDACTED}"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// One request for `-vvv` output: method, URL and headers, credentials masked.
pub fn format_request<N: AsRef<str>, V: AsRef<str>>(
    method: &str,
    url: &str,
    headers: &[(N, V)],
) -> String {
    let mut s = format!("{method} {}", redact_url(url));
    for (n, v) in redact_headers(headers) {
        s.push_str(&format!("\n  {n}: {v}"));
    }
    s
}

/// Values shorter than this are not searched for: they would match everywhere, and a value
/// that short protects nothing anyway.
pub const MIN_REDACTED_LEN: usize = 4;

/// Replaces every known secret value occurring in a text with `<redacted:NAME>`.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a value containing another is replaced whole.
    values: Vec<(String, Secret)>,
}

impl Redactor {
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Know one more value. Values shorter than `MIN_REDACTED_LEN` are ignored.
    pub fn add(&mut self, name: &str, value: &Secret) {
        if value.expose().len() < MIN_REDACTED_LEN || self.values.iter().any(|(_, v)| v == value) {
            return;
        }
        let at = self
            .values
            .iter()
            .position(|(_, v)| v.expose().len() < value.expose().len())
            .unwrap_or(self.values.len());
        self.values.insert(at, (name.to_string(), value.clone()));
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every known value replaced by `<redacted:NAME>`.
    pub fn redact(&self, text: &str) -> String {
        if self.values.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'scan: while let Some(c) = rest.chars().next() {
            for (name, v) in &self.values {
                if rest.starts_with(v.expose()) {
                    out.push_str("<redacted:");
                    out.push_str(name);
                    out.push('>');
                    rest = &rest[v.expose().len()..];
                    continue 'scan;
                }
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// Redact headers by name, then by value.
    pub fn redact_headers<N: AsRef<str>, V: AsRef<str>>(
        &self,
        headers: &[(N, V)],
    ) -> Vec<(String, String)> {
        redact_headers(headers)
            .into_iter()
            .map(|(n, v)| (n, self.redact(&v)))
            .collect()
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field(
                "names",
                &self.values.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_masked_by_name() {
        let out = redact_headers(&[
            ("Authorization", "Bearer rw_abc123"),
            ("Project-Access-Token", "pat-1"),
            ("fly-machine-lease-nonce", "n0nce"),
            ("X-MCP-Access-Token", "tok"),
            ("X-GHL-Api-Key", "ghl"),
            ("Cookie", "sid=1"),
            ("X-Client-Secret", "s"),
            ("Proxy-Authorization", "Basic dXNlcjpwdw=="),
            ("Content-Type", "application/json"),
            ("User-Agent", "scalewize/0.1"),
        ]);
        let get = |n: &str| out.iter().find(|(k, _)| k == n).unwrap().1.clone();
        assert_eq!(get("Authorization"), "Bearer <redacted>");
        assert_eq!(get("Proxy-Authorization"), "Basic <redacted>");
        for n in [
            "Project-Access-Token",
            "fly-machine-lease-nonce",
            "X-MCP-Access-Token",
            "X-GHL-Api-Key",
            "Cookie",
            "X-Client-Secret",
        ] {
            assert_eq!(get(n), REDACTED, "{n}");
        }
        assert_eq!(get("Content-Type"), "application/json");
        assert_eq!(get("User-Agent"), "scalewize/0.1");
        // A bare token in Authorization (no scheme) is masked whole.
        assert_eq!(redact_header("authorization", "abc"), REDACTED);
    }

    #[test]
    fn urls_and_requests_are_masked() {
        assert_eq!(
            redact_url("https://u:hunter2@db.example:5432/x?token=abc&page=2#top"),
            "https://u:<redacted>@db.example:5432/x?token=<redacted>&page=2#top"
        );
        assert_eq!(
            redact_url("https://api.machines.dev/v1/apps?org_slug=acme"),
            "https://api.machines.dev/v1/apps?org_slug=acme"
        );
        assert_eq!(
            redact_url("/graphql?api_key=k"),
            "/graphql?api_key=<redacted>"
        );
        let r = format_request(
            "POST",
            "https://backboard.railway.com/graphql/v2",
            &[
                ("Authorization", "Bearer rw_123"),
                ("Content-Type", "application/json"),
            ],
        );
        assert_eq!(
            r,
            "POST https://backboard.railway.com/graphql/v2\n  Authorization: Bearer <redacted>\n  Content-Type: application/json"
        );
        assert!(!r.contains("rw_123"));
    }

    #[test]
    fn redactor_replaces_known_values() {
        let mut r = Redactor::new();
        r.add("DB", &Secret::new("mongodb://u:pw@h/db"));
        r.add("PW", &Secret::new("pw@h"));
        r.add("TINY", &Secret::new("ab"));
        let line = "connect mongodb://u:pw@h/db then pw@h, ab stays; é mongodb://u:pw@h/db";
        assert_eq!(
            r.redact(line),
            "connect <redacted:DB> then <redacted:PW>, ab stays; é <redacted:DB>"
        );
        assert_eq!(r.len(), 2);
        assert!(!format!("{r:?}").contains("pw@h"));
        let hs = r.redact_headers(&[("X-Debug", "was pw@h")]);
        assert_eq!(hs[0].1, "was <redacted:PW>");
    }
}
