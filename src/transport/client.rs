//! The client library an app embeds: connect to a coordinator, receive and vet the session
//! parameters, run [`crate::protocol::Client`] over the stream, return the outcome.
//!
//! Every wait has a timeout. The library never retries inside a session: a client that loses its
//! connection is a dropout for that session (the coordinator refuses a second connection for
//! the same participant) and takes part in the next session with a fresh connection. What it
//! does retry, with exponential backoff and full jitter ([`Retry`]), is a connection the
//! coordinator refused before any session state existed: QUIC `CONNECTION_REFUSED` (the
//! coordinator is at its cap of connections without a Hello) and close code 9 `Busy` (no
//! session is open for new participants), as spec section 22 tells clients to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::frame::*;
use crate::crypto::sign::SigningKey;
use crate::ids::ParticipantId;
use crate::protocol::messages::{types, Limits};
use crate::protocol::sim::Vanish;
use crate::protocol::{Client, ClientAbort, ClientPolicy, ClientStatus};

/// How to reach the coordinator and take part.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Coordinator address.
    pub server: SocketAddr,
    /// Name in the coordinator's certificate.
    pub server_name: String,
    /// This client's participant id.
    pub id: ParticipantId,
    /// The credential sent in the Hello (a bearer token; empty with client certificates or a
    /// coordinator without authentication). Zeroized on drop.
    pub credential: zeroize::Zeroizing<Vec<u8>>,
    /// Handshake timeout.
    pub connect_timeout: Duration,
    /// Longest wait for any single server message (cover the longest round deadline).
    pub message_timeout: Duration,
    /// What parameters to accept (checked before any key is generated).
    pub policy: ClientPolicy,
    /// Retries of a connection refused before the session (see [`Retry`]).
    pub retry: Retry,
    /// Test hook: leave the session at this round instead of answering.
    #[doc(hidden)]
    pub vanish: Option<Vanish>,
}

/// How the session ended for this client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientOutcome {
    /// The sum was computed and includes this client's input.
    Included,
    /// The sum was computed without this client's input.
    Excluded,
    /// The session was aborted, by this client's checks or by the server (`ServerAborted`).
    Aborted(ClientAbort),
    /// The client left on purpose (test hook).
    Vanished,
}

fn round_of_reply(bytes: &[u8]) -> crate::ids::Round {
    use crate::ids::Round;
    match bytes.get(1).copied() {
        Some(types::ADVERTISE_KEYS) => Round::AdvertiseKeys,
        Some(types::SHARE_KEYS) => Round::ShareKeys,
        Some(types::MASKED_INPUT) => Round::MaskedInput,
        Some(types::CONSISTENCY_SIGNATURE) => Round::ConsistencyCheck,
        _ => Round::Unmasking,
    }
}

/// How a refused connection is retried: attempt `k` (from 1) waits a uniformly random time in
/// `[0, min(max_backoff, initial_backoff * 2^(k-1))]` ("full jitter", so a crowd of refused
/// clients does not come back in lockstep). Only refusals before the session retry
/// ([`TransportError::Refused`], close codes 6 `Timeout` and 9 `Busy`); nothing inside a
/// session does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Retries after the first attempt (0: never retry).
    pub attempts: u32,
    /// The first backoff's upper bound.
    pub initial_backoff: Duration,
    /// The largest backoff's upper bound.
    pub max_backoff: Duration,
}

impl Default for Retry {
    /// 8 retries, from at most 200 ms up to at most 10 s (about 30 s in the worst case).
    fn default() -> Self {
        Self {
            attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl Retry {
    /// No retries.
    pub const NEVER: Retry = Retry {
        attempts: 0,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };

    /// The upper bound of the wait before retry `attempt` (from 1).
    pub fn bound(&self, attempt: u32) -> Duration {
        let doubled = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        doubled.min(self.max_backoff)
    }
}

/// Whether an attempt's error is a refusal before the session, worth retrying: the endpoint
/// was full (`Refused`), no session was open (`Busy`), or the handshake, stream and Hello did
/// not reach the coordinator within its deadline (`Timeout`; on a lossy link a handshake can
/// need several retransmission timeouts, each twice the last). Only called before `Params`
/// arrives, so nothing of a session is repeated.
fn retryable(e: &TransportError) -> bool {
    matches!(
        e,
        TransportError::Refused
            | TransportError::ClosedByPeer {
                code: Some(CloseCode::Busy | CloseCode::Timeout),
                ..
            }
    )
}

/// Connects through `endpoint` and takes part in one session with `input` and `weight`.
///
/// A connection refused before the session is retried as `opts.retry` says; every other
/// failure is returned at once.
pub async fn participate<R>(
    endpoint: &quinn::Endpoint,
    config: quinn::ClientConfig,
    opts: &ClientOptions,
    identity: Option<SigningKey>,
    input: &[f64],
    weight: u32,
    rng: &mut R,
) -> Result<ClientOutcome, TransportError>
where
    R: rand_core::CryptoRng + ?Sized,
{
    let (conn, send, recv, params) = connect_retrying(endpoint, config, opts, rng).await?;
    let result = run(send, recv, params, opts, identity, input, weight, rng).await;
    finish(conn, opts.id, result)
}

/// Takes part in a histogram task (spec `analytics.md`, "Histograms under SecAgg"): connects as
/// [`participate`] does, checks that the session sums histograms of `spec`'s shape faithfully
/// ([`HistogramSpec::check_params`]: vector length, clip and levels that quantize 0 and 1
/// exactly, weight 1, or a DP clip covering a multi-hot vector) and only then inputs the
/// multi-hot vector of `values` with weight 1. A session that does not fit is refused with
/// [`TransportError::Policy`] before any key is generated.
///
/// [`HistogramSpec::check_params`]: crate::analytics::histogram::HistogramSpec::check_params
pub async fn participate_histogram<R>(
    endpoint: &quinn::Endpoint,
    config: quinn::ClientConfig,
    opts: &ClientOptions,
    identity: Option<SigningKey>,
    spec: &crate::analytics::histogram::HistogramSpec,
    values: &[u32],
    rng: &mut R,
) -> Result<ClientOutcome, TransportError>
where
    R: rand_core::CryptoRng + ?Sized,
{
    // The values are checked before connecting: a bad value is the caller's error, not the
    // session's.
    let input = spec
        .input(values)
        .map_err(|e| TransportError::Config(e.to_string()))?;
    let (conn, send, recv, params) = connect_retrying(endpoint, config, opts, rng).await?;
    let result = match spec.check_params(&params) {
        Ok(()) => run(send, recv, params, opts, identity, &input, 1, rng).await,
        Err(e) => Err(TransportError::Policy(e.to_string())),
    };
    finish(conn, opts.id, result)
}

/// Logs the connection's statistics and closes it with the code the result calls for.
fn finish(
    conn: quinn::Connection,
    id: ParticipantId,
    result: Result<ClientOutcome, TransportError>,
) -> Result<ClientOutcome, TransportError> {
    let stats = conn.stats();
    tracing::debug!(
        participant = %id,
        rtt_ms = conn.rtt().as_millis() as u64,
        lost = stats.path.lost_packets,
        sent = stats.path.sent_packets,
        "client connection done"
    );
    conn.close(close_code(&result).varint(), b"");
    result
}

/// A connection that got into a session: its stream and the session's parameters.
type Joined = (
    quinn::Connection,
    quinn::SendStream,
    quinn::RecvStream,
    crate::protocol::SessionParams,
);

/// [`connect`], retried as `opts.retry` says while the refusal is one a client may retry.
async fn connect_retrying<R>(
    endpoint: &quinn::Endpoint,
    config: quinn::ClientConfig,
    opts: &ClientOptions,
    rng: &mut R,
) -> Result<Joined, TransportError>
where
    R: rand_core::CryptoRng + ?Sized,
{
    let mut attempt = 0u32;
    loop {
        match connect(endpoint, config.clone(), opts).await {
            Ok(c) => return Ok(c),
            Err(e) if retryable(&e) && attempt < opts.retry.attempts => {
                attempt += 1;
                let bound = opts.retry.bound(attempt).as_millis() as u64;
                let wait = Duration::from_millis(if bound == 0 {
                    0
                } else {
                    rng.next_u64() % (bound + 1)
                });
                tracing::info!(participant = %opts.id, attempt, wait_ms = wait.as_millis() as u64, "{e}; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn close_code(result: &Result<ClientOutcome, TransportError>) -> CloseCode {
    match result {
        Ok(ClientOutcome::Aborted(_)) => CloseCode::Protocol,
        Ok(_) => CloseCode::Done,
        Err(e) => error_code(e),
    }
}

fn error_code(e: &TransportError) -> CloseCode {
    match e {
        TransportError::Timeout(_) => CloseCode::Timeout,
        TransportError::FrameTooLarge { .. } => CloseCode::FrameTooLarge,
        _ => CloseCode::Malformed,
    }
}

/// One attempt to get into a session: the handshake, the Hello, the parameters.
async fn connect(
    endpoint: &quinn::Endpoint,
    config: quinn::ClientConfig,
    opts: &ClientOptions,
) -> Result<Joined, TransportError> {
    let connecting = endpoint
        .connect_with(config, opts.server, &opts.server_name)
        .map_err(|e| TransportError::Connect(e.to_string()))?;
    let conn = tokio::time::timeout(opts.connect_timeout, connecting)
        .await
        .map_err(|_| TransportError::Timeout("handshake"))??;
    let wait = opts.message_timeout;
    let hello = async {
        let (mut send, mut recv) = tokio::time::timeout(wait, conn.open_bi())
            .await
            .map_err(|_| TransportError::Timeout("stream"))??;
        write_frame(&mut send, &encode_hello(opts.id, &opts.credential)?).await?;
        let frame = tokio::time::timeout(wait, read_frame(&mut recv, MAX_PARAMS_FRAME))
            .await
            .map_err(|_| TransportError::Timeout("session parameters"))??
            .ok_or(TransportError::Malformed("closed before the parameters"))?;
        let params = decode_params(&frame)?;
        Ok::<_, TransportError>((send, recv, params))
    };
    match hello.await {
        Ok((send, recv, params)) => Ok((conn, send, recv, params)),
        Err(e) => {
            conn.close(error_code(&e).varint(), b"");
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run<R>(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    params: crate::protocol::SessionParams,
    opts: &ClientOptions,
    identity: Option<SigningKey>,
    input: &[f64],
    weight: u32,
    rng: &mut R,
) -> Result<ClientOutcome, TransportError>
where
    R: rand_core::CryptoRng + ?Sized,
{
    let wait = opts.message_timeout;
    let limits = Limits::new(&params);
    // The policy is checked before any key is generated (Client::join); its refusal is
    // reported as such, not as a setup error.
    let (mut client, first) = Client::join(
        Arc::new(params),
        &opts.policy,
        opts.id,
        identity,
        input,
        weight,
        rng,
    )
    .map_err(|e| match e {
        crate::protocol::error::ClientSetupError::Policy(p) => {
            TransportError::Policy(p.to_string())
        }
        other => TransportError::Setup(other),
    })?;
    let mut silent = false;
    let mut reply = Some(first);
    loop {
        if let Some(bytes) = reply.take() {
            match opts.vanish {
                Some(v) if v.round() == round_of_reply(&bytes) => match v {
                    Vanish::Disconnect(_) => return Ok(ClientOutcome::Vanished),
                    Vanish::Silent(_) => silent = true,
                    Vanish::SentThenDisconnect(_) => {
                        write_frame(&mut send, &bytes).await?;
                        return Ok(ClientOutcome::Vanished);
                    }
                },
                _ => write_frame(&mut send, &bytes).await?,
            }
        }
        let next =
            tokio::time::timeout(wait, read_frame(&mut recv, limits.max_server_message())).await;
        let frame = match next {
            Err(_) if silent => return Ok(ClientOutcome::Vanished),
            Err(_) => return Err(TransportError::Timeout("server message")),
            Ok(Ok(Some(f))) => f,
            Ok(Ok(None)) | Ok(Err(_)) if silent => return Ok(ClientOutcome::Vanished),
            Ok(Ok(None)) => return Err(TransportError::Malformed("server closed the stream")),
            Ok(Err(e)) => return Err(e),
        };
        if silent {
            // Still listening (to learn the outcome) but never answering.
            match client.handle(&frame, rng) {
                Ok(_) if matches!(client.status(), ClientStatus::Finished(_)) => {
                    return Ok(ClientOutcome::Vanished)
                }
                _ => continue,
            }
        }
        match client.handle(&frame, rng) {
            Ok(Some(r)) => reply = Some(r),
            Ok(None) => {
                if let ClientStatus::Finished(o) = client.status() {
                    return Ok(match o {
                        crate::protocol::messages::Outcome::Included => ClientOutcome::Included,
                        _ => ClientOutcome::Excluded,
                    });
                }
            }
            Err(abort) => return Ok(ClientOutcome::Aborted(abort)),
        }
    }
}
