//! Arithmetic in the prime field GF(p), p = 2^130 - 5 (spec section "Shamir field").
//!
//! Chosen because every 16-byte string is a field element (p > 2^128), so a 32-byte secret is
//! shared as two independent 16-byte halves without any bias or rejection, and because the prime
//! is the well-studied Poly1305 modulus with a cheap reduction (2^130 = 5 mod p).
//!
//! Representation: three limbs in radix 2^44 (44 + 44 + 42 bits), always fully reduced (the value
//! is `< p`), so equality and encoding are plain comparisons. Encoding: 17 bytes little-endian;
//! decoding rejects values `>= p`.
//!
//! Constant time: no branch, table lookup or early exit depends on an element's value. Reduction
//! uses arithmetic masks; inversion is a fixed square-and-multiply chain over the public
//! exponent p - 2. Only [`FieldElement::random`]'s rejection loop depends on the RNG output, and
//! only with probability 5 / 2^130 per draw.

use crate::prelude::*;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

const M44: u64 = (1 << 44) - 1;
const M42: u64 = (1 << 42) - 1;

/// Length of an encoded element.
pub const ELEMENT_LEN: usize = 17;

/// An element of GF(2^130 - 5), fully reduced.
#[derive(Clone, Copy, Default, zeroize::Zeroize)]
pub struct FieldElement([u64; 3]);

/// The encoding was not a canonical field element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("field element encoding is not below 2^130 - 5")]
pub struct NonCanonical;

impl FieldElement {
    /// Zero.
    pub const ZERO: Self = Self([0, 0, 0]);
    /// One.
    pub const ONE: Self = Self([1, 0, 0]);

    /// Brings limbs each below 2^62 to the fully reduced form.
    #[inline(always)]
    fn reduce(h: [u64; 3]) -> Self {
        let [mut h0, mut h1, mut h2] = h;
        let mut c;
        // Two carry passes. After the first, h0 < 2^44 + 2^24 (it absorbed 5 * (h2 >> 42) with
        // h2 < 2^63); the second pass leaves each limb within its width: a carry out of h0 can
        // only occur when h0 wrapped to a small value, so the final carry into h0 cannot repeat.
        c = h0 >> 44;
        h0 &= M44;
        h1 += c;
        c = h1 >> 44;
        h1 &= M44;
        h2 += c;
        c = h2 >> 42;
        h2 &= M42;
        h0 += c * 5;
        c = h0 >> 44;
        h0 &= M44;
        h1 += c;
        c = h1 >> 44;
        h1 &= M44;
        h2 += c;
        c = h2 >> 42;
        h2 &= M42;
        h0 += c * 5;
        // Now h < 2^130 < 2p: subtract p once if h >= p, i.e. if h + 5 overflows 2^130.
        let mut g0 = h0 + 5;
        c = g0 >> 44;
        g0 &= M44;
        let mut g1 = h1 + c;
        c = g1 >> 44;
        g1 &= M44;
        let g2 = h2 + c;
        let ge_p = Choice::from((g2 >> 42) as u8);
        let g2 = g2 & M42;
        Self([
            u64::conditional_select(&h0, &g0, ge_p),
            u64::conditional_select(&h1, &g1, ge_p),
            u64::conditional_select(&h2, &g2, ge_p),
        ])
    }

    /// Sum.
    #[inline]
    fn add_impl(self, o: Self) -> Self {
        Self::reduce([self.0[0] + o.0[0], self.0[1] + o.0[1], self.0[2] + o.0[2]])
    }

    /// Difference: `self + 2p - o`, limb by limb (2p = (2^45 - 10, 2^45 - 2, 2^43 - 2)).
    #[inline]
    fn sub_impl(self, o: Self) -> Self {
        Self::reduce([
            self.0[0] + ((1 << 45) - 10) - o.0[0],
            self.0[1] + ((1 << 45) - 2) - o.0[1],
            self.0[2] + ((1 << 43) - 2) - o.0[2],
        ])
    }

    /// Product. Limb products fit in u128; the weight 2^132 folds back as 4 * 5 = 20.
    #[inline]
    fn mul_impl(self, o: Self) -> Self {
        let (d0, d1, d2) = Self::wide_product(self, o);
        Self::from_wide(d0, d1, d2)
    }

    /// The unreduced product as three u128 column sums, each below 2^95.
    #[inline(always)]
    fn wide_product(a: Self, b: Self) -> (u128, u128, u128) {
        let [a0, a1, a2] = a.0.map(u128::from);
        let [b0, b1, b2] = b.0.map(u128::from);
        let (s1, s2) = (b1 * 20, b2 * 20);
        (
            a0 * b0 + a1 * s2 + a2 * s1,
            a0 * b1 + a1 * b0 + a2 * s2,
            a0 * b2 + a1 * b1 + a2 * b0,
        )
    }

    /// Reduces column sums `d0 + d1 2^44 + d2 2^88` with every column below 2^127.
    #[inline(always)]
    fn from_wide(d0: u128, mut d1: u128, mut d2: u128) -> Self {
        let r0 = d0 & M44 as u128;
        d1 += d0 >> 44;
        let r1 = d1 & M44 as u128;
        d2 += d1 >> 44;
        let r2 = d2 & M42 as u128;
        // 2^130 = 5: the carry out of the top limb re-enters at the bottom, times 5.
        let t = r0 + (d2 >> 42) * 5;
        Self::reduce([(t & M44 as u128) as u64, (r1 + (t >> 44)) as u64, r2 as u64])
    }

    /// `self * k + c` for a small integer `k`: limb products stay below 2^60, so no 128-bit
    /// arithmetic is needed (Horner evaluation at participant indices).
    #[inline]
    pub fn mul_small_add(self, k: u16, c: Self) -> Self {
        let k = k as u64;
        Self::reduce([
            self.0[0] * k + c.0[0],
            self.0[1] * k + c.0[1],
            self.0[2] * k + c.0[2],
        ])
    }

    /// `sum_i a_i * b_i` with one reduction per 2^16 terms (the column sums stay below 2^127).
    pub fn sum_of_products(pairs: impl IntoIterator<Item = (Self, Self)>) -> Self {
        let mut total = Self::ZERO;
        let (mut d0, mut d1, mut d2) = (0u128, 0u128, 0u128);
        let mut n = 0u32;
        for (a, b) in pairs {
            let (e0, e1, e2) = Self::wide_product(a, b);
            d0 += e0;
            d1 += e1;
            d2 += e2;
            n += 1;
            if n == 1 << 16 {
                total = total + Self::from_wide(d0, d1, d2);
                (d0, d1, d2, n) = (0, 0, 0, 0);
            }
        }
        total + Self::from_wide(d0, d1, d2)
    }

    /// Square.
    #[inline]
    pub fn square(self) -> Self {
        self * self
    }

    /// Multiplicative inverse by Fermat (`self^(p-2)`); the inverse of zero is zero.
    pub fn invert(self) -> Self {
        // p - 2 = 2^130 - 7: binary 1^127 001. Fixed chain, independent of `self`.
        let mut r = Self::ONE;
        for _ in 0..127 {
            r = r.square() * self;
        }
        r = r.square();
        r = r.square();
        r.square() * self
    }

    /// Inverts every element of `xs` in place with one field inversion (Montgomery's trick).
    /// Zeros stay zero.
    pub fn batch_invert(xs: &mut [Self]) {
        let mut prefix = Vec::with_capacity(xs.len());
        let mut acc = Self::ONE;
        for x in xs.iter() {
            prefix.push(acc);
            // Skip zeros without branching on secret data: multiply by 1 instead.
            let z = x.ct_eq(&Self::ZERO);
            acc = acc * Self::conditional_select(x, &Self::ONE, z);
        }
        let mut inv = acc.invert();
        for (x, pre) in xs.iter_mut().zip(prefix).rev() {
            let z = x.ct_eq(&Self::ZERO);
            let xi = Self::conditional_select(x, &Self::ONE, z);
            let new = inv * pre;
            inv = inv * xi;
            *x = Self::conditional_select(&new, &Self::ZERO, z);
        }
    }

    /// A small integer.
    pub fn from_u64(v: u64) -> Self {
        Self::reduce([v & M44, v >> 44, 0])
    }

    /// A 128-bit integer (every one is below p).
    pub fn from_u128(v: u128) -> Self {
        Self([(v as u64) & M44, ((v >> 44) as u64) & M44, (v >> 88) as u64])
    }

    /// The value as a 128-bit integer, if it is below 2^128 (constant-time result flag).
    pub fn to_u128(self) -> (u128, Choice) {
        let v = self.0[0] as u128 | (self.0[1] as u128) << 44 | ((self.0[2] as u128) << 88);
        let fits = Choice::from(((self.0[2] >> 40) == 0) as u8);
        (v, fits)
    }

    /// 17-byte little-endian encoding.
    pub fn to_bytes(self) -> [u8; ELEMENT_LEN] {
        let lo = self.0[0] as u128 | (self.0[1] as u128) << 44 | ((self.0[2] as u128) << 88);
        let mut out = [0u8; ELEMENT_LEN];
        out[..16].copy_from_slice(&lo.to_le_bytes());
        out[16] = (self.0[2] >> 40) as u8;
        out
    }

    /// Decodes 17 little-endian bytes, rejecting values `>= p`.
    pub fn from_bytes(b: &[u8; ELEMENT_LEN]) -> Result<Self, NonCanonical> {
        let mut lo = [0u8; 16];
        lo.copy_from_slice(&b[..16]);
        let lo = u128::from_le_bytes(lo);
        let top = b[16] as u64;
        let h = [
            (lo as u64) & M44,
            ((lo >> 44) as u64) & M44,
            ((lo >> 88) as u64) | (top << 40),
        ];
        // Canonical iff the value fits 130 bits and reducing it changes nothing.
        let fits = top < 4;
        let reduced = Self::reduce(h);
        if fits && bool::from(reduced.ct_eq(&Self(h))) {
            Ok(reduced)
        } else {
            Err(NonCanonical)
        }
    }

    /// A uniformly random element: 17 random bytes, cut to 130 bits, redrawn if `>= p`.
    pub fn random<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        loop {
            let mut b = [0u8; ELEMENT_LEN];
            rng.fill_bytes(&mut b);
            b[16] &= 0x03;
            let r = Self::from_bytes(&b);
            zeroize::Zeroize::zeroize(&mut b);
            if let Ok(x) = r {
                return x;
            }
        }
    }
}

impl core::ops::Add for FieldElement {
    type Output = Self;
    #[inline]
    fn add(self, o: Self) -> Self {
        self.add_impl(o)
    }
}

impl core::ops::Sub for FieldElement {
    type Output = Self;
    #[inline]
    fn sub(self, o: Self) -> Self {
        self.sub_impl(o)
    }
}

impl core::ops::Mul for FieldElement {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        self.mul_impl(o)
    }
}

impl core::ops::Neg for FieldElement {
    type Output = Self;
    fn neg(self) -> Self {
        Self::ZERO.sub_impl(self)
    }
}

impl ConstantTimeEq for FieldElement {
    fn ct_eq(&self, o: &Self) -> Choice {
        self.0[0].ct_eq(&o.0[0]) & self.0[1].ct_eq(&o.0[1]) & self.0[2].ct_eq(&o.0[2])
    }
}

impl ConditionallySelectable for FieldElement {
    fn conditional_select(a: &Self, b: &Self, c: Choice) -> Self {
        Self([
            u64::conditional_select(&a.0[0], &b.0[0], c),
            u64::conditional_select(&a.0[1], &b.0[1], c),
            u64::conditional_select(&a.0[2], &b.0[2], c),
        ])
    }
}

impl PartialEq for FieldElement {
    fn eq(&self, o: &Self) -> bool {
        self.ct_eq(o).into()
    }
}

impl Eq for FieldElement {}

impl core::fmt::Debug for FieldElement {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FieldElement(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p_minus(k: u64) -> FieldElement {
        FieldElement::ZERO - FieldElement::from_u64(k)
    }

    #[test]
    fn encoding_of_p_minus_one() {
        let b = p_minus(1).to_bytes();
        let mut want = [0xffu8; 17];
        want[0] = 0xfa;
        want[16] = 0x03;
        assert_eq!(b, want);
        assert_eq!(FieldElement::from_bytes(&want).unwrap(), p_minus(1));
        // p itself and 2^130 - 1 are rejected.
        let mut p = want;
        p[0] = 0xfb;
        assert!(FieldElement::from_bytes(&p).is_err());
        let mut big = [0xffu8; 17];
        big[16] = 0x03;
        assert!(FieldElement::from_bytes(&big).is_err());
        big[16] = 0x04;
        assert!(FieldElement::from_bytes(&big).is_err());
    }

    #[test]
    fn wraparound() {
        assert_eq!(p_minus(1) + FieldElement::ONE, FieldElement::ZERO);
        assert_eq!(p_minus(1) * p_minus(1), FieldElement::ONE);
        assert_eq!(p_minus(2) * FieldElement::from_u64(3), p_minus(6));
    }

    #[test]
    fn inverses() {
        for v in [1u64, 2, 3, 5, 65535, u64::MAX] {
            let x = FieldElement::from_u64(v);
            assert_eq!(x * x.invert(), FieldElement::ONE);
        }
        let mut xs: Vec<_> = (0..20u64).map(FieldElement::from_u64).collect();
        FieldElement::batch_invert(&mut xs);
        assert_eq!(xs[0], FieldElement::ZERO);
        for (i, x) in xs.iter().enumerate().skip(1) {
            assert_eq!(*x * FieldElement::from_u64(i as u64), FieldElement::ONE);
        }
    }
}
