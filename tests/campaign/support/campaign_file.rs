//! Campaign files for tests, built key by key instead of patched as text:
//! `CampaignFile::new().csv("people.csv").template("t").per_second(50).write(&env, "c.yaml")`.
//!
//! The YAML is written in one layout: two-space indents, top-level keys in
//! the order of the README (name, business_id, sender, recipients, once_per,
//! session, template, window, rate, retry, limits, schedule, state; any
//! other key last), keys inside a section in the order first set. Setting a
//! key again changes its value in place, so the lines a test counts on stay
//! where they were.

use std::path::PathBuf;

use super::{Env, standin};

/// Top-level keys in the order they are written.
const ORDER: [&str; 13] = [
    "name",
    "business_id",
    "sender",
    "recipients",
    "once_per",
    "session",
    "template",
    "window",
    "rate",
    "retry",
    "limits",
    "schedule",
    "state",
];

#[derive(Debug, Clone)]
enum Node {
    /// A value exactly as written in YAML (quoted or not, or a flow collection).
    Value(String),
    Map(Vec<(String, Node)>),
}

#[derive(Debug, Clone)]
pub struct CampaignFile {
    root: Vec<(String, Node)>,
}

impl Default for CampaignFile {
    fn default() -> Self {
        CampaignFile::new()
    }
}

/// A string as a double-quoted YAML scalar.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl CampaignFile {
    /// `name: test-campaign` and the stand-in's `business_id`; nothing else.
    pub fn new() -> Self {
        CampaignFile { root: Vec::new() }.set("name", "test-campaign").set("business_id", standin::BUSINESS)
    }

    /// Both routes to `people.csv`: the body `hello.j2` inside the window,
    /// template `t` with `body_1: "{{ first_name }}"` outside it.
    pub fn hello() -> Self {
        CampaignFile::new().csv("people.csv").session_body("hello.j2").template("t").param("body_1", "{{ first_name }}")
    }

    /// Set the key at the dotted `path` (`rate.per_second`) to `raw`, YAML
    /// exactly as written; sections on the way are made when missing.
    pub fn set(mut self, path: &str, raw: impl ToString) -> Self {
        let keys: Vec<&str> = path.split('.').collect();
        let top = keys[0];
        let at = match self.root.iter().position(|(k, _)| k == top) {
            Some(i) => i,
            None => {
                let rank = |k: &str| ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len());
                let i = self.root.iter().position(|(k, _)| rank(k) > rank(top)).unwrap_or(self.root.len());
                self.root.insert(i, (top.to_string(), Node::Map(Vec::new())));
                i
            }
        };
        set_in(&mut self.root[at].1, &keys[1..], raw.to_string());
        self
    }

    /// Leave out the key at `path` (and all under it).
    pub fn without(mut self, path: &str) -> Self {
        let keys: Vec<&str> = path.split('.').collect();
        let (last, parents) = keys.split_last().unwrap();
        let mut map = &mut self.root;
        for k in parents {
            match map.iter_mut().find(|(name, _)| name == k) {
                Some((_, Node::Map(m))) => map = m,
                _ => panic!("no section `{k}` in the campaign file"),
            }
        }
        let before = map.len();
        map.retain(|(k, _)| k != last);
        assert!(map.len() < before, "no key `{path}` in the campaign file");
        self
    }

    /// Write the key at `path` under another name, where it was (a misspelling).
    pub fn rename(mut self, path: &str, to: &str) -> Self {
        let keys: Vec<&str> = path.split('.').collect();
        let mut map = &mut self.root;
        for (i, k) in keys.iter().enumerate() {
            let entry = map.iter_mut().find(|(name, _)| name == k).unwrap_or_else(|| panic!("no key `{path}`"));
            if i + 1 == keys.len() {
                entry.0 = to.to_string();
                break;
            }
            match &mut entry.1 {
                Node::Map(m) => map = m,
                Node::Value(_) => panic!("`{k}` is a value, not a section"),
            }
        }
        self
    }

    pub fn name(self, name: &str) -> Self {
        self.set("name", name)
    }

    pub fn business_id(self, id: &str) -> Self {
        self.set("business_id", id)
    }

    /// `sender`, as written: `"\"+14151111234\""` or `["+1…", "+1…"]`.
    pub fn sender(self, raw: &str) -> Self {
        self.set("sender", raw)
    }

    pub fn csv(self, path: &str) -> Self {
        self.set("recipients.csv", path)
    }

    /// Another key of `recipients` (`last_inbound_column`, `suppress`, …).
    pub fn recipients(self, key: &str, value: &str) -> Self {
        self.set(&format!("recipients.{key}"), value)
    }

    pub fn session_body(self, file: &str) -> Self {
        self.set("session.body", file)
    }

    pub fn template(self, name: &str) -> Self {
        self.set("template.name", name)
    }

    /// Template parameter `name`: `value`, quoted.
    pub fn param(self, name: &str, value: &str) -> Self {
        self.set(&format!("template.parameters.{name}"), quoted(value))
    }

    pub fn per_second(self, n: u32) -> Self {
        self.set("rate.per_second", n)
    }

    pub fn per_sender(self, n: u32) -> Self {
        self.set("rate.per_sender", n)
    }

    pub fn burst(self, n: u32) -> Self {
        self.set("rate.burst", n)
    }

    pub fn concurrency(self, n: usize) -> Self {
        self.set("rate.concurrency", n)
    }

    /// `per_second` and `burst`, and `concurrency` when given.
    pub fn pace(self, per_second: u32, burst: u32, concurrency: Option<usize>) -> Self {
        let paced = self.per_second(per_second).burst(burst);
        match concurrency {
            Some(c) => paced.concurrency(c),
            None => paced,
        }
    }

    pub fn attempts(self, n: u32) -> Self {
        self.set("retry.attempts", n)
    }

    pub fn max_backoff(self, span: &str) -> Self {
        self.set("retry.max_backoff", span)
    }

    pub fn abort_after(self, n: u32) -> Self {
        self.set("retry.abort_after", n)
    }

    pub fn templates_per_day(self, n: u32) -> Self {
        self.set("limits.templates_per_day", n)
    }

    /// `limits.per_recipient: { templates: n, per: span }`.
    pub fn per_recipient(self, templates: u32, per: &str) -> Self {
        self.set("limits.per_recipient", format!("{{ templates: {templates}, per: {per} }}"))
    }

    pub fn not_before(self, instant: &str) -> Self {
        self.set("schedule.not_before", instant)
    }

    pub fn state(self, path: &str) -> Self {
        self.set("state", path)
    }

    /// The file's YAML text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        write_map(&mut out, &self.root, 0);
        out
    }

    /// Write the file as `rel` in the test's folder.
    pub fn write(&self, env: &Env, rel: &str) -> PathBuf {
        env.write(rel, &self.text())
    }
}

fn set_in(node: &mut Node, keys: &[&str], raw: String) {
    let Some((first, rest)) = keys.split_first() else {
        *node = Node::Value(raw);
        return;
    };
    if let Node::Value(_) = node {
        *node = Node::Map(Vec::new());
    }
    let Node::Map(map) = node else { unreachable!() };
    let i = match map.iter().position(|(k, _)| k == first) {
        Some(i) => i,
        None => {
            map.push((first.to_string(), Node::Map(Vec::new())));
            map.len() - 1
        }
    };
    set_in(&mut map[i].1, rest, raw);
}

fn write_map(out: &mut String, map: &[(String, Node)], depth: usize) {
    let indent = "  ".repeat(depth);
    for (key, node) in map {
        match node {
            Node::Value(v) if v.is_empty() => out.push_str(&format!("{indent}{key}:\n")),
            Node::Value(v) => out.push_str(&format!("{indent}{key}: {v}\n")),
            Node::Map(m) => {
                out.push_str(&format!("{indent}{key}:\n"));
                write_map(out, m, depth + 1);
            }
        }
    }
}

#[test]
fn the_builder_writes_the_layout_tests_count_lines_in() {
    assert_eq!(
        CampaignFile::hello().per_second(300).text(),
        super::yaml(
            "recipients:\n  csv: people.csv\nsession:\n  body: hello.j2\ntemplate:\n  name: t\n  parameters:\n    body_1: \"{{ first_name }}\"\nrate:\n  per_second: 300\n"
        )
    );
    // Top-level keys take their place whatever the order they are set in;
    // a key set again keeps its line.
    let f = CampaignFile::hello().per_second(1).sender("\"+14151111234\"").param("body_1", "x").per_second(2);
    let lines: Vec<String> = f.text().lines().map(str::to_string).collect();
    assert_eq!(lines[2], "sender: \"+14151111234\"");
    assert_eq!(lines[10], "    body_1: \"x\"");
    assert_eq!(lines[12], "  per_second: 2");
    let f = f.rename("template.parameters.body_1", "body_one").without("rate").without("sender");
    assert_eq!(f.text().lines().nth(9), Some("    body_one: \"x\""));
    assert!(!f.text().contains("rate:") && !f.text().contains("sender"));
}
