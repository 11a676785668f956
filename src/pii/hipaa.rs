//! Recognizers for HIPAA Safe Harbor identifiers that only PHI policies redact: any date
//! more precise than a year (`date`), ZIP codes (`zip_code`, redacted beyond their first
//! three digits by `hipaa_phi`), ages over 89 (`age`) and person names introduced by a title
//! or a label (`person_name`). They run only for policies that list one of these types, so
//! the default policy does not pay for them and does not redact every date in the stream.
//!
//! Names in free text without a title need a dictionary or a model: a policy can add one
//! through its `names` hook (a list of names, or a file of them), see [`NameHook`].

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;

use super::{EntityType, PiiMatch};

const MONTHS: &str = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(
        r"(?i)\b(?:(?:19|20)\d\d[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])|(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:19|20)?\d\d|(?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])[-/.](?:19|20)?\d\d|(?:{MONTHS})\.?\s+(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d\d)?|(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\.?(?:,?\s+(?:19|20)\d\d)?)\b"
    );
    Regex::new(&pattern).unwrap_or_else(|_| never())
});

static ZIP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(\b(?:zip(?:\s*code)?|postal\s+code|[A-Z]{2})[\s:#,]{1,3})?\b(\d{5})(?:-(\d{4}))?\b",
    )
    .unwrap_or_else(|_| never())
});

static AGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:(?:aged?|age:)\s*(\d{2,3})\b|(\d{2,3})(?:\s*|-)(?:years?|yrs?|y/?o)(?:[\s-]*old)?\b)",
    )
    .unwrap_or_else(|_| never())
});

static TITLED_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Sr|Sra|Mme|Mlle)\.?|(?i:patient|name|pt)\s*:)\s+(\p{Lu}[\p{Ll}'’-]+(?:\s+\p{Lu}\.)?(?:\s+\p{Lu}[\p{Ll}'’-]+){0,2})",
    )
    .unwrap_or_else(|_| never())
});

/// A regex that matches nothing: the patterns above are constants covered by tests, so
/// this is never reached; it keeps the process from panicking if one ever failed.
fn never() -> Regex {
    Regex::new(r"[^\s\S]").unwrap_or_else(|_| never())
}

/// Two-letter US state codes, the context that marks a 5-digit number as a ZIP code.
const STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "PR",
];

/// Which of this module's types a policy wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wanted {
    pub date: bool,
    pub zip: bool,
    pub age: bool,
    pub name: bool,
}

impl Wanted {
    pub fn any(self) -> bool {
        self.date || self.zip || self.age || self.name
    }
}

/// Appends the wanted candidates found in `text`.
pub fn scan(text: &str, wanted: Wanted, names: Option<&NameHook>, out: &mut Vec<PiiMatch>) {
    let bytes = text.as_bytes();
    let has_digit = bytes.iter().any(u8::is_ascii_digit);
    let push = |out: &mut Vec<PiiMatch>, entity, start, end, confidence| {
        out.push(PiiMatch { entity, start, end, confidence });
    };
    if wanted.date {
        for m in DATE.find_iter(text) {
            // A bare "May 5" is weaker than a numeric date or one with a year.
            let numeric = m.as_str().bytes().filter(u8::is_ascii_digit).count() >= 6;
            push(out, EntityType::Date, m.start(), m.end(), if numeric { 0.85 } else { 0.6 });
        }
    }
    if wanted.zip && has_digit {
        for c in ZIP.captures_iter(text) {
            let (Some(code), whole) = (c.get(2), c.get(0)) else { continue };
            let label = c.get(1).map(|l| l.as_str().trim_end_matches([' ', ':', '#', ',']));
            let context = label.is_some_and(|l| {
                let upper = l.trim();
                STATES.contains(&upper) || upper.to_ascii_lowercase().starts_with(['z', 'p'])
            });
            let plus4 = c.get(3).is_some();
            let confidence = match (context, plus4) {
                (true, _) => 0.85,
                (false, true) => 0.6,
                (false, false) => 0.3,
            };
            let end = whole.map_or(code.end(), |w| w.end());
            push(out, EntityType::ZipCode, code.start(), end, confidence);
        }
    }
    if wanted.age && has_digit {
        for c in AGE.captures_iter(text) {
            let Some(n) = c.get(1).or_else(|| c.get(2)) else { continue };
            if n.as_str().parse::<u32>().is_ok_and(|age| (90..=130).contains(&age)) {
                push(out, EntityType::Age, n.start(), n.end(), 0.8);
            }
        }
    }
    if wanted.name {
        for c in TITLED_NAME.captures_iter(text) {
            if let Some(n) = c.get(1) {
                push(out, EntityType::PersonName, n.start(), n.end(), 0.7);
            }
        }
        if let Some(hook) = names {
            hook.scan(text, out);
        }
    }
}

/// A policy's list of known names (patients, staff, customers), matched as whole words,
/// case-insensitively: the recognizer hook for names that carry no title.
#[derive(Debug, Clone)]
pub struct NameHook {
    automaton: AhoCorasick,
    count: usize,
}

impl NameHook {
    /// Builds the matcher; blank entries are ignored.
    ///
    /// # Errors
    /// When the list is empty or too large to compile.
    pub fn new(names: &[String]) -> Result<Self, String> {
        let names: Vec<&str> = names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).collect();
        if names.is_empty() {
            return Err("the names list is empty".into());
        }
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&names)
            .map_err(|e| format!("cannot build the names matcher: {e}"))?;
        Ok(Self { automaton, count: names.len() })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn scan(&self, text: &str, out: &mut Vec<PiiMatch>) {
        let bytes = text.as_bytes();
        for m in self.automaton.find_iter(text) {
            let before = m.start() > 0 && bytes[m.start() - 1].is_ascii_alphanumeric();
            let after = bytes.get(m.end()).is_some_and(u8::is_ascii_alphanumeric);
            if !before && !after {
                out.push(PiiMatch {
                    entity: EntityType::PersonName,
                    start: m.start(),
                    end: m.end(),
                    confidence: 0.9,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str, wanted: Wanted) -> Vec<(EntityType, &str)> {
        let mut out = Vec::new();
        scan(text, wanted, None, &mut out);
        out.iter()
            .filter(|m| m.confidence >= 0.5)
            .map(|m| (m.entity, &text[m.start..m.end]))
            .collect()
    }

    const ALL: Wanted = Wanted { date: true, zip: true, age: true, name: true };

    #[test]
    fn dates_in_common_formats_but_not_bare_years_or_versions() {
        let hits = found(
            "Admitted 2024-03-12, discharged 03/15/2024; seen March 20, 2024 and 4 Jan.",
            ALL,
        );
        let dates: Vec<&str> =
            hits.iter().filter(|(e, _)| *e == EntityType::Date).map(|(_, s)| *s).collect();
        assert_eq!(dates, ["2024-03-12", "03/15/2024", "March 20, 2024", "4 Jan"]);
        assert!(
            found("In 2024 we shipped version 1.2.3, then release 2.10.1 (build 20261).", ALL)
                .iter()
                .all(|(e, _)| *e != EntityType::Date)
        );
    }

    #[test]
    fn zip_codes_need_context_and_ages_count_only_over_89() {
        let hits =
            found("Lives in Springfield, IL 62704-1234; zip: 90210. Order 12345 shipped.", ALL);
        let zips: Vec<&str> =
            hits.iter().filter(|(e, _)| *e == EntityType::ZipCode).map(|(_, s)| *s).collect();
        assert_eq!(zips, ["62704-1234", "90210"]);
        let ages: Vec<&str> = found("A 92-year-old man; his wife, aged 88; age: 104.", ALL)
            .into_iter()
            .filter(|(e, _)| *e == EntityType::Age)
            .map(|(_, s)| s)
            .collect();
        assert_eq!(ages, ["92", "104"]);
    }

    #[test]
    fn titled_names_and_the_names_hook() {
        let names: Vec<&str> =
            found("Seen by Dr. Amelia Okafor; Patient: José Álvarez. The doctor agreed.", ALL)
                .into_iter()
                .filter(|(e, _)| *e == EntityType::PersonName)
                .map(|(_, s)| s)
                .collect();
        assert_eq!(names, ["Amelia Okafor", "José Álvarez"]);
        let hook = NameHook::new(&["Maria Rossi".into(), "Chen Wei".into()]).unwrap();
        let mut out = Vec::new();
        scan("maria rossi called; Chen Weiss did not", ALL, Some(&hook), &mut out);
        let hooked: Vec<(usize, usize)> =
            out.iter().filter(|m| m.confidence >= 0.9).map(|m| (m.start, m.end)).collect();
        assert_eq!(hooked, [(0, 11)]);
        assert!(NameHook::new(&[" ".into()]).is_err());
    }
}
