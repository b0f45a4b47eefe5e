//! The "pure protocol" estimator of Wang et al. (USENIX Security 2017), shared by every frequency
//! oracle and by Spl and RS+FD.
//!
//! A protocol is pure when a report supports value `v` with probability `p*` if the user holds
//! `v` and `q*` otherwise, independently across users. With `C(v)` supporting reports out of `n`:
//!
//! * unbiased estimate `f̂(v) = (C(v)/n − q*) / (p* − q*)`;
//! * exact variance for a fixed population with true frequency `f`:
//!   `Var f̂(v) = [f p*(1−p*) + (1−f) q*(1−q*)] / (n (p*−q*)²)`;
//! * the papers' approximation (`f = 0`): `q*(1−q*) / (n (p*−q*)²)`.
//!
//! Invariant of [`PureParams`]: `0 <= q* < p* <= 1`, both finite.

use super::LdpError;

/// Support probabilities `(p*, q*)` of a pure protocol (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PureParams {
    p_star: f64,
    q_star: f64,
}

impl PureParams {
    /// Checks `0 <= q* < p* <= 1`.
    pub fn new(p_star: f64, q_star: f64) -> Result<Self, LdpError> {
        if !(p_star.is_finite() && q_star.is_finite() && 0.0 <= q_star && q_star < p_star)
            || p_star > 1.0
        {
            return Err(LdpError::InvalidParameter("need 0 <= q* < p* <= 1"));
        }
        Ok(PureParams { p_star, q_star })
    }

    /// `P[report supports v | user holds v]`.
    pub fn p_star(&self) -> f64 {
        self.p_star
    }

    /// `P[report supports v | user holds u ≠ v]`.
    pub fn q_star(&self) -> f64 {
        self.q_star
    }

    /// Unbiased frequency estimate from a support count `c` out of `n` reports.
    pub fn estimate_one(&self, c: f64, n: f64) -> f64 {
        (c / n - self.q_star) / (self.p_star - self.q_star)
    }

    /// Unbiased frequency estimates for every value; `NaN` everywhere when `n == 0` (no
    /// report: the estimate is undefined).
    pub fn estimate(&self, counts: &[u64], n: u64) -> Vec<f64> {
        if n == 0 {
            return vec![f64::NAN; counts.len()];
        }
        let n = n as f64;
        counts
            .iter()
            .map(|&c| self.estimate_one(c as f64, n))
            .collect()
    }

    /// Exact variance of the estimate of a value of true frequency `f` over `n` users.
    pub fn variance(&self, f: f64, n: f64) -> f64 {
        let (p, q) = (self.p_star, self.q_star);
        (f * p * (1.0 - p) + (1.0 - f) * q * (1.0 - q)) / (n * (p - q) * (p - q))
    }

    /// The papers' approximate variance (`f = 0`).
    pub fn variance_f0(&self, n: f64) -> f64 {
        self.variance(0.0, n)
    }

    /// Mean over the domain of the exact variance for the true distribution `freqs`.
    pub fn mean_variance(&self, freqs: &[f64], n: f64) -> f64 {
        freqs.iter().map(|&f| self.variance(f, n)).sum::<f64>() / freqs.len() as f64
    }
}
