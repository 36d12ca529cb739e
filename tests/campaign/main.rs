//! One integration binary: every test drives the real `campaign` executable,
//! real runs against a Connectly stand-in served over HTTP on 127.0.0.1.

mod support;

mod advice;
mod bad_input;
mod boundaries;
mod catalogue;
mod check;
mod compliance;
mod dry_run;
mod html;
mod init;
mod ledger;
mod pacing;
mod report;
mod schema;
mod send;
mod senders;
mod shell;
mod webhooks;
