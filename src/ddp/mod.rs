//! Distributed differential privacy on the sum (spec `protocol-spec/ddp.md`).
//!
//! Secure aggregation hides each input from the server, but the sum itself can still reveal
//! an input (few clients, repeated rounds). Here every client adds a small share of discrete
//! noise before masking, so the sum the server unmasks already carries enough noise for a
//! central `(epsilon, delta)` guarantee and nobody ever sees an un-noised sum
//! (Kairouz, Liu, Steinke, ICML 2021; Agarwal, Kairouz, Liu, NeurIPS 2021).
//!
//! | step | module | side |
//! |---|---|---|
//! | configuration and its canonical bytes | [`config`] | both |
//! | L2 clipping | [`clip`] | client |
//! | randomized Hadamard rotation, seeded from the session id | [`rotation`] | both |
//! | conditional randomized rounding | [`rounding`] | client |
//! | exact discrete Gaussian / Skellam samplers (integer arithmetic only) | [`sample`] | client |
//! | the pipeline into `Z_{2^bits}` | [`client`] | client |
//! | centered decoding, unscaling, inverse rotation | [`decode`] | server |
//! | Renyi-DP accounting: the papers' bounds and the exact-distribution bound | [`accounting`] | anyone |
//! | choosing the scale and the noise for a target `(epsilon, delta)` | [`mod@calibrate`] | coordinator |
//!
//! Invariants: the samplers never touch floating point; the sensitivity the accounting uses is
//! the integer norm bound the client enforces exactly ([`rounding`]); the guarantee is stated
//! for the number of clients whose noise is actually in the sum, which dropouts can only lower
//! to the protocol's threshold, and the calibration targets that minimum.

// The configuration (part of the session parameters) builds everywhere; the pipeline, the
// accountant and the calibration use `std`'s floating-point functions.
#[cfg(feature = "std")]
pub mod accounting;
#[cfg(feature = "std")]
pub mod calibrate;
#[cfg(feature = "std")]
pub mod client;
#[cfg(feature = "std")]
pub mod clip;
pub mod config;
#[cfg(feature = "std")]
pub mod decode;
#[cfg(feature = "std")]
pub mod rotation;
#[cfg(feature = "std")]
pub mod rounding;
pub mod sample;

#[cfg(feature = "std")]
pub use calibrate::{calibrate, Calibration, CalibrationTarget, SessionDp};
#[cfg(feature = "std")]
pub use client::{encode, EncodeReport};
pub use config::{DpConfig, Mechanism};
#[cfg(feature = "std")]
pub use decode::{decode_sum, NoisySum};
#[cfg(feature = "std")]
pub use rotation::Rotation;

/// Errors of the DP pipeline, its configuration and its calibration. None carries private data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DdpError {
    /// Ring width outside what the pipeline supports.
    #[error("ring width {0} is outside 2..=62 bits")]
    InvalidBits(u8),
    /// Dimension zero or above `2^24`.
    #[error("dimension {0} is outside 1..=2^24")]
    InvalidDim(u64),
    /// Clip bound not positive and finite.
    #[error("L2 clip {0} must be positive and finite")]
    InvalidClip(f64),
    /// Scale not positive and finite, or clip times scale at least `2^40`.
    #[error("scale {0} must be positive, finite and keep clip * scale below 2^40")]
    InvalidScale(f64),
    /// Noise parameter outside the sampler's exact range.
    #[error("noise parameter {noise} (units of 2^-16) is outside 1..={max}")]
    InvalidNoise {
        /// The value.
        noise: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// Norm bound too small for rounding to succeed, or too large.
    #[error("norm bound {norm_bound_sq} must be at least (clip*scale)^2 + D/4 = {needed} and below 2^62")]
    InvalidNormBound {
        /// The value.
        norm_bound_sq: u64,
        /// The smallest sensible value.
        needed: f64,
    },
    /// Unknown mechanism code.
    #[error("unknown DP mechanism code {0}")]
    UnknownMechanism(u8),
    /// Unknown encoding version.
    #[error("unknown DP configuration version {0}")]
    UnknownVersion(u8),
    /// Encoding of the wrong length.
    #[error("DP configuration encoding has {0} bytes, expected 39")]
    EncodingLength(usize),
    /// A vector of the wrong length.
    #[error("vector has length {got}, expected {expected}")]
    LengthMismatch {
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A non-finite (or, after scaling, too large) input.
    #[error("input {index} is not finite or too large")]
    NonFinite {
        /// Its position.
        index: usize,
    },
    /// Conditional rounding did not meet the norm bound.
    #[error("conditional rounding failed to meet the norm bound in {attempts} attempts")]
    RoundingFailed {
        /// Attempts made.
        attempts: u32,
    },
    /// The sum has another ring width than the configuration.
    #[error("sum has {got} bits, configuration {expected}")]
    BitsMismatch {
        /// Configured width.
        expected: u8,
        /// Actual width.
        got: u32,
    },
    /// Zero clients.
    #[error("the number of clients must be at least 1")]
    NoClients,
    /// The session adds distributed-DP noise, and this build has no DP pipeline (it needs the
    /// `std` feature): a client must not send an input without its noise share.
    #[error("the session requires distributed-DP noise, which this build cannot add (enable the std feature)")]
    Unsupported,
    /// Target epsilon not positive and finite.
    #[error("epsilon {0} must be positive and finite")]
    InvalidEpsilon(f64),
    /// Target delta outside (0, 1).
    #[error("delta {0} must be in (0, 1)")]
    InvalidDelta(f64),
    /// Rounding parameter beta outside (0, 1).
    #[error("beta {0} must be in (0, 1)")]
    InvalidBeta(f64),
    /// Wrap-probability target outside (0, 1).
    #[error("the modular-wrap probability target {0} must be in (0, 1)")]
    InvalidWrapTarget(f64),
    /// Client counts that are zero or in the wrong order.
    #[error("client counts must satisfy 1 <= min_clients ({min}) <= max_clients ({max})")]
    InvalidClients {
        /// Minimum included clients.
        min: u64,
        /// Maximum included clients.
        max: u64,
    },
    /// No scale keeps the sum of `max_clients` noisy vectors inside the ring.
    #[error(
        "{bits} bits cannot hold the noisy sum of {clients} clients with wrap probability <= {target:e} \
         (best found {best:e}); increase bits or lower the number of clients"
    )]
    BitsTooSmall {
        /// Ring width.
        bits: u8,
        /// Clients summed.
        clients: u64,
        /// Wrap target.
        target: f64,
        /// Smallest wrap probability found.
        best: f64,
    },
    /// The noise needed exceeds the exact sampler's range at every admissible scale.
    #[error("epsilon {epsilon} needs more noise than the exact sampler supports at this scale")]
    NoiseOutOfRange {
        /// The target.
        epsilon: f64,
    },
}
