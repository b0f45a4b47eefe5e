//! Bugs found while fuzzing (issue 7), each pinned by a plain test. The crashing fuzz inputs are
//! also kept under `fuzz/regressions/` and replayed by `tests/fuzz_replay.rs`.

mod protocol_common;

use std::collections::VecDeque;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use protocol_common::*;
use secagg::protocol::messages::{types, ClientMessage, Limits, ServerMessage};
use secagg::protocol::params::Graph;
use secagg::protocol::server::ClientFate;
use secagg::protocol::{Client, Server};
use secagg::quantize::{QuantizeError, Quantizer};
use secagg::ring::Bits;

/// server_state_machine: a client whose connection closed after its masked input was accepted,
/// but before round 2 closed, was dropped from U3 while its masked input stayed in the
/// accumulator: the session "succeeded" with a sum off by that client's masked vector.
#[test]
fn disconnect_after_masked_input_keeps_the_input_in_the_sum() {
    let p = params(5, 2, Graph::Complete, false, 3);
    let cfg = config(p.clone(), vec![None; 5], 11);
    let mut server = Server::new(cfg.params.clone(), 0).unwrap();
    let mut clients = Vec::new();
    let mut rngs = Vec::new();
    let mut queue = VecDeque::new();
    for (i, &id) in p.participants.iter().enumerate() {
        let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
        let (c, m) =
            Client::new(cfg.params.clone(), id, None, &cfg.inputs[i], 1, &mut rng).unwrap();
        clients.push(c);
        rngs.push(rng);
        queue.push_back((i, m));
    }
    let gone = p.participants[0];
    let mut reported = false;
    while let Some((i, m)) = queue.pop_front() {
        // Late unmasking shares may arrive after the session finished early.
        let _ = server.handle_message(p.participants[i], &m, 0);
        if i == 0 && m[1] == types::MASKED_INPUT {
            // Client 0's input is in; the others' are still on their way.
            server.client_gone(gone, 0);
            reported = true;
        }
        while let Some((to, bytes)) = server.poll_transmit() {
            let j = p.index_of(to).unwrap();
            if reported && to == gone {
                continue;
            }
            if let Ok(Some(r)) = clients[j].handle(&bytes, &mut rngs[j]) {
                queue.push_back((j, r));
            }
        }
    }
    let out = server.result().expect("finished").as_ref().expect("a sum");
    assert_eq!(
        out.included, p.participants,
        "client 0's input was received"
    );
    let want = secagg::protocol::sim::expected_sum(&cfg, &out.included);
    for (g, w) in out.dequantized_sum().iter().zip(&want) {
        assert!((g - w).abs() < 1e-9, "sum {g}, expected {w}");
    }
    assert_eq!(out.weight_sum, 5);
    assert_eq!(server.fate(gone), Some(ClientFate::Included));
}

/// quantize: a tiny clip with many levels passed validation although the step was subnormal or
/// its inverse infinite, so every input quantized to the top level.
#[test]
fn tiny_clip_with_many_levels_is_rejected() {
    for (clip, levels) in [
        (f64::MIN_POSITIVE, 1u64 << 20),
        (1.48e-304, 14571),
        (1e-300, 1 << 32),
    ] {
        assert!(
            matches!(
                Quantizer::new(clip, levels, Bits::new(40).unwrap(), 10),
                Err(QuantizeError::InvalidClip(_))
            ),
            "clip {clip}, Q {levels}"
        );
    }
    // The smallest clips that remain valid still quantize within one step.
    let q = Quantizer::new(1e-290, 1 << 16, Bits::new(40).unwrap(), 10).unwrap();
    let v = q
        .quantize_with_words(&[0.0f64, 1e-290, -1e-290], 1.0, &[0; 3])
        .unwrap();
    let d = q.dequantize_sum(&v, 1).unwrap();
    for (got, want) in d.iter().zip([0.0, 1e-290, -1e-290]) {
        assert!((got - want).abs() <= q.step(), "{got} vs {want}");
    }
}

/// decode_client_message / decode_server_message: the size arithmetic of `Limits` overflowed
/// (a panic in debug builds) for limits no validated session produces but the public struct
/// allows.
#[test]
fn extreme_limits_do_not_overflow() {
    let l = Limits {
        n: usize::MAX,
        degree: usize::MAX,
        packed_len: usize::MAX,
        active: true,
    };
    assert_eq!(l.max_client_message(), usize::MAX);
    assert_eq!(l.max_server_message(), usize::MAX);
    let mut msg = vec![1, types::KEY_DIRECTORY];
    msg.extend_from_slice(&[0; 32]);
    msg.extend_from_slice(&[0, 0]);
    assert!(ServerMessage::decode(&msg, &l).is_ok());
    msg[1] = types::MASKED_INPUT;
    assert!(ClientMessage::decode(&msg, &l).is_err());
}
