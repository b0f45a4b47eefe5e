//! `secagg-coordinator serve --config coordinator.toml`: runs secure-aggregation sessions over
//! QUIC, one after another, and logs their progress (tracing; `RUST_LOG=secagg=debug` for
//! every connection). Optionally writes each result to `<result_dir>/<session id>.json`.
//!
//! Example configuration (every field but `[session].vector_len` has a default):
//!
//! ```toml
//! listen = "0.0.0.0:4433"
//! sessions = 3
//! result_dir = "results"
//! [tls]
//! dev_cert_out = "coordinator-cert.pem"   # self-signed; or cert = "..." and key = "..." (PEM)
//! [session]
//! clients = 100                            # participants 1..=clients
//! vector_len = 100000
//! graph = "harary"                         # degree and threshold from the chooser unless given
//! dropout = 0.1
//! corrupt = 0.05
//! round_timeout_ms = [30000, 30000, 60000, 30000, 30000]
//! threat_model = "semi-honest"             # or "active", with identity_keys_file = "roster.txt"
//!                                          # (`ID HEXKEY` lines: the roster clients pin)
//! mask_prg = "aes128-ctr"                  # or "chacha20" for cohorts without AES hardware
//! ```
//!
//! `corrupt` is the fraction of clients assumed to collude with the coordinator: it sets the
//! session's corrupted-neighbour bound `c` (and, in the active model, the chooser's `t` with
//! `2t > k + c`). Clients refuse sessions whose `c` is below what their own assumption gives.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use secagg::crypto::prg::MaskPrg;
use secagg::ids::ParticipantId;
use secagg::protocol::params::{Graph, SessionParams, ThreatModel};
use secagg::ring::Bits;
use secagg::transport::tls::TlsIdentity;
use secagg::transport::{Coordinator, CoordinatorOptions};
use serde::Deserialize;
use tracing::{error, info};

#[derive(Parser)]
#[command(
    name = "secagg-coordinator",
    about = "Secure aggregation coordinator over QUIC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve sessions.
    Serve {
        /// TOML configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Override the listen address.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Override the number of sessions.
        #[arg(long)]
        sessions: Option<u32>,
        /// Override the number of clients.
        #[arg(long)]
        clients: Option<u16>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_listen")]
    listen: SocketAddr,
    #[serde(default = "one")]
    sessions: u32,
    result_dir: Option<PathBuf>,
    #[serde(default)]
    tls: TlsConfig,
    session: SessionConfig,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TlsConfig {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    dev_cert_out: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionConfig {
    #[serde(default = "default_clients")]
    clients: u16,
    vector_len: u32,
    #[serde(default = "default_graph")]
    graph: String,
    degree: Option<u16>,
    threshold: Option<u16>,
    #[serde(default = "default_dropout")]
    dropout: f64,
    #[serde(default = "default_corrupt")]
    corrupt: f64,
    #[serde(default = "default_bits")]
    bits: u32,
    #[serde(default = "default_clip")]
    clip: f64,
    #[serde(default = "default_levels")]
    levels: u64,
    #[serde(default = "one")]
    max_weight: u32,
    #[serde(default = "default_timeouts")]
    round_timeout_ms: [u32; 5],
    /// "semi-honest" (default) or "active".
    #[serde(default = "default_threat")]
    threat_model: String,
    /// Active model: the identity keys, as a roster (`ID HEXKEY` per line: the same file the
    /// clients pin with `--roster`) or one hex Ed25519 public key per line for participants
    /// 1..=clients in order.
    identity_keys_file: Option<PathBuf>,
    /// Mask PRG suite: "aes128-ctr" (default) or "chacha20".
    #[serde(default = "default_mask_prg")]
    mask_prg: String,
}

fn default_listen() -> SocketAddr {
    "0.0.0.0:4433".parse().expect("literal address")
}
fn one() -> u32 {
    1
}
fn default_clients() -> u16 {
    100
}
fn default_graph() -> String {
    "harary".into()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_corrupt() -> f64 {
    0.05
}
fn default_bits() -> u32 {
    32
}
fn default_clip() -> f64 {
    1.0
}
fn default_levels() -> u64 {
    1 << 16
}
fn default_timeouts() -> [u32; 5] {
    [30_000; 5]
}
fn default_threat() -> String {
    "semi-honest".into()
}
fn default_mask_prg() -> String {
    MaskPrg::Aes128Ctr.name().into()
}

/// The identity keys of participants 1..=n: either the roster format clients trust
/// (`ID HEXKEY` per line, see `secagg::protocol::Roster`), or one hex key per line in
/// participant order.
fn read_identity_keys(path: &std::path::Path, n: usize) -> Result<Vec<[u8; 32]>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if lines.iter().any(|l| l.split_whitespace().count() == 2) {
        let roster = secagg::protocol::Roster::parse_text(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        return (1..=n as u16)
            .map(|i| {
                ParticipantId::new(i)
                    .and_then(|id| roster.key_of(id).copied())
                    .ok_or(format!("{}: participant {i} is not listed", path.display()))
            })
            .collect();
    }
    let keys: Vec<[u8; 32]> = lines
        .iter()
        .map(|l| {
            if l.len() != 64 || !l.is_ascii() {
                return Err(format!("identity key {l:?} is not 64 hex digits"));
            }
            let mut k = [0u8; 32];
            for (i, b) in k.iter_mut().enumerate() {
                *b = u8::from_str_radix(&l[2 * i..2 * i + 2], 16)
                    .map_err(|e| format!("{l:?}: {e}"))?;
            }
            Ok(k)
        })
        .collect::<Result<_, _>>()?;
    if keys.len() != n {
        return Err(format!("{} identity keys for {n} clients", keys.len()));
    }
    Ok(keys)
}

/// Graph, threshold t and corrupted-neighbour bound c: the chooser's for the configured dropout
/// and corruption rates (active-model rules in the active model), with `degree` and `threshold`
/// overrides; c always follows from the corruption rate and the degree actually used.
fn graph_params(
    c: &SessionConfig,
    n: usize,
    model: ThreatModel,
) -> Result<(Graph, u16, u16), String> {
    use secagg::protocol::chooser::{
        choose_session_graph, corrupt_neighbour_bound, GRINDING_MARGIN_BITS,
    };
    let chooser = |e: secagg::protocol::chooser::ChooserError| format!("parameter chooser: {e}");
    let smallest_t = |k: usize, cc: usize| match model {
        ThreatModel::Active => (k + cc) / 2 + 1,
        _ => (n / 2).max(cc + 1),
    };
    let k = match (c.graph.as_str(), c.degree) {
        ("harary", None) => {
            let (g, t, cc) =
                choose_session_graph(n as u64, c.dropout, c.corrupt, model).map_err(chooser)?;
            return Ok((g, c.threshold.unwrap_or(t), cc));
        }
        ("harary", Some(k)) => (k as usize).min(n.saturating_sub(1)),
        ("complete", _) => n.saturating_sub(1),
        (g, _) => return Err(format!("unknown graph {g:?} (complete or harary)")),
    };
    let margin = match model {
        ThreatModel::Active => GRINDING_MARGIN_BITS,
        _ => 0,
    };
    let cc = corrupt_neighbour_bound(n as u64, k as u64, c.corrupt, margin).map_err(chooser)?;
    let cc = cc as usize;
    let t = c.threshold.map_or(smallest_t(k, cc), |t| t as usize);
    let graph = if k >= n.saturating_sub(1) {
        Graph::Complete
    } else {
        Graph::Harary { degree: k as u16 }
    };
    Ok((
        graph,
        t.min(u16::MAX as usize) as u16,
        cc.min(u16::MAX as usize) as u16,
    ))
}

fn params(c: &SessionConfig, session_index: u32) -> Result<SessionParams, String> {
    let n = c.clients as usize;
    let (threat_model, identity_keys) = match c.threat_model.as_str() {
        "semi-honest" => (ThreatModel::SemiHonest, Vec::new()),
        "active" => {
            let path = c
                .identity_keys_file
                .as_ref()
                .ok_or("the active model needs identity_keys_file")?;
            (ThreatModel::Active, read_identity_keys(path, n)?)
        }
        t => {
            return Err(format!(
                "unknown threat model {t:?} (semi-honest or active)"
            ))
        }
    };
    let (graph, threshold, max_corrupt_neighbours) = graph_params(c, n, threat_model)?;
    let mut nonce = [0u8; 32];
    nonce[..4].copy_from_slice(&session_index.to_be_bytes());
    let mut rand = [0u8; 28];
    getrandom::fill(&mut rand).map_err(|e| e.to_string())?;
    nonce[4..].copy_from_slice(&rand);
    let p = SessionParams {
        nonce,
        participants: (1..=c.clients).filter_map(ParticipantId::new).collect(),
        threat_model,
        identity_keys,
        graph,
        threshold,
        max_corrupt_neighbours,
        vector_len: c.vector_len,
        bits: Bits::new(c.bits).map_err(|e| e.to_string())?,
        clip: c.clip,
        levels: c.levels,
        max_weight: c.max_weight,
        round_timeout_ms: c.round_timeout_ms,
        mask_prg: MaskPrg::from_name(&c.mask_prg)
            .ok_or_else(|| format!("unknown mask_prg {:?} (aes128-ctr or chacha20)", c.mask_prg))?,
    };
    p.validate().map_err(|e| e.to_string())?;
    Ok(p)
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("secagg=info")),
        )
        .with_ansi(false)
        .init();
    let Command::Serve {
        config,
        listen,
        sessions,
        clients,
    } = Cli::parse().command;
    let mut cfg: Config = match std::fs::read_to_string(&config)
        .map_err(|e| e.to_string())
        .and_then(|s| toml::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            error!("{}: {e}", config.display());
            std::process::exit(2);
        }
    };
    if let Some(l) = listen {
        cfg.listen = l;
    }
    if let Some(s) = sessions {
        cfg.sessions = s;
    }
    if let Some(c) = clients {
        cfg.session.clients = c;
    }
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let code = rt.block_on(serve(cfg));
    std::process::exit(code);
}

async fn serve(cfg: Config) -> i32 {
    let identity = match (&cfg.tls.cert, &cfg.tls.key, &cfg.tls.dev_cert_out) {
        (Some(c), Some(k), _) => TlsIdentity::from_pem_files(c, k),
        (None, None, Some(out)) => TlsIdentity::self_signed(&["localhost"]).and_then(|id| {
            std::fs::write(out, &id.cert_pem)
                .map_err(|e| secagg::transport::TransportError::Config(e.to_string()))?;
            info!(path = %out.display(), "dev mode: self-signed certificate written");
            Ok(id)
        }),
        _ => {
            error!("[tls] needs cert and key, or dev_cert_out");
            return 2;
        }
    };
    let identity = match identity {
        Ok(i) => i,
        Err(e) => {
            error!("TLS: {e}");
            return 2;
        }
    };
    let coordinator = match Coordinator::bind(cfg.listen, &identity, CoordinatorOptions::default())
    {
        Ok(c) => c,
        Err(e) => {
            error!("bind {}: {e}", cfg.listen);
            return 2;
        }
    };
    info!(addr = ?coordinator.local_addr().ok(), sessions = cfg.sessions, "listening");
    let mut failures = 0;
    for s in 0..cfg.sessions {
        let p = match params(&cfg.session, s) {
            Ok(p) => p,
            Err(e) => {
                error!("session parameters: {e}");
                return 2;
            }
        };
        match coordinator.run_session(p).await {
            Ok(report) => {
                info!(
                    session = s,
                    connections = report.connections,
                    refused = report.refused,
                    bytes_in = report.bytes_in,
                    bytes_out = report.bytes_out,
                    ms = report.elapsed.as_millis() as u64,
                    "session finished"
                );
                if let Some(dir) = &cfg.result_dir {
                    if let Err(e) = write_result(dir, &report) {
                        error!("writing the result: {e}");
                    }
                }
                if report.result.is_err() {
                    failures += 1;
                }
            }
            Err(e) => {
                error!("session {s}: {e}");
                failures += 1;
            }
        }
    }
    coordinator.close();
    if failures > 0 {
        1
    } else {
        0
    }
}

/// Result file: `{"session_id", "included", "sum", "weight_sum", "dequantized_sum",
/// "weighted_mean"}` (sum elements as decimal strings), or `{"session_id", "aborted"}`.
fn write_result(
    dir: &std::path::Path,
    r: &secagg::transport::SessionReport,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let sid: String = r.session_id.0.iter().map(|b| format!("{b:02x}")).collect();
    let v = match &r.result {
        Ok(o) => serde_json::json!({
            "session_id": sid,
            "included": o.included.iter().map(|p| p.get()).collect::<Vec<_>>(),
            "sum": o.sum.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            "weight_sum": o.weight_sum,
            "dequantized_sum": o.dequantized_sum,
            "weighted_mean": o.weighted_mean,
        }),
        Err(e) => serde_json::json!({"session_id": sid, "aborted": e.to_string()}),
    };
    std::fs::write(
        dir.join(format!("{sid}.json")),
        serde_json::to_vec_pretty(&v)?,
    )
}
