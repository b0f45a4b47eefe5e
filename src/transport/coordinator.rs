//! The coordinator: accepts QUIC connections and drives one [`Server`] per session.
//!
//! Per session: an accept task hands each connection to its own task, which reads the Hello,
//! checks the participant, sends the parameters, then forwards frames to the session driver and
//! writes what the driver queues for it. The driver owns the sans-IO server: it feeds it frames,
//! disconnections and deadlines, and routes its output. Nothing but the driver touches the
//! protocol state.
//!
//! Invariants: a connection takes a participant's slot only after the [`Authenticator`] proved
//! it speaks for that participant ([`CloseCode::Unauthorized`] otherwise); a participant has at
//! most one connection per session (a second one is closed with [`CloseCode::Duplicate`]); a
//! client that closes its connection is reported to the server at once; a frame above the
//! session's largest message closes the connection from its length prefix alone.
//!
//! Resource bounds (so no peer can grow the coordinator's memory without limit): at most
//! `max_pending_hellos` connections between their first packet and their Hello, later ones
//! refused before the TLS handshake; no QUIC datagrams; at most `frames_in_flight` frames per
//! connection and `queue_bytes` bytes over all connections queued for the driver, the readers
//! waiting (and QUIC flow control pushing back) when full; a participant whose messages the
//! server refused more than `max_refused` times is disconnected; the unmasking runs with
//! [`tokio::task::block_in_place`], off the threads that serve the connections.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, info, warn};

use rustls::pki_types::CertificateDer;

use super::auth::{Authenticator, Claim, TrustClaimedId};
use super::frame::*;
use super::metrics::Metrics;
use super::tls::{server_config, TlsIdentity};
use crate::ids::{ParticipantId, Round, SessionId};
use crate::protocol::messages::Limits;
use crate::protocol::server::{AggregateOutput, ClientFate};
use crate::protocol::{Server, SessionAbort, SessionParams};

/// Coordinator settings that are not session parameters.
#[derive(Clone)]
pub struct CoordinatorOptions {
    /// Who may speak for a participant; asked before a connection takes a participant's slot.
    /// The default, [`TrustClaimedId`], authenticates nobody and is for development only.
    pub authenticator: Arc<dyn Authenticator>,
    /// Mutual TLS: the operator CA that client certificates must chain to (use with
    /// [`super::auth::ClientCertificates`]). `None`: no client certificates.
    pub client_ca: Option<Vec<CertificateDer<'static>>>,
    /// How long a new connection has to complete the handshake and send its Hello.
    pub hello_timeout: Duration,
    /// QUIC idle timeout.
    pub idle_timeout: Duration,
    /// How long to keep connections open after the result so clients receive `Finished`.
    pub linger: Duration,
    /// Most connections that may be between their first packet and an authenticated Hello at
    /// once; further ones are refused before the TLS handshake (QUIC `CONNECTION_REFUSED`).
    pub max_pending_hellos: usize,
    /// Frames one connection may have queued for the driver; the reader then stops reading,
    /// so QUIC flow control pushes back on the peer.
    pub frames_in_flight: u32,
    /// Bytes of frames all connections together may have queued for the driver (raised to
    /// twice the session's largest client message if smaller). With the default, 8 MiB, a
    /// session with L = 10^6 and 32-bit elements queues at most two masked inputs: the
    /// coordinator's memory is its accumulator, those two frames and the QUIC stream windows,
    /// whatever the peers send.
    pub queue_bytes: usize,
    /// Messages the server may refuse from one participant in a session before its connection
    /// is closed with [`CloseCode::TooManyRefused`].
    pub max_refused: u32,
}

impl core::fmt::Debug for CoordinatorOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CoordinatorOptions")
            .field("authenticator", &self.authenticator.name())
            .field("client_ca", &self.client_ca.as_ref().map(Vec::len))
            .field("hello_timeout", &self.hello_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("linger", &self.linger)
            .field("max_pending_hellos", &self.max_pending_hellos)
            .field("frames_in_flight", &self.frames_in_flight)
            .field("queue_bytes", &self.queue_bytes)
            .field("max_refused", &self.max_refused)
            .finish()
    }
}

impl Default for CoordinatorOptions {
    fn default() -> Self {
        Self {
            authenticator: Arc::new(TrustClaimedId),
            client_ca: None,
            hello_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            linger: Duration::from_secs(2),
            max_pending_hellos: 256,
            frames_in_flight: 2,
            queue_bytes: 8 << 20,
            max_refused: 16,
        }
    }
}

/// One closed round, as logged.
#[derive(Debug, Clone)]
pub struct RoundLog {
    /// The round.
    pub round: Round,
    /// Time from the session start to the round's close.
    pub closed_at: Duration,
    /// Survivor set recorded at the close, if any (name, size).
    pub set: Option<(&'static str, usize)>,
}

/// What happened in one session.
#[derive(Debug)]
pub struct SessionReport {
    /// The session id.
    pub session_id: SessionId,
    /// The session's parameters.
    pub params: Arc<SessionParams>,
    /// The result or the abort.
    pub result: Result<AggregateOutput, SessionAbort>,
    /// Each participant's fate.
    pub fates: Vec<(ParticipantId, ClientFate)>,
    /// Rounds as they closed.
    pub rounds: Vec<RoundLog>,
    /// Protocol bytes received (frames, without the length prefix).
    pub bytes_in: u64,
    /// Protocol bytes sent.
    pub bytes_out: u64,
    /// Connections accepted into the session.
    pub connections: usize,
    /// Connections refused (bad hello, unknown or duplicate participant, oversized frame).
    pub refused: usize,
    /// Messages the server refused.
    pub rejected: usize,
    /// Wall time of the session.
    pub elapsed: Duration,
}

enum Event {
    Frame {
        id: ParticipantId,
        bytes: Vec<u8>,
        /// The frame's share of the connection's and the global queue bounds, released when the
        /// driver has handled it.
        _slot: OwnedSemaphorePermit,
        _bytes: OwnedSemaphorePermit,
    },
    Gone {
        id: ParticipantId,
    },
    /// A participant took its place during cohort check-in.
    CheckedIn,
}

/// Runs a step of the sans-IO server that may take long (the unmasking regenerates every
/// mask) without stalling the runtime's other tasks: on a multi-threaded runtime the worker
/// hands its queued tasks (the connections' readers and writers) to other threads first.
/// Completes when a drain's grace period is over: never if the coordinator does not drain.
pub(super) async fn grace_over(
    drain: &mut tokio::sync::watch::Receiver<Option<tokio::time::Instant>>,
) {
    loop {
        let at = *drain.borrow_and_update();
        match at {
            Some(at) => return tokio::time::sleep_until(at).await,
            None => {
                if drain.changed().await.is_err() {
                    std::future::pending::<()>().await
                }
            }
        }
    }
}

fn off_io<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

pub(super) struct Peer {
    pub(super) tx: mpsc::UnboundedSender<Vec<u8>>,
    pub(super) conn: quinn::Connection,
}

pub(super) struct Shared {
    pub(super) metrics: Arc<Metrics>,
    pub(super) peers: Mutex<HashMap<ParticipantId, Peer>>,
    /// Whether participants may still join: only while round 0 is collecting. Written and
    /// read under the `peers` lock, so no connection slips in after the round closed.
    pub(super) closed_to_new: std::sync::atomic::AtomicBool,
    pub(super) bytes_in: AtomicU64,
    pub(super) connections: AtomicUsize,
    pub(super) refused: AtomicUsize,
}

/// A QUIC endpoint serving sessions one after another.
pub struct Coordinator {
    pub(super) endpoint: quinn::Endpoint,
    pub(super) opts: CoordinatorOptions,
    /// Set by [`Coordinator::drain`]: when the running session must end at the latest.
    pub(super) drain: tokio::sync::watch::Sender<Option<tokio::time::Instant>>,
    pub(super) metrics: Arc<Metrics>,
}

impl Coordinator {
    /// Binds the endpoint. Must be called within a tokio runtime.
    pub fn bind(
        addr: SocketAddr,
        identity: &TlsIdentity,
        opts: CoordinatorOptions,
    ) -> Result<Self, TransportError> {
        let socket =
            quinn::Runtime::wrap_udp_socket(&quinn::TokioRuntime, super::tls::udp_socket(addr)?)
                .map_err(|e| TransportError::Config(e.to_string()))?;
        Self::with_socket(socket, identity, opts)
    }

    /// As [`Coordinator::bind`], on a socket the caller provides (for example a
    /// [`super::faults::FaultySocket`] in tests of lossy networks).
    pub fn with_socket(
        socket: Arc<dyn quinn::AsyncUdpSocket>,
        identity: &TlsIdentity,
        opts: CoordinatorOptions,
    ) -> Result<Self, TransportError> {
        let cfg = server_config(identity, opts.idle_timeout, opts.client_ca.as_deref())?;
        if opts.authenticator.name() == TrustClaimedId.name() {
            warn!("participants are not authenticated: any connection may claim any id (development only)");
        }
        let endpoint = quinn::Endpoint::new_with_abstract_socket(
            quinn::EndpointConfig::default(),
            Some(cfg),
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(|e| TransportError::Config(e.to_string()))?;
        Ok(Self {
            endpoint,
            opts,
            drain: tokio::sync::watch::Sender::new(None),
            metrics: Arc::new(Metrics::new()),
        })
    }

    /// The coordinator's metrics (serve them with [`super::metrics::serve_http`]).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Starts a graceful shutdown: new connections are refused from now on, and the running
    /// session (if any) may finish within `grace`; after that it is aborted
    /// ([`crate::protocol::AbortReason::Shutdown`]), its clients are sent `Finished(Aborted)`
    /// and their connections are closed with [`CloseCode::Shutdown`].
    pub fn drain(&self, grace: Duration) {
        self.endpoint.set_server_config(None);
        self.drain
            .send_replace(Some(tokio::time::Instant::now() + grace));
    }

    /// Whether [`Coordinator::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.drain.borrow().is_some()
    }

    /// Closes every connection with [`CloseCode::Shutdown`] and waits (at most `wait`) until
    /// the peers have been told, so the close is not lost when the process exits.
    pub async fn shutdown(&self, wait: Duration) {
        self.close();
        let _ = tokio::time::timeout(wait, self.endpoint.wait_idle()).await;
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        self.endpoint
            .local_addr()
            .map_err(|e| TransportError::Config(e.to_string()))
    }

    /// Stops accepting and closes every connection.
    pub fn close(&self) {
        self.endpoint
            .close(CloseCode::Shutdown.varint(), b"shutdown");
    }

    /// Runs one session to its end: accepts the participants' connections, drives the
    /// protocol, and returns the report. Connections for other sessions wait in the endpoint's
    /// queue until the next call.
    ///
    /// The result is not stored anywhere: a service that must not tell a client `Included`
    /// before its result is safe uses [`Coordinator::run_session_committed`].
    pub async fn run_session(
        &self,
        params: SessionParams,
    ) -> Result<SessionReport, TransportError> {
        self.run_session_committed(params, |_| Ok::<(), core::convert::Infallible>(()))
            .await
            .map(|(report, _)| report)
    }

    /// As [`Coordinator::run_session`], but the session's final `Finished` messages are held
    /// back until `commit` (typically a durable write of the report) has returned: on `Ok`
    /// they go out as the protocol produced them; on `Err` every client that was to receive one
    /// is sent `Finished(aborted, 5)` ([`NOT_STORED`]) instead, so no client is told it was
    /// included in a result that was lost. `commit` runs off the connection-serving threads
    /// (it may block on the file system). Returns the report and what `commit` returned.
    pub async fn run_session_committed<E>(
        &self,
        params: SessionParams,
        commit: impl FnOnce(&SessionReport) -> Result<(), E>,
    ) -> Result<(SessionReport, Result<(), E>), TransportError> {
        self.run_plan(Plan::<NoBuild>::Fixed(params), commit).await
    }

    /// Runs one session whose participants are the cohort that checks in: authenticated
    /// connections (of `cohort.eligible` ids, if given) are held after their Hello until
    /// `cohort.max_clients` have checked in, or `cohort.checkin_timeout` has passed with at
    /// least `cohort.min_clients`; then `build` makes the session's parameters for exactly
    /// those ids (sorted), typically running the parameter chooser on the actual cohort size,
    /// and every member is sent them. Connections after the close get code 9 (`Busy`). Fewer
    /// than `min_clients` at the deadline: every member is closed with code 9 and the error is
    /// [`TransportError::QuorumNotReached`]; no session ran. The report is committed as in
    /// [`Coordinator::run_session_committed`].
    ///
    /// Concurrent sessions: with `handover`, this session stops accepting connections when its
    /// cohort closes (or check-in fails) and then sends on `handover`, so the caller can open
    /// the next session's check-in while this one runs; connections for it wait in the
    /// endpoint's queue until it accepts. Without `handover`, this session keeps accepting (and
    /// telling late clients to retry, code 9) until it ends.
    pub async fn run_cohort_session<E, B>(
        &self,
        cohort: &Cohort,
        build: B,
        commit: impl FnOnce(&SessionReport) -> Result<(), E>,
        handover: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<(SessionReport, Result<(), E>), TransportError>
    where
        B: FnOnce(Vec<ParticipantId>) -> Result<SessionParams, String>,
    {
        if cohort.min_clients < 2 || cohort.max_clients < cohort.min_clients {
            return Err(TransportError::Config(format!(
                "cohort: need 2 <= min_clients ({}) <= max_clients ({})",
                cohort.min_clients, cohort.max_clients
            )));
        }
        self.run_plan(Plan::Cohort(cohort.clone(), build, handover), commit)
            .await
    }

    async fn run_plan<E, B>(
        &self,
        plan: Plan<B>,
        commit: impl FnOnce(&SessionReport) -> Result<(), E>,
    ) -> Result<(SessionReport, Result<(), E>), TransportError>
    where
        B: FnOnce(Vec<ParticipantId>) -> Result<SessionParams, String>,
    {
        let shared = Arc::new(Shared {
            metrics: self.metrics.clone(),
            peers: Mutex::default(),
            closed_to_new: Default::default(),
            bytes_in: Default::default(),
            connections: Default::default(),
            refused: Default::default(),
        });
        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
        let (start_tx, start_rx) = tokio::sync::watch::channel::<Option<Arc<Start>>>(None);
        // Grown to twice the session's largest client message once the parameters are known.
        let queue = Arc::new(Semaphore::new(
            self.opts.queue_bytes.min(Semaphore::MAX_PERMITS),
        ));
        if let Plan::Fixed(p) = &plan {
            p.validate()?;
        }
        let (eligible, capacity) = match &plan {
            Plan::Fixed(_) => (None, None),
            Plan::Cohort(c, _, _) => (
                c.eligible.as_ref().map(|e| {
                    Arc::new(e.iter().copied().collect::<std::collections::BTreeSet<_>>())
                }),
                Some(c.max_clients),
            ),
        };
        let pending = Arc::new(Semaphore::new(self.opts.max_pending_hellos));
        let acceptor = {
            let endpoint = self.endpoint.clone();
            let (shared, start_rx, ev_tx, opts, queue) = (
                shared.clone(),
                start_rx.clone(),
                ev_tx.clone(),
                self.opts.clone(),
                queue.clone(),
            );
            tokio::spawn(async move {
                while let Some(incoming) = endpoint.accept().await {
                    let Ok(permit) = pending.clone().try_acquire_owned() else {
                        // Refused before the handshake: no TLS work, no connection state.
                        shared.refused.fetch_add(1, Ordering::Relaxed);
                        shared.metrics.add(
                            "secagg_connections_refused_total",
                            &[("code", "RefusedBeforeHandshake")],
                            1,
                        );
                        warn!(remote = %incoming.remote_address(), "connection refused: too many connections without a Hello");
                        incoming.refuse();
                        continue;
                    };
                    tokio::spawn(serve_connection(
                        incoming,
                        permit,
                        queue.clone(),
                        Membership {
                            start: start_rx.clone(),
                            eligible: eligible.clone(),
                            capacity,
                        },
                        ev_tx.clone(),
                        shared.clone(),
                        opts.clone(),
                    ));
                }
            })
        };
        let close_to_new = |shared: &Shared| {
            if let Ok(_peers) = shared.peers.lock() {
                shared.closed_to_new.store(true, Ordering::SeqCst);
            }
        };

        // Check-in: wait for the cohort, then build its parameters.
        let params = match plan {
            Plan::Fixed(p) => p,
            Plan::Cohort(c, build, handover) => {
                let checked_in = self.check_in(&c, &shared, &mut ev_rx).await;
                if let Some(h) = handover {
                    // The next session accepts from now on.
                    acceptor.abort();
                    let _ = h.send(());
                }
                let ids = match checked_in {
                    Ok(ids) => ids,
                    Err(e) => {
                        close_to_new(&shared);
                        acceptor.abort();
                        close_members(&shared, CloseCode::Busy, &e.to_string());
                        return Err(e);
                    }
                };
                let built = build(ids.clone()).and_then(|p| {
                    p.validate().map_err(|e| e.to_string())?;
                    if p.participants != ids {
                        return Err("the built parameters do not list exactly the cohort".into());
                    }
                    Ok(p)
                });
                match built {
                    Ok(p) => {
                        info!(cohort = ids.len(), "cohort closed");
                        p
                    }
                    Err(e) => {
                        acceptor.abort();
                        close_members(&shared, CloseCode::Busy, "no session for this cohort");
                        return Err(TransportError::Config(format!("cohort parameters: {e}")));
                    }
                }
            }
        };
        let params = Arc::new(params);
        let session_id = params.session_id();
        let start = Instant::now();
        let now_ms = move || start.elapsed().as_millis() as u64;
        let mut server = Server::new(params.clone(), now_ms())?;
        server.set_observer(Box::new(super::metrics::MetricsObserver::new(
            self.metrics.clone(),
            now_ms(),
        )));
        let limits = Limits::new(&params);
        let max_frame = limits.max_client_message();
        let want_queue = (2 * max_frame).min(Semaphore::MAX_PERMITS);
        if want_queue > self.opts.queue_bytes {
            queue.add_permits(want_queue - self.opts.queue_bytes.min(want_queue));
        }
        self.metrics.add("secagg_sessions_started_total", &[], 1);
        info!(session = ?session_id, n = params.n(), t = params.threshold, degree = params.degree(), L = params.vector_len, "session open");
        start_tx.send_replace(Some(Arc::new(Start {
            params: params.clone(),
            frame: Arc::new(encode_params(&params)),
            max_frame,
        })));

        let mut bytes_out = 0u64;
        let mut rejected = 0usize;
        let mut rejected_by: HashMap<ParticipantId, u32> = HashMap::new();
        let mut rounds = Vec::new();
        let mut round = server.round();
        let mut sets_seen = 0usize;
        let mut drain = self.drain.subscribe();
        while server.result().is_none() {
            let deadline = server
                .poll_timeout()
                .map(|ms| tokio::time::Instant::from_std(start + Duration::from_millis(ms)));
            tokio::select! {
                ev = ev_rx.recv() => match ev {
                    Some(Event::Frame { id, bytes, .. }) => {
                        let t0 = Instant::now();
                        let r = off_io(|| server.handle_message(id, &bytes, now_ms()));
                        if round == Round::Unmasking && matches!(server.result(), Some(Ok(_))) {
                            self.metrics.observe("secagg_unmask_seconds", &[], t0.elapsed());
                        }
                        if let Err(e) = r {
                            rejected += 1;
                            debug!(%e, "message refused");
                            let n = rejected_by.entry(id).or_default();
                            *n += 1;
                            if *n == self.opts.max_refused.saturating_add(1) {
                                // A participant that keeps sending what the server refuses
                                // is either broken or attacking: it is a dropout from now on.
                                warn!(participant = %id, refused = *n, last = %e, "closing connection: too many refused messages");
                                let conn = shared.peers.lock().ok().and_then(|p| p.get(&id).map(|p| p.conn.clone()));
                                if let Some(c) = conn {
                                    c.close(CloseCode::TooManyRefused.varint(), b"too many refused messages");
                                }
                                self.metrics.add("secagg_connections_refused_total", &[("code", "TooManyRefused")], 1);
                                off_io(|| server.client_gone(id, now_ms()));
                            }
                        }
                    }
                    Some(Event::Gone { id }) => {
                        debug!(participant = %id, "connection closed");
                        off_io(|| server.client_gone(id, now_ms()));
                    }
                    Some(Event::CheckedIn) => {}
                    None => break,
                },
                _ = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending::<()>().await,
                    }
                } => off_io(|| server.handle_timeout(now_ms())),
                _ = grace_over(&mut drain) => {
                    warn!(session = ?session_id, round = ?server.round(), "grace period over: aborting the session");
                    off_io(|| server.shut_down());
                }
            }
            if server.result().is_none() {
                bytes_out += flush(&mut server, &shared);
            }
            if server.round() != Round::AdvertiseKeys || server.result().is_some() {
                close_to_new(&shared);
            }
            if server.round() != round || server.result().is_some() {
                let sets = &server.set_sizes().sets;
                let set = sets.get(sets_seen).copied();
                sets_seen = sets.len();
                info!(round = ?round, ms = start.elapsed().as_millis() as u64, set = ?set, "round closed");
                rounds.push(RoundLog {
                    round,
                    closed_at: start.elapsed(),
                    set,
                });
                round = server.round();
            }
        }
        // The session's last messages (its `Finished`) are held until the report is committed.
        let held: Vec<(ParticipantId, Vec<u8>)> =
            std::iter::from_fn(|| server.poll_transmit()).collect();
        close_to_new(&shared);
        acceptor.abort();
        let result = server.result().cloned().unwrap_or(Err(SessionAbort {
            round: server.round(),
            reason: crate::protocol::AbortReason::TooFewClients { have: 0, need: 1 },
        }));
        // Dropouts by round and reason, in one line.
        let mut dropped: std::collections::BTreeMap<String, usize> =
            std::collections::BTreeMap::new();
        for &id in &params.participants {
            if let Some(ClientFate::Dropped { round, why }) = server.fate(id) {
                *dropped.entry(format!("{round:?}/{why:?}")).or_default() += 1;
            }
        }
        info!(session = ?session_id, dropouts = ?dropped, "dropouts by round and reason");
        self.metrics.add(
            "secagg_bytes_received_total",
            &[],
            shared.bytes_in.load(Ordering::Relaxed),
        );
        match &result {
            Ok(out) => info!(
                session = ?session_id,
                included = out.included.len(),
                ms = start.elapsed().as_millis() as u64,
                "session complete: sum of {} inputs",
                out.included.len()
            ),
            Err(e) => warn!(session = ?session_id, %e, "session aborted"),
        }
        let held_bytes: u64 = held.iter().map(|(_, m)| m.len() as u64).sum();
        let mut report = SessionReport {
            session_id,
            params: params.clone(),
            fates: params
                .participants
                .iter()
                .filter_map(|&id| Some((id, server.fate(id)?)))
                .collect(),
            result,
            rounds,
            bytes_in: shared.bytes_in.load(Ordering::Relaxed),
            bytes_out: bytes_out + held_bytes,
            connections: shared.connections.load(Ordering::Relaxed),
            refused: shared.refused.load(Ordering::Relaxed),
            rejected,
            elapsed: start.elapsed(),
        };
        let committed = off_io(|| commit(&report));
        let final_messages = if committed.is_ok() {
            held
        } else {
            warn!(session = ?session_id, "the session's result was not stored: its clients are told it aborted (code {NOT_STORED})");
            self.metrics.add("secagg_results_not_stored_total", &[], 1);
            let abort = crate::protocol::messages::ServerMessage::Finished(
                crate::protocol::messages::Finished {
                    outcome: crate::protocol::messages::Outcome::Aborted,
                    code: NOT_STORED,
                },
            )
            .encode(&session_id);
            let mut to: Vec<ParticipantId> = held.into_iter().map(|(id, _)| id).collect();
            to.sort_unstable();
            to.dedup();
            to.into_iter().map(|id| (id, abort.clone())).collect()
        };
        let sent = send_all(final_messages, &shared);
        report.bytes_out = bytes_out + sent;
        self.metrics
            .add("secagg_bytes_sent_total", &[], report.bytes_out);

        // Let the writers deliver `Finished`, then close every connection.
        let peers: Vec<Peer> = shared
            .peers
            .lock()
            .map(|mut p| p.drain().map(|(_, v)| v).collect())
            .unwrap_or_default();
        let conns: Vec<quinn::Connection> = peers.iter().map(|p| p.conn.clone()).collect();
        drop(peers);
        let linger = tokio::time::sleep(self.opts.linger);
        tokio::pin!(linger);
        for c in &conns {
            tokio::select! {
                _ = c.closed() => {}
                _ = &mut linger => break,
            }
        }
        let shut_down = matches!(
            server.result(),
            Some(Err(SessionAbort {
                reason: crate::protocol::AbortReason::Shutdown,
                ..
            }))
        );
        let (code, why): (_, &[u8]) = if shut_down {
            (CloseCode::Shutdown, b"coordinator shutting down")
        } else {
            (CloseCode::Done, b"session over")
        };
        for c in conns {
            c.close(code.varint(), why);
        }
        Ok((report, committed))
    }
}

/// A session whose participants are whoever checks in (see
/// [`Coordinator::run_cohort_session`]).
#[derive(Debug, Clone)]
pub struct Cohort {
    /// Who may check in; `None`: any participant the authenticator accepts.
    pub eligible: Option<Vec<ParticipantId>>,
    /// Quorum: the fewest members a session runs with.
    pub min_clients: usize,
    /// The cohort closes as soon as this many have checked in.
    pub max_clients: usize,
    /// How long check-in stays open (from the call) when the cohort has not filled up.
    pub checkin_timeout: Duration,
}

/// How a session's participants are decided.
enum Plan<B> {
    /// Fixed in advance.
    Fixed(SessionParams),
    /// The cohort that checks in, how to make its parameters, and whom to tell when this
    /// session stops accepting (see [`Coordinator::run_cohort_session`]).
    Cohort(Cohort, B, Option<tokio::sync::oneshot::Sender<()>>),
}

/// The builder type of a [`Plan::Fixed`] (never called).
type NoBuild = fn(Vec<ParticipantId>) -> Result<SessionParams, String>;

/// What a checked-in connection waits for: the session's parameters, their frame and the
/// largest client frame they allow.
struct Start {
    params: Arc<SessionParams>,
    frame: Arc<Vec<u8>>,
    max_frame: usize,
}

/// How a connection finds out whether its participant belongs to the session.
struct Membership {
    /// The session's start, once its participants are fixed.
    start: tokio::sync::watch::Receiver<Option<Arc<Start>>>,
    /// Cohort check-in: the ids that may check in (`None`: any authenticated one).
    eligible: Option<Arc<std::collections::BTreeSet<ParticipantId>>>,
    /// Cohort check-in: the most members.
    capacity: Option<usize>,
}

/// Closes every connection that took a participant's place (during check-in) with `code`.
fn close_members(shared: &Shared, code: CloseCode, why: &str) {
    let peers: Vec<Peer> = shared
        .peers
        .lock()
        .map(|mut p| p.drain().map(|(_, v)| v).collect())
        .unwrap_or_default();
    for p in peers {
        p.conn.close(code.varint(), why.as_bytes());
    }
}

impl Coordinator {
    /// Holds check-in open until the cohort is full, or its deadline passes with a quorum (or
    /// the coordinator drains). Returns the members' ids, sorted; new connections are refused
    /// from then on.
    async fn check_in(
        &self,
        c: &Cohort,
        shared: &Shared,
        events: &mut mpsc::UnboundedReceiver<Event>,
    ) -> Result<Vec<ParticipantId>, TransportError> {
        let deadline = tokio::time::Instant::now() + c.checkin_timeout;
        let mut drain = self.drain.subscribe();
        let members = |shared: &Shared| shared.peers.lock().map(|p| p.len()).unwrap_or(0);
        info!(
            min = c.min_clients,
            max = c.max_clients,
            timeout_ms = c.checkin_timeout.as_millis() as u64,
            "cohort check-in open"
        );
        loop {
            if members(shared) >= c.max_clients {
                break;
            }
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(Event::Gone { id }) => {
                        // Left before the cohort closed: not a member (its place is free).
                        if let Ok(mut p) = shared.peers.lock() {
                            p.remove(&id);
                        }
                        debug!(participant = %id, "left during check-in");
                    }
                    Some(Event::CheckedIn) | Some(Event::Frame { .. }) => {}
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
                _ = drain.wait_for(Option::is_some) => {
                    return Err(TransportError::Draining);
                }
            }
        }
        let ids: Vec<ParticipantId> = {
            let peers = shared
                .peers
                .lock()
                .map_err(|_| TransportError::Config("peer table poisoned".into()))?;
            shared.closed_to_new.store(true, Ordering::SeqCst);
            let mut ids: Vec<ParticipantId> = peers.keys().copied().collect();
            ids.sort_unstable();
            ids
        };
        if ids.len() < c.min_clients {
            warn!(
                have = ids.len(),
                need = c.min_clients,
                "cohort quorum not reached"
            );
            self.metrics.add("secagg_cohorts_failed_total", &[], 1);
            return Err(TransportError::QuorumNotReached {
                have: ids.len(),
                need: c.min_clients,
            });
        }
        Ok(ids)
    }
}

/// Abort code sent in `Finished` when the session ended but the coordinator could not store
/// its result (section 22 of the spec): whatever the protocol's outcome, no client is told it
/// was included in a sum that was lost.
pub const NOT_STORED: u16 = 5;

/// Routes already-encoded messages to the connections' writers. Returns the bytes queued.
fn send_all(msgs: Vec<(ParticipantId, Vec<u8>)>, shared: &Shared) -> u64 {
    let mut n = 0;
    let Ok(peers) = shared.peers.lock() else {
        return 0;
    };
    for (to, bytes) in msgs {
        if let Some(p) = peers.get(&to) {
            n += bytes.len() as u64;
            let _ = p.tx.send(bytes);
        }
    }
    n
}

/// Routes the server's queued messages to the connections' writers. Returns the bytes queued.
fn flush(server: &mut Server, shared: &Shared) -> u64 {
    let mut n = 0;
    let Ok(peers) = shared.peers.lock() else {
        return 0;
    };
    while let Some((to, bytes)) = server.poll_transmit() {
        if let Some(p) = peers.get(&to) {
            n += bytes.len() as u64;
            let _ = p.tx.send(bytes);
        }
    }
    n
}

pub(super) fn refuse(shared: &Shared, conn: &quinn::Connection, code: CloseCode, why: &str) {
    shared.refused.fetch_add(1, Ordering::Relaxed);
    shared.metrics.add(
        "secagg_connections_refused_total",
        &[("code", &format!("{code:?}"))],
        1,
    );
    warn!(remote = %conn.remote_address(), ?code, why, "connection refused");
    conn.close(code.varint(), why.as_bytes());
}

/// The common start of every connection: the TLS handshake, the stream and the Hello within
/// `opts.hello_timeout`, then authentication of the claimed participant. On failure the
/// connection is refused (closed with the matching code, counted and logged) and `None` is
/// returned. The pending-Hello permit is released once the Hello is authenticated.
pub(super) async fn authenticate_connection(
    incoming: quinn::Incoming,
    pending: OwnedSemaphorePermit,
    shared: &Shared,
    opts: &CoordinatorOptions,
) -> Option<(
    quinn::Connection,
    quinn::SendStream,
    quinn::RecvStream,
    ParticipantId,
)> {
    // One deadline for the handshake, the stream and the Hello together.
    let deadline = tokio::time::Instant::now() + opts.hello_timeout;
    let Ok(Ok(conn)) = tokio::time::timeout_at(deadline, incoming).await else {
        return None;
    };
    let (send, mut recv) = match tokio::time::timeout_at(deadline, conn.accept_bi()).await {
        Ok(Ok(s)) => s,
        _ => return refuse_none(shared, &conn, CloseCode::Timeout, "no stream"),
    };
    let hello = match tokio::time::timeout_at(deadline, read_frame(&mut recv, MAX_HELLO)).await {
        Ok(Ok(Some(h))) => zeroize::Zeroizing::new(h),
        Ok(Err(TransportError::FrameTooLarge { .. })) => {
            return refuse_none(shared, &conn, CloseCode::FrameTooLarge, "hello too large")
        }
        Ok(_) => return refuse_none(shared, &conn, CloseCode::Malformed, "bad hello"),
        Err(_) => return refuse_none(shared, &conn, CloseCode::Timeout, "no hello"),
    };
    let Ok((claimed, credential)) = decode_hello(&hello) else {
        return refuse_none(shared, &conn, CloseCode::Malformed, "bad hello");
    };
    // Authentication comes before the slot: a connection that cannot prove its identity never
    // holds (or blocks) the participant's place.
    let certs = conn
        .peer_identity()
        .and_then(|a| a.downcast::<Vec<CertificateDer<'static>>>().ok());
    let claim = Claim {
        participant: claimed,
        credential,
        peer_certificates: certs.as_deref().map(Vec::as_slice),
        remote: conn.remote_address(),
        now: std::time::SystemTime::now(),
    };
    let id = match opts.authenticator.authenticate(&claim) {
        Ok(id) => id,
        Err(e) => {
            let why = format!("participant {claimed}: {e}");
            return refuse_none(shared, &conn, CloseCode::Unauthorized, &why);
        }
    };
    drop(hello);
    drop(pending);
    Some((conn, send, recv, id))
}

fn refuse_none<T>(
    shared: &Shared,
    conn: &quinn::Connection,
    code: CloseCode,
    why: &str,
) -> Option<T> {
    refuse(shared, conn, code, why);
    None
}

#[allow(clippy::too_many_arguments)]
async fn serve_connection(
    incoming: quinn::Incoming,
    pending: OwnedSemaphorePermit,
    queue: Arc<Semaphore>,
    mut membership: Membership,
    events: mpsc::UnboundedSender<Event>,
    shared: Arc<Shared>,
    opts: CoordinatorOptions,
) {
    let Some((conn, mut send, mut recv, id)) =
        authenticate_connection(incoming, pending, &shared, &opts).await
    else {
        return;
    };
    // Fixed sessions: a participant of the parameters. Cohort check-in: an eligible id (and
    // after the cohort closed, a member; others are told to retry below).
    let started = membership.start.borrow().clone();
    let cohort = membership.capacity.is_some();
    let eligible = membership.eligible.as_ref().is_none_or(|e| e.contains(&id));
    let known = match &started {
        // A cohort's eligible participant that is not in the running session may take part in
        // the next one: it is told to retry (below), not that it is unknown.
        Some(st) => st.params.index_of(id).is_some() || (cohort && eligible),
        None => eligible,
    };
    if !known {
        return refuse(
            &shared,
            &conn,
            CloseCode::UnknownParticipant,
            "not a participant",
        );
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    {
        let Ok(mut peers) = shared.peers.lock() else {
            return;
        };
        if peers.contains_key(&id) {
            drop(peers);
            return refuse(
                &shared,
                &conn,
                CloseCode::Duplicate,
                "participant already connected",
            );
        }
        let full = membership.capacity.is_some_and(|cap| peers.len() >= cap);
        let outside = started
            .as_ref()
            .is_some_and(|st| st.params.index_of(id).is_none());
        if shared.closed_to_new.load(Ordering::SeqCst) || full || outside {
            drop(peers);
            // Round 0 is over, the session ended, or the cohort is full: joining now could
            // only fail later. Say so, with a bound on when the next session can start.
            let rest: u64 = membership
                .start
                .borrow()
                .as_ref()
                .map(|st| {
                    st.params
                        .round_timeout_ms
                        .iter()
                        .skip(1)
                        .map(|&ms| u64::from(ms))
                        .sum()
                })
                .unwrap_or(0);
            let why = format!(
                "no open session: the running session started; retry within {} s",
                rest.div_ceil(1000).max(1)
            );
            return refuse(&shared, &conn, CloseCode::Busy, &why);
        }
        peers.insert(
            id,
            Peer {
                tx,
                conn: conn.clone(),
            },
        );
    }
    shared.connections.fetch_add(1, Ordering::Relaxed);
    // Cohort check-in: wait (connected) until the cohort closes and the parameters exist.
    let start = match started {
        Some(st) => st,
        None => {
            let _ = events.send(Event::CheckedIn);
            let waited = tokio::select! {
                r = membership.start.wait_for(Option::is_some) => r.ok().and_then(|s| s.clone()),
                _ = conn.closed() => None,
            };
            match waited {
                Some(st) if st.params.index_of(id).is_some() => st,
                _ => {
                    let _ = events.send(Event::Gone { id });
                    return;
                }
            }
        }
    };
    let max_frame = start.max_frame;
    if write_frame(&mut send, &start.frame).await.is_err() {
        let _ = events.send(Event::Gone { id });
        return;
    }
    // Writer: everything the driver queues for this participant, in order.
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if write_frame(&mut send, &bytes).await.is_err() {
                break;
            }
        }
        let _ = send.finish();
        let _ = send.stopped().await;
    });
    // Reader: frames to the driver until the stream or connection ends. Before reading a
    // payload the reader takes one of the connection's frame slots and the payload's bytes
    // from the global queue budget; while it waits it reads nothing, so QUIC flow control
    // stops the peer instead of the coordinator's memory growing.
    let slots = Arc::new(Semaphore::new(opts.frames_in_flight.max(1) as usize));
    let budget = u32::try_from(max_frame.min(Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
    loop {
        let len = match read_frame_len(&mut recv, max_frame).await {
            Ok(Some(len)) => len,
            Ok(None) => break,
            Err(TransportError::FrameTooLarge { len, max }) => {
                warn!(participant = %id, len, max, "closing connection: oversized frame");
                conn.close(CloseCode::FrameTooLarge.varint(), b"frame too large");
                break;
            }
            Err(TransportError::Malformed(why)) => {
                conn.close(CloseCode::Malformed.varint(), why.as_bytes());
                break;
            }
            Err(_) => break,
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let want = u32::try_from(len).unwrap_or(u32::MAX).clamp(1, budget);
        let Ok(bytes_permit) = queue.clone().acquire_many_owned(want).await else {
            break;
        };
        match read_frame_body(&mut recv, len).await {
            Ok(bytes) => {
                shared
                    .bytes_in
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                let ev = Event::Frame {
                    id,
                    bytes,
                    _slot: slot,
                    _bytes: bytes_permit,
                };
                if events.send(ev).is_err() {
                    break;
                }
            }
            Err(TransportError::Malformed(why)) => {
                conn.close(CloseCode::Malformed.varint(), why.as_bytes());
                break;
            }
            Err(_) => break,
        }
    }
    let _ = events.send(Event::Gone { id });
    let _ = writer.await;
}
