//! X25519 key agreement (RFC 7748) and the derivations built on it.
//!
//! Invariants: a shared secret is only ever returned if it is contributory (not all zero), which
//! rules out the small-order public keys a malicious peer or server could use to force a known
//! mask; secret keys zeroize on drop (x25519-dalek does this) and never print.

use core::fmt;

use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::aead::{OpeningKey, SealingKey};
use super::kdf::{derive32, Context, Label};
use super::prg::MaskSeed;
use crate::ids::{ParticipantId, Round, SessionId};

/// Errors of key agreement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KexError {
    /// The peer's public key has small order: the shared secret would be all zero.
    #[error("non-contributory X25519 public key (shared secret is all zero)")]
    NonContributory,
}

/// An X25519 secret key. One is generated per session and purpose, never reused across sessions.
pub struct KexSecretKey(StaticSecret);

impl KexSecretKey {
    /// Generates a fresh secret key.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(StaticSecret::random_from_rng(rng))
    }

    /// Rebuilds a key from its 32 bytes (as reconstructed from Shamir shares).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let bytes = Zeroizing::new(bytes);
        Self(StaticSecret::from(*bytes))
    }

    /// The 32 secret bytes, for secret sharing.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> KexPublicKey {
        KexPublicKey(PublicKey::from(&self.0).to_bytes())
    }

    /// Whether this secret key belongs to `public`, compared in constant time. The server uses
    /// this to check a key reconstructed from shares against the key the client advertised.
    pub fn matches(&self, public: &KexPublicKey) -> bool {
        self.public_key().0.ct_eq(&public.0).into()
    }

    /// X25519 with `peer`, rejecting a non-contributory result.
    pub fn agree(&self, peer: &KexPublicKey) -> Result<KexSharedSecret, KexError> {
        let shared = self.0.diffie_hellman(&PublicKey::from(peer.0));
        if !shared.was_contributory() {
            return Err(KexError::NonContributory);
        }
        Ok(KexSharedSecret(Zeroizing::new(shared.to_bytes())))
    }
}

impl fmt::Debug for KexSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KexSecretKey(<redacted>)")
    }
}

/// An X25519 public key: 32 bytes, the little-endian u-coordinate (RFC 7748).
///
/// Every 32-byte string is accepted here; small-order keys are caught by [`KexSecretKey::agree`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KexPublicKey(pub [u8; 32]);

/// The u-coordinates, little-endian with bit 255 clear, whose X25519 product with any private
/// key is zero: the points of order dividing 8 on the curve and its twist (u = 0, 1, p - 1 and
/// the two points of order 8) and the non-canonical encodings `p` and `p + 1` of 0 and 1 (no
/// other `u + p` fits in 255 bits). X25519 ignores bit 255 and reduces modulo p.
const SMALL_ORDER: [[u8; 32]; 7] = {
    const fn le(lo: u8, hi: u8) -> [u8; 32] {
        let mut b = [0xff; 32];
        b[0] = lo;
        b[31] = hi;
        b
    }
    [
        [0; 32],
        {
            let mut b = [0; 32];
            b[0] = 1;
            b
        },
        [
            0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
            0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
            0x5f, 0x49, 0xb8, 0x00,
        ],
        [
            0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83,
            0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd,
            0xd0, 0x9f, 0x11, 0x57,
        ],
        le(0xec, 0x7f),
        le(0xed, 0x7f),
        le(0xee, 0x7f),
    ]
};

impl KexPublicKey {
    /// The encoded key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether X25519 of any private key with this key is all zero (a point of small order,
    /// spec section 5): exactly the server's probe test `X25519(probe, pk) == 0`, without the
    /// scalar multiplication (about 40 us, once per key per advertised key pair). Public keys are
    /// public: the comparison need not be constant-time.
    pub fn has_small_order(&self) -> bool {
        let mut u = self.0;
        u[31] &= 0x7f;
        SMALL_ORDER.contains(&u)
    }
}

impl fmt::Debug for KexPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KexPublicKey(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// A contributory X25519 shared secret. Only ever used as HKDF input keying material.
pub struct KexSharedSecret(Zeroizing<[u8; 32]>);

impl KexSharedSecret {
    /// The raw shared secret (for test vectors and KATs).
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// The pairwise mask seed `s_uv`. Symmetric in `(u, v)`: both ends derive the same seed, the
    /// one with the smaller index adds the mask and the other subtracts it.
    pub fn pairwise_mask_seed(
        &self,
        session: &SessionId,
        u: ParticipantId,
        v: ParticipantId,
    ) -> MaskSeed {
        let (lo, hi) = if u < v { (u, v) } else { (v, u) };
        let ctx = Context::new(Label::PairwiseMask)
            .session(session)
            .round(Round::MaskedInput)
            .participant(lo)
            .participant(hi);
        MaskSeed::from_bytes(*derive32(self.0.as_ref(), &ctx))
    }

    fn share_key_bytes(
        &self,
        session: &SessionId,
        sender: ParticipantId,
        recipient: ParticipantId,
    ) -> Zeroizing<[u8; 32]> {
        let ctx = Context::new(Label::ShareEncryption)
            .session(session)
            .round(Round::ShareKeys)
            .participant(sender)
            .participant(recipient);
        derive32(self.0.as_ref(), &ctx)
    }

    /// The two single-use share-encryption keys between `me` and `peer`: the key `me` seals its
    /// shares for `peer` with, and the key that opens what `peer` sealed for `me`. Consumes the
    /// shared secret, so neither key can be derived a second time from it (spec: Share
    /// encryption, single use).
    pub fn into_share_keys(
        self,
        session: &SessionId,
        me: ParticipantId,
        peer: ParticipantId,
    ) -> (SealingKey, OpeningKey) {
        (
            SealingKey::from_bytes(*self.share_key_bytes(session, me, peer)),
            OpeningKey::from_bytes(*self.share_key_bytes(session, peer, me)),
        )
    }
}

impl fmt::Debug for KexSharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KexSharedSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition in spec section 5: the probe's X25519 product is all zero.
    fn probe_says_small(pk: &KexPublicKey) -> bool {
        KexSecretKey::from_bytes([0x5a; 32]).agree(pk).is_err()
    }

    fn check(u: [u8; 32]) {
        let pk = KexPublicKey(u);
        assert_eq!(pk.has_small_order(), probe_says_small(&pk), "{u:02x?}");
    }

    #[test]
    fn small_order_list_equals_the_probe_test() {
        for u in SMALL_ORDER {
            for top in [0, 0x80] {
                let mut v = u;
                v[31] |= top;
                assert!(KexPublicKey(v).has_small_order());
                assert!(probe_says_small(&KexPublicKey(v)), "{v:02x?}");
            }
        }
        // Small integers and everything near p (canonical and not), with bit 255 clear or set.
        let p_minus = |k: u8| {
            let mut b = [0xff; 32];
            b[31] = 0x7f;
            b[0] = 0xed - k;
            b
        };
        for k in 0..=255u8 {
            for top in [0, 0x80] {
                let mut small = [0u8; 32];
                small[0] = k;
                small[1] = 1; // 256 + k as well
                let mut tiny = [0u8; 32];
                tiny[0] = k;
                let mut near = [0xff; 32];
                near[0] = k; // p - 237 .. 2^255 - 1: p + 0 .. p + 18 among them
                near[31] = 0x7f;
                for mut u in [small, tiny, near, p_minus(k.min(0xed))] {
                    u[31] |= top;
                    check(u);
                }
            }
        }
        // Pseudo-random keys (SplitMix64), and keys one bit away from each listed point.
        let mut x = 1u64;
        for _ in 0..2000 {
            let mut u = [0u8; 32];
            for c in u.chunks_exact_mut(8) {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                c.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
            }
            check(u);
        }
        for u in SMALL_ORDER {
            for bit in 0..255 {
                let mut v = u;
                v[bit / 8] ^= 1 << (bit % 8);
                check(v);
            }
        }
    }
}
