//! The common shape of every single-attribute frequency oracle: a client-side randomiser, a
//! server-side aggregator of support counts, the pure-protocol estimator, exact privacy and a
//! fixed-length byte encoding of the report.
//!
//! Invariants: `randomize` only accepts values in `[0, k)`; `accumulate` and `decode_report`
//! validate reports completely (a report accepted by `accumulate` is one the randomiser can
//! output), so untrusted reports yield [`LdpError`], never a panic or an out-of-bounds count.

use rand_core::CryptoRng;

use super::{check_acc_len, LdpError, PureParams};

/// A one-line description of an oracle and its parameters, e.g. `"OUE (k = 16, epsilon = 1.0)"`
/// (used in [`LdpError::ProtocolMismatch`]).
pub fn describe<O: FrequencyOracle>(o: &O) -> String {
    format!(
        "{} (k = {}, epsilon = {:?})",
        o.name(),
        o.domain_size(),
        o.epsilon()
    )
}

/// A single-attribute frequency oracle over the domain `[0, k)`.
pub trait FrequencyOracle: Clone + PartialEq {
    /// What one client sends.
    type Report: Clone + core::fmt::Debug + PartialEq + Eq;

    /// Short name used in tables and test vectors, e.g. `"OUE"`.
    fn name(&self) -> &'static str;

    /// Domain size `k`.
    fn domain_size(&self) -> u32;

    /// The nominal privacy parameter the oracle was built with.
    fn epsilon(&self) -> f64;

    /// The oracle's support probabilities `(p*, q*)`.
    fn params(&self) -> PureParams;

    /// The exact worst-case privacy loss `ln max_{y,v,v'} P[y|v]/P[y|v']`, computed in closed
    /// form from the mechanism's probabilities (checked by enumeration in the tests).
    fn true_epsilon(&self) -> f64;

    /// Randomises one value.
    fn randomize<R: CryptoRng + ?Sized>(
        &self,
        value: u32,
        rng: &mut R,
    ) -> Result<Self::Report, LdpError>;

    /// Randomises many values (one per user). An invalid value fails the whole batch with
    /// [`LdpError::AtRow`] naming its index.
    fn randomize_batch<R: CryptoRng + ?Sized>(
        &self,
        values: &[u32],
        rng: &mut R,
    ) -> Result<Vec<Self::Report>, LdpError> {
        // an explicit loop: collecting into Result<Vec<_>> cannot pre-size the vector
        let mut out = Vec::with_capacity(values.len());
        for (i, &v) in values.iter().enumerate() {
            out.push(self.randomize(v, rng).map_err(|e| e.at_row(i))?);
        }
        Ok(out)
    }

    /// Length of the server's accumulator (`k` unless stated otherwise).
    fn accumulator_len(&self) -> usize {
        self.domain_size() as usize
    }

    /// Validates `report` and adds it to the accumulator, a slice of exactly
    /// [`Self::accumulator_len`] entries made by [`Self::aggregator`] or zeroed by the caller
    /// (another length is [`LdpError::AccumulatorLength`]). The accumulator's layout is the
    /// oracle's own; read it only through [`Self::support_counts`].
    fn accumulate(&self, acc: &mut [u64], report: &Self::Report) -> Result<(), LdpError>;

    /// Validates and adds many reports. Stops at the first invalid report with
    /// [`LdpError::AtRow`] naming its index; the reports before it have been added.
    fn accumulate_batch(&self, acc: &mut [u64], reports: &[Self::Report]) -> Result<(), LdpError> {
        check_acc_len(acc, self.accumulator_len())?;
        reports
            .iter()
            .enumerate()
            .try_for_each(|(i, r)| self.accumulate(acc, r).map_err(|e| e.at_row(i)))
    }

    /// Turns the accumulator of `n` reports into the support counts `C(v)`, `v` in `[0, k)`.
    /// Fails on an accumulator of the wrong length or one inconsistent with `n`.
    fn support_counts(&self, acc: &[u64], n: u64) -> Result<Vec<u64>, LdpError> {
        let _ = n;
        check_acc_len(acc, self.accumulator_len())?;
        Ok(acc.to_vec())
    }

    /// Encoded length of every report (fixed by the parameters).
    fn report_len(&self) -> usize;

    /// Appends the encoding of a (validated) report.
    fn encode_report(&self, report: &Self::Report, out: &mut Vec<u8>) -> Result<(), LdpError>;

    /// Decodes untrusted bytes into a valid report.
    fn decode_report(&self, bytes: &[u8]) -> Result<Self::Report, LdpError>;

    /// Adds accumulator `other` into `acc` (both of [`Self::accumulator_len`] entries).
    fn merge_accumulators(&self, acc: &mut [u64], other: &[u64]) -> Result<(), LdpError> {
        check_acc_len(acc, self.accumulator_len())?;
        check_acc_len(other, self.accumulator_len())?;
        for (a, b) in acc.iter_mut().zip(other) {
            *a += b;
        }
        Ok(())
    }

    /// A fresh server-side aggregator.
    fn aggregator(&self) -> Aggregator<Self> {
        Aggregator {
            acc: vec![0; self.accumulator_len()],
            oracle: self.clone(),
            n: 0,
        }
    }
}

/// Server-side accumulation of reports of one oracle.
#[derive(Clone, Debug)]
pub struct Aggregator<O: FrequencyOracle> {
    oracle: O,
    acc: Vec<u64>,
    n: u64,
}

impl<O: FrequencyOracle> Aggregator<O> {
    /// Adds one report (validated first; on error nothing is added).
    pub fn add(&mut self, report: &O::Report) -> Result<(), LdpError> {
        self.oracle.accumulate(&mut self.acc, report)?;
        self.n += 1;
        Ok(())
    }

    /// Adds many reports (the batch API: [`FrequencyOracle::accumulate_batch`]); stops at the
    /// first invalid one with [`LdpError::AtRow`] naming its index (the valid ones before it
    /// are kept and counted in [`Self::n`]).
    pub fn add_all(&mut self, reports: &[O::Report]) -> Result<(), LdpError> {
        match self.oracle.accumulate_batch(&mut self.acc, reports) {
            Ok(()) => {
                self.n += reports.len() as u64;
                Ok(())
            }
            Err(e) => {
                if let LdpError::AtRow { row, .. } = &e {
                    self.n += *row as u64;
                }
                Err(e)
            }
        }
    }

    /// The oracle this aggregator counts reports of.
    pub fn oracle(&self) -> &O {
        &self.oracle
    }

    /// Decodes and adds one encoded report.
    pub fn add_bytes(&mut self, bytes: &[u8]) -> Result<(), LdpError> {
        let r = self.oracle.decode_report(bytes)?;
        self.add(&r)
    }

    /// Merges another aggregator of the same oracle (e.g. from another thread). An aggregator
    /// of another oracle or configuration is refused and nothing changes.
    pub fn merge(&mut self, other: &Aggregator<O>) -> Result<(), LdpError> {
        if self.oracle != other.oracle || self.acc.len() != other.acc.len() {
            return Err(LdpError::ProtocolMismatch {
                expected: describe(&self.oracle),
                got: describe(&other.oracle),
            });
        }
        self.oracle.merge_accumulators(&mut self.acc, &other.acc)?;
        self.n += other.n;
        Ok(())
    }

    /// Number of reports added.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Support counts `C(v)`.
    pub fn support_counts(&self) -> Vec<u64> {
        // the accumulator was made by this oracle and only changed through it, so it has the
        // right length and is consistent with n
        self.oracle
            .support_counts(&self.acc, self.n)
            .unwrap_or_default()
    }

    /// The raw unbiased frequency estimates (NaN everywhere while no report has been added).
    pub fn estimate(&self) -> Vec<f64> {
        self.oracle
            .params()
            .estimate(&self.support_counts(), self.n)
    }

    /// Standard error of every raw estimate, from the closed-form variance with the true
    /// frequency replaced by its estimate clipped to `[0, 1]` (plug-in).
    pub fn standard_errors(&self) -> Vec<f64> {
        let pp = self.oracle.params();
        let n = self.n as f64;
        self.estimate()
            .iter()
            .map(|&f| pp.variance(f.clamp(0.0, 1.0), n).sqrt())
            .collect()
    }
}

/// Aggregates `reports` on `threads` threads (scoped; `threads = 0` or `1` runs inline).
pub fn aggregate_parallel<O>(
    oracle: &O,
    reports: &[O::Report],
    threads: usize,
) -> Result<Aggregator<O>, LdpError>
where
    O: FrequencyOracle + Sync + Send,
    O::Report: Sync,
{
    let threads = threads.max(1).min(reports.len().max(1));
    if threads == 1 {
        let mut agg = oracle.aggregator();
        agg.add_all(reports)?;
        return Ok(agg);
    }
    let chunk = reports.len().div_ceil(threads);
    let parts: Vec<Result<Aggregator<O>, LdpError>> = std::thread::scope(|s| {
        let handles: Vec<_> = reports
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    let mut agg = oracle.aggregator();
                    agg.add_all(c).map(|_| agg)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("aggregation thread panicked"))
            .collect()
    });
    let mut total = oracle.aggregator();
    for p in parts {
        total.merge(&p?)?;
    }
    Ok(total)
}
