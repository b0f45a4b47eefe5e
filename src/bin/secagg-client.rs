//! `secagg-client`: takes part in one session with a vector read from a file.
//!
//! ```text
//! secagg-client --server coordinator.example:4433 --cert coordinator-cert.pem --id 3 \
//!     --token-file my-token.txt --input update.f32 [--format f32|csv] [--weight 1]
//! ```
//!
//! Formats: `f32` is raw little-endian IEEE 754 single precision (4 bytes per coordinate);
//! `csv` is numbers separated by commas, spaces or newlines.
//!
//! Authentication: `--token`/`--token-file` (a bearer or HMAC token, sent in the Hello), or
//! `--client-cert`/`--client-key` (mutual TLS). Active model: `--identity-seed HEX64` gives the
//! Ed25519 identity and `--roster FILE` the identity keys this client trusts (`ID HEXKEY` per
//! line); the client then refuses semi-honest sessions and any key that differs from the roster.
//! `--print-identity` prints the identity's public key and exits.
//!
//! Policy: `ClientPolicy::new` defaults (spec section 17) with `--min-clients N` (default 10)
//! and `--corrupt-rate R` (default 0.05, the fraction of clients assumed to collude with the
//! coordinator).
//!
//! LDP sessions (spec `analytics.md`): `--ldp-values 3,1` sends one randomised report of
//! these attribute values instead of a vector (`--input` is then not needed), after checking
//! that the task is over `--ldp-domains 8,4` and that the true tuple-level privacy loss of its
//! report is at most `--ldp-max-epsilon` (default 4). Exit 0 when the coordinator counted it.
//!
//! Histogram tasks (spec `analytics.md`, "Histograms under SecAgg"): `--histogram-values 3,1
//! --histogram-domains 8,4` inputs this tuple as a multi-hot vector with weight 1, after
//! checking that the session sums histograms of that shape exactly (or, with DP, without
//! clipping them); the coordinator's report carries the frequency estimates.
//!
//! Exit codes: 0 the sum includes this input (LDP: the report was counted); 10 excluded (a sum exists without it); 11 the
//! session was aborted (no sum); 12 refused or cut off by the coordinator or the network
//! (unauthorized, busy, shutdown, timeout, ...); 13 the parameters were refused by this
//! client's policy; 2 bad arguments or unreadable files.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use clap::{Parser, ValueEnum};
use getrandom::SysRng;
use secagg::analytics::histogram::HistogramSpec;
use secagg::crypto::sign::SigningKey;
use secagg::ids::ParticipantId;
use secagg::protocol::{ClientPolicy, Roster};
use secagg::transport::client::Retry;
use secagg::transport::tls::{
    client_config_with_identity, client_endpoint, read_certs_pem, TlsIdentity,
};
use secagg::transport::{
    participate, participate_histogram, send_ldp_report, ClientOptions, ClientOutcome,
    LdpClientOptions, TransportError,
};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "secagg-client",
    version,
    about = "Take part in one secure-aggregation session"
)]
struct Cli {
    /// Coordinator address, HOST:PORT (a name is resolved).
    #[arg(long, default_value = "127.0.0.1:4433")]
    server: String,
    /// Name in the coordinator's certificate (default: the host part of --server).
    #[arg(long)]
    server_name: Option<String>,
    /// PEM certificate(s) to trust for the coordinator.
    #[arg(long)]
    cert: Option<PathBuf>,
    /// This client's participant id (1..=65535).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    id: Option<u16>,
    /// The input vector.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value = "f32")]
    format: Format,
    /// Weight of this input.
    #[arg(long, default_value_t = 1)]
    weight: u32,
    /// Token to present in the Hello (prefer --token-file: arguments are visible to other users).
    #[arg(long, conflicts_with = "token_file")]
    token: Option<String>,
    /// File holding the token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[arg(long, requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// Ed25519 identity seed (64 hex digits), for the active model.
    #[arg(long)]
    identity_seed: Option<String>,
    /// Print the identity public key for --identity-seed and exit.
    #[arg(long, requires = "identity_seed")]
    print_identity: bool,
    /// Identity keys to trust (`ID HEXKEY` per line); required with --identity-seed.
    #[arg(long, requires = "identity_seed")]
    roster: Option<PathBuf>,
    /// Smallest cohort this client accepts.
    #[arg(long, default_value_t = 10)]
    min_clients: usize,
    /// Fraction of clients assumed to collude with the coordinator (sets the corruption bound
    /// the session must tolerate).
    #[arg(long, default_value_t = 0.05)]
    corrupt_rate: f64,
    /// LDP session: this client's attribute values (comma-separated), sent as one randomised
    /// report instead of a vector.
    #[arg(long, value_delimiter = ',', requires = "ldp_domains")]
    ldp_values: Option<Vec<u32>>,
    /// LDP session: the domain sizes the values are for; a task over other domains is refused.
    #[arg(long, value_delimiter = ',')]
    ldp_domains: Option<Vec<u32>>,
    /// Histogram task: this client's attribute values (comma-separated), input as a multi-hot
    /// vector under secure aggregation.
    #[arg(long, value_delimiter = ',', requires = "histogram_domains", conflicts_with_all = ["input", "ldp_values"])]
    histogram_values: Option<Vec<u32>>,
    /// Histogram task: the domain sizes; a session of another shape is refused.
    #[arg(long, value_delimiter = ',')]
    histogram_domains: Option<Vec<u32>>,
    /// LDP session: the largest true tuple-level privacy loss this client accepts.
    #[arg(long, default_value_t = 4.0)]
    ldp_max_epsilon: f64,
    /// Longest wait for any coordinator message, in seconds (cover the longest round deadline).
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
    /// Retries of a connection the coordinator refused before the session (at capacity, or no
    /// session open), with exponential backoff and jitter.
    #[arg(long, default_value_t = 8)]
    retries: u32,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    F32,
    Csv,
}

fn read_input(path: &PathBuf, format: Format) -> Result<Vec<f64>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match format {
        Format::F32 => {
            if bytes.len() % 4 != 0 {
                return Err(format!(
                    "{}: {} bytes is not a whole number of f32 values",
                    path.display(),
                    bytes.len()
                ));
            }
            Ok(bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .collect())
        }
        Format::Csv => String::from_utf8_lossy(&bytes)
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<f64>().map_err(|e| format!("{s:?}: {e}")))
            .collect(),
    }
}

fn parse_seed(s: &str) -> Result<[u8; 32], String> {
    let mut k = [0u8; 32];
    if s.len() != 64 || !s.is_ascii() {
        return Err("--identity-seed needs 64 hex digits".into());
    }
    for (i, b) in k.iter_mut().enumerate() {
        *b = s
            .get(2 * i..2 * i + 2)
            .and_then(|d| u8::from_str_radix(d, 16).ok())
            .ok_or("--identity-seed needs 64 hex digits")?;
    }
    Ok(k)
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("secagg-client: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let seed = match cli.identity_seed.as_deref().map(parse_seed).transpose() {
        Ok(s) => s.map(Zeroizing::new),
        Err(e) => return usage(e),
    };
    if cli.print_identity {
        if let Some(s) = &seed {
            let pk = SigningKey::from_seed(s).verifying_key().to_bytes();
            println!(
                "{}",
                pk.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
        }
        return ExitCode::SUCCESS;
    }
    let (Some(cert), Some(id)) = (&cli.cert, cli.id) else {
        return usage("--cert and --id are required (see --help)");
    };
    if cli.input.is_none() && cli.ldp_values.is_none() && cli.histogram_values.is_none() {
        return usage(
            "--input (or --ldp-values for an LDP session, --histogram-values for a histogram task) is required (see --help)",
        );
    }
    let histogram = match (&cli.histogram_values, &cli.histogram_domains) {
        (Some(v), Some(k)) => {
            let spec = match HistogramSpec::new(k) {
                Ok(s) => s,
                Err(e) => return usage(format!("--histogram-domains {k:?}: {e}")),
            };
            if let Err(e) = spec.input(v) {
                return usage(format!("--histogram-values {v:?}: {e}"));
            }
            Some((spec, v.clone()))
        }
        _ => None,
    };
    if let (Some(v), Some(k)) = (&cli.ldp_values, &cli.ldp_domains) {
        if v.len() != k.len() || v.iter().zip(k).any(|(v, k)| v >= k) {
            return usage(format!(
                "--ldp-values {v:?} do not fit --ldp-domains {k:?} (one value in [0, k) each)"
            ));
        }
    }
    let Some(id) = ParticipantId::new(id) else {
        return usage("--id must be in 1..=65535");
    };
    let server: SocketAddr = match cli.server.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        Ok(None) => return usage(format!("--server {}: no address", cli.server)),
        Err(e) => return usage(format!("--server {}: {e} (expected HOST:PORT)", cli.server)),
    };
    let server_name = cli.server_name.clone().unwrap_or_else(|| {
        cli.server
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(['[', ']']).to_string())
            .unwrap_or_else(|| cli.server.clone())
    });
    let values = match (&cli.input, &cli.ldp_values) {
        (Some(input), _) => match read_input(input, cli.format) {
            Ok(v) => v,
            Err(e) => return usage(format!("input: {e}")),
        },
        _ => Vec::new(),
    };
    let Ok(len) = u32::try_from(values.len()) else {
        return usage("input longer than 2^32 - 1 values");
    };
    // The policy's vector length: the histogram's cells for a histogram task.
    let len = histogram
        .as_ref()
        .map_or(len, |(spec, _)| spec.vector_len());
    let token = match (&cli.token, &cli.token_file) {
        (Some(t), _) => Zeroizing::new(t.clone().into_bytes()),
        (None, Some(p)) => match std::fs::read_to_string(p) {
            Ok(t) => Zeroizing::new(t.trim().as_bytes().to_vec()),
            Err(e) => return usage(format!("--token-file {}: {e}", p.display())),
        },
        (None, None) => Zeroizing::new(Vec::new()),
    };
    let client_tls = match (&cli.client_cert, &cli.client_key) {
        (Some(c), Some(k)) => match TlsIdentity::from_pem_files(c, k) {
            Ok(i) => Some(i),
            Err(e) => return usage(format!("client certificate {}: {e}", c.display())),
        },
        _ => None,
    };
    let mut policy = ClientPolicy::new(len);
    policy.participants.0 = cli.min_clients;
    if !(0.0..1.0).contains(&cli.corrupt_rate) {
        return usage("--corrupt-rate must be in [0, 1)");
    }
    policy.assumed_corrupt_rate = cli.corrupt_rate;
    match (&seed, &cli.roster) {
        (Some(_), Some(path)) => {
            let roster = std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| Roster::parse_text(&t).map_err(|e| e.to_string()));
            match roster {
                Ok(r) => policy = policy.require_active(r),
                Err(e) => return usage(format!("--roster {}: {e}", path.display())),
            }
        }
        (Some(_), None) => {
            return usage("--identity-seed (active model) needs --roster FILE: the keys to trust")
        }
        _ => {}
    }
    let roots = match read_certs_pem(cert) {
        Ok(r) if !r.is_empty() => r,
        Ok(_) => return usage(format!("--cert {}: no certificate", cert.display())),
        Err(e) => return usage(format!("--cert {}: {e}", cert.display())),
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return usage(format!("tokio runtime: {e}")),
    };
    let outcome = rt.block_on(async {
        let cfg =
            client_config_with_identity(&roots, Duration::from_secs(60), client_tls.as_ref())?;
        let bind = if server.is_ipv6() {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        };
        let endpoint = client_endpoint(
            bind.parse()
                .map_err(|_| TransportError::Config("bind".into()))?,
        )?;
        let opts = ClientOptions {
            server,
            server_name,
            id,
            credential: token,
            connect_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(cli.timeout_s.max(1)),
            policy,
            retry: Retry {
                attempts: cli.retries,
                ..Retry::default()
            },
            vanish: None,
        };
        let mut rng = ChaCha20Rng::try_from_rng(&mut SysRng)
            .map_err(|e| TransportError::Config(e.to_string()))?;
        if let (Some(ldp_values), Some(domains)) = (&cli.ldp_values, &cli.ldp_domains) {
            let ldp = LdpClientOptions {
                server: opts.server,
                server_name: opts.server_name.clone(),
                id,
                credential: opts.credential.clone(),
                connect_timeout: opts.connect_timeout,
                message_timeout: opts.message_timeout,
                max_tuple_epsilon: cli.ldp_max_epsilon,
                domains: domains.clone(),
            };
            let r = send_ldp_report(&endpoint, cfg, &ldp, ldp_values, &mut rng).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
            return r.map(|receipt| {
                println!(
                    "{id}: LDP report counted ({}, {:?})",
                    receipt.protocol, receipt.privacy
                );
                ClientOutcome::Included
            });
        }
        let identity = seed.as_deref().map(SigningKey::from_seed);
        let r = match &histogram {
            Some((spec, v)) => {
                participate_histogram(&endpoint, cfg, &opts, identity, spec, v, &mut rng).await
            }
            None => {
                participate(
                    &endpoint, cfg, &opts, identity, &values, cli.weight, &mut rng,
                )
                .await
            }
        };
        // Let the close reach the coordinator before the process exits.
        let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
        r
    });
    match outcome {
        Ok(ClientOutcome::Included) if cli.ldp_values.is_some() => ExitCode::SUCCESS,
        Ok(ClientOutcome::Included) => {
            println!("{id}: included");
            ExitCode::SUCCESS
        }
        Ok(ClientOutcome::Excluded) => {
            println!("{id}: excluded (the sum was computed without this input)");
            ExitCode::from(10)
        }
        Ok(o) => {
            println!("{id}: aborted ({o:?}); no sum was computed");
            ExitCode::from(11)
        }
        Err(e @ TransportError::Policy(_)) => {
            eprintln!("{id}: {e}");
            ExitCode::from(13)
        }
        Err(e) => {
            eprintln!("{id}: {e}");
            ExitCode::from(12)
        }
    }
}
