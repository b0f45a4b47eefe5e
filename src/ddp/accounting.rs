//! Privacy accounting for a sum of client noise shares (spec `ddp.md`, "Accounting").
//!
//! Neighbouring relation: two sessions differ in one client's input (present with its rounded
//! vector `r`, `||r||^2 <= norm_bound_sq`, versus absent), while the noise of at least
//! `n` clients is in the sum in both. The L2 sensitivity is therefore `sqrt(norm_bound_sq)` and the
//! L1 sensitivity `sqrt(norm_bound_sq) * min(sqrt(D), sqrt(norm_bound_sq))` (integer coordinates).
//!
//! Three sound Renyi-DP (RDP) curves, each composed additively over rounds and converted to
//! `(epsilon, delta)` with the tight conversion of Canonne, Kamath, Steinke (2020, Prop. 12) /
//! Balle et al. (2020): `epsilon = min_alpha rdp(alpha) + ln((alpha-1)/alpha) - (ln delta + ln alpha)/(alpha-1)`.
//!
//! * [`ddg_rdp`]: Kairouz, Liu, Steinke (ICML 2021), Proposition 14, for a sum of `n`
//!   independent discrete Gaussians `N_Z(0, sigma^2)`, with its `tau` term
//!   `tau = 10 sum_{k=1}^{n-1} exp(-2 pi^2 sigma^2 k / (k+1))`.
//! * [`skellam_rdp`]: Agarwal, Kairouz, Liu (NeurIPS 2021), for Skellam noise of total variance
//!   `mu`, integer orders only.
//! * [`ExactSum`]: the exact RDP of the actual noise distribution, the `n`-fold convolution of
//!   `N_Z(0, sigma^2)`, computed numerically. Soundness in `D` dimensions: the noise is
//!   independent across coordinates, so for an integer shift vector `v` the divergence is
//!   `sum_i f_alpha(v_i)` with `f_alpha(k) = D_alpha(Z + k || Z)` one-dimensional. With
//!   `c_alpha = max_{1 <= k <= K} f_alpha(k) / k^2` (`K = floor(sqrt(norm_bound_sq))`, and
//!   `f_alpha` even because `Z` is symmetric), `sum_i f_alpha(v_i) <= c_alpha sum_i v_i^2 <=
//!   c_alpha norm_bound_sq`. So `c_alpha norm_bound_sq` is an RDP bound for every `D`, computed
//!   from the exact distribution rather than the `tau` bound. It is exact up to binary64 and
//!   the truncation of the pmf at `+-40` standard deviations (mass below `2^-1000`); an order
//!   whose sum is not resolved inside the truncated support falls back to Proposition 14.
//!
//! For one dimension, [`ExactSum::epsilon_1d`] also gives the exact `epsilon` of the privacy-loss
//! distribution (direct hockey-stick summation), the figure the RDP route approximates.

use core::f64::consts::PI;

/// RDP orders used for the conversions: `1.05, 1.1, ..., 10`, then `11..=64`, then `72..=1024`
/// in steps of 8 (only the integer ones for Skellam).
pub fn orders() -> Vec<f64> {
    let mut v: Vec<f64> = (21..=200).map(|k| k as f64 / 20.0).collect();
    v.extend((11..=64).map(|k| k as f64));
    v.extend((9..=128).map(|k| (k * 8) as f64));
    v
}

/// The squared-norm bound after conditional randomized rounding of a vector of norm at most
/// `c` in `padded` dimensions, with failure parameter `beta` in `(0, 1)` (KLS21 Theorem 1):
/// `min((c + sqrt(D))^2, c^2 + D/4 + sqrt(2 ln(1/beta)) (c + sqrt(D)/2))`.
pub fn rounded_norm_bound_sq(c: f64, beta: f64, padded: usize) -> f64 {
    let d = padded as f64;
    let b1 = (c + d.sqrt()).powi(2);
    let b2 = c * c + d / 4.0 + (2.0 * (1.0 / beta).ln()).sqrt() * (c + d.sqrt() / 2.0);
    b1.min(b2)
}

/// L1 sensitivity of an integer vector with squared L2 norm at most `norm_bound_sq`.
pub fn l1_sensitivity(norm_bound_sq: u64, padded: usize) -> f64 {
    let l2 = (norm_bound_sq as f64).sqrt();
    l2 * l2.min((padded as f64).sqrt())
}

/// The `tau` term of KLS21 for `n` clients each adding `N_Z(0, sigma2)`.
pub fn ddg_tau(sigma2: f64, n: u64) -> f64 {
    let mut tau = 0.0;
    for k in 1..n {
        let kf = k as f64;
        let t = (-2.0 * PI * PI * sigma2 * kf / (kf + 1.0)).exp();
        tau += t;
        if t == 0.0 {
            break; // later terms are smaller still
        }
    }
    10.0 * tau
}

/// KLS21 Proposition 14: RDP at order `alpha` of the sum of `n` discrete Gaussians with
/// per-client `sigma2`, for L2/L1 sensitivities `l2`, `l1` in `padded` dimensions.
pub fn ddg_rdp(alpha: f64, l2: f64, l1: f64, sigma2: f64, n: u64, padded: usize, tau: f64) -> f64 {
    let s = (n as f64 * sigma2).sqrt();
    let (a2, a1, d) = (l2 / s, l1 / s, padded as f64);
    let t1 = alpha / 2.0 * a2 * a2 + tau * d;
    let t2 = alpha / 2.0 * (a2 * a2 + 2.0 * a1 * tau + tau * tau * d);
    let t3 = alpha / 2.0 * (a2 + d.sqrt() * tau).powi(2);
    t1.min(t2).min(t3)
}

/// Agarwal, Kairouz, Liu 2021: RDP at integer order `alpha >= 2` of Skellam noise with total
/// per-coordinate variance `mu`: `alpha l2^2/(2 mu) + min(((2 alpha - 1) l2^2 + 6 l1)/(4 mu^2),
/// 3 l1/(2 mu))`. Non-integer orders return infinity.
pub fn skellam_rdp(alpha: f64, l2: f64, l1: f64, mu: f64) -> f64 {
    if alpha.fract() != 0.0 || alpha < 2.0 {
        return f64::INFINITY;
    }
    let l2s = l2 * l2;
    alpha * l2s / (2.0 * mu)
        + (((2.0 * alpha - 1.0) * l2s + 6.0 * l1) / (4.0 * mu * mu)).min(3.0 * l1 / (2.0 * mu))
}

/// `epsilon` at `delta` of an RDP curve (tight conversion, CKS20 / Balle et al. 2020).
pub fn rdp_to_epsilon(orders: &[f64], rdp: &[f64], delta: f64) -> f64 {
    orders
        .iter()
        .zip(rdp)
        .filter(|(_, r)| r.is_finite())
        .map(|(&a, &r)| r + ((a - 1.0) / a).ln() - (delta.ln() + a.ln()) / (a - 1.0))
        .fold(f64::INFINITY, f64::min)
        .max(0.0)
}

/// The exact distribution of the sum of `n` independent `N_Z(0, sigma2)`, as a pmf over
/// `[-k, k]` (binary64).
#[derive(Debug, Clone)]
pub struct ExactSum {
    half: i64,
    pmf: Vec<f64>,
}

/// Largest support half-width the exact accountant builds (keeps it to a few seconds).
pub const EXACT_MAX_HALF_WIDTH: i64 = 2048;

impl ExactSum {
    /// The pmf of the sum, or `None` if its support (`+-40` standard deviations) would exceed
    /// [`EXACT_MAX_HALF_WIDTH`].
    pub fn new(sigma2: f64, n: u64) -> Option<Self> {
        if !(sigma2 > 0.0 && sigma2.is_finite()) || n == 0 {
            return None;
        }
        let total_sd = (n as f64 * sigma2).sqrt();
        let half = (40.0 * total_sd).ceil() as i64 + 2;
        if half > EXACT_MAX_HALF_WIDTH {
            return None;
        }
        // One share: exp(-z^2 / (2 sigma2)) normalized, cut where it underflows.
        let k1 = ((1490.0 * sigma2).sqrt().ceil() as i64 + 1).min(half);
        let raw: Vec<f64> = (-k1..=k1)
            .map(|z| (-((z * z) as f64) / (2.0 * sigma2)).exp())
            .collect();
        let norm: f64 = raw.iter().sum();
        let one = Self {
            half: k1,
            pmf: raw.iter().map(|p| p / norm).collect(),
        };
        // Binary exponentiation of the convolution, truncating to [-half, half].
        let mut acc: Option<Self> = None;
        let mut base = one;
        let mut m = n;
        loop {
            if m & 1 == 1 {
                acc = Some(match acc {
                    None => base.clone(),
                    Some(a) => a.convolve(&base, half),
                });
            }
            m >>= 1;
            if m == 0 {
                break;
            }
            base = base.convolve(&base, half);
        }
        acc
    }

    fn convolve(&self, other: &Self, max_half: i64) -> Self {
        let half = (self.half + other.half).min(max_half);
        let mut pmf = vec![0.0; (2 * half + 1) as usize];
        for (i, &a) in self.pmf.iter().enumerate() {
            if a == 0.0 {
                continue;
            }
            let zi = i as i64 - self.half;
            for (j, &b) in other.pmf.iter().enumerate() {
                let z = zi + j as i64 - other.half;
                if z.abs() <= half {
                    pmf[(z + half) as usize] += a * b;
                }
            }
        }
        Self { half, pmf }
    }

    /// `P(Z = z)` (0 outside the support).
    pub fn pmf(&self, z: i64) -> f64 {
        if z.abs() > self.half {
            0.0
        } else {
            self.pmf[(z + self.half) as usize]
        }
    }

    /// The exact variance.
    pub fn variance(&self) -> f64 {
        (-self.half..=self.half)
            .map(|z| (z * z) as f64 * self.pmf(z))
            .sum()
    }

    /// `D_alpha(Z + k || Z)` for `k >= 0`, or `None` if the sum is not resolved inside the
    /// support.
    ///
    /// The sum `sum_z P(z-k)^alpha P(z)^(1-alpha)` runs upwards from the left end of the support
    /// of `P(. - k)`. Left-tail terms whose `P(z - k)` underflowed are skipped: there
    /// `P(z-k) <= P(z)` (the pmf is symmetric and unimodal), so each skipped term is at most
    /// `P(z) < 2^-1000`. The sum stops where `P(z)` underflows (the right edge); the order counts
    /// as resolved only if the last term is below `e^-60` times the largest, so the concave
    /// right tail beyond it is negligible. Otherwise `None`, and callers use the paper's bound.
    pub fn rdp_shift(&self, alpha: f64, k: i64) -> Option<f64> {
        let mut terms = Vec::with_capacity(self.pmf.len());
        for z in (-self.half + k)..=(self.half + k) {
            let p = self.pmf(z - k);
            if p == 0.0 {
                continue;
            }
            let q = self.pmf(z);
            if q == 0.0 {
                break;
            }
            terms.push(alpha * p.ln() + (1.0 - alpha) * q.ln());
        }
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let edge = *terms.last()?;
        if edge > max - 60.0 {
            return None;
        }
        let s: f64 = terms.iter().map(|t| (t - max).exp()).sum();
        Some(((max + s.ln()) / (alpha - 1.0)).max(0.0))
    }

    /// The sound `D`-dimensional RDP bound `c_alpha * norm_bound_sq` (module docs), or `None`.
    pub fn rdp_bound(&self, alpha: f64, norm_bound_sq: u64) -> Option<f64> {
        let kmax = crate::ddp::sample::isqrt(norm_bound_sq) as i64;
        let mut c: f64 = 0.0;
        for k in 1..=kmax {
            c = c.max(self.rdp_shift(alpha, k)? / (k * k) as f64);
        }
        Some(c * norm_bound_sq as f64)
    }

    /// `delta(epsilon)` of the 1-D mechanism with integer shift `k`, by direct summation of the
    /// hockey-stick divergence `sum_z max(0, P(z - k) - e^epsilon P(z))` (the pmf is symmetric,
    /// so both directions agree).
    pub fn delta_1d(&self, epsilon: f64, k: i64) -> f64 {
        let e = epsilon.exp();
        ((-self.half + k)..=(self.half + k))
            .map(|z| (self.pmf(z - k) - e * self.pmf(z)).max(0.0))
            .sum()
    }

    /// The exact 1-D `epsilon` at `delta` for shift `k` (bisection on [`Self::delta_1d`]).
    pub fn epsilon_1d(&self, delta: f64, k: i64) -> f64 {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        while self.delta_1d(hi, k) > delta {
            hi *= 2.0;
            if hi > 1e4 {
                return f64::INFINITY;
            }
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if self.delta_1d(mid, k) > delta {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

/// The privacy guarantee of one configuration for a given number of included clients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guarantee {
    /// `epsilon` from the papers' bound (Proposition 14 or the Skellam theorem).
    pub epsilon_bound: f64,
    /// `epsilon` from the exact-distribution RDP bound (discrete Gaussian only, when the exact
    /// pmf is small enough to build); `min` with the paper's bound per order.
    pub epsilon_exact: Option<f64>,
    /// The `delta`.
    pub delta: f64,
    /// Clients whose noise is in the sum.
    pub clients: u64,
    /// Rounds composed.
    pub rounds: u32,
}

impl Guarantee {
    /// The tighter of the two sound figures.
    pub fn epsilon(&self) -> f64 {
        self.epsilon_exact
            .map_or(self.epsilon_bound, |e| e.min(self.epsilon_bound))
    }
}

/// The RDP curve of the paper's bound for `cfg` with `n` included clients.
pub fn bound_rdp_curve(cfg: &super::DpConfig, n: u64, orders: &[f64]) -> Vec<f64> {
    let padded = cfg.padded_dim();
    let l2 = (cfg.norm_bound_sq() as f64).sqrt();
    let l1 = l1_sensitivity(cfg.norm_bound_sq(), padded);
    let v = cfg.noise_param();
    match cfg.mechanism() {
        super::Mechanism::DiscreteGaussian => {
            let tau = ddg_tau(v, n);
            orders
                .iter()
                .map(|&a| ddg_rdp(a, l2, l1, v, n, padded, tau))
                .collect()
        }
        super::Mechanism::Skellam => orders
            .iter()
            .map(|&a| skellam_rdp(a, l2, l1, n as f64 * v))
            .collect(),
    }
}

/// The guarantee of `rounds` sessions of `cfg`, each with the noise of at least `n` clients.
/// With `exact`, also the exact-distribution figure where it can be built.
pub fn guarantee(cfg: &super::DpConfig, n: u64, delta: f64, rounds: u32, exact: bool) -> Guarantee {
    let ords = orders();
    let r = f64::from(rounds.max(1));
    let bound: Vec<f64> = bound_rdp_curve(cfg, n, &ords)
        .iter()
        .map(|x| x * r)
        .collect();
    let epsilon_bound = rdp_to_epsilon(&ords, &bound, delta);
    let epsilon_exact = if exact && cfg.mechanism() == super::Mechanism::DiscreteGaussian {
        ExactSum::new(cfg.noise_param(), n).map(|z| {
            let curve: Vec<f64> = ords
                .iter()
                .zip(&bound)
                .map(|(&a, &b)| {
                    z.rdp_bound(a, cfg.norm_bound_sq())
                        .map_or(b, |e| (e * r).min(b))
                })
                .collect();
            rdp_to_epsilon(&ords, &curve, delta)
        })
    } else {
        None
    };
    Guarantee {
        epsilon_bound,
        epsilon_exact,
        delta,
        clients: n,
        rounds: rounds.max(1),
    }
}

/// `erfc(x)`: the Maclaurin series of `erf` for `|x| < 2` (terms until below `1e-17`), and for
/// `x >= 2` the continued fraction `erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2)/(x + 1/(x +
/// (3/2)/(x + ...))))` evaluated bottom-up from 80 levels (relative error near `1e-15` there).
pub fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    let two_over_sqrt_pi = 2.0 / PI.sqrt();
    if x < 2.0 {
        let x2 = x * x;
        let mut term = x; // (-1)^n x^(2n+1) / n!
        let mut sum = x;
        let mut n = 0.0;
        while term.abs() > 1e-17 {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
        }
        1.0 - two_over_sqrt_pi * sum
    } else {
        let mut f = x;
        for k in (1..=80).rev() {
            f = x + (k as f64 / 2.0) / f;
        }
        (-x * x).exp() / (PI.sqrt() * f)
    }
}

/// Standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / core::f64::consts::SQRT_2)
}

/// `delta(epsilon)` of the continuous Gaussian mechanism with noise `sigma` and L2 sensitivity
/// `sens` (Balle and Wang 2018, exact).
pub fn gaussian_delta(epsilon: f64, sigma: f64, sens: f64) -> f64 {
    let a = sens / (2.0 * sigma);
    let b = epsilon * sigma / sens;
    (normal_cdf(a - b) - epsilon.exp() * normal_cdf(-a - b)).max(0.0)
}

/// The smallest `sigma` for which the continuous Gaussian mechanism with sensitivity `sens` is
/// `(epsilon, delta)`-DP (bisection on [`gaussian_delta`]).
pub fn gaussian_sigma(epsilon: f64, delta: f64, sens: f64) -> f64 {
    let (mut lo, mut hi) = (1e-6 * sens, sens);
    while gaussian_delta(epsilon, hi, sens) > delta {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if gaussian_delta(epsilon, mid, sens) > delta {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}
