//! The detection rule format (`rules/detection/*.yaml`, `schemas/rule.schema.json`) and its
//! loading: read → parse strictly → validate → compile. Every error names the file and the
//! rule (index and id) and the key that is wrong.
//!
//! Two shapes load:
//!
//! ```yaml
//! name: core-injection            # a Palisade pack
//! version: "1.2.0"
//! description: ...
//! rules:
//!   - id: PI-001
//!     category: prompt_injection
//!     risk_score: 85
//!     applies_to: [prompt, tool]
//!     keywords: [ignore, disregard]
//!     pattern: '\b(ignore|disregard)\b.{0,40}\binstructions\b'
//!     examples: { match: [...], no_match: [...] }
//! ```
//!
//! and the SecureVector shape, `patterns: [{pattern, risk_score, category, description}]`,
//! whose rules get ids `<file stem>-<n>` and apply to every field.

use std::fmt;
use std::path::{Path, PathBuf};

use regex::RegexBuilder;
use regex_automata::meta;
use regex_automata::util::syntax;
use serde::Deserialize;

use crate::event::{Category, Severity};
use crate::fields::FieldKind;

/// Largest compiled regex accepted from a rule (protects against pathological patterns).
pub const MAX_REGEX_SIZE: usize = 2 << 20;
/// Longest pattern text accepted.
pub const MAX_PATTERN_LEN: usize = 4096;

/// A rule file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("cannot read rules from {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: invalid rule file: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {location}: {key}: {message}")]
    Invalid { path: PathBuf, location: String, key: &'static str, message: String },
    #[error("rule id `{id}` is defined twice: in {first} and in {second}")]
    DuplicateId { id: String, first: PathBuf, second: PathBuf },
    #[error("no rule files (*.yaml, *.yml) found in {path}")]
    Empty { path: PathBuf },
}

/// A version written as a string or a number (`1.0`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum VersionText {
    Text(String),
    Float(f64),
    Int(i64),
}

impl fmt::Display for VersionText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(s) => f.write_str(s),
            Self::Float(x) => write!(f, "{x}"),
            Self::Int(x) => write!(f, "{x}"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    name: String,
    version: VersionText,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    rules: Vec<RuleSpec>,
    /// SecureVector-compatible rules.
    #[serde(default)]
    patterns: Vec<PatternSpec>,
}

/// One side or several: `applies_to: prompt` or `applies_to: [prompt, tool]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum AppliesTo {
    One(AppliesToName),
    Many(Vec<AppliesToName>),
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum AppliesToName {
    Prompt,
    Response,
    Tool,
    Any,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    #[serde(default, rename = "match")]
    pub matches: Vec<String>,
    #[serde(default)]
    pub no_match: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    category: String,
    #[serde(default)]
    severity: Option<Severity>,
    risk_score: u8,
    #[serde(default)]
    confidence: Option<f32>,
    #[serde(default)]
    applies_to: Option<AppliesTo>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    and_keywords: Vec<String>,
    #[serde(default)]
    only_if: Vec<String>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    all_of: Vec<String>,
    #[serde(default)]
    any_of: Vec<String>,
    #[serde(default)]
    case_sensitive: bool,
    #[serde(default = "default_true")]
    enabled: bool,
    #[serde(default)]
    description: String,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    examples: Examples,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternSpec {
    pattern: String,
    risk_score: u8,
    category: String,
    #[serde(default)]
    description: String,
}

/// A rule's compiled regex, with the meaning of a `regex::Regex` built from the same text.
///
/// Built without the regex engine's own literal prefilter: a rule's regex only runs on
/// texts the keyword prefilter already selected, where a prefilter over the regex's many
/// alternative literals mostly finds candidates the DFA then rejects, at the cost of a
/// second scan; and extracting those literals was a fifth of rule compile time.
#[derive(Debug, Clone)]
pub struct RuleRegex {
    source: Box<str>,
    case_insensitive: bool,
    regex: meta::Regex,
}

impl RuleRegex {
    /// Compiles `pattern` as `RegexBuilder::new(pattern).case_insensitive(..)
    /// .size_limit(MAX_REGEX_SIZE).dfa_size_limit(MAX_REGEX_SIZE)` would, or returns that
    /// builder's error message.
    pub fn new(pattern: &str, case_insensitive: bool) -> Result<Self, String> {
        let config = meta::Config::new()
            .match_kind(regex_automata::MatchKind::LeftmostFirst)
            .utf8_empty(true)
            .nfa_size_limit(Some(MAX_REGEX_SIZE))
            .hybrid_cache_capacity(MAX_REGEX_SIZE)
            .auto_prefilter(false);
        let syntax = syntax::Config::new().case_insensitive(case_insensitive).utf8(true);
        match meta::Builder::new().configure(config).syntax(syntax).build(pattern) {
            Ok(regex) => Ok(Self { source: pattern.into(), case_insensitive, regex }),
            // The `regex` crate words the error better (with the position marked).
            Err(error) => Err(RegexBuilder::new(pattern)
                .case_insensitive(case_insensitive)
                .size_limit(MAX_REGEX_SIZE)
                .dfa_size_limit(MAX_REGEX_SIZE)
                .build()
                .err()
                .map_or_else(|| error.to_string(), |e| e.to_string())),
        }
    }

    /// The pattern text.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether it was built case-insensitive (the rule is not `case_sensitive`).
    pub fn case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    pub fn find(&self, text: &str) -> Option<regex_automata::Match> {
        self.regex.find(text)
    }

    pub fn find_iter<'r, 'h>(&'r self, text: &'h str) -> meta::FindMatches<'r, 'h> {
        self.regex.find_iter(text)
    }
}

/// A validated, compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub id: std::sync::Arc<str>,
    pub category: Category,
    pub severity: Severity,
    pub risk_score: u8,
    pub confidence: f32,
    /// Bit per [`FieldKind`] (see [`field_bit`]).
    pub applies_to: u8,
    /// Lowercased literal keywords; empty means "always a candidate".
    pub keywords: Vec<String>,
    /// Lowercased literals of which one must also occur (with one of `keywords`) for the
    /// rule to be a candidate; empty means no second condition.
    pub and_keywords: Vec<String>,
    /// Bits of [`super::normalize::Signals::bits`] of which at least one must be present in
    /// the text for the rule to run (`only_if`); 0 means no condition.
    pub only_if: u8,
    pub pattern: Option<RuleRegex>,
    pub all_of: Vec<RuleRegex>,
    pub any_of: Vec<RuleRegex>,
    pub description: String,
    pub references: Vec<String>,
    pub examples: Examples,
    /// The pack (file) the rule came from.
    pub pack: std::sync::Arc<str>,
    pub file: PathBuf,
}

/// The bit of a field kind in [`Rule::applies_to`].
pub fn field_bit(kind: FieldKind) -> u8 {
    match kind {
        FieldKind::Prompt => 1,
        FieldKind::Response => 2,
        FieldKind::Tool => 4,
    }
}

/// A pack's identity, for `rules_version` and listings.
#[derive(Debug, Clone)]
pub struct PackInfo {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    pub file: PathBuf,
    pub rules: usize,
}

/// Loads every `*.yaml` / `*.yml` file of a directory (sorted by name), or one file.
///
/// # Errors
/// The first file that cannot be read, parsed or validated, or a duplicate rule id.
pub fn load_path(path: &Path) -> Result<(Vec<PackInfo>, Vec<Rule>, u64), RuleError> {
    let io = |source| RuleError::Io { path: path.to_owned(), source };
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(RuleError::Empty { path: path.to_owned() });
        }
        files
    } else {
        vec![path.to_owned()]
    };
    let mut packs = Vec::new();
    let mut rules: Vec<Rule> = Vec::new();
    let mut digest = Fnv64::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|source| RuleError::Io { path: file.clone(), source })?;
        digest.write(file.file_name().map_or(&[][..], |n| n.as_encoded_bytes()));
        digest.write(text.as_bytes());
        let (pack, file_rules) = parse_pack(&file, &text)?;
        for rule in file_rules {
            if let Some(first) = rules.iter().find(|r| r.id == rule.id) {
                return Err(RuleError::DuplicateId {
                    id: rule.id.to_string(),
                    first: first.file.clone(),
                    second: file.clone(),
                });
            }
            rules.push(rule);
        }
        packs.push(pack);
    }
    Ok((packs, rules, digest.finish()))
}

/// Parses and compiles one pack file's text.
///
/// # Errors
/// [`RuleError::Parse`] or [`RuleError::Invalid`] naming the rule and key.
pub fn parse_pack(file: &Path, text: &str) -> Result<(PackInfo, Vec<Rule>), RuleError> {
    let pack: PackFile = serde_saphyr::from_str(text)
        .map_err(|e| RuleError::Parse { path: file.to_owned(), message: e.to_string() })?;
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("rules").to_owned();
    let pack_name: std::sync::Arc<str> = pack.name.as_str().into();
    let mut rules = Vec::with_capacity(pack.rules.len() + pack.patterns.len());
    for (i, spec) in pack.rules.into_iter().enumerate() {
        if !spec.enabled {
            continue;
        }
        let location = format!("rules[{i}] (id {})", spec.id);
        rules.push(compile_rule(file, &location, spec, &pack_name)?);
    }
    for (i, p) in pack.patterns.into_iter().enumerate() {
        let spec = RuleSpec {
            id: format!("{stem}-{}", i + 1),
            category: p.category,
            severity: None,
            risk_score: p.risk_score,
            confidence: None,
            applies_to: None,
            keywords: Vec::new(),
            and_keywords: Vec::new(),
            only_if: Vec::new(),
            pattern: Some(p.pattern),
            all_of: Vec::new(),
            any_of: Vec::new(),
            case_sensitive: false,
            enabled: true,
            description: p.description,
            references: Vec::new(),
            examples: Examples::default(),
        };
        let location = format!("patterns[{i}]");
        rules.push(compile_rule(file, &location, spec, &pack_name)?);
    }
    let info = PackInfo {
        name: pack.name,
        version: pack.version.to_string(),
        description: pack.description,
        file: file.to_owned(),
        rules: rules.len(),
    };
    Ok((info, rules))
}

fn compile_rule(
    file: &Path,
    location: &str,
    spec: RuleSpec,
    pack: &std::sync::Arc<str>,
) -> Result<Rule, RuleError> {
    let invalid = |key: &'static str, message: String| RuleError::Invalid {
        path: file.to_owned(),
        location: location.to_owned(),
        key,
        message,
    };
    if spec.id.is_empty()
        || !spec.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(invalid(
            "id",
            "must be non-empty and use only A-Z, a-z, 0-9, '-', '_', '.'".into(),
        ));
    }
    let category = Category::parse(&spec.category).ok_or_else(|| {
        let known: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        invalid(
            "category",
            format!("unknown category `{}`; known: {}", spec.category, known.join(", ")),
        )
    })?;
    if spec.risk_score > 100 {
        return Err(invalid("risk_score", format!("{} is over 100", spec.risk_score)));
    }
    let confidence = spec.confidence.unwrap_or(0.8);
    if !(0.0..=1.0).contains(&confidence) {
        return Err(invalid("confidence", "must be between 0 and 1".into()));
    }
    let applies_to = match spec.applies_to {
        None => 0b111,
        Some(AppliesTo::One(name)) => applies_bits(&[name]),
        Some(AppliesTo::Many(names)) if names.is_empty() => {
            return Err(invalid(
                "applies_to",
                "must name at least one of prompt, response, tool, any".into(),
            ));
        }
        Some(AppliesTo::Many(names)) => applies_bits(&names),
    };
    let compile = |key: &'static str, pattern: &str| -> Result<RuleRegex, RuleError> {
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(invalid(
                key,
                format!("pattern is {} bytes, over {MAX_PATTERN_LEN}", pattern.len()),
            ));
        }
        RuleRegex::new(pattern, !spec.case_sensitive)
            .map_err(|e| invalid(key, format!("invalid regex: {e}")))
    };
    let pattern = spec.pattern.as_deref().map(|p| compile("pattern", p)).transpose()?;
    let all_of = spec.all_of.iter().map(|p| compile("all_of", p)).collect::<Result<Vec<_>, _>>()?;
    let any_of = spec.any_of.iter().map(|p| compile("any_of", p)).collect::<Result<Vec<_>, _>>()?;
    if pattern.is_none() && all_of.is_empty() && any_of.is_empty() {
        return Err(invalid("pattern", "a rule needs `pattern`, `all_of` or `any_of`".into()));
    }
    let literals = |key: &'static str, list: &[String]| -> Result<Vec<String>, RuleError> {
        let mut out = Vec::with_capacity(list.len());
        for keyword in list {
            let keyword = keyword.trim().to_lowercase();
            if keyword.is_empty() {
                return Err(invalid(key, "keywords must not be empty strings".into()));
            }
            if !out.contains(&keyword) {
                out.push(keyword);
            }
        }
        Ok(out)
    };
    let keywords = literals("keywords", &spec.keywords)?;
    let and_keywords = literals("and_keywords", &spec.and_keywords)?;
    if keywords.is_empty() && !and_keywords.is_empty() {
        return Err(invalid("and_keywords", "needs `keywords` too (both must occur)".into()));
    }
    let mut only_if = 0u8;
    for name in &spec.only_if {
        let Some(&(_, bit)) = super::normalize::SIGNAL_NAMES.iter().find(|(n, _)| n == name) else {
            let known: Vec<&str> = super::normalize::SIGNAL_NAMES.iter().map(|(n, _)| *n).collect();
            return Err(invalid(
                "only_if",
                format!("unknown signal `{name}`; known: {}", known.join(", ")),
            ));
        };
        only_if |= bit;
    }
    Ok(Rule {
        id: spec.id.as_str().into(),
        category,
        severity: spec.severity.unwrap_or_else(|| Severity::from_risk(spec.risk_score)),
        risk_score: spec.risk_score,
        confidence,
        applies_to,
        keywords,
        and_keywords,
        only_if,
        pattern,
        all_of,
        any_of,
        description: spec.description,
        references: spec.references,
        examples: spec.examples,
        pack: pack.clone(),
        file: file.to_owned(),
    })
}

fn applies_bits(names: &[AppliesToName]) -> u8 {
    names.iter().fold(0, |bits, name| {
        bits | match name {
            AppliesToName::Prompt => 1,
            AppliesToName::Response => 2,
            AppliesToName::Tool => 4,
            AppliesToName::Any => 0b111,
        }
    })
}

/// FNV-1a, 64 bit: a stable digest of the rule files for `rules_version`.
#[derive(Debug)]
pub(crate) struct Fnv64(u64);

impl Fnv64 {
    pub(crate) fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(PackInfo, Vec<Rule>), RuleError> {
        parse_pack(Path::new("rules/detection/test.yaml"), text)
    }

    #[test]
    fn loads_a_palisade_pack() {
        let (info, rules) = parse(
            r#"
name: test
version: 1.0
rules:
  - id: T-1
    category: prompt_injection
    risk_score: 80
    applies_to: [prompt, tool]
    keywords: [Ignore]
    pattern: 'ignore\s+previous'
    examples:
      match: ["ignore previous"]
"#,
        )
        .unwrap();
        assert_eq!(info.version, "1");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].keywords, ["ignore"]);
        assert_eq!(rules[0].applies_to, 0b101);
        assert_eq!(rules[0].severity, Severity::High);
        assert!(rules[0].pattern.as_ref().unwrap().is_match("IGNORE  previous"));
    }

    #[test]
    fn loads_the_securevector_shape() {
        let (_, rules) = parse(
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
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(&*rules[1].id, "test-2");
        assert_eq!(rules[1].category, Category::UnauthorizedAccess);
        assert_eq!(rules[1].applies_to, 0b111);
    }

    #[test]
    fn errors_name_the_rule_and_key() {
        let err = parse(
            "name: t\nversion: '1'\nrules:\n  - id: X-1\n    category: prompt_injection\n    risk_score: 50\n    pattern: '(unclosed'\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("test.yaml")
                && err.contains("rules[0] (id X-1)")
                && err.contains("pattern"),
            "{err}"
        );

        let err = parse("name: t\nversion: '1'\nrules:\n  - id: X-1\n    category: nonsense\n    risk_score: 50\n    pattern: a\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("category") && err.contains("nonsense") && err.contains("jailbreak"),
            "{err}"
        );

        let err = parse("name: t\nversion: '1'\nrules:\n  - id: X-1\n    category: jailbreak\n    risk_score: 50\n    patern: a\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("patern"), "{err}");
    }

    /// A rule regex finds the same spans as a `regex::Regex` built from the same text, for
    /// every shipped pattern on the detection dev set (and texts where Unicode case folding
    /// and empty matches matter).
    #[test]
    fn rule_regexes_match_like_the_regex_crate() {
        let dev = std::fs::read_to_string("tests/data/detection_dev.jsonl").expect("dev set");
        let mut texts: Vec<String> = dev
            .lines()
            .step_by(3)
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|v| v["text"].as_str().map(str::to_owned))
            .collect();
        texts.extend(["".into(), "ſ K Ignore ALL previous ınstructions 😀".into()]);
        let rules = crate::detect::RuleSet::load(Path::new("rules/detection")).expect("rules");
        let mut compared = 0;
        for rule in rules.rules() {
            for ours in rule.pattern.iter().chain(&rule.all_of).chain(&rule.any_of) {
                let theirs = RegexBuilder::new(ours.as_str())
                    .case_insensitive(ours.case_insensitive())
                    .size_limit(MAX_REGEX_SIZE)
                    .build()
                    .expect("compiles with the regex crate");
                for text in &texts {
                    let a: Vec<(usize, usize)> =
                        ours.find_iter(text).map(|m| (m.start(), m.end())).collect();
                    let b: Vec<(usize, usize)> =
                        theirs.find_iter(text).map(|m| (m.start(), m.end())).collect();
                    assert_eq!(a, b, "{} on {text:?}", ours.as_str());
                }
                compared += 1;
            }
        }
        assert!(compared > 100 && texts.len() > 100, "{compared} patterns, {} texts", texts.len());
    }

    #[test]
    fn a_bad_regex_is_reported_with_the_regex_crates_message() {
        let pack = |pattern: &str| {
            format!(
                "name: t\nversion: 1\ndescription: d\nrules:\n  - id: R-1\n    category: jailbreak\n    risk_score: 50\n    pattern: '{pattern}'\n    description: d\n"
            )
        };
        let error = parse(&pack("(unclosed")).expect_err("rejected").to_string();
        assert!(error.contains("invalid regex") && error.contains("unclosed group"), "{error}");
        let error = parse(&pack(r"\w{1000}{1000}")).expect_err("rejected").to_string();
        assert!(error.contains("invalid regex") && error.contains("size limit"), "{error}");
    }
}
