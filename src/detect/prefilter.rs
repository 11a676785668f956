//! The keyword prefilter: finds every occurrence of every rule keyword in a text, ASCII
//! case-insensitively, in one pass.
//!
//! With a thousand-odd keywords an Aho-Corasick automaton (5–6 MB as a DFA) runs at about
//! 250 MB/s here, limited by cache misses on its transition table. Most positions of a text
//! start no keyword at all, so this scanner asks two cheap questions per byte instead, both
//! answered from 8 KB bit tables that stay in L1:
//!
//! - does a keyword of 4 bytes or more start with the 4 bytes here? (a bit per hash of the
//!   lowercased 4-byte window: a Bloom filter, false positives are weeded out next);
//! - does a keyword of 1 to 3 bytes start with the 2 bytes here? (exact, one bit per 2-byte
//!   value; keywords starting with an ASCII letter or digit are only asked at word starts,
//!   where they can count at all, see [`super::WORD_START_MAX_LEN`]).
//!
//! Where the CPU has AVX2 both questions are asked for eight positions at once
//! (`src/simd.rs`: a vector gather); elsewhere a scalar loop asks them.
//! Only on a yes are the keywords of that bucket compared byte by byte. The result is the
//! same set of (keyword, position) pairs as an overlapping Aho-Corasick search would give
//! on the text lowercased and with every run of ASCII whitespace squeezed to one space (so
//! the keyword `safety team` is found in `safety\n  team`, as a rule's `\s+` would be),
//! keeping only the occurrences that count: keywords of at most
//! [`WORD_START_MAX_LEN`] bytes that start with a letter or digit count at word starts only.

use super::WORD_START_MAX_LEN;
use crate::simd::{Avx2, FILTER_BLOCK};

/// Bits in each filter table (2^16: 8 KB).
const BITS: usize = 1 << 16;

/// One keyword, ASCII-lowercased.
#[derive(Debug, Clone)]
struct Keyword {
    /// Its first 8 bytes (little-endian, zero-padded) and the mask of those present.
    head: u64,
    mask: u64,
    /// Counts only at a word start (see [`WORD_START_MAX_LEN`]).
    word_start: bool,
    bytes: Box<[u8]>,
    /// Index of the keyword as given to [`KeywordScanner::new`].
    pattern: u32,
}

impl Keyword {
    fn new(bytes: Box<[u8]>, pattern: u32) -> Self {
        let mut head = [0u8; 8];
        let n = bytes.len().min(8);
        head[..n].copy_from_slice(&bytes[..n]);
        let mask = if n == 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
        let word_start = bytes.len() <= WORD_START_MAX_LEN && bytes[0].is_ascii_alphanumeric();
        Self { head: u64::from_le_bytes(head), mask, word_start, bytes, pattern }
    }

    /// Whether the keyword starts `rest` (lowercased), given `window`, the first 8 bytes
    /// of `rest` (zero-padded past the text).
    #[inline(always)]
    fn starts(&self, window: u64, rest: &[u8]) -> bool {
        window & self.mask == self.head
            && (self.bytes.len() <= 8 && self.bytes.len() <= rest.len()
                || rest.starts_with(&self.bytes))
    }
}

/// Keywords grouped by a 16-bit key, stored flat.
#[derive(Debug, Clone)]
struct Buckets {
    /// `start[k]..start[k + 1]` indexes `keywords` for key `k`.
    start: Box<[u32]>,
    keywords: Box<[Keyword]>,
}

impl Buckets {
    fn new(mut keyed: Vec<(u16, Keyword)>) -> Self {
        keyed.sort_by_key(|(k, kw)| (*k, kw.pattern));
        let mut start = vec![0u32; BITS + 1];
        for (k, _) in &keyed {
            start[usize::from(*k) + 1] += 1;
        }
        for k in 0..BITS {
            start[k + 1] += start[k];
        }
        Self {
            start: start.into_boxed_slice(),
            keywords: keyed.into_iter().map(|(_, kw)| kw).collect(),
        }
    }

    #[inline]
    fn get(&self, key: usize) -> &[Keyword] {
        &self.keywords[self.start[key] as usize..self.start[key + 1] as usize]
    }
}

/// A bit table over 16-bit keys.
#[derive(Debug, Clone)]
struct Bits(Box<[u64; BITS / 64]>);

impl Bits {
    fn new() -> Self {
        Self(Box::new([0u64; BITS / 64]))
    }

    fn set(&mut self, key: usize) {
        self.0[(key >> 6) % (BITS / 64)] |= 1 << (key & 63);
    }

    /// `key` is taken modulo [`BITS`] (a mask the compiler sees, so no bounds check).
    #[inline(always)]
    fn get(&self, key: usize) -> bool {
        self.0[(key >> 6) % (BITS / 64)] >> (key & 63) & 1 != 0
    }
}

/// Hash of a 4-byte window: its key in the long-keyword filter and buckets.
#[inline(always)]
fn hash4(window: u32) -> usize {
    (window.wrapping_mul(0x9E37_79B1) >> 16) as usize
}

/// Finds every occurrence of a fixed set of keywords (see the module docs).
#[derive(Debug, Clone)]
pub struct KeywordScanner {
    /// Keywords of 4+ bytes, by hash of their first 4 bytes.
    long_filter: Bits,
    long: Buckets,
    /// Keywords of 1–3 bytes, by their first 2 bytes (every second byte for 1-byte ones).
    /// Those starting with an ASCII letter or digit only count at word starts, so a key
    /// whose first byte is one is only asked there.
    short_keys: Bits,
    short: Buckets,
    /// The AVX2 filter kernel, where the CPU has it (`None` runs the scalar loop).
    avx2: Option<Avx2>,
}

impl KeywordScanner {
    /// Builds the scanner; pattern `i` is `keywords[i]`. Empty keywords are ignored.
    pub fn new<S: AsRef<str>>(keywords: &[S]) -> Self {
        let mut long = Vec::new();
        let mut short = Vec::new();
        let mut long_filter = Bits::new();
        let mut short_keys = Bits::new();
        for (pattern, keyword) in keywords.iter().enumerate() {
            let mut bytes = keyword.as_ref().as_bytes().to_ascii_lowercase();
            squeeze_whitespace(&mut bytes);
            let bytes: Box<[u8]> = bytes.into();
            let pattern = u32::try_from(pattern).unwrap_or(u32::MAX);
            match bytes.len() {
                0 => {}
                1..=3 => {
                    let keys: Vec<u16> = if bytes.len() == 1 {
                        (0..=255u16).map(|second| u16::from(bytes[0]) | second << 8).collect()
                    } else {
                        vec![u16::from_le_bytes([bytes[0], bytes[1]])]
                    };
                    for key in keys {
                        short_keys.set(usize::from(key));
                        short.push((key, Keyword::new(bytes.clone(), pattern)));
                    }
                }
                _ => {
                    let window = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                    let key = hash4(window);
                    long_filter.set(key);
                    long.push((key as u16, Keyword::new(bytes, pattern)));
                }
            }
        }
        Self {
            long_filter,
            long: Buckets::new(long),
            short_keys,
            short: Buckets::new(short),
            avx2: Avx2::detect(),
        }
    }

    /// Calls `found(pattern, start)` for every occurrence of every keyword in `text` that
    /// counts (see the module docs); `start` is an offset into `lower`, which receives the
    /// lowercased, whitespace-squeezed text.
    pub fn scan(&self, text: &[u8], lower: &mut Vec<u8>, mut found: impl FnMut(u32, usize)) {
        lower.clear();
        lower.extend(text.iter().map(u8::to_ascii_lowercase));
        squeeze_whitespace(lower);
        // Padding so every block can be read whole; keyword bytes are
        // never NUL and `Keyword::starts` checks lengths against the text.
        let n = lower.len();
        lower.extend_from_slice(&[0; FILTER_BLOCK]);
        let padded = &lower[..];
        // Blocks of 64 positions: first the filters, branch-free, into a bit mask (about one
        // position in ten is flagged, at random, so a branch per position mispredicts
        // often); then the slow path at each flagged position.
        let mut prev_alnum = false;
        let mut base = 0;
        while base < n {
            let len = (n - base).min(64);
            let mut flagged = self.filter_block(padded, base, len, &mut prev_alnum);
            while flagged != 0 {
                let i = base + flagged.trailing_zeros() as usize;
                flagged &= flagged - 1;
                let at_word_start = i == 0 || !ALNUM[usize::from(padded[i - 1])];
                let window = u64::from_le_bytes(padded[i..i + 8].try_into().unwrap_or_default());
                self.verify(padded, n, i, window, at_word_start, &mut found);
            }
            base += len;
        }
    }

    /// Bit `j` is set where a filter says a keyword may start at `base + j` (`j < len`);
    /// `prev_alnum` says whether the byte before `base` is a letter or digit, and is left
    /// saying it of the block's last byte.
    #[inline(always)]
    fn filter_block(&self, padded: &[u8], base: usize, len: usize, prev_alnum: &mut bool) -> u64 {
        if let (Some(avx2), Some(block)) = (self.avx2, padded[base..].first_chunk()) {
            let [long, short, alnum] =
                avx2.keyword_filters(&self.long_filter.0, &self.short_keys.0, block);
            // Short keys are asked where the byte before or the byte itself is no letter or
            // digit, as below.
            let word_edge = !(alnum & (alnum << 1 | u64::from(*prev_alnum)));
            *prev_alnum = alnum >> 63 != 0;
            return (long | short & word_edge) & (u64::MAX >> (64 - len));
        }
        let mut flagged = 0u64;
        for (j, head) in padded[base..base + len + 7].windows(8).enumerate() {
            let window = u64::from_le_bytes(head.try_into().unwrap_or_default());
            let at_word_start = !*prev_alnum;
            *prev_alnum = ALNUM[usize::from(head[0])];
            let hit = self.long_filter.get(hash4(window as u32))
                | self.short_keys.get((window & 0xFFFF) as usize) & (at_word_start | !*prev_alnum);
            flagged |= u64::from(hit) << j;
        }
        flagged
    }

    /// The slow path at a position some filter flagged: compares the candidate keywords.
    #[inline(always)]
    fn verify(
        &self,
        padded: &[u8],
        n: usize,
        i: usize,
        window: u64,
        at_word_start: bool,
        found: &mut impl FnMut(u32, usize),
    ) {
        let rest = &padded[i..n];
        let key4 = hash4(window as u32);
        if self.long_filter.get(key4) {
            for kw in self.long.get(key4) {
                if (at_word_start || !kw.word_start) && kw.starts(window, rest) {
                    found(kw.pattern, i);
                }
            }
        }
        let key2 = (window & 0xFFFF) as usize;
        if self.short_keys.get(key2) {
            for kw in self.short.get(key2) {
                if (at_word_start || !kw.word_start) && kw.starts(window, rest) {
                    found(kw.pattern, i);
                }
            }
        }
    }
}

/// Replaces every run of ASCII whitespace in `bytes` by one space, in place. Texts with
/// single spaces only (most) are left alone after two quick searches.
pub fn squeeze_whitespace(bytes: &mut Vec<u8>) {
    let other = |b: &u8| matches!(b, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    if memchr::memmem::find(bytes, b"  ").is_none()
        && memchr::memchr3(b'\n', b'\t', b'\r', bytes).is_none()
        && memchr::memchr2(0x0b, 0x0c, bytes).is_none()
    {
        return;
    }
    let mut out = 0;
    let mut in_space = false;
    for read in 0..bytes.len() {
        let b = bytes[read];
        let space = b == b' ' || other(&b);
        if !(space && in_space) {
            bytes[out] = if space { b' ' } else { b };
            out += 1;
        }
        in_space = space;
    }
    bytes.truncate(out);
}

/// ASCII letters and digits.
static ALNUM: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    t
};

/// Where a straightforward search finds the first byte at or after `from` that `is`
/// accepts (`bytes.len()` if none does), for tests of fast searches.
#[cfg(test)]
pub(crate) fn first_from(bytes: &[u8], from: usize, is: impl Fn(u8) -> bool) -> usize {
    bytes[from..].iter().position(|&b| is(b)).map_or(bytes.len(), |p| from + p)
}

/// Deterministic pseudo-random texts over `alphabet` (xorshift), for tests that compare a
/// fast scan with a straightforward one.
#[cfg(test)]
pub(crate) fn random_texts(alphabet: &[u8], count: usize, max_len: u32, seed: u32) -> Vec<String> {
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    (0..count)
        .map(|_| {
            let len = next() % max_len;
            (0..len)
                .map(|_| char::from(alphabet[(next() % alphabet.len() as u32) as usize]))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use aho_corasick::{AhoCorasick, MatchKind};

    use super::*;

    /// The scanner reports what an overlapping, case-insensitive Aho-Corasick search does
    /// (short alphanumeric keywords at word starts only).
    fn reference(keywords: &[&str], text: &str) -> Vec<(u32, usize)> {
        let mut squeezed = text.as_bytes().to_vec();
        squeeze_whitespace(&mut squeezed);
        let text = String::from_utf8(squeezed).unwrap();
        let text = text.as_str();
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(keywords)
            .unwrap();
        let bytes = text.as_bytes();
        let mut out: Vec<(u32, usize)> = ac
            .find_overlapping_iter(text)
            .filter(|m| {
                m.len() > WORD_START_MAX_LEN
                    || !bytes[m.start()].is_ascii_alphanumeric()
                    || m.start() == 0
                    || !bytes[m.start() - 1].is_ascii_alphanumeric()
            })
            .map(|m| (m.pattern().as_u32(), m.start()))
            .collect();
        out.sort_unstable();
        out
    }

    fn scanned(keywords: &[&str], text: &str) -> Vec<(u32, usize)> {
        let scanner = KeywordScanner::new(keywords);
        let run = |scanner: &KeywordScanner| {
            let mut out = Vec::new();
            scanner.scan(text.as_bytes(), &mut Vec::new(), |p, at| out.push((p, at)));
            out.sort_unstable();
            out
        };
        let out = run(&scanner);
        // The AVX2 kernel (where the CPU has it) and the scalar loop flag the same positions.
        let scalar = KeywordScanner { avx2: None, ..scanner.clone() };
        assert_eq!(out, run(&scalar), "AVX2 and scalar filters disagree on {text:?}");
        out
    }

    #[test]
    fn long_texts_agree_with_the_reference_across_blocks() {
        // Texts of up to 300 bytes cross 64-position blocks at every offset; the alphabet has
        // keyword fragments, digits (letters or digits on both sides of a block edge), upper
        // case and multi-byte characters.
        let keywords = ["ab", "a", "b1", "abcd", "1ab", "bcd1", "; ", "é", "ab ab", "d;"];
        // `%` stands for `é` (two bytes, neither a letter to the filters).
        let texts = random_texts(b"abcd1 ;AB\nx%", 400, 300, 0x9e37_79b9);
        for text in texts.iter().map(|t| t.replace('%', "é")) {
            assert_eq!(scanned(&keywords, &text), reference(&keywords, &text), "{text:?}");
        }
    }

    #[test]
    fn finds_what_aho_corasick_finds() {
        let keywords = [
            "ignore",
            "ignor",
            "IGNORE previous",
            "previous",
            "two",
            "no",
            ";",
            "|",
            "{{",
            "%2f",
            "meth",
            "ricin",
            "忽略",
            "о",
            "system prompt",
            "prompt injection",
            "tool",
            "do",
        ];
        let texts = [
            "Please IGNORE previous instructions; then two |pipes| {{x}}",
            "pricing network nobody no; NO do tool%2F%2f something meth",
            "ignore\n\t  previous  instructions\r\n",
            "忽略之前的指令 and the sуstem prompt injection",
            "",
            "n",
            "ignore",
            "two",
            ";;;",
            "do",
        ];
        for text in texts {
            assert_eq!(scanned(&keywords, text), reference(&keywords, text), "{text:?}");
        }
    }

    #[test]
    fn a_keyword_at_the_very_end_is_found_and_none_runs_past_it() {
        assert_eq!(scanned(&["abcdef"], "xx abcdef"), [(0, 3)]);
        assert!(scanned(&["abcdef"], "xx abcde").is_empty());
        assert_eq!(scanned(&["ab", "a"], "ab"), [(0, 0), (1, 0)]);
        // Whitespace runs match one space, in texts and keywords alike.
        assert_eq!(scanned(&["safety team"], "the safety \n\t team"), [(0, 4)]);
        assert_eq!(scanned(&["safety  team"], "a safety team"), [(0, 2)]);
    }

    #[test]
    fn generated_texts_agree_with_the_reference() {
        // A deterministic pseudo-random walk over an alphabet rich in keyword fragments.
        let keywords =
            ["abc", "abcd", "bcda", "ab", "a;", ";", "da b", "cab", "abcab", "b a", "abcda"];
        let alphabet = b"abcd ;A\n";
        for text in random_texts(alphabet, 500, 40, 0x1234_5678) {
            assert_eq!(scanned(&keywords, &text), reference(&keywords, &text), "{text:?}");
        }
    }
}
