//! The plan as people read it: Terraform's `+` create, `~` update with the changed fields,
//! `-` delete, grouped by client, with a summary line. Secrets show only fingerprints.

use super::{Action, FieldChange, KNOWN_AFTER_APPLY, Plan};
use crate::model::Op;
use crate::ui::Ui;

fn short(v: &str) -> String {
    if v.chars().count() > 72 {
        format!("{}…", v.chars().take(71).collect::<String>())
    } else {
        v.to_string()
    }
}

fn change_line(ui: &Ui, c: &FieldChange) -> String {
    let show = |v: &Option<String>| match v {
        None => "(none)".to_string(),
        Some(v) if v == KNOWN_AFTER_APPLY => v.clone(),
        Some(v) => format!("{:?}", short(v)),
    };
    let digest = c.field.starts_with("secret.") || c.field.starts_with("file.");
    match (&c.old, &c.new) {
        (Some(o), Some(n)) if digest => {
            format!("      {} {}: changed ({o} → {n})", ui.yellow("~"), c.field)
        }
        (None, Some(_)) => format!("      {} {} = {}", ui.green("+"), c.field, show(&c.new)),
        (Some(_), None) => format!("      {} {}", ui.red("-"), c.field),
        _ => format!(
            "      {} {}: {} → {}",
            ui.yellow("~"),
            c.field,
            show(&c.old),
            show(&c.new)
        ),
    }
}

fn action_line(ui: &Ui, a: &Action) -> String {
    let (sym, verb) = match a.op {
        Op::Create => (ui.green("+"), "create"),
        Op::Update => (ui.yellow("~"), "update"),
        Op::Delete => (ui.red("-"), "delete"),
    };
    format!(
        "  {sym} {} {}",
        ui.bold(&a.key.to_string()),
        ui.dim(&format!("({verb} on {})", a.platform))
    )
}

pub fn summary_line(plan: &Plan) -> String {
    format!(
        "Plan: {} to create, {} to update, {} to delete, {} unchanged.",
        plan.count(Op::Create),
        plan.count(Op::Update),
        plan.count(Op::Delete),
        plan.unchanged.len()
    )
}

/// Print the plan grouped by owner; `verbose` lists every field of creates and deletes too.
pub fn print_plan(ui: &Ui, plan: &Plan) {
    let mut owners: Vec<&str> = plan.actions.iter().map(|a| a.key.owner.as_str()).collect();
    owners.sort_by_key(|o| (*o != crate::model::SHARED_OWNER, *o));
    owners.dedup();
    for owner in owners {
        let title = if owner == crate::model::SHARED_OWNER {
            "shared (used by several clients)".to_string()
        } else {
            owner.to_string()
        };
        ui.say(ui.bold(&title));
        for a in plan.actions.iter().filter(|a| a.key.owner == owner) {
            ui.say(action_line(ui, a));
            let list_all = ui.verbose > 0 || a.op == Op::Update;
            if list_all {
                for c in &a.changes {
                    ui.say(change_line(ui, c));
                }
            } else if a.op == Op::Create {
                ui.say(ui.dim(&format!(
                    "      ({} settings; -v lists them)",
                    a.changes.len()
                )));
            }
        }
    }
    if plan.is_empty() {
        ui.result("No changes: everything is live as configured.");
    }
    ui.result(summary_line(plan));
}
