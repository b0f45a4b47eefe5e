//! End-to-end protocol runs in the in-process simulator.

mod protocol_common;

use protocol_common::*;
use secagg::protocol::params::Graph;

#[test]
fn complete_graph_no_dropout() {
    let p = params(5, 3, Graph::Complete, false, 8);
    let all = p.participants.clone();
    let cfg = config(p, vec![None; 5], 1);
    let r = expect_sum(&cfg, &all);
    assert!(r.client_aborts.is_empty(), "{:?}", r.client_aborts);
    // Only late arrivals after the early finish may be refused.
    assert!(
        r.rejected
            .iter()
            .all(|e| e.reason == secagg::protocol::RejectReason::SessionOver),
        "{:?}",
        r.rejected
    );
}
