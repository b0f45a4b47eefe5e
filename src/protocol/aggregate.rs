//! The result of a completed session: the ring sum, and its real-valued decodings computed on
//! demand (spec section 18: the dequantized sum and the weighted mean).
//!
//! Only the ring sum (`L` elements of `bits` bits) is held. The dequantized sum and the weighted
//! mean are `L` floats each; building both eagerly cost a coordinator 16 MB at `L = 10^6` on
//! top of the accumulator, and most consumers only stream them once (the result file, a
//! binding's copy into its own array). [`AggregateOutput::dequantized_values`] and
//! [`AggregateOutput::weighted_mean_values`] stream them; [`AggregateOutput::dequantized_sum`]
//! and [`AggregateOutput::weighted_mean`] collect them.
//!
//! Invariant: every value equals, bit for bit, what the spec's evaluation order gives:
//! `f64(s) * step - f64(count) * clip` for the dequantized sum (or the DP decoding of section
//! 19, which needs the whole vector for its inverse rotation and so is held decoded), and
//! `dequantized_i * (f64(max_weight) / f64(S_w))` for the mean.

use crate::ids::ParticipantId;
use crate::ring::RingVec;

/// How the ring sum decodes to reals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decoding {
    /// Element `s` decodes to `f64(s) * step - offset` (no DP).
    Affine { step: f64, offset: f64 },
    /// The decoded sum, held whole: the DP decoding rotates the entire vector back.
    Decoded(Vec<f64>),
    /// The sum has no real decoding (the quantizer refuses the count, or the DP decoding
    /// failed); both real-valued views are then empty.
    Unavailable,
}

/// The result of a completed session.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateOutput {
    /// The sum of the included quantized inputs in Z_{2^bits} (L elements).
    pub sum: RingVec,
    /// The sum of the included clients' weights.
    pub weight_sum: u64,
    /// The clients whose inputs are in the sum (U3).
    pub included: Vec<ParticipantId>,
    decoding: Decoding,
    max_weight: u32,
}

impl AggregateOutput {
    pub(crate) fn new(
        sum: RingVec,
        weight_sum: u64,
        included: Vec<ParticipantId>,
        decoding: Decoding,
        max_weight: u32,
    ) -> Self {
        Self {
            sum,
            weight_sum,
            included,
            decoding,
            max_weight,
        }
    }

    /// The dequantized sum of the included clients' `weight / max_weight * input`, streamed
    /// (empty if the sum has no real decoding).
    pub fn dequantized_values(&self) -> DecodedValues<'_> {
        DecodedValues::new(self, 1.0)
    }

    /// [`Self::dequantized_values`], collected.
    pub fn dequantized_sum(&self) -> Vec<f64> {
        self.dequantized_values().collect()
    }

    /// The factor `f64(max_weight) / f64(weight_sum)` that turns the dequantized sum into the
    /// weighted mean, or `None` if the weights sum to zero.
    pub fn mean_scale(&self) -> Option<f64> {
        (self.weight_sum > 0).then(|| f64::from(self.max_weight) / self.weight_sum as f64)
    }

    /// The weighted mean `sum(w x) / sum(w)`, streamed (empty if the weights sum to zero).
    pub fn weighted_mean_values(&self) -> DecodedValues<'_> {
        match self.mean_scale() {
            Some(scale) => DecodedValues::new(self, scale),
            None => DecodedValues {
                out: self,
                next: 0,
                len: 0,
                scale: 1.0,
            },
        }
    }

    /// [`Self::weighted_mean_values`], collected.
    pub fn weighted_mean(&self) -> Vec<f64> {
        self.weighted_mean_values().collect()
    }
}

/// The real values of an [`AggregateOutput`], one element at a time.
#[derive(Debug, Clone)]
pub struct DecodedValues<'a> {
    out: &'a AggregateOutput,
    next: usize,
    len: usize,
    /// 1.0 for the dequantized sum (`x * 1.0 == x` exactly in binary64), `W / S_w` for the mean.
    scale: f64,
}

impl<'a> DecodedValues<'a> {
    fn new(out: &'a AggregateOutput, scale: f64) -> Self {
        let len = match &out.decoding {
            Decoding::Affine { .. } => out.sum.len(),
            Decoding::Decoded(v) => v.len(),
            Decoding::Unavailable => 0,
        };
        Self {
            out,
            next: 0,
            len,
            scale,
        }
    }
}

impl Iterator for DecodedValues<'_> {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        if self.next >= self.len {
            return None;
        }
        let j = self.next;
        self.next += 1;
        let x = match &self.out.decoding {
            Decoding::Affine { step, offset } => self.out.sum.get(j)? as f64 * step - offset,
            Decoding::Decoded(v) => *v.get(j)?,
            Decoding::Unavailable => return None,
        };
        Some(x * self.scale)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.len - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for DecodedValues<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantize::Quantizer;
    use crate::ring::Bits;

    fn ids(n: u16) -> Vec<ParticipantId> {
        (1..=n).filter_map(ParticipantId::new).collect()
    }

    #[test]
    fn streamed_values_equal_the_eager_evaluation_bit_for_bit() {
        let q = Quantizer::new(0.75, 1 << 12, Bits::B32, 10).unwrap();
        let sum = RingVec::from_u64s(Bits::B32, &[0, 1, 4095, 20_475, 40_950, 7]).unwrap();
        let (step, offset) = q.dequantizer(3).unwrap();
        let out =
            AggregateOutput::new(sum.clone(), 5, ids(3), Decoding::Affine { step, offset }, 4);
        let eager = q.dequantize_sum(&sum, 3).unwrap();
        let scale = 4.0 / 5.0;
        let mean: Vec<f64> = eager.iter().map(|x| x * scale).collect();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&out.dequantized_sum()), bits(&eager));
        assert_eq!(bits(&out.weighted_mean()), bits(&mean));
        assert_eq!(out.dequantized_values().len(), 6);
        assert_eq!(out.mean_scale(), Some(scale));
    }

    #[test]
    fn zero_weight_has_no_mean_and_undecodable_sums_have_no_values() {
        let sum = RingVec::from_u64s(Bits::B32, &[1, 2]).unwrap();
        let out =
            AggregateOutput::new(sum.clone(), 0, ids(1), Decoding::Decoded(vec![1.0, 2.0]), 1);
        assert_eq!(out.dequantized_sum(), vec![1.0, 2.0]);
        assert!(out.weighted_mean().is_empty());
        assert_eq!(out.weighted_mean_values().len(), 0);
        assert_eq!(out.mean_scale(), None);
        let none = AggregateOutput::new(sum, 3, ids(1), Decoding::Unavailable, 1);
        assert!(none.dequantized_sum().is_empty());
        assert!(none.weighted_mean().is_empty());
    }
}
