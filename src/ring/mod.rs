//! Vectors over the ring Z_{2^bits}, `bits` in `1..=64` (spec section "Ring vectors and packing").
//!
//! Invariants of [`RingVec`]:
//! * every stored element is `< 2^bits` (arithmetic reduces after every operation);
//! * elements are stored in `u32` words when `bits <= 32` and in `u64` words otherwise, so an
//!   accumulator for 32-bit inputs costs 4 bytes per coordinate;
//! * operations between vectors of different width or length are typed errors, never panics.

use crate::prelude::*;

mod pack;

pub(crate) use pack::combine_keystream;
pub use pack::{packed_len, PackError};

use core::fmt;

/// The width of ring elements: the ring is Z_{2^bits}.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bits(u8);

impl Bits {
    /// 32-bit ring, the common choice for federated learning.
    pub const B32: Bits = Bits(32);

    /// Validates a width in `1..=64`.
    pub const fn new(bits: u32) -> Result<Self, RingError> {
        if bits >= 1 && bits <= 64 {
            Ok(Bits(bits as u8))
        } else {
            Err(RingError::InvalidBits(bits))
        }
    }

    /// The width as an integer.
    pub const fn get(self) -> u32 {
        self.0 as u32
    }

    /// `2^bits - 1`: the largest element, and the mask that reduces a word into the ring.
    pub const fn max_element(self) -> u64 {
        u64::MAX >> (64 - self.0 as u32)
    }

    /// Whether elements of this width are stored in `u32` words.
    pub const fn is_narrow(self) -> bool {
        self.0 <= 32
    }
}

impl fmt::Debug for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bits({})", self.0)
    }
}

impl fmt::Display for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Errors of ring-vector construction and arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// The width is outside `1..=64`.
    #[error("ring width {0} bits is outside 1..=64")]
    InvalidBits(u32),
    /// Two vectors of different widths were combined.
    #[error("ring width mismatch: {left} bits vs {right} bits")]
    BitsMismatch {
        /// Width of the left operand.
        left: u32,
        /// Width of the right operand.
        right: u32,
    },
    /// Two vectors of different lengths were combined.
    #[error("vector length mismatch: {left} vs {right}")]
    LengthMismatch {
        /// Length of the left operand.
        left: usize,
        /// Length of the right operand.
        right: usize,
    },
    /// An element is not below `2^bits`.
    #[error("element {index} = {value} does not fit in {bits} bits")]
    ElementOutOfRange {
        /// Position of the element.
        index: usize,
        /// Its value.
        value: u64,
        /// The ring width.
        bits: u32,
    },
}

/// A machine word that stores ring elements: `u32` or `u64`.
pub(crate) trait Word: Copy + Default + Send + Sync + 'static {
    /// Truncating conversion from `u64` (callers pass values already reduced to the ring).
    fn from_u64(v: u64) -> Self;
    fn to_u64(self) -> u64;
    fn wrapping_add(self, o: Self) -> Self;
    fn wrapping_sub(self, o: Self) -> Self;
    fn and(self, o: Self) -> Self;
}

impl Word for u32 {
    #[inline(always)]
    fn from_u64(v: u64) -> Self {
        v as u32
    }
    #[inline(always)]
    fn to_u64(self) -> u64 {
        self as u64
    }
    #[inline(always)]
    fn wrapping_add(self, o: Self) -> Self {
        u32::wrapping_add(self, o)
    }
    #[inline(always)]
    fn wrapping_sub(self, o: Self) -> Self {
        u32::wrapping_sub(self, o)
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        self & o
    }
}

impl Word for u64 {
    #[inline(always)]
    fn from_u64(v: u64) -> Self {
        v
    }
    #[inline(always)]
    fn to_u64(self) -> u64 {
        self
    }
    #[inline(always)]
    fn wrapping_add(self, o: Self) -> Self {
        u64::wrapping_add(self, o)
    }
    #[inline(always)]
    fn wrapping_sub(self, o: Self) -> Self {
        u64::wrapping_sub(self, o)
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        self & o
    }
}

/// How an incoming element combines with the stored one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Combine {
    /// Overwrite.
    Assign,
    /// Add modulo 2^bits.
    Add,
    /// Subtract modulo 2^bits.
    Sub,
}

/// Storage for the elements: the narrowest word that holds `bits`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Elems {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

/// A vector of elements of Z_{2^bits}.
#[derive(Clone, PartialEq, Eq)]
pub struct RingVec {
    bits: Bits,
    elems: Elems,
}

/// Prints only the shape: a vector may hold a client's unmasked input or a mask.
impl fmt::Debug for RingVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RingVec<{} bits>[{} elements]", self.bits, self.len())
    }
}

/// Erases the elements: a vector may hold a client's unmasked input or a mask.
impl Drop for RingVec {
    fn drop(&mut self) {
        match &mut self.elems {
            Elems::Narrow(v) => zeroize::Zeroize::zeroize(v),
            Elems::Wide(v) => zeroize::Zeroize::zeroize(v),
        }
    }
}

impl RingVec {
    /// The zero vector of length `len`.
    pub fn zeros(bits: Bits, len: usize) -> Self {
        let elems = if bits.is_narrow() {
            Elems::Narrow(vec![0; len])
        } else {
            Elems::Wide(vec![0; len])
        };
        Self { bits, elems }
    }

    /// Builds a vector from elements that must each be `< 2^bits`.
    pub fn from_u64s(bits: Bits, values: &[u64]) -> Result<Self, RingError> {
        let max = bits.max_element();
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, &v)| v > max) {
            return Err(RingError::ElementOutOfRange {
                index,
                value,
                bits: bits.get(),
            });
        }
        Ok(Self::from_u64s_reduced(bits, values.iter().copied()))
    }

    /// Builds a vector reducing each value modulo `2^bits`.
    pub fn from_u64s_reduced(bits: Bits, values: impl IntoIterator<Item = u64>) -> Self {
        let max = bits.max_element();
        let elems = if bits.is_narrow() {
            Elems::Narrow(values.into_iter().map(|v| (v & max) as u32).collect())
        } else {
            Elems::Wide(values.into_iter().map(|v| v & max).collect())
        };
        Self { bits, elems }
    }

    /// The element width.
    pub fn bits(&self) -> Bits {
        self.bits
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.elems {
            Elems::Narrow(v) => v.len(),
            Elems::Wide(v) => v.len(),
        }
    }

    /// Whether the vector has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<u64> {
        match &self.elems {
            Elems::Narrow(v) => v.get(i).map(|&x| x as u64),
            Elems::Wide(v) => v.get(i).copied(),
        }
    }

    /// Iterates over the elements as `u64`.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        let (narrow, wide): (&[u32], &[u64]) = match &self.elems {
            Elems::Narrow(v) => (v, &[]),
            Elems::Wide(v) => (&[], v),
        };
        RingIter {
            narrow: narrow.iter(),
            wide: wide.iter(),
        }
    }

    /// The elements as a `Vec<u64>`.
    pub fn to_u64s(&self) -> Vec<u64> {
        self.iter().collect()
    }

    fn check_compatible(&self, other: &RingVec) -> Result<(), RingError> {
        if self.bits != other.bits {
            return Err(RingError::BitsMismatch {
                left: self.bits.get(),
                right: other.bits.get(),
            });
        }
        if self.len() != other.len() {
            return Err(RingError::LengthMismatch {
                left: self.len(),
                right: other.len(),
            });
        }
        Ok(())
    }

    fn combine(&mut self, other: &RingVec, op: Combine) -> Result<(), RingError> {
        self.check_compatible(other)?;
        let max = self.bits.max_element();
        match (&mut self.elems, &other.elems) {
            (Elems::Narrow(a), Elems::Narrow(b)) => combine_words(a, b, op, max as u32),
            (Elems::Wide(a), Elems::Wide(b)) => combine_words(a, b, op, max),
            // Equal widths always use the same storage.
            _ => unreachable!("equal widths share a storage kind"),
        }
        Ok(())
    }

    /// `self += other` modulo `2^bits`.
    pub fn add_assign(&mut self, other: &RingVec) -> Result<(), RingError> {
        self.combine(other, Combine::Add)
    }

    /// `self -= other` modulo `2^bits`.
    pub fn sub_assign(&mut self, other: &RingVec) -> Result<(), RingError> {
        self.combine(other, Combine::Sub)
    }

    /// Mutable access to the storage, for the mask PRG and the unpacker.
    pub(crate) fn elems_mut(&mut self) -> &mut Elems {
        &mut self.elems
    }
}

fn combine_words<W: Word>(a: &mut [W], b: &[W], op: Combine, mask: W) {
    // One loop per operation so each body is branch-free and vectorizes.
    match op {
        Combine::Assign => a.copy_from_slice(b),
        Combine::Add => a
            .iter_mut()
            .zip(b)
            .for_each(|(x, &y)| *x = x.wrapping_add(y).and(mask)),
        Combine::Sub => a
            .iter_mut()
            .zip(b)
            .for_each(|(x, &y)| *x = x.wrapping_sub(y).and(mask)),
    }
}

struct RingIter<'a> {
    narrow: core::slice::Iter<'a, u32>,
    wide: core::slice::Iter<'a, u64>,
}

impl Iterator for RingIter<'_> {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        match self.narrow.next() {
            Some(&x) => Some(x as u64),
            None => self.wide.next().copied(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.narrow.len() + self.wide.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for RingIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert!(Bits::new(0).is_err());
        assert!(Bits::new(65).is_err());
        assert_eq!(Bits::new(1).unwrap().max_element(), 1);
        assert_eq!(Bits::new(64).unwrap().max_element(), u64::MAX);
        assert_eq!(Bits::new(33).unwrap().max_element(), (1 << 33) - 1);
    }

    #[test]
    fn arithmetic_wraps() {
        for bits in [1, 7, 32, 33, 64] {
            let b = Bits::new(bits).unwrap();
            let m = b.max_element();
            let mut x = RingVec::from_u64s(b, &[m, 0, 1]).unwrap();
            let y = RingVec::from_u64s(b, &[1, 1, 1]).unwrap();
            x.add_assign(&y).unwrap();
            assert_eq!(x.to_u64s(), vec![0, 1, 2 & m]);
            x.sub_assign(&y).unwrap();
            x.sub_assign(&y).unwrap();
            assert_eq!(x.to_u64s(), vec![m - 1, m, 0]);
        }
    }

    #[test]
    fn mismatches_are_errors() {
        let mut a = RingVec::zeros(Bits::B32, 3);
        assert!(matches!(
            a.add_assign(&RingVec::zeros(Bits::B32, 4)),
            Err(RingError::LengthMismatch { .. })
        ));
        assert!(matches!(
            a.add_assign(&RingVec::zeros(Bits::new(33).unwrap(), 3)),
            Err(RingError::BitsMismatch { .. })
        ));
        assert!(matches!(
            RingVec::from_u64s(Bits::new(7).unwrap(), &[128]),
            Err(RingError::ElementOutOfRange { index: 0, .. })
        ));
    }
}
