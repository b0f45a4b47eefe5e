//! The client pipeline (spec `ddp.md`, "Client pipeline"): clip, pad, rotate, scale,
//! conditionally round, add discrete noise, reduce into `Z_{2^bits}` for masking.
//!
//! Every intermediate vector holds (a function of) the client's private input or its private
//! noise, so all of them zeroize on drop. The noise of one client must stay secret: the sum is
//! private only because nobody sees an individual noise share.

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::clip::clip_l2;
use super::config::{DpConfig, Mechanism};
use super::rotation::Rotation;
use super::rounding::conditional_round;
use super::sample::{discrete_gaussian, skellam};
use super::DdpError;
use crate::ring::{Bits, RingVec};

/// What the pipeline did to one input (no private values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeReport {
    /// Whether the input's L2 norm exceeded the clip and was scaled down.
    pub clipped: bool,
    /// How many rounding attempts the norm check needed.
    pub rounding_attempts: u32,
}

/// Runs the pipeline on `input` (length `cfg.dim()`); the result has length `cfg.padded_dim()`.
pub fn encode<R: CryptoRng + ?Sized>(
    cfg: &DpConfig,
    rotation: &Rotation,
    input: &[f64],
    rng: &mut R,
) -> Result<(RingVec, EncodeReport), DdpError> {
    let (ints, report) = encode_integers(cfg, rotation, input, rng)?;
    let bits = Bits::new(u32::from(cfg.bits())).map_err(|_| DdpError::InvalidBits(cfg.bits()))?;
    // Two's-complement wrap then masking is reduction mod 2^bits.
    let v = RingVec::from_u64s_reduced(bits, ints.iter().map(|&z| z as u64));
    Ok((v, report))
}

/// [`encode`] up to the noisy integers, before the reduction into the ring (for tests and the
/// test vectors).
pub fn encode_integers<R: CryptoRng + ?Sized>(
    cfg: &DpConfig,
    rotation: &Rotation,
    input: &[f64],
    rng: &mut R,
) -> Result<(Zeroizing<Vec<i64>>, EncodeReport), DdpError> {
    if input.len() != cfg.dim() {
        return Err(DdpError::LengthMismatch {
            expected: cfg.dim(),
            got: input.len(),
        });
    }
    if rotation.padded_dim() != cfg.padded_dim() {
        return Err(DdpError::LengthMismatch {
            expected: cfg.padded_dim(),
            got: rotation.padded_dim(),
        });
    }
    let mut x = Zeroizing::new(vec![0.0f64; cfg.padded_dim()]);
    x[..input.len()].copy_from_slice(input);
    let clipped = clip_l2(&mut x[..input.len()], cfg.clip())?;
    rotation.forward(&mut x);
    let scale = cfg.scale();
    x.iter_mut().for_each(|v| *v *= scale);
    let (mut ints, rounding_attempts) = conditional_round(&x, cfg.norm_bound_sq(), rng)?;
    add_noise(cfg, &mut ints, rng);
    Ok((
        ints,
        EncodeReport {
            clipped,
            rounding_attempts,
        },
    ))
}

/// Adds one noise draw per coordinate, in coordinate order.
pub fn add_noise<R: CryptoRng + ?Sized>(cfg: &DpConfig, v: &mut [i64], rng: &mut R) {
    let num = cfg.noise_raw();
    match cfg.mechanism() {
        Mechanism::DiscreteGaussian => v
            .iter_mut()
            .for_each(|z| *z = z.wrapping_add(discrete_gaussian(rng, num))),
        Mechanism::Skellam => v
            .iter_mut()
            .for_each(|z| *z = z.wrapping_add(skellam(rng, num))),
    }
}
