//! The common shape of the multidimensional protocols ([`Spl`](super::Spl),
//! [`Smp`](super::Smp), [`RsFd`](super::RsFd)): each user holds a tuple `(v_1, .., v_d)` with
//! `v_i` in `[0, k_i)` and sends one report; the server estimates every attribute's frequencies.
//!
//! Invariants: `d >= 1`, every `k_i` in `[2, MAX_DOMAIN]`; a tuple of the wrong arity or with an
//! out-of-domain value is a typed error; reports are validated in full by `accumulate` and
//! `decode_report`.

use std::sync::Arc;

use rand_core::CryptoRng;

use super::{
    check_counters, check_domain, check_report_bytes, check_value, wire, Adp, AttrReport,
    BitVector, FrequencyOracle, LdpError, PrivacyLoss,
};

/// The report of Spl and RS+FD: one [`AttrReport`] per attribute, in attribute order.
pub type TupleReport = Vec<AttrReport>;

/// What a configured `ε` bounds: the privacy loss of a whole tuple (any two users' tuples) or of
/// a single attribute (two tuples differing in one attribute).
///
/// [`Spl`](super::Spl) and [`Smp`](super::Smp) are configured by their tuple-level `ε`.
/// [`RsFd::new`](super::RsFd::new) is configured by the paper's nominal attribute-level `ε`; its
/// exact tuple-level loss is `ε' = ln(d(e^ε − 1) + 1)`, larger;
/// [`RsFd::tuple_calibrated`](super::RsFd::tuple_calibrated) is configured by its tuple-level
/// `ε`. The exact losses at both levels are always in [`MultidimProtocol::privacy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EpsilonLevel {
    /// The configured `ε` bounds the loss of the whole tuple.
    Tuple,
    /// The configured `ε` is the nominal per-attribute loss (RS+FD's paper calibration).
    Attribute,
}

impl core::fmt::Display for EpsilonLevel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            EpsilonLevel::Tuple => "tuple",
            EpsilonLevel::Attribute => "attribute",
        })
    }
}

/// The one-line description of a protocol and its parameters that tags its counts.
pub(crate) fn describe(name: &str, eps: f64, level: EpsilonLevel, domains: &[u32]) -> Arc<str> {
    Arc::from(format!(
        "{name} (epsilon = {eps:?} at {level} level, domains {domains:?})"
    ))
}

/// Server-side support counts of a multidimensional protocol, tagged with the protocol and
/// parameters that made them ([`MultidimProtocol::new_counts`]): estimating or merging with
/// another protocol or other parameters is [`LdpError::ProtocolMismatch`].
///
/// Invariant: `starts` has `d + 1` entries from 0 to `flat.len()` and attribute `i`'s `k_i`
/// counts are `flat[starts[i]..starts[i + 1]]` (one flat vector, so that the per-report server
/// indexes one base pointer instead of chasing one per attribute); the reports about attribute
/// `i` number `tuples + single[i]` (Spl and RS+FD reports are about every attribute and bump
/// `tuples` once instead of `d` counters; Smp reports are about one attribute).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiCounts {
    protocol: Arc<str>,
    flat: Vec<u64>,
    starts: Vec<usize>,
    tuples: u64,
    single: Vec<u64>,
    n: u64,
}

impl MultiCounts {
    /// Empty counts for the given domains, made by `protocol` (sizes checked by the
    /// protocol's constructor).
    pub(crate) fn new(protocol: Arc<str>, domains: &[u32]) -> Self {
        let mut starts = Vec::with_capacity(domains.len() + 1);
        let mut total = 0usize;
        starts.push(0);
        for &k in domains {
            total += k as usize;
            starts.push(total);
        }
        MultiCounts {
            protocol,
            flat: vec![0; total],
            starts,
            tuples: 0,
            single: vec![0; domains.len()],
            n: 0,
        }
    }

    /// Attribute `i`'s range in `flat` (`None` past the last attribute).
    #[inline]
    fn range(&self, i: usize) -> Option<core::ops::Range<usize>> {
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => Some(a..b),
            _ => None,
        }
    }

    /// The protocol and parameters that made these counts ([`MultidimProtocol::describe`]).
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// Support counts of attribute `i` (empty past the last attribute).
    pub fn counts(&self, i: usize) -> &[u64] {
        self.range(i).and_then(|r| self.flat.get(r)).unwrap_or(&[])
    }

    /// Number of reports about attribute `i` (0 past the last attribute).
    pub fn reports_about(&self, i: usize) -> u64 {
        self.single.get(i).map_or(0, |s| self.tuples + s)
    }

    /// Fails with [`LdpError::ProtocolMismatch`] unless these counts were made by the protocol
    /// described by `protocol`.
    pub fn check_protocol(&self, protocol: &str) -> Result<(), LdpError> {
        if &*self.protocol == protocol {
            Ok(())
        } else {
            Err(LdpError::ProtocolMismatch {
                expected: protocol.to_string(),
                got: self.protocol.to_string(),
            })
        }
    }

    /// [`Self::check_protocol`] with a pointer comparison first (counts made by this protocol
    /// object or a clone of it share its tag).
    #[inline]
    pub(crate) fn check_tag(&self, tag: &Arc<str>) -> Result<(), LdpError> {
        if Arc::ptr_eq(&self.protocol, tag) {
            Ok(())
        } else {
            self.check_protocol(tag)
        }
    }

    /// Total number of reports.
    pub fn n(&self) -> u64 {
        self.n
    }

    pub(crate) fn counts_mut(&mut self, i: usize) -> Option<&mut [u64]> {
        let r = self.range(i)?;
        self.flat.get_mut(r)
    }

    /// Every attribute's counts, in attribute order.
    pub(crate) fn attrs_mut(&mut self) -> impl Iterator<Item = &mut [u64]> {
        let mut rest = self.flat.as_mut_slice();
        self.starts.windows(2).map(move |w| {
            let len = w[1].saturating_sub(w[0]).min(rest.len());
            let (head, tail) = core::mem::take(&mut rest).split_at_mut(len);
            rest = tail;
            head
        })
    }

    /// All counts in one slice, attribute after attribute (per-report servers index it
    /// directly, at offsets computed from the domains as in [`Self::new`]).
    #[inline]
    pub(crate) fn flat_mut(&mut self) -> &mut [u64] {
        &mut self.flat
    }

    /// Records one report that was about attribute `i` only.
    pub(crate) fn record_report(&mut self, i: usize) {
        if let Some(r) = self.single.get_mut(i) {
            *r += 1;
        }
        self.n += 1;
    }

    /// Records `m` reports that were each about every attribute.
    #[inline]
    pub(crate) fn record_tuples(&mut self, m: u64) {
        self.tuples += m;
        self.n += m;
    }

    /// Adds counts made by the same protocol with the same parameters; other counts are refused
    /// and nothing changes.
    pub fn merge(&mut self, other: &MultiCounts) -> Result<(), LdpError> {
        self.check_protocol(&other.protocol)?;
        // same protocol and parameters, hence the same domains and layout
        for (x, y) in self.flat.iter_mut().zip(&other.flat) {
            *x += y;
        }
        for (a, b) in self.single.iter_mut().zip(&other.single) {
            *a += b;
        }
        self.tuples += other.tuples;
        self.n += other.n;
        Ok(())
    }
}

/// A multidimensional LDP protocol.
///
/// `ε` naming: [`Self::nominal_epsilon`] is the `ε` the protocol was configured with and
/// [`Self::nominal_level`] says what it bounds; [`Self::privacy`] gives the exact loss at
/// tuple and attribute level (for RS+FD's paper calibration the tuple-level loss exceeds the
/// nominal `ε`).
pub trait MultidimProtocol: Clone {
    /// What one user sends.
    type Report: Clone + core::fmt::Debug + PartialEq + Eq;

    /// Many users' reports, as produced by [`Self::randomize_columns`]: column-major
    /// ([`TupleBatch`]) where the protocol allows it, else a vector of reports.
    type Batch: Clone + core::fmt::Debug + PartialEq + Eq;

    /// Name used in tables and test vectors, e.g. `"RS+FD[GRR]"`.
    fn name(&self) -> String;

    /// Name and parameters in one line, e.g.
    /// `"Spl[GRR] (epsilon = 1.5 at tuple level, domains [3, 10])"`; tags [`MultiCounts`].
    fn describe(&self) -> &str;

    /// Domain sizes `k_1..k_d`.
    fn domains(&self) -> &[u32];

    /// The `ε` the protocol was configured with (the constructor's argument); what it bounds is
    /// [`Self::nominal_level`].
    fn nominal_epsilon(&self) -> f64;

    /// Whether [`Self::nominal_epsilon`] is a tuple-level or a (nominal) attribute-level `ε`.
    fn nominal_level(&self) -> EpsilonLevel;

    /// The configured `ε`; ambiguous across protocols (tuple level for Spl and Smp, nominal
    /// attribute level for RS+FD).
    #[deprecated(note = "use nominal_epsilon() with nominal_level(), or privacy().tuple")]
    fn epsilon(&self) -> f64 {
        self.nominal_epsilon()
    }

    /// Exact worst-case privacy loss at tuple and attribute level.
    fn privacy(&self) -> PrivacyLoss;

    /// The exact tuple-level privacy loss, `privacy().tuple`.
    fn tuple_epsilon(&self) -> f64 {
        self.privacy().tuple
    }

    /// Randomises one tuple (`values.len() == d`); an out-of-domain value is
    /// [`LdpError::AtAttribute`].
    fn randomize<R: CryptoRng + ?Sized>(
        &self,
        values: &[u32],
        rng: &mut R,
    ) -> Result<Self::Report, LdpError>;

    /// Randomises one tuple into `out`, reusing its storage: the per-report client without a
    /// heap allocation once `out` has this protocol's shape (a report from an earlier call; an
    /// empty or differently shaped one is reshaped first). Same RNG consumption and the same
    /// report as [`Self::randomize`]. On error `out` is left valid but unspecified.
    fn randomize_into<R: CryptoRng + ?Sized>(
        &self,
        values: &[u32],
        rng: &mut R,
        out: &mut Self::Report,
    ) -> Result<(), LdpError> {
        *out = self.randomize(values, rng)?;
        Ok(())
    }

    /// Validates one encoded report and adds it to the counts, without building a report: the
    /// per-report server. Same result and errors as [`Self::decode_report`] followed by
    /// [`Self::accumulate`]; nothing changes on error.
    fn accumulate_bytes(&self, counts: &mut MultiCounts, bytes: &[u8]) -> Result<(), LdpError> {
        let r = self.decode_report(bytes)?;
        self.accumulate(counts, &r)
    }

    /// Randomises many tuples given row-major (`rows.len()` a multiple of `d`); errors name the
    /// row ([`LdpError::AtRow`]).
    fn randomize_batch<R: CryptoRng + ?Sized>(
        &self,
        rows: &[u32],
        rng: &mut R,
    ) -> Result<Vec<Self::Report>, LdpError> {
        let d = self.domains().len();
        check_ragged(rows.len(), d)?;
        let mut out = Vec::with_capacity(rows.len() / d);
        for (i, t) in rows.chunks(d).enumerate() {
            out.push(self.randomize(t, rng).map_err(|e| e.at_row(i))?);
        }
        Ok(out)
    }

    /// The batch client: randomises row-major tuples into a [`Self::Batch`] (for Spl and RS+FD
    /// column-major, same RNG consumption and hence same reports as [`Self::randomize_batch`]).
    fn randomize_columns<R: CryptoRng + ?Sized>(
        &self,
        rows: &[u32],
        rng: &mut R,
    ) -> Result<Self::Batch, LdpError>;

    /// Validates a report and adds it to the counts (nothing changes on error).
    fn accumulate(&self, counts: &mut MultiCounts, report: &Self::Report) -> Result<(), LdpError>;

    /// Validates and adds many reports; stops at the first invalid one with
    /// [`LdpError::AtRow`] (the valid ones before it are kept).
    fn accumulate_batch(
        &self,
        counts: &mut MultiCounts,
        reports: &[Self::Report],
    ) -> Result<(), LdpError> {
        counts.check_protocol(self.describe())?;
        reports
            .iter()
            .enumerate()
            .try_for_each(|(i, r)| self.accumulate(counts, r).map_err(|e| e.at_row(i)))
    }

    /// The batch server: validates and adds a [`Self::Batch`] (for Spl and RS+FD nothing is
    /// added on error).
    fn accumulate_columns(
        &self,
        counts: &mut MultiCounts,
        batch: &Self::Batch,
    ) -> Result<(), LdpError>;

    /// Fresh counts, tagged with this protocol.
    fn new_counts(&self) -> MultiCounts {
        MultiCounts::new(Arc::from(self.describe()), self.domains())
    }

    /// Raw unbiased estimates, one vector per attribute; counts made by another protocol (or
    /// other parameters) are [`LdpError::ProtocolMismatch`].
    fn estimate(&self, counts: &MultiCounts) -> Result<Vec<Vec<f64>>, LdpError>;

    /// Variance of the estimate of a value of true frequency `f` in attribute `attr`, `n` users
    /// ([`LdpError::AttributeOutOfRange`] if `attr >= d`).
    fn variance(&self, attr: usize, f: f64, n: f64) -> Result<f64, LdpError>;

    /// The papers' approximate variance (`f = 0`).
    fn variance_f0(&self, attr: usize, n: f64) -> Result<f64, LdpError> {
        self.variance(attr, 0.0, n)
    }

    /// Appends the encoding of a (validated) report.
    fn encode_report(&self, report: &Self::Report, out: &mut Vec<u8>) -> Result<(), LdpError>;

    /// Decodes untrusted bytes into a valid report.
    fn decode_report(&self, bytes: &[u8]) -> Result<Self::Report, LdpError>;
}

/// `Ok` unless `len` values do not make whole rows of `d`.
pub(crate) fn check_ragged(len: usize, d: usize) -> Result<(), LdpError> {
    if d == 0 || !len.is_multiple_of(d) {
        Err(LdpError::RaggedRows { len, d })
    } else {
        Ok(())
    }
}

/// `attr` as an index below `d`.
pub(crate) fn check_attr(attr: usize, d: usize) -> Result<usize, LdpError> {
    if attr < d {
        Ok(attr)
    } else {
        Err(LdpError::AttributeOutOfRange {
            index: attr as u64,
            d,
        })
    }
}

/// Refuses protocols whose reports or counts exceed the caps.
pub(crate) fn check_sizes(oracles: &[Adp], report_bytes: usize) -> Result<(), LdpError> {
    let counters: u64 = oracles.iter().map(|o| u64::from(o.domain_size())).sum();
    check_counters(
        "the counts of a multidimensional protocol (sum of k_i)",
        counters,
    )?;
    check_report_bytes("a multidimensional report", report_bytes as u64)
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

    /// A batch of `n` users from caller-supplied columns (e.g. received from elsewhere): each
    /// column must hold exactly `n` users' reports (`n` values, or `n·ceil(k/64)` words). The
    /// values themselves are validated by `accumulate_columns`.
    pub fn from_columns(n: usize, columns: Vec<Column>) -> Result<Self, LdpError> {
        for (i, c) in columns.iter().enumerate() {
            let ok = match c {
                Column::Values(v) => v.len() == n,
                Column::Unary { k, words } => (*k as usize)
                    .div_ceil(64)
                    .checked_mul(n)
                    .is_some_and(|w| w == words.len()),
            };
            if !ok {
                return Err(LdpError::MalformedReport(
                    "batch column does not hold exactly n users' reports",
                )
                .at_attribute(i));
            }
        }
        Ok(TupleBatch { n, columns })
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

/// Validates a whole batch against `oracles` (counts already checked to be this protocol's),
/// then adds it; on error nothing is added and the error names the row and attribute.
pub(crate) fn accumulate_columns(
    oracles: &[Adp],
    counts: &mut MultiCounts,
    batch: &TupleBatch,
) -> Result<(), LdpError> {
    if batch.columns.len() != oracles.len() {
        return Err(LdpError::ArityMismatch {
            expected: oracles.len(),
            got: batch.columns.len(),
        });
    }
    // GRR columns are counted into local histograms while they are validated (one pass) and
    // added to `counts` only once every column is valid
    let mut hists: Vec<Vec<u64>> = Vec::with_capacity(oracles.len());
    for (i, (o, c)) in oracles.iter().zip(&batch.columns).enumerate() {
        match (o, c) {
            (Adp::Grr(g), Column::Values(v)) => {
                let k = g.domain_size();
                if v.len() != batch.n {
                    return Err(
                        LdpError::MalformedReport("batch column length differs from n")
                            .at_attribute(i),
                    );
                }
                let mut h = vec![0u64; k as usize];
                if let Err(row) = histogram_checked(&mut h, v) {
                    let y = v.get(row).copied().unwrap_or(0);
                    return Err(LdpError::FieldOutOfRange {
                        field: "GRR value",
                        value: u64::from(y),
                        bound: u64::from(k),
                    }
                    .at_attribute(i)
                    .at_row(row));
                }
                hists.push(h);
            }
            (Adp::Oue(u), Column::Unary { k, words }) => {
                let wpr = (*k as usize).div_ceil(64);
                if *k != u.domain_size() || words.len() != batch.n * wpr {
                    return Err(LdpError::MalformedReport(
                        "batch unary column has the wrong bit length or user count",
                    )
                    .at_attribute(i));
                }
                let rem = k & 63;
                if rem != 0 {
                    if let Some(row) = words.chunks(wpr).position(|w| w[wpr - 1] >> rem != 0) {
                        return Err(LdpError::MalformedReport("bit vector padding bits set")
                            .at_attribute(i)
                            .at_row(row));
                    }
                }
                hists.push(Vec::new());
            }
            _ => {
                return Err(LdpError::MalformedReport(
                    "batch column kind does not match the attribute's oracle",
                )
                .at_attribute(i))
            }
        }
    }
    for ((c, h), acc) in batch.columns.iter().zip(&hists).zip(counts.attrs_mut()) {
        match c {
            Column::Values(_) => acc.iter_mut().zip(h).for_each(|(a, x)| *a += x),
            Column::Unary { k, words } => {
                let wpr = (*k as usize).div_ceil(64);
                add_unary_column(acc, words, wpr);
            }
        }
    }
    counts.record_tuples(batch.n as u64);
    Ok(())
}

/// Bit-sliced counters of `k`-bit reports (`wpr` words each, padding bits zero): 8 bit planes
/// per word absorb up to 255 reports with a few word operations each (instead of one counter
/// update per set bit), then are flushed into plain counts.
pub(crate) struct SlicedCounter {
    planes: Vec<u64>,
    pending: u32,
}

impl SlicedCounter {
    /// Counters for reports of `wpr` words.
    pub(crate) fn new(wpr: usize) -> Self {
        SlicedCounter {
            planes: vec![0; 8 * wpr],
            pending: 0,
        }
    }

    /// Adds one report's words; flushes into `acc` when the planes are full.
    #[inline]
    pub(crate) fn add(&mut self, report: &[u64], acc: &mut [u64]) {
        self.add_words(report);
        self.pending += 1;
        // 8 planes hold counts up to 255
        if self.pending == 255 {
            self.flush(acc);
        }
    }

    /// Adds one report's words to the planes (the caller keeps the count below 256).
    #[inline]
    fn add_words(&mut self, report: &[u64]) {
        for (pl, &w) in self.planes.chunks_exact_mut(8).zip(report) {
            let mut carry = w;
            for p in pl.iter_mut() {
                if carry == 0 {
                    break;
                }
                let x = *p;
                *p = x ^ carry;
                carry &= x;
            }
        }
    }

    /// Adds the pending counts to `acc` (bit `b` of word `w` to `acc[64 w + b]`) and clears them.
    pub(crate) fn flush(&mut self, acc: &mut [u64]) {
        if self.pending == 0 {
            return;
        }
        for (pl, chunk) in self.planes.chunks_exact_mut(8).zip(acc.chunks_mut(64)) {
            for (b, c) in chunk.iter_mut().enumerate() {
                let mut v = 0u64;
                for (j, &p) in pl.iter().enumerate() {
                    v |= ((p >> b) & 1) << j;
                }
                *c += v;
            }
            pl.iter_mut().for_each(|p| *p = 0);
        }
        self.pending = 0;
    }
}

/// Adds the bit counts of `words` (reports of `wpr` words each, padding bits zero) to `acc`,
/// with bit-sliced counters ([`SlicedCounter`]).
pub(crate) fn add_unary_column(acc: &mut [u64], words: &[u64], wpr: usize) {
    let mut s = SlicedCounter::new(wpr);
    // blocks of 255 reports: the inner loop has no flush check (a per-report check cost ~10%)
    for block in words.chunks(255 * wpr.max(1)) {
        for report in block.chunks_exact(wpr.max(1)) {
            s.add_words(report);
        }
        // at most 255 reports were added to the planes
        s.pending = (block.len() / wpr.max(1)) as u32;
        s.flush(acc);
    }
}

/// Adds the histogram of `values` (all `< acc.len()`) to `acc`, with four interleaved partial
/// histograms so that runs of equal values (skewed data) do not serialise on one counter.
pub(crate) fn histogram_into(acc: &mut [u64], values: &[u32]) {
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
        flush_parts(acc, &mut part);
    }
}

/// Adds four partial histograms (`part` is four runs of `acc.len()` counters) to `acc` and
/// zeroes them.
fn flush_parts(acc: &mut [u64], part: &mut [u32]) {
    let k = acc.len();
    for (i, a) in acc.iter_mut().enumerate() {
        *a += (0..4)
            .map(|j| part.get(j * k + i).map_or(0, |&x| u64::from(x)))
            .sum::<u64>();
    }
    part.iter_mut().for_each(|x| *x = 0);
}

/// Increments `p[v]`; `false` (and no change) if `v` is out of range.
#[inline(always)]
fn bump(p: &mut [u32], v: u32) -> bool {
    match p.get_mut(v as usize) {
        Some(c) => {
            *c += 1;
            true
        }
        None => false,
    }
}

/// Adds the histogram of `values` to `acc` if every value is below `acc.len()`; otherwise
/// leaves `acc` unchanged and returns the index of the first value that is not. Validation and
/// counting are one pass (a separate validation pass cost a third of a small-domain histogram).
pub(crate) fn histogram_checked(acc: &mut [u64], values: &[u32]) -> Result<(), usize> {
    let k = acc.len();
    // u32 partial counters: blocks of at most 2^30 values cannot overflow them
    const BLOCK: usize = 1 << 30;
    // counts of earlier blocks (only inputs past 2^30 values), added to `acc` only once every
    // block is valid
    let mut spill = vec![0u64; if values.len() > BLOCK { k } else { 0 }];
    let mut part = vec![0u32; 4 * k];
    let ok = values.chunks(BLOCK).enumerate().all(|(bi, block)| {
        if bi > 0 {
            flush_parts(&mut spill, &mut part);
        }
        count_quads(&mut part, block, k)
    }) && {
        flush_parts(acc, &mut part);
        true
    };
    if !ok {
        return Err(values.iter().position(|&y| y as usize >= k).unwrap_or(0));
    }
    acc.iter_mut().zip(&spill).for_each(|(a, s)| *a += s);
    Ok(())
}

/// Counts `block` into four interleaved partial histograms (`part`: four runs of `k`), so that
/// runs of equal values (skewed data) do not serialise on one counter; `false` at a value
/// `>= k` (the bound check that indexing needs anyway is the validation).
fn count_quads(part: &mut [u32], block: &[u32], k: usize) -> bool {
    let (p0, rest) = part.split_at_mut(k);
    let (p1, rest) = rest.split_at_mut(k);
    let (p2, p3) = rest.split_at_mut(k.min(rest.len()));
    let mut quads = block.chunks_exact(4);
    // `&` (not `&&`): all four lanes run, one branch per quad
    quads
        .by_ref()
        .all(|q| bump(p0, q[0]) & bump(p1, q[1]) & bump(p2, q[2]) & bump(p3, q[3]))
        && quads.remainder().iter().all(|&y| bump(p0, y))
}

/// Validates row-major tuples; returns the number of users. Errors name the row and attribute.
pub(crate) fn check_rows(rows: &[u32], domains: &[u32]) -> Result<usize, LdpError> {
    let d = domains.len();
    check_ragged(rows.len(), d)?;
    rows.chunks(d)
        .enumerate()
        .try_for_each(|(i, t)| check_tuple(t, domains).map_err(|e| e.at_row(i)))?;
    Ok(rows.len() / d)
}

/// Validates the domain list.
pub(crate) fn check_domains(domains: &[u32]) -> Result<Vec<u32>, LdpError> {
    if domains.is_empty() {
        return Err(LdpError::NoAttributes);
    }
    domains
        .iter()
        .enumerate()
        .map(|(i, &k)| check_domain(k).map_err(|e| e.at_attribute(i)))
        .collect()
}

/// Validates a tuple against the domains (errors name the attribute).
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
        .enumerate()
        .try_for_each(|(i, (&v, &k))| check_value(v, k).map_err(|e| e.at_attribute(i)))
}

/// Adds one tuple report to counts already checked to be this protocol's: validates every
/// attribute first, then counts, so an invalid report changes nothing.
#[inline]
fn add_tuple(
    oracles: &[Adp],
    counts: &mut MultiCounts,
    report: &TupleReport,
) -> Result<(), LdpError> {
    if report.len() != oracles.len() {
        return Err(LdpError::ArityMismatch {
            expected: oracles.len(),
            got: report.len(),
        });
    }
    for (i, (o, r)) in oracles.iter().zip(report).enumerate() {
        o.check_attr_report(r).map_err(|e| e.at_attribute(i))?;
    }
    for (c, r) in counts.attrs_mut().zip(report) {
        match r {
            AttrReport::Value(y) => {
                if let Some(x) = c.get_mut(*y as usize) {
                    *x += 1;
                }
            }
            AttrReport::Unary(bv) => bv.add_to(c),
        }
    }
    counts.record_tuples(1);
    Ok(())
}

/// Accumulates a tuple report whose attribute `i` is a report of `oracles[i]`.
pub(crate) fn accumulate_tuple(
    oracles: &[Adp],
    protocol: &Arc<str>,
    counts: &mut MultiCounts,
    report: &TupleReport,
) -> Result<(), LdpError> {
    counts.check_tag(protocol)?;
    add_tuple(oracles, counts, report)
}

/// Accumulates many tuple reports (protocol checked once); stops at the first invalid report
/// with [`LdpError::AtRow`], the valid ones before it are kept.
pub(crate) fn accumulate_tuples(
    oracles: &[Adp],
    protocol: &Arc<str>,
    counts: &mut MultiCounts,
    reports: &[TupleReport],
) -> Result<(), LdpError> {
    counts.check_tag(protocol)?;
    reports
        .iter()
        .enumerate()
        .try_for_each(|(i, r)| add_tuple(oracles, counts, r).map_err(|e| e.at_row(i)))
}

/// Makes `out` exactly `d` attribute reports long (new slots are `Value(0)`; kept slots keep
/// their storage for reuse).
pub(crate) fn reshape(out: &mut TupleReport, d: usize) {
    out.truncate(d);
    out.resize(d, AttrReport::Value(0));
}

/// The words of `slot` as a `k`-bit vector, replacing the slot by a zero vector only if it is
/// not one of that length (so a slot from an earlier report is reused without allocating).
pub(crate) fn unary_words(slot: &mut AttrReport, k: u32) -> &mut [u64] {
    if !matches!(slot, AttrReport::Unary(bv) if bv.len() == k) {
        *slot = AttrReport::Unary(BitVector::zeros(k));
    }
    match slot {
        AttrReport::Unary(bv) => bv.words_mut(),
        AttrReport::Value(_) => &mut [],
    }
}

/// One attribute's field in an encoded tuple report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field {
    /// Domain size (GRR: the value must be below it; unary: the bit count).
    k: u32,
    /// Encoded bytes.
    len: usize,
    unary: bool,
    /// The attribute's first counter in the flat counts ([`MultiCounts`]).
    start: usize,
}

/// Byte layout of the encoded reports of Spl and RS+FD (a function of the parameters),
/// precomputed so that the per-report server does no per-attribute dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    fields: Vec<Field>,
    len: usize,
    /// Set when every field is a one-byte GRR value (every `k <= 256`, the common case).
    narrow: Option<Narrow>,
    /// Every field is a bit vector of a multiple of 8 bits: no padding bits, and bit `b` of the
    /// whole report is counter `b` of the flat counts, so the report is one bit vector.
    dense: bool,
}

/// The per-report server's fast path for reports of `d` one-byte GRR values.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Narrow {
    /// Per field the largest valid byte (`k_i - 1`).
    max: Vec<u8>,
    /// Per field the attribute's first counter in the flat counts.
    starts: Vec<usize>,
    /// For `d <= 8`: byte `i` is `255 - max[i]` (0 past `d`), so that adding it to byte `i` of
    /// the report carries out of the byte exactly when that byte exceeds `max[i]`.
    excess: Option<u64>,
}

/// The high bit of every byte of a word.
const HIGH: u64 = 0x8080_8080_8080_8080;

impl Narrow {
    fn new(fields: &[Field]) -> Option<Self> {
        let max = fields
            .iter()
            .map(|f| match u8::try_from(f.k.saturating_sub(1)) {
                Ok(m) if !f.unary && f.len == 1 => Some(m),
                _ => None,
            })
            .collect::<Option<Vec<u8>>>()?;
        let excess = (max.len() <= 8).then(|| {
            max.iter()
                .rev()
                .fold(0u64, |acc, &m| (acc << 8) | u64::from(255 - m))
        });
        Some(Narrow {
            starts: fields.iter().map(|f| f.start).collect(),
            max,
            excess,
        })
    }

    /// Whether the `d` bytes are all valid (the length is checked by the caller); for `d <= 8`
    /// all fields at once in one word: the carries out of the bytes of `report + excess` (a
    /// byte-wise add, computed without carries between bytes) are the fields that are too large.
    #[inline]
    fn valid(&self, bytes: &[u8]) -> bool {
        match (self.excess, load_short(bytes)) {
            (Some(y), Some(x)) => {
                let low = (x & !HIGH) + (y & !HIGH);
                ((x & y) | ((x | y) & low)) & HIGH == 0
            }
            // no early exit: one branch per report, not one per field
            _ => !bytes
                .iter()
                .zip(&self.max)
                .fold(false, |bad, (&b, &m)| bad | (b > m)),
        }
    }

    /// For `d <= 8`: the report as a word if it has `len` bytes and is valid.
    #[inline]
    fn valid_word(&self, bytes: &[u8], len: usize) -> Option<u64> {
        let y = self.excess?;
        if bytes.len() != len {
            return None;
        }
        let x = load_short(bytes)?;
        let low = (x & !HIGH) + (y & !HIGH);
        (((x & y) | ((x | y) & low)) & HIGH == 0).then_some(x)
    }

    /// Counts a valid report given as a word (byte `i` is field `i`).
    #[inline]
    fn count_word(&self, flat: &mut [u64], mut x: u64) {
        for &s in &self.starts {
            if let Some(c) = flat.get_mut(s + (x & 0xff) as usize) {
                *c += 1;
            }
            x >>= 8;
        }
    }

    /// Counts valid bytes.
    #[inline]
    fn count(&self, flat: &mut [u64], bytes: &[u8]) {
        match load_short(bytes) {
            Some(x) => self.count_word(flat, x),
            None => {
                for (&b, &s) in bytes.iter().zip(&self.starts) {
                    if let Some(c) = flat.get_mut(s + usize::from(b)) {
                        *c += 1;
                    }
                }
            }
        }
    }
}

/// Up to 8 bytes as a little-endian word, in registers: 4 to 8 bytes as two overlapping 4-byte
/// loads (the overlap holds the same bytes in both), so a 5-attribute report costs two loads
/// rather than a byte loop; `None` past 8 bytes.
#[inline]
fn load_short(b: &[u8]) -> Option<u64> {
    match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        (Some(lo), Some(hi)) if b.len() <= 8 => Some(
            u64::from(u32::from_le_bytes(*lo))
                | (u64::from(u32::from_le_bytes(*hi)) << (8 * (b.len() - 4))),
        ),
        (Some(_), _) => None,
        _ => Some(wire::le_uint(b)),
    }
}

impl Layout {
    pub(crate) fn new(oracles: &[Adp]) -> Self {
        let mut start = 0;
        let fields: Vec<Field> = oracles
            .iter()
            .map(|o| {
                let f = Field {
                    k: o.domain_size(),
                    len: o.report_len(),
                    unary: !o.is_grr(),
                    start,
                };
                start += o.domain_size() as usize;
                f
            })
            .collect();
        Layout {
            len: fields.iter().map(|f| f.len).sum(),
            narrow: Narrow::new(&fields),
            dense: fields.iter().all(|f| f.unary && f.k % 8 == 0),
            fields,
        }
    }

    /// Whether `bytes` is a valid encoded report (the length, every value below its `k`, no
    /// padding bit set in a bit vector); the same acceptance as [`decode_tuple`].
    #[inline]
    fn valid(&self, bytes: &[u8]) -> bool {
        if bytes.len() != self.len {
            return false;
        }
        if let Some(narrow) = &self.narrow {
            return narrow.valid(bytes);
        }
        if self.dense {
            return true;
        }
        let mut ok = true;
        let mut rest = bytes;
        for f in &self.fields {
            let (b, tail) = rest.split_at(f.len.min(rest.len()));
            rest = tail;
            ok &= if f.unary {
                let pad = f.k & 7;
                pad == 0 || b.last().is_none_or(|&x| x >> pad == 0)
            } else {
                field_value(b) < u64::from(f.k)
            };
        }
        ok
    }

    /// Adds a report that [`Self::valid`] accepted to the flat counts (never panics: on other
    /// bytes it would count something meaningless, not index out of bounds).
    #[inline]
    fn count(&self, flat: &mut [u64], bytes: &[u8]) {
        if let Some(narrow) = &self.narrow {
            narrow.count(flat, bytes);
            return;
        }
        if self.dense {
            // one walk over the whole report: fewer word boundaries (each a mispredicted loop
            // exit) than field by field
            for (wi, chunk) in bytes.chunks(8).enumerate() {
                let mut w = wire::le_uint(chunk);
                while w != 0 {
                    if let Some(x) = flat.get_mut(wi * 64 + w.trailing_zeros() as usize) {
                        *x += 1;
                    }
                    w &= w - 1;
                }
            }
            return;
        }
        let mut rest = bytes;
        for f in &self.fields {
            let (b, tail) = rest.split_at(f.len.min(rest.len()));
            rest = tail;
            if f.unary {
                for (wi, chunk) in b.chunks(8).enumerate() {
                    let mut w = wire::le_uint(chunk);
                    let base = f.start + wi * 64;
                    while w != 0 {
                        if let Some(x) = flat.get_mut(base + w.trailing_zeros() as usize) {
                            *x += 1;
                        }
                        w &= w - 1;
                    }
                }
            } else if let Some(x) = flat.get_mut(f.start + field_value(b) as usize) {
                *x += 1;
            }
        }
    }
}

/// A GRR field's value: one byte for `k <= 256`, the common case, without dispatch.
#[inline]
fn field_value(b: &[u8]) -> u64 {
    match *b {
        [x] => u64::from(x),
        _ => wire::le_uint(b),
    }
}

/// Validates an encoded tuple report against `oracles` (whose layout is `layout`) and adds it
/// to counts tagged `protocol` without decoding it into a report: the report is checked, then
/// the counts' tag, and only then is anything counted, with the errors of [`decode_tuple`]
/// followed by [`accumulate_tuple`].
#[inline]
pub(crate) fn accumulate_tuple_bytes(
    oracles: &[Adp],
    layout: &Layout,
    protocol: &Arc<str>,
    counts: &mut MultiCounts,
    bytes: &[u8],
) -> Result<(), LdpError> {
    // the common case, small enough to inline into the caller's loop: up to 8 one-byte
    // fields, a valid report, counts made by this protocol object; anything else takes the
    // full path below
    if let Some(narrow) = &layout.narrow {
        if let Some(x) = narrow.valid_word(bytes, layout.len) {
            if Arc::ptr_eq(&counts.protocol, protocol) {
                narrow.count_word(&mut counts.flat, x);
                counts.record_tuples(1);
                return Ok(());
            }
        }
    }
    accumulate_tuple_bytes_full(oracles, layout, protocol, counts, bytes)
}

/// [`accumulate_tuple_bytes`] for every layout and every outcome.
#[inline(never)]
fn accumulate_tuple_bytes_full(
    oracles: &[Adp],
    layout: &Layout,
    protocol: &Arc<str>,
    counts: &mut MultiCounts,
    bytes: &[u8],
) -> Result<(), LdpError> {
    if !layout.valid(bytes) {
        tuple_bytes_error(oracles, bytes)?;
    }
    counts.check_tag(protocol)?;
    layout.count(counts.flat_mut(), bytes);
    counts.record_tuples(1);
    Ok(())
}

/// The precise error for bytes that [`Layout::valid`] refused (the checks of [`decode_tuple`],
/// without building a report); `Ok` only if they accept the bytes after all.
#[cold]
fn tuple_bytes_error(oracles: &[Adp], bytes: &[u8]) -> Result<(), LdpError> {
    wire::check_len(bytes, tuple_len(oracles))?;
    let mut r = wire::Reader::new(bytes);
    for (i, o) in oracles.iter().enumerate() {
        match o {
            Adp::Grr(g) => r
                .uint_below(u64::from(g.domain_size()), "GRR value")
                .map(drop),
            Adp::Oue(u) => r.bitvec_bytes(u.domain_size()).map(drop),
        }
        .map_err(|e| e.at_attribute(i))?;
    }
    r.finish()
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
        return Err(LdpError::ArityMismatch {
            expected: oracles.len(),
            got: report.len(),
        });
    }
    let start = out.len();
    oracles
        .iter()
        .zip(report)
        .enumerate()
        .try_for_each(|(i, (o, r))| o.encode_report(r, out).map_err(|e| e.at_attribute(i)))
        .inspect_err(|_| out.truncate(start))
}

/// Decodes a tuple report.
pub(crate) fn decode_tuple(oracles: &[Adp], bytes: &[u8]) -> Result<TupleReport, LdpError> {
    wire::check_len(bytes, tuple_len(oracles))?;
    let mut r = wire::Reader::new(bytes);
    let rep = oracles
        .iter()
        .enumerate()
        .map(|(i, o)| o.read(&mut r).map_err(|e| e.at_attribute(i)))
        .collect::<Result<Vec<_>, _>>()?;
    r.finish()?;
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-byte fast path (word-at-a-time check for `d <= 8`, byte loop past 8, short
    /// reports below 4 bytes) accepts exactly what the decoder accepts, for every value of
    /// every field, and counts what the decoded report counts.
    #[test]
    fn narrow_layout_accepts_what_the_decoder_accepts() {
        let ks = [2u32, 256, 3, 129, 128, 255, 7, 200, 9];
        for d in 1..=ks.len() {
            let oracles: Vec<Adp> = ks[..d].iter().map(|&k| Adp::grr(k, 1.0).unwrap()).collect();
            let layout = Layout::new(&oracles);
            assert!(layout.narrow.is_some());
            assert_eq!(layout.narrow.as_ref().unwrap().excess.is_some(), d <= 8);
            let tag: Arc<str> = Arc::from("test");
            let mut c1 = MultiCounts::new(Arc::clone(&tag), &ks[..d]);
            let mut c2 = c1.clone();
            for i in 0..d {
                for x in 0..=255u8 {
                    let mut b: Vec<u8> = (0..d as u8).map(|j| j % 2).collect();
                    b[i] = x;
                    let want = decode_tuple(&oracles, &b);
                    assert_eq!(layout.valid(&b), want.is_ok(), "d={d} i={i} x={x}");
                    let got = accumulate_tuple_bytes(&oracles, &layout, &tag, &mut c1, &b);
                    assert_eq!(got.is_ok(), want.is_ok());
                    if let Ok(r) = want {
                        accumulate_tuple(&oracles, &tag, &mut c2, &r).unwrap();
                    }
                    assert_eq!(c1, c2);
                }
            }
        }
    }

    /// The dense unary layout (every field a whole number of bytes) counts what the decoded
    /// report counts, and the other unary layouts still refuse set padding bits.
    #[test]
    fn dense_unary_layout_counts_like_the_decoder() {
        for (ks, dense) in [
            (vec![8u32, 16, 64, 72, 128], true),
            (vec![8, 13, 64], false),
        ] {
            let oracles: Vec<Adp> = ks.iter().map(|&k| Adp::oue(k, 1.0).unwrap()).collect();
            let layout = Layout::new(&oracles);
            assert_eq!(layout.dense, dense);
            let tag: Arc<str> = Arc::from("test");
            let mut c1 = MultiCounts::new(Arc::clone(&tag), &ks);
            let mut c2 = c1.clone();
            for i in 0..layout.len {
                for x in [0x01u8, 0x80, 0xff, 0x5a] {
                    let mut b = vec![0u8; layout.len];
                    b[i] = x;
                    b[layout.len - 1 - i] |= 0x21;
                    let want = decode_tuple(&oracles, &b);
                    let got = accumulate_tuple_bytes(&oracles, &layout, &tag, &mut c1, &b);
                    assert_eq!(got.is_ok(), want.is_ok(), "{ks:?} {b:02x?}");
                    if let Ok(r) = want {
                        accumulate_tuple(&oracles, &tag, &mut c2, &r).unwrap();
                    }
                    assert_eq!(c1, c2);
                }
            }
        }
    }

    /// The one-pass checked histogram counts like the plain one and reports the first invalid
    /// value without changing the counts.
    #[test]
    fn checked_histogram() {
        let v: Vec<u32> = (0..1003u32).map(|i| (i * i) % 17).collect();
        let (mut a, mut b) = (vec![1u64; 17], vec![1u64; 17]);
        histogram_checked(&mut a, &v).unwrap();
        histogram_into(&mut b, &v);
        assert_eq!(a, b);
        for bad in [0usize, 3, 4, 1000, 1002] {
            let mut w = v.clone();
            w[bad] = 17;
            w[1001] = 99;
            let before = a.clone();
            assert_eq!(histogram_checked(&mut a, &w), Err(bad.min(1001)));
            assert_eq!(a, before);
        }
    }
}
