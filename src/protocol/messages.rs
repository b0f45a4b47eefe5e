//! The wire messages of rounds 0 to 4 and their byte-exact encoding (spec section "Messages").
//!
//! Every message starts with `u8(version = 1) || u8(type) || session_id (32)`. Client-to-server
//! types are `0x01..=0x05`, server-to-client types `0x81..=0x85`. All integers are big-endian;
//! lists are `u16(count)` followed by fixed-size entries, and lists of participant ids are
//! strictly increasing. Decoding takes [`Limits`] derived from the session parameters, checks
//! every count against them before allocating, and rejects trailing bytes; encoding a decoded
//! message reproduces its bytes.

use crate::prelude::*;

use super::codec::{DecodeError, Reader, Writer};
use super::params::{SessionParams, ThreatModel};
use crate::crypto::aead::TAG_LEN;
use crate::crypto::kex::KexPublicKey;
use crate::crypto::sign::{Signature, SIGNATURE_LEN};
use crate::crypto::PROTOCOL_VERSION;
use crate::ids::{ParticipantId, SessionId};
use crate::ring::packed_len;
use crate::shamir::SHARE_LEN;

/// Bytes before the body of every message.
pub const HEADER_LEN: usize = 2 + 32;

/// Plaintext of one share ciphertext: `u16(sender) || u16(recipient) || key share || seed share`.
pub const SHARE_PLAINTEXT_LEN: usize = 4 + 2 * SHARE_LEN;

/// One share ciphertext: the plaintext plus the Poly1305 tag.
pub const SHARE_CIPHERTEXT_LEN: usize = SHARE_PLAINTEXT_LEN + TAG_LEN;

/// Message type codes.
pub mod types {
    /// Round 0, client: its two public keys.
    pub const ADVERTISE_KEYS: u8 = 0x01;
    /// Round 1, client: encrypted shares for its neighbours.
    pub const SHARE_KEYS: u8 = 0x02;
    /// Round 2, client: the masked input.
    pub const MASKED_INPUT: u8 = 0x03;
    /// Round 3, client: signature over U3 (active model).
    pub const CONSISTENCY_SIGNATURE: u8 = 0x04;
    /// Round 4, client: the revealed shares.
    pub const UNMASK_SHARES: u8 = 0x05;
    /// Server, ends round 0: the neighbours' keys.
    pub const KEY_DIRECTORY: u8 = 0x81;
    /// Server, ends round 1: ciphertexts addressed to the client.
    pub const SHARE_BUNDLE: u8 = 0x82;
    /// Server, ends round 2 in the active model: U3 to sign.
    pub const CONSISTENCY_REQUEST: u8 = 0x83;
    /// Server, ends round 2 (semi-honest) or 3 (active): U3, and signatures.
    pub const UNMASK_REQUEST: u8 = 0x84;
    /// Server: the session's outcome for this client.
    pub const FINISHED: u8 = 0x85;
}

/// Size limits for decoding, derived from the session parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Participants n.
    pub n: usize,
    /// Neighbours per client.
    pub degree: usize,
    /// Exact length of a packed masked vector (L + 1 elements).
    pub packed_len: usize,
    /// Whether signatures are present (active model).
    pub active: bool,
}

impl Limits {
    /// The limits of a validated session.
    pub fn new(params: &SessionParams) -> Self {
        Self {
            n: params.n(),
            degree: params.degree(),
            packed_len: packed_len(params.bits, params.vector_len as usize + 1)
                .unwrap_or(usize::MAX),
            active: params.threat_model == ThreatModel::Active,
        }
    }

    fn sig_len(&self) -> usize {
        if self.active {
            SIGNATURE_LEN
        } else {
            0
        }
    }

    /// The largest client-to-server message of this session (the masked input, in practice).
    /// Saturates instead of overflowing for limits no validated session has.
    pub fn max_client_message(&self) -> usize {
        let list = |entry: usize| self.degree.saturating_mul(entry);
        let share_keys = (2 + 32 + 2usize).saturating_add(list(2 + SHARE_CIPHERTEXT_LEN));
        let masked = self.packed_len.saturating_add(2);
        let unmask = (2usize + 2).saturating_add(list(2 + 1 + SHARE_LEN));
        share_keys
            .max(masked)
            .max(unmask)
            .max(2 + 64 + SIGNATURE_LEN)
            .saturating_add(HEADER_LEN)
    }

    /// The largest server-to-client message of this session (saturating, like
    /// [`Self::max_client_message`]).
    pub fn max_server_message(&self) -> usize {
        let directory = self
            .degree
            .saturating_add(1)
            .saturating_mul(2 + 64 + self.sig_len())
            .saturating_add(2);
        let bundle = self
            .degree
            .saturating_mul(2 + SHARE_CIPHERTEXT_LEN)
            .saturating_add(2);
        let unmask = self
            .n
            .saturating_mul(2)
            .saturating_add(self.degree.saturating_mul(2 + SIGNATURE_LEN))
            .saturating_add(4);
        directory.max(bundle).max(unmask).saturating_add(HEADER_LEN)
    }
}

/// Which secret a revealed share belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ShareKind {
    /// A share of the self-mask secret b_v (v survived to U3).
    SelfMask = 0,
    /// A share of the mask private key s_v^SK (v dropped before U3).
    MaskKey = 1,
}

/// Round 0: a client's public keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertiseKeys {
    /// The sender.
    pub sender: ParticipantId,
    /// Share-encryption public key c_u^PK.
    pub c_pk: KexPublicKey,
    /// Mask public key s_u^PK.
    pub s_pk: KexPublicKey,
    /// Active model: identity signature over `c_pk || s_pk`.
    pub signature: Option<Signature>,
}

/// Round 1: one ciphertext per neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareKeys {
    /// The sender.
    pub sender: ParticipantId,
    /// Commitment to the sender's self-mask secret (`SelfMaskSecret::commitment`).
    pub commitment: [u8; 32],
    /// `(recipient, ciphertext)`, recipients strictly increasing.
    pub ciphertexts: Vec<(ParticipantId, [u8; SHARE_CIPHERTEXT_LEN])>,
}

/// Round 2: the packed masked vector (L + 1 elements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedInput {
    /// The sender.
    pub sender: ParticipantId,
    /// Exactly `Limits::packed_len` bytes.
    pub packed: Vec<u8>,
}

/// Round 3 (active): signature over U3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencySignature {
    /// The sender.
    pub sender: ParticipantId,
    /// Signature with purpose "consistency check" over the encoded U3.
    pub signature: Signature,
}

/// One revealed share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealedShare {
    /// Whose secret it is a share of.
    pub owner: ParticipantId,
    /// Which secret.
    pub kind: ShareKind,
    /// The encoded share (its x-coordinate is the sender).
    pub share: [u8; SHARE_LEN],
}

/// Round 4: the shares the server needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmaskShares {
    /// The sender.
    pub sender: ParticipantId,
    /// Owners strictly increasing.
    pub shares: Vec<RevealedShare>,
}

/// A client-to-server message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientMessage {
    /// Round 0.
    AdvertiseKeys(AdvertiseKeys),
    /// Round 1.
    ShareKeys(ShareKeys),
    /// Round 2.
    MaskedInput(MaskedInput),
    /// Round 3.
    ConsistencySignature(ConsistencySignature),
    /// Round 4.
    UnmaskShares(UnmaskShares),
}

/// One entry of the key directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The client.
    pub id: ParticipantId,
    /// Its share-encryption public key.
    pub c_pk: KexPublicKey,
    /// Its mask public key.
    pub s_pk: KexPublicKey,
    /// Active model: its signature over `c_pk || s_pk`.
    pub signature: Option<Signature>,
}

/// End of round 0: the recipient's own entry and those of its neighbours in U1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDirectory {
    /// Ids strictly increasing.
    pub entries: Vec<KeyEntry>,
}

/// End of round 1: ciphertexts from the recipient's neighbours in U2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareBundle {
    /// `(sender, ciphertext)`, senders strictly increasing.
    pub ciphertexts: Vec<(ParticipantId, [u8; SHARE_CIPHERTEXT_LEN])>,
}

/// End of round 2 (active model): the survivor set U3 to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyRequest {
    /// U3, strictly increasing.
    pub survivors: Vec<ParticipantId>,
}

/// Start of round 4: U3 and, in the active model, neighbours' signatures over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmaskRequest {
    /// U3, strictly increasing.
    pub survivors: Vec<ParticipantId>,
    /// Active model: `(signer, signature)`, signers strictly increasing.
    pub signatures: Vec<(ParticipantId, Signature)>,
}

/// How the session ended for the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Outcome {
    /// The sum was computed and includes the recipient's input.
    Included = 0,
    /// The sum was computed without the recipient's input.
    Excluded = 1,
    /// The session was aborted; nothing was revealed.
    Aborted = 2,
}

/// The session's outcome for the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// Outcome.
    pub outcome: Outcome,
    /// Abort code (spec: error registry), 0 unless aborted.
    pub code: u16,
}

/// A server-to-client message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerMessage {
    /// End of round 0.
    KeyDirectory(KeyDirectory),
    /// End of round 1.
    ShareBundle(ShareBundle),
    /// End of round 2, active model.
    ConsistencyRequest(ConsistencyRequest),
    /// Start of round 4.
    UnmaskRequest(UnmaskRequest),
    /// End of the session.
    Finished(Finished),
}

fn header(out: &mut Vec<u8>, ty: u8, session: &SessionId) {
    out.push(PROTOCOL_VERSION);
    out.push(ty);
    out.extend_from_slice(session.as_bytes());
}

fn read_header(r: &mut Reader<'_>) -> Result<(u8, SessionId), DecodeError> {
    let v = r.u8()?;
    if v != PROTOCOL_VERSION {
        return Err(DecodeError::Version(v));
    }
    let ty = r.u8()?;
    Ok((ty, SessionId(r.array()?)))
}

fn read_id(r: &mut Reader<'_>) -> Result<ParticipantId, DecodeError> {
    ParticipantId::new(r.u16()?).ok_or(DecodeError::Invalid("participant id 0"))
}

/// Reads a strictly increasing id list.
fn read_ids(
    r: &mut Reader<'_>,
    what: &'static str,
    max: usize,
) -> Result<Vec<ParticipantId>, DecodeError> {
    let n = r.count(what, max, 2)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let id = read_id(r)?;
        if v.last().is_some_and(|l| *l >= id) {
            return Err(DecodeError::Invalid("id list not strictly increasing"));
        }
        v.push(id);
    }
    Ok(v)
}

fn put_ids(out: &mut Vec<u8>, ids: &[ParticipantId]) {
    out.put_u16(ids.len() as u16);
    for id in ids {
        out.extend_from_slice(&id.to_be_bytes());
    }
}

fn check_increasing(prev: Option<ParticipantId>, id: ParticipantId) -> Result<(), DecodeError> {
    match prev {
        Some(p) if p >= id => Err(DecodeError::Invalid("list not strictly increasing")),
        _ => Ok(()),
    }
}

/// The survivor-set encoding `u16(|U3|) || u16(id)*` (as in `UnmaskRequest`).
pub fn encode_survivors(ids: &[ParticipantId]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + 2 * ids.len());
    put_ids(&mut v, ids);
    v
}

/// The payload signed in round 3 (purpose "consistency check"):
/// `u16(|U3|) || u16(id)* || c_pk || s_pk`, where `c_pk || s_pk` are the **signer's own**
/// round-0 public keys. Those keys are fresh in every run, so a signature cannot be replayed
/// into another run of a session id the server reused; every verifier knows them from the key
/// directory (a signer is a neighbour in U3, within U1).
pub fn consistency_payload(
    survivors: &[ParticipantId],
    c_pk: &KexPublicKey,
    s_pk: &KexPublicKey,
) -> Vec<u8> {
    let mut v = encode_survivors(survivors);
    v.extend_from_slice(&key_payload(c_pk, s_pk));
    v
}

/// The payload signed in round 0 (purpose "advertise keys"): `c_pk || s_pk`.
pub fn key_payload(c_pk: &KexPublicKey, s_pk: &KexPublicKey) -> [u8; 64] {
    let mut p = [0u8; 64];
    p[..32].copy_from_slice(c_pk.as_bytes());
    p[32..].copy_from_slice(s_pk.as_bytes());
    p
}

impl ClientMessage {
    /// The message's type code.
    pub fn type_code(&self) -> u8 {
        match self {
            ClientMessage::AdvertiseKeys(_) => types::ADVERTISE_KEYS,
            ClientMessage::ShareKeys(_) => types::SHARE_KEYS,
            ClientMessage::MaskedInput(_) => types::MASKED_INPUT,
            ClientMessage::ConsistencySignature(_) => types::CONSISTENCY_SIGNATURE,
            ClientMessage::UnmaskShares(_) => types::UNMASK_SHARES,
        }
    }

    /// The sender field.
    pub fn sender(&self) -> ParticipantId {
        match self {
            ClientMessage::AdvertiseKeys(m) => m.sender,
            ClientMessage::ShareKeys(m) => m.sender,
            ClientMessage::MaskedInput(m) => m.sender,
            ClientMessage::ConsistencySignature(m) => m.sender,
            ClientMessage::UnmaskShares(m) => m.sender,
        }
    }

    /// Encodes with the session header.
    pub fn encode(&self, session: &SessionId) -> Vec<u8> {
        let mut o = Vec::new();
        header(&mut o, self.type_code(), session);
        o.extend_from_slice(&self.sender().to_be_bytes());
        match self {
            ClientMessage::AdvertiseKeys(m) => {
                o.extend_from_slice(m.c_pk.as_bytes());
                o.extend_from_slice(m.s_pk.as_bytes());
                if let Some(s) = &m.signature {
                    o.extend_from_slice(&s.0);
                }
            }
            ClientMessage::ShareKeys(m) => {
                o.extend_from_slice(&m.commitment);
                o.put_u16(m.ciphertexts.len() as u16);
                for (to, ct) in &m.ciphertexts {
                    o.extend_from_slice(&to.to_be_bytes());
                    o.extend_from_slice(ct);
                }
            }
            ClientMessage::MaskedInput(m) => o.extend_from_slice(&m.packed),
            ClientMessage::ConsistencySignature(m) => o.extend_from_slice(&m.signature.0),
            ClientMessage::UnmaskShares(m) => {
                o.put_u16(m.shares.len() as u16);
                for s in &m.shares {
                    o.extend_from_slice(&s.owner.to_be_bytes());
                    o.push(s.kind as u8);
                    o.extend_from_slice(&s.share);
                }
            }
        }
        o
    }

    /// Decodes a client message; returns its session id for the caller to check.
    pub fn decode(
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<(SessionId, ClientMessage), DecodeError> {
        let (session, msg) = ClientMessageRef::decode(bytes, limits)?;
        Ok((session, msg.into_owned()))
    }
}

/// A round-2 masked input that borrows its packed vector from the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaskedInputRef<'a> {
    /// The sender.
    pub sender: ParticipantId,
    /// Exactly `Limits::packed_len` bytes.
    pub packed: &'a [u8],
}

/// A decoded client message whose masked vector, the only large field, is borrowed from the
/// received bytes instead of copied: the server adds it into its accumulator straight from the
/// wire. Decodes exactly what [`ClientMessage::decode`] decodes, with the same checks in the
/// same order (that function is this one plus [`ClientMessageRef::into_owned`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientMessageRef<'a> {
    /// Round 0.
    AdvertiseKeys(AdvertiseKeys),
    /// Round 1.
    ShareKeys(ShareKeys),
    /// Round 2, borrowed.
    MaskedInput(MaskedInputRef<'a>),
    /// Round 3.
    ConsistencySignature(ConsistencySignature),
    /// Round 4.
    UnmaskShares(UnmaskShares),
}

impl<'a> ClientMessageRef<'a> {
    /// The message's type code.
    pub fn type_code(&self) -> u8 {
        match self {
            ClientMessageRef::AdvertiseKeys(_) => types::ADVERTISE_KEYS,
            ClientMessageRef::ShareKeys(_) => types::SHARE_KEYS,
            ClientMessageRef::MaskedInput(_) => types::MASKED_INPUT,
            ClientMessageRef::ConsistencySignature(_) => types::CONSISTENCY_SIGNATURE,
            ClientMessageRef::UnmaskShares(_) => types::UNMASK_SHARES,
        }
    }

    /// The sender field.
    pub fn sender(&self) -> ParticipantId {
        match self {
            ClientMessageRef::AdvertiseKeys(m) => m.sender,
            ClientMessageRef::ShareKeys(m) => m.sender,
            ClientMessageRef::MaskedInput(m) => m.sender,
            ClientMessageRef::ConsistencySignature(m) => m.sender,
            ClientMessageRef::UnmaskShares(m) => m.sender,
        }
    }

    /// The owned message (copies the borrowed vector, if any).
    pub fn into_owned(self) -> ClientMessage {
        match self {
            ClientMessageRef::AdvertiseKeys(m) => ClientMessage::AdvertiseKeys(m),
            ClientMessageRef::ShareKeys(m) => ClientMessage::ShareKeys(m),
            ClientMessageRef::MaskedInput(m) => ClientMessage::MaskedInput(MaskedInput {
                sender: m.sender,
                packed: m.packed.to_vec(),
            }),
            ClientMessageRef::ConsistencySignature(m) => ClientMessage::ConsistencySignature(m),
            ClientMessageRef::UnmaskShares(m) => ClientMessage::UnmaskShares(m),
        }
    }

    /// Decodes a client message (spec section 16), borrowing the masked vector from `bytes`;
    /// returns its session id for the caller to check.
    pub fn decode(
        bytes: &'a [u8],
        limits: &Limits,
    ) -> Result<(SessionId, ClientMessageRef<'a>), DecodeError> {
        let max = limits.max_client_message();
        if bytes.len() > max {
            return Err(DecodeError::TooLarge {
                got: bytes.len(),
                max,
            });
        }
        let mut r = Reader::new(bytes);
        let (ty, session) = read_header(&mut r)?;
        let sender = read_id(&mut r)?;
        let msg = match ty {
            types::ADVERTISE_KEYS => ClientMessageRef::AdvertiseKeys(AdvertiseKeys {
                sender,
                c_pk: KexPublicKey(r.array()?),
                s_pk: KexPublicKey(r.array()?),
                signature: if limits.active {
                    Some(Signature(r.array()?))
                } else {
                    None
                },
            }),
            types::SHARE_KEYS => {
                let commitment = r.array()?;
                let n = r.count("share ciphertexts", limits.degree, 2 + SHARE_CIPHERTEXT_LEN)?;
                let mut ciphertexts = Vec::with_capacity(n);
                for _ in 0..n {
                    let to = read_id(&mut r)?;
                    check_increasing(ciphertexts.last().map(|(p, _)| *p), to)?;
                    ciphertexts.push((to, r.array()?));
                }
                ClientMessageRef::ShareKeys(ShareKeys {
                    sender,
                    commitment,
                    ciphertexts,
                })
            }
            types::MASKED_INPUT => ClientMessageRef::MaskedInput(MaskedInputRef {
                sender,
                packed: r.take(limits.packed_len)?,
            }),
            types::CONSISTENCY_SIGNATURE => {
                ClientMessageRef::ConsistencySignature(ConsistencySignature {
                    sender,
                    signature: Signature(r.array()?),
                })
            }
            types::UNMASK_SHARES => {
                let n = r.count("revealed shares", limits.degree, 2 + 1 + SHARE_LEN)?;
                let mut shares: Vec<RevealedShare> = Vec::with_capacity(n);
                for _ in 0..n {
                    let owner = read_id(&mut r)?;
                    check_increasing(shares.last().map(|s| s.owner), owner)?;
                    let kind = match r.u8()? {
                        0 => ShareKind::SelfMask,
                        1 => ShareKind::MaskKey,
                        _ => return Err(DecodeError::Invalid("share kind")),
                    };
                    shares.push(RevealedShare {
                        owner,
                        kind,
                        share: r.array()?,
                    });
                }
                ClientMessageRef::UnmaskShares(UnmaskShares { sender, shares })
            }
            t => return Err(DecodeError::UnknownType(t)),
        };
        r.finish()?;
        Ok((session, msg))
    }
}

impl ServerMessage {
    /// The message's type code.
    pub fn type_code(&self) -> u8 {
        match self {
            ServerMessage::KeyDirectory(_) => types::KEY_DIRECTORY,
            ServerMessage::ShareBundle(_) => types::SHARE_BUNDLE,
            ServerMessage::ConsistencyRequest(_) => types::CONSISTENCY_REQUEST,
            ServerMessage::UnmaskRequest(_) => types::UNMASK_REQUEST,
            ServerMessage::Finished(_) => types::FINISHED,
        }
    }

    /// Encodes with the session header.
    pub fn encode(&self, session: &SessionId) -> Vec<u8> {
        let mut o = Vec::new();
        header(&mut o, self.type_code(), session);
        match self {
            ServerMessage::KeyDirectory(m) => {
                o.put_u16(m.entries.len() as u16);
                for e in &m.entries {
                    o.extend_from_slice(&e.id.to_be_bytes());
                    o.extend_from_slice(e.c_pk.as_bytes());
                    o.extend_from_slice(e.s_pk.as_bytes());
                    if let Some(s) = &e.signature {
                        o.extend_from_slice(&s.0);
                    }
                }
            }
            ServerMessage::ShareBundle(m) => {
                o.put_u16(m.ciphertexts.len() as u16);
                for (from, ct) in &m.ciphertexts {
                    o.extend_from_slice(&from.to_be_bytes());
                    o.extend_from_slice(ct);
                }
            }
            ServerMessage::ConsistencyRequest(m) => put_ids(&mut o, &m.survivors),
            ServerMessage::UnmaskRequest(m) => {
                put_ids(&mut o, &m.survivors);
                o.put_u16(m.signatures.len() as u16);
                for (id, s) in &m.signatures {
                    o.extend_from_slice(&id.to_be_bytes());
                    o.extend_from_slice(&s.0);
                }
            }
            ServerMessage::Finished(m) => {
                o.push(m.outcome as u8);
                o.put_u16(m.code);
            }
        }
        o
    }

    /// Decodes a server message; returns its session id for the caller to check.
    pub fn decode(
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<(SessionId, ServerMessage), DecodeError> {
        let max = limits.max_server_message();
        if bytes.len() > max {
            return Err(DecodeError::TooLarge {
                got: bytes.len(),
                max,
            });
        }
        let mut r = Reader::new(bytes);
        let (ty, session) = read_header(&mut r)?;
        let msg = match ty {
            types::KEY_DIRECTORY => {
                let entry = 2 + 64 + limits.sig_len();
                let n = r.count("key directory", limits.degree.saturating_add(1), entry)?;
                let mut entries: Vec<KeyEntry> = Vec::with_capacity(n);
                for _ in 0..n {
                    let id = read_id(&mut r)?;
                    check_increasing(entries.last().map(|e| e.id), id)?;
                    entries.push(KeyEntry {
                        id,
                        c_pk: KexPublicKey(r.array()?),
                        s_pk: KexPublicKey(r.array()?),
                        signature: if limits.active {
                            Some(Signature(r.array()?))
                        } else {
                            None
                        },
                    });
                }
                ServerMessage::KeyDirectory(KeyDirectory { entries })
            }
            types::SHARE_BUNDLE => {
                let n = r.count("share bundle", limits.degree, 2 + SHARE_CIPHERTEXT_LEN)?;
                let mut ciphertexts = Vec::with_capacity(n);
                for _ in 0..n {
                    let from = read_id(&mut r)?;
                    check_increasing(ciphertexts.last().map(|(p, _)| *p), from)?;
                    ciphertexts.push((from, r.array()?));
                }
                ServerMessage::ShareBundle(ShareBundle { ciphertexts })
            }
            types::CONSISTENCY_REQUEST => ServerMessage::ConsistencyRequest(ConsistencyRequest {
                survivors: read_ids(&mut r, "survivors", limits.n)?,
            }),
            types::UNMASK_REQUEST => {
                let survivors = read_ids(&mut r, "survivors", limits.n)?;
                let max_sigs = if limits.active { limits.degree } else { 0 };
                let n = r.count("signatures", max_sigs, 2 + SIGNATURE_LEN)?;
                let mut signatures = Vec::with_capacity(n);
                for _ in 0..n {
                    let id = read_id(&mut r)?;
                    check_increasing(signatures.last().map(|(p, _)| *p), id)?;
                    signatures.push((id, Signature(r.array()?)));
                }
                ServerMessage::UnmaskRequest(UnmaskRequest {
                    survivors,
                    signatures,
                })
            }
            types::FINISHED => {
                let outcome = match r.u8()? {
                    0 => Outcome::Included,
                    1 => Outcome::Excluded,
                    2 => Outcome::Aborted,
                    _ => return Err(DecodeError::Invalid("outcome")),
                };
                ServerMessage::Finished(Finished {
                    outcome,
                    code: r.u16()?,
                })
            }
            t => return Err(DecodeError::UnknownType(t)),
        };
        r.finish()?;
        Ok((session, msg))
    }
}
