//! What a client accepts from a coordinator, checked before any key is generated (spec section
//! "Client policy and identity roster").
//!
//! The session parameters come from the coordinator, which in the active model is the
//! adversary. [`SessionParams::validate`] only checks that the parameters are internally
//! consistent; a malicious coordinator can send consistent parameters that are still bad for the
//! client: a semi-honest session when the app requires the active model (downgrade), identity
//! keys it owns for every other participant (a Sybil roster: the "sum" is then the client's own
//! input), a corruption bound of 0, a tiny cohort, or a huge one that burns the phone's CPU.
//! [`ClientPolicy::check`] refuses all of these. It runs inside [`super::Client::join`] and the
//! QUIC client, so a client never generates keys for a session its policy refuses.
//!
//! Invariants of a [`Roster`]: ids strictly increasing, keys valid Ed25519 points, no key listed
//! twice. A [`SignedRoster`] only yields its roster after the operator's signature verifies.

use crate::prelude::*;

use crate::crypto::prg::MaskPrg;
use crate::crypto::sign::{SigPurpose, Signature, SigningKey, VerifyingKey, SIGNATURE_LEN};
use crate::ids::{ParticipantId, SessionId};

use super::chooser::{corrupt_neighbour_bound, GRINDING_MARGIN_BITS};
use super::codec::{DecodeError, Reader};
use super::params::{SessionParams, ThreatModel};

/// Why a policy refused a session, or a roster was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The session's vector length is not the app's.
    #[error("vector length {got} instead of {expected}")]
    VectorLength {
        /// Offered.
        got: u32,
        /// The app's.
        expected: u32,
    },
    /// A parameter is below the policy's minimum or above its maximum.
    #[error("{what} is {got}, the policy allows {min}..={max}")]
    OutOfRange {
        /// Which parameter.
        what: &'static str,
        /// Offered value.
        got: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// The session's mask PRG suite is not one the policy allows.
    #[error("mask PRG suite {0} refused by the policy")]
    MaskPrg(MaskPrg),
    /// A semi-honest session offered to a client that requires the active model.
    #[error("semi-honest session refused: the policy requires the active model")]
    Downgrade,
    /// The session tolerates fewer corrupted neighbours than the client assumes.
    #[error(
        "the session tolerates {declared} corrupted neighbours, the policy assumes {required}"
    )]
    CorruptionBound {
        /// The session's `max_corrupt_neighbours`.
        declared: u16,
        /// What the client's assumption requires.
        required: u64,
    },
    /// An active session but no trusted roster to check the identity keys against.
    #[error("active session refused: the policy has no trusted roster to check identity keys")]
    NoRoster,
    /// A participant's identity key is not the one in the trusted roster (or it is not listed).
    #[error("identity key of {0} does not match the trusted roster")]
    RosterMismatch(ParticipantId),
    /// This client is not a participant.
    #[error("{0} is not a participant")]
    NotAParticipant(ParticipantId),
    /// A roster is malformed.
    #[error("invalid roster: {0}")]
    Roster(&'static str),
    /// A signed roster's signature does not verify under the operator key.
    #[error("the roster's operator signature does not verify")]
    RosterSignature,
    /// A signed roster is older than the policy accepts (rollback).
    #[error("roster epoch {got} is older than the minimum {min}")]
    RosterEpoch {
        /// The roster's epoch.
        got: u64,
        /// The policy's minimum.
        min: u64,
    },
    /// The policy requires distributed DP and the session has none.
    #[error("session without distributed DP refused: the policy requires it")]
    DpRequired,
    /// The session's DP noise gives a weaker guarantee than the policy requires.
    #[error(
        "the session's DP noise gives epsilon {epsilon:.3} at delta {delta:e} for {clients} noisy clients, the policy allows at most {max_epsilon}"
    )]
    DpTooWeak {
        /// Achieved epsilon (the papers' bound) for `clients`.
        epsilon: f64,
        /// The delta.
        delta: f64,
        /// Clients whose noise is assumed to be in the sum.
        clients: u64,
        /// The policy's maximum.
        max_epsilon: f64,
    },
    /// The policy itself is unusable (e.g. an assumed corrupted fraction outside `[0, 1)`).
    #[error("invalid policy: {0}")]
    InvalidPolicy(&'static str),
    /// A signed roster did not decode.
    #[error("signed roster: {0}")]
    Decode(#[from] DecodeError),
}

/// The identity keys a client trusts: participant id -> Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    entries: Vec<(ParticipantId, [u8; 32])>,
}

impl Roster {
    /// Builds a roster from `(id, key)` pairs in any order. Refuses repeated ids, repeated keys
    /// (one key must not speak for two participants) and keys that are not valid Ed25519 points.
    pub fn new(mut entries: Vec<(ParticipantId, [u8; 32])>) -> Result<Self, PolicyError> {
        entries.sort_unstable_by_key(|e| e.0);
        if entries.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(PolicyError::Roster("a participant id is listed twice"));
        }
        let mut keys: Vec<&[u8; 32]> = entries.iter().map(|e| &e.1).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(PolicyError::Roster("an identity key is listed twice"));
        }
        if entries
            .iter()
            .any(|(_, k)| VerifyingKey::from_bytes(k).is_err())
        {
            return Err(PolicyError::Roster("a key is not a valid Ed25519 point"));
        }
        Ok(Self { entries })
    }

    /// Parses the text form: one `ID HEXKEY` pair per line (64 hex digits), `#` comments and
    /// blank lines ignored.
    pub fn parse_text(text: &str) -> Result<Self, PolicyError> {
        let mut entries = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(id), Some(key), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(PolicyError::Roster("a line is not `ID HEXKEY`"));
            };
            let id = id
                .parse::<u16>()
                .ok()
                .and_then(ParticipantId::new)
                .ok_or(PolicyError::Roster("a participant id is not in 1..=65535"))?;
            entries.push((id, parse_hex_key(key)?));
        }
        Self::new(entries)
    }

    /// The trusted key of `id`, if listed.
    pub fn key_of(&self, id: ParticipantId) -> Option<&[u8; 32]> {
        self.entries
            .binary_search_by_key(&id, |e| e.0)
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// The entries, ascending by id.
    pub fn entries(&self) -> &[(ParticipantId, [u8; 32])] {
        &self.entries
    }

    /// Checks that every participant of `params` is listed with exactly the identity key the
    /// parameters give it.
    pub fn check(&self, params: &SessionParams) -> Result<(), PolicyError> {
        if params.identity_keys.len() != params.participants.len() {
            return Err(PolicyError::Roster(
                "parameters carry no key per participant",
            ));
        }
        for (id, key) in params.participants.iter().zip(&params.identity_keys) {
            match self.key_of(*id) {
                // Public keys: equality need not be constant-time.
                Some(k) if k == key => {}
                _ => return Err(PolicyError::RosterMismatch(*id)),
            }
        }
        Ok(())
    }

    /// `u16(count) || (u16(id) || key(32))*`, ascending ids.
    fn encode_entries(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.entries.len() as u16).to_be_bytes());
        for (id, key) in &self.entries {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(key);
        }
    }
}

fn parse_hex_key(s: &str) -> Result<[u8; 32], PolicyError> {
    let bad = PolicyError::Roster("an identity key is not 64 hex digits");
    if s.len() != 64 || !s.is_ascii() {
        return Err(bad);
    }
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad.clone())?;
    }
    Ok(k)
}

/// A roster signed by an operator key that clients hold (so a phone pins one key, not a
/// population's keys). Encoding:
///
/// ```text
/// deployment (32) || u64(epoch) || u16(count) || (u16(id) || key(32))* || signature (64)
/// ```
///
/// The signature is Ed25519 (purpose "operator roster", the deployment id in the session-id
/// position) over everything before it. The epoch lets a client refuse rolled-back rosters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRoster {
    /// Which deployment (population, task) the roster is for.
    pub deployment: [u8; 32],
    /// Monotone version number chosen by the operator.
    pub epoch: u64,
    roster: Roster,
    signature: Signature,
}

impl SignedRoster {
    /// Signs `roster` for `deployment` at `epoch` with the operator's key.
    pub fn sign(operator: &SigningKey, deployment: [u8; 32], epoch: u64, roster: Roster) -> Self {
        let payload = Self::payload(epoch, &roster);
        let signature = operator.sign(SigPurpose::OperatorRoster, &SessionId(deployment), &payload);
        Self {
            deployment,
            epoch,
            roster,
            signature,
        }
    }

    fn payload(epoch: u64, roster: &Roster) -> Vec<u8> {
        let mut p = Vec::with_capacity(10 + 34 * roster.entries.len());
        p.extend_from_slice(&epoch.to_be_bytes());
        roster.encode_entries(&mut p);
        p
    }

    /// The encoding above.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.deployment.to_vec();
        out.extend_from_slice(&Self::payload(self.epoch, &self.roster));
        out.extend_from_slice(&self.signature.0);
        out
    }

    /// Decodes (without verifying: see [`Self::verify`]); the roster rules of [`Roster::new`]
    /// apply and ids must be strictly increasing.
    pub fn decode(bytes: &[u8]) -> Result<Self, PolicyError> {
        let mut r = Reader::new(bytes);
        let deployment = r.array()?;
        let epoch = u64::from_be_bytes(r.array()?);
        let count = r.count("roster entries", u16::MAX as usize, 34)?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let id =
                ParticipantId::new(r.u16()?).ok_or(DecodeError::Invalid("participant id 0"))?;
            if entries.last().is_some_and(|(prev, _)| *prev >= id) {
                return Err(DecodeError::Invalid("roster ids not increasing").into());
            }
            entries.push((id, r.array()?));
        }
        let sig: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;
        Ok(Self {
            deployment,
            epoch,
            roster: Roster::new(entries)?,
            signature: Signature(sig),
        })
    }

    /// Verifies the operator's signature, the deployment and the epoch, and returns the roster.
    pub fn verify(
        &self,
        operator: &VerifyingKey,
        deployment: &[u8; 32],
        min_epoch: u64,
    ) -> Result<&Roster, PolicyError> {
        if &self.deployment != deployment {
            return Err(PolicyError::RosterSignature);
        }
        operator
            .verify(
                SigPurpose::OperatorRoster,
                &SessionId(self.deployment),
                &Self::payload(self.epoch, &self.roster),
                &self.signature,
            )
            .map_err(|_| PolicyError::RosterSignature)?;
        if self.epoch < min_epoch {
            return Err(PolicyError::RosterEpoch {
                got: self.epoch,
                min: min_epoch,
            });
        }
        Ok(&self.roster)
    }
}

/// A client's minimum distributed-DP guarantee (see [`ClientPolicy::require_dp`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpRequirement {
    /// Largest acceptable epsilon for one round.
    pub max_epsilon: f64,
    /// The delta at which epsilon is computed.
    pub delta: f64,
}

/// What a client accepts. Build with [`ClientPolicy::new`] (production defaults, documented per
/// field) and adjust fields. Every check runs before any key is generated.
#[derive(Debug, Clone)]
pub struct ClientPolicy {
    /// The app's input length: the session's `L` must equal it (with distributed DP, the DP
    /// configuration's input dimension must; `L` is then the rotation's padded length).
    pub vector_len: u32,
    /// Cohort size range. Default 10..=10 000: below 10 the sum says too much about each
    /// input; above 10 000 the key directory and the complete-graph fallback get expensive.
    pub participants: (usize, usize),
    /// Smallest threshold. Default 2 (no single neighbour can rebuild a secret).
    pub min_threshold: u16,
    /// Largest degree (neighbours per client; each costs a key agreement, two shares and one
    /// mask over the vector). Default 1 000.
    pub max_degree: usize,
    /// Largest masking work `(degree + 1) * (L + 1)` ring elements of keystream. Default 2^32
    /// (a few seconds of one core).
    pub max_mask_elements: u64,
    /// Largest round deadline in milliseconds (how long the coordinator may hold the client).
    /// Default 600 000 (10 minutes).
    pub max_round_timeout_ms: u32,
    /// Refuse semi-honest sessions. Default false; true for apps that distrust the server.
    pub require_active: bool,
    /// The session must tolerate at least this many corrupted neighbours. Default 0.
    pub min_corrupt_neighbours: u16,
    /// The fraction of clients this client assumes may collude with the server: the session
    /// must tolerate the corrupted-neighbour bound the chooser derives from it for the
    /// session's `n` and degree ([`corrupt_neighbour_bound`]). Default 0.05.
    pub assumed_corrupt_rate: f64,
    /// Active model: the corrupted-neighbour bound is computed with this many extra bits of
    /// security against a server that grinds session nonces for a bad graph (it chooses the
    /// nonce). Default [`GRINDING_MARGIN_BITS`] (64); 0 accepts the published budget, which a
    /// determined server can beat by grinding (spec section 20).
    pub grinding_margin_bits: u32,
    /// Require distributed DP on the sum: the session must carry a DP configuration whose noise
    /// gives at most this `(epsilon, delta)` for one round, counting only the noise of
    /// `max(1, t + 1 - c)` clients (the fewest a completed session includes, less the
    /// corrupted ones, which may add none; on SecAgg+ graphs `c` bounds a neighbourhood, not
    /// the whole cohort, so set `min_corrupt_neighbours` accordingly). Default `None`.
    #[cfg(feature = "std")]
    pub require_dp: Option<DpRequirement>,
    /// The identity keys this client trusts (pinned, or taken from a verified
    /// [`SignedRoster`]). Required for active sessions: without it the keys come from the
    /// server, which could list keys it owns for everyone else.
    pub roster: Option<Roster>,
    /// The mask PRG suites this client runs. Default both; a device without AES instructions
    /// may keep only ChaCha20 (AES's constant-time software fallback is several times slower),
    /// and a deployment may pin one suite.
    pub mask_prgs: Vec<MaskPrg>,
}

impl ClientPolicy {
    /// A policy with the defaults documented on each field, for inputs of length `vector_len`.
    pub fn new(vector_len: u32) -> Self {
        Self {
            vector_len,
            participants: (10, 10_000),
            min_threshold: 2,
            max_degree: 1_000,
            max_mask_elements: 1 << 32,
            max_round_timeout_ms: 600_000,
            require_active: false,
            min_corrupt_neighbours: 0,
            assumed_corrupt_rate: 0.05,
            grinding_margin_bits: GRINDING_MARGIN_BITS,
            #[cfg(feature = "std")]
            require_dp: None,
            roster: None,
            mask_prgs: MaskPrg::ALL.to_vec(),
        }
    }

    /// Requires the active model with identity keys from `roster`.
    pub fn require_active(mut self, roster: Roster) -> Self {
        self.require_active = true;
        self.roster = Some(roster);
        self
    }

    /// Checks `params` for participant `me`: ranges, threat model, corruption bound, roster.
    /// Does not replace [`SessionParams::validate`] (which [`super::Client::join`] also runs).
    pub fn check(&self, params: &SessionParams, me: ParticipantId) -> Result<(), PolicyError> {
        let input_len = params
            .dp
            .as_ref()
            .map_or(params.vector_len, |d| d.dim() as u32);
        if input_len != self.vector_len {
            return Err(PolicyError::VectorLength {
                got: input_len,
                expected: self.vector_len,
            });
        }
        if params.index_of(me).is_none() {
            return Err(PolicyError::NotAParticipant(me));
        }
        if !self.mask_prgs.contains(&params.mask_prg) {
            return Err(PolicyError::MaskPrg(params.mask_prg));
        }
        let range = |what, got: u64, min: u64, max: u64| {
            if (min..=max).contains(&got) {
                Ok(())
            } else {
                Err(PolicyError::OutOfRange {
                    what,
                    got,
                    min,
                    max,
                })
            }
        };
        let (lo, hi) = self.participants;
        range("participants", params.n() as u64, lo as u64, hi as u64)?;
        let k = params.degree() as u64;
        range(
            "threshold",
            params.threshold as u64,
            self.min_threshold as u64,
            k,
        )?;
        range("degree", k, 1, self.max_degree as u64)?;
        let work = (k + 1).saturating_mul(params.vector_len as u64 + 1);
        range("masking work", work, 0, self.max_mask_elements)?;
        let longest = params.round_timeout_ms.iter().copied().max().unwrap_or(0);
        range(
            "round deadline (ms)",
            longest as u64,
            0,
            self.max_round_timeout_ms as u64,
        )?;
        if self.require_active && params.threat_model != ThreatModel::Active {
            return Err(PolicyError::Downgrade);
        }
        // A semi-honest server picks its nonce honestly; an active one may grind it.
        let margin = match params.threat_model {
            ThreatModel::Active => self.grinding_margin_bits,
            _ => 0,
        };
        if !(0.0..1.0).contains(&self.assumed_corrupt_rate) {
            return Err(PolicyError::InvalidPolicy(
                "assumed corrupt rate must be in [0, 1)",
            ));
        }
        let n = params.n() as u64;
        let from_rate =
            corrupt_neighbour_bound(n, k, self.assumed_corrupt_rate, margin).map_err(|_| {
                PolicyError::OutOfRange {
                    what: "degree",
                    got: k,
                    min: 1,
                    max: params.n().saturating_sub(1) as u64,
                }
            })?;
        let required = from_rate.max(self.min_corrupt_neighbours as u64);
        if (params.max_corrupt_neighbours as u64) < required {
            return Err(PolicyError::CorruptionBound {
                declared: params.max_corrupt_neighbours,
                required,
            });
        }
        #[cfg(feature = "std")]
        if let Some(req) = &self.require_dp {
            let cfg = params.dp.as_ref().ok_or(PolicyError::DpRequired)?;
            if !(req.max_epsilon > 0.0 && req.delta > 0.0 && req.delta < 1.0) {
                return Err(PolicyError::InvalidPolicy(
                    "DP requirement needs epsilon > 0 and 0 < delta < 1",
                ));
            }
            let clients = (params.threshold as u64 + 1)
                .saturating_sub(params.max_corrupt_neighbours as u64)
                .max(1);
            let g = crate::ddp::accounting::guarantee(cfg, clients, req.delta, 1, false);
            // NaN (an unusable configuration) is refused too.
            if g.epsilon_bound.is_nan() || g.epsilon_bound > req.max_epsilon {
                return Err(PolicyError::DpTooWeak {
                    epsilon: g.epsilon_bound,
                    delta: req.delta,
                    clients,
                    max_epsilon: req.max_epsilon,
                });
            }
        }
        if params.threat_model == ThreatModel::Active {
            self.roster
                .as_ref()
                .ok_or(PolicyError::NoRoster)?
                .check(params)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::params::Graph;
    use crate::ring::Bits;

    fn session(n: u16, graph: Graph, t: u16, c: u16, len: u32) -> SessionParams {
        SessionParams {
            dp: None,
            mask_prg: MaskPrg::Aes128Ctr,
            nonce: [1; 32],
            participants: (1..=n).filter_map(ParticipantId::new).collect(),
            threat_model: ThreatModel::SemiHonest,
            identity_keys: Vec::new(),
            graph,
            threshold: t,
            max_corrupt_neighbours: c,
            vector_len: len,
            bits: Bits::B32,
            clip: 1.0,
            levels: 1 << 16,
            max_weight: 1,
            round_timeout_ms: [30_000; 5],
        }
    }

    fn me() -> ParticipantId {
        ParticipantId::new(1).unwrap()
    }

    #[test]
    fn accepts_a_reasonable_session() {
        let p = session(100, Graph::Harary { degree: 16 }, 8, 7, 1000);
        assert_eq!(ClientPolicy::new(1000).check(&p, me()), Ok(()));
    }

    #[test]
    fn maximums_stop_a_coordinator_from_burning_the_client_cpu() {
        // The finding: 65 535 clients on the complete graph cost 178 s of CPU before any reply.
        let p = session(u16::MAX, Graph::Complete, 40_000, 3000, 1000);
        let err = ClientPolicy::new(1000).check(&p, me()).unwrap_err();
        assert!(matches!(
            err,
            PolicyError::OutOfRange {
                what: "participants",
                ..
            }
        ));
        // Within the cohort range but a complete graph of 5000: degree above 1000.
        let p = session(5000, Graph::Complete, 2600, 250, 10);
        assert!(matches!(
            ClientPolicy::new(10).check(&p, me()),
            Err(PolicyError::OutOfRange { what: "degree", .. })
        ));
        // Degree 16 over 2^28 coordinates: 17 * (2^28 + 1) keystream elements > 2^32.
        let p = session(100, Graph::Harary { degree: 16 }, 8, 7, 1 << 28);
        assert!(matches!(
            ClientPolicy::new(1 << 28).check(&p, me()),
            Err(PolicyError::OutOfRange {
                what: "masking work",
                ..
            })
        ));
        let mut p = session(100, Graph::Harary { degree: 16 }, 8, 7, 1000);
        p.round_timeout_ms[3] = 3_600_000;
        assert!(matches!(
            ClientPolicy::new(1000).check(&p, me()),
            Err(PolicyError::OutOfRange {
                what: "round deadline (ms)",
                ..
            })
        ));
    }

    #[test]
    fn minimums_refuse_tiny_cohorts_and_thresholds() {
        let p = session(2, Graph::Complete, 1, 0, 10);
        assert!(matches!(
            ClientPolicy::new(10).check(&p, me()),
            Err(PolicyError::OutOfRange {
                what: "participants",
                ..
            })
        ));
        let p = session(20, Graph::Complete, 1, 0, 10);
        assert!(matches!(
            ClientPolicy::new(10).check(&p, me()),
            Err(PolicyError::OutOfRange {
                what: "threshold",
                ..
            })
        ));
        let p = session(20, Graph::Complete, 10, 0, 11);
        assert!(matches!(
            ClientPolicy::new(10).check(&p, me()),
            Err(PolicyError::VectorLength { .. })
        ));
    }

    #[test]
    fn corruption_bound_follows_the_assumed_rate() {
        // Complete graph of 100 with 5% assumed corrupt: c must be at least 5.
        let p = session(100, Graph::Complete, 50, 4, 10);
        assert_eq!(
            ClientPolicy::new(10).check(&p, me()),
            Err(PolicyError::CorruptionBound {
                declared: 4,
                required: 5
            })
        );
        let p = session(100, Graph::Complete, 50, 5, 10);
        assert_eq!(ClientPolicy::new(10).check(&p, me()), Ok(()));
        let mut policy = ClientPolicy::new(10);
        policy.assumed_corrupt_rate = f64::NAN;
        assert!(matches!(
            policy.check(&p, me()),
            Err(PolicyError::InvalidPolicy(_))
        ));
        policy.assumed_corrupt_rate = 0.0;
        policy.min_corrupt_neighbours = 6;
        assert!(matches!(
            policy.check(&p, me()),
            Err(PolicyError::CorruptionBound { required: 6, .. })
        ));
    }

    #[test]
    fn dp_requirement() {
        use crate::ddp::{DpConfig, Mechanism};
        let mut policy = ClientPolicy::new(16);
        policy.require_dp = Some(DpRequirement {
            max_epsilon: 1e6,
            delta: 1e-6,
        });
        let mut p = session(100, Graph::Harary { degree: 16 }, 8, 7, 16);
        assert_eq!(policy.check(&p, me()), Err(PolicyError::DpRequired));
        // C = 1 scaled by 100, sigma = 100 per client and coordinate.
        p.dp = Some(
            DpConfig::new(
                Mechanism::DiscreteGaussian,
                32,
                16,
                1.0,
                100.0,
                11_000,
                10_000 << 16,
            )
            .unwrap(),
        );
        assert_eq!(policy.check(&p, me()), Ok(()));
        policy.require_dp = Some(DpRequirement {
            max_epsilon: 1e-3,
            delta: 1e-6,
        });
        // t + 1 - c = 2 clients' noise is all that is guaranteed.
        assert!(matches!(
            policy.check(&p, me()),
            Err(PolicyError::DpTooWeak { clients: 2, .. })
        ));
        policy.require_dp = Some(DpRequirement {
            max_epsilon: 1.0,
            delta: 0.0,
        });
        assert!(matches!(
            policy.check(&p, me()),
            Err(PolicyError::InvalidPolicy(_))
        ));
    }

    #[test]
    fn roster_text_and_rules() {
        let k1 = SigningKey::from_seed(&[1; 32]).verifying_key().to_bytes();
        let k2 = SigningKey::from_seed(&[2; 32]).verifying_key().to_bytes();
        let hex = |k: &[u8; 32]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let text = format!("# roster\n2 {}\n\n1 {}\n", hex(&k2), hex(&k1));
        let r = Roster::parse_text(&text).unwrap();
        assert_eq!(r.key_of(ParticipantId::new(1).unwrap()), Some(&k1));
        assert_eq!(r.entries().len(), 2);
        for bad in [
            format!("0 {}", hex(&k1)),
            format!("1 {}", &hex(&k1)[..63]),
            format!("1 {} extra", hex(&k1)),
            format!("1 {}\n1 {}", hex(&k1), hex(&k2)),
            format!("1 {}\n2 {}", hex(&k1), hex(&k1)),
            format!("1 {}", "zz".repeat(32)),
            "1".to_string(),
        ] {
            assert!(Roster::parse_text(&bad).is_err(), "{bad:?}");
        }
    }
}
