//! Identifiers that every derivation, ciphertext and signature is bound to.
//!
//! * [`SessionId`]: 32 bytes naming one aggregation session (the protocol layer computes it as a
//!   hash over all session parameters). It is bound into every KDF context, AEAD associated data
//!   and signed message, so nothing produced in one session is accepted in another.
//! * [`ParticipantId`]: a client's index in the session, `1..=65535`. The same number is the
//!   client's Shamir x-coordinate, which is why zero is unrepresentable.

use core::fmt;
use core::num::NonZeroU16;

/// The 32-byte identifier of one aggregation session.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; 32]);

impl SessionId {
    /// The raw bytes, as they appear in KDF contexts and associated data.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// A participant's index within a session: nonzero, at most 65 535.
///
/// Invariant: never zero, so it can serve directly as a Shamir evaluation point.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(NonZeroU16);

impl ParticipantId {
    /// The largest index a session can hold.
    pub const MAX: u16 = u16::MAX;

    /// `None` for zero, which is reserved (it is the Shamir point that holds the secret).
    pub const fn new(index: u16) -> Option<Self> {
        match NonZeroU16::new(index) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// The index as an integer in `1..=65535`.
    pub const fn get(self) -> u16 {
        self.0.get()
    }

    /// Big-endian encoding, as used in KDF contexts, associated data and the wire format.
    pub const fn to_be_bytes(self) -> [u8; 2] {
        self.0.get().to_be_bytes()
    }
}

impl fmt::Debug for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.0)
    }
}

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TryFrom<u16> for ParticipantId {
    type Error = ZeroParticipantId;
    fn try_from(v: u16) -> Result<Self, Self::Error> {
        Self::new(v).ok_or(ZeroParticipantId)
    }
}

/// Zero is not a valid participant index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("participant index 0 is reserved")]
pub struct ZeroParticipantId;

/// The protocol round in which a key or message is used (Bonawitz et al. 2017, rounds 0 to 4).
///
/// Bound into KDF contexts and associated data so a value made for one round is useless in another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[non_exhaustive]
pub enum Round {
    /// Round 0: clients advertise their two public keys.
    AdvertiseKeys = 0,
    /// Round 1: clients send encrypted Shamir shares to their neighbours.
    ShareKeys = 1,
    /// Round 2: clients send their masked input vectors.
    MaskedInput = 2,
    /// Round 3 (active model only): clients sign the survivor set.
    ConsistencyCheck = 3,
    /// Round 4: clients reveal the shares the server needs to unmask.
    Unmasking = 4,
}

impl Round {
    /// The round number as it appears in encodings.
    pub const fn code(self) -> u8 {
        self as u8
    }
}
