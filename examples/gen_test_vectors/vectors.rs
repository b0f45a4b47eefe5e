//! Builds every JSON test vector file of protocol-spec/test-vectors/ from fixed inputs.
//!
//! Shared by `cargo run --example gen-test-vectors` (which writes the files) and by
//! `tests/test_vectors.rs` (which regenerates them in memory and requires byte equality with the
//! committed files, then replays each file independently).

use chacha20::rand_core::{Rng, SeedableRng};
use chacha20::ChaCha20Rng;
use secagg::crypto::aead::{Binding, OpeningKey, SealingKey};
use secagg::crypto::kdf::{derive32, Context, Label};
use secagg::crypto::kex::KexSecretKey;
use secagg::crypto::prg::{expand, MaskSeed, SelfMaskSecret};
use secagg::crypto::sign::{SigPurpose, SigningKey};
use secagg::field::FieldElement;
use secagg::ids::{ParticipantId, Round, SessionId};
use secagg::protocol::params::{Graph, SessionParams, ThreatModel};
use secagg::protocol::sim::{self, Event, SimConfig, Vanish};
use secagg::quantize::{bits_for, Quantizer};
use secagg::ring::{Bits, RingVec};
use secagg::shamir;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The spec version these vectors belong to.
pub const SPEC_VERSION: u32 = 1;

/// The command that regenerates the files.
pub const GENERATOR: &str = "cargo run --example gen-test-vectors";

fn hx(b: &[u8]) -> String {
    hex::encode(b)
}

fn pid(i: u16) -> ParticipantId {
    ParticipantId::new(i).expect("nonzero")
}

fn bytes32(tag: u8) -> [u8; 32] {
    core::array::from_fn(|i| tag.wrapping_mul(31).wrapping_add(i as u8 * 7))
}

fn session() -> SessionId {
    SessionId(bytes32(0x51))
}

fn header(name: &str, description: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("name".into(), json!(name));
    m.insert("spec_version".into(), json!(SPEC_VERSION));
    m.insert("generator".into(), json!(GENERATOR));
    m.insert("description".into(), json!(description));
    m
}

fn file(name: &str, description: &str, key: &str, cases: Vec<Value>) -> (String, Value) {
    let mut m = header(name, description);
    m.insert(key.into(), Value::Array(cases));
    (name.to_string(), Value::Object(m))
}

fn elems(v: &RingVec, n: usize) -> Vec<String> {
    v.iter().take(n).map(|x| x.to_string()).collect()
}

fn kdf() -> (String, Value) {
    let s = session();
    let mut cases = Vec::new();
    // Key agreement feeding the derivations: two X25519 keys from fixed bytes.
    let a = KexSecretKey::from_bytes(bytes32(1));
    let b = KexSecretKey::from_bytes(bytes32(2));
    let shared = a.agree(&b.public_key()).expect("contributory");
    let (u, v) = (pid(3), pid(7));
    let seed = shared.pairwise_mask_seed(&s, u, v);
    let ctx = Context::new(Label::PairwiseMask)
        .session(&s)
        .round(Round::MaskedInput)
        .participant(u)
        .participant(v);
    cases.push(json!({
        "derivation": "pairwise_mask",
        "x25519_secret_u": hx(&*a.to_bytes()),
        "x25519_public_v": hx(b.public_key().as_bytes()),
        "ikm": hx(shared.expose()),
        "session_id": hx(s.as_bytes()),
        "round": Round::MaskedInput.code(),
        "participants": [u.get(), v.get()],
        "info": hx(ctx.info()),
        "okm": hx(seed.expose()),
    }));
    for (sender, recipient) in [(u, v), (v, u)] {
        let ctx = Context::new(Label::ShareEncryption)
            .session(&s)
            .round(Round::ShareKeys)
            .participant(sender)
            .participant(recipient);
        cases.push(json!({
            "derivation": "share_encryption",
            "ikm": hx(shared.expose()),
            "session_id": hx(s.as_bytes()),
            "round": Round::ShareKeys.code(),
            "participants": [sender.get(), recipient.get()],
            "info": hx(ctx.info()),
            "okm": hx(&*derive32(shared.expose(), &ctx)),
        }));
    }
    let bu = SelfMaskSecret::from_bytes(bytes32(9));
    let ctx = Context::new(Label::SelfMask)
        .session(&s)
        .round(Round::MaskedInput)
        .participant(u);
    cases.push(json!({
        "derivation": "self_mask",
        "ikm": hx(bu.expose()),
        "session_id": hx(s.as_bytes()),
        "round": Round::MaskedInput.code(),
        "participants": [u.get()],
        "info": hx(ctx.info()),
        "okm": hx(bu.mask_seed(&s, u).expose()),
    }));
    // Policy case: a small-order public key (u = 0) must be rejected.
    cases.push(json!({
        "derivation": "x25519_reject",
        "x25519_secret_u": hx(&*a.to_bytes()),
        "x25519_public_v": hx(&[0u8; 32]),
        "error": "NonContributory",
    }));
    file(
        "kdf",
        "HKDF-SHA256 derivations with labelled, length-prefixed info (spec: Key derivation), fed by X25519.",
        "cases",
        cases,
    )
}

fn prg_mask() -> (String, Value) {
    let mut cases = Vec::new();
    for (i, bits) in [1u32, 7, 8, 16, 32, 33, 63, 64].into_iter().enumerate() {
        for len in [0usize, 1, 17, 1000] {
            let seed = MaskSeed::from_bytes(bytes32(0x20 + i as u8));
            let b = Bits::new(bits).expect("valid width");
            let m = expand(&seed, b, len).expect("small mask");
            let packed = m.pack();
            cases.push(json!({
                "seed": hx(seed.expose()),
                "bits": bits,
                "len": len,
                "first_elements": elems(&m, 32),
                "packed_sha256": hx(&Sha256::digest(&packed)),
            }));
        }
    }
    let seed = MaskSeed::from_bytes(bytes32(0x40));
    let m = expand(&seed, Bits::B32, 1 << 20).expect("1 Mi mask");
    cases.push(json!({
        "seed": hx(seed.expose()),
        "bits": 32,
        "len": 1 << 20,
        "first_elements": elems(&m, 32),
        "packed_sha256": hx(&Sha256::digest(m.pack())),
    }));
    file(
        "prg_mask",
        "Mask expansion: ChaCha20(seed, nonce 0, counter 0) keystream read as packed bits-bit elements. \
         Elements are decimal strings; packed_sha256 is SHA-256 of the packed mask (zero padding bits).",
        "cases",
        cases,
    )
}

fn aead() -> (String, Value) {
    let s = session();
    let key = bytes32(0x77);
    let binding = Binding {
        session: s,
        round: Round::ShareKeys,
        sender: pid(3),
        recipient: pid(7),
    };
    let pt: Vec<u8> = (0..72u8).collect();
    let ct = SealingKey::from_bytes(key).seal(&binding, &pt);
    let mut cases = vec![json!({
        "key": hx(&key),
        "session_id": hx(s.as_bytes()),
        "round": binding.round.code(),
        "sender": 3,
        "recipient": 7,
        "aad": hx(&binding.aad()),
        "plaintext": hx(&pt),
        "ciphertext": hx(&ct),
        "result": "valid",
    })];
    let mut tampered = ct.clone();
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    let negatives = [
        ("tampered tag", 3, 7, s, tampered),
        ("sender and recipient swapped", 7, 3, s, ct.clone()),
        ("other session", 3, 7, SessionId(bytes32(0x52)), ct.clone()),
    ];
    for (why, snd, rcp, sess, c) in negatives {
        let bd = Binding {
            session: sess,
            round: Round::ShareKeys,
            sender: pid(snd),
            recipient: pid(rcp),
        };
        assert!(OpeningKey::from_bytes(key).open(&bd, &c).is_err());
        cases.push(json!({
            "comment": why,
            "key": hx(&key),
            "session_id": hx(sess.as_bytes()),
            "round": bd.round.code(),
            "sender": snd,
            "recipient": rcp,
            "aad": hx(&bd.aad()),
            "ciphertext": hx(&c),
            "result": "invalid",
        }));
    }
    file(
        "aead",
        "Share encryption: ChaCha20-Poly1305, nonce 0^12, associated data binding version, session, round, sender, recipient.",
        "cases",
        cases,
    )
}

fn shamir_vectors() -> (String, Value) {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5ec4);
    let mut cases = Vec::new();
    for (t, holders) in [
        (1usize, vec![1u16, 2, 3]),
        (2, vec![1, 2, 3]),
        (3, vec![2, 5, 9, 65535, 40000]),
    ] {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let coefficients: Vec<FieldElement> = (0..2 * (t - 1))
            .map(|_| FieldElement::random(&mut rng))
            .collect();
        let xs: Vec<ParticipantId> = holders.iter().map(|&h| pid(h)).collect();
        let shares =
            shamir::split_with_coefficients(&secret, t, &xs, &coefficients).expect("valid split");
        let n = shares.len();
        let mut reconstructions = Vec::new();
        for subset in [
            (0..t).collect::<Vec<_>>(),
            (n - t..n).rev().collect(),
            (0..n).collect(),
        ] {
            let picked: Vec<shamir::Share> = subset.iter().map(|&i| shares[i].clone()).collect();
            let got = shamir::reconstruct(&picked, t).expect("consistent shares");
            reconstructions.push(json!({
                "x": subset.iter().map(|&i| holders[i]).collect::<Vec<_>>(),
                "secret": hx(&*got),
            }));
        }
        if t > 1 {
            reconstructions.push(json!({
                "x": holders[..t - 1].to_vec(),
                "error": "TooFewShares",
            }));
            reconstructions.push(json!({
                "x": [holders[0], holders[0]],
                "threshold_override": 2,
                "error": "DuplicateX",
            }));
        }
        cases.push(json!({
            "secret": hx(&secret),
            "threshold": t,
            "holders": holders,
            "coefficients": coefficients.iter().map(|c| hx(&c.to_bytes())).collect::<Vec<_>>(),
            "shares": shares.iter().map(|s| hx(&*s.to_bytes())).collect::<Vec<_>>(),
            "reconstructions": reconstructions,
        }));
    }
    let mut bad_x = [0u8; shamir::SHARE_LEN];
    bad_x[2] = 1;
    let mut non_canonical = [0u8; shamir::SHARE_LEN];
    non_canonical[1] = 1;
    non_canonical[2..19].copy_from_slice(&[0xff; 17]);
    let malformed = vec![
        json!({"share": hx(&bad_x), "error": "ZeroX"}),
        json!({"share": hx(&non_canonical), "error": "MalformedShare"}),
        json!({"share": hx(&non_canonical[..35]), "error": "MalformedShare"}),
    ];
    let mut m = header(
        "shamir",
        "Shamir sharing over GF(2^130-5): secret halves (16 bytes LE each) shared with the listed polynomial \
         coefficients (17-byte LE elements: coefficients of x^1..x^(t-1) for half 0, then for half 1); \
         shares are u16be(x) || y0 || y1.",
    );
    m.insert("cases".into(), Value::Array(cases));
    m.insert("malformed_shares".into(), Value::Array(malformed));
    ("shamir".into(), Value::Object(m))
}

fn quantization() -> (String, Value) {
    let mut rng = ChaCha20Rng::seed_from_u64(0x9a);
    let mut cases = Vec::new();
    let inputs: Vec<f64> = vec![
        -2.5, -1.0, -0.999, -0.25, -0.0, 0.0, 5e-324, 0.1, 0.5, 0.625, 1.0, 3.0,
    ];
    for (clip, levels, max_clients, weight) in [
        (1.0, 1u64 << 16, 1000u64, 1.0),
        (0.5, 255, 10, 2.0),
        (4.0, 2, 3, 0.5),
    ] {
        let bits = bits_for(max_clients, levels).expect("fits");
        let q = Quantizer::new(clip, levels, bits, max_clients).expect("valid");
        let words: Vec<u64> = inputs.iter().map(|_| rng.next_u64()).collect();
        let out = q
            .quantize_with_words(&inputs, weight, &words)
            .expect("finite inputs");
        let count = 2u64.min(max_clients);
        let mut sum = out.clone();
        if count == 2 {
            sum.add_assign(&out).expect("same shape");
        }
        cases.push(json!({
            "clip": clip,
            "levels": levels,
            "max_clients": max_clients,
            "bits": bits.get(),
            "weight": weight,
            "inputs": inputs,
            "rounding_words": words.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "quantized": elems(&out, usize::MAX),
            "sum_count": count,
            "sum": elems(&sum, usize::MAX),
            "dequantized_sum": q.dequantize_sum(&sum, count).expect("in range"),
        }));
    }
    let overflow = vec![
        json!({"max_clients": 65537, "levels": 65536, "bits": 32, "result": "valid"}),
        json!({"max_clients": 65537, "levels": 65537, "bits": 32, "error": "Overflow", "needed_bits": 33}),
        json!({"max_clients": 1000, "levels": 65536, "bits_for": 26}),
    ];
    let mut m = header(
        "quantization",
        "Clip to [-c, c] after weighting, stochastic rounding with u = (word >> 11) * 2^-53, dequantize sum = s * 2c/(Q-1) - m c. \
         Integers above 2^53 are decimal strings.",
    );
    m.insert("cases".into(), Value::Array(cases));
    m.insert("overflow_checks".into(), Value::Array(overflow));
    ("quantization".into(), Value::Object(m))
}

fn packing() -> (String, Value) {
    let mut rng = ChaCha20Rng::seed_from_u64(0x9ac4);
    let mut cases = Vec::new();
    for bits in [1u32, 3, 7, 8, 12, 16, 31, 32, 33, 48, 63, 64] {
        for len in [0usize, 1, 9] {
            let b = Bits::new(bits).expect("valid width");
            let vals: Vec<u64> = (0..len).map(|_| rng.next_u64() & b.max_element()).collect();
            let v = RingVec::from_u64s(b, &vals).expect("in range");
            cases.push(json!({
                "bits": bits,
                "elements": elems(&v, usize::MAX),
                "packed": hx(&v.pack()),
            }));
        }
    }
    let invalid = vec![
        json!({"bits": 7, "len": 3, "packed": "010181", "error": "NonZeroPadding"}),
        json!({"bits": 7, "len": 3, "packed": "0101", "error": "Length"}),
        json!({"bits": 32, "len": 1, "packed": "0100000000", "error": "Length"}),
    ];
    let mut m = header(
        "packing",
        "Bit-packing: elements concatenated as a little-endian bit string, ceil(len*bits/8) bytes, zero padding.",
    );
    m.insert("cases".into(), Value::Array(cases));
    m.insert("invalid".into(), Value::Array(invalid));
    ("packing".into(), Value::Object(m))
}

fn signatures() -> (String, Value) {
    let s = session();
    let key = SigningKey::from_seed(&bytes32(0x3c));
    let mut cases = Vec::new();
    for (purpose, name, payload) in [
        (
            SigPurpose::AdvertiseKeys,
            "advertise_keys",
            bytes32(0x10).to_vec(),
        ),
        (
            SigPurpose::ConsistencyCheck,
            "consistency_check",
            vec![0, 3, 0, 7, 0, 9],
        ),
    ] {
        let sig = key.sign(purpose, &s, &payload);
        cases.push(json!({
            "purpose": name,
            "seed": hx(&bytes32(0x3c)),
            "public_key": hx(&key.verifying_key().to_bytes()),
            "session_id": hx(s.as_bytes()),
            "payload": hx(&payload),
            "signature": hx(&sig.0),
        }));
    }
    file(
        "signatures",
        "Ed25519 over the domain-separated message (spec: Signatures), strict verification.",
        "cases",
        cases,
    )
}

/// One transcript scenario: parameters, schedule, and the recorded events.
pub struct Scenario {
    /// File name suffix.
    pub name: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// The simulation to run.
    pub config: SimConfig,
}

fn scenario_params(n: u16, t: u16, graph: Graph, active: bool) -> SessionParams {
    let identity_keys = if active {
        (0..n)
            .map(|i| {
                SigningKey::from_seed(&bytes32(0x80 + i as u8))
                    .verifying_key()
                    .to_bytes()
            })
            .collect()
    } else {
        Vec::new()
    };
    let k = match graph {
        Graph::Harary { degree } => degree,
        _ => n - 1,
    };
    // The largest corruption bound each model allows for (k, t), so the field is exercised.
    let max_corrupt_neighbours = if active {
        (2 * t).saturating_sub(k + 1)
    } else {
        t - 1
    };
    SessionParams {
        dp: None,
        nonce: bytes32(0x99),
        participants: (1..=n).map(|i| pid(10 * i)).collect(),
        threat_model: if active {
            ThreatModel::Active
        } else {
            ThreatModel::SemiHonest
        },
        identity_keys,
        graph,
        threshold: t,
        max_corrupt_neighbours,
        vector_len: 3,
        bits: Bits::new(24).expect("valid width"),
        clip: 1.0,
        levels: 1025,
        max_weight: 4,
        round_timeout_ms: [1000, 2000, 3000, 4000, 5000],
    }
}

fn scenario(
    name: &'static str,
    description: &'static str,
    p: SessionParams,
    drops: &[(usize, Vanish)],
) -> Scenario {
    let n = p.n();
    let mut vanish = vec![None; n];
    for &(i, v) in drops {
        vanish[i] = Some(v);
    }
    Scenario {
        name,
        description,
        config: SimConfig {
            inputs: (0..n)
                .map(|i| {
                    (0..3)
                        .map(|j| ((i * 3 + j) % 9) as f64 / 8.0 - 0.5)
                        .collect()
                })
                .collect(),
            weights: (0..n).map(|i| 1 + (i % 4) as u32).collect(),
            vanish,
            identity_seeds: (0..n).map(|i| bytes32(0x80 + i as u8)).collect(),
            params: std::sync::Arc::new(p),
            seed: 0x7a5c,
            client_tamper: None,
            server_tamper: None,
            record: true,
        },
    }
}

/// The transcript scenarios of `transcript_*.json`.
pub fn scenarios() -> Vec<Scenario> {
    use Round::*;
    let semi = || scenario_params(5, 2, Graph::Complete, false);
    vec![
        scenario("no_dropout", "5 clients, complete graph, t = 2, nobody drops.", semi(), &[]),
        scenario(
            "drop_round0",
            "Client 20 never sends its keys (silent until the round-0 deadline).",
            semi(),
            &[(1, Vanish::Silent(AdvertiseKeys))],
        ),
        scenario(
            "drop_round1",
            "Client 20 disconnects before sharing its keys.",
            semi(),
            &[(1, Vanish::Disconnect(ShareKeys))],
        ),
        scenario(
            "drop_round2",
            "Client 20 shares its keys, then never sends its masked input: its mask key is rebuilt and its pairwise masks removed.",
            semi(),
            &[(1, Vanish::Silent(MaskedInput))],
        ),
        scenario(
            "drop_round4",
            "Client 20 sends its masked input, then disconnects before unmasking: its input is included.",
            semi(),
            &[(1, Vanish::Disconnect(Unmasking))],
        ),
        scenario(
            "exactly_t_survivors",
            "Two of 5 clients drop after sharing (t = 2): exactly t + 1 = 3 survivors, each with exactly t surviving neighbours.",
            semi(),
            &[(1, Vanish::Silent(MaskedInput)), (3, Vanish::Disconnect(MaskedInput))],
        ),
        scenario(
            "below_threshold",
            "Three of 5 clients drop before their masked inputs: 2 survivors < t + 1, the session aborts and nothing is revealed.",
            semi(),
            &[
                (1, Vanish::Silent(MaskedInput)),
                (2, Vanish::Silent(MaskedInput)),
                (3, Vanish::Disconnect(MaskedInput)),
            ],
        ),
        scenario(
            "active",
            "Active model, 5 clients, t = 3: signed keys, the consistency round, one client drops before signing U3.",
            scenario_params(5, 3, Graph::Complete, true),
            &[(4, Vanish::Silent(ConsistencyCheck))],
        ),
        scenario(
            "secaggplus_n20",
            "SecAgg+: 20 clients on a Harary graph of degree 6, t = 3; one drops after sharing, one before unmasking.",
            scenario_params(20, 3, Graph::Harary { degree: 6 }, false),
            &[(5, Vanish::Silent(MaskedInput)), (11, Vanish::Disconnect(Unmasking))],
        ),
    ]
}

fn params_json(p: &SessionParams) -> Value {
    json!({
        "nonce": hx(&p.nonce),
        "participants": p.participants.iter().map(|x| x.get()).collect::<Vec<_>>(),
        "threat_model": if p.threat_model == ThreatModel::Active { "active" } else { "semi_honest" },
        "identity_keys": p.identity_keys.iter().map(|k| hx(k)).collect::<Vec<_>>(),
        "graph": match p.graph { Graph::Harary { .. } => "harary", _ => "complete" },
        "degree": p.degree(),
        "threshold": p.threshold,
        "max_corrupt_neighbours": p.max_corrupt_neighbours,
        "vector_len": p.vector_len,
        "bits": p.bits.get(),
        "clip": p.clip,
        "levels": p.levels,
        "max_weight": p.max_weight,
        "round_timeout_ms": p.round_timeout_ms,
        "encoded": hx(&p.encode()),
        "session_id": hx(p.session_id().as_bytes()),
    })
}

fn transcript(sc: &Scenario) -> (String, Value) {
    let report = sim::run(&sc.config).expect("valid scenario");
    let events: Vec<Value> = report
        .transcript
        .iter()
        .map(|e| match e {
            Event::ToServer { from, now, bytes } => json!({
                "event": "to_server", "from": from.get(), "now": now,
                "type": sim::type_name(bytes[1]), "hex": hx(bytes),
            }),
            Event::FromServer { to, bytes } => json!({
                "event": "from_server", "to": to.get(),
                "type": sim::type_name(bytes[1]), "hex": hx(bytes),
            }),
            Event::Gone { id, now } => json!({"event": "gone", "id": id.get(), "now": now}),
            Event::Timeout { now } => json!({"event": "timeout", "now": now}),
        })
        .collect();
    let result = match &report.result {
        Ok(out) => json!({
            "included": out.included.iter().map(|x| x.get()).collect::<Vec<_>>(),
            "sum": elems(&out.sum, usize::MAX),
            "weight_sum": out.weight_sum,
            "dequantized_sum": out.dequantized_sum,
            "weighted_mean": out.weighted_mean,
        }),
        Err(e) => {
            json!({"abort_round": e.round.code(), "abort_code": e.reason.code(), "abort": e.to_string()})
        }
    };
    let c = &sc.config;
    let mut m = header(
        &format!("transcript_{}", sc.name),
        &format!(
            "{} Events in the order the server saw them; every from_server message is a deterministic \
             function of the events before it (spec: Server). Client randomness is this implementation's \
             (ChaCha20Rng per client), so client messages are informative, server messages normative.",
            sc.description
        ),
    );
    m.insert("params".into(), params_json(&c.params));
    m.insert("inputs".into(), json!(c.inputs));
    m.insert("weights".into(), json!(c.weights));
    m.insert(
        "schedule".into(),
        json!(c
            .vanish
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| json!({
                "client": c.params.participants[i].get(),
                "round": v.round().code(),
                "how": match v { Vanish::Silent(_) => "silent", Vanish::Disconnect(_) => "disconnect" },
            })))
            .collect::<Vec<_>>()),
    );
    m.insert("events".into(), Value::Array(events));
    m.insert("result".into(), result);
    (format!("transcript_{}", sc.name), Value::Object(m))
}

/// Every vector file as (name, JSON value).
pub fn all() -> Vec<(String, Value)> {
    let mut v = vec![
        kdf(),
        prg_mask(),
        aead(),
        shamir_vectors(),
        quantization(),
        packing(),
        signatures(),
    ];
    v.extend(scenarios().iter().map(transcript));
    v
}

/// The exact bytes written for one file.
pub fn render(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("serializable");
    s.push('\n');
    s
}
