//! The committed test vectors in protocol-spec/test-vectors/ are (1) exactly what the documented
//! generator produces, and (2) replayed here case by case through the public API, so a vector
//! that no longer matches the implementation (or the spec) fails a test.

#[allow(dead_code)]
#[path = "../examples/gen_test_vectors/vectors.rs"]
mod vectors;

use secagg::crypto::aead::{Binding, OpeningKey};
use secagg::crypto::kdf::{derive32, Context, Label};
use secagg::crypto::kex::{KexError, KexPublicKey, KexSecretKey};
use secagg::crypto::prg::{expand, MaskSeed, SelfMaskSecret};
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
    assert!(cases.len() >= 33);
    for c in cases {
        let seed = MaskSeed::from_bytes(arr(&c["seed"]));
        let bits = Bits::new(c["bits"].as_u64().unwrap() as u32).unwrap();
        let len = c["len"].as_u64().unwrap() as usize;
        let m = expand(&seed, bits, len).unwrap();
        let first = u64s(&c["first_elements"]);
        assert_eq!(m.iter().take(first.len()).collect::<Vec<_>>(), first);
        assert_eq!(
            &Sha256::digest(m.pack())[..],
            &unhex(&c["packed_sha256"])[..]
        );
    }
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
            _ => assert!(opened.is_err(), "{}", c["comment"]),
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
                    let (sid, msg) = ClientMessage::decode(&bytes, &limits).unwrap();
                    assert_eq!(msg.encode(&sid), bytes, "{name}: client message re-encodes");
                    let _ =
                        server.handle_message(pid(&e["from"]), &bytes, e["now"].as_u64().unwrap());
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
