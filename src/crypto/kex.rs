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

impl KexPublicKey {
    /// The encoded key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
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
