//! ADP, the adaptive oracle: GRR when `k < 3e^ε + 2` (where GRR's variance is the smaller one,
//! `e^ε + k − 2 < 4e^ε`), else OUE. Also the per-attribute oracle of the multidimensional
//! protocols, which is why it can be built as either branch explicitly.
//!
//! Report: an [`AttrReport`], encoded as the chosen branch's report (the branch is a function of
//! the public parameters, so no tag is sent).

use rand_core::CryptoRng;

use super::{check_acc_len, wire, BitVector, FrequencyOracle, Grr, LdpError, PureParams, Ue};

/// A GRR-or-OUE oracle.
#[derive(Clone, Debug, PartialEq)]
pub enum Adp {
    /// Generalised randomised response.
    Grr(Grr),
    /// Optimised unary encoding.
    Oue(Ue),
}

/// The report of one attribute: a single value (GRR) or a bit vector (unary encodings).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttrReport {
    /// A value in `[0, k)`.
    Value(u32),
    /// A `k`-bit vector.
    Unary(BitVector),
}

/// Whether ADP picks GRR for domain size `k` at `eps`: `k < 3e^ε + 2`.
pub fn adp_prefers_grr(k: u32, eps: f64) -> bool {
    f64::from(k) < 3.0 * eps.exp() + 2.0
}

impl Adp {
    /// The adaptive choice for `[0, k)` at `eps`.
    pub fn new(k: u32, eps: f64) -> Result<Self, LdpError> {
        if adp_prefers_grr(k, eps) {
            Ok(Adp::Grr(Grr::new(k, eps)?))
        } else {
            Ok(Adp::Oue(Ue::oue(k, eps)?))
        }
    }

    /// Forced GRR.
    pub fn grr(k: u32, eps: f64) -> Result<Self, LdpError> {
        Ok(Adp::Grr(Grr::new(k, eps)?))
    }

    /// Forced OUE.
    pub fn oue(k: u32, eps: f64) -> Result<Self, LdpError> {
        Ok(Adp::Oue(Ue::oue(k, eps)?))
    }

    /// Forced GRR at an already validated (possibly derived) `eps`.
    pub(crate) fn grr_build(k: u32, eps: f64) -> Result<Self, LdpError> {
        Ok(Adp::Grr(Grr::build(k, eps)?))
    }

    /// Forced OUE at an already validated (possibly derived) `eps`.
    pub(crate) fn oue_build(k: u32, eps: f64) -> Result<Self, LdpError> {
        Ok(Adp::Oue(Ue::oue_build(k, eps)?))
    }

    /// Whether the GRR branch is used.
    pub fn is_grr(&self) -> bool {
        matches!(self, Adp::Grr(_))
    }

    /// Randomises an already validated value.
    pub(crate) fn perturb<R: CryptoRng + ?Sized>(&self, v: u32, rng: &mut R) -> AttrReport {
        match self {
            Adp::Grr(g) => AttrReport::Value(g.perturb(v, rng)),
            Adp::Oue(u) => AttrReport::Unary(u.perturb(v, rng)),
        }
    }

    /// Validates a report of this oracle.
    pub(crate) fn check_attr_report(&self, report: &AttrReport) -> Result<(), LdpError> {
        match (self, report) {
            (Adp::Grr(g), AttrReport::Value(y)) => g.check_report(*y),
            (Adp::Oue(u), AttrReport::Unary(bv)) => u.check_report(bv),
            (Adp::Grr(_), AttrReport::Unary(_)) => Err(LdpError::MalformedReport(
                "a bit-vector report for a GRR attribute",
            )),
            (Adp::Oue(_), AttrReport::Value(_)) => Err(LdpError::MalformedReport(
                "a single-value report for an OUE attribute",
            )),
        }
    }

    /// Adds a report's support to plain per-value counts (length `k`), validating it first.
    pub(crate) fn add_support(&self, acc: &mut [u64], report: &AttrReport) -> Result<(), LdpError> {
        check_acc_len(acc, self.domain_size() as usize)?;
        self.check_attr_report(report)?;
        match report {
            AttrReport::Value(y) => {
                if let Some(c) = acc.get_mut(*y as usize) {
                    *c += 1;
                }
            }
            AttrReport::Unary(bv) => bv.add_to(acc),
        }
        Ok(())
    }

    /// Reads one report from a reader (the branch fixes the length).
    pub(crate) fn read(&self, r: &mut wire::Reader<'_>) -> Result<AttrReport, LdpError> {
        match self {
            Adp::Grr(g) => Ok(AttrReport::Value(
                r.uint_below(u64::from(g.domain_size()), "GRR value")? as u32,
            )),
            Adp::Oue(u) => Ok(AttrReport::Unary(r.bitvec(u.domain_size())?)),
        }
    }
}

impl FrequencyOracle for Adp {
    type Report = AttrReport;

    fn name(&self) -> &'static str {
        match self {
            Adp::Grr(_) => "ADP(GRR)",
            Adp::Oue(_) => "ADP(OUE)",
        }
    }

    fn domain_size(&self) -> u32 {
        match self {
            Adp::Grr(g) => g.domain_size(),
            Adp::Oue(u) => u.domain_size(),
        }
    }

    fn epsilon(&self) -> f64 {
        match self {
            Adp::Grr(g) => g.epsilon(),
            Adp::Oue(u) => u.epsilon(),
        }
    }

    fn params(&self) -> PureParams {
        match self {
            Adp::Grr(g) => g.params(),
            Adp::Oue(u) => u.params(),
        }
    }

    fn true_epsilon(&self) -> f64 {
        match self {
            Adp::Grr(g) => g.true_epsilon(),
            Adp::Oue(u) => u.true_epsilon(),
        }
    }

    fn randomize<R: CryptoRng + ?Sized>(
        &self,
        value: u32,
        rng: &mut R,
    ) -> Result<AttrReport, LdpError> {
        super::check_value(value, self.domain_size())?;
        Ok(self.perturb(value, rng))
    }

    fn accumulator_len(&self) -> usize {
        match self {
            Adp::Grr(g) => g.accumulator_len(),
            Adp::Oue(u) => u.accumulator_len(),
        }
    }

    fn accumulate(&self, acc: &mut [u64], report: &AttrReport) -> Result<(), LdpError> {
        self.check_attr_report(report)?;
        match (self, report) {
            (Adp::Grr(g), AttrReport::Value(y)) => g.accumulate(acc, y),
            (Adp::Oue(u), AttrReport::Unary(bv)) => u.accumulate(acc, bv),
            _ => Err(LdpError::MalformedReport(
                "report kind does not match the oracle",
            )),
        }
    }

    fn support_counts(&self, acc: &[u64], n: u64) -> Result<Vec<u64>, LdpError> {
        match self {
            Adp::Grr(g) => g.support_counts(acc, n),
            Adp::Oue(u) => u.support_counts(acc, n),
        }
    }

    fn merge_accumulators(&self, acc: &mut [u64], other: &[u64]) -> Result<(), LdpError> {
        match self {
            Adp::Grr(g) => g.merge_accumulators(acc, other),
            Adp::Oue(u) => u.merge_accumulators(acc, other),
        }
    }

    fn report_len(&self) -> usize {
        match self {
            Adp::Grr(g) => g.report_len(),
            Adp::Oue(u) => u.report_len(),
        }
    }

    fn encode_report(&self, report: &AttrReport, out: &mut Vec<u8>) -> Result<(), LdpError> {
        match (self, report) {
            (Adp::Grr(g), AttrReport::Value(y)) => g.encode_report(y, out),
            (Adp::Oue(u), AttrReport::Unary(bv)) => u.encode_report(bv, out),
            _ => Err(LdpError::MalformedReport(
                "report kind does not match the oracle",
            )),
        }
    }

    fn decode_report(&self, bytes: &[u8]) -> Result<AttrReport, LdpError> {
        wire::check_len(bytes, self.report_len())?;
        let mut r = wire::Reader::new(bytes);
        let rep = self.read(&mut r)?;
        r.finish()?;
        Ok(rep)
    }
}
