#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The JSON Schemas in `schemas/`, the examples in `schemas/README.md` and the Rust side
//! (decoder, event types, generator, rule loader) agree with each other.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use jsonschema::Validator;
use palisade::event::{Alert, Category, DeadLetter, Decoder, Severity};
use palisade::generate::{GenerateConfig, Generator};
use serde_json::{Map, Value};

const SCHEMAS: &[&str] = &["interaction", "telemetry", "alert", "dead_letter", "rule"];
const EXAMPLES: &[&str] = &["interaction", "telemetry", "alert", "dead_letter"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn schema(name: &str) -> Value {
    let path = root().join("schemas").join(format!("{name}.schema.json"));
    serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A validator that also asserts `format` (`date-time`), which draft 2020-12 leaves as an
/// annotation by default.
fn validator(name: &str) -> Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema(name))
        .unwrap_or_else(|e| panic!("{name}.schema.json does not compile: {e}"))
}

fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator.iter_errors(instance).map(|e| format!("at `{}`: {e}", e.instance_path())).collect()
}

#[track_caller]
fn assert_valid(validator: &Validator, what: &str, instance: &Value) {
    let errors = errors(validator, instance);
    assert!(errors.is_empty(), "{what} does not validate:\n{}", errors.join("\n"));
}

/// The text of the ```json block that follows `<!-- example: {kind} -->` in schemas/README.md.
fn example_text(kind: &str) -> String {
    let readme = read(&root().join("schemas/README.md"));
    let marker = format!("<!-- example: {kind} -->");
    let mut lines = readme.lines().skip_while(|l| l.trim() != marker);
    assert!(lines.next().is_some(), "README has no `{marker}` line");
    assert_eq!(
        lines.next().map(str::trim),
        Some("```json"),
        "`{marker}` must be followed by a ```json block"
    );
    let body: Vec<&str> = lines.take_while(|l| l.trim() != "```").collect();
    assert!(!body.is_empty(), "example {kind} is empty");
    body.join("\n")
}

fn example(kind: &str) -> Value {
    serde_json::from_str(&example_text(kind))
        .unwrap_or_else(|e| panic!("example {kind} is not JSON: {e}"))
}

/// The top-level property names a schema declares.
fn declared(schema: &Value) -> Vec<String> {
    schema["properties"].as_object().expect("schema has properties").keys().cloned().collect()
}

/// What the decoder should make of `original`: unknown top-level fields moved into
/// `metadata` (as `<key>.top_level` when metadata already has the key).
fn with_unknown_in_metadata(original: &Value, known: &[String]) -> Value {
    let mut out = Map::new();
    let mut unknown = Vec::new();
    for (key, value) in original.as_object().expect("an object") {
        if known.contains(key) {
            out.insert(key.clone(), value.clone());
        } else {
            unknown.push((key.clone(), value.clone()));
        }
    }
    if !unknown.is_empty() {
        let metadata = out
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("metadata is an object");
        for (key, value) in unknown {
            if metadata.contains_key(&key) {
                metadata.insert(format!("{key}.top_level"), value);
            } else {
                metadata.insert(key, value);
            }
        }
    }
    Value::Object(out)
}

/// Serializes as the sinks do (JSON text) and parses back, so `f32` fields compare as
/// their wire text rather than as widened `f64`s.
fn wire<T: serde::Serialize>(value: &T) -> Value {
    serde_json::from_slice(&serde_json::to_vec(value).unwrap()).unwrap()
}

#[test]
fn schemas_compile_and_are_valid_2020_12() {
    for name in SCHEMAS {
        let s = schema(name);
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema", "{name}: $schema");
        if let Err(e) = jsonschema::meta::validate(&s) {
            panic!("{name}.schema.json is not a valid schema: {e}");
        }
        let _ = validator(name);
        for key in ["$id", "title", "description"] {
            assert!(s[key].as_str().is_some_and(|t| !t.is_empty()), "{name}: missing {key}");
        }
        let id = s["$id"].as_str().unwrap();
        assert!(id.ends_with(&format!("/{name}.schema.json")), "{name}: $id {id}");
    }
}

/// Every entry of every `properties` map, at any depth, has a description.
#[test]
fn every_property_is_documented() {
    fn walk(name: &str, path: &str, node: &Value, missing: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::Object(props)) = map.get("properties") {
                    for (key, prop) in props {
                        let documented = prop.get("description").and_then(Value::as_str);
                        // Inside anyOf branches, `properties` only narrows a documented field.
                        let narrowing = path.contains("/anyOf/");
                        if !narrowing && documented.is_none_or(str::is_empty) {
                            missing.push(format!("{name}: {path}/properties/{key}"));
                        }
                    }
                }
                for (key, child) in map {
                    walk(name, &format!("{path}/{key}"), child, missing);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(name, &format!("{path}/{i}"), child, missing);
                }
            }
            _ => {}
        }
    }
    let mut missing = Vec::new();
    for name in SCHEMAS {
        walk(name, "#", &schema(name), &mut missing);
    }
    assert!(missing.is_empty(), "undocumented properties:\n{}", missing.join("\n"));
}

#[test]
fn enums_match_the_rust_types() {
    let categories: Vec<Value> = Category::ALL.iter().map(|c| Value::from(c.as_str())).collect();
    let severities: Vec<Value> =
        [Severity::Low, Severity::Medium, Severity::High, Severity::Critical]
            .iter()
            .map(|s| Value::from(s.as_str()))
            .collect();
    let alert = schema("alert");
    assert_eq!(alert["$defs"]["category"]["enum"], Value::from(categories.clone()));
    assert_eq!(alert["$defs"]["severity"]["enum"], Value::from(severities.clone()));
    let rule = schema("rule");
    assert_eq!(rule["$defs"]["category"]["enum"], Value::from(categories));
    let mut rule_severities = severities;
    rule_severities.push(Value::Null);
    assert_eq!(
        rule["$defs"]["rule"]["properties"]["severity"]["enum"],
        Value::from(rule_severities)
    );
    assert_eq!(
        schema("telemetry")["properties"]["status"]["enum"],
        serde_json::json!(["ok", "error", "timeout", "blocked", null])
    );
}

#[test]
fn readme_examples_validate() {
    for kind in EXAMPLES {
        assert_valid(&validator(kind), &format!("README example {kind}"), &example(kind));
    }
}

#[test]
fn interaction_example_round_trips_through_the_decoder() {
    let text = example_text("interaction");
    let original = example("interaction");
    assert!(original.get("trace_id").is_some(), "the example must show an unknown top-level field");
    let event = Decoder::default()
        .interaction(text.as_bytes())
        .unwrap_or_else(|e| panic!("decoder rejects the README example: {e}"));
    let reencoded = serde_json::to_value(&event).unwrap();
    assert_valid(&validator("interaction"), "re-encoded interaction", &reencoded);
    assert_eq!(reencoded["metadata"]["trace_id"], original["trace_id"]);
    assert!(reencoded.get("trace_id").is_none());
    let expected = with_unknown_in_metadata(&original, &declared(&schema("interaction")));
    assert_eq!(reencoded, expected);
    // The wire text decodes to the same event.
    let again = Decoder::default().interaction(&serde_json::to_vec(&event).unwrap()).unwrap();
    assert_eq!(again, event);
}

#[test]
fn telemetry_example_round_trips_through_the_decoder() {
    let text = example_text("telemetry");
    let original = example("telemetry");
    let event = Decoder::default()
        .telemetry(text.as_bytes())
        .unwrap_or_else(|e| panic!("decoder rejects the README example: {e}"));
    let reencoded = serde_json::to_value(&event).unwrap();
    assert_valid(&validator("telemetry"), "re-encoded telemetry", &reencoded);
    let expected = with_unknown_in_metadata(&original, &declared(&schema("telemetry")));
    assert_eq!(reencoded, expected);
}

#[test]
fn unknown_field_colliding_with_metadata_key_is_kept_as_top_level() {
    let text = r#"{"event_id":"e1","ts":"2026-11-22T10:00:00Z","agent_id":"a","session_id":"s",
        "prompt":"hi","trace_id":"abc","metadata":{"trace_id":"kept"}}"#;
    let original: Value = serde_json::from_str(text).unwrap();
    assert_valid(&validator("interaction"), "colliding interaction", &original);
    let event = Decoder::default().interaction(text.as_bytes()).unwrap();
    let expected = with_unknown_in_metadata(&original, &declared(&schema("interaction")));
    assert_eq!(serde_json::to_value(&event).unwrap(), expected);
    assert_eq!(expected["metadata"]["trace_id.top_level"], "abc");
}

#[test]
fn alert_example_round_trips_through_the_rust_type() {
    let original = example("alert");
    let alert: Alert = serde_json::from_value(original.clone())
        .unwrap_or_else(|e| panic!("Alert rejects the README example: {e}"));
    let back = wire(&alert);
    assert_valid(&validator("alert"), "re-encoded alert", &back);
    assert_eq!(back, original);
    assert_eq!(
        alert.alert_id,
        palisade::analyze::alert_id(&alert.pipeline, &alert.rules_version, &alert.source_event_id),
        "the example's alert_id is not the one Palisade would compute"
    );
}

/// The alert example points at the interaction example with UTF-8 byte offsets, and the
/// named rules really match there.
#[test]
fn alert_example_evidence_uses_byte_offsets_into_the_interaction_example() {
    let event = Decoder::default().interaction(example_text("interaction").as_bytes()).unwrap();
    let alert: Alert = serde_json::from_value(example("alert")).unwrap();
    assert_eq!(alert.source_event_id, event.event_id);
    assert_eq!(alert.session_id, event.session_id);
    assert_eq!(alert.ts, event.ts);
    let (_, rules, _) =
        palisade::detect::rules::load_path(&root().join("rules/detection")).unwrap();
    assert!(!alert.evidence.is_empty());
    for evidence in &alert.evidence {
        let mut text = None;
        palisade::fields::for_each_text(&event, |_, path, t| {
            if path == evidence.field {
                text = Some(t);
            }
        });
        let text = text.unwrap_or_else(|| panic!("no field {} in the example", evidence.field));
        let matched = text
            .get(evidence.start..evidence.end)
            .unwrap_or_else(|| panic!("{evidence:?} is not a byte range of the field"));
        let excerpt = evidence.excerpt.as_deref().unwrap_or_default();
        assert!(excerpt.contains(matched), "{excerpt:?} lacks {matched:?}");
        assert!(
            alert.rule_ids.iter().any(|id| rules.iter().any(|r| r.id.as_ref() == id.as_str()
                && r.pattern.as_ref().is_some_and(|p| p.is_match(matched)))),
            "no rule of {:?} matches {matched:?}",
            alert.rule_ids
        );
    }
}

#[test]
fn dead_letter_example_round_trips_and_tells_the_truth() {
    let original = example("dead_letter");
    let letter: DeadLetter = serde_json::from_value(original.clone())
        .unwrap_or_else(|e| panic!("DeadLetter rejects the README example: {e}"));
    let back = wire(&letter);
    assert_valid(&validator("dead_letter"), "re-encoded dead letter", &back);
    assert_eq!(back, original);
    // The recorded reason is what the decoder says about the recorded bytes.
    let bytes = base64::engine::general_purpose::STANDARD.decode(&letter.original).unwrap();
    let error = Decoder::default().telemetry(&bytes).unwrap_err();
    assert_eq!(letter.error, error.class());
    assert_eq!(letter.reason, format!("not a valid telemetry event: {error}"));
}

#[test]
fn generated_traffic_validates() {
    let interaction = validator("interaction");
    let telemetry = validator("telemetry");
    let config = GenerateConfig { seed: 7, sessions: 40, attack_percent: 30, pii_percent: 30 };
    let decoder = Decoder::default();
    let mut tool_calls = 0;
    for generated in Generator::new(config).take(500) {
        let i = serde_json::to_value(&generated.interaction).unwrap();
        assert_valid(&interaction, &format!("generated {}", generated.interaction.event_id), &i);
        let t = serde_json::to_value(&generated.telemetry).unwrap();
        assert_valid(&telemetry, &format!("telemetry of {}", generated.interaction.event_id), &t);
        // What the generator writes, the decoder reads back unchanged.
        let decoded =
            decoder.interaction(&serde_json::to_vec(&generated.interaction).unwrap()).unwrap();
        assert_eq!(decoded, generated.interaction);
        let decoded =
            decoder.telemetry(&serde_json::to_vec(&generated.telemetry).unwrap()).unwrap();
        assert_eq!(decoded, generated.telemetry);
        tool_calls += generated.interaction.tool_calls.len();
    }
    assert!(tool_calls > 0, "the sample should include tool calls");
}

const BASE: &str = r#""event_id":"e1","ts":"2026-11-22T10:00:00Z","agent_id":"a","session_id":"s""#;

/// Records both the schema and the decoder must reject.
#[test]
fn invalid_records_are_rejected_by_schema_and_decoder() {
    let interactions = [
        (
            "missing event_id",
            r#"{"ts":"2026-11-22T10:00:00Z","agent_id":"a","session_id":"s","prompt":"hi"}"#
                .to_owned(),
        ),
        ("empty event_id", r#"{"event_id":"","ts":"2026-11-22T10:00:00Z","agent_id":"a","session_id":"s","prompt":"hi"}"#.to_owned()),
        ("turn is a string", format!(r#"{{{BASE},"prompt":"hi","turn":"3"}}"#)),
        ("turn is negative", format!(r#"{{{BASE},"prompt":"hi","turn":-1}}"#)),
        ("turn is too large", format!(r#"{{{BASE},"prompt":"hi","turn":4294967296}}"#)),
        ("no prompt and no response", format!("{{{BASE}}}")),
        ("null prompt and null response", format!(r#"{{{BASE},"prompt":null,"response":null}}"#)),
        ("ts is not a date-time", r#"{"event_id":"e1","ts":"yesterday","agent_id":"a","session_id":"s","prompt":"hi"}"#.to_owned()),
        ("ts without offset", r#"{"event_id":"e1","ts":"2026-11-22T10:00:00","agent_id":"a","session_id":"s","prompt":"hi"}"#.to_owned()),
        ("missing session_id", r#"{"event_id":"e1","ts":"2026-11-22T10:00:00Z","agent_id":"a","prompt":"hi"}"#.to_owned()),
        ("prompt is a number", format!(r#"{{{BASE},"prompt":42}}"#)),
        ("tool_calls is an object", format!(r#"{{{BASE},"prompt":"hi","tool_calls":{{}}}}"#)),
        ("tool call without arguments", format!(r#"{{{BASE},"prompt":"hi","tool_calls":[{{"name":"x"}}]}}"#)),
        ("tool call with an empty name", format!(r#"{{{BASE},"prompt":"hi","tool_calls":[{{"name":"","arguments":{{}}}}]}}"#)),
        ("metadata is an array", format!(r#"{{{BASE},"prompt":"hi","metadata":[]}}"#)),
    ];
    let schema = validator("interaction");
    for (what, text) in &interactions {
        let value: Value = serde_json::from_str(text).unwrap();
        assert!(!schema.is_valid(&value), "schema accepts interaction: {what}");
        assert!(
            Decoder::default().interaction(text.as_bytes()).is_err(),
            "decoder accepts interaction: {what}"
        );
    }

    const T: &str = r#""ts":"2026-11-22T10:00:00Z","agent_id":"a""#;
    let telemetry = [
        ("bad status", format!(r#"{{{T},"status":"exploded"}}"#)),
        ("status with other case", format!(r#"{{{T},"status":"OK"}}"#)),
        ("missing agent_id", r#"{"ts":"2026-11-22T10:00:00Z"}"#.to_owned()),
        ("empty agent_id", r#"{"ts":"2026-11-22T10:00:00Z","agent_id":""}"#.to_owned()),
        ("missing ts", r#"{"agent_id":"a"}"#.to_owned()),
        ("negative latency", format!(r#"{{{T},"latency_ms":-1}}"#)),
        ("negative cost", format!(r#"{{{T},"cost_usd":-0.5}}"#)),
        ("tokens as a string", format!(r#"{{{T},"prompt_tokens":"12"}}"#)),
        ("fractional tokens", format!(r#"{{{T},"completion_tokens":1.5}}"#)),
        ("negative tokens", format!(r#"{{{T},"prompt_tokens":-3}}"#)),
    ];
    let schema = validator("telemetry");
    for (what, text) in &telemetry {
        let value: Value = serde_json::from_str(text).unwrap();
        assert!(!schema.is_valid(&value), "schema accepts telemetry: {what}");
        assert!(
            Decoder::default().telemetry(text.as_bytes()).is_err(),
            "decoder accepts telemetry: {what}"
        );
    }
}

/// Records both the schema and the decoder must accept (nulls, loose tool calls, unknown
/// fields of any type).
#[test]
fn lenient_corners_are_accepted_by_schema_and_decoder() {
    let interactions = [
        format!(r#"{{{BASE},"response":"only a response"}}"#),
        format!(
            r#"{{{BASE},"prompt":"hi","response":null,"user_id":null,"tenant":null,"turn":null,
            "model":null,"provider":null,"tool_calls":null,"metadata":null}}"#
        ),
        format!(
            r#"{{{BASE},"prompt":"hi","tool_calls":[{{"name":"f","arguments":"{{\"q\":1}}"}},
            {{"name":"g","arguments":null,"result":null,"id":"call_1","type":"function"}}]}}"#
        ),
        format!(r#"{{{BASE},"prompt":"","turn":0,"x":[1,{{"y":null}}],"z":false}}"#),
        r#"{"event_id":"e1","ts":"2026-11-22T12:15:30.123456789+02:00","agent_id":"a","session_id":"s","prompt":"hi"}"#
            .to_owned(),
    ];
    let schema = validator("interaction");
    for text in &interactions {
        let value: Value = serde_json::from_str(text).unwrap();
        assert_valid(&schema, text, &value);
        if let Err(e) = Decoder::default().interaction(text.as_bytes()) {
            panic!("decoder rejects {text}: {e}");
        }
    }
    let telemetry = [
        r#"{"ts":"2026-11-22T10:00:00Z","agent_id":"a"}"#,
        r#"{"ts":"2026-11-22T10:00:00Z","agent_id":"a","event_id":null,"status":null,"latency_ms":0,"prompt_tokens":0,"cost_usd":null,"metadata":null,"region":"eu"}"#,
        r#"{"ts":"2026-11-22T10:00:00Z","agent_id":"a","status":"blocked","cpu_percent":250.5,"memory_mb":1e3}"#,
    ];
    let schema = validator("telemetry");
    for text in telemetry {
        let value: Value = serde_json::from_str(text).unwrap();
        assert_valid(&schema, text, &value);
        if let Err(e) = Decoder::default().telemetry(text.as_bytes()) {
            panic!("decoder rejects {text}: {e}");
        }
    }
}

#[test]
fn alert_and_dead_letter_schemas_are_closed() {
    let mut alert = example("alert");
    alert["extra"] = Value::from(1);
    assert!(!validator("alert").is_valid(&alert));
    let mut alert = example("alert");
    alert["evidence"][0]["extra"] = Value::from(1);
    assert!(!validator("alert").is_valid(&alert));
    let mut alert = example("alert");
    alert["severity"] = Value::from("severe");
    assert!(!validator("alert").is_valid(&alert));
    assert!(serde_json::from_value::<Alert>(alert).is_err());
    let mut alert = example("alert");
    alert["category"] = Value::from("spam");
    assert!(!validator("alert").is_valid(&alert));
    assert!(serde_json::from_value::<Alert>(alert).is_err());

    let mut letter = example("dead_letter");
    letter["extra"] = Value::from(1);
    assert!(!validator("dead_letter").is_valid(&letter));
    let mut letter = example("dead_letter");
    letter["original"] = Value::from("not base64!");
    assert!(!validator("dead_letter").is_valid(&letter));
    let mut letter = example("dead_letter");
    letter.as_object_mut().unwrap().remove("reason");
    assert!(!validator("dead_letter").is_valid(&letter));
    assert!(serde_json::from_value::<DeadLetter>(letter).is_err());
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"))
}

#[test]
fn detection_rule_files_validate() {
    let schema = validator("rule");
    let dir = root().join("rules/detection");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no rule files in {}", dir.display());
    for file in &files {
        let text = read(file);
        let value = yaml(&text);
        assert_valid(&schema, &file.display().to_string(), &value);
        // The loader agrees.
        if let Err(e) = palisade::detect::rules::parse_pack(file, &text) {
            panic!("loader rejects {}: {e}", file.display());
        }
    }
}

#[test]
fn rule_shapes_are_judged_alike_by_schema_and_loader() {
    let schema = validator("rule");
    let path = Path::new("rules/detection/test.yaml");
    let good = [
        // The SecureVector shape.
        r#"
name: "Company Security Patterns"
version: "1.0"
patterns:
  - pattern: "internal_database|employee_records"
    risk_score: 85
    category: "data_exfiltration"
    description: "Attempts to access internal systems"
  - pattern: "admin\\s+credentials|root\\s+password"
    risk_score: 95
    category: "unauthorized_access"
"#,
        // Both shapes, a numeric version, one applies_to name, all_of/any_of only.
        r#"
name: mixed
version: 1.0
description: ~
rules:
  - id: T.1_a
    category: tool_abuse
    severity: critical
    confidence: 0.5
    risk_score: 100
    applies_to: tool
    all_of: ['rm\s+-rf']
    any_of: ['/', '~']
    case_sensitive: true
    references: ['https://example.com']
    examples: { match: ["rm -rf /"], no_match: [] }
patterns:
  - pattern: 'x'
    risk_score: 0
    category: obfuscation
"#,
    ];
    for text in good {
        assert_valid(&schema, text, &yaml(text));
        if let Err(e) = palisade::detect::rules::parse_pack(path, text) {
            panic!("loader rejects {text}: {e}");
        }
    }
    let rule = |extra: &str| {
        format!(
            "name: t\nversion: '1'\nrules:\n  - id: X-1\n    category: jailbreak\n    risk_score: 50\n{extra}"
        )
    };
    let bad = [
        ("unknown rule key", rule("    pattern: a\n    patern: a\n")),
        ("no pattern, all_of or any_of", rule("")),
        ("empty applies_to list", rule("    pattern: a\n    applies_to: []\n")),
        ("unknown applies_to", rule("    pattern: a\n    applies_to: [system]\n")),
        ("blank keyword", rule("    pattern: a\n    keywords: ['  ']\n")),
        ("confidence over 1", rule("    pattern: a\n    confidence: 1.5\n")),
        ("unknown severity", rule("    pattern: a\n    severity: severe\n")),
        ("unknown examples key", rule("    pattern: a\n    examples: {matches: [a]}\n")),
        (
            "bad id",
            "name: t\nversion: '1'\nrules:\n  - id: 'X 1'\n    category: jailbreak\n    risk_score: 50\n    pattern: a\n".to_owned(),
        ),
        (
            "unknown category",
            "name: t\nversion: '1'\nrules:\n  - id: X-1\n    category: nonsense\n    risk_score: 50\n    pattern: a\n".to_owned(),
        ),
        (
            "risk over 100",
            "name: t\nversion: '1'\npatterns:\n  - pattern: a\n    risk_score: 150\n    category: jailbreak\n".to_owned(),
        ),
        (
            "unknown pattern key",
            "name: t\nversion: '1'\npatterns:\n  - pattern: a\n    risk_score: 50\n    category: jailbreak\n    id: P-1\n".to_owned(),
        ),
        ("missing version", "name: t\nrules: []\n".to_owned()),
        ("unknown top-level key", "name: t\nversion: '1'\nrule: []\n".to_owned()),
    ];
    for (what, text) in &bad {
        assert!(!schema.is_valid(&yaml(text)), "schema accepts rule file: {what}");
        assert!(
            palisade::detect::rules::parse_pack(path, text).is_err(),
            "loader accepts rule file: {what}"
        );
    }
}
