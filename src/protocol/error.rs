//! Errors of the protocol layer (spec section "Error registry").
//!
//! Three kinds, each saying which participant, which round and which check:
//! * [`ClientAbort`]: a client stops the session because a server message failed a check. The
//!   client sends nothing afterwards.
//! * [`Rejected`]: the server refuses one client message (the client is excluded from the round
//!   when the message was its only chance to take part).
//! * [`SessionAbort`]: the server ends the session without a result; no unmasking request is
//!   sent once the survivors cannot protect every input.
//!
//! All of them may be shown to the peer concerned: none contains secret material.

use super::codec::DecodeError;
use crate::ids::{ParticipantId, Round};
use crate::ring::PackError;

/// Why a client aborted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientCheck {
    /// The message did not decode.
    #[error("malformed message: {0}")]
    Decode(DecodeError),
    /// The message belongs to another session (replay).
    #[error("message for another session")]
    WrongSession,
    /// The message type is not the one this round expects.
    #[error("unexpected message type 0x{got:02x}")]
    UnexpectedMessage {
        /// Type received.
        got: u8,
    },
    /// A listed id is not a participant of the session.
    #[error("{0} is not a participant")]
    NotAParticipant(ParticipantId),
    /// A listed id is not one of this client's neighbours.
    #[error("{0} is not a neighbour")]
    NotANeighbour(ParticipantId),
    /// The key directory omits this client.
    #[error("own entry missing from the key directory")]
    SelfMissing,
    /// The key directory shows other keys for this client.
    #[error("own keys altered in the key directory")]
    OwnKeysAltered,
    /// A survivor set does not contain this client.
    #[error("this client is missing from the survivor set")]
    SelfNotSurvivor,
    /// A set has fewer than t of this client's neighbours.
    #[error("{have} neighbours in the set, at least {need} required")]
    TooFewNeighbours {
        /// Neighbours present.
        have: usize,
        /// The threshold.
        need: usize,
    },
    /// Two entries carry the same public key.
    #[error("public key of {0} repeats another key")]
    DuplicatePublicKey(ParticipantId),
    /// A public key has small order (the shared secret would be zero).
    #[error("non-contributory public key from {0}")]
    NonContributoryKey(ParticipantId),
    /// A signature is missing or does not verify.
    #[error("invalid signature from {0}")]
    BadSignature(ParticipantId),
    /// A share ciphertext failed to authenticate.
    #[error("share ciphertext from {0} failed to decrypt")]
    DecryptFailed(ParticipantId),
    /// A decrypted share names the wrong sender, recipient or holder.
    #[error("share from {0} is misaddressed")]
    ShareMisaddressed(ParticipantId),
    /// A survivor set contains a client the previous set did not (sets must shrink).
    #[error("{0} appears in a later set but not in the earlier one")]
    SetGrew(ParticipantId),
    /// The unmasking request's set differs from the one this client signed.
    #[error("unmasking set differs from the signed consistency set")]
    SignedSetChanged,
    /// The request would reveal both kinds of share of one peer.
    #[error("refusing to reveal a second kind of share of {0}")]
    ConflictingReveal(ParticipantId),
    /// The server ended the session.
    #[error("server aborted the session (code {0})")]
    ServerAborted(u16),
    /// A message arrived after the session ended for this client.
    #[error("session already over")]
    Finished,
}

/// A client's abort: which client, in which round, which check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client {client} aborted in round {round:?}: {check}")]
pub struct ClientAbort {
    /// The aborting client.
    pub client: ParticipantId,
    /// The round it was in.
    pub round: Round,
    /// The check that failed.
    pub check: ClientCheck,
}

/// Errors creating a client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientSetupError {
    /// The parameters are invalid.
    #[error(transparent)]
    Params(#[from] super::params::ParamsError),
    /// This client is not a participant.
    #[error("{0} is not a participant of the session")]
    NotAParticipant(ParticipantId),
    /// The input has the wrong length.
    #[error("input has {got} coordinates, the session expects {expected}")]
    InputLength {
        /// Given.
        got: usize,
        /// Expected.
        expected: usize,
    },
    /// The weight is above the session's maximum.
    #[error("weight {weight} exceeds the maximum {max}")]
    Weight {
        /// Given.
        weight: u32,
        /// Maximum.
        max: u32,
    },
    /// The input could not be quantized (NaN or infinity).
    #[error(transparent)]
    Quantize(#[from] crate::quantize::QuantizeError),
    /// The DP pipeline refused the input (non-finite value, rounding failure).
    #[error(transparent)]
    Dp(#[from] crate::ddp::DdpError),
    /// The active model needs the client's identity key, and it must match the parameters.
    #[error("identity key missing or not the one listed in the parameters")]
    IdentityKey,
    /// The client's policy refused the session.
    #[cfg(feature = "client")]
    #[error("policy: {0}")]
    Policy(#[from] super::policy::PolicyError),
    /// [`super::Client::set_input`] was called a second time.
    #[error("the input was already set")]
    InputAlreadySet,
    /// [`super::Client::set_input`] after the masked input was sent, or after the client
    /// finished or aborted.
    #[error("too late to set the input: the masked-input round is over")]
    InputTooLate,
    /// Masking the input given to [`super::Client::set_input`] failed; the client aborted.
    #[error(transparent)]
    Aborted(ClientAbort),
}

/// Why the server refused one message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    /// The message did not decode.
    #[error("malformed message: {0}")]
    Decode(DecodeError),
    /// The sender is not a participant.
    #[error("unknown sender")]
    UnknownSender,
    /// The message belongs to another session.
    #[error("message for another session")]
    WrongSession,
    /// The sender field differs from the authenticated sender.
    #[error("sender field {0} differs from the connection's participant")]
    SenderMismatch(ParticipantId),
    /// The message type does not belong to the current round.
    #[error("message type 0x{got:02x} is not expected now")]
    WrongRound {
        /// Type received.
        got: u8,
    },
    /// The client already sent a different message this round.
    #[error("conflicting second message in the same round")]
    Conflicting,
    /// The client is not (or no longer) part of this round.
    #[error("client is not part of this round")]
    NotInRound,
    /// The public key repeats another client's key or is all zero.
    #[error("public key repeats another key or is invalid")]
    BadPublicKey,
    /// The signature does not verify under the client's identity key.
    #[error("invalid signature")]
    BadSignature,
    /// The ciphertexts are not addressed to exactly the client's neighbours in U1.
    #[error("share ciphertexts not addressed to exactly the neighbours in U1")]
    BadRecipients,
    /// The revealed shares are not exactly the ones requested, or malformed.
    #[error("revealed shares do not match the request")]
    BadShares,
    /// The masked vector does not decode.
    #[error("masked vector: {0}")]
    Vector(PackError),
    /// The session is over.
    #[error("session is over")]
    SessionOver,
}

/// A refused client message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("message from {from} rejected in round {round:?}: {reason}")]
pub struct Rejected {
    /// Authenticated sender.
    pub from: ParticipantId,
    /// The server's round.
    pub round: Round,
    /// Why.
    pub reason: RejectReason,
}

/// Why the server ended the session without a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AbortReason {
    /// Fewer survivors than the protocol needs.
    #[error("only {have} clients left, at least {need} required")]
    TooFewClients {
        /// Clients left.
        have: usize,
        /// Minimum.
        need: usize,
    },
    /// A surviving client has fewer than t surviving neighbours, so its mask cannot be removed.
    #[error("{client} has {have} surviving neighbours, {need} required")]
    NeighbourhoodTooSmall {
        /// The client.
        client: ParticipantId,
        /// Neighbours left.
        have: usize,
        /// The threshold.
        need: usize,
    },
    /// A secret could not be rebuilt from the shares received.
    #[error("could not reconstruct the secret of {0}")]
    ReconstructionFailed(ParticipantId),
    /// The coordinator shut down before the session ended (its driver's decision, e.g. on
    /// SIGTERM after a grace period).
    #[error("the coordinator shut down")]
    Shutdown,
}

impl AbortReason {
    /// The code sent to clients in `Finished` (spec: error registry).
    pub fn code(&self) -> u16 {
        match self {
            AbortReason::TooFewClients { .. } => 1,
            AbortReason::NeighbourhoodTooSmall { .. } => 2,
            AbortReason::ReconstructionFailed(_) => 3,
            AbortReason::Shutdown => 4,
        }
    }
}

/// The server's abort: in which round, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session aborted in round {round:?}: {reason}")]
pub struct SessionAbort {
    /// The round being collected when the session ended.
    pub round: Round,
    /// Why.
    pub reason: AbortReason,
}
