//! Phone numbers: E.164 (`+44 20 7946 0958`, `0049 30 1234567`) and the national formats of
//! the US/Canada (NANP), UK, Germany, France, India, Brazil and Japan.
//!
//! A run is a phone when its digit count fits the country's numbering plan *and* its
//! grouping is one people write (`(415) 555-0132`, `01 23 45 67 89`, `03-1234-5678`):
//! dates, versions, timestamps and order numbers have the digits but not the grouping.
//! Bare digit strings get a low confidence that only a context word ("phone", "call",
//! "tel") lifts over the policy floor.

use super::runs::{Shape, sep};

/// Two-digit country calling codes.
const CC2: &[u8] = &[
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56,
    57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
];

/// NANP: area code and exchange start with 2-9. (N11 area codes are reserved, but people
/// and test data write them; they are still phone-shaped.)
fn nanp(d: &[u8]) -> bool {
    d.len() == 10 && d[0] >= 2 && d[3] >= 2
}

fn value(d: &[u8]) -> u32 {
    d.iter().fold(0u32, |acc, &x| acc * 10 + u32::from(x))
}

/// Phone confidence for a run's shape (before context), if it looks like a phone number.
pub fn confidence(s: &Shape) -> Option<f32> {
    let d = s.digits();
    let n = d.len();
    if !(7..=15).contains(&n) || d.iter().all(|&x| x == d[0]) {
        return None;
    }
    if s.plus {
        return international(s, 0);
    }
    if d[0] == 0 && d[1] == 0 {
        // "0049 30 1234567"; a bare "004089608987" could be any zero-padded id.
        let grouped = s.groups().len() > 1;
        return international(s, 2).map(|c| if grouped { c - 0.05 } else { 0.35 });
    }
    let g = s.groups();
    let punctuated = s.only(sep::SPACE | sep::DASH | sep::DOT | sep::PAREN);
    let mut best: Option<f32> = None;
    let mut offer = |c: f32| best = Some(best.map_or(c, |b: f32| b.max(c)));

    // NANP: (415) 555-0132, 415-555-0132, 415.555.0132, 1-800-555-0199, 4155550132.
    if nanp(d) || (n == 11 && d[0] == 1 && nanp(&d[1..])) {
        match g {
            [10] | [11] => offer(0.35),
            [3, 3, 4] | [1, 3, 3, 4] if punctuated && (s.uniform() || s.paren.is_some()) => {
                offer(0.8);
            }
            [3, 3, 4] | [1, 3, 3, 4] if punctuated => offer(0.6),
            _ => {}
        }
    }
    let paren_ok = s.paren.is_none_or(|p| p == 0);
    if d[0] == 0 && d[1] != 0 && paren_ok {
        let seps_ok = s.only(sep::SPACE | sep::DASH | sep::SLASH | sep::PAREN);
        // UK: 020 7946 0958, 0161 496 0000, 07700 900123.
        if n == 11
            && matches!(d[1], 1 | 2 | 3 | 5 | 7 | 8 | 9)
            && matches!(g, [3, 4, 4] | [4, 3, 4] | [5, 6] | [5, 3, 3] | [4, 7] | [3, 8])
            && seps_ok
        {
            offer(0.75);
        }
        // France: 01 23 45 67 89, 06.12.34.56.78.
        if n == 10 && g == [2, 2, 2, 2, 2] && s.uniform() {
            offer(0.8);
        }
        // Japan: 03-1234-5678, 090-1234-5678, 0120-123-456.
        if (10..=11).contains(&n)
            && matches!(g, [2, 4, 4] | [3, 3, 4] | [4, 2, 4] | [5, 1, 4] | [3, 4, 4] | [4, 3, 3])
            && s.only(sep::DASH | sep::SPACE | sep::PAREN)
        {
            offer(0.75);
        }
        // India: 022 2345 6789, 098765 43210.
        if n == 11 && matches!(g, [5, 6] | [6, 5] | [3, 4, 4] | [4, 3, 4]) && seps_ok {
            offer(0.7);
        }
        // Germany: 030 12345678, 089/1234567, 0171 123 4567, 0221-12 34 56.
        if (9..=12).contains(&n)
            && (2..=4).contains(&g.len())
            && (3..=5).contains(&g[0])
            && g[1..].iter().all(|&x| (2..=8).contains(&x))
            && seps_ok
        {
            offer(0.7);
        }
        // Other trunk-prefixed national numbers.
        if (9..=12).contains(&n)
            && g.len() >= 2
            && g.iter().all(|&x| x >= 2)
            && g[0] <= 5
            && seps_ok
        {
            offer(0.55);
        }
    }
    if d[0] != 0 {
        // India mobile: 98765 43210.
        if n == 10 && d[0] >= 6 && g == [5, 5] && s.only(sep::SPACE | sep::DASH) {
            offer(0.75);
        }
        // Brazil: (11) 91234-5678, (21) 2345-6789, 11 91234-5678.
        if (10..=11).contains(&n) && g[0] == 2 && d[1] != 0 {
            let rest = &g[1..];
            let subscriber = matches!(rest, [4, 4] | [5, 4] | [8] | [9]);
            let mobile_ok = n == 10 || d[2] == 9;
            if subscriber && mobile_ok {
                if s.paren == Some(0) {
                    offer(0.8);
                } else if matches!(g, [2, 4, 4] | [2, 5, 4]) && s.only(sep::SPACE | sep::DASH) {
                    offer(0.6);
                }
            }
        }
    }
    best
}

/// `+CC NSN` (or `00CC NSN` when `skip` is 2): the country code, then a national
/// significant number whose length fits the country.
fn international(s: &Shape, skip: usize) -> Option<f32> {
    let d = &s.digits()[skip..];
    let g = s.groups();
    let n = d.len();
    if !(8..=15).contains(&n) || d[0] == 0 {
        return None;
    }
    // The country code is its own group when the number is grouped, else read by the table.
    let first = usize::from(g[0]).saturating_sub(skip);
    let cc_len = if g.len() > 1 && (1..=3).contains(&first) {
        first
    } else if d[0] == 1 || d[0] == 7 {
        1
    } else if CC2.contains(&(value(&d[..2]) as u8)) {
        2
    } else {
        3
    };
    if cc_len > n - 6 {
        return None;
    }
    let cc = value(&d[..cc_len]);
    let mut nsn = &d[cc_len..];
    // "+44 (0)20 7946 0958": the national trunk prefix in parentheses is not dialled.
    if nsn.first() == Some(&0) && s.paren.is_some() {
        nsn = &nsn[1..];
    }
    if nsn.first().is_none_or(|&x| x == 0) {
        return None;
    }
    let len = nsn.len();
    let fits = match cc {
        1 => nanp(nsn),
        44 => (9..=10).contains(&len),
        49 => (7..=12).contains(&len),
        33 => len == 9,
        91 => len == 10,
        55 => (10..=11).contains(&len),
        81 => (9..=10).contains(&len),
        7 => len == 10,
        _ if cc_len == 2 && !CC2.contains(&(cc as u8)) => return None,
        _ if cc_len == 3 && !(2..=9).contains(&(cc / 100)) => return None,
        _ => return (8..=15).contains(&(cc_len + len)).then_some(0.75),
    };
    fits.then_some(0.9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(run: &str) -> Option<f32> {
        confidence(&Shape::of(run))
    }

    #[test]
    fn e164_lengths_per_country() {
        for run in [
            "+1 415 555 0132",
            "+1 (415) 555-0132",
            "+14155550132",
            "+44 20 7946 0958",
            "+44 (0)20 7946 0958",
            "+447700900123",
            "+49 30 12345678",
            "+49 171 1234567",
            "+33 1 23 45 67 89",
            "+33612345678",
            "+91 98765 43210",
            "+55 11 91234-5678",
            "+81 3-1234-5678",
            "+81 90-1234-5678",
            "+351 912 345 678",
            "0049 30 1234567",
        ] {
            assert!(phone(run).is_some_and(|c| c >= 0.75), "{run}");
        }
        for run in
            ["+1 415 555 013", "+33 1 23 45 67 8", "+91 98765 4321", "+44 20 79", "+0 123 456 7890"]
        {
            assert_eq!(phone(run), None, "{run}");
        }
    }

    #[test]
    fn national_formats() {
        for run in [
            "(415) 555-0132",
            "415-555-0132",
            "415.555.0132",
            "1-800-555-0199",
            "020 7946 0958",
            "07700 900123",
            "0161 496 0000",
            "030 12345678",
            "089/1234567",
            "0171 1234567",
            "01 23 45 67 89",
            "06.12.34.56.78",
            "03-1234-5678",
            "090-1234-5678",
            "0120-123-456",
            "98765 43210",
            "022 2345 6789",
            "(11) 91234-5678",
            "(21) 2345-6789",
        ] {
            assert!(phone(run).is_some_and(|c| c >= 0.55), "{run}");
        }
    }

    #[test]
    fn dates_versions_and_ids_are_not_phones() {
        for run in [
            "2026-11-22",
            "2026 11 22 10",
            "12.03.1985",
            "1.2.3.4",
            "0-306-40615-2",
            "978-3-16-148410-0",
            "555-0132-88",
            "1700000000",
            "20261122101500",
            "0000000000",
            "004089608987",
            "123-45-6789",
        ] {
            assert!(phone(run).is_none_or(|c| c < 0.5), "{run}");
        }
        assert_eq!(phone("4155550132"), Some(0.35), "bare digits need context");
    }
}
