//! The example GitHub Actions workflow works: every step that runs `scalewize` is executed,
//! as GitHub would (bash -eo pipefail, its `env`, `GITHUB_ACTIONS=true`), against a temporary
//! git repository holding the example workspace: a pull request, then the merge to main and
//! its deploy on the local platform. And findings become `::error file=…` annotations.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common;

use common::TempWorkspace;
use common::local::{Cleanup, run_with};

const WORKFLOW: &str = ".github/workflows/scalewize.example.yml";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=CI", "-c", "user.email=ci@example.test"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Step {
    name: String,
    run: String,
}

/// Job name → its steps that run scalewize, in file order.
type Jobs = BTreeMap<String, Vec<Step>>;

/// Each job's steps that run scalewize, and the workflow's `env`.
fn scalewize_steps() -> (Jobs, Vec<(String, String)>) {
    let text = std::fs::read_to_string(common::repo_root().join(WORKFLOW)).unwrap();
    let doc = scalewize::yaml::from_str(&text).unwrap();
    let str_of = |v: &scalewize::yaml::Value| v.as_str().map(str::to_string);
    let env = doc["env"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (str_of(k).unwrap(), str_of(v).unwrap_or_default()))
        .collect();
    let mut jobs = BTreeMap::new();
    for (name, job) in doc["jobs"].as_mapping().unwrap() {
        let steps = job["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|s| {
                let run = str_of(&s["run"])?;
                run.lines()
                    .any(|l| l.trim_start().starts_with("scalewize "))
                    .then(|| Step {
                        name: str_of(&s["name"]).unwrap_or_default(),
                        run,
                    })
            })
            .collect();
        jobs.insert(str_of(name).unwrap(), steps);
    }
    (jobs, env)
}

/// Replace `${{ … }}` expressions; an expression the test does not know fails it.
fn expand(text: &str, known: &BTreeMap<&str, String>) -> String {
    let re = regex::Regex::new(r"\$\{\{\s*([^}]+?)\s*\}\}").unwrap();
    re.replace_all(text, |c: &regex::Captures| {
        let expr = &c[1];
        if expr.starts_with("secrets.") || expr.starts_with("vars.") {
            return String::new();
        }
        known
            .get(expr)
            .cloned()
            .unwrap_or_else(|| panic!("the test does not know `{expr}`"))
    })
    .into_owned()
}

fn run_job(
    ws: &TempWorkspace,
    steps: &[Step],
    env: &[(String, String)],
    known: &BTreeMap<&str, String>,
    summary: &Path,
) {
    let bin_dir = Path::new(common::bin()).parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for step in steps {
        let script = expand(&step.run, known);
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
            .current_dir(ws.path())
            .env("PATH", &path)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", summary)
            .env_remove("NO_COLOR")
            .env_remove("SCALEWIZE_AGE_KEY");
        for (k, v) in common::local::env() {
            cmd.env(k, v);
        }
        for (k, v) in env {
            let v = expand(v, known);
            // An unset secret is absent, as on GitHub (the example reads its identity file).
            if !v.is_empty() {
                cmd.env(k, v);
            }
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "step `{}` failed ({:?}):\n{script}\n--- stdout\n{}\n--- stderr\n{}",
            step.name,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_example_workflow_plans_a_pull_request_and_deploys_main() {
    let (jobs, env) = scalewize_steps();
    for job in ["plan", "plan-main", "deploy"] {
        assert!(!jobs[job].is_empty(), "job {job} runs no scalewize command");
    }
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    ws.write(
        ".gitignore",
        ".scalewize/\nplan.json\nplan.txt\ncomment.md\n",
    );
    let dir = ws.path();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "the workspace"]);
    let base = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["update-ref", "refs/remotes/origin/main", &base]);

    // A pull request: client-b's ERP description changes, rendered by its author.
    git(dir, &["checkout", "-q", "-b", "feature"]);
    let path = "client-configs/client-b/mcp-servers.json";
    ws.write(
        path,
        &ws.read(path)
            .replace("Invoices and purchase orders", "Invoices, orders"),
    );
    assert_eq!(run_with(&ws, &["render", "client-b"], &[]).code, 0);
    git(
        dir,
        &["commit", "-q", "-am", "client-b: shorter ERP description"],
    );

    let summary = dir.join("step-summary.md");
    let known = BTreeMap::from([
        ("github.base_ref", "main".to_string()),
        ("github.event.before", base.clone()),
    ]);
    run_job(&ws, &jobs["plan"], &env, &known, &summary);
    let plan_text = ws.read("plan.txt");
    assert!(
        plan_text.contains("+ client-b/custom-erp-mcp"),
        "{plan_text}"
    );
    assert!(
        !plan_text.contains("client-a"),
        "only the changed client: {plan_text}"
    );
    let md = ws.read("step-summary.md");
    assert!(
        md.contains("### scalewize plan") && md.contains("`client-b/custom-erp-mcp`"),
        "{md}"
    );
    assert!(md.contains("### scalewize validate"), "{md}");

    // The merge to main, then its plan and deploy.
    git(dir, &["checkout", "-q", "main"]);
    git(dir, &["merge", "-q", "--ff-only", "feature"]);
    std::fs::remove_file(dir.join("plan.json")).unwrap();
    run_job(&ws, &jobs["plan-main"], &env, &known, &summary);
    run_job(&ws, &jobs["deploy"], &env, &known, &summary);
    let status = run_with(&ws, &["status", "client-b"], &[]);
    assert_eq!(status.code, 0, "deployed and healthy: {status:?}");
}

#[test]
fn in_github_actions_findings_are_annotations_on_their_file_and_line() {
    let ws = TempWorkspace::example();
    let path = "client-configs/client-a/mcp-servers.json";
    ws.write(
        path,
        &ws.read(path)
            .replacen("\"client_name\"", "\"client_nam\"", 1),
    );
    let summary = ws.path().join("summary.md");
    let summary_env = summary.display().to_string();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", summary_env.as_str()),
    ];
    for args in [
        vec!["validate"],
        vec!["validate", "--json"],
        vec!["diff", "--local"],
    ] {
        let run = ws.run_env(&args, &env);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        let annotation = run
            .stderr
            .lines()
            .find(|l| l.starts_with("::error file=client-configs/client-a/mcp-servers.json,line="))
            .unwrap_or_else(|| panic!("{args:?}: no annotation: {run:?}"));
        assert!(annotation.contains(",col="), "{annotation}");
        assert!(annotation.contains("client_nam"), "{annotation}");
        if args.contains(&"--json") {
            serde_json::from_str::<serde_json::Value>(&run.stdout).expect("stdout stays JSON");
        }
    }
    let md = ws.read("summary.md");
    assert!(md.contains("client_nam"), "{md}");
    // Outside GitHub Actions: no workflow commands.
    let plain = ws.run(&["validate"]);
    assert!(!plain.all().contains("::error"), "{plain:?}");
}
