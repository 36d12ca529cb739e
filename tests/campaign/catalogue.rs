//! The business's template catalogue: `templates pull`, and every
//! campaign's template checked against it before anything is sent — by a
//! real run (fetched once) and by a dry run (the saved copy, offline).

use crate::support::standin::KEY;
use crate::support::{CampaignFile, Env, Fault, Form, StandIn, Tpl, yaml};

const CSV: &str = "phone,name,sku\n+16044441111,Ana,A-1\n+16044441112,Bo,B-2\n";

/// A template-only campaign naming `spring_sale` in `language` with these
/// parameters, written as `c.yaml`.
fn campaign(env: &Env, language: &str, params: &[(&str, &str)]) -> CampaignFile {
    env.write("people.csv", CSV);
    let mut file = CampaignFile::new().csv("people.csv").template("spring_sale").set("template.language", language);
    for (name, value) in params {
        file = file.param(name, value);
    }
    file.write(env, "c.yaml");
    file
}

const TWO_BODIES: &[(&str, &str)] = &[("body_1", "{{ name }}"), ("body_2", "{{ sku }}")];

/// The business's spring_sale: an image header, two body variables, a
/// footer, a URL button with a variable and a quick reply.
fn spring_sale() -> Tpl {
    Tpl::new("spring_sale", "en", "Hi {{1}}, your {{2}} is 20% off this week.")
        .header("IMAGE", "")
        .footer("Reply STOP to opt out")
        .button("URL", "Shop now", "https://shop.example/p/{{1}}")
        .button("QUICK_REPLY", "Not interested", "")
}

const MATCHING: &[(&str, &str)] = &[
    ("header_image", "https://cdn.example/{{ sku }}.jpg"),
    ("body_1", "{{ name }}"),
    ("body_2", "{{ sku }}"),
    ("button_1_url", "{{ sku }}"),
];

fn standin(templates: Vec<Tpl>) -> StandIn {
    let s = StandIn::start();
    s.catalogue(templates);
    s
}

/// The campaign is refused (exit 2, the error naming `needles`) by a real
/// run, which sends nothing, and by a dry run against the pulled copy.
#[track_caller]
fn refused(s: &StandIn, env: &Env, needles: &[&str]) {
    let run = env.send(s, &["run", "c.yaml"]);
    run.expect(2);
    for n in needles.iter().chain(&["c.yaml", "hint: "]) {
        run.stderr_has(n);
    }
    assert!(s.received().is_empty(), "nothing is sent: {:?}", s.received());
    assert_eq!(s.catalogue_fetches(), 1, "fetched once");
    // The run saved what it fetched: a dry run, offline, says the same.
    let dry = env.run(&["run", "c.yaml", "--dry-run"]);
    dry.expect(2);
    for n in needles {
        dry.stderr_has(n);
    }
    assert!(dry.stdout.is_empty(), "{}", dry.stdout);
}

#[test]
fn pull_saves_the_catalogue_beside_the_ledger() {
    let env = Env::new();
    let s = standin(vec![spring_sale(), Tpl::new("spring_sale", "es", "Hola {{1}}")]);
    campaign(&env, "en", MATCHING);
    let run = env.send(&s, &["templates", "pull", "c.yaml"]);
    run.expect(0);
    assert!(run.stdout.contains("saved 2 template translations (2 approved)"), "{}", run.stdout);
    assert!(run.stdout.contains("  spring_sale (en): approved, MARKETING, 2 body variables\n"), "{}", run.stdout);
    assert!(!run.stdout.contains(KEY) && !run.stderr.contains(KEY));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.path(".campaign/templates.json")).unwrap()).unwrap();
    assert_eq!(saved["business_id"], crate::support::standin::BUSINESS);
    assert!(saved["fetched_at"].as_str().unwrap().parse::<jiff::Timestamp>().is_ok());
    assert_eq!(saved["answer"]["entity"]["templateGroups"][0]["name"], "spring_sale");
    assert!(s.received().is_empty());
}

#[test]
fn pull_fails_with_exit_3_on_a_bad_key_or_no_network_and_never_prints_the_key() {
    let env = Env::new();
    let s = StandIn::start();
    let file = campaign(&env, "en", MATCHING);
    let out = env.sending(&s, &["templates", "pull", "c.yaml"]).env("CONNECTLY_API_KEY", "wrong-key-42").output();
    let run = crate::support::Run::from_output(out.unwrap());
    run.expect(3).stderr_has("HTTP 401").stderr_has("nothing was saved");
    assert!(!run.stderr.contains("wrong-key-42"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = env
        .cmd(&["templates", "pull", "c.yaml"])
        .env("CONNECTLY_API_KEY", "k")
        .env("CONNECTLY_BASE_URL", format!("http://127.0.0.1:{port}"))
        .output();
    crate::support::Run::from_output(out.unwrap()).expect(3).stderr_has("could not connect");
    env.run(&["templates", "pull", "c.yaml"]).expect(2).stderr_has("CONNECTLY_API_KEY is not set");
    file.business_id("b-404").write(&env, "c.yaml");
    env.send(&s, &["templates", "pull", "c.yaml"]).expect(3).stderr_has("does not know this business");
    assert!(!env.exists(".campaign/templates.json"));
}

#[test]
fn a_matching_campaign_sends_and_keeps_the_category() {
    let env = Env::new();
    let s = standin(vec![spring_sale().category("UTILITY")]);
    campaign(&env, "en", MATCHING);
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("sent 2");
    assert_eq!(s.accepted().len(), 2);
    assert_eq!(s.catalogue_fetches(), 1, "fetched once per run, not per row");
    let db = rusqlite::Connection::open(env.path(".campaign/state.db")).unwrap();
    let categories: Vec<Option<String>> = db
        .prepare("SELECT template_category FROM deliveries ORDER BY row")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(categories, [Some("UTILITY".to_string()), Some("UTILITY".to_string())]);
}

#[test]
fn connectlys_own_representation_is_enough() {
    let env = Env::new();
    let s = standin(vec![spring_sale()]);
    s.catalogue_form(Form::Connectly);
    campaign(&env, "en", MATCHING);
    env.send(&s, &["run", "c.yaml"]).expect(0).stderr_has("sent 2");
    campaign(&env, "en", TWO_BODIES);
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(2).stderr_has("an IMAGE header, which takes header_image; the file gives none");
}

#[test]
fn an_unknown_name_suggests_the_nearest() {
    let env = Env::new();
    let s = standin(vec![Tpl::new("spring_sale_v2", "en", "Hi {{1}}"), Tpl::new("winback", "en", "Hey")]);
    campaign(&env, "en", &[("body_1", "{{ name }}")]);
    refused(&s, &env, &["template `spring_sale` is not in the business's catalogue", "did you mean `spring_sale_v2`?"]);
}

#[test]
fn a_missing_language_lists_those_it_has() {
    let env = Env::new();
    let s = standin(vec![Tpl::new("spring_sale", "es", "Hola {{1}}"), Tpl::new("spring_sale", "pt_BR", "Oi {{1}}")]);
    campaign(&env, "en", &[("body_1", "{{ name }}")]);
    refused(&s, &env, &["template `spring_sale` has no `en` translation; it has es, pt_BR", "`template.language`"]);
}

#[test]
fn a_template_not_approved_by_connectly_is_refused() {
    let env = Env::new();
    let s = standin(vec![spring_sale().status("MESSAGE_TEMPLATE_STATUS_PENDING", "PENDING")]);
    campaign(&env, "en", MATCHING);
    refused(&s, &env, &["template `spring_sale` (en) is not approved: Connectly says PENDING", "wait for Meta"]);
}

#[test]
fn a_paused_template_is_refused_saying_it_usually_lifts() {
    let env = Env::new();
    let s = standin(vec![spring_sale().status("MESSAGE_TEMPLATE_STATUS_APPROVED", "PAUSED")]);
    campaign(&env, "en", MATCHING);
    refused(&s, &env, &["template `spring_sale` (en) is PAUSED by Meta", "lifts by itself after a few hours"]);
}

#[test]
fn a_disabled_template_is_refused() {
    let env = Env::new();
    let s = standin(vec![spring_sale().status("MESSAGE_TEMPLATE_STATUS_APPROVED", "DISABLED")]);
    campaign(&env, "en", MATCHING);
    refused(&s, &env, &["template `spring_sale` (en) is DISABLED by Meta", "submit a new template"]);
}

#[test]
fn too_few_body_variables_are_refused() {
    let env = Env::new();
    let s = standin(vec![Tpl::new("spring_sale", "en", "Hi {{1}}, {{2}} off")]);
    campaign(&env, "en", &[("body_1", "{{ name }}")]);
    refused(
        &s,
        &env,
        &[
            "template `spring_sale` (en) does not match",
            "the body has 2 variables, {{1}}…{{2}}, so it takes body_1…body_2; the file gives body_1",
            "hint: add body_2 under template.parameters",
        ],
    );
}

#[test]
fn too_many_body_variables_are_refused() {
    let env = Env::new();
    let s = standin(vec![Tpl::new("spring_sale", "en", "Hi {{1}}")]);
    campaign(&env, "en", TWO_BODIES);
    refused(
        &s,
        &env,
        &["has 1 variable, {{1}}, so it takes body_1; the file gives body_1, body_2", "hint: remove body_2"],
    );
}

#[test]
fn a_header_of_the_wrong_kind_is_refused() {
    let env = Env::new();
    let s = standin(vec![Tpl::new("spring_sale", "en", "Hi {{1}}").header("IMAGE", "")]);
    campaign(&env, "en", &[("header_video", "https://cdn.example/v.mp4"), ("body_1", "{{ name }}")]);
    refused(
        &s,
        &env,
        &[
            "the template has an IMAGE header, which takes header_image; the file gives header_video",
            "hint: add header_image and remove header_video",
        ],
    );
}

#[test]
fn a_text_header_variable_is_required_and_none_without_a_header() {
    let env = Env::new();
    let s = standin(vec![Tpl::new("spring_sale", "en", "Hi {{1}}").header("TEXT", "Hello {{1}}")]);
    campaign(&env, "en", &[("body_1", "{{ name }}")]);
    refused(&s, &env, &["a TEXT header, which takes header_text; the file gives none"]);
    let env = Env::new();
    let s = standin(vec![Tpl::new("spring_sale", "en", "Hi {{1}}")]);
    campaign(&env, "en", &[("header_image", "https://cdn.example/a.jpg"), ("body_1", "{{ name }}")]);
    refused(&s, &env, &["the template has no header, which takes no header parameter; the file gives header_image"]);
}

#[test]
fn a_url_button_variable_is_required() {
    let env = Env::new();
    let s = standin(vec![spring_sale()]);
    campaign(&env, "en", &[("header_image", "https://cdn.example/a.jpg"), ("body_1", "{{ name }}"), ("body_2", "x")]);
    refused(
        &s,
        &env,
        &["button 1 (URL `Shop now`, https://shop.example/p/{{1}}) takes button_1_url", "hint: add button_1_url"],
    );
}

#[test]
fn a_url_for_a_button_without_a_variable_is_refused() {
    let env = Env::new();
    let s = standin(vec![spring_sale()]);
    campaign(&env, "en", &[MATCHING, &[("button_2_url", "x")]].concat());
    refused(&s, &env, &["button 2 is a QUICK_REPLY button without a URL variable; the file gives button_2_url"]);
}

#[test]
fn a_dry_run_without_a_saved_catalogue_says_the_template_was_not_checked() {
    let env = Env::new();
    campaign(&env, "en", &[("body_1", "{{ name }}")]);
    let run = env.run(&["run", "c.yaml", "--dry-run"]);
    run.expect(0)
        .stderr_has("template `spring_sale` (en) was not checked against the business's catalogue")
        .stderr_has("campaign templates pull c.yaml");
    // The page a person looks at says it too.
    let page = env.run(&["run", "c.yaml", "--dry-run", "--format", "html"]);
    assert!(page.expect(0).stdout.contains("<p class=\"catalogue\">template `spring_sale` (en) was not checked"));
}

#[test]
fn a_pulled_catalogue_makes_an_offline_dry_run_show_the_filled_text() {
    let env = Env::new();
    let s = standin(vec![spring_sale()]);
    campaign(&env, "en", MATCHING);
    env.send(&s, &["templates", "pull", "c.yaml"]).expect(0);
    // No key, no base URL: nothing but the saved copy.
    let run = env.run(&["run", "c.yaml", "--dry-run"]);
    run.expect(0).stderr_has("matches the business's catalogue as saved less than a minute ago");
    for line in [
        "Hi Ana, your A-1 is 20% off this week.",
        "Reply STOP to opt out",
        "[ Shop now ] [ Not interested ]",
        "Shop now → https://shop.example/p/A-1",
    ] {
        assert!(run.stdout.contains(line), "{line:?} not in\n{}", run.stdout);
    }
    let rows = env.run(&["run", "c.yaml", "--dry-run", "--format", "jsonl"]).expect(0).rows();
    assert_eq!(rows[1]["template"]["body"], "Hi Bo, your B-2 is 20% off this week.");
    assert_eq!(rows[1]["template"]["category"], "MARKETING");
    assert_eq!(rows[1]["template"]["buttons"][0]["url"], "https://shop.example/p/B-2");
    assert_eq!(rows[1]["request"]["body"]["templateName"], "spring_sale", "the request is unchanged");
    let page = env.run(&["run", "c.yaml", "--dry-run", "--format", "html"]);
    let html = &page.expect(0).stdout;
    assert!(html.contains("Hi Ana, your A-1 is 20% off this week.") && html.contains("Shop now"), "{html}");
    assert!(html.contains("matches the business&#39;s catalogue as saved less than a minute ago"), "{html}");
    assert_eq!(s.catalogue_fetches(), 1);
}

#[test]
fn a_filled_body_over_1024_characters_is_an_invalid_row() {
    let env = Env::new();
    let s = standin(vec![Tpl::new("spring_sale", "en", &format!("{} {{{{1}}}}", "x".repeat(1000)))]);
    env.write("people.csv", &format!("phone,name,sku\n+16044441111,Ana,A\n+16044441112,{},B\n", "y".repeat(30)));
    env.write(
        "c.yaml",
        &yaml("recipients:\n  csv: people.csv\ntemplate:\n  name: spring_sale\n  language: en\n  parameters:\n    body_1: \"{{ name }}\"\n"),
    );
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(2).stderr_has("row 2: `template.parameters`: the template's body is 1031 characters once filled");
    assert!(s.received().is_empty());
}

#[test]
fn a_real_run_that_cannot_fetch_the_catalogue_stops_unless_a_fresh_copy_is_saved() {
    let env = Env::new();
    let s = standin(vec![spring_sale()]);
    campaign(&env, "en", MATCHING);
    s.catalogue_fault(Some(503));
    env.send(&s, &["run", "c.yaml"])
        .expect(3)
        .stderr_has("the template catalogue could not be fetched")
        .stderr_has("HTTP 503")
        .stderr_has("every recipient is still owed");
    assert!(s.received().is_empty());
    // `status` says why that run sent nothing.
    let st: serde_json::Value =
        serde_json::from_str(&env.run(&["status", "c.yaml", "--format", "json"]).stdout).unwrap();
    assert_eq!(st["runs"][0]["outcome"], "aborted", "{st}");
    assert!(st["runs"][0]["reason"].as_str().unwrap_or("").contains("template catalogue"), "{st}");
    assert_eq!(st["counts"]["owed"], 2, "{st}");
    // A copy pulled earlier today stands in, with a warning.
    s.catalogue_fault(None);
    env.send(&s, &["templates", "pull", "c.yaml"]).expect(0);
    s.catalogue_fault(Some(503));
    let run = env.send(&s, &["run", "c.yaml"]);
    run.expect(0).stderr_has("warning: the template catalogue could not be fetched").stderr_has("copy saved");
    assert_eq!(s.accepted().len(), 2);
    // A copy older than a day does not.
    let path = env.path(".campaign/templates.json");
    let old = std::fs::read_to_string(&path).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&old).unwrap();
    doc["fetched_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&path, doc.to_string()).unwrap();
    env.write("people.csv", &format!("{CSV}+16044441113,Cy,C-3\n"));
    env.send(&s, &["run", "c.yaml"]).expect(3).stderr_has("could not be fetched");
    assert_eq!(s.accepted().len(), 2);
    // A dry run still checks against it, saying how old it is.
    env.run(&["run", "c.yaml", "--dry-run"]).expect(0).stderr_has("days ago").stderr_has("more than a day old");
}

#[test]
fn the_stand_in_refuses_template_sends_that_do_not_match_its_catalogue() {
    // What a stale catalogue would meet: the API's own refusal, per row.
    let env = Env::new();
    let s = standin(vec![spring_sale()]);
    campaign(&env, "en", MATCHING);
    env.send(&s, &["templates", "pull", "c.yaml"]).expect(0);
    s.catalogue(vec![Tpl::new("spring_sale", "en", "Hi {{1}}")]);
    s.catalogue_fault(Some(500));
    s.fault("+16044441112", &[Fault::Error(400, "ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND")]);
    let rows = env.send(&s, &["run", "c.yaml", "--format", "jsonl"]).expect(1).rows();
    assert_eq!(rows[0]["error"]["code"], "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID");
    assert_eq!(rows[1]["error"]["code"], "ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND");
}

#[test]
fn a_failed_pull_says_how_to_pull_again() {
    let env = Env::new();
    let s = StandIn::start();
    campaign(&env, "en", MATCHING);
    let out = env.sending(&s, &["templates", "pull", "c.yaml"]).env("CONNECTLY_API_KEY", "wrong-key-42").output();
    let run = crate::support::Run::from_output(out.unwrap());
    run.expect(3).stderr_has("nothing was saved").stderr_has("hint: ");
    run.stderr_has(", then run `campaign templates pull c.yaml` again");
    assert!(!run.stderr.contains("owed"), "a pull sends nothing: {}", run.stderr);
}

#[cfg(unix)]
#[test]
fn a_ledger_reached_by_a_symlink_keeps_its_catalogue_beside_the_real_file() {
    let env = Env::new();
    let s = standin(vec![spring_sale()]);
    campaign(&env, "en", MATCHING);
    env.write("store/notes.txt", "the ledger lives here\n");
    std::os::unix::fs::symlink("store/state.db", env.path("link.db")).unwrap();
    let pull = env.send(&s, &["templates", "pull", "c.yaml", "--state", "link.db"]);
    assert!(pull.expect(0).stdout.contains("store/templates.json"), "{}", pull.stdout);
    assert!(env.exists("store/templates.json"));
    assert!(!env.exists("templates.json"), "not beside the symlink");
    // Offline, through the symlink or the real path, the same copy is read.
    for state in ["link.db", "store/state.db"] {
        let run = env.run(&["run", "c.yaml", "--dry-run", "--state", state]);
        run.expect(0).stderr_has("matches the business's catalogue as saved less than a minute ago");
    }
    // A real run through the symlink refreshes that same copy.
    std::fs::remove_file(env.path("store/templates.json")).unwrap();
    env.send(&s, &["run", "c.yaml", "--state", "link.db"]).expect(0);
    assert!(env.exists("store/templates.json") && !env.exists("templates.json"));
}
