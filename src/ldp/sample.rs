//! Small sampling helpers on top of [`rand_core::Rng`] (the crate does not depend on `rand`).
//!
//! Invariants: every helper is exact up to the stated fixed-point resolution: bounded integers are
//! unbiased (Lemire's multiply-and-reject), Bernoulli draws have probability exactly
//! `threshold / 2^64` (also when [`bernoulli_prefix`] and [`KeepElse`] compare only the top 16
//! or 32 bits and draw the rest on a tie), and the word-parallel Bernoulli sampler compares 64
//! independent uniform 64-bit fixed-point numbers with the same threshold, so every lane is
//! exactly Bernoulli(`threshold / 2^64`). Only the geometric skipper uses floating point (`ln`),
//! and is accurate to a few ulps of the bit probability.
//!
//! Cost: random words are most of a client's time, so the samplers draw as few as exactness
//! allows: GRR and the local-hashing bucket take one 32-bit word per report for the keep/replace
//! decision and the replacement ([`KeepElse`]), Hadamard response one word for the decision and
//! the symbol ([`bernoulli_prefix`] on the bits the symbol does not use).

use rand_core::Rng;

/// A uniform integer in `[0, n)`, `n >= 1`, by Lemire's nearly-divisionless rejection method.
#[inline]
pub(crate) fn below<R: Rng + ?Sized>(rng: &mut R, n: u32) -> u32 {
    debug_assert!(n >= 1);
    let mut m = u64::from(rng.next_u32()) * u64::from(n);
    let mut lo = m as u32;
    if lo < n {
        let t = n.wrapping_neg() % n;
        while lo < t {
            m = u64::from(rng.next_u32()) * u64::from(n);
            lo = m as u32;
        }
    }
    (m >> 32) as u32
}

/// A uniform double in `(0, 1]` with 53 random bits.
#[inline]
pub(crate) fn unit_open0<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    ((rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The 64-bit fixed-point threshold `t` with `t / 2^64 ≈ prob` (round to nearest, clamped).
pub(crate) fn threshold(prob: f64) -> u64 {
    if prob <= 0.0 {
        0
    } else if prob >= 1.0 {
        u64::MAX
    } else {
        // prob * 2^64 is exact in f64 scaling; the cast saturates at u64::MAX.
        (prob * 18_446_744_073_709_551_616.0) as u64
    }
}

/// One Bernoulli draw with probability `t / 2^64`.
#[inline]
pub(crate) fn bernoulli<R: Rng + ?Sized>(rng: &mut R, t: u64) -> bool {
    rng.next_u64() < t
}

/// One Bernoulli(`t / 2^64`) draw that starts from `x`, the top `bits` bits (`1 <= bits <= 32`,
/// `x < 2^bits`) of the uniform 64-bit number `U` it compares with `t`; the remaining
/// `64 − bits` bits of `U` are drawn only on a tie.
///
/// Exactness: write `U = x·2^(64−b) + L` with `L` uniform on `[0, 2^(64−b))` and independent
/// of `x`, and `t = th·2^(64−b) + tl` likewise. Then `U < t` iff `x < th`, or `x = th` and
/// `L < tl`; this function decides exactly that, drawing `L` (the top `64 − b` bits of a fresh
/// word) only when `x = th` (probability `2^−b`). So the result is 1 with probability exactly
/// `t / 2^64`, as [`bernoulli`], while consuming `b` bits almost always.
#[inline]
pub(crate) fn bernoulli_prefix<R: Rng + ?Sized>(rng: &mut R, x: u32, bits: u32, t: u64) -> bool {
    debug_assert!((1..=32).contains(&bits) && u64::from(x) >> bits == 0);
    let th = t >> (64 - bits);
    let x = u64::from(x);
    if x != th {
        return x < th;
    }
    let tl = t & (u64::MAX >> bits);
    (rng.next_u64() >> bits) < tl
}

/// Exact "keep with probability `t / 2^64`, else a uniform index in `[0, n)`" from one 32-bit
/// word in all but a vanishing fraction of draws: the randomised-response step of GRR and local
/// hashing (the caller maps the index to one of the `n` other values).
///
/// Draw `x` (32 bits) and let `th = t >> 32`:
/// * `x < th`: keep. `x = th` (probability `2^−32`): decide with [`bernoulli_prefix`] (the tie
///   draws the low 32 bits of `U`), and if not kept draw the index with [`below`]. So
///   `P[keep] = th/2^32 + 2^−32·(t mod 2^32)/2^32 = t/2^64` exactly.
/// * `x > th`: not kept, and `r = x − th − 1` is uniform on `[0, R)`, `R = 2^32 − 1 − th`,
///   independent of everything drawn before. With `s = floor(R/n)`, `r < n·s` is accepted and
///   `floor(r/s)` is uniform on `[0, n)` (each index owns exactly `s` values of `r`); otherwise
///   (probability `(R mod n)/R < n/R`) the index is drawn afresh with [`below`]. Either way the
///   index is exactly uniform given "not kept".
///
/// `floor(r/s)` uses a precomputed reciprocal (Granlund–Montgomery round-up method for 32-bit
/// dividends: `l = ceil(log2 s)`, `m = floor(2^(32+l)/s) + 1`, `floor(r·m / 2^(32+l)) =
/// floor(r/s)` for every `r < 2^32`; checked exhaustively on edge cases in the tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeepElse {
    t: u64,
    n: u32,
    th: u32,
    /// `n·s`, the accepted range of `r` (0 when `R < n`: always redraw)
    limit: u32,
    m: u64,
    shift: u32,
}

impl KeepElse {
    /// `n >= 1`.
    pub(crate) fn new(t: u64, n: u32) -> Self {
        debug_assert!(n >= 1);
        let th = (t >> 32) as u32;
        let range = u64::from(u32::MAX - th); // R = 2^32 - 1 - th
        let s = range / u64::from(n);
        let (m, shift, limit) = if s == 0 {
            (0, 0, 0)
        } else {
            let (m, shift) = reciprocal(s);
            (m, shift, (s * u64::from(n)) as u32)
        };
        KeepElse {
            t,
            n,
            th,
            limit,
            m,
            shift,
        }
    }

    /// `None` = keep, `Some(i)` = index `i` in `[0, n)`.
    #[inline]
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<u32> {
        let x = rng.next_u32();
        if x < self.th {
            return None;
        }
        let r = x.wrapping_sub(self.th).wrapping_sub(1);
        if x != self.th && r < self.limit {
            return Some(((u128::from(r) * u128::from(self.m)) >> self.shift) as u32);
        }
        self.slow(rng, x)
    }

    #[cold]
    fn slow<R: Rng + ?Sized>(&self, rng: &mut R, x: u32) -> Option<u32> {
        if x == self.th && bernoulli_prefix(rng, x, 32, self.t) {
            return None;
        }
        Some(below(rng, self.n))
    }

    /// `floor(r / s)` through the reciprocal (for the tests).
    #[cfg(test)]
    fn div(&self, r: u32) -> u32 {
        ((u128::from(r) * u128::from(self.m)) >> self.shift) as u32
    }
}

/// The multiplier `m` and shift `32 + l` with `floor(r·m / 2^(32+l)) = floor(r/s)` for every
/// 32-bit `r`, `1 <= s < 2^32` (see [`KeepElse`]).
fn reciprocal(s: u64) -> (u64, u32) {
    let l = 64 - (s - 1).leading_zeros(); // ceil(log2 s), 0 for s = 1
    let m = ((1u128 << (32 + l)) / u128::from(s)) as u64 + 1;
    (m, 32 + l)
}

/// 64 independent Bernoulli(`t / 2^64`) lanes in one word.
///
/// Each lane compares a uniform 64-bit number `U` with `t`, most significant bit first, drawing a
/// fresh random word per bit position only while some lane is still undecided; a lane is 1 iff
/// `U < t`. Expected cost is about `log2(64) + 2` words per 64 lanes whatever `t` is, and a
/// single word when `t = 2^63` (probability 1/2).
#[inline]
pub(crate) fn bernoulli_word<R: Rng + ?Sized>(rng: &mut R, t: u64) -> u64 {
    let mut undecided = u64::MAX;
    let mut ones = 0u64;
    let mut bit = 63u32;
    loop {
        let r = rng.next_u64();
        if (t >> bit) & 1 == 1 {
            // lanes whose random bit is 0 are below t
            ones |= undecided & !r;
            undecided &= r;
        } else {
            // lanes whose random bit is 1 are above t
            undecided &= !r;
        }
        // remaining lanes equal t on the processed prefix; if t has no lower bits set they are
        // >= t, i.e. 0.
        if undecided == 0 || bit == 0 || t & ((1u64 << bit) - 1) == 0 {
            return ones;
        }
        bit -= 1;
    }
}

/// Sampler of i.i.d. Bernoulli(q) bit strings, choosing between geometric skipping (small q) and
/// word-parallel comparison (larger q).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BitSampler {
    t: u64,
    /// `1 / ln(1 - q)`, used by geometric skipping.
    inv_log1mq: f64,
    geometric: bool,
}

impl BitSampler {
    /// Below this probability geometric skipping is cheaper than ~8 words per 64 lanes.
    const GEOMETRIC_BELOW: f64 = 1.0 / 24.0;

    pub(crate) fn new(q: f64) -> Self {
        let geometric = q > 0.0 && q < Self::GEOMETRIC_BELOW;
        BitSampler {
            t: threshold(q),
            inv_log1mq: 1.0 / (-q).ln_1p(),
            geometric,
        }
    }

    /// Whether [`Self::fill`] uses geometric skipping.
    #[cfg(test)]
    pub(crate) fn is_geometric(&self) -> bool {
        self.geometric
    }

    /// Overwrites bits `[0, nbits)` of `words` with i.i.d. Bernoulli(q) bits; bits at and above
    /// `nbits` are set to 0. `words.len()` must be `nbits.div_ceil(64)`.
    pub(crate) fn fill<R: Rng + ?Sized>(&self, rng: &mut R, words: &mut [u64], nbits: usize) {
        debug_assert_eq!(words.len(), nbits.div_ceil(64));
        if self.geometric {
            words.iter_mut().for_each(|w| *w = 0);
            let mut pos: u64 = 0;
            loop {
                // number of failures before the next success, G = floor(ln U / ln(1-q))
                let g = (unit_open0(rng).ln() * self.inv_log1mq).floor();
                if g.is_nan() || g >= nbits as f64 {
                    return;
                }
                pos += g as u64;
                if pos >= nbits as u64 {
                    return;
                }
                words[(pos >> 6) as usize] |= 1u64 << (pos & 63);
                pos += 1;
            }
        } else {
            if self.t == 0 {
                words.iter_mut().for_each(|w| *w = 0);
                return;
            }
            for w in words.iter_mut() {
                *w = bernoulli_word(rng, self.t);
            }
            let rem = nbits & 63;
            if rem != 0 {
                if let Some(last) = words.last_mut() {
                    *last &= (1u64 << rem) - 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};

    /// A generator replaying scripted 32-bit words (64-bit reads take two, low word first).
    struct Script(Vec<u32>);

    impl rand_core::TryRng for Script {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.0.remove(0))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            let lo = u64::from(self.0.remove(0));
            Ok(lo | u64::from(self.0.remove(0)) << 32)
        }
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
            unimplemented!("not used by the samplers")
        }
    }

    /// The reciprocal division is exact, and every index owns exactly `s` consecutive values of
    /// `r` in `[0, n·s)` (the division is monotone, so checking both ends of each index's run
    /// proves it): the accepted branch of `KeepElse` is exactly uniform.
    #[test]
    fn keep_else_division_is_exact() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let thresholds = [
            0u64,
            1,
            1 << 63,
            threshold(0.153),
            threshold(0.999),
            u64::MAX - 1,
        ];
        for &t in &thresholds {
            for n in [
                1u32,
                2,
                3,
                7,
                15,
                255,
                1023,
                1 << 20,
                (1 << 30) - 1,
                u32::MAX >> 1,
            ] {
                let ke = KeepElse::new(t, n);
                let range = u64::from(u32::MAX - (t >> 32) as u32);
                let s = range / u64::from(n);
                assert_eq!(u64::from(ke.limit), s * u64::from(n));
                if s == 0 {
                    continue;
                }
                let s32 = s as u32;
                for i in (0..n).take(3000).chain(n.saturating_sub(3000)..n) {
                    assert_eq!(ke.div(i * s32), i, "t={t} n={n} i={i}");
                    assert_eq!(ke.div(i * s32 + (s32 - 1)), i, "t={t} n={n} i={i}");
                }
                for _ in 0..2000 {
                    let r = rng.next_u32();
                    assert_eq!(u64::from(ke.div(r)), u64::from(r) / s, "r={r} s={s}");
                }
            }
        }
        // divisors at powers of two and their neighbours, edge dividends
        for j in 0..33u32 {
            for s in [(1u64 << j) - 1, 1 << j, (1 << j) + 1] {
                if s == 0 || s > u64::from(u32::MAX) {
                    continue;
                }
                let (m, shift) = reciprocal(s);
                let mut rs = vec![0u64, 1, u64::from(u32::MAX) - 1, u64::from(u32::MAX)];
                for q in [1u64, 2, 3, u64::from(u32::MAX) / s] {
                    rs.extend([q * s - 1, q * s, q * s + 1]);
                }
                for r in rs.into_iter().filter(|&r| r <= u64::from(u32::MAX)) {
                    let q = (u128::from(r) * u128::from(m)) >> shift;
                    assert_eq!(q as u64, r / s, "r={r} s={s}");
                }
            }
        }
    }

    /// The rare branches: a tie on the top 32 bits decides with the low 32 bits, and a rejected
    /// `r` redraws the index with `below`.
    #[test]
    fn keep_else_tie_and_rejection_paths() {
        let t = (5u64 << 32) | 1000;
        let ke = KeepElse::new(t, 3);
        // x = 4 < th = 5: keep
        assert_eq!(ke.sample(&mut Script(vec![4])), None);
        // tie, low word 999 < 1000: keep
        assert_eq!(ke.sample(&mut Script(vec![5, 0, 999])), None);
        // tie, low word 1000: not kept, index drawn by below(3) from 0x8000_0000 -> 1
        assert_eq!(
            ke.sample(&mut Script(vec![5, 0, 1000, 0x8000_0000])),
            Some(1)
        );
        // x = 6: r = 0 -> index 0; the largest accepted r maps to n - 1
        assert_eq!(ke.sample(&mut Script(vec![6])), Some(0));
        let last = 6 + ke.limit - 1;
        assert_eq!(ke.sample(&mut Script(vec![last])), Some(2));
        // R = 2^32 - 6 = 3·s + 1: r = limit is rejected and redrawn by below(3) -> 1
        assert_eq!(u64::from(u32::MAX - 5) % 3, 1);
        assert_eq!(ke.sample(&mut Script(vec![last + 1, 0x8000_0000])), Some(1));
        // bernoulli_prefix with a 16-bit prefix
        let t = 0x1234_5678_9abc_def0u64;
        assert!(bernoulli_prefix(&mut Script(vec![]), 0x1233, 16, t));
        assert!(!bernoulli_prefix(&mut Script(vec![]), 0x1235, 16, t));
        // tie: the next word's top 48 bits against 0x5678_9abc_def0
        assert!(bernoulli_prefix(
            &mut Script(vec![0, 0x5678_9abc]),
            0x1234,
            16,
            t
        ));
        assert!(!bernoulli_prefix(
            &mut Script(vec![0xdef0_0000, 0x5678_9abc]),
            0x1234,
            16,
            t
        ));
    }

    /// Keep rate and index distribution of `KeepElse` (chi-square, 1e-6 level), and the rate of
    /// `bernoulli_prefix` with short prefixes, where ties are frequent.
    #[test]
    fn keep_else_and_prefix_distributions() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        for &(p, n) in &[(0.153f64, 15u32), (0.5, 3), (0.9, 1), (0.02, 1000)] {
            let ke = KeepElse::new(threshold(p), n);
            let draws = 200_000u32;
            let mut hist = vec![0u32; n as usize];
            let mut kept = 0u32;
            for _ in 0..draws {
                match ke.sample(&mut rng) {
                    None => kept += 1,
                    Some(i) => hist[i as usize] += 1,
                }
            }
            let d = f64::from(draws);
            let se = (p * (1.0 - p) / d).sqrt();
            assert!(
                (f64::from(kept) / d - p).abs() < 5.0 * se,
                "p={p}: kept {kept}"
            );
            let others = f64::from(draws - kept);
            let e = others / f64::from(n);
            let chi2: f64 = hist.iter().map(|&c| (f64::from(c) - e).powi(2) / e).sum();
            // chi-square with n - 1 degrees of freedom: mean n - 1, sd sqrt(2(n - 1))
            let df = f64::from(n - 1);
            assert!(
                chi2 <= df + 7.0 * (2.0 * df).sqrt() + 10.0,
                "p={p} n={n} chi2={chi2}"
            );
        }
        for bits in [1u32, 2, 4, 16, 32] {
            for &p in &[0.3f64, 0.731, 0.5] {
                let t = threshold(p);
                let draws = 100_000u32;
                let ones = (0..draws)
                    .filter(|_| {
                        let x = rng.next_u32() >> (32 - bits);
                        bernoulli_prefix(&mut rng, x, bits, t)
                    })
                    .count() as f64;
                let d = f64::from(draws);
                let se = (p * (1.0 - p) / d).sqrt();
                assert!((ones / d - p).abs() < 5.0 * se, "bits={bits} p={p}");
            }
        }
    }

    #[test]
    fn below_is_in_range_and_covers() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            seen[below(&mut rng, 7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (850..1150).contains(&c)), "{seen:?}");
    }

    #[test]
    fn bit_samplers_have_the_right_rate() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for &q in &[0.01, 0.03, 0.2, 0.5, 0.73] {
            let s = BitSampler::new(q);
            assert_eq!(s.is_geometric(), q < 1.0 / 24.0);
            let nbits = 1000usize;
            let mut words = vec![0u64; nbits.div_ceil(64)];
            let mut ones = 0u64;
            let reps = 200;
            for _ in 0..reps {
                s.fill(&mut rng, &mut words, nbits);
                assert_eq!(words.last().unwrap() >> (nbits & 63), 0);
                ones += words.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
            }
            let total = (nbits * reps) as f64;
            let mean = ones as f64 / total;
            let se = (q * (1.0 - q) / total).sqrt();
            assert!((mean - q).abs() < 5.0 * se, "q={q} mean={mean}");
        }
    }
}
