//! Adversarial tests: a malicious server tampering with what one honest client receives (each
//! case a typed abort of that client, which then sends nothing), and malicious clients sending
//! the server bad messages (refused with a typed error; the round completes without them).

mod protocol_common;

use std::sync::Arc;

use protocol_common::*;
use secagg::crypto::kex::KexPublicKey;
use secagg::ids::{ParticipantId, SessionId};
use secagg::protocol::messages::*;
use secagg::protocol::params::{Graph, SessionParams};
use secagg::protocol::sim::{self, SimReport, Tamper};
use secagg::protocol::{ClientCheck, ClientStatus, RejectReason};

const VICTIM: usize = 0;

fn base(active: bool) -> SessionParams {
    // 6 clients, complete graph; the active model needs t > k/2 = 2.5.
    params(6, if active { 3 } else { 2 }, Graph::Complete, active, 4)
}

/// Runs a session where every server message to the victim passes through `f`, which gets the
/// decoded message and returns the messages to deliver instead.
fn with_server_tamper(
    active: bool,
    f: impl Fn(&Limits, SessionId, ServerMessage, Vec<u8>) -> Vec<Vec<u8>> + Send + Sync + 'static,
) -> SimReport {
    let p = base(active);
    let limits = Limits::new(&p);
    let mut cfg = config(p, vec![None; 6], 77);
    let tamper: Tamper = Arc::new(move |i, bytes: Vec<u8>| {
        if i != VICTIM {
            return vec![bytes];
        }
        let (sid, msg) = ServerMessage::decode(&bytes, &limits).expect("server messages decode");
        f(&limits, sid, msg, bytes)
    });
    cfg.server_tamper = Some(tamper);
    sim::run(&cfg).unwrap()
}

/// The victim's abort reason (it must have aborted exactly once, and nothing after).
fn victim_check(r: &SimReport) -> ClientCheck {
    let victim = ids(6)[VICTIM];
    let aborts: Vec<_> = r
        .client_aborts
        .iter()
        .filter(|a| a.client == victim)
        .collect();
    assert_eq!(aborts.len(), 1, "victim aborts: {:?}", r.client_aborts);
    match &r.clients[VICTIM] {
        ClientStatus::Aborted(a) => assert_eq!(a, aborts[0]),
        s => panic!("victim not aborted: {s:?}"),
    }
    // Never both kinds of share for one peer.
    let rev = &r.revealed[VICTIM];
    let mut owners: Vec<_> = rev.iter().map(|(o, _)| *o).collect();
    owners.dedup();
    assert_eq!(owners.len(), rev.len());
    aborts[0].check.clone()
}

fn tamper_directory(
    active: bool,
    f: impl Fn(&mut KeyDirectory) + Send + Sync + 'static,
) -> ClientCheck {
    let r = with_server_tamper(active, move |_, sid, msg, bytes| match msg {
        ServerMessage::KeyDirectory(mut d) => {
            f(&mut d);
            vec![ServerMessage::KeyDirectory(d).encode(&sid)]
        }
        _ => vec![bytes],
    });
    victim_check(&r)
}

#[test]
fn directory_without_the_client() {
    let me = ids(6)[VICTIM];
    let c = tamper_directory(false, move |d| d.entries.retain(|e| e.id != me));
    assert_eq!(c, ClientCheck::SelfMissing);
}

#[test]
fn directory_with_altered_own_keys() {
    let me = ids(6)[VICTIM];
    let c = tamper_directory(false, move |d| {
        d.entries.iter_mut().find(|e| e.id == me).unwrap().c_pk = KexPublicKey([9; 32]);
    });
    assert_eq!(c, ClientCheck::OwnKeysAltered);
}

#[test]
fn directory_with_repeated_public_key() {
    let c = tamper_directory(false, |d| d.entries[2].s_pk = d.entries[1].s_pk);
    assert!(matches!(c, ClientCheck::DuplicatePublicKey(_)), "{c:?}");
}

#[test]
fn directory_with_all_zero_public_key() {
    let c = tamper_directory(false, |d| d.entries[3].c_pk = KexPublicKey([0; 32]));
    assert_eq!(c, ClientCheck::NonContributoryKey(ids(6)[3]));
}

#[test]
fn directory_with_unknown_participant() {
    let c = tamper_directory(false, |d| {
        d.entries.last_mut().unwrap().id = ParticipantId::new(60_000).unwrap()
    });
    assert_eq!(
        c,
        ClientCheck::NotAParticipant(ParticipantId::new(60_000).unwrap())
    );
}

#[test]
fn directory_too_small() {
    // Own entry plus one neighbour, threshold 2.
    let c = tamper_directory(false, |d| d.entries.truncate(2));
    assert_eq!(c, ClientCheck::TooFewNeighbours { have: 1, need: 2 });
}

#[test]
fn directory_with_duplicate_ids_or_bad_framing() {
    for mutate in [0, 1, 2] {
        let r = with_server_tamper(false, move |_, sid, msg, bytes| match msg {
            ServerMessage::KeyDirectory(d) => {
                let mut b = if mutate == 0 {
                    // The same entry twice: not strictly increasing.
                    let mut d = d.clone();
                    d.entries.insert(1, d.entries[1].clone());
                    ServerMessage::KeyDirectory(d).encode(&sid)
                } else {
                    bytes
                };
                if mutate == 1 {
                    b.pop(); // truncated
                } else if mutate == 2 {
                    b.push(0); // trailing byte
                }
                vec![b]
            }
            _ => vec![bytes],
        });
        let c = victim_check(&r);
        assert!(matches!(c, ClientCheck::Decode(_)), "case {mutate}: {c:?}");
    }
}

#[test]
fn message_replayed_from_another_session() {
    let r = with_server_tamper(false, |_, _, msg, bytes| match msg {
        ServerMessage::KeyDirectory(_) => vec![msg.encode(&SessionId([0xee; 32]))],
        _ => vec![bytes],
    });
    assert_eq!(victim_check(&r), ClientCheck::WrongSession);
}

#[test]
fn messages_out_of_order() {
    // An unmasking request where the key directory was expected.
    let r = with_server_tamper(false, |_, sid, msg, bytes| match msg {
        ServerMessage::KeyDirectory(_) => vec![ServerMessage::UnmaskRequest(UnmaskRequest {
            survivors: ids(6),
            signatures: vec![],
        })
        .encode(&sid)],
        _ => vec![bytes],
    });
    assert_eq!(
        victim_check(&r),
        ClientCheck::UnexpectedMessage {
            got: types::UNMASK_REQUEST
        }
    );
    // "Included" before the client revealed anything is also refused.
    let r = with_server_tamper(false, |_, sid, msg, bytes| match msg {
        ServerMessage::ShareBundle(_) => vec![ServerMessage::Finished(Finished {
            outcome: Outcome::Included,
            code: 0,
        })
        .encode(&sid)],
        _ => vec![bytes],
    });
    assert_eq!(
        victim_check(&r),
        ClientCheck::UnexpectedMessage {
            got: types::FINISHED
        }
    );
}

#[test]
fn ciphertexts_with_swapped_senders() {
    let r = with_server_tamper(false, |_, sid, msg, bytes| match msg {
        ServerMessage::ShareBundle(mut b) => {
            let (c0, c1) = (b.ciphertexts[0].1, b.ciphertexts[1].1);
            b.ciphertexts[0].1 = c1;
            b.ciphertexts[1].1 = c0;
            vec![ServerMessage::ShareBundle(b).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_eq!(victim_check(&r), ClientCheck::DecryptFailed(ids(6)[1]));
}

#[test]
fn ciphertext_addressed_to_another_recipient() {
    // Client 1's ciphertext for client 2 presented to the victim as coming from client 1.
    let p = base(false);
    let limits = Limits::new(&p);
    let mut cfg = config(p, vec![None; 6], 78);
    let stolen = Arc::new(std::sync::Mutex::new(None));
    let s2 = stolen.clone();
    cfg.client_tamper = Some(Arc::new(move |i, bytes: Vec<u8>| {
        if i == 1 {
            if let Ok((_, ClientMessage::ShareKeys(m))) = ClientMessage::decode(&bytes, &limits) {
                *s2.lock().unwrap() = Some(m.ciphertexts[1].1); // addressed to client 2
            }
        }
        vec![bytes]
    }));
    cfg.server_tamper = Some(Arc::new(move |i, bytes: Vec<u8>| {
        if i != VICTIM {
            return vec![bytes];
        }
        match ServerMessage::decode(&bytes, &limits) {
            Ok((sid, ServerMessage::ShareBundle(mut b))) => {
                b.ciphertexts[0].1 = stolen.lock().unwrap().expect("captured");
                vec![ServerMessage::ShareBundle(b).encode(&sid)]
            }
            _ => vec![bytes],
        }
    }));
    let r = sim::run(&cfg).unwrap();
    assert_eq!(victim_check(&r), ClientCheck::DecryptFailed(ids(6)[1]));
}

#[test]
fn survivor_set_without_the_client() {
    let me = ids(6)[VICTIM];
    let r = with_server_tamper(false, move |_, sid, msg, bytes| match msg {
        ServerMessage::UnmaskRequest(mut u) => {
            u.survivors.retain(|&x| x != me);
            vec![ServerMessage::UnmaskRequest(u).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_eq!(victim_check(&r), ClientCheck::SelfNotSurvivor);
}

#[test]
fn survivor_set_that_grew() {
    // The victim never got client 3's shares, yet client 3 is listed in U3.
    let r = with_server_tamper(false, |_, sid, msg, bytes| match msg {
        ServerMessage::ShareBundle(mut b) => {
            b.ciphertexts.retain(|(from, _)| *from != ids(6)[3]);
            vec![ServerMessage::ShareBundle(b).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_eq!(victim_check(&r), ClientCheck::SetGrew(ids(6)[3]));
}

#[test]
fn survivor_set_too_small() {
    let all = ids(6);
    let r = with_server_tamper(false, move |_, sid, msg, bytes| match msg {
        ServerMessage::UnmaskRequest(mut u) => {
            u.survivors = vec![all[0], all[1]];
            vec![ServerMessage::UnmaskRequest(u).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_eq!(
        victim_check(&r),
        ClientCheck::TooFewNeighbours { have: 1, need: 2 }
    );
}

#[test]
fn second_unmask_request_asking_for_the_other_share() {
    // The server asks twice: first with client 4 in U3 (self-mask share), then without it
    // (which would reveal client 4's mask-key share). The second request is refused.
    let victim_id = ids(6)[VICTIM];
    let c4 = ids(6)[4];
    let r = with_server_tamper(false, move |_, sid, msg, bytes| match msg {
        ServerMessage::UnmaskRequest(u) => {
            let mut second = u.clone();
            second.survivors.retain(|&x| x != c4);
            vec![bytes, ServerMessage::UnmaskRequest(second).encode(&sid)]
        }
        _ => vec![bytes],
    });
    let victim_aborts: Vec<_> = r
        .client_aborts
        .iter()
        .filter(|a| a.client == victim_id)
        .collect();
    assert_eq!(victim_aborts.len(), 1, "{:?}", r.client_aborts);
    assert_eq!(
        victim_aborts[0].check,
        ClientCheck::UnexpectedMessage {
            got: types::UNMASK_REQUEST
        }
    );
    let rev = &r.revealed[VICTIM];
    assert!(
        rev.iter().all(|(_, k)| *k == ShareKind::SelfMask),
        "{rev:?}"
    );
    assert_eq!(rev.iter().filter(|(o, _)| *o == c4).count(), 1);
    // The honest first answer still let the session finish correctly.
    assert!(r.result.is_ok());
}

#[test]
fn active_bad_key_signature() {
    let c = tamper_directory(true, |d| {
        let e = &mut d.entries[2];
        let mut s = e.signature.unwrap();
        s.0[5] ^= 1;
        e.signature = Some(s);
    });
    assert_eq!(c, ClientCheck::BadSignature(ids(6)[2]));
}

#[test]
fn active_unmask_set_differs_from_signed_set() {
    let c5 = ids(6)[5];
    let r = with_server_tamper(true, move |_, sid, msg, bytes| match msg {
        ServerMessage::UnmaskRequest(mut u) => {
            u.survivors.retain(|&x| x != c5);
            u.signatures.retain(|(x, _)| *x != c5);
            vec![ServerMessage::UnmaskRequest(u).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_eq!(victim_check(&r), ClientCheck::SignedSetChanged);
}

#[test]
fn active_missing_or_bad_consistency_signatures() {
    let r = with_server_tamper(true, |_, sid, msg, bytes| match msg {
        ServerMessage::UnmaskRequest(mut u) => {
            u.signatures.truncate(2);
            vec![ServerMessage::UnmaskRequest(u).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_eq!(
        victim_check(&r),
        ClientCheck::TooFewNeighbours { have: 2, need: 3 }
    );
    let r = with_server_tamper(true, |_, sid, msg, bytes| match msg {
        ServerMessage::UnmaskRequest(mut u) => {
            u.signatures[1].1 .0[0] ^= 0x80;
            vec![ServerMessage::UnmaskRequest(u).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert!(matches!(victim_check(&r), ClientCheck::BadSignature(_)));
}

#[test]
fn active_consistency_request_replayed_from_another_session() {
    let r = with_server_tamper(true, |_, _, msg, bytes| match msg {
        ServerMessage::ConsistencyRequest(_) => vec![msg.encode(&SessionId([1; 32]))],
        _ => vec![bytes],
    });
    assert_eq!(victim_check(&r), ClientCheck::WrongSession);
}

#[test]
fn nothing_is_sent_after_an_abort() {
    // After aborting on a bad directory the victim never sends again: the server sees no
    // ShareKeys from it, so it is excluded, and the others finish without it.
    let me = ids(6)[VICTIM];
    let r = with_server_tamper(false, move |_, sid, msg, bytes| match msg {
        ServerMessage::KeyDirectory(mut d) => {
            d.entries.retain(|e| e.id != me);
            vec![ServerMessage::KeyDirectory(d).encode(&sid)]
        }
        _ => vec![bytes],
    });
    let out = r.result.as_ref().expect("others complete");
    assert!(!out.included.contains(&me));
    assert_eq!(out.included.len(), 5);
}

// ---------------------------------------------------------------- malicious clients

const CHEAT: usize = 2;

/// Runs a session where client `CHEAT`'s messages pass through `f`.
fn with_client_tamper(
    f: impl Fn(&Limits, SessionId, ClientMessage, Vec<u8>) -> Vec<Vec<u8>> + Send + Sync + 'static,
) -> (SimReport, protocol_common::Cfg) {
    let p = base(false);
    let limits = Limits::new(&p);
    let mut cfg = config(p, vec![None; 6], 79);
    cfg.client_tamper = Some(Arc::new(move |i, bytes: Vec<u8>| {
        if i != CHEAT {
            return vec![bytes];
        }
        let (sid, msg) = ClientMessage::decode(&bytes, &limits).expect("client messages decode");
        f(&limits, sid, msg, bytes)
    }));
    (sim::run(&cfg).unwrap(), cfg)
}

fn assert_rejected(r: &SimReport, want: impl Fn(&RejectReason) -> bool) {
    let cheat = ids(6)[CHEAT];
    assert!(
        r.rejected
            .iter()
            .any(|e| e.from == cheat && want(&e.reason)),
        "rejections: {:?}",
        r.rejected
    );
}

fn assert_exact_without_cheat(r: &SimReport, cfg: &protocol_common::Cfg, cheat_included: bool) {
    let out = r
        .result
        .as_ref()
        .expect("the honest clients complete the round");
    let cheat = ids(6)[CHEAT];
    assert_eq!(
        out.included.contains(&cheat),
        cheat_included,
        "{:?}",
        out.included
    );
    let want = sim::expected_sum(cfg, &out.included);
    for (g, w) in out.dequantized_sum().iter().zip(&want) {
        assert!((g - w).abs() < 1e-9, "{g} vs {w}");
    }
}

#[test]
fn client_sends_wrong_vector_length() {
    for extra in [false, true] {
        let (r, cfg) = with_client_tamper(move |_, _, msg, mut bytes| {
            if let ClientMessage::MaskedInput(_) = msg {
                if extra {
                    bytes.push(0);
                } else {
                    bytes.pop();
                }
            }
            vec![bytes]
        });
        assert_rejected(&r, |e| matches!(e, RejectReason::Decode(_)));
        assert_exact_without_cheat(&r, &cfg, false);
    }
}

#[test]
fn client_sends_ciphertexts_to_the_wrong_recipients() {
    let (r, cfg) = with_client_tamper(|_, sid, msg, bytes| match msg {
        ClientMessage::ShareKeys(mut m) => {
            m.ciphertexts.pop();
            vec![ClientMessage::ShareKeys(m).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_rejected(&r, |e| *e == RejectReason::BadRecipients);
    assert_exact_without_cheat(&r, &cfg, false);
}

#[test]
fn client_sends_a_garbage_ciphertext_to_one_neighbour() {
    // The server cannot see inside ciphertexts: the recipient detects the garbage and aborts
    // (as in Bonawitz et al.); the round completes without it.
    let (r, cfg) = with_client_tamper(|_, sid, msg, bytes| match msg {
        ClientMessage::ShareKeys(mut m) => {
            m.ciphertexts[0].1 = [0xab; SHARE_CIPHERTEXT_LEN];
            vec![ClientMessage::ShareKeys(m).encode(&sid)]
        }
        _ => vec![bytes],
    });
    let recipient = ids(6)[0];
    assert!(r
        .client_aborts
        .iter()
        .any(|a| a.client == recipient && a.check == ClientCheck::DecryptFailed(ids(6)[CHEAT])));
    let out = r.result.as_ref().expect("round completes");
    assert!(!out.included.contains(&recipient));
    let want = sim::expected_sum(&cfg, &out.included);
    for (g, w) in out.dequantized_sum().iter().zip(&want) {
        assert!((g - w).abs() < 1e-9);
    }
}

#[test]
fn client_duplicates_its_masked_input() {
    // Byte-identical retransmission: accepted once, not double counted.
    let (r, cfg) = with_client_tamper(|_, _, msg, bytes| match msg {
        ClientMessage::MaskedInput(_) => vec![bytes.clone(), bytes],
        _ => vec![bytes],
    });
    assert_exact_without_cheat(&r, &cfg, true);
    // A different second vector conflicts and is refused; the first one stands.
    let (r, cfg) = with_client_tamper(|_, sid, msg, bytes| match msg {
        ClientMessage::MaskedInput(mut m) => {
            m.packed[0] ^= 1;
            vec![bytes, ClientMessage::MaskedInput(m).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_rejected(&r, |e| *e == RejectReason::Conflicting);
    assert_exact_without_cheat(&r, &cfg, true);
}

#[test]
fn client_sends_messages_for_other_rounds_or_sessions() {
    let (r, cfg) = with_client_tamper(|_, sid, msg, bytes| match msg {
        ClientMessage::ShareKeys(_) => {
            // Its round-0 message again, a copy for another session, then the real one.
            let stale = ClientMessage::AdvertiseKeys(AdvertiseKeys {
                sender: ids(6)[CHEAT],
                c_pk: KexPublicKey([3; 32]),
                s_pk: KexPublicKey([4; 32]),
                signature: None,
            })
            .encode(&sid);
            vec![stale, msg.encode(&SessionId([5; 32])), bytes]
        }
        _ => vec![bytes],
    });
    assert_rejected(&r, |e| matches!(e, RejectReason::WrongRound { .. }));
    assert_rejected(&r, |e| *e == RejectReason::WrongSession);
    assert_exact_without_cheat(&r, &cfg, true);
}

#[test]
fn client_impersonates_another() {
    let (r, cfg) = with_client_tamper(|_, sid, msg, bytes| match msg {
        ClientMessage::MaskedInput(mut m) => {
            m.sender = ids(6)[4];
            vec![ClientMessage::MaskedInput(m).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_rejected(&r, |e| matches!(e, RejectReason::SenderMismatch(_)));
    assert_exact_without_cheat(&r, &cfg, false);
}

#[test]
fn client_advertises_a_bad_or_copied_key() {
    let (r, cfg) = with_client_tamper(|_, sid, msg, bytes| match msg {
        ClientMessage::AdvertiseKeys(mut m) => {
            m.s_pk = KexPublicKey([0; 32]);
            vec![ClientMessage::AdvertiseKeys(m).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_rejected(&r, |e| *e == RejectReason::BadPublicKey);
    assert_exact_without_cheat(&r, &cfg, false);
}

#[test]
fn client_reveals_the_wrong_kind_of_share() {
    let (r, cfg) = with_client_tamper(|_, sid, msg, bytes| match msg {
        ClientMessage::UnmaskShares(mut m) => {
            m.shares[0].kind = ShareKind::MaskKey;
            vec![ClientMessage::UnmaskShares(m).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_rejected(&r, |e| *e == RejectReason::BadShares);
    // Its input was already in: it stays included.
    assert_exact_without_cheat(&r, &cfg, true);
}

#[test]
fn client_reveals_altered_share_values() {
    // Valid encodings, wrong values: the commitment check catches the bad self-mask seeds and
    // the server rebuilds from other holders.
    let (r, cfg) = with_client_tamper(|_, sid, msg, bytes| match msg {
        ClientMessage::UnmaskShares(mut m) => {
            for s in &mut m.shares {
                s.share[5] ^= 0x01;
            }
            vec![ClientMessage::UnmaskShares(m).encode(&sid)]
        }
        _ => vec![bytes],
    });
    assert_exact_without_cheat(&r, &cfg, true);
}
