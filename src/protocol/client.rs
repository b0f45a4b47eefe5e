//! The client state machine (spec section "Client").
//!
//! A [`Client`] is created with the session parameters, its input and the caller's RNG, and
//! returns its round-0 message. Each server message is passed to [`Client::handle`], which
//! validates it completely, in the documented order, before acting, and returns the reply to send
//! (if any). The first failed check aborts the client for good: it erases its secrets, records the
//! [`ClientAbort`] and never produces another message.
//!
//! Invariants:
//! * states only move forward (keys -> shares -> masked input -> (consistency) -> unmasking ->
//!   finished); a message for another state is an abort, never a half-applied update;
//! * survivor sets only shrink: U2 (senders of the share bundle) is within the key directory,
//!   U3 within U2, and the client is in each;
//! * for every peer, at most one kind of share is ever revealed ([`Client::revealed`] lists them).

use alloc::sync::Arc;

use crate::prelude::*;

use zeroize::Zeroizing;

use super::error::{ClientAbort, ClientCheck, ClientSetupError};
use super::graph::{permutation, Topology};
use super::messages::*;
use super::params::{Graph, SessionParams, ThreatModel};
use super::policy::ClientPolicy;
use crate::crypto::aead::Binding;
use crate::crypto::aead::OpeningKey;
use crate::crypto::kex::{KexPublicKey, KexSecretKey};
use crate::crypto::prg::{mask_and_pack, MaskSeed, MaskSign, SelfMaskSecret};
use crate::crypto::sign::{SigPurpose, SigningKey, VerifyingKey};
use crate::ids::{ParticipantId, Round, SessionId};
use crate::quantize::ChunkQuantizer;
use crate::ring::{packed_len, Elems, RingVec, Word};
use crate::shamir::{self, Share, SHARE_LEN};

/// Where a client stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientStatus {
    /// Waiting for the server's message that ends `round`.
    Waiting(Round),
    /// The server's share bundle arrived before the input: [`Client::set_input`] masks the
    /// input and returns the masked-input message to send.
    NeedsInput,
    /// The session ended with this outcome.
    Finished(Outcome),
    /// The client aborted.
    Aborted(ClientAbort),
}

/// Secrets and input held between round 0 and round 1.
struct KeysSent {
    c_sk: KexSecretKey,
    s_sk: KexSecretKey,
    c_pk: KexPublicKey,
    s_pk: KexPublicKey,
}

/// A neighbour in U1 (from the key directory) and what this client derived for it.
struct Peer {
    id: ParticipantId,
    /// Its round-0 public keys (they authenticate its consistency signature).
    keys: (KexPublicKey, KexPublicKey),
    opening: OpeningKey,
    mask_seed: MaskSeed,
}

/// Held between round 1 and round 2.
struct SharesSent {
    peers: Vec<Peer>,
    self_mask: SelfMaskSecret,
}

/// The share bundle was accepted, but the app has not given its input yet.
struct AwaitingInput {
    shares: SharesSent,
    /// Indices into `shares.peers` of the neighbours in U2.
    senders: Vec<usize>,
    held: Vec<Held>,
}

/// The shares this client holds for one neighbour in U2.
struct Held {
    owner: ParticipantId,
    /// The owner's round-0 public keys, from the key directory.
    keys: (KexPublicKey, KexPublicKey),
    key_share: Share,
    seed_share: Share,
}

/// Held after round 2.
struct InputSent {
    held: Vec<Held>,
    signed: Option<Vec<ParticipantId>>,
}

enum State {
    KeysSent(KeysSent),
    SharesSent(SharesSent),
    AwaitingInput(AwaitingInput),
    InputSent(InputSent),
    Unmasked,
    Done(Outcome),
    Aborted(ClientAbort),
}

/// One client's side of one session.
///
/// Start it with [`Client::start`] (or [`Client::join`] with the input at once), send the
/// returned bytes to the coordinator, pass each message from it to [`Client::handle`] and send
/// back the reply it returns, if any. Give the input with [`Client::set_input`] any time before
/// the masked-input round.
///
/// ```
/// use std::sync::Arc;
/// use secagg::ids::{ParticipantId, Round};
/// use secagg::protocol::{Client, ClientPolicy, ClientSetupError, ClientStatus, SessionParams};
///
/// let ids: Vec<ParticipantId> = (1..=20).filter_map(ParticipantId::new).collect();
/// let params = Arc::new(SessionParams::builder([9; 32], ids.clone(), 2).build()?);
/// let mut rng = secagg::rng::os_rng()?;
/// // The policy refuses sessions that are too small, too costly or too weak, before any key.
/// let tiny = Arc::new(SessionParams::builder([9; 32], ids[..3].to_vec(), 2).build()?);
/// let refused = Client::start(tiny, &ClientPolicy::new(2), ids[0], None, &mut rng);
/// assert!(matches!(refused, Err(ClientSetupError::Policy(_))));
///
/// let (mut client, hello) = Client::start(params, &ClientPolicy::new(2), ids[0], None, &mut rng)?;
/// assert!(!hello.is_empty()); // AdvertiseKeys: send it to the coordinator
/// assert_eq!(client.status(), ClientStatus::Waiting(Round::AdvertiseKeys));
/// // Later, while the keys are being exchanged: the input, read in place, 1 of 2 clipped.
/// assert_eq!(client.set_input(&[0.5f32, 3.0], 1, &mut rng)?, None);
/// assert_eq!(client.clipped_coordinates(), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Client {
    params: Arc<SessionParams>,
    session: SessionId,
    me: ParticipantId,
    neighbours: Vec<ParticipantId>,
    limits: Limits,
    identity: Option<SigningKey>,
    /// This client's round-0 public keys (bound into its consistency signature).
    own_keys: (KexPublicKey, KexPublicKey),
    state: State,
    /// The quantized input (with the weight as its last element) until it is masked.
    input: Option<RingVec>,
    /// Inputs clipped by the quantizer, once the input is set.
    clipped: Option<u64>,
    revealed: Vec<(ParticipantId, ShareKind)>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("me", &self.me)
            .field("session", &self.session)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// This client's neighbours as participant ids (ascending).
fn neighbours_of(params: &SessionParams, session: &SessionId, index: usize) -> Vec<ParticipantId> {
    let n = params.n();
    match params.graph {
        Graph::Harary { degree } if (degree as usize) < n - 1 => {
            // Only this client's row of the Harary graph is needed.
            let perm = permutation(session, n);
            let pos = perm.iter().position(|&p| p as usize == index).unwrap_or(0);
            let mut v: Vec<ParticipantId> = (1..=degree as usize / 2)
                .flat_map(|d| [perm[(pos + d) % n], perm[(pos + n - d) % n]])
                .map(|j| params.participants[j as usize])
                .collect();
            v.sort_unstable();
            v
        }
        _ => {
            let t = Topology::Complete { n };
            t.neighbours(index)
                .map(|j| params.participants[j])
                .collect()
        }
    }
}

impl Client {
    /// Joins a session offered by a coordinator: checks `policy` first (threat model, identity
    /// roster, corruption bound, cohort and cost limits), then proceeds as [`Self::new`]. This is
    /// the entry point for apps; nothing is generated for a refused session.
    pub fn join<R: rand_core::CryptoRng + ?Sized>(
        params: Arc<SessionParams>,
        policy: &ClientPolicy,
        me: ParticipantId,
        identity: Option<SigningKey>,
        input: &[f64],
        weight: u32,
        rng: &mut R,
    ) -> Result<(Client, Vec<u8>), ClientSetupError> {
        policy.check(&params, me)?;
        Self::new(params, me, identity, input, weight, rng)
    }

    /// Joins a session without a policy check: for drivers whose parameters do not come from
    /// an untrusted coordinator (simulations, tests). Quantizes `input` (scaled by `weight / max_weight`), generates this
    /// session's key pairs and returns the client with its `AdvertiseKeys` message.
    pub fn new<R: rand_core::CryptoRng + ?Sized>(
        params: Arc<SessionParams>,
        me: ParticipantId,
        identity: Option<SigningKey>,
        input: &[f64],
        weight: u32,
        rng: &mut R,
    ) -> Result<(Client, Vec<u8>), ClientSetupError> {
        params.validate()?;
        // Quantized before the keys are generated: the RNG is consumed in the order the test
        // vectors' transcripts replay.
        let q = quantize_input(&params, input, weight, rng)?;
        Self::setup(params, me, identity, Some(q), rng)
    }

    /// Starts a session before the input is known (for apps that train while keys are set up):
    /// checks `policy`, generates this session's key pairs and returns the client with its
    /// `AdvertiseKeys` message. Give the input with [`Self::set_input`] before the masked-input
    /// round.
    pub fn start<R: rand_core::CryptoRng + ?Sized>(
        params: Arc<SessionParams>,
        policy: &ClientPolicy,
        me: ParticipantId,
        identity: Option<SigningKey>,
        rng: &mut R,
    ) -> Result<(Client, Vec<u8>), ClientSetupError> {
        policy.check(&params, me)?;
        params.validate()?;
        Self::setup(params, me, identity, None, rng)
    }

    /// Gives the input: `input` (`&[f32]` or `&[f64]`, read in place) scaled by
    /// `weight / max_weight`, quantized with `rng`'s rounding randomness. Allowed until the
    /// masked input is sent: if the server's share bundle already arrived
    /// ([`ClientStatus::NeedsInput`]), the input is masked now and the `MaskedInput` message to
    /// send is returned; otherwise `None`, and the reply to the share bundle will carry it.
    ///
    /// # Errors
    /// [`ClientSetupError::InputLength`], [`ClientSetupError::Weight`],
    /// [`ClientSetupError::Quantize`] (NaN or infinity; the client is unchanged and may retry),
    /// [`ClientSetupError::InputAlreadySet`], or [`ClientSetupError::InputTooLate`] once the
    /// masked input was sent or the client finished or aborted.
    pub fn set_input<T, R>(
        &mut self,
        input: &[T],
        weight: u32,
        rng: &mut R,
    ) -> Result<Option<Vec<u8>>, ClientSetupError>
    where
        T: Copy + Into<f64>,
        R: rand_core::CryptoRng + ?Sized,
    {
        match self.state {
            State::KeysSent(_) | State::SharesSent(_) | State::AwaitingInput(_) => {}
            _ => return Err(ClientSetupError::InputTooLate),
        }
        if self.clipped.is_some() {
            return Err(ClientSetupError::InputAlreadySet);
        }
        if matches!(self.state, State::AwaitingInput(_)) && self.params.dp.is_none() {
            // The share bundle is here: quantize, mask and pack in one pass (no vector).
            check_input(&self.params, input.len(), weight)?;
            let q = self.params.quantizer()?;
            let chunks = q.chunks(
                input,
                weight as f64 / self.params.max_weight as f64,
                Some(u64::from(weight)),
            )?;
            let State::AwaitingInput(a) = core::mem::replace(&mut self.state, State::Unmasked)
            else {
                return Err(ClientSetupError::InputTooLate);
            };
            let mut src = Fresh { chunks, rng };
            let r = self.mask_input(a, &mut src);
            self.clipped = Some(src.chunks.clipped());
            return self.masked_or_aborted(r);
        }
        let (vector, clipped) = quantize_input(&self.params, input, weight, rng)?;
        self.clipped = Some(clipped);
        match core::mem::replace(&mut self.state, State::Unmasked) {
            State::AwaitingInput(a) => {
                let r = self.mask_input(a, &mut Stored(vector));
                self.masked_or_aborted(r)
            }
            other => {
                self.state = other;
                self.input = Some(vector);
                Ok(None)
            }
        }
    }

    /// The masked-input message, or the abort (recorded as this client's state) when a check
    /// made while masking failed.
    fn masked_or_aborted(
        &mut self,
        r: Result<Vec<u8>, ClientCheck>,
    ) -> Result<Option<Vec<u8>>, ClientSetupError> {
        r.map(Some).map_err(|check| {
            let abort = ClientAbort {
                client: self.me,
                round: Round::MaskedInput,
                check,
            };
            self.state = State::Aborted(abort.clone());
            ClientSetupError::Aborted(abort)
        })
    }

    /// How many input coordinates the quantizer clipped to `[-clip, clip]` (after weighting),
    /// once the input is set. The aggregate under-reports each of them; a high count means the
    /// session's clip bound is too small for this client's data.
    pub fn clipped_coordinates(&self) -> Option<u64> {
        self.clipped
    }

    fn setup<R: rand_core::CryptoRng + ?Sized>(
        params: Arc<SessionParams>,
        me: ParticipantId,
        identity: Option<SigningKey>,
        input: Option<(RingVec, u64)>,
        rng: &mut R,
    ) -> Result<(Client, Vec<u8>), ClientSetupError> {
        let index = params
            .index_of(me)
            .ok_or(ClientSetupError::NotAParticipant(me))?;
        let identity = match (params.threat_model, identity) {
            (ThreatModel::Active, Some(k)) => {
                if params.identity_keys.get(index) != Some(&k.verifying_key().to_bytes()) {
                    return Err(ClientSetupError::IdentityKey);
                }
                Some(k)
            }
            (ThreatModel::Active, None) => return Err(ClientSetupError::IdentityKey),
            _ => None,
        };
        let session = params.session_id();
        let (input, clipped) = match input {
            Some((v, c)) => (Some(v), Some(c)),
            None => (None, None),
        };
        let c_sk = KexSecretKey::generate(rng);
        let s_sk = KexSecretKey::generate(rng);
        let (c_pk, s_pk) = (c_sk.public_key(), s_sk.public_key());
        let signature = identity.as_ref().map(|k| {
            k.sign(
                SigPurpose::AdvertiseKeys,
                &session,
                &key_payload(&c_pk, &s_pk),
            )
        });
        let msg = ClientMessage::AdvertiseKeys(AdvertiseKeys {
            sender: me,
            c_pk,
            s_pk,
            signature,
        })
        .encode(&session);
        let client = Client {
            neighbours: neighbours_of(&params, &session, index),
            limits: Limits::new(&params),
            params,
            session,
            me,
            identity,
            own_keys: (c_pk, s_pk),
            state: State::KeysSent(KeysSent {
                c_sk,
                s_sk,
                c_pk,
                s_pk,
            }),
            input,
            clipped,
            revealed: Vec::new(),
        };
        Ok((client, msg))
    }

    /// This client's id.
    pub fn id(&self) -> ParticipantId {
        self.me
    }

    /// The session id.
    pub fn session_id(&self) -> SessionId {
        self.session
    }

    /// This client's neighbours.
    pub fn neighbours(&self) -> &[ParticipantId] {
        &self.neighbours
    }

    /// Every share this client has revealed, with its kind (at most one per peer).
    pub fn revealed(&self) -> &[(ParticipantId, ShareKind)] {
        &self.revealed
    }

    /// The client's current status.
    pub fn status(&self) -> ClientStatus {
        match &self.state {
            State::KeysSent(_) => ClientStatus::Waiting(Round::AdvertiseKeys),
            State::SharesSent(_) => ClientStatus::Waiting(Round::ShareKeys),
            State::AwaitingInput(_) => ClientStatus::NeedsInput,
            State::InputSent(i) if i.signed.is_some() => {
                ClientStatus::Waiting(Round::ConsistencyCheck)
            }
            State::InputSent(_) => ClientStatus::Waiting(Round::MaskedInput),
            State::Unmasked => ClientStatus::Waiting(Round::Unmasking),
            State::Done(o) => ClientStatus::Finished(*o),
            State::Aborted(a) => ClientStatus::Aborted(a.clone()),
        }
    }

    fn round(&self) -> Round {
        match &self.state {
            State::KeysSent(_) => Round::AdvertiseKeys,
            State::SharesSent(_) => Round::ShareKeys,
            State::AwaitingInput(_) => Round::MaskedInput,
            State::InputSent(i) if i.signed.is_some() => Round::ConsistencyCheck,
            State::InputSent(_) => Round::MaskedInput,
            _ => Round::Unmasking,
        }
    }

    /// Processes one server message. Returns the reply to send, if any. After the first error
    /// the client is aborted: its secrets are erased and every later call fails.
    pub fn handle<R: rand_core::CryptoRng + ?Sized>(
        &mut self,
        bytes: &[u8],
        rng: &mut R,
    ) -> Result<Option<Vec<u8>>, ClientAbort> {
        if let State::Aborted(a) = &self.state {
            return Err(a.clone());
        }
        let round = self.round();
        let result = self.dispatch(bytes, rng);
        match result {
            Ok(reply) => Ok(reply),
            Err(check) => {
                let abort = ClientAbort {
                    client: self.me,
                    round,
                    check,
                };
                if !matches!(self.state, State::Done(_)) {
                    // Dropping the old state erases every secret it held.
                    self.state = State::Aborted(abort.clone());
                }
                Err(abort)
            }
        }
    }

    fn dispatch<R: rand_core::CryptoRng + ?Sized>(
        &mut self,
        bytes: &[u8],
        rng: &mut R,
    ) -> Result<Option<Vec<u8>>, ClientCheck> {
        if matches!(self.state, State::Done(_)) {
            return Err(ClientCheck::Finished);
        }
        // 1. Decode within the session's limits; 2. the session id must be ours.
        let (session, msg) =
            ServerMessage::decode(bytes, &self.limits).map_err(ClientCheck::Decode)?;
        if session != self.session {
            return Err(ClientCheck::WrongSession);
        }
        // 3. The message type must be the one this state expects.
        let state = core::mem::replace(&mut self.state, State::Unmasked);
        let unmasked = matches!(state, State::Unmasked);
        match (state, msg) {
            (_, ServerMessage::Finished(f)) => self.on_finished(f, unmasked),
            (State::KeysSent(k), ServerMessage::KeyDirectory(d)) => {
                self.on_directory(k, d, rng).map(Some)
            }
            (State::SharesSent(s), ServerMessage::ShareBundle(b)) => self.on_bundle(s, b, rng),
            (State::InputSent(i), ServerMessage::ConsistencyRequest(c))
                if self.params.threat_model == ThreatModel::Active && i.signed.is_none() =>
            {
                self.on_consistency(i, c).map(Some)
            }
            (State::InputSent(i), ServerMessage::UnmaskRequest(u))
                if self.params.threat_model == ThreatModel::SemiHonest || i.signed.is_some() =>
            {
                self.on_unmask(i, u).map(Some)
            }
            (_, m) => Err(ClientCheck::UnexpectedMessage { got: m.type_code() }),
        }
    }

    fn on_finished(&mut self, f: Finished, unmasked: bool) -> Result<Option<Vec<u8>>, ClientCheck> {
        match f.outcome {
            Outcome::Aborted => Err(ClientCheck::ServerAborted(f.code)),
            // "Included" is only possible once this client revealed its shares.
            Outcome::Included if !unmasked => Err(ClientCheck::UnexpectedMessage {
                got: types::FINISHED,
            }),
            o => {
                self.state = State::Done(o);
                Ok(None)
            }
        }
    }

    fn check_neighbour(&self, id: ParticipantId) -> Result<(), ClientCheck> {
        if self.params.index_of(id).is_none() {
            return Err(ClientCheck::NotAParticipant(id));
        }
        if self.neighbours.binary_search(&id).is_err() {
            return Err(ClientCheck::NotANeighbour(id));
        }
        Ok(())
    }

    fn need_threshold(&self, have: usize) -> Result<(), ClientCheck> {
        let need = self.params.threshold as usize;
        if have < need {
            return Err(ClientCheck::TooFewNeighbours { have, need });
        }
        Ok(())
    }

    /// Round 0 -> 1. Checks, in order: ids are participants and neighbours (or this client);
    /// this client's entry is present and unaltered; at least t neighbours; no key repeats;
    /// (active) every signature verifies; every key agreement is contributory.
    fn on_directory<R: rand_core::CryptoRng + ?Sized>(
        &mut self,
        k: KeysSent,
        d: KeyDirectory,
        rng: &mut R,
    ) -> Result<Vec<u8>, ClientCheck> {
        let mut own = None;
        for e in &d.entries {
            if e.id == self.me {
                own = Some(e);
            } else {
                self.check_neighbour(e.id)?;
            }
        }
        let own = own.ok_or(ClientCheck::SelfMissing)?;
        if own.c_pk != k.c_pk || own.s_pk != k.s_pk {
            return Err(ClientCheck::OwnKeysAltered);
        }
        let others: Vec<&KeyEntry> = d.entries.iter().filter(|e| e.id != self.me).collect();
        self.need_threshold(others.len())?;
        let mut keys: Vec<[u8; 32]> = d
            .entries
            .iter()
            .flat_map(|e| [e.c_pk.0, e.s_pk.0])
            .collect();
        keys.sort_unstable();
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            let dup = d
                .entries
                .iter()
                .find(|e| e.c_pk.0 == w[0] || e.s_pk.0 == w[0])
                .map_or(self.me, |e| e.id);
            return Err(ClientCheck::DuplicatePublicKey(dup));
        }
        if self.params.threat_model == ThreatModel::Active {
            for e in &others {
                let idx = self
                    .params
                    .index_of(e.id)
                    .ok_or(ClientCheck::NotAParticipant(e.id))?;
                let vk = self
                    .params
                    .identity_keys
                    .get(idx)
                    .and_then(|b| VerifyingKey::from_bytes(b).ok())
                    .ok_or(ClientCheck::BadSignature(e.id))?;
                let sig = e
                    .signature
                    .as_ref()
                    .ok_or(ClientCheck::BadSignature(e.id))?;
                vk.verify(
                    SigPurpose::AdvertiseKeys,
                    &self.session,
                    &key_payload(&e.c_pk, &e.s_pk),
                    sig,
                )
                .map_err(|_| ClientCheck::BadSignature(e.id))?;
            }
        }
        // Share the mask key and a fresh self-mask secret among the neighbours in U1.
        let self_mask = SelfMaskSecret::random(rng);
        let holders: Vec<ParticipantId> = others.iter().map(|e| e.id).collect();
        let t = self.params.threshold as usize;
        let too_few = |_| ClientCheck::TooFewNeighbours {
            have: holders.len(),
            need: t,
        };
        let key_shares = shamir::split(&k.s_sk.to_bytes(), t, &holders, rng).map_err(too_few)?;
        let seed_shares = shamir::split(self_mask.expose(), t, &holders, rng).map_err(too_few)?;
        let mut peers = Vec::with_capacity(others.len());
        let mut ciphertexts = Vec::with_capacity(others.len());
        for ((e, ks), ss) in others.iter().zip(&key_shares).zip(&seed_shares) {
            let enc = k
                .c_sk
                .agree(&e.c_pk)
                .map_err(|_| ClientCheck::NonContributoryKey(e.id))?;
            let mask = k
                .s_sk
                .agree(&e.s_pk)
                .map_err(|_| ClientCheck::NonContributoryKey(e.id))?;
            // Each sealing key is derived once and consumed by its single `seal`.
            let (sealing, opening) = enc.into_share_keys(&self.session, self.me, e.id);
            let mut pt = Zeroizing::new([0u8; SHARE_PLAINTEXT_LEN]);
            pt[..2].copy_from_slice(&self.me.to_be_bytes());
            pt[2..4].copy_from_slice(&e.id.to_be_bytes());
            pt[4..4 + SHARE_LEN].copy_from_slice(&*ks.to_bytes());
            pt[4 + SHARE_LEN..].copy_from_slice(&*ss.to_bytes());
            let binding = Binding {
                session: self.session,
                round: Round::ShareKeys,
                sender: self.me,
                recipient: e.id,
            };
            let ct = sealing.seal(&binding, &*pt);
            let mut arr = [0u8; SHARE_CIPHERTEXT_LEN];
            arr.copy_from_slice(&ct);
            ciphertexts.push((e.id, arr));
            peers.push(Peer {
                id: e.id,
                keys: (e.c_pk, e.s_pk),
                opening,
                mask_seed: mask.pairwise_mask_seed(&self.session, self.me, e.id),
            });
        }
        let msg = ClientMessage::ShareKeys(ShareKeys {
            sender: self.me,
            commitment: self_mask.commitment(&self.session, self.me),
            ciphertexts,
        })
        .encode(&self.session);
        self.state = State::SharesSent(SharesSent { peers, self_mask });
        Ok(msg)
    }

    /// Round 1 -> 2. Checks, in order: every sender is a neighbour from the key directory (U2
    /// within U1); at least t senders; every ciphertext decrypts under its binding and names this
    /// sender, this recipient and this holder. Then masks the input, or waits for it
    /// ([`Self::set_input`]) and returns `None`.
    fn on_bundle<R: rand_core::CryptoRng + ?Sized>(
        &mut self,
        s: SharesSent,
        b: ShareBundle,
        _rng: &mut R,
    ) -> Result<Option<Vec<u8>>, ClientCheck> {
        let mut senders = Vec::with_capacity(b.ciphertexts.len());
        for (from, _) in &b.ciphertexts {
            self.check_neighbour(*from)?;
            let i = s
                .peers
                .binary_search_by_key(from, |p| p.id)
                .map_err(|_| ClientCheck::SetGrew(*from))?;
            senders.push(i);
        }
        self.need_threshold(senders.len())?;
        let mut held = Vec::with_capacity(senders.len());
        for ((from, ct), &i) in b.ciphertexts.iter().zip(&senders) {
            let binding = Binding {
                session: self.session,
                round: Round::ShareKeys,
                sender: *from,
                recipient: self.me,
            };
            let pt = s.peers[i]
                .opening
                .open(&binding, ct)
                .map_err(|_| ClientCheck::DecryptFailed(*from))?;
            if pt.len() != SHARE_PLAINTEXT_LEN
                || pt[..2] != from.to_be_bytes()
                || pt[2..4] != self.me.to_be_bytes()
            {
                return Err(ClientCheck::ShareMisaddressed(*from));
            }
            let key_share = Share::from_bytes(&pt[4..4 + SHARE_LEN])
                .map_err(|_| ClientCheck::ShareMisaddressed(*from))?;
            let seed_share = Share::from_bytes(&pt[4 + SHARE_LEN..])
                .map_err(|_| ClientCheck::ShareMisaddressed(*from))?;
            if key_share.x() != self.me || seed_share.x() != self.me {
                return Err(ClientCheck::ShareMisaddressed(*from));
            }
            held.push(Held {
                owner: *from,
                keys: s.peers[i].keys,
                key_share,
                seed_share,
            });
        }
        let waiting = AwaitingInput {
            shares: s,
            senders,
            held,
        };
        match self.input.take() {
            Some(input) => self.mask_input(waiting, &mut Stored(input)).map(Some),
            None => {
                self.state = State::AwaitingInput(waiting);
                Ok(None)
            }
        }
    }

    /// y = x + PRG(self seed) + sum_{v > u} PRG(s_uv) - sum_{v < u} PRG(s_uv), over U2; moves
    /// to `InputSent` and returns the `MaskedInput` message. The plaintext `x` comes from `src`
    /// a chunk at a time; each chunk is masked by all k + 1 keystreams and packed straight into
    /// the message while in cache (no masked vector, no packed copy).
    fn mask_input<S: Plain>(
        &mut self,
        a: AwaitingInput,
        src: &mut S,
    ) -> Result<Vec<u8>, ClientCheck> {
        let AwaitingInput {
            shares: SharesSent { peers, self_mask },
            senders,
            held,
        } = a;
        let self_seed = self_mask.mask_seed(&self.session, self.me);
        let mut masks = Vec::with_capacity(senders.len() + 1);
        masks.push((&self_seed, MaskSign::Add));
        for &i in &senders {
            let p = &peers[i];
            let sign = if self.me < p.id {
                MaskSign::Add
            } else {
                MaskSign::Sub
            };
            masks.push((&p.mask_seed, sign));
        }
        let bits = self.params.bits;
        let len = src.len();
        // Refused only for a vector longer than the PRG's keystream, which validated
        // parameters exclude.
        let too_long = ClientCheck::TooFewNeighbours { have: 0, need: 0 };
        let body = packed_len(bits, len).ok_or(too_long.clone())?;
        let mut msg = ClientMessage::MaskedInput(MaskedInput {
            sender: self.me,
            packed: Vec::new(),
        })
        .encode(&self.session);
        let head = msg.len();
        msg.reserve_exact(body);
        msg.resize(head + body, 0);
        let prg = self.params.mask_prg;
        if bits.is_narrow() {
            mask_and_pack::<u32>(
                prg,
                &masks,
                bits,
                len,
                |at, d| src.fill(at, d),
                &mut msg[head..],
            )
        } else {
            mask_and_pack::<u64>(
                prg,
                &masks,
                bits,
                len,
                |at, d| src.fill(at, d),
                &mut msg[head..],
            )
        }
        .map_err(|_| too_long)?;
        self.state = State::InputSent(InputSent { held, signed: None });
        Ok(msg)
    }

    /// Checks a survivor set U3: this client is in it; every member is a participant; each
    /// neighbour in it sent this client shares (U3 within U2); at least t neighbours.
    fn check_survivors(&self, held: &[Held], u3: &[ParticipantId]) -> Result<(), ClientCheck> {
        if u3.binary_search(&self.me).is_err() {
            return Err(ClientCheck::SelfNotSurvivor);
        }
        let mut in_set = 0;
        for &v in u3 {
            if self.params.index_of(v).is_none() {
                return Err(ClientCheck::NotAParticipant(v));
            }
            if v != self.me && self.neighbours.binary_search(&v).is_ok() {
                if held.binary_search_by_key(&v, |h| h.owner).is_err() {
                    return Err(ClientCheck::SetGrew(v));
                }
                in_set += 1;
            }
        }
        self.need_threshold(in_set)
    }

    /// Round 2 -> 3 (active model): check U3, sign it.
    fn on_consistency(
        &mut self,
        mut i: InputSent,
        c: ConsistencyRequest,
    ) -> Result<Vec<u8>, ClientCheck> {
        self.check_survivors(&i.held, &c.survivors)?;
        let key = self
            .identity
            .as_ref()
            .ok_or(ClientCheck::BadSignature(self.me))?;
        let signature = key.sign(
            SigPurpose::ConsistencyCheck,
            &self.session,
            &consistency_payload(&c.survivors, &self.own_keys.0, &self.own_keys.1),
        );
        i.signed = Some(c.survivors);
        self.state = State::InputSent(i);
        Ok(ClientMessage::ConsistencySignature(ConsistencySignature {
            sender: self.me,
            signature,
        })
        .encode(&self.session))
    }

    /// Round 4. Checks, in order: U3 as in [`Self::check_survivors`]; (active) U3 equals the set
    /// this client signed, and at least t distinct neighbours in U3 signed it validly. Then
    /// reveals, for each neighbour in U2, its self-mask share if it is in U3 and its mask-key
    /// share otherwise, never both kinds for one peer.
    fn on_unmask(&mut self, i: InputSent, u: UnmaskRequest) -> Result<Vec<u8>, ClientCheck> {
        self.check_survivors(&i.held, &u.survivors)?;
        if let Some(signed) = &i.signed {
            if *signed != u.survivors {
                return Err(ClientCheck::SignedSetChanged);
            }
            let mut valid = 0;
            for (id, sig) in &u.signatures {
                self.check_neighbour(*id)?;
                if u.survivors.binary_search(id).is_err() {
                    return Err(ClientCheck::SetGrew(*id));
                }
                let idx = self
                    .params
                    .index_of(*id)
                    .ok_or(ClientCheck::NotAParticipant(*id))?;
                let vk = self
                    .params
                    .identity_keys
                    .get(idx)
                    .and_then(|b| VerifyingKey::from_bytes(b).ok())
                    .ok_or(ClientCheck::BadSignature(*id))?;
                // The signer's own round-0 keys are part of what it signed.
                let keys = i
                    .held
                    .binary_search_by_key(id, |h| h.owner)
                    .map(|at| i.held[at].keys)
                    .map_err(|_| ClientCheck::SetGrew(*id))?;
                let payload = consistency_payload(&u.survivors, &keys.0, &keys.1);
                vk.verify(SigPurpose::ConsistencyCheck, &self.session, &payload, sig)
                    .map_err(|_| ClientCheck::BadSignature(*id))?;
                valid += 1;
            }
            self.need_threshold(valid)?;
        }
        let mut shares = Vec::with_capacity(i.held.len());
        for h in &i.held {
            let kind = if u.survivors.binary_search(&h.owner).is_ok() {
                ShareKind::SelfMask
            } else {
                ShareKind::MaskKey
            };
            if self
                .revealed
                .iter()
                .any(|(o, k)| *o == h.owner && *k != kind)
            {
                return Err(ClientCheck::ConflictingReveal(h.owner));
            }
            let share = match kind {
                ShareKind::SelfMask => h.seed_share.to_bytes(),
                ShareKind::MaskKey => h.key_share.to_bytes(),
            };
            shares.push(RevealedShare {
                owner: h.owner,
                kind,
                share: *share,
            });
        }
        for s in &shares {
            if !self.revealed.iter().any(|(o, _)| *o == s.owner) {
                self.revealed.push((s.owner, s.kind));
            }
        }
        self.state = State::Unmasked;
        Ok(ClientMessage::UnmaskShares(UnmaskShares {
            sender: self.me,
            shares,
        })
        .encode(&self.session))
    }
}

/// Checks the input's length and weight and quantizes `weight / max_weight * input` with the
/// weight appended as the last element. Returns the vector and the number of clipped inputs.
fn quantize_input<T, R>(
    params: &SessionParams,
    input: &[T],
    weight: u32,
    rng: &mut R,
) -> Result<(RingVec, u64), ClientSetupError>
where
    T: Copy + Into<f64>,
    R: rand_core::CryptoRng + ?Sized,
{
    // Without the DP pipeline the input would go out un-noised in a session whose privacy
    // rests on every client's noise share: refuse instead.
    #[cfg(not(feature = "std"))]
    if params.dp.is_some() {
        return Err(ClientSetupError::Dp(crate::ddp::DdpError::Unsupported));
    }
    // With DP the input has the configuration's dimension; the masked vector is padded.
    check_input(params, input.len(), weight)?;
    // With DP: clip, rotate, round and add this client's noise share (ddp.md), then append the
    // weight. The pipeline reads the whole input as f64 (it rotates it).
    #[cfg(feature = "std")]
    if let Some(dp) = &params.dp {
        let session = params.session_id();
        let rotation = crate::ddp::Rotation::new(&session, dp.padded_dim());
        let x: Vec<f64> = input.iter().map(|&v| v.into()).collect();
        let (v, report) = crate::ddp::encode(dp, &rotation, &x, rng)?;
        let vector = RingVec::from_u64s_reduced(params.bits, v.iter().chain([u64::from(weight)]));
        return Ok((vector, u64::from(report.clipped)));
    }
    let q = params.quantizer()?;
    let r = q.quantize_report(
        input,
        weight as f64 / params.max_weight as f64,
        Some(u64::from(weight)),
        rng,
    )?;
    Ok((r.vector, r.clipped))
}

/// Checks the input's length (the session's `L`, or the DP configuration's dimension) and the
/// weight, before any randomness is drawn.
fn check_input(params: &SessionParams, got: usize, weight: u32) -> Result<(), ClientSetupError> {
    #[cfg(feature = "std")]
    let expected = params
        .dp
        .as_ref()
        .map_or(params.vector_len as usize, |dp| dp.dim());
    #[cfg(not(feature = "std"))]
    let expected = params.vector_len as usize;
    if got != expected {
        return Err(ClientSetupError::InputLength { got, expected });
    }
    if weight > params.max_weight {
        return Err(ClientSetupError::Weight {
            weight,
            max: params.max_weight,
        });
    }
    Ok(())
}

/// Where the masking pass reads the plaintext from, a chunk at a time in order.
trait Plain {
    /// Elements in the vector.
    fn len(&self) -> usize;
    /// Writes elements `at .. at + dst.len()`.
    fn fill<W: Word>(&mut self, at: usize, dst: &mut [W]);
}

/// A vector quantized earlier (the input arrived before the share bundle, or through DP).
struct Stored(RingVec);

impl Plain for Stored {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn fill<W: Word>(&mut self, at: usize, dst: &mut [W]) {
        match self.0.elems_mut() {
            Elems::Narrow(v) => copy_words(v, at, dst),
            Elems::Wide(v) => copy_words(v, at, dst),
        }
    }
}

fn copy_words<V: Word, W: Word>(v: &[V], at: usize, dst: &mut [W]) {
    let src = v.get(at..).unwrap_or(&[]);
    for (d, x) in dst.iter_mut().zip(src) {
        *d = W::from_u64(x.to_u64());
    }
}

/// The input quantized as the masking pass reads it.
struct Fresh<'a, 'r, T, R: ?Sized> {
    chunks: ChunkQuantizer<'a, T>,
    rng: &'r mut R,
}

impl<T: Copy + Into<f64>, R: rand_core::CryptoRng + ?Sized> Plain for Fresh<'_, '_, T, R> {
    fn len(&self) -> usize {
        self.chunks.len()
    }
    fn fill<W: Word>(&mut self, at: usize, dst: &mut [W]) {
        let rng = &mut *self.rng;
        self.chunks.fill(at, dst, &mut || rng.next_u64());
    }
}
