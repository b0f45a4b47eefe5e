//! `secagg-coordinator serve --config coordinator.toml`: runs secure-aggregation sessions over
//! QUIC, one after another, and logs their progress (tracing, to standard error;
//! `RUST_LOG=secagg=debug` for every connection). Each session's report (schema
//! `secagg-result/1`, see `secagg::transport::result_file`) goes durably to
//! `<result_dir>/<session id>.json`, or to standard output without `result_dir`; a report that
//! cannot be written stops the coordinator with exit code 3.
//!
//! Example configuration (every field but `[session].vector_len` has a default):
//!
//! ```toml
//! listen = "0.0.0.0:4433"
//! sessions = 3
//! result_dir = "results"
//! [tls]
//! dev_cert_out = "coordinator-cert.pem"   # self-signed; or cert = "..." and key = "..." (PEM)
//! [auth]                                   # required unless in dev mode
//! mode = "token-file"                      # token_file = "participants.txt": lines
//!                                          #   `<id> <token> [<identity key hex>]`;
//!                                          # or mode = "hmac", key_file = "hmac.key";
//!                                          # or mode = "mutual-tls", client_ca = "ca.pem"
//! token_file = "participants.txt"
//! [session]
//! clients = 100                            # participants 1..=clients
//! vector_len = 100000
//! graph = "harary"                         # degree and threshold from the chooser unless given
//! dropout = 0.1
//! corrupt = 0.05
//! round_timeout_ms = [30000, 30000, 60000, 30000, 30000]
//! threat_model = "semi-honest"             # or "active", with identity_keys_file = "keys.txt"
//!                                          # (one hex Ed25519 public key per participant)
//! ```
//!
//! In the active model the threshold must exceed half the degree; give `threshold` explicitly
//! if the chooser's (semi-honest) value is too small.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use secagg::ids::ParticipantId;
use secagg::protocol::params::{Graph, SessionParams, ThreatModel};
use secagg::ring::Bits;
use std::sync::Arc;

use secagg::transport::auth::{ClientCertificates, HmacTokens, TokenFile, TrustClaimedId};
use secagg::transport::result_file;
use secagg::transport::tls::{read_certs_pem, CertificateDer, TlsIdentity};
use secagg::transport::{Authenticator, Coordinator, CoordinatorOptions};
use serde::Deserialize;
use tracing::{error, info, warn};

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
    /// Participant authentication; required unless in dev mode (`tls.dev_cert_out`).
    auth: Option<AuthConfig>,
    session: SessionConfig,
}

/// How participants prove who they are (see `secagg::transport::auth`).
#[derive(Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
enum AuthConfig {
    /// Bearer tokens from a registry file: `<participant id> <token> [<identity key hex>]`.
    /// The registry lists the session's participants (and, in the active model, their
    /// identity keys).
    TokenFile { token_file: PathBuf },
    /// HMAC-SHA256 tokens with expiry, under a hex key of at least 32 bytes.
    Hmac { key_file: PathBuf },
    /// Mutual TLS: client certificates from this CA, naming `participant-<id>.secagg`.
    MutualTls { client_ca: PathBuf },
    /// No authentication (dev mode only).
    None,
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
    /// Active model: a file with one hex Ed25519 public key per line, for participants
    /// 1..=clients in order.
    identity_keys_file: Option<PathBuf>,
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

fn read_identity_keys(path: &std::path::Path, n: usize) -> Result<Vec<[u8; 32]>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let keys: Vec<[u8; 32]> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
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

fn params(
    c: &SessionConfig,
    session_index: u32,
    roster: Option<&TokenFile>,
) -> Result<SessionParams, String> {
    // With a token registry, the registry is the roster (and holds the identity keys);
    // otherwise participants are 1..=clients.
    let participants: Vec<ParticipantId> = match roster {
        Some(r) => r.participants(),
        None => (1..=c.clients).filter_map(ParticipantId::new).collect(),
    };
    let n = participants.len();
    let (graph, threshold) = match c.graph.as_str() {
        "complete" => (Graph::Complete, c.threshold.unwrap_or((n / 2) as u16)),
        "harary" => {
            let chosen =
                secagg::protocol::chooser::choose_graph_params(n as u64, c.dropout, c.corrupt)
                    .map_err(|e| format!("parameter chooser: {e}"))?;
            let k = c.degree.unwrap_or(chosen.degree as u16);
            let t = c.threshold.unwrap_or(chosen.threshold as u16);
            if k as usize >= n.saturating_sub(1) {
                (Graph::Complete, t)
            } else {
                (Graph::Harary { degree: k }, t)
            }
        }
        g => return Err(format!("unknown graph {g:?} (complete or harary)")),
    };
    let mut nonce = [0u8; 32];
    nonce[..4].copy_from_slice(&session_index.to_be_bytes());
    let mut rand = [0u8; 28];
    getrandom::fill(&mut rand).map_err(|e| e.to_string())?;
    nonce[4..].copy_from_slice(&rand);
    let (threat_model, identity_keys) = match c.threat_model.as_str() {
        "semi-honest" => (ThreatModel::SemiHonest, Vec::new()),
        "active" => match (roster, c.identity_keys_file.as_ref()) {
            (Some(_), Some(_)) => {
                return Err(
                    "identity keys come from the token file; remove identity_keys_file".into(),
                )
            }
            (Some(r), None) => {
                let keys = participants
                    .iter()
                    .map(|&id| {
                        r.identity_key(id).ok_or(format!(
                            "the active model needs an identity key for participant {id} in the token file"
                        ))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (ThreatModel::Active, keys)
            }
            (None, Some(path)) => (ThreatModel::Active, read_identity_keys(path, n)?),
            (None, None) => return Err("the active model needs identity_keys_file".into()),
        },
        t => {
            return Err(format!(
                "unknown threat model {t:?} (semi-honest or active)"
            ))
        }
    };
    let p = SessionParams {
        nonce,
        participants,
        threat_model,
        identity_keys,
        graph,
        threshold,
        vector_len: c.vector_len,
        bits: Bits::new(c.bits).map_err(|e| e.to_string())?,
        clip: c.clip,
        levels: c.levels,
        max_weight: c.max_weight,
        round_timeout_ms: c.round_timeout_ms,
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
        .with_writer(std::io::stderr)
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

/// The authenticator, the client CA for mutual TLS, and the participant roster if the
/// registry defines one.
type Auth = (
    Arc<dyn Authenticator>,
    Option<Vec<CertificateDer<'static>>>,
    Option<Arc<TokenFile>>,
);

fn authenticator(cfg: &Config) -> Result<Auth, String> {
    let dev = cfg.tls.cert.is_none() && cfg.tls.dev_cert_out.is_some();
    match &cfg.auth {
        None | Some(AuthConfig::None) if !dev => Err(
            "participants must be authenticated outside dev mode: add an [auth] section \
             (mode = \"token-file\", \"hmac\" or \"mutual-tls\")"
                .into(),
        ),
        None | Some(AuthConfig::None) => {
            warn!("dev mode: participants are not authenticated");
            Ok((Arc::new(TrustClaimedId), None, None))
        }
        Some(AuthConfig::TokenFile { token_file }) => {
            let reg =
                Arc::new(TokenFile::load(token_file).map_err(|e| format!("token file: {e}"))?);
            Ok((reg.clone(), None, Some(reg)))
        }
        Some(AuthConfig::Hmac { key_file }) => Ok((
            Arc::new(HmacTokens::from_hex_file(key_file).map_err(|e| format!("HMAC key: {e}"))?),
            None,
            None,
        )),
        Some(AuthConfig::MutualTls { client_ca }) => {
            let roots = read_certs_pem(client_ca)
                .map_err(|e| format!("client CA {}: {e}", client_ca.display()))?;
            if roots.is_empty() {
                return Err(format!("client CA {}: no certificate", client_ca.display()));
            }
            Ok((Arc::new(ClientCertificates::new()), Some(roots), None))
        }
    }
}

async fn serve(cfg: Config) -> i32 {
    let (authenticator, client_ca, roster) = match authenticator(&cfg) {
        Ok(a) => a,
        Err(e) => {
            error!("{e}");
            return 2;
        }
    };
    // Everything that can be checked is checked before the port is bound and before the dev
    // certificate is written.
    if let Err(e) = params(&cfg.session, 0, roster.as_deref()) {
        error!("session parameters: {e}");
        return 2;
    }
    match &cfg.result_dir {
        Some(dir) => {
            if let Err(e) = result_file::check_writable(dir) {
                error!(dir = %dir.display(), "result_dir is not writable: {e}");
                return 2;
            }
        }
        None => warn!("no result_dir: session reports go to standard output"),
    }
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
    let opts = CoordinatorOptions {
        authenticator,
        client_ca,
        ..CoordinatorOptions::default()
    };
    let coordinator = match Coordinator::bind(cfg.listen, &identity, opts) {
        Ok(c) => c,
        Err(e) => {
            error!("bind {}: {e}", cfg.listen);
            return 2;
        }
    };
    info!(addr = ?coordinator.local_addr().ok(), sessions = cfg.sessions, "listening");
    let mut failures = 0;
    for s in 0..cfg.sessions {
        let p = match params(&cfg.session, s, roster.as_deref()) {
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
                // A result is stored durably or the process fails: never silently nowhere.
                match &cfg.result_dir {
                    Some(dir) => match result_file::write_report(dir, &report) {
                        Ok(path) => info!(path = %path.display(), "session report written"),
                        Err(e) => {
                            error!(dir = %dir.display(), "session report NOT written: {e}");
                            coordinator.close();
                            return 3;
                        }
                    },
                    None => {
                        let stdout = std::io::stdout();
                        let mut w = std::io::BufWriter::new(stdout.lock());
                        if let Err(e) = result_file::write_json(&mut w, &report)
                            .and_then(|()| std::io::Write::flush(&mut w))
                        {
                            error!("session report NOT written to stdout: {e}");
                            coordinator.close();
                            return 3;
                        }
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
