//! A 100-client session over a lossy, slow network: datagrams dropped (2 % and 10 %), delayed
//! by 50 ms and reordered (10 ms jitter) by [`FaultySocket`] under both the coordinator and the
//! clients (this kernel has no `netem`). Every client must be included and the sum exact; the
//! per-round close times are printed next to a fault-free run of the same session (run with
//! `--nocapture` to see them).
#![cfg(feature = "quic")]

mod protocol_common;

use std::sync::Arc;
use std::time::Duration;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use protocol_common::*;
use secagg::protocol::params::Graph;
use secagg::transport::faults::{Faults, FaultySocket};
use secagg::transport::tls::{client_config, udp_socket, TlsIdentity};
use secagg::transport::{
    participate, ClientOptions, ClientOutcome, Coordinator, CoordinatorOptions, SessionReport,
};

async fn lossy_session(faults: Faults) -> SessionReport {
    let identity = TlsIdentity::self_signed(&["localhost"]).unwrap();
    let server_socket = FaultySocket::wrap(
        udp_socket("127.0.0.1:0".parse().unwrap()).unwrap(),
        Faults {
            seed: faults.seed ^ 1,
            ..faults
        },
    )
    .unwrap();
    // Generous deadlines: before the first RTT sample quinn's probe timeout is about 1 s and
    // doubles on every loss, so at 10 % loss in each direction one of the 100 handshakes
    // regularly needs 4-5 consecutive probes (15-31 s). The test is about exactness under
    // loss; the deadlines only bound a hung run.
    let opts = CoordinatorOptions {
        hello_timeout: Duration::from_secs(90),
        idle_timeout: Duration::from_secs(90),
        // An upper bound: the coordinator closes as soon as every client has closed after
        // reading `Finished`, which under loss takes a few retransmission timeouts.
        linger: Duration::from_secs(10),
        ..CoordinatorOptions::default()
    };
    let coordinator = Arc::new(Coordinator::with_socket(server_socket, &identity, opts).unwrap());
    let addr = coordinator.local_addr().unwrap();
    let client_socket =
        FaultySocket::wrap(udp_socket("127.0.0.1:0".parse().unwrap()).unwrap(), faults).unwrap();
    let endpoint = quinn::Endpoint::new_with_abstract_socket(
        quinn::EndpointConfig::default(),
        None,
        client_socket,
        Arc::new(quinn::TokioRuntime),
    )
    .unwrap();
    let cfg = client_config(&identity.cert_chain, Duration::from_secs(90)).unwrap();
    let mut p = params(100, 7, Graph::Harary { degree: 12 }, false, 16);
    p.round_timeout_ms = [90_000; 5];
    let run = {
        let (c, p) = (coordinator.clone(), p.clone());
        tokio::spawn(async move { c.run_session(p).await })
    };
    let inputs = Arc::new(unique_inputs(100, 16));
    let mut tasks = Vec::new();
    for i in 0..100 {
        let opts = ClientOptions {
            server: addr,
            server_name: "localhost".into(),
            id: p.participants[i],
            credential: Default::default(),
            connect_timeout: Duration::from_secs(90),
            message_timeout: Duration::from_secs(90),
            policy: protocol_common::lenient_policy(16),
            retry: secagg::transport::client::Retry::default(),
            vanish: None,
        };
        let (endpoint, cfg, inputs) = (endpoint.clone(), cfg.clone(), inputs.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5 * i as u64)).await;
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
            participate(&endpoint, cfg, &opts, None, &inputs[i], 1, &mut rng).await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let o = t.await.unwrap();
        assert!(
            matches!(o, Ok(ClientOutcome::Included)),
            "client {i} with {faults:?}: {o:?}"
        );
    }
    let report = run.await.unwrap().unwrap();
    let out = report.result.as_ref().unwrap();
    assert_eq!(out.included, p.participants);
    for (j, got) in out.dequantized_sum().iter().enumerate() {
        let want: f64 = inputs.iter().map(|x| x[j]).sum();
        assert!((got - want).abs() < 1e-9, "coordinate {j}: {got} vs {want}");
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n100_exact_sum_with_2_and_10_percent_loss_and_50ms_delay() {
    let none = Faults {
        loss: 0.0,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        seed: 1,
    };
    let mut rows = Vec::new();
    for (label, faults) in [
        ("no faults", none),
        (
            "2% loss, 50 ms + 0-10 ms",
            Faults {
                loss: 0.02,
                delay: Duration::from_millis(50),
                jitter: Duration::from_millis(10),
                seed: 2,
            },
        ),
        (
            "10% loss, 50 ms + 0-10 ms",
            Faults {
                loss: 0.10,
                delay: Duration::from_millis(50),
                jitter: Duration::from_millis(10),
                seed: 3,
            },
        ),
    ] {
        let r = lossy_session(faults).await;
        let closes: Vec<u128> = r.rounds.iter().map(|l| l.closed_at.as_millis()).collect();
        rows.push(format!(
            "n = 100, L = 16, Harary k = 12, t = 7, {label:>26}: rounds closed at {closes:?} ms, total {} ms",
            r.elapsed.as_millis()
        ));
    }
    for r in rows {
        eprintln!("{r}");
    }
}
