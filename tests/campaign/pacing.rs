//! Pacing where it matters: what reaches the stand-in. Counts, not
//! timings, so a busy machine cannot make these fail.

use std::time::Duration;

use crate::support::standin::Config;
use crate::support::{Env, StandIn, people};

#[test]
fn a_server_slower_than_the_pace_slows_the_run_and_everyone_is_sent_once() {
    let env = Env::new();
    // The API allows 50/s; the campaign asks for 100/s.
    let s = StandIn::with(Config { latency: Duration::from_millis(10), per_second: 50 });
    crate::send::campaign_with(&env, &people(300), &crate::send::both_routes().pace(100, 1, Some(16)));
    let run = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]);
    run.expect(0).stderr_has("the pace was slowed");
    let got = s.received();
    let throttled = got.iter().filter(|r| r.status == 429).count();
    assert!(throttled * 100 < got.len() * 15, "{throttled} of {} requests answered 429", got.len());
    // A row that met 429 on every try is owed, never failed: a rerun sends it.
    let rows = run.rows();
    assert!(rows.iter().all(|r| r["status"] == "sent" || r["reason"] == "retry_after"), "sent or owed");
    env.send(&s, &["run", "c.yaml"]).expect(0);
    let accepted = s.accepted();
    assert_eq!(accepted.len(), 300);
    assert!(accepted.values().all(|n| *n == 1), "nobody twice");
}
