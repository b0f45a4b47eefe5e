//! Helpers shared by the LDP integration tests.
#![allow(dead_code)]

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;

/// A seeded RNG.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A fixed population of `n` values over `[0, k)` with Zipf(1.1)-shaped counts (every value
/// gets the rounded share, the remainder goes to value 0), shuffled deterministically.
pub fn zipf_population(n: usize, k: u32) -> (Vec<u32>, Vec<f64>) {
    let w: Vec<f64> = (0..k).map(|i| 1.0 / f64::from(i + 1).powf(1.1)).collect();
    let total: f64 = w.iter().sum();
    let mut counts: Vec<usize> = w
        .iter()
        .map(|x| (x / total * n as f64).floor() as usize)
        .collect();
    let assigned: usize = counts.iter().sum();
    counts[0] += n - assigned;
    let mut values = Vec::with_capacity(n);
    for (v, &c) in counts.iter().enumerate() {
        values.extend(std::iter::repeat_n(v as u32, c));
    }
    // deterministic interleave so that order does not correlate with value
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in (1..values.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % (i as u64 + 1)) as usize;
        values.swap(i, j);
    }
    let freqs = counts.iter().map(|&c| c as f64 / n as f64).collect();
    (values, freqs)
}

/// Accumulates squared errors and sums of estimates over repetitions.
pub struct ErrorStats {
    pub truth: Vec<f64>,
    pub sum: Vec<f64>,
    pub sq_err: Vec<f64>,
    pub reps: usize,
}

impl ErrorStats {
    pub fn new(truth: Vec<f64>) -> Self {
        let k = truth.len();
        ErrorStats {
            truth,
            sum: vec![0.0; k],
            sq_err: vec![0.0; k],
            reps: 0,
        }
    }

    pub fn add(&mut self, est: &[f64]) {
        assert_eq!(est.len(), self.truth.len());
        for (i, &e) in est.iter().enumerate() {
            self.sum[i] += e;
            self.sq_err[i] += (e - self.truth[i]).powi(2);
        }
        self.reps += 1;
    }

    /// Checks MSE / mean(theoretical variance) in [0.85, 1.15] and each mean within 4 SE.
    pub fn check(&self, var: &[f64], label: &str) {
        let r = self.reps as f64;
        let mse: f64 = self.sq_err.iter().sum::<f64>() / (r * self.truth.len() as f64);
        let th: f64 = var.iter().sum::<f64>() / var.len() as f64;
        let ratio = mse / th;
        assert!(
            (0.85..=1.15).contains(&ratio),
            "{label}: MSE/Var = {ratio:.4} (mse {mse:.3e}, var {th:.3e})"
        );
        for (i, (&s, &t)) in self.sum.iter().zip(&self.truth).enumerate() {
            let mean = s / r;
            let se = (var[i] / r).sqrt();
            assert!(
                (mean - t).abs() <= 4.0 * se,
                "{label}: value {i}: mean {mean:.5} truth {t:.5} se {se:.2e}"
            );
        }
    }
}
