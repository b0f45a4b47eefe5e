//! Coordinator peak memory under connection-level attacks, with honest clients alongside.
//!
//! ```text
//! cargo run --release --example attack_memory -- [--clients 10] [--dim 1000000] [--connections 400]
//! ```
//!
//! Each scenario runs the coordinator in a child process (this program, re-executed), so its
//! peak resident set (`VmHWM` from `/proc/self/status`, Linux only) is the coordinator's alone;
//! the attackers and the honest clients run in this process. Scenarios:
//! * `baseline`: the honest clients only;
//! * `datagrams`: `--connections` connections that never send a Hello and try to send QUIC
//!   datagrams (1200 bytes, 200 each) while the honest clients run;
//! * `frame-spam`: the last 3 participants send wrong-round frames of the session's largest
//!   client-message size as fast as the coordinator takes them.
//!
//! Printed per scenario: n, L, bits, peak RSS in MB, and each honest client's outcome.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use secagg::ids::ParticipantId;
use secagg::protocol::messages::Limits;
use secagg::protocol::params::{Graph, SessionParams, ThreatModel};
use secagg::ring::Bits;
use secagg::transport::frame::{encode_hello, read_frame, write_frame, MAX_PARAMS_FRAME};
use secagg::transport::tls::{client_config, client_endpoint, TlsIdentity};
use secagg::transport::{
    participate, ClientOptions, ClientOutcome, Coordinator, CoordinatorOptions,
};

fn session(n: u16, dim: u32) -> SessionParams {
    SessionParams {
        nonce: [3; 32],
        participants: (1..=n).filter_map(ParticipantId::new).collect(),
        threat_model: ThreatModel::SemiHonest,
        identity_keys: Vec::new(),
        graph: Graph::Complete,
        threshold: n / 2 + 1,
        max_corrupt_neighbours: 0,
        dp: None,
        mask_prg: secagg::crypto::prg::MaskPrg::Aes128Ctr,
        vector_len: dim,
        bits: Bits::B32,
        clip: 1.0,
        levels: 1 << 16,
        max_weight: 1,
        round_timeout_ms: [60_000; 5],
    }
}

fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Child: runs one session, prints the address and certificate path, then the peak memory.
fn coordinator(n: u16, dim: u32, dir: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("secagg=error")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let identity = TlsIdentity::self_signed(&["localhost"]).expect("certificate");
        let cert = format!("{dir}/cert.der");
        std::fs::write(&cert, identity.cert_chain[0].as_ref()).expect("write certificate");
        let opts = CoordinatorOptions {
            linger: Duration::from_millis(200),
            ..CoordinatorOptions::default()
        };
        let c = Coordinator::bind("127.0.0.1:0".parse().expect("address"), &identity, opts)
            .expect("bind");
        println!("ADDR {}", c.local_addr().expect("address"));
        let report = c.run_session(session(n, dim)).await.expect("session");
        let included = report.result.map(|o| o.included.len()).unwrap_or(0);
        println!("PEAK_KB {} INCLUDED {included}", peak_kb());
        eprintln!(
            "coordinator: {included} included, {} connections, {} refused, {} messages rejected",
            report.connections, report.refused, report.rejected
        );
    });
}

async fn honest(
    addr: SocketAddr,
    cfg: quinn::ClientConfig,
    endpoint: quinn::Endpoint,
    p: &SessionParams,
    count: usize,
) -> Vec<String> {
    let mut tasks = Vec::new();
    for i in 0..count {
        let opts = ClientOptions {
            server: addr,
            server_name: "localhost".into(),
            id: p.participants[i],
            credential: Default::default(),
            connect_timeout: Duration::from_secs(20),
            message_timeout: Duration::from_secs(120),
            policy: {
                // The honest clients accept this small measurement session.
                let mut policy = secagg::protocol::ClientPolicy::new(p.vector_len);
                policy.participants.0 = 2;
                policy.assumed_corrupt_rate = 0.0;
                policy
            },
            retry: secagg::transport::Retry::default(),
            vanish: None,
        };
        let input = vec![0.25f64; p.vector_len as usize];
        let (cfg, endpoint) = (cfg.clone(), endpoint.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
            // A refused connection (the coordinator at its cap of connections without a
            // Hello) is retried with a pause, as the spec tells clients to.
            let mut tries = 0;
            loop {
                let r = participate(&endpoint, cfg.clone(), &opts, None, &input, 1, &mut rng).await;
                match r {
                    Err(e) if tries < 40 && e.to_string().contains("refused") => {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    r => return r,
                }
            }
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(match t.await {
            Ok(Ok(ClientOutcome::Included)) => "included".to_string(),
            Ok(Ok(o)) => format!("{o:?}"),
            Ok(Err(e)) => format!("error: {e}"),
            Err(e) => format!("task: {e}"),
        });
    }
    out
}

async fn datagram_flood(
    addr: SocketAddr,
    mut cfg: quinn::ClientConfig,
    endpoint: quinn::Endpoint,
    connections: usize,
) -> (usize, usize) {
    // quinn's default transport enables datagrams on the attacker's side.
    cfg.transport_config(Arc::new(quinn::TransportConfig::default()));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (cfg, endpoint) = (cfg.clone(), endpoint.clone());
        tasks.push(tokio::spawn(async move {
            let Ok(Ok(conn)) = endpoint
                .connect_with(cfg, addr, "localhost")
                .map(|c| tokio::time::timeout(Duration::from_secs(10), c))
                .expect("connect")
                .await
            else {
                return (0, 0);
            };
            let mut sent = 0;
            for _ in 0..200 {
                if conn.send_datagram(vec![0xab; 1200].into()).is_ok() {
                    sent += 1;
                }
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            (1, sent)
        }));
    }
    let mut totals = (0, 0);
    for t in tasks {
        let (c, s) = t.await.unwrap_or((0, 0));
        totals.0 += c;
        totals.1 += s;
    }
    totals
}

async fn frame_spam(
    addr: SocketAddr,
    cfg: quinn::ClientConfig,
    endpoint: quinn::Endpoint,
    p: &SessionParams,
    who: ParticipantId,
) -> u64 {
    let frame_len = Limits::new(p).max_client_message();
    let Ok(conn) = endpoint
        .connect_with(cfg, addr, "localhost")
        .expect("connect")
        .await
    else {
        return 0;
    };
    let Ok((mut send, mut recv)) = conn.open_bi().await else {
        return 0;
    };
    let hello = encode_hello(who, b"").expect("hello");
    if write_frame(&mut send, &hello).await.is_err()
        || read_frame(&mut recv, MAX_PARAMS_FRAME).await.is_err()
    {
        return 0;
    }
    // A frame of the largest allowed size whose type byte is not a round-0 message.
    let mut junk = vec![0x5a; frame_len];
    if let Some(b) = junk.get_mut(1) {
        *b = 0x7f;
    }
    let mut sent = 0u64;
    while sent < 2000 && write_frame(&mut send, &junk).await.is_ok() {
        sent += 1;
    }
    sent
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |flag: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let n = get("--clients", 10).clamp(5, 1000) as u16;
    let dim = get("--dim", 1_000_000).clamp(1, 50_000_000) as u32;
    let connections = get("--connections", 400) as usize;
    if args.get(1).map(String::as_str) == Some("--child") {
        let dir = args.get(2).cloned().unwrap_or_else(|| ".".into());
        return coordinator(n, dim, &dir);
    }
    let dir = std::env::temp_dir().join(format!("secagg-attack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = session(n, dim);
    println!(
        "n = {n}, L = {dim}, bits = 32, 4L = {:.1} MB, target < 64 MB + 4L = {:.1} MB",
        4.0 * dim as f64 / 1e6,
        64.0 + 4.0 * dim as f64 / 1e6
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for scenario in ["baseline", "datagrams", "frame-spam"] {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .arg("--child")
            .arg(dir.to_string_lossy().to_string())
            .args(["--clients", &n.to_string(), "--dim", &dim.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn coordinator");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr: SocketAddr = lines
            .next()
            .and_then(|l| l.ok())
            .and_then(|l| l.strip_prefix("ADDR ")?.parse().ok())
            .expect("coordinator address");
        let cert = std::fs::read(dir.join("cert.der")).expect("certificate");
        let cfg = client_config(&[cert.into()], Duration::from_secs(60)).expect("client config");
        let endpoint = rt.block_on(async {
            client_endpoint("127.0.0.1:0".parse().expect("address")).expect("endpoint")
        });
        let (outcomes, note) = rt.block_on(async {
            match scenario {
                "baseline" => (
                    honest(addr, cfg, endpoint, &p, n as usize).await,
                    String::new(),
                ),
                "datagrams" => {
                    let flood = tokio::spawn(datagram_flood(
                        addr,
                        cfg.clone(),
                        endpoint.clone(),
                        connections,
                    ));
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let out = honest(addr, cfg, endpoint, &p, n as usize).await;
                    let (connected, sent) = flood.await.unwrap_or((0, 0));
                    (
                        out,
                        format!(
                            "{connections} attacking connections, {connected} handshaken, {sent} datagrams accepted for sending"
                        ),
                    )
                }
                _ => {
                    let mut spam = Vec::new();
                    for k in 0..3u16 {
                        let who = p.participants[n as usize - 1 - k as usize];
                        spam.push(tokio::spawn({
                            let (cfg, endpoint, p) = (cfg.clone(), endpoint.clone(), p.clone());
                            async move { frame_spam(addr, cfg, endpoint, &p, who).await }
                        }));
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let out = honest(addr, cfg, endpoint, &p, n as usize - 3).await;
                    let mut sent = Vec::new();
                    for s in spam {
                        sent.push(s.await.unwrap_or(0));
                    }
                    (
                        out,
                        format!(
                            "3 spammers, frames of {} bytes written before disconnect: {sent:?}",
                            Limits::new(&p).max_client_message()
                        ),
                    )
                }
            }
        });
        let peak = lines
            .find_map(|l| l.ok()?.strip_prefix("PEAK_KB ").map(str::to_string))
            .unwrap_or_default();
        let _ = child.wait();
        let kb: f64 = peak
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let included = outcomes.iter().filter(|o| *o == "included").count();
        println!(
            "{scenario:>10}: coordinator peak RSS {:.1} MB (n = {n}, L = {dim}); honest clients included {included}/{}; {note}",
            kb / 1024.0,
            outcomes.len()
        );
        for o in outcomes.iter().filter(|o| *o != "included") {
            println!("            honest client: {o}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
