//! Local differential privacy (LDP) for categorical data: each device privatises its own value
//! before it leaves, the server estimates frequencies from the noisy reports.
//!
//! # Contents
//!
//! * Single-attribute frequency oracles, all pure protocols in the sense of Wang et al. (USENIX
//!   Security 2017) and all implementing [`FrequencyOracle`]: [`Grr`] (k-RR), [`Ue`] (SUE = basic
//!   RAPPOR, OUE), [`Lh`] (BLH, OLH, with the hash family specified in [`lh`]), [`Hr`] (Hadamard
//!   response, high-privacy form), [`Ss`] (subset selection) and [`Adp`] (GRR if
//!   `k < 3e^ε + 2`, else OUE). Each exposes `p*`, `q*` ([`PureParams`]), the unbiased estimator,
//!   the closed-form variance and its exact worst-case privacy loss.
//! * Multidimensional protocols for `d` attributes ([`multidim`]): [`Spl`], [`Smp`] and [`RsFd`]
//!   (RS+FD of Arcolezi et al., CIKM 2021, with GRR, OUE-z, OUE-r and ADP fake data), with
//!   unbiased estimators, variances and exact privacy accounting at tuple and attribute level
//!   ([`PrivacyLoss`]).
//! * Post-processing of estimates ([`postprocess`]): raw, Norm-Sub (projection onto the
//!   probability simplex) and Norm-Mul (clip and rescale).
//! * Fixed-length byte encodings of every report ([`wire`], specified in `protocol-spec/ldp.md`).
//!
//! # Example
//!
//! Each device randomizes its value with k-RR ([`Grr`]) before it leaves; the server adds the
//! reports and estimates every category's frequency without bias.
//!
//! ```
//! use secagg::ldp::{FrequencyOracle, Grr};
//! use secagg::rand_core::SeedableRng;
//!
//! let oracle = Grr::new(4, 2.0)?; // 4 categories, epsilon = 2
//! let mut rng = secagg::rng::ChaCha20Rng::from_seed([5; 32]);
//! let mut server = oracle.aggregator();
//! for i in 0..20_000u32 {
//!     let value = u32::from(i % 10 == 0); // 10% say 1, 90% say 0
//!     let report = oracle.randomize(value, &mut rng)?; // on the device
//!     server.add(&report)?;
//! }
//! let freq = server.estimate();
//! assert!((freq[0] - 0.9).abs() < 0.03 && (freq[1] - 0.1).abs() < 0.03);
//! # Ok::<(), secagg::ldp::LdpError>(())
//! ```
//!
//! # Invariants
//!
//! * Every privacy parameter is finite and in `[MIN_EPSILON, MAX_EPSILON]`, every domain size in
//!   `[2, MAX_DOMAIN]`; constructors return [`LdpError`] otherwise.
//! * Randomness is injected (`&mut R` with `R: CryptoRng + ?Sized`); nothing here reads a global
//!   RNG, so every result is reproducible from a seed.
//! * Untrusted input (values, reports, report bytes) produces a typed [`LdpError`], never a panic.
//! * Estimators return the raw unbiased estimate; post-processing is opt-in and biased.

pub mod adp;
pub mod bits;
pub mod error;
pub mod estimator;
pub mod grr;
pub mod hr;
pub mod lh;
pub mod multidim;
pub mod oracle;
pub mod postprocess;
pub mod privacy;
pub mod rsfd;
mod sample;
pub mod smp;
pub mod spl;
pub mod ss;
pub mod synthetic;
pub mod ue;
pub mod vectors;
pub mod wire;

pub use adp::{Adp, AttrReport};
pub use bits::BitVector;
pub use error::LdpError;
pub use estimator::PureParams;
pub use grr::Grr;
pub use hr::Hr;
pub use lh::{Lh, LhReport};
pub use multidim::{Column, MultiCounts, MultidimProtocol, TupleBatch};
pub use oracle::{aggregate_parallel, Aggregator, FrequencyOracle};
pub use postprocess::PostProcess;
pub use privacy::PrivacyLoss;
pub use rsfd::{RsFd, RsFdVariant};
pub use smp::{Smp, SmpReport};
pub use spl::{BaseOracle, Spl};
pub use ss::Ss;
pub use ue::Ue;

/// Smallest accepted privacy parameter (below it `e^ε` is too close to 1 for the probabilities
/// of the oracles to stay distinct in double precision).
pub const MIN_EPSILON: f64 = 1e-6;

/// Largest accepted privacy parameter (keeps `e^ε` and derived sizes finite and meaningful).
pub const MAX_EPSILON: f64 = 30.0;

/// Largest accepted domain size.
pub const MAX_DOMAIN: u32 = 1 << 30;

/// Validates a privacy parameter.
pub(crate) fn check_epsilon(eps: f64) -> Result<f64, LdpError> {
    if eps.is_finite() && (MIN_EPSILON..=MAX_EPSILON).contains(&eps) {
        Ok(eps)
    } else {
        Err(LdpError::InvalidEpsilon {
            value: eps,
            max: MAX_EPSILON,
        })
    }
}

/// Validates a domain size.
pub(crate) fn check_domain(k: u32) -> Result<u32, LdpError> {
    if k < 2 {
        Err(LdpError::DomainTooSmall(u64::from(k)))
    } else if k > MAX_DOMAIN {
        Err(LdpError::DomainTooLarge {
            got: u64::from(k),
            max: u64::from(MAX_DOMAIN),
        })
    } else {
        Ok(k)
    }
}

/// Validates a client value.
pub(crate) fn check_value(value: u32, k: u32) -> Result<(), LdpError> {
    if value < k {
        Ok(())
    } else {
        Err(LdpError::ValueOutOfDomain {
            value: u64::from(value),
            k: u64::from(k),
        })
    }
}
