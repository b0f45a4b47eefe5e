//! Synthetic categorical data for examples, benchmarks and experiments: Zipf-distributed values.
//!
//! Invariant: `P[v] = (v+1)^{-s} / Σ_u (u+1)^{-s}` for `v` in `[0, k)`, sampled by inverse CDF
//! with a 53-bit uniform (binary search, `O(log k)` per draw).

use rand_core::Rng;

use super::{check_counters, check_domain, sample, LdpError};

/// A Zipf(s) distribution over `[0, k)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// Zipf over `[0, k)` with exponent `s >= 0` (finite).
    pub fn new(k: u32, s: f64) -> Result<Self, LdpError> {
        let k = check_domain(k)?;
        check_counters("a Zipf table (one f64 per value)", u64::from(k))?;
        if !(s.is_finite() && s >= 0.0) {
            return Err(LdpError::InvalidParameter(
                "Zipf exponent must be finite and >= 0",
            ));
        }
        let w: Vec<f64> = (0..k).map(|v| f64::from(v + 1).powf(-s)).collect();
        let total: f64 = w.iter().sum();
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = w
            .iter()
            .map(|x| {
                acc += x / total;
                acc
            })
            .collect();
        if let Some(last) = cdf.last_mut() {
            *last = 1.0;
        }
        Ok(Zipf { cdf })
    }

    /// One draw.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        let u = sample::unit_open0(rng);
        (self.cdf.partition_point(|&c| c < u) as u32).min(self.cdf.len() as u32 - 1)
    }

    /// `n` draws.
    pub fn sample_n<R: Rng + ?Sized>(&self, rng: &mut R, n: usize) -> Vec<u32> {
        (0..n).map(|_| self.sample(rng)).collect()
    }
}

/// Empirical frequencies of `values` over `[0, k)`.
pub fn frequencies(values: &[u32], k: u32) -> Vec<f64> {
    let mut c = vec![0u64; k as usize];
    for &v in values {
        if let Some(x) = c.get_mut(v as usize) {
            *x += 1;
        }
    }
    let n = values.len().max(1) as f64;
    c.iter().map(|&x| x as f64 / n).collect()
}
