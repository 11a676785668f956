//! Eight bytes at a time in a `u64` ("SIMD within a register"), without `unsafe`: byte
//! classes come out as the high bit of each byte. Where AVX2 is missing, the JSON string
//! writer and the PII pass use it to skip blocks that need nothing done.

pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
pub(crate) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` in `lo..=hi` (both below 0x80; bytes of 0x80 and above
/// are in no range). Exact per byte: the low seven bits of a byte plus at most 0x80 never
/// carry into the next byte.
#[inline(always)]
pub(crate) fn in_range(w: u64, lo: u8, hi: u8) -> u64 {
    let low7 = w & !HIGHS;
    let at_least_lo = low7.wrapping_add(ONES * u64::from(0x80 - lo));
    let above_hi = low7.wrapping_add(ONES * u64::from(0x7F - hi));
    at_least_lo & !above_hi & !w & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_range_agrees_with_a_byte_comparison_for_every_byte() {
        for (lo, hi) in [(0u8, 0x1f), (b'a', b'z'), (b'"', b'"'), (b'0', b'9'), (0x7f, 0x7f)] {
            for b in 0..=255u8 {
                // The byte in each of the eight lanes, next to neighbours of every kind.
                for lane in 0..8 {
                    let mut block = [0xFFu8, 0x00, b'a', 0x7f, 0x80, b'0', b' ', 0x20];
                    block[lane] = b;
                    let got = in_range(u64::from_le_bytes(block), lo, hi) >> (8 * lane + 7) & 1;
                    assert_eq!(
                        got == 1,
                        b < 0x80 && (lo..=hi).contains(&b),
                        "{b:#x} in {lo:#x}..={hi:#x}"
                    );
                }
            }
        }
    }
}
