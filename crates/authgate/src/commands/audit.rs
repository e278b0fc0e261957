//! `authgate audit list`: the audit log, newest first.

use crate::cli::{AuditCommand, Output};
use crate::output::{print, table, time};
use authgate_ops::{AuditQuery, Operations, PageRequest};

pub(super) async fn run(
    ops: &Operations,
    command: AuditCommand,
    output: Output,
) -> anyhow::Result<()> {
    let AuditCommand::List {
        actor,
        action,
        target,
        since,
        limit,
    } = command;
    let page = ops
        .audit(AuditQuery {
            actor,
            action,
            target_id: target,
            since,
            page: PageRequest {
                limit: Some(limit),
                cursor: None,
            },
            ..AuditQuery::default()
        })
        .await?;
    print(output, &page.items, || {
        table(
            &["TIME", "ACTOR", "SOURCE", "ACTION", "TARGET", "DETAILS"],
            page.items
                .iter()
                .map(|entry| {
                    vec![
                        time(Some(entry.at)),
                        entry.actor.clone(),
                        entry.source.clone(),
                        entry.action.clone(),
                        entry.target_id.clone(),
                        entry.details.to_string(),
                    ]
                })
                .collect(),
        )
    })
}
