//! Small sessions shared by the state-machine targets.

use std::sync::Arc;

use crate::crypto::sign::SigningKey;
use crate::ids::ParticipantId;
use crate::protocol::params::{Graph, SessionParams, ThreatModel};
use crate::protocol::sim::{SimConfig, Vanish};
use crate::ring::Bits;

/// Identity key seed of participant `i` (active model).
pub fn identity_seed(i: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i as u64 + 1000).to_le_bytes());
    s
}

/// Participants 3, 6, 9, ...
pub fn ids(n: usize) -> Vec<ParticipantId> {
    (1..=n as u16)
        .filter_map(|i| ParticipantId::new(i * 3))
        .collect()
}

/// A validated session: 32-bit ring, clip 1, Q = 2^16 + 1 (inputs on multiples of 2^-15
/// quantize exactly), weights up to 1.
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
    let p = SessionParams {
        dp: None,
        nonce: [0x5e; 32],
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
        levels: (1 << 16) + 1,
        max_weight: 1,
        round_timeout_ms: [1000; 5],
        mask_prg: crate::crypto::prg::MaskPrg::Aes128Ctr,
    };
    debug_assert!(p.validate().is_ok());
    p
}

/// The fixed sessions the state-machine targets choose from.
pub fn sessions() -> Vec<SessionParams> {
    vec![
        // Bonawitz et al., complete graph.
        params(5, 2, Graph::Complete, false, 3),
        // SecAgg+ Harary graph: each client has 4 of the 7 as neighbours.
        params(7, 3, Graph::Harary { degree: 4 }, false, 2),
        // Active model with the consistency round.
        params(4, 2, Graph::Complete, true, 2),
    ]
}

/// Client `i` holds 0.5 at coordinate i mod L and 0.25 at (i + 1) mod L (exact on the grid), so
/// a missing or doubled client shows in the sum.
pub fn inputs(n: usize, len: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            let mut v = vec![0.0; len];
            v[i % len] += 0.5;
            if len > 1 {
                v[(i + 1) % len] -= 0.25;
            }
            v
        })
        .collect()
}

/// A simulator configuration for `p` (recording on).
pub fn sim_config(p: &SessionParams, vanish: Vec<Option<Vanish>>, seed: u64) -> SimConfig {
    let n = p.n();
    SimConfig {
        inputs: inputs(n, p.vector_len as usize),
        weights: vec![1; n],
        vanish,
        identity_seeds: (0..n).map(identity_seed).collect(),
        params: Arc::new(p.clone()),
        seed,
        client_tamper: None,
        server_tamper: None,
        record: true,
    }
}

/// The RNG seed the simulator gives client `i` for simulation seed `seed`.
pub fn client_rng_seed(seed: u64, i: usize) -> u64 {
    seed ^ ((i as u64 + 1) << 20)
}
