//! Session parameters, their validation, and the session id (spec section "Parameters and
//! session id").
//!
//! Invariants of a [`SessionParams`] that passed [`SessionParams::validate`]: participants are
//! strictly increasing; the graph degree is even, at least 2 and below n (or the graph is
//! complete); `1 <= t <= degree`; `t > c` for the assumed bound `c` on corrupted neighbours; in
//! the active model every participant has a valid, distinct identity key and `2t > degree + c`;
//! the sum of n quantized inputs and of n weights cannot wrap the ring.
//!
//! Why `2t > k + c` in the active model: a malicious server may show different survivor sets to
//! different clients. Each honest neighbour of a client `u` reveals at most one kind of share of
//! `u` (mask key if it believes `u` dropped, self-mask seed otherwise); the `c` corrupted
//! neighbours reveal both. Getting `t` of each kind needs `2(t - c)` honest neighbours, so it is
//! impossible when `2(t - c) > k - c`, i.e. `2t > k + c` (spec section "Threat models").

use crate::prelude::*;

use sha2::{Digest, Sha256};

use crate::crypto::prg::MaskPrg;
use crate::crypto::sign::VerifyingKey;
use crate::crypto::{DOMAIN, PROTOCOL_VERSION};
use crate::ddp::config::DP_CONFIG_LEN;
use crate::ddp::DpConfig;
use crate::ids::{ParticipantId, Round, SessionId};
use crate::quantize::{QuantizeError, Quantizer};
use crate::ring::Bits;

/// Which adversary the session defends against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThreatModel {
    /// Honest-but-curious server: no signatures, no consistency round.
    SemiHonest,
    /// Actively malicious server: signed keys (PKI) and the consistency-check round 3.
    Active,
}

/// The communication graph: who exchanges shares and pairwise masks with whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Graph {
    /// Every client is a neighbour of every other (Bonawitz et al. 2017).
    Complete,
    /// A k-regular Harary graph over a permutation of the participants derived from the session
    /// id (SecAgg+, Bell et al. 2020). `degree` is k, excluding the client itself; even.
    Harary {
        /// Number of neighbours of each client.
        degree: u16,
    },
}

/// Everything the clients and the server must agree on. Hashed into the session id.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionParams {
    /// Caller-chosen value that makes the session id unique (e.g. the training round and a random
    /// coordinator nonce). Never reuse a nonce with the same other parameters.
    pub nonce: [u8; 32],
    /// The participants, strictly increasing.
    pub participants: Vec<ParticipantId>,
    /// The threat model.
    pub threat_model: ThreatModel,
    /// Active model: each participant's Ed25519 identity key (same order as `participants`).
    /// Empty in the semi-honest model.
    pub identity_keys: Vec<[u8; 32]>,
    /// The communication graph.
    pub graph: Graph,
    /// Shamir threshold t per neighbourhood: any t of a client's neighbours can rebuild its
    /// secrets, fewer learn nothing.
    pub threshold: u16,
    /// `c`: the largest number of corrupted clients (colluding with the server) that any one
    /// client's neighbourhood is assumed to contain. For the complete graph this is the number
    /// of corrupted clients; for a SecAgg+ graph the chooser derives it from a corruption rate
    /// ([`super::chooser::choose_active_graph_params`]). Validation requires `t > c`, and in the
    /// active model `2t > degree + c`. Clients check it against their own policy.
    pub max_corrupt_neighbours: u16,
    /// Number of input coordinates L (the masked vector has L + 1 elements: the last carries
    /// the client's weight).
    pub vector_len: u32,
    /// Ring width: sums are computed in Z_{2^bits}.
    pub bits: Bits,
    /// Clip bound c of the quantizer.
    pub clip: f64,
    /// Quantization levels Q.
    pub levels: u64,
    /// Largest weight a client may give its input (1 for a plain sum).
    pub max_weight: u32,
    /// How long the server waits for each round (0 to 4), in milliseconds.
    pub round_timeout_ms: [u32; 5],
    /// The cipher suite that expands mask seeds ([`MaskPrg`]): AES-128-CTR on hardware with AES
    /// instructions, ChaCha20 for cohorts of devices without them.
    pub mask_prg: MaskPrg,
    /// Distributed differential privacy (spec `ddp.md`): when set, every client runs the DP
    /// pipeline (clip, rotation, rounding, discrete noise) instead of the quantizer, on inputs of
    /// length `dp.dim()`; `vector_len` must be the padded dimension, `bits` the configuration's,
    /// `max_weight` 1 (the sum is unweighted), and `clip` / `levels` are unused (they must still
    /// form a valid quantizer, e.g. `levels = 2`). The server's `dequantized_sum` and
    /// `weighted_mean` are then the decoded noisy sum and mean.
    pub dp: Option<DpConfig>,
}

/// Errors of parameter validation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// Fewer than 2 participants.
    #[error("a session needs at least 2 participants, got {0}")]
    TooFewParticipants(usize),
    /// Participants not strictly increasing.
    #[error("participants must be strictly increasing (at position {0})")]
    ParticipantsNotSorted(usize),
    /// Graph degree invalid.
    #[error("Harary degree {degree} is invalid for {n} participants (even, 2 <= k < n)")]
    InvalidDegree {
        /// Requested degree.
        degree: u16,
        /// Participants.
        n: usize,
    },
    /// Threshold invalid.
    #[error("threshold {threshold} is invalid for degree {degree}: {why}")]
    InvalidThreshold {
        /// Requested threshold.
        threshold: u16,
        /// Neighbours per client.
        degree: usize,
        /// Which rule failed.
        why: &'static str,
    },
    /// Identity keys missing or invalid for the active model.
    #[error("active model needs one valid, distinct identity key per participant ({0})")]
    IdentityKeys(&'static str),
    /// The threshold does not defeat the assumed number of corrupted neighbours.
    #[error(
        "threshold {threshold} with degree {degree} does not tolerate {corrupt} corrupted neighbours: {why}"
    )]
    CorruptionBound {
        /// Requested threshold t.
        threshold: u16,
        /// Neighbours per client k.
        degree: usize,
        /// Assumed corrupted neighbours c.
        corrupt: u16,
        /// Which rule failed.
        why: &'static str,
    },
    /// The DP configuration does not fit the other parameters.
    #[error("DP configuration: {0}")]
    Dp(&'static str),
    /// The vector is empty or too long.
    #[error("vector length {0} is outside 1..=2^28")]
    VectorLength(u32),
    /// Quantization or ring overflow.
    #[error(transparent)]
    Quantize(#[from] QuantizeError),
    /// Weights could wrap the ring.
    #[error("{n} clients x max weight {max_weight} does not fit in {bits} bits")]
    WeightOverflow {
        /// Participants.
        n: usize,
        /// Largest weight.
        max_weight: u32,
        /// Ring width.
        bits: u32,
    },
}

/// Largest vector length: 2^28 coordinates (1 GiB of 32-bit elements).
pub const MAX_VECTOR_LEN: u32 = 1 << 28;

impl SessionParams {
    /// Number of participants n.
    pub fn n(&self) -> usize {
        self.participants.len()
    }

    /// Neighbours per client: k for Harary, n - 1 for the complete graph.
    pub fn degree(&self) -> usize {
        match self.graph {
            Graph::Complete => self.n().saturating_sub(1),
            Graph::Harary { degree } => degree as usize,
        }
    }

    /// Position of `id` in `participants`.
    pub fn index_of(&self, id: ParticipantId) -> Option<usize> {
        self.participants.binary_search(&id).ok()
    }

    /// The quantizer every client uses (valid once the parameters are).
    pub fn quantizer(&self) -> Result<Quantizer, QuantizeError> {
        Quantizer::new(self.clip, self.levels, self.bits, self.n() as u64)
    }

    /// The deadline of `round`, in milliseconds after it starts.
    pub fn timeout_ms(&self, round: Round) -> u64 {
        self.round_timeout_ms[round.code() as usize] as u64
    }

    /// Checks every invariant listed in the module docs.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let n = self.n();
        if n < 2 {
            return Err(ParamsError::TooFewParticipants(n));
        }
        if let Some(i) = self.participants.windows(2).position(|w| w[0] >= w[1]) {
            return Err(ParamsError::ParticipantsNotSorted(i + 1));
        }
        if let Graph::Harary { degree } = self.graph {
            if degree < 2 || degree % 2 != 0 || degree as usize >= n {
                return Err(ParamsError::InvalidDegree { degree, n });
            }
        }
        let k = self.degree();
        let t = self.threshold as usize;
        if t == 0 || t > k {
            return Err(ParamsError::InvalidThreshold {
                threshold: self.threshold,
                degree: k,
                why: "need 1 <= t <= degree",
            });
        }
        let c = self.max_corrupt_neighbours as usize;
        let corruption = |why| ParamsError::CorruptionBound {
            threshold: self.threshold,
            degree: k,
            corrupt: self.max_corrupt_neighbours,
            why,
        };
        // c corrupted neighbours hold c shares of each secret: fewer than t.
        if t <= c {
            return Err(corruption("need t > c"));
        }
        match self.threat_model {
            ThreatModel::SemiHonest => {
                if !self.identity_keys.is_empty() {
                    return Err(ParamsError::IdentityKeys("semi-honest sessions carry none"));
                }
            }
            ThreatModel::Active => {
                // Split-view bound (module docs): t shares of both kinds need 2t <= k + c.
                if 2 * t <= k + c {
                    return Err(corruption("the active model needs 2t > degree + c"));
                }
                if self.identity_keys.len() != n {
                    return Err(ParamsError::IdentityKeys("count differs from participants"));
                }
                if self
                    .identity_keys
                    .iter()
                    .any(|k| VerifyingKey::from_bytes(k).is_err())
                {
                    return Err(ParamsError::IdentityKeys(
                        "a key is not a valid Ed25519 point",
                    ));
                }
                // One key per participant: a repeated key would let one signer act as several.
                let mut sorted = self.identity_keys.clone();
                sorted.sort_unstable();
                if sorted.windows(2).any(|w| w[0] == w[1]) {
                    return Err(ParamsError::IdentityKeys("a key is repeated"));
                }
            }
        }
        if self.vector_len == 0 || self.vector_len > MAX_VECTOR_LEN {
            return Err(ParamsError::VectorLength(self.vector_len));
        }
        self.quantizer()?;
        if let Some(dp) = &self.dp {
            if dp.padded_dim() != self.vector_len as usize {
                return Err(ParamsError::Dp(
                    "vector_len must be the padded dimension of the DP configuration",
                ));
            }
            if u32::from(dp.bits()) != self.bits.get() {
                return Err(ParamsError::Dp("its ring width differs from bits"));
            }
            if self.max_weight != 1 {
                return Err(ParamsError::Dp(
                    "DP sums are unweighted: max_weight must be 1",
                ));
            }
        }
        let worst = n as u128 * self.max_weight as u128;
        if self.max_weight == 0 || worst > self.bits.max_element() as u128 {
            return Err(ParamsError::WeightOverflow {
                n,
                max_weight: self.max_weight,
                bits: self.bits.get(),
            });
        }
        Ok(())
    }

    /// The canonical encoding hashed into the session id:
    ///
    /// ```text
    /// nonce (32) || u16(n) || u16(id)*n || u8(threat: 0 semi-honest, 1 active)
    /// || [active: identity key (32) * n] || u8(graph: 0 complete, 1 Harary) || u16(degree)
    /// || u16(t) || u16(c) || u32(L) || u8(bits) || u64(clip as IEEE 754 bits) || u64(Q)
    /// || u32(max weight) || u32(timeout ms) * 5 || u8(mask PRG suite: 1 ChaCha20, 2 AES-128-CTR)
    /// || [DP: u8(1) || DpConfig (39 bytes)]
    /// ```
    ///
    /// Without DP nothing follows the timeouts, so sessions without DP keep their encoding.
    pub fn encode(&self) -> Vec<u8> {
        let n = self.n();
        let mut e = Vec::with_capacity(32 + 2 + 2 * n + 1 + 32 * self.identity_keys.len() + 64);
        e.extend_from_slice(&self.nonce);
        e.extend_from_slice(&(n as u16).to_be_bytes());
        for p in &self.participants {
            e.extend_from_slice(&p.to_be_bytes());
        }
        match self.threat_model {
            ThreatModel::SemiHonest => e.push(0),
            ThreatModel::Active => {
                e.push(1);
                for k in &self.identity_keys {
                    e.extend_from_slice(k);
                }
            }
        }
        e.push(match self.graph {
            Graph::Complete => 0,
            Graph::Harary { .. } => 1,
        });
        e.extend_from_slice(&(self.degree() as u16).to_be_bytes());
        e.extend_from_slice(&self.threshold.to_be_bytes());
        e.extend_from_slice(&self.max_corrupt_neighbours.to_be_bytes());
        e.extend_from_slice(&self.vector_len.to_be_bytes());
        e.push(self.bits.get() as u8);
        e.extend_from_slice(&self.clip.to_bits().to_be_bytes());
        e.extend_from_slice(&self.levels.to_be_bytes());
        e.extend_from_slice(&self.max_weight.to_be_bytes());
        for t in self.round_timeout_ms {
            e.extend_from_slice(&t.to_be_bytes());
        }
        e.push(self.mask_prg.code());
        if let Some(dp) = &self.dp {
            e.push(1);
            e.extend_from_slice(&dp.encode());
        }
        e
    }

    /// Decodes [`Self::encode`]'s output (as the coordinator sends it to clients), rejecting
    /// trailing bytes; the result still has to pass [`Self::validate`].
    pub fn decode(bytes: &[u8]) -> Result<Self, super::codec::DecodeError> {
        use super::codec::{DecodeError, Reader};
        let mut r = Reader::new(bytes);
        let nonce = r.array()?;
        let n = r.count("participants", u16::MAX as usize, 2)?;
        let mut participants = Vec::with_capacity(n);
        for _ in 0..n {
            participants.push(
                ParticipantId::new(r.u16()?).ok_or(DecodeError::Invalid("participant id 0"))?,
            );
        }
        let (threat_model, identity_keys) = match r.u8()? {
            0 => (ThreatModel::SemiHonest, Vec::new()),
            1 => {
                if r.remaining() < 32 * n {
                    return Err(DecodeError::Truncated {
                        offset: bytes.len() - r.remaining(),
                        needed: 32 * n - r.remaining(),
                    });
                }
                let mut keys = Vec::with_capacity(n);
                for _ in 0..n {
                    keys.push(r.array()?);
                }
                (ThreatModel::Active, keys)
            }
            _ => return Err(DecodeError::Invalid("threat model")),
        };
        let graph_kind = r.u8()?;
        let degree = r.u16()?;
        let graph = match graph_kind {
            0 if degree as usize == n.saturating_sub(1) => Graph::Complete,
            1 => Graph::Harary { degree },
            _ => return Err(DecodeError::Invalid("graph")),
        };
        let threshold = r.u16()?;
        let max_corrupt_neighbours = r.u16()?;
        let vector_len = r.u32()?;
        let bits = Bits::new(r.u8()? as u32).map_err(|_| DecodeError::Invalid("bits"))?;
        let clip = f64::from_bits(u64::from_be_bytes(r.array()?));
        let levels = u64::from_be_bytes(r.array()?);
        let max_weight = r.u32()?;
        let mut round_timeout_ms = [0u32; 5];
        for t in &mut round_timeout_ms {
            *t = r.u32()?;
        }
        let mask_prg = MaskPrg::from_code(r.u8()?).ok_or(DecodeError::Invalid("mask PRG suite"))?;
        let dp = if r.remaining() == 0 {
            None
        } else {
            if r.u8()? != 1 {
                return Err(DecodeError::Invalid("DP configuration tag"));
            }
            let b: [u8; DP_CONFIG_LEN] = r.array()?;
            Some(DpConfig::decode(&b).map_err(|_| DecodeError::Invalid("DP configuration"))?)
        };
        r.finish()?;
        Ok(Self {
            nonce,
            participants,
            threat_model,
            identity_keys,
            graph,
            threshold,
            max_corrupt_neighbours,
            vector_len,
            bits,
            clip,
            levels,
            max_weight,
            round_timeout_ms,
            mask_prg,
            dp,
        })
    }

    /// `SHA-256(u8(6) || "secagg" || u8(VERSION) || u8(7) || "session" || encode())`.
    pub fn session_id(&self) -> SessionId {
        let mut h = Sha256::new();
        h.update([DOMAIN.len() as u8]);
        h.update(DOMAIN);
        h.update([PROTOCOL_VERSION, 7]);
        h.update(b"session");
        h.update(self.encode());
        SessionId(h.finalize().into())
    }
}
