//! Shared set-up for the protocol tests: parameters, unique inputs, and result checks.
#![allow(dead_code)]

use std::sync::Arc;

use secagg::crypto::sign::SigningKey;
use secagg::ids::ParticipantId;
use secagg::protocol::params::{Graph, SessionParams, ThreatModel};
use secagg::protocol::sim::{self, SimConfig, SimReport, Vanish};
use secagg::protocol::{ClientPolicy, Roster};
use secagg::ring::Bits;

pub fn ids(n: usize) -> Vec<ParticipantId> {
    (1..=n as u16)
        .map(|i| ParticipantId::new(i * 3).unwrap())
        .collect()
}

pub fn identity_seed(i: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i as u64 + 1000).to_le_bytes());
    s
}

pub fn params(n: usize, t: u16, graph: Graph, active: bool, len: u32) -> SessionParams {
    let identity_keys = if active {
        (0..n)
            .map(|i| {
                SigningKey::from_seed(&identity_seed(i))
                    .verifying_key()
                    .to_bytes()
            })
            .collect()
    } else {
        Vec::new()
    };
    SessionParams {
        dp: None,
        nonce: [7; 32],
        participants: ids(n),
        threat_model: if active {
            ThreatModel::Active
        } else {
            ThreatModel::SemiHonest
        },
        identity_keys,
        graph,
        threshold: t,
        max_corrupt_neighbours: 0,
        vector_len: len,
        bits: Bits::B32,
        clip: 1.0,
        // Odd Q: the grid has step 2^-15 and contains 0 and 0.5, so these inputs quantize exactly.
        levels: (1 << 16) + 1,
        max_weight: 1,
        round_timeout_ms: [1000; 5],
        mask_prg: secagg::crypto::prg::MaskPrg::Aes128Ctr,
    }
}

/// A semi-honest client policy for vectors of length `len` that accepts the small sessions the
/// tests run (any cohort size, t >= 1, no corruption assumed).
pub fn lenient_policy(len: u32) -> ClientPolicy {
    let mut policy = ClientPolicy::new(len);
    policy.participants = (2, u16::MAX as usize);
    policy.min_threshold = 1;
    policy.assumed_corrupt_rate = 0.0;
    policy
}

/// A client policy that accepts the small test sessions built here (any cohort size, t >= 1,
/// no corruption assumed) and, in the active model, trusts exactly the keys of `p` (the tests
/// generated them: they are the operator).
pub fn test_policy(p: &SessionParams) -> ClientPolicy {
    let mut policy = lenient_policy(p.dp.as_ref().map_or(p.vector_len, |d| d.dim() as u32));
    if p.threat_model == ThreatModel::Active {
        let roster = Roster::new(
            p.participants
                .iter()
                .copied()
                .zip(p.identity_keys.iter().copied())
                .collect(),
        )
        .expect("distinct valid test keys");
        policy = policy.require_active(roster);
    }
    policy
}

/// Client i holds 0.5 at coordinate i mod L (plus 0.25 at coordinate (i + 1) mod L when
/// L > 1), so a missing or double-counted client shows in the sum.
pub fn unique_inputs(n: usize, len: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            let mut v = vec![0.0; len];
            v[i % len] += 0.5;
            if len > 1 {
                v[(i + 1) % len] += 0.25;
            }
            v
        })
        .collect()
}

pub fn config(p: SessionParams, vanish: Vec<Option<Vanish>>, seed: u64) -> SimConfig {
    let n = p.n();
    let len = p.vector_len as usize;
    SimConfig {
        inputs: unique_inputs(n, len),
        weights: vec![1; n],
        vanish,
        identity_seeds: (0..n).map(identity_seed).collect(),
        params: Arc::new(p),
        seed,
        client_tamper: None,
        server_tamper: None,
        record: false,
    }
}

/// Runs the simulation and checks an exact sum over exactly the expected clients.
pub fn expect_sum(cfg: &SimConfig, expected_included: &[ParticipantId]) -> SimReport {
    let report = sim::run(cfg).expect("valid configuration");
    let out = match &report.result {
        Ok(o) => o,
        Err(e) => panic!(
            "expected a result, got {e}; client aborts: {:?}",
            report.client_aborts
        ),
    };
    assert_eq!(out.included, expected_included, "included set");
    let want = sim::expected_sum(cfg, expected_included);
    assert_eq!(out.dequantized_sum().len(), want.len());
    for (j, (g, w)) in out.dequantized_sum().iter().zip(&want).enumerate() {
        assert!((g - w).abs() < 1e-9, "coordinate {j}: got {g}, want {w}");
    }
    assert_eq!(out.weight_sum, expected_included.len() as u64);
    report
}

/// The simulator configuration type, for helper signatures.
pub type Cfg = SimConfig;
