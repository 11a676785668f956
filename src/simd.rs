//! AVX2 kernels for the per-byte scans (the keyword filter, the signal screen's byte
//! classes, and [`AsciiSet`] searches for PII triggers and JSON escapes), and the crate's
//! one `unsafe` (ARCHITECTURE.md, "Deviations"): calling an AVX2 function needs the CPU to
//! have AVX2, and the gather of the keyword filter takes a raw pointer.
//!
//! Soundness is local to this file: an [`Avx2`] exists only after
//! `is_x86_feature_detected!("avx2")` said yes, byte loads go through safe slices, and
//! every gather index is checked by construction (see `x86::lookup`). Other CPUs get `None`
//! from [`Avx2::detect`] and the callers' scalar code runs. The unit tests run both paths
//! and compare them.
#![allow(unsafe_code)]

/// Bytes the keyword filter reads for a block of 64 positions: the positions plus the
/// 8-byte windows of the last ones.
pub(crate) const FILTER_BLOCK: usize = 72;

/// A 64 Kbit table as 1024 `u64` words (bit `k` is bit `k % 64` of word `k / 64`).
pub(crate) type BitTable = [u64; 1024];

/// Byte classes of 64 bytes, a bit per byte (bit `j` for byte `j`); only ASCII bytes are
/// in any class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ByteClasses {
    /// `A-Z a-z`.
    pub letter: u64,
    /// `0 1 3 4 5 7 @ $`: characters leetspeak puts for letters.
    pub leet: u64,
    /// Letters, digits, `@`, `$`.
    pub token: u64,
    /// Letters, digits, `+ , - . / = _` (a superset of the base64 and hex alphabets).
    pub run: u64,
    /// `!`.
    pub bang: u64,
}

impl ByteClasses {
    /// The classes byte by byte, where AVX2 is missing (and to test the kernel against).
    pub(crate) fn scalar(block: &[u8; 64]) -> Self {
        let mut c = Self::default();
        for (j, &b) in block.iter().enumerate() {
            let bit = 1u64 << j;
            let letter = b.is_ascii_alphabetic();
            let digit = b.is_ascii_digit();
            let at_dollar = matches!(b, b'@' | b'$');
            if letter {
                c.letter |= bit;
            }
            if matches!(b, b'0' | b'1' | b'3'..=b'5' | b'7') || at_dollar {
                c.leet |= bit;
            }
            if letter || digit || at_dollar {
                c.token |= bit;
            }
            if letter || digit || matches!(b, b'+'..=b'/' | b'=' | b'_') {
                c.run |= bit;
            }
            if b == b'!' {
                c.bang |= bit;
            }
        }
        c
    }
}

/// A set of ASCII bytes whose members [`Avx2`] finds 64 bytes per step: two 16-entry
/// tables, indexed by a byte's low and high nibble, whose entries AND to non-zero exactly
/// for members (the high table has a bit per ASCII high nibble, none for 8 and up).
#[derive(Debug)]
// Only the AVX2 kernel reads the tables.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct AsciiSet {
    low: [u8; 16],
    high: [u8; 16],
}

impl AsciiSet {
    /// The set of the bytes `table` marks; all must be ASCII (checked when built, which is
    /// at compile time for a `static`).
    pub(crate) const fn new(table: [bool; 256]) -> Self {
        let mut low = [0u8; 16];
        let mut high = [0u8; 16];
        let mut b = 0;
        while b < 256 {
            if table[b] {
                assert!(b < 0x80, "an AsciiSet holds ASCII bytes only");
                low[b & 15] |= 1 << (b >> 4);
            }
            if b < 8 {
                high[b] = 1 << b;
            }
            b += 1;
        }
        Self { low, high }
    }

    /// The first member in `bytes[from..]`, as an index into `bytes`, or `bytes.len()`.
    #[inline]
    pub(crate) fn find(&self, bytes: &[u8], mut from: usize, avx2: Avx2) -> usize {
        while let Some(rest) = bytes.get(from..).filter(|rest| !rest.is_empty()) {
            let members = match rest.first_chunk::<64>() {
                Some(block) => avx2.members(self, block),
                None => {
                    // 0x80 is in no ASCII set.
                    let mut tail = [0x80; 64];
                    tail[..rest.len()].copy_from_slice(rest);
                    avx2.members(self, &tail)
                }
            };
            if members != 0 {
                return from + members.trailing_zeros() as usize;
            }
            from += 64;
        }
        bytes.len()
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::Avx2;

#[cfg(not(target_arch = "x86_64"))]
pub(crate) use other::Avx2;

#[cfg(not(target_arch = "x86_64"))]
mod other {
    use super::{AsciiSet, BitTable, ByteClasses, FILTER_BLOCK};

    /// Never exists off x86-64.
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum Avx2 {}

    impl Avx2 {
        pub(crate) fn detect() -> Option<Self> {
            None
        }

        pub(crate) fn keyword_filters(
            self,
            _: &BitTable,
            _: &BitTable,
            _: &[u8; FILTER_BLOCK],
        ) -> [u64; 3] {
            match self {}
        }

        pub(crate) fn byte_classes(self, _: &[u8; 64]) -> ByteClasses {
            match self {}
        }

        pub(crate) fn members(self, _: &AsciiSet, _: &[u8; 64]) -> u64 {
            match self {}
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256i, _mm_set_epi64x, _mm256_and_si256, _mm256_broadcastsi128_si256,
        _mm256_castsi256_ps, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_i32gather_epi32,
        _mm256_movemask_epi8, _mm256_movemask_ps, _mm256_mullo_epi32, _mm256_or_si256,
        _mm256_set_epi64x, _mm256_set1_epi8, _mm256_set1_epi32, _mm256_setr_epi8,
        _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_sllv_epi32, _mm256_srli_epi16,
        _mm256_srli_epi32, _mm256_sub_epi32,
    };

    use super::{AsciiSet, BitTable, ByteClasses, FILTER_BLOCK};

    /// Proof that the CPU has AVX2.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Avx2(());

    impl Avx2 {
        /// `Some` where the CPU has AVX2 (a cached check, cheap to repeat).
        #[inline]
        pub(crate) fn detect() -> Option<Self> {
            std::is_x86_feature_detected!("avx2").then_some(Self(()))
        }

        /// The keyword scanner's filters for the 64 positions starting `block`: bit `j` of
        /// the first word is bit `hash4(window at j)` of `long`, of the second bit
        /// `window at j & 0xFFFF` of `short`, of the third whether byte `j` is an ASCII
        /// letter or digit.
        #[inline(always)]
        pub(crate) fn keyword_filters(
            self,
            long: &BitTable,
            short: &BitTable,
            block: &[u8; FILTER_BLOCK],
        ) -> [u64; 3] {
            // SAFETY: `Avx2` exists only where the CPU has AVX2.
            unsafe { keyword_filters(long, short, block) }
        }

        /// [`ByteClasses::scalar`], 32 bytes per step.
        #[inline(always)]
        pub(crate) fn byte_classes(self, block: &[u8; 64]) -> ByteClasses {
            // SAFETY: as above.
            unsafe { byte_classes(block) }
        }

        /// Bit `j` set where byte `j` of `block` is in `set`.
        #[inline(always)]
        pub(crate) fn members(self, set: &AsciiSet, block: &[u8; 64]) -> u64 {
            // SAFETY: as above.
            unsafe { members(&set.low, &set.high, block) }
        }
    }

    fn i64_at(bytes: &[u8], at: usize) -> i64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        i64::from_le_bytes(word)
    }

    /// 32 bytes from `at`.
    #[target_feature(enable = "avx2")]
    fn load32(bytes: &[u8], at: usize) -> __m256i {
        _mm256_set_epi64x(
            i64_at(bytes, at + 24),
            i64_at(bytes, at + 16),
            i64_at(bytes, at + 8),
            i64_at(bytes, at),
        )
    }

    /// Bit `lane` set where bit `key` of `table` is (per lane); `key` below 2^16.
    #[target_feature(enable = "avx2")]
    fn lookup(table: &BitTable, key: __m256i) -> u32 {
        let word = _mm256_srli_epi32::<5>(key);
        let bit = _mm256_and_si256(key, _mm256_set1_epi32(31));
        // SAFETY: both callers pass keys below 2^16 (a 32-bit value shifted right by 16, or
        // masked with 0xFFFF), so `word` is below 2048, and `table` is 2048 32-bit words.
        let words = unsafe { _mm256_i32gather_epi32::<4>(table.as_ptr().cast::<i32>(), word) };
        // The wanted bit to the sign position, which `movemask` collects.
        let top = _mm256_sllv_epi32(words, _mm256_sub_epi32(_mm256_set1_epi32(31), bit));
        _mm256_movemask_ps(_mm256_castsi256_ps(top)) as u32
    }

    #[target_feature(enable = "avx2")]
    fn keyword_filters(long: &BitTable, short: &BitTable, block: &[u8; FILTER_BLOCK]) -> [u64; 3] {
        // Lane `k` of the lower 128 bits gets bytes `k..k + 4`, of the upper ones `k + 4..`.
        let windows = _mm256_setr_epi8(
            0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6, //
            4, 5, 6, 7, 5, 6, 7, 8, 6, 7, 8, 9, 7, 8, 9, 10,
        );
        let golden = _mm256_set1_epi32(0x9E37_79B1_u32 as i32);
        let low16 = _mm256_set1_epi32(0xFFFF);
        let (mut long_bits, mut short_bits) = (0u64, 0u64);
        for group in 0..8 {
            let at = 8 * group;
            let bytes = _mm_set_epi64x(i64_at(block, at + 8), i64_at(block, at));
            let window = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(bytes), windows);
            // The scanner's `hash4`, per lane.
            let hash = _mm256_srli_epi32::<16>(_mm256_mullo_epi32(window, golden));
            long_bits |= u64::from(lookup(long, hash)) << at;
            short_bits |= u64::from(lookup(short, _mm256_and_si256(window, low16))) << at;
        }
        let mut alnum = 0u64;
        for half in 0..2 {
            let v = load32(block, 32 * half);
            let digit_or_letter = _mm256_or_si256(
                within(v, b'0', b'9'),
                _mm256_or_si256(within(v, b'a', b'z'), within(v, b'A', b'Z')),
            );
            alnum |= mask(digit_or_letter) << (32 * half);
        }
        [long_bits, short_bits, alnum]
    }

    /// Bytes of `v` in `lo..=hi` (both below 0x80). Bytes of 0x80 and up compare as
    /// negative, below every bound.
    #[target_feature(enable = "avx2")]
    fn within(v: __m256i, lo: u8, hi: u8) -> __m256i {
        _mm256_and_si256(
            _mm256_cmpgt_epi8(v, _mm256_set1_epi8(lo as i8 - 1)),
            _mm256_cmpgt_epi8(_mm256_set1_epi8(hi as i8 + 1), v),
        )
    }

    #[target_feature(enable = "avx2")]
    fn is(v: __m256i, b: u8) -> __m256i {
        _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8))
    }

    #[target_feature(enable = "avx2")]
    fn mask(v: __m256i) -> u64 {
        u64::from(_mm256_movemask_epi8(v) as u32)
    }

    #[target_feature(enable = "avx2")]
    fn members(low: &[u8; 16], high: &[u8; 16], block: &[u8; 64]) -> u64 {
        let low = _mm256_broadcastsi128_si256(_mm_set_epi64x(i64_at(low, 8), i64_at(low, 0)));
        let high = _mm256_broadcastsi128_si256(_mm_set_epi64x(i64_at(high, 8), i64_at(high, 0)));
        let nibble = _mm256_set1_epi8(0x0F);
        let mut members = 0u64;
        for half in 0..2 {
            let v = load32(block, 32 * half);
            let by_low = _mm256_shuffle_epi8(low, _mm256_and_si256(v, nibble));
            let by_high =
                _mm256_shuffle_epi8(high, _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble));
            let outside =
                _mm256_cmpeq_epi8(_mm256_and_si256(by_low, by_high), _mm256_setzero_si256());
            members |= u64::from(!(_mm256_movemask_epi8(outside) as u32)) << (32 * half);
        }
        members
    }

    #[target_feature(enable = "avx2")]
    fn byte_classes(block: &[u8; 64]) -> ByteClasses {
        let mut c = ByteClasses::default();
        for half in 0..2 {
            let v = load32(block, 32 * half);
            let shift = 32 * half;
            // Setting 0x20 lowercases letters and keeps bytes of 0x80 and up negative.
            let letter = within(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), b'a', b'z');
            let digit = within(v, b'0', b'9');
            let at_dollar = _mm256_or_si256(is(v, b'@'), is(v, b'$'));
            let alnum = _mm256_or_si256(letter, digit);
            let leet = _mm256_or_si256(
                _mm256_or_si256(within(v, b'0', b'1'), within(v, b'3', b'5')),
                _mm256_or_si256(is(v, b'7'), at_dollar),
            );
            let run = _mm256_or_si256(
                _mm256_or_si256(alnum, within(v, b'+', b'/')),
                _mm256_or_si256(is(v, b'='), is(v, b'_')),
            );
            c.letter |= mask(letter) << shift;
            c.leet |= mask(leet) << shift;
            c.token |= mask(_mm256_or_si256(alnum, at_dollar)) << shift;
            c.run |= mask(run) << shift;
            c.bang |= mask(is(v, b'!')) << shift;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn an_ascii_set_finds_its_first_member_from_every_offset() {
        let avx2 = Avx2::detect().expect("this test checks the AVX2 kernel: the CPU has none");
        // Sets that share nibbles with their non-members, in every high nibble.
        let tables: [[bool; 256]; 3] = [
            std::array::from_fn(|b| b < 0x20 || b == 0x22 || b == 0x5c),
            std::array::from_fn(|b| b < 0x80 && b % 7 == 3),
            std::array::from_fn(|b| b == 0x7f || b == 0 || b == 0x41),
        ];
        let texts = crate::detect::prefilter::random_texts(
            b"ab\x00\x1f\"\\A\x7f1sz%q",
            200,
            200,
            0x51_7cc1,
        );
        for table in tables {
            let set = AsciiSet::new(table);
            for text in &texts {
                // Multi-byte characters too (their bytes are 0x80 and up).
                let text = text.replace('q', "é€");
                let bytes = text.as_bytes();
                for from in 0..=bytes.len() {
                    let expected = crate::detect::prefilter::first_from(bytes, from, |b| {
                        table[usize::from(b)]
                    });
                    assert_eq!(set.find(bytes, from, avx2), expected, "{text:?} from {from}");
                }
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_avx2_byte_classes_are_the_scalar_ones_for_every_byte_in_every_lane() {
        let avx2 = Avx2::detect().expect("this test checks the AVX2 kernel: the CPU has none");
        for b in 0..=255u8 {
            for lane in 0..64 {
                // Neighbours of every kind around the byte under test.
                let mut block: [u8; 64] =
                    std::array::from_fn(|j| b"aZ0 @$7_+/=.\x80\xff%!"[j % 16]);
                block[lane] = b;
                assert_eq!(
                    avx2.byte_classes(&block),
                    ByteClasses::scalar(&block),
                    "{b:#x} at {lane}"
                );
            }
        }
    }
}
