//! Smp: each user samples one attribute `j` uniformly, reports it with an `ε` oracle and
//! discloses `j`.
//!
//! The server estimates attribute `j` from the `n_j` users that chose it with the oracle's pure
//! estimator. Variance, counting the sampling error of the subset with respect to the whole
//! population: `Var ≈ [f p*(1−p*) + (1−f) q*(1−q*)]/((n/d)(p*−q*)²) + f(1−f)(d−1)/n` (the papers
//! keep only the first term at `f = 0`). Privacy (exact): `ε` at tuple level and at attribute
//! level, but the server learns which attribute each report is about.
//!
//! Report: the attribute index ([`wire::width`]`(d)` bytes) followed by that
//! attribute's report.

use rand_core::CryptoRng;

use super::multidim;
use super::spl::BaseOracle;
use super::{
    check_epsilon, sample, wire, Adp, AttrReport, FrequencyOracle, LdpError, MultiCounts,
    MultidimProtocol, PrivacyLoss,
};

/// Smp over domains `k_1..k_d`.
#[derive(Clone, Debug, PartialEq)]
pub struct Smp {
    base: BaseOracle,
    eps: f64,
    domains: Vec<u32>,
    attrs: Vec<Adp>,
}

/// An Smp report: the sampled attribute and its report.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SmpReport {
    /// Sampled attribute index, `< d`.
    pub attribute: u32,
    /// That attribute's report.
    pub report: AttrReport,
}

impl Smp {
    /// Smp at `eps`.
    pub fn new(domains: &[u32], eps: f64, base: BaseOracle) -> Result<Self, LdpError> {
        let domains = multidim::check_domains(domains)?;
        let eps = check_epsilon(eps)?;
        let attrs = domains
            .iter()
            .map(|&k| base.build(k, eps))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Smp {
            base,
            eps,
            domains,
            attrs,
        })
    }

    /// The per-attribute oracles.
    pub fn oracles(&self) -> &[Adp] {
        &self.attrs
    }

    fn oracle_for(&self, r: &SmpReport) -> Result<&Adp, LdpError> {
        self.attrs
            .get(r.attribute as usize)
            .ok_or(LdpError::MalformedReport(
                "Smp attribute index out of range",
            ))
    }
}

impl MultidimProtocol for Smp {
    type Report = SmpReport;

    fn name(&self) -> String {
        format!("Smp[{}]", self.base.label())
    }

    fn domains(&self) -> &[u32] {
        &self.domains
    }

    fn epsilon(&self) -> f64 {
        self.eps
    }

    fn privacy(&self) -> PrivacyLoss {
        let attribute: Vec<f64> = self.attrs.iter().map(|a| a.true_epsilon()).collect();
        PrivacyLoss {
            nominal: self.eps,
            tuple: attribute.iter().copied().fold(0.0, f64::max),
            attribute,
        }
    }

    fn randomize<R: CryptoRng + ?Sized>(
        &self,
        values: &[u32],
        rng: &mut R,
    ) -> Result<SmpReport, LdpError> {
        multidim::check_tuple(values, &self.domains)?;
        let j = sample::below(rng, self.domains.len() as u32);
        Ok(SmpReport {
            attribute: j,
            report: self.attrs[j as usize].perturb(values[j as usize], rng),
        })
    }

    fn accumulate(&self, counts: &mut MultiCounts, r: &SmpReport) -> Result<(), LdpError> {
        let o = self.oracle_for(r)?;
        let j = r.attribute as usize;
        counts.check_shape(&self.domains)?;
        // add_support validates the report before it changes any count
        o.add_support(counts.counts_mut(j), &r.report)?;
        counts.record_report(j);
        Ok(())
    }

    fn estimate(&self, counts: &MultiCounts) -> Result<Vec<Vec<f64>>, LdpError> {
        counts.check_shape(self.domains())?;
        Ok(self
            .attrs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                a.params()
                    .estimate(counts.counts(i), counts.reports_about(i))
            })
            .collect())
    }

    fn variance(&self, attr: usize, f: f64, n: f64) -> f64 {
        let d = self.domains.len() as f64;
        self.attrs[attr].params().variance(f, n / d) + f * (1.0 - f) * (d - 1.0) / n
    }

    fn encode_report(&self, r: &SmpReport, out: &mut Vec<u8>) -> Result<(), LdpError> {
        let o = self.oracle_for(r)?;
        let start = out.len();
        wire::put_uint(
            out,
            u64::from(r.attribute),
            wire::width(self.domains.len() as u64),
        );
        o.encode_report(&r.report, out)
            .inspect_err(|_| out.truncate(start))
    }

    fn decode_report(&self, bytes: &[u8]) -> Result<SmpReport, LdpError> {
        let mut rd = wire::Reader::new(bytes);
        let j = rd.uint_below(self.domains.len() as u64)? as usize;
        let o = &self.attrs[j];
        let idx_len = wire::width(self.domains.len() as u64);
        wire::check_len(bytes, idx_len + o.report_len())?;
        let report = o.read(&mut rd)?;
        rd.finish()?;
        Ok(SmpReport {
            attribute: j as u32,
            report,
        })
    }
}
