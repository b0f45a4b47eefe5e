//! Generalised randomised response (k-RR, direct encoding).
//!
//! Client: keep the value with probability `p = e^ε / (e^ε + k − 1)`, otherwise report one of the
//! other `k − 1` values uniformly. `p* = p`, `q* = 1/(e^ε + k − 1)`,
//! `n·Var*(f = 0) = (e^ε + k − 2)/(e^ε − 1)²`. Worst-case privacy loss: exactly `ln(p*/q*) = ε`.
//! Report: the value, [`wire::width`]`(k)` bytes little-endian.

use rand_core::CryptoRng;

use super::{
    check_acc_len, check_counters, check_domain, check_epsilon, check_value, sample, wire,
    FrequencyOracle, LdpError, PureParams,
};

/// Generalised randomised response over `[0, k)`.
///
/// Invariant: `k` in `[2, MAX_DOMAIN]`, `ε` in `(0, MAX_EPSILON]`, `step` keeps with the
/// fixed-point threshold of `p` and otherwise picks among `k − 1` others.
#[derive(Clone, Debug, PartialEq)]
pub struct Grr {
    k: u32,
    eps: f64,
    p: f64,
    q: f64,
    /// keep with probability `keep / 2^64` (the fixed-point threshold of `p`), else one of the
    /// `k − 1` others
    step: sample::KeepElse,
}

impl Grr {
    /// GRR over `[0, k)` at privacy `eps`.
    pub fn new(k: u32, eps: f64) -> Result<Self, LdpError> {
        Self::build(k, check_epsilon(eps)?)
    }

    /// GRR at an already validated (possibly derived) `eps`.
    pub(crate) fn build(k: u32, eps: f64) -> Result<Self, LdpError> {
        let k = check_domain(k)?;
        check_counters("a GRR aggregator", u64::from(k))?;
        let e = eps.exp();
        let denom = e + f64::from(k) - 1.0;
        let p = e / denom;
        Ok(Grr {
            k,
            eps,
            p,
            q: 1.0 / denom,
            step: sample::KeepElse::new(sample::threshold(p), k - 1),
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

    /// Randomises an already validated value: one 32-bit word per report in all but a vanishing
    /// fraction of draws ([`sample::KeepElse`], exact).
    #[inline]
    pub(crate) fn perturb<R: CryptoRng + ?Sized>(&self, v: u32, rng: &mut R) -> u32 {
        match self.step.sample(rng) {
            None => v,
            Some(u) => u + u32::from(u >= v),
        }
    }

    /// Validates a report value.
    pub(crate) fn check_report(&self, y: u32) -> Result<(), LdpError> {
        if y < self.k {
            Ok(())
        } else {
            Err(self.bad_report(y))
        }
    }

    fn bad_report(&self, y: u32) -> LdpError {
        LdpError::FieldOutOfRange {
            field: "GRR value",
            value: u64::from(y),
            bound: u64::from(self.k),
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
        if let Some(i) = values.iter().position(|&v| v >= self.k) {
            return Err(LdpError::ValueOutOfDomain {
                value: u64::from(values[i]),
                k: u64::from(self.k),
            }
            .at_row(i));
        }
        Ok(values.iter().map(|&v| self.perturb(v, rng)).collect())
    }

    fn accumulate(&self, acc: &mut [u64], report: &u32) -> Result<(), LdpError> {
        check_acc_len(acc, self.k as usize)?;
        self.check_report(*report)?;
        if let Some(c) = acc.get_mut(*report as usize) {
            *c += 1;
        }
        Ok(())
    }

    fn accumulate_batch(&self, acc: &mut [u64], reports: &[u32]) -> Result<(), LdpError> {
        check_acc_len(acc, self.k as usize)?;
        // validate and count in one pass (`acc` has exactly k counters, so its bound is the
        // validation); on an invalid report count the valid ones before it, as documented
        if let Err(i) = crate::ldp::multidim::histogram_checked(acc, reports) {
            let y = reports.get(i).copied().unwrap_or(0);
            crate::ldp::multidim::histogram_into(acc, reports.get(..i).unwrap_or_default());
            return Err(self.bad_report(y).at_row(i));
        }
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
        let v = r.uint_below(u64::from(self.k), "GRR value")? as u32;
        r.finish()?;
        Ok(v)
    }
}
