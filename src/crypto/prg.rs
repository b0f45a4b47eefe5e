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

use chacha20::cipher::{KeyIvInit, StreamCipher};
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
    fn too_long_is_an_error() {
        let seed = MaskSeed::from_bytes([0; 32]);
        assert!(matches!(
            expand(&seed, Bits::new(64).unwrap(), usize::MAX / 2),
            Err(PrgError::TooLong { .. })
        ));
    }
}
