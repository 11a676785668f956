//! Digit runs: digits joined by single separators (`(415) 555-0132`, `4111 1111 1111 1111`,
//! `123-45-6789`, `12.03.1985`), read once into a [`Shape`] (digits, group lengths,
//! separators) that every numeric recognizer classifies without allocating.

use super::context::{LazyContext, group};
use super::{EntityType, PiiMatch, financial, ids, is_word_byte, phone};

/// Longest run considered, separators included.
pub const MAX_RUN: usize = 48;
const MAX_GROUPS: usize = MAX_RUN / 2 + 1;
/// Most space-separated parts a sub-run may join (`+33 1 23 45 67 89` has six).
const MAX_PARTS: usize = 6;

/// Separators between two digit groups, as bit flags.
pub mod sep {
    pub const SPACE: u8 = 1;
    pub const DASH: u8 = 2;
    pub const DOT: u8 = 4;
    pub const SLASH: u8 = 8;
    pub const PAREN: u8 = 16;
}

/// The digits of a run, its group lengths and separators.
#[derive(Debug, Clone)]
pub struct Shape {
    digits: [u8; MAX_RUN],
    n: usize,
    groups: [u8; MAX_GROUPS],
    g: usize,
    /// Separator flags of the gap after each group.
    gaps: [u8; MAX_GROUPS],
    /// Every separator used.
    pub seps: u8,
    /// Starts with `+`.
    pub plus: bool,
    /// The group wrapped in parentheses, if any.
    pub paren: Option<usize>,
}

impl Shape {
    pub fn of(run: &str) -> Self {
        let mut s = Self {
            digits: [0; MAX_RUN],
            n: 0,
            groups: [0; MAX_GROUPS],
            g: 0,
            gaps: [0; MAX_GROUPS],
            seps: 0,
            plus: false,
            paren: None,
        };
        let mut current = 0u8;
        for b in run.bytes().take(MAX_RUN) {
            if b.is_ascii_digit() {
                s.digits[s.n] = b - b'0';
                s.n += 1;
                current += 1;
                continue;
            }
            if current > 0 && s.g < MAX_GROUPS {
                s.groups[s.g] = current;
                s.g += 1;
                current = 0;
            }
            let flag = match b {
                b'+' => {
                    s.plus = s.n == 0;
                    0
                }
                b'(' => {
                    s.paren = Some(s.g);
                    sep::PAREN
                }
                b')' => sep::PAREN,
                b' ' => sep::SPACE,
                b'-' => sep::DASH,
                b'.' => sep::DOT,
                b'/' => sep::SLASH,
                _ => 0,
            };
            if s.g > 0 {
                s.gaps[s.g - 1] |= flag;
            }
            s.seps |= flag;
        }
        if current > 0 && s.g < MAX_GROUPS {
            s.groups[s.g] = current;
            s.g += 1;
        }
        s
    }

    pub fn digits(&self) -> &[u8] {
        &self.digits[..self.n]
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn groups(&self) -> &[u8] {
        &self.groups[..self.g]
    }

    /// Separator flags between group `i` and `i + 1`.
    pub fn gaps(&self) -> &[u8] {
        &self.gaps[..self.g.saturating_sub(1)]
    }

    /// No `+`, no parentheses.
    pub fn plain(&self) -> bool {
        !self.plus && self.paren.is_none() && self.seps & sep::PAREN == 0
    }

    /// Every separator is one of `allowed`.
    pub fn only(&self, allowed: u8) -> bool {
        self.seps & !allowed == 0
    }

    /// Every gap uses the same single separator.
    pub fn uniform(&self) -> bool {
        let gaps = self.gaps();
        gaps.iter().all(|&g| g == gaps[0] && g.count_ones() == 1)
    }

    /// The digits as a number (up to 19 digits).
    pub fn value(&self, from: usize, to: usize) -> u64 {
        self.digits[from..to].iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d))
    }
}

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'/')
}

/// End of a run of digits joined by at most two separator bytes (`(555) 123-4567` is one).
pub fn run_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    if bytes[i] == b'(' {
        i += 1;
    }
    if bytes.get(i) == Some(&b'+') {
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
        if is_sep(b) {
            let mut j = i + 1;
            if j < bytes.len() && is_sep(bytes[j]) && bytes[j] != b {
                j += 1;
            }
            if bytes.get(j).is_some_and(u8::is_ascii_digit) && j + 1 - start <= MAX_RUN {
                i = j;
                continue;
            }
        }
        break;
    }
    // A trailing "(0" or similar never ends a run.
    end
}

/// Does the run at `i` continue another token: `3.14159`, `1,234,567`, `10:15`,
/// `Chrome/120`, the last group of a GUID (`a716-446655440000`)?
fn continues_token(bytes: &[u8], i: usize) -> bool {
    if i < 2 {
        return false;
    }
    let (p, q) = (bytes[i - 1], bytes[i - 2]);
    match p {
        b'.' | b',' | b':' => q.is_ascii_digit(),
        b'/' => q.is_ascii_alphanumeric(),
        b'-' => {
            let mut j = i - 1;
            let mut seen_digit = false;
            while j > 0 && i - 1 - j < 16 && bytes[j - 1].is_ascii_alphanumeric() {
                j -= 1;
                seen_digit |= bytes[j].is_ascii_digit();
            }
            seen_digit
        }
        _ => false,
    }
}

/// End of the identifier-like token at `i` (letters, digits and `-._:/,`).
fn token_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len()
        && (is_word_byte(bytes[i])
            || (matches!(bytes[i], b'-' | b'.' | b':' | b'/' | b',')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric)))
    {
        i += 1;
    }
    i
}

/// Scans the digit run starting at `i` (a digit, or `+`/`(` before one). Returns where
/// scanning resumes.
pub fn scan(text: &str, i: usize, out: &mut Vec<PiiMatch>) -> usize {
    let bytes = text.as_bytes();
    if continues_token(bytes, i) {
        return token_end(bytes, i);
    }
    let end = run_end(bytes, i);
    if bytes[i] == b'(' && !text[i..end].contains(')') {
        // "(381-84-5350)": the parenthesis wraps the value, not an area code.
        return scan(text, i + 1, out);
    }
    match bytes.get(end) {
        Some(&b) if is_word_byte(b) => {
            // "12th March 1985" (dates only); anything else glued to letters is an id.
            if let Some(m) = ids::ordinal_date(text, i, end) {
                out.push(m);
                return m.end;
            }
            return token_end(bytes, end);
        }
        Some(b'-' | b'_') if bytes.get(end + 1).is_some_and(u8::is_ascii_alphabetic) => {
            return token_end(bytes, end);
        }
        _ => {}
    }
    classify_run(text, i, end, out)
}

/// Classifies `text[start..end]`; if the whole run is not PII, tries its space-separated
/// sub-runs, longest first from the left. Returns the end of what was consumed.
fn classify_run(text: &str, start: usize, end: usize, out: &mut Vec<PiiMatch>) -> usize {
    let whole = classify(text, start, end);
    let run = &text[start..end];
    if whole.is_some_and(|m| m.confidence >= 0.5) || !run.contains(' ') {
        if let Some(m) = whole {
            out.push(m);
            return end.max(m.end);
        }
        return end;
    }
    let mut cuts = [(0usize, 0usize); MAX_GROUPS];
    let mut k = 0;
    let mut at = start;
    for part in run.split(' ') {
        if !part.is_empty() && k < cuts.len() {
            cuts[k] = (at, at + part.len());
            k += 1;
        }
        at += part.len() + 1;
    }
    let cuts = &cuts[..k];
    let mut found_any = false;
    let mut consumed = end;
    let mut i = 0;
    while i < cuts.len() {
        let longest = (i + MAX_PARTS).min(cuts.len());
        let found = (i + 1..=longest)
            .rev()
            .filter(|&j| j - i < cuts.len())
            .find_map(|j| classify(text, cuts[i].0, cuts[j - 1].1).map(|m| (j, m)));
        match found {
            Some((j, m)) => {
                out.push(m);
                found_any = true;
                consumed = consumed.max(m.end);
                i = j;
            }
            _ => i += 1,
        }
    }
    if !found_any && let Some(m) = whole {
        out.push(m);
        consumed = consumed.max(m.end);
    }
    consumed
}

/// The most confident reading of one run, if any.
fn classify(text: &str, start: usize, end: usize) -> Option<PiiMatch> {
    let s = Shape::of(&text[start..end]);
    let n = s.len();
    let mut ctx = LazyContext::new(text, start);
    let mut best: Option<PiiMatch> = None;
    let mut offer = |entity: EntityType, confidence: f32, (start, end): (usize, usize)| {
        if best.is_none_or(|b| confidence > b.confidence) {
            best = Some(PiiMatch { entity, start, end, confidence });
        }
    };
    let span = (start, end);
    let single = s.groups().len() == 1;
    if s.plain() {
        if (12..=19).contains(&n)
            && financial::card_groups(&s)
            && financial::luhn(s.digits())
            && financial::card_brand(s.digits()).is_some()
        {
            offer(EntityType::CreditCard, ctx.get().adjust(0.95, group::CARD), span);
        }
        if n == 9 {
            let c = ctx.get();
            let formatted =
                s.groups() == [3, 2, 4] && (s.only(sep::DASH) || s.only(sep::SPACE)) && s.uniform();
            if (formatted || single) && ids::ssn_valid(s.digits()) {
                let base = if formatted { 0.85 } else { 0.35 };
                offer(EntityType::UsSsn, c.adjust(base, group::SSN), span);
            }
            if single && financial::aba_valid(s.digits()) {
                offer(EntityType::UsBankRouting, c.adjust(0.45, group::ABA), span);
            }
            if single && c.labelled(group::PASSPORT) {
                offer(EntityType::UsPassport, 0.85, span);
            }
        }
        // A dash-separated run shaped like a date (2024-03-12, 12-03-2024) is not a record
        // number even a few words after "MRN".
        let date_shaped =
            matches!(s.groups(), [4, 2, 2] | [2, 2, 4] | [2, 2, 2] | [1, 2, 4] | [2, 1, 4]);
        if (5..=15).contains(&n)
            && (single || (s.only(sep::DASH) && !date_shaped))
            && ctx.get().labelled(group::MRN)
        {
            offer(EntityType::MedicalRecordNumber, 0.85, span);
        }
        if (3..=4).contains(&n) && single && ctx.get().labelled(group::CVV) {
            offer(EntityType::CardSecurityCode, 0.9, span);
        }
    }
    if let Some(base) = phone::confidence(&s) {
        offer(EntityType::Phone, ctx.get().adjust(base, group::PHONE), span);
    }
    if let Some(date) = ids::date_at(text, start, end, &s)
        && ctx.get().labelled(group::DOB)
    {
        offer(EntityType::DateOfBirth, 0.85, date);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_read_groups_and_separators() {
        let s = Shape::of("+1 (415) 555-0132");
        assert!(s.plus);
        assert_eq!(s.groups(), [1, 3, 3, 4]);
        assert_eq!(s.paren, Some(1));
        assert_eq!(s.len(), 11);
        let s = Shape::of("4111 1111 1111 1111");
        assert!(s.plain() && s.uniform() && s.only(sep::SPACE));
        assert!(!Shape::of("123-45 6789").uniform());
    }

    #[test]
    fn runs_join_single_separators() {
        let text = "call (415) 555-0132 now, 12 - 34";
        assert_eq!(run_end(text.as_bytes(), 5), 19);
        assert_eq!(&text[25..run_end(text.as_bytes(), 25)], "12", "two separators at most");
    }

    #[test]
    fn continued_tokens_are_not_runs() {
        for (text, at) in
            [("3.14159", 2), ("1,234,567", 2), ("10:15", 3), ("Chrome/120", 7), ("a716-4466", 5)]
        {
            assert!(continues_token(text.as_bytes(), at), "{text}");
        }
        assert!(!continues_token(b"MRN-1234567", 4));
        assert!(!continues_token(b"No.123", 3));
    }
}
