//! HKDF-SHA256 with labelled, length-prefixed context (spec section "Key derivation").
//!
//! Every derivation is `HKDF-SHA256(salt = empty, ikm, info, L)` with
//!
//! ```text
//! info = u8(6) || "secagg" || u8(PROTOCOL_VERSION) || u8(len(label)) || label
//!        || u16be(len(f_1)) || f_1 || ... || u16be(len(f_m)) || f_m
//! ```
//!
//! The fields `f_i` are fixed by the label (see [`Label`]). Because the label and every field carry
//! their length, `info` splits into (label, fields) in exactly one way: two different derivations
//! can never share an `info` string.

use crate::prelude::*;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{DOMAIN, PROTOCOL_VERSION};
use crate::ids::{ParticipantId, Round, SessionId};

/// The registry of derivation labels. Each one fixes the context fields that follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Label {
    /// Pairwise mask seed `s_uv`: fields `session_id, u8 round, u16be min(u,v), u16be max(u,v)`.
    PairwiseMask,
    /// Self-mask seed from `b_u`: fields `session_id, u8 round, u16be owner`.
    SelfMask,
    /// Share-encryption key for one direction: fields
    /// `session_id, u8 round, u16be sender, u16be recipient`.
    ShareEncryption,
    /// Seed of the SecAgg+ graph permutation (public): ikm = session id, field `session_id`.
    GraphPermutation,
    /// Seed of the distributed-DP random rotation's signs (public): ikm = session id, field
    /// `session_id` (spec `ddp.md`, "Rotation").
    DdpRotation,
}

impl Label {
    /// The ASCII label string.
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            Label::PairwiseMask => b"pairwise mask",
            Label::SelfMask => b"self mask",
            Label::ShareEncryption => b"share encryption",
            Label::GraphPermutation => b"graph permutation",
            Label::DdpRotation => b"ddp rotation",
        }
    }
}

/// Builder for the `info` string of one derivation.
#[derive(Clone)]
pub struct Context {
    info: Vec<u8>,
}

impl Context {
    /// Starts the info string with the domain, the protocol version and `label`.
    pub fn new(label: Label) -> Self {
        let l = label.as_bytes();
        let mut info = Vec::with_capacity(2 + DOMAIN.len() + 1 + l.len() + 48);
        info.push(DOMAIN.len() as u8);
        info.extend_from_slice(DOMAIN);
        info.push(PROTOCOL_VERSION);
        info.push(l.len() as u8);
        info.extend_from_slice(l);
        Self { info }
    }

    /// Appends one length-prefixed field. Fields are short, fixed-size values; the length is
    /// checked anyway so an oversized field cannot make the encoding ambiguous.
    fn field(mut self, bytes: &[u8]) -> Self {
        let len = u16::try_from(bytes.len()).expect("KDF context fields are at most 64 KiB");
        self.info.extend_from_slice(&len.to_be_bytes());
        self.info.extend_from_slice(bytes);
        self
    }

    /// Appends the session id (32 bytes).
    pub fn session(self, id: &SessionId) -> Self {
        self.field(id.as_bytes())
    }

    /// Appends the round number (1 byte).
    pub fn round(self, round: Round) -> Self {
        self.field(&[round.code()])
    }

    /// Appends a participant index (2 bytes, big-endian).
    pub fn participant(self, id: ParticipantId) -> Self {
        self.field(&id.to_be_bytes())
    }

    /// The encoded info string.
    pub fn info(&self) -> &[u8] {
        &self.info
    }
}

/// Derives 32 bytes from `ikm` under `context`.
pub fn derive32(ikm: &[u8], context: &Context) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, ikm)
        .expand(context.info(), okm.as_mut())
        // 32 bytes is far below HKDF-SHA256's limit of 255 * 32 bytes.
        .expect("32-byte HKDF output is always valid");
    okm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_layout_is_length_prefixed() {
        let sid = SessionId([7; 32]);
        let p = ParticipantId::new(0x0102).unwrap();
        let ctx = Context::new(Label::SelfMask)
            .session(&sid)
            .round(Round::MaskedInput)
            .participant(p);
        let mut expect = vec![6];
        expect.extend_from_slice(b"secagg");
        expect.push(1);
        expect.push(9);
        expect.extend_from_slice(b"self mask");
        expect.extend_from_slice(&[0, 32]);
        expect.extend_from_slice(&[7; 32]);
        expect.extend_from_slice(&[0, 1, 2]);
        expect.extend_from_slice(&[0, 2, 1, 2]);
        assert_eq!(ctx.info(), &expect[..]);
    }

    #[test]
    fn labels_are_distinct_domains() {
        let sid = SessionId([0; 32]);
        let a = derive32(b"k", &Context::new(Label::PairwiseMask).session(&sid));
        let b = derive32(b"k", &Context::new(Label::SelfMask).session(&sid));
        assert_ne!(*a, *b);
    }
}
