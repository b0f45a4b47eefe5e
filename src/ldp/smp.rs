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
    /// An encoded report's attribute index, that attribute's oracle and its report bytes: the
    /// checks decoding and counting share, in the order of `ldp.md` (the index is present, names
    /// an attribute, and the report has exactly that attribute's length).
    fn split_report<'b>(&self, bytes: &'b [u8]) -> Result<(usize, &Adp, &'b [u8]), LdpError> {
        let d = self.domains.len();
        let idx_len = wire::width(d as u64);
        let (idx, field) = bytes
            .split_at_checked(idx_len)
            .ok_or(LdpError::MalformedReport(
                "Smp report shorter than its attribute index",
            ))?;
        let j = wire::le_uint(idx);
        let o = self
            .attrs
            .get(j as usize)
            .ok_or(LdpError::AttributeOutOfRange { index: j, d })?;
        wire::check_len(bytes, idx_len + o.report_len())?;
        Ok((j as usize, o, field))
    }

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

    /// Same result and errors as [`MultidimProtocol::accumulate_batch`] (stops at the first
    /// invalid report, the valid ones before it are kept), with bit-sliced counters for the
    /// unary attributes instead of one counter update per set bit.
    fn accumulate_columns(
        &self,
        counts: &mut MultiCounts,
        batch: &Vec<SmpReport>,
    ) -> Result<(), LdpError> {
        counts.check_tag(&self.tag)?;
        let mut sliced: Vec<Option<multidim::SlicedCounter>> = self
            .attrs
            .iter()
            .map(|o| match o {
                Adp::Grr(_) => None,
                Adp::Oue(u) => Some(multidim::SlicedCounter::new(
                    (u.domain_size() as usize).div_ceil(64),
                )),
            })
            .collect();
        let mut result = Ok(());
        for (i, r) in batch.iter().enumerate() {
            let j = r.attribute as usize;
            if let Err(e) = self.oracle_for(r).and_then(|o| {
                o.check_attr_report(&r.report)
                    .map_err(|e| e.at_attribute(j))
            }) {
                result = Err(e.at_row(i));
                break;
            }
            // validated: `j < d` and the report is of attribute j's oracle
            let acc = counts.counts_mut(j).unwrap_or_default();
            match (&r.report, sliced.get_mut(j)) {
                (AttrReport::Value(y), _) => {
                    if let Some(x) = acc.get_mut(*y as usize) {
                        *x += 1;
                    }
                }
                (AttrReport::Unary(bv), Some(Some(s))) => s.add(bv.words(), acc),
                (AttrReport::Unary(bv), _) => bv.add_to(acc),
            }
            counts.record_report(j);
        }
        // the reports counted so far (all valid) are kept, also on error
        for (j, s) in sliced.iter_mut().enumerate() {
            if let (Some(s), Some(acc)) = (s, counts.counts_mut(j)) {
                s.flush(acc);
            }
        }
        result
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

    /// Validates and counts an encoded report without building one: the checks and errors of
    /// [`Self::decode_report`], then the counts' tag, then the count; nothing changes on error.
    fn accumulate_bytes(&self, counts: &mut MultiCounts, bytes: &[u8]) -> Result<(), LdpError> {
        let (j, o, field) = self.split_report(bytes)?;
        // `field` is exactly the attribute's report length: validate it completely first
        match o {
            Adp::Grr(g) => {
                let y = wire::le_uint(field);
                if y >= u64::from(g.domain_size()) {
                    return Err(LdpError::FieldOutOfRange {
                        field: "GRR value",
                        value: y,
                        bound: u64::from(g.domain_size()),
                    }
                    .at_attribute(j));
                }
            }
            Adp::Oue(u) => {
                let rem = u.domain_size() & 7;
                if rem != 0 && field.last().is_some_and(|&x| x >> rem != 0) {
                    return Err(
                        LdpError::MalformedReport("bit vector padding bits set").at_attribute(j)
                    );
                }
            }
        }
        counts.check_tag(&self.tag)?;
        let acc = counts.counts_mut(j).unwrap_or_default();
        if o.is_grr() {
            if let Some(x) = acc.get_mut(wire::le_uint(field) as usize) {
                *x += 1;
            }
        } else {
            for (wi, chunk) in field.chunks(8).enumerate() {
                let mut w = wire::le_uint(chunk);
                while w != 0 {
                    if let Some(x) = acc.get_mut(wi * 64 + w.trailing_zeros() as usize) {
                        *x += 1;
                    }
                    w &= w - 1;
                }
            }
        }
        counts.record_report(j);
        Ok(())
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
        let (j, o, field) = self.split_report(bytes)?;
        let mut rd = wire::Reader::new(field);
        let report = o.read(&mut rd).map_err(|e| e.at_attribute(j))?;
        rd.finish()?;
        Ok(SmpReport {
            attribute: j as u32,
            report,
        })
    }
}
