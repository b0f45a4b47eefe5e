//! L2 clipping (spec `ddp.md`, "Clipping").
//!
//! `x -> x * min(1, C / ||x||_2)`. The norm is computed in binary64 with a scaled sum so that
//! inputs near `f64::MAX` cannot overflow it; the result's norm is at most `C (1 + 2^-50)`, and the
//! privacy argument never relies on it (the rounding step enforces an exact integer bound).

use super::DdpError;

/// Clips `x` in place to L2 norm `clip`; returns whether it was scaled down.
pub fn clip_l2(x: &mut [f64], clip: f64) -> Result<bool, DdpError> {
    if let Some(index) = x.iter().position(|v| !v.is_finite()) {
        return Err(DdpError::NonFinite { index });
    }
    let (m, s) = scaled_sum_sq(x);
    // norm = m sqrt(s) may overflow to infinity for inputs near f64::MAX; compare and scale
    // with the factors kept apart.
    if m == 0.0 || s.sqrt() <= clip / m {
        return Ok(false);
    }
    let factor = (clip / m) / s.sqrt();
    x.iter_mut().for_each(|v| *v *= factor);
    Ok(true)
}

/// The L2 norm, computed as `m * sqrt(sum (x_i / m)^2)` with `m = max |x_i|`.
pub fn l2_norm(x: &[f64]) -> f64 {
    let (m, s) = scaled_sum_sq(x);
    m * s.sqrt()
}

/// `(m, s)` with `m = max |x_i|` and `s = sum (x_i / m)^2` (`s = 0` if `m` is 0 or not finite).
fn scaled_sum_sq(x: &[f64]) -> (f64, f64) {
    let m = x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    if m == 0.0 || !m.is_finite() {
        return (m, 0.0);
    }
    (m, x.iter().map(|v| (v / m) * (v / m)).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_only_when_needed() {
        let mut a = vec![3.0, 4.0];
        assert!(!clip_l2(&mut a, 5.0).unwrap());
        assert_eq!(a, vec![3.0, 4.0]);
        assert!(clip_l2(&mut a, 1.0).unwrap());
        assert!((l2_norm(&a) - 1.0).abs() < 1e-15);
        let mut huge = vec![f64::MAX, f64::MAX];
        assert!(clip_l2(&mut huge, 2.0).unwrap());
        assert!((l2_norm(&huge) - 2.0).abs() < 1e-12);
        assert_eq!(
            clip_l2(&mut [1.0, f64::NAN], 1.0),
            Err(DdpError::NonFinite { index: 1 })
        );
    }
}
