//! The app developer's path: parameters from the builder, a client started before its input is
//! known, the input given later as a borrowed `&[f32]` or `&[f64]`, clipping reported, and an
//! OS-seeded RNG.

use std::sync::Arc;

use chacha20::ChaCha20Rng;
use secagg::ids::ParticipantId;
use secagg::protocol::chooser::{choose_session_graph, ChooserError};
use secagg::protocol::{
    BuildError, Client, ClientPolicy, ClientSetupError, ClientStatus, Graph, Server, SessionParams,
    ThreatModel,
};
use secagg::rand_core::SeedableRng;

fn ids(n: u16) -> Vec<ParticipantId> {
    (1..=n).map(|i| ParticipantId::new(i).unwrap()).collect()
}

/// Step 2^-15: multiples of 2^-15 in [-1, 1] quantize exactly. A test with a dropout sets the
/// rate explicitly: 5% of a handful of clients rounds down to none, and the chooser then plans a
/// ring that one dropout disconnects.
fn params(n: u16, len: u32, dropout: f64) -> Arc<SessionParams> {
    Arc::new(
        SessionParams::builder([3; 32], ids(n), len)
            .dropout_rate(dropout)
            .quantization(1.0, (1 << 16) + 1)
            .round_timeouts_ms([1000; 5])
            .build()
            .unwrap(),
    )
}

/// How a test client gets its input.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Feed {
    /// `set_input` right after `start` (f64).
    Early,
    /// `set_input` only once the client asks for it (`NeedsInput`), as f32.
    LateF32,
    /// Never answers after round 0.
    Drop,
}

/// Runs one session in-process; returns the server's weighted mean and each client.
fn run(
    p: &Arc<SessionParams>,
    feeds: &[Feed],
    inputs: &[Vec<f32>],
) -> (Vec<f64>, Vec<ParticipantId>, Vec<Client>) {
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let mut policy = ClientPolicy::new(p.vector_len);
    policy.participants = (2, 100);
    let mut server = Server::new(p.clone(), 0).unwrap();
    let mut clients = Vec::new();
    for (i, &id) in p.participants.iter().enumerate() {
        let (mut c, hello) = Client::start(p.clone(), &policy, id, None, &mut rng).unwrap();
        assert_eq!(c.clipped_coordinates(), None);
        server.handle_message(id, &hello, 0).unwrap();
        if feeds[i] == Feed::Early {
            let x: Vec<f64> = inputs[i].iter().map(|&v| v.into()).collect();
            assert_eq!(c.set_input(&x, 1, &mut rng), Ok(None));
        }
        clients.push(c);
    }
    let mut now = 0;
    while server.result().is_none() {
        while let Some((to, bytes)) = server.poll_transmit() {
            let i = p.index_of(to).unwrap();
            if feeds[i] == Feed::Drop {
                continue;
            }
            let c = &mut clients[i];
            let reply = c.handle(&bytes, &mut rng).unwrap();
            let reply = match (reply, c.status()) {
                (None, ClientStatus::NeedsInput) => {
                    assert_eq!(feeds[i], Feed::LateF32);
                    c.set_input(&inputs[i], 1, &mut rng).unwrap()
                }
                (r, _) => r,
            };
            if let Some(r) = reply {
                // Unmasking shares that arrive after the sum was computed are refused.
                if let Err(e) = server.handle_message(to, &r, now) {
                    assert!(server.result().is_some(), "{e:?}");
                }
            }
        }
        if server.result().is_none() {
            now = server.poll_timeout().unwrap();
            server.handle_timeout(now);
        }
    }
    let out = server.result().unwrap().as_ref().unwrap();
    (out.weighted_mean().clone(), out.included.clone(), clients)
}

#[test]
fn input_after_start_f32_and_f64_with_a_dropout_gives_the_exact_mean() {
    let n = 6;
    let p = params(n, 4, 0.34);
    let feeds = [
        Feed::Early,
        Feed::LateF32,
        Feed::Drop,
        Feed::LateF32,
        Feed::Early,
        Feed::LateF32,
    ];
    let inputs: Vec<Vec<f32>> = (0..n)
        .map(|i| (0..4).map(|j| (i as f32 - j as f32) / 8.0).collect())
        .collect();
    let (mean, included, clients) = run(&p, &feeds, &inputs);
    let kept: Vec<usize> = (0..n as usize)
        .filter(|&i| feeds[i] != Feed::Drop)
        .collect();
    assert_eq!(
        included,
        kept.iter().map(|&i| p.participants[i]).collect::<Vec<_>>()
    );
    for j in 0..4 {
        let want = kept.iter().map(|&i| f64::from(inputs[i][j])).sum::<f64>() / kept.len() as f64;
        assert!(
            (mean[j] - want).abs() < 1e-9,
            "coordinate {j}: {} vs {want}",
            mean[j]
        );
    }
    for &i in &kept {
        assert_eq!(clients[i].clipped_coordinates(), Some(0));
        assert!(matches!(clients[i].status(), ClientStatus::Finished(_)));
    }
}

#[test]
fn clipping_is_counted() {
    let n = 3;
    let p = params(n, 5, 0.0);
    // Inputs 5..25 with clip 1: every coordinate of client 0 is clipped; client 1 has two
    // values outside [-1, 1] (the bounds themselves are not clipped).
    let inputs = vec![
        vec![5.0, 10.0, 15.0, 20.0, 25.0],
        vec![1.0, -1.0, 1.5, -2.0, 0.0],
        vec![0.0; 5],
    ];
    let (mean, _, clients) = run(&p, &[Feed::LateF32; 3], &inputs);
    assert_eq!(clients[0].clipped_coordinates(), Some(5));
    assert_eq!(clients[1].clipped_coordinates(), Some(2));
    assert_eq!(clients[2].clipped_coordinates(), Some(0));
    // The clipped values entered the sum as the bounds.
    let want = [2.0 / 3.0, 0.0, 2.0 / 3.0, 0.0, 1.0 / 3.0];
    for (m, w) in mean.iter().zip(want) {
        assert!((m - w).abs() < 1e-9, "{m} vs {w}");
    }
}

#[test]
fn set_input_rejects_bad_calls_and_allows_a_retry() {
    let p = params(3, 2, 0.0);
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let mut policy = ClientPolicy::new(2);
    policy.participants = (2, 100);
    let (mut c, _) = Client::start(p.clone(), &policy, p.participants[0], None, &mut rng).unwrap();
    assert_eq!(
        c.set_input(&[0.0f32; 3], 1, &mut rng),
        Err(ClientSetupError::InputLength {
            got: 3,
            expected: 2
        })
    );
    assert_eq!(
        c.set_input(&[0.0f32; 2], 2, &mut rng),
        Err(ClientSetupError::Weight { weight: 2, max: 1 })
    );
    assert!(matches!(
        c.set_input(&[f64::NAN, 0.0], 1, &mut rng),
        Err(ClientSetupError::Quantize(_))
    ));
    // The failed calls changed nothing.
    assert_eq!(c.clipped_coordinates(), None);
    assert_eq!(c.set_input(&[0.5f32, 2.0], 1, &mut rng), Ok(None));
    assert_eq!(c.clipped_coordinates(), Some(1));
    assert_eq!(
        c.set_input(&[0.5f32, 0.5], 1, &mut rng),
        Err(ClientSetupError::InputAlreadySet)
    );
    // An aborted client takes no input.
    let (mut d, _) = Client::start(p.clone(), &policy, p.participants[1], None, &mut rng).unwrap();
    assert!(d.handle(b"garbage", &mut rng).is_err());
    assert_eq!(
        d.set_input(&[0.5f32, 0.5], 1, &mut rng),
        Err(ClientSetupError::InputTooLate)
    );
}

#[test]
fn start_checks_the_policy_before_generating_keys() {
    let p = params(3, 2, 0.0);
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    // The default policy wants at least 10 clients.
    let policy = ClientPolicy::new(2);
    let before = rng.get_word_pos();
    assert!(matches!(
        Client::start(p.clone(), &policy, p.participants[0], None, &mut rng),
        Err(ClientSetupError::Policy(_))
    ));
    // No randomness was drawn: nothing was generated for the refused session.
    assert_eq!(rng.get_word_pos(), before);
}

#[test]
fn builder_uses_the_chooser_and_passes_the_default_policy() {
    for n in [10u16, 100, 1000] {
        let p = SessionParams::builder([5; 32], ids(n), 100)
            .build()
            .unwrap();
        let (graph, t, c) =
            choose_session_graph(n as u64, 0.05, 0.05, ThreatModel::SemiHonest).unwrap();
        assert_eq!(
            (p.graph, p.threshold, p.max_corrupt_neighbours),
            (graph, t, c)
        );
        assert!(
            ClientPolicy::new(100).check(&p, p.participants[0]).is_ok(),
            "n = {n}"
        );
        // The ring holds the sum of n inputs at the top level and n weights.
        assert!(p.quantizer().is_ok());
    }
    // Published semi-honest pairs for 5% / 5% (Bell et al.; spec section 20).
    let p = SessionParams::builder([5; 32], ids(100), 1)
        .build()
        .unwrap();
    assert_eq!((p.graph, p.threshold), (Graph::Harary { degree: 12 }, 6));
    // Rates outside [0, 1) and overrides that break the rules are refused on build.
    assert!(matches!(
        SessionParams::builder([5; 32], ids(100), 1)
            .dropout_rate(1.5)
            .build(),
        Err(BuildError::Chooser(ChooserError::InvalidFraction { .. }))
    ));
    assert!(matches!(
        SessionParams::builder([5; 32], ids(100), 1)
            .graph(Graph::Complete, 3, 3)
            .build(),
        Err(BuildError::Params(_))
    ));
}

#[test]
fn builder_active_model_takes_the_active_chooser() {
    use secagg::crypto::sign::SigningKey;
    let n = 100u16;
    let keys: Vec<[u8; 32]> = (0..n)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..2].copy_from_slice(&i.to_le_bytes());
            SigningKey::from_seed(&seed).verifying_key().to_bytes()
        })
        .collect();
    let p = SessionParams::builder([5; 32], ids(n), 10)
        .active(keys)
        .build()
        .unwrap();
    let want = choose_session_graph(n as u64, 0.05, 0.05, ThreatModel::Active).unwrap();
    assert_eq!((p.graph, p.threshold, p.max_corrupt_neighbours), want);
    assert_eq!(p.threat_model, ThreatModel::Active);
    assert!(2 * p.threshold as usize > p.degree() + p.max_corrupt_neighbours as usize);
}

#[test]
fn os_rng_is_seeded_differently_each_time() {
    use secagg::rand_core::Rng;
    let mut a = secagg::rng::os_rng().unwrap();
    let mut b = secagg::rng::os_rng().unwrap();
    assert_ne!([a.next_u64(), a.next_u64()], [b.next_u64(), b.next_u64()]);
}
