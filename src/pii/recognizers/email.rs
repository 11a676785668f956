//! Email addresses, found from each `@`: a local part before it and a domain after it with
//! a real-looking TLD. Latin letters outside ASCII are accepted
//! (`josé@exemplo.com.br`, `user@münchen.de`); CJK text glued to an address is not part of
//! it. An `@` inside a URL's authority is a credential, not an email (see
//! [`super::network::url_userinfo`]).

use super::network::url_userinfo;
use super::{EntityType, PiiMatch};

/// File extensions that look like TLDs after an `@` (`icon@2x.png`).
const NOT_TLDS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "css", "js", "ts", "json",
    "yaml", "yml", "txt", "log", "lock", "tgz", "zip",
];

fn is_latin_letter(c: char) -> bool {
    matches!(c, '\u{00C0}'..='\u{024F}') && c != '×' && c != '÷'
}

fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '.' | '_' | '%' | '+' | '-' | '\'')
        || is_latin_letter(c)
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-') || is_latin_letter(c)
}

/// At an `@` (byte `at`): the email address around it, if any, reading the local part back
/// to at most `floor` (the end of the previous address). Returns where scanning resumes.
pub fn at(text: &str, at: usize, floor: usize, out: &mut Vec<PiiMatch>) -> usize {
    let bytes = text.as_bytes();
    if let Some(end) = url_userinfo(text, at, out) {
        return end;
    }
    let mut start = at;
    for (i, c) in text[floor..at].char_indices().rev().take(64) {
        if !is_local_char(c) {
            break;
        }
        start = floor + i;
    }
    while start < at && matches!(bytes[start], b'.' | b'-' | b'+' | b'\'') {
        start += 1;
    }
    if start == at {
        return at + 1;
    }
    let mut end = at + 1;
    for (i, c) in text[at + 1..].char_indices() {
        if !is_domain_char(c) || i > 255 {
            break;
        }
        end = at + 1 + i + c.len_utf8();
    }
    while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
        end -= 1;
    }
    if !valid_domain(&text[at + 1..end]) {
        return at + 1;
    }
    out.push(PiiMatch { entity: EntityType::Email, start, end, confidence: 0.95 });
    end
}

fn valid_domain(domain: &str) -> bool {
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    let tld_ok = tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && !NOT_TLDS.iter().any(|x| x.eq_ignore_ascii_case(tld));
    tld_ok
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'))
}

#[cfg(test)]
mod tests {
    use super::super::tests::found;
    use super::*;

    #[test]
    fn emails() {
        for (text, email) in [
            ("mail jane.doe+x@mail.example.co.uk.", "jane.doe+x@mail.example.co.uk"),
            ("Schreiben Sie an jürgen.müller@beispiel.de bitte", "jürgen.müller@beispiel.de"),
            ("contato: josé.silva@exemplo.com.br.", "josé.silva@exemplo.com.br"),
            ("メールはtaro@example.jpです", "taro@example.jp"),
            ("<a.b@c.io>", "a.b@c.io"),
            ("Email o'brien@example.ie", "o'brien@example.ie"),
            ("to: 'jane@example.com'", "jane@example.com"),
        ] {
            assert_eq!(found(text), [(EntityType::Email, email)], "{text}");
        }
    }

    #[test]
    fn lookalikes() {
        for text in [
            "@mention and user@localhost and a@b.c1",
            "npm i lodash@4.17.21",
            "see icon@2x.png",
            "@@@",
            "a@.com and a@-x.com",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }
}
