//! The DP configuration of a session, [`DpConfig`], and its canonical encoding
//! (spec `ddp.md`, "Configuration").
//!
//! Everything a client needs to run the pipeline and everything anyone needs to recompute the
//! privacy guarantee is in this value; nothing in it is secret. Invariant: a `DpConfig` only exists
//! in validated form ([`DpConfig::new`] and [`DpConfig::decode`] both validate), so the pipeline
//! never meets a zero clip, a NaN scale or a noise parameter outside the samplers' exact range.
//!
//! ```text
//! u8 version = 1 | u8 mechanism (1 = discrete Gaussian, 2 = Skellam) | u8 bits | u32be dim
//! | f64be clip | f64be scale | u64be norm_bound_sq | u64be noise          (39 bytes)
//! ```

use super::sample::{MAX_DGAUSS_NUM, MAX_SKELLAM_NUM, NOISE_DENOM};
use super::DdpError;

/// Encoding version of [`DpConfig`].
pub const DP_CONFIG_VERSION: u8 = 1;
/// Length of the canonical encoding.
pub const DP_CONFIG_LEN: usize = 39;
/// Largest input dimension: the padded dimension is at most `2^24`.
pub const MAX_DIM: u32 = 1 << 24;
/// Smallest and largest ring widths the DP pipeline accepts.
pub const MIN_BITS: u8 = 2;
/// See [`MIN_BITS`]. Centered values and noise are `i64`, so at most 62 bits.
pub const MAX_BITS: u8 = 62;

/// Which discrete noise each client adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// Discrete Gaussian `N_Z(0, sigma^2)` per coordinate (Kairouz, Liu, Steinke, ICML 2021).
    DiscreteGaussian,
    /// Symmetric Skellam with variance `mu` per coordinate (Agarwal, Kairouz, Liu, NeurIPS 2021).
    Skellam,
}

impl Mechanism {
    /// Wire code.
    pub const fn code(self) -> u8 {
        match self {
            Mechanism::DiscreteGaussian => 1,
            Mechanism::Skellam => 2,
        }
    }

    /// From the wire code.
    pub fn from_code(code: u8) -> Result<Self, DdpError> {
        match code {
            1 => Ok(Mechanism::DiscreteGaussian),
            2 => Ok(Mechanism::Skellam),
            other => Err(DdpError::UnknownMechanism(other)),
        }
    }

    fn max_noise(self) -> u64 {
        match self {
            Mechanism::DiscreteGaussian => MAX_DGAUSS_NUM,
            Mechanism::Skellam => MAX_SKELLAM_NUM,
        }
    }
}

/// A validated DP configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpConfig {
    mechanism: Mechanism,
    bits: u8,
    dim: u32,
    clip: f64,
    scale: f64,
    norm_bound_sq: u64,
    noise: u64,
}

impl DpConfig {
    /// Validates a configuration.
    ///
    /// * `bits`: ring width in `2..=62`; `dim`: input length in `1..=2^24`;
    /// * `clip` (L2 clip `C`) and `scale` (`1 / gamma`) positive and finite, `C * scale < 2^40`;
    /// * `norm_bound_sq`: the integer bound on the squared L2 norm of a client's rounded vector,
    ///   at least `(C scale)^2 + D / 4` (`D` the padded dimension) so that rounding can succeed,
    ///   and below `2^62`;
    /// * `noise`: per-client, per-coordinate noise parameter times `2^16` (`sigma^2` of the
    ///   discrete Gaussian or the Skellam variance), in `1..=` the sampler's exact range.
    pub fn new(
        mechanism: Mechanism,
        bits: u8,
        dim: u32,
        clip: f64,
        scale: f64,
        norm_bound_sq: u64,
        noise: u64,
    ) -> Result<Self, DdpError> {
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(DdpError::InvalidBits(bits));
        }
        if dim == 0 || dim > MAX_DIM {
            return Err(DdpError::InvalidDim(u64::from(dim)));
        }
        if !(clip.is_finite() && clip > 0.0) {
            return Err(DdpError::InvalidClip(clip));
        }
        if !(scale.is_finite() && scale > 0.0 && clip * scale < (1u64 << 40) as f64) {
            return Err(DdpError::InvalidScale(scale));
        }
        if noise == 0 || noise > mechanism.max_noise() {
            return Err(DdpError::InvalidNoise {
                noise,
                max: mechanism.max_noise(),
            });
        }
        let padded = u64::from(dim).next_power_of_two();
        let cs = clip * scale;
        let needed = cs * cs + padded as f64 / 4.0;
        if (norm_bound_sq as f64) < needed || norm_bound_sq >= 1 << 62 {
            return Err(DdpError::InvalidNormBound {
                norm_bound_sq,
                needed,
            });
        }
        Ok(Self {
            mechanism,
            bits,
            dim,
            clip,
            scale,
            norm_bound_sq,
            noise,
        })
    }

    /// The noise mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }
    /// Ring width the sum lives in.
    pub fn bits(&self) -> u8 {
        self.bits
    }
    /// Input dimension `d`.
    pub fn dim(&self) -> usize {
        self.dim as usize
    }
    /// Padded dimension `D = 2^ceil(log2 d)`: the length of every client's ring vector.
    pub fn padded_dim(&self) -> usize {
        (self.dim as usize).next_power_of_two()
    }
    /// L2 clip bound `C`.
    pub fn clip(&self) -> f64 {
        self.clip
    }
    /// Scale `1 / gamma` applied after the rotation.
    pub fn scale(&self) -> f64 {
        self.scale
    }
    /// Bound on the squared L2 norm of a rounded client vector (the sum's L2 sensitivity squared).
    pub fn norm_bound_sq(&self) -> u64 {
        self.norm_bound_sq
    }
    /// Raw noise parameter (times `2^16`).
    pub fn noise_raw(&self) -> u64 {
        self.noise
    }
    /// Per-client, per-coordinate noise parameter in scaled units (`sigma^2` or Skellam `mu`).
    pub fn noise_param(&self) -> f64 {
        self.noise as f64 / NOISE_DENOM as f64
    }

    /// Canonical encoding (39 bytes).
    pub fn encode(&self) -> [u8; DP_CONFIG_LEN] {
        let mut out = [0u8; DP_CONFIG_LEN];
        out[0] = DP_CONFIG_VERSION;
        out[1] = self.mechanism.code();
        out[2] = self.bits;
        out[3..7].copy_from_slice(&self.dim.to_be_bytes());
        out[7..15].copy_from_slice(&self.clip.to_bits().to_be_bytes());
        out[15..23].copy_from_slice(&self.scale.to_bits().to_be_bytes());
        out[23..31].copy_from_slice(&self.norm_bound_sq.to_be_bytes());
        out[31..39].copy_from_slice(&self.noise.to_be_bytes());
        out
    }

    /// Decodes and validates; any other length, version or field value is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, DdpError> {
        let b: &[u8; DP_CONFIG_LEN] = bytes
            .try_into()
            .map_err(|_| DdpError::EncodingLength(bytes.len()))?;
        if b[0] != DP_CONFIG_VERSION {
            return Err(DdpError::UnknownVersion(b[0]));
        }
        let word = |r: core::ops::Range<usize>| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[r]);
            u64::from_be_bytes(w)
        };
        let cfg = Self::new(
            Mechanism::from_code(b[1])?,
            b[2],
            u32::from_be_bytes([b[3], b[4], b[5], b[6]]),
            f64::from_bits(word(7..15)),
            f64::from_bits(word(15..23)),
            word(23..31),
            word(31..39),
        )?;
        // Canonical: -0.0 and other bit patterns that re-encode differently cannot occur for
        // positive finite floats, so decode(encode(x)) == x and encode(decode(b)) == b.
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> DpConfig {
        DpConfig::new(
            Mechanism::DiscreteGaussian,
            20,
            100,
            1.0,
            64.0,
            5000,
            3 << 16,
        )
        .unwrap()
    }

    #[test]
    fn roundtrip_and_length() {
        let c = good();
        let e = c.encode();
        assert_eq!(DpConfig::decode(&e).unwrap(), c);
        assert!(DpConfig::decode(&e[..38]).is_err());
        let mut bad = e;
        bad[0] = 2;
        assert_eq!(DpConfig::decode(&bad), Err(DdpError::UnknownVersion(2)));
        bad = e;
        bad[1] = 9;
        assert_eq!(DpConfig::decode(&bad), Err(DdpError::UnknownMechanism(9)));
    }

    #[test]
    fn bad_values_are_refused() {
        let m = Mechanism::DiscreteGaussian;
        assert!(matches!(
            DpConfig::new(m, 1, 10, 1.0, 1.0, 100, 1),
            Err(DdpError::InvalidBits(1))
        ));
        assert!(matches!(
            DpConfig::new(m, 20, 0, 1.0, 1.0, 100, 1),
            Err(DdpError::InvalidDim(0))
        ));
        for c in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                DpConfig::new(m, 20, 10, c, 1.0, 100, 1),
                Err(DdpError::InvalidClip(_))
            ));
        }
        assert!(matches!(
            DpConfig::new(m, 20, 10, 1.0, 0.0, 100, 1),
            Err(DdpError::InvalidScale(_))
        ));
        assert!(matches!(
            DpConfig::new(m, 20, 10, 1.0, 1.0, 100, 0),
            Err(DdpError::InvalidNoise { .. })
        ));
        assert!(matches!(
            DpConfig::new(
                Mechanism::Skellam,
                20,
                10,
                1.0,
                1.0,
                100,
                MAX_SKELLAM_NUM + 1
            ),
            Err(DdpError::InvalidNoise { .. })
        ));
        // (C scale)^2 + D/4 = 100 + 4 > 103.
        assert!(matches!(
            DpConfig::new(m, 20, 16, 1.0, 10.0, 103, 1),
            Err(DdpError::InvalidNormBound { .. })
        ));
    }
}
