//! The randomized Hadamard rotation `x -> H S x / sqrt(D)` (spec `ddp.md`, "Rotation").
//!
//! `D` is the padded dimension (a power of two, inputs are zero-padded), `S` a diagonal of
//! random signs and `H` the unnormalized Walsh-Hadamard matrix, so the map is orthonormal and
//! its inverse is `S H y / sqrt(D)`. The rotation spreads a vector's energy evenly over the
//! coordinates (each rotated coordinate of a fixed `x` is sub-Gaussian with variance proxy
//! `||x||^2 / D` over the signs), which keeps the per-coordinate rounding error and the
//! modular-wrap probability small.
//!
//! The signs are public and identical for every party of a session:
//!
//! ```text
//! seed = derive(session_id, "ddp rotation", session_id)       (spec secagg.md: Key derivation)
//! ks   = ChaCha20(seed, nonce 0, counter 0) keystream, D / 8 bytes (at least 1)
//! s_i  = -1 if bit (i mod 8) of ks[i / 8] is 1, else +1
//! ```
//!
//! Honest inputs must not depend on the signs for the wrap bound to hold; a client that chose
//! its input after seeing them could concentrate its clipped energy on one coordinate. That hurts
//! only the accuracy of the sum (a wrap), never the privacy guarantee.

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;

use crate::crypto::kdf::{derive32, Context, Label};
use crate::ids::SessionId;

/// The sign diagonal of one session's rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    padded: usize,
    sign_bits: Vec<u8>,
}

impl Rotation {
    /// The rotation of `session` for padded dimension `padded` (a power of two).
    pub fn new(session: &SessionId, padded: usize) -> Self {
        let padded = padded.max(1).next_power_of_two();
        let seed = derive32(
            session.as_bytes(),
            &Context::new(Label::DdpRotation).session(session),
        );
        let mut sign_bits = vec![0u8; padded.div_ceil(8)];
        ChaCha20::new((&*seed).into(), &[0u8; 12].into()).apply_keystream(&mut sign_bits);
        Self { padded, sign_bits }
    }

    /// The padded dimension `D`.
    pub fn padded_dim(&self) -> usize {
        self.padded
    }

    /// Whether coordinate `i` is negated.
    pub fn negated(&self, i: usize) -> bool {
        self.sign_bits
            .get(i / 8)
            .is_some_and(|b| (b >> (i % 8)) & 1 == 1)
    }

    fn apply_signs(&self, x: &mut [f64]) {
        for (i, v) in x.iter_mut().enumerate() {
            if self.negated(i) {
                *v = -*v;
            }
        }
    }

    /// `y = H S x / sqrt(D)` in place; `x.len()` must be `D` (else nothing is done and `false`
    /// is returned).
    pub fn forward(&self, x: &mut [f64]) -> bool {
        if x.len() != self.padded {
            return false;
        }
        self.apply_signs(x);
        hadamard(x);
        let k = 1.0 / (self.padded as f64).sqrt();
        x.iter_mut().for_each(|v| *v *= k);
        true
    }

    /// `x = S H y / sqrt(D)` in place (the inverse of [`Self::forward`]).
    pub fn inverse(&self, y: &mut [f64]) -> bool {
        if y.len() != self.padded {
            return false;
        }
        hadamard(y);
        let k = 1.0 / (self.padded as f64).sqrt();
        y.iter_mut().for_each(|v| *v *= k);
        self.apply_signs(y);
        true
    }
}

/// The unnormalized fast Walsh-Hadamard transform (Sylvester order), `len` a power of two:
/// butterflies `(a, b) -> (a + b, a - b)` at strides 1, 2, 4, ...
fn hadamard(x: &mut [f64]) {
    let n = x.len();
    let mut h = 1;
    while h < n {
        for block in x.chunks_exact_mut(2 * h) {
            let (lo, hi) = block.split_at_mut(h);
            for (a, b) in lo.iter_mut().zip(hi.iter_mut()) {
                let (u, v) = (*a, *b);
                *a = u + v;
                *b = u - v;
            }
        }
        h *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_undoes_forward_and_preserves_norm() {
        let r = Rotation::new(&SessionId([3; 32]), 64);
        let x: Vec<f64> = (0..64).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut y = x.clone();
        assert!(r.forward(&mut y));
        let n0: f64 = x.iter().map(|v| v * v).sum();
        let n1: f64 = y.iter().map(|v| v * v).sum();
        assert!((n0 - n1).abs() < 1e-12);
        assert!(r.inverse(&mut y));
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(!r.forward(&mut [0.0; 63]));
    }

    #[test]
    fn flattens_a_spike() {
        let r = Rotation::new(&SessionId([5; 32]), 1024);
        let mut x = vec![0.0; 1024];
        x[17] = 1.0;
        r.forward(&mut x);
        for v in &x {
            assert!((v.abs() - 1.0 / 32.0).abs() < 1e-15);
        }
        // Different sessions rotate differently.
        let s = Rotation::new(&SessionId([6; 32]), 1024);
        assert_ne!(r, s);
    }
}
