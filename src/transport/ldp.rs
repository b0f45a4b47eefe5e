//! LDP sessions over the QUIC binding (spec `protocol-spec/analytics.md`): each participant
//! connects as for a SecAgg session (ALPN `secagg/1`, Hello, authentication), receives the Task
//! frame, sends one Report frame and gets a Receipt once its report is counted.
//!
//! The coordinator aggregates as reports arrive ([`crate::analytics::LdpAccumulator`]: counters
//! only, `O(Σ k_i)` memory whatever the number of clients); a report frame above the task's
//! largest report is refused from its length prefix; frames waiting for the driver share the
//! coordinator's `queue_bytes` budget, so QUIC flow control pushes back when it is full.
//!
//! Invariants: a participant is counted at most once per session (a second connection is
//! refused with [`CloseCode::Duplicate`]); a report is acknowledged only after it was validated
//! and added; a refused report (wrong session, malformed) closes the connection with
//! [`CloseCode::Protocol`] and its reason, and nothing is added.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand_core::CryptoRng;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, info, warn};

use super::coordinator::{authenticate_connection, refuse, Coordinator, Peer, Shared};
use super::frame::*;
use crate::analytics::wire::{
    decode_receipt, decode_report, decode_task, encode_receipt, encode_report, LdpSessionParams,
    MAX_TASK_FRAME, RECEIPT_LEN,
};
use crate::analytics::{FrequencyEstimates, PrivacySummary};
use crate::ids::ParticipantId;

/// What happened in one LDP session.
#[derive(Debug)]
pub struct LdpSessionReport {
    /// The session id (hash of the Task frame).
    pub session_id: [u8; 32],
    /// The parameters.
    pub params: LdpSessionParams,
    /// The participants.
    pub participants: Vec<ParticipantId>,
    /// Fewest reports for a complete session.
    pub min_reports: u64,
    /// `Ok` if at least `min_reports` reports were counted, else why not.
    pub status: Result<(), String>,
    /// Estimates from the counted reports (NaN everywhere if none).
    pub estimates: FrequencyEstimates,
    /// Reports counted.
    pub accepted: u64,
    /// Reports refused (malformed, wrong session).
    pub rejected: u64,
    /// Connections that passed authentication and membership.
    pub connections: usize,
    /// Connections refused (handshake, authentication, membership, duplicates, late).
    pub refused: usize,
    /// Bytes of frames received (without length prefixes).
    pub bytes_in: u64,
    /// Bytes of frames sent.
    pub bytes_out: u64,
    /// Wall time.
    pub elapsed: Duration,
}

struct Submission {
    id: ParticipantId,
    bytes: Vec<u8>,
    reply: oneshot::Sender<Result<(), String>>,
    _budget: OwnedSemaphorePermit,
}

struct LdpShared {
    base: Shared,
    participants: Vec<ParticipantId>,
    /// Participants whose report was counted (membership only: no report is kept).
    counted: Mutex<HashSet<ParticipantId>>,
    bytes_out: AtomicU64,
}

impl Coordinator {
    /// Runs one LDP session: accepts the participants' connections until every participant's
    /// report is counted, the deadline `params.deadline_ms` passes, or a drain's grace period
    /// ends; returns the report with the estimates. A session with fewer than `min_reports`
    /// counted reports is reported as aborted (its estimates are still computed).
    pub async fn run_ldp_session(
        &self,
        params: LdpSessionParams,
        mut participants: Vec<ParticipantId>,
        min_reports: u64,
    ) -> Result<LdpSessionReport, TransportError> {
        participants.sort_unstable();
        participants.dedup();
        if participants.is_empty() {
            return Err(TransportError::Config(
                "an LDP session needs participants".into(),
            ));
        }
        let start = Instant::now();
        let session_id = params.session_id();
        let task_frame = Arc::new(params.encode());
        let max_frame = params.report_frame_max();
        let mut acc = params.task.accumulator();
        let shared = Arc::new(LdpShared {
            base: Shared {
                metrics: self.metrics.clone(),
                peers: Mutex::default(),
                closed_to_new: Default::default(),
                bytes_in: Default::default(),
                connections: Default::default(),
                refused: Default::default(),
            },
            participants: participants.clone(),
            counted: Mutex::default(),
            bytes_out: AtomicU64::new(0),
        });
        self.metrics
            .add("secagg_ldp_sessions_started_total", &[], 1);
        info!(
            session = %hex(&session_id),
            task = %params.task.name(),
            epsilon = params.task.spec().epsilon,
            domains = ?params.task.spec().domains,
            n = participants.len(),
            max_report_frame = max_frame,
            "LDP session open"
        );
        let (tx, mut rx) = mpsc::channel::<Submission>(64);
        let queue = Arc::new(Semaphore::new(
            self.opts
                .queue_bytes
                .max(2 * max_frame)
                .min(Semaphore::MAX_PERMITS),
        ));
        let pending = Arc::new(Semaphore::new(self.opts.max_pending_hellos));
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(u64::from(params.deadline_ms));
        let acceptor = {
            let endpoint = self.endpoint.clone();
            let (shared, opts, task_frame) =
                (shared.clone(), self.opts.clone(), task_frame.clone());
            tokio::spawn(async move {
                while let Some(incoming) = endpoint.accept().await {
                    let Ok(permit) = pending.clone().try_acquire_owned() else {
                        shared.base.refused.fetch_add(1, Ordering::Relaxed);
                        shared.base.metrics.add(
                            "secagg_connections_refused_total",
                            &[("code", "RefusedBeforeHandshake")],
                            1,
                        );
                        warn!(remote = %incoming.remote_address(), "connection refused: too many connections without a Hello");
                        incoming.refuse();
                        continue;
                    };
                    tokio::spawn(serve_ldp_connection(
                        incoming,
                        permit,
                        queue.clone(),
                        task_frame.clone(),
                        session_id,
                        max_frame,
                        deadline,
                        tx.clone(),
                        shared.clone(),
                        opts.clone(),
                    ));
                }
            })
        };
        let mut accepted = 0u64;
        let mut rejected = 0u64;
        let mut drain = self.drain.subscribe();
        let n = participants.len() as u64;
        while accepted < n {
            tokio::select! {
                sub = rx.recv() => {
                    let Some(sub) = sub else { break };
                    let r = decode_report(&session_id, &sub.bytes)
                        .and_then(|report| acc.add_bytes(report));
                    match r {
                        Ok(()) => {
                            accepted += 1;
                            if let Ok(mut c) = shared.counted.lock() {
                                c.insert(sub.id);
                            }
                            let _ = sub.reply.send(Ok(()));
                        }
                        Err(e) => {
                            rejected += 1;
                            warn!(participant = %sub.id, %e, "LDP report refused");
                            self.metrics.add("secagg_ldp_reports_refused_total", &[], 1);
                            let _ = sub.reply.send(Err(e.to_string()));
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    info!(accepted, n, "LDP session deadline");
                    break;
                }
                _ = super::coordinator::grace_over(&mut drain) => {
                    warn!(accepted, "grace period over: closing the LDP session");
                    break;
                }
            }
        }
        // No new connections; reports still queued are answered as refused (session over).
        if let Ok(_p) = shared.base.peers.lock() {
            shared.base.closed_to_new.store(true, Ordering::SeqCst);
        }
        acceptor.abort();
        rx.close();
        while let Ok(sub) = rx.try_recv() {
            let _ = sub.reply.send(Err("session over".into()));
        }
        // Let the last receipts reach their clients, then close what is left.
        let conns: Vec<quinn::Connection> = shared
            .base
            .peers
            .lock()
            .map(|p| p.values().map(|p| p.conn.clone()).collect())
            .unwrap_or_default();
        let linger = tokio::time::sleep(self.opts.linger);
        tokio::pin!(linger);
        for c in &conns {
            tokio::select! {
                _ = c.closed() => {}
                _ = &mut linger => break,
            }
        }
        let draining = self.is_draining();
        for c in conns {
            if draining {
                c.close(CloseCode::Shutdown.varint(), b"coordinator shutting down");
            } else {
                c.close(CloseCode::Done.varint(), b"session over");
            }
        }
        let estimates = acc
            .estimates()
            .map_err(|e| TransportError::Config(format!("estimates: {e}")))?;
        let status = if accepted >= min_reports.max(1) {
            Ok(())
        } else {
            Err(format!(
                "too few reports: {accepted} counted, {} needed",
                min_reports.max(1)
            ))
        };
        self.metrics
            .add("secagg_ldp_reports_counted_total", &[], accepted);
        match &status {
            Ok(()) => info!(
                session = %hex(&session_id),
                accepted,
                rejected,
                ms = start.elapsed().as_millis() as u64,
                "LDP session complete"
            ),
            Err(e) => warn!(session = %hex(&session_id), %e, "LDP session aborted"),
        }
        Ok(LdpSessionReport {
            session_id,
            params,
            participants,
            min_reports: min_reports.max(1),
            status,
            estimates,
            accepted,
            rejected,
            connections: shared.base.connections.load(Ordering::Relaxed),
            refused: shared.base.refused.load(Ordering::Relaxed),
            bytes_in: shared.base.bytes_in.load(Ordering::Relaxed),
            bytes_out: shared.bytes_out.load(Ordering::Relaxed),
            elapsed: start.elapsed(),
        })
    }
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[allow(clippy::too_many_arguments)]
async fn serve_ldp_connection(
    incoming: quinn::Incoming,
    pending: OwnedSemaphorePermit,
    queue: Arc<Semaphore>,
    task_frame: Arc<Vec<u8>>,
    session_id: [u8; 32],
    max_frame: usize,
    deadline: tokio::time::Instant,
    driver: mpsc::Sender<Submission>,
    shared: Arc<LdpShared>,
    opts: super::CoordinatorOptions,
) {
    let base = &shared.base;
    let Some((conn, mut send, mut recv, id)) =
        authenticate_connection(incoming, pending, base, &opts).await
    else {
        return;
    };
    if shared.participants.binary_search(&id).is_err() {
        return refuse(
            base,
            &conn,
            CloseCode::UnknownParticipant,
            "not a participant",
        );
    }
    {
        let Ok(mut peers) = base.peers.lock() else {
            return;
        };
        let counted = shared
            .counted
            .lock()
            .map(|c| c.contains(&id))
            .unwrap_or(true);
        if peers.contains_key(&id) || counted {
            drop(peers);
            let why = if counted {
                "participant already reported"
            } else {
                "participant already connected"
            };
            return refuse(base, &conn, CloseCode::Duplicate, why);
        }
        if base.closed_to_new.load(Ordering::SeqCst) {
            drop(peers);
            return refuse(base, &conn, CloseCode::Busy, "no open session");
        }
        let (tx, _rx) = mpsc::unbounded_channel();
        peers.insert(
            id,
            Peer {
                tx,
                conn: conn.clone(),
            },
        );
    }
    base.connections.fetch_add(1, Ordering::Relaxed);
    let leave = |shared: &LdpShared| {
        if let Ok(mut p) = shared.base.peers.lock() {
            p.remove(&id);
        }
    };
    if write_frame(&mut send, &task_frame).await.is_err() {
        return leave(&shared);
    }
    shared
        .bytes_out
        .fetch_add(task_frame.len() as u64, Ordering::Relaxed);
    // One report, before the session's deadline.
    let len = match tokio::time::timeout_at(deadline, read_frame_len(&mut recv, max_frame)).await {
        Ok(Ok(Some(len))) => len,
        Ok(Err(TransportError::FrameTooLarge { len, max })) => {
            warn!(participant = %id, len, max, "closing connection: oversized report frame");
            conn.close(CloseCode::FrameTooLarge.varint(), b"report frame too large");
            return leave(&shared);
        }
        Ok(Ok(None)) | Ok(Err(_)) => {
            debug!(participant = %id, "connection ended before a report");
            return leave(&shared);
        }
        Err(_) => {
            conn.close(
                CloseCode::Timeout.varint(),
                b"no report before the deadline",
            );
            return leave(&shared);
        }
    };
    let want = u32::try_from(len.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
    let Ok(budget) = queue.clone().acquire_many_owned(want).await else {
        return leave(&shared);
    };
    let bytes = match tokio::time::timeout_at(deadline, read_frame_body(&mut recv, len)).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) | Err(_) => {
            conn.close(CloseCode::Malformed.varint(), b"report frame cut short");
            return leave(&shared);
        }
    };
    base.bytes_in
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    let (reply, answer) = oneshot::channel();
    let sub = Submission {
        id,
        bytes,
        reply,
        _budget: budget,
    };
    if driver.send(sub).await.is_err() {
        conn.close(CloseCode::Busy.varint(), b"session over");
        return leave(&shared);
    }
    match answer.await {
        Ok(Ok(())) => {
            let receipt = encode_receipt(&session_id);
            if write_frame(&mut send, &receipt).await.is_ok() {
                shared
                    .bytes_out
                    .fetch_add(receipt.len() as u64, Ordering::Relaxed);
                let _ = send.finish();
                // The client closes once it has read the receipt.
                let _ = tokio::time::timeout(opts.linger, conn.closed()).await;
            }
        }
        Ok(Err(why)) => {
            let why = format!("report refused: {why}");
            conn.close(CloseCode::Protocol.varint(), why.as_bytes());
        }
        Err(_) => conn.close(CloseCode::Busy.varint(), b"session over"),
    }
    leave(&shared)
}

/// How an LDP client reaches the coordinator and what it accepts.
#[derive(Debug, Clone)]
pub struct LdpClientOptions {
    /// Coordinator address.
    pub server: SocketAddr,
    /// Name in the coordinator's certificate.
    pub server_name: String,
    /// This client's participant id.
    pub id: ParticipantId,
    /// The Hello credential (bearer token; empty with client certificates or in dev mode).
    pub credential: zeroize::Zeroizing<Vec<u8>>,
    /// Handshake timeout.
    pub connect_timeout: Duration,
    /// Longest wait for the task and for the receipt.
    pub message_timeout: Duration,
    /// The client's policy: the largest true tuple-level privacy loss of its one report it
    /// accepts (checked on the exact loss of the announced task, e.g. `ln(d(e^ε−1)+1)` for
    /// RS+FD, not on the nominal epsilon).
    pub max_tuple_epsilon: f64,
    /// The domain sizes the app's values are for; a task over other domains is refused.
    pub domains: Vec<u32>,
}

/// A counted report.
#[derive(Debug, Clone, PartialEq)]
pub struct LdpReceipt {
    /// The session.
    pub session_id: [u8; 32],
    /// The protocol's name.
    pub protocol: String,
    /// The privacy loss of the report sent.
    pub privacy: PrivacySummary,
}

/// Connects, receives the task, checks it against the policy, randomises `values` (one per
/// attribute) and sends the report; returns once the coordinator acknowledged it. Nothing
/// leaves the device but the randomised report.
pub async fn send_ldp_report<R: CryptoRng + ?Sized>(
    endpoint: &quinn::Endpoint,
    config: quinn::ClientConfig,
    opts: &LdpClientOptions,
    values: &[u32],
    rng: &mut R,
) -> Result<LdpReceipt, TransportError> {
    let connecting = endpoint
        .connect_with(config, opts.server, &opts.server_name)
        .map_err(|e| TransportError::Connect(e.to_string()))?;
    let conn = tokio::time::timeout(opts.connect_timeout, connecting)
        .await
        .map_err(|_| TransportError::Timeout("handshake"))??;
    let result = ldp_exchange(&conn, opts, values, rng).await;
    let code = match &result {
        Ok(_) => CloseCode::Done,
        Err(TransportError::Timeout(_)) => CloseCode::Timeout,
        Err(TransportError::FrameTooLarge { .. }) => CloseCode::FrameTooLarge,
        Err(TransportError::Policy(_)) => CloseCode::Protocol,
        Err(_) => CloseCode::Malformed,
    };
    conn.close(code.varint(), b"");
    result
}

async fn ldp_exchange<R: CryptoRng + ?Sized>(
    conn: &quinn::Connection,
    opts: &LdpClientOptions,
    values: &[u32],
    rng: &mut R,
) -> Result<LdpReceipt, TransportError> {
    let wait = opts.message_timeout;
    let (mut send, mut recv) = tokio::time::timeout(wait, conn.open_bi())
        .await
        .map_err(|_| TransportError::Timeout("stream"))??;
    write_frame(&mut send, &encode_hello(opts.id, &opts.credential)?).await?;
    let frame = tokio::time::timeout(wait, read_frame(&mut recv, MAX_TASK_FRAME))
        .await
        .map_err(|_| TransportError::Timeout("task"))??
        .ok_or(TransportError::Malformed("closed before the task"))?;
    let params = decode_task(&frame)?;
    let privacy = params.task.privacy();
    if params.task.spec().domains != opts.domains {
        return Err(TransportError::Policy(format!(
            "task domains {:?}, the app's values are for {:?}",
            params.task.spec().domains,
            opts.domains
        )));
    }
    if let PrivacySummary::Local { tuple, .. } = &privacy {
        if tuple.is_nan() || *tuple > opts.max_tuple_epsilon {
            return Err(TransportError::Policy(format!(
                "{}: tuple-level privacy loss {tuple:.4} exceeds the policy's {}",
                params.task.name(),
                opts.max_tuple_epsilon
            )));
        }
    }
    let session_id = params.session_id();
    let report = params.task.randomize(values, rng)?;
    write_frame(&mut send, &encode_report(&session_id, &report)).await?;
    let receipt = tokio::time::timeout(wait, read_frame(&mut recv, RECEIPT_LEN))
        .await
        .map_err(|_| TransportError::Timeout("receipt"))??
        .ok_or(TransportError::Malformed("closed before the receipt"))?;
    decode_receipt(&session_id, &receipt)?;
    Ok(LdpReceipt {
        session_id,
        protocol: params.task.name(),
        privacy,
    })
}
