//! Spl: split the budget, every attribute reported with its own oracle at `ε/d`.
//!
//! Per attribute `j` the estimate is the oracle's pure estimator and its variance is the oracle's
//! variance at `ε/d`. Privacy (exact): tuple level `ε` (sequential composition, tight: every
//! attribute's ratio can be maximal at once), attribute level `ε/d`.
//!
//! Report: the concatenation of the `d` attribute reports.

use std::sync::Arc;

use rand_core::CryptoRng;

use super::multidim::{self, Column, EpsilonLevel, TupleBatch, TupleReport};
use super::{
    check_epsilon, Adp, AttrReport, FrequencyOracle, LdpError, MultiCounts, MultidimProtocol,
    PrivacyLoss, MIN_EPSILON,
};

/// Which oracle a multidimensional protocol runs per attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseOracle {
    /// GRR everywhere.
    Grr,
    /// OUE everywhere.
    Oue,
    /// Per attribute, GRR if `k < 3e^ε + 2` else OUE (at the attribute's ε).
    Adp,
}

impl BaseOracle {
    pub(crate) fn build(self, k: u32, eps: f64) -> Result<Adp, LdpError> {
        match self {
            BaseOracle::Grr => Adp::grr(k, eps),
            BaseOracle::Oue => Adp::oue(k, eps),
            BaseOracle::Adp => Adp::new(k, eps),
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            BaseOracle::Grr => "GRR",
            BaseOracle::Oue => "OUE",
            BaseOracle::Adp => "ADP",
        }
    }
}

/// Spl over domains `k_1..k_d`.
#[derive(Clone, Debug, PartialEq)]
pub struct Spl {
    base: BaseOracle,
    eps: f64,
    domains: Vec<u32>,
    attrs: Vec<Adp>,
    tag: Arc<str>,
    /// byte layout of an encoded report (the per-report server's fast path)
    layout: multidim::Layout,
}

impl Spl {
    /// Spl at total (tuple-level) budget `eps`, each attribute at `eps / d` (which must be at
    /// least [`MIN_EPSILON`]: [`LdpError::SplitEpsilonTooSmall`] otherwise).
    pub fn new(domains: &[u32], eps: f64, base: BaseOracle) -> Result<Self, LdpError> {
        let domains = multidim::check_domains(domains)?;
        let eps = check_epsilon(eps)?;
        let d = domains.len();
        let e_attr = eps / d as f64;
        if e_attr < MIN_EPSILON {
            return Err(LdpError::SplitEpsilonTooSmall {
                epsilon: eps,
                d,
                per_attribute: e_attr,
                min: MIN_EPSILON,
            });
        }
        let attrs = domains
            .iter()
            .enumerate()
            .map(|(i, &k)| base.build(k, e_attr).map_err(|e| e.at_attribute(i)))
            .collect::<Result<Vec<_>, _>>()?;
        multidim::check_sizes(&attrs, multidim::tuple_len(&attrs))?;
        let tag = multidim::describe(
            &format!("Spl[{}]", base.label()),
            eps,
            EpsilonLevel::Tuple,
            &domains,
        );
        Ok(Spl {
            base,
            eps,
            domains,
            layout: multidim::Layout::new(&attrs),
            attrs,
            tag,
        })
    }

    /// The per-attribute oracles.
    pub fn oracles(&self) -> &[Adp] {
        &self.attrs
    }
}

impl MultidimProtocol for Spl {
    type Report = TupleReport;
    type Batch = TupleBatch;

    /// Batch client: column-major reports (same RNG consumption, hence same reports, as
    /// [`MultidimProtocol::randomize_batch`]).
    fn randomize_columns<R: CryptoRng + ?Sized>(
        &self,
        rows: &[u32],
        rng: &mut R,
    ) -> Result<TupleBatch, LdpError> {
        let n = multidim::check_rows(rows, &self.domains)?;
        let d = self.domains.len();
        let mut batch = TupleBatch::for_oracles(&self.attrs, n);
        for (u, t) in rows.chunks(d).enumerate() {
            for ((o, col), &v) in self.attrs.iter().zip(batch.columns_mut()).zip(t) {
                match (col, o) {
                    (Column::Values(vs), Adp::Grr(g)) => vs.push(g.perturb(v, rng)),
                    (Column::Unary { k, words }, Adp::Oue(ue)) => {
                        let wpr = (*k as usize).div_ceil(64);
                        ue.perturb_into(v, rng, &mut words[u * wpr..(u + 1) * wpr]);
                    }
                    _ => unreachable!("columns are built from the same oracles"),
                }
            }
        }
        Ok(batch)
    }

    /// Batch server: validates and adds a column-major batch (nothing is added on error).
    fn accumulate_columns(
        &self,
        counts: &mut MultiCounts,
        batch: &TupleBatch,
    ) -> Result<(), LdpError> {
        counts.check_tag(&self.tag)?;
        multidim::accumulate_columns(&self.attrs, counts, batch)
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
        format!("Spl[{}]", self.base.label())
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
            tuple: attribute.iter().sum(),
            attribute,
        }
    }

    fn randomize<R: CryptoRng + ?Sized>(
        &self,
        values: &[u32],
        rng: &mut R,
    ) -> Result<TupleReport, LdpError> {
        let mut out = Vec::with_capacity(self.domains.len());
        self.randomize_into(values, rng, &mut out)?;
        Ok(out)
    }

    fn randomize_into<R: CryptoRng + ?Sized>(
        &self,
        values: &[u32],
        rng: &mut R,
        out: &mut TupleReport,
    ) -> Result<(), LdpError> {
        multidim::check_tuple(values, &self.domains)?;
        multidim::reshape(out, self.attrs.len());
        for ((a, &v), slot) in self.attrs.iter().zip(values).zip(out.iter_mut()) {
            match a {
                Adp::Grr(g) => *slot = AttrReport::Value(g.perturb(v, rng)),
                Adp::Oue(u) => u.perturb_into(v, rng, multidim::unary_words(slot, u.domain_size())),
            }
        }
        Ok(())
    }

    // inline: the per-report server is a few instructions per field, less than a call
    #[inline]
    fn accumulate_bytes(&self, counts: &mut MultiCounts, bytes: &[u8]) -> Result<(), LdpError> {
        multidim::accumulate_tuple_bytes(&self.attrs, &self.layout, &self.tag, counts, bytes)
    }

    fn accumulate(&self, counts: &mut MultiCounts, report: &TupleReport) -> Result<(), LdpError> {
        multidim::accumulate_tuple(&self.attrs, &self.tag, counts, report)
    }

    fn accumulate_batch(
        &self,
        counts: &mut MultiCounts,
        reports: &[TupleReport],
    ) -> Result<(), LdpError> {
        multidim::accumulate_tuples(&self.attrs, &self.tag, counts, reports)
    }

    fn estimate(&self, counts: &MultiCounts) -> Result<Vec<Vec<f64>>, LdpError> {
        counts.check_tag(&self.tag)?;
        Ok(self
            .attrs
            .iter()
            .enumerate()
            .map(|(i, a)| a.params().estimate(counts.counts(i), counts.n()))
            .collect())
    }

    fn variance(&self, attr: usize, f: f64, n: f64) -> Result<f64, LdpError> {
        let a = multidim::check_attr(attr, self.attrs.len())?;
        Ok(self.attrs[a].params().variance(f, n))
    }

    fn encode_report(&self, report: &TupleReport, out: &mut Vec<u8>) -> Result<(), LdpError> {
        multidim::encode_tuple(&self.attrs, report, out)
    }

    fn decode_report(&self, bytes: &[u8]) -> Result<TupleReport, LdpError> {
        multidim::decode_tuple(&self.attrs, bytes)
    }
}
