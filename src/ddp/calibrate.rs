//! Choosing the scale `1/gamma` and the per-client noise for a target `(epsilon, delta)`
//! (spec `ddp.md`, "Calibration").
//!
//! * Privacy: for a scale `s` the rounded norm bound is `floor(rounded_norm_bound_sq(C s, beta,
//!   D))`, and the noise is the smallest value whose guarantee with `min_clients` noise shares
//!   (the fewest the protocol lets into a sum) meets the target over `rounds` rounds, by the
//!   papers' bounds ([`super::accounting::bound_rdp_curve`]). More survivors only add noise, so
//!   every larger surviving set is covered.
//! * Wrap: the centered sum of up to `max_clients` vectors on one coordinate is the rotated
//!   signal (sub-Gaussian over the rotation signs with variance proxy `(n C s)^2 / D`, the worst
//!   case of aligned inputs), plus the rounding errors, plus the noise (the discrete Gaussian is
//!   `sigma^2`-sub-Gaussian, CKS20; Skellam has log-mgf `mu (cosh t - 1)`). The bound is the
//!   smaller of (a) the rounding errors taken deterministically (`|sum| <= n`), and (b) the
//!   rounding errors as independent `1/4`-sub-Gaussians, divided by `(1 - beta)^n` for the
//!   conditioning; each by a Chernoff bound, times `2 D` (both tails, union over coordinates).
//!   The largest scale whose wrap bound is at most `max_wrap` is chosen (bisection).

use super::accounting::{
    bound_rdp_curve, guarantee, orders, rdp_to_epsilon, rounded_norm_bound_sq, Guarantee,
};
use super::config::{DpConfig, Mechanism, MAX_BITS, MIN_BITS};
use super::sample::{MAX_DGAUSS_NUM, MAX_SKELLAM_NUM};
use super::DdpError;

/// What the coordinator wants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationTarget {
    /// Noise mechanism.
    pub mechanism: Mechanism,
    /// Target epsilon over all `rounds`.
    pub epsilon: f64,
    /// Target delta.
    pub delta: f64,
    /// L2 clip `C` of each input.
    pub clip: f64,
    /// Input dimension.
    pub dim: u32,
    /// Ring width.
    pub bits: u8,
    /// Fewest clients whose noise is guaranteed to be in a sum (the protocol's threshold, or
    /// the cohort times one minus the dropout rate).
    pub min_clients: u64,
    /// Most clients whose inputs can be in a sum (for the wrap bound).
    pub max_clients: u64,
    /// Conditional rounding parameter (TFF's default is `exp(-1/2)`).
    pub beta: f64,
    /// Largest acceptable probability that some coordinate of the sum wraps.
    pub max_wrap: f64,
    /// Rounds the guarantee must cover (RDP composition).
    pub rounds: u32,
}

/// A calibrated configuration and what it promises.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The configuration to put in the session parameters.
    pub config: DpConfig,
    /// The guarantee with `min_clients` noise shares.
    pub guarantee: Guarantee,
    /// Upper bound on the probability that any coordinate of a sum of `max_clients` wraps.
    pub wrap_probability: f64,
}

impl Calibration {
    /// Predicted mean squared error per coordinate of the decoded mean of `included` clients,
    /// without clipping: `(noise variance + 1/6) / (s^2 n)`, where `1/6` is the mean variance of
    /// randomized rounding for uniformly spread fractional parts.
    pub fn predicted_mse(&self, included: u64) -> f64 {
        let s = self.config.scale();
        (noise_variance(&self.config) + 1.0 / 6.0) / (s * s * included as f64)
    }
}

/// The variance of one client's noise on one coordinate (exact for the discrete Gaussian: the
/// sum over its support, which differs from `sigma^2` only for small `sigma`).
pub fn noise_variance(cfg: &DpConfig) -> f64 {
    let v = cfg.noise_param();
    match cfg.mechanism() {
        Mechanism::Skellam => v,
        Mechanism::DiscreteGaussian => {
            if v > 1e6 {
                return v;
            }
            let k = (40.0 * v.sqrt()).ceil() as i64 + 2;
            let (mut num, mut den) = (0.0, 0.0);
            for z in -k..=k {
                let w = (-((z * z) as f64) / (2.0 * v)).exp();
                num += (z * z) as f64 * w;
                den += w;
            }
            num / den
        }
    }
}

fn validate(t: &CalibrationTarget) -> Result<(), DdpError> {
    if !(t.epsilon.is_finite() && t.epsilon > 0.0) {
        return Err(DdpError::InvalidEpsilon(t.epsilon));
    }
    if !(t.delta > 0.0 && t.delta < 1.0) {
        return Err(DdpError::InvalidDelta(t.delta));
    }
    if !(t.clip.is_finite() && t.clip > 0.0) {
        return Err(DdpError::InvalidClip(t.clip));
    }
    if !(t.beta > 0.0 && t.beta < 1.0) {
        return Err(DdpError::InvalidBeta(t.beta));
    }
    if !(t.max_wrap > 0.0 && t.max_wrap < 1.0) {
        return Err(DdpError::InvalidWrapTarget(t.max_wrap));
    }
    if t.min_clients == 0 || t.min_clients > t.max_clients || t.max_clients > u64::from(u32::MAX) {
        return Err(DdpError::InvalidClients {
            min: t.min_clients,
            max: t.max_clients,
        });
    }
    if !(MIN_BITS..=MAX_BITS).contains(&t.bits) {
        return Err(DdpError::InvalidBits(t.bits));
    }
    if t.dim == 0 || t.dim > super::config::MAX_DIM {
        return Err(DdpError::InvalidDim(u64::from(t.dim)));
    }
    Ok(())
}

fn config_at(t: &CalibrationTarget, scale: f64, noise: u64) -> Result<DpConfig, DdpError> {
    let padded = (t.dim as usize).next_power_of_two();
    let nb = rounded_norm_bound_sq(t.clip * scale, t.beta, padded).floor() as u64;
    DpConfig::new(t.mechanism, t.bits, t.dim, t.clip, scale, nb, noise)
}

fn epsilon_of(t: &CalibrationTarget, cfg: &DpConfig, ords: &[f64]) -> f64 {
    let r = f64::from(t.rounds.max(1));
    let curve: Vec<f64> = bound_rdp_curve(cfg, t.min_clients, ords)
        .iter()
        .map(|x| x * r)
        .collect();
    rdp_to_epsilon(ords, &curve, t.delta)
}

/// The smallest noise meeting the target at `scale`, or `None` if even the largest does not.
fn noise_for_scale(t: &CalibrationTarget, scale: f64, ords: &[f64]) -> Option<DpConfig> {
    let max = match t.mechanism {
        Mechanism::DiscreteGaussian => MAX_DGAUSS_NUM,
        Mechanism::Skellam => MAX_SKELLAM_NUM,
    };
    let ok = |v: u64| {
        config_at(t, scale, v)
            .ok()
            .filter(|c| epsilon_of(t, c, ords) <= t.epsilon)
    };
    let best = ok(max)?;
    if let Some(c) = ok(1) {
        return Some(c);
    }
    let (mut lo, mut hi) = (1u64, max); // ok(lo) false, ok(hi) true
    let mut found = best;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match ok(mid) {
            Some(c) => {
                hi = mid;
                found = c;
            }
            None => lo = mid,
        }
    }
    Some(found)
}

/// `ln P(|S| >= a)` bound by Chernoff for a sum with log-mgf `lmgf(t)` (symmetric), times 2.
fn chernoff_ln_two_sided(a: f64, lmgf: impl Fn(f64) -> f64, t_max: f64) -> f64 {
    // The exponent lmgf(t) - t a is convex in t: ternary search on [0, t_max].
    let f = |t: f64| lmgf(t) - t * a;
    let (mut lo, mut hi) = (0.0f64, t_max.max(1e-12));
    for _ in 0..200 {
        let m1 = lo + (hi - lo) / 3.0;
        let m2 = hi - (hi - lo) / 3.0;
        if f(m1) < f(m2) {
            hi = m2;
        } else {
            lo = m1;
        }
    }
    2f64.ln() + f(0.5 * (lo + hi)).min(0.0)
}

/// Upper bound on the probability that any coordinate of a sum of `n` clients wraps.
pub fn wrap_probability(cfg: &DpConfig, n: u64, beta: f64) -> f64 {
    let d = cfg.padded_dim() as f64;
    let nf = n as f64;
    let c = cfg.clip() * cfg.scale();
    let m = (1u64 << (cfg.bits() - 1)) as f64;
    let vs = (nf * c).powi(2) / d;
    let v = cfg.noise_param();
    let noise = |t: f64| match cfg.mechanism() {
        Mechanism::DiscreteGaussian => nf * v * t * t / 2.0,
        // Skellam of variance v: each Poisson(v/2) contributes (v/2)(e^t - 1) and (v/2)(e^-t - 1).
        Mechanism::Skellam => nf * v * (t.cosh() - 1.0),
    };
    let t_cap = 700.0f64;
    // (a) deterministic rounding error |sum e| < n.
    let ln_a = if m > nf {
        chernoff_ln_two_sided(
            m - nf,
            |t| vs * t * t / 2.0 + noise(t),
            t_cap.min((m - nf) / vs.max(1e-300)),
        )
    } else {
        0.0
    };
    // (b) rounding errors 1/4-sub-Gaussian, conditioning costs (1 - beta)^-n.
    let ln_b = chernoff_ln_two_sided(
        m,
        |t| (vs + nf / 4.0) * t * t / 2.0 + noise(t),
        t_cap.min(m / (vs + nf / 4.0)),
    ) - nf * (1.0 - beta).ln();
    (d.ln() + ln_a.min(ln_b)).exp().min(1.0)
}

/// What an operator asks of one SecAgg session's distributed DP. The rest of the
/// [`CalibrationTarget`] follows from the session ([`SessionDp::target`]): the noise must
/// suffice with the fewest clients a completed session is sure to include that are honest,
/// `max(1, t + 1 - c)` (the count a client's policy checks, spec section 17), and the sum of the
/// whole cohort must wrap with probability at most `max_wrap`. Shared by the session builder and
/// the coordinator's configuration, so both calibrate the same way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionDp {
    /// Noise mechanism.
    pub mechanism: Mechanism,
    /// Target epsilon over `rounds` sessions.
    pub epsilon: f64,
    /// Target delta; `None`: [`SessionDp::default_delta`] for the cohort size.
    pub delta: Option<f64>,
    /// L2 clip of each client's vector.
    pub l2_clip: f64,
    /// Sessions the guarantee must cover (composition).
    pub rounds: u32,
    /// Largest acceptable probability that some coordinate of the sum wraps.
    pub max_wrap: f64,
}

impl SessionDp {
    /// Epsilon `epsilon` for one session of vectors clipped to L2 norm `l2_clip`, with the
    /// discrete Gaussian, the default delta and a wrap probability of at most 1e-9.
    pub fn new(epsilon: f64, l2_clip: f64) -> Self {
        Self {
            mechanism: Mechanism::DiscreteGaussian,
            epsilon,
            delta: None,
            l2_clip,
            rounds: 1,
            max_wrap: 1e-9,
        }
    }

    /// `min(1e-6, 1/n^2)`: well below the chance of any one of `n` clients being singled out.
    pub fn default_delta(n: usize) -> f64 {
        (1e-6f64).min(1.0 / (n as f64 * n as f64))
    }

    /// The clients whose noise a completed session is sure to hold: `max(1, t + 1 - c)`.
    pub fn noisy_clients(threshold: u16, max_corrupt_neighbours: u16) -> u64 {
        (u64::from(threshold) + 1)
            .saturating_sub(u64::from(max_corrupt_neighbours))
            .max(1)
    }

    /// The calibration target for a session of `n` clients with inputs of `dim` values in a
    /// ring of `bits` bits, threshold `t` and corruption bound `c`.
    pub fn target(
        &self,
        dim: u32,
        bits: u8,
        n: usize,
        threshold: u16,
        max_corrupt_neighbours: u16,
    ) -> CalibrationTarget {
        CalibrationTarget {
            mechanism: self.mechanism,
            epsilon: self.epsilon,
            delta: self.delta.unwrap_or_else(|| Self::default_delta(n)),
            clip: self.l2_clip,
            dim,
            bits,
            min_clients: Self::noisy_clients(threshold, max_corrupt_neighbours),
            max_clients: n as u64,
            beta: (-0.5f64).exp(),
            max_wrap: self.max_wrap,
            rounds: self.rounds.max(1),
        }
    }
}

/// Calibrates a configuration for `target` (module docs).
pub fn calibrate(target: &CalibrationTarget) -> Result<Calibration, DdpError> {
    validate(target)?;
    let ords = orders();
    let feasible = |s: f64| -> Option<(DpConfig, f64)> {
        let cfg = noise_for_scale(target, s, &ords)?;
        let w = wrap_probability(&cfg, target.max_clients, target.beta);
        Some((cfg, w))
    };
    // Scales from C s = 2^-10 up to C s = 2^39 (the configuration's limit), bisected in log space.
    let mut lo = (2f64.powi(-10) / target.clip).ln();
    let mut hi = (2f64.powi(39) / target.clip).ln();
    let (mut best, mut best_wrap) = match feasible(lo.exp()) {
        Some((c, w)) if w <= target.max_wrap => (c, w),
        Some((_, w)) => {
            return Err(DdpError::BitsTooSmall {
                bits: target.bits,
                clients: target.max_clients,
                target: target.max_wrap,
                best: w,
            })
        }
        None => {
            return Err(DdpError::NoiseOutOfRange {
                epsilon: target.epsilon,
            })
        }
    };
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        match feasible(mid.exp()) {
            Some((c, w)) if w <= target.max_wrap => {
                lo = mid;
                best = c;
                best_wrap = w;
            }
            _ => hi = mid,
        }
    }
    let g = guarantee(
        &best,
        target.min_clients,
        target.delta,
        target.rounds,
        false,
    );
    Ok(Calibration {
        config: best,
        guarantee: g,
        wrap_probability: best_wrap,
    })
}
