//! Ed25519 signatures (RFC 8032) for the active threat model (spec section "Signatures").
//!
//! Every signature covers a domain-separated message
//!
//! ```text
//! signed = u8(6) || "secagg" || u8(PROTOCOL_VERSION) || u8(len(label)) || label
//!          || session_id (32) || payload
//! ```
//!
//! so a signature made for one purpose or session never verifies for another. Verification is
//! strict (`verify_strict`): non-canonical `R`/`S` encodings and small-order keys are rejected,
//! so signatures are not malleable and every implementation must agree on validity.

use crate::prelude::*;

use core::fmt;

use ed25519_dalek::Signer;

use super::{DOMAIN, PROTOCOL_VERSION};
use crate::ids::SessionId;

/// Length of an encoded signature.
pub const SIGNATURE_LEN: usize = 64;

/// Errors of signature handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The public key does not decode to a valid point, or has small order.
    #[error("invalid Ed25519 public key")]
    InvalidKey,
    /// The signature does not verify.
    #[error("invalid Ed25519 signature")]
    InvalidSignature,
}

/// What a signature is for. Each purpose has its own label in the signed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigPurpose {
    /// A client's signature over its two advertised X25519 public keys (round 0).
    AdvertiseKeys,
    /// A client's signature over the survivor set U3 (round 3).
    ConsistencyCheck,
    /// An operator's signature over a participant roster (participant id -> identity key).
    /// The 32 bytes in the session-id position are the roster's *deployment id* (which
    /// population or task it is for), not a session id.
    OperatorRoster,
}

impl SigPurpose {
    /// The ASCII label.
    pub const fn label(self) -> &'static [u8] {
        match self {
            SigPurpose::AdvertiseKeys => b"advertise keys",
            SigPurpose::ConsistencyCheck => b"consistency check",
            SigPurpose::OperatorRoster => b"operator roster",
        }
    }
}

fn signed_message(purpose: SigPurpose, session: &SessionId, payload: &[u8]) -> Vec<u8> {
    let label = purpose.label();
    let mut m = Vec::with_capacity(9 + label.len() + 32 + payload.len());
    m.push(DOMAIN.len() as u8);
    m.extend_from_slice(DOMAIN);
    m.push(PROTOCOL_VERSION);
    m.push(label.len() as u8);
    m.extend_from_slice(label);
    m.extend_from_slice(session.as_bytes());
    m.extend_from_slice(payload);
    m
}

/// A long-term Ed25519 signing key (zeroized on drop by ed25519-dalek).
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// Generates a fresh key.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(ed25519_dalek::SigningKey::generate(rng))
    }

    /// Rebuilds a key from its 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.verifying_key())
    }

    /// Signs `payload` for `purpose` within `session`.
    pub fn sign(&self, purpose: SigPurpose, session: &SessionId, payload: &[u8]) -> Signature {
        Signature(
            self.0
                .sign(&signed_message(purpose, session, payload))
                .to_bytes(),
        )
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// A validated Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VerifyingKey(ed25519_dalek::VerifyingKey);

impl VerifyingKey {
    /// Decodes and validates a public key: it must be a canonical point of large order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, SignError> {
        // Reject y >= p = 2^255 - 19 (ignoring the sign bit): the decoder reduces such y
        // silently, but they are not canonical and other implementations reject them.
        if bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff) && bytes[0] >= 0xed {
            return Err(SignError::InvalidKey);
        }
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| SignError::InvalidKey)?;
        if key.is_weak() {
            return Err(SignError::InvalidKey);
        }
        Ok(Self(key))
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Verifies `signature` over `payload` for `purpose` within `session` (strict rules).
    pub fn verify(
        &self,
        purpose: SigPurpose,
        session: &SessionId,
        payload: &[u8],
        signature: &Signature,
    ) -> Result<(), SignError> {
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0
            .verify_strict(&signed_message(purpose, session, payload), &sig)
            .map_err(|_| SignError::InvalidSignature)
    }

    /// Strict verification of a bare RFC 8032 message, without the domain-separated framing.
    /// Only for the standard test vectors; the protocol always uses [`Self::verify`].
    #[doc(hidden)]
    pub fn verify_raw(&self, message: &[u8], signature: &Signature) -> Result<(), SignError> {
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0
            .verify_strict(message, &sig)
            .map_err(|_| SignError::InvalidSignature)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({:02x?})", &self.0.to_bytes()[..8])
    }
}

/// An Ed25519 signature (64 bytes: R || S).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({:02x?}..)", &self.0[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_canonical_key_encoding_is_rejected() {
        // y = p + 3 (encodes the same point as y = 3, which has large order).
        let mut b = [0xffu8; 32];
        b[0] = 0xf0;
        b[31] = 0x7f;
        assert_eq!(VerifyingKey::from_bytes(&b), Err(SignError::InvalidKey));
        let k = SigningKey::from_seed(&[1; 32]).verifying_key();
        assert!(VerifyingKey::from_bytes(&k.to_bytes()).is_ok());
    }
}
