//! End-to-end over loopback QUIC: a real coordinator and real clients in one process.
#![cfg(feature = "quic")]

mod protocol_common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use protocol_common::*;
use secagg::crypto::sign::SigningKey;
use secagg::ids::{ParticipantId, Round};
use secagg::protocol::params::{Graph, SessionParams};
use secagg::protocol::sim::Vanish;
use secagg::protocol::ClientCheck;
use secagg::transport::frame::{
    encode_hello, read_frame, write_frame, CloseCode, MAX_PARAMS_FRAME,
};
use secagg::transport::tls::{client_config, TlsIdentity};
use secagg::transport::{
    participate, ClientOptions, ClientOutcome, Coordinator, CoordinatorOptions, SessionReport,
    TransportError,
};

struct Net {
    coordinator: Arc<Coordinator>,
    addr: SocketAddr,
    client_cfg: quinn::ClientConfig,
    endpoint: quinn::Endpoint,
}

fn net() -> Net {
    net_with(Duration::from_secs(2))
}

fn net_with(hello_timeout: Duration) -> Net {
    let identity = TlsIdentity::self_signed(&["localhost"]).unwrap();
    let opts = CoordinatorOptions {
        hello_timeout,
        idle_timeout: Duration::from_secs(20),
        linger: Duration::from_millis(500),
        ..CoordinatorOptions::default()
    };
    let coordinator =
        Arc::new(Coordinator::bind("127.0.0.1:0".parse().unwrap(), &identity, opts).unwrap());
    let addr = coordinator.local_addr().unwrap();
    Net {
        coordinator,
        addr,
        client_cfg: client_config(&identity.cert_chain, Duration::from_secs(20)).unwrap(),
        endpoint: secagg::transport::tls::client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap(),
    }
}

fn with_deadlines(mut p: SessionParams, ms: u32) -> SessionParams {
    p.round_timeout_ms = [ms; 5];
    p
}

/// Runs one session: every participant connects with its input (grid values, so the sum is
/// exact) and its dropout schedule. Returns the coordinator's report and each client's result.
async fn session(
    net: &Net,
    p: SessionParams,
    vanish: Vec<Option<Vanish>>,
) -> (SessionReport, Vec<Result<ClientOutcome, TransportError>>) {
    session_staggered(net, p, vanish, Duration::ZERO).await
}

/// As [`session`], client `i` connecting `i * stagger` after the start (real clients do not all
/// connect in the same millisecond; a thousand simultaneous handshakes overflow the loopback
/// socket buffers and wait for QUIC's retransmission timers).
async fn session_staggered(
    net: &Net,
    p: SessionParams,
    vanish: Vec<Option<Vanish>>,
    stagger: Duration,
) -> (SessionReport, Vec<Result<ClientOutcome, TransportError>>) {
    let n = p.n();
    let inputs = Arc::new(unique_inputs(n, p.vector_len as usize));
    let run = {
        let c = net.coordinator.clone();
        let p = p.clone();
        tokio::spawn(async move { c.run_session(p).await })
    };
    let mut tasks = Vec::new();
    for i in 0..n {
        let opts = ClientOptions {
            server: net.addr,
            server_name: "localhost".into(),
            id: p.participants[i],
            credential: Default::default(),
            connect_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(30),
            policy: test_policy(&p),
            retry: secagg::transport::client::Retry::default(),
            vanish: vanish[i],
        };
        let key = (!p.identity_keys.is_empty()).then(|| SigningKey::from_seed(&identity_seed(i)));
        let (endpoint, cfg, inputs) =
            (net.endpoint.clone(), net.client_cfg.clone(), inputs.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(stagger * i as u32).await;
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64 + 77);
            participate(&endpoint, cfg, &opts, key, &inputs[i], 1, &mut rng).await
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    (run.await.unwrap().unwrap(), outcomes)
}

fn check_exact(report: &SessionReport, p: &SessionParams, expected: &[ParticipantId]) {
    let out = report.result.as_ref().unwrap_or_else(|e| {
        panic!(
            "aborted: {e}; {} connections, {} refused, rounds {:?}",
            report.connections, report.refused, report.rounds
        )
    });
    if out.included != expected {
        let fates: Vec<_> = report
            .fates
            .iter()
            .filter(|(id, _)| !out.included.contains(id))
            .collect();
        panic!("included differs; fates of the excluded: {fates:?}");
    }
    assert_eq!(out.included, expected);
    let inputs = unique_inputs(p.n(), p.vector_len as usize);
    for (j, got) in out.dequantized_sum().iter().enumerate() {
        let want: f64 = expected
            .iter()
            .map(|id| inputs[p.index_of(*id).unwrap()][j])
            .sum();
        assert!((got - want).abs() < 1e-9, "coordinate {j}: {got} vs {want}");
    }
}

fn schedule(n: usize, drops: &[(usize, Vanish)]) -> Vec<Option<Vanish>> {
    let mut v = vec![None; n];
    for &(i, d) in drops {
        v[i] = Some(d);
    }
    v
}

/// Drops at every round, by closing the connection and by going silent.
fn every_round_drops() -> Vec<(usize, Vanish)> {
    vec![
        (1, Vanish::Disconnect(Round::AdvertiseKeys)),
        (2, Vanish::Silent(Round::ShareKeys)),
        (3, Vanish::Disconnect(Round::MaskedInput)),
        (4, Vanish::Silent(Round::MaskedInput)),
        (5, Vanish::Disconnect(Round::Unmasking)),
        (6, Vanish::Silent(Round::Unmasking)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n20_dropouts_at_every_round() {
    let net = net();
    for graph in [Graph::Complete, Graph::Harary { degree: 10 }] {
        let p = with_deadlines(params(20, 5, graph, false, 6), 700);
        let drops = every_round_drops();
        let (report, outcomes) = session(&net, p.clone(), schedule(20, &drops)).await;
        // Clients that vanished before their masked input are out; the others are in.
        let expected: Vec<ParticipantId> = (0..20)
            .filter(|i| ![1, 2, 3, 4].contains(i))
            .map(|i| p.participants[i])
            .collect();
        check_exact(&report, &p, &expected);
        for (i, o) in outcomes.iter().enumerate() {
            let o = o.as_ref().unwrap_or_else(|e| panic!("client {i}: {e}"));
            if drops.iter().any(|(d, _)| *d == i) {
                assert_eq!(*o, ClientOutcome::Vanished);
            } else {
                assert_eq!(*o, ClientOutcome::Included, "client {i}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n100_harary_with_dropouts_and_active_model() {
    let net = net();
    // Generous deadlines: 100 clients share 2 cores with the coordinator in a debug build.
    let p = with_deadlines(params(100, 7, Graph::Harary { degree: 12 }, true, 4), 6000);
    let drops: Vec<(usize, Vanish)> = vec![
        (10, Vanish::Disconnect(Round::AdvertiseKeys)),
        (40, Vanish::Disconnect(Round::ShareKeys)),
        (55, Vanish::Disconnect(Round::MaskedInput)),
        (70, Vanish::Silent(Round::ConsistencyCheck)),
        (90, Vanish::Disconnect(Round::Unmasking)),
    ];
    let (report, outcomes) = session(&net, p.clone(), schedule(100, &drops)).await;
    let expected: Vec<ParticipantId> = (0..100)
        .filter(|i| ![10, 40, 55].contains(i))
        .map(|i| p.participants[i])
        .collect();
    check_exact(&report, &p, &expected);
    assert!(outcomes.iter().all(|o| o.is_ok()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_threshold_aborts_cleanly_and_the_next_session_runs() {
    let net = net();
    // t = 3 in a complete graph of 5 needs 4 survivors; two leave before their masked input.
    let p = with_deadlines(params(5, 3, Graph::Complete, false, 3), 500);
    let drops = vec![
        (1, Vanish::Disconnect(Round::MaskedInput)),
        (2, Vanish::Silent(Round::MaskedInput)),
    ];
    let (report, outcomes) = session(&net, p.clone(), schedule(5, &drops)).await;
    assert!(report.result.is_err(), "expected an abort");
    for i in [0, 3, 4] {
        match outcomes[i].as_ref().unwrap() {
            ClientOutcome::Aborted(a) => {
                assert!(matches!(a.check, ClientCheck::ServerAborted(_)), "{a}")
            }
            o => panic!("client {i}: {o:?}"),
        }
    }
    // The same coordinator serves the next session.
    let mut p2 = p.clone();
    p2.nonce = [8; 32];
    let (report, _) = session(&net, p2.clone(), vec![None; 5]).await;
    check_exact(&report, &p2, &p2.participants);
}

async fn raw_connection(net: &Net) -> quinn::Connection {
    let c = net
        .endpoint
        .connect_with(net.client_cfg.clone(), net.addr, "localhost")
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(8), c).await {
        Ok(Ok(c)) => c,
        other => panic!("raw connection: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_are_dropped_and_others_unaffected() {
    let net = net();
    let p = with_deadlines(params(6, 2, Graph::Complete, false, 4), 800);
    let run = {
        let c = net.coordinator.clone();
        let p = p.clone();
        tokio::spawn(async move { c.run_session(p).await })
    };
    // 1. Garbage of the right length instead of a Hello.
    eprintln!("connecting c1");
    let c1 = raw_connection(&net).await;
    let (mut s1, _r1) = c1.open_bi().await.unwrap();
    write_frame(&mut s1, b"NOTHELLO").await.unwrap();
    // 2. An oversized frame: only its length prefix is read.
    eprintln!("connecting c2");
    let c2 = raw_connection(&net).await;
    let (mut s2, _r2) = c2.open_bi().await.unwrap();
    s2.write_all(&(u32::MAX).to_be_bytes()).await.unwrap();
    // 3. A connection that never sends anything.
    eprintln!("connecting c3");
    let c3 = raw_connection(&net).await;
    // 4. A participant who is not in the session.
    eprintln!("connecting c4");
    let c4 = raw_connection(&net).await;
    let (mut s4, _r4) = c4.open_bi().await.unwrap();
    write_frame(
        &mut s4,
        &encode_hello(ParticipantId::new(999).unwrap(), b"").unwrap(),
    )
    .await
    .unwrap();
    for (c, want) in [
        (&c1, CloseCode::Malformed),
        (&c2, CloseCode::FrameTooLarge),
        (&c4, CloseCode::UnknownParticipant),
    ] {
        match tokio::time::timeout(Duration::from_secs(5), c.closed())
            .await
            .unwrap()
        {
            quinn::ConnectionError::ApplicationClosed(a) => assert_eq!(a.error_code, want.varint()),
            e => panic!("unexpected close {e}"),
        }
    }
    // 5. A client sends a frame larger than any message of the session after its Hello.
    eprintln!("connecting c5");
    let c5 = raw_connection(&net).await;
    let (mut s5, mut r5) = c5.open_bi().await.unwrap();
    write_frame(&mut s5, &encode_hello(p.participants[5], b"").unwrap())
        .await
        .unwrap();
    let params_frame = read_frame(&mut r5, MAX_PARAMS_FRAME)
        .await
        .unwrap()
        .unwrap();
    assert!(!params_frame.is_empty());
    s5.write_all(&(50_000_000u32).to_be_bytes()).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), c5.closed())
        .await
        .unwrap()
    {
        quinn::ConnectionError::ApplicationClosed(a) => {
            assert_eq!(a.error_code, CloseCode::FrameTooLarge.varint())
        }
        e => panic!("unexpected close {e}"),
    }
    // The honest participants 0..5 (participant 5 already used its one connection). Participant
    // 4 goes silent before its masked input, which keeps the session open until the deadline.
    let inputs = Arc::new(unique_inputs(6, 4));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let opts = ClientOptions {
            server: net.addr,
            server_name: "localhost".into(),
            id: p.participants[i],
            credential: Default::default(),
            connect_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(30),
            policy: test_policy(&p),
            retry: secagg::transport::client::Retry::default(),
            vanish: (i == 4).then_some(Vanish::Silent(Round::MaskedInput)),
        };
        let (endpoint, cfg, inputs) =
            (net.endpoint.clone(), net.client_cfg.clone(), inputs.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
            participate(&endpoint, cfg, &opts, None, &inputs[i], 1, &mut rng).await
        }));
    }
    // 6. A reconnect for participant 0 while its first connection is in the session.
    tokio::time::sleep(Duration::from_millis(100)).await;
    eprintln!("connecting c6");
    let c6 = raw_connection(&net).await;
    let (mut s6, _r6) = c6.open_bi().await.unwrap();
    write_frame(&mut s6, &encode_hello(p.participants[0], b"").unwrap())
        .await
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(5), c6.closed())
        .await
        .unwrap()
    {
        quinn::ConnectionError::ApplicationClosed(a) => {
            assert_eq!(a.error_code, CloseCode::Duplicate.varint())
        }
        e => panic!("unexpected close {e}"),
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    // Participant 5's second connection is refused as a duplicate; the others complete.
    assert!(
        matches!(
            outcomes[5],
            Err(TransportError::ClosedByPeer {
                code: Some(CloseCode::Duplicate),
                ..
            })
        ),
        "{:?}",
        outcomes[5]
    );
    for o in &outcomes[..4] {
        assert_eq!(*o.as_ref().unwrap(), ClientOutcome::Included);
    }
    assert_eq!(*outcomes[4].as_ref().unwrap(), ClientOutcome::Vanished);
    drop(c3);
    let report = run.await.unwrap().unwrap();
    check_exact(&report, &p, &p.participants[..4]);
    assert!(report.refused >= 4, "refused {}", report.refused);
}

/// Many concurrent clients on one coordinator (debug build; the 1000-client run is the demo
/// example in release, which `.ci/run` executes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_300_concurrent_clients() {
    let net = net_with(Duration::from_secs(25));
    let n = 300;
    let c = secagg::protocol::chooser::choose_graph_params(n as u64, 0.05, 0.05).unwrap();
    let p = with_deadlines(
        params(
            n,
            c.threshold as u16,
            Graph::Harary {
                degree: c.degree as u16,
            },
            false,
            1000,
        ),
        30_000,
    );
    let started = std::time::Instant::now();
    let (report, outcomes) =
        session_staggered(&net, p.clone(), vec![None; n], Duration::from_millis(3)).await;
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err().map(|e| e.to_string()))
        .take(5)
        .collect();
    eprintln!(
        "first client errors: {failed:?} after {:.1} s; rounds {:?}",
        started.elapsed().as_secs_f64(),
        report.rounds
    );
    check_exact(&report, &p, &p.participants);
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Ok(ClientOutcome::Included))));
    eprintln!(
        "load: {n} clients, L=1000, k={} t={}: {:.2} s, {} connections, {:.1} MB in",
        c.degree,
        c.threshold,
        started.elapsed().as_secs_f64(),
        report.connections,
        report.bytes_in as f64 / 1e6
    );
}
