//! Generalised randomised response (k-RR, direct encoding).
//!
//! Client: keep the value with probability `p = e^ε / (e^ε + k − 1)`, otherwise report one of the
//! other `k − 1` values uniformly. `p* = p`, `q* = 1/(e^ε + k − 1)`,
//! `n·Var*(f = 0) = (e^ε + k − 2)/(e^ε − 1)²`. Worst-case privacy loss: exactly `ln(p*/q*) = ε`.
//! Report: the value, [`wire::width`]`(k)` bytes little-endian.

use rand_core::CryptoRng;

use super::{
    check_domain, check_epsilon, check_value, sample, wire, FrequencyOracle, LdpError, PureParams,
};

/// Generalised randomised response over `[0, k)`.
///
/// Invariant: `k` in `[2, MAX_DOMAIN]`, `ε` in `(0, MAX_EPSILON]`, `keep` is the fixed-point
/// threshold of `p`.
#[derive(Clone, Debug, PartialEq)]
pub struct Grr {
    k: u32,
    eps: f64,
    p: f64,
    q: f64,
    keep: u64,
}

impl Grr {
    /// GRR over `[0, k)` at privacy `eps`.
    pub fn new(k: u32, eps: f64) -> Result<Self, LdpError> {
        let k = check_domain(k)?;
        let eps = check_epsilon(eps)?;
        let e = eps.exp();
        let denom = e + f64::from(k) - 1.0;
        let p = e / denom;
        Ok(Grr {
            k,
            eps,
            p,
            q: 1.0 / denom,
            keep: sample::threshold(p),
        })
    }

    /// Probability of keeping the true value.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Probability of reporting one given other value.
    pub fn q(&self) -> f64 {
        self.q
    }

    /// Randomises an already validated value.
    #[inline]
    pub(crate) fn perturb<R: CryptoRng + ?Sized>(&self, v: u32, rng: &mut R) -> u32 {
        if sample::bernoulli(rng, self.keep) {
            v
        } else {
            let u = sample::below(rng, self.k - 1);
            if u >= v {
                u + 1
            } else {
                u
            }
        }
    }

    /// Validates a report value.
    pub(crate) fn check_report(&self, y: u32) -> Result<(), LdpError> {
        if y < self.k {
            Ok(())
        } else {
            Err(LdpError::MalformedReport("GRR value out of domain"))
        }
    }
}

impl FrequencyOracle for Grr {
    type Report = u32;

    fn name(&self) -> &'static str {
        "GRR"
    }

    fn domain_size(&self) -> u32 {
        self.k
    }

    fn epsilon(&self) -> f64 {
        self.eps
    }

    fn params(&self) -> PureParams {
        PureParams::new(self.p, self.q).expect("GRR probabilities are valid")
    }

    fn true_epsilon(&self) -> f64 {
        (self.p / self.q).ln()
    }

    fn randomize<R: CryptoRng + ?Sized>(&self, value: u32, rng: &mut R) -> Result<u32, LdpError> {
        check_value(value, self.k)?;
        Ok(self.perturb(value, rng))
    }

    fn randomize_batch<R: CryptoRng + ?Sized>(
        &self,
        values: &[u32],
        rng: &mut R,
    ) -> Result<Vec<u32>, LdpError> {
        values.iter().try_for_each(|&v| check_value(v, self.k))?;
        Ok(values.iter().map(|&v| self.perturb(v, rng)).collect())
    }

    fn accumulate(&self, acc: &mut [u64], report: &u32) -> Result<(), LdpError> {
        self.check_report(*report)?;
        acc[*report as usize] += 1;
        Ok(())
    }

    fn report_len(&self) -> usize {
        wire::width(u64::from(self.k))
    }

    fn encode_report(&self, report: &u32, out: &mut Vec<u8>) -> Result<(), LdpError> {
        self.check_report(*report)?;
        wire::put_uint(out, u64::from(*report), self.report_len());
        Ok(())
    }

    fn decode_report(&self, bytes: &[u8]) -> Result<u32, LdpError> {
        wire::check_len(bytes, self.report_len())?;
        let mut r = wire::Reader::new(bytes);
        let v = r.uint_below(u64::from(self.k))? as u32;
        r.finish()?;
        Ok(v)
    }
}
