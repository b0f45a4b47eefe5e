//! One secure-aggregation session in-process: a server and n clients exchanging the real encoded
//! messages, with clients vanishing at chosen rounds. Prints per-round timings, bytes per message
//! type, the survivor sets, and whether the result equals the plaintext sum.
//!
//! ```text
//! cargo run --release --example simulate -- --clients 100 --dim 100000 --dropout 0.1 --graph harary
//! ```
//!
//! Flags: `--clients N` (100), `--dim L` (100000), `--dropout D` (0.1: that fraction of clients
//! vanish, spread evenly over the rounds), `--graph complete|harary` (harary), `--degree K` and
//! `--threshold T` (default: the parameter chooser's, or n/2+1 for the complete graph),
//! `--active` (signatures and the consistency round), `--bits B` (32), `--seed S` (1).

use std::sync::Arc;
use std::time::Instant;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use secagg::crypto::sign::SigningKey;
use secagg::ids::ParticipantId;
use secagg::protocol::params::{Graph, SessionParams, ThreatModel};
use secagg::protocol::sim::{self, type_name, SimConfig};
use secagg::ring::Bits;

struct Args {
    clients: usize,
    dim: u32,
    dropout: f64,
    harary: bool,
    degree: Option<u16>,
    threshold: Option<u16>,
    active: bool,
    bits: u32,
    seed: u64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        clients: 100,
        dim: 100_000,
        dropout: 0.1,
        harary: true,
        degree: None,
        threshold: None,
        active: false,
        bits: 32,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--active" {
            a.active = true;
            continue;
        }
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let e = |x: &dyn std::fmt::Display| format!("{flag} {v}: {x}");
        match flag.as_str() {
            "--clients" => a.clients = v.parse().map_err(|x| e(&x))?,
            "--dim" => a.dim = v.parse().map_err(|x| e(&x))?,
            "--dropout" => a.dropout = v.parse().map_err(|x| e(&x))?,
            "--graph" => {
                a.harary = match v.as_str() {
                    "harary" => true,
                    "complete" => false,
                    _ => return Err(e(&"expected complete or harary")),
                }
            }
            "--degree" => a.degree = Some(v.parse().map_err(|x| e(&x))?),
            "--threshold" => a.threshold = Some(v.parse().map_err(|x| e(&x))?),
            "--bits" => a.bits = v.parse().map_err(|x| e(&x))?,
            "--seed" => a.seed = v.parse().map_err(|x| e(&x))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !(0.0..1.0).contains(&a.dropout) || a.clients < 3 || a.clients > 65_535 {
        return Err("need 3 <= clients <= 65535 and 0 <= dropout < 1".into());
    }
    Ok(a)
}

/// Default (degree, threshold) when not given on the command line.
/// Graph, threshold and corrupted-neighbour bound: explicit `--degree`/`--threshold` win;
/// otherwise the chooser for 5% corrupted clients (active-model rules with `--active`), or the
/// complete graph.
fn default_graph(a: &Args) -> (Graph, u16, u16) {
    let n = a.clients;
    let model = if a.active {
        ThreatModel::Active
    } else {
        ThreatModel::SemiHonest
    };
    let c = (n / 20) as u16;
    let smallest_t = |k: u16, c: u16| {
        if a.active {
            (k + c) / 2 + 1
        } else {
            (n / 2).max(c as usize + 1) as u16
        }
    };
    if !a.harary {
        let k = (n - 1) as u16;
        return (Graph::Complete, a.threshold.unwrap_or(smallest_t(k, c)), c);
    }
    let chosen =
        secagg::protocol::chooser::choose_session_graph(n as u64, a.dropout.max(0.01), 0.05, model)
            .ok();
    match (chosen, a.degree) {
        (Some((g, t, c)), None) => (g, a.threshold.unwrap_or(t), c),
        (_, degree) => {
            let k = degree.unwrap_or(((n - 1) & !1) as u16);
            let c = secagg::protocol::chooser::corrupt_neighbour_bound(
                n as u64,
                k as u64,
                0.05,
                if a.active {
                    secagg::protocol::chooser::GRINDING_MARGIN_BITS
                } else {
                    0
                },
            )
            .map_or(c, |c| c as u16);
            let t = a.threshold.unwrap_or(smallest_t(k, c));
            if k as usize >= n - 1 {
                (Graph::Complete, t.min((n - 1) as u16), c)
            } else {
                (Graph::Harary { degree: k }, t, c)
            }
        }
    }
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let n = a.clients;
    let (graph, threshold, max_corrupt_neighbours) = default_graph(&a);
    let seeds: Vec<[u8; 32]> = (0..n)
        .map(|i| core::array::from_fn(|b| (i * 31 + b) as u8))
        .collect();
    let identity_keys = if a.active {
        seeds
            .iter()
            .map(|s| SigningKey::from_seed(s).verifying_key().to_bytes())
            .collect()
    } else {
        Vec::new()
    };
    let params = SessionParams {
        dp: None,
        nonce: [a.seed as u8; 32],
        participants: (1..=n as u16)
            .map(|i| ParticipantId::new(i).expect("nonzero"))
            .collect(),
        threat_model: if a.active {
            ThreatModel::Active
        } else {
            ThreatModel::SemiHonest
        },
        identity_keys,
        graph,
        threshold,
        max_corrupt_neighbours,
        vector_len: a.dim,
        bits: Bits::new(a.bits).unwrap_or(Bits::B32),
        clip: 1.0,
        levels: 1 << 16,
        max_weight: 1,
        round_timeout_ms: [10_000; 5],
        mask_prg: secagg::crypto::prg::MaskPrg::Aes128Ctr,
    };
    if let Err(e) = params.validate() {
        eprintln!("invalid parameters: {e}");
        std::process::exit(2);
    }
    let mut rng = ChaCha20Rng::seed_from_u64(a.seed);
    let inputs = sim::random_inputs(n, a.dim as usize, &mut rng);
    let vanish = sim::spread_dropouts(n, a.dropout, a.active, &mut rng);
    let rounds = sim::rounds(a.active);
    let drops = vanish.iter().filter(|v| v.is_some()).count();
    let graph_desc = match graph {
        Graph::Complete => "complete".to_string(),
        Graph::Harary { degree } => format!("Harary k={degree}"),
        _ => "other".to_string(),
    };
    println!(
        "simulate: n={n} L={} bits={} graph={graph_desc} t={threshold} {} dropout={} ({drops} clients: {})",
        a.dim,
        a.bits,
        if a.active { "active" } else { "semi-honest" },
        a.dropout,
        rounds.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join("/"),
    );
    let cfg = SimConfig {
        params: Arc::new(params),
        inputs,
        weights: vec![1; n],
        vanish,
        identity_seeds: seeds,
        seed: a.seed,
        client_tamper: None,
        server_tamper: None,
        record: false,
    };
    let t0 = Instant::now();
    let report = match sim::run(&cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("simulation failed to start: {e}");
            std::process::exit(1);
        }
    };
    let wall = t0.elapsed();
    println!(
        "\nsurvivor sets: {}",
        report
            .sets
            .iter()
            .map(|(s, k)| format!("{s}={k}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "\n{:<22} {:>8} {:>14} {:>14}",
        "message", "count", "bytes", "bytes/msg"
    );
    for (code, t) in &report.traffic {
        println!(
            "{:<22} {:>8} {:>14} {:>14}",
            type_name(*code),
            t.count,
            t.bytes,
            t.bytes / t.count.max(1)
        );
    }
    println!(
        "\n{:<22} {:>14} {:>16}",
        "client step", "total ms", "ms per client"
    );
    for (code, d) in &report.client_time {
        let count = report.traffic.get(code).map_or(1, |t| t.count.max(1));
        println!(
            "{:<22} {:>14.1} {:>16.3}",
            type_name(*code),
            d.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3 / count as f64
        );
    }
    println!("\n{:<22} {:>14}", "server handling", "total ms");
    for (code, d) in &report.server_time {
        let name = if code & 0x80 != 0 {
            format!("deadline of round {}", code & 0x7f)
        } else {
            type_name(*code).to_string()
        };
        println!("{:<22} {:>14.1}", name, d.as_secs_f64() * 1e3);
    }
    if !report.client_aborts.is_empty() {
        println!("\nclient aborts: {}", report.client_aborts.len());
        for ab in report.client_aborts.iter().take(5) {
            println!("  {ab}");
        }
    }
    println!("\nwall time {:.2} s", wall.as_secs_f64());
    match &report.result {
        Ok(out) => {
            let want = sim::expected_sum(&cfg, &out.included);
            let step = 2.0 * cfg.params.clip / (cfg.params.levels - 1) as f64;
            let bound = out.included.len() as f64 * step;
            let max_err = out
                .dequantized_sum()
                .iter()
                .zip(&want)
                .map(|(g, w)| (g - w).abs())
                .fold(0.0, f64::max);
            let ok = max_err < bound;
            println!(
                "result: sum of {} inputs, max |error| vs plaintext sum = {max_err:.3e} (bound {bound:.3e}): {}",
                out.included.len(),
                if ok { "MATCH" } else { "MISMATCH" }
            );
            if !ok {
                std::process::exit(1);
            }
        }
        Err(e) => {
            println!("result: {e}");
            std::process::exit(1);
        }
    }
}
