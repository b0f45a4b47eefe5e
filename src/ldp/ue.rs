//! Unary encodings: symmetric (SUE, basic one-time RAPPOR) and optimised (OUE).
//!
//! Client: one-hot encode the value into `k` bits; the value's bit is 1 with probability `p`,
//! every other bit is 1 with probability `q`, independently.
//!
//! * SUE: `p = e^{ε/2}/(e^{ε/2} + 1)`, `q = 1 − p`; `n·Var* = e^{ε/2}/(e^{ε/2} − 1)²`.
//! * OUE: `p = 1/2`, `q = 1/(e^ε + 1)`; `n·Var* = 4e^ε/(e^ε − 1)²`.
//!
//! `p* = p`, `q* = q`; worst-case privacy loss `ln[p(1−q)/((1−p)q)] = ε` exactly (two bits differ
//! between neighbouring one-hot vectors). Performance: the `k − 1` q-bits are drawn by geometric
//! skipping when `q < 1/24` and by word-parallel Bernoulli sampling otherwise (about 8 random
//! words per 64 bits, 1 word per 64 bits at probability 1/2), never one uniform per bit.
//! Report: `k` bits, `ceil(k/8)` bytes.

use rand_core::CryptoRng;

use super::sample::{self, BitSampler};
use super::{
    check_acc_len, check_counters, check_domain, check_epsilon, check_report_bytes, check_value,
    wire, BitVector, FrequencyOracle, LdpError, PureParams,
};

/// Bit planes of the server's bit-sliced counters: 8 planes count up to 255 reports per bit
/// before they are flushed into the 64-bit counts.
const PLANES: usize = 8;
/// Reports held in the planes before a flush.
const FLUSH_EVERY: u64 = (1 << PLANES) - 1;

/// Which unary encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UeKind {
    /// Symmetric unary encoding (basic RAPPOR).
    Symmetric,
    /// Optimised unary encoding.
    Optimized,
}

/// A unary-encoding oracle over `[0, k)`.
///
/// Invariant: `0 < q < p < 1` with `p(1−q)/((1−p)q) = e^ε` up to rounding.
#[derive(Clone, Debug, PartialEq)]
pub struct Ue {
    kind: UeKind,
    k: u32,
    eps: f64,
    p: f64,
    q: f64,
    p_thr: u64,
    q_bits: BitSampler,
}

impl Ue {
    /// SUE (basic one-time RAPPOR) over `[0, k)` at `eps`.
    pub fn sue(k: u32, eps: f64) -> Result<Self, LdpError> {
        let eps = check_epsilon(eps)?;
        let h = (eps / 2.0).exp();
        Self::with(UeKind::Symmetric, k, eps, h / (h + 1.0), 1.0 / (h + 1.0))
    }

    /// OUE over `[0, k)` at `eps`.
    pub fn oue(k: u32, eps: f64) -> Result<Self, LdpError> {
        Self::oue_build(k, check_epsilon(eps)?)
    }

    /// OUE at an already validated (possibly derived) `eps`.
    pub(crate) fn oue_build(k: u32, eps: f64) -> Result<Self, LdpError> {
        Self::with(UeKind::Optimized, k, eps, 0.5, 1.0 / (eps.exp() + 1.0))
    }

    fn with(kind: UeKind, k: u32, eps: f64, p: f64, q: f64) -> Result<Self, LdpError> {
        let k = check_domain(k)?;
        check_report_bytes("a unary-encoding report", wire::bitvec_len(k) as u64)?;
        check_counters("a unary-encoding aggregator", u64::from(k))?;
        Ok(Ue {
            kind,
            k,
            eps,
            p,
            q,
            p_thr: sample::threshold(p),
            q_bits: BitSampler::new(q),
        })
    }

    /// Which encoding this is.
    pub fn kind(&self) -> UeKind {
        self.kind
    }

    /// Probability that the value's own bit is 1.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Probability that any other bit is 1.
    pub fn q(&self) -> f64 {
        self.q
    }

    /// Randomises an already validated value.
    pub(crate) fn perturb<R: CryptoRng + ?Sized>(&self, v: u32, rng: &mut R) -> BitVector {
        let mut bv = BitVector::zeros(self.k);
        self.perturb_into(v, rng, bv.words_mut());
        bv
    }

    /// Writes the OUE/SUE of the all-zero vector into `words` (`ceil(k/64)` words).
    pub(crate) fn zero_into<R: CryptoRng + ?Sized>(&self, rng: &mut R, words: &mut [u64]) {
        self.q_bits.fill(rng, words, self.k as usize);
    }

    /// Writes the randomised one-hot encoding of the validated `v` into `words`.
    pub(crate) fn perturb_into<R: CryptoRng + ?Sized>(
        &self,
        v: u32,
        rng: &mut R,
        words: &mut [u64],
    ) {
        self.q_bits.fill(rng, words, self.k as usize);
        let m = 1u64 << (v & 63);
        if sample::bernoulli(rng, self.p_thr) {
            words[(v >> 6) as usize] |= m;
        } else {
            words[(v >> 6) as usize] &= !m;
        }
    }

    pub(crate) fn check_report(&self, r: &BitVector) -> Result<(), LdpError> {
        if r.len() != self.k {
            return Err(LdpError::FieldOutOfRange {
                field: "unary report bit length (must equal k)",
                value: u64::from(r.len()),
                bound: u64::from(self.k) + 1,
            });
        }
        // BitVector's own invariant guarantees zero padding bits.
        Ok(())
    }

    /// Words per report.
    fn words(&self) -> usize {
        (self.k as usize).div_ceil(64)
    }

    /// Adds one validated report's words to the bit-sliced planes (`planes[w * 8 + j]` is bit
    /// `j` of the counters of word `w`), then flushes every 255 reports. Accumulator layout:
    /// `k` counts, `8·ceil(k/64)` plane words, one pending-report counter.
    #[inline]
    fn add_words(&self, acc: &mut [u64], words: &[u64]) {
        let k = self.k as usize;
        let (counts, rest) = acc.split_at_mut(k);
        let (planes, pending) = rest.split_at_mut(rest.len() - 1);
        for (pl, &w) in planes.chunks_exact_mut(PLANES).zip(words) {
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
        pending[0] += 1;
        if pending[0] >= FLUSH_EVERY {
            Self::flush_planes(counts, planes);
            pending[0] = 0;
        }
    }

    /// Adds the plane counters into `counts` and clears them.
    fn flush_planes(counts: &mut [u64], planes: &mut [u64]) {
        Self::add_planes(counts, planes);
        planes.iter_mut().for_each(|p| *p = 0);
    }

    /// Adds the plane counters into `counts`.
    fn add_planes(counts: &mut [u64], planes: &[u64]) {
        for (wi, pl) in planes.chunks_exact(PLANES).enumerate() {
            if pl.iter().all(|&p| p == 0) {
                continue;
            }
            let base = wi * 64;
            let end = (base + 64).min(counts.len());
            for (b, c) in counts[base..end].iter_mut().enumerate() {
                let mut v = 0u64;
                for (j, &p) in pl.iter().enumerate() {
                    v |= ((p >> b) & 1) << j;
                }
                *c += v;
            }
        }
    }
}

impl FrequencyOracle for Ue {
    type Report = BitVector;

    fn name(&self) -> &'static str {
        match self.kind {
            UeKind::Symmetric => "SUE",
            UeKind::Optimized => "OUE",
        }
    }

    fn domain_size(&self) -> u32 {
        self.k
    }

    fn epsilon(&self) -> f64 {
        self.eps
    }

    fn params(&self) -> PureParams {
        PureParams::new(self.p, self.q).expect("UE probabilities are valid")
    }

    fn true_epsilon(&self) -> f64 {
        (self.p * (1.0 - self.q) / ((1.0 - self.p) * self.q)).ln()
    }

    fn randomize<R: CryptoRng + ?Sized>(
        &self,
        value: u32,
        rng: &mut R,
    ) -> Result<BitVector, LdpError> {
        check_value(value, self.k)?;
        Ok(self.perturb(value, rng))
    }

    fn accumulator_len(&self) -> usize {
        self.k as usize + PLANES * self.words() + 1
    }

    fn accumulate(&self, acc: &mut [u64], report: &BitVector) -> Result<(), LdpError> {
        check_acc_len(acc, self.accumulator_len())?;
        self.check_report(report)?;
        self.add_words(acc, report.words());
        Ok(())
    }

    fn accumulate_batch(&self, acc: &mut [u64], reports: &[BitVector]) -> Result<(), LdpError> {
        check_acc_len(acc, self.accumulator_len())?;
        for (i, r) in reports.iter().enumerate() {
            self.check_report(r).map_err(|e| e.at_row(i))?;
            self.add_words(acc, r.words());
        }
        Ok(())
    }

    fn support_counts(&self, acc: &[u64], n: u64) -> Result<Vec<u64>, LdpError> {
        check_acc_len(acc, self.accumulator_len())?;
        let k = self.k as usize;
        let pending = acc[acc.len() - 1];
        if pending >= FLUSH_EVERY || pending > n {
            return Err(LdpError::InvalidParameter(
                "unary-encoding accumulator inconsistent with n",
            ));
        }
        let mut counts = acc[..k].to_vec();
        Self::add_planes(&mut counts, &acc[k..acc.len() - 1]);
        Ok(counts)
    }

    fn merge_accumulators(&self, acc: &mut [u64], other: &[u64]) -> Result<(), LdpError> {
        check_acc_len(acc, self.accumulator_len())?;
        check_acc_len(other, self.accumulator_len())?;
        let k = self.k as usize;
        let end = other.len() - 1;
        for (a, b) in acc[..k].iter_mut().zip(&other[..k]) {
            *a += b;
        }
        Self::add_planes(&mut acc[..k], &other[k..end]);
        Ok(())
    }

    fn report_len(&self) -> usize {
        wire::bitvec_len(self.k)
    }

    fn encode_report(&self, report: &BitVector, out: &mut Vec<u8>) -> Result<(), LdpError> {
        self.check_report(report)?;
        wire::put_bitvec(out, report);
        Ok(())
    }

    fn decode_report(&self, bytes: &[u8]) -> Result<BitVector, LdpError> {
        wire::check_len(bytes, self.report_len())?;
        let mut r = wire::Reader::new(bytes);
        let bv = r.bitvec(self.k)?;
        r.finish()?;
        Ok(bv)
    }
}
