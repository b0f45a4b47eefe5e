//! A fixed-length bit vector, the report of the unary encodings (SUE, OUE and the OUE-based
//! multidimensional protocols).
//!
//! Invariant: bit `i` lives in `words[i / 64]` at position `i % 64`; `words.len() ==
//! len.div_ceil(64)` and every bit at index `>= len` is zero.

use super::LdpError;

/// A fixed-length bit vector (see the module invariant).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BitVector {
    len: u32,
    words: Vec<u64>,
}

impl BitVector {
    /// An all-zero vector of `len` bits.
    pub fn zeros(len: u32) -> Self {
        BitVector {
            len,
            words: vec![0; (len as usize).div_ceil(64)],
        }
    }

    /// Builds a vector from words; fails if the word count is wrong or padding bits are set.
    pub fn from_words(len: u32, words: Vec<u64>) -> Result<Self, LdpError> {
        if words.len() != (len as usize).div_ceil(64) {
            return Err(LdpError::MalformedReport("bit vector word count"));
        }
        let rem = len & 63;
        if rem != 0 && words.last().is_some_and(|w| w >> rem != 0) {
            return Err(LdpError::MalformedReport("bit vector padding bits set"));
        }
        Ok(BitVector { len, words })
    }

    /// Number of bits.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the vector has zero bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The backing words (little-endian bit order inside each word).
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    pub(crate) fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }

    /// Bit `i` (false when `i >= len`).
    pub fn get(&self, i: u32) -> bool {
        i < self.len && (self.words[(i >> 6) as usize] >> (i & 63)) & 1 == 1
    }

    /// Sets bit `i` to `bit`; [`LdpError::FieldOutOfRange`] if `i >= len`.
    pub fn set(&mut self, i: u32, bit: bool) -> Result<(), LdpError> {
        if i >= self.len {
            return Err(LdpError::FieldOutOfRange {
                field: "bit index",
                value: u64::from(i),
                bound: u64::from(self.len),
            });
        }
        let Some(w) = self.words.get_mut((i >> 6) as usize) else {
            return Err(LdpError::MalformedReport("bit vector invariant"));
        };
        let m = 1u64 << (i & 63);
        if bit {
            *w |= m;
        } else {
            *w &= !m;
        }
        Ok(())
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// Indices of the set bits, ascending.
    pub fn iter_ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            core::iter::from_fn(move || {
                if w == 0 {
                    None
                } else {
                    let t = w.trailing_zeros();
                    w &= w - 1;
                    Some((wi as u32) * 64 + t)
                }
            })
        })
    }

    /// Adds 1 to `counts[i]` for every set bit `i` (bits past `counts.len()` are ignored;
    /// callers pass `len` counts).
    pub(crate) fn add_to(&self, counts: &mut [u64]) {
        for (wi, &w) in self.words.iter().enumerate() {
            let mut w = w;
            let base = wi * 64;
            while w != 0 {
                if let Some(c) = counts.get_mut(base + w.trailing_zeros() as usize) {
                    *c += 1;
                }
                w &= w - 1;
            }
        }
    }
}
