//! In-process simulation: one server and n clients exchanging real encoded messages, with a
//! scripted dropout schedule and virtual time. Used by the tests and by
//! `cargo run --release --example simulate`.
//!
//! Each client gets its own deterministic RNG (ChaCha20 seeded from the simulation seed and its
//! index), so a run is a pure function of its [`SimConfig`]. The simulator, being a driver, may
//! read the wall clock to report timings; the state machines never do.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;

use super::client::{Client, ClientStatus};
use super::error::{ClientAbort, ClientSetupError, RejectReason, Rejected, SessionAbort};
use super::messages::types;
use super::params::SessionParams;
use super::server::{AggregateOutput, Server};
use crate::crypto::sign::SigningKey;
use crate::ids::{ParticipantId, Round};

/// How a client leaves the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vanish {
    /// It stops answering and the server only notices at the round's deadline.
    Silent(Round),
    /// Its connection closes, which the driver reports to the server at once.
    Disconnect(Round),
    /// It sends its message for the round, then its connection closes: the driver reports it
    /// right after the server handled that message, before anything else.
    SentThenDisconnect(Round),
}

impl Vanish {
    /// The round whose message the client never sends.
    pub fn round(self) -> Round {
        match self {
            Vanish::Silent(r) | Vanish::Disconnect(r) | Vanish::SentThenDisconnect(r) => r,
        }
    }
}

/// A man in the middle: given the client index and a message (client-to-server or
/// server-to-client), returns the messages actually delivered in its place (none, one altered
/// message, duplicates, ...). Used by the adversarial tests.
pub type Tamper = Arc<dyn Fn(usize, Vec<u8>) -> Vec<Vec<u8>> + Send + Sync>;

/// One simulated session.
#[derive(Clone)]
pub struct SimConfig {
    /// Session parameters.
    pub params: Arc<SessionParams>,
    /// One input vector per participant.
    pub inputs: Vec<Vec<f64>>,
    /// One weight per participant.
    pub weights: Vec<u32>,
    /// For each participant, whether and when it vanishes.
    pub vanish: Vec<Option<Vanish>>,
    /// Active model: each participant's identity key seed.
    pub identity_seeds: Vec<[u8; 32]>,
    /// Seed of every client's RNG.
    pub seed: u64,
    /// Rewrites messages from clients before the server sees them.
    pub client_tamper: Option<Tamper>,
    /// Rewrites messages from the server before a client sees them.
    pub server_tamper: Option<Tamper>,
    /// Record every event the server sees and every message it sends (for transcripts).
    pub record: bool,
}

/// One entry of a recorded transcript, in the order the server experienced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A client message delivered to the server at time `now`.
    ToServer {
        /// Sender.
        from: ParticipantId,
        /// Time.
        now: u64,
        /// The bytes.
        bytes: Vec<u8>,
        /// Why the server refused it (`None`: accepted, or ignored as an identical repeat).
        refused: Option<RejectReason>,
    },
    /// A message the server sent.
    FromServer {
        /// Recipient.
        to: ParticipantId,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The driver told the server a connection closed.
    Gone {
        /// The client.
        id: ParticipantId,
        /// Time.
        now: u64,
    },
    /// The driver advanced the server's clock to a deadline.
    Timeout {
        /// Time.
        now: u64,
    },
}

impl core::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SimConfig")
            .field("n", &self.params.n())
            .field("vanish", &self.vanish)
            .field("seed", &self.seed)
            .field(
                "tampered",
                &(self.client_tamper.is_some() || self.server_tamper.is_some()),
            )
            .finish_non_exhaustive()
    }
}

/// Traffic of one message type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Messages.
    pub count: usize,
    /// Total bytes.
    pub bytes: usize,
}

/// What happened.
#[derive(Debug)]
pub struct SimReport {
    /// The server's result.
    pub result: Result<AggregateOutput, SessionAbort>,
    /// Every client's final status.
    pub clients: Vec<ClientStatus>,
    /// Client aborts that occurred.
    pub client_aborts: Vec<ClientAbort>,
    /// Every share each client revealed (owner, kind).
    pub revealed: Vec<Vec<(ParticipantId, super::messages::ShareKind)>>,
    /// Messages the server refused.
    pub rejected: Vec<Rejected>,
    /// Bytes and counts per message type code.
    pub traffic: BTreeMap<u8, Traffic>,
    /// Wall time spent in clients, per round their reply belongs to.
    pub client_time: BTreeMap<u8, Duration>,
    /// Wall time spent in the server while each round was being collected.
    pub server_time: BTreeMap<u8, Duration>,
    /// Survivor-set sizes.
    pub sets: Vec<(&'static str, usize)>,
    /// The recorded events, if [`SimConfig::record`] was set.
    pub transcript: Vec<Event>,
}

/// Errors setting up a simulation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The configuration lists a different number of inputs, weights or schedules than clients.
    #[error("configuration has the wrong number of inputs, weights, schedules or identity keys")]
    Shape,
    /// A client could not be created.
    #[error(transparent)]
    Client(#[from] ClientSetupError),
    /// The server could not be created.
    #[error(transparent)]
    Params(#[from] super::params::ParamsError),
}

/// Name of a message type, for reports.
pub fn type_name(code: u8) -> &'static str {
    match code {
        types::ADVERTISE_KEYS => "AdvertiseKeys",
        types::SHARE_KEYS => "ShareKeys",
        types::MASKED_INPUT => "MaskedInput",
        types::CONSISTENCY_SIGNATURE => "ConsistencySignature",
        types::UNMASK_SHARES => "UnmaskShares",
        types::KEY_DIRECTORY => "KeyDirectory",
        types::SHARE_BUNDLE => "ShareBundle",
        types::CONSISTENCY_REQUEST => "ConsistencyRequest",
        types::UNMASK_REQUEST => "UnmaskRequest",
        types::FINISHED => "Finished",
        _ => "unknown",
    }
}

/// The round a client message belongs to, from its type code.
fn round_of(code: u8) -> Option<Round> {
    Some(match code {
        types::ADVERTISE_KEYS => Round::AdvertiseKeys,
        types::SHARE_KEYS => Round::ShareKeys,
        types::MASKED_INPUT => Round::MaskedInput,
        types::CONSISTENCY_SIGNATURE => Round::ConsistencyCheck,
        types::UNMASK_SHARES => Round::Unmasking,
        _ => return None,
    })
}

fn record(traffic: &mut BTreeMap<u8, Traffic>, bytes: &[u8]) {
    let code = bytes.get(1).copied().unwrap_or(0);
    let t = traffic.entry(code).or_default();
    t.count += 1;
    t.bytes += bytes.len();
}

/// The RNG of the client at position `i` (0-based) in a simulation seeded with `seed`: every
/// client secret (keys, rounding words, self-mask secret, Shamir coefficients) is drawn from it,
/// so a recorded transcript can state which secrets each client used.
pub fn client_rng(seed: u64, i: usize) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed ^ ((i as u64 + 1) << 20))
}

/// Runs one session to completion.
pub fn run(config: &SimConfig) -> Result<SimReport, SimError> {
    let params = &config.params;
    let n = params.n();
    let active = !params.identity_keys.is_empty();
    if config.inputs.len() != n
        || config.weights.len() != n
        || config.vanish.len() != n
        || (active && config.identity_seeds.len() != n)
    {
        return Err(SimError::Shape);
    }
    let mut now = 0u64;
    let mut server = Server::new(params.clone(), now)?;
    let mut traffic = BTreeMap::new();
    let mut client_time: BTreeMap<u8, Duration> = BTreeMap::new();
    let mut server_time: BTreeMap<u8, Duration> = BTreeMap::new();
    let mut rejected = Vec::new();
    let mut aborts = Vec::new();
    let mut clients = Vec::with_capacity(n);
    let mut rngs = Vec::with_capacity(n);
    let mut gone = Vec::with_capacity(n);
    let mut to_server: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut transcript = Vec::new();
    let mut log = |e: Event| {
        if config.record {
            transcript.push(e);
        }
    };

    // Clients that vanish before sending their message for `round` (a client that sends it and
    // then disconnects is handled where its message is delivered).
    let vanishes_at = |i: usize, round: Round| {
        config.vanish[i]
            .is_some_and(|v| v.round() == round && !matches!(v, Vanish::SentThenDisconnect(_)))
    };
    let disconnects_after = |i: usize, round: Option<Round>| {
        round.is_some_and(|r| config.vanish[i] == Some(Vanish::SentThenDisconnect(r)))
    };
    for (i, &id) in params.participants.iter().enumerate() {
        let mut rng = client_rng(config.seed, i);
        let identity = active.then(|| SigningKey::from_seed(&config.identity_seeds[i]));
        let t0 = Instant::now();
        let (client, msg) = Client::new(
            params.clone(),
            id,
            identity,
            &config.inputs[i],
            config.weights[i],
            &mut rng,
        )?;
        *client_time.entry(types::ADVERTISE_KEYS).or_default() += t0.elapsed();
        clients.push(client);
        rngs.push(rng);
        if vanishes_at(i, Round::AdvertiseKeys) {
            gone.push(true);
            if matches!(config.vanish[i], Some(Vanish::Disconnect(_))) {
                log(Event::Gone { id, now });
                server.client_gone(id, now);
            }
        } else {
            gone.push(false);
            to_server.push((i, msg));
        }
    }

    // Bounded: every iteration either delivers a message or advances time to a deadline, and
    // the server has at most five deadlines.
    for _ in 0..(64 * n + 64) {
        let batch: Vec<(usize, Vec<u8>)> = match &config.client_tamper {
            Some(t) => to_server
                .drain(..)
                .flat_map(|(i, m)| t(i, m).into_iter().map(move |m| (i, m)))
                .collect(),
            None => std::mem::take(&mut to_server),
        };
        for (i, msg) in batch {
            record(&mut traffic, &msg);
            let code = msg.get(1).copied().unwrap_or(0);
            let t0 = Instant::now();
            let outcome = server.handle_message(params.participants[i], &msg, now);
            *server_time.entry(code).or_default() += t0.elapsed();
            log(Event::ToServer {
                from: params.participants[i],
                now,
                bytes: msg,
                refused: outcome.as_ref().err().map(|e| e.reason.clone()),
            });
            if let Err(e) = outcome {
                rejected.push(e);
            }
            if !gone[i] && disconnects_after(i, round_of(code)) {
                gone[i] = true;
                let id = params.participants[i];
                log(Event::Gone { id, now });
                server.client_gone(id, now);
            }
        }
        let mut delivered = false;
        let mut outgoing = Vec::new();
        while let Some((to, bytes)) = server.poll_transmit() {
            record(&mut traffic, &bytes);
            log(Event::FromServer {
                to,
                bytes: bytes.clone(),
            });
            let Some(i) = params.index_of(to) else {
                continue;
            };
            match &config.server_tamper {
                Some(t) => outgoing.extend(t(i, bytes).into_iter().map(|b| (to, i, b))),
                None => outgoing.push((to, i, bytes)),
            }
        }
        for (to, i, bytes) in outgoing {
            // A client that vanished or aborted takes no further part.
            if gone[i] || matches!(clients[i].status(), ClientStatus::Aborted(_)) {
                continue;
            }
            delivered = true;
            let t0 = Instant::now();
            let reply = clients[i].handle(&bytes, &mut rngs[i]);
            let elapsed = t0.elapsed();
            match reply {
                Ok(Some(reply)) => {
                    let code = reply.get(1).copied().unwrap_or(0);
                    *client_time.entry(code).or_default() += elapsed;
                    let round = round_of(code).unwrap_or(Round::Unmasking);
                    if vanishes_at(i, round) {
                        gone[i] = true;
                        if matches!(config.vanish[i], Some(Vanish::Disconnect(_))) {
                            log(Event::Gone { id: to, now });
                            server.client_gone(to, now);
                        }
                    } else {
                        to_server.push((i, reply));
                    }
                }
                Ok(None) => {}
                Err(a) => aborts.push(a),
            }
        }
        if server.result().is_some() && to_server.is_empty() {
            break;
        }
        if !delivered && to_server.is_empty() {
            match server.poll_timeout() {
                Some(deadline) => {
                    now = now.max(deadline);
                    let t0 = Instant::now();
                    let round = server.round();
                    log(Event::Timeout { now });
                    server.handle_timeout(now);
                    *server_time.entry(0x80 | round.code()).or_default() += t0.elapsed();
                }
                None => break,
            }
        }
    }
    let result = server.result().cloned().unwrap_or(Err(SessionAbort {
        round: server.round(),
        reason: super::error::AbortReason::TooFewClients { have: 0, need: 1 },
    }));
    Ok(SimReport {
        result,
        clients: clients.iter().map(Client::status).collect(),
        revealed: clients.iter().map(|c| c.revealed().to_vec()).collect(),
        client_aborts: aborts,
        rejected,
        traffic,
        client_time,
        server_time,
        sets: server.set_sizes().sets.clone(),
        transcript,
    })
}

/// Convenience: the plain-text sum of the inputs of `included`, each scaled by its weight over
/// `max_weight` and clipped, to compare with a simulation's dequantized sum.
pub fn expected_sum(config: &SimConfig, included: &[ParticipantId]) -> Vec<f64> {
    let p = &config.params;
    let mut sum = vec![0f64; p.vector_len as usize];
    for id in included {
        if let Some(i) = p.index_of(*id) {
            let w = config.weights[i] as f64 / p.max_weight as f64;
            for (s, x) in sum.iter_mut().zip(&config.inputs[i]) {
                *s += (w * x).clamp(-p.clip, p.clip);
            }
        }
    }
    sum
}

/// The rounds a client can vanish before, in order (round 3 only in the active model).
pub fn rounds(active: bool) -> Vec<Round> {
    let mut r = vec![Round::AdvertiseKeys, Round::ShareKeys, Round::MaskedInput];
    if active {
        r.push(Round::ConsistencyCheck);
    }
    r.push(Round::Unmasking);
    r
}

/// Random inputs in [-0.5, 0.5): `n` vectors of length `len` from `rng`.
pub fn random_inputs<R: rand_core::Rng + ?Sized>(
    n: usize,
    len: usize,
    rng: &mut R,
) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| {
            (0..len)
                .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
                .collect()
        })
        .collect()
}

/// A dropout schedule: `round(fraction * n)` clients chosen by a shuffle from `rng` vanish,
/// spread round-robin over [`rounds`]`(active)`; successive passes over the rounds alternate
/// between closing the connection and going silent until the deadline.
pub fn spread_dropouts<R: rand_core::Rng + ?Sized>(
    n: usize,
    fraction: f64,
    active: bool,
    rng: &mut R,
) -> Vec<Option<Vanish>> {
    let rounds = rounds(active);
    let drops = ((fraction * n as f64).round() as usize).min(n);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let mut vanish = vec![None; n];
    for (k, &i) in order.iter().take(drops).enumerate() {
        let r = rounds[k % rounds.len()];
        vanish[i] = Some(if (k / rounds.len()).is_multiple_of(2) {
            Vanish::Disconnect(r)
        } else {
            Vanish::Silent(r)
        });
    }
    vanish
}
