//! The committed test vectors in protocol-spec/test-vectors/ are (1) exactly what the documented
//! generator produces, and (2) replayed here case by case through the public API, so a vector
//! that no longer matches the implementation (or the spec) fails a test.

#[allow(dead_code)]
#[path = "../examples/gen_test_vectors/vectors.rs"]
mod vectors;

#[allow(dead_code)]
#[path = "../examples/gen_test_vectors/edge.rs"]
mod edge;

use secagg::crypto::aead::{AeadError, Binding, OpeningKey};
use secagg::crypto::kdf::{derive32, Context, Label};
use secagg::crypto::kex::{KexError, KexPublicKey, KexSecretKey};
use secagg::crypto::prg::{expand, MaskPrg, MaskSeed, SelfMaskSecret};
use secagg::crypto::sign::{SigPurpose, Signature, SigningKey, VerifyingKey};
use secagg::field::FieldElement;
use secagg::ids::{ParticipantId, Round, SessionId};
use secagg::quantize::{bits_for, QuantizeError, Quantizer};
use secagg::ring::{Bits, PackError, RingVec};
use secagg::shamir::{self, ShamirError, Share};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn load(name: &str) -> Value {
    let path = format!(
        "{}/protocol-spec/test-vectors/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn arr<const N: usize>(v: &Value) -> [u8; N] {
    unhex(v).try_into().unwrap()
}

fn pid(v: &Value) -> ParticipantId {
    ParticipantId::new(v.as_u64().unwrap() as u16).unwrap()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().parse().unwrap())
        .collect()
}

fn round(v: &Value) -> Round {
    match v.as_u64().unwrap() {
        1 => Round::ShareKeys,
        2 => Round::MaskedInput,
        r => panic!("unexpected round {r}"),
    }
}

#[test]
fn committed_files_match_the_generator() {
    for (name, value) in vectors::all() {
        let path = format!(
            "{}/protocol-spec/test-vectors/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            committed == vectors::render(&value),
            "{path} differs from `{}`: regenerate it, never edit it by hand",
            vectors::GENERATOR
        );
    }
}

#[test]
fn replay_kdf() {
    let f = load("kdf");
    for c in f["cases"].as_array().unwrap() {
        let kind = c["derivation"].as_str().unwrap();
        if kind == "x25519_reject" {
            let sk = KexSecretKey::from_bytes(arr(&c["x25519_secret_u"]));
            let err = sk
                .agree(&KexPublicKey(arr(&c["x25519_public_v"])))
                .unwrap_err();
            assert_eq!(err, KexError::NonContributory);
            continue;
        }
        let ikm = unhex(&c["ikm"]);
        let session = SessionId(arr(&c["session_id"]));
        let ps: Vec<ParticipantId> = c["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(pid)
            .collect();
        let label = match kind {
            "pairwise_mask" => Label::PairwiseMask,
            "share_encryption" => Label::ShareEncryption,
            "self_mask" => Label::SelfMask,
            k => panic!("unknown derivation {k}"),
        };
        let mut ctx = Context::new(label)
            .session(&session)
            .round(round(&c["round"]));
        for p in &ps {
            ctx = ctx.participant(*p);
        }
        assert_eq!(ctx.info(), &unhex(&c["info"])[..], "{kind}");
        assert_eq!(&derive32(&ikm, &ctx)[..], &unhex(&c["okm"])[..], "{kind}");
        // The typed derivations agree with the generic one.
        match kind {
            "pairwise_mask" => {
                let sk = KexSecretKey::from_bytes(arr(&c["x25519_secret_u"]));
                let shared = sk.agree(&KexPublicKey(arr(&c["x25519_public_v"]))).unwrap();
                assert_eq!(&shared.expose()[..], &ikm[..]);
                // Symmetric in (u, v).
                let s = shared.pairwise_mask_seed(&session, ps[1], ps[0]);
                assert_eq!(&s.expose()[..], &unhex(&c["okm"])[..]);
            }
            "self_mask" => {
                let b = SelfMaskSecret::from_bytes(ikm.clone().try_into().unwrap());
                assert_eq!(
                    &b.mask_seed(&session, ps[0]).expose()[..],
                    &unhex(&c["okm"])[..]
                );
            }
            _ => {}
        }
    }
}

#[test]
fn replay_prg_mask() {
    let f = load("prg_mask");
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() >= 66);
    let mut suites = std::collections::BTreeSet::new();
    for c in cases {
        let prg = MaskPrg::from_code(c["suite"].as_u64().unwrap() as u8).unwrap();
        suites.insert(prg.code());
        let seed = MaskSeed::from_bytes(arr(&c["seed"]));
        let bits = Bits::new(c["bits"].as_u64().unwrap() as u32).unwrap();
        let len = c["len"].as_u64().unwrap() as usize;
        let m = expand(prg, &seed, bits, len).unwrap();
        let first = u64s(&c["first_elements"]);
        assert_eq!(m.iter().take(first.len()).collect::<Vec<_>>(), first);
        assert_eq!(
            &Sha256::digest(m.pack())[..],
            &unhex(&c["packed_sha256"])[..]
        );
    }
    // Both suites are covered.
    assert_eq!(suites.into_iter().collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn replay_aead() {
    let f = load("aead");
    for c in f["cases"].as_array().unwrap() {
        let b = Binding {
            session: SessionId(arr(&c["session_id"])),
            round: round(&c["round"]),
            sender: pid(&c["sender"]),
            recipient: pid(&c["recipient"]),
        };
        assert_eq!(&b.aad()[..], &unhex(&c["aad"])[..]);
        let opened = OpeningKey::from_bytes(arr(&c["key"])).open(&b, &unhex(&c["ciphertext"]));
        match c["result"].as_str().unwrap() {
            "valid" => {
                assert_eq!(&opened.unwrap()[..], &unhex(&c["plaintext"])[..]);
                let sealed = secagg::crypto::aead::SealingKey::from_bytes(arr(&c["key"]))
                    .seal(&b, &unhex(&c["plaintext"]));
                assert_eq!(sealed, unhex(&c["ciphertext"]));
            }
            _ => {
                let e = opened.unwrap_err();
                match c["error"].as_str().unwrap() {
                    "Authentication" => {
                        assert_eq!(e, AeadError::Authentication, "{}", c["comment"])
                    }
                    "TooShort" => assert!(matches!(e, AeadError::TooShort(_)), "{}", c["comment"]),
                    other => panic!("unknown error class {other}"),
                }
            }
        }
    }
}

#[test]
fn replay_shamir() {
    let f = load("shamir");
    for c in f["cases"].as_array().unwrap() {
        let t = c["threshold"].as_u64().unwrap() as usize;
        let holders: Vec<u16> = c["holders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u16)
            .collect();
        let xs: Vec<ParticipantId> = holders
            .iter()
            .map(|&h| ParticipantId::new(h).unwrap())
            .collect();
        let coeffs: Vec<FieldElement> = c["coefficients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| FieldElement::from_bytes(&arr(v)).unwrap())
            .collect();
        let secret: [u8; 32] = arr(&c["secret"]);
        let shares = shamir::split_with_coefficients(&secret, t, &xs, &coeffs).unwrap();
        let expected: Vec<Vec<u8>> = c["shares"].as_array().unwrap().iter().map(unhex).collect();
        let got: Vec<Vec<u8>> = shares.iter().map(|s| s.to_bytes().to_vec()).collect();
        assert_eq!(got, expected);
        let decoded: Vec<Share> = expected
            .iter()
            .map(|b| Share::from_bytes(b).unwrap())
            .collect();
        for r in c["reconstructions"].as_array().unwrap() {
            let want_x: Vec<u16> = r["x"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u16)
                .collect();
            let picked: Vec<Share> = want_x
                .iter()
                .map(|x| decoded[holders.iter().position(|h| h == x).unwrap()].clone())
                .collect();
            let threshold = r
                .get("threshold_override")
                .and_then(Value::as_u64)
                .map_or(t, |v| v as usize);
            let res = shamir::reconstruct(&picked, threshold);
            match r.get("error").and_then(Value::as_str) {
                None => assert_eq!(&res.unwrap()[..], &unhex(&r["secret"])[..]),
                Some("TooFewShares") => {
                    assert!(matches!(res, Err(ShamirError::TooFewShares { .. })))
                }
                Some("DuplicateX") => assert!(matches!(res, Err(ShamirError::DuplicateX(_)))),
                Some(e) => panic!("unknown error {e}"),
            }
        }
    }
    for m in f["malformed_shares"].as_array().unwrap() {
        let err = Share::from_bytes(&unhex(&m["share"])).unwrap_err();
        let want = match m["error"].as_str().unwrap() {
            "ZeroX" => ShamirError::ZeroX,
            _ => ShamirError::MalformedShare,
        };
        assert_eq!(err, want);
    }
}

#[test]
fn replay_quantization() {
    let f = load("quantization");
    for c in f["cases"].as_array().unwrap() {
        let bits = Bits::new(c["bits"].as_u64().unwrap() as u32).unwrap();
        let levels = c["levels"].as_u64().unwrap();
        let max_clients = c["max_clients"].as_u64().unwrap();
        assert_eq!(bits_for(max_clients, levels).unwrap(), bits);
        let q = Quantizer::new(c["clip"].as_f64().unwrap(), levels, bits, max_clients).unwrap();
        let inputs: Vec<f64> = c["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let out = q
            .quantize_with_words(
                &inputs,
                c["weight"].as_f64().unwrap(),
                &u64s(&c["rounding_words"]),
            )
            .unwrap();
        assert_eq!(out.to_u64s(), u64s(&c["quantized"]));
        let sum = RingVec::from_u64s(bits, &u64s(&c["sum"])).unwrap();
        let deq = q
            .dequantize_sum(&sum, c["sum_count"].as_u64().unwrap())
            .unwrap();
        let want: Vec<f64> = c["dequantized_sum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(deq, want);
    }
    for o in f["overflow_checks"].as_array().unwrap() {
        let m = o["max_clients"].as_u64().unwrap();
        let l = o["levels"].as_u64().unwrap();
        if let Some(b) = o.get("bits_for") {
            assert_eq!(bits_for(m, l).unwrap().get() as u64, b.as_u64().unwrap());
            continue;
        }
        let r = Quantizer::new(
            1.0,
            l,
            Bits::new(o["bits"].as_u64().unwrap() as u32).unwrap(),
            m,
        );
        match o.get("needed_bits") {
            None => assert!(r.is_ok()),
            Some(n) => assert!(
                matches!(r, Err(QuantizeError::Overflow { needed, .. }) if needed as u64 == n.as_u64().unwrap())
            ),
        }
    }
}

#[test]
fn replay_packing() {
    let f = load("packing");
    for c in f["cases"].as_array().unwrap() {
        let bits = Bits::new(c["bits"].as_u64().unwrap() as u32).unwrap();
        let vals = u64s(&c["elements"]);
        let packed = unhex(&c["packed"]);
        assert_eq!(RingVec::from_u64s(bits, &vals).unwrap().pack(), packed);
        assert_eq!(
            RingVec::unpack(bits, vals.len(), &packed)
                .unwrap()
                .to_u64s(),
            vals
        );
    }
    for c in f["invalid"].as_array().unwrap() {
        let bits = Bits::new(c["bits"].as_u64().unwrap() as u32).unwrap();
        let r = RingVec::unpack(
            bits,
            c["len"].as_u64().unwrap() as usize,
            &unhex(&c["packed"]),
        );
        match c["error"].as_str().unwrap() {
            "NonZeroPadding" => assert_eq!(r.unwrap_err(), PackError::NonZeroPadding),
            _ => assert!(matches!(r, Err(PackError::Length { .. }))),
        }
    }
}

#[test]
fn replay_signatures() {
    let f = load("signatures");
    for c in f["cases"].as_array().unwrap() {
        let purpose = match c["purpose"].as_str().unwrap() {
            "advertise_keys" => SigPurpose::AdvertiseKeys,
            _ => SigPurpose::ConsistencyCheck,
        };
        let key = SigningKey::from_seed(&arr(&c["seed"]));
        let vk = VerifyingKey::from_bytes(&arr(&c["public_key"])).unwrap();
        assert_eq!(key.verifying_key(), vk);
        let session = SessionId(arr(&c["session_id"]));
        let payload = unhex(&c["payload"]);
        let sig = Signature(arr(&c["signature"]));
        assert_eq!(key.sign(purpose, &session, &payload), sig);
        vk.verify(purpose, &session, &payload, &sig).unwrap();
        // Bound to purpose and session.
        let other = match purpose {
            SigPurpose::AdvertiseKeys => SigPurpose::ConsistencyCheck,
            _ => SigPurpose::AdvertiseKeys,
        };
        assert!(vk.verify(other, &session, &payload, &sig).is_err());
        assert!(vk
            .verify(purpose, &SessionId([0; 32]), &payload, &sig)
            .is_err());
    }
}

fn params_from_json(v: &Value) -> secagg::protocol::SessionParams {
    use secagg::protocol::params::{Graph, SessionParams, ThreatModel};
    let p = SessionParams {
        dp: None,
        nonce: arr(&v["nonce"]),
        participants: v["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(pid)
            .collect(),
        threat_model: match v["threat_model"].as_str().unwrap() {
            "active" => ThreatModel::Active,
            _ => ThreatModel::SemiHonest,
        },
        identity_keys: v["identity_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(arr)
            .collect(),
        graph: match v["graph"].as_str().unwrap() {
            "harary" => Graph::Harary {
                degree: v["degree"].as_u64().unwrap() as u16,
            },
            _ => Graph::Complete,
        },
        threshold: v["threshold"].as_u64().unwrap() as u16,
        max_corrupt_neighbours: v["max_corrupt_neighbours"].as_u64().unwrap() as u16,
        vector_len: v["vector_len"].as_u64().unwrap() as u32,
        bits: Bits::new(v["bits"].as_u64().unwrap() as u32).unwrap(),
        clip: v["clip"].as_f64().unwrap(),
        levels: v["levels"].as_u64().unwrap(),
        max_weight: v["max_weight"].as_u64().unwrap() as u32,
        round_timeout_ms: core::array::from_fn(|i| {
            v["round_timeout_ms"][i].as_u64().unwrap() as u32
        }),
        mask_prg: MaskPrg::from_code(v["mask_prg"].as_u64().unwrap() as u8).unwrap(),
    };
    assert_eq!(p.encode(), unhex(&v["encoded"]));
    assert_eq!(&p.session_id().0[..], &unhex(&v["session_id"])[..]);
    p
}

/// Replays each transcript's events into a fresh server: every message the server sends must
/// equal the recorded bytes, in order, and the result must match. Every message must also
/// decode within the session's limits and re-encode to the same bytes.
#[test]
fn replay_transcripts_through_a_fresh_server() {
    use secagg::protocol::messages::{ClientMessage, Limits, ServerMessage};
    use secagg::protocol::Server;
    let names: Vec<String> = vectors::scenarios()
        .iter()
        .map(|s| format!("transcript_{}", s.name))
        .collect();
    assert!(names.len() >= 9);
    for name in names {
        let f = load(&name);
        let params = std::sync::Arc::new(params_from_json(&f["params"]));
        let limits = Limits::new(&params);
        let mut server = Server::new(params.clone(), 0).unwrap();
        let events = f["events"].as_array().unwrap();
        let mut k = 0;
        while k < events.len() {
            let e = &events[k];
            match e["event"].as_str().unwrap() {
                "to_server" => {
                    let bytes = unhex(&e["hex"]);
                    let refused = e.get("refused").and_then(Value::as_str);
                    if refused != Some("Decode") {
                        let (sid, msg) = ClientMessage::decode(&bytes, &limits).unwrap();
                        assert_eq!(msg.encode(&sid), bytes, "{name}: client message re-encodes");
                    }
                    let got =
                        server.handle_message(pid(&e["from"]), &bytes, e["now"].as_u64().unwrap());
                    assert_eq!(
                        got.as_ref().err().map(|r| vectors::reject_name(&r.reason)),
                        refused,
                        "{name}: event {k}: the server's answer"
                    );
                }
                "gone" => server.client_gone(pid(&e["id"]), e["now"].as_u64().unwrap()),
                "timeout" => server.handle_timeout(e["now"].as_u64().unwrap()),
                "from_server" => {
                    // A block of server messages: exactly what the server has queued now.
                    while k < events.len() && events[k]["event"] == "from_server" {
                        let want = unhex(&events[k]["hex"]);
                        let (to, got) = server
                            .poll_transmit()
                            .unwrap_or_else(|| panic!("{name}: event {k} missing"));
                        assert_eq!(to, pid(&events[k]["to"]), "{name}: event {k} recipient");
                        assert_eq!(hex::encode(&got), hex::encode(&want), "{name}: event {k}");
                        let (sid, msg) = ServerMessage::decode(&got, &limits).unwrap();
                        assert_eq!(msg.encode(&sid), got, "{name}: server message re-encodes");
                        k += 1;
                    }
                    assert!(
                        server.poll_transmit().is_none(),
                        "{name}: extra server message before event {k}"
                    );
                    continue;
                }
                other => panic!("unknown event {other}"),
            }
            k += 1;
        }
        let r = &f["result"];
        match server.result().unwrap() {
            Ok(out) => {
                let inc: Vec<u64> = out.included.iter().map(|x| x.get() as u64).collect();
                let want: Vec<u64> = r["included"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap())
                    .collect();
                assert_eq!(inc, want, "{name}");
                assert_eq!(out.sum.to_u64s(), u64s(&r["sum"]), "{name}");
                assert_eq!(out.weight_sum, r["weight_sum"].as_u64().unwrap(), "{name}");
            }
            Err(e) => assert_eq!(
                e.reason.code() as u64,
                r["abort_code"].as_u64().unwrap(),
                "{name}"
            ),
        }
    }
}

/// The transcripts record every client's secrets: they must match what each client sent (public
/// keys, commitment), open every share ciphertext of the session to the 76-byte plaintext of
/// section 16 with the key direction of section 8, Shamir-reconstruct to the recorded secrets,
/// and reproduce every masked input from the quantized vector and the masks of section 7.
#[test]
fn transcript_client_secrets_reproduce_every_client_message() {
    use secagg::protocol::messages::{ClientMessage, Limits, ServerMessage};
    use std::collections::BTreeMap;
    let mut opened_total = 0;
    let mut checked_reveals = 0;
    for sc in vectors::scenarios() {
        let name = format!("transcript_{}", sc.name);
        let f = load(&name);
        let params = params_from_json(&f["params"]);
        let limits = Limits::new(&params);
        let session = params.session_id();
        let t = params.threshold as usize;
        let bits = params.bits;
        let prg = params.mask_prg;
        struct Secrets {
            c_sk: [u8; 32],
            s_sk: [u8; 32],
            b_u: Option<[u8; 32]>,
            quantized: Vec<u64>,
            key_coefficients: Vec<FieldElement>,
            seed_coefficients: Vec<FieldElement>,
            identity_seed: Option<[u8; 32]>,
        }
        let coefficients = |v: Option<&Value>| -> Vec<FieldElement> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|x| FieldElement::from_bytes(&arr(x)).unwrap())
                        .collect()
                })
                .unwrap_or_default()
        };
        let secrets: BTreeMap<u16, Secrets> = f["client_secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_u64().unwrap() as u16,
                    Secrets {
                        c_sk: arr(&c["c_sk"]),
                        s_sk: arr(&c["s_sk"]),
                        b_u: c.get("b_u").map(arr),
                        quantized: u64s(&c["quantized"]),
                        key_coefficients: coefficients(c.get("key_coefficients")),
                        seed_coefficients: coefficients(c.get("self_mask_coefficients")),
                        identity_seed: c.get("identity_seed").map(arr),
                    },
                )
            })
            .collect();
        assert!(!secrets.is_empty(), "{name}");
        let mut keys: BTreeMap<u16, (KexPublicKey, KexPublicKey)> = BTreeMap::new();
        let mut shares: BTreeMap<u16, (Vec<Share>, Vec<Share>)> = BTreeMap::new();
        let mut bundle_senders: BTreeMap<u16, Vec<ParticipantId>> = BTreeMap::new();
        // (owner, holder) -> the encoded shares of s_sk and b_u the holder received.
        let mut received: BTreeMap<(u16, u16), ([u8; 36], [u8; 36])> = BTreeMap::new();
        let mut requests: BTreeMap<u16, Vec<ParticipantId>> = BTreeMap::new();
        let altered: Vec<u64> = f["altered_clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        for e in f["events"].as_array().unwrap() {
            let Some(bytes) = e.get("hex").map(unhex) else {
                continue;
            };
            match e["event"].as_str().unwrap() {
                "from_server" => {
                    let (_, msg) = ServerMessage::decode(&bytes, &limits).unwrap();
                    let to = e["to"].as_u64().unwrap() as u16;
                    match msg {
                        ServerMessage::ShareBundle(b) => {
                            bundle_senders
                                .insert(to, b.ciphertexts.iter().map(|(s, _)| *s).collect());
                        }
                        ServerMessage::ConsistencyRequest(r) => {
                            requests.insert(to, r.survivors);
                        }
                        _ => {}
                    }
                    continue;
                }
                "to_server" if e.get("refused").is_none() => {}
                _ => continue,
            }
            let (_, msg) = ClientMessage::decode(&bytes, &limits).unwrap();
            let u = msg.sender();
            let mine = &secrets[&u.get()];
            match msg {
                ClientMessage::AdvertiseKeys(m) => {
                    // Active model: the signed message is re-derived from the identity seed.
                    if let Some(seed) = mine.identity_seed {
                        let sig = SigningKey::from_seed(&seed).sign(
                            SigPurpose::AdvertiseKeys,
                            &session,
                            &secagg::protocol::messages::key_payload(&m.c_pk, &m.s_pk),
                        );
                        assert_eq!(m.signature, Some(sig), "{name}: signature of {u}");
                    }
                    let c_sk = KexSecretKey::from_bytes(mine.c_sk);
                    let s_sk = KexSecretKey::from_bytes(mine.s_sk);
                    assert_eq!(c_sk.public_key(), m.c_pk, "{name}: c_sk of {u}");
                    assert_eq!(s_sk.public_key(), m.s_pk, "{name}: s_sk of {u}");
                    keys.insert(u.get(), (m.c_pk, m.s_pk));
                }
                ClientMessage::ShareKeys(m) => {
                    let b = SelfMaskSecret::from_bytes(mine.b_u.unwrap());
                    // Byte for byte from the recorded secrets and coefficients.
                    let recipients: Vec<(ParticipantId, KexPublicKey)> = m
                        .ciphertexts
                        .iter()
                        .map(|(v, _)| (*v, keys[&v.get()].0))
                        .collect();
                    let rebuilt = vectors::rebuild_share_keys(
                        &session,
                        u,
                        &mine.c_sk,
                        &mine.s_sk,
                        &mine.b_u.unwrap(),
                        &mine.key_coefficients,
                        &mine.seed_coefficients,
                        t,
                        &recipients,
                    );
                    assert_eq!(rebuilt, bytes, "{name}: ShareKeys of {u} rebuilt");
                    assert_eq!(
                        b.commitment(&session, u),
                        m.commitment,
                        "{name}: commitment"
                    );
                    for (v, ct) in &m.ciphertexts {
                        // Sender side: X25519(c_u^SK, c_v^PK); recipient side must agree.
                        let c_sk = KexSecretKey::from_bytes(mine.c_sk);
                        let shared = c_sk.agree(&keys[&v.get()].0).unwrap();
                        let theirs = KexSecretKey::from_bytes(secrets[&v.get()].c_sk)
                            .agree(&keys[&u.get()].0)
                            .unwrap();
                        assert_eq!(shared.expose(), theirs.expose());
                        let ctx = Context::new(Label::ShareEncryption)
                            .session(&session)
                            .round(Round::ShareKeys)
                            .participant(u)
                            .participant(*v);
                        let key = derive32(shared.expose(), &ctx);
                        let binding = Binding {
                            session,
                            round: Round::ShareKeys,
                            sender: u,
                            recipient: *v,
                        };
                        let pt = OpeningKey::from_bytes(*key).open(&binding, ct).unwrap();
                        // The key for the other direction does not open it.
                        let reverse = Context::new(Label::ShareEncryption)
                            .session(&session)
                            .round(Round::ShareKeys)
                            .participant(*v)
                            .participant(u);
                        let rkey = derive32(shared.expose(), &reverse);
                        assert!(OpeningKey::from_bytes(*rkey).open(&binding, ct).is_err());
                        assert_eq!(pt.len(), 76, "{name}");
                        assert_eq!(&pt[0..2], &u.get().to_be_bytes());
                        assert_eq!(&pt[2..4], &v.get().to_be_bytes());
                        let key_share = Share::from_bytes(&pt[4..40]).unwrap();
                        let seed_share = Share::from_bytes(&pt[40..76]).unwrap();
                        assert_eq!(key_share.x(), *v);
                        assert_eq!(seed_share.x(), *v);
                        received.insert(
                            (u.get(), v.get()),
                            (
                                pt[4..40].try_into().unwrap(),
                                pt[40..76].try_into().unwrap(),
                            ),
                        );
                        let entry = shares.entry(u.get()).or_default();
                        entry.0.push(key_share);
                        entry.1.push(seed_share);
                        opened_total += 1;
                    }
                }
                ClientMessage::MaskedInput(m) => {
                    let mut y = RingVec::from_u64s(bits, &mine.quantized).unwrap();
                    let b = SelfMaskSecret::from_bytes(mine.b_u.unwrap());
                    secagg::crypto::prg::add_mask(prg, &b.mask_seed(&session, u), &mut y).unwrap();
                    let s_sk = KexSecretKey::from_bytes(mine.s_sk);
                    for v in &bundle_senders[&u.get()] {
                        let seed = s_sk
                            .agree(&keys[&v.get()].1)
                            .unwrap()
                            .pairwise_mask_seed(&session, u, *v);
                        if *v > u {
                            secagg::crypto::prg::add_mask(prg, &seed, &mut y).unwrap();
                        } else {
                            secagg::crypto::prg::sub_mask(prg, &seed, &mut y).unwrap();
                        }
                    }
                    assert_eq!(y.pack(), m.packed, "{name}: masked input of {u}");
                }
                ClientMessage::ConsistencySignature(m) => {
                    let seed = mine.identity_seed.unwrap();
                    let sig = SigningKey::from_seed(&seed).sign(
                        SigPurpose::ConsistencyCheck,
                        &session,
                        // U3 followed by the signer's own round-0 keys (section 16).
                        &secagg::protocol::messages::consistency_payload(
                            &requests[&u.get()],
                            &keys[&u.get()].0,
                            &keys[&u.get()].1,
                        ),
                    );
                    assert_eq!(m.signature, sig, "{name}: consistency signature of {u}");
                }
                ClientMessage::UnmaskShares(m) if !altered.contains(&(u.get() as u64)) => {
                    // Each revealed share is the one received from its owner in round 1, of
                    // the kind the owner's U3 membership dictates.
                    for r in &m.shares {
                        let (key_share, seed_share) = received[&(r.owner.get(), u.get())];
                        let want = match r.kind {
                            secagg::protocol::messages::ShareKind::SelfMask => seed_share,
                            _ => key_share,
                        };
                        assert_eq!(
                            r.share, want,
                            "{name}: share of {} revealed by {u}",
                            r.owner
                        );
                        checked_reveals += 1;
                    }
                }
                _ => {}
            }
        }
        // Any t of the shares a client sent rebuild its recorded secrets.
        for (u, (key_shares, seed_shares)) in &shares {
            if key_shares.len() < t {
                continue;
            }
            let s = &secrets[u];
            let tail = key_shares.len() - t;
            assert_eq!(
                *shamir::reconstruct(&key_shares[tail..], t).unwrap(),
                s.s_sk
            );
            assert_eq!(
                *shamir::reconstruct(&seed_shares[..t], t).unwrap(),
                s.b_u.unwrap()
            );
        }
    }
    assert!(opened_total > 100, "only {opened_total} ciphertexts opened");
    assert!(
        checked_reveals > 50,
        "only {checked_reveals} revealed shares checked"
    );
}

#[test]
fn replay_ed25519_strict() {
    let f = load("ed25519_strict");
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() >= 6);
    for c in cases {
        let why = c["comment"].as_str().unwrap();
        let msg = unhex(&c["signed_message"]);
        let session = SessionId(arr(&c["session_id"]));
        let payload = unhex(&c["payload"]);
        let sig = Signature(arr(&c["signature"]));
        let key = VerifyingKey::from_bytes(&arr(&c["public_key"]));
        let got = match &key {
            Err(_) => Some("InvalidKey"),
            Ok(k) => {
                let framed = k.verify(SigPurpose::AdvertiseKeys, &session, &payload, &sig);
                let raw = k.verify_raw(&msg, &sig);
                // `signed_message` is the framing of section 9.
                assert_eq!(framed.is_ok(), raw.is_ok(), "{why}");
                raw.err().map(|_| "InvalidSignature")
            }
        };
        assert_eq!(got, c["error"].as_str(), "{why}");
        assert_eq!(c["result"] == "valid", got.is_none(), "{why}");
    }
    // The file exercises the lax trap: some invalid signature is accepted by a lax verifier.
    assert!(cases
        .iter()
        .any(|c| c["result"] == "invalid" && c["lax_cofactorless_verifier_accepts"] == true));
}

#[test]
fn replay_decoding_limits() {
    use secagg::protocol::codec::DecodeError;
    use secagg::protocol::messages::{ClientMessage, Limits, ServerMessage};
    let f = load("decoding");
    let params = params_from_json(&load("transcript_no_dropout")["params"]);
    assert_eq!(&params.session_id().0[..], &unhex(&f["session_id"])[..]);
    let limits = Limits::new(&params);
    assert_eq!(
        limits.max_client_message() as u64,
        f["limits"]["max_client_message"].as_u64().unwrap()
    );
    assert_eq!(
        limits.max_server_message() as u64,
        f["limits"]["max_server_message"].as_u64().unwrap()
    );
    for c in f["cases"].as_array().unwrap() {
        let bytes = unhex(&c["hex"]);
        let why = c["comment"].as_str().unwrap();
        let r = match c["direction"].as_str().unwrap() {
            "client" => ClientMessage::decode(&bytes, &limits).map(|_| ()),
            _ => ServerMessage::decode(&bytes, &limits).map(|_| ()),
        };
        match c.get("error").and_then(Value::as_str) {
            None => assert!(r.is_ok(), "{why}"),
            Some(want) => {
                let got = match r.unwrap_err() {
                    DecodeError::Truncated { .. } => "Truncated",
                    DecodeError::TrailingBytes(_) => "TrailingBytes",
                    DecodeError::Version(_) => "Version",
                    DecodeError::UnknownType(_) => "UnknownType",
                    DecodeError::TooMany { .. } => "TooMany",
                    DecodeError::TooLarge { .. } => "TooLarge",
                    DecodeError::Invalid(_) => "Invalid",
                    e => panic!("{why}: unexpected {e}"),
                };
                assert_eq!(got, want, "{why}");
            }
        }
    }
}

#[test]
fn replay_chooser() {
    use secagg::protocol::chooser::{choose_graph_params, ChooserError};
    let f = load("chooser");
    for c in f["cases"].as_array().unwrap() {
        let g = choose_graph_params(
            c["n"].as_u64().unwrap(),
            c["dropout"].as_f64().unwrap(),
            c["corrupt"].as_f64().unwrap(),
        )
        .unwrap();
        assert_eq!(g.degree as u64, c["degree"].as_u64().unwrap(), "{c}");
        assert_eq!(g.threshold as u64, c["threshold"].as_u64().unwrap(), "{c}");
    }
    for c in f["errors"].as_array().unwrap() {
        let dropout = c["dropout"].as_f64().unwrap_or(f64::NAN);
        let e = choose_graph_params(
            c["n"].as_u64().unwrap(),
            dropout,
            c["corrupt"].as_f64().unwrap(),
        )
        .unwrap_err();
        let got = match e {
            ChooserError::TooFewClients { .. } => "TooFewClients",
            ChooserError::InvalidFraction { .. } => "InvalidFraction",
            ChooserError::NoHonestSurvivor { .. } => "NoHonestSurvivor",
            ChooserError::Infeasible { .. } => "Infeasible",
            e => panic!("unexpected {e}"),
        };
        assert_eq!(got, c["error"].as_str().unwrap(), "{c}");
    }
}

#[test]
fn replay_graph() {
    use secagg::protocol::graph::permutation;
    let f = load("graph");
    let cases = f["cases"].as_array().unwrap();
    for c in cases {
        let sid = SessionId(arr(&c["session_id"]));
        let n = c["n"].as_u64().unwrap() as usize;
        let perm = permutation(&sid, n);
        let want = |k: &str| -> Vec<u32> {
            c[k].as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect()
        };
        if c.get("permutation").is_some() {
            assert_eq!(perm, want("permutation"));
            let k = c["degree"].as_u64().unwrap() as usize;
            for (pos, list) in c["neighbours"].as_array().unwrap().iter().enumerate() {
                let at = perm.iter().position(|&x| x as usize == pos).unwrap();
                let mut mine: Vec<u32> = (1..=k / 2)
                    .flat_map(|d| [perm[(at + d) % n], perm[(at + n - d) % n]])
                    .collect();
                mine.sort_unstable();
                let listed: Vec<u32> = list
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap() as u32)
                    .collect();
                assert_eq!(mine, listed);
            }
        } else {
            assert_eq!(&perm[..16], &want("permutation_first")[..]);
            assert_eq!(&perm[n - 16..], &want("permutation_last")[..]);
            let mut h = Sha256::new();
            for p in &perm {
                h.update(p.to_be_bytes());
            }
            assert_eq!(&h.finalize()[..], &unhex(&c["permutation_sha256"])[..]);
        }
    }
    // At least one case exercises the rejection step.
    assert!(cases
        .iter()
        .any(|c| !c["rejections"].as_array().unwrap().is_empty()));
}

#[cfg(feature = "quic")]
#[test]
fn replay_quic_frames() {
    use secagg::transport::frame::{
        decode_hello, decode_params, encode_hello, encode_params, CloseCode,
    };
    let f = load("quic");
    for h in f["hello"].as_array().unwrap() {
        let id = pid(&h["participant"]);
        let credential = unhex(&h["credential"]);
        let payload = unhex(&h["payload"]);
        assert_eq!(encode_hello(id, &credential).unwrap(), payload);
        assert_eq!(decode_hello(&payload).unwrap(), (id, &credential[..]));
        let frame = unhex(&h["frame"]);
        assert_eq!(&frame[..4], &(payload.len() as u32).to_be_bytes());
        assert_eq!(&frame[4..], &payload[..]);
    }
    for h in f["hello_invalid"].as_array().unwrap() {
        assert!(decode_hello(&unhex(&h["payload"])).is_err(), "{h}");
    }
    let params = params_from_json(&load("transcript_no_dropout")["params"]);
    let payload = unhex(&f["params"]["payload"]);
    assert_eq!(encode_params(&params), payload);
    assert_eq!(
        decode_params(&payload).unwrap().session_id(),
        params.session_id()
    );
    for c in f["close_codes"].as_array().unwrap() {
        let code = c["code"].as_u64().unwrap();
        let cc = CloseCode::from_u64(code).unwrap();
        assert_eq!(cc as u64, code);
        assert_eq!(cc.varint().into_inner(), code);
        assert_eq!(unhex(&c["varint"]), vec![code as u8]);
    }
    assert!(CloseCode::from_u64(11).is_none());
}
