//! The client library an app embeds: connect to a coordinator, receive and vet the session
//! parameters, run [`crate::protocol::Client`] over the stream, return the outcome.
//!
//! Every wait has a timeout. The library never retries inside a session: a client that loses its
//! connection is a dropout for that session (the coordinator refuses a second connection for
//! the same participant) and takes part in the next session with a fresh connection.

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

/// Connects through `endpoint` and takes part in one session with `input` and `weight`.
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
    let connecting = endpoint
        .connect_with(config, opts.server, &opts.server_name)
        .map_err(|e| TransportError::Connect(e.to_string()))?;
    let conn = tokio::time::timeout(opts.connect_timeout, connecting)
        .await
        .map_err(|_| TransportError::Timeout("handshake"))??;
    let result = run(&conn, opts, identity, input, weight, rng).await;
    let stats = conn.stats();
    tracing::debug!(
        participant = %opts.id,
        rtt_ms = conn.rtt().as_millis() as u64,
        lost = stats.path.lost_packets,
        sent = stats.path.sent_packets,
        "client connection done"
    );
    let code = match &result {
        Ok(ClientOutcome::Aborted(_)) => CloseCode::Protocol,
        Ok(_) => CloseCode::Done,
        Err(TransportError::Timeout(_)) => CloseCode::Timeout,
        Err(TransportError::FrameTooLarge { .. }) => CloseCode::FrameTooLarge,
        Err(_) => CloseCode::Malformed,
    };
    conn.close(code.varint(), b"");
    result
}

async fn run<R>(
    conn: &quinn::Connection,
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
    let (mut send, mut recv) = tokio::time::timeout(wait, conn.open_bi())
        .await
        .map_err(|_| TransportError::Timeout("stream"))??;
    write_frame(&mut send, &encode_hello(opts.id, &opts.credential)?).await?;
    let frame = tokio::time::timeout(wait, read_frame(&mut recv, MAX_PARAMS_FRAME))
        .await
        .map_err(|_| TransportError::Timeout("session parameters"))??
        .ok_or(TransportError::Malformed("closed before the parameters"))?;
    let params = decode_params(&frame)?;
    opts.policy
        .check(&params, opts.id)
        .map_err(|e| TransportError::Policy(e.to_string()))?;
    let limits = Limits::new(&params);
    let (mut client, first) = Client::new(Arc::new(params), opts.id, identity, input, weight, rng)?;
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
