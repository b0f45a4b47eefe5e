//! Message codec properties: decoding arbitrary bytes never panics and allocates only within
//! the session's limits; whatever decodes re-encodes to exactly the same bytes.

mod protocol_common;

use proptest::prelude::*;
use protocol_common::*;
use secagg::protocol::messages::{ClientMessage, Limits, ServerMessage};
use secagg::protocol::params::Graph;

fn limits(active: bool) -> Limits {
    Limits::new(&params(
        6,
        if active { 3 } else { 2 },
        Graph::Complete,
        active,
        5,
    ))
}

/// A plausible header (version 1, a known or unknown type, any session) followed by noise.
fn framed() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(1u8), any::<u8>()],
        prop_oneof![(1u8..=5), (0x81u8..=0x85), any::<u8>()],
        proptest::collection::vec(any::<u8>(), 32),
        proptest::collection::vec(any::<u8>(), 0..700),
    )
        .prop_map(|(v, t, sid, body)| {
            let mut b = vec![v, t];
            b.extend(sid);
            b.extend(body);
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_never_panics_and_roundtrips(bytes in framed(), active in any::<bool>()) {
        let l = limits(active);
        if let Ok((sid, m)) = ClientMessage::decode(&bytes, &l) {
            prop_assert_eq!(m.encode(&sid), bytes.clone());
        }
        if let Ok((sid, m)) = ServerMessage::decode(&bytes, &l) {
            prop_assert_eq!(m.encode(&sid), bytes);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn truncations_of_real_messages_are_rejected(cut in 1usize..200, seed in any::<u64>()) {
        // Real messages from a small session, cut short anywhere: always a typed error.
        let p = params(4, 2, Graph::Complete, false, 3);
        let l = Limits::new(&p);
        let mut cfg = config(p, vec![None; 4], seed);
        cfg.record = true;
        let r = secagg::protocol::sim::run(&cfg).unwrap();
        for e in &r.transcript {
            let bytes = match e {
                secagg::protocol::sim::Event::ToServer { bytes, .. }
                | secagg::protocol::sim::Event::FromServer { bytes, .. } => bytes,
                _ => continue,
            };
            let n = bytes.len().saturating_sub(cut % bytes.len().max(1)).max(1);
            if n < bytes.len() {
                prop_assert!(ClientMessage::decode(&bytes[..n], &l).is_err());
                prop_assert!(ServerMessage::decode(&bytes[..n], &l).is_err());
            }
        }
    }
}

#[test]
fn params_encoding_roundtrips_and_rejects_garbage() {
    for (g, active) in [
        (Graph::Complete, false),
        (Graph::Harary { degree: 4 }, true),
    ] {
        let p = params(9, 3, g, active, 7);
        let e = p.encode();
        let d = secagg::protocol::SessionParams::decode(&e).unwrap();
        assert_eq!(d, p);
        assert_eq!(d.session_id(), p.session_id());
        for cut in [0, 1, 33, e.len() - 1] {
            assert!(secagg::protocol::SessionParams::decode(&e[..cut]).is_err());
        }
        let mut longer = e.clone();
        longer.push(0);
        assert!(secagg::protocol::SessionParams::decode(&longer).is_err());
    }
}
