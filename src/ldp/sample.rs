//! Small sampling helpers on top of [`rand_core::Rng`] (the crate does not depend on `rand`).
//!
//! Invariants: every helper is exact up to the stated fixed-point resolution: bounded integers are
//! unbiased (Lemire's multiply-and-reject), Bernoulli draws have probability exactly
//! `threshold / 2^64`, and the word-parallel Bernoulli sampler compares 64 independent uniform
//! 64-bit fixed-point numbers with the same threshold, so every lane is exactly
//! Bernoulli(`threshold / 2^64`). Only the geometric skipper uses floating point (`ln`), and is
//! accurate to a few ulps of the bit probability.

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
    use rand_core::SeedableRng;

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
