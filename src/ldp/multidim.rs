//! The common shape of the multidimensional protocols ([`Spl`](super::Spl),
//! [`Smp`](super::Smp), [`RsFd`](super::RsFd)): each user holds a tuple `(v_1, .., v_d)` with
//! `v_i` in `[0, k_i)` and sends one report; the server estimates every attribute's frequencies.
//!
//! Invariants: `d >= 1`, every `k_i` in `[2, MAX_DOMAIN]`; a tuple of the wrong arity or with an
//! out-of-domain value is a typed error; reports are validated in full by `accumulate` and
//! `decode_report`.

use rand_core::CryptoRng;

use super::{
    check_domain, check_value, wire, Adp, AttrReport, BitVector, FrequencyOracle, LdpError,
    PrivacyLoss,
};

/// The report of Spl and RS+FD: one [`AttrReport`] per attribute, in attribute order.
pub type TupleReport = Vec<AttrReport>;

/// Server-side support counts of a multidimensional protocol.
///
/// Invariant: `counts[i].len() == k_i`; `reports[i]` counts the reports that carried
/// information about attribute `i` (all of them, except for Smp).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiCounts {
    counts: Vec<Vec<u64>>,
    reports: Vec<u64>,
    n: u64,
}

impl MultiCounts {
    /// Empty counts for the given domains.
    pub fn new(domains: &[u32]) -> Self {
        MultiCounts {
            counts: domains.iter().map(|&k| vec![0; k as usize]).collect(),
            reports: vec![0; domains.len()],
            n: 0,
        }
    }

    /// Support counts of attribute `i` (empty past the last attribute).
    pub fn counts(&self, i: usize) -> &[u64] {
        self.counts.get(i).map_or(&[], Vec::as_slice)
    }

    /// Number of reports about attribute `i` (0 past the last attribute).
    pub fn reports_about(&self, i: usize) -> u64 {
        self.reports.get(i).copied().unwrap_or(0)
    }

    /// Whether these counts were made for attributes with exactly these domain sizes.
    pub fn has_shape(&self, domains: &[u32]) -> bool {
        self.counts.len() == domains.len()
            && self
                .counts
                .iter()
                .zip(domains)
                .all(|(c, &k)| c.len() == k as usize)
    }

    /// Fails unless these counts were made for exactly these domain sizes.
    pub fn check_shape(&self, domains: &[u32]) -> Result<(), LdpError> {
        if self.has_shape(domains) {
            Ok(())
        } else {
            Err(LdpError::MalformedReport(
                "counts do not match the protocol",
            ))
        }
    }

    /// Total number of reports.
    pub fn n(&self) -> u64 {
        self.n
    }

    pub(crate) fn counts_mut(&mut self, i: usize) -> &mut [u64] {
        &mut self.counts[i]
    }

    /// Records one report that was about attribute `i` only.
    pub(crate) fn record_report(&mut self, i: usize) {
        self.reports[i] += 1;
        self.n += 1;
    }

    /// Adds another set of counts of the same shape; counts of another shape are refused and
    /// nothing changes.
    pub fn merge(&mut self, other: &MultiCounts) -> Result<(), LdpError> {
        let shape: Vec<u32> = other.counts.iter().map(|c| c.len() as u32).collect();
        self.check_shape(&shape)?;
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (a, b) in self.reports.iter_mut().zip(&other.reports) {
            *a += b;
        }
        self.n += other.n;
        Ok(())
    }
}

/// A multidimensional LDP protocol.
pub trait MultidimProtocol: Clone {
    /// What one user sends.
    type Report: Clone + core::fmt::Debug + PartialEq + Eq;

    /// Name used in tables and test vectors, e.g. `"RS+FD[GRR]"`.
    fn name(&self) -> String;

    /// Domain sizes `k_1..k_d`.
    fn domains(&self) -> &[u32];

    /// Nominal privacy parameter the protocol was configured with.
    fn epsilon(&self) -> f64;

    /// Exact worst-case privacy loss at tuple and attribute level.
    fn privacy(&self) -> PrivacyLoss;

    /// Randomises one tuple (`values.len() == d`).
    fn randomize<R: CryptoRng + ?Sized>(
        &self,
        values: &[u32],
        rng: &mut R,
    ) -> Result<Self::Report, LdpError>;

    /// Randomises many tuples given row-major (`rows.len()` a multiple of `d`).
    fn randomize_batch<R: CryptoRng + ?Sized>(
        &self,
        rows: &[u32],
        rng: &mut R,
    ) -> Result<Vec<Self::Report>, LdpError> {
        let d = self.domains().len();
        if !rows.len().is_multiple_of(d) {
            return Err(LdpError::ArityMismatch {
                expected: d,
                got: rows.len() % d,
            });
        }
        rows.chunks(d).map(|t| self.randomize(t, rng)).collect()
    }

    /// Validates a report and adds it to the counts.
    fn accumulate(&self, counts: &mut MultiCounts, report: &Self::Report) -> Result<(), LdpError>;

    /// Validates and adds many reports; stops at the first invalid one (the valid ones before it
    /// are kept).
    fn accumulate_batch(
        &self,
        counts: &mut MultiCounts,
        reports: &[Self::Report],
    ) -> Result<(), LdpError> {
        reports.iter().try_for_each(|r| self.accumulate(counts, r))
    }

    /// Fresh counts.
    fn new_counts(&self) -> MultiCounts {
        MultiCounts::new(self.domains())
    }

    /// Raw unbiased estimates, one vector per attribute.
    fn estimate(&self, counts: &MultiCounts) -> Result<Vec<Vec<f64>>, LdpError>;

    /// Variance of the estimate of a value of true frequency `f` in attribute `attr`, `n` users.
    fn variance(&self, attr: usize, f: f64, n: f64) -> f64;

    /// The papers' approximate variance (`f = 0`).
    fn variance_f0(&self, attr: usize, n: f64) -> f64 {
        self.variance(attr, 0.0, n)
    }

    /// Appends the encoding of a (validated) report.
    fn encode_report(&self, report: &Self::Report, out: &mut Vec<u8>) -> Result<(), LdpError>;

    /// Decodes untrusted bytes into a valid report.
    fn decode_report(&self, bytes: &[u8]) -> Result<Self::Report, LdpError>;
}

/// One attribute's reports for a whole batch of users, stored contiguously.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// GRR values, one per user.
    Values(Vec<u32>),
    /// `k`-bit vectors, `ceil(k/64)` words per user, user after user (padding bits zero).
    Unary {
        /// Bits per user.
        k: u32,
        /// The words.
        words: Vec<u64>,
    },
}

/// Column-major reports of many users of Spl or RS+FD: the batch API, which avoids one heap
/// allocation per report on the client and pointer chasing on the server.
///
/// Invariant: every column holds exactly `n` users' reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TupleBatch {
    n: usize,
    columns: Vec<Column>,
}

impl TupleBatch {
    /// Empty columns shaped for `oracles`, with room for `n` users.
    pub(crate) fn for_oracles(oracles: &[Adp], n: usize) -> Self {
        let columns = oracles
            .iter()
            .map(|o| match o {
                Adp::Grr(_) => Column::Values(Vec::with_capacity(n)),
                Adp::Oue(u) => Column::Unary {
                    k: u.domain_size(),
                    words: vec![0; n * (u.domain_size() as usize).div_ceil(64)],
                },
            })
            .collect();
        TupleBatch { n, columns }
    }

    pub(crate) fn columns_mut(&mut self) -> &mut [Column] {
        &mut self.columns
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// User `u`'s report.
    pub fn report(&self, u: usize) -> Option<TupleReport> {
        if u >= self.n {
            return None;
        }
        self.columns
            .iter()
            .map(|c| match c {
                Column::Values(v) => Some(AttrReport::Value(v[u])),
                Column::Unary { k, words } => {
                    let w = (*k as usize).div_ceil(64);
                    BitVector::from_words(*k, words[u * w..(u + 1) * w].to_vec())
                        .ok()
                        .map(AttrReport::Unary)
                }
            })
            .collect()
    }
}

/// Validates a whole batch against `oracles` and `counts`, then adds it; on error nothing is
/// added.
pub(crate) fn accumulate_columns(
    oracles: &[Adp],
    counts: &mut MultiCounts,
    batch: &TupleBatch,
) -> Result<(), LdpError> {
    check_shape(oracles, counts)?;
    if batch.columns.len() != oracles.len() {
        return Err(LdpError::MalformedReport("batch arity"));
    }
    for (o, c) in oracles.iter().zip(&batch.columns) {
        match (o, c) {
            (Adp::Grr(g), Column::Values(v)) => {
                let k = g.domain_size();
                // max() vectorises, unlike a short-circuiting any()
                if v.len() != batch.n || v.iter().copied().max().is_some_and(|m| m >= k) {
                    return Err(LdpError::MalformedReport("batch GRR column invalid"));
                }
            }
            (Adp::Oue(u), Column::Unary { k, words }) => {
                let wpr = (*k as usize).div_ceil(64);
                if *k != u.domain_size() || words.len() != batch.n * wpr {
                    return Err(LdpError::MalformedReport("batch unary column invalid"));
                }
                let rem = k & 63;
                if rem != 0 && words.chunks(wpr).any(|w| w[wpr - 1] >> rem != 0) {
                    return Err(LdpError::MalformedReport("bit vector padding bits set"));
                }
            }
            _ => return Err(LdpError::MalformedReport("batch column kind")),
        }
    }
    for (i, c) in batch.columns.iter().enumerate() {
        let acc = &mut counts.counts[i];
        match c {
            Column::Values(v) => histogram_into(acc, v),
            Column::Unary { k, words } => {
                let wpr = (*k as usize).div_ceil(64);
                for chunk in words.chunks(wpr) {
                    for (wi, &w) in chunk.iter().enumerate() {
                        let mut w = w;
                        while w != 0 {
                            acc[wi * 64 + w.trailing_zeros() as usize] += 1;
                            w &= w - 1;
                        }
                    }
                }
            }
        }
        counts.reports[i] += batch.n as u64;
    }
    counts.n += batch.n as u64;
    Ok(())
}

/// Adds the histogram of `values` (all `< acc.len()`) to `acc`, with four interleaved partial
/// histograms so that runs of equal values (skewed data) do not serialise on one counter.
fn histogram_into(acc: &mut [u64], values: &[u32]) {
    let k = acc.len();
    let mut part = vec![0u32; 4 * k];
    // u32 partial counters: flush before they could overflow
    for block in values.chunks(1 << 30) {
        let mut quads = block.chunks_exact(4);
        for q in &mut quads {
            part[q[0] as usize] += 1;
            part[k + q[1] as usize] += 1;
            part[2 * k + q[2] as usize] += 1;
            part[3 * k + q[3] as usize] += 1;
        }
        for &y in quads.remainder() {
            part[y as usize] += 1;
        }
        for (i, a) in acc.iter_mut().enumerate() {
            *a += u64::from(part[i])
                + u64::from(part[k + i])
                + u64::from(part[2 * k + i])
                + u64::from(part[3 * k + i]);
        }
        part.iter_mut().for_each(|x| *x = 0);
    }
}

/// Validates row-major tuples; returns the number of users.
pub(crate) fn check_rows(rows: &[u32], domains: &[u32]) -> Result<usize, LdpError> {
    let d = domains.len();
    if !rows.len().is_multiple_of(d) {
        return Err(LdpError::ArityMismatch {
            expected: d,
            got: rows.len() % d,
        });
    }
    rows.chunks(d).try_for_each(|t| check_tuple(t, domains))?;
    Ok(rows.len() / d)
}

/// Validates the domain list.
pub(crate) fn check_domains(domains: &[u32]) -> Result<Vec<u32>, LdpError> {
    if domains.is_empty() {
        return Err(LdpError::NoAttributes);
    }
    domains.iter().map(|&k| check_domain(k)).collect()
}

/// Validates a tuple against the domains.
pub(crate) fn check_tuple(values: &[u32], domains: &[u32]) -> Result<(), LdpError> {
    if values.len() != domains.len() {
        return Err(LdpError::ArityMismatch {
            expected: domains.len(),
            got: values.len(),
        });
    }
    values
        .iter()
        .zip(domains)
        .try_for_each(|(&v, &k)| check_value(v, k))
}

/// Fails unless `counts` has the shape of `oracles`.
fn check_shape(oracles: &[Adp], counts: &MultiCounts) -> Result<(), LdpError> {
    if counts.counts.len() != oracles.len()
        || counts
            .counts
            .iter()
            .zip(oracles)
            .any(|(c, o)| c.len() != o.domain_size() as usize)
    {
        return Err(LdpError::MalformedReport(
            "counts do not match the protocol",
        ));
    }
    Ok(())
}

/// Adds one tuple report to counts of the right shape: validates every attribute first, then
/// counts, so an invalid report changes nothing.
#[inline]
fn add_tuple_unchecked_shape(
    oracles: &[Adp],
    counts: &mut MultiCounts,
    report: &TupleReport,
) -> Result<(), LdpError> {
    if report.len() != oracles.len() {
        return Err(LdpError::MalformedReport("tuple report arity"));
    }
    for (o, r) in oracles.iter().zip(report) {
        match (o, r) {
            (Adp::Grr(g), AttrReport::Value(y)) if *y < g.domain_size() => {}
            (Adp::Oue(u), AttrReport::Unary(bv)) if bv.len() == u.domain_size() => {}
            _ => return Err(LdpError::MalformedReport("attribute report does not match")),
        }
    }
    for (c, r) in counts.counts.iter_mut().zip(report) {
        match r {
            AttrReport::Value(y) => c[*y as usize] += 1,
            AttrReport::Unary(bv) => bv.add_to(c),
        }
    }
    for x in counts.reports.iter_mut() {
        *x += 1;
    }
    counts.n += 1;
    Ok(())
}

/// Accumulates a tuple report whose attribute `i` is a report of `oracles[i]`.
pub(crate) fn accumulate_tuple(
    oracles: &[Adp],
    counts: &mut MultiCounts,
    report: &TupleReport,
) -> Result<(), LdpError> {
    check_shape(oracles, counts)?;
    add_tuple_unchecked_shape(oracles, counts, report)
}

/// Accumulates many tuple reports (shape checked once); stops at the first invalid report, the
/// valid ones before it are kept.
pub(crate) fn accumulate_tuples(
    oracles: &[Adp],
    counts: &mut MultiCounts,
    reports: &[TupleReport],
) -> Result<(), LdpError> {
    check_shape(oracles, counts)?;
    reports
        .iter()
        .try_for_each(|r| add_tuple_unchecked_shape(oracles, counts, r))
}

/// Encoded length of a tuple report.
pub(crate) fn tuple_len(oracles: &[Adp]) -> usize {
    oracles.iter().map(|o| o.report_len()).sum()
}

/// Encodes a tuple report (concatenation of the attribute reports).
pub(crate) fn encode_tuple(
    oracles: &[Adp],
    report: &TupleReport,
    out: &mut Vec<u8>,
) -> Result<(), LdpError> {
    if report.len() != oracles.len() {
        return Err(LdpError::MalformedReport("tuple report arity"));
    }
    oracles
        .iter()
        .zip(report)
        .try_for_each(|(o, r)| o.encode_report(r, out))
}

/// Decodes a tuple report.
pub(crate) fn decode_tuple(oracles: &[Adp], bytes: &[u8]) -> Result<TupleReport, LdpError> {
    wire::check_len(bytes, tuple_len(oracles))?;
    let mut r = wire::Reader::new(bytes);
    let rep = oracles
        .iter()
        .map(|o| o.read(&mut r))
        .collect::<Result<Vec<_>, _>>()?;
    r.finish()?;
    Ok(rep)
}
