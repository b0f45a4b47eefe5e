//! The frames of an LDP session (spec `protocol-spec/analytics.md`, "Frames"): the task the
//! coordinator announces, the one report a client sends, and the coordinator's receipt.
//!
//! ```text
//! Task    = "SAGG" 0x01 'L' || nonce[32] || u32be(deadline_ms) || u8(protocol)
//!           || f64be(epsilon) || u16be(d) || d * u32be(k_i)
//! Report  = "SAGG" 0x01 'R' || session_id[32] || report bytes (the LDP encoding, ldp.md)
//! Receipt = "SAGG" 0x01 'A' || session_id[32]
//! session_id = SHA-256(u8(17) || "secagg/ldp-task/1" || Task without its 6-byte magic)
//! ```
//!
//! Invariants: [`decode_task`] reads at most [`MAX_TASK_FRAME`] bytes and builds the task only
//! after the caps of [`super::LdpTask::new`] hold; a report frame is at most
//! [`report_frame_max`] bytes, a limit the coordinator enforces from the length prefix.

use sha2::{Digest, Sha256};

use super::{AnalyticsError, LdpProtocol, LdpTask, LdpTaskSpec, MAX_ATTRIBUTES};

/// Magic and version opening a Task frame.
pub const TASK_MAGIC: &[u8; 6] = b"SAGG\x01L";
/// Magic and version opening a Report frame.
pub const REPORT_MAGIC: &[u8; 6] = b"SAGG\x01R";
/// Magic and version opening a Receipt frame.
pub const RECEIPT_MAGIC: &[u8; 6] = b"SAGG\x01A";
/// Domain separation of the session id.
pub const SESSION_DOMAIN: &[u8] = b"secagg/ldp-task/1";
/// Largest Task frame: [`MAX_ATTRIBUTES`] domain sizes.
pub const MAX_TASK_FRAME: usize = 6 + 32 + 4 + 1 + 8 + 2 + 4 * MAX_ATTRIBUTES;
/// Length of a Receipt frame.
pub const RECEIPT_LEN: usize = 6 + 32;

/// The parameters of one LDP session: what the coordinator sends every client.
#[derive(Debug, Clone)]
pub struct LdpSessionParams {
    /// Fresh per session (the coordinator's choice); makes the session id unique.
    pub nonce: [u8; 32],
    /// How long the session collects reports, from its start.
    pub deadline_ms: u32,
    /// The task, checked and built.
    pub task: LdpTask,
}

impl LdpSessionParams {
    /// Checks and builds the task.
    pub fn new(
        nonce: [u8; 32],
        deadline_ms: u32,
        spec: LdpTaskSpec,
    ) -> Result<Self, AnalyticsError> {
        Ok(LdpSessionParams {
            nonce,
            deadline_ms,
            task: LdpTask::new(spec)?,
        })
    }

    /// The Task frame.
    pub fn encode(&self) -> Vec<u8> {
        let s = self.task.spec();
        let mut v = TASK_MAGIC.to_vec();
        v.extend_from_slice(&self.nonce);
        v.extend_from_slice(&self.deadline_ms.to_be_bytes());
        v.push(s.protocol.code());
        v.extend_from_slice(&s.epsilon.to_bits().to_be_bytes());
        // `LdpTask::new` caps d at MAX_ATTRIBUTES (64), so it fits a u16.
        v.extend_from_slice(&(s.domains.len() as u16).to_be_bytes());
        for k in &s.domains {
            v.extend_from_slice(&k.to_be_bytes());
        }
        v
    }

    /// The session id: a hash of the whole Task frame after its magic.
    pub fn session_id(&self) -> [u8; 32] {
        let frame = self.encode();
        let mut h = Sha256::new();
        h.update([SESSION_DOMAIN.len() as u8]);
        h.update(SESSION_DOMAIN);
        h.update(frame.get(TASK_MAGIC.len()..).unwrap_or_default());
        h.finalize().into()
    }

    /// Largest Report frame of this session.
    pub fn report_frame_max(&self) -> usize {
        report_frame_max(&self.task)
    }
}

/// Largest Report frame for `task`: magic, session id and the longest report.
pub fn report_frame_max(task: &LdpTask) -> usize {
    6 + 32 + task.max_report_len()
}

fn malformed(why: &'static str) -> AnalyticsError {
    AnalyticsError::Malformed { what: "task", why }
}

/// Decodes an untrusted Task frame and builds its task (caps checked first).
pub fn decode_task(b: &[u8]) -> Result<LdpSessionParams, AnalyticsError> {
    if b.len() > MAX_TASK_FRAME {
        return Err(malformed("longer than the largest task"));
    }
    if b.get(..6) != Some(TASK_MAGIC.as_slice()) {
        return Err(malformed("magic"));
    }
    let fixed = b.get(6..53).ok_or(malformed("truncated"))?;
    let (nonce, rest) = fixed.split_at(32);
    let nonce: [u8; 32] = nonce.try_into().map_err(|_| malformed("nonce"))?;
    let (dl, rest) = rest.split_at(4);
    let deadline_ms = u32::from_be_bytes(dl.try_into().map_err(|_| malformed("deadline"))?);
    let (code, rest) = rest.split_at(1);
    let protocol = LdpProtocol::from_code(code[0]).ok_or(malformed("unknown protocol"))?;
    let (eps, rest) = rest.split_at(8);
    let epsilon = f64::from_bits(u64::from_be_bytes(
        eps.try_into().map_err(|_| malformed("epsilon"))?,
    ));
    let d = u16::from_be_bytes(rest.try_into().map_err(|_| malformed("attribute count"))?) as usize;
    if d == 0 || d > MAX_ATTRIBUTES {
        return Err(malformed("attribute count outside 1..=64"));
    }
    let ks = b.get(53..).ok_or(malformed("truncated"))?;
    if ks.len() != 4 * d {
        return Err(malformed("length does not match the attribute count"));
    }
    let domains = ks
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    LdpSessionParams::new(
        nonce,
        deadline_ms,
        LdpTaskSpec {
            protocol,
            epsilon,
            domains,
        },
    )
}

/// A Report frame.
pub fn encode_report(session_id: &[u8; 32], report: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(38 + report.len());
    v.extend_from_slice(REPORT_MAGIC);
    v.extend_from_slice(session_id);
    v.extend_from_slice(report);
    v
}

/// Checks a Report frame's magic and session id and returns the report bytes (validated by
/// [`super::LdpAccumulator::add_bytes`]).
pub fn decode_report<'a>(session_id: &[u8; 32], b: &'a [u8]) -> Result<&'a [u8], AnalyticsError> {
    let bad = |why| AnalyticsError::Malformed {
        what: "report frame",
        why,
    };
    if b.get(..6) != Some(REPORT_MAGIC.as_slice()) {
        return Err(bad("magic"));
    }
    if b.get(6..38).ok_or(bad("truncated"))? != session_id {
        return Err(AnalyticsError::WrongSession);
    }
    b.get(38..).ok_or(bad("truncated"))
}

/// A Receipt frame.
pub fn encode_receipt(session_id: &[u8; 32]) -> Vec<u8> {
    let mut v = RECEIPT_MAGIC.to_vec();
    v.extend_from_slice(session_id);
    v
}

/// Checks a Receipt frame.
pub fn decode_receipt(session_id: &[u8; 32], b: &[u8]) -> Result<(), AnalyticsError> {
    if b.len() != RECEIPT_LEN || b.get(..6) != Some(RECEIPT_MAGIC.as_slice()) {
        return Err(AnalyticsError::Malformed {
            what: "receipt",
            why: "length or magic",
        });
    }
    if b.get(6..) != Some(session_id.as_slice()) {
        return Err(AnalyticsError::WrongSession);
    }
    Ok(())
}
