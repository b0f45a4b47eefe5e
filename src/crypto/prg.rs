//! The mask PRG: a 32-byte seed expanded by ChaCha20 into elements of Z_{2^bits}
//! (spec section "Mask expansion").
//!
//! ```text
//! keystream = ChaCha20(key = seed, nonce = 0^12, initial counter = 0)   (RFC 8439)
//! mask      = unpack(bits, L, keystream[0 .. ceil(L * bits / 8)])       (see ring::pack)
//! ```
//!
//! i.e. the keystream is read as a little-endian bit string and cut into `bits`-bit elements, the
//! same layout as a packed vector (without the zero-padding rule: leftover keystream bits are
//! discarded). Every element is uniform in Z_{2^bits} because the keystream bits are.
//!
//! Expansion never allocates a mask vector: [`add_mask`] and [`sub_mask`] generate the keystream in
//! small stack blocks and fold each block into the caller's vector. The 32-bit block counter
//! bounds one mask to 2^32 - 1 blocks (256 GiB - 64 bytes) of keystream; longer requests are a
//! typed error.

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20;

use super::kdf::{derive32, Context, Label};
use super::secret::secret_bytes;
use crate::ids::{ParticipantId, Round, SessionId};
use crate::ring::{packed_len, Bits, Combine, Elems, RingVec, Word};

secret_bytes!(
    /// A 32-byte seed from which a mask is expanded (a pairwise seed `s_uv` or a self-mask seed).
    MaskSeed,
    32
);

secret_bytes!(
    /// The self-mask secret `b_u`: drawn fresh by each client per session and Shamir-shared.
    SelfMaskSecret,
    32
);

impl SelfMaskSecret {
    /// A binding commitment to `b_u`, published in round 1 so the server can recognise a
    /// correctly reconstructed seed (and reject one shifted by a malicious share):
    /// `SHA-256(u8(6) || "secagg" || u8(VERSION) || u8(20) || "self mask commitment"
    /// || session_id || u16be(owner) || b_u)`.
    pub fn commitment(&self, session: &SessionId, owner: ParticipantId) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        const LABEL: &[u8] = b"self mask commitment";
        let mut h = Sha256::new();
        h.update([super::DOMAIN.len() as u8]);
        h.update(super::DOMAIN);
        h.update([super::PROTOCOL_VERSION, LABEL.len() as u8]);
        h.update(LABEL);
        h.update(session.as_bytes());
        h.update(owner.to_be_bytes());
        h.update(self.expose());
        h.finalize().into()
    }

    /// The seed of the self mask `PRG(b_u)`, bound to the session and owner.
    pub fn mask_seed(&self, session: &SessionId, owner: ParticipantId) -> MaskSeed {
        let ctx = Context::new(Label::SelfMask)
            .session(session)
            .round(Round::MaskedInput)
            .participant(owner);
        MaskSeed::from_bytes(*derive32(self.expose(), &ctx))
    }
}

/// Errors of mask expansion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrgError {
    /// The mask needs more keystream than one ChaCha20 key and nonce provide (256 GiB).
    #[error("a mask of {len} elements of {bits} bits exceeds the 256 GiB keystream limit")]
    TooLong {
        /// Requested length.
        len: usize,
        /// Element width.
        bits: u32,
    },
}

/// Largest keystream one seed may produce: the IETF ChaCha20 32-bit block counter yields
/// 2^32 - 1 blocks of 64 bytes from counter 0 (the crate refuses the last counter value).
const MAX_KEYSTREAM: u64 = 64 * ((1 << 32) - 1);

/// Elements per keystream block: a multiple of 8 so every block boundary is byte-aligned
/// (block bytes = 128 * bits, at most 8 KiB, a multiple of the 64-byte ChaCha block).
const BLOCK_ELEMS: usize = 1024;

fn check(bits: Bits, len: usize) -> Result<(), PrgError> {
    match packed_len(bits, len) {
        Some(n) if (n as u64) <= MAX_KEYSTREAM => Ok(()),
        _ => Err(PrgError::TooLong {
            len,
            bits: bits.get(),
        }),
    }
}

fn expand_into<W: Word>(seed: &MaskSeed, bits: Bits, dst: &mut [W], op: Combine) {
    let mut cipher = ChaCha20::new(seed.expose().into(), &[0u8; 12].into());
    let mut buf = [0u8; BLOCK_ELEMS * 8];
    for chunk in dst.chunks_mut(BLOCK_ELEMS) {
        // Full chunks are byte-aligned; only the last one may end mid-byte.
        let n = (chunk.len() * bits.get() as usize).div_ceil(8);
        let ks = &mut buf[..n];
        cipher.write_keystream(ks);
        crate::ring::combine_keystream(bits, ks, chunk, op);
    }
    zeroize::Zeroize::zeroize(&mut buf);
}

fn apply(seed: &MaskSeed, v: &mut RingVec, op: Combine) -> Result<(), PrgError> {
    let bits = v.bits();
    check(bits, v.len())?;
    match v.elems_mut() {
        Elems::Narrow(d) => expand_into(seed, bits, d, op),
        Elems::Wide(d) => expand_into(seed, bits, d, op),
    }
    Ok(())
}

/// Whether a mask is added to or subtracted from a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskSign {
    /// `v += PRG(seed)`.
    Add,
    /// `v -= PRG(seed)`.
    Sub,
}

impl MaskSign {
    fn combine(self) -> Combine {
        match self {
            MaskSign::Add => Combine::Add,
            MaskSign::Sub => Combine::Sub,
        }
    }
}

/// Elements per cache chunk of [`apply_masks`]: 8192 elements are 32 KiB of `u32` words, which stay
/// in L1/L2 while every mask's keystream for them is folded in. A multiple of `BLOCK_ELEMS`, so
/// every chunk starts on a byte (indeed a 64-byte ChaCha block) boundary of every mask's keystream.
pub const CHUNK_ELEMS: usize = 8 * BLOCK_ELEMS;

/// Folds every mask's keystream for elements `start .. start + dst.len()` into `dst`.
/// `start` must be a multiple of [`BLOCK_ELEMS`], so the keystream offset `start * bits / 8` is a
/// whole number of 64-byte blocks and the result is bit-identical to expanding each mask from
/// element 0 (the block layout of [`expand_into`] is reproduced exactly).
fn masks_into<W: Word>(masks: &[(&MaskSeed, MaskSign)], bits: Bits, dst: &mut [W], start: usize) {
    debug_assert_eq!(start % BLOCK_ELEMS, 0);
    let offset = (start as u64) * bits.get() as u64 / 8;
    let mut buf = [0u8; BLOCK_ELEMS * 8];
    for (seed, sign) in masks {
        let mut cipher = ChaCha20::new(seed.expose().into(), &[0u8; 12].into());
        cipher.seek(offset);
        let op = sign.combine();
        for chunk in dst.chunks_mut(BLOCK_ELEMS) {
            let n = (chunk.len() * bits.get() as usize).div_ceil(8);
            let ks = &mut buf[..n];
            cipher.write_keystream(ks);
            crate::ring::combine_keystream(bits, ks, chunk, op);
        }
    }
    zeroize::Zeroize::zeroize(&mut buf);
}

/// `v += sum_i sign_i * PRG(seed_i)` in place: the same result as calling [`add_mask`] /
/// [`sub_mask`] once per mask, but in one pass over `v`, chunk by chunk (each chunk of `v` stays
/// in cache while all masks' keystreams for it are generated).
pub fn apply_masks(masks: &[(&MaskSeed, MaskSign)], v: &mut RingVec) -> Result<(), PrgError> {
    let bits = v.bits();
    check(bits, v.len())?;
    match v.elems_mut() {
        Elems::Narrow(d) => d
            .chunks_mut(CHUNK_ELEMS)
            .enumerate()
            .for_each(|(i, c)| masks_into(masks, bits, c, i * CHUNK_ELEMS)),
        Elems::Wide(d) => d
            .chunks_mut(CHUNK_ELEMS)
            .enumerate()
            .for_each(|(i, c)| masks_into(masks, bits, c, i * CHUNK_ELEMS)),
    }
    Ok(())
}

/// [`apply_masks`] on all rayon worker threads: `v` is cut into byte-aligned coordinate chunks and
/// each thread regenerates every mask's keystream for the chunks it takes (ChaCha20 seeks to the
/// chunk's first block). No memory beyond one 8 KiB keystream buffer per thread; the result is
/// bit-identical to the sequential version. Chunks are small enough (at most [`CHUNK_ELEMS`], and
/// about eight per thread for short vectors) for work stealing to balance the threads.
#[cfg(feature = "server")]
pub fn apply_masks_parallel(
    masks: &[(&MaskSeed, MaskSign)],
    v: &mut RingVec,
) -> Result<(), PrgError> {
    use rayon::prelude::*;
    let bits = v.bits();
    check(bits, v.len())?;
    let per_thread = v.len().div_ceil(8 * rayon::current_num_threads().max(1));
    let chunk = per_thread
        .next_multiple_of(BLOCK_ELEMS)
        .clamp(BLOCK_ELEMS, CHUNK_ELEMS);
    match v.elems_mut() {
        Elems::Narrow(d) => d
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| masks_into(masks, bits, c, i * chunk)),
        Elems::Wide(d) => d
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| masks_into(masks, bits, c, i * chunk)),
    }
    Ok(())
}

/// `v += PRG(seed)` in place.
pub fn add_mask(seed: &MaskSeed, v: &mut RingVec) -> Result<(), PrgError> {
    apply(seed, v, Combine::Add)
}

/// `v -= PRG(seed)` in place.
pub fn sub_mask(seed: &MaskSeed, v: &mut RingVec) -> Result<(), PrgError> {
    apply(seed, v, Combine::Sub)
}

/// The mask `PRG(seed)` as a new vector (test vectors and diagnostics; the protocol uses
/// [`add_mask`] / [`sub_mask`]).
pub fn expand(seed: &MaskSeed, bits: Bits, len: usize) -> Result<RingVec, PrgError> {
    check(bits, len)?;
    let mut v = RingVec::zeros(bits, len);
    match v.elems_mut() {
        Elems::Narrow(d) => expand_into(seed, bits, d, Combine::Assign),
        Elems::Wide(d) => expand_into(seed, bits, d, Combine::Assign),
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_then_sub_is_identity() {
        let seed = MaskSeed::from_bytes([3; 32]);
        for bits in [1, 7, 8, 16, 32, 33, 63, 64] {
            let b = Bits::new(bits).unwrap();
            let x = RingVec::from_u64s_reduced(b, (0..3000u64).map(|i| i * 0x9e37_79b9));
            let mut y = x.clone();
            add_mask(&seed, &mut y).unwrap();
            assert_ne!(x, y, "bits {bits}");
            sub_mask(&seed, &mut y).unwrap();
            assert_eq!(x, y, "bits {bits}");
        }
    }

    #[test]
    fn mask_is_keystream_read_as_packed_bits() {
        let seed = MaskSeed::from_bytes([9; 32]);
        for bits in [1, 5, 7, 32, 33, 64] {
            let b = Bits::new(bits).unwrap();
            let len = 2500;
            let n = packed_len(b, len).unwrap();
            let mut ks = vec![0u8; n];
            ChaCha20::new(&[9u8; 32].into(), &[0u8; 12].into()).apply_keystream(&mut ks);
            // Clear the padding bits so the canonical unpacker accepts the keystream.
            let used = (len * bits as usize) % 8;
            if used != 0 {
                *ks.last_mut().unwrap() &= (1u8 << used) - 1;
            }
            let want = RingVec::unpack(b, len, &ks).unwrap();
            assert_eq!(expand(&seed, b, len).unwrap(), want, "bits {bits}");
        }
    }

    #[test]
    fn fused_masks_equal_one_by_one() {
        let seeds: Vec<MaskSeed> = (0..5u8).map(|i| MaskSeed::from_bytes([i; 32])).collect();
        let signs = [
            MaskSign::Add,
            MaskSign::Sub,
            MaskSign::Sub,
            MaskSign::Add,
            MaskSign::Add,
        ];
        let masks: Vec<(&MaskSeed, MaskSign)> = seeds.iter().zip(signs).collect();
        for bits in [1, 5, 7, 8, 16, 31, 32, 33, 63, 64] {
            let b = Bits::new(bits).unwrap();
            // Lengths around the chunk and block sizes, and one spanning several chunks.
            for len in [
                0,
                1,
                1023,
                1024,
                1025,
                CHUNK_ELEMS + 7,
                3 * CHUNK_ELEMS + 1001,
            ] {
                let x = RingVec::from_u64s_reduced(b, (0..len as u64).map(|i| i * 0x9e37_79b9));
                let mut want = x.clone();
                for (seed, sign) in &masks {
                    match sign {
                        MaskSign::Add => add_mask(seed, &mut want).unwrap(),
                        MaskSign::Sub => sub_mask(seed, &mut want).unwrap(),
                    }
                }
                let mut got = x.clone();
                apply_masks(&masks, &mut got).unwrap();
                assert_eq!(got, want, "bits {bits} len {len}");
                #[cfg(feature = "server")]
                {
                    let mut par = x.clone();
                    apply_masks_parallel(&masks, &mut par).unwrap();
                    assert_eq!(par, want, "parallel, bits {bits} len {len}");
                }
            }
        }
    }

    #[test]
    fn too_long_is_an_error() {
        let seed = MaskSeed::from_bytes([0; 32]);
        assert!(matches!(
            expand(&seed, Bits::new(64).unwrap(), usize::MAX / 2),
            Err(PrgError::TooLong { .. })
        ));
    }
}
