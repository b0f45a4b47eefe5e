//! Bit-packing of ring vectors: exactly `ceil(len * bits / 8)` bytes.
//!
//! Encoding (spec section "Packing"): the elements are concatenated as a little-endian bit
//! string. Bit `j` of element `i` is bit `i*bits + j` of the string, and bit `m` of the string is
//! bit `m mod 8` of byte `floor(m / 8)`. The unused high bits of the last byte are zero; a decoder
//! rejects anything else, so every vector has exactly one encoding.
//!
//! The same reading rule turns the mask PRG's keystream into ring elements, which is why
//! [`combine_packed`] can add or subtract while it decodes.

use crate::prelude::*;

use super::{Bits, Combine, Elems, RingVec, Word};

/// Errors of unpacking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// The byte string does not have the exact packed length.
    #[error("packed vector has {got} bytes, expected {expected}")]
    Length {
        /// `ceil(len * bits / 8)`.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// `len * bits` overflows the address space.
    #[error("a vector of {len} elements of {bits} bits is too large")]
    TooLarge {
        /// Requested length.
        len: usize,
        /// Element width.
        bits: u32,
    },
    /// The padding bits of the last byte are not zero (non-canonical encoding).
    #[error("nonzero padding bits in the last byte")]
    NonZeroPadding,
    /// The target vector has a different width.
    #[error("ring width mismatch: vector has {vector} bits, input has {input}")]
    BitsMismatch {
        /// Width of the vector.
        vector: u32,
        /// Width of the packed input.
        input: u32,
    },
}

/// `ceil(len * bits / 8)`, or `None` on overflow.
pub fn packed_len(bits: Bits, len: usize) -> Option<usize> {
    let total_bits = (len as u128).checked_mul(bits.get() as u128)?;
    usize::try_from(total_bits.div_ceil(8)).ok()
}

/// Decodes `dst.len()` packed elements of width `bits` from `bytes` and combines each into `dst`.
/// Returns the padding bits that follow the last element (zero in a canonical encoding).
///
/// Precondition (checked by every caller): `bytes.len() == packed_len(bits, dst.len())`.
#[inline]
pub(crate) fn combine_packed<W: Word>(bits: Bits, bytes: &[u8], dst: &mut [W], op: Combine) -> u64 {
    let wmask = W::from_u64(bits.max_element());
    // Dispatch on the operation once, outside the loops, so each loop body is branch-free.
    match op {
        Combine::Assign => combine_with(bits, bytes, dst, |_, x| x),
        Combine::Add => combine_with(bits, bytes, dst, move |s, x: W| {
            s.wrapping_add(x).and(wmask)
        }),
        Combine::Sub => combine_with(bits, bytes, dst, move |s, x: W| {
            s.wrapping_sub(x).and(wmask)
        }),
    }
}

#[inline(always)]
fn combine_with<W: Word>(bits: Bits, bytes: &[u8], dst: &mut [W], f: impl Fn(W, W) -> W) -> u64 {
    match bits.get() {
        // Byte-aligned widths: one element per fixed-size chunk, which the compiler vectorizes.
        8 => fixed::<W, 1>(bytes, dst, f, |c| c[0] as u64),
        16 => fixed::<W, 2>(bytes, dst, f, |c| u16::from_le_bytes(*c) as u64),
        32 => fixed::<W, 4>(bytes, dst, f, |c| u32::from_le_bytes(*c) as u64),
        64 => fixed::<W, 8>(bytes, dst, f, |c| u64::from_le_bytes(*c)),
        b => generic(b, bits.max_element(), bytes, dst, f),
    }
}

#[inline(always)]
fn fixed<W: Word, const N: usize>(
    bytes: &[u8],
    dst: &mut [W],
    f: impl Fn(W, W) -> W,
    read: impl Fn(&[u8; N]) -> u64,
) -> u64 {
    let (chunks, _) = bytes.as_chunks::<N>();
    for (d, c) in dst.iter_mut().zip(chunks) {
        *d = f(*d, W::from_u64(read(c)));
    }
    0
}

#[inline(always)]
fn generic<W: Word>(
    bits: u32,
    mask: u64,
    bytes: &[u8],
    dst: &mut [W],
    f: impl Fn(W, W) -> W,
) -> u64 {
    // `acc` holds `have` not-yet-consumed bits; refilled 64 bits at a time (fewer at the end).
    let mut acc: u128 = 0;
    let mut have: u32 = 0;
    let mut pos = 0usize;
    for d in dst.iter_mut() {
        if have < bits {
            let (word, took) = match bytes.get(pos..pos + 8) {
                Some(s) => {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(s);
                    (u64::from_le_bytes(w), 8)
                }
                None => {
                    let rest = bytes.get(pos..).unwrap_or(&[]);
                    let mut w = [0u8; 8];
                    w[..rest.len()].copy_from_slice(rest);
                    (u64::from_le_bytes(w), rest.len())
                }
            };
            acc |= (word as u128) << have;
            have += 8 * took as u32;
            pos += took;
        }
        *d = f(*d, W::from_u64(acc as u64 & mask));
        acc >>= bits;
        have = have.saturating_sub(bits);
    }
    acc as u64
}

/// Reads `dst.len()` elements from a keystream block and combines them into `dst` (the mask PRG).
/// Leftover keystream bits are discarded. `ks.len()` must be `packed_len(bits, dst.len())`.
pub(crate) fn combine_keystream<W: Word>(bits: Bits, ks: &[u8], dst: &mut [W], op: Combine) {
    combine_packed(bits, ks, dst, op);
}

impl RingVec {
    /// Packs into exactly `packed_len(bits, len)` bytes.
    pub fn pack(&self) -> Vec<u8> {
        // A vector that exists in memory always has a representable packed length.
        let n = packed_len(self.bits, self.len()).unwrap_or(0);
        let mut out = vec![0u8; n];
        self.pack_into(&mut out)
            .expect("buffer has the packed length");
        out
    }

    /// Packs into `out`, which must have exactly the packed length.
    pub fn pack_into(&self, out: &mut [u8]) -> Result<(), PackError> {
        let expected = packed_len(self.bits, self.len()).ok_or(PackError::TooLarge {
            len: self.len(),
            bits: self.bits.get(),
        })?;
        if out.len() != expected {
            return Err(PackError::Length {
                expected,
                got: out.len(),
            });
        }
        match (&self.elems, self.bits.get()) {
            (Elems::Narrow(v), 32) => {
                for (o, x) in out.as_chunks_mut::<4>().0.iter_mut().zip(v) {
                    *o = x.to_le_bytes();
                }
            }
            (Elems::Narrow(v), 16) => {
                for (o, x) in out.as_chunks_mut::<2>().0.iter_mut().zip(v) {
                    *o = (*x as u16).to_le_bytes();
                }
            }
            (Elems::Narrow(v), 8) => {
                for (o, x) in out.iter_mut().zip(v) {
                    *o = *x as u8;
                }
            }
            (Elems::Wide(v), 64) => {
                for (o, x) in out.as_chunks_mut::<8>().0.iter_mut().zip(v) {
                    *o = x.to_le_bytes();
                }
            }
            (Elems::Narrow(v), b) => pack_generic(v, b, out),
            (Elems::Wide(v), b) => pack_generic(v, b, out),
        }
        Ok(())
    }

    /// Decodes a packed vector of `len` elements, rejecting wrong lengths and nonzero padding.
    pub fn unpack(bits: Bits, len: usize, bytes: &[u8]) -> Result<RingVec, PackError> {
        check_len(bits, len, bytes)?;
        let mut v = RingVec::zeros(bits, len);
        v.combine_packed_checked(bits, bytes, Combine::Assign)?;
        Ok(v)
    }

    /// Adds a packed vector of the same width and length into `self` without materialising it:
    /// how an accumulator absorbs masked inputs in O(L) memory.
    pub fn unpack_add(&mut self, bits: Bits, bytes: &[u8]) -> Result<(), PackError> {
        if bits != self.bits {
            return Err(PackError::BitsMismatch {
                vector: self.bits.get(),
                input: bits.get(),
            });
        }
        check_len(bits, self.len(), bytes)?;
        // Validate the padding before touching `self`, so a rejected input leaves it unchanged.
        if last_byte_padding(bits, self.len(), bytes) != 0 {
            return Err(PackError::NonZeroPadding);
        }
        self.combine_packed_checked(bits, bytes, Combine::Add)
    }

    fn combine_packed_checked(
        &mut self,
        bits: Bits,
        bytes: &[u8],
        op: Combine,
    ) -> Result<(), PackError> {
        let padding = match self.elems_mut() {
            Elems::Narrow(v) => combine_packed(bits, bytes, v, op),
            Elems::Wide(v) => combine_packed(bits, bytes, v, op),
        };
        if padding != 0 {
            return Err(PackError::NonZeroPadding);
        }
        Ok(())
    }
}

fn check_len(bits: Bits, len: usize, bytes: &[u8]) -> Result<(), PackError> {
    let expected = packed_len(bits, len).ok_or(PackError::TooLarge {
        len,
        bits: bits.get(),
    })?;
    if bytes.len() != expected {
        return Err(PackError::Length {
            expected,
            got: bytes.len(),
        });
    }
    Ok(())
}

/// The padding bits of the last byte (zero when `len * bits` is a multiple of 8).
fn last_byte_padding(bits: Bits, len: usize, bytes: &[u8]) -> u8 {
    let used = ((len as u128 * bits.get() as u128) % 8) as u32;
    match (used, bytes.last()) {
        (0, _) | (_, None) => 0,
        (u, Some(&b)) => b >> u,
    }
}

fn pack_generic<W: Word>(v: &[W], bits: u32, out: &mut [u8]) {
    let mut acc: u128 = 0;
    let mut have: u32 = 0;
    let mut pos = 0usize;
    for x in v {
        acc |= (x.to_u64() as u128) << have;
        have += bits;
        if have >= 64 {
            // 64 complete bits all belong to the output, so `pos + 8 <= out.len()`.
            if let Some(o) = out.get_mut(pos..pos + 8) {
                o.copy_from_slice(&(acc as u64).to_le_bytes());
            }
            acc >>= 64;
            have -= 64;
            pos += 8;
        }
    }
    let tail = (acc as u64).to_le_bytes();
    let n = have.div_ceil(8) as usize;
    if let Some(o) = out.get_mut(pos..pos + n) {
        o.copy_from_slice(&tail[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_bit_layout() {
        // Elements 1, 2, 127 at 7 bits: bit string 1000000 0100000 1111111 (LSB first).
        let b = Bits::new(7).unwrap();
        let v = RingVec::from_u64s(b, &[1, 2, 127]).unwrap();
        let p = v.pack();
        assert_eq!(p.len(), 3);
        // byte0 = bits 0..8 = 1 | (2 & 1) << 7 = 0x01; byte1 = (2 >> 1) | (127 << 6) & 0xff
        assert_eq!(p, vec![0x01, 0x01 | (127 << 6) as u8, 127 >> 2]);
        assert_eq!(RingVec::unpack(b, 3, &p).unwrap(), v);
    }

    #[test]
    fn rejects_padding_and_length() {
        let b = Bits::new(7).unwrap();
        let mut p = RingVec::from_u64s(b, &[5, 6, 7]).unwrap().pack();
        assert!(matches!(
            RingVec::unpack(b, 3, &p[..2]),
            Err(PackError::Length {
                expected: 3,
                got: 2
            })
        ));
        p[2] |= 0x80;
        assert_eq!(RingVec::unpack(b, 3, &p), Err(PackError::NonZeroPadding));
        let mut acc = RingVec::zeros(b, 3);
        assert_eq!(acc.unpack_add(b, &p), Err(PackError::NonZeroPadding));
        assert_eq!(acc, RingVec::zeros(b, 3));
    }

    #[test]
    fn unpack_add_accumulates() {
        let b = Bits::new(33).unwrap();
        let x = RingVec::from_u64s(b, &[1, (1 << 33) - 1, 77]).unwrap();
        let mut acc = RingVec::zeros(b, 3);
        acc.unpack_add(b, &x.pack()).unwrap();
        acc.unpack_add(b, &x.pack()).unwrap();
        assert_eq!(acc.to_u64s(), vec![2, (1 << 33) - 2, 154]);
    }
}
