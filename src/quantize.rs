//! Clipping, unbiased stochastic quantization into Z_Q, and dequantization of sums
//! (spec section "Quantization").
//!
//! With clip bound `c > 0` and `Q >= 2` levels, the step is `delta = 2c / (Q - 1)` and a value `v`
//! (already multiplied by the client's weight `w`) maps to
//!
//! ```text
//! s = (clamp(w * v, -c, c) + c) / delta          a real number in [0, Q - 1]
//! q = floor(s) + [u < s - floor(s)]              u uniform in [0, 1): E[q] = s (unbiased)
//! ```
//!
//! A sum of `m` quantized vectors dequantizes as `sum * delta - m * c`, and differs from the sum of
//! the clipped, weighted inputs by strictly less than `m * delta` per coordinate (plus float
//! rounding). `u` is `(next_u64 >> 11) * 2^-53`. Limits: `2^-1022 <= c <= 2^1000`, `2 <= Q <= 2^32`.
//!
//! Invariant: a [`Quantizer`] only exists for configurations where the sum of `max_clients`
//! vectors cannot wrap the ring: `max_clients * (Q - 1) < 2^bits`.

use crate::prelude::*;

use crate::ring::{Bits, Elems, RingVec, Word};

/// 2^1000, the largest clip bound (`f64::powi` is not in `core`).
const TWO_POW_1000: f64 = f64::from_bits((1023 + 1000) << 52);

/// The largest number of levels. The scaled value `s` is computed in binary64; keeping
/// `Q <= 2^32` leaves 20 bits below the integer part, so the rounding is unbiased up to about
/// 2^-20 of a step (at 2^52 levels the fraction would be lost entirely).
pub const MAX_LEVELS: u64 = 1 << 32;

/// Errors of quantization.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QuantizeError {
    /// The clip bound is not a positive finite number whose step and scale are finite.
    #[error("clip bound {0} must be a normal positive number below 2^1000, with a normal step 2c / (Q - 1)")]
    InvalidClip(f64),
    /// `Q` is below 2 or above [`MAX_LEVELS`].
    #[error("{0} quantization levels is outside 2..=2^32")]
    InvalidLevels(u64),
    /// `max_clients` is zero.
    #[error("the number of clients must be at least 1")]
    NoClients,
    /// The worst-case sum wraps the ring.
    #[error(
        "{max_clients} clients x {} (max level) does not fit in {bits} bits: {needed} bits needed",
        levels - 1
    )]
    Overflow {
        /// Clients whose inputs may be summed.
        max_clients: u64,
        /// Quantization levels.
        levels: u64,
        /// Configured ring width.
        bits: u32,
        /// Smallest width that fits (65 if none does).
        needed: u32,
    },
    /// An input is NaN or infinite.
    #[error("input {index} is not finite")]
    NonFinite {
        /// Its position.
        index: usize,
    },
    /// The weight is negative or not finite.
    #[error("weight {0} must be finite and non-negative")]
    InvalidWeight(f64),
    /// The sum's width does not match the quantizer's.
    #[error("sum has {got} bits, the quantizer uses {expected}")]
    BitsMismatch {
        /// Quantizer width.
        expected: u32,
        /// Sum width.
        got: u32,
    },
    /// More clients were summed than the quantizer allows.
    #[error("{count} clients exceed the configured maximum {max_clients}")]
    TooManyClients {
        /// Clients summed.
        count: u64,
        /// Configured maximum.
        max_clients: u64,
    },
    /// The total weight for a mean is not positive and finite.
    #[error("total weight {0} must be positive and finite")]
    InvalidTotalWeight(f64),
}

/// The smallest ring width such that `max_clients * (levels - 1) < 2^bits`.
pub fn bits_for(max_clients: u64, levels: u64) -> Result<Bits, QuantizeError> {
    let needed = needed_bits(max_clients, levels)?;
    Bits::new(needed).map_err(|_| QuantizeError::Overflow {
        max_clients,
        levels,
        bits: 64,
        needed,
    })
}

fn needed_bits(max_clients: u64, levels: u64) -> Result<u32, QuantizeError> {
    if !(2..=MAX_LEVELS).contains(&levels) {
        return Err(QuantizeError::InvalidLevels(levels));
    }
    if max_clients == 0 {
        return Err(QuantizeError::NoClients);
    }
    let worst = max_clients as u128 * (levels - 1) as u128;
    // Smallest b with worst < 2^b, i.e. the bit length of `worst`.
    Ok((128 - worst.leading_zeros()).max(1))
}

/// A quantized vector and how many of its inputs were clipped.
#[derive(Debug)]
pub struct Quantized {
    /// The quantized values (and the appended tail element, if one was given).
    pub vector: RingVec,
    /// The number of inputs `v` whose weighted value `w * v` lay outside `[-c, c]`: each was
    /// moved to the nearest bound before quantization, so the sum under-reports it.
    pub clipped: u64,
}

/// A validated quantization configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantizer {
    clip: f64,
    levels: u64,
    bits: Bits,
    max_clients: u64,
}

impl Quantizer {
    /// Checks the configuration, including that `max_clients` inputs cannot wrap `2^bits`.
    pub fn new(
        clip: f64,
        levels: u64,
        bits: Bits,
        max_clients: u64,
    ) -> Result<Self, QuantizeError> {
        // Normal and bounded, so 2c, the step and its inverse are all finite and nonzero.
        if !(f64::MIN_POSITIVE..=TWO_POW_1000).contains(&clip) {
            return Err(QuantizeError::InvalidClip(clip));
        }
        let needed = needed_bits(max_clients, levels)?;
        // A tiny clip with many levels makes the step subnormal (imprecise) or its inverse
        // infinite (every input would land on the top level).
        let step = 2.0 * clip / (levels - 1) as f64;
        let scale = (levels - 1) as f64 / (2.0 * clip);
        if !(step >= f64::MIN_POSITIVE && scale.is_finite()) {
            return Err(QuantizeError::InvalidClip(clip));
        }
        if needed > bits.get() {
            return Err(QuantizeError::Overflow {
                max_clients,
                levels,
                bits: bits.get(),
                needed,
            });
        }
        Ok(Self {
            clip,
            levels,
            bits,
            max_clients,
        })
    }

    /// The clip bound `c`.
    pub fn clip(&self) -> f64 {
        self.clip
    }

    /// The number of levels `Q`.
    pub fn levels(&self) -> u64 {
        self.levels
    }

    /// The ring width.
    pub fn bits(&self) -> Bits {
        self.bits
    }

    /// The number of clients whose sum is guaranteed not to wrap.
    pub fn max_clients(&self) -> u64 {
        self.max_clients
    }

    /// The quantization step `delta = 2c / (Q - 1)`.
    pub fn step(&self) -> f64 {
        2.0 * self.clip / (self.levels - 1) as f64
    }

    /// Quantizes `weight * v` for each input `v` with unbiased stochastic rounding.
    pub fn quantize<T, R>(
        &self,
        values: &[T],
        weight: f64,
        rng: &mut R,
    ) -> Result<RingVec, QuantizeError>
    where
        T: Copy + Into<f64>,
        R: rand_core::CryptoRng + ?Sized,
    {
        self.quantize_with(values, weight, || rng.next_u64())
    }

    /// [`Self::quantize`] with the rounding randomness given as one `u64` per input (the test
    /// vectors list them). Missing words count as zero.
    #[doc(hidden)]
    pub fn quantize_with_words<T: Copy + Into<f64>>(
        &self,
        values: &[T],
        weight: f64,
        words: &[u64],
    ) -> Result<RingVec, QuantizeError> {
        let mut it = words.iter().copied();
        self.quantize_with(values, weight, || it.next().unwrap_or(0))
    }

    fn quantize_with<T: Copy + Into<f64>>(
        &self,
        values: &[T],
        weight: f64,
        next_u64: impl FnMut() -> u64,
    ) -> Result<RingVec, QuantizeError> {
        self.quantize_counting(values, weight, None, next_u64)
            .map(|q| q.vector)
    }

    /// [`Self::quantize`] that also counts the clipped coordinates and appends `tail` (reduced
    /// mod 2^bits) as one more element. The input is read element by element, converted to `f64`
    /// one value at a time, so an `f32` model is never copied into a `Vec<f64>`.
    pub fn quantize_report<T, R>(
        &self,
        values: &[T],
        weight: f64,
        tail: Option<u64>,
        rng: &mut R,
    ) -> Result<Quantized, QuantizeError>
    where
        T: Copy + Into<f64>,
        R: rand_core::CryptoRng + ?Sized,
    {
        self.quantize_counting(values, weight, tail, || rng.next_u64())
    }

    fn quantize_counting<T: Copy + Into<f64>>(
        &self,
        values: &[T],
        weight: f64,
        tail: Option<u64>,
        mut next_u64: impl FnMut() -> u64,
    ) -> Result<Quantized, QuantizeError> {
        let mut chunks = self.chunks(values, weight, tail)?;
        let mut vector = RingVec::zeros(self.bits, chunks.len());
        match vector.elems_mut() {
            Elems::Narrow(d) => chunks.fill(0, d, &mut next_u64),
            Elems::Wide(d) => chunks.fill(0, d, &mut next_u64),
        }
        Ok(Quantized {
            vector,
            clipped: chunks.clipped(),
        })
    }

    /// Checks the weight and that every input is finite (before any randomness is drawn),
    /// and returns a quantizer of `weight * values` (with `tail` appended) that produces the
    /// output a range at a time, in order: what the client's fused masking consumes.
    pub(crate) fn chunks<'a, T: Copy + Into<f64>>(
        &self,
        values: &'a [T],
        weight: f64,
        tail: Option<u64>,
    ) -> Result<ChunkQuantizer<'a, T>, QuantizeError> {
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(QuantizeError::InvalidWeight(weight));
        }
        // A branch-free scan first (it vectorises), the index only on failure.
        if !values
            .iter()
            .fold(true, |ok, v| ok & (*v).into().is_finite())
        {
            let index = values
                .iter()
                .position(|v| !(*v).into().is_finite())
                .unwrap_or(0);
            return Err(QuantizeError::NonFinite { index });
        }
        Ok(ChunkQuantizer {
            values,
            weight,
            clip: self.clip,
            inv_step: (self.levels - 1) as f64 / (2.0 * self.clip),
            top: (self.levels - 1) as f64,
            tail: tail.map(|t| t & self.bits.max_element()),
            clipped: 0,
        })
    }

    /// Dequantizes the sum of `count` quantized vectors: the sum of the clipped weighted inputs.
    pub fn dequantize_sum(&self, sum: &RingVec, count: u64) -> Result<Vec<f64>, QuantizeError> {
        if sum.bits() != self.bits {
            return Err(QuantizeError::BitsMismatch {
                expected: self.bits.get(),
                got: sum.bits().get(),
            });
        }
        let (step, offset) = self.dequantizer(count)?;
        Ok(sum.iter().map(|s| s as f64 * step - offset).collect())
    }

    /// `(step, offset)` such that an element `s` of the sum of `count` quantized vectors
    /// dequantizes to `f64(s) * step - offset`: what [`Self::dequantize_sum`] evaluates, for a
    /// caller that decodes element by element.
    pub fn dequantizer(&self, count: u64) -> Result<(f64, f64), QuantizeError> {
        if count > self.max_clients {
            return Err(QuantizeError::TooManyClients {
                count,
                max_clients: self.max_clients,
            });
        }
        Ok((self.step(), count as f64 * self.clip))
    }

    /// The weighted mean: the dequantized sum divided by `total_weight`, the sum of the
    /// weights in the unit the inputs were scaled by. A session client scales its input by
    /// `w / W` (its weight over `max_weight`), so there `total_weight = S_w / W` and the result
    /// equals the server's `dequantized * (W / S_w)` up to rounding (spec section 18 fixes the
    /// server's evaluation order).
    pub fn weighted_mean(
        &self,
        sum: &RingVec,
        count: u64,
        total_weight: f64,
    ) -> Result<Vec<f64>, QuantizeError> {
        if !(total_weight.is_finite() && total_weight > 0.0) {
            return Err(QuantizeError::InvalidTotalWeight(total_weight));
        }
        let mut v = self.dequantize_sum(sum, count)?;
        for x in &mut v {
            *x /= total_weight;
        }
        Ok(v)
    }
}

/// 2^52: for `0 <= s < 2^51`, `s + 2^52` rounds `s` to an integer (round to nearest, ties to
/// even) held in the low mantissa bits, exactly.
const TWO_POW_52: f64 = 4_503_599_627_370_496.0;

/// `floor(s)` for `0 <= s <= 2^32`, exactly: `s` rounded to the nearest integer through
/// [`TWO_POW_52`], minus one where that rounded up. Branch-free.
#[inline(always)]
fn floor_small(s: f64) -> f64 {
    let r = (s + TWO_POW_52) - TWO_POW_52;
    r - f64::from(u8::from(r > s))
}

/// An integer-valued `q` in `[0, 2^32]` as `u64`: the low mantissa bits of `q + 2^52`.
#[inline(always)]
fn small_to_u64(q: f64) -> u64 {
    (q + TWO_POW_52).to_bits() - TWO_POW_52.to_bits()
}

/// `a < 2^53` as `f64`, exactly: `2^84 + hi 2^32` and `2^52 + lo` built from the bits of the
/// two 32-bit halves, then `(2^84 + hi 2^32) - (2^84 + 2^52)` (exact: multiples of 2^32 below
/// 2^85) plus `2^52 + lo`, whose exact sum `a` is representable, so nothing rounds.
#[inline(always)]
fn u53_to_f64(a: u64) -> f64 {
    let hi = f64::from_bits(0x4530_0000_0000_0000 | (a >> 32));
    let lo = f64::from_bits(0x4330_0000_0000_0000 | (a & 0xffff_ffff));
    (hi - f64::from_bits(0x4530_0000_0010_0000)) + lo
}

/// Words of rounding randomness drawn at a time by [`ChunkQuantizer::fill`].
const RAND_BLOCK: usize = 256;

/// A validated quantization of one input, produced a range at a time ([`Quantizer::chunks`]).
pub(crate) struct ChunkQuantizer<'a, T> {
    values: &'a [T],
    weight: f64,
    clip: f64,
    inv_step: f64,
    top: f64,
    tail: Option<u64>,
    clipped: u64,
}

impl<T: Copy + Into<f64>> ChunkQuantizer<'_, T> {
    /// Output length: the inputs and the tail element, if any.
    pub(crate) fn len(&self) -> usize {
        self.values.len() + usize::from(self.tail.is_some())
    }

    /// Inputs clipped so far.
    pub(crate) fn clipped(&self) -> u64 {
        self.clipped
    }

    /// Writes output elements `start .. start + dst.len()` into `dst` (positions past
    /// [`Self::len`] get zero). Calls must cover the output in order, without gaps: element `i`
    /// draws the `i`-th word of `next_u64`, as the one-shot quantizer does (spec section
    /// "Quantization"); the words are drawn a block at a time, so the arithmetic loop has no
    /// calls in it.
    pub(crate) fn fill<W: Word>(
        &mut self,
        start: usize,
        dst: &mut [W],
        next_u64: &mut impl FnMut() -> u64,
    ) {
        let (clip, inv_step, top, weight) = (self.clip, self.inv_step, self.top, self.weight);
        let mut words = [0u64; RAND_BLOCK];
        let mut clipped = 0u64;
        for (i, d) in dst.chunks_mut(RAND_BLOCK).enumerate() {
            let at = start + i * RAND_BLOCK;
            let vals = self.values.get(at..).unwrap_or(&[]);
            let m = vals.len().min(d.len());
            for w in &mut words[..m] {
                *w = next_u64();
            }
            for ((x, v), u) in d[..m].iter_mut().zip(&vals[..m]).zip(&words[..m]) {
                let w = weight * (*v).into();
                // Counted here rather than in a second pass, so the input is read once.
                clipped += u64::from(!(-clip..=clip).contains(&w));
                let c = w.clamp(-clip, clip);
                let s = ((c + clip) * inv_step).clamp(0.0, top);
                // Only float adds, compares and bit operations on 64-bit lanes below: x86-64's
                // baseline (SSE2) has no packed conversion between f64 and 64-bit integers, and
                // casts kept this loop scalar (about a tenth of a client's CPU). Every step is
                // exact, so the output is bit for bit the one of `floor`, `as f64` and `as u64`
                // (a test compares them on edge cases and random inputs).
                let f = floor_small(s);
                let u = u53_to_f64(*u >> 11) * (1.0 / (1u64 << 53) as f64);
                let q = (f + f64::from(u8::from(u < s - f))).min(top);
                *x = W::from_u64(small_to_u64(q));
            }
            for (j, x) in d[m..].iter_mut().enumerate() {
                let pos = at + m + j;
                *x = W::from_u64(match self.tail {
                    Some(t) if pos == self.values.len() => t,
                    _ => 0,
                });
            }
        }
        zeroize::Zeroize::zeroize(&mut words);
        self.clipped += clipped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_chooser_and_overflow_boundary() {
        // 1000 clients x 2^16 levels: 1000 * 65535 = 65_535_000 < 2^26.
        assert_eq!(bits_for(1000, 1 << 16).unwrap().get(), 26);
        // m * (Q - 1) = 2^32 - 1 fits in 32 bits; one more level does not.
        let b32 = Bits::B32;
        assert!(Quantizer::new(1.0, 1 << 16, b32, 65537).is_ok());
        let e = Quantizer::new(1.0, (1 << 16) + 1, b32, 65537).unwrap_err();
        assert!(
            matches!(e, QuantizeError::Overflow { needed: 33, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("33 bits needed"));
        assert!(bits_for(u64::MAX, MAX_LEVELS).is_err());
    }

    #[test]
    fn stochastic_rounding_is_unbiased() {
        // Levels -1, 0, 1 (step 1): 0.3 lies 0.3 of a step above level 0, so P(round up) = 0.3.
        let q = Quantizer::new(1.0, 3, Bits::B32, 1).unwrap();
        let n = 200_000u64;
        let mut state = 0x1234_5678_9abc_def0u64;
        let words: Vec<u64> = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            })
            .collect();
        let v = q
            .quantize_with_words(&vec![0.3f64; n as usize], 1.0, &words)
            .unwrap();
        let ups = v.iter().filter(|&x| x == 2).count() as f64;
        assert!(v.iter().all(|x| x == 1 || x == 2));
        let p = ups / n as f64;
        let sd = (0.3f64 * 0.7 / n as f64).sqrt();
        assert!((p - 0.3).abs() < 5.0 * sd, "p = {p}");
        // NaN and infinities are typed errors, never clipped silently.
        assert_eq!(
            q.quantize_with_words(&[0.0, f64::NAN], 1.0, &[])
                .unwrap_err(),
            QuantizeError::NonFinite { index: 1 }
        );
        assert!(q.quantize_with_words(&[f32::INFINITY], 1.0, &[]).is_err());
        assert!(q.quantize_with_words(&[1.0f32], -1.0, &[]).is_err());
    }

    /// The chunked quantizer gives the one-shot result (same words, same order) whatever the
    /// chunking, counts the same clipped inputs, and appends the tail reduced to the ring.
    /// The quantizer's level for one element as first written (truncating casts through `i64`),
    /// against which the cast-free arithmetic of `fill` is checked.
    fn level_by_casts(q: &Quantizer, weight: f64, v: f64, word: u64) -> u64 {
        let (clip, top) = (q.clip, (q.levels - 1) as f64);
        let inv_step = top / (2.0 * clip);
        let c = (weight * v).clamp(-clip, clip);
        let s = ((c + clip) * inv_step).clamp(0.0, top);
        let fi = s as i64 as u64;
        let f = fi as i64 as f64;
        let u = ((word >> 11) as i64) as f64 * (1.0 / (1u64 << 53) as f64);
        (fi + (u < s - f) as u64).min(q.levels - 1)
    }

    #[test]
    fn cast_free_levels_equal_truncating_casts() {
        assert_eq!(u53_to_f64(0), 0.0);
        assert_eq!(u53_to_f64((1 << 53) - 1), ((1u64 << 53) - 1) as f64);
        assert_eq!(u53_to_f64(0xffff_ffff), 4_294_967_295.0);
        assert_eq!(u53_to_f64(1 << 32), 4_294_967_296.0);
        for s in [
            0.0,
            0.5,
            1.0,
            1.5,
            2.5,
            0.49999999999999994,
            4_294_967_295.0,
            4_294_967_294.5,
        ] {
            assert_eq!(floor_small(s), s.floor(), "{s}");
        }
        assert_eq!(
            floor_small(f64::from_bits(4_294_967_295f64.to_bits() - 1)),
            4_294_967_294.0
        );
        assert_eq!(small_to_u64(4_294_967_296.0), 1 << 32);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Words at the edges of the 53-bit fraction, then random ones.
        let edge_words = [0, u64::MAX, 1 << 11, (1 << 11) - 1, 1 << 63, (1 << 63) - 1];
        for (levels, bits, clip) in [
            (2u64, 1u32, 1.0f64),
            (3, 2, 0.5),
            (1 << 16, 16, 8.0),
            (1 << 22, 23, 8.0),
            ((1 << 31) + 1, 32, 1e-3),
            (1 << 32, 32, 1.0),
            (1 << 32, 64, 1e300),
        ] {
            let q = Quantizer::new(clip, levels, Bits::new(bits).unwrap(), 1).unwrap();
            let step = 2.0 * clip / (levels - 1) as f64;
            let mut values = vec![0.0, -0.0, clip, -clip, 2.0 * clip, -2.0 * clip, f64::MAX];
            // Exact levels, half levels and their neighbours.
            for k in [0u64, 1, 2, levels / 2, levels - 2, levels - 1] {
                for frac in [0.0, 0.5, 0.25, 0.999_999] {
                    let v = -clip + (k as f64 + frac) * step;
                    values.extend([v, v.next_up(), v.next_down()]);
                }
            }
            for _ in 0..2000 {
                values.push((next() >> 11) as f64 / (1u64 << 52) as f64 * clip * 2.4 - 1.2 * clip);
            }
            for weight in [1.0, 0.3, 1e-3] {
                let words: Vec<u64> = (0..values.len())
                    .map(|i| edge_words.get(i % 97).copied().unwrap_or_else(&mut next))
                    .collect();
                let mut c = q.chunks(&values, weight, None).unwrap();
                let mut out = vec![0u64; values.len()];
                let mut it = words.iter().copied();
                c.fill(0, &mut out, &mut || it.next().unwrap_or(0));
                for ((got, v), w) in out.iter().zip(&values).zip(&words) {
                    let want = level_by_casts(&q, weight, *v, *w);
                    assert_eq!(
                        *got, want,
                        "levels {levels} clip {clip} weight {weight} v {v} word {w:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn chunked_quantization_equals_one_shot() {
        let q = Quantizer::new(2.0, 1 << 20, Bits::new(27).unwrap(), 100).unwrap();
        let values: Vec<f32> = (0..3000)
            .map(|i| ((i * 7919) % 1000) as f32 / 200.0 - 2.5)
            .collect();
        let mut state = 0x0123_4567_89ab_cdefu64;
        let words: Vec<u64> = (0..values.len())
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            })
            .collect();
        let mut it = words.iter().copied();
        let one = q
            .quantize_counting(&values, 0.9, Some(u64::MAX), || it.next().unwrap_or(0))
            .unwrap();
        for chunk in [1, 8, 255, 256, 257, 1000, 4096] {
            let mut c = q.chunks(&values, 0.9, Some(u64::MAX)).unwrap();
            assert_eq!(c.len(), values.len() + 1);
            let mut out = vec![0u32; c.len()];
            let mut it = words.iter().copied();
            let mut next = || it.next().unwrap_or(0);
            for (i, d) in out.chunks_mut(chunk).enumerate() {
                c.fill(i * chunk, d, &mut next);
            }
            let want: Vec<u64> = one.vector.iter().collect();
            let got: Vec<u64> = out.iter().map(|&x| x as u64).collect();
            assert_eq!(got, want, "chunk {chunk}");
            assert_eq!(*got.last().unwrap(), (1 << 27) - 1);
            assert_eq!(c.clipped(), one.clipped);
        }
        assert!(one.clipped > 0);
        assert_eq!(
            q.chunks(&[1.0f32, f32::NAN], 1.0, None).err(),
            Some(QuantizeError::NonFinite { index: 1 })
        );
        assert!(q.chunks(&[1.0f32], f64::NAN, None).is_err());
    }

    #[test]
    fn rejects_bad_configuration_and_input() {
        assert!(Quantizer::new(f64::NAN, 10, Bits::B32, 1).is_err());
        assert!(Quantizer::new(0.0, 10, Bits::B32, 1).is_err());
        assert!(Quantizer::new(1e308, 10, Bits::B32, 1).is_err());
        assert!(Quantizer::new(5e-324, 10, Bits::B32, 1).is_err());
        assert!(Quantizer::new(1.0, (1 << 32) + 1, Bits::new(64).unwrap(), 1).is_err());
        assert!(Quantizer::new(1.0, 1, Bits::B32, 1).is_err());
        assert!(Quantizer::new(1.0, 10, Bits::B32, 0).is_err());
    }
}
