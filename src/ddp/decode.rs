//! The server side (spec `ddp.md`, "Decoding"): the unmasked sum in `Z_{2^bits}` is read as
//! centered integers in `[-2^(bits-1), 2^(bits-1))`, divided by the scale, rotated back and
//! truncated to the input dimension.
//!
//! Invariant: decoding is exact post-processing of the noisy integer sum, so it cannot weaken
//! the privacy guarantee; its accuracy holds unless the true integer sum left the centered
//! range (a modular wrap, whose probability the calibration bounds and reports).

use super::config::DpConfig;
use super::rotation::Rotation;
use super::DdpError;
use crate::ring::RingVec;

/// The decoded noisy aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct NoisySum {
    /// Noisy sum of the clipped inputs (length `dim`).
    pub sum: Vec<f64>,
    /// `sum / included`.
    pub mean: Vec<f64>,
    /// Number of clients whose input (and noise) is in the sum.
    pub included: u64,
}

/// Centered integer of a ring element.
pub fn centered(v: u64, bits: u32) -> i64 {
    let half = 1u64 << (bits - 1);
    if v >= half {
        (v as i128 - (1i128 << bits)) as i64
    } else {
        v as i64
    }
}

/// Decodes the unmasked sum of `included >= 1` client vectors.
pub fn decode_sum(
    cfg: &DpConfig,
    rotation: &Rotation,
    sum: &RingVec,
    included: u64,
) -> Result<NoisySum, DdpError> {
    if sum.bits().get() != u32::from(cfg.bits()) {
        return Err(DdpError::BitsMismatch {
            expected: cfg.bits(),
            got: sum.bits().get(),
        });
    }
    if sum.len() != cfg.padded_dim() || rotation.padded_dim() != cfg.padded_dim() {
        return Err(DdpError::LengthMismatch {
            expected: cfg.padded_dim(),
            got: sum.len(),
        });
    }
    if included == 0 {
        return Err(DdpError::NoClients);
    }
    let bits = u32::from(cfg.bits());
    let inv = 1.0 / cfg.scale();
    let mut y: Vec<f64> = sum.iter().map(|v| centered(v, bits) as f64 * inv).collect();
    rotation.inverse(&mut y);
    y.truncate(cfg.dim());
    let mean = y.iter().map(|v| v / included as f64).collect();
    Ok(NoisySum {
        sum: y,
        mean,
        included,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centering() {
        assert_eq!(centered(0, 8), 0);
        assert_eq!(centered(127, 8), 127);
        assert_eq!(centered(128, 8), -128);
        assert_eq!(centered(255, 8), -1);
        assert_eq!(centered(u64::MAX, 64), -1);
    }
}
