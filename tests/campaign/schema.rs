//! `campaign schema`: the JSON Schema of the campaign file, committed in
//! schema/ for editors; every example campaign validates against it.

use serde_json::Value;

use crate::support::{BIN, CampaignFile, Env, Run};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn schema() -> Value {
    let run = Run::from_output(std::process::Command::new(BIN).arg("schema").output().unwrap());
    run.expect(0);
    serde_json::from_str(&run.stdout).expect("the schema is JSON")
}

/// The errors the schema finds in a YAML campaign file's text.
fn problems(schema: &Value, yaml_text: &str) -> Vec<String> {
    let instance: Value = yaml_serde::from_str(yaml_text).expect("YAML");
    let validator = jsonschema::validator_for(schema).expect("a valid schema");
    validator.iter_errors(&instance).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[test]
fn the_committed_schema_file_is_what_the_command_prints() {
    let committed = std::fs::read_to_string(format!("{ROOT}/schema/campaign.schema.json")).unwrap();
    let committed: Value = serde_json::from_str(&committed).unwrap();
    assert!(
        committed == schema(),
        "schema/campaign.schema.json is out of date: run `campaign schema > schema/campaign.schema.json`"
    );
}

#[test]
fn every_example_campaign_validates() {
    let schema = schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let mut seen = 0;
    for entry in std::fs::read_dir(format!("{ROOT}/campaigns")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(problems(&schema, &text), Vec::<String>::new(), "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 3, "the examples were not found");
}

/// Every object in the schema, wherever it is nested.
fn objects<'a>(v: &'a Value, out: &mut Vec<&'a serde_json::Map<String, Value>>) {
    match v {
        Value::Object(m) => {
            out.push(m);
            m.values().for_each(|x| objects(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| objects(x, out)),
        _ => {}
    }
}

#[test]
fn every_field_has_a_description_and_unknown_keys_are_refused() {
    let schema = schema();
    let mut all = Vec::new();
    objects(&schema, &mut all);
    let mut fields = 0;
    for m in all.iter().filter(|m| m.get("type") == Some(&Value::from("object"))) {
        assert_eq!(m.get("additionalProperties"), Some(&Value::Bool(false)), "{m:?}");
        for key in ["properties", "patternProperties"] {
            for (name, field) in m.get(key).and_then(Value::as_object).into_iter().flatten() {
                let d = field.get("description").and_then(Value::as_str).unwrap_or("");
                assert!(!d.trim().is_empty(), "`{name}` has no description");
                fields += 1;
            }
        }
    }
    assert!(fields > 60, "only {fields} fields found");
}

#[test]
fn the_schema_refuses_what_the_program_refuses() {
    let schema = schema();
    let good = CampaignFile::new()
        .csv("people.csv")
        .template("t")
        .param("body_1", "{{ first_name }}")
        .set("template.parameters.header_document", "{ value: \"https://x/a.pdf\", filename: a.pdf }");
    assert_eq!(problems(&schema, &good.text()), Vec::<String>::new());
    for (bad, why) in [
        (good.clone().set("retries", 3), "retries"),
        (good.clone().rename("template.parameters.body_1", "body_one"), "body_one"),
        (good.clone().recipients("phone_colum", "tel"), "phone_colum"),
        (good.clone().set("template.languge", "en"), "languge"),
        (good.clone().set("window.margin", "15 minutes"), "margin"),
    ] {
        let bad = bad.text();
        assert!(!problems(&schema, &bad).is_empty(), "the schema accepts {why}");
        // …and so does the program.
        let env = Env::new();
        env.write("people.csv", "phone,first_name\n+16044441111,Ana\n");
        env.write("c.yaml", &bad);
        env.run(&["check", "c.yaml"]).expect(2);
    }
}
