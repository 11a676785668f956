//! What Palisade emits: alerts and dead letters.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// Alert severity tier, derived from the risk score unless a rule says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The tier of a 0-100 risk score: 90+ critical, 70+ high, 40+ medium, else low.
    pub fn from_risk(score: u8) -> Self {
        match score {
            90.. => Self::Critical,
            70..=89 => Self::High,
            40..=69 => Self::Medium,
            _ => Self::Low,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! categories {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// What kind of threat or exposure a finding or alert is about.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Category {
            $(#[doc = $doc] $variant,)*
        }

        impl Category {
            /// Every category, in declaration order.
            pub const ALL: &'static [Category] = &[$(Category::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// Parses a snake_case category name.
            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

categories! {
    PromptInjection => "prompt_injection": "Instructions that try to override the system's own.",
    Jailbreak => "jailbreak": "Attempts to lift the model's safety behavior (role play, DAN, developer mode).",
    SystemPromptLeak => "system_prompt_leak": "Attempts to extract, or responses revealing, the system prompt.",
    SocialEngineering => "social_engineering": "Authority impersonation, urgency, manipulation.",
    DataExfiltration => "data_exfiltration": "Moving data out: markdown images, links, encoded payloads.",
    SecretLeak => "secret_leak": "Credentials or keys in prompts, responses or tool traffic.",
    ToolAbuse => "tool_abuse": "Dangerous tool arguments: shell metacharacters, SSRF, path traversal.",
    Obfuscation => "obfuscation": "Evasion techniques: invisible characters, homoglyphs, encodings.",
    PiiExposure => "pii_exposure": "Personal data found in the traffic.",
    BehaviorAnomaly => "behavior_anomaly": "Unusual behavior of a session, user or agent over time.",
    UnboundedConsumption => "unbounded_consumption": "Token, cost or resource use beyond limits (OWASP LLM10).",
    UnauthorizedAccess => "unauthorized_access": "Requests for credentials or privileged access.",
    HarmfulContent => "harmful_content": "Requests for content that is harmful in itself.",
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a gateway consulting the alert should do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Record and notify.
    #[default]
    Alert,
    /// The risk reached the pipeline's `block_threshold`: stop the interaction.
    Block,
}

/// Where in an event a finding was made. `start..end` are UTF-8 byte offsets into the
/// original field; `excerpt` is cut from the *redacted* text and never holds raw PII.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub field: String,
    pub start: usize,
    pub end: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
}

/// A security or compliance alert about one event (or one key's behavior).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub alert_id: String,
    /// Event time of the cause.
    #[serde(with = "timestamp_text")]
    pub ts: Timestamp,
    /// When Palisade raised the alert.
    #[serde(with = "timestamp_text")]
    pub detected_at: Timestamp,
    pub severity: Severity,
    /// The strongest category; every category involved is in `categories`.
    pub category: Category,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    pub risk_score: u8,
    pub confidence: f32,
    /// `alert` or `block` (see the detect stage's `block_threshold`).
    #[serde(default)]
    pub action: Action,
    pub source_event_id: String,
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub agent_id: String,
    pub rule_ids: Vec<String>,
    pub summary: String,
    pub evidence: Vec<Evidence>,
    pub pipeline: String,
    pub rules_version: String,
}

/// A record that could not be processed, kept with its original bytes and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The record exactly as received, base64 (standard alphabet, padded).
    pub original: String,
    /// Pipeline source component that received it.
    pub source: String,
    /// File path (or `-` for standard input), for file sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line number, for file sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Kafka topic, partition and offset, for Kafka sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// Reason class: `oversize`, `not_utf8`, `bad_json`, `bad_field`, ...
    pub error: String,
    /// Human-readable reason (names fields, never quotes their values).
    pub reason: String,
    #[serde(with = "timestamp_text")]
    pub received_at: Timestamp,
}

mod timestamp_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::event::Timestamp;

    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        ts.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_tiers_follow_the_score() {
        assert_eq!(Severity::from_risk(0), Severity::Low);
        assert_eq!(Severity::from_risk(39), Severity::Low);
        assert_eq!(Severity::from_risk(40), Severity::Medium);
        assert_eq!(Severity::from_risk(70), Severity::High);
        assert_eq!(Severity::from_risk(90), Severity::Critical);
        assert_eq!(Severity::from_risk(100), Severity::Critical);
    }

    #[test]
    fn category_names_round_trip() {
        for &c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert_eq!(Category::parse("nope"), None);
    }
}
