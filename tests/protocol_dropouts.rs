//! Dropout matrix (deterministic, seeded): for n in {3, 5, 10, 100}, complete and Harary graphs,
//! semi-honest and active models, clients drop at each round. With exactly the minimum number
//! of survivors the sum is exact over exactly the right clients; with one fewer the session
//! aborts cleanly.
//!
//! t counts neighbours (a client's own share is never needed), so the complete graph needs
//! t + 1 survivors; in a Harary graph one client keeps exactly t neighbours.

mod protocol_common;

use protocol_common::*;
use secagg::ids::{ParticipantId, Round};
use secagg::protocol::graph::Topology;
use secagg::protocol::params::Graph;
use secagg::protocol::sim::{self, Vanish};
use secagg::protocol::{AbortReason, ClientStatus};

fn rounds(active: bool) -> Vec<Round> {
    let mut r = vec![Round::AdvertiseKeys, Round::ShareKeys, Round::MaskedInput];
    if active {
        r.push(Round::ConsistencyCheck);
    }
    r.push(Round::Unmasking);
    r
}

/// Clients that vanish before sending round `r` are in the sum iff they had sent their
/// masked input, i.e. r is after MaskedInput.
fn included_after(all: &[ParticipantId], dropped: &[usize], r: Round) -> Vec<ParticipantId> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| r > Round::MaskedInput || !dropped.contains(i))
        .map(|(_, id)| *id)
        .collect()
}

fn vanish_list(n: usize, dropped: &[usize], r: Round, seed: u64) -> Vec<Option<Vanish>> {
    (0..n)
        .map(|i| {
            dropped.contains(&i).then(|| {
                // Alternate between silent dropouts (deadline) and closed connections.
                if (i as u64 + seed).is_multiple_of(2) {
                    Vanish::Silent(r)
                } else {
                    Vanish::Disconnect(r)
                }
            })
        })
        .collect()
}

fn complete_case(n: usize, t: u16, active: bool) {
    complete_like_case(n, t, active, Graph::Complete)
}

fn complete_like_case(n: usize, t: u16, active: bool, graph: Graph) {
    for r in rounds(active) {
        let base = params(n, t, graph, active, 6);
        let all = base.participants.clone();
        // Exactly t + 1 survivors: exact sum.
        let ok_drops: Vec<usize> = (0..n - (t as usize + 1)).map(|k| (k * 7 + 1) % n).collect();
        let mut ok_drops_sorted = ok_drops.clone();
        ok_drops_sorted.sort_unstable();
        ok_drops_sorted.dedup();
        assert_eq!(
            ok_drops_sorted.len(),
            ok_drops.len(),
            "drop pattern must be distinct"
        );
        let cfg = config(base.clone(), vanish_list(n, &ok_drops, r, 1), 10 + n as u64);
        let report = expect_sum(&cfg, &included_after(&all, &ok_drops, r));
        for (i, st) in report.clients.iter().enumerate() {
            if !ok_drops.contains(&i) {
                assert!(
                    !matches!(st, ClientStatus::Aborted(_)),
                    "n={n} r={r:?}: survivor {i} aborted: {st:?}"
                );
            }
        }
        // One more dropout: a clean abort, and no client reveals anything after it.
        let mut bad_drops = ok_drops.clone();
        bad_drops.push((0..n).find(|i| !ok_drops.contains(i)).unwrap());
        let cfg = config(base, vanish_list(n, &bad_drops, r, 2), 20 + n as u64);
        let report = sim::run(&cfg).unwrap();
        assert!(
            report.result.is_err(),
            "n={n} t={t} active={active} r={r:?}: expected an abort with {} survivors",
            n - bad_drops.len()
        );
        if r <= Round::MaskedInput {
            // Below threshold before unmasking: no client ever revealed a share.
            assert!(report.revealed.iter().all(Vec::is_empty), "n={n} r={r:?}");
        }
    }
}

#[test]
fn complete_graph_semi_honest() {
    complete_case(3, 1, false);
    complete_case(5, 2, false);
    complete_case(10, 5, false);
}

#[test]
fn complete_graph_active() {
    complete_case(3, 2, true);
    complete_case(5, 3, true);
    complete_case(10, 5, true);
}

#[test]
fn complete_graph_n100() {
    complete_case(100, 50, false);
}

/// In a Harary graph: drop `k - t` neighbours of one victim (it keeps exactly t: exact sum),
/// or `k - t + 1` (it keeps t - 1: excluded if before its masked input, abort afterwards).
fn harary_case(n: usize, k: u16, t: u16, active: bool) {
    for r in rounds(active) {
        let base = params(n, t, Graph::Harary { degree: k }, active, 6);
        let all = base.participants.clone();
        let sid = base.session_id();
        let topo = Topology::new(&base, &sid);
        let victim = 0usize;
        let neigh: Vec<usize> = topo.neighbours(victim).collect();
        assert_eq!(neigh.len(), k as usize);
        let ok_drops: Vec<usize> = neigh[..(k - t) as usize].to_vec();
        let cfg = config(base.clone(), vanish_list(n, &ok_drops, r, 3), 30 + n as u64);
        expect_sum(&cfg, &included_after(&all, &ok_drops, r));

        let bad_drops: Vec<usize> = neigh[..(k - t + 1) as usize].to_vec();
        let cfg = config(base, vanish_list(n, &bad_drops, r, 4), 40 + n as u64);
        let report = sim::run(&cfg).unwrap();
        match &report.result {
            Ok(out) => {
                // Only possible when the victim could be left out before its input was sent.
                assert!(r <= Round::ShareKeys, "n={n} r={r:?}: expected an abort");
                assert!(!out.included.contains(&all[victim]));
                for d in &bad_drops {
                    assert!(!out.included.contains(&all[*d]));
                }
                let want = sim::expected_sum(&cfg, &out.included);
                for (g, w) in out.dequantized_sum().iter().zip(&want) {
                    assert!((g - w).abs() < 1e-9);
                }
            }
            Err(e) => {
                // With ample slack (n = 100, k - t = 6) leaving the victim out must not cascade.
                // (In the active model t > k/2 leaves less slack, and on a ring lattice the
                // exclusion of one neighbourhood can cascade around the cycle.)
                assert!(
                    n < 100 || active || r >= Round::MaskedInput,
                    "n={n} r={r:?}: {e}"
                );
                // Before any input is sent, leaving the victim out may cascade (its neighbours
                // lose a neighbour too) until too few clients remain: a clean abort.
                assert!(
                    r >= Round::MaskedInput
                        || matches!(e.reason, AbortReason::TooFewClients { .. }),
                    "n={n} r={r:?}: unexpected abort {e}"
                );
                if r <= Round::MaskedInput {
                    assert!(report.revealed.iter().all(Vec::is_empty));
                }
            }
        }
    }
}

#[test]
fn harary_semi_honest() {
    harary_case(10, 4, 2, false);
    harary_case(100, 12, 6, false);
}

#[test]
fn harary_active() {
    harary_case(10, 4, 3, true);
    harary_case(100, 12, 7, true);
}

#[test]
fn harary_with_degree_n_minus_1_is_the_complete_graph() {
    // k = n - 1 leaves no one out: the same matrix as the complete graph holds.
    let p = params(5, 2, Graph::Harary { degree: 4 }, false, 4);
    assert!(p.validate().is_ok());
    assert!(params(5, 2, Graph::Harary { degree: 5 }, false, 4)
        .validate()
        .is_err());
    assert!(params(5, 2, Graph::Harary { degree: 3 }, false, 4)
        .validate()
        .is_err());
    complete_like_case(5, 2, false, Graph::Harary { degree: 4 });
}

/// A client whose connection closes right after its masked input was accepted stays in U3 (its
/// input is in the sum) but can no longer reveal shares: it must not count as a holder in the
/// round-2 check, so a secret left with fewer than t holders that can answer aborts with
/// NeighbourhoodTooSmall before any unmasking request, and nothing is revealed.
#[test]
fn a_holder_that_disconnected_after_its_input_does_not_count() {
    let (n, k, t) = (10usize, 4u16, 2u16);
    let base = params(n, t, Graph::Harary { degree: k }, false, 4);
    let sid = base.session_id();
    let topo = Topology::new(&base, &sid);
    let victim = 0usize;
    let neigh: Vec<usize> = topo.neighbours(victim).collect();
    // Two neighbours stay silent in round 2, a third sends its input and disconnects: the
    // victim's self-mask seed has t = 2 holders in U3, only one of which can answer.
    let mut vanish = vec![None; n];
    vanish[neigh[0]] = Some(Vanish::Silent(Round::MaskedInput));
    vanish[neigh[1]] = Some(Vanish::Silent(Round::MaskedInput));
    vanish[neigh[2]] = Some(Vanish::SentThenDisconnect(Round::MaskedInput));
    let cfg = config(base, vanish, 77);
    let report = sim::run(&cfg).unwrap();
    let e = report.result.expect_err("must abort");
    assert_eq!(e.round, Round::MaskedInput, "{e}");
    assert!(
        matches!(
            e.reason,
            AbortReason::NeighbourhoodTooSmall {
                have: 1,
                need: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(report.revealed.iter().all(Vec::is_empty));

    // The same schedule with the third neighbour still connected goes through: it is the
    // disconnection that matters.
    let base = params(n, t, Graph::Harary { degree: k }, false, 4);
    let mut vanish = vec![None; n];
    vanish[neigh[0]] = Some(Vanish::Silent(Round::MaskedInput));
    vanish[neigh[1]] = Some(Vanish::Silent(Round::MaskedInput));
    let cfg = config(base, vanish, 77);
    let report = sim::run(&cfg).unwrap();
    assert!(report.result.is_ok(), "{:?}", report.result);
}
