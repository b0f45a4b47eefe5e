//! Hadamard response, high-privacy form (Acharya, Sun, Zhang 2019).
//!
//! `K = 2^ceil(log2(k + 1))`; value `v` owns the set `C_v = {y in [0, K) : popcount((v+1) & y)
//! even}` (row `v + 1` of the Sylvester–Hadamard matrix `H_K`, `|C_v| = K/2`, and `|C_u ∩ C_v| =
//! K/4` for `u ≠ v`). Client: with probability `e^ε/(e^ε + 1)` output a uniform element of `C_v`,
//! otherwise a uniform element of its complement. `p* = e^ε/(e^ε + 1)`, `q* = 1/2`,
//! `n·Var*(f=0) = (e^ε + 1)²/(e^ε − 1)²`; worst-case privacy loss `ln(p*/(1 − p*)) = ε` exactly.
//!
//! Server: histogram of the `K` outputs, then one fast Walsh–Hadamard transform:
//! `C(v) = (n + (H_K · hist)_{v+1}) / 2`, `O(n + K log K)`.
//!
//! Report: the symbol `y`, [`wire::width`]`(K)` bytes.

use rand_core::CryptoRng;

use super::{
    check_acc_len, check_counters, check_domain, check_epsilon, check_value, sample, wire,
    FrequencyOracle, LdpError, PureParams,
};

/// Hadamard response (high-privacy form) over `[0, k)`.
///
/// Invariant: `K` is a power of two with `k < K <= 2k`.
#[derive(Clone, Debug, PartialEq)]
pub struct Hr {
    k: u32,
    big_k: u32,
    eps: f64,
    p: f64,
    inside: u64,
}

impl Hr {
    /// Hadamard response over `[0, k)` at `eps`.
    pub fn new(k: u32, eps: f64) -> Result<Self, LdpError> {
        let k = check_domain(k)?;
        let eps = check_epsilon(eps)?;
        // k <= 2^30, so K <= 2^31 fits in u32; the server keeps K counters
        let big_k = (k + 1).next_power_of_two();
        check_counters(
            "a Hadamard-response aggregator (K = 2^ceil(log2(k+1)))",
            u64::from(big_k),
        )?;
        let e = eps.exp();
        let p = e / (e + 1.0);
        Ok(Hr {
            k,
            big_k,
            eps,
            p,
            inside: sample::threshold(p),
        })
    }

    /// Output alphabet size `K`.
    pub fn output_size(&self) -> u32 {
        self.big_k
    }

    fn check_symbol(&self, y: u32) -> Result<(), LdpError> {
        if y < self.big_k {
            Ok(())
        } else {
            Err(self.bad_symbol(y))
        }
    }

    fn bad_symbol(&self, y: u32) -> LdpError {
        LdpError::FieldOutOfRange {
            field: "HR symbol",
            value: u64::from(y),
            bound: u64::from(self.big_k),
        }
    }

    /// Whether symbol `y` lies in `C_v`.
    pub fn in_set(v: u32, y: u32) -> bool {
        (v.wrapping_add(1) & y).count_ones() & 1 == 0
    }
}

/// In-place fast Walsh–Hadamard transform (Sylvester order); `x.len()` a power of two.
pub(crate) fn fwht(x: &mut [i64]) {
    let n = x.len();
    let mut h = 1;
    while h < n {
        for block in x.chunks_mut(2 * h) {
            let (lo, hi) = block.split_at_mut(h);
            for (a, b) in lo.iter_mut().zip(hi.iter_mut()) {
                let (s, d) = (*a + *b, *a - *b);
                *a = s;
                *b = d;
            }
        }
        h *= 2;
    }
}

impl FrequencyOracle for Hr {
    type Report = u32;

    fn name(&self) -> &'static str {
        "HR"
    }

    fn domain_size(&self) -> u32 {
        self.k
    }

    fn epsilon(&self) -> f64 {
        self.eps
    }

    fn params(&self) -> PureParams {
        PureParams::new(self.p, 0.5).expect("HR probabilities are valid")
    }

    fn true_epsilon(&self) -> f64 {
        (self.p / (1.0 - self.p)).ln()
    }

    fn randomize<R: CryptoRng + ?Sized>(&self, value: u32, rng: &mut R) -> Result<u32, LdpError> {
        check_value(value, self.k)?;
        // The symbol takes the low log2(K) bits of one word and the in/out decision its top
        // bits (disjoint bits, hence independent); the decision is exactly
        // Bernoulli(inside / 2^64) by `bernoulli_prefix`, which draws more only on a tie.
        let (mut y, want_in) = if self.big_k <= 1 << 16 {
            let x = rng.next_u32();
            let want = sample::bernoulli_prefix(rng, x >> 16, 16, self.inside);
            (x & (self.big_k - 1), want)
        } else {
            let x = rng.next_u64();
            let want = sample::bernoulli_prefix(rng, (x >> 32) as u32, 32, self.inside);
            (x as u32 & (self.big_k - 1), want)
        };
        if Self::in_set(value, y) != want_in {
            // flipping the lowest set bit of v+1 flips the parity: a bijection C_v <-> complement
            let row = value + 1;
            y ^= row & row.wrapping_neg();
        }
        Ok(y)
    }

    fn accumulator_len(&self) -> usize {
        self.big_k as usize
    }

    fn accumulate(&self, acc: &mut [u64], report: &u32) -> Result<(), LdpError> {
        check_acc_len(acc, self.big_k as usize)?;
        self.check_symbol(*report)?;
        if let Some(c) = acc.get_mut(*report as usize) {
            *c += 1;
        }
        Ok(())
    }

    fn accumulate_batch(&self, acc: &mut [u64], reports: &[u32]) -> Result<(), LdpError> {
        check_acc_len(acc, self.big_k as usize)?;
        // validate and count in one pass (`acc` has exactly K counters, so its bound is the
        // validation); on an invalid symbol count the valid reports before it, as documented
        if let Err(i) = super::multidim::histogram_checked(acc, reports) {
            let y = reports.get(i).copied().unwrap_or(0);
            super::multidim::histogram_into(acc, reports.get(..i).unwrap_or_default());
            return Err(self.bad_symbol(y).at_row(i));
        }
        Ok(())
    }

    fn support_counts(&self, acc: &[u64], n: u64) -> Result<Vec<u64>, LdpError> {
        check_acc_len(acc, self.big_k as usize)?;
        // the histogram of n reports sums to n; anything else is not an HR accumulator
        let total = acc.iter().try_fold(0u64, |s, &c| s.checked_add(c));
        if total != Some(n) || n > i64::MAX as u64 {
            return Err(LdpError::InvalidParameter(
                "HR accumulator does not hold exactly n reports",
            ));
        }
        let mut x: Vec<i64> = acc.iter().map(|&c| c as i64).collect();
        fwht(&mut x);
        // (H·hist)_{v+1} is in [-n, n], so the sum is in [0, 2n] and even
        Ok(x.iter()
            .skip(1)
            .take(self.k as usize)
            .map(|&h| ((n as i64 + h) / 2) as u64)
            .collect())
    }

    fn report_len(&self) -> usize {
        wire::width(u64::from(self.big_k))
    }

    fn encode_report(&self, report: &u32, out: &mut Vec<u8>) -> Result<(), LdpError> {
        self.check_symbol(*report)?;
        wire::put_uint(out, u64::from(*report), self.report_len());
        Ok(())
    }

    fn decode_report(&self, bytes: &[u8]) -> Result<u32, LdpError> {
        wire::check_len(bytes, self.report_len())?;
        let mut r = wire::Reader::new(bytes);
        let y = r.uint_below(u64::from(self.big_k), "HR symbol")? as u32;
        r.finish()?;
        Ok(y)
    }
}
