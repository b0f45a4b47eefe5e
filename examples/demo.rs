//! The README's main job: a coordinator on 127.0.0.1 with a self-signed certificate and N
//! clients in one process, over real QUIC. Some clients vanish at different rounds (half close
//! their connection, half go silent until the deadline). Prints round-by-round progress, the
//! check against the plaintext sum, time and bytes.
//!
//! ```text
//! cargo run --release --example demo -- --clients 100 --dim 100000 --dropout 0.1
//! ```
//!
//! Flags: `--clients N` (100), `--dim L` (100000), `--dropout D` (0.1), `--graph complete|harary`
//! (harary, with the parameter chooser's k and t), `--active`, `--deadline-ms MS` (per round,
//! 3000 + 10 n; the masked-input round gets n * L / 5000 ms more), `--seed S` (1), `--dp EPSILON`
//! (distributed DP: every client adds discrete Gaussian noise calibrated so that the sum of the
//! fewest clients the protocol can complete with, t + 1, is (EPSILON, min(1e-6, 1/n^2))-DP; the
//! check is then the noisy mean's error against its predicted variance, and the achieved epsilon
//! for the real number of included clients is printed). `RUST_LOG=secagg=debug` shows every
//! connection and refusal.
//!
//! `--ldp PROTOCOL` runs an LDP session instead (spec `analytics.md`): every client that does
//! not drop out sends one randomised report of its Zipf(1.1)-distributed value(s) over QUIC
//! (`--ldp-eps E`, default 1; `--ldp-domains K1,K2,..`, default 64 for a single-attribute
//! protocol and 8,16,32,64,128 otherwise; PROTOCOL as in the coordinator configuration, e.g.
//! `adp`, `oue`, `rsfd-grr`); the dropouts never connect and the session ends at its deadline.
//! The check: every estimate within 5 standard errors of the true frequency of the reporting
//! clients.
//!
//! ```text
//! cargo run --release --example demo -- --ldp rsfd-adp --clients 1000
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use secagg::crypto::sign::SigningKey;
use secagg::ids::ParticipantId;
use secagg::protocol::params::{Graph, SessionParams, ThreatModel};
use secagg::protocol::sim;
use secagg::protocol::{ClientPolicy, Roster};
use secagg::ring::Bits;
use secagg::transport::tls::{client_config, TlsIdentity};
use secagg::transport::{
    participate, ClientOptions, ClientOutcome, Coordinator, CoordinatorOptions,
};

struct Args {
    clients: usize,
    dim: u32,
    dropout: f64,
    harary: bool,
    active: bool,
    deadline_ms: Option<u32>,
    seed: u64,
    dp: Option<f64>,
    ldp: Option<secagg::analytics::LdpProtocol>,
    ldp_eps: f64,
    ldp_domains: Option<Vec<u32>>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        clients: 100,
        dim: 100_000,
        dropout: 0.1,
        harary: true,
        active: false,
        deadline_ms: None,
        seed: 1,
        dp: None,
        ldp: None,
        ldp_eps: 1.0,
        ldp_domains: None,
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
            "--graph" => a.harary = v == "harary",
            "--deadline-ms" => a.deadline_ms = Some(v.parse().map_err(|x| e(&x))?),
            "--seed" => a.seed = v.parse().map_err(|x| e(&x))?,
            "--dp" => a.dp = Some(v.parse().map_err(|x| e(&x))?),
            "--ldp" => {
                a.ldp = Some(
                    secagg::analytics::LdpProtocol::ALL
                        .into_iter()
                        .find(|p| p.config_name() == v)
                        .ok_or(format!("--ldp {v}: unknown protocol"))?,
                )
            }
            "--ldp-eps" => a.ldp_eps = v.parse().map_err(|x| e(&x))?,
            "--ldp-domains" => {
                a.ldp_domains = Some(
                    v.split(',')
                        .map(|k| k.parse().map_err(|x| e(&x)))
                        .collect::<Result<_, _>>()?,
                )
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.clients < 3 || a.clients > 65_535 || !(0.0..0.5).contains(&a.dropout) {
        return Err("need 3 <= clients <= 65535 and 0 <= dropout < 0.5".into());
    }
    Ok(a)
}

/// Graph, threshold and corrupted-neighbour bound: the chooser's for 5% corrupted clients
/// (active-model rules with `--active`), or the complete graph.
fn graph_and_threshold(a: &Args) -> (Graph, u16, u16) {
    let n = a.clients;
    let model = if a.active {
        ThreatModel::Active
    } else {
        ThreatModel::SemiHonest
    };
    let chosen = if a.harary {
        secagg::protocol::chooser::choose_session_graph(n as u64, a.dropout.max(0.01), 0.05, model)
            .ok()
    } else {
        None
    };
    chosen.unwrap_or_else(|| {
        // Complete graph: c = 5% of the clients; active model: the smallest t with 2t > k + c.
        let (k, c) = (n - 1, n / 20);
        let t = if a.active {
            (k + c) / 2 + 1
        } else {
            (n / 2).max(c + 1)
        };
        (Graph::Complete, t as u16, c as u16)
    })
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("secagg=info")),
        )
        .with_target(false)
        .with_ansi(false)
        .init();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let ok = if a.ldp.is_some() {
        rt.block_on(run_ldp(a))
    } else {
        rt.block_on(run(a))
    };
    std::process::exit(if ok { 0 } else { 1 });
}

async fn run(a: Args) -> bool {
    let n = a.clients;
    // All clients share this machine's cores, so the per-round work grows with n.
    let deadline_ms = a.deadline_ms.unwrap_or(3000 + 10 * n as u32);
    let (graph, threshold, max_corrupt_neighbours) = graph_and_threshold(&a);
    let seeds: Vec<[u8; 32]> = (0..n)
        .map(|i| core::array::from_fn(|b| (i * 131 + b * 7) as u8))
        .collect();
    // Distributed DP: calibrated for the fewest clients a completed session can include.
    let delta = (1e-6f64).min(1.0 / (n as f64 * n as f64));
    let dp = match a.dp {
        None => None,
        Some(epsilon) => {
            let target = secagg::ddp::CalibrationTarget {
                mechanism: secagg::ddp::Mechanism::DiscreteGaussian,
                epsilon,
                delta,
                clip: 1.0,
                dim: a.dim,
                bits: 32,
                min_clients: u64::from(threshold) + 1,
                max_clients: n as u64,
                beta: (-0.5f64).exp(),
                max_wrap: 1e-9,
                rounds: 1,
            };
            match secagg::ddp::calibrate(&target) {
                Ok(c) => {
                    println!(
                        "dp: epsilon {epsilon}, delta {delta:.1e} for >= {} clients: scale {:.4e}, sigma {:.3} per client and coordinate, norm bound^2 {}, wrap bound {:.1e}",
                        target.min_clients,
                        c.config.scale(),
                        c.config.noise_param().sqrt(),
                        c.config.norm_bound_sq(),
                        c.wrap_probability
                    );
                    Some(c)
                }
                Err(e) => {
                    eprintln!("dp calibration: {e}");
                    return false;
                }
            }
        }
    };
    let params = SessionParams {
        dp: dp.as_ref().map(|c| c.config),
        nonce: [a.seed as u8; 32],
        participants: (1..=n as u16)
            .map(|i| ParticipantId::new(i).expect("nonzero"))
            .collect(),
        threat_model: if a.active {
            ThreatModel::Active
        } else {
            ThreatModel::SemiHonest
        },
        identity_keys: if a.active {
            seeds
                .iter()
                .map(|s| SigningKey::from_seed(s).verifying_key().to_bytes())
                .collect()
        } else {
            Vec::new()
        },
        graph,
        threshold,
        max_corrupt_neighbours,
        vector_len: dp.as_ref().map_or(a.dim, |c| c.config.padded_dim() as u32),
        bits: Bits::B32,
        clip: 1.0,
        // With DP the quantizer is unused (levels only has to be valid).
        levels: if dp.is_some() { 2 } else { 1 << 16 },
        max_weight: 1,
        // The masked-input round moves n * L ring elements through one process: give it time in
        // proportion (clients and coordinator share this machine's cores in the demo).
        round_timeout_ms: {
            let mut t = [deadline_ms; 5];
            t[2] = deadline_ms
                .saturating_add((n as u64 * a.dim as u64 / 5000).min(u32::MAX as u64) as u32);
            t
        },
        mask_prg: secagg::crypto::prg::MaskPrg::Aes128Ctr,
    };
    if let Err(e) = params.validate() {
        eprintln!("invalid parameters: {e}");
        return false;
    }
    let identity = match TlsIdentity::self_signed(&["localhost"]) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("certificate: {e}");
            return false;
        }
    };
    let coordinator = match Coordinator::bind(
        "127.0.0.1:0".parse().expect("address"),
        &identity,
        // All n clients connect at once and the demo's clients do not retry a refused
        // connection: admit them all to the handshake (a deployment keeps the default cap and
        // its clients retry with backoff).
        CoordinatorOptions {
            max_pending_hellos: n.max(256),
            ..CoordinatorOptions::default()
        },
    ) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("bind: {e}");
            return false;
        }
    };
    let addr: SocketAddr = coordinator.local_addr().expect("bound");
    let graph_desc = match graph {
        Graph::Harary { degree } => format!("Harary k={degree}"),
        _ => "complete".to_string(),
    };
    println!(
        "demo: coordinator on {addr} (self-signed TLS 1.3, ALPN secagg/1); {n} clients, L={}, {graph_desc}, t={threshold}, {}, dropout {}",
        a.dim,
        if a.active { "active" } else { "semi-honest" },
        a.dropout
    );

    // Inputs and the dropout schedule (spread over the rounds, half silent, half disconnecting).
    let mut rng = ChaCha20Rng::seed_from_u64(a.seed);
    let inputs = sim::random_inputs(n, a.dim as usize, &mut rng);
    let vanish = sim::spread_dropouts(n, a.dropout, a.active, &mut rng);

    let started = Instant::now();
    let session = {
        let c = coordinator.clone();
        let p = params.clone();
        tokio::spawn(async move { c.run_session(p).await })
    };
    let client_cfg =
        client_config(&identity.cert_chain, Duration::from_secs(60)).expect("client config");
    let endpoint = secagg::transport::tls::client_endpoint("127.0.0.1:0".parse().expect("address"))
        .expect("client endpoint");
    let inputs = Arc::new(inputs);
    // Every client checks the offered parameters: the production defaults, a cohort floor that
    // admits small demo runs, and in the active model the identity roster it trusts (here the
    // keys the demo generated; in a deployment, pinned or operator-signed).
    let mut policy = ClientPolicy::new(a.dim);
    policy.participants.0 = policy.participants.0.min(n);
    if a.active {
        let roster = Roster::new(
            params
                .participants
                .iter()
                .copied()
                .zip(params.identity_keys.iter().copied())
                .collect(),
        )
        .expect("distinct valid keys");
        policy = policy.require_active(roster);
    }
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let opts = ClientOptions {
            server: addr,
            server_name: "localhost".into(),
            id: params.participants[i],
            credential: Default::default(),
            connect_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_millis(
                deadline_ms as u64 * 6 + n as u64 * a.dim as u64 / 5000 + 5000,
            ),
            policy: policy.clone(),
            retry: secagg::transport::client::Retry::default(),
            vanish: vanish[i],
        };
        let (endpoint, cfg, inputs) = (endpoint.clone(), client_cfg.clone(), inputs.clone());
        let key = a.active.then(|| SigningKey::from_seed(&seeds[i]));
        let seed = a.seed ^ ((i as u64 + 1) << 24);
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            participate(&endpoint, cfg, &opts, key, &inputs[i], 1, &mut rng).await
        }));
    }
    let mut outcomes = Vec::with_capacity(n);
    for t in tasks {
        outcomes.push(t.await);
    }
    let report = match session.await {
        Ok(Ok(r)) => r,
        other => {
            eprintln!("coordinator failed: {other:?}");
            return false;
        }
    };
    let elapsed = started.elapsed();

    println!("\nround-by-round (coordinator):");
    for r in &report.rounds {
        let set = r.set.map(|(s, k)| format!("{s} = {k}")).unwrap_or_default();
        println!(
            "  {:<17} closed at {:>7.0} ms  {}",
            format!("{:?}", r.round),
            r.closed_at.as_secs_f64() * 1e3,
            set
        );
    }
    let count = |f: &dyn Fn(&ClientOutcome) -> bool| {
        outcomes
            .iter()
            .filter(|o| matches!(o, Ok(Ok(x)) if f(x)))
            .count()
    };
    println!(
        "\nclients: {} included, {} excluded, {} vanished on purpose, {} aborted, {} transport errors",
        count(&|o| *o == ClientOutcome::Included),
        count(&|o| *o == ClientOutcome::Excluded),
        count(&|o| *o == ClientOutcome::Vanished),
        count(&|o| matches!(o, ClientOutcome::Aborted(_))),
        outcomes.iter().filter(|o| !matches!(o, Ok(Ok(_)))).count(),
    );
    println!(
        "traffic: {} connections, {} refused, {:.1} MB client->coordinator, {:.1} MB coordinator->clients, {} messages refused",
        report.connections,
        report.refused,
        report.bytes_in as f64 / 1e6,
        report.bytes_out as f64 / 1e6,
        report.rejected
    );
    if let Some(kb) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
    {
        println!(
            "peak resident memory of this process (coordinator and all clients): {}",
            kb.trim_start_matches("VmHWM:").trim()
        );
    }
    match &report.result {
        Ok(out) if dp.is_some() => {
            let cal = dp.as_ref().expect("dp");
            // The noisy mean against the mean of the clipped inputs.
            let m = out.included.len();
            let mut want = vec![0f64; a.dim as usize];
            for id in &out.included {
                let i = params.index_of(*id).expect("participant");
                let mut x = inputs[i].clone();
                secagg::ddp::clip::clip_l2(&mut x, 1.0).expect("finite");
                want.iter_mut()
                    .zip(&x)
                    .for_each(|(w, v)| *w += v / m as f64);
            }
            let mse = out
                .weighted_mean()
                .iter()
                .zip(&want)
                .map(|(g, w)| (g - w).powi(2))
                .sum::<f64>()
                / a.dim as f64;
            let pred = cal.predicted_mse(m as u64);
            let g = secagg::ddp::accounting::guarantee(&cal.config, m as u64, delta, 1, true);
            let ok = (mse / pred - 1.0).abs() < 0.2;
            println!(
                "result: noisy mean of {m} inputs in {:.2} s; MSE per coordinate {mse:.4e}, predicted {pred:.4e} (ratio {:.3}): {}",
                elapsed.as_secs_f64(),
                mse / pred,
                if ok { "AS PREDICTED" } else { "OFF PREDICTION" }
            );
            println!(
                "privacy: ({:.4}, {delta:.1e})-DP for the {m} included clients (Prop. 14 bound {:.4}{}); calibrated for >= {}",
                g.epsilon(),
                g.epsilon_bound,
                g.epsilon_exact
                    .map_or(String::new(), |e| format!(", exact-distribution bound {e:.4}")),
                u64::from(threshold) + 1
            );
            ok
        }
        Ok(out) => {
            let mut want = vec![0f64; a.dim as usize];
            for id in &out.included {
                let i = params.index_of(*id).expect("participant");
                for (w, x) in want.iter_mut().zip(&inputs[i]) {
                    *w += x.clamp(-1.0, 1.0);
                }
            }
            let step = 2.0 / ((1u64 << 16) - 1) as f64;
            let bound = out.included.len() as f64 * step;
            let max_err = out
                .dequantized_sum()
                .iter()
                .zip(&want)
                .map(|(g, w)| (g - w).abs())
                .fold(0.0, f64::max);
            let ok = max_err < bound;
            println!(
                "result: sum of {} inputs in {:.2} s; max |error| vs plaintext sum {max_err:.3e} (bound {bound:.3e}): {}",
                out.included.len(),
                elapsed.as_secs_f64(),
                if ok { "MATCH" } else { "MISMATCH" }
            );
            ok
        }
        Err(e) => {
            println!("result: {e} after {:.2} s", elapsed.as_secs_f64());
            false
        }
    }
}

/// A Zipf(1.1) value in `[0, k)`.
fn zipf(k: u32, rng: &mut ChaCha20Rng) -> u32 {
    use chacha20::rand_core::Rng;
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

/// `--ldp`: an LDP session over QUIC.
async fn run_ldp(a: Args) -> bool {
    use secagg::analytics::wire::LdpSessionParams;
    use secagg::analytics::LdpTaskSpec;
    use secagg::transport::{send_ldp_report, LdpClientOptions};
    let n = a.clients;
    let Some(protocol) = a.ldp else { return false };
    let domains = a.ldp_domains.clone().unwrap_or_else(|| {
        if protocol.is_oracle() {
            vec![64]
        } else {
            vec![8, 16, 32, 64, 128]
        }
    });
    let spec = LdpTaskSpec {
        protocol,
        epsilon: a.ldp_eps,
        domains: domains.clone(),
    };
    let dropouts = (a.dropout * n as f64).round() as usize;
    let deadline_ms = a.deadline_ms.unwrap_or(3000 + 10 * n as u32);
    let params = match LdpSessionParams::new([a.seed as u8; 32], deadline_ms, spec) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("LDP task: {e}");
            return false;
        }
    };
    println!(
        "LDP session: {} at epsilon {} over domains {:?}; reports of at most {} bytes; {:?}",
        params.task.name(),
        a.ldp_eps,
        domains,
        params.task.max_report_len(),
        params.task.privacy()
    );
    let mut rng = ChaCha20Rng::seed_from_u64(a.seed);
    let values: Vec<Vec<u32>> = (0..n)
        .map(|_| domains.iter().map(|&k| zipf(k, &mut rng)).collect())
        .collect();
    let identity = TlsIdentity::self_signed(&["localhost"]).expect("certificate");
    let opts = CoordinatorOptions {
        max_pending_hellos: n.max(256),
        ..CoordinatorOptions::default()
    };
    let coordinator = match Coordinator::bind("127.0.0.1:0".parse().expect("addr"), &identity, opts)
    {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("bind: {e}");
            return false;
        }
    };
    let addr = coordinator.local_addr().expect("bound");
    let started = Instant::now();
    let run = {
        let c = coordinator.clone();
        let ids: Vec<ParticipantId> = (1..=n as u16).filter_map(ParticipantId::new).collect();
        tokio::spawn(async move { c.run_ldp_session(params, ids, 1).await })
    };
    let client_cfg = client_config(&identity.cert_chain, Duration::from_secs(30)).expect("tls");
    let endpoint =
        secagg::transport::tls::client_endpoint("127.0.0.1:0".parse().expect("addr")).expect("ep");
    let mut tasks = Vec::new();
    // The last `dropouts` clients never connect.
    for (i, v) in values.iter().enumerate().take(n - dropouts) {
        let opts = LdpClientOptions {
            server: addr,
            server_name: "localhost".into(),
            id: ParticipantId::new(i as u16 + 1).expect("nonzero"),
            credential: Default::default(),
            connect_timeout: Duration::from_secs(20),
            message_timeout: Duration::from_secs(60),
            max_tuple_epsilon: 30.0,
            domains: domains.clone(),
        };
        let (endpoint, cfg, v) = (endpoint.clone(), client_cfg.clone(), v.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_micros(500 * i as u64)).await;
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64 + 1_000_000);
            send_ldp_report(&endpoint, cfg, &opts, &v, &mut rng).await
        }));
    }
    let mut counted = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(_)) => counted += 1,
            Ok(Err(e)) => eprintln!("client: {e}"),
            Err(e) => eprintln!("client task: {e}"),
        }
    }
    let report = match run.await {
        Ok(Ok(r)) => r,
        other => {
            eprintln!("session: {other:?}");
            return false;
        }
    };
    // Truth: the reporting clients' values.
    let reporting = &values[..n - dropouts];
    let mut worst = 0.0f64;
    let mut mse = 0.0;
    let mut cells = 0.0;
    for (j, (att, &k)) in report.estimates.attributes.iter().zip(&domains).enumerate() {
        let mut c = vec![0.0; k as usize];
        for v in reporting {
            c[v[j] as usize] += 1.0;
        }
        for (x, t) in c.iter().enumerate() {
            let f = t / reporting.len() as f64;
            worst = worst.max(((att.raw[x] - f) / att.std_err[x]).abs());
            mse += (att.raw[x] - f).powi(2);
            cells += 1.0;
        }
    }
    println!(
        "result: {} reports counted of {} clients ({} never connected), {} refused, in {:.2} s; MSE {:.3e}, largest |estimate - truth| / std err {:.2}; {} bytes in, {} bytes out",
        report.accepted,
        n,
        dropouts,
        report.rejected,
        started.elapsed().as_secs_f64(),
        mse / cells,
        worst,
        report.bytes_in,
        report.bytes_out
    );
    let ok = report.accepted as usize == n - dropouts && counted == n - dropouts && worst < 5.0;
    println!("check: {}", if ok { "OK" } else { "FAILED" });
    ok
}
