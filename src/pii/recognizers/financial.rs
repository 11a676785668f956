//! Payment data: card numbers (Luhn + brand prefix + consistent grouping), IBANs (country
//! length + ISO 7064 mod-97), US ABA routing numbers (3-7-1 checksum).

use super::context::{Context, group};
use super::runs::{Shape, sep};
use super::{EntityType, PiiMatch};

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

/// Card separators must be consistent: `4111 1111 1111 1111`, `4111-1111-1111-1111`,
/// `4111.1111.1111.1111`, `378282246310005`, `3782 822463 10005`; not an arbitrary mix.
pub fn card_groups(s: &Shape) -> bool {
    let g = s.groups();
    if g.len() == 1 {
        return true;
    }
    let fours = g[..g.len() - 1].iter().all(|&x| x == 4) && g[g.len() - 1] <= 4;
    let amex = g == [4, 6, 5] || g == [4, 6, 4];
    s.uniform() && s.only(sep::SPACE | sep::DASH | sep::DOT) && (fours || amex)
}

/// ABA routing number: a Federal Reserve prefix (01-12, 21-32, 61-72, 80) and the 3-7-1
/// checksum.
pub fn aba_valid(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let prefix = d[0] * 10 + d[1];
    if !matches!(prefix, 1..=12 | 21..=32 | 61..=72 | 80) {
        return false;
    }
    let w = |i: usize| u32::from(d[i]);
    let sum = 3 * (w(0) + w(3) + w(6)) + 7 * (w(1) + w(4) + w(7)) + (w(2) + w(5) + w(8));
    sum.is_multiple_of(10)
}

/// IBAN length per country (ISO 13616 registry).
const IBAN_LENGTHS: &[(&[u8; 2], u8)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

fn iban_length(country: &[u8]) -> Option<usize> {
    IBAN_LENGTHS.iter().find(|(c, _)| c.as_slice() == country).map(|(_, n)| usize::from(*n))
}

/// ISO 7064 mod 97-10 over an IBAN's characters (uppercase letters and digits, no spaces).
fn mod97(chars: &[u8]) -> bool {
    let rotated = chars[4..].iter().chain(&chars[..4]);
    let mut rem = 0u32;
    for &c in rotated {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return false,
        };
    }
    rem == 1
}

/// Is `s` a valid IBAN (spaces allowed)?
pub fn iban_valid(s: &str) -> bool {
    let mut chars = [0u8; 34];
    let mut n = 0;
    for b in s.bytes().filter(|b| *b != b' ') {
        if n == chars.len() {
            return false;
        }
        chars[n] = b.to_ascii_uppercase();
        n += 1;
    }
    n >= 15 && iban_length(&chars[..2]) == Some(n) && mod97(&chars[..n])
}

/// An IBAN starting at `i` (two letters, two digits): the country's number of
/// letters and digits, optionally in groups separated by single spaces, then a boundary.
/// Returns the end of an IBAN-shaped token; emits it only if its checksum holds.
pub fn iban(text: &str, i: usize, out: &mut Vec<PiiMatch>) -> Option<usize> {
    let bytes = text.as_bytes();
    let want = iban_length(&[bytes[i].to_ascii_uppercase(), bytes[i + 1].to_ascii_uppercase()])?;
    let mut chars = [0u8; 34];
    let mut n = 0;
    let mut j = i;
    while n < want && j < bytes.len() {
        let b = bytes[j];
        if b.is_ascii_alphanumeric() {
            chars[n] = b.to_ascii_uppercase();
            n += 1;
            j += 1;
        } else if b == b' ' && n >= 4 && bytes.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) {
            j += 1;
        } else {
            break;
        }
    }
    if n != want || bytes.get(j).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    // IBAN-shaped but failing the checksum: a typo or a made-up number; consumed either way
    // so its digits are not read as something else.
    if !mod97(&chars[..n]) {
        return Some(j);
    }
    let confidence = Context::before(text, i).adjust(0.95, group::IBAN);
    out.push(PiiMatch { entity: EntityType::Iban, start: i, end: j, confidence });
    Some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_brands() {
        let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(luhn(&digits("4111111111111111")));
        assert!(!luhn(&digits("4111111111111112")));
        assert_eq!(card_brand(&digits("378282246310005")), Some("amex"));
        assert_eq!(card_brand(&digits("2221000000000009")), Some("mastercard"));
        assert_eq!(card_brand(&digits("1234567812345670")), None);
    }

    #[test]
    fn aba_checksum_and_prefix() {
        let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        for good in ["021000021", "011000015", "122105155", "026009593"] {
            assert!(aba_valid(&digits(good)), "{good}");
        }
        for bad in ["021000022", "991000021", "000000000", "123456789"] {
            assert!(!aba_valid(&digits(bad)), "{bad}");
        }
    }

    #[test]
    fn ibans() {
        for good in [
            "DE89 3704 0044 0532 0130 00",
            "DE89370400440532013000",
            "GB82 WEST 1234 5698 7654 32",
            "FR14 2004 1010 0505 0001 3M02 606",
            "NL91ABNA0417164300",
            "BE68539007547034",
            "ES91 2100 0418 4502 0005 1332",
        ] {
            assert!(iban_valid(good), "{good}");
        }
        for bad in
            ["DE89 3704 0044 0532 0130 01", "DE89 3704 0044 0532 0130", "XX89370400440532013000"]
        {
            assert!(!iban_valid(bad), "{bad}");
        }
    }
}
