//! `HistogramSpec`: the one call from a categorical value to a SecAgg client checks that the
//! session sums the multi-hot inputs faithfully and refuses values outside their domain; the
//! inputs summed by the in-process protocol give the exact histogram.
#![cfg(all(feature = "sim", feature = "ldp"))]

mod protocol_common;

use std::sync::Arc;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use protocol_common::*;
use secagg::analytics::histogram::{HistogramClientError, HistogramSpec};
use secagg::protocol::params::Graph;
use secagg::protocol::sim;

#[test]
fn client_call_checks_the_session_and_the_value() {
    let spec = HistogramSpec::new(&[3, 5]).unwrap();
    assert_eq!(spec.vector_len(), 8);
    assert_eq!(
        spec.input(&[2, 0]).unwrap(),
        vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    );
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut p = params(4, 3, Graph::Complete, false, 8);
    p.levels = 3;
    let me = p.participants[0];
    // A fitting session: the client starts and its first message is AdvertiseKeys.
    let (_c, first) = spec
        .client(Arc::new(p.clone()), me, None, &[2, 4], &mut rng)
        .unwrap();
    assert_eq!(
        first.get(1),
        Some(&secagg::protocol::messages::types::ADVERTISE_KEYS)
    );
    // Out of the domain, wrong arity.
    for v in [&[3u32, 0][..], &[0, 5], &[0]] {
        let r = spec.client(Arc::new(p.clone()), me, None, v, &mut rng);
        assert!(
            matches!(r, Err(HistogramClientError::Histogram(_))),
            "{v:?}"
        );
    }
    // Sessions that would not sum the histogram exactly.
    let mut even = p.clone();
    even.levels = 4;
    let mut short = p.clone();
    short.vector_len = 7;
    let mut weighted = p.clone();
    weighted.max_weight = 2;
    for bad in [even, short, weighted] {
        let r = spec.client(Arc::new(bad), me, None, &[0, 0], &mut rng);
        assert!(matches!(r, Err(HistogramClientError::Histogram(_))));
    }
    assert!(HistogramSpec::new(&[]).is_err());
    assert!(HistogramSpec::new(&[1]).is_err());
    assert!(HistogramSpec::new(&[1 << 23]).is_err());
}

#[test]
fn simulated_session_gives_the_exact_histogram() {
    let spec = HistogramSpec::new(&[4, 3]).unwrap();
    let n = 9;
    let values: Vec<Vec<u32>> = (0..n as u32).map(|i| vec![i % 4, (i * i) % 3]).collect();
    let mut p = params(n, 5, Graph::Complete, false, spec.vector_len());
    p.levels = 3;
    let cfg = sim::SimConfig {
        inputs: values.iter().map(|v| spec.input(v).unwrap()).collect(),
        ..config(p.clone(), vec![None; n], 3)
    };
    let out = sim::run(&cfg).unwrap().result.unwrap();
    let est = spec
        .estimates(&p, &out.dequantized_sum(), out.included.len() as u64, 0.0)
        .unwrap();
    let mut want = [vec![0.0; 4], vec![0.0; 3]];
    for v in &values {
        want[0][v[0] as usize] += 1.0 / n as f64;
        want[1][v[1] as usize] += 1.0 / n as f64;
    }
    for (a, w) in est.attributes.iter().zip(&want) {
        for (x, y) in a.raw.iter().zip(w) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
    }
    // A sum of the wrong length is refused.
    assert!(spec
        .estimates(&p, &out.dequantized_sum()[1..], 9, 0.0)
        .is_err());
}
