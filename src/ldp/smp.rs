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

use std::sync::Arc;

use rand_core::CryptoRng;

use super::multidim::{self, EpsilonLevel};
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
    tag: Arc<str>,
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
            .enumerate()
            .map(|(i, &k)| base.build(k, eps).map_err(|e| e.at_attribute(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let longest = attrs.iter().map(|o| o.report_len()).max().unwrap_or(0);
        multidim::check_sizes(&attrs, wire::width(domains.len() as u64) + longest)?;
        let tag = multidim::describe(
            &format!("Smp[{}]", base.label()),
            eps,
            EpsilonLevel::Tuple,
            &domains,
        );
        Ok(Smp {
            base,
            eps,
            domains,
            attrs,
            tag,
        })
    }

    /// The per-attribute oracles.
    pub fn oracles(&self) -> &[Adp] {
        &self.attrs
    }

    fn oracle_for(&self, r: &SmpReport) -> Result<&Adp, LdpError> {
        self.attrs
            .get(r.attribute as usize)
            .ok_or(LdpError::AttributeOutOfRange {
                index: u64::from(r.attribute),
                d: self.attrs.len(),
            })
    }
}

impl MultidimProtocol for Smp {
    type Report = SmpReport;
    /// Smp reports differ in shape (the sampled attribute varies), so a batch is a vector.
    type Batch = Vec<SmpReport>;

    fn randomize_columns<R: CryptoRng + ?Sized>(
        &self,
        rows: &[u32],
        rng: &mut R,
    ) -> Result<Vec<SmpReport>, LdpError> {
        self.randomize_batch(rows, rng)
    }

    fn accumulate_columns(
        &self,
        counts: &mut MultiCounts,
        batch: &Vec<SmpReport>,
    ) -> Result<(), LdpError> {
        self.accumulate_batch(counts, batch)
    }

    fn describe(&self) -> &str {
        &self.tag
    }

    fn new_counts(&self) -> MultiCounts {
        MultiCounts::new(Arc::clone(&self.tag), &self.domains)
    }

    fn nominal_level(&self) -> EpsilonLevel {
        EpsilonLevel::Tuple
    }

    fn name(&self) -> String {
        format!("Smp[{}]", self.base.label())
    }

    fn domains(&self) -> &[u32] {
        &self.domains
    }

    fn nominal_epsilon(&self) -> f64 {
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
        counts.check_tag(&self.tag)?;
        let o = self.oracle_for(r)?;
        let j = r.attribute as usize;
        let acc = counts.counts_mut(j).ok_or(LdpError::AttributeOutOfRange {
            index: u64::from(r.attribute),
            d: self.attrs.len(),
        })?;
        // add_support validates the report before it changes any count
        o.add_support(acc, &r.report)
            .map_err(|e| e.at_attribute(j))?;
        counts.record_report(j);
        Ok(())
    }

    fn estimate(&self, counts: &MultiCounts) -> Result<Vec<Vec<f64>>, LdpError> {
        counts.check_tag(&self.tag)?;
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

    fn variance(&self, attr: usize, f: f64, n: f64) -> Result<f64, LdpError> {
        let a = multidim::check_attr(attr, self.attrs.len())?;
        let d = self.domains.len() as f64;
        Ok(self.attrs[a].params().variance(f, n / d) + f * (1.0 - f) * (d - 1.0) / n)
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
        let d = self.domains.len();
        let idx_len = wire::width(d as u64);
        if bytes.len() < idx_len {
            return Err(LdpError::MalformedReport(
                "Smp report shorter than its attribute index",
            ));
        }
        let mut rd = wire::Reader::new(bytes);
        let j = rd.u64_width(idx_len)?;
        let o = self
            .attrs
            .get(j as usize)
            .ok_or(LdpError::AttributeOutOfRange { index: j, d })?;
        let j = j as usize;
        wire::check_len(bytes, idx_len + o.report_len())?;
        let report = o.read(&mut rd).map_err(|e| e.at_attribute(j))?;
        rd.finish()?;
        Ok(SmpReport {
            attribute: j as u32,
            report,
        })
    }
}
