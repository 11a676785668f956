//! The event model: what agents publish ([`InteractionEvent`], [`TelemetryEvent`]) and what
//! Palisade emits ([`Alert`], [`DeadLetter`]).
//!
//! Wire formats are JSON objects described by the schemas in `schemas/`. Decoding is strict
//! about the fields it knows (types, duplicates, required fields) and lenient about the ones
//! it does not: unknown top-level fields are moved into `metadata`, never dropped.
//!
//! Text fields (prompts, responses, tool arguments) may hold personal data. `Debug` output
//! of these types prints lengths, never content, so an event can be logged safely.

mod alert;
mod decode;
mod time;

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

pub use alert::{Action, Alert, Category, DeadLetter, Evidence, Severity};
pub use decode::{DEFAULT_MAX_EVENT_BYTES, DecodeError, DecodeErrorKind, Decoder, EventKind};
pub use time::{Timestamp, TimestampError, format_rfc3339_micros, now_micros};

#[allow(unused_imports)]
pub(crate) use time::civil_from_days;

/// One LLM interaction: a prompt, a response, or both, with the tool calls made in between.
#[derive(Clone, PartialEq, Serialize)]
pub struct InteractionEvent {
    /// Unique id of this interaction; deduplication key downstream.
    pub event_id: String,
    /// Event time (when the interaction happened, not when it was received).
    pub ts: Timestamp,
    pub agent_id: String,
    /// Conversation the interaction belongs to; Kafka key and sharding key.
    pub session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Producer-defined fields, plus any unknown top-level fields found while decoding.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

impl InteractionEvent {
    /// Total bytes of text that detection and redaction scan.
    pub fn text_len(&self) -> usize {
        self.prompt.as_ref().map_or(0, String::len)
            + self.response.as_ref().map_or(0, String::len)
            + self.tool_calls.iter().map(ToolCall::text_len).sum::<usize>()
    }
}

impl fmt::Debug for InteractionEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractionEvent")
            .field("event_id", &self.event_id)
            .field("ts", &self.ts)
            .field("agent_id", &self.agent_id)
            .field("session_id", &self.session_id)
            .field("turn", &self.turn)
            .field("prompt_len", &self.prompt.as_ref().map(String::len))
            .field("response_len", &self.response.as_ref().map(String::len))
            .field("tool_calls", &self.tool_calls.len())
            .finish_non_exhaustive()
    }
}

/// A tool (function) call made during an interaction.
#[derive(Clone, PartialEq, Serialize)]
pub struct ToolCall {
    pub name: String,
    /// Arguments as the model produced them: a JSON object, or a string (often JSON text).
    pub arguments: Value,
    /// What the tool returned, if recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

impl ToolCall {
    fn text_len(&self) -> usize {
        value_text_len(&self.arguments) + self.result.as_ref().map_or(0, value_text_len)
    }
}

impl fmt::Debug for ToolCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolCall")
            .field("name", &self.name)
            .field("arguments_len", &value_text_len(&self.arguments))
            .field("result_len", &self.result.as_ref().map(value_text_len))
            .finish()
    }
}

fn value_text_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(value_text_len).sum(),
        Value::Object(map) => map.iter().map(|(k, v)| k.len() + value_text_len(v)).sum(),
        _ => 0,
    }
}

/// Outcome of a model call, as reported in telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Ok,
    Error,
    Timeout,
    Blocked,
}

impl CallStatus {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => Self::Ok,
            "error" => Self::Error,
            "timeout" => Self::Timeout,
            "blocked" => Self::Blocked,
            _ => return None,
        })
    }
}

/// Usage and health of one model call or one agent host sample.
#[derive(Clone, PartialEq, Serialize)]
pub struct TelemetryEvent {
    /// Optional unique id; deduplication key when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub ts: Timestamp,
    pub agent_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CallStatus>,
    /// Error text reported by the agent (may hold user data: never logged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<f64>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

impl fmt::Debug for TelemetryEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryEvent")
            .field("ts", &self.ts)
            .field("agent_id", &self.agent_id)
            .field("session_id", &self.session_id)
            .field("prompt_tokens", &self.prompt_tokens)
            .field("completion_tokens", &self.completion_tokens)
            .field("latency_ms", &self.latency_ms)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A decoded event of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Interaction(Box<InteractionEvent>),
    Telemetry(Box<TelemetryEvent>),
}

impl Event {
    /// The key that keeps a session's events together (Kafka key, shard key).
    pub fn session_key(&self) -> &str {
        match self {
            Self::Interaction(e) => &e.session_id,
            Self::Telemetry(t) => t.session_id.as_deref().unwrap_or(&t.agent_id),
        }
    }
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Interaction(e) => e.serialize(serializer),
            Self::Telemetry(t) => t.serialize(serializer),
        }
    }
}
