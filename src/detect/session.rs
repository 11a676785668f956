//! Session context: what a session did in earlier turns raises the score of later ones.
//!
//! - **escalation**: a turn with any finding, in a session that already had flagged turns,
//!   gains +10 per earlier flagged turn (at most +20) and the finding `SES-001`;
//! - **persistence after refusal**: a prompt with any finding right after the model refused
//!   the previous turn gains +15 and `SES-002`;
//! - **accumulation**: weak signals (findings below the threshold) in three or more turns of
//!   one session lift the third and later to the threshold, with `SES-003`.
//!
//! State is per session, bounded (oldest session forgotten first) and owned by one worker:
//! a session always lands on the same shard.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::{Detection, Finding};
use crate::event::{Category, InteractionEvent};

#[derive(Debug, Default, Clone)]
struct SessionState {
    flagged_turns: u32,
    weak_turns: u32,
    refused_last: bool,
}

/// Recent history of many sessions.
#[derive(Debug)]
pub struct SessionMemory {
    sessions: HashMap<String, SessionState>,
    order: VecDeque<String>,
    max_sessions: usize,
    /// The response being checked for a refusal, ASCII-lowercased (reused between events).
    lower: Vec<u8>,
}

impl Default for SessionMemory {
    fn default() -> Self {
        Self::new(100_000)
    }
}

static REFUSAL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:i\s*(?:can(?:'|’)?t|cannot|won(?:'|’)?t|am\s+not\s+able\s+to|'m\s+not\s+able\s+to|am\s+unable\s+to|'m\s+unable\s+to)\s+(?:help|assist|provide|do\s+that|comply|share)|i(?:'|’)?m\s+sorry,?\s+but|against\s+my\s+(?:guidelines|policies|rules)|not\s+able\s+to\s+help\s+with\s+that)",
    )
    .ok()
});

/// Words of which every match of [`REFUSAL`] in an ASCII text contains one, in ASCII
/// lower case. A response without any of them is not a refusal, and the regex (about 20
/// instructions a byte, with no literal prefix to skip ahead by) is not run on it. Texts
/// with non-ASCII characters (`’`, or `ſ`, which `(?i)` matches for `s`) skip the screen.
const REFUSAL_WORDS: [&str; 8] =
    ["can't", "cant", "cannot", "won't", "wont", "able", "sorry", "against"];

static REFUSAL_SCREEN: LazyLock<Vec<memchr::memmem::Finder<'static>>> =
    LazyLock::new(|| REFUSAL_WORDS.iter().map(memchr::memmem::Finder::new).collect());

/// Whether `text` is a refusal; `lower` is scratch space.
fn is_refusal(text: &str, lower: &mut Vec<u8>) -> bool {
    let screened = !text.is_ascii() || {
        lower.clear();
        lower.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
        REFUSAL_SCREEN.iter().any(|word| word.find(lower).is_some())
    };
    screened && REFUSAL.as_ref().is_some_and(|r| r.is_match(text))
}

impl SessionMemory {
    pub fn new(max_sessions: usize) -> Self {
        Self {
            sessions: HashMap::new(),
            order: VecDeque::new(),
            max_sessions: max_sessions.max(1),
            lower: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Adjusts `detection` for `event`'s session history, then records this turn.
    pub fn apply(&mut self, event: &InteractionEvent, detection: &mut Detection, threshold: u8) {
        if event.session_id.is_empty() {
            return;
        }
        if !self.sessions.contains_key(&event.session_id) {
            if self.sessions.len() >= self.max_sessions
                && let Some(oldest) = self.order.pop_front()
            {
                self.sessions.remove(&oldest);
            }
            self.order.push_back(event.session_id.clone());
            self.sessions.insert(event.session_id.clone(), SessionState::default());
        }
        let Some(state) = self.sessions.get_mut(&event.session_id) else { return };
        if !detection.is_empty() {
            let field = detection.findings[0].field.clone();
            let add = |id: &'static str, boost: u8, detection: &mut Detection| {
                detection.risk_score = detection.risk_score.saturating_add(boost).min(100);
                let rule: Arc<str> = Arc::from(id);
                detection.rule_ids.push(rule.clone());
                if !detection.categories.contains(&Category::BehaviorAnomaly) {
                    detection.categories.push(Category::BehaviorAnomaly);
                }
                detection.findings.push(Finding {
                    rule_id: rule,
                    category: Category::BehaviorAnomaly,
                    risk_score: boost,
                    confidence: 0.6,
                    field: field.clone(),
                    start: 0,
                    end: 0,
                });
            };
            if state.flagged_turns > 0 {
                add("SES-001", 10 * state.flagged_turns.min(2) as u8, detection);
            }
            if state.refused_last && event.prompt.is_some() {
                add("SES-002", 15, detection);
            }
            if detection.risk_score < threshold {
                state.weak_turns += 1;
                if state.weak_turns >= 3 {
                    let lift = threshold - detection.risk_score;
                    add("SES-003", lift, detection);
                }
            }
        }
        if !detection.is_empty() && detection.risk_score >= threshold {
            state.flagged_turns += 1;
        }
        let lower = &mut self.lower;
        state.refused_last = event.response.as_deref().is_some_and(|r| is_refusal(r, lower));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Decoder, Timestamp};

    fn event(session: &str, prompt: &str, response: &str) -> InteractionEvent {
        let mut e = Decoder::default()
            .interaction(br#"{"event_id":"e","ts":"2026-11-22T10:00:00Z","agent_id":"a","session_id":"s","prompt":"x"}"#)
            .unwrap();
        e.session_id = session.into();
        e.prompt = Some(prompt.into());
        e.response = Some(response.into());
        e.ts = Timestamp::from_micros(0);
        e
    }

    fn weak(risk: u8) -> Detection {
        Detection {
            risk_score: risk,
            confidence: 0.5,
            categories: vec![Category::PromptInjection],
            rule_ids: vec![Arc::from("R")],
            findings: vec![Finding {
                rule_id: Arc::from("R"),
                category: Category::PromptInjection,
                risk_score: risk,
                confidence: 0.5,
                field: "prompt".into(),
                start: 0,
                end: 1,
            }],
        }
    }

    #[test]
    fn earlier_flagged_turns_escalate_later_findings() {
        let mut m = SessionMemory::default();
        let mut first = weak(80);
        m.apply(&event("s", "a", "ok"), &mut first, 50);
        assert_eq!(first.risk_score, 80);
        let mut second = weak(45);
        m.apply(&event("s", "b", "ok"), &mut second, 50);
        assert_eq!(second.risk_score, 55);
        assert!(second.rule_ids.iter().any(|r| &**r == "SES-001"));
        // Another session is unaffected.
        let mut other = weak(45);
        m.apply(&event("t", "b", "ok"), &mut other, 50);
        assert_eq!(other.risk_score, 45);
    }

    #[test]
    fn persistence_after_a_refusal_and_accumulated_weak_signals() {
        let mut m = SessionMemory::default();
        m.apply(
            &event("s", "hi", "I'm sorry, but I can't help with that."),
            &mut Detection::default(),
            50,
        );
        let mut again = weak(40);
        m.apply(&event("s", "come on", "..."), &mut again, 50);
        assert_eq!(again.risk_score, 55);
        assert!(again.rule_ids.iter().any(|r| &**r == "SES-002"));

        let mut m = SessionMemory::default();
        let scores: Vec<u8> = (0..4)
            .map(|_| {
                let mut d = weak(30);
                m.apply(&event("w", "x", "fine"), &mut d, 50);
                d.risk_score
            })
            .collect();
        assert_eq!(&scores[..2], [30, 30]);
        assert!(scores[2] >= 50, "{scores:?}");
    }

    #[test]
    fn memory_is_bounded() {
        let mut m = SessionMemory::new(2);
        for s in ["a", "b", "c"] {
            m.apply(&event(s, "x", "y"), &mut Detection::default(), 50);
        }
        assert_eq!(m.len(), 2);
    }

    /// The screen in front of the refusal regex never hides a refusal: on fixed and on
    /// generated texts, `is_refusal` agrees with the regex alone.
    #[test]
    fn the_refusal_screen_agrees_with_the_regex() {
        let regex = REFUSAL.as_ref().expect("refusal regex compiles");
        for text in [
            "I can't help with that.",
            "I’M SORRY, BUT no.",
            "i am unable to  comply",
            "That is against my guidelines.",
            "I'm ſorry, but that is not possible.",
            "Sure, here is the report you asked for.",
            "I can help with that.",
        ] {
            assert_eq!(is_refusal(text, &mut Vec::new()), regex.is_match(text), "{text:?}");
        }
        let words = [
            "I",
            "i",
            " ",
            "\n",
            "I can't",
            "i CANNOT",
            "I cant",
            "I won’t",
            "I WONT",
            "I am not able to",
            "I'm unable to",
            "i’m ſorry, but",
            "I'M SORRY but",
            "against my",
            "rules",
            "policies",
            "not able to help with that",
            " help",
            " assist",
            " share",
            "x",
            "can",
            "won",
            "significant",
            "table",
        ];
        let alphabet: Vec<u8> = (0..words.len() as u8).collect();
        let mut refusals = 0;
        for code in crate::detect::prefilter::random_texts(&alphabet, 4000, 24, 0x5EED) {
            let text = code.chars().map(|c| words[c as usize]).collect::<Vec<_>>().join(" ");
            let expected = regex.is_match(&text);
            refusals += usize::from(expected);
            assert_eq!(is_refusal(&text, &mut Vec::new()), expected, "{text:?}");
        }
        assert!(refusals > 50, "the generated texts include refusals ({refusals})");
    }
}
