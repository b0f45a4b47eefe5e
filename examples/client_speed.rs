//! Client CPU per protocol step, in-process against the sans-IO server (for profiling the
//! client; the server's time is not counted).
//!
//! ```sh
//! cargo run --release --example client_speed -- --clients 100 --dim 100000 [--degree 14]
//!     [--complete] [--prg aes|chacha] [--dropout 0.1] [--reps 3] [--f64]
//! ```
//!
//! Parameters follow Flower's SecAgg+ defaults as `python/bench/compare_flower.py` sets them
//! (clip 8, 2^22 levels, max_weight 1000, ring width for n clients), with f32 inputs and the
//! input given after start (`set_input`), as the Flower mod does. Prints, per surviving client,
//! the mean CPU of: start (key generation), share keys, set_input (quantize + mask + pack, the
//! masked-input message), unmask reply; and the total.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use rand_core::SeedableRng;
use secagg::crypto::prg::MaskPrg;
use secagg::ids::ParticipantId;
use secagg::protocol::messages::types;
use secagg::protocol::{Client, ClientPolicy, Graph, Server, SessionParams, ThreatModel};
use secagg::quantize::bits_for;
use secagg::rng::ChaCha20Rng;

/// On-CPU seconds of the calling thread.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

struct Args {
    n: usize,
    dim: usize,
    degree: Option<u16>,
    complete: bool,
    prg: MaskPrg,
    dropout: f64,
    reps: usize,
    f64_input: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        n: 100,
        dim: 100_000,
        degree: None,
        complete: false,
        prg: MaskPrg::Aes128Ctr,
        dropout: 0.1,
        reps: 1,
        f64_input: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--clients" => a.n = val()?.parse().map_err(|e| format!("{e}"))?,
            "--dim" => a.dim = val()?.parse().map_err(|e| format!("{e}"))?,
            "--degree" => a.degree = Some(val()?.parse().map_err(|e| format!("{e}"))?),
            "--complete" => a.complete = true,
            "--prg" => {
                a.prg = match val()?.as_str() {
                    "aes" => MaskPrg::Aes128Ctr,
                    "chacha" => MaskPrg::ChaCha20,
                    o => return Err(format!("unknown prg {o}")),
                }
            }
            "--dropout" => a.dropout = val()?.parse().map_err(|e| format!("{e}"))?,
            "--reps" => a.reps = val()?.parse().map_err(|e| format!("{e}"))?,
            "--f64" => a.f64_input = true,
            o => return Err(format!("unknown flag {o}")),
        }
    }
    Ok(a)
}

/// Per surviving client: [start, share keys, set_input (mask), unmask].
fn run(a: &Args, rep: u64) -> [f64; 4] {
    let n = a.n;
    // Flower's default k = 2 ceil(log2 n) + 1 (including the client), t = k / 2 + 1.
    let k = 2 * (n as f64).log2().ceil() as u16 + 1;
    let degree = a.degree.unwrap_or(k - 1);
    let (graph, threshold) = if a.complete {
        (Graph::Complete, (n / 2 + 1) as u16)
    } else {
        (Graph::Harary { degree }, degree.div_ceil(2) + 1)
    };
    let levels = 1u64 << 22;
    let params = Arc::new(SessionParams {
        dp: None,
        nonce: [rep as u8; 32],
        participants: (1..=n as u16)
            .map(|i| ParticipantId::new(i).expect("nonzero"))
            .collect(),
        threat_model: ThreatModel::SemiHonest,
        identity_keys: Vec::new(),
        graph,
        threshold,
        max_corrupt_neighbours: 0,
        vector_len: a.dim as u32,
        bits: bits_for(n as u64, levels).expect("fits"),
        clip: 8.0,
        levels,
        max_weight: 1000,
        round_timeout_ms: [10_000; 5],
        mask_prg: a.prg,
    });
    let mut policy = ClientPolicy::new(params.vector_len);
    policy.assumed_corrupt_rate = 0.0;
    let drops = (a.dropout * n as f64).round() as usize;
    let mut server = Server::new(params.clone(), 0).expect("server");
    let mut time = vec![[0f64; 4]; n];
    let mut clients = Vec::with_capacity(n);
    let mut rngs = Vec::with_capacity(n);
    let mut q: VecDeque<(ParticipantId, Vec<u8>)> = VecDeque::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ rep;
    let inputs: Vec<Vec<f32>> = (0..n)
        .map(|_| {
            (0..a.dim)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
                })
                .collect()
        })
        .collect();
    let inputs64: Vec<Vec<f64>> = if a.f64_input {
        inputs
            .iter()
            .map(|v| v.iter().map(|&f| f as f64).collect())
            .collect()
    } else {
        Vec::new()
    };
    for (i, &id) in params.participants.iter().enumerate() {
        let mut rng = ChaCha20Rng::seed_from_u64(rep << 32 | i as u64);
        let c0 = thread_cpu();
        let (c, msg) = Client::start(params.clone(), &policy, id, None, &mut rng).expect("start");
        time[i][0] += thread_cpu() - c0;
        server.handle_message(id, &msg, 0).expect("server accepts");
        clients.push(c);
        rngs.push(rng);
    }
    let mut gone = vec![false; n];
    let mut masked = vec![false; n];
    let mut now = 0;
    loop {
        while let Some(m) = server.poll_transmit() {
            q.push_back(m);
        }
        let Some((to, bytes)) = q.pop_front() else {
            if server.result().is_some() {
                break;
            }
            now += 20_000;
            server.handle_timeout(now);
            if server.poll_timeout().is_none() && server.result().is_none() {
                continue;
            }
            continue;
        };
        let i = params.index_of(to).expect("participant");
        if gone[i] {
            continue;
        }
        let bundle = bytes.get(1) == Some(&types::SHARE_BUNDLE);
        if bundle && i < drops {
            gone[i] = true;
            server.client_gone(to, now);
            continue;
        }
        let c0 = thread_cpu();
        let mut reply = clients[i].handle(&bytes, &mut rngs[i]).expect("client");
        let step = if bundle {
            2
        } else if reply.as_ref().and_then(|r| r.get(1)) == Some(&types::SHARE_KEYS) {
            1
        } else {
            3
        };
        if bundle {
            // The Flower mod gives the input when the share bundle arrives.
            reply = if a.f64_input {
                clients[i].set_input(&inputs64[i], 500, &mut rngs[i])
            } else {
                clients[i].set_input(&inputs[i], 500, &mut rngs[i])
            }
            .expect("input");
            masked[i] = true;
        }
        time[i][step] += thread_cpu() - c0;
        if let Some(r) = reply {
            // Late unmasking shares (the sum finished with t of them) are refused: fine.
            let _ = server.handle_message(to, &r, now);
        }
    }
    match server.result() {
        Some(Ok(_)) => {}
        other => panic!("session failed: {other:?}"),
    }
    let surv: Vec<usize> = (0..n).filter(|&i| masked[i]).collect();
    let mut out = [0f64; 4];
    for (s, o) in out.iter_mut().enumerate() {
        *o = surv.iter().map(|&i| time[i][s]).sum::<f64>() / surv.len() as f64;
    }
    out
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("client_speed: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "n={} L={} {} prg={} dropout={} input={}",
        a.n,
        a.dim,
        if a.complete {
            "complete".to_string()
        } else {
            "harary".to_string()
        },
        a.prg,
        a.dropout,
        if a.f64_input { "f64" } else { "f32" }
    );
    println!("rep  start_ms  share_ms  mask_ms  unmask_ms  total_ms");
    for rep in 0..a.reps {
        let t = Instant::now();
        let r = run(&a, rep as u64);
        let tot: f64 = r.iter().sum();
        println!(
            "{rep:>3} {:>9.3} {:>9.3} {:>8.3} {:>10.3} {:>9.3}   (wall {:.1}s)",
            r[0] * 1e3,
            r[1] * 1e3,
            r[2] * 1e3,
            r[3] * 1e3,
            tot * 1e3,
            t.elapsed().as_secs_f64()
        );
    }
}
