//! Recognizers: fast candidate scanners plus validators.
//!
//! Instead of one regex per entity (Presidio's approach, one pass each), text is scanned
//! once for `@` (emails) and once for digit runs; each run is then classified by validators
//! (IPv4 octets, Luhn and brand prefixes for cards, SSA rules for SSNs, NANP / E.164 for
//! phones). Context words just before a candidate raise or lower its confidence.

use super::{EntityType, PiiMatch};

/// Longest digit run considered (separators included).
const MAX_RUN: usize = 48;
/// How far before a candidate context words are looked for.
const CONTEXT_WINDOW: usize = 48;

/// Runs every recognizer over `text`, appending candidates (unsorted, may overlap).
pub fn scan(text: &str, out: &mut Vec<PiiMatch>) {
    scan_emails(text, out);
    scan_digit_runs(text, out);
}

fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

fn scan_emails(text: &str, out: &mut Vec<PiiMatch>) {
    let bytes = text.as_bytes();
    let mut last_end = 0;
    for at in memchr::memchr_iter(b'@', bytes) {
        if at < last_end {
            continue;
        }
        let mut start = at;
        while start > last_end && at - start < 64 && is_local_char(bytes[start - 1]) {
            start -= 1;
        }
        while start < at && matches!(bytes[start], b'.' | b'-' | b'+') {
            start += 1;
        }
        if start == at {
            continue;
        }
        let mut end = at + 1;
        while end < bytes.len() && end - at <= 255 && is_domain_char(bytes[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let domain = &text[at + 1..end];
        if !valid_domain(domain) {
            continue;
        }
        last_end = end;
        out.push(PiiMatch { entity: EntityType::Email, start, end, confidence: 0.95 });
    }
}

fn valid_domain(domain: &str) -> bool {
    let mut labels = domain.split('.');
    let Some(tld) = domain.rsplit('.').next() else {
        return false;
    };
    if !domain.contains('.') || tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    labels.all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'))
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn scan_digit_runs(text: &str, out: &mut Vec<PiiMatch>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let starts = b.is_ascii_digit()
            || (matches!(b, b'+' | b'(') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        if !starts || (i > 0 && is_word_byte(bytes[i - 1])) {
            i += 1;
            continue;
        }
        // Runs that continue a decimal number ("3.14159") or a dotted id are not candidates.
        if i >= 2 && bytes[i - 1] == b'.' && bytes[i - 2].is_ascii_digit() {
            i += 1;
            continue;
        }
        let end = run_end(bytes, i);
        let followed_by_word = bytes.get(end).copied().is_some_and(is_word_byte);
        if !followed_by_word {
            classify_run(text, i, end, out);
        }
        i = end.max(i + 1);
    }
}

/// End of a run of digits joined by single separators (`(555) 123-4567` counts as one).
fn run_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    if matches!(bytes[i], b'+' | b'(') {
        i += 1;
    }
    let mut end = i;
    while i < bytes.len() && i - start < MAX_RUN {
        let b = bytes[i];
        if b.is_ascii_digit() {
            i += 1;
            end = i;
            continue;
        }
        // Up to two separator bytes, then a digit.
        let sep = |b: u8| matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'/');
        if sep(b) {
            let mut j = i + 1;
            if j < bytes.len() && sep(bytes[j]) && bytes[j] != b {
                j += 1;
            }
            if bytes.get(j).is_some_and(u8::is_ascii_digit) {
                i = j;
                continue;
            }
        }
        break;
    }
    end
}

/// Classifies `text[start..end]`; if the whole run is not PII, tries its space-separated
/// sub-runs, longest first from the left.
fn classify_run(text: &str, start: usize, end: usize, out: &mut Vec<PiiMatch>) {
    let whole = classify(text, start, end);
    let run = &text[start..end];
    if whole.is_some_and(|m| m.confidence >= 0.5) || !run.contains(' ') {
        out.extend(whole);
        return;
    }
    let before = out.len();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut at = start;
    for part in run.split(' ') {
        if !part.is_empty() {
            cuts.push((at, at + part.len()));
        }
        at += part.len() + 1;
    }
    let mut i = 0;
    while i < cuts.len() {
        let found = (i + 1..=cuts.len())
            .rev()
            .filter(|&j| j - i < cuts.len())
            .find_map(|j| classify(text, cuts[i].0, cuts[j - 1].1).map(|m| (j, m)));
        match found {
            Some((j, m)) => {
                out.push(m);
                i = j;
            }
            None => i += 1,
        }
    }
    if out.len() == before {
        out.extend(whole);
    }
}

/// Digits of a run, the separators it uses, and its digit-group lengths.
struct Shape {
    digits: Vec<u8>,
    groups: Vec<usize>,
    seps: Vec<u8>,
    plus: bool,
    parens: bool,
}

fn shape(run: &str) -> Shape {
    let mut s = Shape {
        digits: Vec::with_capacity(20),
        groups: Vec::new(),
        seps: Vec::new(),
        plus: false,
        parens: false,
    };
    let mut current = 0;
    for b in run.bytes() {
        match b {
            b'0'..=b'9' => {
                s.digits.push(b - b'0');
                current += 1;
            }
            _ => {
                if current > 0 {
                    s.groups.push(current);
                    current = 0;
                }
                match b {
                    b'+' => s.plus = true,
                    b'(' | b')' => s.parens = true,
                    _ => s.seps.push(b),
                }
            }
        }
    }
    if current > 0 {
        s.groups.push(current);
    }
    s
}

fn classify(text: &str, start: usize, end: usize) -> Option<PiiMatch> {
    let run = &text[start..end];
    let s = shape(run);
    let context = context_before(text, start);
    let make = |entity, confidence: f32| {
        let adjusted = confidence + context_adjustment(entity, &context);
        Some(PiiMatch { entity, start, end, confidence: adjusted.clamp(0.0, 1.0) })
    };
    let only_seps = |allowed: &[u8]| s.seps.iter().all(|b| allowed.contains(b));

    if !s.plus && !s.parens && s.groups.len() == 4 && only_seps(b".") && s.seps.len() == 3 {
        if ipv4_octets(run) {
            return make(EntityType::IpAddress, 0.9);
        }
        return None;
    }
    if !s.plus
        && !s.parens
        && only_seps(b" -")
        && (12..=19).contains(&s.digits.len())
        && luhn(&s.digits)
        && card_brand(&s.digits).is_some()
        && uniform_groups(&s)
    {
        return make(EntityType::CreditCard, 0.95);
    }
    if !s.plus && !s.parens && s.digits.len() == 9 {
        let formatted = s.groups == [3, 2, 4] && (only_seps(b"-") || only_seps(b" "));
        if (formatted || s.groups == [9]) && ssn_valid(&s.digits) {
            return make(EntityType::UsSsn, if formatted { 0.85 } else { 0.35 });
        }
    }
    phone(&s).and_then(|confidence| make(EntityType::Phone, confidence))
}

/// Card separators must be consistent: `4111 1111 1111 1111`, `4111-1111-1111-1111`,
/// `378282246310005`, `3782 822463 10005`; not an arbitrary mix of groups.
fn uniform_groups(s: &Shape) -> bool {
    if s.groups.len() == 1 {
        return true;
    }
    let same_sep = s.seps.windows(2).all(|w| w[0] == w[1]);
    let fours = s.groups[..s.groups.len() - 1].iter().all(|&g| g == 4)
        && *s.groups.last().unwrap_or(&0) <= 4;
    let amex = s.groups == [4, 6, 5] || s.groups == [4, 6, 4];
    same_sep && (fours || amex)
}

fn ipv4_octets(run: &str) -> bool {
    run.split('.').all(|octet| {
        !octet.is_empty()
            && octet.len() <= 3
            && (octet == "0" || !octet.starts_with('0'))
            && octet.parse::<u16>().is_ok_and(|v| v <= 255)
    })
}

/// The Luhn checksum over a card number's digits.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// The card brand implied by the leading digits (IIN ranges), if any.
pub fn card_brand(digits: &[u8]) -> Option<&'static str> {
    let prefix = |n: usize| digits.iter().take(n).fold(0u32, |acc, &d| acc * 10 + u32::from(d));
    let len = digits.len();
    Some(match (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6)) {
        (4, ..) if matches!(len, 13 | 16 | 19) => "visa",
        (_, 51..=55, ..) if len == 16 => "mastercard",
        (_, _, _, 2221..=2720, _) if len == 16 => "mastercard",
        (_, 34 | 37, ..) if len == 15 => "amex",
        (_, _, _, 6011, _) | (_, 65, ..) if (16..=19).contains(&len) => "discover",
        (_, _, 644..=649, ..) if (16..=19).contains(&len) => "discover",
        (_, _, _, 3528..=3589, _) if (16..=19).contains(&len) => "jcb",
        (_, 36 | 38 | 39, ..) | (_, _, 300..=305, ..) if (14..=19).contains(&len) => "diners",
        (_, 62, ..) if (16..=19).contains(&len) => "unionpay",
        (_, 50 | 56..=58, ..) | (_, 67, ..) if (12..=19).contains(&len) => "maestro",
        _ => return None,
    })
}

/// SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000.
fn ssn_valid(d: &[u8]) -> bool {
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    let group = u32::from(d[3]) * 10 + u32::from(d[4]);
    let serial = d[5..9].iter().fold(0u32, |acc, &x| acc * 10 + u32::from(x));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Phone confidence for a run's shape, if it looks like a phone number.
fn phone(s: &Shape) -> Option<f32> {
    let n = s.digits.len();
    let has_seps = !s.seps.is_empty() || s.parens;
    if s.plus {
        // E.164: country code + subscriber number, 8 to 15 digits, no leading zero.
        return ((8..=15).contains(&n) && s.digits[0] != 0).then_some(0.9);
    }
    let nanp = |d: &[u8]| d.len() == 10 && d[0] >= 2 && d[3] >= 2;
    let nanp_groups = |g: &[usize]| matches!(g, [3, 3, 4] | [1, 3, 3, 4]);
    if (n == 10 && nanp(&s.digits)) || (n == 11 && s.digits[0] == 1 && nanp(&s.digits[1..])) {
        return Some(if has_seps && nanp_groups(&s.groups) {
            0.85
        } else if has_seps {
            0.3
        } else {
            0.35
        });
    }
    // National formats with a trunk prefix 0 (UK, DE, FR, JP, BR, IN): 9-12 digits.
    if s.digits[0] == 0 && (10..=12).contains(&n) && has_seps && s.groups.len() >= 2 {
        return Some(0.6);
    }
    None
}

/// Up to [`CONTEXT_WINDOW`] bytes before `start`, lowercased ASCII.
fn context_before(text: &str, start: usize) -> String {
    let mut from = start.saturating_sub(CONTEXT_WINDOW);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    text[from..start].to_ascii_lowercase()
}

fn context_adjustment(entity: EntityType, context: &str) -> f32 {
    const NEGATIVE: &[&str] = &[
        "version", "ver.", "build", "order", "invoice", "isbn", "tracking", "ticket", "ref",
        "serial", "sku", "part no", "release",
    ];
    let positive: &[&str] = match entity {
        EntityType::UsSsn => &["ssn", "social security", "social-security", "tax id", "taxpayer"],
        EntityType::Phone => {
            &["phone", "call", "tel", "mobile", "cell", "fax", "text me", "whatsapp", "contact"]
        }
        EntityType::CreditCard => &["card", "visa", "mastercard", "amex", "credit", "debit", "pan"],
        EntityType::IpAddress => &["ip", "address", "host", "server", "from", "login"],
        EntityType::Email => &[],
    };
    let mut adjustment = 0.0;
    if positive.iter().any(|w| context.contains(w)) {
        adjustment += 0.4;
    }
    if NEGATIVE.iter().any(|w| context.contains(w)) {
        adjustment -= 0.5;
    }
    adjustment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(EntityType, &str)> {
        let mut out = Vec::new();
        scan(text, &mut out);
        out.sort_by_key(|m| m.start);
        out.iter()
            .filter(|m| m.confidence >= 0.5)
            .map(|m| (m.entity, &text[m.start..m.end]))
            .collect()
    }

    #[test]
    fn emails() {
        assert_eq!(
            found("mail jane.doe+x@mail.example.co.uk."),
            [(EntityType::Email, "jane.doe+x@mail.example.co.uk")]
        );
        assert!(found("@mention and user@localhost and a@b.c1").is_empty());
    }

    #[test]
    fn cards_need_luhn_and_a_brand() {
        assert_eq!(
            found("card 4111 1111 1111 1111 ok"),
            [(EntityType::CreditCard, "4111 1111 1111 1111")]
        );
        assert_eq!(found("amex 378282246310005"), [(EntityType::CreditCard, "378282246310005")]);
        assert_eq!(
            found("pay 5555-5555-5555-4444"),
            [(EntityType::CreditCard, "5555-5555-5555-4444")]
        );
        assert!(found("4111 1111 1111 1112").is_empty(), "bad Luhn");
        assert!(found("order 1234567812345670").is_empty(), "no brand");
    }

    #[test]
    fn ssns_follow_area_rules() {
        assert_eq!(found("SSN 123-45-6789."), [(EntityType::UsSsn, "123-45-6789")]);
        assert_eq!(found("my ssn is 123456789"), [(EntityType::UsSsn, "123456789")]);
        for bad in ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000"] {
            assert!(found(bad).iter().all(|(e, _)| *e != EntityType::UsSsn), "{bad}");
        }
        assert!(found("id 123456789").is_empty(), "bare 9 digits need context");
    }

    #[test]
    fn phones() {
        assert_eq!(found("call (415) 555-0132 now"), [(EntityType::Phone, "(415) 555-0132")]);
        assert_eq!(found("tel +44 20 7946 0958"), [(EntityType::Phone, "+44 20 7946 0958")]);
        assert_eq!(found("ring 415.555.0132"), [(EntityType::Phone, "415.555.0132")]);
        assert_eq!(found("Tel.: 030 12345678"), [(EntityType::Phone, "030 12345678")]);
        assert!(found("on 2026-11-22 at 10:15").is_empty());
    }

    #[test]
    fn ipv4_is_parsed() {
        assert_eq!(found("from 192.168.10.254 at"), [(EntityType::IpAddress, "192.168.10.254")]);
        assert!(found("999.1.1.1 and 1.2.3.4.5 and 01.2.3.4").is_empty());
        assert!(found("version 1.2.3.4").is_empty(), "context lowers confidence");
    }

    #[test]
    fn runs_split_on_spaces_when_the_whole_is_not_pii() {
        assert_eq!(found("SSN 123-45-6789 12 years"), [(EntityType::UsSsn, "123-45-6789")]);
    }

    #[test]
    fn never_panics_on_odd_text() {
        for text in [
            "+",
            "(",
            "+(",
            "1",
            "@",
            "a@",
            "@b.cc",
            "é@é.fr",
            "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3",
            "((((1",
            "+1+1+1",
        ] {
            let mut out = Vec::new();
            scan(text, &mut out);
            for m in out {
                assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
            }
        }
    }
}
