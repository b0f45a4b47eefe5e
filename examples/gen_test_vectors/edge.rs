//! Vector files for normative paths that the primitive and transcript files do not reach:
//! strict Ed25519 rejections (`ed25519_strict.json`), the section 16 decoding limits
//! (`decoding.json`), the SecAgg+ parameter chooser (`chooser.json`), the Harary permutation
//! including its rejection step (`graph.json`) and the QUIC binding's frames and close codes
//! (`quic.json`).
//!
//! Every case is computed here from fixed inputs and, where the generator can, checked against
//! an independent computation (the permutation is recomputed with its own word stream, lax
//! Ed25519 verification is run to show each strict rejection matters), so a wrong vector fails
//! at generation time rather than being committed.

use secagg::crypto::sign::{SigPurpose, SigningKey, VerifyingKey};
use secagg::ids::SessionId;
use secagg::protocol::chooser::{choose_graph_params, ChooserError};
use secagg::protocol::codec::DecodeError;
use secagg::protocol::messages::{ClientMessage, Limits, ServerMessage};
use secagg::protocol::params::SessionParams;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};

use crate::vectors::{bytes32, file, header, hx, session};

// ---------------------------------------------------------------------------------------------
// Arithmetic modulo the Ed25519 group order l, bit by bit (only to build the negative cases).

/// l = 2^252 + 27742317777372353535851937790883648493, little-endian 64-bit limbs.
const ORDER: [u64; 4] = [
    0x5812_631a_5cf5_d3ed,
    0x14de_f9de_a2f7_9cd6,
    0,
    0x1000_0000_0000_0000,
];

fn geq(a: &[u64; 4], b: &[u64; 4]) -> bool {
    for i in (0..4).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

fn sub(a: &mut [u64; 4], b: &[u64; 4]) {
    let mut borrow = 0u64;
    for i in 0..4 {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(borrow);
        a[i] = d;
        borrow = (b1 | b2) as u64;
    }
}

fn add(a: &mut [u64; 4], b: &[u64; 4]) {
    let mut carry = 0u64;
    for i in 0..4 {
        let (s, c1) = a[i].overflowing_add(b[i]);
        let (s, c2) = s.overflowing_add(carry);
        a[i] = s;
        carry = (c1 | c2) as u64;
    }
}

/// `2a + bit mod l` for `a < l` (no overflow: l < 2^253).
fn double_plus(a: &mut [u64; 4], bit: u64) {
    let mut carry = bit;
    for limb in a.iter_mut() {
        let top = *limb >> 63;
        *limb = (*limb << 1) | carry;
        carry = top;
    }
    if geq(a, &ORDER) {
        sub(a, &ORDER);
    }
}

/// A little-endian integer of any length, reduced mod l.
fn reduce(le: &[u8]) -> [u64; 4] {
    let mut r = [0u64; 4];
    for byte in le.iter().rev() {
        for j in (0..8).rev() {
            double_plus(&mut r, ((byte >> j) & 1) as u64);
        }
    }
    r
}

/// `a * b mod l` for reduced `a`, `b`.
fn mul(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut acc = [0u64; 4];
    for i in (0..256).rev() {
        double_plus(&mut acc, 0);
        if (b[i / 64] >> (i % 64)) & 1 == 1 {
            add(&mut acc, a);
            if geq(&acc, &ORDER) {
                sub(&mut acc, &ORDER);
            }
        }
    }
    acc
}

fn le_bytes(a: &[u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, limb) in a.iter().enumerate() {
        out[8 * i..8 * i + 8].copy_from_slice(&limb.to_le_bytes());
    }
    out
}

/// The secret scalar of an RFC 8032 key: the clamped first half of SHA-512(seed), mod l.
fn secret_scalar(seed: &[u8; 32]) -> [u64; 4] {
    let h = Sha512::digest(seed);
    let mut a = [0u8; 32];
    a.copy_from_slice(&h[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    reduce(&a)
}

/// `k = SHA-512(R || A || M) mod l`.
fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> [u64; 4] {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(msg);
    reduce(&h.finalize())
}

/// The domain-separated message of section 9.
fn signed_message(label: &[u8], s: &SessionId, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![6];
    m.extend_from_slice(b"secagg");
    m.push(1);
    m.push(label.len() as u8);
    m.extend_from_slice(label);
    m.extend_from_slice(s.as_bytes());
    m.extend_from_slice(payload);
    m
}

/// Whether a lax verifier (ed25519-dalek's cofactorless `verify`, which decodes keys without
/// the canonical or small-order checks) accepts.
fn lax_accepts(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    use ed25519_dalek::Verifier;
    ed25519_dalek::VerifyingKey::from_bytes(key)
        .map(|k| {
            k.verify(msg, &ed25519_dalek::Signature::from_bytes(sig))
                .is_ok()
        })
        .unwrap_or(false)
}

/// Encoding of the identity point (y = 1) and a non-canonical encoding of it (y = p + 1).
const IDENTITY: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 1;
    b
};
const IDENTITY_NON_CANONICAL: [u8; 32] = {
    let mut b = [0xff; 32];
    b[0] = 0xee;
    b[31] = 0x7f;
    b
};

fn ed25519_strict() -> (String, Value) {
    let s = session();
    let seed = bytes32(0x3c);
    let key = SigningKey::from_seed(&seed);
    let a_pub = key.verifying_key().to_bytes();
    let payload = bytes32(0x10).to_vec();
    let msg = signed_message(b"advertise keys", &s, &payload);
    let valid = key.sign(SigPurpose::AdvertiseKeys, &s, &payload).0;
    // The framing above is the library's: the library's signature verifies over it.
    assert!(VerifyingKey::from_bytes(&a_pub)
        .and_then(|k| k.verify_raw(&msg, &secagg::crypto::sign::Signature(valid)))
        .is_ok());
    let a = secret_scalar(&seed);
    let sig = |r: &[u8; 32], s_val: &[u64; 4]| -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(r);
        out[32..].copy_from_slice(&le_bytes(s_val));
        out
    };
    // S + l: the same group element, not reduced.
    let mut s_plus_l = [0u64; 4];
    s_plus_l.copy_from_slice(
        &(0..4)
            .map(|i| u64::from_le_bytes(valid[32 + 8 * i..40 + 8 * i].try_into().expect("8")))
            .collect::<Vec<_>>(),
    );
    add(&mut s_plus_l, &ORDER);
    let mut r_valid = [0u8; 32];
    r_valid.copy_from_slice(&valid[..32]);
    // R = [a]B (the key's own point) with S = a: [S]B = R, so with a small-order A the
    // cofactorless equation holds for every message.
    let k_small_r = challenge(&IDENTITY, &a_pub, &msg);
    let k_nc_r = challenge(&IDENTITY_NON_CANONICAL, &a_pub, &msg);
    struct Case {
        why: &'static str,
        key: [u8; 32],
        sig: [u8; 64],
        error: Option<&'static str>,
    }
    let cases = [
        Case {
            why: "valid signature (the reference for the cases below)",
            key: a_pub,
            sig: valid,
            error: None,
        },
        Case {
            why: "S + l in place of S (not below the group order)",
            key: a_pub,
            sig: sig(&r_valid, &s_plus_l),
            error: Some("InvalidSignature"),
        },
        Case {
            why: "small-order public key A (the identity) with R = [S]B: every message verifies cofactorless",
            key: IDENTITY,
            sig: sig(&a_pub, &a),
            error: Some("InvalidKey"),
        },
        Case {
            why: "non-canonical public key A (y = p + 1, the identity)",
            key: IDENTITY_NON_CANONICAL,
            sig: sig(&a_pub, &a),
            error: Some("InvalidKey"),
        },
        Case {
            why: "small-order R (the identity) with S = k a: the cofactorless equation holds",
            key: a_pub,
            sig: sig(&IDENTITY, &mul(&k_small_r, &a)),
            error: Some("InvalidSignature"),
        },
        Case {
            why: "non-canonical R (y = p + 1) with S = k a, k over the non-canonical bytes",
            key: a_pub,
            sig: sig(&IDENTITY_NON_CANONICAL, &mul(&k_nc_r, &a)),
            error: Some("InvalidSignature"),
        },
    ];
    let mut out = Vec::new();
    for c in cases {
        let strict = VerifyingKey::from_bytes(&c.key)
            .map_err(|_| "InvalidKey")
            .and_then(|k| {
                k.verify_raw(&msg, &secagg::crypto::sign::Signature(c.sig))
                    .map_err(|_| "InvalidSignature")
            });
        assert_eq!(strict.err(), c.error, "{}", c.why);
        let lax = lax_accepts(&c.key, &msg, &c.sig);
        out.push(json!({
            "comment": c.why,
            "public_key": hx(&c.key),
            "session_id": hx(s.as_bytes()),
            "purpose": "advertise_keys",
            "payload": hx(&payload),
            "signed_message": hx(&msg),
            "signature": hx(&c.sig),
            "result": if c.error.is_some() { "invalid" } else { "valid" },
            "error": c.error,
            "lax_cofactorless_verifier_accepts": lax,
        }));
    }
    file(
        "ed25519_strict",
        "Strict Ed25519 verification (spec: Signatures): one valid signature and signatures a lax \
         verifier may accept but a conforming one MUST reject. `signed_message` is the \
         domain-separated message; `error` InvalidKey means the public key itself is rejected. \
         `lax_cofactorless_verifier_accepts` is informative: what ed25519-dalek's non-strict \
         verify (no small-order or canonical-point checks) answers.",
        "cases",
        out,
    )
}

// ---------------------------------------------------------------------------------------------
// Decoding limits (section 16).

fn decode_name(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::Truncated { .. } => "Truncated",
        DecodeError::TrailingBytes(_) => "TrailingBytes",
        DecodeError::Version(_) => "Version",
        DecodeError::UnknownType(_) => "UnknownType",
        DecodeError::TooMany { .. } => "TooMany",
        DecodeError::TooLarge { .. } => "TooLarge",
        DecodeError::Invalid(_) => "Invalid",
        _ => "other",
    }
}

fn head(ty: u8, s: &SessionId) -> Vec<u8> {
    let mut v = vec![1, ty];
    v.extend_from_slice(s.as_bytes());
    v
}

fn decoding(params: &SessionParams) -> (String, Value) {
    let s = params.session_id();
    let limits = Limits::new(params);
    let cat = |parts: &[&[u8]]| parts.concat();
    let zero32 = [0x42u8; 32];
    let ct = [0x17u8; 92];
    let share = {
        let mut b = [0u8; 36];
        b[1] = 10;
        b
    };
    let advertise = cat(&[&head(0x01, &s), &[0, 10], &zero32, &[0x43; 32]]);
    let masked_len = limits.packed_len;
    let masked = cat(&[&head(0x03, &s), &[0, 10], &vec![0u8; masked_len]]);
    // (comment, direction, bytes, expected error)
    let mut cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "header cut after the type byte",
            "client",
            vec![1, 0x01],
            "Truncated",
        ),
        (
            "version 2",
            "client",
            cat(&[&[2, 0x01], s.as_bytes(), &advertise[34..]]),
            "Version",
        ),
        (
            "unknown client type 0x06",
            "client",
            cat(&[&head(0x06, &s), &[0, 10]]),
            "UnknownType",
        ),
        (
            "a server type sent by a client",
            "client",
            cat(&[&head(0x85, &s), &[0, 10]]),
            "UnknownType",
        ),
        (
            "AdvertiseKeys with one trailing byte",
            "client",
            cat(&[&advertise, &[0]]),
            "TrailingBytes",
        ),
        (
            "AdvertiseKeys carrying a signature in a semi-honest session",
            "client",
            cat(&[&advertise, &[0x55; 64]]),
            "TrailingBytes",
        ),
        (
            "sender id 0",
            "client",
            cat(&[&head(0x01, &s), &[0, 0], &zero32, &[0x43; 32]]),
            "Invalid",
        ),
        (
            "ShareKeys announcing k + 1 ciphertexts (checked before reading them)",
            "client",
            cat(&[
                &head(0x02, &s),
                &[0, 10],
                &zero32,
                &((limits.degree + 1) as u16).to_be_bytes(),
            ]),
            "TooMany",
        ),
        (
            "ShareKeys recipients not strictly increasing",
            "client",
            cat(&[
                &head(0x02, &s),
                &[0, 10],
                &zero32,
                &[0, 2, 0, 30],
                &ct,
                &[0, 20],
                &ct,
            ]),
            "Invalid",
        ),
        (
            "ShareKeys repeating a recipient",
            "client",
            cat(&[
                &head(0x02, &s),
                &[0, 10],
                &zero32,
                &[0, 2, 0, 20],
                &ct,
                &[0, 20],
                &ct,
            ]),
            "Invalid",
        ),
        (
            "MaskedInput one byte short",
            "client",
            masked[..masked.len() - 1].to_vec(),
            "Truncated",
        ),
        (
            "MaskedInput one byte long (above the largest client message)",
            "client",
            cat(&[
                &masked,
                &vec![0u8; limits.max_client_message() + 1 - masked.len()],
            ]),
            "TooLarge",
        ),
        (
            "UnmaskShares with share kind 2",
            "client",
            cat(&[&head(0x05, &s), &[0, 20], &[0, 1], &[0, 10], &[2], &share]),
            "Invalid",
        ),
        (
            "KeyDirectory announcing k + 2 entries",
            "server",
            cat(&[&head(0x81, &s), &((limits.degree + 2) as u16).to_be_bytes()]),
            "TooMany",
        ),
        (
            "UnmaskRequest with U3 of n + 1 ids",
            "server",
            cat(&[&head(0x84, &s), &((limits.n + 1) as u16).to_be_bytes()]),
            "TooMany",
        ),
        (
            "UnmaskRequest with a signature in a semi-honest session",
            "server",
            cat(&[
                &head(0x84, &s),
                &[0, 1, 0, 10],
                &[0, 1],
                &[0, 20],
                &[0x55; 64],
            ]),
            "TooMany",
        ),
        (
            "Finished with outcome 3",
            "server",
            cat(&[&head(0x85, &s), &[3, 0, 0]]),
            "Invalid",
        ),
        (
            "Finished one byte short",
            "server",
            cat(&[&head(0x85, &s), &[0, 0]]),
            "Truncated",
        ),
        (
            "unknown server type 0x86",
            "server",
            cat(&[&head(0x86, &s), &[0, 0, 0]]),
            "UnknownType",
        ),
        (
            "a client type sent by the server",
            "server",
            advertise.clone(),
            "UnknownType",
        ),
    ];
    // Valid edge cases a decoder must accept (checks are semantic, later).
    let accepted: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "MaskedInput with nonzero padding bits: decodes; the server refuses it with Vector",
            "client",
            {
                let mut m = masked.clone();
                if let Some(last) = m.last_mut() {
                    *last = 0xff;
                }
                m
            },
        ),
        (
            "ConsistencySignature in a semi-honest session: decodes; the server refuses it with WrongRound",
            "client",
            cat(&[&head(0x04, &s), &[0, 10], &[0x55; 64]]),
        ),
        (
            "ConsistencyRequest in a semi-honest session: decodes; a client aborts with UnexpectedMessage",
            "server",
            cat(&[&head(0x83, &s), &[0, 1, 0, 10]]),
        ),
    ];
    let mut out = Vec::new();
    for (why, dir, bytes, want) in cases.drain(..) {
        let got = match dir {
            "client" => ClientMessage::decode(&bytes, &limits).err(),
            _ => ServerMessage::decode(&bytes, &limits).err(),
        };
        let got = got.map(|e| decode_name(&e));
        assert_eq!(got, Some(want), "{why}");
        out.push(json!({"comment": why, "direction": dir, "hex": hx(&bytes), "error": want}));
    }
    for (why, dir, bytes) in accepted {
        let ok = match dir {
            "client" => ClientMessage::decode(&bytes, &limits).is_ok(),
            _ => ServerMessage::decode(&bytes, &limits).is_ok(),
        };
        assert!(ok, "{why}");
        out.push(json!({"comment": why, "direction": dir, "hex": hx(&bytes), "result": "decodes"}));
    }
    let mut m = header(
        "decoding",
        "Decoding limits (spec: Messages, Limits) for the session of transcript_no_dropout (n = 5, \
         k = 4, L = 3, bits = 24, semi-honest): each `error` case MUST be rejected with that \
         DecodeError class; each `decodes` case MUST decode (its refusal is semantic).",
    );
    m.insert("session_id".into(), json!(hx(s.as_bytes())));
    m.insert(
        "limits".into(),
        json!({
            "n": limits.n,
            "degree": limits.degree,
            "packed_len": limits.packed_len,
            "active": limits.active,
            "max_client_message": limits.max_client_message(),
            "max_server_message": limits.max_server_message(),
        }),
    );
    m.insert("cases".into(), Value::Array(out));
    ("decoding".into(), Value::Object(m))
}

// ---------------------------------------------------------------------------------------------
// Chooser (section 15).

fn chooser() -> (String, Value) {
    let mut rows = Vec::new();
    let grid: &[(u64, f64, f64)] = &[
        (100, 0.05, 0.05),
        (1_000, 0.05, 0.05),
        (10_000, 0.05, 0.05),
        (100_000, 0.05, 0.05),
        (1_000_000, 0.05, 0.05),
        (100, 0.1, 0.1),
        (1_000, 0.1, 0.1),
        (10_000, 0.1, 0.1),
        (100_000, 0.1, 0.1),
        (1_000_000, 0.1, 0.1),
        (100, 0.33, 0.33),
        (1_000, 0.33, 0.33),
        (10_000, 0.33, 0.33),
        (100_000, 0.33, 0.33),
        (1_000_000, 0.33, 0.33),
        (20, 0.0, 0.0),
        (20, 0.1, 0.05),
        (50, 0.2, 0.0),
        (5, 0.2, 0.2),
    ];
    for &(n, dropout, corrupt) in grid {
        let g = choose_graph_params(n, dropout, corrupt).expect("feasible row");
        rows.push(json!({
            "n": n, "dropout": dropout, "corrupt": corrupt,
            "degree": g.degree, "threshold": g.threshold,
            "graph": if u64::from(g.degree) == n - 1 { "complete" } else { "harary" },
        }));
    }
    let bad: &[(u64, f64, f64, &str)] = &[
        (1, 0.0, 0.0, "TooFewClients"),
        (100, 1.0, 0.0, "InvalidFraction"),
        (100, 0.0, -0.1, "InvalidFraction"),
        (100, f64::NAN, 0.0, "InvalidFraction"),
        (100, 0.5, 0.5, "NoHonestSurvivor"),
        (2, 0.0, 0.0, "Infeasible"),
        (4, 0.25, 0.5, "Infeasible"),
        (10, 0.3, 0.6, "Infeasible"),
    ];
    let mut errors = Vec::new();
    for &(n, dropout, corrupt, want) in bad {
        let got = match choose_graph_params(n, dropout, corrupt) {
            Err(ChooserError::TooFewClients { .. }) => "TooFewClients",
            Err(ChooserError::InvalidFraction { .. }) => "InvalidFraction",
            Err(ChooserError::NoHonestSurvivor { .. }) => "NoHonestSurvivor",
            Err(ChooserError::Infeasible { .. }) => "Infeasible",
            Err(_) => "other",
            Ok(_) => "ok",
        };
        assert_eq!(got, want, "chooser({n}, {dropout}, {corrupt})");
        errors.push(json!({
            "n": n,
            // NaN has no JSON number: written as a string.
            "dropout": if dropout.is_nan() { json!("NaN") } else { json!(dropout) },
            "corrupt": corrupt,
            "error": want,
        }));
    }
    let mut m = header(
        "chooser",
        "SecAgg+ degree and threshold (spec: Communication graph, Choosing k and t) for n clients, \
         a dropout fraction and a corrupt fraction; `errors` are inputs that MUST be refused with \
         the named class.",
    );
    m.insert("cases".into(), Value::Array(rows));
    m.insert("errors".into(), Value::Array(errors));
    ("chooser".into(), Value::Object(m))
}

// ---------------------------------------------------------------------------------------------
// Harary permutation (section 15), written here independently of `secagg::protocol::graph`.

struct Words {
    cipher: chacha20::ChaCha20,
    drawn: usize,
}

impl Words {
    fn new(session: &SessionId) -> Self {
        use chacha20::cipher::KeyIvInit;
        let seed = secagg::crypto::kdf::derive32(
            session.as_bytes(),
            &secagg::crypto::kdf::Context::new(secagg::crypto::kdf::Label::GraphPermutation)
                .session(session),
        );
        Self {
            cipher: chacha20::ChaCha20::new((&*seed).into(), &[0u8; 12].into()),
            drawn: 0,
        }
    }

    fn word(&mut self) -> u32 {
        use chacha20::cipher::StreamCipher;
        let mut w = [0u8; 4];
        self.cipher.apply_keystream(&mut w);
        self.drawn += 1;
        u32::from_le_bytes(w)
    }
}

/// The permutation and every rejected draw `(i, bound, word)`.
fn permutation_with_rejections(
    session: &SessionId,
    n: usize,
) -> (Vec<u32>, Vec<(usize, u32, u32)>, usize) {
    let mut words = Words::new(session);
    let mut perm: Vec<u32> = (0..n as u32).collect();
    let mut rejected = Vec::new();
    for i in (1..n).rev() {
        let bound = i as u64 + 1;
        let zone = (1u64 << 32) - ((1u64 << 32) % bound);
        let j = loop {
            let w = words.word();
            if (w as u64) < zone {
                break (w as u64 % bound) as usize;
            }
            rejected.push((i, bound as u32, w));
        };
        perm.swap(i, j);
    }
    (perm, rejected, words.drawn)
}

fn perm_digest(perm: &[u32]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in perm {
        h.update(p.to_be_bytes());
    }
    h.finalize().into()
}

fn graph(transcript_params: &SessionParams) -> (String, Value) {
    let mut cases = Vec::new();
    // Small sessions: the whole permutation and every neighbourhood.
    let small = [
        (
            transcript_params.session_id(),
            transcript_params.n(),
            transcript_params.degree(),
        ),
        (SessionId(bytes32(0x61)), 10usize, 4usize),
    ];
    for (sid, n, k) in small {
        let (perm, rejected, drawn) = permutation_with_rejections(&sid, n);
        assert_eq!(perm, secagg::protocol::graph::permutation(&sid, n));
        let mut nbrs = vec![Vec::new(); n];
        for p in 0..n {
            for d in 1..=k / 2 {
                nbrs[perm[p] as usize].push(perm[(p + d) % n]);
                nbrs[perm[p] as usize].push(perm[(p + n - d) % n]);
            }
        }
        for l in &mut nbrs {
            l.sort_unstable();
        }
        cases.push(json!({
            "session_id": hx(sid.as_bytes()),
            "n": n,
            "degree": k,
            "permutation": perm,
            "words_drawn": drawn,
            "rejections": rejected.iter().map(|(i, b, w)| json!({"i": i, "bound": b, "word": w})).collect::<Vec<_>>(),
            "neighbours": nbrs,
        }));
    }
    // A session whose permutation rejects at least one word: only likely for large n (a draw
    // for bound b is rejected with probability (2^32 mod b) / 2^32), so n = 65535 and the first
    // session id of a fixed sequence that triggers it.
    let n = 65_535usize;
    let mut found = None;
    for c in 0u32..64 {
        let mut h = Sha256::new();
        h.update(b"graph rejection vector");
        h.update(c.to_be_bytes());
        let sid = SessionId(h.finalize().into());
        let (perm, rejected, drawn) = permutation_with_rejections(&sid, n);
        if !rejected.is_empty() {
            found = Some((sid, perm, rejected, drawn));
            break;
        }
    }
    let (sid, perm, rejected, drawn) = found.expect("a rejection within 64 session ids");
    assert_eq!(perm, secagg::protocol::graph::permutation(&sid, n));
    cases.push(json!({
        "session_id": hx(sid.as_bytes()),
        "n": n,
        "permutation_first": &perm[..16],
        "permutation_last": &perm[n - 16..],
        "permutation_sha256": hx(&perm_digest(&perm)),
        "words_drawn": drawn,
        "rejections": rejected.iter().map(|(i, b, w)| json!({"i": i, "bound": b, "word": w})).collect::<Vec<_>>(),
    }));
    file(
        "graph",
        "Harary permutation (spec: Communication graph): positions 0..n-1 permuted from the session id. \
         `rejections` lists every keystream word refused by uniform(bound) (i is the loop index, \
         bound = i + 1); `words_drawn` counts all words read. `permutation_sha256` is SHA-256 of the \
         permutation as u32be values. `neighbours[i]` lists position i's neighbours ascending.",
        "cases",
        cases,
    )
}

// ---------------------------------------------------------------------------------------------
// QUIC binding (section 22).

#[cfg(feature = "quic")]
fn quic(params: &SessionParams) -> (String, Value) {
    use secagg::ids::ParticipantId;
    use secagg::transport::frame::{decode_hello, encode_hello, encode_params, CloseCode};
    let framed = |payload: &[u8]| {
        let mut f = (payload.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(payload);
        f
    };
    let mut hellos = Vec::new();
    // Hello: magic, participant, u16 credential length, credential (a bearer token here; empty
    // with client certificates).
    for (id, credential) in [
        (1u16, &b""[..]),
        (10, &b"token-10"[..]),
        (513, &[0xa5; 32][..]),
        (65535, &b""[..]),
    ] {
        let h = encode_hello(ParticipantId::new(id).expect("nonzero"), credential)
            .expect("credential within the limit");
        hellos.push(json!({
            "participant": id,
            "credential": hx(credential),
            "payload": hx(&h),
            "frame": hx(&framed(&h)),
        }));
    }
    let mut bad = Vec::new();
    for (why, b, want) in [
        (
            "participant 0",
            b"SAGG\x01H\x00\x00\x00\x00".to_vec(),
            "Malformed",
        ),
        (
            "wrong kind byte",
            b"SAGG\x01P\x00\x0a\x00\x00".to_vec(),
            "Malformed",
        ),
        (
            "version 2",
            b"SAGG\x02H\x00\x0a\x00\x00".to_vec(),
            "Malformed",
        ),
        (
            "no credential length",
            b"SAGG\x01H\x00\x0a".to_vec(),
            "Malformed",
        ),
        (
            "credential shorter than its length",
            b"SAGG\x01H\x00\x0a\x00\x03ab".to_vec(),
            "Malformed",
        ),
        (
            "credential longer than its length",
            b"SAGG\x01H\x00\x0a\x00\x01ab".to_vec(),
            "Malformed",
        ),
    ] {
        assert!(decode_hello(&b).is_err(), "{why}");
        bad.push(json!({"comment": why, "payload": hx(&b), "error": want}));
    }
    let p = encode_params(params);
    let codes = [
        CloseCode::Done,
        CloseCode::Protocol,
        CloseCode::FrameTooLarge,
        CloseCode::Malformed,
        CloseCode::UnknownParticipant,
        CloseCode::Duplicate,
        CloseCode::Timeout,
        CloseCode::Shutdown,
        CloseCode::Unauthorized,
        CloseCode::Busy,
        CloseCode::TooManyRefused,
    ];
    let names = [
        "done",
        "protocol",
        "frame_too_large",
        "malformed",
        "unknown_participant",
        "duplicate",
        "timeout",
        "shutdown",
        "unauthorized",
        "busy",
        "too_many_refused",
    ];
    let close: Vec<Value> = codes
        .iter()
        .zip(names)
        .map(|(c, name)| {
            let v = *c as u32;
            assert_eq!(CloseCode::from_u64(v as u64), Some(*c));
            // QUIC variable-length integer (RFC 9000 section 16): values below 64 take one byte
            // whose two high bits are 00.
            assert!(v < 64);
            json!({"name": name, "code": v, "varint": hx(&[v as u8])})
        })
        .collect();
    let mut m = header(
        "quic",
        "QUIC binding (spec: QUIC binding): Hello and Params payloads and their u32be-length frames, \
         malformed Hellos, the application close codes (`varint`: the QUIC variable-length integer \
         carried in CONNECTION_CLOSE). The Params frame carries the parameters of \
         transcript_no_dropout.",
    );
    m.insert("alpn".into(), json!("secagg/1"));
    m.insert("hello".into(), Value::Array(hellos));
    m.insert("hello_invalid".into(), Value::Array(bad));
    m.insert(
        "params".into(),
        json!({
            "session_id": hx(params.session_id().as_bytes()),
            "payload": hx(&p),
            "frame": hx(&framed(&p)),
        }),
    );
    m.insert("close_codes".into(), Value::Array(close));
    ("quic".into(), Value::Object(m))
}

/// Every file of this module.
pub fn all(semi_honest: &SessionParams, harary: &SessionParams) -> Vec<(String, Value)> {
    #[allow(unused_mut)]
    let mut v = vec![
        ed25519_strict(),
        decoding(semi_honest),
        chooser(),
        graph(harary),
    ];
    #[cfg(feature = "quic")]
    v.push(quic(semi_honest));
    v
}
