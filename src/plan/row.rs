//! Everything that happens to one row before the wire (SPEC §3 steps 1–5):
//! phone, key, suppression, schedule, window, rendering, limits. Pure: the
//! row, the campaign and the instant in, a plan out. A dry run and a real run
//! share it.

use std::collections::HashSet;
use std::sync::Arc;

use csv::StringRecord;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::campaign::Campaign;
use crate::error::{Error, FieldError, Location, Result};
use crate::json::Json;
use crate::ledger::{KeyState, Snapshot};
use crate::outcome::Route;
use crate::outcome::{Filled, FilledButton, Note, Outcome, Reason, Request, RowError, Status, short};
use crate::plan::decide::{Decision, Facts, Place, Quota, decide};
use crate::plan::recipients::{self, Columns};
use crate::plan::render::{Headers, Renderer, RowContext, Tid};
use crate::wire::body::{self, Param};
use crate::wire::catalogue::{self, HeaderDef, TemplateDef};
use crate::wire::message::{Message, map_message};

/// How far ahead of the run's clock a last-inbound time may be (clocks differ).
const CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// Flags that change what is owed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Retrying {
    pub failed: bool,
    pub unknown: bool,
    /// `--allow-repeat`: send what another campaign already sent this customer.
    pub repeat: bool,
}

/// How far back the repeat guard looks.
pub const REPEAT_REACH: jiff::SignedDuration = jiff::SignedDuration::from_hours(30 * 24);

/// The campaign compiled against one CSV header.
pub struct Planner {
    pub campaign: Arc<Campaign>,
    renderer: Renderer,
    columns: Columns,
    phone_column: String,
    suppress: HashSet<String>,
    ledger: Arc<Snapshot>,
    retrying: Retrying,
    once_per: Tid,
    body: Option<Tid>,
    message: Option<Message<Tid>>,
    params: Vec<(String, Json, Tid, Option<Tid>)>,
    template_consts: Option<body::TemplateConsts>,
    /// The wall clock when the command started (set by the command): a
    /// last-inbound time after it is an error, whatever instant `--at` plans for.
    pub started: Timestamp,
    /// The template as the catalogue has it, when checked.
    template_def: Option<TemplateDef>,
    template_category: Option<Arc<String>>,
    pub session_path: &'static str,
    pub template_path: &'static str,
}

/// The per-row result of planning.
pub struct RowPlan {
    pub outcome: Outcome,
    /// Hash of the `once_per` key, for in-file duplicates.
    pub key_hash: Option<u128>,
    /// What to send, when the row is to be sent.
    pub send: Option<Box<Sendable>>,
    /// The outcome already serialized as a JSON line (dry-run JSONL).
    pub line: Option<std::ops::Range<usize>>,
    /// Set when a later stage changed the outcome after `line` was written.
    pub rewritten: bool,
}

/// The rendered requests for one recipient; the route is picked at sending time.
pub struct Sendable {
    pub last_inbound: Option<Timestamp>,
    /// The recipient's own time zone, when the CSV gives one (quiet hours).
    pub tz: Option<TimeZone>,
    pub session: Option<Json>,
    pub template: Option<Json>,
    /// Fingerprints of each route's content (the repeat guard), when taken.
    pub content: [Option<i64>; 2],
    /// Its place under `templates_per_day`: counted when the customer
    /// already got a template in the last 24 hours, taken by the sequencer.
    pub place: Place,
    /// The template as the customer reads it (dry runs, with a catalogue).
    pub filled: Option<Box<Filled>>,
}

impl Sendable {
    pub fn body(&self, route: Route) -> Option<&Json> {
        match route {
            Route::Session => self.session.as_ref(),
            Route::Template => self.template.as_ref(),
        }
    }

    pub fn content(&self, route: Route) -> Option<i64> {
        self.content[route as usize]
    }
}

pub fn key_hash(key: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(key.as_bytes())
}

impl Planner {
    /// Compile every template of the campaign against the CSV header.
    pub fn new(
        campaign: Arc<Campaign>,
        headers: Arc<Headers>,
        columns: Columns,
        suppress: HashSet<String>,
        ledger: Arc<Snapshot>,
        retrying: Retrying,
    ) -> Result<Planner> {
        let c = &campaign;
        let body_file = c.session.as_ref().and_then(|s| s.body.as_ref()).map(|(p, _)| p.clone());
        let mut renderer =
            Renderer::new(headers.clone(), &c.name, crate::plan::render::include_dir(body_file.as_ref()).as_deref());
        let yaml = c.path.display().to_string();
        let compile_error = |keys: &[&str], e: crate::plan::render::CompileError| -> Error {
            if e.origin == yaml || e.origin.starts_with(&format!("{yaml}: ")) {
                let line = crate::campaign::locate(&c.source, keys);
                Error::input(
                    &c.path,
                    Location { line, ..Location::field(keys.join(".")) },
                    e.what,
                    "fix the template; it is minijinja syntax, and its variables are the CSV columns, recipient, campaign and row",
                )
            } else {
                Error::input(
                    std::path::Path::new(&e.origin),
                    Location { line: e.line, ..Default::default() },
                    e.what,
                    "fix the template; its variables are the CSV columns, recipient, campaign and row",
                )
            }
        };
        let once_per = renderer
            .compile(&format!("{yaml}: once_per"), "once_per", &c.once_per)
            .map_err(|e| compile_error(&["once_per"], e))?;
        let (body, message) = match &c.session {
            None => (None, None),
            Some(s) => {
                let body = match &s.body {
                    None => None,
                    Some((path, src)) => {
                        let field = if s.message.attachments.is_some() { "attachments[0].caption" } else { "text" };
                        Some(
                            renderer
                                .compile(&path.display().to_string(), field, src)
                                .map_err(|e| compile_error(&["session", "body"], e))?,
                        )
                    }
                };
                let message = map_message(&s.message, &mut |src: &String, path: &dyn Fn() -> String| {
                    let p = path();
                    renderer
                        .compile(&format!("{yaml}: session.message.{p}"), &format!("message.{p}"), src)
                        .map_err(|e| compile_error(&["session", "message"], e))
                })?;
                (body, Some(message))
            }
        };
        let mut params = Vec::new();
        if let Some(t) = &c.template {
            for p in &t.parameters {
                let keys = ["template", "parameters", p.name.as_str()];
                let field = format!("template.parameters.{}", p.name);
                let v = renderer
                    .compile(&format!("{yaml}: {field}"), &field, &p.value)
                    .map_err(|e| compile_error(&keys, e))?;
                let f = p
                    .filename
                    .as_ref()
                    .map(|f| renderer.compile(&format!("{yaml}: {field}.filename"), &format!("{field}.filename"), f))
                    .transpose()
                    .map_err(|e| compile_error(&keys, e))?;
                params.push((p.name.clone(), Json::of(&p.name), v, f));
            }
        }
        let template_consts = c.template.as_ref().map(|t| body::TemplateConsts::new(&t.name, &t.language, &c.name));
        Ok(Planner {
            started: Timestamp::UNIX_EPOCH,
            // Made once and kept for the life of the process (a few dozen
            // bytes): every row's request names its path without counting
            // references on a count all planning threads would share.
            session_path: Box::leak(body::session_path(&c.business_id).into_boxed_str()),
            template_path: Box::leak(body::template_path(&c.business_id).into_boxed_str()),
            phone_column: headers.names[columns.phone].clone(),
            campaign,
            renderer,
            columns,
            suppress,
            ledger,
            retrying,
            template_consts,
            template_def: None,
            template_category: None,
            once_per,
            body,
            message,
            params,
        })
    }

    /// The template as the business's catalogue has it: filled bodies are
    /// checked against WhatsApp's length, and previews show the real text.
    pub fn set_template(&mut self, def: TemplateDef) {
        self.template_category = def.category.clone().map(Arc::new);
        self.template_def = Some(def);
    }

    /// The catalogue's category of the campaign's template, when known.
    pub fn template_category(&self) -> Option<Arc<String>> {
        self.template_category.clone()
    }

    pub fn path(&self, route: Route) -> &'static str {
        match route {
            Route::Session => self.session_path,
            Route::Template => self.template_path,
        }
    }

    /// A template that ran out of fuel on some row: a template error of
    /// the whole campaign, not of the rows it happened to meet first.
    pub fn template_error(&self) -> Option<Error> {
        let origin = self.renderer.exhausted()?;
        let c = &self.campaign;
        let yaml = c.path.display().to_string();
        let what = format!("the template takes more than {} steps to render one row", crate::plan::render::FUEL);
        let fix = "a loop in it is far too large (e.g. nested range(100000)); loop over a few items only";
        Some(match origin.strip_prefix(&format!("{yaml}: ")) {
            Some(field) => {
                let keys: Vec<&str> = field.split('.').collect();
                let line = crate::campaign::locate(&c.source, &keys);
                Error::input(&c.path, Location { line, ..Location::field(field) }, what, fix)
            }
            None => Error::input(std::path::Path::new(origin), Location::default(), what, fix),
        })
    }

    /// Every template minijinja has loaded so far, by name (see `Renderer::sources`).
    pub fn template_sources(&self) -> Vec<(String, String)> {
        self.renderer.sources()
    }

    /// Plan one data row (numbered from 1) as of `now`. With `request`, the
    /// outcome carries the request body that would be sent (dry runs).
    pub fn plan_row(&self, row: u64, rec: &StringRecord, now: Timestamp, request: bool) -> RowPlan {
        let mut out = Outcome::new(row);
        let c = &*self.campaign;
        // 1. phone
        let raw_phone = rec.get(self.columns.phone).unwrap_or("");
        let phone = crate::phone::recipient(raw_phone, c.recipients.default_country.as_ref())
            .map_err(|e| FieldError::new(&self.phone_column, format!("`{raw_phone}`: {e}")));
        let phone = match phone {
            Ok(p) => p,
            Err(e) => return RowPlan::invalid(out, None, e),
        };
        let ctx = RowContext::new(rec, Some(&phone));
        out.recipient = Some(phone.clone());
        // 2. key, ledger, suppression
        let key = match self.renderer.render(self.once_per, &ctx) {
            Ok(k) if k.is_empty() => return RowPlan::invalid(out, None, FieldError::new("once_per", "renders empty")),
            Ok(k) => k,
            Err(e) => return RowPlan::invalid(out, None, e),
        };
        let hash = key_hash(&key);
        out.key = Some(key);
        if let Some(verdict) = self.ledger_verdict(hash, &phone, now) {
            return RowPlan::held(out, hash, verdict);
        }
        // 3. the recipient's zone; past `not_after` nothing else of the row matters
        let tz = match self.zone(rec) {
            Ok(tz) => tz,
            Err(e) => return RowPlan::invalid(out, Some(hash), e),
        };
        if c.schedule.expired(now) {
            return RowPlan::held(out, hash, (Status::Skipped, Reason::Expired, Note::None));
        }
        // 4. the sender, and the last inbound of that (number, customer) pair
        let (sender, last_inbound) = match self.sender_and_inbound(rec, &phone, now) {
            Ok(v) => v,
            Err(e) => return RowPlan::invalid(out, Some(hash), e),
        };
        out.sender = sender;
        // 5. the schedule and the route as of now (the send loop decides
        // again as the request leaves; the daily cap is the sequencer's)
        let facts = Facts {
            tz: tz.as_ref(),
            last_inbound,
            session: c.session.is_some(),
            template: c.template.is_some(),
            refused: None,
        };
        let (decision, note) = decide(c, &facts, now, Quota::InOrder);
        // 6. render and check both routes; serialize what will be used: both
        // for a real run, the chosen one for a dry run's report.
        let wanted = |r: Route| !request || decision == Decision::Send(r);
        // Fingerprints cost a little: a preview takes them only for customers
        // another run reached lately.
        let fingerprint = !request || self.ledger.has_sends(&phone);
        let who = Who { phone: &phone, sender: out.sender.as_deref(), key: out.key.as_deref().unwrap_or("") };
        let sendable = match self.render(&ctx, &who, &wanted, fingerprint, request) {
            Ok(s) => Sendable { last_inbound, tz, ..s },
            Err(e) => return RowPlan::invalid(out, Some(hash), e),
        };
        match decision {
            Decision::Hold(status, reason) => RowPlan::held(out, hash, (status, reason, note)),
            Decision::Send(route) => {
                out.note = note;
                self.sendable(out, hash, route, sendable, (now, request))
            }
        }
    }

    /// A row the decision sends by `route`, unless a rule across the
    /// ledger's campaigns holds it. A dry run's outcome takes the request.
    fn sendable(
        &self,
        mut out: Outcome,
        hash: u128,
        route: Route,
        mut sendable: Sendable,
        (now, request): (Timestamp, bool),
    ) -> RowPlan {
        let phone = out.recipient.as_deref().unwrap_or("");
        out.route = Some(route);
        if let Some(verdict) = self.compliance(phone, route, &sendable, now) {
            return RowPlan::held(out, hash, verdict);
        }
        sendable.place.counted = self.campaign.templates_per_day.is_some()
            && self.ledger.templates_since(phone, now - jiff::SignedDuration::from_hours(24)).next().is_some();
        if request {
            // A dry run never dispatches: the body moves into the report.
            let body = match route {
                Route::Session => sendable.session.take(),
                Route::Template => sendable.template.take(),
            };
            out.request = body.map(|body| Request { path: self.path(route), body });
            out.filled = sendable.filled.take();
        }
        RowPlan { outcome: out, key_hash: Some(hash), send: Some(Box::new(sendable)), line: None, rewritten: false }
    }

    /// The row's sender number, and the customer's last inbound time: the
    /// later of the CSV's column (any number) and what the ledger knows for
    /// that (number, customer) pair. `Err` names the column and the reason.
    fn sender_and_inbound(
        &self,
        rec: &StringRecord,
        phone: &str,
        now: Timestamp,
    ) -> Result<(Option<String>, Option<Timestamp>), FieldError> {
        let c = &*self.campaign;
        let csv_inbound = self
            .csv_last_inbound(rec, now)
            .map_err(|e| FieldError::new(c.recipients.last_inbound_column.as_deref().unwrap_or("last_inbound"), e))?;
        let sender = self
            .sender(rec, phone)
            .map_err(|reason| FieldError::new(c.recipients.sender_column.as_deref().unwrap_or("sender"), reason))?;
        let last_inbound = csv_inbound.max(match &sender {
            Some(number) => self.ledger.last_inbound_to(phone, number),
            None => self.ledger.last_inbound(phone),
        });
        Ok((sender, last_inbound))
    }

    /// The cross-campaign rules the ledger checks as each send is recorded.
    pub fn guard(&self) -> crate::ledger::Guard {
        let c = &self.campaign;
        crate::ledger::Guard {
            templates_per_day: c.templates_per_day,
            per_recipient: c.per_recipient.map(|p| (p.templates, p.per.as_secs() as i64)),
            repeat_days: (!self.retrying.repeat).then_some(REPEAT_REACH.as_hours() / 24),
        }
    }

    /// What the ledger and the suppression list say of a key and its
    /// customer (SPEC §3 step 2), as of `now`.
    fn ledger_verdict(&self, hash: u128, phone: &str, now: Timestamp) -> Option<(Status, Reason, Note)> {
        let skip = |r| Some((Status::Skipped, r, Note::None));
        match self.ledger.key_state(hash) {
            Some(KeyState::Sent) => return skip(Reason::AlreadySent),
            Some(KeyState::RefusedUntil(t)) if t > now => {
                let note = Note::Text(format!("until {}: WhatsApp's per-user marketing limit (131049)", short(t)));
                return Some((Status::Deferred, Reason::FrequencyCap, note));
            }
            Some(KeyState::Failed) if !self.retrying.failed => return skip(Reason::PreviouslyFailed),
            Some(KeyState::Unknown) if !self.retrying.unknown => return skip(Reason::PreviouslyUnknown),
            _ => {}
        }
        if self.suppress.contains(phone) {
            return skip(Reason::Suppressed);
        }
        let (at, why) = self.ledger.opt_out(phone)?;
        Some((Status::Skipped, Reason::Suppressed, Note::Text(format!("opted out {}: {why}", short(at)))))
    }

    /// The recipient's own time zone, when the CSV gives one; else the
    /// column and what is wrong with it.
    fn zone(&self, rec: &StringRecord) -> Result<Option<TimeZone>, FieldError> {
        let Some(name) = self.columns.timezone.map(|i| rec.get(i).unwrap_or("").trim()).filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        TimeZone::get(name).map(Some).map_err(|_| {
            let col = self.campaign.recipients.timezone_column.as_deref().unwrap_or("timezone");
            FieldError::new(col, format!("unknown time zone `{name}` (use an IANA name such as Europe/Madrid)"))
        })
    }

    /// The rules across the campaigns of the ledger, as of `now`: the repeat
    /// guard, then `limits.per_recipient` (templates only). The dispatcher
    /// checks them again, in the ledger, as the request is recorded.
    fn compliance(&self, phone: &str, route: Route, s: &Sendable, now: Timestamp) -> Option<(Status, Reason, Note)> {
        if !self.retrying.repeat
            && let Some(content) = s.content(route)
            && let Some((other, at)) = self.ledger.repeat_of(phone, content, now - REPEAT_REACH)
        {
            let note =
                format!("the same message went from campaign `{other}` on {}; --allow-repeat sends it", short(at));
            return Some((Status::Skipped, Reason::Repeat, Note::Text(note)));
        }
        let cap = self.campaign.per_recipient.filter(|_| route == Route::Template)?;
        let per = jiff::SignedDuration::try_from(cap.per).unwrap_or(jiff::SignedDuration::MAX);
        let times: Vec<Timestamp> = self.ledger.templates_since(phone, now - per).collect();
        let most = cap.templates as usize;
        (times.len() >= most)
            .then(|| (Status::Deferred, Reason::FrequencyCap, Note::Until(times[times.len() - most] + per)))
    }

    /// The row's last-inbound cell, if the campaign names the column: a
    /// time in the future cannot be (a clock or export error) and would hold
    /// the window open for nothing.
    fn csv_last_inbound(&self, rec: &StringRecord, now: Timestamp) -> Result<Option<Timestamp>, String> {
        let Some(i) = self.columns.last_inbound else { return Ok(None) };
        let t = recipients::parse_instant(rec.get(i).unwrap_or(""))?;
        let now = now.max(self.started);
        match t {
            Some(t) if t > now + CLOCK_SKEW => Err(format!(
                "`{}` is in the future (as of {}): a customer cannot have written then; fix the export, or leave the cell empty",
                rec.get(i).unwrap_or("").trim(),
                crate::outcome::short(now)
            )),
            t => Ok(t),
        }
    }

    /// Which number this row goes from (SPEC §3 step 4): the row's
    /// `sender_column`; with a pool, the number the customer last wrote to,
    /// else the one that last messaged them, else a stable hash of their
    /// number. `Err` names what is wrong with the row's column.
    fn sender(&self, rec: &StringRecord, phone: &str) -> Result<Option<String>, String> {
        let pool = &self.campaign.senders;
        let cell = self.columns.sender.map(|i| rec.get(i).unwrap_or("").trim()).filter(|s| !s.is_empty());
        if let Some(cell) = cell {
            return match pool.iter().find(|p| **p == cell) {
                Some(p) => Ok(Some(p.clone())),
                None if pool.is_empty() && crate::campaign::is_e164(cell) => Ok(Some(cell.to_string())),
                None if pool.is_empty() => {
                    Err(format!("sender `{cell}` is not an E.164 number (write it with + and country code)"))
                }
                None => Err(format!("sender `{cell}` is not one of the campaign's senders ({})", pool.join(", "))),
            };
        }
        Ok(match pool.len() {
            0 => None,
            1 => Some(pool[0].clone()),
            n => {
                let sticky = self
                    .ledger
                    .last_written_to(phone, pool)
                    .or_else(|| self.ledger.last_sender(phone).filter(|s| pool.iter().any(|p| p == s)));
                let hashed = || &pool[(xxhash_rust::xxh3::xxh3_64(phone.as_bytes()) % n as u64) as usize];
                Some(sticky.map_or_else(|| hashed().clone(), str::to_string))
            }
        })
    }

    fn render(
        &self,
        ctx: &RowContext<'_>,
        who: &Who<'_>,
        wanted: &dyn Fn(Route) -> bool,
        fingerprint: bool,
        preview: bool,
    ) -> Result<Sendable, FieldError> {
        let mut content = [None, None];
        let c = &*self.campaign;
        let (phone, key) = (who.phone, who.key);
        let mut filled_view = None;
        let session = match &self.message {
            None => None,
            Some(m) => {
                let mut msg = map_message(m, &mut |id: &Tid, _| self.renderer.render(*id, ctx))?;
                if let Some(b) = self.body {
                    let text = self.renderer.render(b, ctx)?;
                    match msg.attachments.as_mut().and_then(|a| a.first_mut()) {
                        Some(a) => a.caption = Some(text),
                        None => msg.text = Some(text),
                    }
                }
                body::check_session(&mut msg).map_err(|p| p.under("session.message."))?;
                if fingerprint {
                    // The message alone: no sender, no recipient.
                    let alone = body::session_body(None, "", &msg);
                    content[Route::Session as usize] = Some(fingerprint_of(&[b"session", alone.get().as_bytes()]));
                }
                let size = message_bytes(&msg) + key.len();
                checked_body(
                    wanted(Route::Session),
                    size,
                    || "session.message".into(),
                    || body::session_body(who.sender, phone, &msg),
                )?
            }
        };
        let template = match &self.template_consts {
            None => None,
            Some(consts) => {
                let mut params = Vec::with_capacity(self.params.len());
                for (name, name_json, v, f) in &self.params {
                    let p = Param {
                        name,
                        name_json,
                        value: self.renderer.render(*v, ctx)?,
                        filename: f.map(|f| self.renderer.render(f, ctx)).transpose()?,
                    };
                    body::check_param(&p)?;
                    params.push(p);
                }
                body::check_callback(&c.name, key)?;
                if fingerprint && let Some(t) = &c.template {
                    let mut parts: Vec<&[u8]> = vec![b"template", t.name.as_bytes(), t.language.as_bytes()];
                    for p in &params {
                        parts.extend([
                            p.name.as_bytes(),
                            p.value.as_bytes(),
                            p.filename.as_deref().unwrap_or("").as_bytes(),
                        ]);
                    }
                    content[Route::Template as usize] = Some(fingerprint_of(&parts));
                }
                let bytes = |p: &Param| p.value.len() + p.filename.as_ref().map_or(0, String::len);
                let size = params.iter().map(bytes).sum::<usize>() + key.len();
                let largest = || {
                    params
                        .iter()
                        .max_by_key(|p| bytes(p))
                        .map_or("template".into(), |p| format!("template.parameters.{}", p.name))
                };
                let request = checked_body(wanted(Route::Template), size, largest, || {
                    body::template_body(consts, phone, who.sender, &params, key)
                })?;
                if let Some(def) = &self.template_def {
                    let body = fill_body(def, &params);
                    body::check_filled_body(&body)?;
                    // Only a preview shows it; a real run does not keep it.
                    if preview && wanted(Route::Template) {
                        filled_view = Some(Box::new(filled(def, &params, body)));
                    }
                }
                request
            }
        };
        Ok(Sendable {
            last_inbound: None,
            tz: None,
            session,
            template,
            content,
            place: Place::default(),
            filled: filled_view,
        })
    }
}

/// Whom a row's requests go to, from which number, under which key.
struct Who<'a> {
    phone: &'a str,
    sender: Option<&'a str>,
    key: &'a str,
}

/// The largest request body sent; a row whose body would be larger is
/// invalid (a runaway CSV cell must not become a 10 MB request).
const MAX_BODY: usize = 64 * 1024;

/// Whether strings of `bytes` in all may make a body over `MAX_BODY`
/// (JSON escaping turns a byte into at most six). Below that the body of a
/// route a dry run does not show need not be built to know it fits.
fn may_be_too_big(bytes: usize) -> bool {
    bytes.saturating_mul(6).saturating_add(4096) > MAX_BODY
}

/// A route's request body, built when it is `wanted` or when strings of
/// `size` bytes might make it too large, and then checked: over `MAX_BODY`
/// the row is invalid, naming `field`.
fn checked_body(
    wanted: bool,
    size: usize,
    field: impl FnOnce() -> String,
    build: impl FnOnce() -> Json,
) -> Result<Option<Json>, FieldError> {
    if !wanted && !may_be_too_big(size) {
        return Ok(None);
    }
    let body = build();
    let n = body.get().len();
    if n <= MAX_BODY {
        return Ok(wanted.then_some(body));
    }
    Err(FieldError::new(
        field(),
        format!(
            "the request would be {} KiB; at most 64 KiB is sent: a value in it is far too long (check the CSV cell it comes from)",
            n.div_ceil(1024)
        ),
    ))
}

/// The bytes of every string of a rendered session message.
fn message_bytes(m: &Message<String>) -> usize {
    let mut n = 0;
    let _ = map_message(m, &mut |s: &String, _| {
        n += s.len();
        Ok::<(), std::convert::Infallible>(())
    });
    n
}

/// The catalogue's body with this row's `body_N` filled in.
fn fill_body(def: &TemplateDef, params: &[Param<'_>]) -> String {
    let value = |n: usize| {
        params
            .iter()
            .find(|p| p.name.strip_prefix("body_").and_then(|r| r.parse::<usize>().ok()) == Some(n))
            .map(|p| p.value.clone())
    };
    catalogue::fill(def.body.as_deref().unwrap_or(""), &value)
}

/// The catalogue's template with this row's parameters filled in.
fn filled(def: &TemplateDef, params: &[Param<'_>], body: String) -> Filled {
    let header = match &def.header {
        Some(HeaderDef::Text(t)) => {
            let text = params.iter().find(|p| p.name == "header_text").map(|p| p.value.clone());
            Some(catalogue::fill(t, &|_| text.clone()))
        }
        _ => None,
    };
    Filled {
        category: def.category.clone(),
        header,
        body,
        footer: def.footer.clone(),
        buttons: def
            .buttons
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let name = format!("button_{}_url", i + 1);
                let value = params.iter().find(|p| p.name == name).map(|p| p.value.clone());
                let url = b.url.as_deref().filter(|_| b.kind == "URL").map(|u| catalogue::fill(u, &|_| value.clone()));
                FilledButton { text: b.text.clone(), url }
            })
            .collect(),
    }
}

/// A message's content as one number: its parts, each ended by a zero byte.
fn fingerprint_of(parts: &[&[u8]]) -> i64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(p);
        h.update(&[0]);
    }
    h.digest() as i64
}

impl RowPlan {
    fn done(outcome: Outcome, key_hash: Option<u128>) -> RowPlan {
        RowPlan { outcome, key_hash, send: None, line: None, rewritten: false }
    }

    /// Skipped as invalid: what is wrong, and with which field.
    fn invalid(mut outcome: Outcome, key_hash: Option<u128>, e: FieldError) -> RowPlan {
        outcome.status = Status::Skipped;
        outcome.reason = Some(Reason::Invalid);
        outcome.error = Some(RowError::invalid(e));
        RowPlan::done(outcome, key_hash)
    }

    /// Not sent now: skipped or deferred, and why.
    fn held(mut outcome: Outcome, hash: u128, (status, reason, note): (Status, Reason, Note)) -> RowPlan {
        outcome.status = status;
        outcome.reason = Some(reason);
        outcome.note = note;
        RowPlan::done(outcome, Some(hash))
    }

    /// A later stage takes the row out of the send: it gets this status and
    /// reason, no request, and its prepared JSON line no longer applies.
    pub fn withdraw(&mut self, status: Status, reason: Reason) {
        self.outcome.status = status;
        self.outcome.reason = Some(reason);
        self.outcome.request = None;
        self.send = None;
        self.rewritten = true;
    }
}
