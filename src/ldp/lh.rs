//! Local hashing: binary (BLH, `g = 2`) and optimised (OLH, `g = round(e^ε) + 1`).
//!
//! # Hash family (normative, part of the report)
//!
//! With the Mersenne prime `P = 2^61 − 1`, a report carries a hash key `(a, b)` with
//! `1 <= a < P`, `0 <= b < P`, drawn uniformly by the client, and
//!
//! ```text
//! H_{a,b}(v) = floor( ((a·v + b) mod P) · g / 2^61 )      in [0, g)
//! ```
//!
//! (Carter–Wegman `(a·v + b) mod P`, which is pairwise independent over distinct `v < P`,
//! followed by a multiply-shift range reduction to `g` buckets.) Two distinct values collide
//! with probability `1/g − δ`, `0 <= δ < 2^-60`, so `q* = 1/g` up to less than `2^-60`.
//!
//! Client: draw `(a, b)`, compute `x = H_{a,b}(v)`, send `(a, b, y)` with `y = GRR_g(x)` at ε:
//! `y = x` with probability `p = e^ε/(e^ε + g − 1)`, else uniform over the other `g − 1` buckets.
//! `p* = p`, `q* = 1/g`; `n·Var*(f=0) = (e^ε+1)²/(e^ε−1)²` (BLH) and about `4e^ε/(e^ε−1)²`
//! (OLH). Worst-case privacy loss: `ln[p (g−1)/(1−p)] = ε` exactly.
//!
//! Server: `C(v) = #{i : H_{a_i,b_i}(v) = y_i}` in `O(n·k)`, evaluated incrementally
//! (`h(v+1) = h(v) + a mod P`) with a precomputed bucket interval per report, so one addition
//! and one comparison per (report, value); [`super::aggregate_parallel`] splits it over threads.
//!
//! Report: `a` (8 bytes LE), `b` (8 bytes LE), `y` ([`wire::width`]`(g)` bytes).

use rand_core::CryptoRng;

use super::{
    check_acc_len, check_counters, check_domain, check_epsilon, check_value, sample, wire,
    FrequencyOracle, LdpError, PureParams, MAX_DOMAIN,
};

/// The Mersenne prime `2^61 − 1` of the hash family.
pub const LH_PRIME: u64 = (1u64 << 61) - 1;

/// A local-hashing report: hash key `(a, b)` and perturbed bucket `y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LhReport {
    /// Multiplier, `1 <= a < 2^61 − 1`.
    pub a: u64,
    /// Offset, `0 <= b < 2^61 − 1`.
    pub b: u64,
    /// Perturbed bucket, `< g`.
    pub y: u32,
}

/// `(a·v + b) mod P`.
#[inline]
fn affine_mod_p(a: u64, b: u64, v: u64) -> u64 {
    let prod = u128::from(a) * u128::from(v) + u128::from(b);
    let lo = (prod as u64) & LH_PRIME;
    let hi = (prod >> 61) as u64;
    // prod < 2^61 · 2^32 + 2^61, so hi < 2^33 and one fold plus one subtraction suffices.
    let mut s = lo + hi;
    if s >= LH_PRIME {
        s -= LH_PRIME;
    }
    s
}

/// `H_{a,b}(v)` into `g` buckets (see the module docs).
#[inline]
pub fn lh_hash(a: u64, b: u64, v: u32, g: u32) -> u32 {
    let h = affine_mod_p(a, b, u64::from(v));
    ((u128::from(h) * u128::from(g)) >> 61) as u32
}

/// First residue `h` with `floor(h·g/2^61) >= y`, i.e. `ceil(y·2^61/g)`.
#[inline]
fn bucket_start(y: u64, g: u64) -> u64 {
    let num = u128::from(y) << 61;
    num.div_ceil(u128::from(g)) as u64
}

/// Which local-hashing variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LhKind {
    /// Binary local hashing, `g = 2`.
    Binary,
    /// Optimised local hashing, `g = round(e^ε) + 1`.
    Optimized,
}

/// A local-hashing oracle over `[0, k)`.
///
/// Invariant: `2 <= g <= MAX_DOMAIN`, `step` keeps with the fixed-point threshold of `p`.
#[derive(Clone, Debug, PartialEq)]
pub struct Lh {
    kind: LhKind,
    k: u32,
    g: u32,
    eps: f64,
    p: f64,
    /// keep the bucket with probability `threshold(p) / 2^64`, else one of the `g − 1` others
    step: sample::KeepElse,
}

impl Lh {
    /// BLH over `[0, k)` at `eps`.
    pub fn blh(k: u32, eps: f64) -> Result<Self, LdpError> {
        Self::with(LhKind::Binary, k, eps, 2)
    }

    /// OLH over `[0, k)` at `eps`, `g = round(e^ε) + 1`.
    pub fn olh(k: u32, eps: f64) -> Result<Self, LdpError> {
        let eps = check_epsilon(eps)?;
        let g = eps.exp().round() + 1.0;
        if g > f64::from(MAX_DOMAIN) {
            return Err(LdpError::TooLarge {
                what: "OLH's bucket count g = round(e^epsilon) + 1 (epsilon above ln 2^30)",
                size: g as u64,
                unit: "buckets",
                max: u64::from(MAX_DOMAIN),
                cap: "MAX_DOMAIN",
            });
        }
        Self::with(LhKind::Optimized, k, eps, g as u32)
    }

    fn with(kind: LhKind, k: u32, eps: f64, g: u32) -> Result<Self, LdpError> {
        let k = check_domain(k)?;
        let eps = check_epsilon(eps)?;
        check_counters("a local-hashing aggregator", u64::from(k))?;
        let e = eps.exp();
        let p = e / (e + f64::from(g) - 1.0);
        Ok(Lh {
            kind,
            k,
            g,
            eps,
            p,
            step: sample::KeepElse::new(sample::threshold(p), g - 1),
        })
    }

    /// Number of hash buckets `g`.
    pub fn buckets(&self) -> u32 {
        self.g
    }

    /// Which variant.
    pub fn kind(&self) -> LhKind {
        self.kind
    }

    fn check_report(&self, r: &LhReport) -> Result<(), LdpError> {
        if r.a == 0 {
            return Err(LdpError::MalformedReport("LH hash multiplier a is 0"));
        }
        for (field, value, bound) in [
            ("LH hash multiplier a", r.a, LH_PRIME),
            ("LH hash offset b", r.b, LH_PRIME),
            ("LH bucket y", u64::from(r.y), u64::from(self.g)),
        ] {
            if value >= bound {
                return Err(LdpError::FieldOutOfRange {
                    field,
                    value,
                    bound,
                });
            }
        }
        Ok(())
    }
}

impl FrequencyOracle for Lh {
    type Report = LhReport;

    fn name(&self) -> &'static str {
        match self.kind {
            LhKind::Binary => "BLH",
            LhKind::Optimized => "OLH",
        }
    }

    fn domain_size(&self) -> u32 {
        self.k
    }

    fn epsilon(&self) -> f64 {
        self.eps
    }

    fn params(&self) -> PureParams {
        PureParams::new(self.p, 1.0 / f64::from(self.g)).expect("LH probabilities are valid")
    }

    fn true_epsilon(&self) -> f64 {
        (self.p * f64::from(self.g - 1) / (1.0 - self.p)).ln()
    }

    fn randomize<R: CryptoRng + ?Sized>(
        &self,
        value: u32,
        rng: &mut R,
    ) -> Result<LhReport, LdpError> {
        check_value(value, self.k)?;
        // uniform on [1, P) and [0, P) by rejection from 61 random bits (P = 2^61 - 1, so a
        // draw is rejected with probability below 2^-59)
        let a = loop {
            let x = rng.next_u64() >> 3;
            if x != 0 && x < LH_PRIME {
                break x;
            }
        };
        let b = loop {
            let x = rng.next_u64() >> 3;
            if x < LH_PRIME {
                break x;
            }
        };
        let x = lh_hash(a, b, value, self.g);
        // one 32-bit word decides keep-or-replace and the replacement (exact, see KeepElse)
        let y = match self.step.sample(rng) {
            None => x,
            Some(u) => u + u32::from(u >= x),
        };
        Ok(LhReport { a, b, y })
    }

    fn accumulate(&self, acc: &mut [u64], r: &LhReport) -> Result<(), LdpError> {
        check_acc_len(acc, self.k as usize)?;
        self.check_report(r)?;
        let g = u64::from(self.g);
        let lo = bucket_start(u64::from(r.y), g);
        let width = bucket_start(u64::from(r.y) + 1, g) - lo;
        let mut h = r.b;
        for c in acc.iter_mut() {
            *c += u64::from(h.wrapping_sub(lo) < width);
            h += r.a;
            if h >= LH_PRIME {
                h -= LH_PRIME;
            }
        }
        Ok(())
    }

    fn report_len(&self) -> usize {
        16 + wire::width(u64::from(self.g))
    }

    fn encode_report(&self, r: &LhReport, out: &mut Vec<u8>) -> Result<(), LdpError> {
        self.check_report(r)?;
        wire::put_uint(out, r.a, 8);
        wire::put_uint(out, r.b, 8);
        wire::put_uint(out, u64::from(r.y), wire::width(u64::from(self.g)));
        Ok(())
    }

    fn decode_report(&self, bytes: &[u8]) -> Result<LhReport, LdpError> {
        wire::check_len(bytes, self.report_len())?;
        let mut rd = wire::Reader::new(bytes);
        let a = rd.u64_le()?;
        let b = rd.u64_le()?;
        let y = rd.uint_below(u64::from(self.g), "LH bucket y")? as u32;
        rd.finish()?;
        let r = LhReport { a, b, y };
        self.check_report(&r)?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_hash_matches_direct() {
        let (a, b, g) = (LH_PRIME - 3, LH_PRIME - 1, 7u32);
        let mut h = b;
        for v in 0..1000u32 {
            let y = lh_hash(a, b, v, g);
            let lo = bucket_start(u64::from(y), u64::from(g));
            let hi = bucket_start(u64::from(y) + 1, u64::from(g));
            assert!(lo <= h && h < hi, "v={v}");
            assert_eq!(h, affine_mod_p(a, b, u64::from(v)));
            h += a;
            if h >= LH_PRIME {
                h -= LH_PRIME;
            }
        }
    }
}
