//! The coordinator as a service, over loopback QUIC: participant authentication (bearer tokens,
//! HMAC tokens, mutual TLS) and resource bounds. Each test drives a real coordinator and real
//! clients in one process.
#![cfg(feature = "quic")]

mod protocol_common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use protocol_common::*;
use quinn::ConnectionError;
use secagg::ids::{ParticipantId, Round};
use secagg::protocol::params::{Graph, SessionParams};
use secagg::protocol::sim::Vanish;
use secagg::transport::auth::{ClientCertificates, HmacTokens, TokenFile};
use secagg::transport::frame::{encode_hello, write_frame, CloseCode};
use secagg::transport::tls::CertificateDer;
use secagg::transport::tls::{client_config_with_identity, client_endpoint, DevCa, TlsIdentity};
use secagg::transport::{
    participate, Authenticator, ClientOptions, ClientOutcome, Cohort, Coordinator,
    CoordinatorOptions, Retry, SessionReport, TransportError,
};

#[derive(Clone)]
struct Net {
    coordinator: Arc<Coordinator>,
    addr: SocketAddr,
    roots: Vec<CertificateDer<'static>>,
    endpoint: quinn::Endpoint,
}

fn net(server: &TlsIdentity, roots: Vec<CertificateDer<'static>>, opts: CoordinatorOptions) -> Net {
    let coordinator =
        Arc::new(Coordinator::bind("127.0.0.1:0".parse().unwrap(), server, opts).unwrap());
    Net {
        addr: coordinator.local_addr().unwrap(),
        coordinator,
        roots,
        endpoint: client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap(),
    }
}

fn opts(authenticator: Arc<dyn Authenticator>) -> CoordinatorOptions {
    CoordinatorOptions {
        authenticator,
        hello_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(20),
        linger: Duration::from_millis(300),
        ..CoordinatorOptions::default()
    }
}

fn session_params(n: usize) -> SessionParams {
    let mut p = params(n, (n / 2 + 1) as u16, Graph::Complete, false, 4);
    p.round_timeout_ms = [5_000; 5];
    p
}

/// One client: which participant, its TLS client identity (mutual TLS) and its Hello credential.
struct Who {
    index: usize,
    tls: Option<TlsIdentity>,
    credential: Vec<u8>,
}

async fn participants(
    net: &Net,
    p: &SessionParams,
    who: Vec<Who>,
) -> Vec<Result<ClientOutcome, TransportError>> {
    participants_vanishing(net, p, who, &[]).await
}

/// As [`participants`], retrying refused connections as `retry` says.
async fn participants_retrying(
    net: &Net,
    p: &SessionParams,
    who: Vec<Who>,
    retry: Retry,
) -> Vec<Result<ClientOutcome, TransportError>> {
    run_participants(net, p, who, &[], retry).await
}

/// As [`participants`], the clients at the given indices leaving at the given rounds.
async fn participants_vanishing(
    net: &Net,
    p: &SessionParams,
    who: Vec<Who>,
    vanish: &[(usize, Vanish)],
) -> Vec<Result<ClientOutcome, TransportError>> {
    run_participants(net, p, who, vanish, Retry::default()).await
}

async fn run_participants(
    net: &Net,
    p: &SessionParams,
    who: Vec<Who>,
    vanish: &[(usize, Vanish)],
    retry: Retry,
) -> Vec<Result<ClientOutcome, TransportError>> {
    let inputs = Arc::new(unique_inputs(p.n(), p.vector_len as usize));
    let mut tasks = Vec::new();
    for w in who {
        let cfg = client_config_with_identity(&net.roots, Duration::from_secs(20), w.tls.as_ref())
            .unwrap();
        let opts = ClientOptions {
            server: net.addr,
            server_name: "localhost".into(),
            id: p.participants[w.index],
            credential: w.credential.into(),
            connect_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(30),
            policy: protocol_common::lenient_policy(p.vector_len),
            retry,
            vanish: vanish.iter().find(|v| v.0 == w.index).map(|v| v.1),
        };
        let (endpoint, inputs) = (net.endpoint.clone(), inputs.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha20Rng::seed_from_u64(w.index as u64 + 5);
            participate(&endpoint, cfg, &opts, None, &inputs[w.index], 1, &mut rng).await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// A connection that sends a Hello claiming `claimed` with `credential`, and the close code the
/// coordinator answers with (None if it did not close the connection within 5 s, e.g. because
/// it accepted the Hello and sent the parameters).
async fn hello_close_code(
    net: &Net,
    tls: Option<&TlsIdentity>,
    claimed: ParticipantId,
    credential: &[u8],
) -> Option<u64> {
    let cfg = client_config_with_identity(&net.roots, Duration::from_secs(20), tls).unwrap();
    let conn = net
        .endpoint
        .connect_with(cfg, net.addr, "localhost")
        .unwrap()
        .await
        .unwrap();
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    write_frame(&mut send, &encode_hello(claimed, credential).unwrap())
        .await
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(5), conn.closed()).await {
        Ok(ConnectionError::ApplicationClosed(a)) => Some(a.error_code.into_inner()),
        Ok(e) => panic!("unexpected close {e}"),
        Err(_) => {
            conn.close(0u32.into(), b"");
            None
        }
    }
}

fn assert_exact_sum_of_all(report: &SessionReport, p: &SessionParams) {
    let out = report
        .result
        .as_ref()
        .unwrap_or_else(|e| panic!("aborted: {e}"));
    assert_eq!(out.included, p.participants);
    let inputs = unique_inputs(p.n(), p.vector_len as usize);
    for (j, got) in out.dequantized_sum().iter().enumerate() {
        let want: f64 = inputs.iter().map(|x| x[j]).sum();
        assert!((got - want).abs() < 1e-9, "coordinate {j}: {got} vs {want}");
    }
}

fn token(i: usize) -> String {
    format!("{:064x}", 0x5ec0_0000u64 + i as u64)
}

const UNAUTHORIZED: Option<u64> = Some(CloseCode::Unauthorized as u64);

/// Finding 1: the first connection claiming an id used to become that participant. With a
/// token registry, impostors (no token, another participant's token, a guessed token) are
/// refused before they take the slot, and the real participant then gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_file_keeps_impostors_out_of_participant_slots() {
    let p = session_params(5);
    let registry: String = (0..5)
        .map(|i| format!("{} {}\n", p.participants[i], token(i)))
        .collect();
    let auth = Arc::new(TokenFile::parse(&registry).unwrap());
    let server = TlsIdentity::self_signed(&["localhost"]).unwrap();
    let net = net(&server, server.cert_chain.clone(), opts(auth));
    let run = {
        let (c, p) = (net.coordinator.clone(), p.clone());
        tokio::spawn(async move { c.run_session(p).await })
    };
    let victim = p.participants[2];
    assert_eq!(
        hello_close_code(&net, None, victim, b"").await,
        UNAUTHORIZED
    );
    assert_eq!(
        hello_close_code(&net, None, victim, token(0).as_bytes()).await,
        UNAUTHORIZED
    );
    assert_eq!(
        hello_close_code(&net, None, victim, token(99).as_bytes()).await,
        UNAUTHORIZED
    );
    let who = (0..5)
        .map(|index| Who {
            index,
            tls: None,
            credential: token(index).into_bytes(),
        })
        .collect();
    let outcomes = participants(&net, &p, who).await;
    let report = run.await.unwrap().unwrap();
    for o in &outcomes {
        assert_eq!(o.as_ref().unwrap(), &ClientOutcome::Included);
    }
    assert_exact_sum_of_all(&report, &p);
    assert_eq!(report.refused, 3);
    assert_eq!(report.connections, 5);
}

/// HMAC-signed tokens: bound to one participant, expiring, and unforgeable without the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_tokens_expire_and_bind_the_participant() {
    let p = session_params(4);
    let key = [0x42u8; 32];
    let issuer = HmacTokens::new(&key).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let server = TlsIdentity::self_signed(&["localhost"]).unwrap();
    let net = net(
        &server,
        server.cert_chain.clone(),
        opts(Arc::new(HmacTokens::new(&key).unwrap())),
    );
    let run = {
        let (c, p) = (net.coordinator.clone(), p.clone());
        tokio::spawn(async move { c.run_session(p).await })
    };
    let victim = p.participants[1];
    let expired = issuer.issue(victim, now - 1, None);
    assert_eq!(
        hello_close_code(&net, None, victim, expired.as_bytes()).await,
        UNAUTHORIZED
    );
    let others = issuer.issue(p.participants[0], now + 600, None);
    assert_eq!(
        hello_close_code(&net, None, victim, others.as_bytes()).await,
        UNAUTHORIZED
    );
    let forged = HmacTokens::new(&[0x43u8; 32])
        .unwrap()
        .issue(victim, now + 600, None);
    assert_eq!(
        hello_close_code(&net, None, victim, forged.as_bytes()).await,
        UNAUTHORIZED
    );
    let who = (0..4)
        .map(|index| Who {
            index,
            tls: None,
            credential: issuer
                .issue(p.participants[index], now + 600, None)
                .into_bytes(),
        })
        .collect();
    let outcomes = participants(&net, &p, who).await;
    let report = run.await.unwrap().unwrap();
    for o in &outcomes {
        assert_eq!(o.as_ref().unwrap(), &ClientOutcome::Included);
    }
    assert_exact_sum_of_all(&report, &p);
    assert_eq!(report.refused, 3);
}

/// Mutual TLS: the participant id comes from the client certificate the operator CA issued.
/// A certificate for another participant is refused after the handshake; no certificate, or
/// one from another CA, fails the handshake itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_name_the_participant() {
    let p = session_params(4);
    let ca = DevCa::new().unwrap();
    let server = ca.issue_server(&["localhost"]).unwrap();
    let mut o = opts(Arc::new(ClientCertificates::new()));
    o.client_ca = Some(vec![ca.cert()]);
    let net = net(&server, vec![ca.cert()], o);
    let run = {
        let (c, p) = (net.coordinator.clone(), p.clone());
        tokio::spawn(async move { c.run_session(p).await })
    };
    let victim = p.participants[3];
    let someone_else = ca.issue_participant(p.participants[0]).unwrap();
    assert_eq!(
        hello_close_code(&net, Some(&someone_else), victim, b"").await,
        UNAUTHORIZED
    );
    // Without a certificate, and with a certificate from another CA, the TLS handshake fails:
    // the coordinator never reads a Hello.
    let rogue = DevCa::new().unwrap().issue_participant(victim).unwrap();
    for tls in [None, Some(&rogue)] {
        let cfg = client_config_with_identity(&net.roots, Duration::from_secs(20), tls).unwrap();
        let conn = net
            .endpoint
            .connect_with(cfg, net.addr, "localhost")
            .unwrap()
            .await;
        // TLS 1.3 clients finish their side before the server checks the certificate, so the
        // refusal may arrive as the close of an established connection.
        let closed = match conn {
            Err(e) => e,
            Ok(c) => tokio::time::timeout(Duration::from_secs(5), c.closed())
                .await
                .expect("server closes a connection without a valid client certificate"),
        };
        assert!(
            matches!(
                closed,
                ConnectionError::TransportError(_) | ConnectionError::ConnectionClosed(_)
            ),
            "{closed:?}"
        );
    }
    let who = (0..4)
        .map(|index| Who {
            index,
            tls: Some(ca.issue_participant(p.participants[index]).unwrap()),
            credential: Vec::new(),
        })
        .collect();
    let outcomes = participants(&net, &p, who).await;
    let report = run.await.unwrap().unwrap();
    for o in &outcomes {
        assert_eq!(o.as_ref().unwrap(), &ClientOutcome::Included);
    }
    assert_exact_sum_of_all(&report, &p);
    assert_eq!(report.refused, 1);
}

async fn raw_connection(net: &Net) -> Result<quinn::Connection, ConnectionError> {
    let cfg = client_config_with_identity(&net.roots, Duration::from_secs(20), None).unwrap();
    net.endpoint
        .connect_with(cfg, net.addr, "localhost")
        .unwrap()
        .await
}

fn dev_net(o: CoordinatorOptions) -> Net {
    let server = TlsIdentity::self_signed(&["localhost"]).unwrap();
    net(&server, server.cert_chain.clone(), o)
}

/// Finding 2: the coordinator accepted QUIC datagrams that nothing read (400 connections sending
/// them took it to 729 MB). It now does not offer datagrams at all, so a peer cannot send one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_offers_no_datagrams() {
    let net = dev_net(opts(Arc::new(secagg::transport::auth::TrustClaimedId)));
    let p = session_params(3);
    let run = {
        let (c, p) = (net.coordinator.clone(), p.clone());
        tokio::spawn(async move { c.run_session(p).await })
    };
    // A client that would send datagrams (quinn's default transport allows them).
    let mut cfg = client_config_with_identity(&net.roots, Duration::from_secs(20), None).unwrap();
    cfg.transport_config(Arc::new(quinn::TransportConfig::default()));
    let conn = net
        .endpoint
        .connect_with(cfg, net.addr, "localhost")
        .unwrap()
        .await
        .unwrap();
    assert_eq!(conn.max_datagram_size(), None);
    assert!(matches!(
        conn.send_datagram(vec![0u8; 100].into()),
        Err(quinn::SendDatagramError::UnsupportedByPeer)
    ));
    conn.close(0u32.into(), b"");
    run.abort();
}

/// Finding 2: connections that never send a Hello were not capped. Beyond
/// `max_pending_hellos`, new connections are refused before the handshake; once the silent
/// ones are gone, clients get in again and the session completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_a_hello_are_capped() {
    let mut o = opts(Arc::new(secagg::transport::auth::TrustClaimedId));
    o.max_pending_hellos = 3;
    o.hello_timeout = Duration::from_millis(1500);
    let net = dev_net(o);
    let p = session_params(3);
    let run = {
        let (c, p) = (net.coordinator.clone(), p.clone());
        tokio::spawn(async move { c.run_session(p).await })
    };
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(raw_connection(&net).await.unwrap());
    }
    match raw_connection(&net).await {
        Err(ConnectionError::ConnectionClosed(c)) => {
            assert_eq!(c.error_code, quinn::TransportErrorCode::CONNECTION_REFUSED)
        }
        other => panic!("a fourth silent connection was not refused: {other:?}"),
    }
    // The participants start while the silent ones still hold every place: their first
    // connections are refused before the handshake and the client library retries with
    // backoff (spec section 22) until the silent ones time out (code 6) and free their places.
    let who = (0..3)
        .map(|index| Who {
            index,
            tls: None,
            credential: Vec::new(),
        })
        .collect();
    // Short backoffs (at most 300 ms, many attempts) so that all three are in well before
    // round 0's deadline once places free up; the default backoff grows to seconds.
    let retry = Retry {
        attempts: 40,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(300),
    };
    let clients = {
        let (net, p) = (net.clone(), p.clone());
        tokio::spawn(async move { participants_retrying(&net, &p, who, retry).await })
    };
    for c in &silent {
        match tokio::time::timeout(Duration::from_secs(5), c.closed()).await {
            Ok(ConnectionError::ApplicationClosed(a)) => {
                assert_eq!(a.error_code, CloseCode::Timeout.varint())
            }
            other => panic!("{other:?}"),
        }
    }
    let outcomes = clients.await.unwrap();
    let report = run.await.unwrap().unwrap();
    for o in &outcomes {
        assert_eq!(o.as_ref().unwrap(), &ClientOutcome::Included);
    }
    assert_exact_sum_of_all(&report, &p);
    // 1 raw connection and each participant's first attempt refused before the handshake, and
    // the 3 silent ones timed out.
    assert!(report.refused >= 7, "refused {}", report.refused);
}

/// Finding 3: a participant spamming frames the server refuses was never disconnected and its
/// frames queued without bound. After `max_refused` refusals its connection is closed with
/// code 10 and it is a dropout; the others get the exact sum of their inputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participant_spamming_refused_frames_is_disconnected() {
    let mut o = opts(Arc::new(secagg::transport::auth::TrustClaimedId));
    o.max_refused = 8;
    let net = dev_net(o);
    let p = session_params(5);
    let run = {
        let (c, p) = (net.coordinator.clone(), p.clone());
        tokio::spawn(async move { c.run_session(p).await })
    };
    let spammer = raw_connection(&net).await.unwrap();
    let (mut send, mut recv) = spammer.open_bi().await.unwrap();
    write_frame(&mut send, &encode_hello(p.participants[4], b"").unwrap())
        .await
        .unwrap();
    secagg::transport::frame::read_frame(&mut recv, secagg::transport::frame::MAX_PARAMS_FRAME)
        .await
        .unwrap()
        .unwrap();
    let spam = tokio::spawn(async move {
        let mut sent = 0u32;
        // Undecodable frames, as fast as the coordinator takes them, until it hangs up.
        while write_frame(&mut send, &[0xee; 64]).await.is_ok() && sent < 100_000 {
            sent += 1;
        }
        sent
    });
    match tokio::time::timeout(Duration::from_secs(10), spammer.closed()).await {
        Ok(ConnectionError::ApplicationClosed(a)) => {
            assert_eq!(a.error_code, CloseCode::TooManyRefused.varint())
        }
        other => panic!("spammer not disconnected: {other:?}"),
    }
    let sent = spam.await.unwrap();
    assert!(sent < 100_000, "the coordinator kept reading spam");
    let who = (0..4)
        .map(|index| Who {
            index,
            tls: None,
            credential: Vec::new(),
        })
        .collect();
    let outcomes = participants(&net, &p, who).await;
    let report = run.await.unwrap().unwrap();
    for o in &outcomes {
        assert_eq!(o.as_ref().unwrap(), &ClientOutcome::Included);
    }
    let out = report.result.as_ref().unwrap();
    assert_eq!(out.included, p.participants[..4]);
    let inputs = unique_inputs(5, 4);
    for (j, got) in out.dequantized_sum().iter().enumerate() {
        let want: f64 = inputs[..4].iter().map(|x| x[j]).sum();
        assert!((got - want).abs() < 1e-9);
    }
    assert!(report.rejected >= 9, "rejected {}", report.rejected);
}

/// Finding 7: a client connecting while a session was past round 0 was absorbed into it and
/// failed with "malformed frame". It is now told there is no open session, with a bound on
/// when to retry, and the running session completes without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_client_is_told_to_retry_not_absorbed() {
    let net = dev_net(opts(Arc::new(secagg::transport::auth::TrustClaimedId)));
    let mut p = params(5, 2, Graph::Complete, false, 4);
    p.round_timeout_ms = [800, 3000, 3000, 3000, 3000];
    let run = {
        let (c, p) = (net.coordinator.clone(), p.clone());
        tokio::spawn(async move { c.run_session(p).await })
    };
    let early = {
        let who = (0..4)
            .map(|index| Who {
                index,
                tls: None,
                credential: Vec::new(),
            })
            .collect();
        let (p, net) = (p.clone(), net.clone());
        tokio::spawn(async move {
            // Participant 4 stays silent in round 2, which keeps the session running until
            // that round's deadline.
            let silent = [(3, Vanish::Silent(Round::MaskedInput))];
            participants_vanishing(&net, &p, who, &silent).await
        })
    };
    // Round 0 closes at its deadline without participant 5.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cfg = client_config_with_identity(&net.roots, Duration::from_secs(20), None).unwrap();
    let conn = net
        .endpoint
        .connect_with(cfg, net.addr, "localhost")
        .unwrap()
        .await
        .expect("late client connects");
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    write_frame(&mut send, &encode_hello(p.participants[4], b"").unwrap())
        .await
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(5), conn.closed()).await {
        Ok(ConnectionError::ApplicationClosed(a)) => {
            assert_eq!(a.error_code, CloseCode::Busy.varint());
            let why = String::from_utf8_lossy(&a.reason);
            assert!(why.contains("retry within 12 s"), "{why}");
        }
        other => panic!("late client not told to retry: {other:?}"),
    }
    let early = early.await.unwrap();
    assert_eq!(early[0].as_ref().unwrap(), &ClientOutcome::Included);
    assert_eq!(early[1].as_ref().unwrap(), &ClientOutcome::Included);
    assert_eq!(early[2].as_ref().unwrap(), &ClientOutcome::Included);
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.result.unwrap().included, p.participants[..3]);
}

async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// The value of one sample line `name{labels} value` (or `name value`) in an exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Metrics over HTTP, scraped during and after a session with an impostor, a dropout and a
/// spammer: the counters equal the session report's figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_matches_the_session_report() {
    let p = session_params(5);
    let registry: String = (0..5)
        .map(|i| format!("{} {}\n", p.participants[i], token(i)))
        .collect();
    let mut o = opts(Arc::new(TokenFile::parse(&registry).unwrap()));
    o.max_refused = 3;
    let server = TlsIdentity::self_signed(&["localhost"]).unwrap();
    let net = net(&server, server.cert_chain.clone(), o);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = listener.local_addr().unwrap();
    let c = net.coordinator.clone();
    tokio::spawn(secagg::transport::metrics::serve_http(
        listener,
        net.coordinator.metrics(),
        Arc::new(move || !c.is_draining()),
    ));
    assert_eq!(http_get(http, "/healthz").await.0, 200);
    assert_eq!(http_get(http, "/readyz").await.0, 200);
    assert_eq!(http_get(http, "/nope").await.0, 404);
    let run = {
        let (c, p) = (net.coordinator.clone(), p.clone());
        tokio::spawn(async move { c.run_session(p).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, during) = http_get(http, "/metrics").await;
    assert_eq!(sample(&during, "secagg_sessions_started_total"), Some(1.0));
    assert_eq!(
        sample(&during, "secagg_sessions_completed_total"),
        Some(0.0)
    );
    // An impostor, then the participants; participant 5 vanishes before its masked input.
    assert_eq!(
        hello_close_code(&net, None, p.participants[0], b"").await,
        UNAUTHORIZED
    );
    let who = (0..5)
        .map(|index| Who {
            index,
            tls: None,
            credential: token(index).into_bytes(),
        })
        .collect();
    let vanish = [(4, Vanish::Disconnect(Round::MaskedInput))];
    let outcomes = participants_vanishing(&net, &p, who, &vanish).await;
    let report = run.await.unwrap().unwrap();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Ok(ClientOutcome::Included)))
            .count(),
        4
    );
    let (status, after) = http_get(http, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(sample(&after, "secagg_sessions_completed_total"), Some(1.0));
    assert_eq!(
        sample(
            &after,
            "secagg_connections_refused_total{code=\"Unauthorized\"}"
        ),
        Some(report.refused as f64)
    );
    assert_eq!(
        sample(&after, "secagg_bytes_received_total"),
        Some(report.bytes_in as f64)
    );
    assert_eq!(
        sample(&after, "secagg_bytes_sent_total"),
        Some(report.bytes_out as f64)
    );
    assert_eq!(
        sample(&after, "secagg_messages_rejected_total"),
        Some(report.rejected as f64)
    );
    let dropped: Vec<_> = report
        .fates
        .iter()
        .filter_map(|(_, f)| match f {
            secagg::protocol::ClientFate::Dropped { round, why } => Some((*round, *why)),
            _ => None,
        })
        .collect();
    assert_eq!(dropped.len(), 1);
    let (r, w) = dropped[0];
    assert_eq!(
        sample(
            &after,
            &format!("secagg_client_drops_total{{round=\"{r:?}\",reason=\"{w:?}\"}}")
        ),
        Some(1.0)
    );
    for (set, size) in &report
        .rounds
        .iter()
        .filter_map(|l| l.set)
        .collect::<Vec<_>>()
    {
        assert_eq!(
            sample(
                &after,
                &format!("secagg_round_survivors_total{{set=\"{set}\"}}")
            ),
            Some(*size as f64),
            "{set}"
        );
    }
    assert_eq!(
        sample(
            &after,
            "secagg_round_duration_seconds_count{round=\"AdvertiseKeys\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&after, "secagg_unmask_seconds_count"), Some(1.0));
    net.coordinator.drain(Duration::ZERO);
    assert_eq!(http_get(http, "/readyz").await.0, 503);
}

/// The parameters a cohort session builds for the ids that checked in: the template's
/// settings, a complete graph and a majority threshold for the actual size.
fn cohort_params(
    template: &SessionParams,
    ids: Vec<ParticipantId>,
) -> Result<SessionParams, String> {
    let mut p = template.clone();
    p.threshold = (ids.len() / 2 + 1) as u16;
    p.participants = ids;
    p.validate().map_err(|e| e.to_string())?;
    Ok(p)
}

/// What a background cohort session returns.
type CohortRun = Result<(SessionReport, Result<(), String>), TransportError>;

/// Runs a cohort session in the background; its parameters come from `template`
/// ([`cohort_params`]) and its report is not stored.
fn spawn_cohort(
    net: &Net,
    template: &SessionParams,
    cohort: Cohort,
) -> tokio::task::JoinHandle<CohortRun> {
    let (c, t) = (net.coordinator.clone(), template.clone());
    tokio::spawn(async move {
        c.run_cohort_session(
            &cohort,
            |ids| cohort_params(&t, ids),
            |_| Ok::<(), String>(()),
            None,
        )
        .await
    })
}

/// Cohorts: the session runs with whoever checked in by the deadline. 5 of 8 eligible clients
/// check in; the cohort closes at its deadline with those 5, the parameters are built for
/// exactly them (n = 5), and the sum is theirs. An ineligible id is refused at check-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cohort_session_runs_with_whoever_checked_in() {
    let net = dev_net(opts(Arc::new(secagg::transport::auth::TrustClaimedId)));
    let template = session_params(8);
    let cohort = Cohort {
        eligible: Some(template.participants[..7].to_vec()),
        min_clients: 3,
        max_clients: 7,
        checkin_timeout: Duration::from_millis(1500),
    };
    let run = spawn_cohort(&net, &template, cohort);
    let members = [0usize, 2, 3, 5, 6];
    let who = members
        .iter()
        .chain([7].iter()) // participant 8 is not eligible
        .map(|&index| Who {
            index,
            tls: None,
            credential: Vec::new(),
        })
        .collect();
    let outcomes = participants_retrying(&net, &template, who, Retry::NEVER).await;
    let (report, stored) = run.await.unwrap().unwrap();
    stored.unwrap();
    for o in &outcomes[..5] {
        assert_eq!(o.as_ref().unwrap(), &ClientOutcome::Included);
    }
    match &outcomes[5] {
        Err(TransportError::ClosedByPeer { code, .. }) => {
            assert_eq!(*code, Some(CloseCode::UnknownParticipant))
        }
        other => panic!("ineligible participant not refused: {other:?}"),
    }
    let ids: Vec<ParticipantId> = members.iter().map(|&i| template.participants[i]).collect();
    assert_eq!(report.params.participants, ids);
    assert_eq!(report.params.threshold, 3);
    let out = report.result.as_ref().unwrap();
    assert_eq!(out.included, ids);
    let inputs = unique_inputs(template.n(), template.vector_len as usize);
    for (j, got) in out.dequantized_sum().iter().enumerate() {
        let want: f64 = members.iter().map(|&i| inputs[i][j]).sum();
        assert!((got - want).abs() < 1e-9, "coordinate {j}: {got} vs {want}");
    }
}

/// Cohorts: a full cohort closes at once (long before its deadline), and a client arriving
/// after that is told to retry (code 9), not absorbed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_cohort_closes_early_and_later_clients_are_told_to_retry() {
    let net = dev_net(opts(Arc::new(secagg::transport::auth::TrustClaimedId)));
    let template = session_params(6);
    let cohort = Cohort {
        eligible: None,
        min_clients: 3,
        max_clients: 4,
        checkin_timeout: Duration::from_secs(60),
    };
    let t0 = std::time::Instant::now();
    let run = spawn_cohort(&net, &template, cohort);
    let first: Vec<Who> = (0..4)
        .map(|index| Who {
            index,
            tls: None,
            credential: Vec::new(),
        })
        .collect();
    let outcomes = participants_retrying(&net, &template, first, Retry::NEVER).await;
    let (report, _) = run.await.unwrap().unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "waited for the deadline"
    );
    for o in &outcomes {
        assert_eq!(o.as_ref().unwrap(), &ClientOutcome::Included);
    }
    assert_eq!(report.params.n(), 4);
    // The coordinator is between sessions: nothing accepts now; a client arriving while a
    // cohort session runs but is full gets Busy. Start a second cohort session, fill it, then
    // one more.
    let cohort = Cohort {
        eligible: None,
        min_clients: 3,
        max_clients: 3,
        checkin_timeout: Duration::from_secs(60),
    };
    let run = spawn_cohort(&net, &template, cohort);
    // Participants 1-3 fill it; 3 goes silent in round 2 so the session stays open.
    let fill = {
        let (net, t) = (net.clone(), template.clone());
        tokio::spawn(async move {
            let who = (0..3)
                .map(|index| Who {
                    index,
                    tls: None,
                    credential: Vec::new(),
                })
                .collect();
            participants_vanishing(&net, &t, who, &[(2, Vanish::Silent(Round::MaskedInput))]).await
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    let late = participants_retrying(
        &net,
        &template,
        vec![Who {
            index: 5,
            tls: None,
            credential: Vec::new(),
        }],
        Retry::NEVER,
    )
    .await;
    match &late[0] {
        Err(TransportError::ClosedByPeer { code, .. }) => assert_eq!(*code, Some(CloseCode::Busy)),
        other => panic!("late client not told to retry: {other:?}"),
    }
    let _ = fill.await.unwrap();
    let _ = run.await.unwrap();
}

/// Cohorts: fewer than the quorum by the deadline: no session runs, the members are told to
/// retry (code 9), and the error says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cohort_below_quorum_runs_no_session() {
    let net = dev_net(opts(Arc::new(secagg::transport::auth::TrustClaimedId)));
    let template = session_params(6);
    let cohort = Cohort {
        eligible: None,
        min_clients: 4,
        max_clients: 6,
        checkin_timeout: Duration::from_millis(1000),
    };
    let run = spawn_cohort(&net, &template, cohort);
    let who = (0..2)
        .map(|index| Who {
            index,
            tls: None,
            credential: Vec::new(),
        })
        .collect();
    let outcomes = participants_retrying(&net, &template, who, Retry::NEVER).await;
    match run.await.unwrap() {
        Err(TransportError::QuorumNotReached { have: 2, need: 4 }) => {}
        other => panic!("{:?}", other.map(|r| r.0.result)),
    }
    for o in &outcomes {
        match o {
            Err(TransportError::ClosedByPeer { code, .. }) => {
                assert_eq!(*code, Some(CloseCode::Busy))
            }
            other => panic!("member not told to retry: {other:?}"),
        }
    }
}
