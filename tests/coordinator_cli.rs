//! The `secagg-coordinator` binary as an operator meets it: configuration errors are reported
//! before the port is bound, authentication is required outside dev mode, and every session
//! report is stored (a result file, or standard output) or the process fails.
#![cfg(feature = "quic")]

mod protocol_common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use protocol_common::unique_inputs;
use secagg::ids::ParticipantId;
use secagg::transport::tls::{client_config, client_endpoint, read_certs_pem};
use secagg::transport::{participate, ClientOptions, ClientOutcome};

const BIN: &str = env!("CARGO_BIN_EXE_secagg-coordinator");

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("secagg-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(config: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "secagg=info")
        .output()
        .unwrap()
}

fn session_toml(extra: &str) -> String {
    format!(
        "[session]\nclients = 3\nvector_len = 4\ngraph = \"complete\"\nthreshold = 2\n\
         levels = 65537\nround_timeout_ms = [5000, 5000, 5000, 5000, 5000]\n{extra}"
    )
}

/// Finding 5: a `result_dir` below a regular file was accepted and the sum stored nowhere.
#[test]
fn unwritable_result_dir_fails_before_binding() {
    let d = temp_dir("rdir");
    std::fs::write(d.join("file"), b"x").unwrap();
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\nresult_dir = \"{}\"\n[tls]\ndev_cert_out = \"{}\"\n{}",
            d.join("file/results").display(),
            d.join("cert.pem").display(),
            session_toml("")
        ),
    )
    .unwrap();
    let out = run(&cfg);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is not writable"), "{err}");
    assert!(err.contains("file/results"), "{err}");
    assert!(!err.contains("listening"), "{err}");
    assert!(
        !d.join("cert.pem").exists(),
        "dev certificate written by a failed start"
    );
}

/// Findings 9 and 10: bad session parameters were reported after binding, and the failed start
/// had already rewritten the dev certificate.
#[test]
fn bad_parameters_fail_before_binding_and_write_no_certificate() {
    let d = temp_dir("params");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\n[tls]\ndev_cert_out = \"{}\"\n[session]\nclients = 3\n\
             vector_len = 4\ngraph = \"complete\"\nthreshold = 9\n",
            d.join("cert.pem").display()
        ),
    )
    .unwrap();
    let out = run(&cfg);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("session parameters"), "{err}");
    assert!(!err.contains("listening"), "{err}");
    assert!(!d.join("cert.pem").exists());
}

/// Finding 1 at the binary: with a real certificate (not dev mode) the coordinator refuses to
/// start without participant authentication.
#[test]
fn authentication_is_required_outside_dev_mode() {
    let d = temp_dir("auth");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\n[tls]\ncert = \"{0}/cert.pem\"\nkey = \"{0}/key.pem\"\n{1}",
            d.display(),
            session_toml("")
        ),
    )
    .unwrap();
    let out = run(&cfg);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("must be authenticated"), "{err}");
}

/// Starts the coordinator and returns it with its address (parsed from the "listening" log).
fn start(
    cfg: &Path,
) -> (
    std::process::Child,
    SocketAddr,
    std::thread::JoinHandle<String>,
) {
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(cfg)
        .env("RUST_LOG", "secagg=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("exited before listening: {seen}"))
            .unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.split("addr=Some(").nth(1) {
            break rest.split(')').next().unwrap().parse().unwrap();
        }
    };
    let rest = std::thread::spawn(move || {
        let mut all = seen;
        for l in lines.map_while(Result::ok) {
            all.push_str(&l);
            all.push('\n');
        }
        all
    });
    (child, addr, rest)
}

async fn clients(addr: SocketAddr, cert: &Path, tokens: Vec<String>) -> Vec<ClientOutcome> {
    let roots = read_certs_pem(cert).unwrap();
    let cfg = client_config(&roots, Duration::from_secs(20)).unwrap();
    let endpoint = client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap();
    let inputs = Arc::new(unique_inputs(3, 4));
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let opts = ClientOptions {
            server: addr,
            server_name: "localhost".into(),
            id: ParticipantId::new(i as u16 + 1).unwrap(),
            credential: token.into_bytes().into(),
            connect_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(20),
            policy: protocol_common::lenient_policy(4),
            retry: secagg::transport::client::Retry::default(),
            vanish: None,
        };
        let (cfg, endpoint, inputs) = (cfg.clone(), endpoint.clone(), inputs.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
            participate(&endpoint, cfg, &opts, None, &inputs[i], 1, &mut rng).await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap().unwrap());
    }
    out
}

fn check_report(v: &serde_json::Value) {
    assert_eq!(v["schema"], "secagg-result/1");
    assert_eq!(v["status"], "complete");
    assert_eq!(v["result"]["included"], serde_json::json!([1, 2, 3]));
    let inputs = unique_inputs(3, 4);
    let got = v["result"]["dequantized_sum"].as_array().unwrap();
    for (j, g) in got.iter().enumerate() {
        let want: f64 = inputs.iter().map(|x| x[j]).sum();
        assert!(
            (g.as_f64().unwrap() - want).abs() < 1e-9,
            "{j}: {g} vs {want}"
        );
    }
}

/// Finding 5: without `result_dir` the sum was thrown away with no warning. The report now goes
/// to standard output (and the log says so); with `result_dir` it is a file. Authentication
/// by token file through the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_is_stored_on_stdout_or_in_result_dir() {
    let d = temp_dir("session");
    let tokens: Vec<String> = (1..=3).map(|i| format!("{i:0>40}")).collect();
    let registry: String = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{} {t}\n", i + 1))
        .collect();
    std::fs::write(d.join("participants.txt"), registry).unwrap();
    for with_dir in [false, true] {
        let cfg = d.join(format!("c{with_dir}.toml"));
        let result_dir = if with_dir {
            format!("result_dir = \"{}\"\n", d.join("results").display())
        } else {
            String::new()
        };
        std::fs::write(
            &cfg,
            format!(
                "listen = \"127.0.0.1:0\"\n{result_dir}[tls]\ndev_cert_out = \"{}\"\n\
                 [auth]\nmode = \"token-file\"\ntoken_file = \"{}\"\n{}",
                d.join("cert.pem").display(),
                d.join("participants.txt").display(),
                session_toml("")
            ),
        )
        .unwrap();
        let (mut child, addr, log) = start(&cfg);
        let outcomes = clients(addr, &d.join("cert.pem"), tokens.clone()).await;
        assert_eq!(outcomes, vec![ClientOutcome::Included; 3]);
        let mut stdout = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        let status = child.wait().unwrap();
        let log = log.join().unwrap();
        assert!(status.success(), "{log}");
        if with_dir {
            assert!(stdout.trim().is_empty(), "{stdout}");
            let files: Vec<_> = std::fs::read_dir(d.join("results"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            assert_eq!(files.len(), 1, "{files:?}");
            check_report(&serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap());
            assert!(log.contains("session report written"), "{log}");
        } else {
            assert!(log.contains("no result_dir"), "{log}");
            check_report(&serde_json::from_str(stdout.trim()).unwrap());
        }
    }
}

/// Results durable before success is reported: the result directory disappears (a regular
/// file takes its place) while the session runs. Before, the clients were told `Included` and
/// then the write failed; now the report is written before any `Finished` goes out, so the
/// clients are told the session aborted with code 5 (not stored), and the process exits 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_is_told_included_when_the_result_cannot_be_stored() {
    let d = temp_dir("notstored");
    let results = d.join("results");
    std::fs::create_dir_all(&results).unwrap();
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\nresult_dir = \"{}\"\n[tls]\ndev_cert_out = \"{}\"\n{}",
            results.display(),
            d.join("cert.pem").display(),
            session_toml("")
        ),
    )
    .unwrap();
    let (mut child, addr, log) = start(&cfg);
    // The directory passed the start-up check; now it is gone.
    std::fs::remove_dir_all(&results).unwrap();
    std::fs::write(&results, b"not a directory").unwrap();
    let outcomes = clients(addr, &d.join("cert.pem"), vec![String::new(); 3]).await;
    let status = child.wait().unwrap();
    let log = log.join().unwrap();
    for o in &outcomes {
        assert!(
            matches!(
                o,
                ClientOutcome::Aborted(a) if a.check == secagg::protocol::ClientCheck::ServerAborted(5)
            ),
            "{outcomes:?}\n{log}"
        );
    }
    assert_eq!(status.code(), Some(3), "{log}");
    assert!(log.contains("session report NOT written"), "{log}");
}

/// Cohort mode through the binary: 5 eligible, quorum 3; 3 check in, the cohort closes at its
/// deadline and the session runs for those 3 (parameters built for n = 3), report stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cohort_mode_runs_with_the_clients_that_checked_in() {
    let d = temp_dir("cohort");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\nresult_dir = \"{}\"\n[tls]\ndev_cert_out = \"{}\"\n\
             [session]\nclients = 5\nmin_clients = 3\ncheckin_timeout_ms = 1500\nvector_len = 4\n\
             graph = \"complete\"\nthreshold = 2\nlevels = 65537\n\
             round_timeout_ms = [5000, 5000, 5000, 5000, 5000]\n",
            d.join("results").display(),
            d.join("cert.pem").display(),
        ),
    )
    .unwrap();
    let (mut child, addr, log) = start(&cfg);
    let outcomes = clients(addr, &d.join("cert.pem"), vec![String::new(); 3]).await;
    assert_eq!(outcomes, vec![ClientOutcome::Included; 3]);
    let status = child.wait().unwrap();
    let log = log.join().unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("cohort closed"), "{log}");
    let files: Vec<_> = std::fs::read_dir(d.join("results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    check_report(&v);
}

/// Distributed DP from the coordinator's configuration (issue 13): `[session.dp]` calibrates
/// the noise for the session (here for its t + 1 - c = 3 noisy clients), the parameters carry
/// it (so it is in the session id and the clients' policy sees it), the clients clip, rotate
/// and add noise, and the report records the configuration. The noisy sum is near the true
/// one: within 6 standard deviations of the predicted noise per coordinate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dp_from_the_configuration_reaches_clients_and_report() {
    let d = temp_dir("dp");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\nresult_dir = \"{}\"\n[tls]\ndev_cert_out = \"{}\"\n{}\
             [session.dp]\nepsilon = 8.0\nl2_clip = 4.0\n",
            d.join("results").display(),
            d.join("cert.pem").display(),
            session_toml(""),
        ),
    )
    .unwrap();
    let (mut child, addr, log) = start(&cfg);
    let outcomes = clients(addr, &d.join("cert.pem"), vec![String::new(); 3]).await;
    assert_eq!(outcomes, vec![ClientOutcome::Included; 3]);
    let status = child.wait().unwrap();
    let log = log.join().unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("dp calibrated"), "{log}");
    let files: Vec<_> = std::fs::read_dir(d.join("results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(v["status"], "complete");
    let dp = &v["parameters"]["dp"];
    assert_eq!(dp["dim"], 4, "{v}");
    assert_eq!(dp["mechanism"], "discrete-gaussian");
    let scale = dp["scale"].as_f64().unwrap();
    let sigma_client = (dp["noise_x65536"].as_f64().unwrap() / 65536.0).sqrt();
    // The sum's noise, in input units: sqrt(3) client shares, unscaled.
    let sd = (3.0f64).sqrt() * sigma_client / scale;
    let inputs = unique_inputs(3, 4);
    let got = v["result"]["dequantized_sum"].as_array().unwrap();
    assert_eq!(got.len(), 4);
    for (j, g) in got.iter().enumerate() {
        let want: f64 = inputs.iter().map(|x| x[j]).sum();
        let g = g.as_f64().unwrap();
        assert!(
            (g - want).abs() < 6.0 * sd + 1e-6,
            "{j}: {g} vs {want} (sd {sd})"
        );
    }
}

/// Concurrent sessions (cohort mode, `max_concurrent_sessions = 2`): session 0's cohort
/// (participants 1-4) closes and runs, one of its clients going silent in round 2 so it lasts
/// until that round's deadline; meanwhile session 1's check-in opens, participants 5-7 check
/// in, and session 1 finishes first. Both sums are exact for their included clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cohort_sessions_overlap() {
    let d = temp_dir("concurrent");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\nsessions = 2\nmax_concurrent_sessions = 2\n\
             result_dir = \"{}\"\n[tls]\ndev_cert_out = \"{}\"\n\
             [session]\nclients = 8\nmin_clients = 3\ncheckin_timeout_ms = 1000\nvector_len = 4\n\
             graph = \"complete\"\nthreshold = 2\nlevels = 65537\n\
             round_timeout_ms = [5000, 5000, 6000, 5000, 5000]\n",
            d.join("results").display(),
            d.join("cert.pem").display(),
        ),
    )
    .unwrap();
    let (mut child, addr, log) = start(&cfg);
    let roots = read_certs_pem(&d.join("cert.pem")).unwrap();
    let ccfg = client_config(&roots, Duration::from_secs(20)).unwrap();
    let endpoint = client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap();
    let inputs = Arc::new(unique_inputs(8, 4));
    let spawn = |i: usize, vanish: Option<secagg::protocol::sim::Vanish>| {
        let opts = ClientOptions {
            server: addr,
            server_name: "localhost".into(),
            id: ParticipantId::new(i as u16 + 1).unwrap(),
            credential: Vec::new().into(),
            connect_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(20),
            policy: protocol_common::lenient_policy(4),
            retry: secagg::transport::Retry::NEVER,
            vanish,
        };
        let (ccfg, endpoint, inputs) = (ccfg.clone(), endpoint.clone(), inputs.clone());
        tokio::spawn(async move {
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
            participate(&endpoint, ccfg, &opts, None, &inputs[i], 1, &mut rng).await
        })
    };
    let silent = secagg::protocol::sim::Vanish::Silent(secagg::ids::Round::MaskedInput);
    let first: Vec<_> = (0..4)
        .map(|i| spawn(i, (i == 3).then_some(silent)))
        .collect();
    // Session 0's cohort closes at its check-in deadline (1 s); then session 1's opens.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let second: Vec<_> = (4..7).map(|i| spawn(i, None)).collect();
    for h in second {
        assert_eq!(h.await.unwrap().unwrap(), ClientOutcome::Included);
    }
    for h in first {
        let _ = h.await.unwrap().unwrap();
    }
    let status = child.wait().unwrap();
    let log = log.join().unwrap();
    assert!(status.success(), "{log}");
    let finished: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("session finished"))
        .collect();
    assert_eq!(finished.len(), 2, "{log}");
    assert!(
        finished[0].contains("session=1") && finished[1].contains("session=0"),
        "session 1 should finish while session 0 waits for its round-2 deadline:\n{log}"
    );
    let mut reports: Vec<serde_json::Value> = std::fs::read_dir(d.join("results"))
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    reports.sort_by_key(|v| v["parameters"]["participants"][0].as_u64());
    let want_included = [vec![1u64, 2, 3, 4], vec![5, 6, 7]];
    for (v, want) in reports.iter().zip(want_included) {
        assert_eq!(v["status"], "complete", "{v}");
        let included: Vec<u64> = v["result"]["included"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        // Participant 4 went silent in round 2 (before its masked input): the sum is exactly
        // that of the included clients.
        assert!(included.iter().all(|i| want.contains(i)), "{included:?}");
        let got = v["result"]["dequantized_sum"].as_array().unwrap();
        for (j, g) in got.iter().enumerate() {
            let s: f64 = included.iter().map(|&i| inputs[i as usize - 1][j]).sum();
            assert!((g.as_f64().unwrap() - s).abs() < 1e-9);
        }
    }
}

/// Dev mode keeps its self-signed certificate across restarts (clients keep trusting the file
/// they were given): the key is stored beside it, readable by the owner only, and reused.
#[test]
fn dev_certificate_survives_a_restart() {
    let d = temp_dir("devcert");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\n[tls]\ndev_cert_out = \"{}\"\n{}",
            d.join("cert.pem").display(),
            session_toml("")
        ),
    )
    .unwrap();
    let mut certs = Vec::new();
    for _ in 0..2 {
        let (mut child, _addr, _log) = start(&cfg);
        certs.push(std::fs::read_to_string(d.join("cert.pem")).unwrap());
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(certs[0].contains("BEGIN CERTIFICATE"));
    assert_eq!(certs[0], certs[1], "the certificate changed on restart");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(d.join("cert.pem.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "key readable by others: {mode:o}");
}

/// The sample configuration in the repository validates (with the result directory moved to
/// a temporary one through the environment, which also checks the overrides).
#[test]
fn sample_config_validates() {
    let d = temp_dir("sample");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/coordinator.toml");
    let out = Command::new(BIN)
        .args(["validate", "--config"])
        .arg(&sample)
        .env("SECAGG_RESULT_DIR", d.join("results"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(": OK"), "{stdout}");
    assert!(stdout.contains("authentication  token-file"), "{stdout}");
    assert!(stdout.contains("participants    10 (1..=10)"), "{stdout}");
    assert!(
        stdout.contains(&format!("{} (writable)", d.join("results").display())),
        "{stdout}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
    // Nothing bound, no certificate written.
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/coordinator-cert.pem")
        .exists());
}

/// Finding 10: all-zero deadlines were accepted; `--version` did not exist.
#[test]
fn zero_deadlines_are_refused_and_version_is_printed() {
    let d = temp_dir("zero");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        "[tls]\ndev_cert_out = \"cert.pem\"\n[session]\nvector_len = 4\nround_timeout_ms = [0, 0, 0, 0, 0]\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["validate", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("every deadline must be positive"), "{err}");
    let v = Command::new(BIN).arg("--version").output().unwrap();
    assert!(v.status.success());
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("secagg-coordinator {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Finding 9: SIGTERM killed the process at once, with no log line, no record of the session
/// and no close to the clients. Now it drains: the running session (waiting for a third
/// client) is aborted after the grace period, the clients are told, the report is written and
/// the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_tells_the_clients_and_records_the_session() {
    let d = temp_dir("drain");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\nresult_dir = \"results\"\ngrace_period_s = 1\n\
         [tls]\ndev_cert_out = \"cert.pem\"\n[session]\nclients = 3\nvector_len = 4\n\
         graph = \"complete\"\nthreshold = 2\nround_timeout_ms = [30000, 30000, 30000, 30000, 30000]\n",
    )
    .unwrap();
    let (mut child, addr, log) = start(&cfg);
    let clients = tokio::spawn({
        let cert = d.join("cert.pem");
        async move {
            let roots = read_certs_pem(&cert).unwrap();
            let cfg = client_config(&roots, Duration::from_secs(20)).unwrap();
            let endpoint = client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap();
            let mut tasks = Vec::new();
            for i in 0..2u16 {
                let opts = ClientOptions {
                    server: addr,
                    server_name: "localhost".into(),
                    id: ParticipantId::new(i + 1).unwrap(),
                    credential: Default::default(),
                    connect_timeout: Duration::from_secs(10),
                    message_timeout: Duration::from_secs(20),
                    policy: protocol_common::lenient_policy(4),
                    retry: secagg::transport::client::Retry::default(),
                    vanish: None,
                };
                let (cfg, endpoint) = (cfg.clone(), endpoint.clone());
                tasks.push(tokio::spawn(async move {
                    let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
                    participate(&endpoint, cfg, &opts, None, &[0.5; 4], 1, &mut rng).await
                }));
            }
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    let sent = std::time::Instant::now();
    // SAFETY: kill(2) on our own child's pid with a valid signal touches no memory.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let took = sent.elapsed();
    let log = log.join().unwrap();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(log.contains("draining"), "{log}");
    for o in clients.await.unwrap() {
        let o = format!("{o:?}");
        assert!(
            o.contains("ServerAborted(4)") || o.contains("Shutdown"),
            "client outcome {o}"
        );
    }
    let files: Vec<_> = std::fs::read_dir(d.join("results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(v["status"], "aborted");
    assert_eq!(v["abort"]["reason"], "the coordinator shut down");
}

const CLIENT: &str = env!("CARGO_BIN_EXE_secagg-client");

/// Finding 10: `secagg-client` exited 0 on Excluded and Aborted, panicked on
/// `--server localhost:4433` and had no `--help`. Now: --help works, bad arguments exit 2
/// without a panic, an included client exits 0 and an aborted one 11.
#[test]
fn secagg_client_exit_codes() {
    let help = Command::new(CLIENT).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--token-file"));
    for args in [
        vec!["--server", "localhost:4433", "--id", "3"],
        vec![
            "--server", "no-port", "--cert", "x", "--input", "y", "--id", "1",
        ],
        vec!["--id", "0"],
        vec!["--weight", "x"],
    ] {
        let out = Command::new(CLIENT).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let d = temp_dir("client");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\nsessions = 2\nresult_dir = \"results\"\n\
         [tls]\ndev_cert_out = \"cert.pem\"\n[session]\nclients = 3\nvector_len = 3\n\
         graph = \"complete\"\nthreshold = 2\nround_timeout_ms = [3000, 3000, 3000, 3000, 3000]\n",
    )
    .unwrap();
    std::fs::write(d.join("in.csv"), "0.5, 0.25, -0.5\n").unwrap();
    let (mut coordinator, addr, log) = start(&cfg);
    let port = addr.port();
    let dir = d.clone();
    let client = move |id: u16| {
        let d = &dir;
        let addr = (port,);
        Command::new(CLIENT)
            .args(["--server", &format!("localhost:{}", addr.0)])
            .arg("--cert")
            .arg(d.join("cert.pem"))
            .arg("--input")
            .arg(d.join("in.csv"))
            .args([
                "--format",
                "csv",
                "--id",
                &id.to_string(),
                "--timeout-s",
                "20",
                // A three-client test cohort: below the policy's default minimum of 10.
                "--min-clients",
                "2",
            ])
            .output()
            .unwrap()
    };
    // Session 1: all three take part.
    let all: Vec<_> = (1..=3)
        .map(|id| {
            let client = client.clone();
            std::thread::spawn(move || client(id))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    for o in &all {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Session 2: alone, below the threshold: aborted.
    let alone = client(1);
    assert_eq!(
        alone.status.code(),
        Some(11),
        "{}{}",
        String::from_utf8_lossy(&alone.stdout),
        String::from_utf8_lossy(&alone.stderr)
    );
    let status = coordinator.wait().unwrap();
    let log = log.join().unwrap();
    // One of two sessions aborted: the coordinator reports failure.
    assert_eq!(status.code(), Some(1), "{log}");
}

/// Coordinator killed with SIGKILL mid-round: the clients get a typed timeout within their
/// configured message timeout (not QUIC's idle timeout), and a coordinator restarted on the
/// same port serves the next session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_survive_a_killed_coordinator_and_the_restart_serves() {
    let d = temp_dir("kill");
    let write_cfg = |listen: &str| {
        let cfg = d.join("c.toml");
        std::fs::write(
            &cfg,
            format!(
                "listen = \"{listen}\"\n[tls]\ndev_cert_out = \"cert.pem\"\n[session]\n\
                 clients = 3\nvector_len = 4\ngraph = \"complete\"\nthreshold = 2\n\
                 levels = 65537\nround_timeout_ms = [20000, 20000, 20000, 20000, 20000]\n"
            ),
        )
        .unwrap();
        cfg
    };
    let (mut child, addr, _log) = start(&write_cfg("127.0.0.1:0"));
    let roots = read_certs_pem(&d.join("cert.pem")).unwrap();
    let cfg = client_config(&roots, Duration::from_secs(30)).unwrap();
    let endpoint = client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut tasks = Vec::new();
    for i in 0..2u16 {
        let opts = ClientOptions {
            server: addr,
            server_name: "localhost".into(),
            id: ParticipantId::new(i + 1).unwrap(),
            credential: Default::default(),
            connect_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(3),
            policy: protocol_common::lenient_policy(4),
            retry: secagg::transport::client::Retry::default(),
            vanish: None,
        };
        let (cfg, endpoint) = (cfg.clone(), endpoint.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
            let r = participate(&endpoint, cfg, &opts, None, &[0.5; 4], 1, &mut rng).await;
            (r, std::time::Instant::now())
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    child.kill().unwrap();
    let killed = std::time::Instant::now();
    child.wait().unwrap();
    for t in tasks {
        let (r, at) = t.await.unwrap();
        assert!(
            matches!(r, Err(secagg::transport::TransportError::Timeout(_))),
            "{r:?}"
        );
        assert!(at.duration_since(killed) < Duration::from_secs(5));
    }
    // Restart on the same port; the next session completes.
    let (mut child, addr2, log) = start(&write_cfg(&addr.to_string()));
    assert_eq!(addr2, addr);
    let tokens = vec![String::new(); 3];
    let outcomes = clients(addr, &d.join("cert.pem"), tokens).await;
    assert_eq!(outcomes, vec![ClientOutcome::Included; 3]);
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", log.join().unwrap());
}
