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
//! threat_model = "semi-honest"             # or "active", with identity_keys_file = "roster.txt"
//!                                          # (`ID HEXKEY` lines: the roster clients pin)
//! mask_prg = "aes128-ctr"                  # or "chacha20" for cohorts without AES hardware
//! ```
//!
//! An LDP task instead (`deploy/coordinator-ldp.toml`; spec `protocol-spec/analytics.md`): every
//! participant sends one locally randomised report, the coordinator keeps counters only and
//! writes the estimates (schema `secagg-ldp-result/1`):
//!
//! ```toml
//! task = "ldp"                             # default "secagg", which needs [session]
//! [ldp]
//! clients = 100                            # or the token registry's participants
//! deadline_ms = 60000
//! min_reports = 10
//! [ldp.task]
//! protocol = "rsfd-adp"                    # grr sue oue blh olh hr ss adp, spl-*, smp-*, rsfd-*
//! epsilon = 1.0
//! domains = [8, 16, 32, 64, 128]
//! ```
//!
//! A histogram task (`deploy/coordinator-histogram.toml`; spec `analytics.md`, "Histograms
//! under SecAgg"): every participant inputs one categorical tuple as a multi-hot vector under
//! secure aggregation (`secagg-client --histogram-values`); the task fixes the vector length,
//! clip, levels and weight, and the report gains a `histogram` member with the frequency
//! estimates (exact, or noisy with `[session.dp]`):
//!
//! ```toml
//! task = "histogram"
//! [histogram]
//! domains = [8, 4]
//! [session]                                # as above, without vector_len/clip/levels
//! clients = 100
//! ```
//!
//! `corrupt` is the fraction of clients assumed to collude with the coordinator: it sets the
//! session's corrupted-neighbour bound `c` (and, in the active model, the chooser's `t` with
//! `2t > k + c`). Clients refuse sessions whose `c` is below what their own assumption gives.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use secagg::analytics::histogram::HistogramSpec;
use secagg::analytics::wire::LdpSessionParams;
use secagg::crypto::prg::MaskPrg;
use secagg::ids::ParticipantId;
use secagg::protocol::params::{Graph, SessionParams, ThreatModel};
use secagg::protocol::AbortReason;
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
    version,
    about = "Secure aggregation coordinator over QUIC"
)]
struct Cli {
    /// Log format on standard error.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "SECAGG_LOG_FORMAT",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Settings that override the configuration file (flags, or environment variables).
#[derive(clap::Args)]
struct Overrides {
    /// TOML configuration file.
    #[arg(long, env = "SECAGG_CONFIG")]
    config: PathBuf,
    /// Override the listen address.
    #[arg(long, env = "SECAGG_LISTEN")]
    listen: Option<SocketAddr>,
    /// Override the number of sessions.
    #[arg(long, env = "SECAGG_SESSIONS")]
    sessions: Option<u32>,
    /// Override the number of clients.
    #[arg(long, env = "SECAGG_CLIENTS")]
    clients: Option<u16>,
    /// Override the result directory.
    #[arg(long, env = "SECAGG_RESULT_DIR")]
    result_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve sessions; SIGTERM or SIGINT drains (no new connections, the running session
    /// finishes within `grace_period_s` or is aborted, its report is written) and exits 0.
    Serve(Overrides),
    /// Check the configuration (parameters, files, keys, certificates, result directory)
    /// without binding a port; writes nothing but a probe file in `result_dir` (created if
    /// missing). Prints a summary.
    Validate(Overrides),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_listen")]
    listen: SocketAddr,
    #[serde(default = "one")]
    sessions: u32,
    /// Cohort mode: sessions that may run at once (the next cohort checks in while earlier
    /// sessions run). 1: one after another.
    #[serde(default = "one")]
    max_concurrent_sessions: u32,
    result_dir: Option<PathBuf>,
    /// HTTP address for `/metrics` (Prometheus), `/healthz` and `/readyz`; none if unset.
    metrics_listen: Option<SocketAddr>,
    /// Seconds a running session may take to finish after SIGTERM/SIGINT.
    #[serde(default = "default_grace")]
    grace_period_s: u64,
    #[serde(default)]
    tls: TlsConfig,
    /// Participant authentication; required unless in dev mode (`tls.dev_cert_out`).
    auth: Option<AuthConfig>,
    /// What the sessions compute: "secagg" (default; needs `[session]`) or "ldp" (needs
    /// `[ldp]`).
    #[serde(default)]
    task: TaskKind,
    session: Option<SessionConfig>,
    ldp: Option<LdpConfig>,
    /// Histogram task: the attributes' domain sizes (the SecAgg settings come from
    /// `[session]`, whose vector length, clip and levels the task fixes).
    histogram: Option<HistogramConfig>,
}

/// `[histogram]`: the shape of the histogram every client contributes one tuple to.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct HistogramConfig {
    /// Domain size of each attribute (client values are in `[0, k)`).
    domains: Vec<u32>,
}

/// The kind of task the coordinator runs.
#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum TaskKind {
    /// Secure aggregation of vectors (`[session]`).
    #[default]
    Secagg,
    /// Local differential privacy: one randomised report per client, frequency estimates
    /// (`[ldp]`; spec `analytics.md`).
    Ldp,
    /// Histograms under secure aggregation: each client inputs the multi-hot vector of one
    /// tuple, the report carries exact (or, with `[session.dp]`, noisy) frequency estimates
    /// (`[histogram]` and `[session]`; spec `analytics.md`, "Histograms under SecAgg").
    Histogram,
}

/// An LDP task: who reports, until when, and the protocol.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LdpConfig {
    /// Participants 1..=clients (or the token registry's).
    #[serde(default = "default_clients")]
    clients: u16,
    /// How long a session collects reports.
    #[serde(default = "default_ldp_deadline")]
    deadline_ms: u32,
    /// Fewest counted reports for a complete session.
    #[serde(default = "one64")]
    min_reports: u64,
    /// Protocol, epsilon and domain sizes.
    task: secagg::analytics::LdpTaskSpec,
}

fn default_ldp_deadline() -> u32 {
    60_000
}
fn one64() -> u64 {
    1
}

/// The first session's parameters (checked before the port is bound).
enum First {
    Secagg(SessionParams),
    Ldp(LdpSessionParams, Vec<ParticipantId>),
}

fn ldp_params(
    c: &LdpConfig,
    session_index: u32,
    roster: Option<&TokenFile>,
) -> Result<(LdpSessionParams, Vec<ParticipantId>), String> {
    let participants: Vec<ParticipantId> = match roster {
        Some(r) => r.participants(),
        None => (1..=c.clients).filter_map(ParticipantId::new).collect(),
    };
    if participants.is_empty() {
        return Err("no participants".into());
    }
    if c.deadline_ms == 0 {
        return Err("ldp.deadline_ms must be positive".into());
    }
    let mut nonce = [0u8; 32];
    nonce[..4].copy_from_slice(&session_index.to_be_bytes());
    let mut rand = [0u8; 28];
    getrandom::fill(&mut rand).map_err(|e| e.to_string())?;
    nonce[4..].copy_from_slice(&rand);
    let p = LdpSessionParams::new(nonce, c.deadline_ms, c.task.clone())
        .map_err(|e| format!("ldp task: {e}"))?;
    Ok((p, participants))
}

/// The communication graph.
#[derive(Deserialize, Default, Clone, Copy, Debug)]
#[serde(rename_all = "kebab-case")]
enum GraphKind {
    /// Every client a neighbour of every other.
    Complete,
    /// SecAgg+: a Harary graph, degree and threshold from the chooser unless given.
    #[default]
    Harary,
}

/// The threat model.
#[derive(Deserialize, Default, Clone, Copy, Debug)]
#[serde(rename_all = "kebab-case")]
enum ThreatKind {
    /// Semi-honest server and clients.
    #[default]
    SemiHonest,
    /// Active adversary: identity keys and the consistency check.
    Active,
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

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct SessionConfig {
    #[serde(default = "default_clients")]
    clients: u16,
    /// Required for `task = "secagg"`; a histogram task sets it to the number of cells.
    #[serde(default)]
    vector_len: Option<u32>,
    #[serde(default)]
    graph: GraphKind,
    degree: Option<u16>,
    threshold: Option<u16>,
    #[serde(default = "default_dropout")]
    dropout: f64,
    #[serde(default = "default_corrupt")]
    corrupt: f64,
    #[serde(default = "default_bits")]
    bits: u32,
    /// Coordinate clip (default 1).
    #[serde(default)]
    clip: Option<f64>,
    /// Quantization levels (default 2^16; a histogram task: 3).
    #[serde(default)]
    levels: Option<u64>,
    #[serde(default = "one")]
    max_weight: u32,
    #[serde(default = "default_timeouts")]
    round_timeout_ms: [u32; 5],
    /// "semi-honest" (default) or "active".
    #[serde(default)]
    threat_model: ThreatKind,
    /// Active model: the identity keys, as a roster (`ID HEXKEY` per line: the same file the
    /// clients pin with `--roster`) or one hex Ed25519 public key per line for participants
    /// 1..=clients in order.
    identity_keys_file: Option<PathBuf>,
    /// Mask PRG suite: "aes128-ctr" (default) or "chacha20".
    #[serde(default = "default_mask_prg")]
    mask_prg: String,
    /// Cohort mode when set: each session runs with whoever checks in (authenticated, and
    /// listed in the token registry or identity roster if there is one) — at least
    /// `min_clients`, at most `clients` — and its graph, threshold and corruption bound are
    /// chosen for the actual cohort size. Unset: every listed participant is expected.
    min_clients: Option<u16>,
    /// Cohort mode: how long check-in stays open if the cohort does not fill up.
    #[serde(default = "default_checkin")]
    checkin_timeout_ms: u64,
    /// Distributed differential privacy on the sum (ddp.md): each client clips, rotates,
    /// rounds and adds its share of discrete noise before masking. Calibrated per session for
    /// the fewest clients whose noise a completed session is guaranteed to hold.
    dp: Option<DpSettings>,
}

/// `[session.dp]`.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
struct DpSettings {
    /// Target epsilon over `rounds` sessions.
    epsilon: f64,
    /// Target delta (default: min(1e-6, 1/n^2) for the session's n).
    delta: Option<f64>,
    /// "discrete-gaussian" (default) or "skellam".
    #[serde(default)]
    mechanism: DpMechanism,
    /// L2 clip of each client's vector (the session's `clip` bounds coordinates without DP).
    /// Default 1; a histogram task: `sqrt(attributes)`, the norm of a multi-hot vector.
    #[serde(default)]
    l2_clip: Option<f64>,
    /// Sessions the guarantee must cover (composition).
    #[serde(default = "one")]
    rounds: u32,
    /// Largest acceptable probability that some coordinate of the sum wraps.
    #[serde(default = "default_max_wrap")]
    max_wrap: f64,
}

#[derive(Deserialize, Clone, Copy, Debug, Default)]
#[serde(rename_all = "kebab-case")]
enum DpMechanism {
    #[default]
    DiscreteGaussian,
    Skellam,
}

fn default_listen() -> SocketAddr {
    "0.0.0.0:4433".parse().expect("literal address")
}
fn default_grace() -> u64 {
    30
}
fn one() -> u32 {
    1
}
fn default_clients() -> u16 {
    100
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
const DEFAULT_CLIP: f64 = 1.0;
const DEFAULT_LEVELS: u64 = 1 << 16;
/// A histogram task's levels: 3 points over [-1, 1], so 0 and 1 are quantized exactly.
const HISTOGRAM_LEVELS: u64 = 3;
fn default_timeouts() -> [u32; 5] {
    [30_000; 5]
}
const DEFAULT_DP_CLIP: f64 = 1.0;
fn default_max_wrap() -> f64 {
    1e-9
}
fn default_checkin() -> u64 {
    30_000
}
fn default_mask_prg() -> String {
    MaskPrg::Aes128Ctr.name().into()
}

/// The identity keys of participants 1..=n: either the roster format clients trust
/// (`ID HEXKEY` per line, see `secagg::protocol::Roster`), or one hex key per line in
/// participant order.
fn read_identity_keys(
    path: &std::path::Path,
    ids: &[ParticipantId],
) -> Result<Vec<[u8; 32]>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if lines.iter().any(|l| l.split_whitespace().count() == 2) {
        let roster = secagg::protocol::Roster::parse_text(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        return ids
            .iter()
            .map(|&id| {
                roster.key_of(id).copied().ok_or(format!(
                    "{}: participant {id} is not listed",
                    path.display()
                ))
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
    // One key per line: line i is participant i (from 1).
    ids.iter()
        .map(|id| {
            keys.get(usize::from(id.get()) - 1).copied().ok_or(format!(
                "{}: {} identity keys, none for participant {id}",
                path.display(),
                keys.len()
            ))
        })
        .collect()
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
    let k = match (c.graph, c.degree) {
        (GraphKind::Harary, None) => {
            let (g, t, cc) =
                choose_session_graph(n as u64, c.dropout, c.corrupt, model).map_err(chooser)?;
            return Ok((g, c.threshold.unwrap_or(t), cc));
        }
        (GraphKind::Harary, Some(k)) => (k as usize).min(n.saturating_sub(1)),
        (GraphKind::Complete, _) => n.saturating_sub(1),
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

/// Who may take part: with a token registry, the registry is the roster (and holds the
/// identity keys); with an identity roster file (active model), its ids; with HMAC tokens or
/// client certificates (`open`) any authenticated id may check in to a cohort; otherwise
/// (dev mode) participants 1..=clients.
fn eligible(
    c: &SessionConfig,
    roster: Option<&TokenFile>,
    open: bool,
) -> Result<Option<Vec<ParticipantId>>, String> {
    if let Some(r) = roster {
        return Ok(Some(r.participants()));
    }
    if let (ThreatKind::Active, Some(path)) = (c.threat_model, &c.identity_keys_file) {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Ok(r) = secagg::protocol::Roster::parse_text(&text) {
            return Ok(Some(r.entries().iter().map(|e| e.0).collect()));
        }
    }
    Ok(if open {
        None
    } else {
        Some((1..=c.clients).filter_map(ParticipantId::new).collect())
    })
}

/// The cohort of a session in cohort mode (`min_clients` set).
fn cohort(
    c: &SessionConfig,
    roster: Option<&TokenFile>,
    open: bool,
) -> Result<Option<secagg::transport::Cohort>, String> {
    let Some(min) = c.min_clients else {
        return Ok(None);
    };
    if min < 2 || min > c.clients {
        return Err(format!(
            "min_clients = {min}: need 2 <= min_clients <= clients ({})",
            c.clients
        ));
    }
    Ok(Some(secagg::transport::Cohort {
        eligible: eligible(c, roster, open)?,
        min_clients: usize::from(min),
        max_clients: usize::from(c.clients),
        checkin_timeout: Duration::from_millis(c.checkin_timeout_ms.max(1)),
    }))
}

impl DpSettings {
    fn session_dp(&self) -> secagg::ddp::SessionDp {
        secagg::ddp::SessionDp {
            mechanism: match self.mechanism {
                DpMechanism::DiscreteGaussian => secagg::ddp::Mechanism::DiscreteGaussian,
                DpMechanism::Skellam => secagg::ddp::Mechanism::Skellam,
            },
            epsilon: self.epsilon,
            delta: self.delta,
            l2_clip: self.l2_clip.unwrap_or(DEFAULT_DP_CLIP),
            rounds: self.rounds,
            max_wrap: self.max_wrap,
        }
    }
}

/// Calibrates the session's noise ([`secagg::ddp::SessionDp`]: enough with the `max(1, t + 1 -
/// c)` clients a completed session is sure to include that are honest, and a wrap bound for
/// the whole cohort).
fn calibrate_dp(
    c: &SessionConfig,
    d: &DpSettings,
    n: usize,
    threshold: u16,
    max_corrupt: u16,
) -> Result<secagg::ddp::DpConfig, String> {
    let bits = u8::try_from(c.bits).map_err(|_| format!("bits = {}", c.bits))?;
    let dim = c
        .vector_len
        .ok_or("[session].vector_len is required for task \"secagg\"")?;
    let target = d.session_dp().target(dim, bits, n, threshold, max_corrupt);
    let cal = secagg::ddp::calibrate(&target).map_err(|e| format!("dp calibration: {e}"))?;
    info!(
        epsilon = d.epsilon,
        delta = target.delta,
        noisy_clients = target.min_clients,
        n,
        scale = cal.config.scale(),
        wrap_bound = cal.wrap_probability,
        "dp calibrated"
    );
    Ok(cal.config)
}

/// The parameters of session `session_index`, for `cohort` if given (the ids that checked in)
/// or else for every eligible participant.
fn params(
    c: &SessionConfig,
    session_index: u32,
    roster: Option<&TokenFile>,
    cohort: Option<Vec<ParticipantId>>,
) -> Result<SessionParams, String> {
    let participants: Vec<ParticipantId> = match cohort {
        Some(ids) => ids,
        None => eligible(c, roster, false)?.unwrap_or_default(),
    };
    let n = participants.len();
    let (threat_model, identity_keys) = match c.threat_model {
        ThreatKind::SemiHonest => (ThreatModel::SemiHonest, Vec::new()),
        ThreatKind::Active => match (roster, c.identity_keys_file.as_ref()) {
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
            (None, Some(path)) => (
                ThreatModel::Active,
                read_identity_keys(path, &participants)?,
            ),
            (None, None) => return Err("the active model needs identity_keys_file".into()),
        },
    };
    let (graph, threshold, max_corrupt_neighbours) = graph_params(c, n, threat_model)?;
    let dp = match &c.dp {
        None => None,
        Some(d) => Some(calibrate_dp(c, d, n, threshold, max_corrupt_neighbours)?),
    };
    let mut nonce = [0u8; 32];
    nonce[..4].copy_from_slice(&session_index.to_be_bytes());
    let mut rand = [0u8; 28];
    getrandom::fill(&mut rand).map_err(|e| e.to_string())?;
    nonce[4..].copy_from_slice(&rand);
    let p = SessionParams {
        // With DP the masked vector is the rotation's padded length, and the quantizer is
        // unused (`levels` only has to be valid).
        vector_len: match &dp {
            Some(d) => d.padded_dim() as u32,
            None => c
                .vector_len
                .ok_or("[session].vector_len is required for task \"secagg\"")?,
        },
        levels: if dp.is_some() {
            2
        } else {
            c.levels.unwrap_or(DEFAULT_LEVELS)
        },
        dp,
        nonce,
        participants,
        threat_model,
        identity_keys,
        graph,
        threshold,
        max_corrupt_neighbours,
        bits: Bits::new(c.bits).map_err(|e| e.to_string())?,
        clip: c.clip.unwrap_or(DEFAULT_CLIP),
        max_weight: c.max_weight,
        round_timeout_ms: c.round_timeout_ms,
        mask_prg: MaskPrg::from_name(&c.mask_prg)
            .ok_or_else(|| format!("unknown mask_prg {:?} (aes128-ctr or chacha20)", c.mask_prg))?,
    };
    p.validate().map_err(|e| e.to_string())?;
    Ok(p)
}

fn main() {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("secagg=info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => fmt.init(),
        LogFormat::Json => fmt.json().init(),
    }
    let (validate_only, o) = match cli.command {
        Command::Serve(o) => (false, o),
        Command::Validate(o) => (true, o),
    };
    let cfg = match load_config(&o) {
        Ok(c) => c,
        Err(e) => {
            error!("{}: {e}", o.config.display());
            std::process::exit(2);
        }
    };
    let prepared = match prepare(&cfg) {
        Ok(p) => p,
        Err(e) => {
            error!("{e}");
            std::process::exit(2);
        }
    };
    if validate_only {
        print_summary(&o.config, &cfg, &prepared);
        return;
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            error!("tokio runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = rt.block_on(serve(cfg, prepared));
    std::process::exit(code);
}

/// Reads the file, applies the overrides, and resolves relative paths against the
/// configuration file's directory (so a configuration works from any working directory).
fn load_config(o: &Overrides) -> Result<Config, String> {
    let text = std::fs::read_to_string(&o.config).map_err(|e| e.to_string())?;
    let mut cfg: Config = toml::from_str(&text).map_err(|e| e.to_string())?;
    if let Some(l) = o.listen {
        cfg.listen = l;
    }
    if let Some(s) = o.sessions {
        cfg.sessions = s;
    }
    if let Some(c) = o.clients {
        if let Some(s) = cfg.session.as_mut() {
            s.clients = c;
        }
        if let Some(l) = cfg.ldp.as_mut() {
            l.clients = c;
        }
    }
    if let Some(d) = &o.result_dir {
        cfg.result_dir = Some(d.clone());
    }
    let base = o
        .config
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let fix = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    for p in [
        cfg.result_dir.as_mut(),
        cfg.tls.cert.as_mut(),
        cfg.tls.key.as_mut(),
        cfg.tls.dev_cert_out.as_mut(),
        cfg.session
            .as_mut()
            .and_then(|s| s.identity_keys_file.as_mut()),
    ]
    .into_iter()
    .flatten()
    {
        fix(p);
    }
    match cfg.auth.as_mut() {
        Some(AuthConfig::TokenFile { token_file: p })
        | Some(AuthConfig::Hmac { key_file: p })
        | Some(AuthConfig::MutualTls { client_ca: p }) => fix(p),
        _ => {}
    }
    match (cfg.task, &cfg.session, &cfg.ldp) {
        (TaskKind::Secagg, None, _) => return Err("task \"secagg\" needs a [session] table".into()),
        (TaskKind::Ldp, _, None) => return Err("task \"ldp\" needs an [ldp] table".into()),
        (TaskKind::Histogram, None, _) => {
            return Err("task \"histogram\" needs a [session] table".into())
        }
        _ => {}
    }
    if cfg.task == TaskKind::Histogram {
        let spec = histogram_spec(&cfg)?;
        if let Some(s) = cfg.session.as_mut() {
            fit_to_histogram(s, &spec)?;
        }
    } else if cfg.histogram.is_some() {
        return Err("a [histogram] table needs task = \"histogram\"".into());
    }
    if cfg.task == TaskKind::Secagg {
        if let Some(s) = &cfg.session {
            if s.vector_len.is_none() {
                return Err("[session].vector_len is required for task \"secagg\"".into());
            }
        }
    }
    if let Some(s) = &cfg.session {
        if s.round_timeout_ms.contains(&0) {
            return Err("round_timeout_ms: every deadline must be positive".into());
        }
    }
    Ok(cfg)
}

/// The histogram task's shape (`[histogram].domains`).
fn histogram_spec(cfg: &Config) -> Result<HistogramSpec, String> {
    let h = cfg
        .histogram
        .as_ref()
        .ok_or("task \"histogram\" needs a [histogram] table with domains")?;
    HistogramSpec::new(&h.domains).map_err(|e| format!("[histogram]: {e}"))
}

/// Fixes the `[session]` settings a histogram task determines (vector length `Σ k_i`, clip 1,
/// 3 levels, weight 1; with DP an L2 clip of `sqrt(attributes)`) and refuses settings that
/// would not sum histograms exactly (or, with DP, would clip a multi-hot vector).
fn fit_to_histogram(s: &mut SessionConfig, spec: &HistogramSpec) -> Result<(), String> {
    let cells = spec.vector_len();
    match s.vector_len {
        Some(l) if l != cells => {
            return Err(format!(
                "[session].vector_len = {l}, but the histogram has {cells} cells (leave it out)"
            ))
        }
        _ => s.vector_len = Some(cells),
    }
    match s.clip {
        Some(c) if c != 1.0 => {
            return Err(format!(
                "[session].clip = {c}: a histogram task needs clip 1 (leave it out)"
            ))
        }
        _ => s.clip = Some(1.0),
    }
    match s.levels {
        Some(q) if q % 2 == 0 => {
            return Err(format!(
                "[session].levels = {q}: a histogram task needs an odd number of levels so 0 and 1 are exact"
            ))
        }
        None => s.levels = Some(HISTOGRAM_LEVELS),
        Some(_) => {}
    }
    if s.max_weight != 1 {
        return Err(format!(
            "[session].max_weight = {}: every histogram input has weight 1",
            s.max_weight
        ));
    }
    if let Some(dp) = s.dp.as_mut() {
        let norm = spec.input_norm();
        match dp.l2_clip {
            Some(c) if c < norm => {
                return Err(format!(
                    "[session.dp].l2_clip = {c} is below sqrt({}) = {norm:.4}, the norm of every histogram input",
                    spec.domains().len()
                ))
            }
            None => dp.l2_clip = Some(norm),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Where dev mode keeps its certificate's private key: beside the certificate.
fn dev_key_path(cert: &std::path::Path) -> PathBuf {
    let mut name = cert.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// Writes a secret file readable by the owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Dev mode's TLS identity: kept from an earlier start, or new (with the key to write).
enum DevIdentity {
    Kept(TlsIdentity),
    New(TlsIdentity, zeroize::Zeroizing<String>),
}

impl DevIdentity {
    fn into_identity(self) -> (TlsIdentity, Option<zeroize::Zeroizing<String>>) {
        match self {
            DevIdentity::Kept(id) => (id, None),
            DevIdentity::New(id, key) => (id, Some(key)),
        }
    }
}

/// The secure-aggregation task's first parameters and cohort (if in cohort mode): for fixed
/// sessions the first session's parameters; in cohort mode those of the largest cohort, after
/// checking the smallest (the chooser must succeed at both sizes).
fn secagg_first(
    session: &SessionConfig,
    roster: Option<&TokenFile>,
    open: bool,
) -> Result<(SessionParams, Option<secagg::transport::Cohort>), String> {
    let cohort = cohort(session, roster, open).map_err(|e| format!("session parameters: {e}"))?;
    let first = match &cohort {
        None => params(session, 0, roster, None),
        Some(c) => {
            let ids: Vec<ParticipantId> = match &c.eligible {
                Some(e) => e.clone(),
                None => (1..=session.clients)
                    .filter_map(ParticipantId::new)
                    .collect(),
            };
            if ids.len() < c.min_clients {
                return Err(format!(
                    "session parameters: {} eligible participants, min_clients is {}",
                    ids.len(),
                    c.min_clients
                ));
            }
            let largest: Vec<ParticipantId> = ids.iter().copied().take(c.max_clients).collect();
            let smallest: Vec<ParticipantId> = ids.iter().copied().take(c.min_clients).collect();
            params(session, 0, roster, Some(smallest))
                .map_err(|e| format!("smallest cohort ({}): {e}", c.min_clients))
                .and_then(|_| params(session, 0, roster, Some(largest)))
        }
    }
    .map_err(|e| format!("session parameters: {e}"))?;
    Ok((first, cohort))
}

/// Everything checked and loaded before the port is bound.
struct Prepared {
    authenticator: Arc<dyn Authenticator>,
    client_ca: Option<Vec<CertificateDer<'static>>>,
    roster: Option<Arc<TokenFile>>,
    /// The TLS identity, and in dev mode a new key to write beside `dev_cert_out`.
    identity: (TlsIdentity, Option<zeroize::Zeroizing<String>>),
    first: First,
    cohort: Option<secagg::transport::Cohort>,
}

fn prepare(cfg: &Config) -> Result<Prepared, String> {
    let (authenticator, client_ca, roster) = authenticator(cfg)?;
    let open = matches!(
        cfg.auth,
        Some(AuthConfig::Hmac { .. }) | Some(AuthConfig::MutualTls { .. })
    );
    let (first, cohort) = match (cfg.task, &cfg.ldp, &cfg.session) {
        (TaskKind::Ldp, Some(l), _) => {
            let (p, ids) = ldp_params(l, 0, roster.as_deref())
                .map_err(|e| format!("LDP session parameters: {e}"))?;
            (First::Ldp(p, ids), None)
        }
        (_, _, Some(session)) => {
            let (p, c) = secagg_first(session, roster.as_deref(), open)?;
            if cfg.task == TaskKind::Histogram {
                // The task fixed the settings; this checks the parameters built from them.
                histogram_spec(cfg)?
                    .check_params(&p)
                    .map_err(|e| format!("histogram task: {e}"))?;
            }
            (First::Secagg(p), c)
        }
        _ => return Err("no [session] or [ldp] table".into()),
    };
    match &cfg.result_dir {
        Some(dir) => result_file::check_writable(dir)
            .map_err(|e| format!("result_dir {} is not writable: {e}", dir.display()))?,
        None => warn!("no result_dir: session reports go to standard output"),
    }
    let identity = match (&cfg.tls.cert, &cfg.tls.key, &cfg.tls.dev_cert_out) {
        (Some(c), Some(k), _) => (
            TlsIdentity::from_pem_files(c, k).map_err(|e| {
                format!("TLS certificate {} / key {}: {e}", c.display(), k.display())
            })?,
            None,
        ),
        (None, None, Some(out)) => {
            let dir = out
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            if !dir.is_dir() {
                return Err(format!(
                    "dev_cert_out {}: directory {} does not exist",
                    out.display(),
                    dir.display()
                ));
            }
            // Kept across restarts (clients keep trusting the file they were given): reuse
            // the certificate and its key if both are there and load, else make new ones
            // (written when serving starts).
            let key = dev_key_path(out);
            match TlsIdentity::from_pem_files(out, &key) {
                Ok(id) if out.exists() && key.exists() => DevIdentity::Kept(id),
                _ => {
                    let (id, key_pem) = TlsIdentity::self_signed_with_key_pem(&["localhost"])
                        .map_err(|e| format!("TLS: {e}"))?;
                    DevIdentity::New(id, key_pem)
                }
            }
            .into_identity()
        }
        _ => return Err("[tls] needs cert and key, or dev_cert_out".into()),
    };
    // Building the server configuration checks that the key fits the certificate.
    secagg::transport::tls::server_config(
        &identity.0,
        Duration::from_secs(60),
        client_ca.as_deref(),
    )
    .map_err(|e| format!("TLS: {e}"))?;
    Ok(Prepared {
        cohort,
        authenticator,
        client_ca,
        roster,
        identity,
        first,
    })
}

fn print_summary(path: &std::path::Path, cfg: &Config, p: &Prepared) {
    println!("{}: OK", path.display());
    let f = match &p.first {
        First::Secagg(f) => f,
        First::Ldp(l, ids) => {
            let privacy = l.task.privacy();
            println!("  listen          {}", cfg.listen);
            println!("  authentication  {}", p.authenticator.name());
            println!("  sessions        {} LDP sessions", cfg.sessions);
            println!("  participants    {}", ids.len());
            println!(
                "  task            {} at epsilon {} over domains {:?}; reports of at most {} bytes",
                l.task.name(),
                l.task.spec().epsilon,
                l.task.spec().domains,
                l.task.max_report_len()
            );
            if let secagg::analytics::PrivacySummary::Local {
                tuple, attribute, ..
            } = privacy
            {
                println!(
                    "  privacy         tuple-level loss {tuple:.4}, attribute-level {attribute:.4?}"
                );
            }
            println!(
                "  results         {}",
                cfg.result_dir
                    .as_ref()
                    .map(|d| format!("{} (writable)", d.display()))
                    .unwrap_or_else(|| "standard output".into())
            );
            return;
        }
    };
    println!("  listen          {}", cfg.listen);
    println!(
        "  tls             {}",
        match (&cfg.tls.cert, &cfg.tls.dev_cert_out) {
            (Some(c), _) => format!("certificate {}", c.display()),
            (None, Some(o)) => format!("dev mode, self-signed certificate to {}", o.display()),
            _ => "?".into(),
        }
    );
    println!(
        "  authentication  {}{}",
        p.authenticator.name(),
        p.client_ca
            .as_ref()
            .map(|c| format!(" ({} CA certificates)", c.len()))
            .unwrap_or_default()
    );
    println!(
        "  sessions        {} (grace period {} s on SIGTERM)",
        cfg.sessions, cfg.grace_period_s
    );
    match &p.cohort {
        None => println!(
            "  participants    {} ({}..={})",
            f.n(),
            f.participants.first().map(|p| p.get()).unwrap_or(0),
            f.participants.last().map(|p| p.get()).unwrap_or(0)
        ),
        Some(c) => println!(
            "  cohort          {}..={} of {}, check-in {} ms (parameters below: the largest cohort)",
            c.min_clients,
            c.max_clients,
            c.eligible
                .as_ref()
                .map(|e| format!("{} eligible", e.len()))
                .unwrap_or_else(|| "any authenticated participant".into()),
            c.checkin_timeout.as_millis()
        ),
    }
    println!(
        "  protocol        {:?}, {} graph of degree {}, threshold {}",
        f.threat_model,
        match f.graph {
            Graph::Complete => "complete",
            Graph::Harary { .. } => "Harary",
            _ => "other",
        },
        f.degree(),
        f.threshold,
    );
    println!(
        "  vectors         L = {}, bits = {}, clip = {}, levels = {}, max weight = {}",
        f.vector_len,
        f.bits.get(),
        f.clip,
        f.levels,
        f.max_weight
    );
    println!("  deadlines (ms)  {:?}", f.round_timeout_ms);
    if let (Some(dp), Some(d)) = (&f.dp, cfg.session.as_ref().and_then(|s| s.dp.as_ref())) {
        println!(
            "  dp              epsilon {} over {} session(s), {:?}, L2 clip {}, scale {:.4e}, padded L = {}",
            d.epsilon,
            d.rounds,
            dp.mechanism(),
            d.l2_clip.unwrap_or(DEFAULT_DP_CLIP),
            dp.scale(),
            dp.padded_dim()
        );
    }
    if let Some(h) = cfg
        .histogram
        .as_ref()
        .filter(|_| cfg.task == TaskKind::Histogram)
    {
        println!(
            "  histogram       domains {:?}: each client inputs one tuple as a multi-hot vector of {} cells; {} estimates in the report",
            h.domains,
            h.domains.iter().map(|&k| u64::from(k)).sum::<u64>(),
            if f.dp.is_some() { "noisy (distributed DP)" } else { "exact" }
        );
    }
    println!(
        "  metrics         {}",
        cfg.metrics_listen
            .map(|a| format!("http://{a}/metrics, /healthz, /readyz"))
            .unwrap_or_else(|| "off".into())
    );
    println!(
        "  results         {}",
        cfg.result_dir
            .as_ref()
            .map(|d| format!("{} (writable)", d.display()))
            .unwrap_or_else(|| "standard output".into())
    );
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

/// The commit step of a session: its report stored durably (a file in `result_dir`, or
/// standard output) before any client is told its outcome; if it cannot be, the clients are
/// told the session aborted (code 5) and the process fails.
fn committer(
    result_dir: Option<PathBuf>,
    histogram: Option<Arc<HistogramTask>>,
) -> impl FnOnce(&secagg::transport::coordinator::SessionReport) -> std::io::Result<()> + Send + 'static
{
    move |report| {
        let member = histogram.map(|h| ("histogram", h.report_member(report)));
        match &result_dir {
            Some(dir) => result_file::write_report_with(dir, report, member).map(|path| {
                info!(path = %path.display(), "session report written");
            }),
            None => {
                let stdout = std::io::stdout();
                let mut w = std::io::BufWriter::new(stdout.lock());
                result_file::write_json_with(&mut w, report, member)
                    .and_then(|()| std::io::Write::flush(&mut w))
            }
        }
    }
}

/// A histogram task's report member: the shape and the frequency estimates of the sum.
struct HistogramTask {
    spec: HistogramSpec,
    /// `[session.dp].delta` if set (else the calibration's default for the session's n).
    delta: Option<f64>,
}

impl HistogramTask {
    fn report_member(
        &self,
        report: &secagg::transport::coordinator::SessionReport,
    ) -> serde_json::Value {
        let estimates = report.result.as_ref().ok().and_then(|o| {
            let delta = self
                .delta
                .unwrap_or_else(|| secagg::ddp::SessionDp::default_delta(report.params.n()));
            match self.spec.estimates(
                &report.params,
                &o.dequantized_sum(),
                o.included.len() as u64,
                delta,
            ) {
                Ok(e) => Some(e.to_json()),
                Err(e) => {
                    // Cannot happen for parameters the task built; logged, not fatal: the
                    // sum itself is in the report.
                    error!("histogram estimates: {e}");
                    None
                }
            }
        });
        serde_json::json!({"domains": self.spec.domains(), "estimates": estimates})
    }
}

/// How a session ended, for the exit status.
enum Settled {
    Ok,
    Failed,
    Drained,
    NotStored,
}

type Ran = Result<
    (
        secagg::transport::coordinator::SessionReport,
        std::io::Result<()>,
    ),
    secagg::transport::TransportError,
>;

/// Logs how session `s` ended and classifies it.
fn settle(s: u32, ran: Ran, result_dir: Option<&std::path::Path>) -> Settled {
    match ran {
        Ok((report, stored)) => {
            info!(
                session = s,
                connections = report.connections,
                refused = report.refused,
                rejected_messages = report.rejected,
                bytes_in = report.bytes_in,
                bytes_out = report.bytes_out,
                ms = report.elapsed.as_millis() as u64,
                "session finished"
            );
            // A result is stored durably or the process fails: never silently nowhere.
            if let Err(e) = stored {
                match result_dir {
                    Some(dir) => error!(dir = %dir.display(), "session report NOT written: {e}"),
                    None => error!("session report NOT written to stdout: {e}"),
                }
                return Settled::NotStored;
            }
            // A session aborted by the drain is an orderly stop, not a failure.
            if matches!(&report.result, Err(e) if e.reason != AbortReason::Shutdown) {
                Settled::Failed
            } else {
                Settled::Ok
            }
        }
        Err(secagg::transport::TransportError::Draining) => Settled::Drained,
        Err(e @ secagg::transport::TransportError::QuorumNotReached { .. }) => {
            // No session ran; the members were told to retry (code 9). Not a failure of the
            // coordinator, but counted so an operator sees it in the exit status.
            warn!("session {s}: {e}");
            Settled::Failed
        }
        Err(e) => {
            error!("session {s}: {e}");
            Settled::Failed
        }
    }
}

async fn serve(cfg: Config, prepared: Prepared) -> i32 {
    let Prepared {
        cohort,
        authenticator,
        client_ca,
        roster,
        identity,
        first,
    } = prepared;
    let (identity, new_key) = identity;
    if let (None, Some(out), Some(key_pem)) = (&cfg.tls.cert, &cfg.tls.dev_cert_out, new_key) {
        let key = dev_key_path(out);
        if let Err(e) = write_private(&key, key_pem.as_bytes())
            .and_then(|()| std::fs::write(out, &identity.cert_pem))
        {
            error!(path = %out.display(), "dev_cert_out is not writable: {e}");
            return 2;
        }
        info!(path = %out.display(), key = %key.display(), "dev mode: self-signed certificate written");
    } else if let (None, Some(out)) = (&cfg.tls.cert, &cfg.tls.dev_cert_out) {
        info!(path = %out.display(), "dev mode: the existing self-signed certificate is kept");
    }
    let opts = CoordinatorOptions {
        authenticator,
        client_ca,
        ..CoordinatorOptions::default()
    };
    let coordinator = match Coordinator::bind(cfg.listen, &identity, opts) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            error!("bind {}: {e}", cfg.listen);
            return 2;
        }
    };
    if let Some(addr) = cfg.metrics_listen {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                info!(addr = ?l.local_addr().ok(), "metrics and health on HTTP");
                let c = coordinator.clone();
                tokio::spawn(secagg::transport::metrics::serve_http(
                    l,
                    coordinator.metrics(),
                    Arc::new(move || !c.is_draining()),
                ));
            }
            Err(e) => {
                error!("metrics_listen {addr}: {e}");
                return 2;
            }
        }
    }
    // SIGTERM / SIGINT: drain. A second signal does not cut the grace period short: a
    // report must still be written.
    {
        let (c, grace) = (coordinator.clone(), Duration::from_secs(cfg.grace_period_s));
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                error!("cannot install signal handlers");
                return;
            };
            let which = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            warn!(
                signal = which,
                grace_s = grace.as_secs(),
                "draining: no new connections; the running session has the grace period to finish"
            );
            c.drain(grace);
        });
    }
    info!(addr = ?coordinator.local_addr().ok(), sessions = cfg.sessions, "listening");
    let mut failures = 0;
    let mut first = Some(first);
    let concurrent = cohort.is_some() && cfg.max_concurrent_sessions > 1;
    // Concurrent sessions (cohort mode): a session's check-in opens once the previous
    // session's cohort has closed and fewer than `max_concurrent_sessions` are running.
    let slots = Arc::new(tokio::sync::Semaphore::new(
        cfg.max_concurrent_sessions.max(1) as usize,
    ));
    let mut running = tokio::task::JoinSet::new();
    let session_cfg = cfg.session.clone().map(Arc::new);
    let histogram = match cfg.task {
        TaskKind::Histogram => match histogram_spec(&cfg) {
            Ok(spec) => Some(Arc::new(HistogramTask {
                spec,
                delta: cfg
                    .session
                    .as_ref()
                    .and_then(|s| s.dp.as_ref())
                    .and_then(|d| d.delta),
            })),
            Err(e) => {
                error!("{e}");
                return 2;
            }
        },
        _ => None,
    };
    for s in 0..cfg.sessions {
        if coordinator.is_draining() {
            break;
        }
        if cfg.task == TaskKind::Ldp {
            let next = match first.take() {
                Some(First::Ldp(p, ids)) => Ok((p, ids)),
                _ => match &cfg.ldp {
                    Some(l) => ldp_params(l, s, roster.as_deref()),
                    None => Err("no [ldp] table".into()),
                },
            };
            let (p, ids) = match next {
                Ok(x) => x,
                Err(e) => {
                    error!("LDP session parameters: {e}");
                    return 2;
                }
            };
            let min = cfg.ldp.as_ref().map_or(1, |l| l.min_reports);
            match coordinator.run_ldp_session(p, ids, min).await {
                Ok(report) => {
                    info!(
                        session = s,
                        accepted = report.accepted,
                        rejected = report.rejected,
                        refused = report.refused,
                        bytes_in = report.bytes_in,
                        ms = report.elapsed.as_millis() as u64,
                        "LDP session finished"
                    );
                    let written = match &cfg.result_dir {
                        Some(dir) => result_file::write_ldp_report(dir, &report).map(
                            |path| info!(path = %path.display(), "LDP session report written"),
                        ),
                        None => {
                            let stdout = std::io::stdout();
                            let mut w = std::io::BufWriter::new(stdout.lock());
                            result_file::write_ldp_json(&mut w, &report)
                                .and_then(|()| std::io::Write::flush(&mut w))
                        }
                    };
                    if let Err(e) = written {
                        error!("LDP session report NOT written: {e}");
                        coordinator.shutdown(Duration::from_secs(2)).await;
                        return 3;
                    }
                    if report.status.is_err() && !coordinator.is_draining() {
                        failures += 1;
                    }
                }
                Err(e) => {
                    error!("LDP session {s}: {e}");
                    failures += 1;
                }
            }
            continue;
        }
        let Some(session_cfg) = session_cfg.clone() else {
            error!("task \"secagg\" needs a [session] table");
            return 2;
        };
        let fixed = if cohort.is_some() {
            None
        } else {
            match first
                .take()
                .and_then(|f| match f {
                    First::Secagg(p) => Some(Ok(p)),
                    First::Ldp(..) => None,
                })
                .unwrap_or_else(|| params(&session_cfg, s, roster.as_deref(), None))
            {
                Ok(p) => Some(p),
                Err(e) => {
                    error!("session parameters: {e}");
                    return 2;
                }
            }
        };
        let commit = committer(cfg.result_dir.clone(), histogram.clone());
        let ran = match (fixed, &cohort) {
            (Some(p), _) => coordinator.run_session_committed(p, commit).await,
            (None, Some(c)) if concurrent => {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                let (tx, rx) = tokio::sync::oneshot::channel();
                let (coord, c, session, roster) = (
                    coordinator.clone(),
                    c.clone(),
                    session_cfg.clone(),
                    roster.clone(),
                );
                running.spawn(async move {
                    let build =
                        |ids: Vec<ParticipantId>| params(&session, s, roster.as_deref(), Some(ids));
                    let ran = coord.run_cohort_session(&c, build, commit, Some(tx)).await;
                    drop(slot);
                    (s, ran)
                });
                // Open the next check-in only once this one has closed.
                let _ = rx.await;
                // Settle the sessions that ended meanwhile.
                while let Some(Ok((s, ran))) = running.try_join_next() {
                    match settle(s, ran, cfg.result_dir.as_deref()) {
                        Settled::Ok => {}
                        Settled::Failed => failures += 1,
                        Settled::Drained => {}
                        Settled::NotStored => {
                            coordinator.shutdown(Duration::from_secs(2)).await;
                            return 3;
                        }
                    }
                }
                continue;
            }
            (None, Some(c)) => {
                let (session, roster) = (&*session_cfg, roster.as_deref());
                let build = |ids: Vec<ParticipantId>| params(session, s, roster, Some(ids));
                coordinator.run_cohort_session(c, build, commit, None).await
            }
            (None, None) => Err(secagg::transport::TransportError::Config(
                "no session parameters".into(),
            )),
        };
        match settle(s, ran, cfg.result_dir.as_deref()) {
            Settled::Ok => {}
            Settled::Failed => failures += 1,
            Settled::Drained => break,
            Settled::NotStored => {
                coordinator.shutdown(Duration::from_secs(2)).await;
                return 3;
            }
        }
    }
    while let Some(joined) = running.join_next().await {
        let Ok((s, ran)) = joined else {
            failures += 1;
            continue;
        };
        match settle(s, ran, cfg.result_dir.as_deref()) {
            Settled::Ok | Settled::Drained => {}
            Settled::Failed => failures += 1,
            Settled::NotStored => {
                coordinator.shutdown(Duration::from_secs(2)).await;
                return 3;
            }
        }
    }
    // Wait until the peers have been told (bounded), so closes are not lost at exit.
    coordinator.shutdown(Duration::from_secs(2)).await;
    if coordinator.is_draining() {
        info!("drained; exiting");
    }
    if failures > 0 {
        1
    } else {
        0
    }
}
