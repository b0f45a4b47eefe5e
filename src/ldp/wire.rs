//! Byte encodings shared by every report type (normative description: `protocol-spec/ldp.md`).
//!
//! Invariants: integers are little-endian; a value known to lie in `[0, m)` takes
//! [`width`]`(m)` bytes (the fewest bytes holding `m - 1`, at least one); a bit vector of `len`
//! bits takes `len.div_ceil(8)` bytes, bit `i` in byte `i / 8` at position `i % 8`, padding bits
//! zero. Every report has a length fixed by the protocol parameters; decoders reject any other
//! length, any out-of-range value and any set padding bit, and never panic.

use super::{BitVector, LdpError};

/// Bytes used for a value in `[0, m)`: the fewest bytes that hold `m - 1`, at least 1.
pub fn width(m: u64) -> usize {
    let max = m.saturating_sub(1);
    let bits = 64 - max.leading_zeros() as usize;
    bits.div_ceil(8).max(1)
}

/// Appends `v` as `w` little-endian bytes (`v` must fit).
pub(crate) fn put_uint(out: &mut Vec<u8>, v: u64, w: usize) {
    debug_assert!(w >= 8 || v >> (8 * w) == 0);
    out.extend_from_slice(&v.to_le_bytes()[..w]);
}

/// Bytes of a bit vector of `len` bits.
pub(crate) fn bitvec_len(len: u32) -> usize {
    (len as usize).div_ceil(8)
}

/// Appends a bit vector.
pub(crate) fn put_bitvec(out: &mut Vec<u8>, bv: &BitVector) {
    let n = bitvec_len(bv.len());
    let start = out.len();
    for w in bv.words() {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.truncate(start + n);
}

/// A cursor over untrusted bytes.
/// The little-endian integer in `b` (`b.len() <= 8`), assembled in registers: the usual
/// widths (1, 2, 4, 8 bytes) are single loads; a copy into a zeroed 8-byte buffer would make the
/// next read wait for a failed store-to-load forward, which dominated per-report aggregation.
#[inline]
pub(crate) fn le_uint(b: &[u8]) -> u64 {
    match *b {
        [x] => u64::from(x),
        [x, y] => u64::from(u16::from_le_bytes([x, y])),
        [a, b2, c, d] => u64::from(u32::from_le_bytes([a, b2, c, d])),
        [a, b2, c, d, e, f, g, h] => u64::from_le_bytes([a, b2, c, d, e, f, g, h]),
        _ => b
            .iter()
            .take(8)
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
    }
}

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], LdpError> {
        if self.bytes.len() < n {
            return Err(LdpError::MalformedReport("truncated report"));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// Reads a value of `width(m)` bytes and checks it is `< m` (`field` names it in the error).
    pub(crate) fn uint_below(&mut self, m: u64, field: &'static str) -> Result<u64, LdpError> {
        let v = le_uint(self.take(width(m))?);
        if v >= m {
            return Err(LdpError::FieldOutOfRange {
                field,
                value: v,
                bound: m,
            });
        }
        Ok(v)
    }

    /// Reads a fixed 8-byte little-endian integer.
    pub(crate) fn u64_le(&mut self) -> Result<u64, LdpError> {
        let b = self.take(8)?;
        let mut buf = [0u8; 8];
        buf.copy_from_slice(b);
        Ok(u64::from_le_bytes(buf))
    }

    /// Reads a bit vector of `len` bits, rejecting set padding bits.
    pub(crate) fn bitvec(&mut self, len: u32) -> Result<BitVector, LdpError> {
        let b = self.take(bitvec_len(len))?;
        let mut words = vec![0u64; (len as usize).div_ceil(64)];
        for (w, chunk) in words.iter_mut().zip(b.chunks(8)) {
            *w = le_uint(chunk);
        }
        BitVector::from_words(len, words)
    }

    /// Reads the bytes of a bit vector of `len` bits without copying, rejecting set padding
    /// bits with the same error as [`Self::bitvec`].
    pub(crate) fn bitvec_bytes(&mut self, len: u32) -> Result<&'a [u8], LdpError> {
        let b = self.take(bitvec_len(len))?;
        let rem = len & 7;
        if rem != 0 && b.last().is_some_and(|&x| x >> rem != 0) {
            return Err(LdpError::MalformedReport("bit vector padding bits set"));
        }
        Ok(b)
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(self) -> Result<(), LdpError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(LdpError::MalformedReport("trailing bytes"))
        }
    }
}

/// Checks the total length first so that a wrong-length report gets the precise error.
pub(crate) fn check_len(bytes: &[u8], expected: usize) -> Result<(), LdpError> {
    if bytes.len() != expected {
        return Err(LdpError::ReportLength {
            expected,
            got: bytes.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_uint_reads_every_width() {
        let b = [0x01u8, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09];
        for w in 0..=8 {
            let mut buf = [0u8; 8];
            buf[..w].copy_from_slice(&b[..w]);
            assert_eq!(le_uint(&b[..w]), u64::from_le_bytes(buf), "w={w}");
        }
    }

    #[test]
    fn widths() {
        assert_eq!(width(2), 1);
        assert_eq!(width(256), 1);
        assert_eq!(width(257), 2);
        assert_eq!(width(1 << 16), 2);
        assert_eq!(width((1 << 16) + 1), 3);
        assert_eq!(width(1 << 30), 4);
    }

    #[test]
    fn bitvec_roundtrip_and_padding() {
        let mut bv = BitVector::zeros(13);
        bv.set(0, true).unwrap();
        bv.set(12, true).unwrap();
        let mut out = Vec::new();
        put_bitvec(&mut out, &bv);
        assert_eq!(out, vec![0x01, 0x10]);
        let mut r = Reader::new(&out);
        assert_eq!(r.bitvec(13).unwrap(), bv);
        r.finish().unwrap();
        let bad = [0x01, 0x30];
        assert!(Reader::new(&bad).bitvec(13).is_err());
    }
}
