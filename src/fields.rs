//! The text fields of an interaction that detection scans and redaction rewrites.
//!
//! Every string an agent exchanged is a *text leaf*: the prompt, the response, and every
//! string inside each tool call's `arguments` and `result` (walked as JSON, so redaction
//! keeps the JSON valid). Offsets reported anywhere in Palisade are UTF-8 byte offsets into
//! one leaf, named by its path: `prompt`, `response`, `tool_calls[0].arguments.query`,
//! `tool_calls[1].result[2]`.

use std::fmt::Write as _;

use serde_json::Value;

use crate::event::InteractionEvent;

/// Which part of an interaction a text leaf belongs to; rules choose by it (`applies_to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Prompt,
    Response,
    /// Tool-call arguments and results.
    Tool,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prompt => "prompt",
            Self::Response => "response",
            Self::Tool => "tool",
        }
    }
}

/// Calls `f(kind, path, text)` for every text leaf of `event`, in a fixed order.
pub fn for_each_text<'a>(event: &'a InteractionEvent, mut f: impl FnMut(FieldKind, &str, &'a str)) {
    if let Some(prompt) = &event.prompt {
        f(FieldKind::Prompt, "prompt", prompt);
    }
    if let Some(response) = &event.response {
        f(FieldKind::Response, "response", response);
    }
    let mut path = String::new();
    for (i, call) in event.tool_calls.iter().enumerate() {
        path.clear();
        let _ = write!(path, "tool_calls[{i}].arguments");
        walk(&call.arguments, &mut path, &mut f);
        if let Some(result) = &call.result {
            path.clear();
            let _ = write!(path, "tool_calls[{i}].result");
            walk(result, &mut path, &mut f);
        }
    }
}

fn walk<'a>(value: &'a Value, path: &mut String, f: &mut impl FnMut(FieldKind, &str, &'a str)) {
    match value {
        Value::String(s) => f(FieldKind::Tool, path, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                walk(item, path, f);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                walk(item, path, f);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Like [`for_each_text`], with mutable access to each leaf (same order, same paths).
pub fn for_each_text_mut(
    event: &mut InteractionEvent,
    mut f: impl FnMut(FieldKind, &str, &mut String),
) {
    if let Some(prompt) = &mut event.prompt {
        f(FieldKind::Prompt, "prompt", prompt);
    }
    if let Some(response) = &mut event.response {
        f(FieldKind::Response, "response", response);
    }
    let mut path = String::new();
    for (i, call) in event.tool_calls.iter_mut().enumerate() {
        path.clear();
        let _ = write!(path, "tool_calls[{i}].arguments");
        walk_mut(&mut call.arguments, &mut path, &mut f);
        if let Some(result) = &mut call.result {
            path.clear();
            let _ = write!(path, "tool_calls[{i}].result");
            walk_mut(result, &mut path, &mut f);
        }
    }
}

fn walk_mut(
    value: &mut Value,
    path: &mut String,
    f: &mut impl FnMut(FieldKind, &str, &mut String),
) {
    match value {
        Value::String(s) => f(FieldKind::Tool, path, s),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                walk_mut(item, path, f);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                walk_mut(item, path, f);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Decoder;

    #[test]
    fn walks_prompt_response_and_tool_leaves_in_order() {
        let json = r#"{"event_id":"e","ts":"2026-11-22T10:00:00Z","agent_id":"a","session_id":"s",
            "prompt":"p","response":"r","tool_calls":[{"name":"search","arguments":{"q":"x","opts":["y",1]},
            "result":"z"},{"name":"shell","arguments":"ls -la"}]}"#;
        let event = Decoder::default().interaction(json.as_bytes()).unwrap();
        let mut seen = Vec::new();
        for_each_text(&event, |kind, path, text| {
            seen.push((kind, path.to_owned(), text.to_owned()))
        });
        let paths: Vec<_> = seen.iter().map(|(_, p, t)| format!("{p}={t}")).collect();
        assert_eq!(
            paths,
            [
                "prompt=p",
                "response=r",
                "tool_calls[0].arguments.opts[0]=y",
                "tool_calls[0].arguments.q=x",
                "tool_calls[0].result=z",
                "tool_calls[1].arguments=ls -la"
            ]
        );
        let mut event = event;
        let mut mut_paths = Vec::new();
        for_each_text_mut(&mut event, |_, path, text| {
            mut_paths.push(path.to_owned());
            text.make_ascii_uppercase();
        });
        assert_eq!(mut_paths, seen.iter().map(|(_, p, _)| p.clone()).collect::<Vec<_>>());
        assert_eq!(event.tool_calls[0].arguments["q"], "X");
    }
}
