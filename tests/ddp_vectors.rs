//! The committed `protocol-spec/test-vectors/ddp_*.json` files are exactly what the generator
//! produces, and each case replays through the public API (spec `ddp.md`).

#[allow(dead_code)]
#[path = "../examples/gen_test_vectors/ddp_vectors.rs"]
mod ddp_vectors;

use chacha20::cipher::{KeyIvInit, StreamCipher};
use ddp_vectors::Counting;
use secagg::ddp::client::encode_integers;
use secagg::ddp::sample::{
    bernoulli_exp_neg, discrete_gaussian, discrete_laplace, poisson, skellam, uniform_below,
};
use secagg::ddp::{decode_sum, encode, DdpError, DpConfig, Rotation};
use secagg::ids::SessionId;
use secagg::ring::{Bits, RingVec};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!(
        "{}/protocol-spec/test-vectors/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

fn arr32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn bits_of(v: &[f64]) -> Vec<String> {
    v.iter().map(|x| format!("{:016x}", x.to_bits())).collect()
}

#[test]
fn committed_files_match_the_generator() {
    for (name, value) in ddp_vectors::all() {
        let path = format!(
            "{}/protocol-spec/test-vectors/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            committed == ddp_vectors::render(&value),
            "{path} differs from `{}`: regenerate it, never edit it by hand",
            ddp_vectors::GENERATOR
        );
    }
}

#[test]
fn replay_config() {
    for case in load("ddp_config")["cases"].as_array().unwrap() {
        let bytes = hex::decode(case["encoding"].as_str().unwrap()).unwrap();
        let got = DpConfig::decode(&bytes);
        match case["result"].as_str().unwrap() {
            "valid" => {
                let c = got.unwrap();
                assert_eq!(c.encode().to_vec(), bytes);
                assert_eq!(
                    c.mechanism().code() as u64,
                    case["mechanism"].as_u64().unwrap()
                );
                assert_eq!(
                    c.norm_bound_sq().to_string(),
                    case["norm_bound_sq"].as_str().unwrap()
                );
                assert_eq!(c.noise_raw().to_string(), case["noise"].as_str().unwrap());
                assert_eq!(c.scale(), case["scale"].as_f64().unwrap());
            }
            _ => {
                let e = got.unwrap_err();
                let class = format!("{e:?}");
                let want = case["error"].as_str().unwrap();
                assert!(
                    class.starts_with(want),
                    "{}: {class} is not {want}",
                    case["comment"]
                );
            }
        }
    }
}

#[test]
fn replay_rotation() {
    for case in load("ddp_rotation")["cases"].as_array().unwrap() {
        let sid = SessionId(arr32(&case["session_id"]));
        let d = case["padded_dim"].as_u64().unwrap() as usize;
        let rot = Rotation::new(&sid, d);
        let signs: String = (0..d)
            .map(|i| if rot.negated(i) { '-' } else { '+' })
            .collect();
        assert_eq!(signs, case["signs"].as_str().unwrap());
        let mut y = f64s(&case["input"]);
        assert!(rot.forward(&mut y));
        assert_eq!(bits_of(&y), strs(&case["rotated_f64_bits"]));
    }
}

#[test]
fn replay_samplers() {
    for case in load("ddp_samplers")["cases"].as_array().unwrap() {
        let seed = arr32(&case["rng_seed"]);
        // The RNG is the raw ChaCha20 keystream (nonce 0) read as little-endian u64 words.
        let mut ks = [0u8; 32];
        chacha20::ChaCha20::new((&seed).into(), &[0u8; 12].into()).apply_keystream(&mut ks);
        let words: Vec<String> = ks
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()).to_string())
            .collect();
        assert_eq!(words, strs(&case["words"]));
        let mut r = Counting::new(seed);
        let p = &case["param"];
        let n = strs(&case["outputs"]).len();
        let out: Vec<String> = match case["sampler"].as_str().unwrap() {
            "uniform_below" => {
                let m: u128 = p.as_str().unwrap().parse().unwrap();
                (0..n)
                    .map(|_| uniform_below(&mut r, m).to_string())
                    .collect()
            }
            "bernoulli_exp_neg" => {
                let pq = strs(p);
                let (a, b): (u128, u128) = (pq[0].parse().unwrap(), pq[1].parse().unwrap());
                (0..n)
                    .map(|_| u8::from(bernoulli_exp_neg(&mut r, a, b)).to_string())
                    .collect()
            }
            "discrete_laplace" => {
                let t: u64 = p.as_str().unwrap().parse().unwrap();
                (0..n)
                    .map(|_| discrete_laplace(&mut r, t).to_string())
                    .collect()
            }
            "discrete_gaussian" => {
                let v: u64 = p.as_str().unwrap().parse().unwrap();
                (0..n)
                    .map(|_| discrete_gaussian(&mut r, v).to_string())
                    .collect()
            }
            "poisson" => {
                let v: u64 = p.as_str().unwrap().parse().unwrap();
                (0..n).map(|_| poisson(&mut r, v).to_string()).collect()
            }
            "skellam" => {
                let v: u64 = p.as_str().unwrap().parse().unwrap();
                (0..n).map(|_| skellam(&mut r, v).to_string()).collect()
            }
            other => panic!("unknown sampler {other}"),
        };
        assert_eq!(out, strs(&case["outputs"]), "{}", case["sampler"]);
        assert_eq!(r.words, case["consumed"].as_u64().unwrap());
    }
}

#[test]
fn replay_pipeline() {
    for case in load("ddp_pipeline")["cases"].as_array().unwrap() {
        let sid = SessionId(arr32(&case["session_id"]));
        let cfg =
            DpConfig::decode(&hex::decode(case["config"].as_str().unwrap()).unwrap()).unwrap();
        let rot = Rotation::new(&sid, cfg.padded_dim());
        let bits = Bits::new(u32::from(cfg.bits())).unwrap();
        let mut sum = RingVec::zeros(bits, cfg.padded_dim());
        for c in case["clients"].as_array().unwrap() {
            let x = f64s(&c["input"]);
            let seed = arr32(&c["rng_seed"]);
            let mut r = Counting::new(seed);
            let (ints, rep) = encode_integers(&cfg, &rot, &x, &mut r).unwrap();
            let ints: Vec<String> = ints.iter().map(|z| z.to_string()).collect();
            assert_eq!(ints, strs(&c["noisy_integers"]));
            assert_eq!(rep.clipped, c["clipped"].as_bool().unwrap());
            assert_eq!(
                u64::from(rep.rounding_attempts),
                c["rounding_attempts"].as_u64().unwrap()
            );
            assert_eq!(r.words, c["consumed"].as_u64().unwrap());
            let (v, _) = encode(&cfg, &rot, &x, &mut Counting::new(seed)).unwrap();
            let elems: Vec<String> = v.iter().map(|z| z.to_string()).collect();
            assert_eq!(elems, strs(&c["ring_elements"]));
            sum.add_assign(&v).unwrap();
        }
        let got: Vec<String> = sum.iter().map(|z| z.to_string()).collect();
        assert_eq!(got, strs(&case["sum"]));
        let out = decode_sum(&cfg, &rot, &sum, 2).unwrap();
        assert_eq!(bits_of(&out.sum), strs(&case["decoded_sum_f64_bits"]));
    }
    // A sum of the wrong width is refused, not misread.
    let cfg = ddp_vectors::example_config(secagg::ddp::Mechanism::DiscreteGaussian);
    let rot = Rotation::new(&SessionId([0; 32]), cfg.padded_dim());
    let wrong = RingVec::zeros(Bits::new(21).unwrap(), cfg.padded_dim());
    assert!(matches!(
        decode_sum(&cfg, &rot, &wrong, 2),
        Err(DdpError::BitsMismatch { .. })
    ));
}
