//! The two input-recovery attacks on the active model, run by a malicious server against this
//! crate's real `Client` state machines (the server side is written here: it is the attacker).
//!
//! 1. **Split view.** The server tells some neighbours of a victim that it dropped (they reveal
//!    shares of its mask key) and others that it survived (they reveal shares of its self-mask
//!    seed); corrupted clients sign both survivor sets and reveal both kinds. With enough shares
//!    of both, the server strips every mask from the victim's masked input. Each attack first
//!    runs as a positive control on parameters the threshold rule alone no longer accepts for
//!    the declared corruption (it must recover the exact input, proving the harness is a working
//!    attack), then against the fixed rules (it must recover nothing).
//! 2. **Sybil roster.** The server lists the victim's real identity key and keys it owns for
//!    everyone else; every signature verifies and the "sum" is the victim's input. The client's
//!    trusted roster (pinned, or operator-signed) must refuse the session before any key exists.
//!
//! Plus: downgrade to semi-honest, duplicate identity keys, consistency signatures replayed into
//! another run of the same session id, and a property test of the share-counting argument over
//! random graphs, corruption sets and survivor-set views.

mod protocol_common;

use std::sync::Arc;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use proptest::prelude::*;
use protocol_common::*;
use secagg::crypto::kex::{KexPublicKey, KexSecretKey};
use secagg::crypto::prg::{apply_masks, MaskSign, SelfMaskSecret};
use secagg::crypto::sign::{Signature, SigningKey};
use secagg::ids::ParticipantId;
use secagg::protocol::graph::Topology;
use secagg::protocol::messages::*;
use secagg::protocol::params::{Graph, ParamsError, SessionParams};
use secagg::protocol::sim;
use secagg::protocol::{
    Client, ClientCheck, ClientPolicy, ClientSetupError, PolicyError, Roster, SignedRoster,
};
use secagg::ring::RingVec;
use secagg::shamir::{self, Share};

const VICTIM: usize = 0;

/// The victim's private input: distinct values on the quantization grid (step 2^-15).
fn victim_input(len: usize) -> Vec<f64> {
    (0..len).map(|j| 0.125 * (j as f64 + 1.0) - 0.5).collect()
}

/// One party as the server drives it. A corrupted client is two identical copies (same RNG
/// seed, same identity key), so the attacker can answer two different survivor sets with it.
struct Party {
    copies: Vec<(Client, ChaCha20Rng)>,
}

/// What the server holds after rounds 0-2.
struct AfterRound2 {
    parties: Vec<Party>,
    /// (c_pk, s_pk) of every party.
    keys: Vec<(KexPublicKey, KexPublicKey)>,
    victim_masked: Vec<u8>,
}

fn decode_client(limits: &Limits, bytes: &[u8]) -> ClientMessage {
    ClientMessage::decode(bytes, limits)
        .expect("clients send valid messages")
        .1
}

/// Creates every party (honest ones through `Client::join` when a policy is given) and runs
/// rounds 0-2 honestly over the complete graph. `Err` if an honest client refused to join.
fn rounds_0_to_2(
    params: &Arc<SessionParams>,
    corrupted: &[usize],
    policy: Option<&ClientPolicy>,
    seed: u64,
) -> Result<AfterRound2, ClientSetupError> {
    let n = params.n();
    let session = params.session_id();
    let limits = Limits::new(params);
    let topo = Topology::new(params, &session);
    let mut parties = Vec::with_capacity(n);
    let mut first = Vec::with_capacity(n);
    for i in 0..n {
        let is_corrupt = corrupted.contains(&i);
        let input = if i == VICTIM {
            victim_input(params.vector_len as usize)
        } else {
            vec![0.0; params.vector_len as usize]
        };
        let mut copies = Vec::new();
        let mut msg0 = None;
        for _ in 0..if is_corrupt { 2 } else { 1 } {
            let mut rng = ChaCha20Rng::seed_from_u64(seed * 1000 + i as u64);
            let id = params.participants[i];
            let key = Some(SigningKey::from_seed(&identity_seed(i)));
            let (client, m) = match (policy, is_corrupt) {
                (Some(p), false) => Client::join(params.clone(), p, id, key, &input, 1, &mut rng)?,
                _ => Client::new(params.clone(), id, key, &input, 1, &mut rng)?,
            };
            if let Some(prev) = &msg0 {
                assert_eq!(prev, &m, "twins are identical");
            }
            msg0 = Some(m);
            copies.push((client, rng));
        }
        first.push(msg0.expect("one copy at least"));
        parties.push(Party { copies });
    }
    // Round 0 -> key directories.
    let mut entries = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    for m in &first {
        let ClientMessage::AdvertiseKeys(a) = decode_client(&limits, m) else {
            panic!("round 0 message");
        };
        keys.push((a.c_pk, a.s_pk));
        entries.push(KeyEntry {
            id: a.sender,
            c_pk: a.c_pk,
            s_pk: a.s_pk,
            signature: a.signature,
        });
    }
    let mut shares_msgs = vec![Vec::new(); n];
    for (i, p) in parties.iter_mut().enumerate() {
        let dir = KeyDirectory {
            entries: entries
                .iter()
                .enumerate()
                .filter(|(j, _)| *j == i || topo.adjacent(i, *j))
                .map(|(_, e)| e.clone())
                .collect(),
        };
        let bytes = ServerMessage::KeyDirectory(dir).encode(&session);
        for (c, rng) in &mut p.copies {
            let r = c
                .handle(&bytes, rng)
                .expect("honest directory")
                .expect("reply");
            shares_msgs[i] = r;
        }
    }
    // Round 1 -> share bundles.
    let share_keys: Vec<ShareKeys> = shares_msgs
        .iter()
        .map(|m| match decode_client(&limits, m) {
            ClientMessage::ShareKeys(s) => s,
            _ => panic!("round 1 message"),
        })
        .collect();
    let mut victim_masked = Vec::new();
    for (j, p) in parties.iter_mut().enumerate() {
        let me = params.participants[j];
        let ciphertexts = share_keys
            .iter()
            .filter_map(|s| {
                s.ciphertexts
                    .iter()
                    .find(|(to, _)| *to == me)
                    .map(|(_, ct)| (s.sender, *ct))
            })
            .collect();
        let bytes = ServerMessage::ShareBundle(ShareBundle { ciphertexts }).encode(&session);
        for (c, rng) in &mut p.copies {
            let r = c
                .handle(&bytes, rng)
                .expect("honest bundle")
                .expect("reply");
            if j == VICTIM {
                let ClientMessage::MaskedInput(m) = decode_client(&limits, &r) else {
                    panic!("round 2 message");
                };
                victim_masked = m.packed;
            }
        }
    }
    Ok(AfterRound2 {
        parties,
        keys,
        victim_masked,
    })
}

/// The split-view attack. `told_dropped[i]` says whether honest client i is told the victim
/// dropped (view A) or survived (view B); corrupted clients take part in both views. Returns
/// the victim's recovered input, or why the attack failed.
fn split_view_attack(
    params: SessionParams,
    corrupted: &[usize],
    told_dropped: &[bool],
    policy: Option<&ClientPolicy>,
) -> Result<Vec<f64>, String> {
    let params = Arc::new(params);
    let session = params.session_id();
    let limits = Limits::new(&params);
    let t = params.threshold as usize;
    let ids = params.participants.clone();
    let victim = ids[VICTIM];
    let AfterRound2 {
        mut parties,
        keys,
        victim_masked,
    } = rounds_0_to_2(&params, corrupted, policy, 7).map_err(|e| format!("refused: {e}"))?;
    let view_a: Vec<ParticipantId> = ids.iter().copied().filter(|&v| v != victim).collect();
    let view_b: Vec<ParticipantId> = ids.clone();
    // Which (party, copy) answers which view: honest parties by `told_dropped` (the victim
    // itself sees view B), corrupted copy 0 view A and copy 1 view B.
    let view_of = |i: usize, copy: usize| -> bool {
        if corrupted.contains(&i) {
            copy == 0
        } else {
            i != VICTIM && told_dropped[i]
        }
    };
    // Round 3: every copy signs the view it is shown.
    let mut sigs: [Vec<(ParticipantId, Signature)>; 2] = [Vec::new(), Vec::new()];
    for (i, p) in parties.iter_mut().enumerate() {
        for (copy, (c, rng)) in p.copies.iter_mut().enumerate() {
            let a = view_of(i, copy);
            let survivors = if a { view_a.clone() } else { view_b.clone() };
            let bytes = ServerMessage::ConsistencyRequest(ConsistencyRequest { survivors })
                .encode(&session);
            if let Ok(Some(r)) = c.handle(&bytes, rng) {
                if let ClientMessage::ConsistencySignature(s) = decode_client(&limits, &r) {
                    sigs[usize::from(!a)].push((ids[i], s.signature));
                }
            }
        }
    }
    // Round 4: each copy gets its view with the signatures of that view's other signers.
    let mut key_shares: Vec<Share> = Vec::new();
    let mut seed_shares: Vec<Share> = Vec::new();
    let mut aborts = Vec::new();
    for (i, p) in parties.iter_mut().enumerate() {
        for (copy, (c, rng)) in p.copies.iter_mut().enumerate() {
            let a = view_of(i, copy);
            let survivors = if a { view_a.clone() } else { view_b.clone() };
            let signatures = sigs[usize::from(!a)]
                .iter()
                .filter(|(id, _)| *id != ids[i])
                .cloned()
                .collect();
            let bytes = ServerMessage::UnmaskRequest(UnmaskRequest {
                survivors,
                signatures,
            })
            .encode(&session);
            match c.handle(&bytes, rng) {
                Ok(Some(r)) => {
                    let ClientMessage::UnmaskShares(u) = decode_client(&limits, &r) else {
                        panic!("round 4 message");
                    };
                    for s in u.shares.iter().filter(|s| s.owner == victim) {
                        let share = Share::from_bytes(&s.share).expect("valid share");
                        match s.kind {
                            ShareKind::MaskKey => key_shares.push(share),
                            ShareKind::SelfMask => seed_shares.push(share),
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => aborts.push(format!("{}: {}", ids[i], e.check)),
            }
        }
        // Corrupted clients hand over both kinds: their two copies above did.
    }
    if key_shares.len() < t || seed_shares.len() < t {
        return Err(format!(
            "server holds {} mask-key and {} self-mask shares of the victim, needs {t} of each \
             (client aborts: {aborts:?})",
            key_shares.len(),
            seed_shares.len()
        ));
    }
    // Rebuild both secrets and strip every mask from the victim's masked input.
    let s_sk = KexSecretKey::from_bytes(*shamir::reconstruct(&key_shares[..t], t).unwrap());
    assert!(
        s_sk.matches(&keys[VICTIM].1),
        "rebuilt the victim's mask key"
    );
    let b = SelfMaskSecret::from_bytes(*shamir::reconstruct(&seed_shares[..t], t).unwrap());
    let mut y = RingVec::unpack(params.bits, params.vector_len as usize + 1, &victim_masked)
        .expect("masked input unpacks");
    let self_seed = b.mask_seed(&session, victim);
    let mut pair_seeds = Vec::new();
    for (j, &(_, s_pk)) in keys.iter().enumerate().skip(1) {
        let shared = s_sk.agree(&s_pk).expect("contributory");
        let sign = if victim < ids[j] {
            MaskSign::Sub
        } else {
            MaskSign::Add
        };
        pair_seeds.push((shared.pairwise_mask_seed(&session, victim, ids[j]), sign));
    }
    let mut masks = vec![(&self_seed, MaskSign::Sub)];
    masks.extend(pair_seeds.iter().map(|(s, sign)| (s, *sign)));
    apply_masks(params.mask_prg, &masks, &mut y).expect("mask lengths");
    let q = params.quantizer().expect("valid quantizer");
    let values: Vec<u64> = y.iter().take(params.vector_len as usize).collect();
    let x = RingVec::from_u64s(params.bits, &values).expect("in range");
    Ok(q.dequantize_sum(&x, 1).expect("dequantize"))
}

/// The demonstration's session: n = 10, complete graph (k = 9), t = 5, active model.
fn demo_params(t: u16, c: u16) -> SessionParams {
    let mut p = params(10, t, Graph::Complete, true, 6);
    p.max_corrupt_neighbours = c;
    p
}

/// A client that assumes 20% of the clients (2 of 10) may collude with the server.
fn honest_policy(p: &SessionParams) -> ClientPolicy {
    let mut policy = test_policy(p);
    policy.assumed_corrupt_rate = 0.2;
    policy
}

const CORRUPTED: [usize; 2] = [8, 9];

/// The demonstration's split: clients 1-4 are told the victim dropped; 5-7 that it survived.
fn demo_split() -> Vec<bool> {
    (0..10).map(|i| (1..=4).contains(&i)).collect()
}

#[test]
fn split_view_harness_recovers_the_input_when_the_corruption_bound_is_understated() {
    // Positive control: the same attack on a session that claims no corruption (c = 0: then
    // t = 5 > 9/2 passes), run by clients without a policy. It must recover the exact input,
    // which shows the harness is a real attack and the refusals below are what stops it.
    let p = demo_params(5, 0);
    p.validate().expect("consistent parameters");
    let got = split_view_attack(p, &CORRUPTED, &demo_split(), None).expect("attack works");
    let want = victim_input(6);
    println!("understated c = 0, no policy: recovered {got:?} (input {want:?})");
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-9, "recovered {got:?}, input {want:?}");
    }
}

#[test]
fn split_view_demonstration_parameters_are_refused() {
    // Declared honestly (c = 2), t = 5 is refused by validation: 2t = 10 <= k + c = 11.
    let p = demo_params(5, 2);
    assert!(matches!(
        p.validate(),
        Err(ParamsError::CorruptionBound { corrupt: 2, .. })
    ));
    let err = split_view_attack(p, &CORRUPTED, &demo_split(), None).unwrap_err();
    assert!(err.starts_with("refused"), "{err}");
    println!("t = 5, c = 2: {err}");
    // Understated (c = 0), every honest client's policy refuses it before any key exists.
    let p = demo_params(5, 0);
    let policy = honest_policy(&p);
    let err = split_view_attack(p, &CORRUPTED, &demo_split(), Some(&policy)).unwrap_err();
    assert!(
        err.contains("tolerates 0 corrupted neighbours, the policy assumes 2"),
        "{err}"
    );
    println!("t = 5, c = 0 declared, client policy assumes 20%: {err}");
}

#[test]
fn split_view_fails_for_every_split_when_2t_exceeds_k_plus_c() {
    // t = 6, c = 2: 2t = 12 > k + c = 11. Try every split of the 7 honest non-victims.
    let p = demo_params(6, 2);
    p.validate().expect("valid");
    let policy = honest_policy(&p);
    for mask in 0u32..(1 << 7) {
        let split: Vec<bool> = (0..10)
            .map(|i| (1..=7).contains(&i) && mask & (1 << (i - 1)) != 0)
            .collect();
        let r = split_view_attack(p.clone(), &CORRUPTED, &split, Some(&policy));
        let err = r.expect_err("no split may recover the victim's input");
        assert!(err.starts_with("server holds"), "split {mask:07b}: {err}");
        if mask == 0b0001111 {
            println!("t = 6, c = 2, the demonstration's split: {err}");
        }
    }
}

/// The Sybil-roster session: n = 5, t = 3; the victim (participant 0) has its real key, the
/// server lists keys it owns for participants 1-4 and runs those clients with zero inputs.
fn sybil_params() -> (SessionParams, Vec<[u8; 32]>) {
    let mut p = params(5, 3, Graph::Complete, true, 4);
    let seeds: Vec<[u8; 32]> = (0..5)
        .map(|i| {
            if i == VICTIM {
                identity_seed(i)
            } else {
                [0xa0 + i as u8; 32]
            }
        })
        .collect();
    p.identity_keys = seeds
        .iter()
        .map(|s| SigningKey::from_seed(s).verifying_key().to_bytes())
        .collect();
    (p, seeds)
}

/// The real roster: every participant's genuine identity key.
fn real_roster(n: usize) -> Roster {
    let ids = ids(n);
    Roster::new(
        (0..n)
            .map(|i| {
                let k = SigningKey::from_seed(&identity_seed(i))
                    .verifying_key()
                    .to_bytes();
                (ids[i], k)
            })
            .collect(),
    )
    .unwrap()
}

#[test]
fn sybil_roster_harness_reveals_the_victim_without_pinning() {
    // Positive control: without a trusted roster the session completes and the "sum" of the
    // victim and four server-run Sybils is the victim's input.
    let (p, seeds) = sybil_params();
    p.validate().expect("consistent parameters");
    let mut cfg = config(p, vec![None; 5], 3);
    cfg.identity_seeds = seeds;
    cfg.inputs = (0..5)
        .map(|i| {
            if i == VICTIM {
                victim_input(4)
            } else {
                vec![0.0; 4]
            }
        })
        .collect();
    let report = sim::run(&cfg).expect("runs");
    let out = report.result.expect("session completes");
    for (g, w) in out.dequantized_sum().iter().zip(victim_input(4)) {
        assert!((g - w).abs() < 1e-9);
    }
    println!(
        "Sybil roster, no pinning: published sum {:?} = victim's input {:?}",
        out.dequantized_sum(),
        victim_input(4)
    );
}

#[test]
fn sybil_roster_is_refused_by_a_pinned_roster() {
    let (p, _) = sybil_params();
    let policy = test_policy(&p).require_active(real_roster(5));
    let me = p.participants[VICTIM];
    assert_eq!(
        policy.check(&p, me),
        Err(PolicyError::RosterMismatch(p.participants[1]))
    );
    // Client::join refuses before generating anything.
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let key = Some(SigningKey::from_seed(&identity_seed(VICTIM)));
    let r = Client::join(Arc::new(p), &policy, me, key, &[0.0; 4], 1, &mut rng);
    assert!(matches!(
        r,
        Err(ClientSetupError::Policy(PolicyError::RosterMismatch(_)))
    ));
    println!("Sybil roster, pinned roster: {}", r.unwrap_err());
    // An active session with no roster at all is refused too.
    let (p, _) = sybil_params();
    let mut policy = test_policy(&p);
    policy.roster = None;
    assert_eq!(policy.check(&p, me), Err(PolicyError::NoRoster));
}

#[test]
fn sybil_roster_is_refused_by_an_operator_signed_roster() {
    let operator = SigningKey::from_seed(&[0x0f; 32]);
    let deployment = [0x42; 32];
    let signed = SignedRoster::sign(&operator, deployment, 7, real_roster(5));
    // Travels as bytes (e.g. beside the app's model download) and decodes identically.
    let bytes = signed.encode();
    let decoded = SignedRoster::decode(&bytes).expect("decodes");
    assert_eq!(decoded, signed);
    let vk = operator.verifying_key();
    let roster = decoded
        .verify(&vk, &deployment, 7)
        .expect("verifies")
        .clone();
    let (p, _) = sybil_params();
    let policy = test_policy(&p).require_active(roster);
    assert_eq!(
        policy.check(&p, p.participants[VICTIM]),
        Err(PolicyError::RosterMismatch(p.participants[1]))
    );
    // A roster signed by anyone else, for another deployment, rolled back, or altered: refused.
    let other = SigningKey::from_seed(&[0x0e; 32]).verifying_key();
    assert_eq!(
        decoded.verify(&other, &deployment, 0),
        Err(PolicyError::RosterSignature)
    );
    assert_eq!(
        decoded.verify(&vk, &[0x43; 32], 0),
        Err(PolicyError::RosterSignature)
    );
    assert_eq!(
        decoded.verify(&vk, &deployment, 8),
        Err(PolicyError::RosterEpoch { got: 7, min: 8 })
    );
    for at in [0, 33, 45, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 1;
        let ok = SignedRoster::decode(&bad).and_then(|r| r.verify(&vk, &deployment, 0).cloned());
        assert!(ok.is_err(), "flipped byte {at} accepted");
    }
    for len in 0..bytes.len() {
        assert!(SignedRoster::decode(&bytes[..len]).is_err());
    }
}

#[test]
fn downgrade_to_semi_honest_is_refused() {
    let p = params(10, 5, Graph::Complete, false, 4);
    let policy =
        test_policy(&params(10, 6, Graph::Complete, true, 4)).require_active(real_roster(10));
    assert_eq!(
        policy.check(&p, p.participants[0]),
        Err(PolicyError::Downgrade)
    );
}

#[test]
fn mask_prg_suite_is_bound_and_policy_checked() {
    use secagg::crypto::prg::MaskPrg;
    let mut p = params(10, 5, Graph::Complete, false, 4);
    let me = p.participants[0];
    let mut policy = test_policy(&p);
    // The suite is in the encoding, hence in the session id, and decodes back.
    p.mask_prg = MaskPrg::ChaCha20;
    let chacha = p.clone();
    p.mask_prg = MaskPrg::Aes128Ctr;
    assert_ne!(chacha.session_id(), p.session_id());
    for q in [&chacha, &p] {
        assert_eq!(&SessionParams::decode(&q.encode()).unwrap(), q);
    }
    // An unknown suite code is a decoding error (the code is the last byte).
    for code in [0u8, 3, 255] {
        let mut e = p.encode();
        *e.last_mut().unwrap() = code;
        assert!(SessionParams::decode(&e).is_err(), "suite code {code}");
    }
    // A device without AES hardware keeps only ChaCha20 and refuses AES-CTR sessions.
    assert_eq!(policy.check(&p, me), Ok(()));
    policy.mask_prgs = vec![MaskPrg::ChaCha20];
    assert_eq!(
        policy.check(&p, me),
        Err(PolicyError::MaskPrg(MaskPrg::Aes128Ctr))
    );
    assert_eq!(policy.check(&chacha, me), Ok(()));
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let input = vec![0.0; p.vector_len as usize];
    let r = Client::join(Arc::new(p), &policy, me, None, &input, 1, &mut rng);
    assert!(matches!(
        r,
        Err(ClientSetupError::Policy(PolicyError::MaskPrg(_)))
    ));
}

#[test]
fn duplicate_identity_keys_are_refused() {
    let mut p = params(6, 3, Graph::Complete, true, 4);
    p.identity_keys[4] = p.identity_keys[1];
    assert_eq!(
        p.validate(),
        Err(ParamsError::IdentityKeys("a key is repeated"))
    );
    let k = p.identity_keys[1];
    let ids = ids(3);
    assert_eq!(
        Roster::new(vec![(ids[0], k), (ids[1], k)]),
        Err(PolicyError::Roster("an identity key is listed twice"))
    );
}

#[test]
fn consistency_signatures_do_not_replay_into_another_run_of_the_session_id() {
    // The server runs the same session id twice (same parameters and nonce). Signatures over
    // the same U3 from the first run must not count in the second: they bind the signer's
    // fresh round-0 keys.
    let p = Arc::new(params(6, 4, Graph::Complete, true, 4));
    p.validate().unwrap();
    let session = p.session_id();
    let limits = Limits::new(&p);
    let all = p.participants.clone();
    let mut runs = Vec::new();
    for seed in [1u64, 2] {
        let mut s = rounds_0_to_2(&p, &[], None, seed).expect("joins");
        let mut sigs = Vec::new();
        for (i, party) in s.parties.iter_mut().enumerate() {
            let (c, rng) = &mut party.copies[0];
            let bytes = ServerMessage::ConsistencyRequest(ConsistencyRequest {
                survivors: all.clone(),
            })
            .encode(&session);
            let r = c.handle(&bytes, rng).unwrap().unwrap();
            let ClientMessage::ConsistencySignature(m) = decode_client(&limits, &r) else {
                panic!("signature");
            };
            sigs.push((all[i], m.signature));
        }
        runs.push((s, sigs));
    }
    let (mut second, fresh) = runs.pop().unwrap();
    let (_, stale) = runs.pop().unwrap();
    assert_ne!(stale, fresh, "fresh keys, fresh signatures");
    let (c, rng) = &mut second.parties[0].copies[0];
    let replayed = UnmaskRequest {
        survivors: all.clone(),
        signatures: stale.iter().skip(1).cloned().collect(),
    };
    let err = c
        .handle(
            &ServerMessage::UnmaskRequest(replayed).encode(&session),
            rng,
        )
        .unwrap_err();
    assert_eq!(err.check, ClientCheck::BadSignature(all[1]));
    // The same request with this run's signatures is answered.
    let (c, rng) = &mut second.parties[1].copies[0];
    let genuine = UnmaskRequest {
        survivors: all.clone(),
        signatures: fresh
            .iter()
            .filter(|(id, _)| *id != all[1])
            .cloned()
            .collect(),
    };
    assert!(c
        .handle(&ServerMessage::UnmaskRequest(genuine).encode(&session), rng)
        .unwrap()
        .is_some());
}

/// A model of rounds 3-4 against a malicious server, on the real graph: honest client `w` is
/// shown survivor set `views[w]` (containing `w`) and reveals only if at least `t` of its
/// neighbours in that set signed it (corrupted ones sign anything; honest ones only the set they
/// were shown); then for each neighbour it reveals a self-mask share if that neighbour is in its
/// set and a mask-key share otherwise. Corrupted neighbours reveal both kinds.
fn model_shares(
    topo: &Topology,
    n: usize,
    t: usize,
    corrupted: &[bool],
    views: &[Vec<bool>],
) -> Vec<(usize, usize, bool)> {
    let reveals: Vec<bool> = (0..n)
        .map(|w| {
            !corrupted[w]
                && views[w][w]
                && topo
                    .neighbours(w)
                    .filter(|&v| views[w][v] && (corrupted[v] || views[v] == views[w]))
                    .count()
                    >= t
        })
        .collect();
    (0..n)
        .map(|u| {
            let (mut keys, mut seeds) = (0, 0);
            for w in topo.neighbours(u) {
                if corrupted[w] {
                    keys += 1;
                    seeds += 1;
                } else if reveals[w] {
                    if views[w][u] {
                        seeds += 1;
                    } else {
                        keys += 1;
                    }
                }
            }
            (keys, seeds, reveals[u])
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whenever `2t > k + c` (c = the most corrupted clients in any neighbourhood), no choice of
    /// views gives the server `t` shares of both kinds for any honest client; and if it gets an
    /// honest client's self-mask seed, every honest neighbour that revealed believing that
    /// client alive keeps its own mask key (so their pairwise mask stays on the masked input).
    #[test]
    fn no_view_split_yields_both_secrets(
        n in 5usize..30,
        half_k in 1usize..8,
        complete in any::<bool>(),
        corrupt_bits in any::<u64>(),
        corrupt_rate in 0u64..4,
        view_seeds in proptest::collection::vec(any::<u64>(), 30),
        num_views in 1usize..4,
        nonce in any::<u8>(),
    ) {
        let k = if complete || 2 * half_k >= n - 1 { n - 1 } else { 2 * half_k };
        let graph = if k == n - 1 { Graph::Complete } else { Graph::Harary { degree: k as u16 } };
        let corrupted: Vec<bool> = (0..n)
            .map(|i| corrupt_rate > 0 && (corrupt_bits >> (i % 64)) % (8 / corrupt_rate) == 0)
            .collect();
        let mut p = params(n, 1, graph, false, 1);
        p.nonce = [nonce; 32];
        let session = p.session_id();
        let topo = Topology::new(&p, &session);
        let c = (0..n)
            .map(|u| topo.neighbours(u).filter(|&v| corrupted[v]).count())
            .max()
            .unwrap_or(0);
        let t = (k + c) / 2 + 1;
        prop_assume!(t <= k);
        // A few candidate survivor sets; each honest client is shown one (plus itself).
        let candidates: Vec<Vec<bool>> = (0..num_views)
            .map(|v| (0..n).map(|i| (view_seeds[(v * 7 + i) % 30] >> (i % 64)) & 1 == 1).collect())
            .collect();
        let views: Vec<Vec<bool>> = (0..n)
            .map(|w| {
                let mut s = candidates[(view_seeds[w % 30] as usize) % num_views].clone();
                s[w] = true;
                s
            })
            .collect();
        let shares = model_shares(&topo, n, t, &corrupted, &views);
        for u in (0..n).filter(|&u| !corrupted[u]) {
            let (keys, seeds, _) = shares[u];
            prop_assert!(!(keys >= t && seeds >= t), "client {u}: {keys} key and {seeds} seed shares, t = {t}");
            if seeds >= t {
                for w in topo.neighbours(u).filter(|&w| !corrupted[w] && shares[w].2 && views[w][u]) {
                    prop_assert!(shares[w].0 < t, "neighbour {w} of {u} lost its mask key");
                }
            }
        }
    }
}

#[test]
fn the_model_finds_the_attack_when_2t_is_at_most_k_plus_c() {
    // Sanity check of the model itself: the demonstration's split breaks t = 5 with c = 2.
    let p = demo_params(5, 2);
    let session = p.session_id();
    let topo = Topology::new(&p, &session);
    let corrupted: Vec<bool> = (0..10).map(|i| CORRUPTED.contains(&i)).collect();
    let split = demo_split();
    // The model gives each corrupted client one view; it reveals both kinds regardless.
    let views: Vec<Vec<bool>> = (0..10)
        .map(|w| (0..10).map(|v| !(v == VICTIM && split[w])).collect())
        .collect();
    let shares = model_shares(&topo, 10, 5, &corrupted, &views);
    assert!(
        shares[VICTIM].0 >= 5 && shares[VICTIM].1 >= 5,
        "{:?}",
        shares[VICTIM]
    );
}
