//! `${VAR}` / `${VAR:-default}` substitution in pipeline files, before parsing.

/// A variable is referenced but not set and has no default.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error(
        "line {line}: environment variable `{name}` is not set and has no default (write `${{{name}:-default}}` or set it)"
    )]
    Unset { line: usize, name: String },
    #[error(
        "line {line}: unterminated `${{` (close it with `}}`, or write `$$` for a literal `$`)"
    )]
    Unterminated { line: usize },
    #[error("line {line}: `{name}` is not a valid variable name (letters, digits and `_`)")]
    BadName { line: usize, name: String },
}

/// Replaces `${VAR}`, `${VAR:-default}` and `$$` (a literal `$`) using `lookup`.
///
/// # Errors
/// [`EnvError`] naming the line and the variable.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut line = 1;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        line += rest[..at].matches('\n').count();
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or(EnvError::Unterminated { line })?;
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(EnvError::BadName { line, name: name.to_owned() });
            }
            match lookup(name).filter(|v| !v.is_empty()).or_else(|| default.map(str::to_owned)) {
                Some(value) => out.push_str(&value),
                None => {
                    return Err(EnvError::Unset { line, name: name.to_owned() });
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "BROKERS" => Some("k1:9092".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_values_defaults_and_escapes() {
        let text = "a = \"${BROKERS:-localhost:9092}\"\nb = \"${MISSING:-./archive}\"\nc = \"$$HOME ${EMPTY:-x} $x\"";
        assert_eq!(
            substitute(text, env).unwrap(),
            "a = \"k1:9092\"\nb = \"./archive\"\nc = \"$HOME x $x\""
        );
    }

    #[test]
    fn errors_name_line_and_variable() {
        assert_eq!(
            substitute("a = 1\nb = \"${NOPE}\"", env),
            Err(EnvError::Unset { line: 2, name: "NOPE".into() })
        );
        assert_eq!(substitute("\n\nx ${OPEN", env), Err(EnvError::Unterminated { line: 3 }));
        assert!(matches!(substitute("${A-B}", env), Err(EnvError::BadName { .. })));
    }
}
