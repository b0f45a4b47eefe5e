//! Target `server_state_machine`: one server, every participant a live honest client, and a
//! fuzzer that controls the network.
//!
//! The fuzz input picks a session and then a schedule of operations: deliver queued genuine
//! client messages (in order or out of order), withhold one (that client stays silent), inject
//! a message from any id (arbitrary bytes, a mutated genuine message, a replay of another
//! client's message, an arbitrary body behind a correct header), advance time, report a lost
//! connection. Server messages go straight to the clients, whose replies join the queue. At the
//! end every queued message is delivered and time advances until the session ends.
//!
//! A participant is *tainted* if the server accepted a message from its id that its client did
//! not produce (transport authentication is the driver's job; the fuzzer may still forge ids).
//! Properties:
//! * no panic, and the session ends within five deadlines after the schedule;
//! * a result whose included clients are all untainted is their exact sum (inputs lie on the
//!   quantization grid) with the right total weight: tainted clients outside the sum, dropped
//!   clients and forged messages cannot shift it;
//! * if nobody is tainted and nobody was dropped, the session succeeds with everyone included
//!   and no client aborted.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;

use super::input::{mutate, Src};
use super::setup;
use crate::crypto::sign::SigningKey;
use crate::ids::ParticipantId;
use crate::protocol::params::SessionParams;
use crate::protocol::server::ClientFate;
use crate::protocol::{Client, ClientStatus, Server};

fn sessions() -> &'static [Arc<SessionParams>] {
    static S: OnceLock<Vec<Arc<SessionParams>>> = OnceLock::new();
    S.get_or_init(|| setup::sessions().into_iter().map(Arc::new).collect())
}

/// Operation tags of the `server_state_machine` input: after `u8 session, u8 seed`, operations
/// `tag, ...`.
pub mod op {
    /// `u8 k`: deliver the next `k % 8 + 1` queued genuine messages.
    pub const DELIVER: u8 = 0;
    /// `u8 i`: deliver queued message `i % len` (out of order).
    pub const DELIVER_AT: u8 = 1;
    /// `u8 i`: discard queued message `i % len` (its sender stays silent).
    pub const WITHHOLD: u8 = 2;
    /// `u8 from, u8 kind, ...`: inject a message (see [`super::server_state_machine`]).
    pub const INJECT: u8 = 3;
    /// `u8 mode, u16 ms`: advance time to the deadline (even mode) or by `ms`.
    pub const TIMEOUT: u8 = 4;
    /// `u8 who`: report a lost connection.
    pub const GONE: u8 = 5;
    /// `u8 i`: deliver again a message some client already sent (from that client).
    pub const DUPLICATE: u8 = 6;
    /// Number of tags.
    pub const COUNT: u8 = 7;
}

struct World {
    p: Arc<SessionParams>,
    server: Server,
    clients: Vec<Client>,
    rngs: Vec<ChaCha20Rng>,
    queue: VecDeque<(usize, Vec<u8>)>,
    /// Every message each client produced, and all of them in order.
    genuine: Vec<Vec<Vec<u8>>>,
    history: Vec<(usize, Vec<u8>)>,
    tainted: Vec<bool>,
    now: u64,
}

impl World {
    fn pump(&mut self) {
        while let Some((to, bytes)) = self.server.poll_transmit() {
            let Some(i) = self.p.index_of(to) else {
                panic!("server sent to a non-participant {to}");
            };
            if let Ok(Some(reply)) = self.clients[i].handle(&bytes, &mut self.rngs[i]) {
                self.genuine[i].push(reply.clone());
                self.history.push((i, reply.clone()));
                self.queue.push_back((i, reply));
            }
        }
    }

    fn deliver(&mut self, i: usize, bytes: &[u8]) {
        let from = self.p.participants[i];
        let _ = self.server.handle_message(from, bytes, self.now);
        self.pump();
    }

    fn inject(&mut self, from: ParticipantId, bytes: &[u8]) {
        let accepted = self.server.handle_message(from, bytes, self.now).is_ok();
        if let Some(i) = self.p.index_of(from) {
            if accepted && !self.genuine[i].iter().any(|m| m == bytes) {
                self.tainted[i] = true;
            }
        }
        self.pump();
    }

    fn pick_id(&self, b: u8) -> ParticipantId {
        if b < 0x80 {
            self.p.participants[b as usize % self.p.n()]
        } else {
            ParticipantId::new(b as u16 - 0x7f).unwrap_or(self.p.participants[0])
        }
    }
}

/// The `server_state_machine` target.
pub fn server_state_machine(data: &[u8]) {
    let mut src = Src::new(data);
    let all = sessions();
    let p = all[src.u8() as usize % all.len()].clone();
    let seed = src.u8() as u64;
    let n = p.n();
    let inputs = setup::inputs(n, p.vector_len as usize);
    let server = Server::new(p.clone(), 0).expect("valid session");
    let mut w = World {
        p: p.clone(),
        server,
        clients: Vec::with_capacity(n),
        rngs: Vec::with_capacity(n),
        queue: VecDeque::new(),
        genuine: vec![Vec::new(); n],
        history: Vec::new(),
        tainted: vec![false; n],
        now: 0,
    };
    for (i, &id) in p.participants.iter().enumerate() {
        let mut rng = ChaCha20Rng::seed_from_u64(setup::client_rng_seed(seed, i));
        let identity =
            (!p.identity_keys.is_empty()).then(|| SigningKey::from_seed(&setup::identity_seed(i)));
        let (c, msg) =
            Client::new(p.clone(), id, identity, &inputs[i], 1, &mut rng).expect("valid client");
        w.clients.push(c);
        w.rngs.push(rng);
        w.genuine[i].push(msg.clone());
        w.history.push((i, msg.clone()));
        w.queue.push_back((i, msg));
    }

    for _ in 0..128 {
        if src.is_empty() {
            break;
        }
        match src.u8() % op::COUNT {
            op::DELIVER => {
                for _ in 0..src.u8() % 8 + 1 {
                    if let Some((i, m)) = w.queue.pop_front() {
                        w.deliver(i, &m);
                    }
                }
            }
            op::DELIVER_AT => {
                let k = src.u8() as usize;
                if !w.queue.is_empty() {
                    let len = w.queue.len();
                    if let Some((i, m)) = w.queue.remove(k % len) {
                        w.deliver(i, &m);
                    }
                }
            }
            op::WITHHOLD => {
                let k = src.u8() as usize;
                if !w.queue.is_empty() {
                    let len = w.queue.len();
                    w.queue.remove(k % len);
                }
            }
            op::INJECT => {
                let from = w.pick_id(src.u8());
                let bytes = match src.u8() % 4 {
                    0 => src.blob().to_vec(),
                    1 => {
                        let k = src.u8() as usize % w.history.len();
                        let mut m = w.history[k].1.clone();
                        mutate(&mut src, &mut m);
                        m
                    }
                    2 => {
                        // Another client's genuine message, sender rewritten to `from`.
                        let k = src.u8() as usize % w.history.len();
                        let mut m = w.history[k].1.clone();
                        if m.len() >= 36 {
                            m[34..36].copy_from_slice(&from.to_be_bytes());
                        }
                        m
                    }
                    _ => {
                        let ty = src.u8() % 6;
                        let mut m = vec![crate::crypto::PROTOCOL_VERSION, ty];
                        m.extend_from_slice(w.server.session_id().as_bytes());
                        m.extend_from_slice(&from.to_be_bytes());
                        m.extend_from_slice(src.blob());
                        m
                    }
                };
                w.inject(from, &bytes);
            }
            op::TIMEOUT => {
                let mode = src.u8();
                let ms = src.u16() as u64;
                w.now = if mode.is_multiple_of(2) {
                    w.server.poll_timeout().unwrap_or(w.now).max(w.now)
                } else {
                    w.now + ms
                };
                w.server.handle_timeout(w.now);
                w.pump();
            }
            op::GONE => {
                let id = w.pick_id(src.u8());
                w.server.client_gone(id, w.now);
                w.pump();
            }
            _ => {
                let k = src.u8() as usize % w.history.len();
                let (i, m) = w.history[k].clone();
                w.deliver(i, &m);
            }
        }
    }

    // Drain: deliver everything queued, then let deadlines pass until the session ends.
    for _ in 0..8 {
        while let Some((i, m)) = w.queue.pop_front() {
            w.deliver(i, &m);
        }
        if w.server.result().is_some() {
            break;
        }
        if let Some(d) = w.server.poll_timeout() {
            w.now = w.now.max(d);
        }
        w.server.handle_timeout(w.now);
        w.pump();
    }
    let result = w
        .server
        .result()
        .expect("the session ends after its deadlines pass");

    let any_taint = w.tainted.iter().any(|&t| t);
    let any_drop = p
        .participants
        .iter()
        .any(|&id| matches!(w.server.fate(id), Some(ClientFate::Dropped { .. })));
    if !any_taint && !any_drop {
        let out = result
            .as_ref()
            .unwrap_or_else(|e| panic!("nobody dropped or forged, yet the session aborted: {e}"));
        assert_eq!(out.included, p.participants, "everyone must be included");
        for c in &w.clients {
            assert!(
                !matches!(c.status(), ClientStatus::Aborted(_)),
                "client aborted in an undisturbed session: {:?}",
                c.status()
            );
        }
    }
    if let Ok(out) = result {
        assert!(out.included.windows(2).all(|x| x[0] < x[1]));
        let idx: Vec<usize> = out
            .included
            .iter()
            .map(|id| p.index_of(*id).expect("included ids are participants"))
            .collect();
        if idx.iter().all(|&i| !w.tainted[i]) {
            assert_eq!(out.weight_sum, idx.len() as u64, "weight sum");
            let mut want = vec![0f64; p.vector_len as usize];
            for &i in &idx {
                for (s, x) in want.iter_mut().zip(&inputs[i]) {
                    *s += x;
                }
            }
            for (j, (g, e)) in out.dequantized_sum().iter().zip(&want).enumerate() {
                assert!(
                    (g - e).abs() < 1e-9,
                    "coordinate {j}: sum {g}, expected {e} (included {:?})",
                    out.included
                );
            }
        }
    }
}
