//! Framing on the QUIC stream, the Hello and Params frames, close codes and transport errors.
//!
//! Invariant: [`read_frame`] allocates at most `max` bytes and checks the length prefix before
//! reading anything else, so an oversized frame costs the reader 4 bytes.

use quinn::{RecvStream, SendStream};

use crate::ids::ParticipantId;
use crate::protocol::codec::DecodeError;
use crate::protocol::{ClientAbort, ParamsError, SessionParams};

/// The ALPN protocol id.
pub const ALPN: &[u8] = b"secagg/1";

/// Magic and version opening a Hello frame.
pub const HELLO_MAGIC: &[u8; 6] = b"SAGG\x01H";

/// Magic and version opening a Params frame.
pub const PARAMS_MAGIC: &[u8; 6] = b"SAGG\x01P";

/// Largest Hello frame: magic, participant id, credential length, credential.
pub const MAX_HELLO: usize = 6 + 2 + 2 + super::auth::MAX_CREDENTIAL;

/// Largest Params frame: n = 65535 participants with identity keys.
pub const MAX_PARAMS_FRAME: usize = 6 + 64 * 1024 + 34 * 65_535;

/// QUIC application close codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
#[non_exhaustive]
pub enum CloseCode {
    /// The session ended (with a result or an abort, sent as `Finished`).
    Done = 0,
    /// A protocol message failed a check (the client aborted, or the server refused it).
    Protocol = 1,
    /// A frame was larger than the session allows.
    FrameTooLarge = 2,
    /// A frame or the Hello was malformed.
    Malformed = 3,
    /// The participant is not part of the session being run.
    UnknownParticipant = 4,
    /// Another connection already speaks for this participant in this session.
    Duplicate = 5,
    /// A peer did not answer in time.
    Timeout = 6,
    /// The coordinator is shutting down.
    Shutdown = 7,
    /// The connection did not prove that it speaks for the participant it claims (section
    /// "QUIC binding": credential missing, unknown, expired or for another participant).
    Unauthorized = 8,
    /// The coordinator is at a capacity limit (too many connections without a Hello); retry
    /// later.
    Busy = 9,
    /// The participant sent more refused messages than its budget allows.
    TooManyRefused = 10,
}

impl CloseCode {
    /// The QUIC varint.
    pub fn varint(self) -> quinn::VarInt {
        quinn::VarInt::from_u32(self as u32)
    }

    /// Decodes a received code.
    pub fn from_u64(v: u64) -> Option<Self> {
        Some(match v {
            0 => CloseCode::Done,
            1 => CloseCode::Protocol,
            2 => CloseCode::FrameTooLarge,
            3 => CloseCode::Malformed,
            4 => CloseCode::UnknownParticipant,
            5 => CloseCode::Duplicate,
            6 => CloseCode::Timeout,
            7 => CloseCode::Shutdown,
            8 => CloseCode::Unauthorized,
            9 => CloseCode::Busy,
            10 => CloseCode::TooManyRefused,
            _ => return None,
        })
    }
}

/// Errors of the transport layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// TLS or endpoint configuration failed.
    #[error("configuration: {0}")]
    Config(String),
    /// Connecting failed.
    #[error("connect: {0}")]
    Connect(String),
    /// The connection or stream failed.
    #[error("connection: {0}")]
    Connection(String),
    /// The peer closed the connection with an application code.
    #[error("closed by peer with code {code:?}: {reason}")]
    ClosedByPeer {
        /// The code, if known.
        code: Option<CloseCode>,
        /// The peer's reason text.
        reason: String,
    },
    /// A frame exceeded the limit.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Announced length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// A frame was malformed.
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
    /// The parameters did not decode.
    #[error("session parameters: {0}")]
    ParamsDecode(#[from] DecodeError),
    /// The parameters are invalid.
    #[error("session parameters: {0}")]
    Params(#[from] ParamsError),
    /// The parameters are valid but the client's policy refuses them.
    #[error("session parameters refused by policy: {0}")]
    Policy(String),
    /// A wait timed out.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The protocol client could not start.
    #[error(transparent)]
    Setup(#[from] crate::protocol::error::ClientSetupError),
    /// The protocol client aborted.
    #[error(transparent)]
    Abort(#[from] ClientAbort),
    /// The coordinator refused the connection before the handshake (QUIC
    /// `CONNECTION_REFUSED`: too many connections waiting for their Hello, or draining). Retry
    /// with backoff ([`super::client::Retry`]).
    #[error("connection refused by the coordinator before the handshake")]
    Refused,
    /// Cohort check-in closed with fewer members than the quorum; no session ran.
    #[error("cohort quorum not reached: {have} checked in, {need} required")]
    QuorumNotReached {
        /// Members at the deadline.
        have: usize,
        /// The quorum.
        need: usize,
    },
    /// The coordinator is draining; no new session starts.
    #[error("the coordinator is draining")]
    Draining,
}

impl From<quinn::ConnectionError> for TransportError {
    fn from(e: quinn::ConnectionError) -> Self {
        match e {
            quinn::ConnectionError::ApplicationClosed(c) => TransportError::ClosedByPeer {
                code: CloseCode::from_u64(c.error_code.into_inner()),
                reason: String::from_utf8_lossy(&c.reason).into_owned(),
            },
            quinn::ConnectionError::ConnectionClosed(c)
                if c.error_code == quinn::TransportErrorCode::CONNECTION_REFUSED =>
            {
                TransportError::Refused
            }
            other => TransportError::Connection(other.to_string()),
        }
    }
}

/// Writes one frame.
pub async fn write_frame(send: &mut SendStream, bytes: &[u8]) -> Result<(), TransportError> {
    let len =
        u32::try_from(bytes.len()).map_err(|_| TransportError::Malformed("frame over 4 GiB"))?;
    send.write_all(&len.to_be_bytes())
        .await
        .map_err(|e| TransportError::Connection(e.to_string()))?;
    send.write_all(bytes)
        .await
        .map_err(|e| TransportError::Connection(e.to_string()))
}

fn read_error(e: quinn::ReadExactError) -> TransportError {
    match e {
        quinn::ReadExactError::FinishedEarly(_) => {
            TransportError::Malformed("stream ended inside a frame")
        }
        quinn::ReadExactError::ReadError(quinn::ReadError::ConnectionLost(e)) => e.into(),
        e => TransportError::Connection(e.to_string()),
    }
}

/// Reads a frame's length prefix and checks it against `max`. `Ok(None)` at a clean end of
/// stream. Nothing is allocated, so a caller can reserve memory for the payload (or wait for
/// room, which stops reading and lets QUIC flow control push back on the peer) before
/// [`read_frame_body`].
pub async fn read_frame_len(
    recv: &mut RecvStream,
    max: usize,
) -> Result<Option<usize>, TransportError> {
    let mut len = [0u8; 4];
    match recv.read_exact(&mut len).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(read_error(e)),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(TransportError::FrameTooLarge { len, max });
    }
    Ok(Some(len))
}

/// Reads a frame's payload of `len` bytes (announced by [`read_frame_len`]).
pub async fn read_frame_body(recv: &mut RecvStream, len: usize) -> Result<Vec<u8>, TransportError> {
    let mut buf = vec![0u8; len];
    recv.read_exact(&mut buf).await.map_err(read_error)?;
    Ok(buf)
}

/// Reads one frame of at most `max` bytes. `Ok(None)` at a clean end of stream.
pub async fn read_frame(
    recv: &mut RecvStream,
    max: usize,
) -> Result<Option<Vec<u8>>, TransportError> {
    match read_frame_len(recv, max).await? {
        Some(len) => Ok(Some(read_frame_body(recv, len).await?)),
        None => Ok(None),
    }
}

/// The Hello frame: `"SAGG" 0x01 'H' || u16be(participant id) || u16be(len) || credential`,
/// the credential (a bearer token, or empty with client certificates) at most
/// [`super::auth::MAX_CREDENTIAL`] bytes.
pub fn encode_hello(id: ParticipantId, credential: &[u8]) -> Result<Vec<u8>, TransportError> {
    if credential.len() > super::auth::MAX_CREDENTIAL {
        return Err(TransportError::Malformed("credential too long"));
    }
    let mut v = HELLO_MAGIC.to_vec();
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&(credential.len() as u16).to_be_bytes());
    v.extend_from_slice(credential);
    Ok(v)
}

/// Parses a Hello frame: the claimed participant and the credential.
pub fn decode_hello(b: &[u8]) -> Result<(ParticipantId, &[u8]), TransportError> {
    let bad = TransportError::Malformed("hello");
    let (Some(magic), Some(&[i0, i1, l0, l1])) = (b.get(..6), b.get(6..10)) else {
        return Err(bad);
    };
    if magic != HELLO_MAGIC {
        return Err(bad);
    }
    let len = u16::from_be_bytes([l0, l1]) as usize;
    let credential = b.get(10..).ok_or(TransportError::Malformed("hello"))?;
    if credential.len() != len || len > super::auth::MAX_CREDENTIAL {
        return Err(TransportError::Malformed("hello: credential length"));
    }
    let id = ParticipantId::new(u16::from_be_bytes([i0, i1]))
        .ok_or(TransportError::Malformed("hello: participant 0"))?;
    Ok((id, credential))
}

/// The Params frame: `"SAGG" 0x01 'P' || SessionParams::encode()`.
pub fn encode_params(p: &SessionParams) -> Vec<u8> {
    let mut v = PARAMS_MAGIC.to_vec();
    v.extend_from_slice(&p.encode());
    v
}

/// Parses and validates a Params frame.
pub fn decode_params(b: &[u8]) -> Result<SessionParams, TransportError> {
    if b.len() < 6 || &b[..6] != PARAMS_MAGIC {
        return Err(TransportError::Malformed("params"));
    }
    let p = SessionParams::decode(&b[6..])?;
    p.validate()?;
    Ok(p)
}
