//! Network identifiers: IPv4 and IPv6 addresses (candidates are parsed with `std::net`, not
//! just matched), MAC addresses, and credentials in a URL's userinfo
//! (`https://user:pass@host`: the password is the secret).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::context::{Context, group};
use super::secrets::{placeholder, shannon_entropy};
use super::{EntityType, PiiMatch, is_word_byte};

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// A dotted IPv4 token at `i` (a digit at a word start). `None` if the token does not have
/// exactly four dotted parts (digit runs read those); otherwise where the token ends, after
/// emitting it if it parses.
pub fn ipv4(text: &str, i: usize, out: &mut Vec<PiiMatch>) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut j = i;
    let mut dots = 0;
    while j < bytes.len() {
        if bytes[j].is_ascii_digit() {
            j += 1;
        } else if bytes[j] == b'.' && bytes.get(j + 1).is_some_and(u8::is_ascii_digit) {
            dots += 1;
            j += 1;
        } else {
            break;
        }
    }
    if dots != 3 {
        // Dates and decimals (fewer dots), versions, OIDs and dotted phone numbers (more):
        // digit runs read those.
        return None;
    }
    if bytes.get(j).is_some_and(|&b| is_word_byte(b)) {
        // "1.2.3.4a": not an address.
        return Some(j);
    }
    let Ok(addr) = text[i..j].parse::<Ipv4Addr>() else {
        // "4111.1111.1111.1111", "999.1.1.1": digit runs judge those.
        return None;
    };
    if matches!(
        addr.octets(),
        [127, 0, 0, 1] | [0, 0, 0, 0] | [255, 255, 255, 255] | [169, 254, 169, 254]
    ) {
        // Localhost, any, broadcast and the cloud metadata endpoint name no one. (Other
        // loopback and link-local addresses are rare enough in text to be worth redacting.)
        return Some(j);
    }
    let octets = addr.octets();
    let base = if octets[3] == 0 {
        // A network address (10.1.0.0/16), not a host.
        0.45
    } else if octets.iter().all(|&o| o < 10) {
        0.7
    } else {
        0.9
    };
    let confidence = Context::before(text, i).adjust(base, group::IP);
    out.push(PiiMatch { entity: EntityType::IpAddress, start: i, end: j, confidence });
    Some(j)
}

/// A MAC address (`00:1a:2b:3c:4d:5e`, `00-1A-2B-3C-4D-5E`, `001a.2b3c.4d5e`) or an IPv6
/// address (`2001:db8::8a2e:370:7334`, `fe80::1ff:fe23:4567:890a`, `::ffff:192.0.2.1`)
/// starting at `i` (a hex digit at a word start). Returns its end if one was found.
pub fn hex_structured(text: &str, i: usize, out: &mut Vec<PiiMatch>) -> Option<usize> {
    let bytes = text.as_bytes();
    let at = |k: usize| bytes.get(i + k).copied().unwrap_or(0);
    // Colon or dash MAC: six pairs.
    if matches!(at(2), b':' | b'-') {
        let sep = at(2);
        let pairs = (0..6).all(|p| is_hex(at(p * 3)) && is_hex(at(p * 3 + 1)));
        let seps = (0..5).all(|p| at(p * 3 + 2) == sep);
        let longer = is_hex(at(17)) || is_word_byte(at(17)) || (at(17) == sep && is_hex(at(18)));
        if pairs && seps && !longer {
            let mac = &bytes[i..i + 17];
            let letters = mac.iter().any(u8::is_ascii_alphabetic);
            let base = if sep == b':' || letters { 0.85 } else { 0.45 };
            let confidence = Context::before(text, i).adjust(base, group::MAC);
            out.push(PiiMatch {
                entity: EntityType::MacAddress,
                start: i,
                end: i + 17,
                confidence,
            });
            return Some(i + 17);
        }
    }
    // Cisco dotted MAC: three quads.
    if at(4) == b'.' && at(9) == b'.' {
        let quads = [0, 5, 10].iter().all(|&q| (q..q + 4).all(|k| is_hex(at(k))));
        if quads && !is_word_byte(at(14)) && at(14) != b'.' {
            let letters = bytes[i..i + 14].iter().any(u8::is_ascii_alphabetic);
            let base = if letters { 0.75 } else { 0.3 };
            let confidence = Context::before(text, i).adjust(base, group::MAC);
            out.push(PiiMatch {
                entity: EntityType::MacAddress,
                start: i,
                end: i + 14,
                confidence,
            });
            return Some(i + 14);
        }
    }
    // IPv6: a hex group then `:`, or a group right after `::`.
    let group_len = bytes[i..].iter().take_while(|&&b| is_hex(b)).count();
    let after_double = i >= 2 && &bytes[i - 2..i] == b"::";
    if group_len == 0 || group_len > 4 || (at(group_len) != b':' && !after_double) {
        return None;
    }
    let start = if after_double { i - 2 } else { i };
    let mut end = i;
    while end < bytes.len() && (is_hex(bytes[end]) || matches!(bytes[end], b':' | b'.')) {
        end += 1;
    }
    while end > i && bytes[end - 1] == b'.' {
        end -= 1;
    }
    if bytes[end - 1] == b':' && bytes[end - 2] != b':' {
        end -= 1;
    }
    if bytes.get(end).is_some_and(|&b| is_word_byte(b)) {
        return None;
    }
    let candidate = &text[start..end];
    let colons = candidate.bytes().filter(|&b| b == b':').count();
    let hex_digits = candidate.bytes().filter(|&b| is_hex(b)).count();
    match candidate.parse::<Ipv6Addr>() {
        Ok(addr) if colons >= 2 && hex_digits >= 3 => {
            if addr.is_loopback() || addr.is_unspecified() {
                return Some(end);
            }
        }
        _ => return None,
    }
    let confidence = Context::before(text, start).adjust(0.9, group::IP);
    out.push(PiiMatch { entity: EntityType::IpAddress, start, end, confidence });
    Some(end)
}

/// At an `@` inside a URL's authority (`scheme://user:pass@host`): emits the password (or a
/// token-like user) as a `url_credential`. `Some` means the `@` belongs to a URL and is not an
/// email address.
pub fn url_userinfo(text: &str, at: usize, out: &mut Vec<PiiMatch>) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut s = at;
    while s > 0
        && at - s < 512
        && !bytes[s - 1].is_ascii_whitespace()
        && !matches!(bytes[s - 1], b'"' | b'\'' | b'<' | b'>' | b'(' | b')' | b'[' | b']' | b'`')
    {
        s -= 1;
    }
    let scheme_end = memchr::memmem::rfind(&bytes[s..at], b"://")? + s;
    let info_start = scheme_end + 3;
    let info = &bytes[info_start..at];
    // A raw `#` can be part of a pasted password; `/` and `?` end the authority.
    if info.is_empty() || info.iter().any(|b| matches!(b, b'/' | b'?' | b'@')) {
        return None;
    }
    let (secret_start, confidence) = match memchr::memchr(b':', info) {
        Some(k) => (info_start + k + 1, 0.9),
        None if info.len() >= 16 && shannon_entropy(info) >= 3.5 => (info_start, 0.8),
        None => return Some(at + 1),
    };
    let secret = &bytes[secret_start..at];
    // "postgres://user:password@localhost", "https://u:****@h", "redis://:${PASS}@h".
    if !secret.is_empty() && !placeholder(secret) {
        out.push(PiiMatch {
            entity: EntityType::UrlCredential,
            start: secret_start,
            end: at,
            confidence,
        });
    }
    Some(at + 1)
}

#[cfg(test)]
mod tests {
    use super::super::tests::found;
    use super::*;
    use EntityType::*;

    #[test]
    fn ipv4_is_parsed_and_context_lowers_versions() {
        assert_eq!(found("from 192.168.10.254 at"), [(IpAddress, "192.168.10.254")]);
        assert_eq!(
            found("hosts 10.0.0.1, 10.0.0.2."),
            [(IpAddress, "10.0.0.1"), (IpAddress, "10.0.0.2")]
        );
        assert_eq!(found("route 10.1.4.7/32 via"), [(IpAddress, "10.1.4.7")]);
        assert_eq!(found("http://203.0.113.9:8080/x"), [(IpAddress, "203.0.113.9")]);
        for text in [
            "999.1.1.1",
            "1.2.3.4.5",
            "01.2.3.4",
            "version 1.2.3.4",
            "Release v2.10.3.1",
            "v1.2.3.4",
            "Chrome/120.0.0.0 Safari",
            "build 10.0.19041.1",
            "section 4.2.1.3 says",
            "3.14159",
            "1.2.3.4a",
            "127.0.0.1 and 0.0.0.0 and 169.254.169.254",
            "network 10.1.0.0/16",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn ipv6_is_parsed() {
        for (text, ip) in [
            ("server 2001:db8::8a2e:370:7334 down", "2001:db8::8a2e:370:7334"),
            ("from fe80::1ff:fe23:4567:890a.", "fe80::1ff:fe23:4567:890a"),
            (
                "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:443",
                "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            ),
            ("mapped ::ffff:192.0.2.128 ok", "::ffff:192.0.2.128"),
        ] {
            assert_eq!(found(text), [(IpAddress, ip)], "{text}");
        }
        for text in ["at 10:15:30", "ratio 3:2:1", "std::vec::Vec", "a::b", "beef:cafe", "::1"] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn macs() {
        for (text, mac) in [
            ("mac 00:1a:2b:3c:4d:5e.", "00:1a:2b:3c:4d:5e"),
            ("HWaddr 00-1A-2B-3C-4D-5E", "00-1A-2B-3C-4D-5E"),
            ("ether aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff"),
            ("cisco 001a.2b3c.4d5e", "001a.2b3c.4d5e"),
        ] {
            assert_eq!(found(text), [(MacAddress, mac)], "{text}");
        }
        for text in
            ["12-34-56-78-90-12", "00:1a:2b:3c:4d", "00:1a:2b:3c:4d:5e:6f:70", "1234.5678.9012"]
        {
            assert!(found(text).iter().all(|(e, _)| *e != MacAddress), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn url_credentials_cover_the_password() {
        assert_eq!(
            found("postgres://admin:S3cr3tPw@db.example.com:5432/app"),
            [(UrlCredential, "S3cr3tPw")]
        );
        assert_eq!(
            found(
                "git clone https://x-access-token:ghs_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r"
            ),
            [(GithubToken, "ghs_abcdefghijklmnopqrstuvwxyz0123456789")],
            "the provider's type wins over the generic one"
        );
        assert!(found("ssh://git@github.com/org/repo.git").is_empty());
        assert!(found("https://user:****@host.example").is_empty());
        assert!(found("DATABASE_URL=postgres://user:password@localhost:5432/db").is_empty());
        assert!(found("postgres://USER:PASSWORD@HOST:5432/DB").is_empty());
        assert_eq!(
            found("see https://example.com/contact?to=jane@example.com"),
            [(Email, "jane@example.com")]
        );
    }
}
