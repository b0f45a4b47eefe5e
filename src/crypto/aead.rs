//! ChaCha20-Poly1305 (RFC 8439) encryption of Shamir shares between two clients, relayed by the
//! untrusted server (spec section "Share encryption").
//!
//! Invariants:
//! * A key is derived per (session, round, sender, recipient) and the protocol seals exactly one
//!   message under it, so the fixed all-zero nonce is never used twice with one key. The type
//!   system enforces the "once": [`SealingKey::seal`] consumes the key and `SealingKey` is not
//!   `Clone`.
//! * The associated data binds the protocol version, session, round, sender and recipient, so a
//!   ciphertext replayed into another session, round or pair of clients fails to open.
//! * Tags are compared in constant time (inside `chacha20poly1305`).

use crate::prelude::*;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use zeroize::Zeroizing;

use super::{DOMAIN, PROTOCOL_VERSION};
use crate::ids::{ParticipantId, Round, SessionId};

/// Length of the Poly1305 tag appended to every ciphertext.
pub const TAG_LEN: usize = 16;

/// The nonce used with every key: keys are single-use (see the module docs).
const NONCE: [u8; 12] = [0; 12];

/// Errors of share decryption.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AeadError {
    /// The tag did not verify: wrong key, wrong binding, or a tampered ciphertext.
    #[error("ciphertext failed to authenticate")]
    Authentication,
    /// The ciphertext is shorter than a tag.
    #[error("ciphertext of {0} bytes is shorter than the 16-byte tag")]
    TooShort(usize),
}

/// What a ciphertext is bound to. Encoded as the associated data:
///
/// ```text
/// aad = u8(6) || "secagg" || u8(PROTOCOL_VERSION) || session_id (32)
///       || u8(round) || u16be(sender) || u16be(recipient)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The session the ciphertext belongs to.
    pub session: SessionId,
    /// The round in which it is sent.
    pub round: Round,
    /// Who encrypted it.
    pub sender: ParticipantId,
    /// Who may decrypt it.
    pub recipient: ParticipantId,
}

/// Length of the encoded associated data.
pub const AAD_LEN: usize = 1 + 6 + 1 + 32 + 1 + 2 + 2;

impl Binding {
    /// The associated data for this binding.
    pub fn aad(&self) -> [u8; AAD_LEN] {
        let mut a = [0u8; AAD_LEN];
        a[0] = DOMAIN.len() as u8;
        a[1..7].copy_from_slice(DOMAIN);
        a[7] = PROTOCOL_VERSION;
        a[8..40].copy_from_slice(self.session.as_bytes());
        a[40] = self.round.code();
        a[41..43].copy_from_slice(&self.sender.to_be_bytes());
        a[43..45].copy_from_slice(&self.recipient.to_be_bytes());
        a
    }
}

/// A single-use encryption key (derived by `KexSharedSecret::into_share_keys`).
#[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct SealingKey([u8; 32]);

impl SealingKey {
    /// Wraps raw key bytes (for test vectors; the protocol derives keys).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Encrypts `plaintext` bound to `binding`; returns ciphertext || tag. Consumes the key so it
    /// cannot encrypt a second message under the same nonce.
    pub fn seal(self, binding: &Binding, plaintext: &[u8]) -> Vec<u8> {
        let cipher = ChaCha20Poly1305::new(&self.0.into());
        let aad = binding.aad();
        cipher
            .encrypt(
                &NONCE.into(),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Encryption only fails for messages over 256 GiB, which no caller can produce.
            .expect("ChaCha20-Poly1305 encryption of a bounded message")
    }
}

/// A decryption key (derived by `KexSharedSecret::into_share_keys`). Opening does not consume it: a
/// retransmitted identical ciphertext may be opened again without any nonce reuse.
#[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct OpeningKey([u8; 32]);

impl OpeningKey {
    /// Wraps raw key bytes (for test vectors; the protocol derives keys).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Authenticates and decrypts `ciphertext` (ciphertext || tag) under `binding`.
    pub fn open(
        &self,
        binding: &Binding,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AeadError> {
        if ciphertext.len() < TAG_LEN {
            return Err(AeadError::TooShort(ciphertext.len()));
        }
        let cipher = ChaCha20Poly1305::new(&self.0.into());
        let aad = binding.aad();
        cipher
            .decrypt(
                &NONCE.into(),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| AeadError::Authentication)
    }
}

impl core::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl core::fmt::Debug for OpeningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("OpeningKey(<redacted>)")
    }
}
