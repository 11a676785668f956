//! Strict, allocation-light decoding of wire events with errors that say what and where.
//!
//! Decoding runs on every event, so it deserializes straight into the event structs (no
//! intermediate `serde_json::Value` for known fields). Field-level problems are recorded in
//! a side channel ([`Ctx`]) instead of serde's stringly errors: serde messages quote the
//! offending value, and the value may be personal data, so they never reach an error
//! message, a log or a dead letter. What is reported is the field path, what was expected,
//! and the column in the record.

use std::cell::Cell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{CallStatus, Event, InteractionEvent, TelemetryEvent, Timestamp, ToolCall};

/// Default limit on the size of one encoded event: 1 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

/// Which wire format a record is expected to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// `schemas/interaction.schema.json`
    Interaction,
    /// `schemas/telemetry.schema.json`
    Telemetry,
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Interaction => "interaction",
            Self::Telemetry => "telemetry",
        })
    }
}

/// Why a record could not be decoded. Messages never contain field values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The record is larger than the configured `max_event_bytes`.
    Oversize { size: usize, limit: usize },
    /// The record is not valid UTF-8.
    NotUtf8 { valid_up_to: usize },
    /// The record is not a JSON object (an array, a string, empty...).
    NotAnObject { found: &'static str },
    /// The record is not well-formed JSON.
    Syntax { message: String },
    /// A field has the wrong type or an invalid value.
    Field { path: String, expected: &'static str },
    /// A field appears twice in one object (ambiguous: consumers could disagree).
    Duplicate { path: String },
    /// A required field is absent.
    Missing { path: String },
    /// The record is well-formed but breaks a rule spanning fields.
    Invalid { message: &'static str },
}

/// A record that could not be decoded, with the column (1-based, in bytes) where decoding
/// stopped when known. The caller adds the record's location (file line, Kafka offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    pub column: Option<usize>,
}

impl DecodeError {
    fn new(kind: DecodeErrorKind) -> Self {
        Self { kind, column: None }
    }

    /// A short machine-friendly reason class, used in dead letters and metric labels.
    pub fn class(&self) -> &'static str {
        match self.kind {
            DecodeErrorKind::Oversize { .. } => "oversize",
            DecodeErrorKind::NotUtf8 { .. } => "not_utf8",
            DecodeErrorKind::NotAnObject { .. } | DecodeErrorKind::Syntax { .. } => "bad_json",
            DecodeErrorKind::Field { .. } => "bad_field",
            DecodeErrorKind::Duplicate { .. } => "duplicate_field",
            DecodeErrorKind::Missing { .. } => "missing_field",
            DecodeErrorKind::Invalid { .. } => "invalid_event",
        }
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Oversize { size, limit } => write!(
                f,
                "event is {size} bytes, over the {limit}-byte limit (raise `max_event_bytes` \
                 in the pipeline settings if such events are legitimate)"
            ),
            Self::NotUtf8 { valid_up_to } => {
                write!(f, "event is not valid UTF-8 (first bad byte at offset {valid_up_to})")
            }
            Self::NotAnObject { found } => write!(f, "expected a JSON object, found {found}"),
            Self::Syntax { message } => write!(f, "malformed JSON: {message}"),
            Self::Field { path, expected } => write!(f, "field `{path}` must be {expected}"),
            Self::Duplicate { path } => write!(f, "field `{path}` appears more than once"),
            Self::Missing { path } => write!(f, "required field `{path}` is missing"),
            Self::Invalid { message } => f.write_str(message),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(column) => write!(f, "{} (column {column})", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// Decodes wire events under a size limit.
#[derive(Debug, Clone)]
pub struct Decoder {
    max_event_bytes: usize,
    lenient: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl Decoder {
    pub fn new(max_event_bytes: usize) -> Self {
        Self { max_event_bytes, lenient: false }
    }

    /// Lenient interactions for batch analysis: `text` is read as `prompt`, and a missing
    /// `ts`, `agent_id` or `session_id` is filled in (now, `"-"`, and no session).
    pub fn lenient(mut self) -> Self {
        self.lenient = true;
        self
    }

    pub fn max_event_bytes(&self) -> usize {
        self.max_event_bytes
    }

    /// Decodes a record of the given kind.
    ///
    /// # Errors
    /// [`DecodeError`] naming the problem and, where known, the column.
    pub fn decode(&self, kind: EventKind, bytes: &[u8]) -> Result<Event, DecodeError> {
        match kind {
            EventKind::Interaction => {
                self.interaction(bytes).map(|e| Event::Interaction(Box::new(e)))
            }
            EventKind::Telemetry => self.telemetry(bytes).map(|t| Event::Telemetry(Box::new(t))),
        }
    }

    /// Decodes an interaction event.
    ///
    /// # Errors
    /// [`DecodeError`] naming the problem and, where known, the column.
    pub fn interaction(&self, bytes: &[u8]) -> Result<InteractionEvent, DecodeError> {
        let text = self.precheck(bytes)?;
        let ctx = Ctx::default();
        let seed = InteractionSeed { ctx: &ctx, lenient: self.lenient };
        run(text, seed, &ctx)
    }

    /// Decodes a telemetry event.
    ///
    /// # Errors
    /// [`DecodeError`] naming the problem and, where known, the column.
    pub fn telemetry(&self, bytes: &[u8]) -> Result<TelemetryEvent, DecodeError> {
        let text = self.precheck(bytes)?;
        let ctx = Ctx::default();
        run(text, TelemetrySeed { ctx: &ctx }, &ctx)
    }

    fn precheck<'a>(&self, bytes: &'a [u8]) -> Result<&'a str, DecodeError> {
        if bytes.len() > self.max_event_bytes {
            return Err(DecodeError::new(DecodeErrorKind::Oversize {
                size: bytes.len(),
                limit: self.max_event_bytes,
            }));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            DecodeError::new(DecodeErrorKind::NotUtf8 { valid_up_to: e.valid_up_to() })
        })?;
        let start = text.trim_start();
        let found = match start.as_bytes().first() {
            Some(b'{') => return Ok(text),
            None => "nothing (empty record)",
            Some(b'[') => "an array",
            Some(b'"') => "a string",
            Some(b'-' | b'0'..=b'9') => "a number",
            _ if start.starts_with("true") || start.starts_with("false") => "a boolean",
            _ if start.starts_with("null") => "null",
            Some(_) => "text that is not JSON",
        };
        Err(DecodeError::new(DecodeErrorKind::NotAnObject { found }))
    }
}

fn run<T, S>(text: &str, seed: S, ctx: &Ctx) -> Result<T, DecodeError>
where
    S: for<'de> DeserializeSeed<'de, Value = T>,
{
    let mut de = serde_json::Deserializer::from_str(text);
    let result = seed.deserialize(&mut de).and_then(|value| de.end().map(|()| value));
    result.map_err(|err| {
        let column = Some(err.column()).filter(|&c| c > 0);
        // A syntax error wins over a field problem recorded while it surfaced.
        let recorded = ctx.problem.take();
        let kind = match recorded {
            Some(kind) if !(err.is_syntax() || err.is_eof()) => kind,
            _ if err.is_syntax() || err.is_eof() => {
                let full = err.to_string();
                let message = match full.rfind(" at line ") {
                    Some(at) => full[..at].to_owned(),
                    None => full,
                };
                DecodeErrorKind::Syntax { message }
            }
            // Every data error raised by our visitors records its problem in `ctx`; this arm
            // only guards against a serde message (which may quote the value) leaking out.
            _ => DecodeErrorKind::Invalid { message: "event does not match its schema" },
        };
        DecodeError { kind, column }
    })
}

/// Side channel for structured field errors (see the module docs).
#[derive(Default)]
struct Ctx {
    problem: Cell<Option<DecodeErrorKind>>,
}

impl Ctx {
    /// Records a problem, keeping the innermost one (the most precise) if several surface.
    fn note(&self, kind: DecodeErrorKind) {
        let previous = self.problem.take();
        self.problem.set(Some(previous.unwrap_or(kind)));
    }

    fn fail<E: de::Error>(&self, kind: DecodeErrorKind) -> E {
        self.note(kind);
        E::custom("see decode context")
    }

    fn field<E: de::Error>(&self, prefix: &str, name: &str, expected: &'static str) -> E {
        self.fail(DecodeErrorKind::Field { path: format!("{prefix}{name}"), expected })
    }
}

/// Identifies an object key among a fixed list of known names without allocating.
enum Key {
    Known(usize),
    Unknown(String),
}

struct KeySeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match self.0.iter().position(|name| *name == v) {
            Some(i) => Key::Known(i),
            None => Key::Unknown(v.to_owned()),
        })
    }
}

/// Reads the value of a known field, recording a typed error on failure.
fn value<'de, A, T>(
    map: &mut A,
    ctx: &Ctx,
    prefix: &str,
    name: &str,
    expected: &'static str,
) -> Result<T, A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    // The original error is returned (it tells a syntax error from a data error); what is
    // reported comes from `ctx`. A nested visitor may already have noted a precise problem.
    map.next_value::<T>().inspect_err(|_| {
        ctx.note(DecodeErrorKind::Field { path: format!("{prefix}{name}"), expected });
    })
}

fn non_empty<E: de::Error>(ctx: &Ctx, prefix: &str, name: &str, s: String) -> Result<String, E> {
    if s.is_empty() { Err(ctx.field(prefix, name, "a non-empty string")) } else { Ok(s) }
}

fn timestamp<E: de::Error>(ctx: &Ctx, name: &str, s: &str) -> Result<Timestamp, E> {
    Timestamp::parse(s)
        .map_err(|_| ctx.field("", name, "an RFC 3339 date-time such as 2026-11-22T10:15:30Z"))
}

/// Tracks which known fields were seen, to reject duplicates.
struct Seen(u64);

impl Seen {
    fn first<E: de::Error>(
        &mut self,
        ctx: &Ctx,
        prefix: &str,
        index: usize,
        name: &str,
    ) -> Result<(), E> {
        let bit = 1u64 << index;
        if self.0 & bit != 0 {
            return Err(ctx.fail(DecodeErrorKind::Duplicate { path: format!("{prefix}{name}") }));
        }
        self.0 |= bit;
        Ok(())
    }

    fn has(&self, index: usize) -> bool {
        self.0 & (1u64 << index) != 0
    }
}

/// Moves unknown top-level fields into `metadata` without overwriting producer metadata.
fn merge_unknown(metadata: &mut Map<String, Value>, unknown: Vec<(String, Value)>) {
    for (key, value) in unknown {
        if metadata.contains_key(&key) {
            metadata.insert(format!("{key}.top_level"), value);
        } else {
            metadata.insert(key, value);
        }
    }
}

/// Keeps an unknown field for `metadata`; a repeated unknown field is as ambiguous as a
/// repeated known one, and rejected the same way.
fn push_unknown<'de, A: MapAccess<'de>>(
    map: &mut A,
    ctx: &Ctx,
    unknown: &mut Vec<(String, Value)>,
    name: String,
) -> Result<(), A::Error> {
    if unknown.iter().any(|(n, _)| *n == name) {
        return Err(ctx.fail(DecodeErrorKind::Duplicate { path: name }));
    }
    let value = unknown_value(map, ctx, &name)?;
    unknown.push((name, value));
    Ok(())
}

fn unknown_value<'de, A: MapAccess<'de>>(
    map: &mut A,
    ctx: &Ctx,
    key: &str,
) -> Result<Value, A::Error> {
    value(map, ctx, "", key, "valid JSON")
}

const INTERACTION_FIELDS: &[&str] = &[
    "event_id",
    "ts",
    "agent_id",
    "session_id",
    "user_id",
    "tenant",
    "turn",
    "model",
    "provider",
    "prompt",
    "response",
    "tool_calls",
    "metadata",
    "text",
];

struct InteractionSeed<'a> {
    ctx: &'a Ctx,
    lenient: bool,
}

impl<'de> DeserializeSeed<'de> for InteractionSeed<'_> {
    type Value = InteractionEvent;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<InteractionEvent, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for InteractionSeed<'_> {
    type Value = InteractionEvent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an interaction object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InteractionEvent, A::Error> {
        let ctx = self.ctx;
        let mut seen = Seen(0);
        let mut event_id = None;
        let mut ts = None;
        let mut agent_id = None;
        let mut session_id = None;
        let (mut user_id, mut tenant, mut turn, mut model, mut provider) =
            (None, None, None, None, None);
        let (mut prompt, mut response) = (None, None);
        let mut tool_calls = Vec::new();
        let mut metadata = Map::new();
        let mut unknown = Vec::new();

        while let Some(key) = map.next_key_seed(KeySeed(INTERACTION_FIELDS))? {
            let index = match key {
                Key::Known(i) if i == 13 && !self.lenient => {
                    let name = "text".to_owned();
                    unknown.push((name, unknown_value(&mut map, ctx, "text")?));
                    continue;
                }
                Key::Known(i) => i,
                Key::Unknown(name) => {
                    push_unknown(&mut map, ctx, &mut unknown, name)?;
                    continue;
                }
            };
            let name = INTERACTION_FIELDS[index];
            seen.first(ctx, "", index, name)?;
            const STR: &str = "a string";
            const OPT_STR: &str = "a string or null";
            match index {
                0 => {
                    let s: String = value(&mut map, ctx, "", name, STR)?;
                    event_id = Some(non_empty(ctx, "", name, s)?);
                }
                1 => {
                    let s: String = value(&mut map, ctx, "", name, STR)?;
                    ts = Some(timestamp(ctx, name, &s)?);
                }
                2 => {
                    let s: String = value(&mut map, ctx, "", name, STR)?;
                    agent_id = Some(non_empty(ctx, "", name, s)?);
                }
                3 => {
                    let s: String = value(&mut map, ctx, "", name, STR)?;
                    session_id = Some(non_empty(ctx, "", name, s)?);
                }
                4 => user_id = value(&mut map, ctx, "", name, OPT_STR)?,
                5 => tenant = value(&mut map, ctx, "", name, OPT_STR)?,
                6 => {
                    turn =
                        value(&mut map, ctx, "", name, "an integer from 0 to 4294967295 or null")?
                }
                7 => model = value(&mut map, ctx, "", name, OPT_STR)?,
                8 => provider = value(&mut map, ctx, "", name, OPT_STR)?,
                9 | 13 => {
                    if index == 13 && seen.has(9) || index == 9 && seen.has(13) {
                        return Err(ctx.fail(DecodeErrorKind::Duplicate { path: "prompt".into() }));
                    }
                    prompt = value(&mut map, ctx, "", name, OPT_STR)?;
                }
                10 => response = value(&mut map, ctx, "", name, OPT_STR)?,
                11 => {
                    tool_calls = map.next_value_seed(ToolCallsSeed { ctx }).inspect_err(|_| {
                        ctx.note(DecodeErrorKind::Field {
                            path: name.into(),
                            expected: "an array of {name, arguments, result?}",
                        });
                    })?;
                }
                12 => {
                    let m: Option<Map<String, Value>> =
                        value(&mut map, ctx, "", name, "a JSON object or null")?;
                    metadata = m.unwrap_or_default();
                }
                _ => unreachable_field(&mut map)?,
            }
        }

        let missing =
            |path: &str| ctx.fail::<A::Error>(DecodeErrorKind::Missing { path: path.into() });
        let event_id = event_id.ok_or_else(|| missing("event_id"))?;
        let (ts, agent_id, session_id) = if self.lenient {
            (
                ts.unwrap_or_else(Timestamp::now),
                agent_id.unwrap_or_else(|| "-".to_owned()),
                session_id.unwrap_or_default(),
            )
        } else {
            (
                ts.ok_or_else(|| missing("ts"))?,
                agent_id.ok_or_else(|| missing("agent_id"))?,
                session_id.ok_or_else(|| missing("session_id"))?,
            )
        };
        if prompt.is_none() && response.is_none() {
            return Err(ctx.fail(DecodeErrorKind::Invalid {
                message: "an interaction needs a `prompt` or a `response` (or both)",
            }));
        }
        merge_unknown(&mut metadata, unknown);
        Ok(InteractionEvent {
            event_id,
            ts,
            agent_id,
            session_id,
            user_id,
            tenant,
            turn,
            model,
            provider,
            prompt,
            response,
            tool_calls,
            metadata,
        })
    }
}

fn unreachable_field<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

struct ToolCallsSeed<'a> {
    ctx: &'a Ctx,
}

impl<'de> DeserializeSeed<'de> for ToolCallsSeed<'_> {
    type Value = Vec<ToolCall>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<ToolCall>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ToolCallsSeed<'_> {
    type Value = Vec<ToolCall>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of tool calls")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<ToolCall>, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<ToolCall>, A::Error> {
        let mut calls = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        let mut index = 0usize;
        loop {
            let prefix = format!("tool_calls[{index}].");
            let next = seq.next_element_seed(ToolCallSeed { ctx: self.ctx, prefix: &prefix });
            match next.inspect_err(|_| {
                self.ctx.note(DecodeErrorKind::Field {
                    path: format!("tool_calls[{index}]"),
                    expected: "an object {name, arguments, result?}",
                });
            })? {
                Some(call) => calls.push(call),
                None => return Ok(calls),
            }
            index += 1;
        }
    }
}

const TOOL_FIELDS: &[&str] = &["name", "arguments", "result"];

struct ToolCallSeed<'a> {
    ctx: &'a Ctx,
    prefix: &'a str,
}

impl<'de> DeserializeSeed<'de> for ToolCallSeed<'_> {
    type Value = ToolCall;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ToolCall, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ToolCallSeed<'_> {
    type Value = ToolCall;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tool call object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ToolCall, A::Error> {
        let (ctx, prefix) = (self.ctx, self.prefix);
        let mut seen = Seen(0);
        let (mut name, mut arguments, mut result) = (None, None, None);
        while let Some(key) = map.next_key_seed(KeySeed(TOOL_FIELDS))? {
            match key {
                Key::Known(index) => {
                    let field = TOOL_FIELDS[index];
                    seen.first(ctx, prefix, index, field)?;
                    match index {
                        0 => {
                            let s: String = value(&mut map, ctx, prefix, field, "a string")?;
                            name = Some(non_empty(ctx, prefix, field, s)?);
                        }
                        1 => arguments = Some(value(&mut map, ctx, prefix, field, "valid JSON")?),
                        _ => result = value(&mut map, ctx, prefix, field, "valid JSON")?,
                    }
                }
                // Tool calls carry provider-specific extras (ids, types); they are not ours
                // to validate and are not kept.
                Key::Unknown(_) => unreachable_field(&mut map)?,
            }
        }
        let missing = |field: &str| {
            ctx.fail::<A::Error>(DecodeErrorKind::Missing { path: format!("{prefix}{field}") })
        };
        Ok(ToolCall {
            name: name.ok_or_else(|| missing("name"))?,
            arguments: arguments.ok_or_else(|| missing("arguments"))?,
            result,
        })
    }
}

const TELEMETRY_FIELDS: &[&str] = &[
    "event_id",
    "ts",
    "agent_id",
    "session_id",
    "user_id",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms",
    "cost_usd",
    "status",
    "error",
    "cpu_percent",
    "memory_mb",
    "metadata",
];

struct TelemetrySeed<'a> {
    ctx: &'a Ctx,
}

impl<'de> DeserializeSeed<'de> for TelemetrySeed<'_> {
    type Value = TelemetryEvent;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TelemetryEvent, D::Error> {
        d.deserialize_map(self)
    }
}

fn non_negative<E: de::Error>(ctx: &Ctx, name: &str, v: Option<f64>) -> Result<Option<f64>, E> {
    match v {
        Some(x) if !(x.is_finite() && x >= 0.0) => {
            Err(ctx.field("", name, "a non-negative number"))
        }
        other => Ok(other),
    }
}

impl<'de> Visitor<'de> for TelemetrySeed<'_> {
    type Value = TelemetryEvent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a telemetry object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TelemetryEvent, A::Error> {
        let ctx = self.ctx;
        let mut seen = Seen(0);
        let mut t = TelemetryEvent {
            event_id: None,
            ts: Timestamp::from_micros(0),
            agent_id: String::new(),
            session_id: None,
            user_id: None,
            model: None,
            prompt_tokens: None,
            completion_tokens: None,
            latency_ms: None,
            cost_usd: None,
            status: None,
            error: None,
            cpu_percent: None,
            memory_mb: None,
            metadata: Map::new(),
        };
        let mut unknown = Vec::new();
        const OPT_STR: &str = "a string or null";
        const COUNT: &str = "a non-negative integer or null";
        const NUM: &str = "a non-negative number or null";
        while let Some(key) = map.next_key_seed(KeySeed(TELEMETRY_FIELDS))? {
            let index = match key {
                Key::Known(i) => i,
                Key::Unknown(name) => {
                    push_unknown(&mut map, ctx, &mut unknown, name)?;
                    continue;
                }
            };
            let name = TELEMETRY_FIELDS[index];
            seen.first(ctx, "", index, name)?;
            match index {
                0 => t.event_id = value(&mut map, ctx, "", name, OPT_STR)?,
                1 => {
                    let s: String = value(&mut map, ctx, "", name, "a string")?;
                    t.ts = timestamp(ctx, name, &s)?;
                }
                2 => {
                    let s: String = value(&mut map, ctx, "", name, "a string")?;
                    t.agent_id = non_empty(ctx, "", name, s)?;
                }
                3 => t.session_id = value(&mut map, ctx, "", name, OPT_STR)?,
                4 => t.user_id = value(&mut map, ctx, "", name, OPT_STR)?,
                5 => t.model = value(&mut map, ctx, "", name, OPT_STR)?,
                6 => t.prompt_tokens = value(&mut map, ctx, "", name, COUNT)?,
                7 => t.completion_tokens = value(&mut map, ctx, "", name, COUNT)?,
                8 => t.latency_ms = non_negative(ctx, name, value(&mut map, ctx, "", name, NUM)?)?,
                9 => t.cost_usd = non_negative(ctx, name, value(&mut map, ctx, "", name, NUM)?)?,
                10 => {
                    let s: Option<String> = value(&mut map, ctx, "", name, OPT_STR)?;
                    t.status = match s {
                        None => None,
                        Some(s) => Some(CallStatus::parse(&s).ok_or_else(|| {
                            ctx.field::<A::Error>("", name, "one of ok, error, timeout, blocked")
                        })?),
                    };
                }
                11 => t.error = value(&mut map, ctx, "", name, OPT_STR)?,
                12 => {
                    t.cpu_percent = non_negative(ctx, name, value(&mut map, ctx, "", name, NUM)?)?
                }
                13 => t.memory_mb = non_negative(ctx, name, value(&mut map, ctx, "", name, NUM)?)?,
                _ => {
                    let m: Option<Map<String, Value>> =
                        value(&mut map, ctx, "", name, "a JSON object or null")?;
                    t.metadata = m.unwrap_or_default();
                }
            }
        }
        for (index, field) in [(1, "ts"), (2, "agent_id")] {
            if !seen.has(index) {
                return Err(ctx.fail(DecodeErrorKind::Missing { path: field.into() }));
            }
        }
        merge_unknown(&mut t.metadata, unknown);
        Ok(t)
    }
}

#[cfg(test)]
mod tests;
