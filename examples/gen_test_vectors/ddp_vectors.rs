//! The distributed-DP vector files `protocol-spec/test-vectors/ddp_*.json` (spec `ddp.md`).
//!
//! Shared by `cargo run --example gen-test-vectors` (which writes them) and `tests/ddp_vectors.rs`
//! (which regenerates them in memory, requires byte equality with the committed files, and
//! replays every case through the public API).
//!
//! Randomness: every case names a 32-byte `rng_seed`; the RNG is the ChaCha20 keystream with that
//! key, nonce 0, counter 0, read as little-endian `u64` words. `words` lists the first words so
//! an implementation can check its RNG, and `consumed` how many words the operation drew.

use chacha20::rand_core::{Rng, SeedableRng};
use chacha20::ChaCha20Rng;
use secagg::ddp::accounting::rounded_norm_bound_sq;
use secagg::ddp::client::encode_integers;
use secagg::ddp::sample::{
    bernoulli_exp_neg, discrete_gaussian, discrete_laplace, poisson, skellam, uniform_below,
};
use secagg::ddp::{decode_sum, encode, DpConfig, Mechanism, Rotation};
use secagg::ids::SessionId;
use secagg::ring::{Bits, RingVec};
use serde_json::{json, Value};

/// The spec version these vectors belong to.
pub const SPEC_VERSION: u32 = 1;
/// The command that regenerates the files.
pub const GENERATOR: &str = "cargo run --example gen-test-vectors";

fn seed(tag: u8) -> [u8; 32] {
    core::array::from_fn(|i| {
        tag.wrapping_mul(29)
            .wrapping_add((i as u8).wrapping_mul(11))
    })
}

/// Counts the words an operation draws.
pub struct Counting {
    inner: ChaCha20Rng,
    /// Words drawn so far.
    pub words: u64,
}

impl Counting {
    /// The RNG of `seed`.
    pub fn new(seed: [u8; 32]) -> Self {
        Self {
            inner: ChaCha20Rng::from_seed(seed),
            words: 0,
        }
    }
}

impl chacha20::rand_core::TryRng for Counting {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        // The samplers only draw u64 words; a u32 draw is counted as half a word would be
        // ambiguous, so it is not offered.
        unreachable!("ddp samplers draw u64 words only")
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.words += 1;
        Ok(self.inner.next_u64())
    }
    fn try_fill_bytes(&mut self, _dst: &mut [u8]) -> Result<(), Self::Error> {
        unreachable!("ddp samplers draw u64 words only")
    }
}

impl chacha20::rand_core::TryCryptoRng for Counting {}

fn first_words(seed: [u8; 32], k: usize) -> Vec<String> {
    let mut r = ChaCha20Rng::from_seed(seed);
    (0..k).map(|_| r.next_u64().to_string()).collect()
}

fn header(name: &str, description: &str, key: &str, cases: Vec<Value>) -> (String, Value) {
    let v = json!({
        "name": name,
        "spec_version": SPEC_VERSION,
        "generator": GENERATOR,
        "description": description,
        key: cases,
    });
    (name.to_string(), v)
}

/// Example configuration used by several files.
pub fn example_config(mechanism: Mechanism) -> DpConfig {
    let scale = 64.0;
    let nb = rounded_norm_bound_sq(1.0 * scale, (-0.5f64).exp(), 16).floor() as u64;
    let noise = match mechanism {
        Mechanism::DiscreteGaussian => 3 * 65536 + 12345,
        _ => 2 * 65536 + 777,
    };
    DpConfig::new(mechanism, 20, 10, 1.0, scale, nb, noise).expect("valid example")
}

fn config_file() -> (String, Value) {
    let mut cases = Vec::new();
    for m in [Mechanism::DiscreteGaussian, Mechanism::Skellam] {
        let c = example_config(m);
        cases.push(json!({
            "result": "valid",
            "mechanism": m.code(),
            "bits": c.bits(),
            "dim": c.dim(),
            "clip": c.clip(),
            "scale": c.scale(),
            "norm_bound_sq": c.norm_bound_sq().to_string(),
            "noise": c.noise_raw().to_string(),
            "encoding": hex::encode(c.encode()),
        }));
    }
    let good = example_config(Mechanism::DiscreteGaussian).encode();
    let mut bad = |what: &str, f: &dyn Fn(&mut Vec<u8>), error: &str| {
        let mut b = good.to_vec();
        f(&mut b);
        cases.push(json!({"result": "invalid", "comment": what, "encoding": hex::encode(&b), "error": error}));
    };
    bad("truncated", &|b| b.truncate(38), "EncodingLength");
    bad("trailing byte", &|b| b.push(0), "EncodingLength");
    bad("version 2", &|b| b[0] = 2, "UnknownVersion");
    bad("mechanism 3", &|b| b[1] = 3, "UnknownMechanism");
    bad("bits 1", &|b| b[2] = 1, "InvalidBits");
    bad("dim 0", &|b| b[3..7].copy_from_slice(&[0; 4]), "InvalidDim");
    bad(
        "clip -1",
        &|b| b[7..15].copy_from_slice(&(-1.0f64).to_bits().to_be_bytes()),
        "InvalidClip",
    );
    bad(
        "scale NaN",
        &|b| b[15..23].copy_from_slice(&f64::NAN.to_bits().to_be_bytes()),
        "InvalidScale",
    );
    bad(
        "norm bound 1",
        &|b| b[23..31].copy_from_slice(&1u64.to_be_bytes()),
        "InvalidNormBound",
    );
    bad(
        "noise 0",
        &|b| b[31..39].copy_from_slice(&0u64.to_be_bytes()),
        "InvalidNoise",
    );
    header(
        "ddp_config",
        "Canonical encoding of the DP configuration (ddp.md section 3) and rejected encodings.",
        "cases",
        cases,
    )
}

fn session() -> SessionId {
    SessionId(seed(0x42))
}

fn rotation_file() -> (String, Value) {
    let mut cases = Vec::new();
    for padded in [8usize, 16, 64] {
        let rot = Rotation::new(&session(), padded);
        let signs: String = (0..padded)
            .map(|i| if rot.negated(i) { '-' } else { '+' })
            .collect();
        let x: Vec<f64> = (0..padded).map(|i| (i as f64 - 2.5) / 4.0).collect();
        let mut y = x.clone();
        rot.forward(&mut y);
        cases.push(json!({
            "session_id": hex::encode(session().as_bytes()),
            "padded_dim": padded,
            "signs": signs,
            "input": x,
            "rotated_f64_bits": y.iter().map(|v| format!("{:016x}", v.to_bits())).collect::<Vec<_>>(),
        }));
    }
    header(
        "ddp_rotation",
        "Rotation signs derived from the session id, and the forward rotation H S x / sqrt(D) of an input (outputs as IEEE-754 binary64 bit patterns).",
        "cases",
        cases,
    )
}

fn sampler_file() -> (String, Value) {
    let mut cases = Vec::new();
    let mut push =
        |sampler: &str, param: Value, tag: u8, f: &dyn Fn(&mut Counting) -> Vec<String>| {
            let s = seed(tag);
            let mut rng = Counting::new(s);
            let out = f(&mut rng);
            cases.push(json!({
                "sampler": sampler,
                "param": param,
                "rng_seed": hex::encode(s),
                "words": first_words(s, 4),
                "outputs": out,
                "consumed": rng.words,
            }));
        };
    for (tag, n) in [(1u8, 1u128), (2, 10), (3, (1u128 << 64) + 3)] {
        push("uniform_below", json!(n.to_string()), tag, &|r| {
            (0..8).map(|_| uniform_below(r, n).to_string()).collect()
        });
    }
    for (tag, p, q) in [(4u8, 3u128, 10u128), (5, 27, 10), (6, 0, 1)] {
        push(
            "bernoulli_exp_neg",
            json!([p.to_string(), q.to_string()]),
            tag,
            &|r| {
                (0..16)
                    .map(|_| u8::from(bernoulli_exp_neg(r, p, q)).to_string())
                    .collect()
            },
        );
    }
    for (tag, t) in [(7u8, 1u64), (8, 5)] {
        push("discrete_laplace", json!(t.to_string()), tag, &|r| {
            (0..16)
                .map(|_| discrete_laplace(r, t).to_string())
                .collect()
        });
    }
    for (tag, num) in [(9u8, 19_661u64), (10, 163_840), (11, 1u64 << 50)] {
        push("discrete_gaussian", json!(num.to_string()), tag, &|r| {
            (0..16)
                .map(|_| discrete_gaussian(r, num).to_string())
                .collect()
        });
    }
    for (tag, num) in [(12u8, 26_214u64), (13, 485_000)] {
        push("poisson", json!(num.to_string()), tag, &|r| {
            (0..16).map(|_| poisson(r, num).to_string()).collect()
        });
    }
    push("skellam", json!((3u64 * 65536).to_string()), 14, &|r| {
        (0..16).map(|_| skellam(r, 3 * 65536).to_string()).collect()
    });
    header(
        "ddp_samplers",
        "Exact samplers (ddp.md section 6): outputs of successive draws from one RNG, and the number of u64 words consumed.",
        "cases",
        cases,
    )
}

fn pipeline_file() -> (String, Value) {
    let mut cases = Vec::new();
    for (i, m) in [Mechanism::DiscreteGaussian, Mechanism::Skellam]
        .into_iter()
        .enumerate()
    {
        let cfg = example_config(m);
        let rot = Rotation::new(&session(), cfg.padded_dim());
        // One input inside the clip, one above it (clipped).
        let inputs = [
            (0..10).map(|j| (j as f64 - 4.0) / 20.0).collect::<Vec<_>>(),
            (0..10)
                .map(|j| (j as f64 * 0.7).sin() * 3.0)
                .collect::<Vec<_>>(),
        ];
        let bits = Bits::new(u32::from(cfg.bits())).expect("valid");
        let mut sum = RingVec::zeros(bits, cfg.padded_dim());
        let mut clients = Vec::new();
        for (k, x) in inputs.iter().enumerate() {
            let s = seed(0x60 + (2 * i + k) as u8);
            let mut rng = Counting::new(s);
            let (ints, rep) = encode_integers(&cfg, &rot, x, &mut rng).expect("valid");
            let mut rng2 = Counting::new(s);
            let (v, _) = encode(&cfg, &rot, x, &mut rng2).expect("valid");
            sum.add_assign(&v).expect("same shape");
            clients.push(json!({
                "input": x,
                "rng_seed": hex::encode(s),
                "clipped": rep.clipped,
                "rounding_attempts": rep.rounding_attempts,
                "noisy_integers": ints.iter().map(|z| z.to_string()).collect::<Vec<_>>(),
                "ring_elements": v.iter().map(|z| z.to_string()).collect::<Vec<_>>(),
                "consumed": rng.words,
            }));
        }
        let out = decode_sum(&cfg, &rot, &sum, 2).expect("valid");
        cases.push(json!({
            "session_id": hex::encode(session().as_bytes()),
            "config": hex::encode(cfg.encode()),
            "clients": clients,
            "sum": sum.iter().map(|z| z.to_string()).collect::<Vec<_>>(),
            "decoded_sum_f64_bits": out.sum.iter().map(|v| format!("{:016x}", v.to_bits())).collect::<Vec<_>>(),
        }));
    }
    header(
        "ddp_pipeline",
        "Client pipeline (clip, rotate, scale, conditional rounding, noise, ring) for two clients per mechanism, their ring sum, and the server's decoded sum (ddp.md sections 4-8).",
        "cases",
        cases,
    )
}

/// Every ddp vector file.
pub fn all() -> Vec<(String, Value)> {
    vec![
        config_file(),
        rotation_file(),
        sampler_file(),
        pipeline_file(),
    ]
}

/// The exact bytes written for one file.
pub fn render(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("serializable");
    s.push('\n');
    s
}
