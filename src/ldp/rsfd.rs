//! RS+FD (Arcolezi et al., CIKM 2021): random sampling plus fake data.
//!
//! Client: sample `j` uniformly (not disclosed), randomise `v_j` with an oracle at
//! `ε' = ln(d(e^ε − 1) + 1)` and replace every other attribute by fake data:
//!
//! * RS+FD\[GRR\]: GRR at `ε'`, fake value uniform on `[0, k_i)`;
//! * RS+FD\[OUE-z\]: OUE at `ε'`, fake = OUE of the all-zero vector (every bit Bernoulli(q));
//! * RS+FD\[OUE-r\]: OUE at `ε'`, fake = OUE of a uniformly random one-hot vector;
//! * RS+FD\[ADP\]: per attribute GRR-type if
//!   `d²δ₁(1−δ₁)/(p₁−q₁)² <= d²δ₂(1−δ₂)/(p₂−q₂)²` with `δ₁ = (q₁ + (d−1)/k)/d`, `δ₂ = q₂`
//!   (paper eq. 12), else OUE-z type.
//!
//! (The paper's Theorem 1 prints `ε = ln(1 + β(e^{ε'} + 1))`; the algorithm needs `−1`.)
//!
//! Every attribute is a pure protocol with, for holders (`δ₁`) and non-holders (`δ₀`) of `v`
//! (`p, q` the oracle's parameters at `ε'`):
//!
//! | variant | δ₁ | δ₀ |
//! |---|---|---|
//! | GRR | `(p + (d−1)/k)/d` | `(q + (d−1)/k)/d` |
//! | OUE-z | `(p + (d−1)q)/d` | `q` |
//! | OUE-r | `(p + (d−1)(p + (k−1)q)/k)/d` | `(q + (d−1)(p + (k−1)q)/k)/d` |
//!
//! so `f̂ = (N/n − δ₀)/(δ₁ − δ₀)`, which is exactly the paper's equations 4, 8 and 10, with the
//! exact fixed-population variance `[f δ₁(1−δ₁) + (1−f) δ₀(1−δ₀)]/(n(δ₁−δ₀)²)` (the paper's
//! equations 5, 9, 11 use `δ(1−δ)` with `δ` the population-average support probability).
//!
//! Privacy (exact, see [`super::privacy`]): tuple level `ε'`, attribute level
//! `ln[(e^{ε'} x_j + S_j)/(x_j + S_j)]`. [`RsFd::tuple_calibrated`] builds an RS+FD whose
//! tuple-level loss is a given `ε` (randomiser at `ε' = ε`).
//!
//! Report: the concatenation of the `d` attribute reports (GRR values or `k_i`-bit vectors).

use std::sync::Arc;

use rand_core::CryptoRng;

use super::multidim::{self, Column, EpsilonLevel, TupleBatch, TupleReport};
use super::{
    check_derived_epsilon, check_epsilon, sample, Adp, AttrReport, FrequencyOracle, LdpError,
    MultiCounts, MultidimProtocol, PrivacyLoss, PureParams,
};

/// RS+FD variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsFdVariant {
    /// GRR with uniform fake values.
    Grr,
    /// OUE with fake data = OUE of the zero vector.
    OueZero,
    /// OUE with fake data = OUE of a random one-hot vector.
    OueRandom,
    /// Per attribute, GRR or OUE-z by the paper's variance rule.
    Adp,
}

impl RsFdVariant {
    fn label(self) -> &'static str {
        match self {
            RsFdVariant::Grr => "GRR",
            RsFdVariant::OueZero => "OUE-z",
            RsFdVariant::OueRandom => "OUE-r",
            RsFdVariant::Adp => "ADP",
        }
    }
}

/// How one attribute's fake data is produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FakeData {
    /// Uniform value (GRR-type attribute).
    Uniform,
    /// OUE of the all-zero vector.
    OueZero,
    /// OUE of a uniform one-hot vector.
    OueRandom,
}

#[derive(Clone, Debug, PartialEq)]
struct Attr {
    fo: Adp,
    fake: FakeData,
    delta: PureParams,
    /// privacy constants x_j and t_j (see the privacy module)
    x: f64,
    t: f64,
}

impl Attr {
    fn new(k: u32, eps_prime: f64, d: usize, fake: FakeData) -> Result<Self, LdpError> {
        let (kf, df) = (f64::from(k), d as f64);
        let fo = match fake {
            FakeData::Uniform => Adp::grr_build(k, eps_prime)?,
            FakeData::OueZero | FakeData::OueRandom => Adp::oue_build(k, eps_prime)?,
        };
        let pq = fo.params();
        let (p, q) = (pq.p_star(), pq.q_star());
        let b = (1.0 - p) / (1.0 - q);
        let (d1, d0, x, t) = match fake {
            FakeData::Uniform => {
                let fake_support = (df - 1.0) / kf;
                (
                    (p + fake_support) / df,
                    (q + fake_support) / df,
                    kf * q,
                    kf * q,
                )
            }
            FakeData::OueZero => ((p + (df - 1.0) * q) / df, q, b, b),
            FakeData::OueRandom => {
                let fake_support = (df - 1.0) * (p + (kf - 1.0) * q) / kf;
                let r1 = p / q;
                (
                    (p + fake_support) / df,
                    (q + fake_support) / df,
                    kf * b / (r1 + (kf - 1.0) * b),
                    kf * b / ((kf - 1.0) * r1 + b),
                )
            }
        };
        Ok(Attr {
            fo,
            fake,
            delta: PureParams::new(d1, d0)?,
            x,
            t,
        })
    }
}

/// The paper's ADP rule (eq. 12): GRR-type iff its `f = 0` variance is not larger.
pub fn rsfd_adp_prefers_grr(k: u32, eps_prime: f64, d: usize) -> bool {
    let (kf, df, e) = (f64::from(k), d as f64, eps_prime.exp());
    let (p1, q1) = (e / (e + kf - 1.0), 1.0 / (e + kf - 1.0));
    let (p2, q2) = (0.5, 1.0 / (e + 1.0));
    let d1 = (q1 + (df - 1.0) / kf) / df;
    let d2 = q2;
    let v1 = df * df * d1 * (1.0 - d1) / ((p1 - q1) * (p1 - q1));
    let v2 = df * df * d2 * (1.0 - d2) / ((p2 - q2) * (p2 - q2));
    v1 <= v2
}

/// RS+FD over domains `k_1..k_d`.
///
/// Invariant: `eps_prime = ln(d(e^eps − 1) + 1)` with `eps` the nominal attribute-level `ε`;
/// `nominal` is the constructor's argument, `eps` or `eps_prime` according to `level`.
#[derive(Clone, Debug, PartialEq)]
pub struct RsFd {
    variant: RsFdVariant,
    eps: f64,
    eps_prime: f64,
    nominal: f64,
    level: EpsilonLevel,
    domains: Vec<u32>,
    attrs: Vec<Attr>,
    oracles: Vec<Adp>,
    tag: Arc<str>,
    /// byte layout of an encoded report (the per-report server's fast path)
    layout: multidim::Layout,
}

impl RsFd {
    /// RS+FD with the paper's calibration: nominal attribute-level `eps` (any value in
    /// `[MIN_EPSILON, MAX_EPSILON]`), randomiser at `ε' = ln(d(e^eps − 1) + 1)`, which is also
    /// its exact tuple-level loss and may exceed [`super::MAX_EPSILON`] by up to `ln d`.
    pub fn new(domains: &[u32], eps: f64, variant: RsFdVariant) -> Result<Self, LdpError> {
        let eps = check_epsilon(eps)?;
        let d = domains.len() as f64;
        let eps_prime = check_derived_epsilon((d * eps.exp_m1()).ln_1p())?;
        Self::build(
            domains,
            eps,
            eps_prime,
            eps,
            EpsilonLevel::Attribute,
            variant,
        )
    }

    /// RS+FD whose exact tuple-level loss is `eps_tuple`: randomiser at `ε' = eps_tuple`
    /// (nominal attribute-level `ln((e^ε' − 1)/d + 1)`, [`Self::nominal_attribute_epsilon`]).
    pub fn tuple_calibrated(
        domains: &[u32],
        eps_tuple: f64,
        variant: RsFdVariant,
    ) -> Result<Self, LdpError> {
        let eps_prime = check_epsilon(eps_tuple)?;
        let d = domains.len().max(1) as f64;
        let eps = (eps_prime.exp_m1() / d).ln_1p();
        Self::build(
            domains,
            eps,
            eps_prime,
            eps_tuple,
            EpsilonLevel::Tuple,
            variant,
        )
    }

    fn build(
        domains: &[u32],
        eps: f64,
        eps_prime: f64,
        nominal: f64,
        level: EpsilonLevel,
        variant: RsFdVariant,
    ) -> Result<Self, LdpError> {
        let domains = multidim::check_domains(domains)?;
        let d = domains.len();
        let attrs = domains
            .iter()
            .map(|&k| {
                let fake = match variant {
                    RsFdVariant::Grr => FakeData::Uniform,
                    RsFdVariant::OueZero => FakeData::OueZero,
                    RsFdVariant::OueRandom => FakeData::OueRandom,
                    RsFdVariant::Adp if rsfd_adp_prefers_grr(k, eps_prime, d) => FakeData::Uniform,
                    RsFdVariant::Adp => FakeData::OueZero,
                };
                Attr::new(k, eps_prime, d, fake)
            })
            .enumerate()
            .map(|(i, a)| a.map_err(|e| e.at_attribute(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let oracles: Vec<Adp> = attrs.iter().map(|a| a.fo.clone()).collect();
        multidim::check_sizes(&oracles, multidim::tuple_len(&oracles))?;
        let tag = multidim::describe(
            &format!("RS+FD[{}]", variant.label()),
            nominal,
            level,
            &domains,
        );
        Ok(RsFd {
            variant,
            eps,
            eps_prime,
            nominal,
            level,
            domains,
            attrs,
            layout: multidim::Layout::new(&oracles),
            oracles,
            tag,
        })
    }

    /// The nominal attribute-level `ε` of the paper's calibration, `ln((e^ε' − 1)/d + 1)` (the
    /// constructor's argument for [`Self::new`]). The exact attribute-level losses are in
    /// [`MultidimProtocol::privacy`].
    pub fn nominal_attribute_epsilon(&self) -> f64 {
        self.eps
    }

    /// The amplified randomiser parameter `ε'`.
    pub fn eps_prime(&self) -> f64 {
        self.eps_prime
    }

    /// The variant.
    pub fn variant(&self) -> RsFdVariant {
        self.variant
    }

    /// Fake-data kind of each attribute (for ADP: which branch was chosen).
    pub fn fake_data(&self) -> Vec<FakeData> {
        self.attrs.iter().map(|a| a.fake).collect()
    }

    /// Per-attribute randomisers (at `ε'`).
    pub fn oracles(&self) -> &[Adp] {
        &self.oracles
    }

    /// Per-attribute support probabilities `(δ₁, δ₀)` ([`LdpError::AttributeOutOfRange`] if
    /// `attr >= d`).
    pub fn support_params(&self, attr: usize) -> Result<PureParams, LdpError> {
        let a = multidim::check_attr(attr, self.attrs.len())?;
        Ok(self.attrs[a].delta)
    }

    /// Randomises one validated tuple given the sampled attribute `j` into `out`, reusing its
    /// slots (the same RNG consumption as randomising attribute `j` and drawing fake data for
    /// the others in attribute order, which is also what the batch client does).
    fn perturb_into<R: CryptoRng + ?Sized>(
        &self,
        values: &[u32],
        j: usize,
        rng: &mut R,
        out: &mut TupleReport,
    ) {
        multidim::reshape(out, self.attrs.len());
        for (i, ((a, &v), slot)) in self
            .attrs
            .iter()
            .zip(values)
            .zip(out.iter_mut())
            .enumerate()
        {
            match &a.fo {
                Adp::Grr(g) => {
                    *slot = AttrReport::Value(if i == j {
                        g.perturb(v, rng)
                    } else {
                        sample::below(rng, g.domain_size())
                    })
                }
                Adp::Oue(u) => {
                    let words = multidim::unary_words(slot, u.domain_size());
                    if i == j {
                        u.perturb_into(v, rng, words);
                    } else if a.fake == FakeData::OueRandom {
                        let r = sample::below(rng, u.domain_size());
                        u.perturb_into(r, rng, words);
                    } else {
                        u.zero_into(rng, words);
                    }
                }
            }
        }
    }
}

impl MultidimProtocol for RsFd {
    type Report = TupleReport;
    type Batch = TupleBatch;

    /// Batch client: randomises row-major tuples into column-major reports. Consumes the RNG
    /// exactly like [`MultidimProtocol::randomize_batch`], so both give the same reports.
    fn randomize_columns<R: CryptoRng + ?Sized>(
        &self,
        rows: &[u32],
        rng: &mut R,
    ) -> Result<TupleBatch, LdpError> {
        let n = multidim::check_rows(rows, &self.domains)?;
        let d = self.domains.len();
        let mut batch = TupleBatch::for_oracles(&self.oracles, n);
        for (u, t) in rows.chunks(d).enumerate() {
            let j = sample::below(rng, d as u32) as usize;
            for (i, (a, col)) in self.attrs.iter().zip(batch.columns_mut()).enumerate() {
                match (col, &a.fo) {
                    (Column::Values(vs), Adp::Grr(g)) => vs.push(if i == j {
                        g.perturb(t[i], rng)
                    } else {
                        sample::below(rng, g.domain_size())
                    }),
                    (Column::Unary { k, words }, Adp::Oue(ue)) => {
                        let wpr = (*k as usize).div_ceil(64);
                        let w = &mut words[u * wpr..(u + 1) * wpr];
                        if i == j {
                            ue.perturb_into(t[i], rng, w);
                        } else if a.fake == FakeData::OueRandom {
                            let v = sample::below(rng, *k);
                            ue.perturb_into(v, rng, w);
                        } else {
                            ue.zero_into(rng, w);
                        }
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
        multidim::accumulate_columns(&self.oracles, counts, batch)
    }

    fn describe(&self) -> &str {
        &self.tag
    }

    fn new_counts(&self) -> MultiCounts {
        MultiCounts::new(Arc::clone(&self.tag), &self.domains)
    }

    fn nominal_level(&self) -> EpsilonLevel {
        self.level
    }

    fn name(&self) -> String {
        format!("RS+FD[{}]", self.variant.label())
    }

    fn domains(&self) -> &[u32] {
        &self.domains
    }

    fn nominal_epsilon(&self) -> f64 {
        self.nominal
    }

    fn privacy(&self) -> PrivacyLoss {
        let e = self.eps_prime.exp();
        let total_t: f64 = self.attrs.iter().map(|a| a.t).sum();
        let attribute = self
            .attrs
            .iter()
            .map(|a| {
                let s = total_t - a.t;
                ((e * a.x + s) / (a.x + s)).ln()
            })
            .collect();
        PrivacyLoss {
            nominal: self.nominal,
            tuple: self.eps_prime,
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
        let j = sample::below(rng, self.domains.len() as u32) as usize;
        self.perturb_into(values, j, rng, out);
        Ok(())
    }

    // inline: the per-report server is a few instructions per field, less than a call
    #[inline]
    fn accumulate_bytes(&self, counts: &mut MultiCounts, bytes: &[u8]) -> Result<(), LdpError> {
        multidim::accumulate_tuple_bytes(&self.oracles, &self.layout, &self.tag, counts, bytes)
    }

    fn accumulate(&self, counts: &mut MultiCounts, report: &TupleReport) -> Result<(), LdpError> {
        multidim::accumulate_tuple(&self.oracles, &self.tag, counts, report)
    }

    fn accumulate_batch(
        &self,
        counts: &mut MultiCounts,
        reports: &[TupleReport],
    ) -> Result<(), LdpError> {
        multidim::accumulate_tuples(&self.oracles, &self.tag, counts, reports)
    }

    fn estimate(&self, counts: &MultiCounts) -> Result<Vec<Vec<f64>>, LdpError> {
        counts.check_tag(&self.tag)?;
        Ok(self
            .attrs
            .iter()
            .enumerate()
            .map(|(i, a)| a.delta.estimate(counts.counts(i), counts.n()))
            .collect())
    }

    fn variance(&self, attr: usize, f: f64, n: f64) -> Result<f64, LdpError> {
        Ok(self.support_params(attr)?.variance(f, n))
    }

    fn encode_report(&self, report: &TupleReport, out: &mut Vec<u8>) -> Result<(), LdpError> {
        multidim::encode_tuple(&self.oracles, report, out)
    }

    fn decode_report(&self, bytes: &[u8]) -> Result<TupleReport, LdpError> {
        multidim::decode_tuple(&self.oracles, bytes)
    }
}
