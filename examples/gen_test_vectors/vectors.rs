//! Builds every JSON test vector file of protocol-spec/test-vectors/ from fixed inputs.
//!
//! Shared by `cargo run --example gen-test-vectors` (which writes the files) and by
//! `tests/test_vectors.rs` (which regenerates them in memory and requires byte equality with the
//! committed files, then replays each file independently).

use chacha20::rand_core::{Rng, SeedableRng};
use chacha20::ChaCha20Rng;
use secagg::crypto::aead::{Binding, OpeningKey, SealingKey};
use secagg::crypto::kdf::{derive32, Context, Label};
use secagg::crypto::kex::{KexPublicKey, KexSecretKey};
use secagg::crypto::prg::{expand, MaskPrg, MaskSeed, SelfMaskSecret};
use secagg::crypto::sign::{SigPurpose, SigningKey};
use secagg::field::FieldElement;
use secagg::ids::{ParticipantId, Round, SessionId};
use secagg::protocol::messages::ClientMessage;
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

pub fn hx(b: &[u8]) -> String {
    hex::encode(b)
}

fn pid(i: u16) -> ParticipantId {
    ParticipantId::new(i).expect("nonzero")
}

pub fn bytes32(tag: u8) -> [u8; 32] {
    core::array::from_fn(|i| tag.wrapping_mul(31).wrapping_add(i as u8 * 7))
}

pub fn session() -> SessionId {
    SessionId(bytes32(0x51))
}

pub fn header(name: &str, description: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("name".into(), json!(name));
    m.insert("spec_version".into(), json!(SPEC_VERSION));
    m.insert("generator".into(), json!(GENERATOR));
    m.insert("description".into(), json!(description));
    m
}

pub fn file(name: &str, description: &str, key: &str, cases: Vec<Value>) -> (String, Value) {
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
    for prg in MaskPrg::ALL {
        for (i, bits) in [1u32, 7, 8, 16, 32, 33, 63, 64].into_iter().enumerate() {
            for len in [0usize, 1, 17, 1000] {
                let seed = MaskSeed::from_bytes(bytes32(0x20 + i as u8));
                let b = Bits::new(bits).expect("valid width");
                let m = expand(prg, &seed, b, len).expect("small mask");
                let packed = m.pack();
                cases.push(json!({
                    "suite": prg.code(),
                    "seed": hx(seed.expose()),
                    "bits": bits,
                    "len": len,
                    "first_elements": elems(&m, 32),
                    "packed_sha256": hx(&Sha256::digest(&packed)),
                }));
            }
        }
        let seed = MaskSeed::from_bytes(bytes32(0x40));
        let m = expand(prg, &seed, Bits::B32, 1 << 20).expect("1 Mi mask");
        cases.push(json!({
            "suite": prg.code(),
            "seed": hx(seed.expose()),
            "bits": 32,
            "len": 1 << 20,
            "first_elements": elems(&m, 32),
            "packed_sha256": hx(&Sha256::digest(m.pack())),
        }));
    }
    file(
        "prg_mask",
        "Mask expansion (spec: Mask expansion): the suite's keystream read as packed bits-bit elements. \
         Suite 1: ChaCha20(seed, nonce 0, counter 0). Suite 2: AES-128-CTR(key = seed[0..16], \
         initial counter block 0^16, 128-bit big-endian increment). \
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
            "error": "Authentication",
        }));
    }
    // Shorter than the tag.
    cases.push(json!({
        "comment": "15 bytes, shorter than the 16-byte tag",
        "key": hx(&key),
        "session_id": hx(s.as_bytes()),
        "round": binding.round.code(),
        "sender": 3,
        "recipient": 7,
        "aad": hx(&binding.aad()),
        "ciphertext": hx(&ct[..15]),
        "result": "invalid",
        "error": "TooShort",
    }));
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
    /// Clients some of whose *accepted* messages the driver altered (so they do not follow from
    /// the client's secrets).
    pub altered: Vec<u16>,
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
        mask_prg: MaskPrg::ChaCha20,
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
        altered: Vec::new(),
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
            "mask_prg_aes",
            "As drop_round2 with mask PRG suite 2 (AES-128-CTR): client 20 never sends its masked input, the server regenerates its pairwise masks with AES-128-CTR.",
            {
                let mut p = semi();
                p.mask_prg = MaskPrg::Aes128Ctr;
                p
            },
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
        scenario(
            "disconnect_after_answer",
            "Connections that close right after a message was accepted, before the round closes: \
             client 20 sends its ShareKeys and disconnects (it is not in U2, its ciphertexts are \
             never delivered); client 40 sends its masked input and disconnects (it stays in U3, its \
             input is in the sum, and it leaves when the unmasking round opens).",
            semi(),
            &[
                (1, Vanish::SentThenDisconnect(ShareKeys)),
                (3, Vanish::SentThenDisconnect(MaskedInput)),
            ],
        ),
        retransmission(),
        refusals(),
        pruning(),
        neighbourhood_too_small(),
        gone_holder(),
        reconstruction_failed(),
    ]
}

/// The session of the Harary scenarios: 10 clients, degree 4, t = 2.
pub fn harary10_params() -> SessionParams {
    scenario_params(10, 2, Graph::Harary { degree: 4 }, false)
}

/// Indices (positions in the participant list) of the neighbours at ring distance -1, +1 and +2
/// of participant index 0: dropping them leaves index 0 one neighbour, below t = 2.
fn isolating_drops(p: &SessionParams) -> [usize; 3] {
    let n = p.n();
    let perm = secagg::protocol::graph::permutation(&p.session_id(), n);
    let at = perm.iter().position(|&x| x == 0).expect("0 is placed");
    [
        perm[(at + n - 1) % n] as usize,
        perm[(at + 1) % n] as usize,
        perm[(at + 2) % n] as usize,
    ]
}

fn tampered(
    mut sc: Scenario,
    f: impl Fn(usize, Vec<u8>) -> Vec<Vec<u8>> + Send + Sync + 'static,
) -> Scenario {
    sc.config.client_tamper = Some(std::sync::Arc::new(f));
    sc
}

fn retransmission() -> Scenario {
    // Client 30 sends every message twice: the identical repeat is ignored (no refusal, no
    // effect), until the session is over (then it is refused with SessionOver).
    tampered(
        scenario(
            "retransmission",
            "Client 30 sends every message twice (an identical retransmission): the server ignores each repeat.",
            scenario_params(5, 2, Graph::Complete, false),
            &[],
        ),
        |i, m| if i == 2 { vec![m.clone(), m] } else { vec![m] },
    )
}

fn refusals() -> Scenario {
    let p = scenario_params(5, 2, Graph::Complete, false);
    let sid = p.session_id();
    tampered(
        scenario(
            "refusals",
            "Refused messages: client 20's keys are preceded by a truncated copy (Decode: refused, \
             still in the session); client 40 sends a ConsistencySignature in round 1 (WrongRound: \
             refused, still in); client 30 follows its masked input with a different one \
             (Conflicting: refused, the first one counts); client 50's ShareKeys omits its last \
             recipient (BadRecipients: a failed content check, client 50 is excluded).",
            p,
            &[],
        ),
        move |i, m| match (i, m[1]) {
            (1, 0x01) => vec![m[..m.len() - 1].to_vec(), m],
            (3, 0x02) => {
                let mut sig = vec![1, 0x04];
                sig.extend_from_slice(sid.as_bytes());
                sig.extend_from_slice(&m[34..36]);
                sig.extend_from_slice(&[0x55; 64]);
                vec![sig, m]
            }
            (2, 0x03) => {
                let mut other = m.clone();
                other[36] ^= 1;
                vec![m, other]
            }
            (4, 0x02) => {
                // Count down by one and drop the last (recipient, ciphertext) entry.
                let mut cut = m[..m.len() - (2 + 92)].to_vec();
                let count = u16::from_be_bytes([cut[68], cut[69]]) - 1;
                cut[68..70].copy_from_slice(&count.to_be_bytes());
                vec![cut]
            }
            _ => vec![m],
        },
    )
}

fn pruning() -> Scenario {
    let p = harary10_params();
    let drops = isolating_drops(&p);
    let id0 = p.participants[0].get();
    let sc = scenario(
        "pruning",
        "SecAgg+ pruning: 10 clients, Harary degree 4, t = 2. Three of client 10's four neighbours \
         never send their keys; at the round-0 deadline client 10 has one neighbour in U1, fewer \
         than t, and is removed (Finished(excluded)) before the key directories go out.",
        p,
        &drops.map(|i| (i, Vanish::Silent(Round::AdvertiseKeys))),
    );
    // The description names client 10: it must be participant index 0.
    assert_eq!(id0, 10);
    sc
}

fn neighbourhood_too_small() -> Scenario {
    let p = harary10_params();
    let drops = isolating_drops(&p);
    scenario(
        "neighbourhood_too_small",
        "NeighbourhoodTooSmall: 10 clients, Harary degree 4, t = 2. Three of client 10's four \
         neighbours share their keys and then never send their masked inputs: client 10's \
         self-mask seed has one holder left in U3, fewer than t, so the server aborts (code 2) \
         before any unmasking request.",
        p,
        &drops.map(|i| (i, Vanish::Silent(Round::MaskedInput))),
    )
}

fn gone_holder() -> Scenario {
    let p = harary10_params();
    let [a, b, c] = isolating_drops(&p);
    scenario(
        "gone_holder",
        "NeighbourhoodTooSmall with a holder that disconnected: 10 clients, Harary degree 4, t = 2. \
         Two of client 10's four neighbours never send their masked inputs; a third sends its \
         masked input and disconnects at once. It stays in U3 (its input would be in the sum) \
         but cannot reveal shares, so client 10's self-mask seed has one holder that can answer: \
         the server aborts (code 2) before any unmasking request.",
        p,
        &[
            (a, Vanish::Silent(Round::MaskedInput)),
            (b, Vanish::Silent(Round::MaskedInput)),
            (c, Vanish::SentThenDisconnect(Round::MaskedInput)),
        ],
    )
}

fn reconstruction_failed() -> Scenario {
    let p = scenario_params(5, 2, Graph::Complete, false);
    let limits = secagg::protocol::messages::Limits::new(&p);
    let mut sc = tampered(
        scenario(
            "reconstruction_failed",
            "ReconstructionFailed: 5 clients, t = 2; clients 40 and 50 disconnect after their masked \
             inputs; client 10 reveals corrupted shares (bit 0 of f_0 flipped). Client 20's self-mask \
             seed has only two shares (10's and 30's), neither subset matches the commitment, and \
             the round closes with abort code 3.",
            p,
            &[(3, Vanish::Disconnect(Round::Unmasking)), (4, Vanish::Disconnect(Round::Unmasking))],
        ),
        move |i, m| {
            use secagg::protocol::messages::ClientMessage;
            if i != 0 || m[1] != 0x05 {
                return vec![m];
            }
            let Ok((sid, ClientMessage::UnmaskShares(mut u))) = ClientMessage::decode(&m, &limits)
            else {
                return vec![m];
            };
            for s in &mut u.shares {
                s.share[2] ^= 1;
            }
            vec![ClientMessage::UnmaskShares(u).encode(&sid)]
        },
    );
    sc.altered = vec![10];
    sc
}

/// The name of a refusal, as in the spec's error registry.
pub fn reject_name(r: &secagg::protocol::RejectReason) -> &'static str {
    use secagg::protocol::RejectReason as R;
    match r {
        R::Decode(_) => "Decode",
        R::UnknownSender => "UnknownSender",
        R::WrongSession => "WrongSession",
        R::SenderMismatch(_) => "SenderMismatch",
        R::WrongRound { .. } => "WrongRound",
        R::Conflicting => "Conflicting",
        R::NotInRound => "NotInRound",
        R::BadPublicKey => "BadPublicKey",
        R::BadSignature => "BadSignature",
        R::BadRecipients => "BadRecipients",
        R::BadShares => "BadShares",
        R::Vector(_) => "Vector",
        R::SessionOver => "SessionOver",
        _ => "other",
    }
}

/// The c_pk that `v` advertised (its accepted AdvertiseKeys in the transcript).
pub fn advertised_c_pk(events: &[Event], v: ParticipantId) -> KexPublicKey {
    events
        .iter()
        .find_map(|e| match e {
            Event::ToServer {
                from,
                bytes,
                refused: None,
                ..
            } if *from == v && bytes[1] == 0x01 => {
                Some(KexPublicKey(bytes[36..68].try_into().expect("32 bytes")))
            }
            _ => None,
        })
        .expect("every recipient advertised its keys")
}

/// A ShareKeys message rebuilt from the spec alone: Shamir shares with the given coefficients
/// (section 10), the 76-byte plaintext `u16(sender) || u16(recipient) || share of s_sk || share
/// of b_u` (section 16), sealed under the directional key of section 8.
#[allow(clippy::too_many_arguments)]
pub fn rebuild_share_keys(
    session: &SessionId,
    sender: ParticipantId,
    c_sk: &[u8; 32],
    s_sk: &[u8; 32],
    b_u: &[u8; 32],
    key_coefficients: &[FieldElement],
    seed_coefficients: &[FieldElement],
    t: usize,
    recipients: &[(ParticipantId, KexPublicKey)],
) -> Vec<u8> {
    let holders: Vec<ParticipantId> = recipients.iter().map(|(v, _)| *v).collect();
    let key_shares =
        shamir::split_with_coefficients(s_sk, t, &holders, key_coefficients).expect("valid split");
    let seed_shares =
        shamir::split_with_coefficients(b_u, t, &holders, seed_coefficients).expect("valid split");
    let c = KexSecretKey::from_bytes(*c_sk);
    let mut ciphertexts = Vec::new();
    for (((v, c_pk), ks), ss) in recipients.iter().zip(&key_shares).zip(&seed_shares) {
        let shared = c.agree(c_pk).expect("contributory");
        let ctx = Context::new(Label::ShareEncryption)
            .session(session)
            .round(Round::ShareKeys)
            .participant(sender)
            .participant(*v);
        let key = derive32(shared.expose(), &ctx);
        let mut pt = Vec::with_capacity(76);
        pt.extend_from_slice(&sender.get().to_be_bytes());
        pt.extend_from_slice(&v.get().to_be_bytes());
        pt.extend_from_slice(&*ks.to_bytes());
        pt.extend_from_slice(&*ss.to_bytes());
        let binding = Binding {
            session: *session,
            round: Round::ShareKeys,
            sender,
            recipient: *v,
        };
        let ct = SealingKey::from_bytes(*key).seal(&binding, &pt);
        ciphertexts.push((*v, ct.try_into().expect("92 bytes")));
    }
    let commitment = SelfMaskSecret::from_bytes(*b_u).commitment(session, sender);
    ClientMessage::ShareKeys(secagg::protocol::messages::ShareKeys {
        sender,
        commitment,
        ciphertexts,
    })
    .encode(session)
}

/// Every client's secrets, recovered by replaying its RNG in the order the client draws
/// (rounding words, c_sk, s_sk, then b_u on the key directory) and checked against what it sent
/// (public keys, commitment): with them an independent implementation can re-derive every
/// client message and open every share ciphertext.
fn client_secrets(c: &SimConfig, events: &[Event]) -> Vec<Value> {
    let p = &c.params;
    let q = p.quantizer().expect("valid parameters");
    let sid = p.session_id();
    let mut out = Vec::new();
    for (i, &id) in p.participants.iter().enumerate() {
        let sent = |ty: u8| {
            events.iter().find_map(|e| match e {
                Event::ToServer {
                    from,
                    bytes,
                    refused: None,
                    ..
                } if *from == id && bytes[1] == ty => Some(bytes.clone()),
                _ => None,
            })
        };
        let Some(keys) = sent(0x01) else {
            continue;
        };
        let mut rng = sim::client_rng(c.seed, i);
        let words: Vec<u64> = (0..p.vector_len).map(|_| rng.next_u64()).collect();
        let weight = c.weights[i] as f64 / p.max_weight as f64;
        let mut quantized = q
            .quantize_with_words(&c.inputs[i], weight, &words)
            .expect("finite inputs")
            .to_u64s();
        quantized.push(c.weights[i] as u64);
        let c_sk = KexSecretKey::generate(&mut rng);
        let s_sk = KexSecretKey::generate(&mut rng);
        assert_eq!(&keys[36..68], c_sk.public_key().as_bytes(), "c_sk of {id}");
        assert_eq!(&keys[68..100], s_sk.public_key().as_bytes(), "s_sk of {id}");
        let mut entry = json!({
            "id": id.get(),
            "rng": format!("ChaCha20Rng::seed_from_u64({})", c.seed ^ ((i as u64 + 1) << 20)),
            "rounding_words": words.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "quantized": quantized.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "c_sk": hx(&*c_sk.to_bytes()),
            "s_sk": hx(&*s_sk.to_bytes()),
        });
        if p.threat_model == ThreatModel::Active {
            let seed = c.identity_seeds[i];
            assert_eq!(
                SigningKey::from_seed(&seed).verifying_key().to_bytes(),
                p.identity_keys[i],
                "identity of {id}"
            );
            entry["identity_seed"] = json!(hx(&seed));
        }
        if let Some(shares) = sent(0x02) {
            let b = SelfMaskSecret::random(&mut rng);
            assert_eq!(&shares[36..68], &b.commitment(&sid, id)[..], "b_u of {id}");
            entry["b_u"] = json!(hx(b.expose()));
            // The Shamir coefficients: mask key first, then the self-mask secret (section 10).
            let t = p.threshold as usize;
            let mut draw = || -> Vec<FieldElement> {
                (0..2 * (t - 1))
                    .map(|_| FieldElement::random(&mut rng))
                    .collect()
            };
            let key_coefficients = draw();
            let seed_coefficients = draw();
            let limits = secagg::protocol::messages::Limits::new(p);
            let Ok((_, ClientMessage::ShareKeys(m))) = ClientMessage::decode(&shares, &limits)
            else {
                panic!("ShareKeys of {id} decodes");
            };
            let recipients: Vec<(ParticipantId, KexPublicKey)> = m
                .ciphertexts
                .iter()
                .map(|(v, _)| (*v, advertised_c_pk(events, *v)))
                .collect();
            let rebuilt = rebuild_share_keys(
                &sid,
                id,
                &c_sk.to_bytes(),
                &s_sk.to_bytes(),
                b.expose(),
                &key_coefficients,
                &seed_coefficients,
                t,
                &recipients,
            );
            assert_eq!(
                rebuilt, shares,
                "ShareKeys of {id} rebuilt from its secrets"
            );
            let coeffs =
                |c: &[FieldElement]| c.iter().map(|x| hx(&x.to_bytes())).collect::<Vec<_>>();
            entry["key_coefficients"] = json!(coeffs(&key_coefficients));
            entry["self_mask_coefficients"] = json!(coeffs(&seed_coefficients));
        }
        out.push(entry);
    }
    out
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
        "mask_prg": p.mask_prg.code(),
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
            Event::ToServer {
                from,
                now,
                bytes,
                refused,
            } => {
                let mut e = json!({
                    "event": "to_server", "from": from.get(), "now": now,
                    "type": sim::type_name(bytes.get(1).copied().unwrap_or(0)), "hex": hx(bytes),
                });
                if let Some(r) = refused {
                    e["refused"] = json!(reject_name(r));
                }
                e
            }
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
            "dequantized_sum": out.dequantized_sum(),
            "weighted_mean": out.weighted_mean(),
        }),
        Err(e) => {
            json!({"abort_round": e.round.code(), "abort_code": e.reason.code(), "abort": e.to_string()})
        }
    };
    let c = &sc.config;
    let mut m = header(
        &format!("transcript_{}", sc.name),
        &format!(
            "{} Events in the order the server saw them (spec: Transcript vectors); `refused` names the \
             server's refusal of a to_server message (absent: accepted, or ignored as an identical repeat); \
             every from_server block is what the server queued while handling the events since the \
             previous block. Server messages and the result are normative. `client_secrets` holds each \
             client's keys, self-mask secret and quantized vector (checked against its messages), so \
             every client message can be re-derived and every share ciphertext opened.",
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
                "how": match v {
                    Vanish::Silent(_) => "silent",
                    Vanish::Disconnect(_) => "disconnect",
                    Vanish::SentThenDisconnect(_) => "sent_then_disconnect",
                },
            })))
            .collect::<Vec<_>>()),
    );
    m.insert("altered_clients".into(), json!(sc.altered));
    m.insert(
        "client_secrets".into(),
        Value::Array(client_secrets(c, &report.transcript)),
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
    v.extend(crate::edge::all(
        &scenario_params(5, 2, Graph::Complete, false),
        &scenario_params(20, 3, Graph::Harary { degree: 6 }, false),
    ));
    v
}

/// The exact bytes written for one file.
pub fn render(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("serializable");
    s.push('\n');
    s
}
