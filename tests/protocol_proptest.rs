//! Property test over the in-process simulator: random small sessions (n <= 7, complete and
//! Harary graphs, semi-honest and active) with random dropout schedules (silent or disconnecting,
//! in any round). Checks: when the server returns a result, its sum is exact over exactly the
//! clients that delivered a masked input and were kept (inputs lie on the quantization grid);
//! otherwise the abort is typed (a failed reconstruction only when holders vanished during
//! unmasking); with no dropout the
//! session always succeeds; no peer ever has both kinds of share revealed, by one client or
//! across clients; a session that aborts before unmasking reveals nothing.

mod protocol_common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use protocol_common::*;
use secagg::ids::Round;
use secagg::protocol::messages::ShareKind;
use secagg::protocol::params::Graph;
use secagg::protocol::sim::{self, Vanish};
use secagg::protocol::AbortReason;

#[derive(Debug, Clone)]
struct Case {
    n: usize,
    graph: Graph,
    t: u16,
    active: bool,
    len: u32,
    vanish: Vec<Option<Vanish>>,
    seed: u64,
}

fn round(k: u8) -> Round {
    match k % 5 {
        0 => Round::AdvertiseKeys,
        1 => Round::ShareKeys,
        2 => Round::MaskedInput,
        3 => Round::ConsistencyCheck,
        _ => Round::Unmasking,
    }
}

fn case() -> impl Strategy<Value = Case> {
    (
        3usize..=7,
        any::<bool>(),
        any::<bool>(),
        1u32..=3,
        any::<u64>(),
    )
        .prop_flat_map(|(n, harary, active, len, seed)| {
            // Harary degrees: even, 2 <= k < n; otherwise the complete graph (k = n - 1).
            let degrees: Vec<u16> = (1..=((n - 1) / 2) as u16).map(|h| 2 * h).collect();
            let degree = if harary && !degrees.is_empty() {
                proptest::sample::select(degrees).boxed()
            } else {
                Just((n - 1) as u16).boxed()
            };
            (
                Just((n, harary, active, len, seed)),
                degree,
                any::<u16>(),
                proptest::collection::vec(
                    proptest::option::weighted(0.3, (any::<bool>(), any::<u8>())),
                    n,
                ),
            )
        })
        .prop_map(|((n, harary, active, len, seed), k, tpick, drops)| {
            let graph = if harary && (k as usize) < n - 1 {
                Graph::Harary { degree: k }
            } else {
                Graph::Complete
            };
            let k = if matches!(graph, Graph::Complete) {
                (n - 1) as u16
            } else {
                k
            };
            // Semi-honest: 1 <= t <= k; active: k/2 < t <= k.
            let lo = if active { k / 2 + 1 } else { 1 };
            let t = lo + tpick % (k - lo + 1);
            let vanish = drops
                .into_iter()
                .map(|d| {
                    d.map(|(silent, r)| {
                        if silent {
                            Vanish::Silent(round(r))
                        } else {
                            Vanish::Disconnect(round(r))
                        }
                    })
                })
                .collect();
            Case {
                n,
                graph,
                t,
                active,
                len,
                vanish,
                seed,
            }
        })
}

fn check(c: &Case) -> Result<(), TestCaseError> {
    let p = params(c.n, c.t, c.graph, c.active, c.len);
    prop_assert!(p.validate().is_ok(), "{:?}", p.validate());
    let cfg = config(p.clone(), c.vanish.clone(), c.seed);
    let report = sim::run(&cfg).expect("valid configuration");

    // Clients that send a masked input: they vanish (if at all) only after round 2.
    let sent_input: Vec<_> = p
        .participants
        .iter()
        .zip(&c.vanish)
        .filter(|(_, v)| v.is_none_or(|v| v.round() > Round::MaskedInput))
        .map(|(id, _)| *id)
        .collect();

    // No peer has both kinds of share revealed, by any client.
    let mut kinds: BTreeMap<_, ShareKind> = BTreeMap::new();
    for revealed in &report.revealed {
        for (owner, kind) in revealed {
            if let Some(k) = kinds.insert(*owner, *kind) {
                prop_assert_eq!(k, *kind, "both kinds of share of {} revealed", owner);
            }
        }
    }

    match &report.result {
        Ok(out) => {
            for id in &out.included {
                prop_assert!(sent_input.contains(id), "{id} included without an input");
            }
            prop_assert!(
                out.included.len() > c.t as usize,
                "fewer than t + 1 in the sum"
            );
            let want = sim::expected_sum(&cfg, &out.included);
            for (j, (g, w)) in out.dequantized_sum().iter().zip(&want).enumerate() {
                prop_assert!((g - w).abs() < 1e-9, "coordinate {}: {} != {}", j, g, w);
            }
            prop_assert_eq!(out.weight_sum, out.included.len() as u64);
            prop_assert!(
                report.client_aborts.is_empty(),
                "{:?}",
                report.client_aborts
            );
        }
        Err(abort) => {
            prop_assert!(
                c.vanish.iter().any(Option::is_some),
                "no dropout, yet aborted: {abort}"
            );
            // Reconstruction can only fail for want of shares when holders vanish during
            // unmasking (every needed secret had t live holders when unmasking started).
            if matches!(abort.reason, AbortReason::ReconstructionFailed(_)) {
                prop_assert!(
                    c.vanish
                        .iter()
                        .any(|v| v.is_some_and(|v| v.round() == Round::Unmasking)),
                    "honest shares failed to reconstruct: {abort}"
                );
            }
            if abort.round < Round::Unmasking {
                prop_assert!(
                    report.revealed.iter().all(Vec::is_empty),
                    "aborted in {:?} after revealing shares",
                    abort.round
                );
            }
        }
    }
    if sent_input.len() <= c.t as usize {
        prop_assert!(report.result.is_err(), "sum over fewer than t + 1 inputs");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn simulated_sessions(c in case()) {
        check(&c)?;
    }
}
