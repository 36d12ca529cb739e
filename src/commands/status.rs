//! `campaign status`: what the ledger knows about a campaign.

use std::io::Write;

use crate::campaign::Campaign;
use crate::cli::{StatusArgs, StatusFormat};
use crate::error::{Error, ExitCode, Result};
use crate::ledger::Ledger;
use crate::report::text::Style;

pub fn status(args: StatusArgs) -> Result<ExitCode> {
    let c = Campaign::load(&args.file)?;
    let state = args.state.unwrap_or_else(|| c.state.clone());
    let ledger = Ledger::open_read_only(&state)?;
    let (by_status, by_route, delivery, runs, failures, funnel_failures) = match &ledger {
        Some(l) => {
            let (s, r) = l.counts(&c.name)?;
            (s, r, l.delivery_counts(&c.name)?, l.runs(&c.name)?, l.failures(&c.name)?, l.delivery_failures(&c.name)?)
        }
        None => Default::default(),
    };
    let n = |m: &std::collections::HashMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let io = |e: std::io::Error| Error::io(std::path::Path::new("<stdout>"), e);
    match args.format {
        StatusFormat::Json => {
            let v = serde_json::json!({
                "campaign": c.name,
                "counts": {
                    "sent": n(&by_status, "sent"),
                    "failed": n(&by_status, "failed"),
                    "skipped": n(&by_status, "skipped"),
                    "unknown": n(&by_status, "unknown") + n(&by_status, "in_flight"),
                    "deferred": n(&by_status, "deferred"),
                },
                "routes": {"session": n(&by_route, "session"), "template": n(&by_route, "template")},
                "delivery": {
                    "delivered": n(&delivery, "delivered"),
                    "read": n(&delivery, "read"),
                    "delivery_failed": n(&delivery, "delivery_failed"),
                },
                "runs": runs,
                "failures": failures,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default()).map_err(io)?;
        }
        StatusFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let csv_err = |e: csv::Error| Error::io(std::path::Path::new("<stdout>"), std::io::Error::other(e));
            w.write_record(["row", "recipient", "key", "route", "status", "error_code", "error_message"])
                .map_err(csv_err)?;
            for f in &failures {
                w.write_record([
                    f.row.map(|r| r.to_string()).unwrap_or_default(),
                    f.recipient.clone().unwrap_or_default(),
                    f.key.clone(),
                    f.route.clone().unwrap_or_default(),
                    if f.status == "in_flight" { "unknown".into() } else { f.status.clone() },
                    f.error_code.clone().unwrap_or_default(),
                    f.error_message.clone().unwrap_or_default(),
                ])
                .map_err(csv_err)?;
            }
            w.flush().map_err(io)?;
        }
        StatusFormat::Text => {
            let st = Style::stdout();
            writeln!(out, "{}", st.bold(&c.name)).map_err(io)?;
            if ledger.is_none() {
                writeln!(out, "  no ledger at {} yet: nothing has been sent", state.display()).map_err(io)?;
                return Ok(ExitCode::Done);
            }
            writeln!(
                out,
                "  sent {} (session {}, template {}) · failed {} · unknown {} · skipped {} · deferred {}",
                n(&by_status, "sent"),
                n(&by_route, "session"),
                n(&by_route, "template"),
                n(&by_status, "failed"),
                n(&by_status, "unknown") + n(&by_status, "in_flight"),
                n(&by_status, "skipped"),
                n(&by_status, "deferred"),
            )
            .map_err(io)?;
            let sent = n(&by_status, "sent");
            if sent > 0 {
                let pct = |k: u64| {
                    if sent > 0 { 100.0 * k as f64 / sent as f64 } else { 0.0 }
                };
                let read = n(&delivery, "read");
                let delivered = n(&delivery, "delivered") + read;
                writeln!(
                    out,
                    "  delivery: sent {sent} → delivered {delivered} ({:.0}%) → read {read} ({:.0}%) · failed {}",
                    pct(delivered),
                    pct(read),
                    n(&delivery, "delivery_failed")
                )
                .map_err(io)?;
                for (code, k) in &funnel_failures {
                    writeln!(out, "    {code}: {k}").map_err(io)?;
                }
            }
            if !runs.is_empty() {
                writeln!(out, "{}", st.bold("runs")).map_err(io)?;
                for r in &runs {
                    writeln!(
                        out,
                        "  #{} {} → {} {}{}",
                        r.id,
                        r.started_at,
                        r.ended_at.as_deref().unwrap_or("(did not finish)"),
                        r.outcome.as_deref().unwrap_or("crashed or running"),
                        if r.files_changed { " · files changed" } else { "" }
                    )
                    .map_err(io)?;
                }
            }
            if !failures.is_empty() {
                writeln!(out, "{}", st.bold("failed and unknown")).map_err(io)?;
                for f in failures.iter().take(50) {
                    writeln!(
                        out,
                        "  row {} {} {} {}: {}",
                        f.row.unwrap_or(0),
                        f.recipient.as_deref().unwrap_or(""),
                        f.status,
                        f.error_code.as_deref().unwrap_or(""),
                        f.error_message.as_deref().unwrap_or("")
                    )
                    .map_err(io)?;
                }
                if failures.len() > 50 {
                    writeln!(out, "  … {} more: --format csv lists all", failures.len() - 50).map_err(io)?;
                }
                writeln!(
                    out,
                    "  retry: campaign run {} --retry-failed (and --retry-unknown for unknown ones)",
                    args.file.display()
                )
                .map_err(io)?;
            }
        }
    }
    Ok(ExitCode::Done)
}
