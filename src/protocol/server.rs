//! The server (coordinator) state machine (spec section "Server").
//!
//! Sans-IO: the driver feeds authenticated client messages ([`Server::handle_message`]),
//! connection losses ([`Server::client_gone`]) and time ([`Server::handle_timeout`]), and takes
//! out messages to send ([`Server::poll_transmit`]) and the next deadline
//! ([`Server::poll_timeout`]). Time is a caller-supplied millisecond counter; the server never
//! reads a clock or a global RNG.
//!
//! Invariants:
//! * survivor sets shrink: U1 ⊇ U2 ⊇ U3 ⊇ U4 ⊇ U5; a client leaves for good when it misses a
//!   deadline, its connection closes, or it sends an invalid message;
//! * a client whose connection closes after its masked input was accepted stays in U3 (its input
//!   is already in the accumulator) and leaves when the next round starts;
//! * masked inputs are added into one accumulator as they arrive (O(L) memory), each at most once;
//! * before any unmasking request is sent, every surviving input's self-mask seed and every
//!   needed dropped client's key is held by at least t surviving neighbours; otherwise the session
//!   aborts and nothing is revealed;
//! * a reconstructed mask key is checked against the public key its owner advertised.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

use super::aggregate::Decoding;
use super::error::{AbortReason, RejectReason, Rejected, SessionAbort};
use super::graph::Topology;
use super::messages::*;
use super::params::{SessionParams, ThreatModel};
use crate::crypto::kex::{KexPublicKey, KexSecretKey};
#[cfg(not(feature = "server"))]
use crate::crypto::prg::apply_masks;
#[cfg(feature = "server")]
use crate::crypto::prg::apply_masks_parallel;
use crate::crypto::prg::{MaskSeed, MaskSign, SelfMaskSecret};
use crate::crypto::sign::{SigPurpose, Signature, VerifyingKey};
use crate::ids::{ParticipantId, Round, SessionId};
use crate::quantize::Quantizer;
use crate::ring::RingVec;
use crate::shamir::{LagrangeCache, Reconstructor, Share};

/// What happened to one client, as far as the server knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientFate {
    /// Still taking part; has completed rounds up to the given one (None: nothing yet).
    Active(Option<Round>),
    /// Left the session while the server was collecting `round`.
    Dropped {
        /// The round being collected.
        round: Round,
        /// Why.
        why: DropReason,
    },
    /// The session ended with this client's input included.
    Included,
    /// The session ended without this client's input.
    Excluded,
}

/// Why a client left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// It missed the round's deadline.
    Deadline,
    /// The driver reported its connection closed.
    ConnectionLost,
    /// It sent an invalid message.
    InvalidMessage,
    /// Too few of its neighbours remained for it to continue safely.
    IsolatedNeighbourhood,
}

pub use super::aggregate::{AggregateOutput, DecodedValues};

/// Sizes of the survivor sets as each round closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetSizes {
    /// (set name, size) in order: U1, U2, U3, (U4), U5.
    pub sets: Vec<(&'static str, usize)>,
}

/// A point in the unmasking step, reported to the observer installed with
/// [`Server::observe_unmasking`] (a driver that wants a timing breakdown reads its own clock there;
/// the server never does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnmaskPhase {
    /// Unmasking starts (it may start again if a reconstruction fails before the deadline).
    Start,
    /// Every needed secret was rebuilt from its Shamir shares.
    SecretsRebuilt,
    /// The seed of every mask to remove was derived (X25519 agreements for dropped clients).
    SeedsDerived,
    /// Every mask was regenerated and removed from the accumulator.
    MasksRemoved,
}

/// The size of the unmasking work, once a session has completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnmaskStats {
    /// Secrets rebuilt from Shamir shares (self-mask seeds plus dropped clients' mask keys).
    pub secrets: usize,
    /// Self masks regenerated (one per included client).
    pub self_masks: usize,
    /// Pairwise masks regenerated (dropped clients with their surviving neighbours).
    pub pairwise_masks: usize,
    /// Threads the parallel phases ran on.
    pub threads: usize,
}

/// Session events as the server decides them, for metrics and logs. Any driver (the QUIC
/// coordinator, a test harness, another transport) installs one with
/// [`Server::set_observer`] and sees the same figures. Callbacks run inside the server's
/// methods, so they must be quick and must not block.
pub trait ServerObserver: Send + Sync {
    /// `client` left the session while the server was collecting `round`. (A client whose
    /// masked input is already in the sum can leave later and still be included.)
    fn client_dropped(&mut self, _client: ParticipantId, _round: Round, _why: DropReason) {}
    /// `round` closed at `now` (the caller's clock), with its survivor set's name and size if
    /// the round records one.
    fn round_closed(&mut self, _round: Round, _set: Option<(&'static str, usize)>, _now: u64) {}
    /// A message was refused.
    fn message_rejected(&mut self, _rejected: &Rejected) {}
    /// The session ended with a sum or an abort.
    fn session_ended(&mut self, _result: &Result<AggregateOutput, SessionAbort>) {}
}

/// An observer of the unmasking phases.
pub type UnmaskObserver = Box<dyn FnMut(UnmaskPhase) + Send>;

fn worker_threads() -> usize {
    #[cfg(feature = "server")]
    return rayon::current_num_threads();
    #[cfg(not(feature = "server"))]
    1
}

#[derive(Default)]
struct Slot {
    alive: bool,
    /// The connection closed after the client's masked input was accepted: it stays in U3 and
    /// leaves when the next round starts.
    gone: bool,
    completed: Option<Round>,
    fate: Option<ClientFate>,
    keys: Option<(KexPublicKey, KexPublicKey)>,
    key_signature: Option<Signature>,
    commitment: Option<[u8; 32]>,
    outgoing: Vec<(ParticipantId, [u8; SHARE_CIPHERTEXT_LEN])>,
    /// Fingerprint of the message accepted in the last completed round (retransmission check).
    fingerprint: Option<Fingerprint>,
    signature: Option<Signature>,
}

/// A queued message: for one recipient, or the same bytes for several (copied when polled).
enum Outgoing {
    One(ParticipantId, Vec<u8>),
    Same(VecDeque<ParticipantId>, Arc<Vec<u8>>),
    /// `Finished` for a client dropped from the session, encoded when polled: `Excluded` if
    /// the session is still going or produced a sum, `Aborted` if it ended without one (a
    /// client dropped in the step that aborts the session must not be told a sum exists).
    DropNotice(ParticipantId),
}

/// Shares collected for one secret that must be rebuilt.
struct Needed {
    owner: usize,
    kind: ShareKind,
    shares: Vec<Share>,
}

/// The coordinator's side of one session.
///
/// Feed it each client's bytes with [`Server::handle_message`], connection losses with
/// [`Server::client_gone`] and time with [`Server::handle_timeout`] (when
/// [`Server::poll_timeout`] says), and send what [`Server::poll_transmit`] returns, draining it
/// every time. The crate root has a complete round.
///
/// ```
/// use std::sync::Arc;
/// use secagg::ids::{ParticipantId, Round};
/// use secagg::protocol::{Server, SessionParams};
///
/// let ids: Vec<ParticipantId> = (1..=10).filter_map(ParticipantId::new).collect();
/// let params = Arc::new(SessionParams::builder([2; 32], ids.clone(), 4).build()?);
/// let mut server = Server::new(params, 0)?;
/// assert_eq!(server.round(), Round::AdvertiseKeys);
/// // Garbage is refused with a reason; the session carries on.
/// assert!(server.handle_message(ids[0], b"not a message", 5).is_err());
/// // Nobody answered: at the deadline round 0 closes with too few clients and the session
/// // aborts, and every participant is told.
/// let deadline = server.poll_timeout().ok_or("no deadline")?;
/// server.handle_timeout(deadline);
/// assert!(matches!(server.result(), Some(Err(_))));
/// let mut told = 0;
/// while server.poll_transmit().is_some() {
///     told += 1;
/// }
/// assert_eq!(told, 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Server {
    params: Arc<SessionParams>,
    session: SessionId,
    topo: Topology,
    limits: Limits,
    quantizer: Quantizer,
    round: Round,
    deadline: u64,
    slots: Vec<Slot>,
    /// Membership of U1, U2, U3, fixed as rounds 0, 1, 2 close.
    u1: Vec<bool>,
    u2: Vec<bool>,
    u3: Vec<bool>,
    accumulator: RingVec,
    needed: Vec<Needed>,
    /// Per owner index, the position in `needed` of its secret (at most one per owner: the
    /// self-mask seed of a member of U3 or the mask key of a dropped one), if it is needed.
    needed_index: Vec<Option<(ShareKind, usize)>>,
    outbox: VecDeque<Outgoing>,
    /// Every public key accepted in round 0 (both keys of each client), for the repeat check.
    seen_keys: HashSet<[u8; 32]>,
    result: Option<Result<AggregateOutput, SessionAbort>>,
    sizes: SetSizes,
    observer: Option<Mutex<UnmaskObserver>>,
    events: Option<Box<dyn ServerObserver>>,
    /// Whether `events` was told the session ended (it is told once).
    end_reported: bool,
    /// The last round `events` was told closed (each round is reported once).
    close_reported: Option<Round>,
    stats: Option<UnmaskStats>,
    /// No client below this index is expected in the open round (see `maybe_close`).
    unexpected_below: usize,
    /// Needed secrets that hold at least t shares.
    secrets_ready: usize,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("session", &self.session)
            .field("round", &self.round)
            .field("finished", &self.result.is_some())
            .finish_non_exhaustive()
    }
}

/// A fingerprint of a whole message for the retransmission check (spec section 18, "Per
/// message"): the length and, over the message read as little-endian 64-bit words (the last one
/// zero-padded) dealt round-robin to four lanes, each lane's Fletcher-style pair
/// `a = sum w`, `b = sum of the running a` (mod 2^64).
///
/// Deliberately not a cryptographic hash. A collision can only make a *differing* repeat of an
/// already accepted message be ignored instead of refused with `Conflicting`; both leave the
/// session unchanged (the first message stays the one counted), so no collision, however
/// crafted, changes what the server computes. The sender is the only party that can choose the
/// repeat, and it could equally send a byte-identical one. What the check must get right is
/// that an identical repeat is never refused, which any deterministic function does; the two
/// sums only make an accidental differing repeat (a client bug) show up as a refusal. All lanes
/// are independent additions, so it runs at memory speed (a SHA-256 of every ~400 KB masked
/// input cost more than adding it into the accumulator).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Fingerprint {
    len: usize,
    a: [u64; 4],
    b: [u64; 4],
}

impl Fingerprint {
    fn of(bytes: &[u8]) -> Self {
        let mut a = [0u64; 4];
        let mut b = [0u64; 4];
        let mut absorb = |chunk: &[u8; 32]| {
            for (j, w) in chunk.as_chunks::<8>().0.iter().enumerate() {
                a[j] = a[j].wrapping_add(u64::from_le_bytes(*w));
                b[j] = b[j].wrapping_add(a[j]);
            }
        };
        let (chunks, rest) = bytes.as_chunks::<32>();
        chunks.iter().for_each(&mut absorb);
        if !rest.is_empty() {
            let mut last = [0u8; 32];
            last[..rest.len()].copy_from_slice(rest);
            absorb(&last);
        }
        Fingerprint {
            len: bytes.len(),
            a,
            b,
        }
    }
}

impl Server {
    /// Starts a session at time `now` (milliseconds, any epoch) and begins collecting round 0.
    pub fn new(params: Arc<SessionParams>, now: u64) -> Result<Self, super::params::ParamsError> {
        params.validate()?;
        let session = params.session_id();
        let topo = Topology::new(&params, &session);
        let quantizer = params.quantizer()?;
        let n = params.n();
        let slots = (0..n)
            .map(|_| Slot {
                alive: true,
                ..Default::default()
            })
            .collect();
        Ok(Self {
            limits: Limits::new(&params),
            accumulator: RingVec::zeros(params.bits, params.vector_len as usize + 1),
            deadline: now.saturating_add(params.timeout_ms(Round::AdvertiseKeys)),
            round: Round::AdvertiseKeys,
            u1: vec![false; n],
            u2: vec![false; n],
            u3: vec![false; n],
            params,
            session,
            topo,
            quantizer,
            slots,
            needed: Vec::new(),
            needed_index: Vec::new(),
            outbox: VecDeque::new(),
            seen_keys: HashSet::new(),
            result: None,
            sizes: SetSizes::default(),
            observer: None,
            events: None,
            end_reported: false,
            close_reported: None,
            stats: None,
            unexpected_below: 0,
            secrets_ready: 0,
        })
    }

    /// The session id.
    pub fn session_id(&self) -> SessionId {
        self.session
    }

    /// The round being collected.
    pub fn round(&self) -> Round {
        self.round
    }

    /// The session's result, once it has one.
    pub fn result(&self) -> Option<&Result<AggregateOutput, SessionAbort>> {
        self.result.as_ref()
    }

    /// What happened to `id`.
    pub fn fate(&self, id: ParticipantId) -> Option<ClientFate> {
        let i = self.params.index_of(id)?;
        let s = &self.slots[i];
        Some(s.fate.unwrap_or(ClientFate::Active(s.completed)))
    }

    /// Installs the observer of session events (see [`ServerObserver`]), replacing any.
    pub fn set_observer(&mut self, o: Box<dyn ServerObserver>) {
        self.events = Some(o);
    }

    /// Calls `f` at each phase of unmasking (for drivers that report a timing breakdown).
    pub fn observe_unmasking(&mut self, f: UnmaskObserver) {
        self.observer = Some(Mutex::new(f));
    }

    /// The size of the unmasking work, once the session has completed.
    pub fn unmask_stats(&self) -> Option<UnmaskStats> {
        self.stats
    }

    /// Survivor-set sizes recorded so far.
    pub fn set_sizes(&self) -> &SetSizes {
        &self.sizes
    }

    /// The largest message a client may send in this session (for transport frame limits).
    pub fn max_client_message(&self) -> usize {
        self.limits.max_client_message()
    }

    /// The next message to send, as (recipient, bytes).
    ///
    /// Draining rule: call it until it returns `None` after every `handle_message`,
    /// `handle_timeout` and `client_gone`, including the call that produced the result
    /// ([`Self::result`]): the `Finished` messages that tell each client whether it was included
    /// are queued at that moment, so a driver that stops when the result appears leaves the
    /// clients waiting for their deadline.
    pub fn poll_transmit(&mut self) -> Option<(ParticipantId, Vec<u8>)> {
        match self.outbox.front_mut()? {
            Outgoing::One(..) => match self.outbox.pop_front() {
                Some(Outgoing::One(to, bytes)) => Some((to, bytes)),
                _ => None,
            },
            Outgoing::DropNotice(_) => match self.outbox.pop_front() {
                Some(Outgoing::DropNotice(to)) => {
                    let finished = match &self.result {
                        Some(Err(abort)) => Finished {
                            outcome: Outcome::Aborted,
                            code: abort.reason.code(),
                        },
                        _ => Finished {
                            outcome: Outcome::Excluded,
                            code: 0,
                        },
                    };
                    Some((to, ServerMessage::Finished(finished).encode(&self.session)))
                }
                _ => None,
            },
            Outgoing::Same(to, bytes) => {
                let next = to.pop_front();
                let out = next.map(|t| (t, bytes.as_ref().clone()));
                if to.is_empty() {
                    self.outbox.pop_front();
                }
                out
            }
        }
    }

    /// When [`Self::handle_timeout`] must next be called (None once finished).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.result.is_none().then_some(self.deadline)
    }

    /// Advances time: at the deadline, clients that have not answered are dropped and the round
    /// closes.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.result.is_some() || now < self.deadline {
            return;
        }
        let prev = self.prev_round();
        for i in 0..self.slots.len() {
            if self.slots[i].alive && self.slots[i].completed == prev {
                self.drop_client(i, DropReason::Deadline, true);
            }
        }
        self.close_round(now);
    }

    /// The driver ends the session without a result (shutdown): every client still present is
    /// sent `Finished(Aborted, Shutdown)`. No effect once the session has ended.
    pub fn shut_down(&mut self) {
        if self.result.is_none() {
            self.abort(AbortReason::Shutdown);
        }
        self.report_end();
    }

    /// The driver reports that `id`'s connection closed: it is a dropout for the current round.
    pub fn client_gone(&mut self, id: ParticipantId, now: u64) {
        if self.result.is_some() {
            return;
        }
        if let Some(i) = self.params.index_of(id) {
            if self.slots[i].alive {
                if self.round == Round::MaskedInput
                    && self.slots[i].completed == Some(Round::MaskedInput)
                {
                    // Its masked input is already in the accumulator, so it must be in U3
                    // (dropping it now would leave its masks in the sum).
                    self.slots[i].gone = true;
                    return;
                }
                self.drop_client(i, DropReason::ConnectionLost, false);
                self.maybe_close(now);
            }
        }
    }

    fn prev_round(&self) -> Option<Round> {
        match self.round {
            Round::AdvertiseKeys => None,
            Round::ShareKeys => Some(Round::AdvertiseKeys),
            Round::MaskedInput => Some(Round::ShareKeys),
            Round::ConsistencyCheck => Some(Round::MaskedInput),
            _ => Some(if self.params.threat_model == ThreatModel::Active {
                Round::ConsistencyCheck
            } else {
                Round::MaskedInput
            }),
        }
    }

    fn expects(&self, i: usize) -> bool {
        self.slots[i].alive && self.slots[i].completed == self.prev_round()
    }

    fn drop_client(&mut self, i: usize, why: DropReason, notify: bool) {
        let s = &mut self.slots[i];
        s.alive = false;
        s.fate = Some(ClientFate::Dropped {
            round: self.round,
            why,
        });
        if let Some(o) = self.events.as_mut() {
            o.client_dropped(self.params.participants[i], self.round, why);
        }
        s.outgoing = Vec::new();
        if notify {
            let to = self.params.participants[i];
            self.outbox.push_back(Outgoing::DropNotice(to));
        }
    }

    /// Queues one message, encoded once, for every client in `to` (in that order): the copies are
    /// made as they are polled, so a message carrying the survivor list (O(n) bytes) sent to n
    /// clients costs O(n) memory, not O(n^2).
    fn send_same(&mut self, to: &[usize], msg: ServerMessage) {
        if to.is_empty() {
            return;
        }
        let ids = to.iter().map(|&i| self.params.participants[i]).collect();
        let bytes = Arc::new(msg.encode(&self.session));
        self.outbox.push_back(Outgoing::Same(ids, bytes));
    }

    fn send(&mut self, i: usize, msg: ServerMessage) {
        let to = self.params.participants[i];
        self.outbox
            .push_back(Outgoing::One(to, msg.encode(&self.session)));
    }

    /// Processes one message from the authenticated participant `from` at time `now`. An error
    /// means the message was refused; the session itself carries on.
    pub fn handle_message(
        &mut self,
        from: ParticipantId,
        bytes: &[u8],
        now: u64,
    ) -> Result<(), Rejected> {
        let (round, sets, running) = (self.round, self.sizes.sets.len(), self.result.is_none());
        let r = self.handle_message_inner(from, bytes, now);
        if let (Err(e), Some(o)) = (&r, self.events.as_mut()) {
            o.message_rejected(e);
        }
        if running && self.result.is_some() {
            // The unmasking can finish early, as soon as every secret can be rebuilt, without
            // waiting for the round to close: report that close here.
            self.report_close(round, sets, now);
        }
        self.report_end();
        r
    }

    fn handle_message_inner(
        &mut self,
        from: ParticipantId,
        bytes: &[u8],
        now: u64,
    ) -> Result<(), Rejected> {
        let round = self.round;
        let reject = move |reason| Rejected {
            from,
            round,
            reason,
        };
        if self.result.is_some() {
            return Err(reject(RejectReason::SessionOver));
        }
        let i = self
            .params
            .index_of(from)
            .ok_or(reject(RejectReason::UnknownSender))?;
        // The masked vector is borrowed from `bytes`, never copied: it is added into the
        // accumulator straight from the wire.
        let (session, msg) = ClientMessageRef::decode(bytes, &self.limits)
            .map_err(|e| reject(RejectReason::Decode(e)))?;
        if session != self.session {
            return Err(reject(RejectReason::WrongSession));
        }
        if msg.sender() != from {
            return Err(reject(RejectReason::SenderMismatch(msg.sender())));
        }
        let expected_type = match self.round {
            Round::AdvertiseKeys => types::ADVERTISE_KEYS,
            Round::ShareKeys => types::SHARE_KEYS,
            Round::MaskedInput => types::MASKED_INPUT,
            Round::ConsistencyCheck => types::CONSISTENCY_SIGNATURE,
            _ => types::UNMASK_SHARES,
        };
        if msg.type_code() != expected_type {
            return Err(reject(RejectReason::WrongRound {
                got: msg.type_code(),
            }));
        }
        let slot = &self.slots[i];
        if slot.completed == Some(self.round) {
            // A byte-identical retransmission is harmless; anything else conflicts.
            return if slot.fingerprint == Some(Fingerprint::of(bytes)) {
                Ok(())
            } else {
                Err(reject(RejectReason::Conflicting))
            };
        }
        if !self.expects(i) {
            return Err(reject(RejectReason::NotInRound));
        }
        let accepted = match msg {
            ClientMessageRef::AdvertiseKeys(m) => self.on_keys(i, m),
            ClientMessageRef::ShareKeys(m) => self.on_shares(i, m),
            ClientMessageRef::MaskedInput(m) => self.on_masked(m),
            ClientMessageRef::ConsistencySignature(m) => self.on_signature(i, m),
            ClientMessageRef::UnmaskShares(m) => self.on_unmask(i, m),
        };
        match accepted {
            Ok(()) => {
                let s = &mut self.slots[i];
                s.completed = Some(self.round);
                s.fingerprint = Some(Fingerprint::of(bytes));
                if self.round == Round::Unmasking && self.all_secrets_ready() {
                    // Finish early once every secret can be rebuilt; if a bad share spoils a
                    // rebuild, keep collecting until the round closes.
                    self.finalize(false);
                }
                self.maybe_close(now);
                Ok(())
            }
            Err(reason) => {
                // The message was this client's turn and it was invalid: the client is out.
                self.drop_client(i, DropReason::InvalidMessage, true);
                self.maybe_close(now);
                Err(reject(reason))
            }
        }
    }

    fn on_keys(&mut self, i: usize, m: AdvertiseKeys) -> Result<(), RejectReason> {
        // Keys must be contributory (a small-order key gives an all-zero secret with any key)
        // and must not repeat any key already accepted.
        // The small-order test of spec section 5 (the probe's X25519 product is zero), by
        // comparison with the list of such keys instead of two scalar multiplications.
        if m.c_pk == m.s_pk || m.c_pk.has_small_order() || m.s_pk.has_small_order() {
            return Err(RejectReason::BadPublicKey);
        }
        let repeats = self.seen_keys.contains(&m.c_pk.0) || self.seen_keys.contains(&m.s_pk.0);
        if repeats {
            return Err(RejectReason::BadPublicKey);
        }
        if self.params.threat_model == ThreatModel::Active {
            let vk = self
                .params
                .identity_keys
                .get(i)
                .and_then(|b| VerifyingKey::from_bytes(b).ok())
                .ok_or(RejectReason::BadSignature)?;
            let sig = m.signature.as_ref().ok_or(RejectReason::BadSignature)?;
            vk.verify(
                SigPurpose::AdvertiseKeys,
                &self.session,
                &key_payload(&m.c_pk, &m.s_pk),
                sig,
            )
            .map_err(|_| RejectReason::BadSignature)?;
        }
        self.seen_keys.insert(m.c_pk.0);
        self.seen_keys.insert(m.s_pk.0);
        self.slots[i].keys = Some((m.c_pk, m.s_pk));
        self.slots[i].key_signature = m.signature;
        Ok(())
    }

    /// Members of U1 among `i`'s neighbours, ascending.
    fn live_neighbours(&self, i: usize, min_round: Round) -> Vec<usize> {
        self.topo
            .neighbours(i)
            .filter(|&j| self.in_set(j, min_round))
            .collect()
    }

    /// Whether `j` is alive and completed `round`.
    fn in_set(&self, j: usize, round: Round) -> bool {
        let s = &self.slots[j];
        s.alive && s.completed.is_some_and(|c| c >= round)
    }

    fn on_shares(&mut self, i: usize, m: ShareKeys) -> Result<(), RejectReason> {
        // Exactly the neighbours listed in the key directory this client received (U1).
        let expected: Vec<ParticipantId> = self
            .topo
            .neighbours(i)
            .filter(|&j| self.u1[j])
            .map(|j| self.params.participants[j])
            .collect();
        let got: Vec<ParticipantId> = m.ciphertexts.iter().map(|(to, _)| *to).collect();
        if got != expected {
            return Err(RejectReason::BadRecipients);
        }
        self.slots[i].outgoing = m.ciphertexts;
        self.slots[i].commitment = Some(m.commitment);
        Ok(())
    }

    fn on_masked(&mut self, m: MaskedInputRef<'_>) -> Result<(), RejectReason> {
        // Validated (length, padding) before anything is added.
        self.accumulator
            .unpack_add(self.params.bits, m.packed)
            .map_err(RejectReason::Vector)
    }

    fn on_signature(&mut self, i: usize, m: ConsistencySignature) -> Result<(), RejectReason> {
        let vk = self
            .params
            .identity_keys
            .get(i)
            .and_then(|b| VerifyingKey::from_bytes(b).ok())
            .ok_or(RejectReason::BadSignature)?;
        let u3: Vec<ParticipantId> = self.u3_ids();
        let (c_pk, s_pk) = self.slots[i].keys.ok_or(RejectReason::BadSignature)?;
        vk.verify(
            SigPurpose::ConsistencyCheck,
            &self.session,
            &consistency_payload(&u3, &c_pk, &s_pk),
            &m.signature,
        )
        .map_err(|_| RejectReason::BadSignature)?;
        self.slots[i].signature = Some(m.signature);
        Ok(())
    }

    fn on_unmask(&mut self, i: usize, m: UnmaskShares) -> Result<(), RejectReason> {
        let me = self.params.participants[i];
        // Exactly one share per neighbour in U2, of the kind its U3 membership dictates.
        let expected: Vec<(ParticipantId, ShareKind)> = self
            .live_or_dropped_u2_neighbours(i)
            .into_iter()
            .map(|j| {
                let kind = if self.u3[j] {
                    ShareKind::SelfMask
                } else {
                    ShareKind::MaskKey
                };
                (self.params.participants[j], kind)
            })
            .collect();
        let got: Vec<(ParticipantId, ShareKind)> =
            m.shares.iter().map(|s| (s.owner, s.kind)).collect();
        if got != expected {
            return Err(RejectReason::BadShares);
        }
        let mut parsed = Vec::with_capacity(m.shares.len());
        for s in &m.shares {
            let share = Share::from_bytes(&s.share).map_err(|_| RejectReason::BadShares)?;
            if share.x() != me {
                return Err(RejectReason::BadShares);
            }
            parsed.push((s.owner, s.kind, share));
        }
        for (owner, kind, share) in parsed {
            let Some(o) = self.params.index_of(owner) else {
                continue;
            };
            if let Some(Some((want, k))) = self.needed_index.get(o).copied() {
                if want != kind {
                    continue;
                }
                self.needed[k].shares.push(share);
                if self.needed[k].shares.len() == self.params.threshold as usize {
                    self.secrets_ready += 1;
                }
            }
        }
        Ok(())
    }

    /// Neighbours of `i` that were in U2 (whether or not they are still alive): exactly the
    /// clients whose shares `i` holds, if `i` is in U2 itself.
    fn live_or_dropped_u2_neighbours(&self, i: usize) -> Vec<usize> {
        self.topo.neighbours(i).filter(|&j| self.u2[j]).collect()
    }

    fn u3_ids(&self) -> Vec<ParticipantId> {
        (0..self.slots.len())
            .filter(|&j| self.u3[j])
            .map(|j| self.params.participants[j])
            .collect()
    }

    fn maybe_close(&mut self, now: u64) {
        if self.result.is_some() {
            return;
        }
        // Within a round a client that is not expected never becomes expected again (it
        // answered or left), so the scan resumes where it stopped: O(n) per round in total,
        // not per message.
        while self.unexpected_below < self.slots.len() && !self.expects(self.unexpected_below) {
            self.unexpected_below += 1;
        }
        if self.unexpected_below == self.slots.len() {
            self.close_round(now);
        }
    }

    fn abort(&mut self, reason: AbortReason) {
        let code = reason.code();
        for i in 0..self.slots.len() {
            if self.slots[i].alive && self.slots[i].completed.is_some() {
                self.send(
                    i,
                    ServerMessage::Finished(Finished {
                        outcome: Outcome::Aborted,
                        code,
                    }),
                );
            }
            if self.slots[i].fate.is_none() {
                // A client whose connection closed after its masked input was accepted is still
                // counted in U3 (see `client_gone`); when the session aborts instead, what
                // happened to it is that it left.
                self.slots[i].fate = Some(if self.slots[i].gone {
                    ClientFate::Dropped {
                        round: self.round,
                        why: DropReason::ConnectionLost,
                    }
                } else {
                    ClientFate::Excluded
                });
            }
        }
        self.result = Some(Err(SessionAbort {
            round: self.round,
            reason,
        }));
    }

    /// Removes, until none is left, clients in the set "alive and completed `round`" that have
    /// fewer than t neighbours in the set. They could not continue safely.
    fn prune(&mut self, round: Round) {
        let t = self.params.threshold as usize;
        loop {
            let isolated: Vec<usize> = (0..self.slots.len())
                .filter(|&i| self.in_set(i, round) && self.live_neighbours(i, round).len() < t)
                .collect();
            if isolated.is_empty() {
                return;
            }
            for i in isolated {
                self.drop_client(i, DropReason::IsolatedNeighbourhood, true);
            }
        }
    }

    fn members(&self, round: Round) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&i| self.in_set(i, round))
            .collect()
    }

    fn check_size(&mut self, have: usize) -> bool {
        let need = self.params.threshold as usize + 1;
        if have < need {
            self.abort(AbortReason::TooFewClients { have, need });
            return false;
        }
        true
    }

    fn start_round(&mut self, round: Round, now: u64) {
        self.round = round;
        self.unexpected_below = 0;
        self.deadline = now.saturating_add(self.params.timeout_ms(round));
        for i in 0..self.slots.len() {
            if self.slots[i].gone && self.slots[i].alive {
                self.drop_client(i, DropReason::ConnectionLost, false);
            }
        }
    }

    /// Closes the set of round 0 (U1) or 1 (U2): prunes isolated clients, records and fixes the
    /// membership, and aborts (returning `None`) if fewer than t + 1 clients remain.
    fn close_membership(&mut self, round: Round) -> Option<Vec<usize>> {
        self.prune(round);
        let members = self.members(round);
        let (name, flags) = match round {
            Round::AdvertiseKeys => ("U1", &mut self.u1),
            _ => ("U2", &mut self.u2),
        };
        for &i in &members {
            flags[i] = true;
        }
        self.sizes.sets.push((name, members.len()));
        self.check_size(members.len()).then_some(members)
    }

    fn close_round(&mut self, now: u64) {
        let (round, sets) = (self.round, self.sizes.sets.len());
        self.close_round_inner(now);
        self.report_close(round, sets, now);
        self.report_end();
    }

    /// Tells the observer, once per round, that `round` closed; `sets` is how many survivor
    /// sets were recorded before it closed.
    fn report_close(&mut self, round: Round, sets: usize, now: u64) {
        if self.close_reported == Some(round) {
            return;
        }
        self.close_reported = Some(round);
        if let Some(o) = self.events.as_mut() {
            o.round_closed(round, self.sizes.sets.get(sets).copied(), now);
        }
    }

    /// Tells the observer, once, that the session ended.
    fn report_end(&mut self) {
        if let (Some(o), Some(r), false) = (self.events.as_mut(), &self.result, self.end_reported) {
            o.session_ended(r);
            self.end_reported = true;
        }
    }

    fn close_round_inner(&mut self, now: u64) {
        match self.round {
            Round::AdvertiseKeys => {
                let Some(u1) = self.close_membership(Round::AdvertiseKeys) else {
                    return;
                };
                for &i in &u1 {
                    let mut ids = self.live_neighbours(i, Round::AdvertiseKeys);
                    ids.push(i);
                    ids.sort_unstable();
                    let entries = ids
                        .into_iter()
                        .filter_map(|j| {
                            let (c_pk, s_pk) = self.slots[j].keys?;
                            Some(KeyEntry {
                                id: self.params.participants[j],
                                c_pk,
                                s_pk,
                                signature: self.slots[j].key_signature,
                            })
                        })
                        .collect();
                    self.send(i, ServerMessage::KeyDirectory(KeyDirectory { entries }));
                }
                self.start_round(Round::ShareKeys, now);
            }
            Round::ShareKeys => {
                let Some(u2) = self.close_membership(Round::ShareKeys) else {
                    return;
                };
                let me = |i: usize| self.params.participants[i];
                let mut bundles: Vec<(usize, ShareBundle)> = Vec::with_capacity(u2.len());
                for &v in &u2 {
                    let ciphertexts = self
                        .live_neighbours(v, Round::ShareKeys)
                        .into_iter()
                        .filter_map(|u| {
                            let out = &self.slots[u].outgoing;
                            out.binary_search_by_key(&me(v), |(to, _)| *to)
                                .ok()
                                .map(|k| (me(u), out[k].1))
                        })
                        .collect();
                    bundles.push((v, ShareBundle { ciphertexts }));
                }
                for (v, b) in bundles {
                    self.send(v, ServerMessage::ShareBundle(b));
                }
                for s in &mut self.slots {
                    s.outgoing = Vec::new();
                }
                self.start_round(Round::MaskedInput, now);
            }
            Round::MaskedInput => {
                let u3 = self.members(Round::MaskedInput);
                self.sizes.sets.push(("U3", u3.len()));
                for &i in &u3 {
                    self.u3[i] = true;
                }
                if !self.check_size(u3.len()) {
                    return;
                }
                if !self.plan_reconstruction() {
                    return;
                }
                if self.params.threat_model == ThreatModel::Active {
                    let survivors = self.u3_ids();
                    self.send_same(
                        &u3,
                        ServerMessage::ConsistencyRequest(ConsistencyRequest { survivors }),
                    );
                    self.start_round(Round::ConsistencyCheck, now);
                } else {
                    self.request_unmask(&u3, now);
                }
            }
            Round::ConsistencyCheck => {
                // Only clients that will see t valid neighbour signatures can answer.
                self.prune(Round::ConsistencyCheck);
                let u4 = self.members(Round::ConsistencyCheck);
                self.sizes.sets.push(("U4", u4.len()));
                if !self.check_size(u4.len()) || !self.enough_holders(Round::ConsistencyCheck) {
                    return;
                }
                self.request_unmask(&u4, now);
            }
            _ => self.finalize(true),
        }
    }

    /// Records which secrets must be rebuilt and checks each has t live holders. Returns false
    /// (after aborting) if not.
    fn plan_reconstruction(&mut self) -> bool {
        self.needed_index = vec![None; self.slots.len()];
        for owner in 0..self.slots.len() {
            if self.u3[owner] {
                self.needed_index[owner] = Some((ShareKind::SelfMask, self.needed.len()));
                self.needed.push(Needed {
                    owner,
                    kind: ShareKind::SelfMask,
                    shares: Vec::new(),
                });
            } else if self.u2[owner] && self.topo.neighbours(owner).any(|j| self.u3[j]) {
                // Dropped after sharing: its pairwise masks are in its neighbours' inputs.
                self.needed_index[owner] = Some((ShareKind::MaskKey, self.needed.len()));
                self.needed.push(Needed {
                    owner,
                    kind: ShareKind::MaskKey,
                    shares: Vec::new(),
                });
            }
        }
        self.enough_holders(Round::MaskedInput)
    }

    /// Every needed secret has at least t holders among live clients that completed `round` and
    /// can still answer: a client whose connection closed after its masked input was accepted is
    /// in U3 but will never reveal a share, so it does not count (counting it would send the
    /// unmasking request and only fail at the round-4 close, after shares were revealed).
    fn enough_holders(&mut self, round: Round) -> bool {
        let t = self.params.threshold as usize;
        for k in 0..self.needed.len() {
            let owner = self.needed[k].owner;
            let have = self
                .live_or_dropped_u2_neighbours(owner)
                .into_iter()
                .filter(|&j| self.in_set(j, round) && !self.slots[j].gone)
                .count();
            if have < t {
                let client = self.params.participants[owner];
                self.abort(AbortReason::NeighbourhoodTooSmall {
                    client,
                    have,
                    need: t,
                });
                return false;
            }
        }
        true
    }

    fn request_unmask(&mut self, recipients: &[usize], now: u64) {
        let survivors = self.u3_ids();
        if self.params.threat_model != ThreatModel::Active {
            // No per-recipient signatures: every recipient gets the same bytes.
            self.send_same(
                recipients,
                ServerMessage::UnmaskRequest(UnmaskRequest {
                    survivors,
                    signatures: Vec::new(),
                }),
            );
            self.start_round(Round::Unmasking, now);
            return;
        }
        for &i in recipients {
            let signatures = self
                .live_neighbours(i, Round::ConsistencyCheck)
                .into_iter()
                .filter_map(|j| Some((self.params.participants[j], self.slots[j].signature?)))
                .collect();
            self.send(
                i,
                ServerMessage::UnmaskRequest(UnmaskRequest {
                    survivors: survivors.clone(),
                    signatures,
                }),
            );
        }
        self.start_round(Round::Unmasking, now);
    }

    /// Every needed secret holds at least t shares (counted as shares arrive: checking every
    /// secret after each message would cost O(n) per message at n = 10 000).
    fn all_secrets_ready(&self) -> bool {
        self.secrets_ready == self.needed.len()
    }

    /// Rebuilds one secret from its shares, trying other subsets if the first is inconsistent
    /// (detected for mask keys by the public-key check).
    fn rebuild(&self, k: usize, cache: &mut LagrangeCache) -> Option<Zeroizing<[u8; 32]>> {
        let t = self.params.threshold as usize;
        let n = &self.needed[k];
        let mut shares: Vec<&Share> = n.shares.iter().collect();
        shares.sort_by_key(|s| s.x());
        // Attempt 0 uses the first t shares; attempt j leaves out share j - 1.
        for skip in 0..=shares.len() {
            if skip > 0 && shares.len() <= t {
                break;
            }
            let subset: Vec<&Share> = shares
                .iter()
                .enumerate()
                .filter(|(i, _)| skip == 0 || *i != skip - 1)
                .map(|(_, s)| *s)
                .take(t)
                .collect();
            if subset.len() < t {
                break;
            }
            let xs: Vec<ParticipantId> = subset.iter().map(|s| s.x()).collect();
            let r = Reconstructor::with_cache(&xs, t, cache).ok()?;
            let Ok(secret) = r.reconstruct(&subset) else {
                continue;
            };
            match n.kind {
                ShareKind::SelfMask => {
                    let b = SelfMaskSecret::from_bytes(*secret);
                    let owner = self.params.participants[n.owner];
                    if self.slots[n.owner].commitment == Some(b.commitment(&self.session, owner)) {
                        return Some(secret);
                    }
                }
                ShareKind::MaskKey => {
                    let key = KexSecretKey::from_bytes(*secret);
                    if self.slots[n.owner]
                        .keys
                        .is_some_and(|(_, s_pk)| key.matches(&s_pk))
                    {
                        return Some(secret);
                    }
                }
            }
        }
        None
    }

    /// Rebuilds every needed secret in parallel (one Lagrange cache per worker thread). `None`
    /// for a secret that cannot be rebuilt from the shares held so far.
    fn rebuild_all(&self) -> Vec<Option<Zeroizing<[u8; 32]>>> {
        #[cfg(feature = "server")]
        {
            use rayon::prelude::*;
            (0..self.needed.len())
                .into_par_iter()
                .map_init(LagrangeCache::new, |cache, k| self.rebuild(k, cache))
                .collect()
        }
        #[cfg(not(feature = "server"))]
        {
            let mut cache = LagrangeCache::new();
            (0..self.needed.len())
                .map(|k| self.rebuild(k, &mut cache))
                .collect()
        }
    }

    /// The seed and sign of every mask to remove from the accumulator: the self mask of each
    /// survivor, and for each dropped client the pairwise mask it shares with each surviving
    /// neighbour (one X25519 agreement each, run in parallel).
    fn mask_seeds(&self, secrets: &[zeroize::Zeroizing<[u8; 32]>]) -> Vec<(MaskSeed, MaskSign)> {
        let mut out = Vec::new();
        let mut pairs = Vec::new();
        let mut selfs = Vec::new();
        for k in 0..secrets.len() {
            let owner = self.needed[k].owner;
            match self.needed[k].kind {
                ShareKind::SelfMask => selfs.push(k),
                ShareKind::MaskKey => pairs.extend(
                    self.topo
                        .neighbours(owner)
                        .filter(|&v| self.u3[v])
                        .map(|v| (k, v)),
                ),
            }
        }
        let keys: Vec<Option<KexSecretKey>> = secrets
            .iter()
            .enumerate()
            .map(|(k, s)| {
                (self.needed[k].kind == ShareKind::MaskKey).then(|| KexSecretKey::from_bytes(**s))
            })
            .collect();
        let pairwise = |&(k, v): &(usize, usize)| -> Option<(MaskSeed, MaskSign)> {
            let key = keys[k].as_ref()?;
            let (_, s_pk) = self.slots[v].keys?;
            // Keys were checked to be contributory when advertised.
            let shared = key.agree(&s_pk).ok()?;
            let owner_id = self.params.participants[self.needed[k].owner];
            let v_id = self.params.participants[v];
            let seed = shared.pairwise_mask_seed(&self.session, owner_id, v_id);
            // v added the mask if v < owner and subtracted it otherwise: undo that.
            Some((
                seed,
                if v_id < owner_id {
                    MaskSign::Sub
                } else {
                    MaskSign::Add
                },
            ))
        };
        let self_mask = |&k: &usize| -> (MaskSeed, MaskSign) {
            let b = SelfMaskSecret::from_bytes(*secrets[k]);
            let owner_id = self.params.participants[self.needed[k].owner];
            (b.mask_seed(&self.session, owner_id), MaskSign::Sub)
        };
        #[cfg(feature = "server")]
        {
            use rayon::prelude::*;
            out.par_extend(selfs.par_iter().map(self_mask));
            out.par_extend(pairs.par_iter().filter_map(pairwise));
        }
        #[cfg(not(feature = "server"))]
        {
            out.extend(selfs.iter().map(self_mask));
            out.extend(pairs.iter().filter_map(pairwise));
        }
        out
    }

    fn observe(&self, phase: UnmaskPhase) {
        if let Some(o) = &self.observer {
            if let Ok(mut f) = o.lock() {
                f(phase);
            }
        }
    }

    /// Rebuilds every needed secret and unmasks. With `last_chance` false (more answers may
    /// still arrive) a secret that cannot be rebuilt yet is not an error: the server keeps
    /// collecting. Nothing is changed unless every secret was rebuilt.
    ///
    /// Three parallel phases: Shamir reconstruction (per secret), seed derivation (per mask),
    /// and mask regeneration, which streams every mask's keystream into the accumulator chunk by
    /// chunk ([`apply_masks_parallel`]) with no temporary vector per mask.
    fn finalize(&mut self, last_chance: bool) {
        if self.result.is_some() {
            return;
        }
        self.observe(UnmaskPhase::Start);
        let rebuilt = self.rebuild_all();
        let mut secrets = Vec::with_capacity(self.needed.len());
        for (k, r) in rebuilt.into_iter().enumerate() {
            match r {
                Some(secret) => secrets.push(secret),
                None if last_chance => {
                    let owner = self.params.participants[self.needed[k].owner];
                    self.abort(AbortReason::ReconstructionFailed(owner));
                    return;
                }
                None => return,
            }
        }
        self.observe(UnmaskPhase::SecretsRebuilt);
        let u5 = (0..self.slots.len())
            .filter(|&i| self.in_set(i, Round::Unmasking))
            .count();
        self.sizes.sets.push(("U5", u5));
        let masks = self.mask_seeds(&secrets);
        drop(secrets);
        self.observe(UnmaskPhase::SeedsDerived);
        let mut acc =
            core::mem::replace(&mut self.accumulator, RingVec::zeros(self.params.bits, 0));
        let refs: Vec<(&MaskSeed, MaskSign)> = masks.iter().map(|(s, g)| (s, *g)).collect();
        // Lengths always match: the accumulator was built for this session.
        #[cfg(feature = "server")]
        let _ = apply_masks_parallel(self.params.mask_prg, &refs, &mut acc);
        #[cfg(not(feature = "server"))]
        let _ = apply_masks(self.params.mask_prg, &refs, &mut acc);
        self.observe(UnmaskPhase::MasksRemoved);
        let self_masks = self
            .needed
            .iter()
            .filter(|n| n.kind == ShareKind::SelfMask)
            .count();
        self.stats = Some(UnmaskStats {
            secrets: self.needed.len(),
            self_masks,
            pairwise_masks: masks.len() - self_masks,
            threads: worker_threads(),
        });
        drop(refs);
        drop(masks);
        let included = self.u3_ids();
        let len = self.params.vector_len as usize;
        let weight_sum = acc.get(len).unwrap_or(0);
        let sum = RingVec::from_u64s_reduced(self.params.bits, acc.iter().take(len));
        // With DP: centered, unscaled, rotated back (post-processing of the noisy sum), decoded
        // whole because the inverse rotation mixes every element. Without DP each element
        // decodes on its own, when the caller reads it (see `aggregate`).
        let decoding = match &self.params.dp {
            None => match self.quantizer.dequantizer(included.len() as u64) {
                Ok((step, offset)) => Decoding::Affine { step, offset },
                Err(_) => Decoding::Unavailable,
            },
            Some(dp) => {
                let rotation = crate::ddp::Rotation::new(&self.session, dp.padded_dim());
                match crate::ddp::decode_sum(dp, &rotation, &sum, included.len() as u64) {
                    Ok(out) => Decoding::Decoded(out.sum),
                    Err(_) => Decoding::Unavailable,
                }
            }
        };
        for i in 0..self.slots.len() {
            let fate = if self.u3[i] {
                ClientFate::Included
            } else {
                ClientFate::Excluded
            };
            if self.slots[i].alive && self.slots[i].completed.is_some() {
                let outcome = if self.u3[i] {
                    Outcome::Included
                } else {
                    Outcome::Excluded
                };
                self.send(i, ServerMessage::Finished(Finished { outcome, code: 0 }));
            }
            if matches!(self.slots[i].fate, None | Some(ClientFate::Active(_))) || self.u3[i] {
                self.slots[i].fate = Some(fate);
            }
        }
        self.result = Some(Ok(AggregateOutput::new(
            sum,
            weight_sum,
            included,
            decoding,
            self.params.max_weight,
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::Fingerprint;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 131 + 7) as u8).collect()
    }

    #[test]
    fn fingerprint_is_deterministic() {
        for len in [0, 1, 31, 32, 33, 400_040] {
            let m = sample(len);
            assert_eq!(Fingerprint::of(&m), Fingerprint::of(&m.clone()));
        }
    }

    #[test]
    fn fingerprint_sees_every_bit_and_position() {
        // Every single-bit change, in every lane and in the zero-padded tail.
        let m = sample(75);
        let f = Fingerprint::of(&m);
        for i in 0..m.len() {
            for b in 0..8 {
                let mut x = m.clone();
                x[i] ^= 1 << b;
                assert_ne!(Fingerprint::of(&x), f, "byte {i} bit {b}");
            }
        }
        // Swapping two words of the same lane keeps the plain sums but not the running sums.
        let mut x = m.clone();
        let (a, b) = (0..8, 32..40);
        let wa: Vec<u8> = x[a.clone()].to_vec();
        x.copy_within(b.clone(), a.start);
        x[b].copy_from_slice(&wa);
        assert_ne!(x, m);
        assert_ne!(Fingerprint::of(&x), f);
        // Trailing zero bytes change the length, not the sums.
        let mut x = m.clone();
        x.push(0);
        assert_ne!(Fingerprint::of(&x), f);
    }
}
