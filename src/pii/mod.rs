//! PII and secrets redaction: recognizers find candidate spans, a [`PiiPolicy`] decides which
//! entity types count, at what confidence, and how each is rewritten.
//!
//! Redaction never changes the shape of an event: every text leaf (prompt, response, each
//! string inside tool-call JSON) is rewritten in place, so JSON stays valid. `replace`
//! tokens (`[EMAIL_1]`) are stable within a session: the same value gets the same token on
//! every turn. The token table keeps a keyed 64-bit hash of each value, never the value.

pub mod hipaa;
pub mod policy;
pub mod recognizers;

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::BuildHasher;

use serde::{Deserialize, Serialize};

use crate::event::InteractionEvent;
use crate::fields::for_each_text_mut;

macro_rules! entities {
    ($($variant:ident => $name:literal, $token:literal;)*) => {
        /// A kind of personal or secret data.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum EntityType {
            $($variant,)*
        }

        impl EntityType {
            pub const ALL: &'static [EntityType] = &[$(EntityType::$variant,)*];

            /// snake_case name used in policies, reports and the `pii[].type` field.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// Upper-case name used in replacement tokens (`[EMAIL_1]`).
            pub fn token(self) -> &'static str {
                match self { $(Self::$variant => $token,)* }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

entities! {
    // Personal data.
    Email => "email", "EMAIL";
    Phone => "phone", "PHONE";
    UsSsn => "us_ssn", "US_SSN";
    UsPassport => "us_passport", "US_PASSPORT";
    DateOfBirth => "date_of_birth", "DATE_OF_BIRTH";
    MedicalRecordNumber => "medical_record_number", "MRN";
    IpAddress => "ip_address", "IP_ADDRESS";
    MacAddress => "mac_address", "MAC_ADDRESS";
    // Financial data.
    CreditCard => "credit_card", "CREDIT_CARD";
    CardSecurityCode => "card_security_code", "CARD_SECURITY_CODE";
    Iban => "iban", "IBAN";
    UsBankRouting => "us_bank_routing", "US_BANK_ROUTING";
    // Secrets.
    UrlCredential => "url_credential", "URL_CREDENTIAL";
    AwsAccessKeyId => "aws_access_key_id", "AWS_ACCESS_KEY_ID";
    AwsSecretAccessKey => "aws_secret_access_key", "AWS_SECRET_ACCESS_KEY";
    GithubToken => "github_token", "GITHUB_TOKEN";
    GitlabToken => "gitlab_token", "GITLAB_TOKEN";
    SlackToken => "slack_token", "SLACK_TOKEN";
    StripeKey => "stripe_key", "STRIPE_KEY";
    OpenaiKey => "openai_key", "OPENAI_KEY";
    Jwt => "jwt", "JWT";
    PrivateKey => "private_key", "PRIVATE_KEY";
    GenericSecret => "generic_secret", "SECRET";
    // Health (PHI policies only; see `hipaa`).
    Date => "date", "DATE";
    ZipCode => "zip_code", "ZIP_CODE";
    Age => "age", "AGE";
    PersonName => "person_name", "PERSON_NAME";
}

impl EntityType {
    /// Credentials and keys (as opposed to personal or financial data about a person).
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            Self::UrlCredential
                | Self::AwsAccessKeyId
                | Self::AwsSecretAccessKey
                | Self::GithubToken
                | Self::GitlabToken
                | Self::SlackToken
                | Self::StripeKey
                | Self::OpenaiKey
                | Self::Jwt
                | Self::PrivateKey
                | Self::GenericSecret
        )
    }
}

impl EntityType {
    /// Types only PHI policies redact (every date, ZIP codes, ages, names): not in
    /// `default_pii`.
    pub fn phi_only(self) -> bool {
        matches!(self, Self::Date | Self::ZipCode | Self::Age | Self::PersonName)
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A candidate span from a recognizer: byte offsets into one text leaf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PiiMatch {
    pub entity: EntityType,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
}

/// How a recognized value is rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `[EMAIL_1]`: stable per value within a session.
    Replace,
    /// Every letter and digit but the first `keep_first` and the last `keep_last` becomes
    /// `char`; separators stay.
    Mask { char: char, keep_first: usize, keep_last: usize },
    /// `[EMAIL:3f1c9a0b7d2e4f61]`: keyed HMAC-SHA-256 of the value (per tenant), so equal
    /// values can be joined across sessions without being readable.
    Hash,
    /// Keeps the first `keep_first` and last `keep_last` letters and digits and removes the
    /// rest (`411111…1111`): PCI DSS truncation of a PAN.
    Truncate { keep_first: usize, keep_last: usize },
    /// Removed entirely.
    Drop,
}

/// Which entity types a policy redacts, from what confidence, and how.
#[derive(Debug, Clone)]
pub struct PiiPolicy {
    pub name: String,
    pub description: Option<String>,
    pub min_confidence: f32,
    /// Per entity: method and confidence floor.
    methods: Vec<(EntityType, Method, f32)>,
    /// Key of the `hash` method (set when a method needs it).
    pub hash_key: Option<policy::HashKey>,
    /// Values never redacted.
    pub allowlist: policy::Allowlist,
    /// Which PHI-only recognizers run, and the policy's known names.
    hipaa: hipaa::Wanted,
    pub names: Option<hipaa::NameHook>,
}

impl PiiPolicy {
    /// The built-in `default_pii` policy: every entity type, replaced, confidence ≥ 0.5.
    pub fn default_pii() -> Self {
        Self::new(
            "default_pii",
            0.5,
            EntityType::ALL
                .iter()
                .filter(|e| !e.phi_only())
                .map(|&e| (e, Method::Replace))
                .collect(),
        )
    }

    /// A policy from explicit parts, one confidence floor for every entity.
    pub fn new(
        name: impl Into<String>,
        min_confidence: f32,
        methods: Vec<(EntityType, Method)>,
    ) -> Self {
        let methods = methods.into_iter().map(|(e, m)| (e, m, min_confidence)).collect();
        Self::with_floors(name, min_confidence, methods)
    }

    /// A policy with a confidence floor per entity.
    pub fn with_floors(
        name: impl Into<String>,
        min_confidence: f32,
        methods: Vec<(EntityType, Method, f32)>,
    ) -> Self {
        let has = |e: EntityType| methods.iter().any(|(m, _, _)| *m == e);
        let hipaa = hipaa::Wanted {
            date: has(EntityType::Date),
            zip: has(EntityType::ZipCode),
            age: has(EntityType::Age),
            name: has(EntityType::PersonName),
        };
        Self {
            name: name.into(),
            description: None,
            min_confidence,
            methods,
            hash_key: None,
            allowlist: policy::Allowlist::default(),
            hipaa,
            names: None,
        }
    }

    pub fn method(&self, entity: EntityType) -> Option<&Method> {
        self.methods.iter().find(|(e, _, _)| *e == entity).map(|(_, m, _)| m)
    }

    /// The entity types this policy redacts, with method and confidence floor.
    pub fn entities(&self) -> impl Iterator<Item = (EntityType, &Method, f32)> {
        self.methods.iter().map(|(e, m, f)| (*e, m, *f))
    }

    fn floor(&self, entity: EntityType) -> Option<f32> {
        self.methods.iter().find(|(e, _, _)| *e == entity).map(|(_, _, f)| *f)
    }

    /// The spans of `text` this policy redacts: candidates of its entity types at or above
    /// their confidence floor, not allowlisted for `tenant`, with overlaps resolved (a
    /// containing span wins, then the higher confidence), sorted.
    pub fn find_for(&self, tenant: Option<&str>, text: &str, out: &mut Vec<PiiMatch>) {
        out.clear();
        recognizers::scan(text, out);
        self.filter(tenant, text, out);
    }

    /// [`Self::find_for`] for a text leaf at `path`: a leaf whose key names a secret
    /// (`tool_calls[0].arguments.db_password`) is a secret as a whole.
    pub fn find_in_field(
        &self,
        tenant: Option<&str>,
        path: &str,
        text: &str,
        out: &mut Vec<PiiMatch>,
    ) {
        out.clear();
        recognizers::scan_field(path, text, out);
        self.filter(tenant, text, out);
    }

    fn filter(&self, tenant: Option<&str>, text: &str, out: &mut Vec<PiiMatch>) {
        if self.hipaa.any() {
            hipaa::scan(text, self.hipaa, self.names.as_ref(), out);
        }
        out.retain(|m| {
            self.floor(m.entity).is_some_and(|floor| m.confidence >= floor)
                && !self.allowlist.allows(tenant, &text[m.start..m.end])
        });
        resolve_overlaps(out);
    }

    /// [`Self::find_for`] without a tenant.
    pub fn find(&self, text: &str, out: &mut Vec<PiiMatch>) {
        self.find_for(None, text, out);
    }
}

/// Sorts matches and removes overlaps. A span contained in another is dropped; two spans
/// that partly overlap merge into one covering both, typed by the more confident one (so
/// no byte of either is left unredacted).
pub fn resolve_overlaps(matches: &mut Vec<PiiMatch>) {
    matches.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut kept: Vec<PiiMatch> = Vec::with_capacity(matches.len());
    for m in matches.drain(..) {
        match kept.last_mut() {
            Some(last) if m.start < last.end => {
                if m.end > last.end {
                    if m.confidence > last.confidence {
                        last.entity = m.entity;
                        last.confidence = m.confidence;
                    }
                    last.end = m.end;
                }
            }
            _ => kept.push(m),
        }
    }
    *matches = kept;
}

/// A redacted value: what it was (type), where it was in the original leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PiiFinding {
    #[serde(rename = "type")]
    pub entity: EntityType,
    pub field: String,
    pub start: usize,
    pub end: usize,
}

/// One rewrite inside a leaf: original `start..end` became `new_start..new_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub new_start: usize,
    pub new_end: usize,
}

/// Everything redaction did to one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Redaction {
    pub findings: Vec<PiiFinding>,
    /// Per rewritten leaf, its edits in order.
    pub edits: Vec<(String, Vec<Edit>)>,
}

impl Redaction {
    /// Maps an original byte span of `field` to the matching span of the redacted text. A
    /// span that starts or ends inside a redacted value widens to the whole replacement.
    pub fn map_span(&self, field: &str, start: usize, end: usize) -> (usize, usize) {
        let Some((_, edits)) = self.edits.iter().find(|(f, _)| f == field) else {
            return (start, end);
        };
        (map_offset(edits, start, false), map_offset(edits, end, true))
    }
}

fn map_offset(edits: &[Edit], offset: usize, is_end: bool) -> usize {
    let mut delta: isize = 0;
    for e in edits {
        if offset <= e.start || (!is_end && offset == e.start) {
            break;
        }
        if offset < e.end || (is_end && offset == e.end) {
            return if is_end { e.new_end } else { e.new_start };
        }
        delta = e.new_end as isize - e.end as isize;
    }
    offset.saturating_add_signed(delta)
}

/// Replacement tokens of one session.
#[derive(Debug, Default)]
struct SessionTokens {
    counters: HashMap<EntityType, u32>,
    tokens: HashMap<u64, u32>,
}

/// Replacement-token tables for many sessions, bounded: past `max_sessions` the oldest
/// session's table is forgotten (its values get new numbers if the session comes back).
pub struct TokenVault {
    hasher: RandomState,
    sessions: HashMap<String, SessionTokens>,
    order: VecDeque<String>,
    max_sessions: usize,
}

impl fmt::Debug for TokenVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVault").field("sessions", &self.sessions.len()).finish_non_exhaustive()
    }
}

impl TokenVault {
    pub fn new(max_sessions: usize) -> Self {
        Self {
            hasher: RandomState::new(),
            sessions: HashMap::new(),
            order: VecDeque::new(),
            max_sessions: max_sessions.max(1),
        }
    }

    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    fn session(&mut self, session_id: &str) -> &mut SessionTokens {
        if !self.sessions.contains_key(session_id) {
            if self.sessions.len() >= self.max_sessions
                && let Some(oldest) = self.order.pop_front()
            {
                self.sessions.remove(&oldest);
            }
            self.order.push_back(session_id.to_owned());
            self.sessions.insert(session_id.to_owned(), SessionTokens::default());
        }
        // Just inserted or present.
        self.sessions.entry(session_id.to_owned()).or_default()
    }
}

impl Default for TokenVault {
    fn default() -> Self {
        Self::new(100_000)
    }
}

/// Applies a [`PiiPolicy`] to events.
#[derive(Debug, Clone)]
pub struct Redactor {
    policy: std::sync::Arc<PiiPolicy>,
}

impl Redactor {
    pub fn new(policy: std::sync::Arc<PiiPolicy>) -> Self {
        Self { policy }
    }

    pub fn policy(&self) -> &PiiPolicy {
        &self.policy
    }

    /// Redacts every text leaf of `event` in place.
    pub fn redact(&self, event: &mut InteractionEvent, vault: &mut TokenVault) -> Redaction {
        let mut redaction = Redaction::default();
        let mut matches = Vec::new();
        let session_id = event.session_id.clone();
        let tenant = event.tenant.clone();
        let mut scratch_session = SessionTokens::default();
        let hasher = vault.hasher.clone();
        // Events without a session (batch analysis) get tokens numbered per event.
        let mut tokens =
            if session_id.is_empty() { None } else { Some(vault.session(&session_id)) };
        for_each_text_mut(event, |_, path, text| {
            self.policy.find_in_field(tenant.as_deref(), path, text, &mut matches);
            if matches.is_empty() {
                return;
            }
            let table = match tokens.as_deref_mut() {
                Some(t) => t,
                None => &mut scratch_session,
            };
            let edits = self.rewrite(text, &matches, table, &hasher, tenant.as_deref());
            for m in &matches {
                redaction.findings.push(PiiFinding {
                    entity: m.entity,
                    field: path.to_owned(),
                    start: m.start,
                    end: m.end,
                });
            }
            redaction.edits.push((path.to_owned(), edits));
        });
        redaction
    }

    fn rewrite(
        &self,
        text: &mut String,
        matches: &[PiiMatch],
        table: &mut SessionTokens,
        hasher: &RandomState,
        tenant: Option<&str>,
    ) -> Vec<Edit> {
        let mut out = String::with_capacity(text.len());
        let mut edits = Vec::with_capacity(matches.len());
        let mut at = 0;
        for m in matches {
            out.push_str(&text[at..m.start]);
            let value = &text[m.start..m.end];
            let new_start = out.len();
            match self.policy.method(m.entity).unwrap_or(&Method::Replace) {
                Method::Replace => {
                    let key = hasher.hash_one((m.entity, value));
                    let next = table.counters.entry(m.entity).or_insert(0);
                    let n = *table.tokens.entry(key).or_insert_with(|| {
                        *next += 1;
                        *next
                    });
                    out.push('[');
                    out.push_str(m.entity.token());
                    out.push('_');
                    out.push_str(&n.to_string());
                    out.push(']');
                }
                Method::Mask { char, keep_first, keep_last } => {
                    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
                    let keep_last = (*keep_last).min(total);
                    let keep_first = (*keep_first).min(total - keep_last);
                    let mut seen = 0;
                    for c in value.chars() {
                        if c.is_alphanumeric() {
                            seen += 1;
                            let kept = seen <= keep_first || seen > total - keep_last;
                            out.push(if kept { c } else { *char });
                        } else {
                            out.push(c);
                        }
                    }
                }
                Method::Truncate { keep_first, keep_last } => {
                    let chars: Vec<char> = value.chars().filter(|c| c.is_alphanumeric()).collect();
                    let keep_last = (*keep_last).min(chars.len());
                    let keep_first = (*keep_first).min(chars.len() - keep_last);
                    out.extend(&chars[..keep_first]);
                    out.push('…');
                    out.extend(&chars[chars.len() - keep_last..]);
                }
                Method::Hash => {
                    out.push('[');
                    out.push_str(m.entity.token());
                    out.push(':');
                    match &self.policy.hash_key {
                        Some(key) => out.push_str(&key.digest(tenant, m.entity, value)),
                        // Policies that use `hash` refuse to load without a key; a policy
                        // built in code without one still never lets the value through.
                        None => out.push_str("unkeyed"),
                    }
                    out.push(']');
                }
                Method::Drop => {}
            }
            edits.push(Edit { start: m.start, end: m.end, new_start, new_end: out.len() });
            at = m.end;
        }
        out.push_str(&text[at..]);
        *text = out;
        edits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Decoder;

    fn event(session: &str, prompt: &str) -> InteractionEvent {
        let json = serde_json::json!({"event_id":"e","ts":"2026-11-22T10:00:00Z","agent_id":"a",
            "session_id":session,"prompt":prompt});
        Decoder::default().interaction(json.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn replace_tokens_are_stable_within_a_session() {
        let redactor = Redactor::new(PiiPolicy::default_pii().into());
        let mut vault = TokenVault::default();
        let mut first = event("s1", "mail a@x.io or b@x.io, then a@x.io");
        redactor.redact(&mut first, &mut vault);
        assert_eq!(first.prompt.as_deref(), Some("mail [EMAIL_1] or [EMAIL_2], then [EMAIL_1]"));
        let mut second = event("s1", "again b@x.io");
        redactor.redact(&mut second, &mut vault);
        assert_eq!(second.prompt.as_deref(), Some("again [EMAIL_2]"));
        let mut other = event("s2", "again b@x.io");
        redactor.redact(&mut other, &mut vault);
        assert_eq!(other.prompt.as_deref(), Some("again [EMAIL_1]"));
    }

    #[test]
    fn findings_keep_original_offsets_and_spans_map_to_redacted_text() {
        let redactor = Redactor::new(PiiPolicy::default_pii().into());
        let mut e = event("s", "SSN 123-45-6789 and ignore previous instructions");
        let original = e.prompt.clone().unwrap();
        let r = redactor.redact(&mut e, &mut TokenVault::default());
        assert_eq!(r.findings.len(), 1);
        assert_eq!(&original[r.findings[0].start..r.findings[0].end], "123-45-6789");
        let at = original.find("ignore").unwrap();
        let (s, t) = r.map_span("prompt", at, original.len());
        let redacted = e.prompt.unwrap();
        assert_eq!(&redacted[s..t], "ignore previous instructions");
        // A span overlapping a redacted value widens to the replacement, never inside it.
        let (s, t) = r.map_span("prompt", 6, 10);
        assert_eq!(&redacted[s..t], "[US_SSN_1]");
    }

    #[test]
    fn contained_spans_drop_and_partial_overlaps_merge() {
        let mut m = vec![
            PiiMatch { entity: EntityType::Phone, start: 5, end: 15, confidence: 0.9 },
            PiiMatch { entity: EntityType::Email, start: 0, end: 20, confidence: 0.5 },
            PiiMatch { entity: EntityType::IpAddress, start: 18, end: 30, confidence: 0.4 },
            PiiMatch { entity: EntityType::UsSsn, start: 19, end: 35, confidence: 0.8 },
        ];
        resolve_overlaps(&mut m);
        let kept: Vec<_> = m.iter().map(|m| (m.entity, m.start, m.end)).collect();
        assert_eq!(kept, [(EntityType::UsSsn, 0, 35)]);
    }

    #[test]
    fn mask_keeps_the_last_digits_and_separators() {
        let policy = PiiPolicy::new(
            "t",
            0.5,
            vec![(EntityType::CreditCard, Method::Mask { char: '*', keep_first: 0, keep_last: 4 })],
        );
        let mut e = event("s", "card 4111-1111-1111-1111 thanks, mail a@b.io");
        Redactor::new(policy.into()).redact(&mut e, &mut TokenVault::default());
        assert_eq!(e.prompt.as_deref(), Some("card ****-****-****-1111 thanks, mail a@b.io"));
    }
}
