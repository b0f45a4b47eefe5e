//! Shamir t-of-n secret sharing of 32-byte secrets over GF(2^130 - 5)
//! (spec section "Shamir secret sharing").
//!
//! A secret is split into two 16-byte little-endian halves; each half is a field element (every
//! 16-byte value is below p) and is shared with its own random polynomial of degree `t - 1`. A
//! share is the pair of evaluations at the holder's participant index `x` (never zero, so the
//! secret at `x = 0` is never handed out).
//!
//! Share encoding (36 bytes): `u16be(x) || y_0 (17 bytes LE) || y_1 (17 bytes LE)`.
//!
//! Reconstruction evaluates the Lagrange interpolant at zero from exactly `t` shares. The
//! coefficients depend only on the holders' x-coordinates, so a [`Reconstructor`] computes them
//! once (O(t^2) multiplications and a single inversion) and then recovers any number of secrets
//! shared among the same holders at 2t multiplications each. A reconstructed half that is not
//! below 2^128 proves the shares inconsistent and is reported as an error.

use crate::prelude::*;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::field::{FieldElement, ELEMENT_LEN};
use crate::ids::ParticipantId;

/// Length of a shared secret.
pub const SECRET_LEN: usize = 32;

/// Length of an encoded share.
pub const SHARE_LEN: usize = 2 + 2 * ELEMENT_LEN;

/// Errors of sharing and reconstruction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShamirError {
    /// The threshold is zero or larger than the number of holders.
    #[error("threshold {threshold} is invalid for {holders} holders (need 1 <= t <= n)")]
    InvalidThreshold {
        /// The requested threshold.
        threshold: usize,
        /// The number of holders.
        holders: usize,
    },
    /// Fewer shares than the threshold.
    #[error("{got} shares given, {need} needed")]
    TooFewShares {
        /// Shares supplied.
        got: usize,
        /// The threshold.
        need: usize,
    },
    /// Two shares or holders with the same x-coordinate.
    #[error("duplicate x-coordinate {0}")]
    DuplicateX(u16),
    /// A share's x-coordinate is zero (only possible in an encoding).
    #[error("share x-coordinate 0 is reserved for the secret")]
    ZeroX,
    /// A share's encoding has the wrong length or a non-canonical field element.
    #[error("malformed share encoding")]
    MalformedShare,
    /// The shares passed do not belong to the holders the reconstructor was built for.
    #[error("share for x = {got} where x = {expected} was expected")]
    HolderMismatch {
        /// x-coordinate expected at this position.
        expected: u16,
        /// x-coordinate found.
        got: u16,
    },
    /// The interpolated value is not a valid secret: the shares are inconsistent.
    #[error("shares are inconsistent (reconstructed value out of range)")]
    Inconsistent,
}

/// One holder's share of a 32-byte secret. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Share {
    #[zeroize(skip)]
    x: ParticipantId,
    y: [FieldElement; 2],
}

impl Share {
    /// The holder's x-coordinate.
    pub fn x(&self) -> ParticipantId {
        self.x
    }

    /// `u16be(x) || y_0 || y_1`.
    pub fn to_bytes(&self) -> Zeroizing<[u8; SHARE_LEN]> {
        let mut out = Zeroizing::new([0u8; SHARE_LEN]);
        out[..2].copy_from_slice(&self.x.to_be_bytes());
        out[2..2 + ELEMENT_LEN].copy_from_slice(&self.y[0].to_bytes());
        out[2 + ELEMENT_LEN..].copy_from_slice(&self.y[1].to_bytes());
        out
    }

    /// Decodes a share, rejecting a wrong length, `x = 0` and non-canonical elements.
    pub fn from_bytes(b: &[u8]) -> Result<Self, ShamirError> {
        let b: &[u8; SHARE_LEN] = b.try_into().map_err(|_| ShamirError::MalformedShare)?;
        let (xb, rest) = b.split_at(2);
        let (y0, y1) = rest.split_at(ELEMENT_LEN);
        let x = ParticipantId::new(u16::from_be_bytes([xb[0], xb[1]])).ok_or(ShamirError::ZeroX)?;
        let elem = |s: &[u8]| -> Result<FieldElement, ShamirError> {
            let a: &[u8; ELEMENT_LEN] = s.try_into().map_err(|_| ShamirError::MalformedShare)?;
            FieldElement::from_bytes(a).map_err(|_| ShamirError::MalformedShare)
        };
        Ok(Share {
            x,
            y: [elem(y0)?, elem(y1)?],
        })
    }
}

impl core::fmt::Debug for Share {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Share(x = {}, <redacted>)", self.x)
    }
}

impl PartialEq for Share {
    fn eq(&self, o: &Self) -> bool {
        self.x == o.x && bool::from(self.y[0].ct_eq(&o.y[0]) & self.y[1].ct_eq(&o.y[1]))
    }
}

/// The secret as two field elements, erased when dropped (`FieldElement` is `Copy`, so the
/// wrapper, not the type, is what guarantees the erasure).
fn secret_halves(secret: &[u8; SECRET_LEN]) -> Zeroizing<[FieldElement; 2]> {
    let mut lo = [0u8; 16];
    let mut hi = [0u8; 16];
    lo.copy_from_slice(&secret[..16]);
    hi.copy_from_slice(&secret[16..]);
    let mut lo_n = u128::from_le_bytes(lo);
    let mut hi_n = u128::from_le_bytes(hi);
    let out = Zeroizing::new([FieldElement::from_u128(lo_n), FieldElement::from_u128(hi_n)]);
    lo.zeroize();
    hi.zeroize();
    lo_n.zeroize();
    hi_n.zeroize();
    out
}

fn check_holders(holders: &[ParticipantId]) -> Result<(), ShamirError> {
    // Sorting a copy finds whether any x repeats without a 64 KiB table per call (the server
    // prepares one reconstruction per secret: 10 000 at n = 10 000); the table then names the
    // first repeat in the given order.
    let mut sorted: Vec<u16> = holders.iter().map(|h| h.get()).collect();
    sorted.sort_unstable();
    if sorted.windows(2).all(|w| w[0] != w[1]) {
        return Ok(());
    }
    let mut seen = vec![false; 1 << 16];
    for h in holders {
        let slot = &mut seen[h.get() as usize];
        if *slot {
            return Err(ShamirError::DuplicateX(h.get()));
        }
        *slot = true;
    }
    Ok(())
}

/// Splits `secret` into one share per holder, any `threshold` of which reconstruct it.
pub fn split<R: rand_core::CryptoRng + ?Sized>(
    secret: &[u8; SECRET_LEN],
    threshold: usize,
    holders: &[ParticipantId],
    rng: &mut R,
) -> Result<Vec<Share>, ShamirError> {
    if threshold == 0 || threshold > holders.len() {
        return Err(ShamirError::InvalidThreshold {
            threshold,
            holders: holders.len(),
        });
    }
    // Coefficients a_1..a_{t-1} of the polynomial for half 0, then those for half 1.
    let coefficients: Zeroizing<Vec<FieldElement>> = Zeroizing::new(
        (0..2 * (threshold - 1))
            .map(|_| FieldElement::random(rng))
            .collect(),
    );
    split_with_coefficients(secret, threshold, holders, &coefficients)
}

/// [`split`] with caller-chosen polynomial coefficients: `2 * (t - 1)` elements, the
/// coefficients of x^1..x^{t-1} for half 0 followed by those for half 1. Deterministic; used by
/// the test vectors. Production code must use [`split`].
#[doc(hidden)]
pub fn split_with_coefficients(
    secret: &[u8; SECRET_LEN],
    threshold: usize,
    holders: &[ParticipantId],
    coefficients: &[FieldElement],
) -> Result<Vec<Share>, ShamirError> {
    if threshold == 0 || threshold > holders.len() || coefficients.len() != 2 * (threshold - 1) {
        return Err(ShamirError::InvalidThreshold {
            threshold,
            holders: holders.len(),
        });
    }
    check_holders(holders)?;
    let halves = secret_halves(secret);
    let (c0, c1) = coefficients.split_at(threshold - 1);
    let eval = |constant: FieldElement, coeffs: &[FieldElement], x: u16| {
        // Horner from the highest coefficient down to the constant term.
        coeffs
            .iter()
            .rev()
            .fold(FieldElement::ZERO, |acc, c| acc.mul_small_add(x, *c))
            .mul_small_add(x, constant)
    };
    Ok(holders
        .iter()
        .map(|&h| {
            let x = h.get();
            Share {
                x: h,
                y: [eval(halves[0], c0, x), eval(halves[1], c1, x)],
            }
        })
        .collect())
}

/// The inverted Lagrange denominators `1 / prod_{j != i} (x_j - x_i)` of holder sets, keyed by
/// the holders' offsets `x_j - x_0`: the denominators depend only on the differences, so holder
/// sets that are shifts of each other (on a Harary graph, every owner away from the wrap-around
/// has the same neighbourhood shape) share one entry, and building a [`Reconstructor`] for such a
/// set costs O(t) multiplications instead of O(t^2) and an inversion.
#[derive(Debug, Default, Clone)]
pub struct LagrangeCache {
    denominators: alloc::collections::BTreeMap<Vec<i32>, Vec<FieldElement>>,
}

impl LagrangeCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Holder-set shapes cached so far.
    pub fn len(&self) -> usize {
        self.denominators.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.denominators.is_empty()
    }
}

/// Lagrange coefficients at zero for a fixed set of `t` holders, reusable across secrets.
#[derive(Clone, Debug)]
pub struct Reconstructor {
    xs: Vec<ParticipantId>,
    lambdas: Vec<FieldElement>,
}

impl Reconstructor {
    /// Prepares reconstruction from the first `threshold` of `holders` (the rest are not needed:
    /// any `t` consistent shares determine the secret).
    pub fn new(holders: &[ParticipantId], threshold: usize) -> Result<Self, ShamirError> {
        Self::with_cache(holders, threshold, &mut LagrangeCache::new())
    }

    /// [`Self::new`], taking the denominators from `cache` (and adding them to it) when a
    /// holder set of the same shape was prepared before. The coefficients are the same.
    pub fn with_cache(
        holders: &[ParticipantId],
        threshold: usize,
        cache: &mut LagrangeCache,
    ) -> Result<Self, ShamirError> {
        if threshold == 0 {
            return Err(ShamirError::InvalidThreshold {
                threshold,
                holders: holders.len(),
            });
        }
        if holders.len() < threshold {
            return Err(ShamirError::TooFewShares {
                got: holders.len(),
                need: threshold,
            });
        }
        check_holders(holders)?;
        let xs: Vec<ParticipantId> = holders[..threshold].to_vec();
        let key: Vec<i32> = xs
            .iter()
            .map(|x| x.get() as i32 - xs[0].get() as i32)
            .collect();
        let inv_d = match cache.denominators.get(&key) {
            Some(d) => d,
            None => {
                // d_i = prod_{j != i} (x_j - x_i): the differences are integers below 2^16 in
                // magnitude, so d_i accumulates with cheap small-scalar multiplications and its
                // sign is tracked separately; then one inversion for all of them.
                let mut inv = Vec::with_capacity(threshold);
                for xi in &xs {
                    let mut d = FieldElement::ONE;
                    let mut negative = false;
                    for xj in &xs {
                        if xj != xi {
                            negative ^= xj < xi;
                            d = d.mul_small_add(xj.get().abs_diff(xi.get()), FieldElement::ZERO);
                        }
                    }
                    inv.push(if negative { -d } else { d });
                }
                FieldElement::batch_invert(&mut inv);
                cache.denominators.entry(key).or_insert(inv)
            }
        };
        // lambda_i = prod_{j != i} x_j / d_i, the numerators from prefix and suffix products.
        let mut suffix = vec![FieldElement::ONE; threshold + 1];
        for (k, x) in xs.iter().enumerate().rev() {
            suffix[k] = suffix[k + 1].mul_small_add(x.get(), FieldElement::ZERO);
        }
        let mut prefix = FieldElement::ONE;
        let mut lambdas = Vec::with_capacity(threshold);
        for (k, x) in xs.iter().enumerate() {
            lambdas.push(prefix * suffix[k + 1] * inv_d[k]);
            prefix = prefix.mul_small_add(x.get(), FieldElement::ZERO);
        }
        Ok(Self { xs, lambdas })
    }

    /// The holders whose shares [`Self::reconstruct`] expects, in order.
    pub fn holders(&self) -> &[ParticipantId] {
        &self.xs
    }

    /// The threshold this reconstructor was built for.
    pub fn threshold(&self) -> usize {
        self.xs.len()
    }

    /// Reconstructs a secret from shares of exactly [`Self::holders`], in that order (extra
    /// shares after the first `t` are ignored).
    pub fn reconstruct(
        &self,
        shares: &[&Share],
    ) -> Result<Zeroizing<[u8; SECRET_LEN]>, ShamirError> {
        if shares.len() < self.xs.len() {
            return Err(ShamirError::TooFewShares {
                got: shares.len(),
                need: self.xs.len(),
            });
        }
        let used = &shares[..self.xs.len()];
        if let Some((share, x)) = used.iter().zip(&self.xs).find(|(s, x)| s.x != **x) {
            return Err(ShamirError::HolderMismatch {
                expected: x.get(),
                got: share.x.get(),
            });
        }
        let half = |k: usize| {
            FieldElement::sum_of_products(used.iter().zip(&self.lambdas).map(|(s, l)| (s.y[k], *l)))
        };
        let mut acc = Zeroizing::new([half(0), half(1)]);
        let (mut lo, lo_ok) = acc[0].to_u128();
        let (mut hi, hi_ok) = acc[1].to_u128();
        acc.zeroize();
        let mut out = Zeroizing::new([0u8; SECRET_LEN]);
        out[..16].copy_from_slice(&lo.to_le_bytes());
        out[16..].copy_from_slice(&hi.to_le_bytes());
        lo.zeroize();
        hi.zeroize();
        if !bool::from(lo_ok & hi_ok) {
            return Err(ShamirError::Inconsistent);
        }
        Ok(out)
    }
}

/// Reconstructs a secret from any `threshold` or more shares. The first `threshold` determine
/// the secret; every further share is checked against it (the secret rebuilt with that share in
/// place of the last of the first `threshold` must agree), so a share that was altered is
/// reported as [`ShamirError::Inconsistent`] instead of silently shifting the result.
pub fn reconstruct(
    shares: &[Share],
    threshold: usize,
) -> Result<Zeroizing<[u8; SECRET_LEN]>, ShamirError> {
    let xs: Vec<ParticipantId> = shares.iter().map(|s| s.x).collect();
    let r = Reconstructor::new(&xs, threshold)?;
    let mut refs: Vec<&Share> = shares.iter().collect();
    let secret = r.reconstruct(&refs)?;
    for extra in threshold..shares.len() {
        refs.swap(threshold - 1, extra);
        let xs: Vec<ParticipantId> = refs[..threshold].iter().map(|s| s.x).collect();
        let again = Reconstructor::new(&xs, threshold)?.reconstruct(&refs[..threshold]);
        refs.swap(threshold - 1, extra);
        match again {
            Ok(s) if bool::from(s.ct_eq(&*secret)) => {}
            _ => return Err(ShamirError::Inconsistent),
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct CountingRng(u64);
    impl rand_core::TryRng for CountingRng {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            Ok(self.0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for b in dst {
                *b = (self.try_next_u64()? >> 56) as u8;
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for CountingRng {}

    fn ids(v: impl IntoIterator<Item = u16>) -> Vec<ParticipantId> {
        v.into_iter()
            .map(|i| ParticipantId::new(i).unwrap())
            .collect()
    }

    #[test]
    fn roundtrip_and_subsets() {
        let secret = [0xffu8; 32];
        let holders = ids(1..=7);
        let shares = split(&secret, 4, &holders, &mut CountingRng(1)).unwrap();
        assert_eq!(*reconstruct(&shares, 4).unwrap(), secret);
        assert_eq!(*reconstruct(&shares[3..], 4).unwrap(), secret);
        assert!(matches!(
            reconstruct(&shares[..3], 4),
            Err(ShamirError::TooFewShares { got: 3, need: 4 })
        ));
        // t - 1 shares interpolated as if t were smaller give garbage, not the secret.
        match reconstruct(&shares[..3], 3) {
            Ok(s) => assert_ne!(*s, secret),
            Err(e) => assert_eq!(e, ShamirError::Inconsistent),
        }
    }

    #[test]
    fn cached_denominators_reconstruct_the_same() {
        let mut cache = LagrangeCache::new();
        // Shifted copies of one shape share an entry; an unsorted set and another shape do not.
        let sets: Vec<Vec<u16>> = vec![
            vec![1, 2, 4, 9, 10],
            vec![11, 12, 14, 19, 20],
            vec![101, 102, 104, 109, 110],
            vec![20, 19, 14, 12, 11],
            vec![3, 5, 6, 7, 60000],
        ];
        for (k, xs) in sets.iter().enumerate() {
            let secret = [k as u8 * 37 + 1; 32];
            let holders = ids(xs.iter().copied());
            let shares = split(&secret, 5, &holders, &mut CountingRng(k as u64)).unwrap();
            let refs: Vec<&Share> = shares.iter().collect();
            let fresh = Reconstructor::new(&holders, 5).unwrap();
            let cached = Reconstructor::with_cache(&holders, 5, &mut cache).unwrap();
            assert_eq!(fresh.lambdas, cached.lambdas, "{xs:?}");
            assert_eq!(*cached.reconstruct(&refs).unwrap(), secret);
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn encoding_roundtrip_and_rejections() {
        let shares = split(&[1; 32], 2, &ids([5, 9]), &mut CountingRng(2)).unwrap();
        let b = shares[0].to_bytes();
        assert_eq!(Share::from_bytes(&b[..]).unwrap(), shares[0]);
        assert_eq!(
            Share::from_bytes(&b[..35]),
            Err(ShamirError::MalformedShare)
        );
        let mut z = *b;
        z[0] = 0;
        z[1] = 0;
        assert_eq!(Share::from_bytes(&z), Err(ShamirError::ZeroX));
        let mut nc = *b;
        nc[18] = 0xff;
        assert_eq!(Share::from_bytes(&nc), Err(ShamirError::MalformedShare));
    }

    #[test]
    fn an_altered_share_is_detected_when_extra_shares_exist() {
        let holders = ids([2, 5, 9, 12]);
        let mut shares = split(&[42; 32], 3, &holders, &mut CountingRng(9)).unwrap();
        assert_eq!(*reconstruct(&shares, 3).unwrap(), [42; 32]);
        // Shift holder 2's first element: alone (exactly t shares) it goes unnoticed...
        shares[0].y[0] = shares[0].y[0] + FieldElement::ONE;
        assert_ne!(
            reconstruct(&shares[..3], 3).ok().map(|s| *s),
            Some([42; 32])
        );
        // ...but the fourth share exposes it.
        assert_eq!(
            reconstruct(&shares, 3).unwrap_err(),
            ShamirError::Inconsistent
        );
    }

    #[test]
    fn duplicates_and_thresholds() {
        assert_eq!(
            split(&[0; 32], 2, &ids([3, 3]), &mut CountingRng(3)).unwrap_err(),
            ShamirError::DuplicateX(3)
        );
        assert!(matches!(
            split(&[0; 32], 0, &ids([1]), &mut CountingRng(3)),
            Err(ShamirError::InvalidThreshold { .. })
        ));
        let s = split(&[0; 32], 2, &ids([1, 2]), &mut CountingRng(3)).unwrap();
        let dup = vec![s[0].clone(), s[0].clone()];
        assert_eq!(
            reconstruct(&dup, 2).unwrap_err(),
            ShamirError::DuplicateX(1)
        );
    }
}
