//! `scalewize cost` on the example workspace (real binary, real files): the JSON shape, the
//! figures per platform, workspace price overrides (and a malformed one), manifest usage; and the
//! monthly cost change `diff` ends with, against the Fly emulator.

use crate::common::TempWorkspace;
use crate::fly_support;

use serde_json::{Value, json};

fn cost_json(ws: &TempWorkspace, args: &[&str]) -> Value {
    let mut all = vec!["cost", "--json"];
    all.extend_from_slice(args);
    let r = ws.run(&all);
    assert_eq!(r.code, 0, "{r:?}");
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// A service by its label, `owner/service[@user]`, spelled from its `key` as every output names it.
fn service<'a>(v: &'a Value, name: &str) -> &'a Value {
    let label = |k: &Value| match k["user"].as_str() {
        Some(u) => format!(
            "{}/{}@{u}",
            k["owner"].as_str().unwrap(),
            k["service"].as_str().unwrap()
        ),
        None => format!(
            "{}/{}",
            k["owner"].as_str().unwrap(),
            k["service"].as_str().unwrap()
        ),
    };
    v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| label(&s["key"]) == name)
        .unwrap_or_else(|| panic!("no {name} in {v:#}"))
}

fn client<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == id)
        .unwrap_or_else(|| panic!("no {id} in {v:#}"))
}

#[test]
fn cost_all_json_has_the_documented_shape() {
    let ws = TempWorkspace::example();
    let v = cost_json(&ws, &["--all"]);
    assert_eq!(v["version"], 1);
    assert_eq!(v["command"], "cost");
    assert_eq!(v["prices"]["date"], "2026-08-07");
    assert!(v["prices"]["source"].as_str().unwrap().contains("Railway"));
    for key in ["services", "clients", "minimums", "comparisons"] {
        assert!(v[key].is_array(), "{key}: {v:#}");
    }
    let s = service(&v, "client-c/servicedesk-mcp@alice");
    for key in ["key", "platform", "clients", "monthly", "terms"] {
        assert!(s.get(key).is_some(), "{key} missing in {s:#}");
    }
    assert_eq!(s["key"]["user"], "alice", "{s:#}");
    // Railway's worst case only: left out elsewhere, never null.
    assert!(s.get("worst_case").is_none(), "{s:#}");
    // The example workspace runs everything locally: zero, said as such.
    assert_eq!(s["platform"], "local");
    assert_eq!(s["monthly"], "0.00");
    assert!(
        s["terms"][0]["what"]
            .as_str()
            .unwrap()
            .contains("this machine")
    );
    assert_eq!(v["total"], "0.00");
}

#[test]
fn on_fly_client_c_pays_three_times_1_94_for_its_per_user_servicedesk_instances() {
    let ws = TempWorkspace::example();
    let v = cost_json(&ws, &["--all", "--platform", "fly"]);
    for user in ["alice", "bob", "carol"] {
        let s = service(&v, &format!("client-c/servicedesk-mcp@{user}"));
        assert_eq!(s["monthly"], "1.94", "{s:#}");
        assert_eq!(s["clients"], json!(["client-c"]));
    }
    let lc = service(&v, "client-c/librechat")["monthly"]
        .as_str()
        .unwrap()
        .to_string();
    let c = client(&v, "client-c");
    let lc_cents: i64 = lc.replace('.', "").parse().unwrap();
    let total_cents: i64 = c["total"]
        .as_str()
        .unwrap()
        .replace('.', "")
        .parse()
        .unwrap();
    assert_eq!(total_cents, 582 + lc_cents, "{c:#}");
    let cmp = &v["comparisons"].as_array().unwrap()[0];
    assert_eq!(cmp["client"], "client-c");
    assert_eq!(cmp["users"], 3);
    assert_eq!(cmp["monthly"], "5.82");
    assert_eq!(cmp["other_mode"], "per-user-header");
    assert_eq!(cmp["other_monthly"], "1.94");

    let text = ws.run(&["cost", "client-c", "--platform", "fly"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("servicedesk-mcp@bob"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("prices of 2026-08-07"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(
            "3 user(s): $5.82 as per-user-instance ($1.94 per instance); $1.94 as per-user-header"
        ),
        "{}",
        text.stdout
    );
}

#[test]
fn on_railway_the_hobby_minimum_is_added_once_to_the_total_and_the_size_limit_shown() {
    let ws = TempWorkspace::example();
    let v = cost_json(&ws, &["--all", "--platform", "railway"]);
    let s = service(&v, "client-b/custom-erp-mcp");
    assert_eq!(s["monthly"], "1.70", "idle default: {s:#}");
    assert_eq!(s["worst_case"], "22.56");
    let mins = v["minimums"].as_array().unwrap();
    assert_eq!(mins.len(), 1, "{v:#}");
    assert_eq!(mins[0]["plan"], "hobby");
    assert_eq!(mins[0]["top_up"], "0.00", "usage is above $5: {v:#}");
}

#[test]
fn a_price_override_in_the_workspace_changes_the_figures() {
    let ws = TempWorkspace::example();
    fly_support::set_json(&ws, "scalewize.json", |v| {
        v["prices"] = json!({
            "date": "2026-09-01",
            "fly": {"presets": [{"cpus": 1, "memory_mb": 256, "usd": 2.5}]}
        })
    });
    let v = cost_json(&ws, &["client-c", "--platform", "fly"]);
    assert_eq!(v["prices"]["date"], "2026-09-01");
    assert!(
        v["prices"]["overridden_by"]
            .as_str()
            .unwrap()
            .ends_with("scalewize.json")
    );
    assert_eq!(
        service(&v, "client-c/servicedesk-mcp@alice")["monthly"],
        "2.50"
    );
    assert_eq!(v["comparisons"][0]["monthly"], "7.50");
}

#[test]
fn a_prices_json_beside_scalewize_json_overrides_too() {
    let ws = TempWorkspace::example();
    ws.write(
        "prices.json",
        r#"{"railway": {"vcpu": {"usd": "40", "source": "negotiated", "date": "2026-09-01"}}}"#,
    );
    let v = cost_json(&ws, &["client-b", "--platform", "railway"]);
    // 0.01 vCPU × $40 + 0.15 GB × $10 = $1.90
    assert_eq!(service(&v, "client-b/custom-erp-mcp")["monthly"], "1.90");
}

#[test]
fn a_malformed_price_override_is_a_clear_error() {
    let ws = TempWorkspace::example();
    ws.write(
        "prices.json",
        "{\n  \"fly\": {\n    \"dedicated_ipv4\": {\"usd\": \"2,00\"}\n  }\n}\n",
    );
    let r = ws.run(&["cost"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("prices.json"), "{}", r.stderr);
    assert!(r.stderr.contains(":3"), "names the line: {}", r.stderr);
    assert!(r.stderr.contains("fly.dedicated_ipv4.usd"), "{}", r.stderr);
    assert!(
        r.stderr.contains("plain non-negative decimal"),
        "{}",
        r.stderr
    );
}

#[test]
fn prices_in_both_places_are_refused_with_the_fix() {
    let ws = TempWorkspace::example();
    ws.write("prices.json", "{}");
    fly_support::set_json(&ws, "scalewize.json", |v| v["prices"] = json!({}));
    let r = ws.run(&["cost"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("keep one"), "{}", r.stderr);
}

#[test]
fn a_manifest_usage_lowers_a_fly_server_that_stops_when_idle() {
    let ws = TempWorkspace::example();
    fly_support::set_json(
        &ws,
        "custom-mcp-servers/clients/client-c/servicedesk-mcp/scalewize.json",
        |v| v["usage"] = json!({"active_fraction": 0.2}),
    );
    let v = cost_json(&ws, &["client-c", "--platform", "fly"]);
    // 0.2 × $1.94 running + 0.8 × 0.2 GB × $0.15 stopped = $0.412
    assert_eq!(
        service(&v, "client-c/servicedesk-mcp@alice")["monthly"],
        "0.41"
    );
}

#[test]
fn a_usage_share_above_one_is_an_error_naming_the_manifest() {
    let ws = TempWorkspace::example();
    fly_support::set_json(
        &ws,
        "custom-mcp-servers/clients/client-c/servicedesk-mcp/scalewize.json",
        |v| v["usage"] = json!({"active_fraction": 2}),
    );
    let r = ws.run(&["cost", "client-c"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("servicedesk-mcp/scalewize.json"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("between 0 and 1"), "{}", r.stderr);
}

#[test]
fn adding_a_fourth_user_to_client_c_makes_diff_show_plus_1_94_on_fly() {
    let emu = fly_support::emulator();
    let ws = fly_support::workspace();
    let r = fly_support::run(&ws, &emu, &["deploy", "client-c", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("monthly cost: $0.00 → $11.52 (+$11.52)"),
        "{}",
        r.stdout
    );

    fly_support::set_json(&ws, "client-configs/client-c/mcp-servers.json", |v| {
        v["users"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "dave", "name": "Dave Depot"}));
    });
    assert_eq!(ws.run(&["render", "client-c"]).code, 0);
    let g = ws.run(&["secret", "generate", "client-c"]);
    assert_eq!(g.code, 0, "{g:?}");
    for name in ["SDP_CLIENT_ID", "SDP_CLIENT_SECRET", "SDP_REFRESH_TOKEN"] {
        let s = ws.run_stdin(
            &["secret", "set", "client-c", "--user", "dave", name],
            &[],
            b"dave-value",
        );
        assert_eq!(s.code, 0, "{s:?}");
    }
    let diff = fly_support::run(&ws, &emu, &["diff", "client-c"]);
    assert!(
        diff.stdout
            .contains("monthly cost: $11.52 → $13.46 (+$1.94)"),
        "{diff:?}"
    );
    let json = fly_support::run(&ws, &emu, &["diff", "client-c", "--json"]);
    let v: Value = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {json:?}"));
    assert_eq!(
        v["cost"],
        json!({"before": "11.52", "after": "13.46", "change": "+1.94"})
    );
    for out in [&diff.stdout, &diff.stderr, &json.stdout, &json.stderr] {
        assert!(!out.contains("dave-value"), "a secret value leaked: {out}");
    }
}

#[test]
fn seed_000_per_user_figures_are_reproduced_from_the_workspace() {
    // Seed 000: shared-cpu-2x per user, $3.88 each; 10 users $38.80 a month.
    let ws = TempWorkspace::example();
    fly_support::set_json(
        &ws,
        "custom-mcp-servers/clients/client-c/servicedesk-mcp/scalewize.json",
        |v| v["size"] = json!({"cpus": 2, "memory_mb": 512}),
    );
    fly_support::set_json(&ws, "client-configs/client-c/mcp-servers.json", |v| {
        v["users"] = (1..=10)
            .map(|i| json!({"id": format!("user{i}")}))
            .collect();
    });
    let v = cost_json(&ws, &["client-c", "--platform", "fly"]);
    let cmp = &v["comparisons"][0];
    assert_eq!(cmp["users"], 10);
    assert_eq!(cmp["per_instance"], "3.88");
    assert_eq!(cmp["monthly"], "38.80");
    assert_eq!(cmp["other_monthly"], "3.88");
}

#[test]
fn a_shared_server_is_split_over_every_client_using_it_even_when_one_is_selected() {
    let ws = TempWorkspace::example();
    fly_support::set_json(&ws, "client-configs/client-b/mcp-servers.json", |v| {
        v["mcp_servers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "Knowledge Base", "enabled": true}));
    });
    let v = cost_json(&ws, &["client-a", "--platform", "fly"]);
    let kb = service(&v, "shared/knowledge-base-mcp");
    assert_eq!(kb["clients"], json!(["client-a", "client-b"]));
    assert_eq!(kb["monthly"], "1.94");
    assert_eq!(client(&v, "client-a")["shared_share"], "0.97");
    assert_eq!(
        v["clients"].as_array().unwrap().len(),
        1,
        "only the selection"
    );
}
