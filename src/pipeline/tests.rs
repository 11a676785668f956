use std::path::Path;

use super::*;
use crate::runtime::Topology;
use crate::sources::SourceConfig;

const FILE: &str = "pipelines/test.toml";

fn parse(text: &str) -> Result<Pipeline, PipelineError> {
    Pipeline::parse(Path::new(FILE), text, |_| None)
}

fn err(text: &str) -> String {
    let e = parse(text).expect_err("pipeline should be rejected").to_string();
    assert!(e.starts_with(FILE), "error does not name the file: {e}");
    e
}

const GOOD: &str = r#"
name = "t"
[sources.in]
type = "file"
path = "x.jsonl"
[stages.detect]
type = "detect"
inputs = ["in"]
[stages.redact]
type = "redact"
inputs = ["detect"]
[sinks.alerts]
type = "file"
inputs = ["redact"]
records = ["alerts"]
path = "out/a.jsonl"
[sinks.events]
type = "file"
inputs = ["redact"]
records = ["interactions", "dead_letters"]
path = "out/e.jsonl"
"#;

#[test]
fn a_valid_pipeline_orders_stages_after_their_inputs() {
    let p = parse(GOOD).unwrap();
    let names: Vec<_> = p.stages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["detect", "redact"]);
    let flows = p.flows();
    assert!(flows["redact"].redacted && flows["redact"].alerts);
    assert!(!flows["detect"].redacted);
}

#[test]
fn unknown_keys_name_the_key() {
    let e = err(&GOOD.replace("path = \"x.jsonl\"", "path = \"x.jsonl\"\nfolow = true"));
    assert!(e.contains("folow"), "{e}");
    let e = err(&format!("{GOOD}\n[setings]\nbatch_size = 1\n"));
    assert!(e.contains("setings"), "{e}");
}

#[test]
fn unknown_component_types_list_the_known_ones() {
    let e = err(&GOOD.replace("type = \"redact\"", "type = \"redactor\""));
    assert!(e.contains("redactor") && e.contains("detect"), "{e}");
}

#[test]
fn unknown_inputs_name_component_and_key() {
    let e = err(&GOOD.replace("inputs = [\"detect\"]", "inputs = [\"detector\"]"));
    assert!(
        e.contains("stages.redact.inputs") && e.contains("`detector`") && e.contains("known"),
        "{e}"
    );
    let e = err(&GOOD.replace(
        "inputs = [\"redact\"]\nrecords = [\"alerts\"]",
        "inputs = [\"events\"]\nrecords = [\"alerts\"]",
    ));
    assert!(e.contains("sinks.alerts.inputs") && e.contains("sinks have no output"), "{e}");
}

#[test]
fn cycles_are_rejected() {
    let text = GOOD.replace("inputs = [\"in\"]", "inputs = [\"in\", \"redact\"]");
    let e = err(&text);
    assert!(e.contains("cycle") && e.contains("detect") && e.contains("redact"), "{e}");
}

#[test]
fn telemetry_into_a_text_stage_is_a_type_error() {
    let e = err(&GOOD.replace("path = \"x.jsonl\"", "path = \"x.jsonl\"\nkind = \"telemetry\""));
    assert!(
        e.contains("stages.detect.inputs") && e.contains("telemetry") && e.contains("text stage"),
        "{e}"
    );
}

#[test]
fn raw_interactions_need_a_redact_stage_or_allow_raw() {
    let text = GOOD.replace(
        "inputs = [\"redact\"]\nrecords = [\"interactions\"",
        "inputs = [\"detect\"]\nrecords = [\"interactions\"",
    );
    let e = err(&text);
    assert!(e.contains("sinks.events.records") && e.contains("unredacted"), "{e}");
    let allowed =
        text.replace("path = \"out/e.jsonl\"", "path = \"out/e.jsonl\"\nallow_raw = true");
    parse(&allowed).unwrap();
}

#[test]
fn sinks_must_select_records_that_flow_to_them() {
    let text = GOOD.replace(
        "inputs = [\"redact\"]\nrecords = [\"alerts\"]",
        "inputs = [\"in\"]\nrecords = [\"alerts\"]",
    );
    let e = err(&text);
    assert!(e.contains("sinks.alerts.records") && e.contains("alerts"), "{e}");
}

#[test]
fn components_whose_output_goes_nowhere_are_rejected() {
    let text = format!("{GOOD}\n[stages.orphan]\ntype = \"detect\"\ninputs = [\"in\"]\n");
    let e = err(&text);
    assert!(e.contains("stages.orphan") && e.contains("goes nowhere"), "{e}");
}

#[test]
fn environment_substitution_errors_name_the_line() {
    let e = err(&GOOD.replace("\"x.jsonl\"", "\"${INPUT_FILE}\""));
    assert!(e.contains("line 5") && e.contains("INPUT_FILE"), "{e}");
    let p =
        Pipeline::parse(Path::new(FILE), &GOOD.replace("\"x.jsonl\"", "\"${INPUT_FILE}\""), |n| {
            (n == "INPUT_FILE").then(|| "from-env.jsonl".to_owned())
        })
        .unwrap();
    let SourceConfig::File(f) = &p.sources[0].1 else { panic!("a file source") };
    assert_eq!(f.path, "from-env.jsonl");
}

#[test]
fn settings_are_checked() {
    let e = err(&format!("{GOOD}\n[settings]\nbatch_size = 0\n"));
    assert!(e.contains("settings.batch_size"), "{e}");
    let e = err(&format!("{GOOD}\n[settings]\nshutdown_grace = \"soon\"\n"));
    assert!(e.contains("soon"), "{e}");
}

#[test]
fn missing_rule_files_fail_the_build_naming_the_key() {
    let p =
        parse(&GOOD.replace("inputs = [\"in\"]", "inputs = [\"in\"]\nrules = \"no/such/rules\""))
            .unwrap();
    let e = Topology::build(&p).unwrap_err().to_string();
    assert!(
        e.starts_with(FILE) && e.contains("stages.detect.rules") && e.contains("no/such/rules"),
        "{e}"
    );
    let p =
        parse(&GOOD.replace("type = \"redact\"", "type = \"redact\"\npolicy = \"nope\"")).unwrap();
    let e = Topology::build(&p).unwrap_err().to_string();
    assert!(e.contains("stages.redact.policy") && e.contains("default_pii"), "{e}");
}

#[test]
fn invalid_kafka_options_are_build_errors_that_never_quote_values() {
    let text = r#"
name = "k"
[sources.in]
type = "kafka"
brokers = "localhost:1"
topics = ["t"]
group_id = "g"
options = { "sasl.pasword" = "hunter2" }
[sinks.d]
type = "file"
inputs = ["in"]
records = ["dead_letters"]
path = "x.jsonl"
"#;
    let p = parse(text).unwrap();
    let e = Topology::build(&p).unwrap_err().to_string();
    assert!(e.contains("sources.in.options") && e.contains("sasl.pasword"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}
