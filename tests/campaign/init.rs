//! `campaign init DIR`: a new campaign folder that checks and dry-runs as
//! it is, and never overwrites anything.

use serde_json::Value;

use crate::support::Env;

#[test]
fn a_new_folder_checks_and_dry_runs_as_it_is() {
    let env = Env::new();
    let run = env.run(&["init", "campaigns/Spring Sale"]);
    run.expect(0);
    assert!(run.stdout.contains("campaign check 'campaigns/Spring Sale/campaign.yaml'"), "{}", run.stdout);
    for file in ["campaign.yaml", "recipients.csv", "message.txt.j2", "README.md", "campaign.schema.json"] {
        assert!(env.exists(&format!("campaigns/Spring Sale/{file}")), "{file} missing");
    }
    let yaml = std::fs::read_to_string(env.path("campaigns/Spring Sale/campaign.yaml")).unwrap();
    assert!(yaml.contains("name: spring-sale "), "{yaml}");
    assert!(yaml.contains("CHANGE"), "the file says what to change");
    let csv = std::fs::read_to_string(env.path("campaigns/Spring Sale/recipients.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "a header and two sample rows: {csv}");

    env.run(&["check", "campaigns/Spring Sale/campaign.yaml"]).expect(0);
    let dry = env.run(&["run", "campaigns/Spring Sale/campaign.yaml", "--dry-run", "--format", "jsonl"]);
    dry.expect(0);
    let routes: Vec<Value> = dry.rows().iter().map(|r| r["route"].clone()).collect();
    assert_eq!(routes, ["session", "template"], "one sample row on each route");

    // The schema beside it is the program's, and the file validates against it.
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("campaigns/Spring Sale/campaign.schema.json")).unwrap())
            .unwrap();
    let printed: Value = serde_json::from_str(&env.run(&["schema"]).stdout).unwrap();
    assert_eq!(schema, printed);
    let instance: Value = yaml_serde::from_str(&yaml).unwrap();
    assert!(jsonschema::is_valid(&schema, &instance));
}

#[test]
fn refuses_to_overwrite() {
    let env = Env::new();
    env.write("mine/campaign.yaml", "my own work\n");
    let run = env.run(&["init", "mine"]);
    run.expect(2).stderr_has("mine already exists and is not empty").stderr_has("never overwrites");
    // The folder it suggests instead is one that is free.
    env.write("mine-2/x", "taken\n");
    env.run(&["init", "mine"]).expect(2).stderr_has("e.g. campaign init mine-3\n");
    assert_eq!(std::fs::read_to_string(env.path("mine/campaign.yaml")).unwrap(), "my own work\n");
    assert!(!env.exists("mine/recipients.csv"));
    // An empty folder is fine.
    std::fs::create_dir(env.path("empty")).unwrap();
    env.run(&["init", "empty"]).expect(0);
    env.run(&["init", "empty"]).expect(2);
}
