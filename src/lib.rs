//! # Palisade
//!
//! A streaming security and compliance processor for LLM agent traffic.
//!
//! Agents publish interactions (prompt, response, tool calls) and telemetry to Kafka.
//! Palisade consumes them, runs a graph of stages over every event and emits alerts, a
//! redacted copy of the stream and dead letters for what it cannot read.
//!
//! ```text
//!  source ──► detect ──► redact ──┬──► sink: alerts
//!  (decode,   (rules,    (PII     ├──► sink: redacted interactions
//!   validate)  scores)   policy)  └──► sink: dead letters
//! ```
//!
//! Module map:
//! - [`event`]: the wire types and their strict decoding.
//! - [`fields`]: the text leaves of an interaction that stages scan.
//! - [`detect`]: rule loading and the detection engine.
//! - [`pii`]: recognizers, policies and redaction.
//! - [`analyze`]: detection + redaction of one event, shared by every entry point.
//! - [`eval`]: detection accuracy on labeled datasets.
//! - [`generate`]: deterministic synthetic agent traffic.
//! - [`kafka`]: Kafka client configuration, topic administration, publishing.
//! - [`demo`]: the embedded-Kafka demo and helpers shared with the fault tests.
//! - [`metrics`]: process counters.
//! - [`pipeline`]: pipeline files: parsing, validation.
//! - [`runtime`]: the stage graph: batches, acknowledgements, workers, shutdown.
//! - [`sources`], [`stages`], [`sinks`]: the components a pipeline wires together.
//!
//! See `docs/ARCHITECTURE.md` for the design and its invariants.

pub mod analyze;
pub mod demo;
pub mod detect;
pub mod eval;
pub mod event;
pub mod fields;
pub mod generate;
pub mod kafka;
pub mod metrics;
pub mod pii;
pub mod pipeline;
pub mod runtime;
mod simd;
pub mod sinks;
pub mod sources;
pub mod stages;
mod swar;
