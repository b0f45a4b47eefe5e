//! Targets `decode_client_message`, `decode_server_message` and `decode_params` (the
//! parameters a client receives from the coordinator in the QUIC binding's Params frame).

use crate::protocol::graph::Topology;
use crate::protocol::messages::{ClientMessage, Limits, ServerMessage};
use crate::protocol::SessionParams;

/// The limits every input is decoded under: those of the protocol-spec transcripts (n = 5,
/// k = 4, 24-bit ring, L = 3, semi-honest and active; n = 20 Harary k = 6), a tiny session, a
/// large active one, and extreme values no validated session has (the size arithmetic must
/// not overflow).
pub fn fuzz_limits() -> [Limits; 6] {
    let l = |n, degree, packed_len, active| Limits {
        n,
        degree,
        packed_len,
        active,
    };
    [
        l(5, 4, 12, false),
        l(5, 4, 12, true),
        l(20, 6, 12, false),
        l(2, 1, 1, false),
        l(300, 64, 4096, true),
        l(usize::MAX, usize::MAX, usize::MAX, true),
    ]
}

/// Decodes `data` as a client-to-server message under each of [`fuzz_limits`]; whenever that
/// succeeds, the message must re-encode to exactly `data`, fit the limits and stay within
/// `max_client_message`.
pub fn decode_client_message(data: &[u8]) {
    for limits in fuzz_limits() {
        if let Ok((session, msg)) = ClientMessage::decode(data, &limits) {
            assert_eq!(msg.encode(&session), data, "re-encoding differs: {msg:?}");
            assert!(data.len() <= limits.max_client_message());
        }
    }
}

/// Decodes `data` as a server-to-client message under each of [`fuzz_limits`]; whenever that
/// succeeds, the message must re-encode to exactly `data`.
pub fn decode_server_message(data: &[u8]) {
    for limits in fuzz_limits() {
        if let Ok((session, msg)) = ServerMessage::decode(data, &limits) {
            assert_eq!(msg.encode(&session), data, "re-encoding differs: {msg:?}");
            assert!(data.len() <= limits.max_server_message());
        }
    }
}

/// Decodes `data` as session parameters (the body of the QUIC binding's Params frame, which a
/// client reads from the network): decoding must re-encode to exactly `data`; validation must
/// not panic; parameters that validate must yield a session id, limits and a graph whose
/// neighbourhoods all have the declared degree.
pub fn decode_params(data: &[u8]) {
    let Ok(p) = SessionParams::decode(data) else {
        return;
    };
    assert_eq!(p.encode(), data, "re-encoding differs");
    if p.validate().is_err() {
        return;
    }
    let sid = p.session_id();
    let limits = Limits::new(&p);
    assert!(limits.max_client_message() > 0 && limits.max_server_message() > 0);
    // Bound the work per input: the graph is O(n * k).
    if p.n().saturating_mul(p.degree()) <= 1 << 16 {
        let topo = Topology::new(&p, &sid);
        for i in 0..p.n() {
            assert_eq!(topo.neighbours(i).count(), p.degree());
        }
    }
}
