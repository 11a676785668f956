//! Personal identifiers: US social security numbers (SSA rules), and the values only
//! context can name: US passport numbers, medical record numbers and dates of birth.

use super::context::{Context, group};
use super::runs::{Shape, sep};
use super::{EntityType, PiiMatch};

/// SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000.
pub fn ssn_valid(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    let group = u32::from(d[3]) * 10 + u32::from(d[4]);
    let serial = d[5..9].iter().fold(0u32, |acc, &x| acc * 10 + u32::from(x));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// A letter-led identifier at `text[i..end]` (a whole word): a US passport number (one
/// letter and eight digits, after "passport") or a medical record number (up to three
/// letters and 5-12 digits, after "MRN" or "medical record").
pub fn letter_token(text: &str, i: usize, end: usize) -> Option<PiiMatch> {
    let word = &text.as_bytes()[i..end];
    let letters = word.iter().take_while(|b| b.is_ascii_uppercase()).count();
    let digits = word.len() - letters;
    if !(1..=3).contains(&letters)
        || !(5..=12).contains(&digits)
        || !word[letters..].iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let ctx = Context::before(text, i);
    let entity = if letters == 1 && digits == 8 && ctx.labelled(group::PASSPORT) {
        EntityType::UsPassport
    } else if ctx.labelled(group::MRN) {
        EntityType::MedicalRecordNumber
    } else {
        return None;
    };
    Some(PiiMatch { entity, start: i, end, confidence: 0.85 })
}

/// Month names (English, German, French, Portuguese, Spanish) and their abbreviations.
const MONTHS: &[(&str, u8)] = &[
    ("january", 1),
    ("jan", 1),
    ("januar", 1),
    ("janvier", 1),
    ("janv", 1),
    ("janeiro", 1),
    ("enero", 1),
    ("february", 2),
    ("feb", 2),
    ("februar", 2),
    ("février", 2),
    ("févr", 2),
    ("fevereiro", 2),
    ("febrero", 2),
    ("march", 3),
    ("mar", 3),
    ("märz", 3),
    ("mär", 3),
    ("mars", 3),
    ("março", 3),
    ("marzo", 3),
    ("april", 4),
    ("apr", 4),
    ("avril", 4),
    ("abril", 4),
    ("may", 5),
    ("mai", 5),
    ("maio", 5),
    ("mayo", 5),
    ("june", 6),
    ("jun", 6),
    ("juni", 6),
    ("juin", 6),
    ("junho", 6),
    ("junio", 6),
    ("july", 7),
    ("jul", 7),
    ("juli", 7),
    ("juillet", 7),
    ("julho", 7),
    ("julio", 7),
    ("august", 8),
    ("aug", 8),
    ("août", 8),
    ("agosto", 8),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("septembre", 9),
    ("setembro", 9),
    ("septiembre", 9),
    ("october", 10),
    ("oct", 10),
    ("oktober", 10),
    ("okt", 10),
    ("octobre", 10),
    ("outubro", 10),
    ("octubre", 10),
    ("november", 11),
    ("nov", 11),
    ("novembre", 11),
    ("novembro", 11),
    ("noviembre", 11),
    ("december", 12),
    ("dec", 12),
    ("dezember", 12),
    ("dez", 12),
    ("décembre", 12),
    ("déc", 12),
    ("dezembro", 12),
    ("diciembre", 12),
];

fn month(word: &str) -> Option<u8> {
    MONTHS.iter().find(|(m, _)| m.eq_ignore_ascii_case(word)).map(|(_, n)| *n)
}

fn valid_date(year: u32, month: u32, day: u32) -> bool {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day) && (1900..=2100).contains(&year)
}

/// Reads up to `max` digits at `i`; returns (value, end) if there was at least `min`.
fn number(bytes: &[u8], i: usize, min: usize, max: usize) -> Option<(u32, usize)> {
    let mut j = i;
    let mut v = 0u32;
    while j < bytes.len() && j - i < max && bytes[j].is_ascii_digit() {
        v = v * 10 + u32::from(bytes[j] - b'0');
        j += 1;
    }
    let ok = j - i >= min && bytes.get(j).is_none_or(|b| !b.is_ascii_digit());
    ok.then_some((v, j))
}

/// End of the letter word at `i` (ASCII or not), and the word.
fn word_at(text: &str, i: usize) -> (usize, &str) {
    let end = text[i..]
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(text.len(), |(k, _)| i + k);
    (end, &text[i..end])
}

/// `text[i..]` starts with `prefix` (ASCII case-insensitive)?
fn starts_with_ci(text: &str, i: usize, prefix: &str) -> bool {
    text.as_bytes()
        .get(i..i + prefix.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// After a day number ending at `i`: `[.|st|th] [de] Month[.][,] [de] YYYY` (`12 March
/// 1985`, `12. März 1985`, `1er mars 1985`, `12 de março de 1985`). Returns the date's end.
fn month_then_year(text: &str, mut i: usize, day: u32) -> Option<usize> {
    let bytes = text.as_bytes();
    for suffix in ["st", "nd", "rd", "th", "er", "."] {
        if starts_with_ci(text, i, suffix) {
            i += suffix.len();
            break;
        }
    }
    if bytes.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    if starts_with_ci(text, i, "de ") {
        i += 3;
    }
    let (end, word) = word_at(text, i);
    let m = month(word)?;
    i = end;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
    }
    if bytes.get(i) == Some(&b',') {
        i += 1;
    }
    if bytes.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    if starts_with_ci(text, i, "de ") {
        i += 3;
    }
    let (year, end) = number(bytes, i, 4, 4)?;
    valid_date(year, u32::from(m), day).then_some(end)
}

/// Before a day number starting at `start`: `Month ` (`March 12, 1985`). Returns where the
/// month word starts and its number.
fn month_before(text: &str, start: usize) -> Option<(usize, u8)> {
    let before = text[..start].strip_suffix(' ')?;
    let (from, _) =
        before.char_indices().rev().take_while(|(_, c)| c.is_alphabetic() || *c == '.').last()?;
    let word = before[from..].trim_end_matches('.');
    Some((from, month(word)?))
}

/// `, YYYY` or ` YYYY` after a day that follows a month word.
fn year_after_day(text: &str, mut i: usize) -> Option<(u32, usize)> {
    let bytes = text.as_bytes();
    for suffix in ["st", "nd", "rd", "th"] {
        if starts_with_ci(text, i, suffix) {
            i += suffix.len();
            break;
        }
    }
    if bytes.get(i) == Some(&b',') {
        i += 1;
    }
    if bytes.get(i) != Some(&b' ') {
        return None;
    }
    number(bytes, i + 1, 4, 4)
}

/// A date at the digit run `text[start..end]` of shape `s`: numeric (`1985-03-12`,
/// `12.03.1985`, `03/12/1985`, `12/03/85`), with a month name (`12 March 1985`, `March 12,
/// 1985`, `12 de março de 1985`) or Japanese (`1985年3月12日`). Returns its span.
pub fn date_at(text: &str, start: usize, end: usize, s: &Shape) -> Option<(usize, usize)> {
    let g = s.groups();
    let bytes = text.as_bytes();
    let dated = |ok: bool, from: usize, to: usize| ok.then_some((from, to));
    if s.plain() && g.len() == 3 && s.uniform() && s.only(sep::DASH | sep::SLASH | sep::DOT) {
        let (a, b, c) = (u32::from(g[0]), u32::from(g[1]), u32::from(g[2]));
        let (x, y) =
            (s.value(0, g[0].into()) as u32, s.value(g[0].into(), (g[0] + g[1]).into()) as u32);
        let z = s.value((g[0] + g[1]).into(), s.len()) as u32;
        if a == 4 && b <= 2 && c <= 2 {
            return dated(valid_date(x, y, z), start, end);
        }
        if a <= 2 && b <= 2 && (c == 4 || c == 2) {
            let year = if c == 2 { 1900 + z } else { z };
            return dated(valid_date(year, y, x) || valid_date(year, x, y), start, end);
        }
        return None;
    }
    if g.len() != 1 || !s.plain() {
        return None;
    }
    if g[0] == 4 && text[end..].starts_with('年') {
        let year = s.value(0, 4) as u32;
        let (m, i) = number(bytes, end + '年'.len_utf8(), 1, 2)?;
        let i = text[i..].strip_prefix('月').map(|_| i + '月'.len_utf8())?;
        let (d, i) = number(bytes, i, 1, 2)?;
        let i = text[i..].strip_prefix('日').map(|_| i + '日'.len_utf8())?;
        return dated(valid_date(year, m, d), start, i);
    }
    if g[0] <= 2 {
        let day = s.value(0, s.len()) as u32;
        if let Some(date_end) = month_then_year(text, end, day) {
            return Some((start, date_end));
        }
        if let Some((from, m)) = month_before(text, start) {
            let (year, date_end) = year_after_day(text, end)?;
            return dated(valid_date(year, u32::from(m), day), from, date_end);
        }
    }
    None
}

/// A date of birth whose day has an ordinal suffix (`12th March 1985`, `March 3rd, 1990`,
/// `1er mars 1985`): the digit run `text[start..end]` is followed by letters.
pub fn ordinal_date(text: &str, start: usize, end: usize) -> Option<PiiMatch> {
    if end - start > 2 || !text.as_bytes()[start].is_ascii_digit() {
        return None;
    }
    let s = Shape::of(&text[start..end]);
    let day = s.value(0, s.len()) as u32;
    let span = if let Some(date_end) = month_then_year(text, end, day) {
        (start, date_end)
    } else {
        let (from, m) = month_before(text, start)?;
        let (year, date_end) = year_after_day(text, end)?;
        if !valid_date(year, u32::from(m), day) {
            return None;
        }
        (from, date_end)
    };
    Context::before(text, span.0).labelled(group::DOB).then_some(PiiMatch {
        entity: EntityType::DateOfBirth,
        start: span.0,
        end: span.1,
        confidence: 0.85,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> Option<&str> {
        let start = text.find(|c: char| c.is_ascii_digit())?;
        let end = super::super::runs::run_end(text.as_bytes(), start);
        let (a, b) = date_at(text, start, end, &Shape::of(&text[start..end]))?;
        Some(&text[a..b])
    }

    #[test]
    fn ssa_rules() {
        let d = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(ssn_valid(&d("123456789")));
        for bad in ["000123456", "666123456", "912345678", "123004567", "123450000"] {
            assert!(!ssn_valid(&d(bad)), "{bad}");
        }
    }

    #[test]
    fn dates_in_many_formats() {
        for (text, want) in [
            ("1985-03-12", "1985-03-12"),
            ("12.03.1985 x", "12.03.1985"),
            ("03/12/1985", "03/12/1985"),
            ("31/12/85", "31/12/85"),
            ("12 March 1985 in", "12 March 1985"),
            ("12. März 1985", "12. März 1985"),
            ("12 de março de 1985", "12 de março de 1985"),
            ("le 3 août 1990", "3 août 1990"),
            ("on March 12, 1985.", "March 12, 1985"),
            ("1985年3月12日生まれ", "1985年3月12日"),
        ] {
            assert_eq!(date(text), Some(want), "{text}");
        }
        for text in ["1985-13-12", "31/02/1985", "12 apples 1985", "2026-11-22T10", "1.2.3"] {
            assert!(date(text).is_none_or(|d| d != text), "{text}");
        }
        assert_eq!(date("1985-02-30"), None);
    }
}
