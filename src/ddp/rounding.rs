//! Conditional randomized rounding to the integer grid (spec `ddp.md`, "Rounding";
//! Kairouz, Liu, Steinke 2021, Section 4.1).
//!
//! Each coordinate `y` becomes `floor(y) + [u < y - floor(y)]` with `u = (w >> 11) 2^-53` for a
//! fresh RNG word `w`: unbiased, error in `(-1, 1)`. The whole vector is re-rounded until its
//! squared L2 norm, computed exactly in integers, is at most `norm_bound_sq`. That exact check is
//! what bounds the sum's sensitivity, so the privacy guarantee does not depend on any floating
//! point above it. With `norm_bound_sq` from [`super::accounting::rounded_norm_bound_sq`] and
//! `||y|| <= c`, one attempt succeeds with probability at least `1 - beta`.
//!
//! Conditioning introduces a bias of order `beta` times the rounding error; see the
//! accounting module for the variance the server should expect.

use rand_core::Rng;
use zeroize::Zeroizing;

use super::DdpError;

/// Attempts before giving up (probability at most `beta^64` for a calibrated configuration).
pub const MAX_ATTEMPTS: u32 = 64;

/// Rounds `y` (finite, `|y_i| < 2^52`) until `sum r_i^2 <= norm_bound_sq`; returns the integers
/// and the number of attempts used.
pub fn conditional_round<R: Rng + ?Sized>(
    y: &[f64],
    norm_bound_sq: u64,
    rng: &mut R,
) -> Result<(Zeroizing<Vec<i64>>, u32), DdpError> {
    if let Some(index) = y
        .iter()
        .position(|v| !(v.is_finite() && v.abs() < (1u64 << 52) as f64))
    {
        return Err(DdpError::NonFinite { index });
    }
    let mut out = Zeroizing::new(vec![0i64; y.len()]);
    for attempt in 1..=MAX_ATTEMPTS {
        let mut norm_sq: u128 = 0;
        for (r, &v) in out.iter_mut().zip(y) {
            let f = v.floor();
            let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            // f is an integer of magnitude < 2^52: the cast is exact.
            *r = f as i64 + i64::from(u < v - f);
            norm_sq += u128::from(r.unsigned_abs()) * u128::from(r.unsigned_abs());
        }
        if norm_sq <= u128::from(norm_bound_sq) {
            return Ok((out, attempt));
        }
    }
    Err(DdpError::RoundingFailed {
        attempts: MAX_ATTEMPTS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::rand_core::SeedableRng;
    use chacha20::ChaCha20Rng;

    #[test]
    fn unbiased_and_bounded() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let y = [0.25, -1.75, 3.0, 0.5];
        let trials = 40_000;
        let mut sums = [0f64; 4];
        for _ in 0..trials {
            let (r, _) = conditional_round(&y, u64::MAX >> 2, &mut rng).unwrap();
            for (i, (&ri, &yi)) in r.iter().zip(&y).enumerate() {
                assert!((ri as f64 - yi).abs() < 1.0);
                sums[i] += ri as f64;
            }
        }
        for (s, yi) in sums.iter().zip(&y) {
            // Bernoulli(p) mean, standard error at most 0.5 / sqrt(40000) = 0.0025: 5 sigma.
            assert!((s / trials as f64 - yi).abs() < 0.0125, "{s} {yi}");
        }
    }

    #[test]
    fn enforces_the_exact_bound() {
        let mut rng = ChaCha20Rng::seed_from_u64(10);
        let y = vec![0.5; 16];
        // Unconditioned squared norm is Binomial(16, 1/2): require <= 6.
        for _ in 0..200 {
            let (r, _) = conditional_round(&y, 6, &mut rng).unwrap();
            assert!(r.iter().map(|v| v * v).sum::<i64>() <= 6);
        }
        // Impossible bound: a clear error, not a hang.
        assert_eq!(
            conditional_round(&[2.0], 3, &mut rng).unwrap_err(),
            DdpError::RoundingFailed {
                attempts: MAX_ATTEMPTS
            }
        );
        assert!(conditional_round(&[f64::NAN], 3, &mut rng).is_err());
    }
}
