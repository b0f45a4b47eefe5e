//! Federated analytics: frequency estimation of categorical data, either with local
//! differential privacy over the coordinator ([`LdpTask`], spec `protocol-spec/analytics.md`) or
//! as histograms summed under secure aggregation ([`histogram`]), both ending in the same
//! [`FrequencyEstimates`].
//!
//! * An LDP task names a protocol of [`crate::ldp`] (a single-attribute oracle or a
//!   multidimensional protocol), its epsilon and its domain sizes. [`LdpTask::new`] checks them
//!   against the documented caps ([`MAX_ATTRIBUTES`], [`MAX_TASK_DOMAIN`], [`MAX_TASK_CELLS`],
//!   [`MAX_REPORT_LEN`]) before anything is allocated, so parameters read from a peer cannot
//!   make either side allocate more than those caps allow.
//! * A client turns its value (or tuple) into report bytes with [`LdpTask::randomize`]; the
//!   server adds report bytes to an [`LdpAccumulator`] (memory `O(Σ k_i)`, independent of the
//!   number of reports) and turns it into estimates with [`LdpAccumulator::estimates`].
//! * The frames that carry tasks and reports ([`wire`]) bind the session id.
//!
//! Invariants: untrusted bytes (task parameters, reports) give a typed [`AnalyticsError`], never
//! a panic; a refused report leaves the accumulator unchanged.

#[cfg(feature = "client")]
pub mod histogram;
pub mod wire;

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::ldp::{
    Adp, BaseOracle, FrequencyOracle, Grr, Hr, LdpError, Lh, MultiCounts, MultidimProtocol,
    PostProcess, RsFd, RsFdVariant, Smp, Spl, Ss, Ue,
};

/// Most attributes of a multidimensional task.
pub const MAX_ATTRIBUTES: usize = 64;

/// Largest domain size of one attribute in a task (smaller than [`crate::ldp::MAX_DOMAIN`]: a
/// task's parameters come from a peer and fix both sides' memory).
pub const MAX_TASK_DOMAIN: u32 = 1 << 20;

/// Largest `Σ k_i` over a task's attributes (the server's counters; one `u64` each, twice for
/// Hadamard response's padded domain).
pub const MAX_TASK_CELLS: u64 = 1 << 22;

/// Largest encoded report of a task, in bytes.
pub const MAX_REPORT_LEN: usize = 1 << 20;

/// Errors of the analytics layer. None carries a client's value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyticsError {
    /// The LDP module refused a parameter, a value or a report.
    #[error(transparent)]
    Ldp(#[from] LdpError),
    /// A task's parameters exceed a documented cap or do not fit the protocol.
    #[error("task parameters: {0}")]
    Task(String),
    /// A frame is malformed.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// Which frame.
        what: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// A frame names another session.
    #[error("frame for another session")]
    WrongSession,
    /// A histogram input or a sum does not fit the histogram's shape.
    #[error("histogram: {0}")]
    Histogram(String),
}

/// The LDP protocol of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LdpProtocol {
    /// k-RR (one attribute).
    Grr,
    /// Symmetric unary encoding (one attribute).
    Sue,
    /// Optimised unary encoding (one attribute).
    Oue,
    /// Binary local hashing (one attribute).
    Blh,
    /// Optimised local hashing (one attribute).
    Olh,
    /// Hadamard response (one attribute).
    Hr,
    /// Subset selection (one attribute).
    Ss,
    /// GRR or OUE by the variance rule (one attribute): the recommended default.
    Adp,
    /// Split the budget over the attributes, GRR each.
    SplGrr,
    /// Split, OUE each.
    SplOue,
    /// Split, ADP each.
    SplAdp,
    /// Sample one attribute, GRR.
    SmpGrr,
    /// Sample one attribute, OUE.
    SmpOue,
    /// Sample one attribute, ADP.
    SmpAdp,
    /// RS+FD with GRR and uniform fake data (nominal epsilon at attribute level).
    RsfdGrr,
    /// RS+FD with OUE and zero-vector fake data.
    RsfdOueZ,
    /// RS+FD with OUE and random one-hot fake data.
    RsfdOueR,
    /// RS+FD, GRR or OUE-z per attribute.
    RsfdAdp,
}

impl LdpProtocol {
    /// Every protocol, in code order.
    pub const ALL: [LdpProtocol; 18] = [
        LdpProtocol::Grr,
        LdpProtocol::Sue,
        LdpProtocol::Oue,
        LdpProtocol::Blh,
        LdpProtocol::Olh,
        LdpProtocol::Hr,
        LdpProtocol::Ss,
        LdpProtocol::Adp,
        LdpProtocol::SplGrr,
        LdpProtocol::SplOue,
        LdpProtocol::SplAdp,
        LdpProtocol::SmpGrr,
        LdpProtocol::SmpOue,
        LdpProtocol::SmpAdp,
        LdpProtocol::RsfdGrr,
        LdpProtocol::RsfdOueZ,
        LdpProtocol::RsfdOueR,
        LdpProtocol::RsfdAdp,
    ];

    /// The protocol's byte in the task encoding (spec `analytics.md`, "Task").
    pub fn code(self) -> u8 {
        match self {
            LdpProtocol::Grr => 0x01,
            LdpProtocol::Sue => 0x02,
            LdpProtocol::Oue => 0x03,
            LdpProtocol::Blh => 0x04,
            LdpProtocol::Olh => 0x05,
            LdpProtocol::Hr => 0x06,
            LdpProtocol::Ss => 0x07,
            LdpProtocol::Adp => 0x08,
            LdpProtocol::SplGrr => 0x11,
            LdpProtocol::SplOue => 0x12,
            LdpProtocol::SplAdp => 0x13,
            LdpProtocol::SmpGrr => 0x21,
            LdpProtocol::SmpOue => 0x22,
            LdpProtocol::SmpAdp => 0x23,
            LdpProtocol::RsfdGrr => 0x31,
            LdpProtocol::RsfdOueZ => 0x32,
            LdpProtocol::RsfdOueR => 0x33,
            LdpProtocol::RsfdAdp => 0x34,
        }
    }

    /// The protocol with this code.
    pub fn from_code(c: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == c)
    }

    /// Whether the protocol takes exactly one attribute.
    pub fn is_oracle(self) -> bool {
        self.code() < 0x10
    }

    /// The configuration name (kebab case), e.g. `"rsfd-grr"`.
    pub fn config_name(self) -> &'static str {
        match self {
            LdpProtocol::Grr => "grr",
            LdpProtocol::Sue => "sue",
            LdpProtocol::Oue => "oue",
            LdpProtocol::Blh => "blh",
            LdpProtocol::Olh => "olh",
            LdpProtocol::Hr => "hr",
            LdpProtocol::Ss => "ss",
            LdpProtocol::Adp => "adp",
            LdpProtocol::SplGrr => "spl-grr",
            LdpProtocol::SplOue => "spl-oue",
            LdpProtocol::SplAdp => "spl-adp",
            LdpProtocol::SmpGrr => "smp-grr",
            LdpProtocol::SmpOue => "smp-oue",
            LdpProtocol::SmpAdp => "smp-adp",
            LdpProtocol::RsfdGrr => "rsfd-grr",
            LdpProtocol::RsfdOueZ => "rsfd-oue-z",
            LdpProtocol::RsfdOueR => "rsfd-oue-r",
            LdpProtocol::RsfdAdp => "rsfd-adp",
        }
    }
}

/// What an LDP task asks: the protocol, its (nominal) epsilon and the domain sizes (one for an
/// oracle). The coordinator configuration's `[ldp]` table deserialises into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdpTaskSpec {
    /// The protocol.
    pub protocol: LdpProtocol,
    /// The epsilon the protocol is built with (for RS+FD the nominal attribute-level one; the
    /// true losses are in [`PrivacySummary`]).
    pub epsilon: f64,
    /// Domain sizes `k_1..k_d`.
    pub domains: Vec<u32>,
}

#[derive(Debug, Clone)]
enum Mech {
    Grr(Grr),
    Ue(Ue),
    Lh(Lh),
    Hr(Hr),
    Ss(Ss),
    Adp(Adp),
    Spl(Spl),
    Smp(Smp),
    RsFd(RsFd),
}

macro_rules! oracle_dispatch {
    ($m:expr, $o:ident => $body:expr, $multi:ident => $mbody:expr) => {
        match $m {
            Mech::Grr($o) => $body,
            Mech::Ue($o) => $body,
            Mech::Lh($o) => $body,
            Mech::Hr($o) => $body,
            Mech::Ss($o) => $body,
            Mech::Adp($o) => $body,
            Mech::Spl($multi) => $mbody,
            Mech::Smp($multi) => $mbody,
            Mech::RsFd($multi) => $mbody,
        }
    };
}

/// A checked, built LDP task: what a client randomises with and what the server estimates
/// with.
#[derive(Debug, Clone)]
pub struct LdpTask {
    spec: LdpTaskSpec,
    mech: Mech,
    report_len: usize,
}

impl LdpTask {
    /// Checks the parameters against the caps, then builds the protocol.
    pub fn new(spec: LdpTaskSpec) -> Result<Self, AnalyticsError> {
        let d = spec.domains.len();
        if d == 0 || d > MAX_ATTRIBUTES {
            return Err(AnalyticsError::Task(format!(
                "{d} attributes; 1 to {MAX_ATTRIBUTES} allowed"
            )));
        }
        if spec.protocol.is_oracle() && d != 1 {
            return Err(AnalyticsError::Task(format!(
                "{} takes one attribute, got {d}",
                spec.protocol.config_name()
            )));
        }
        if let Some(&k) = spec.domains.iter().find(|&&k| k > MAX_TASK_DOMAIN) {
            return Err(AnalyticsError::Task(format!(
                "domain size {k} exceeds the task cap {MAX_TASK_DOMAIN}"
            )));
        }
        let cells: u64 = spec.domains.iter().map(|&k| u64::from(k)).sum();
        if cells > MAX_TASK_CELLS {
            return Err(AnalyticsError::Task(format!(
                "sum of domain sizes {cells} exceeds the task cap {MAX_TASK_CELLS}"
            )));
        }
        let (eps, ds) = (spec.epsilon, spec.domains.as_slice());
        let k = ds.first().copied().unwrap_or(0);
        let mech = match spec.protocol {
            LdpProtocol::Grr => Mech::Grr(Grr::new(k, eps)?),
            LdpProtocol::Sue => Mech::Ue(Ue::sue(k, eps)?),
            LdpProtocol::Oue => Mech::Ue(Ue::oue(k, eps)?),
            LdpProtocol::Blh => Mech::Lh(Lh::blh(k, eps)?),
            LdpProtocol::Olh => Mech::Lh(Lh::olh(k, eps)?),
            LdpProtocol::Hr => Mech::Hr(Hr::new(k, eps)?),
            LdpProtocol::Ss => Mech::Ss(Ss::new(k, eps)?),
            LdpProtocol::Adp => Mech::Adp(Adp::new(k, eps)?),
            LdpProtocol::SplGrr => Mech::Spl(Spl::new(ds, eps, BaseOracle::Grr)?),
            LdpProtocol::SplOue => Mech::Spl(Spl::new(ds, eps, BaseOracle::Oue)?),
            LdpProtocol::SplAdp => Mech::Spl(Spl::new(ds, eps, BaseOracle::Adp)?),
            LdpProtocol::SmpGrr => Mech::Smp(Smp::new(ds, eps, BaseOracle::Grr)?),
            LdpProtocol::SmpOue => Mech::Smp(Smp::new(ds, eps, BaseOracle::Oue)?),
            LdpProtocol::SmpAdp => Mech::Smp(Smp::new(ds, eps, BaseOracle::Adp)?),
            LdpProtocol::RsfdGrr => Mech::RsFd(RsFd::new(ds, eps, RsFdVariant::Grr)?),
            LdpProtocol::RsfdOueZ => Mech::RsFd(RsFd::new(ds, eps, RsFdVariant::OueZero)?),
            LdpProtocol::RsfdOueR => Mech::RsFd(RsFd::new(ds, eps, RsFdVariant::OueRandom)?),
            LdpProtocol::RsfdAdp => Mech::RsFd(RsFd::new(ds, eps, RsFdVariant::Adp)?),
        };
        let report_len = max_report_len(&mech);
        if report_len > MAX_REPORT_LEN {
            return Err(AnalyticsError::Task(format!(
                "reports of {report_len} bytes exceed the task cap {MAX_REPORT_LEN}"
            )));
        }
        Ok(LdpTask {
            spec,
            mech,
            report_len,
        })
    }

    /// The parameters.
    pub fn spec(&self) -> &LdpTaskSpec {
        &self.spec
    }

    /// Longest encoded report (fixed by the parameters; every report has this length except
    /// with Smp, whose reports are the sampled attribute's length plus its index).
    pub fn max_report_len(&self) -> usize {
        self.report_len
    }

    /// The protocol's name, e.g. `"OUE"` or `"RS+FD[GRR]"`.
    pub fn name(&self) -> String {
        oracle_dispatch!(&self.mech, o => o.name().to_string(), m => m.name())
    }

    /// The exact worst-case privacy loss of one report, at tuple and attribute level.
    pub fn privacy(&self) -> PrivacySummary {
        oracle_dispatch!(&self.mech,
        o => PrivacySummary::Local {
            nominal: o.epsilon(),
            tuple: o.true_epsilon(),
            attribute: vec![o.true_epsilon()],
        },
        m => {
            let p = m.privacy();
            PrivacySummary::Local { nominal: p.nominal, tuple: p.tuple, attribute: p.attribute }
        })
    }

    /// Randomises one client's value (`values.len() == d`, one value for an oracle) and
    /// returns the encoded report.
    pub fn randomize<R: CryptoRng + ?Sized>(
        &self,
        values: &[u32],
        rng: &mut R,
    ) -> Result<Vec<u8>, AnalyticsError> {
        let mut out = Vec::with_capacity(self.report_len);
        oracle_dispatch!(&self.mech,
        o => {
            let [v] = values else {
                return Err(LdpError::ArityMismatch { expected: 1, got: values.len() }.into());
            };
            let r = o.randomize(*v, rng)?;
            o.encode_report(&r, &mut out)?;
        },
        m => {
            let r = m.randomize(values, rng)?;
            m.encode_report(&r, &mut out)?;
        });
        Ok(out)
    }

    /// A fresh server-side accumulator (memory `O(Σ k_i)`).
    pub fn accumulator(&self) -> LdpAccumulator {
        let state = oracle_dispatch!(&self.mech,
            o => Acc::Oracle { acc: vec![0; o.accumulator_len()], n: 0 },
            m => Acc::Multi(m.new_counts()));
        LdpAccumulator {
            task: self.clone(),
            state,
        }
    }
}

/// Longest encoded report: Spl and RS+FD send every attribute's report; Smp sends the sampled
/// attribute's index (`width(d)` bytes) and that attribute's report, so its length depends on
/// the (data-independent) sampled attribute.
fn max_report_len(mech: &Mech) -> usize {
    fn lens(o: &[Adp]) -> impl Iterator<Item = usize> + '_ {
        o.iter().map(FrequencyOracle::report_len)
    }
    match mech {
        Mech::Spl(m) => lens(m.oracles()).sum(),
        Mech::RsFd(m) => lens(m.oracles()).sum(),
        Mech::Smp(m) => {
            crate::ldp::wire::width(m.oracles().len() as u64) + lens(m.oracles()).max().unwrap_or(0)
        }
        Mech::Grr(o) => o.report_len(),
        Mech::Ue(o) => o.report_len(),
        Mech::Lh(o) => o.report_len(),
        Mech::Hr(o) => o.report_len(),
        Mech::Ss(o) => o.report_len(),
        Mech::Adp(o) => o.report_len(),
    }
}

#[derive(Debug, Clone)]
enum Acc {
    Oracle { acc: Vec<u64>, n: u64 },
    Multi(MultiCounts),
}

/// Server-side streaming aggregation of one task's reports: counters only, `O(Σ k_i)` memory
/// whatever the number of reports.
#[derive(Debug, Clone)]
pub struct LdpAccumulator {
    task: LdpTask,
    state: Acc,
}

impl LdpAccumulator {
    /// The task.
    pub fn task(&self) -> &LdpTask {
        &self.task
    }

    /// Decodes, validates and adds one encoded report; on error nothing changes.
    pub fn add_bytes(&mut self, bytes: &[u8]) -> Result<(), AnalyticsError> {
        if bytes.len() > self.task.report_len {
            return Err(LdpError::ReportLength {
                expected: self.task.report_len,
                got: bytes.len(),
            }
            .into());
        }
        match (&self.task.mech, &mut self.state) {
            // Validated and counted from the bytes, no report built (same errors, nothing
            // changes on error).
            (Mech::Spl(m), Acc::Multi(c)) => m.accumulate_bytes(c, bytes)?,
            (Mech::Smp(m), Acc::Multi(c)) => m.accumulate_bytes(c, bytes)?,
            (Mech::RsFd(m), Acc::Multi(c)) => m.accumulate_bytes(c, bytes)?,
            (Mech::Grr(o), Acc::Oracle { acc, n }) => add_one(o, acc, n, bytes)?,
            (Mech::Ue(o), Acc::Oracle { acc, n }) => add_one(o, acc, n, bytes)?,
            (Mech::Lh(o), Acc::Oracle { acc, n }) => add_one(o, acc, n, bytes)?,
            (Mech::Hr(o), Acc::Oracle { acc, n }) => add_one(o, acc, n, bytes)?,
            (Mech::Ss(o), Acc::Oracle { acc, n }) => add_one(o, acc, n, bytes)?,
            (Mech::Adp(o), Acc::Oracle { acc, n }) => add_one(o, acc, n, bytes)?,
            _ => {
                return Err(AnalyticsError::Task(
                    "accumulator does not match its task".into(),
                ))
            }
        }
        Ok(())
    }

    /// Reports added.
    pub fn n(&self) -> u64 {
        match &self.state {
            Acc::Oracle { n, .. } => *n,
            Acc::Multi(c) => c.n(),
        }
    }

    /// Raw and Norm-Sub estimates with their standard errors, and the privacy loss.
    ///
    /// The standard error of `f̂(v)` is the square root of the protocol's exact variance at
    /// `f = ` the Norm-Sub estimate of `v` (a plug-in estimate: the variance depends on the
    /// unknown true frequency only through a small term). With no reports every number is NaN
    /// (written as `null` in a result file).
    pub fn estimates(&self) -> Result<FrequencyEstimates, AnalyticsError> {
        let n = self.n();
        let nf = n as f64;
        let attributes = match (&self.task.mech, &self.state) {
            (Mech::Spl(m), Acc::Multi(c)) => multi_estimates(m, c)?,
            (Mech::Smp(m), Acc::Multi(c)) => multi_estimates(m, c)?,
            (Mech::RsFd(m), Acc::Multi(c)) => multi_estimates(m, c)?,
            (mech, Acc::Oracle { acc, .. }) => oracle_dispatch!(mech,
                o => {
                    let params = o.params();
                    let raw = params.estimate(&o.support_counts(acc, n)?, n);
                    vec![attribute(raw, n, |f| Ok(params.variance(f, nf)))?]
                },
                _m => return Err(AnalyticsError::Task("accumulator does not match its task".into()))),
            _ => {
                return Err(AnalyticsError::Task(
                    "accumulator does not match its task".into(),
                ))
            }
        };
        Ok(FrequencyEstimates {
            method: self.task.name(),
            n,
            attributes,
            privacy: self.task.privacy(),
        })
    }
}

fn add_one<O: FrequencyOracle>(
    o: &O,
    acc: &mut [u64],
    n: &mut u64,
    bytes: &[u8],
) -> Result<(), AnalyticsError> {
    if acc.len() != o.accumulator_len() {
        return Err(AnalyticsError::Task(
            "accumulator does not match its task".into(),
        ));
    }
    o.accumulate(acc, &o.decode_report(bytes)?)?;
    *n += 1;
    Ok(())
}

fn multi_estimates<M: MultidimProtocol>(
    m: &M,
    c: &MultiCounts,
) -> Result<Vec<AttributeEstimate>, AnalyticsError> {
    let n = c.n();
    let raw = m.estimate(c)?;
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let mut a = attribute(r, n, |f| m.variance(i, f, n as f64))?;
            a.reports = c.reports_about(i);
            Ok(a)
        })
        .collect()
}

fn attribute(
    raw: Vec<f64>,
    n: u64,
    variance: impl Fn(f64) -> Result<f64, LdpError>,
) -> Result<AttributeEstimate, AnalyticsError> {
    if n == 0 {
        let nan = vec![f64::NAN; raw.len()];
        return Ok(AttributeEstimate {
            reports: 0,
            raw: nan.clone(),
            norm_sub: nan.clone(),
            std_err: nan,
        });
    }
    let norm_sub = PostProcess::NormSub.apply(&raw)?;
    let std_err = norm_sub
        .iter()
        .map(|&f| variance(f).map(f64::sqrt))
        .collect::<Result<_, _>>()?;
    Ok(AttributeEstimate {
        reports: n,
        raw,
        norm_sub,
        std_err,
    })
}

/// The privacy guarantee behind a set of estimates.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PrivacySummary {
    /// Local DP: the exact worst-case loss of one report (natural log), at tuple level and
    /// per attribute.
    Local {
        /// The epsilon the protocol was configured with.
        nominal: f64,
        /// Worst case over any two tuples.
        tuple: f64,
        /// Worst case when only attribute `j` differs.
        attribute: Vec<f64>,
    },
    /// Central `(epsilon, delta)`-DP of the sum, from distributed noise under SecAgg.
    Distributed {
        /// Epsilon for the clients whose noise is in the sum.
        epsilon: f64,
        /// Delta.
        delta: f64,
        /// Clients whose noise is in the sum.
        clients: u64,
    },
    /// No formal privacy for the sum (SecAgg without noise: the server learns the exact
    /// histogram, but no individual input).
    None,
}

/// Estimates of one attribute's frequencies.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeEstimate {
    /// Reports that carried information about this attribute.
    pub reports: u64,
    /// Raw unbiased estimates (may be negative or sum to other than 1).
    pub raw: Vec<f64>,
    /// Norm-Sub post-processing: the projection of `raw` onto the probability simplex.
    pub norm_sub: Vec<f64>,
    /// Standard error of each raw estimate.
    pub std_err: Vec<f64>,
}

/// Frequency estimates of every attribute, with how they were made: the common result of the
/// LDP path and of histograms under secure aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct FrequencyEstimates {
    /// The method, e.g. `"OUE"`, `"RS+FD[GRR]"`, `"SecAgg"` or `"SecAgg+DDP"`.
    pub method: String,
    /// Clients whose data is in the estimates.
    pub n: u64,
    /// One entry per attribute.
    pub attributes: Vec<AttributeEstimate>,
    /// The privacy guarantee.
    pub privacy: PrivacySummary,
}

impl FrequencyEstimates {
    /// The estimates as JSON (the `result` object of a result file; spec `analytics.md`).
    #[cfg(feature = "quic")]
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let floats = |v: &[f64]| -> Vec<Option<f64>> {
            v.iter().map(|x| x.is_finite().then_some(*x)).collect()
        };
        let fin = |x: f64| x.is_finite().then_some(x);
        let privacy = match &self.privacy {
            PrivacySummary::Local {
                nominal,
                tuple,
                attribute,
            } => json!({"model": "local", "nominal_epsilon": fin(*nominal),
                "tuple_epsilon": fin(*tuple), "attribute_epsilon": floats(attribute)}),
            PrivacySummary::Distributed {
                epsilon,
                delta,
                clients,
            } => json!({"model": "distributed", "epsilon": fin(*epsilon), "delta": fin(*delta),
                "clients": clients}),
            PrivacySummary::None => json!({"model": "none"}),
        };
        json!({
            "method": self.method,
            "n": self.n,
            "privacy": privacy,
            "attributes": self.attributes.iter().map(|a| json!({
                "reports": a.reports,
                "estimate": floats(&a.raw),
                "norm_sub": floats(&a.norm_sub),
                "std_err": floats(&a.std_err),
            })).collect::<Vec<_>>(),
        })
    }
}
