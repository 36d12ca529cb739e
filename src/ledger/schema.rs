//! The ledger's tables and their version.

use std::path::Path;

use crate::error::Error;

/// The version a ledger has once every migration below has run.
pub(super) const SCHEMA_VERSION: i64 = 1 + MIGRATIONS.len() as i64;

/// Changes after the first schema, in order: entry `i` takes a ledger from
/// version `i + 1` to `i + 2`, in one transaction. Append; never edit one
/// that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
    // 2: why a run stopped early, in words.
    "ALTER TABLE runs ADD COLUMN stop_reason TEXT",
    // 3: opt-outs and opt-ins: the latest word per customer wins, and says where it came from.
    // Per sent message: a fingerprint of its content (the repeat guard); WhatsApp's
    // marketing-limit refusals and when the key is owed again.
    "ALTER TABLE opt_outs ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
     ALTER TABLE opt_outs ADD COLUMN source TEXT;
     ALTER TABLE deliveries ADD COLUMN content INTEGER;
     ALTER TABLE deliveries ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE deliveries ADD COLUMN retry_at INTEGER;
     CREATE INDEX IF NOT EXISTS deliveries_recipient ON deliveries(recipient, sent_at) WHERE recipient IS NOT NULL;
     CREATE INDEX IF NOT EXISTS deliveries_reached ON deliveries(sent_at, recipient, status) WHERE route = 'template'",
    // 4: senders: the number each message went from, and inbound times per
    // (customer, business number) pair; '' is "a number we were not told",
    // which counts for every number (as earlier inbound records do).
    "ALTER TABLE deliveries ADD COLUMN sender TEXT;
     CREATE INDEX deliveries_recipient_sender ON deliveries(recipient, updated_at) WHERE sender IS NOT NULL;
     CREATE TABLE inbound_numbers(
       phone TEXT NOT NULL,
       number TEXT NOT NULL,
       last_at INTEGER NOT NULL,
       PRIMARY KEY(phone, number)
     ) WITHOUT ROWID;
     INSERT INTO inbound_numbers(phone, number, last_at) SELECT phone, '', last_at FROM inbound",
    // 5: the catalogue's category (MARKETING, UTILITY, AUTHENTICATION) of the
    // template each template send used, when the catalogue was known.
    "ALTER TABLE deliveries ADD COLUMN template_category TEXT",
];

/// The first schema (version 1).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY,
  campaign TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  outcome TEXT,
  pid INTEGER,
  host TEXT,
  fingerprint TEXT,
  files_changed INTEGER NOT NULL DEFAULT 0,
  counts TEXT
);
CREATE INDEX IF NOT EXISTS runs_campaign ON runs(campaign, id);
CREATE TABLE IF NOT EXISTS deliveries(
  campaign TEXT NOT NULL,
  key TEXT NOT NULL,
  row INTEGER,
  recipient TEXT,
  route TEXT,
  status TEXT NOT NULL,
  reason TEXT,
  message_id TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  fallback INTEGER NOT NULL DEFAULT 0,
  error_http INTEGER,
  error_code TEXT,
  error_message TEXT,
  run_id INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  sent_at INTEGER,
  PRIMARY KEY(campaign, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_message ON deliveries(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_templates ON deliveries(sent_at) WHERE route = 'template';
CREATE TABLE IF NOT EXISTS inbound(
  phone TEXT PRIMARY KEY,
  last_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS opt_outs(
  phone TEXT PRIMARY KEY,
  at INTEGER NOT NULL,
  campaign TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS statuses(
  message_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  rank INTEGER NOT NULL,
  error_code TEXT,
  error_message TEXT,
  campaign TEXT,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
";

pub(super) fn newer(path: &Path, version: i64) -> Error {
    Error::Ledger {
        path: path.to_path_buf(),
        what: format!("was written by a newer campaign (schema {version}; this one knows {SCHEMA_VERSION})"),
        fix: "upgrade campaign; never downgrade with a ledger in use".into(),
    }
}
