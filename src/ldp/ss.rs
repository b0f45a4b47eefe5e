//! Subset selection (Ye–Barg 2018, Wang et al. 2016).
//!
//! `ω = max(1, round(k/(e^ε + 1)))` (so `1 <= ω <= k/2`). Client: with probability
//! `p_in = ωe^ε/(ωe^ε + k − ω)` report `{v}` plus `ω − 1` distinct other values, otherwise `ω`
//! distinct values other than `v`, all uniformly. `p* = p_in`,
//! `q* = [ωe^ε(ω − 1) + (k − ω)ω] / [(k − 1)(ωe^ε + k − ω)]`. Every `ω`-subset containing `v` has
//! probability `e^ε` times that of every subset not containing it, so the worst-case privacy loss
//! is `ln[p_in (k − ω)/((1 − p_in) ω)] = ε` exactly.
//!
//! Report: the `ω` values in strictly increasing order, each [`wire::width`]`(k)`
//! bytes.

use rand_core::CryptoRng;

use super::{
    check_acc_len, check_counters, check_domain, check_epsilon, check_report_bytes, check_value,
    sample, wire, FrequencyOracle, LdpError, PureParams,
};

/// Subset selection over `[0, k)`.
///
/// Invariant: `1 <= ω <= k − 1`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ss {
    k: u32,
    omega: u32,
    eps: f64,
    p_in: f64,
    q_star: f64,
    include: u64,
}

/// A subset-selection report: `ω` distinct values, strictly increasing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SsReport(pub Vec<u32>);

impl Ss {
    /// Subset selection over `[0, k)` at `eps`.
    pub fn new(k: u32, eps: f64) -> Result<Self, LdpError> {
        let k = check_domain(k)?;
        let eps = check_epsilon(eps)?;
        let e = eps.exp();
        let kf = f64::from(k);
        let omega = ((kf / (e + 1.0)).round() as u32).clamp(1, k - 1);
        // sizes before anything is allocated: the report, the client's scratch set and the
        // server's counters
        check_report_bytes(
            "an SS report (omega values of width(k) bytes)",
            u64::from(omega) * wire::width(u64::from(k)) as u64,
        )?;
        check_counters("an SS aggregator", u64::from(k))?;
        let w = f64::from(omega);
        let denom = w * e + kf - w;
        let p_in = w * e / denom;
        let q_star = (w * e * (w - 1.0) + (kf - w) * w) / ((kf - 1.0) * denom);
        Ok(Ss {
            k,
            omega,
            eps,
            p_in,
            q_star,
            include: sample::threshold(p_in),
        })
    }

    /// Subset size `ω`.
    pub fn omega(&self) -> u32 {
        self.omega
    }

    fn check_report(&self, r: &SsReport) -> Result<(), LdpError> {
        if r.0.len() != self.omega as usize {
            return Err(LdpError::MalformedReport(
                "SS subset size differs from omega",
            ));
        }
        // one pass, branch-free: every step must increase
        let mut bad = false;
        for w in r.0.windows(2) {
            bad |= w[0] >= w[1];
        }
        if bad {
            return Err(LdpError::MalformedReport(
                "SS values not strictly increasing",
            ));
        }
        if let Some(&v) = r.0.last().filter(|&&v| v >= self.k) {
            return Err(LdpError::FieldOutOfRange {
                field: "SS value",
                value: u64::from(v),
                bound: u64::from(self.k),
            });
        }
        Ok(())
    }
}

impl FrequencyOracle for Ss {
    type Report = SsReport;

    fn name(&self) -> &'static str {
        "SS"
    }

    fn domain_size(&self) -> u32 {
        self.k
    }

    fn epsilon(&self) -> f64 {
        self.eps
    }

    fn params(&self) -> PureParams {
        PureParams::new(self.p_in, self.q_star).expect("SS probabilities are valid")
    }

    fn true_epsilon(&self) -> f64 {
        let w = f64::from(self.omega);
        (self.p_in * (f64::from(self.k) - w) / ((1.0 - self.p_in) * w)).ln()
    }

    fn randomize<R: CryptoRng + ?Sized>(
        &self,
        value: u32,
        rng: &mut R,
    ) -> Result<SsReport, LdpError> {
        check_value(value, self.k)?;
        let include = sample::bernoulli(rng, self.include);
        let m = if include { self.omega - 1 } else { self.omega };
        // Floyd's algorithm: m distinct elements of [0, k-1) (the "others", shifted around v).
        let n_others = self.k - 1;
        let mut chosen = vec![0u64; (self.k as usize).div_ceil(64)];
        let mark = |set: &mut [u64], x: u32| -> bool {
            let (w, b) = ((x >> 6) as usize, x & 63);
            let was = (set[w] >> b) & 1 == 1;
            set[w] |= 1 << b;
            !was
        };
        for j in (n_others - m)..n_others {
            let t = sample::below(rng, j + 1);
            if !mark(&mut chosen, t) {
                mark(&mut chosen, j);
            }
        }
        // map others-index u to the value u (u < v) or u + 1 (u >= v), then add v if included
        let mut out = Vec::with_capacity(self.omega as usize);
        for (wi, &w) in chosen.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                let u = wi as u32 * 64 + w.trailing_zeros();
                w &= w - 1;
                out.push(if u >= value { u + 1 } else { u });
            }
        }
        if include {
            let pos = out.partition_point(|&x| x < value);
            out.insert(pos, value);
        }
        Ok(SsReport(out))
    }

    fn accumulate(&self, acc: &mut [u64], report: &SsReport) -> Result<(), LdpError> {
        check_acc_len(acc, self.k as usize)?;
        self.check_report(report)?;
        // validated: strictly increasing and below k = acc.len()
        for &v in &report.0 {
            acc[v as usize] += 1;
        }
        Ok(())
    }

    fn report_len(&self) -> usize {
        self.omega as usize * wire::width(u64::from(self.k))
    }

    fn encode_report(&self, report: &SsReport, out: &mut Vec<u8>) -> Result<(), LdpError> {
        self.check_report(report)?;
        let w = wire::width(u64::from(self.k));
        for &v in &report.0 {
            wire::put_uint(out, u64::from(v), w);
        }
        Ok(())
    }

    fn decode_report(&self, bytes: &[u8]) -> Result<SsReport, LdpError> {
        wire::check_len(bytes, self.report_len())?;
        let mut r = wire::Reader::new(bytes);
        let mut vals = Vec::with_capacity(self.omega as usize);
        for _ in 0..self.omega {
            vals.push(r.uint_below(u64::from(self.k), "SS value")? as u32);
        }
        r.finish()?;
        let rep = SsReport(vals);
        self.check_report(&rep)?;
        Ok(rep)
    }
}
