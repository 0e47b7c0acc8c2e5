//! The plan as Markdown, for a CI step summary or a pull-request comment: one table row per
//! action with the fields it changes (names only; secrets are compared by fingerprint anyway).

use super::{Plan, summary_line};
use crate::model::Op;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `| | service | platform | changes |` rows grouped as the terminal plan is, and the summary line.
pub fn plan_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        out.push_str("No platform changes: everything is live as configured.\n\n");
    } else {
        out.push_str("| | service | platform | changes |\n|---|---|---|---|\n");
        for a in &plan.actions {
            let op = match a.op {
                Op::Create => "➕ create",
                Op::Update => "🔄 update",
                Op::Delete => "➖ delete",
            };
            let changes = match a.op {
                Op::Update => a
                    .changes
                    .iter()
                    .map(|c| format!("`{}`", cell(&c.field)))
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => format!("{} settings", a.changes.len()),
            };
            out.push_str(&format!(
                "| {op} | `{}` | {} | {changes} |\n",
                cell(&a.key.to_string()),
                a.platform
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!("**{}**\n", summary_line(plan)));
    out
}
