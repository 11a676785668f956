//! Secrets: provider tokens identified by their prefix (AWS access key ids, GitHub, GitLab,
//! Slack, Stripe, OpenAI-style `sk-`), JWTs (the header must decode to JSON with `"alg"`),
//! PEM private key blocks, AWS secret keys near "aws"/"secret", and generic
//! `key=value` / `"password": "..."` pairs whose key names a secret (values judged by
//! length and Shannon entropy; placeholders such as `${VAR}` or `<your-key>` are skipped).
//! A secret in a URL query (`?access_token=`, `&sig=`) is a `url_credential`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;

use super::context::{Context, group};
use super::{EntityType, PiiMatch};

fn is_token_byte(b: u8, dash: bool) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || (dash && b == b'-')
}

/// End of the token at `i`: letters, digits, `_` and (if `dash`) `-`.
fn token_end(bytes: &[u8], i: usize, dash: bool) -> usize {
    let mut j = i;
    while j < bytes.len() && is_token_byte(bytes[j], dash) {
        j += 1;
    }
    j
}

/// Shannon entropy of `s` in bits per byte.
pub fn shannon_entropy(s: &[u8]) -> f32 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u16; 256];
    for &b in s {
        counts[usize::from(b)] = counts[usize::from(b)].saturating_add(1);
    }
    let n = s.len() as f32;
    counts.iter().filter(|&&c| c > 0).map(|&c| f32::from(c) / n).map(|p| -p * p.log2()).sum()
}

/// Has letters of both cases and digits (random tokens do; words and hex hashes don't).
fn mixed(s: &[u8]) -> bool {
    s.iter().any(u8::is_ascii_uppercase)
        && s.iter().any(u8::is_ascii_lowercase)
        && s.iter().any(u8::is_ascii_digit)
}

fn push(out: &mut Vec<PiiMatch>, entity: EntityType, start: usize, end: usize, confidence: f32) {
    out.push(PiiMatch { entity, start, end, confidence });
}

/// A provider token starting at `i` (a word start), identified by its prefix. Returns its
/// end if one was found.
pub fn prefixed(text: &str, i: usize, out: &mut Vec<PiiMatch>) -> Option<usize> {
    let bytes = text.as_bytes();
    let rest = &bytes[i..];
    let after = |prefix: &[u8], dash: bool, min: usize| -> Option<usize> {
        if !rest.starts_with(prefix) {
            return None;
        }
        let end = token_end(bytes, i + prefix.len(), dash);
        (end - i - prefix.len() >= min).then_some(end)
    };
    let (entity, end, confidence) = match rest.first()? {
        b'A' => {
            const AWS: [&[u8]; 11] = [
                b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"AGPA", b"AIDA", b"AROA", b"AIPA", b"ANPA",
                b"ANVA", b"APKA",
            ];
            let prefix = AWS.iter().find(|p| rest.starts_with(p))?;
            let end = i + rest
                .iter()
                .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                .count();
            if end - i != 20 || bytes.get(end).is_some_and(|b| is_token_byte(*b, false)) {
                return None;
            }
            let strong = matches!(*prefix, b"AKIA" | b"ASIA");
            (EntityType::AwsAccessKeyId, end, if strong { 0.95 } else { 0.85 })
        }
        b'g' => {
            if let Some(end) = after(b"github_pat_", false, 40) {
                (EntityType::GithubToken, end, 0.95)
            } else if rest.len() > 4
                && rest.starts_with(b"gh")
                && matches!(rest[2], b'p' | b'o' | b'u' | b's' | b'r')
                && rest[3] == b'_'
            {
                (EntityType::GithubToken, after(&rest[..4], false, 30)?, 0.95)
            } else {
                let end = [&b"glpat-"[..], b"glrt-", b"gldt-", b"glptt-"]
                    .iter()
                    .find_map(|p| after(p, true, 20))?;
                (EntityType::GitlabToken, end, 0.95)
            }
        }
        b'x' => {
            let slack = (rest.len() > 5
                && rest.starts_with(b"xox")
                && matches!(rest[3], b'a' | b'b' | b'p' | b'r' | b's' | b'o' | b'e')
                && rest[4] == b'-')
                .then(|| after(&rest[..5], true, 10))
                .flatten()
                .or_else(|| after(b"xapp-", true, 10))?;
            (EntityType::SlackToken, slack, 0.95)
        }
        b's' | b'r' => {
            for (prefix, confidence) in [
                (&b"sk_live_"[..], 0.95),
                (b"rk_live_", 0.95),
                (b"sk_test_", 0.9),
                (b"rk_test_", 0.9),
            ] {
                if let Some(end) = after(prefix, false, 16) {
                    return emit(out, EntityType::StripeKey, i, end, confidence);
                }
            }
            let end = after(b"sk-", true, 20)?;
            let token = &bytes[i..end];
            let known = [&b"sk-proj-"[..], b"sk-svcacct-", b"sk-admin-", b"sk-ant-"]
                .iter()
                .any(|p| token.starts_with(p))
                || memchr::memmem::find(token, b"T3BlbkFJ").is_some();
            let confidence = if known {
                0.95
            } else if mixed(&token[3..]) && shannon_entropy(&token[3..]) >= 3.5 {
                0.85
            } else {
                0.3
            };
            (EntityType::OpenaiKey, end, confidence)
        }
        b'e' => {
            let end = jwt(bytes, i)?;
            (EntityType::Jwt, end, 0.95)
        }
        _ => return None,
    };
    if templated(&bytes[i..end]) {
        // "ghp_your_token_here", "AKIAXXXXXXXXXXXXXXXX": documentation, not a secret; still
        // consumed so no other recognizer reads it.
        return Some(end);
    }
    emit(out, entity, i, end, confidence)
}

/// A token that is a template: few distinct characters (a quarter of its length or fewer),
/// or "your", "xxxx", "here".
fn templated(token: &[u8]) -> bool {
    let mut seen = [false; 128];
    let mut distinct = 0;
    for &b in token {
        if b < 128 && !seen[usize::from(b)] {
            seen[usize::from(b)] = true;
            distinct += 1;
        }
    }
    let has = |needle: &[u8]| token.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle));
    distinct <= 3
        || distinct * 4 <= token.len()
        || has(b"your")
        || has(b"xxxx")
        || has(b"_here")
        || has(b"-here")
}

fn emit(
    out: &mut Vec<PiiMatch>,
    entity: EntityType,
    start: usize,
    end: usize,
    confidence: f32,
) -> Option<usize> {
    push(out, entity, start, end, confidence);
    Some(end)
}

/// A JWT at `i`: `eyJ...` header, payload, and an optional signature, base64url, joined by
/// dots; the header decodes to JSON naming an `"alg"`.
fn jwt(bytes: &[u8], i: usize) -> Option<usize> {
    if !bytes[i..].starts_with(b"eyJ") {
        return None;
    }
    let header_end = token_end(bytes, i, true);
    if bytes.get(header_end) != Some(&b'.') {
        return None;
    }
    let payload_end = token_end(bytes, header_end + 1, true);
    if payload_end - header_end < 3 || bytes.get(payload_end) != Some(&b'.') {
        return None;
    }
    let end = token_end(bytes, payload_end + 1, true);
    let header = &bytes[i..header_end];
    let mut decoded = [0u8; 768];
    if header.len() > 1000 {
        return None;
    }
    let n = URL_SAFE_NO_PAD_INDIFFERENT.decode_slice(header, &mut decoded).ok()?;
    let json = &decoded[..n];
    (json.first() == Some(&b'{') && memchr::memmem::find(json, b"\"alg\"").is_some()).then_some(end)
}

/// A PEM private key block at `i` (`-----BEGIN ... PRIVATE KEY-----`): the whole block
/// through its END line, or, if truncated, through the base64 body.
pub fn pem(text: &str, i: usize, out: &mut Vec<PiiMatch>) -> Option<usize> {
    let bytes = text.as_bytes();
    let label_start = i + b"-----BEGIN ".len();
    let label_len = memchr::memmem::find(
        bytes.get(label_start..)?.get(..64.min(bytes.len() - label_start))?,
        b"-----",
    )?;
    let label = &bytes[label_start..label_start + label_len];
    memchr::memmem::find(label, b"PRIVATE KEY")?;
    let body = label_start + label_len + 5;
    let end = match memchr::memmem::find(&bytes[body..], b"-----END ") {
        Some(k) => {
            let after = body + k + b"-----END ".len();
            memchr::memmem::find(&bytes[after..], b"-----").map_or(bytes.len(), |e| after + e + 5)
        }
        None => {
            let mut j = body;
            while j < bytes.len()
                && (bytes[j].is_ascii_alphanumeric()
                    || matches!(
                        bytes[j],
                        b'+' | b'/' | b'=' | b'\n' | b'\r' | b' ' | b'\t' | b'\\'
                    ))
            {
                j += 1;
            }
            j
        }
    };
    push(out, EntityType::PrivateKey, i, end, 0.99);
    Some(end)
}

/// An AWS secret access key around `i`: exactly 40 base64 characters with mixed case and
/// digits, near "aws" or "secret".
pub fn aws_secret(text: &str, i: usize, out: &mut Vec<PiiMatch>) -> Option<usize> {
    let bytes = text.as_bytes();
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+';
    let mut start = i;
    while start > 0 && matches!(bytes[start - 1], b'/' | b'+') && i - start < 2 {
        start -= 1;
    }
    let end = i + bytes[i..].iter().take_while(|&&b| b64(b)).count();
    if end - start != 40 || bytes.get(end).is_some_and(|&b| b == b'=' || b == b'_' || b == b'-') {
        return None;
    }
    let token = &bytes[start..end];
    if !mixed(token) || shannon_entropy(token) < 4.0 {
        return None;
    }
    if !Context::before(text, start).has(group::AWS) {
        return None;
    }
    emit(out, EntityType::AwsSecretAccessKey, start, end, 0.9)
}

/// A long random-looking word (24+ characters, mixed case and digits or long hex) right after
/// a word like "secret", "token", "password", "api key".
pub fn high_entropy_word(text: &str, i: usize, end: usize, out: &mut Vec<PiiMatch>) -> bool {
    let token = &text.as_bytes()[i..end];
    if token.len() < 24 || token.len() > 256 {
        return false;
    }
    let entropy = shannon_entropy(token);
    if !(mixed(token) && entropy >= 4.0) {
        return false;
    }
    let ctx = Context::before(text, i);
    if !ctx.labelled(group::SECRET) {
        return false;
    }
    push(out, EntityType::GenericSecret, i, end, 0.75);
    true
}

/// What a key says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyClass {
    Password,
    Secret,
    AwsSecret,
    /// `key`, `code`, `session`: a secret only when the value looks random.
    Weak,
}

/// Classifies a key (`DB_PASSWORD`, `apiKey`, `"client_secret"`, `X-Amz-Signature`).
fn key_class(key: &[u8]) -> Option<KeyClass> {
    let mut buf = [0u8; 48];
    let mut n = 0;
    for &b in key.iter().filter(|b| !matches!(b, b'_' | b'-' | b'.')) {
        if n == buf.len() {
            return None;
        }
        buf[n] = b.to_ascii_lowercase();
        n += 1;
    }
    let k = &buf[..n];
    let ends = |suffixes: &[&str]| suffixes.iter().any(|s| k.ends_with(s.as_bytes()));
    if memchr::memmem::find(k, b"aws").is_some() && ends(&["secretaccesskey", "secretkey"]) {
        return Some(KeyClass::AwsSecret);
    }
    if k == b"pass"
        || ends(&["password", "passwd", "pwd", "passphrase", "passwort", "senha", "motdepasse"])
    {
        return Some(KeyClass::Password);
    }
    if ends(&[
        "secret",
        "secretkey",
        "apikey",
        "apisecret",
        "accesskey",
        "privatekey",
        "signingkey",
        "token",
        "credential",
        "credentials",
        "authorization",
        "signature",
        "sig",
        "xamzcredential",
        "auth",
        "connectionstring",
    ]) {
        return Some(KeyClass::Secret);
    }
    if matches!(k, b"key" | b"code" | b"session" | b"sessionid" | b"sid" | b"apikeyid") {
        return Some(KeyClass::Weak);
    }
    None
}

/// Values that are not secrets: empty-ish, templated, already redacted, references.
pub fn placeholder(value: &[u8]) -> bool {
    const WORDS: &[&str] = &[
        "null",
        "none",
        "nil",
        "true",
        "false",
        "undefined",
        "redacted",
        "[redacted]",
        "password",
        "secret",
        "example",
        "placeholder",
        "hidden",
        "masked",
        "required",
        "optional",
        "string",
        "your_api_key",
        "your-api-key",
        "changeme_in_prod",
        "token",
        "xxx",
        "n/a",
    ];
    let first = value[0];
    // SCREAMING_SNAKE_CASE is a variable name ("YOUR_SECRET_ACCESS_KEY"), not its value.
    let env_name = value.contains(&b'_')
        && value.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_');
    matches!(first, b'$' | b'{' | b'<' | b'[' | b'*' | b'%')
        || value.iter().all(|&b| b == first)
        || env_name
        || templated(value)
        || WORDS.iter().any(|w| w.as_bytes().eq_ignore_ascii_case(value))
        || value.contains(&b'(')
        || [
            &b"process.env"[..],
            b"os.environ",
            b"env.",
            b"config.",
            b"settings.",
            b"self.",
            b"this.",
        ]
        .iter()
        .any(|p| value.starts_with(p))
}

/// `key=value`, `key: value`, `"key": "value"` at the separator `i` (`=` or `:`), when the
/// key names a secret. A key right after `?`, `&` or `#` is a URL parameter. Returns where
/// scanning resumes.
pub fn key_value(text: &str, i: usize, out: &mut Vec<PiiMatch>) -> usize {
    let bytes = text.as_bytes();
    let op = bytes[i];
    let mut k = i;
    while k > 0 && i - k < 2 && bytes[k - 1] == b' ' {
        k -= 1;
    }
    if k > 0 && matches!(bytes[k - 1], b'"' | b'\'') {
        k -= 1;
    }
    let key_end = k;
    while k > 0
        && key_end - k < 48
        && (bytes[k - 1].is_ascii_alphanumeric() || matches!(bytes[k - 1], b'_' | b'-' | b'.'))
    {
        k -= 1;
    }
    if k == key_end || (k > 0 && bytes[k - 1].is_ascii_alphanumeric()) {
        return i + 1;
    }
    let Some(class) = key_class(&bytes[k..key_end]) else {
        return i + 1;
    };
    // `scheme://user:pass@host` is read at the `@`.
    if op == b':' && k >= 2 && &bytes[k - 2..k] == b"//" {
        return i + 1;
    }
    let url = op == b'=' && k > 0 && matches!(bytes[k - 1], b'?' | b'&' | b'#' | b';');
    let mut v = i + 1;
    if op == b'=' && bytes.get(v) == Some(&b'=') {
        return i + 2;
    }
    while v < bytes.len() && v - i <= 3 && bytes[v] == b' ' {
        v += 1;
    }
    let quote = match bytes.get(v) {
        Some(&q @ (b'"' | b'\'' | b'`')) => {
            v += 1;
            Some(q)
        }
        _ => None,
    };
    for scheme in ["bearer ", "basic ", "token "] {
        if bytes.get(v..v + scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme.as_bytes()))
        {
            v += scheme.len();
            break;
        }
    }
    if v >= bytes.len() {
        return v;
    }
    // A value that is itself a provider token or a key block is named by its own recognizer.
    if let Some(end) = prefixed(text, v, out) {
        return end;
    }
    if bytes[v..].starts_with(b"-----BEGIN ")
        && let Some(end) = pem(text, v, out)
    {
        return end;
    }
    let value_end = match quote {
        Some(q) => match memchr::memchr(q, &bytes[v..bytes.len().min(v + 512)]) {
            Some(n) => v + n,
            None => return i + 1,
        },
        None => {
            let stop = |b: u8| {
                b.is_ascii_whitespace()
                    || matches!(
                        b,
                        b',' | b';' | b'"' | b'\'' | b'`' | b'}' | b')' | b']' | b'<' | b'>'
                    )
                    || (url && matches!(b, b'&' | b'#'))
            };
            let mut end = v + bytes[v..].iter().take(512).take_while(|&&b| !stop(b)).count();
            // A sentence's full stop is not part of the value.
            if end > v + 1 && bytes[end - 1] == b'.' {
                end -= 1;
            }
            end
        }
    };
    let value = &bytes[v..value_end];
    if value.is_empty() || placeholder(value) {
        return value_end.max(i + 1);
    }
    if value.len() == 40
        && let Some(end) = aws_secret(text, v, out)
    {
        return end;
    }
    if memchr::memmem::find(value, b"://").is_some() {
        // "reset your password: https://…?token=…": the URL's own parameters are read later.
        return i + 1;
    }
    let len = value.len();
    let entropy = shannon_entropy(value);
    let random = entropy >= 3.0f32.min(0.8 * (len as f32).log2());
    let confidence: f32 = match class {
        KeyClass::AwsSecret if len == 40 => 0.95,
        KeyClass::Password if len >= 4 => {
            let plain_word = quote.is_none() && value.iter().all(u8::is_ascii_lowercase);
            if plain_word { 0.55 } else { 0.85 }
        }
        KeyClass::Secret | KeyClass::AwsSecret if len >= 8 && random => 0.85,
        KeyClass::Secret | KeyClass::AwsSecret if len >= 8 && entropy >= 2.5 => 0.6,
        KeyClass::Weak if len >= 16 && entropy >= 3.5 => 0.75,
        _ => 0.2,
    };
    if confidence < 0.5 {
        // Not convincing: leave the value to the other recognizers ("security code: 123").
        return i + 1;
    }
    let entity = if url {
        EntityType::UrlCredential
    } else if class == KeyClass::AwsSecret && len == 40 {
        EntityType::AwsSecretAccessKey
    } else {
        EntityType::GenericSecret
    };
    let confidence = if url && confidence >= 0.5 { confidence.max(0.9) } else { confidence };
    push(out, entity, v, value_end, confidence);
    value_end.max(i + 1)
}

/// Prose: `password is Tr0ub4dor&3`, `Passwort ist …`, `senha é …`: the token at `v` (a
/// word start) after a password word and a joiner. It counts only if it does not look like
/// a word (has a digit, a capital after the first letter, or a symbol).
#[inline]
pub fn password_is(text: &str, v: usize, out: &mut Vec<PiiMatch>) -> Option<usize> {
    let bytes = text.as_bytes();
    // Every joiner ends with "s ", "t " or "é ".
    if v < 8 || bytes[v - 1] != b' ' || !matches!(bytes[v - 2] | 0x20, b's' | b't' | 0xA9) {
        return None;
    }
    let before = &text[..v];
    let joined = [" is ", " ist ", " est ", " é ", " es ", " was "].iter().find_map(|j| {
        let at = before.len().checked_sub(j.len())?;
        before.as_bytes()[at..].eq_ignore_ascii_case(j.as_bytes()).then_some(at)
    })?;
    let word = before[..joined].rsplit(|c: char| !c.is_ascii_alphabetic()).next()?;
    let is_password_word = ["password", "passwort", "passcode", "passphrase", "senha", "pwd"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(word));
    if !is_password_word {
        return None;
    }
    let mut value_end =
        v + bytes[v..].iter().take(128).take_while(|b| !b.is_ascii_whitespace()).count();
    while value_end > v
        && matches!(bytes[value_end - 1], b'.' | b',' | b';' | b'!' | b'?' | b')' | b'"' | b'\'')
    {
        value_end -= 1;
    }
    let value = &bytes[v..value_end];
    let wordlike =
        value.iter().all(u8::is_ascii_alphabetic) && value[1..].iter().all(u8::is_ascii_lowercase);
    if value.len() < 4 || wordlike || !value.is_ascii() || placeholder(value) {
        return None;
    }
    push(out, EntityType::GenericSecret, v, value_end, 0.75);
    Some(value_end)
}

/// A whole text leaf that is the value of a secret-naming key (`{"password": "..."}` walked
/// as JSON, where the leaf is the value alone).
pub fn keyed_value(key: &str, text: &str, out: &mut Vec<PiiMatch>) {
    let Some(class) = key_class(key.as_bytes()) else {
        return;
    };
    let value = text.trim();
    if value.is_empty() || placeholder(value.as_bytes()) || value.contains(char::is_whitespace) {
        return;
    }
    let start = text.len() - text.trim_start().len();
    let bytes = value.as_bytes();
    let random = shannon_entropy(bytes) >= 3.0f32.min(0.8 * (bytes.len() as f32).log2());
    let confidence = match class {
        KeyClass::Password if bytes.len() >= 4 => 0.85,
        KeyClass::Secret | KeyClass::AwsSecret if bytes.len() >= 8 && random => 0.85,
        KeyClass::Weak if bytes.len() >= 16 && shannon_entropy(bytes) >= 3.5 => 0.75,
        _ => return,
    };
    push(out, EntityType::GenericSecret, start, start + value.len(), confidence);
}

#[cfg(test)]
mod tests {
    use super::super::tests::found;
    use super::*;
    use EntityType::*;

    #[test]
    fn provider_prefixes() {
        for (text, entity, value) in [
            ("key AKIAIOSFODNN7EXAMPLE ok", AwsAccessKeyId, "AKIAIOSFODNN7EXAMPLE"),
            ("ASIAY34FZKBOKMUTVV7A", AwsAccessKeyId, "ASIAY34FZKBOKMUTVV7A"),
            (
                "token ghp_16C7e42F292c6912E7710c838347Ae178B4a now",
                GithubToken,
                "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            ),
            (
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
                GithubToken,
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
            ),
            ("glpat-xYz12AbC34dEf56GhI78j", GitlabToken, "glpat-xYz12AbC34dEf56GhI78j"),
            (
                "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
                SlackToken,
                "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            ),
            ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", StripeKey, "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
            ("rk_live_51H8xYzAbCdEfGhIjKlMn", StripeKey, "rk_live_51H8xYzAbCdEfGhIjKlMn"),
            (
                "sk-proj-Ab3dE5fGh7iJk9LmN0pQr2StU4vWx6Yz8",
                OpenaiKey,
                "sk-proj-Ab3dE5fGh7iJk9LmN0pQr2StU4vWx6Yz8",
            ),
            (
                "OPENAI sk-Ab3dE5fGh7iJk9LmN0pQT3BlbkFJr2StU4vWx6Yz8aBcD",
                OpenaiKey,
                "sk-Ab3dE5fGh7iJk9LmN0pQT3BlbkFJr2StU4vWx6Yz8aBcD",
            ),
        ] {
            assert_eq!(found(text), [(entity, value)], "{text}");
        }
    }

    #[test]
    fn prefix_lookalikes() {
        for text in [
            "AKIA is a prefix; AKIAIOSFODNN7EXAMPL is short",
            "ghp_short and gh_pages",
            "sk-learn-compatible-estimator-pipeline",
            "the risk-free rate; sk_live_ alone",
            "xoxb- and glpat-short",
            "eyJhbGciOiJIUzI1NiJ9 without dots",
            "eyJub3RhIjoiand0In0.eyJzdWIiOiIxIn0.sig",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn jwts_need_a_json_header_with_alg() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        let text = format!("Authorization: Bearer {jwt}");
        assert_eq!(found(&text), [(Jwt, jwt)]);
    }

    #[test]
    fn pem_blocks_cover_the_whole_block() {
        let block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\nZm9vYmFy\n-----END RSA PRIVATE KEY-----";
        let text = format!("key:\n{block}\nthanks");
        assert_eq!(found(&text), [(PrivateKey, block)]);
        let truncated = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAAB";
        assert_eq!(found(&format!("{truncated}. Bye")), [(PrivateKey, truncated)]);
        assert!(found("-----BEGIN PUBLIC KEY-----\nMFkwEwYH\n-----END PUBLIC KEY-----").is_empty());
        assert!(found("-----BEGIN CERTIFICATE-----").is_empty());
        let json = format!(r#"{{"private_key": "{}"}}"#, block.replace('\n', "\\n"));
        assert_eq!(found(&json).len(), 1);
        assert_eq!(found(&json)[0].0, PrivateKey);
    }

    #[test]
    fn aws_secret_keys_need_context() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert_eq!(found(&format!("aws secret {secret}")), [(AwsSecretAccessKey, secret)]);
        assert_eq!(
            found(&format!("aws_secret_access_key = {secret}")),
            [(AwsSecretAccessKey, secret)]
        );
        assert!(found(&format!("path {secret}")).is_empty());
        assert!(found("aws commit 3f786850e387550fdab836ed7e6dc881de23001b").is_empty());
    }

    #[test]
    fn key_values() {
        for (text, entity, value) in [
            ("DB_PASSWORD=Tr0ub4dor&3x", GenericSecret, "Tr0ub4dor&3x"),
            (r#"{"password": "correct horse battery"}"#, GenericSecret, "correct horse battery"),
            ("api_key: 9f8a7b6c5d4e3f2a1b0c", GenericSecret, "9f8a7b6c5d4e3f2a1b0c"),
            ("clientSecret='q8Zr2LmN4vPx'", GenericSecret, "q8Zr2LmN4vPx"),
            ("Authorization: Bearer abcDEF123ghiJKL456mno", GenericSecret, "abcDEF123ghiJKL456mno"),
            ("The wifi password is Tr0ub4dor&3.", GenericSecret, "Tr0ub4dor&3"),
            ("Authorization token: ENG-OVERRIDE-2291.", GenericSecret, "ENG-OVERRIDE-2291"),
            (
                "reset your password: https://x.example/reset?token=eyJhbGciOiJIUzI1NiJ9",
                UrlCredential,
                "eyJhbGciOiJIUzI1NiJ9",
            ),
            ("mein Passwort ist sommer2026!", GenericSecret, "sommer2026"),
            (
                "GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a",
                GithubToken,
                "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            ),
        ] {
            assert_eq!(found(text), [(entity, value)], "{text}");
        }
        for text in [
            "password: ${DB_PASSWORD}",
            "api_key=<your-api-key>",
            "token: null",
            "max_tokens: 4096",
            "password = getpass()",
            "secret: [SECRET_1]",
            "token_count=12345678",
            "password: ****",
            "the password is in the vault",
            "the password is Expired",
            "My password is wrong!",
            "x == y",
            "export AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX",
            "SLACK_BOT_TOKEN=xoxb-your-token-here",
            "export GITHUB_TOKEN=ghp_your_token_here",
            "aws_secret_access_key = YOUR_SECRET_ACCESS_KEY",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn url_parameters_are_url_credentials() {
        for (text, value) in [
            (
                "https://api.example.com/v1?access_token=abc123DEF456ghi789&x=1",
                "abc123DEF456ghi789",
            ),
            ("GET /cb#id_token=q1W2e3R4t5Y6u7I8o9P0 HTTP", "q1W2e3R4t5Y6u7I8o9P0"),
            (
                "https://acct.blob.core.windows.net/c/b?sv=2021&sig=k9%2FqWe3rTy8uIo0pAs1dF",
                "k9%2FqWe3rTy8uIo0pAs1dF",
            ),
            ("https://x.io/?api_key=Zx9Qw8Er7Ty6Ui5Op4", "Zx9Qw8Er7Ty6Ui5Op4"),
        ] {
            assert_eq!(found(text), [(UrlCredential, value)], "{text}");
        }
        assert!(found("https://shop.example/?page=2&sort=price&d=secret").is_empty());
        assert!(found("https://example.com/?key=home&code=1").is_empty());
    }

    #[test]
    fn keyed_leaves() {
        let mut out = Vec::new();
        keyed_value("password", "hunter22", &mut out);
        keyed_value("query", "hunter22", &mut out);
        keyed_value("api_key", "${KEY}", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].start, out[0].end), (0, 8));
    }

    #[test]
    fn entropy() {
        assert!(shannon_entropy(b"aaaaaaaa") < 0.01);
        assert!((shannon_entropy(b"abcdefgh") - 3.0).abs() < 1e-4);
    }
}
