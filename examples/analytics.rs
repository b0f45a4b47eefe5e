//! What each trust model costs for the same question: the frequencies of categorical values held
//! by `n` clients, estimated three ways at the same epsilon.
//!
//! ```text
//! cargo run --release --example analytics [-- --n 2000 --eps 1 --seed 1 --delta 1e-6]
//! ```
//!
//! Populations (drawn with the seed): **A**, one attribute, Zipf(1.1) over k = 64; **B**, d = 5
//! attributes over k = 8, 16, 32, 64, 128, each Zipf(1.1) (shifted so they differ).
//!
//! Methods:
//! * **LDP** (`secagg::analytics::LdpTask`, the reports an LDP session carries): for A every
//!   single-attribute oracle at epsilon; for B Spl[ADP] and Smp[ADP] at tuple-level epsilon, and
//!   RS+FD[GRR] and RS+FD[ADP] with the nominal epsilon whose **true tuple-level loss** is epsilon
//!   (`ln((e^ε − 1)/d + 1)`), so every row has the same worst-case loss per client.
//! * **SecAgg + DDP**: the multi-hot histograms summed with SecAgg+ (in-process simulator, the
//!   parameter chooser's graph for 5% dropout) with discrete Gaussian noise calibrated for
//!   central (epsilon, delta)-DP of any sum of at least 95% of the cohort; the epsilon printed
//!   is the accountant's for the clients actually included.
//! * **SecAgg** without noise: the exact histogram (no formal privacy for the sum).
//!
//! Columns: the true tuple-level epsilon of the row; MSE over all cells of the raw and of the
//! Norm-Sub estimates against the population's true frequencies, and the predicted MSE (mean of
//! the stated squared standard errors); protocol bytes per client up and down (LDP: Hello, Report
//! frame, Task and Receipt frames; SecAgg: Hello, Params frame and every protocol message, the
//! 4-byte frame prefixes included; QUIC/TLS overhead excluded); CPU: LDP client time per report
//! (randomise and encode) and server time for all reports (decode, validate, count, estimate),
//! both thread CPU time; SecAgg: the simulator's measured time of every client step (per client)
//! and every server step (total), single-threaded except the unmasking (rayon).

use std::time::Duration;

use chacha20::rand_core::{Rng, SeedableRng};
use chacha20::ChaCha20Rng;
use secagg::analytics::histogram::HistogramSpec;
use secagg::analytics::wire::{encode_report, LdpSessionParams, RECEIPT_LEN};
use secagg::analytics::{FrequencyEstimates, LdpProtocol, LdpTaskSpec, PrivacySummary};
use secagg::ids::ParticipantId;
use secagg::protocol::params::{SessionParams, ThreatModel};
use secagg::protocol::sim::{self, SimConfig};
use secagg::ring::Bits;

struct Args {
    n: usize,
    eps: f64,
    delta: f64,
    seed: u64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        n: 2000,
        eps: 1.0,
        delta: 1e-6,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        let e = |x: &dyn std::fmt::Display| format!("{k} {v}: {x}");
        match k.as_str() {
            "--n" => a.n = v.parse().map_err(|x| e(&x))?,
            "--eps" => a.eps = v.parse().map_err(|x| e(&x))?,
            "--delta" => a.delta = v.parse().map_err(|x| e(&x))?,
            "--seed" => a.seed = v.parse().map_err(|x| e(&x))?,
            _ => return Err(format!("unknown flag {k} (--n, --eps, --delta, --seed)")),
        }
    }
    if !(20..=60_000).contains(&a.n) {
        return Err("--n must be in 20..=60000".into());
    }
    Ok(a)
}

fn zipf(k: u32, rng: &mut ChaCha20Rng) -> u32 {
    let w: Vec<f64> = (1..=k).map(|r| (r as f64).powf(-1.1)).collect();
    let total: f64 = w.iter().sum();
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    let mut acc = 0.0;
    for (i, x) in w.iter().enumerate() {
        acc += x;
        if u < acc {
            return i as u32;
        }
    }
    k - 1
}

fn population(n: usize, domains: &[u32], seed: u64) -> Vec<Vec<u32>> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            domains
                .iter()
                .enumerate()
                .map(|(j, &k)| (zipf(k, &mut rng) + 3 * j as u32) % k)
                .collect()
        })
        .collect()
}

fn truth(pop: &[Vec<u32>], domains: &[u32]) -> Vec<Vec<f64>> {
    domains
        .iter()
        .enumerate()
        .map(|(j, &k)| {
            let mut c = vec![0.0; k as usize];
            for t in pop {
                c[t[j] as usize] += 1.0;
            }
            c.iter().map(|x| x / pop.len() as f64).collect()
        })
        .collect()
}

/// On-CPU seconds of the calling thread.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

struct Row {
    method: String,
    model: &'static str,
    tuple_eps: String,
    mse_raw: f64,
    mse_ns: f64,
    mse_pred: f64,
    up: f64,
    down: f64,
    client: Duration,
    server: Duration,
}

fn mse(est: &FrequencyEstimates, truth: &[Vec<f64>]) -> (f64, f64, f64) {
    let (mut raw, mut ns, mut pred, mut cells) = (0.0, 0.0, 0.0, 0.0);
    for (a, t) in est.attributes.iter().zip(truth) {
        for (v, tv) in t.iter().enumerate() {
            raw += (a.raw[v] - tv).powi(2);
            ns += (a.norm_sub[v] - tv).powi(2);
            pred += a.std_err[v].powi(2);
            cells += 1.0;
        }
    }
    (raw / cells, ns / cells, pred / cells)
}

const HELLO: f64 = 4.0 + 10.0;

fn ldp_row(spec: LdpTaskSpec, pop: &[Vec<u32>], t: &[Vec<f64>], seed: u64) -> Row {
    let params = LdpSessionParams::new([1; 32], 60_000, spec).expect("valid task");
    let sid = params.session_id();
    let task = &params.task;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let c0 = thread_cpu();
    let frames: Vec<Vec<u8>> = pop
        .iter()
        .map(|v| encode_report(&sid, &task.randomize(v, &mut rng).expect("in domain")))
        .collect();
    let client = thread_cpu() - c0;
    let s0 = thread_cpu();
    let mut acc = task.accumulator();
    for f in &frames {
        let r = secagg::analytics::wire::decode_report(&sid, f).expect("own session");
        acc.add_bytes(r).expect("valid report");
    }
    let est = acc.estimates().expect("estimates");
    let server = thread_cpu() - s0;
    let up = HELLO + frames.iter().map(|f| 4 + f.len()).sum::<usize>() as f64 / pop.len() as f64;
    let down = (4 + params.encode().len() + 4 + RECEIPT_LEN) as f64;
    let (mse_raw, mse_ns, mse_pred) = mse(&est, t);
    let PrivacySummary::Local { tuple, .. } = est.privacy else {
        unreachable!("LDP")
    };
    Row {
        method: format!("LDP {}", task.name()),
        model: "local",
        tuple_eps: format!("{tuple:.3}"),
        mse_raw,
        mse_ns,
        mse_pred,
        up,
        down,
        client: Duration::from_secs_f64(client / pop.len() as f64),
        server: Duration::from_secs_f64(server),
    }
}

fn secagg_row(
    spec: &HistogramSpec,
    pop: &[Vec<u32>],
    t: &[Vec<f64>],
    dp: Option<(f64, f64)>,
    seed: u64,
) -> Result<Row, String> {
    let n = pop.len();
    let (graph, threshold, c) = secagg::protocol::chooser::choose_session_graph(
        n as u64,
        0.05,
        0.05,
        ThreatModel::SemiHonest,
    )
    .map_err(|e| e.to_string())?;
    let cal = match dp {
        None => None,
        Some((epsilon, delta)) => Some(
            secagg::ddp::calibrate(&secagg::ddp::CalibrationTarget {
                mechanism: secagg::ddp::Mechanism::DiscreteGaussian,
                epsilon,
                delta,
                clip: spec.input_norm(),
                dim: spec.vector_len(),
                bits: 32,
                // The guarantee is stated for a sum of at least 95% of the cohort (the chooser
                // plans for 5% dropout); fewer included clients would weaken it.
                min_clients: (n as u64 * 95).div_ceil(100),
                max_clients: n as u64,
                beta: (-0.5f64).exp(),
                max_wrap: 1e-9,
                rounds: 1,
            })
            .map_err(|e| format!("calibration: {e}"))?,
        ),
    };
    let params = SessionParams {
        dp: cal.as_ref().map(|c| c.config),
        nonce: [seed as u8; 32],
        participants: (1..=n as u16).filter_map(ParticipantId::new).collect(),
        threat_model: ThreatModel::SemiHonest,
        identity_keys: Vec::new(),
        graph,
        threshold,
        max_corrupt_neighbours: c,
        vector_len: cal
            .as_ref()
            .map_or(spec.vector_len(), |c| c.config.padded_dim() as u32),
        bits: Bits::B32,
        clip: 1.0,
        levels: if cal.is_some() { 2 } else { 3 },
        max_weight: 1,
        round_timeout_ms: [60_000; 5],
        mask_prg: secagg::crypto::prg::MaskPrg::Aes128Ctr,
    };
    spec.check_params(&params).map_err(|e| e.to_string())?;
    let inputs: Vec<Vec<f64>> = pop
        .iter()
        .map(|v| spec.input(v).expect("in domain"))
        .collect();
    let cfg = SimConfig {
        params: std::sync::Arc::new(params.clone()),
        inputs,
        weights: vec![1; n],
        vanish: vec![None; n],
        identity_seeds: Vec::new(),
        seed,
        client_tamper: None,
        server_tamper: None,
        record: false,
    };
    let report = sim::run(&cfg).map_err(|e| e.to_string())?;
    let out = report.result.map_err(|e| format!("session aborted: {e}"))?;
    let est = spec
        .estimates(
            &params,
            &out.dequantized_sum(),
            out.included.len() as u64,
            dp.map_or(0.0, |d| d.1),
        )
        .map_err(|e| e.to_string())?;
    let (mse_raw, mse_ns, mse_pred) = mse(&est, t);
    if dp.is_none() && mse_raw != 0.0 {
        return Err(format!(
            "SecAgg without noise must be exact; MSE {mse_raw:e}"
        ));
    }
    let is_up = |code: u8| code < 0x80;
    let (mut up, mut down) = (0usize, 0usize);
    for (&code, tr) in &report.traffic {
        let bytes = tr.bytes + 4 * tr.count;
        if is_up(code) {
            up += bytes;
        } else {
            down += bytes;
        }
    }
    let params_frame = secagg::transport::frame::encode_params(&params).len() + 4;
    let client: Duration = report.client_time.values().sum();
    let server: Duration = report.server_time.values().sum();
    let tuple_eps = match est.privacy {
        PrivacySummary::Distributed { epsilon, delta, .. } => {
            format!("{epsilon:.3} (central, δ={delta:.0e})")
        }
        _ => "none (exact sum)".into(),
    };
    Ok(Row {
        method: format!(
            "{} (t={threshold}, {})",
            est.method,
            match graph {
                secagg::protocol::params::Graph::Harary { degree } => format!("Harary k={degree}"),
                _ => "complete".into(),
            }
        ),
        model: if dp.is_some() {
            "distributed"
        } else {
            "SecAgg only"
        },
        tuple_eps,
        mse_raw,
        mse_ns,
        mse_pred,
        up: HELLO + up as f64 / n as f64,
        down: params_frame as f64 + down as f64 / n as f64,
        client: client / n as u32,
        server,
    })
}

fn print(title: &str, rows: &[Row]) {
    println!("\n### {title}\n");
    println!("| method | trust model | epsilon (true, per client tuple) | MSE raw | MSE Norm-Sub | predicted MSE | bytes up / client | bytes down / client | client CPU / client | server CPU total |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.3e} | {:.3e} | {:.3e} | {:.0} | {:.0} | {:.2} µs | {:.3} ms |",
            r.method,
            r.model,
            r.tuple_eps,
            r.mse_raw,
            r.mse_ns,
            r.mse_pred,
            r.up,
            r.down,
            r.client.as_secs_f64() * 1e6,
            r.server.as_secs_f64() * 1e3
        );
    }
}

fn run(a: &Args) -> Result<(), String> {
    println!(
        "analytics: n = {} clients, epsilon = {}, delta = {} (SecAgg+DDP), seed {}",
        a.n, a.eps, a.delta, a.seed
    );
    // A: one attribute, k = 64.
    let domains_a = [64u32];
    let pop_a = population(a.n, &domains_a, a.seed);
    let t_a = truth(&pop_a, &domains_a);
    let mut rows = Vec::new();
    for p in [
        LdpProtocol::Grr,
        LdpProtocol::Oue,
        LdpProtocol::Olh,
        LdpProtocol::Hr,
        LdpProtocol::Ss,
        LdpProtocol::Adp,
    ] {
        let spec = LdpTaskSpec {
            protocol: p,
            epsilon: a.eps,
            domains: domains_a.to_vec(),
        };
        rows.push(ldp_row(spec, &pop_a, &t_a, a.seed + 10));
    }
    let best = rows
        .iter()
        .enumerate()
        .min_by(|x, y| x.1.mse_raw.total_cmp(&y.1.mse_raw))
        .map(|(i, _)| i)
        .unwrap_or(0);
    rows[best].method.push_str(" (best oracle)");
    let spec_a = HistogramSpec::new(&domains_a).map_err(|e| e.to_string())?;
    rows.push(secagg_row(
        &spec_a,
        &pop_a,
        &t_a,
        Some((a.eps, a.delta)),
        a.seed,
    )?);
    rows.push(secagg_row(&spec_a, &pop_a, &t_a, None, a.seed)?);
    print(
        &format!("A: one attribute, Zipf(1.1) over k = 64, n = {}", a.n),
        &rows,
    );

    // B: d = 5.
    let domains_b = [8u32, 16, 32, 64, 128];
    let d = domains_b.len() as f64;
    let pop_b = population(a.n, &domains_b, a.seed + 1);
    let t_b = truth(&pop_b, &domains_b);
    let rsfd_nominal = (a.eps.exp_m1() / d).ln_1p();
    let mut rows = Vec::new();
    for (p, eps) in [
        (LdpProtocol::SplAdp, a.eps),
        (LdpProtocol::SmpAdp, a.eps),
        (LdpProtocol::RsfdGrr, rsfd_nominal),
        (LdpProtocol::RsfdAdp, rsfd_nominal),
    ] {
        let spec = LdpTaskSpec {
            protocol: p,
            epsilon: eps,
            domains: domains_b.to_vec(),
        };
        rows.push(ldp_row(spec, &pop_b, &t_b, a.seed + 20));
    }
    let spec_b = HistogramSpec::new(&domains_b).map_err(|e| e.to_string())?;
    rows.push(secagg_row(
        &spec_b,
        &pop_b,
        &t_b,
        Some((a.eps, a.delta)),
        a.seed + 1,
    )?);
    rows.push(secagg_row(&spec_b, &pop_b, &t_b, None, a.seed + 1)?);
    print(
        &format!(
            "B: d = 5 attributes over k = 8, 16, 32, 64, 128, each Zipf(1.1), n = {} (RS+FD at nominal epsilon {:.4}, true tuple loss {})",
            a.n, rsfd_nominal, a.eps
        ),
        &rows,
    );
    Ok(())
}

fn main() {
    match args().and_then(|a| run(&a)) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("analytics: {e}");
            std::process::exit(2);
        }
    }
}
