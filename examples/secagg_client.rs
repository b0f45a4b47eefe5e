//! Takes part in one session by hand: reads a vector from a file and connects to a coordinator.
//!
//! ```text
//! cargo run --release --bin secagg-coordinator -- serve --config coordinator.toml &
//! cargo run --release --example secagg-client -- --server 127.0.0.1:4433 \
//!     --cert coordinator-cert.pem --id 3 --input update.f32 [--format f32|csv] [--weight 1]
//! ```
//!
//! Formats: `f32` is raw little-endian IEEE 754 single precision (4 bytes per coordinate);
//! `csv` is numbers separated by commas, spaces or newlines.
//!
//! Active model: `--identity-seed HEX64` gives the client's Ed25519 identity;
//! `--identity-seed HEX64 --print-identity` prints its public key (for the coordinator's
//! `identity_keys_file`) and exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use getrandom::SysRng;
use secagg::crypto::sign::SigningKey;
use secagg::ids::ParticipantId;
use secagg::transport::tls::{client_config, client_endpoint, read_certs_pem};
use secagg::transport::{participate, ClientOptions, ParamsPolicy};

fn read_input(path: &PathBuf, format: &str) -> Result<Vec<f64>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match format {
        "f32" => {
            if bytes.len() % 4 != 0 {
                return Err(format!(
                    "{} bytes is not a whole number of f32 values",
                    bytes.len()
                ));
            }
            Ok(bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .collect())
        }
        "csv" => String::from_utf8_lossy(&bytes)
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<f64>().map_err(|e| format!("{s:?}: {e}")))
            .collect(),
        f => Err(format!("unknown format {f} (f32 or csv)")),
    }
}

fn main() {
    let mut server: SocketAddr = "127.0.0.1:4433".parse().expect("literal");
    let (mut cert, mut input, mut id, mut format, mut weight, mut name) = (
        None,
        None,
        None,
        "f32".to_string(),
        1u32,
        "localhost".to_string(),
    );
    let (mut seed, mut print_identity) = (None::<[u8; 32]>, false);
    let mut token = String::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--print-identity" {
            print_identity = true;
            continue;
        }
        let v = it.next().unwrap_or_default();
        match flag.as_str() {
            "--server" => server = v.parse().expect("--server ADDR:PORT"),
            "--server-name" => name = v,
            "--token" => token = v,
            "--token-file" => {
                token = match std::fs::read_to_string(&v) {
                    Ok(t) => t.trim().to_string(),
                    Err(e) => {
                        eprintln!("--token-file {v}: {e}");
                        std::process::exit(2);
                    }
                }
            }
            "--cert" => cert = Some(PathBuf::from(v)),
            "--input" => input = Some(PathBuf::from(v)),
            "--id" => id = v.parse::<u16>().ok().and_then(ParticipantId::new),
            "--format" => format = v,
            "--weight" => weight = v.parse().expect("--weight N"),
            "--identity-seed" => {
                let mut k = [0u8; 32];
                if v.len() != 64 || !v.is_ascii() {
                    eprintln!("--identity-seed needs 64 hex digits");
                    std::process::exit(2);
                }
                for (i, b) in k.iter_mut().enumerate() {
                    *b = u8::from_str_radix(&v[2 * i..2 * i + 2], 16).expect("hex digits");
                }
                seed = Some(k);
            }
            _ => {
                eprintln!("unknown flag {flag}");
                std::process::exit(2);
            }
        }
    }
    if print_identity {
        match seed {
            Some(s) => {
                let pk = SigningKey::from_seed(&s).verifying_key().to_bytes();
                println!(
                    "{}",
                    pk.iter().map(|b| format!("{b:02x}")).collect::<String>()
                );
                return;
            }
            None => {
                eprintln!("--print-identity needs --identity-seed");
                std::process::exit(2);
            }
        }
    }
    let (Some(cert), Some(input), Some(id)) = (cert, input, id) else {
        eprintln!(
            "usage: --cert PEM --input FILE --id N [--server ADDR] [--format f32|csv] [--weight W]"
        );
        std::process::exit(2);
    };
    let values = match read_input(&input, &format) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("input: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let outcome = rt.block_on(async {
        let roots = read_certs_pem(&cert)?;
        let cfg = client_config(&roots, Duration::from_secs(60))?;
        let endpoint = client_endpoint("0.0.0.0:0".parse().expect("literal"))?;
        let opts = ClientOptions {
            server,
            server_name: name,
            id,
            credential: zeroize::Zeroizing::new(token.clone().into_bytes()),
            connect_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(300),
            policy: ParamsPolicy::for_len(values.len() as u32),
            vanish: None,
        };
        let mut rng = ChaCha20Rng::try_from_rng(&mut SysRng)
            .map_err(|e| secagg::transport::TransportError::Config(e.to_string()))?;
        let identity = seed.map(|s| SigningKey::from_seed(&s));
        participate(&endpoint, cfg, &opts, identity, &values, weight, &mut rng).await
    });
    match outcome {
        Ok(o) => println!("{id}: {o:?}"),
        Err(e) => {
            eprintln!("{id}: {e}");
            std::process::exit(1);
        }
    }
}
