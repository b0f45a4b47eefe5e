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
//! # Quick start: a histogram of one categorical value
//!
//! **Recommended default** for one categorical attribute: [`Adp`] (GRR for small domains, OUE
//! for large ones, whichever has the smaller variance at your `ε`), aggregated with
//! [`Aggregator`] and post-processed with [`PostProcess::NormSub`] (projection onto the
//! probability simplex: non-negative, sums to 1, and on skewed data usually far more accurate
//! than the raw estimate). For several attributes per user, [`RsFd`] with
//! [`RsFdVariant::Adp`] (see [`multidim`] for what its `ε` means) or [`Smp`].
//!
//! ```
//! use secagg::ldp::{Adp, FrequencyOracle, PostProcess};
//! use secagg::rand_core::SeedableRng;
//!
//! // 8 categories, epsilon = 1 for each user's report.
//! let oracle = Adp::new(8, 1.0)?;
//! // On each device (here: 20 000 simulated users, a fresh seed per device in practice).
//! let mut rng = secagg::ldp::SamplingRng::from_seed([7; 32]);
//! let values: Vec<u32> = (0..20_000u32).map(|i| [0, 0, 0, 1, 1, 2, 3, 7][(i % 8) as usize]).collect();
//! let reports = oracle.randomize_batch(&values, &mut rng)?;
//! // On the server: validate and count every report, then estimate.
//! let mut server = oracle.aggregator();
//! server.add_all(&reports)?;
//! let raw = server.estimate(); // unbiased, may be negative
//! let hist = PostProcess::NormSub.apply(&raw)?; // on the simplex
//! assert!((hist.iter().sum::<f64>() - 1.0).abs() < 1e-9);
//! assert!((hist[0] - 3.0 / 8.0).abs() < 0.05 && hist[4] < 0.05);
//! // Standard error of a raw estimate, from the closed-form variance:
//! let se = oracle.params().variance(0.375, server.n() as f64).sqrt();
//! assert!(se > 0.0 && se < 0.02);
//! # Ok::<(), secagg::ldp::LdpError>(())
//! ```
//!
//! Reports travel as bytes: `oracle.encode_report(&report, &mut buf)` on the device,
//! `server.add_bytes(&buf)` on the server (lengths fixed by the parameters, see
//! `protocol-spec/ldp.md`).
//!
//! # Using the crate for LDP only
//!
//! Turn the default features off and keep `ldp` (with `client`, which the crate's core modules
//! need to compile without the defaults; it adds no dependency): no networking, no async
//! runtime, no server, no QUIC stack.
//!
//! ```toml
//! secagg = { version = "0.1", default-features = false, features = ["ldp", "client"] }
//! ```
//!
//! # Randomness
//!
//! Every randomiser takes `&mut R` with `R: CryptoRng`; the samplers are exact for any such
//! generator (bounded integers by rejection, Bernoulli draws with a 64-bit fixed-point
//! threshold), so the generator decides speed, not distributions. Random words are most of a
//! client's cost. The documented choice, [`SamplingRng`], is [`AesCtrRng`]: the AES-128-CTR
//! keystream, buffered, 2–3× ChaCha12's `next_u64` here with hardware AES (AES-NI/VAES, ARMv8
//! AES; measured by `benches/ldp_compare.py`). On CPUs without AES
//! instructions use `chacha20::ChaCha12Rng` (ChaCha with 12 rounds keeps a wide margin over the
//! best attack on 7; ChaCha20 costs half again as much per word). Seed either from the operating
//! system on each device.
//!
//! # Size caps
//!
//! Besides `k <= MAX_DOMAIN`, constructors refuse parameters whose encoded report would exceed
//! [`MAX_REPORT_BYTES`] or whose server state would exceed [`MAX_COUNTERS`] counters, with
//! [`LdpError::TooLarge`], before allocating anything (e.g. Hadamard response at `k = 2^30` needs
//! `2^31` counters, an SS report at `k = 2^30`, `ε = 10^-3` would be 2 GB).
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
pub mod rng;
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
pub use lh::LhKind;
pub use lh::{Lh, LhReport};
pub use multidim::{Column, MultiCounts, MultidimProtocol, TupleBatch};
pub use multidim::{EpsilonLevel, TupleReport};
pub use oracle::{aggregate_parallel, Aggregator, FrequencyOracle};
pub use postprocess::PostProcess;
pub use privacy::PrivacyLoss;
pub use rsfd::FakeData;
pub use rsfd::{RsFd, RsFdVariant};
pub use smp::{Smp, SmpReport};
pub use spl::{BaseOracle, Spl};
pub use ss::Ss;
pub use ss::SsReport;
pub use ue::Ue;
pub use ue::UeKind;

/// Smallest accepted privacy parameter (below it `e^ε` is too close to 1 for the probabilities
/// of the oracles to stay distinct in double precision).
pub const MIN_EPSILON: f64 = 1e-6;

/// Largest accepted privacy parameter (keeps `e^ε` and derived sizes finite and meaningful).
pub const MAX_EPSILON: f64 = 30.0;

/// Largest accepted domain size.
pub const MAX_DOMAIN: u32 = 1 << 30;

/// Largest encoded report a protocol may produce (1 MiB): a unary encoding up to `k = 2^23`,
/// a subset-selection report of `ω·width(k)` bytes up to this size.
pub const MAX_REPORT_BYTES: usize = 1 << 20;

/// Largest number of server-side counters a protocol may need (`2^27` 64-bit counters, 1 GiB):
/// `k` for most oracles, `K = 2^ceil(log2(k+1))` for Hadamard response, `Σ k_i` for the
/// multidimensional protocols.
pub const MAX_COUNTERS: usize = 1 << 27;

/// The generator this module recommends for sampling on CPUs with AES instructions:
/// [`AesCtrRng`] (see [`rng`] and the module docs; elsewhere prefer
/// `chacha20::ChaCha12Rng`).
pub type SamplingRng = AesCtrRng;

pub use rng::AesCtrRng;

/// Refuses a report size above [`MAX_REPORT_BYTES`].
pub(crate) fn check_report_bytes(what: &'static str, bytes: u64) -> Result<(), LdpError> {
    if bytes > MAX_REPORT_BYTES as u64 {
        Err(LdpError::TooLarge {
            what,
            size: bytes,
            unit: "bytes",
            max: MAX_REPORT_BYTES as u64,
            cap: "MAX_REPORT_BYTES",
        })
    } else {
        Ok(())
    }
}

/// Refuses a server state above [`MAX_COUNTERS`].
pub(crate) fn check_counters(what: &'static str, counters: u64) -> Result<(), LdpError> {
    if counters > MAX_COUNTERS as u64 {
        Err(LdpError::TooLarge {
            what,
            size: counters,
            unit: "counters",
            max: MAX_COUNTERS as u64,
            cap: "MAX_COUNTERS",
        })
    } else {
        Ok(())
    }
}

/// Checks an accumulator slice's length.
pub(crate) fn check_acc_len(acc: &[u64], expected: usize) -> Result<(), LdpError> {
    if acc.len() == expected {
        Ok(())
    } else {
        Err(LdpError::AccumulatorLength {
            expected,
            got: acc.len(),
        })
    }
}

/// Validates a derived privacy parameter (RS+FD's `ε' = ln(d(e^ε − 1) + 1)`, which exceeds
/// [`MAX_EPSILON`] by up to `ln d` when the caller's `ε` is in range): finite and at least
/// [`MIN_EPSILON`].
pub(crate) fn check_derived_epsilon(eps: f64) -> Result<f64, LdpError> {
    if eps.is_finite() && eps >= MIN_EPSILON {
        Ok(eps)
    } else {
        Err(LdpError::InvalidParameter(
            "derived epsilon is not finite or below MIN_EPSILON",
        ))
    }
}

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
