//! Recognizers: one pass over a text leaf with cheap byte triggers, then validators.
//!
//! Instead of one regex per entity (Presidio's approach: a pass each), [`scan`] walks the
//! bytes once, eight at a time through plain lowercase prose. Only words holding a digit, a
//! capital or `_`, and a few punctuation bytes, do any work:
//!
//! | trigger | recognizers |
//! |---|---|
//! | `@` | [`email`], URL userinfo credentials ([`network`]) |
//! | a word starting with a digit; `+`, `(` before one | IPv4/IPv6/MAC ([`network`]), then a digit run read into a [`runs::Shape`]: cards, ABA routing ([`financial`]), SSNs, passports, MRNs, dates of birth ([`ids`]), phones ([`phone`]) |
//! | a word starting with a letter | IBANs (`DE89…`), provider tokens by prefix (`AKIA`, `ghp_`, `glpat-`, `xoxb-`, `sk_live_`, `sk-`, `eyJ`), letter-led ids, hex-led MAC/IPv6, long random words |
//! | `=` or `:` | `key=value` secrets and URL query tokens ([`secrets`]) |
//! | `-----BEGIN ` | PEM private key blocks |
//!
//! Validators are checksums and numbering rules (Luhn, mod-97, ABA 3-7-1, SSA, numbering
//! plans, `std::net` parsers). Words before a candidate ([`context`]) raise or lower its
//! confidence, and name the values that shape alone cannot (MRN, passport, DOB, CVV). Nothing
//! allocates: shapes and buffers live on the stack; matches go to the caller's vector.
//!
//! Offsets are UTF-8 byte offsets into the leaf and always on char boundaries (every
//! trigger is an ASCII byte, and spans end on ASCII bytes or after whole chars).

pub mod context;
pub mod email;
pub mod financial;
pub mod ids;
pub mod network;
pub mod phone;
pub mod runs;
pub mod secrets;

pub use financial::{aba_valid, card_brand, iban_valid, luhn};
pub use ids::ssn_valid;
pub use secrets::shannon_entropy;

use super::{EntityType, PiiMatch};
use crate::simd::{AsciiSet, Avx2};
use crate::swar::in_range;

/// Letters, digits and `_`: bytes that continue a word.
pub fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Bytes that can start work: digits, capitals and `_` inside a word (every token the
/// recognizers want has one: card digits, `DE89`, `AKIA`, `ghp_`, `eyJ`, random tokens are
/// mixed-case), and punctuation that joins or introduces values. Plain lowercase prose
/// and spaces are skipped without looking at word boundaries.
const TRIGGER: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_digit()
            || c.is_ascii_uppercase()
            || matches!(
                c,
                b'_' | b':'
                    | b'='
                    | b'+'
                    | b'('
                    | b'-'
                    | b'/'
                    | b'!'
                    | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'*'
                    | b'@'
            );
        b += 1;
    }
    t
};

/// Runs every recognizer over `text`, appending candidates (unsorted; at most one per span,
/// the most confident; spans may overlap).
pub fn scan(text: &str, out: &mut Vec<PiiMatch>) {
    let first = out.len();
    let bytes = text.as_bytes();
    // Everything before `floor` has been read; no email address starts before `emails`.
    let mut floor = 0;
    let mut emails = 0;
    let mut i = 0;
    while i < bytes.len() {
        i = next_trigger(bytes, i);
        if i == bytes.len() {
            break;
        }
        let b = bytes[i];
        // The word this byte belongs to (or, for punctuation, the word right before it):
        // read it first, from its start.
        let at_word = is_word_byte(b);
        let mut ws = i;
        while ws > floor && is_word_byte(bytes[ws - 1]) {
            ws -= 1;
        }
        if ws < i || at_word {
            if ws > 0 && is_word_byte(bytes[ws - 1]) {
                // The rest of a word already read.
                i = word_end(bytes, i).max(i + 1);
                floor = i;
                continue;
            }
            let end = if bytes[ws].is_ascii_digit() {
                digit_token(text, ws, out)
            } else {
                letter_token(text, ws, out)
            };
            if at_word || end > i {
                i = end.max(i + 1);
                floor = i;
                continue;
            }
        }
        let next = match b {
            b'+' | b'('
                if bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                    || (b == b'(' && bytes.get(i + 1) == Some(&b'+')) =>
            {
                runs::scan(text, i, out)
            }
            b'=' | b':' => secrets::key_value(text, i, out),
            b'@' => {
                let end = email::at(text, i, emails, out);
                emails = end;
                end
            }
            b'-' if bytes[i..].starts_with(b"-----BEGIN ") => {
                secrets::pem(text, i, out).unwrap_or(i + 1)
            }
            _ => i + 1,
        };
        i = next.max(i + 1);
        floor = i;
    }
    dedupe(out, first);
}

/// The first trigger byte at or after `i` (or `bytes.len()`). With AVX2, 64 bytes per step
/// ([`AsciiSet`]); else eight at a time: a chunk without any byte in `0x21..=0x5F`
/// (lowercase letters, spaces, UTF-8 beyond ASCII) holds no trigger and is skipped whole.
fn next_trigger(bytes: &[u8], i: usize) -> usize {
    next_trigger_with(bytes, i, Avx2::detect())
}

fn next_trigger_with(bytes: &[u8], mut i: usize, avx2: Option<Avx2>) -> usize {
    static TRIGGERS: AsciiSet = AsciiSet::new(TRIGGER);
    if let Some(avx2) = avx2 {
        return TRIGGERS.find(bytes, i, avx2);
    }
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if in_range(u64::from_le_bytes(word), 0x21, 0x5F) != 0 {
            break;
        }
        i += 8;
    }
    while i < bytes.len() && !TRIGGER[usize::from(bytes[i])] {
        i += 1;
    }
    i
}

fn word_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_word_byte(bytes[i]) {
        i += 1;
    }
    i
}

/// [`scan`] for a leaf at `path` (`tool_calls[0].arguments.password`): when the last key of
/// the path names a secret, the whole leaf is its value.
pub fn scan_field(path: &str, text: &str, out: &mut Vec<PiiMatch>) {
    let first = out.len();
    scan(text, out);
    let key = path.rsplit('.').next().unwrap_or(path);
    let key = key.split('[').next().unwrap_or(key);
    if !key.is_empty() && key != path {
        secrets::keyed_value(key, text, out);
        dedupe(out, first);
    }
}

/// At a digit that starts a word.
fn digit_token(text: &str, i: usize, out: &mut Vec<PiiMatch>) -> usize {
    let bytes = text.as_bytes();
    let hex_len = bytes[i..].iter().take(5).take_while(|b| b.is_ascii_hexdigit()).count();
    if hex_len <= 4
        && matches!(bytes.get(i + hex_len), Some(b':' | b'-' | b'.'))
        && let Some(end) = network::hex_structured(text, i, out)
    {
        return end;
    }
    if let Some(end) = network::ipv4(text, i, out) {
        return end;
    }
    if let Some(end) = secrets::password_is(text, i, out) {
        return end;
    }
    let word_end = word_end(bytes, i);
    if bytes[i..word_end].iter().any(u8::is_ascii_alphabetic)
        && let Some(end) = long_token(text, i, word_end, out)
    {
        return end;
    }
    runs::scan(text, i, out)
}

/// At a letter that starts a word.
fn letter_token(text: &str, i: usize, out: &mut Vec<PiiMatch>) -> usize {
    let bytes = text.as_bytes();
    let b = bytes[i];
    let end = word_end(bytes, i);
    let len = end - i;
    if let Some(e) = secrets::password_is(text, i, out) {
        return e;
    }
    if len >= 4
        && b.is_ascii_alphabetic()
        && bytes[i + 1].is_ascii_alphabetic()
        && bytes[i + 2].is_ascii_digit()
        && bytes[i + 3].is_ascii_digit()
        && let Some(e) = financial::iban(text, i, out)
    {
        return e;
    }
    if matches!(b, b'A' | b'g' | b'x' | b's' | b'r' | b'e')
        && let Some(e) = secrets::prefixed(text, i, out)
    {
        return e;
    }
    if b.is_ascii_hexdigit()
        && len <= 4
        && matches!(bytes.get(end), Some(b':' | b'-' | b'.'))
        && let Some(e) = network::hex_structured(text, i, out)
    {
        return e;
    }
    if b.is_ascii_uppercase()
        && (6..=15).contains(&len)
        && let Some(m) = ids::letter_token(text, i, end)
    {
        out.push(m);
        return end;
    }
    long_token(text, i, end, out).unwrap_or(end)
}

/// AWS secret keys (40 base64 characters, maybe with `/` and `+`) and long random words
/// near a secret-naming word.
fn long_token(text: &str, i: usize, end: usize, out: &mut Vec<PiiMatch>) -> Option<usize> {
    let bytes = text.as_bytes();
    let len = end - i;
    if ((len >= 8 && matches!(bytes.get(end), Some(b'/' | b'+'))) || len == 40)
        && let Some(e) = secrets::aws_secret(text, i, out)
    {
        return Some(e);
    }
    (len >= 24 && secrets::high_entropy_word(text, i, end, out)).then_some(end)
}

/// Keeps one candidate per span (the most confident) among `out[first..]`.
fn dedupe(out: &mut Vec<PiiMatch>, first: usize) {
    if out.len() - first < 2 {
        return;
    }
    out[first..].sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(a.end.cmp(&b.end))
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.entity.cmp(&b.entity))
    });
    let mut w = first + 1;
    for r in first + 1..out.len() {
        let (prev, cur) = (out[w - 1], out[r]);
        if prev.start == cur.start && prev.end == cur.end {
            continue;
        }
        out[w] = cur;
        w += 1;
    }
    out.truncate(w);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use EntityType::*;

    /// What the default policy would redact: candidates ≥ 0.5, overlaps resolved.
    pub(crate) fn found(text: &str) -> Vec<(EntityType, &str)> {
        let mut out = Vec::new();
        scan(text, &mut out);
        for m in &out {
            assert!(
                m.start < m.end && text.is_char_boundary(m.start) && text.is_char_boundary(m.end),
                "{m:?} in {text:?}"
            );
        }
        out.retain(|m| m.confidence >= 0.5);
        crate::pii::resolve_overlaps(&mut out);
        out.iter().map(|m| (m.entity, &text[m.start..m.end])).collect()
    }

    #[test]
    fn the_next_trigger_is_the_same_with_and_without_avx2() {
        let texts = crate::detect::prefilter::random_texts(
            b"abc xyz Q9_:=+(-/!#$%&*@.,q",
            300,
            200,
            0x1b87_3593,
        );
        for text in texts.iter().map(|t| t.replace('q', "é")) {
            let bytes = text.as_bytes();
            for from in 0..=bytes.len() {
                let expected =
                    crate::detect::prefilter::first_from(bytes, from, |b| TRIGGER[usize::from(b)]);
                assert_eq!(next_trigger_with(bytes, from, None), expected, "{text:?} {from}");
                let avx2 = Avx2::detect();
                assert_eq!(next_trigger_with(bytes, from, avx2), expected, "{text:?} {from}");
            }
        }
    }

    #[test]
    fn cards_need_luhn_a_brand_and_consistent_groups() {
        for (text, card) in [
            ("card 4111 1111 1111 1111 ok", "4111 1111 1111 1111"),
            ("amex 378282246310005", "378282246310005"),
            ("pay 5555-5555-5555-4444", "5555-5555-5555-4444"),
            ("Karte: 4000 0566 5566 5556, danke", "4000 0566 5566 5556"),
            ("カード番号は4242424242424242です", "4242424242424242"),
            ("amex 3782 822463 10005.", "3782 822463 10005"),
            ("card 4111 1111 1111 1111 12/27", "4111 1111 1111 1111"),
            ("card 4111.1111.1111.1111 please", "4111.1111.1111.1111"),
        ] {
            assert_eq!(found(text), [(CreditCard, card)], "{text}");
        }
        for text in [
            "4111 1111 1111 1112",
            "1234567812345670",
            "order #4111111111111111 shipped",
            "4111-1111 1111-1111",
            "41111 11111 111111",
            "tracking 4111111111111111",
        ] {
            assert!(found(text).iter().all(|(e, _)| *e != CreditCard), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn ssns_follow_ssa_rules_and_context() {
        assert_eq!(found("SSN 123-45-6789."), [(UsSsn, "123-45-6789")]);
        assert_eq!(found("Sozialversicherungsnr. 123 45 6789"), [(UsSsn, "123 45 6789")]);
        assert_eq!(found("my ssn is 123456789"), [(UsSsn, "123456789")]);
        for bad in ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000"] {
            assert!(found(bad).iter().all(|(e, _)| *e != UsSsn), "{bad}");
        }
        assert!(found("id 123456789").is_empty(), "bare 9 digits need context");
        assert!(found("invoice 123-45-6789").is_empty());
    }

    #[test]
    fn aba_routing_needs_checksum_and_context() {
        assert_eq!(found("routing number 021000021"), [(UsBankRouting, "021000021")]);
        assert_eq!(found("ABA: 011000015, acct 12345"), [(UsBankRouting, "011000015")]);
        assert!(found("routing number 021000022").is_empty(), "bad checksum");
        assert!(found("021000021").is_empty(), "no context");
    }

    #[test]
    fn ibans_with_and_without_spaces() {
        for (text, iban) in [
            ("IBAN: DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00"),
            ("Überweisung an DE89370400440532013000 bitte", "DE89370400440532013000"),
            (
                "virement FR14 2004 1010 0505 0001 3M02 606 merci",
                "FR14 2004 1010 0505 0001 3M02 606",
            ),
            ("GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32"),
        ] {
            assert_eq!(found(text), [(Iban, iban)], "{text}");
        }
        assert!(
            found("DE89 3704 0044 0532 0130 01").is_empty(),
            "mod-97 fails: {:?}",
            found("DE89 3704 0044 0532 0130 01")
        );
        assert!(found("DE89370400440532013000123").is_empty(), "too long");
    }

    #[test]
    fn phones_in_text() {
        for (text, phone) in [
            ("call (415) 555-0132 now", "(415) 555-0132"),
            ("tel +44 20 7946 0958", "+44 20 7946 0958"),
            ("ring 415.555.0132", "415.555.0132"),
            ("Tel.: 030 12345678", "030 12345678"),
            ("Appelez le 01 23 45 67 89 svp", "01 23 45 67 89"),
            ("電話：03-1234-5678まで", "03-1234-5678"),
            ("Ligue para (11) 91234-5678", "(11) 91234-5678"),
            ("phone 4155550132", "4155550132"),
            ("SSN 123-45-6789 or call +1 415 555 0132", "+1 415 555 0132"),
        ] {
            assert!(found(text).contains(&(Phone, phone)), "{text}: {:?}", found(text));
        }
        for text in [
            "on 2026-11-22 at 10:15",
            "order 4155550132",
            "ISBN 0-306-40615-2",
            "ISBN 978-3-16-148410-0",
            "ts 1700000000123",
            "part 555-0132-88",
            "build 20261122.1015",
            "id 550e8400-e29b-41d4-a716-446655440000",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn context_named_identifiers() {
        assert_eq!(found("Passport No. 123456789"), [(UsPassport, "123456789")]);
        assert_eq!(found("passport number: A12345678"), [(UsPassport, "A12345678")]);
        assert_eq!(found("MRN: 00123456"), [(MedicalRecordNumber, "00123456")]);
        assert_eq!(found("medical record # MR4455123"), [(MedicalRecordNumber, "MR4455123")]);
        assert_eq!(found("MRN-7781234"), [(MedicalRecordNumber, "7781234")]);
        assert_eq!(
            found("MRN 00123456, age 93, seen 2024-03-12"),
            [(MedicalRecordNumber, "00123456")]
        );
        assert_eq!(found("CVV 123"), [(CardSecurityCode, "123")]);
        assert!(found("A12345678 and 00123456 and 123").is_empty());
    }

    #[test]
    fn dates_of_birth_need_context() {
        for (text, dob) in [
            ("DOB: 1985-03-12", "1985-03-12"),
            ("born on March 12, 1985.", "March 12, 1985"),
            ("born 12th March 1985", "12th March 1985"),
            ("geboren am 12.03.1985 in Köln", "12.03.1985"),
            ("Elle est née le 3 août 1990.", "3 août 1990"),
            ("data de nascimento: 12/03/1985", "12/03/1985"),
            ("生年月日：1985年3月12日", "1985年3月12日"),
        ] {
            assert_eq!(found(text), [(DateOfBirth, dob)], "{text}");
        }
        for text in ["meeting on 1985-03-12", "released 12 March 1985", "DOB: 1985-13-12"] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn one_match_per_span() {
        let mut out = Vec::new();
        scan("GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].entity, GithubToken);
    }

    #[test]
    fn keyed_fields() {
        let mut out = Vec::new();
        scan_field("tool_calls[0].arguments.db_password", "S3cure!pass", &mut out);
        assert_eq!(out.len(), 1);
        out.clear();
        scan_field("prompt", "S3cure!pass", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn non_ascii_neighbours() {
        for (text, entity, value) in [
            ("接続元IP：203.0.113.9です", IpAddress, "203.0.113.9"),
            ("MACアドレスは00:1a:2b:3c:4d:5eです", MacAddress, "00:1a:2b:3c:4d:5e"),
            (
                "キーはghp_16C7e42F292c6912E7710c838347Ae178B4aです",
                GithubToken,
                "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            ),
            (
                "Überweisung: DE89 3704 0044 0532 0130 00 — danke",
                Iban,
                "DE89 3704 0044 0532 0130 00",
            ),
            ("Número: 123-45-6789 (SSN), obrigado", UsSsn, "123-45-6789"),
            ("«routing number 021000021»", UsBankRouting, "021000021"),
            ("Téléphone : +33 6 12 34 56 78 — merci", Phone, "+33 6 12 34 56 78"),
            ("パスポート番号：A12345678", UsPassport, "A12345678"),
            (
                "Ёмкость: jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
                Jwt,
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
            ),
        ] {
            assert_eq!(found(text), [(entity, value)], "{text}");
        }
    }

    #[test]
    fn trigger_skipping_agrees_with_the_table() {
        let text = "plain prose, sentences. and ünïcödé words — then X 9 _ : = and tail";
        let bytes = text.as_bytes();
        for start in 0..bytes.len() {
            let want = (start..bytes.len())
                .find(|&k| TRIGGER[usize::from(bytes[k])])
                .unwrap_or(bytes.len());
            assert_eq!(next_trigger(bytes, start), want, "from {start}");
        }
        for b in 0..=255u8 {
            let bytes = [b'a', b'b', b'c', b'd', b'e', b'f', b'g', b, b'h'];
            let want = if TRIGGER[usize::from(b)] { 7 } else { 9 };
            assert_eq!(next_trigger(&bytes, 0), want, "byte {b:#x}");
        }
    }

    #[test]
    fn never_panics_and_spans_land_on_char_boundaries() {
        let pieces = [
            "+",
            "(",
            "1",
            "@",
            "a",
            "é",
            "日本",
            ":",
            "::",
            "=",
            "-----BEGIN ",
            "PRIVATE KEY-----",
            "4111",
            " ",
            ".",
            "-",
            "/",
            "eyJ",
            "sk-",
            "ghp_",
            "AKIA",
            "DE89",
            "0",
            "9",
            "x",
            "\"",
            "'",
            "https://",
            "?token=",
            "&",
            "年",
            "月",
            "日",
            "March",
            "born ",
            "MRN ",
            "ü",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..3000 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            for k in 0..len {
                let r = seed.rotate_left(k as u32 * 5);
                text.push_str(pieces[(r % pieces.len() as u64) as usize]);
            }
            let _ = found(&text);
        }
    }
}
