//! Federated analytics end to end over loopback QUIC: the coordinator runs an LDP task (one
//! report per client, streaming aggregation, durable result file) and a histogram under secure
//! aggregation (exact without DP, noisy with distributed DP), with assertions on the estimates
//! against the population's true frequencies.
#![cfg(feature = "quic")]
#![allow(clippy::needless_range_loop)]

mod protocol_common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chacha20::rand_core::{Rng, SeedableRng};
use chacha20::ChaCha20Rng;
use protocol_common::*;
use secagg::analytics::histogram::HistogramSpec;
use secagg::analytics::wire::{decode_task, encode_report, LdpSessionParams};
use secagg::analytics::{LdpProtocol, LdpTaskSpec, PrivacySummary};
use secagg::ids::ParticipantId;
use secagg::protocol::params::Graph;
use secagg::transport::frame::{encode_hello, read_frame, write_frame, CloseCode};
use secagg::transport::tls::{client_config, client_endpoint, TlsIdentity};
use secagg::transport::{
    participate, result_file, send_ldp_report, ClientOptions, ClientOutcome, Coordinator,
    CoordinatorOptions, LdpClientOptions, LdpSessionReport, TransportError,
};

struct Net {
    coordinator: Arc<Coordinator>,
    addr: SocketAddr,
    client_cfg: quinn::ClientConfig,
    endpoint: quinn::Endpoint,
}

fn net() -> Net {
    let identity = TlsIdentity::self_signed(&["localhost"]).unwrap();
    let opts = CoordinatorOptions {
        hello_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(20),
        linger: Duration::from_millis(500),
        max_pending_hellos: 1024,
        ..CoordinatorOptions::default()
    };
    let coordinator =
        Arc::new(Coordinator::bind("127.0.0.1:0".parse().unwrap(), &identity, opts).unwrap());
    Net {
        addr: coordinator.local_addr().unwrap(),
        coordinator,
        client_cfg: client_config(&identity.cert_chain, Duration::from_secs(20)).unwrap(),
        endpoint: client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap(),
    }
}

fn pid(i: usize) -> ParticipantId {
    ParticipantId::new(i as u16 + 1).unwrap()
}

/// A Zipf(1.1)-distributed value in `[0, k)`.
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

/// Each client's tuple, drawn with a fixed seed: attribute j is Zipf over k_j, shifted by j so
/// the attributes differ.
fn population(n: usize, domains: &[u32], seed: u64) -> Vec<Vec<u32>> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            domains
                .iter()
                .enumerate()
                .map(|(j, &k)| (zipf(k, &mut rng) + j as u32) % k)
                .collect()
        })
        .collect()
}

fn true_freqs(pop: &[Vec<u32>], domains: &[u32]) -> Vec<Vec<f64>> {
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

fn ldp_opts(net: &Net, i: usize, domains: &[u32], max_eps: f64) -> LdpClientOptions {
    LdpClientOptions {
        server: net.addr,
        server_name: "localhost".into(),
        id: pid(i),
        credential: Default::default(),
        connect_timeout: Duration::from_secs(10),
        message_timeout: Duration::from_secs(30),
        max_tuple_epsilon: max_eps,
        domains: domains.to_vec(),
    }
}

/// Runs an LDP session with `pop.len()` participants, all of whom report (client `i` with seed
/// `i`), and returns the coordinator's report and each client's result.
async fn ldp_session(
    net: &Net,
    spec: LdpTaskSpec,
    pop: &[Vec<u32>],
) -> (
    LdpSessionReport,
    Vec<Result<secagg::transport::LdpReceipt, TransportError>>,
) {
    let n = pop.len();
    let domains = spec.domains.clone();
    let params = LdpSessionParams::new([3; 32], 30_000, spec).unwrap();
    let run = {
        let c = net.coordinator.clone();
        tokio::spawn(async move {
            c.run_ldp_session(params, (0..n).map(pid).collect(), n as u64)
                .await
        })
    };
    let mut tasks = Vec::new();
    for (i, values) in pop.iter().enumerate() {
        let opts = ldp_opts(net, i, &domains, 30.0);
        let (endpoint, cfg, values) =
            (net.endpoint.clone(), net.client_cfg.clone(), values.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2 * i as u64)).await;
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
            send_ldp_report(&endpoint, cfg, &opts, &values, &mut rng).await
        }));
    }
    let mut outs = Vec::new();
    for t in tasks {
        outs.push(t.await.unwrap());
    }
    (run.await.unwrap().unwrap(), outs)
}

/// Every raw estimate within 4.5 standard errors of the truth (a per-value failure probability
/// of 7e-6 for a Gaussian estimate; the seed is fixed, so the test is deterministic), and the
/// standard errors equal to the protocol's exact standard deviation at the truth within 25%.
fn check_estimates(report: &LdpSessionReport, truth: &[Vec<f64>]) {
    let est = &report.estimates;
    assert_eq!(est.attributes.len(), truth.len());
    for (j, (a, t)) in est.attributes.iter().zip(truth).enumerate() {
        assert_eq!(a.raw.len(), t.len());
        let mut z2 = 0.0;
        for v in 0..t.len() {
            let z = (a.raw[v] - t[v]) / a.std_err[v];
            assert!(
                z.abs() < 4.5,
                "attribute {j} value {v}: estimate {} truth {} std err {} (z = {z:.2})",
                a.raw[v],
                t[v],
                a.std_err[v]
            );
            z2 += z * z;
        }
        // The z-scores are not all tiny either (estimates that equal the truth would mean the
        // noise is missing): their mean square is a chi-square / k, near 1.
        let ms = z2 / t.len() as f64;
        assert!((0.2..3.0).contains(&ms), "attribute {j}: mean z^2 {ms}");
        // Norm-Sub is a distribution.
        let s: f64 = a.norm_sub.iter().sum();
        assert!((s - 1.0).abs() < 1e-9 && a.norm_sub.iter().all(|&x| x >= 0.0));
        // The most frequent value is found.
        let top = |v: &[f64]| {
            (0..v.len())
                .max_by(|&x, &y| v[x].partial_cmp(&v[y]).unwrap())
                .unwrap()
        };
        assert_eq!(top(&a.norm_sub), top(t), "attribute {j}: mode");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldp_oracle_task_over_quic_estimates_within_bounds_and_writes_the_result_file() {
    let net = net();
    let k = 16u32;
    let pop = population(400, &[k], 11);
    let truth = true_freqs(&pop, &[k]);
    let spec = LdpTaskSpec {
        protocol: LdpProtocol::Oue,
        epsilon: 2.0,
        domains: vec![k],
    };
    let (report, outs) = ldp_session(&net, spec, &pop).await;
    for (i, o) in outs.iter().enumerate() {
        let r = o.as_ref().unwrap_or_else(|e| panic!("client {i}: {e}"));
        assert_eq!(r.session_id, report.session_id);
        assert_eq!(r.protocol, "OUE");
    }
    assert_eq!(report.status, Ok(()));
    assert_eq!((report.accepted, report.rejected), (400, 0));
    assert_eq!(report.estimates.n, 400);
    // OUE's variance at f: q(1-q)/(n (p-q)^2) + f(1-p-q)/(n(p-q)) with p = 1/2.
    let q = 1.0 / (2f64.exp() + 1.0);
    for (v, &f) in truth[0].iter().enumerate() {
        let exact = (q * (1.0 - q) / (0.5 - q).powi(2) + f * (0.5 - q) / (0.5 - q).powi(2)) / 400.0;
        let se = report.estimates.attributes[0].std_err[v];
        assert!(
            (se / exact.sqrt() - 1.0).abs() < 0.25,
            "value {v}: std err {se} vs exact {}",
            exact.sqrt()
        );
    }
    check_estimates(&report, &truth);
    match &report.estimates.privacy {
        PrivacySummary::Local { tuple, .. } => assert!((tuple - 2.0).abs() < 1e-12),
        p => panic!("{p:?}"),
    }
    // The durable result file has the schema, the estimates and the privacy loss.
    let dir = std::env::temp_dir().join(format!("secagg-ldp-result-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    result_file::check_writable(&dir).unwrap();
    let path = result_file::write_ldp_report(&dir, &report).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(v["schema"], result_file::LDP_SCHEMA);
    assert_eq!(v["status"], "complete");
    assert_eq!(v["parameters"]["protocol"], "oue");
    assert_eq!(v["traffic"]["accepted_reports"], 400);
    let a = &v["result"]["attributes"][0];
    assert_eq!(a["estimate"].as_array().unwrap().len(), 16);
    assert_eq!(
        a["norm_sub"][0].as_f64().unwrap(),
        report.estimates.attributes[0].norm_sub[0]
    );
    assert_eq!(v["result"]["privacy"]["tuple_epsilon"].as_f64(), Some(2.0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldp_rsfd_task_over_quic_reports_true_tuple_loss_and_estimates_every_attribute() {
    let net = net();
    let domains = [4u32, 8, 6];
    let pop = population(300, &domains, 5);
    let truth = true_freqs(&pop, &domains);
    let spec = LdpTaskSpec {
        protocol: LdpProtocol::RsfdGrr,
        epsilon: 2.0,
        domains: domains.to_vec(),
    };
    let (report, outs) = ldp_session(&net, spec, &pop).await;
    assert!(outs.iter().all(Result::is_ok));
    assert_eq!(report.accepted, 300);
    check_estimates(&report, &truth);
    // The true tuple-level loss of RS+FD is eps' = ln(d (e^eps - 1) + 1), not the nominal 2.
    let eps_prime = (3.0 * 2f64.exp_m1()).ln_1p();
    match &report.estimates.privacy {
        PrivacySummary::Local {
            nominal,
            tuple,
            attribute,
        } => {
            assert_eq!(*nominal, 2.0);
            assert!((tuple - eps_prime).abs() < 1e-12, "{tuple} vs {eps_prime}");
            assert_eq!(attribute.len(), 3);
        }
        p => panic!("{p:?}"),
    }
}

/// A client whose policy refuses the task's true loss sends nothing; a report for another
/// session, a duplicate participant, an unknown participant and an oversized frame are refused
/// with their close codes; the session counts exactly the valid reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldp_refusals_have_close_codes_and_count_nothing() {
    let net = net();
    let domains = vec![4u32, 4];
    let spec = LdpTaskSpec {
        protocol: LdpProtocol::RsfdGrr,
        epsilon: 1.0,
        domains: domains.clone(),
    };
    let params = LdpSessionParams::new([9; 32], 4_000, spec).unwrap();
    let max_frame = params.report_frame_max();
    let run = {
        let c = net.coordinator.clone();
        tokio::spawn(async move {
            c.run_ldp_session(params, (0..4).map(pid).collect(), 2)
                .await
        })
    };
    // Client 0: its policy allows tuple loss 1.5, the task's is ln(2(e-1)+1) = 1.49.. < 1.5: ok.
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let ok = send_ldp_report(
        &net.endpoint,
        net.client_cfg.clone(),
        &ldp_opts(&net, 0, &domains, 1.5),
        &[1, 2],
        &mut rng,
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");
    // Client 0 again: already reported.
    let dup = send_ldp_report(
        &net.endpoint,
        net.client_cfg.clone(),
        &ldp_opts(&net, 0, &domains, 1.5),
        &[1, 2],
        &mut rng,
    )
    .await;
    assert!(
        matches!(
            dup,
            Err(TransportError::ClosedByPeer {
                code: Some(CloseCode::Duplicate),
                ..
            })
        ),
        "{dup:?}"
    );
    // Client 1: policy allows only 1.4.
    let refused = send_ldp_report(
        &net.endpoint,
        net.client_cfg.clone(),
        &ldp_opts(&net, 1, &domains, 1.4),
        &[0, 0],
        &mut rng,
    )
    .await;
    assert!(
        matches!(refused, Err(TransportError::Policy(_))),
        "{refused:?}"
    );
    // Client 9 is not a participant.
    let unknown = send_ldp_report(
        &net.endpoint,
        net.client_cfg.clone(),
        &ldp_opts(&net, 9, &domains, 5.0),
        &[0, 0],
        &mut rng,
    )
    .await;
    assert!(
        matches!(
            unknown,
            Err(TransportError::ClosedByPeer {
                code: Some(CloseCode::UnknownParticipant),
                ..
            })
        ),
        "{unknown:?}"
    );
    // Raw connections: client 2 sends a report for another session, client 3 an oversized
    // frame.
    async fn raw(net: &Net, i: usize, frame: Vec<u8>, announce: Option<u32>) -> Option<CloseCode> {
        let conn = net
            .endpoint
            .connect_with(net.client_cfg.clone(), net.addr, "localhost")
            .unwrap()
            .await
            .unwrap();
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        write_frame(&mut send, &encode_hello(pid(i), b"").unwrap())
            .await
            .unwrap();
        let task = read_frame(&mut recv, 1 << 16).await.unwrap().unwrap();
        decode_task(&task).unwrap();
        match announce {
            Some(len) => {
                send.write_all(&len.to_be_bytes()).await.unwrap();
            }
            None => write_frame(&mut send, &frame).await.unwrap(),
        }
        match conn.closed().await {
            quinn::ConnectionError::ApplicationClosed(c) => {
                CloseCode::from_u64(c.error_code.into_inner())
            }
            _ => None,
        }
    }
    let report_len = max_frame - 38;
    let wrong = raw(
        &net,
        2,
        encode_report(&[0xee; 32], &vec![0; report_len]),
        None,
    )
    .await;
    assert_eq!(wrong, Some(CloseCode::Protocol));
    let big = raw(&net, 3, Vec::new(), Some(max_frame as u32 + 1)).await;
    assert_eq!(big, Some(CloseCode::FrameTooLarge));
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.accepted, 1);
    assert_eq!(report.rejected, 1);
    // One report, two needed: aborted, with the reason.
    assert!(report
        .status
        .as_ref()
        .unwrap_err()
        .contains("too few reports"));
    assert_eq!(report.estimates.n, 1);
}

/// Histograms under SecAgg: every client's categorical tuple becomes a multi-hot vector; the
/// coordinator learns the exact histogram without DP, and a noisy one with DP whose error
/// matches its stated standard error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_under_secagg_over_quic_exact_and_with_distributed_dp() {
    let net = net();
    let n = 16usize;
    let domains = [8u32, 4];
    let spec = HistogramSpec::new(&domains).unwrap();
    let pop = population(n, &domains, 21);
    let truth = true_freqs(&pop, &domains);

    // Without DP: clip 1, 3 levels (0 and 1 exact).
    let mut p = params(
        n,
        (n / 2 + 1) as u16,
        Graph::Complete,
        false,
        spec.vector_len(),
    );
    p.levels = 3;
    p.round_timeout_ms = [10_000; 5];
    spec.check_params(&p).unwrap();
    let out = histogram_session(&net, &p, &spec, &pop).await;
    let est = spec
        .estimates(&p, &out.dequantized_sum(), out.included.len() as u64, 0.0)
        .unwrap();
    assert_eq!(est.method, "SecAgg");
    assert_eq!(est.n, n as u64);
    for (a, t) in est.attributes.iter().zip(&truth) {
        assert_eq!(&a.raw, t, "exact histogram");
        assert!(a.std_err.iter().all(|&s| s == 0.0));
    }

    // With distributed DP (discrete Gaussian), calibrated for the threshold's clients.
    let mut p = params(n, (n / 2 + 1) as u16, Graph::Complete, false, 0);
    p.nonce = [8; 32];
    p.round_timeout_ms = [10_000; 5];
    let delta = 1e-5;
    let cal = secagg::ddp::calibrate(&secagg::ddp::CalibrationTarget {
        mechanism: secagg::ddp::Mechanism::DiscreteGaussian,
        epsilon: 4.0,
        delta,
        clip: spec.input_norm(),
        dim: spec.vector_len(),
        bits: 32,
        min_clients: u64::from(p.threshold),
        max_clients: n as u64,
        beta: (-0.5f64).exp(),
        max_wrap: 1e-9,
        rounds: 1,
    })
    .unwrap();
    p.dp = Some(cal.config);
    p.vector_len = cal.config.padded_dim() as u32;
    p.levels = 2;
    spec.check_params(&p).unwrap();
    let out = histogram_session(&net, &p, &spec, &pop).await;
    let est = spec
        .estimates(&p, &out.dequantized_sum(), out.included.len() as u64, delta)
        .unwrap();
    assert_eq!(est.method, "SecAgg+DDP");
    match est.privacy {
        PrivacySummary::Distributed {
            epsilon, clients, ..
        } => {
            assert_eq!(clients, n as u64);
            assert!(epsilon <= 4.0 + 1e-9, "epsilon {epsilon}");
        }
        ref p => panic!("{p:?}"),
    }
    let mut z2 = 0.0;
    let mut cells = 0.0;
    let mut differs = false;
    for (a, t) in est.attributes.iter().zip(&truth) {
        for v in 0..t.len() {
            let z = (a.raw[v] - t[v]) / a.std_err[v];
            assert!(
                z.abs() < 4.5,
                "value {v}: {} vs {} (se {})",
                a.raw[v],
                t[v],
                a.std_err[v]
            );
            z2 += z * z;
            cells += 1.0;
            differs |= a.raw[v] != t[v];
        }
    }
    assert!(differs, "the DP histogram carries noise");
    assert!(
        (0.2..3.0).contains(&(z2 / cells)),
        "mean z^2 {}",
        z2 / cells
    );
}

async fn histogram_session(
    net: &Net,
    p: &secagg::protocol::SessionParams,
    spec: &HistogramSpec,
    pop: &[Vec<u32>],
) -> secagg::protocol::server::AggregateOutput {
    let run = {
        let (c, p) = (net.coordinator.clone(), p.clone());
        tokio::spawn(async move { c.run_session(p).await })
    };
    let mut tasks = Vec::new();
    for (i, values) in pop.iter().enumerate() {
        let opts = ClientOptions {
            server: net.addr,
            server_name: "localhost".into(),
            id: p.participants[i],
            credential: Default::default(),
            connect_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(30),
            policy: test_policy(p),
            retry: secagg::transport::Retry::default(),
            vanish: None,
        };
        let input = spec.input(values).unwrap();
        let (endpoint, cfg) = (net.endpoint.clone(), net.client_cfg.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64 + 500);
            participate(&endpoint, cfg, &opts, None, &input, 1, &mut rng).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), ClientOutcome::Included);
    }
    let report = run.await.unwrap().unwrap();
    report.result.expect("session completes")
}
