//! Target `client_state_machine`: one real client against a hostile server.
//!
//! Set-up: three sessions ([`super::setup::sessions`]), each simulated several times with the same
//! seeds and different dropout schedules; every message the server sent to the client under test
//! (participant 0) is recorded. Since a run is a pure function of its configuration, a client
//! rebuilt with the same seed accepts those messages. The fuzz input then picks a session and a
//! sequence of steps: recorded messages (in a run's order or any), mutated recorded messages,
//! arbitrary bytes, arbitrary bodies behind a correct header, and well-formed survivor sets of
//! the fuzzer's choosing.
//!
//! Properties: no panic; once the client has aborted or finished it never produces a message;
//! every reply decodes under the session's limits and comes from this client; across all replies
//! no peer has both a self-mask share and a mask-key share revealed, and
//! [`Client::revealed`] agrees.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;

use super::input::{mutate, Src};
use super::setup;
use crate::crypto::sign::SigningKey;
use crate::ids::{ParticipantId, Round};
use crate::protocol::messages::{
    types, ClientMessage, ConsistencyRequest, Limits, ServerMessage, ShareKind, UnmaskRequest,
};
use crate::protocol::params::SessionParams;
use crate::protocol::sim::{self, Event, Vanish};
use crate::protocol::{Client, ClientStatus};

/// Seed of every recorded simulation.
const SEED: u64 = 0xf022;

/// One session with the server messages recorded for client 0.
struct Scenario {
    params: Arc<SessionParams>,
    inputs: Vec<f64>,
    /// Distinct recorded messages.
    pool: Vec<Vec<u8>>,
    /// Each run's messages to client 0, as indices into `pool`, in order.
    runs: Vec<Vec<usize>>,
}

fn scenarios() -> &'static [Scenario] {
    static S: OnceLock<Vec<Scenario>> = OnceLock::new();
    S.get_or_init(|| setup::sessions().iter().map(record).collect())
}

fn record(p: &SessionParams) -> Scenario {
    let n = p.n();
    // Peers 1 and 2 vanish in various rounds (both neighbours of 0 in every session here, or
    // not: either way the runs differ in what client 0 is told).
    let mut schedules: Vec<Vec<Option<Vanish>>> = vec![vec![None; n]];
    for r in [
        Round::AdvertiseKeys,
        Round::ShareKeys,
        Round::MaskedInput,
        Round::ConsistencyCheck,
        Round::Unmasking,
    ] {
        for who in [1usize, 2] {
            let mut v = vec![None; n];
            v[who] = Some(Vanish::Silent(r));
            schedules.push(v);
        }
    }
    // Too many drop: the session aborts.
    let mut v = vec![None; n];
    for slot in v.iter_mut().skip(1).take(n - 2) {
        *slot = Some(Vanish::Silent(Round::MaskedInput));
    }
    schedules.push(v);
    let me = p.participants[0];
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut runs = Vec::new();
    for vanish in schedules {
        let cfg = setup::sim_config(p, vanish, SEED);
        let Ok(report) = sim::run(&cfg) else { continue };
        let mut run = Vec::new();
        for e in report.transcript {
            if let Event::FromServer { to, bytes } = e {
                if to == me {
                    let k = pool.iter().position(|m| *m == bytes).unwrap_or_else(|| {
                        pool.push(bytes);
                        pool.len() - 1
                    });
                    run.push(k);
                }
            }
        }
        runs.push(run);
    }
    Scenario {
        params: Arc::new(p.clone()),
        inputs: setup::inputs(n, p.vector_len as usize).swap_remove(0),
        pool,
        runs,
    }
}

/// Number of recorded sessions (for seed generation).
pub fn client_scenarios() -> usize {
    scenarios().len()
}

/// Number of recorded runs of session `s` (for seed generation).
pub fn client_runs(s: usize) -> usize {
    scenarios()[s].runs.len()
}

/// Step tags of the `client_state_machine` input: after a session byte, steps `tag, ...`.
pub mod step {
    /// `u8 idx`: recorded message `idx % pool`.
    pub const POOL: u8 = 0;
    /// `u8 run`: the next message of that recorded run.
    pub const NEXT_IN_RUN: u8 = 1;
    /// `u8 idx, mutations`: a mutated recorded message.
    pub const MUTATED: u8 = 2;
    /// `blob`: arbitrary bytes.
    pub const RAW: u8 = 3;
    /// `u8 type, blob`: arbitrary body behind this session's header.
    pub const HEADER: u8 = 4;
    /// `u8 kind, u16 mask, u8 extra`: a well-formed survivor set (consistency or unmask request).
    pub const SURVIVORS: u8 = 5;
    /// Number of tags.
    pub const COUNT: u8 = 6;
}

/// The `client_state_machine` target.
pub fn client_state_machine(data: &[u8]) {
    let mut src = Src::new(data);
    let all = scenarios();
    let sc = &all[src.u8() as usize % all.len()];
    let p = &sc.params;
    let me_index = 0;
    let me = p.participants[me_index];
    let mut rng = ChaCha20Rng::seed_from_u64(setup::client_rng_seed(SEED, me_index));
    let identity = (!p.identity_keys.is_empty())
        .then(|| SigningKey::from_seed(&setup::identity_seed(me_index)));
    let (mut client, first) =
        Client::new(p.clone(), me, identity, &sc.inputs, 1, &mut rng).expect("valid client set-up");
    let limits = Limits::new(p);
    let session = client.session_id();
    assert!(ClientMessage::decode(&first, &limits).is_ok());

    let mut cursors = vec![0usize; sc.runs.len()];
    let mut revealed: BTreeMap<ParticipantId, ShareKind> = BTreeMap::new();
    let mut dead = false;
    for _ in 0..64 {
        if src.is_empty() {
            break;
        }
        let bytes: Vec<u8> = match src.u8() % step::COUNT {
            step::POOL => sc.pool[src.u8() as usize % sc.pool.len()].clone(),
            step::NEXT_IN_RUN => {
                let r = src.u8() as usize % sc.runs.len();
                let run = &sc.runs[r];
                let Some(&k) = run.get(cursors[r]) else {
                    continue;
                };
                cursors[r] += 1;
                sc.pool[k].clone()
            }
            step::MUTATED => {
                let mut m = sc.pool[src.u8() as usize % sc.pool.len()].clone();
                mutate(&mut src, &mut m);
                m
            }
            step::RAW => src.blob().to_vec(),
            step::HEADER => {
                let ty = src.u8();
                let mut m = vec![crate::crypto::PROTOCOL_VERSION, ty];
                m.extend_from_slice(session.as_bytes());
                m.extend_from_slice(src.blob());
                m
            }
            _ => {
                let kind = src.u8();
                let mask = src.u16();
                let extra = src.u8();
                let mut survivors: Vec<ParticipantId> = p
                    .participants
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask >> (i % 16) & 1 == 1)
                    .map(|(_, id)| *id)
                    .collect();
                if extra != 0 {
                    if let Some(id) = ParticipantId::new(extra as u16) {
                        if let Err(pos) = survivors.binary_search(&id) {
                            survivors.insert(pos, id);
                        }
                    }
                }
                let msg = if kind.is_multiple_of(2) {
                    ServerMessage::UnmaskRequest(UnmaskRequest {
                        survivors,
                        signatures: Vec::new(),
                    })
                } else {
                    ServerMessage::ConsistencyRequest(ConsistencyRequest { survivors })
                };
                msg.encode(&session)
            }
        };
        let finished_before = matches!(client.status(), ClientStatus::Finished(_));
        let result = client.handle(&bytes, &mut rng);
        match result {
            Ok(Some(reply)) => {
                assert!(!dead, "client replied after aborting or finishing");
                let (s, msg) = ClientMessage::decode(&reply, &limits).expect("reply decodes");
                assert_eq!(s, session);
                assert_eq!(msg.sender(), me);
                if let ClientMessage::UnmaskShares(u) = msg {
                    for sh in &u.shares {
                        assert!(client.neighbours().contains(&sh.owner));
                        let prev = revealed.insert(sh.owner, sh.kind);
                        assert!(
                            prev.is_none_or(|k| k == sh.kind),
                            "both kinds of share of {} revealed",
                            sh.owner
                        );
                    }
                }
            }
            Ok(None) => {
                assert!(
                    !dead,
                    "client accepted a message after aborting or finishing"
                );
                assert!(matches!(client.status(), ClientStatus::Finished(_)));
                assert_eq!(bytes.get(1), Some(&types::FINISHED));
                dead = true;
            }
            Err(abort) => {
                assert_eq!(abort.client, me);
                if !finished_before {
                    assert!(matches!(client.status(), ClientStatus::Aborted(_)));
                }
                dead = true;
            }
        }
    }
    // The client's own record agrees with what it sent.
    let own = client.revealed();
    assert_eq!(own.len(), revealed.len());
    for (owner, kind) in own {
        assert_eq!(revealed.get(owner), Some(kind));
    }
}
