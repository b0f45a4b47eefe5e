//! Replays `protocol-spec/test-vectors/ldp_*.json`: the generator must reproduce every file
//! byte for byte, and every recorded report must decode, re-encode identically and aggregate to
//! the recorded support counts and estimates; every recorded invalid encoding must be rejected.

use std::path::PathBuf;

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use secagg::ldp::*;
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("protocol-spec/test-vectors")
}

#[test]
fn generator_reproduces_files_byte_exactly() {
    let files = vectors::generate(ChaCha20Rng::from_seed).unwrap();
    assert_eq!(files.len(), 9);
    for f in files {
        let mut json = serde_json::to_string_pretty(&f).unwrap();
        json.push('\n');
        let on_disk = std::fs::read_to_string(dir().join(&f.file)).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run `cargo run --example gen-ldp-test-vectors`)",
                f.file
            )
        });
        assert!(
            on_disk == json,
            "{} differs from the generator output",
            f.file
        );
    }
}

/// serde_json's default float parser may be one ulp off, so floats compare to 4 ulps.
fn same(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs())
}

fn same_all(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(*x, *y))
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

/// Decode / re-encode / aggregate check for a single-attribute oracle.
fn replay_single<O: FrequencyOracle>(o: &O, v: &Value) {
    assert_eq!(o.report_len() as u64, v["report_len"].as_u64().unwrap());
    let pp = o.params();
    assert!(same(pp.p_star(), v["derived"]["p_star"].as_f64().unwrap()));
    assert!(same(pp.q_star(), v["derived"]["q_star"].as_f64().unwrap()));
    let mut agg = o.aggregator();
    for h in v["reports"].as_array().unwrap() {
        let bytes = unhex(h.as_str().unwrap());
        let rep = o.decode_report(&bytes).unwrap();
        let mut again = Vec::new();
        o.encode_report(&rep, &mut again).unwrap();
        assert_eq!(again, bytes);
        agg.add_bytes(&bytes).unwrap();
    }
    let counts: Vec<u64> = serde_json::from_value(v["support_counts"][0].clone()).unwrap();
    assert_eq!(agg.support_counts(), counts);
    let est: Vec<f64> = serde_json::from_value(v["estimates"][0].clone()).unwrap();
    assert!(same_all(&agg.estimate(), &est));
    for h in v["invalid_reports"].as_array().unwrap() {
        assert!(
            o.decode_report(&unhex(h.as_str().unwrap())).is_err(),
            "{} accepted {h}",
            o.name()
        );
    }
}

fn replay_multi<P: MultidimProtocol>(p: &P, v: &Value) {
    let mut c = p.new_counts();
    for h in v["reports"].as_array().unwrap() {
        let bytes = unhex(h.as_str().unwrap());
        let rep = p.decode_report(&bytes).unwrap();
        let mut again = Vec::new();
        p.encode_report(&rep, &mut again).unwrap();
        assert_eq!(again, bytes);
        p.accumulate(&mut c, &rep).unwrap();
    }
    let counts: Vec<Vec<u64>> = serde_json::from_value(v["support_counts"].clone()).unwrap();
    for (i, want) in counts.iter().enumerate() {
        assert_eq!(c.counts(i), &want[..]);
    }
    let est: Vec<Vec<f64>> = serde_json::from_value(v["estimates"].clone()).unwrap();
    for (a, b) in p.estimate(&c).unwrap().iter().zip(&est) {
        assert!(same_all(a, b));
    }
    assert!(same(
        p.privacy().tuple,
        v["derived"]["tuple_epsilon"].as_f64().unwrap()
    ));
    for h in v["invalid_reports"].as_array().unwrap() {
        assert!(
            p.decode_report(&unhex(h.as_str().unwrap())).is_err(),
            "{} accepted {h}",
            p.name()
        );
    }
}

#[test]
fn recorded_reports_decode_and_aggregate() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.starts_with("ldp_") && name.ends_with(".json")) {
            continue;
        }
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for v in file["vectors"].as_array().unwrap() {
            seen += 1;
            let proto = v["protocol"].as_str().unwrap();
            let doms: Vec<u32> = serde_json::from_value(v["domains"].clone()).unwrap();
            let eps = v["epsilon"].as_f64().unwrap();
            let k = doms[0];
            let calibrated =
                v["derived"].get("tuple_calibrated").and_then(Value::as_f64) == Some(1.0);
            let rsfd = |var| {
                if calibrated {
                    let ep = v["derived"]["eps_prime"].as_f64().unwrap();
                    RsFd::tuple_calibrated(&doms, ep, var).unwrap()
                } else {
                    RsFd::new(&doms, eps, var).unwrap()
                }
            };
            match proto {
                "GRR" => replay_single(&Grr::new(k, eps).unwrap(), v),
                "SUE" => replay_single(&Ue::sue(k, eps).unwrap(), v),
                "OUE" => replay_single(&Ue::oue(k, eps).unwrap(), v),
                "BLH" => replay_single(&Lh::blh(k, eps).unwrap(), v),
                "OLH" => replay_single(&Lh::olh(k, eps).unwrap(), v),
                "HR" => replay_single(&Hr::new(k, eps).unwrap(), v),
                "SS" => replay_single(&Ss::new(k, eps).unwrap(), v),
                "ADP(GRR)" | "ADP(OUE)" => replay_single(&Adp::new(k, eps).unwrap(), v),
                "Spl[GRR]" => replay_multi(&Spl::new(&doms, eps, BaseOracle::Grr).unwrap(), v),
                "Spl[OUE]" => replay_multi(&Spl::new(&doms, eps, BaseOracle::Oue).unwrap(), v),
                "Spl[ADP]" => replay_multi(&Spl::new(&doms, eps, BaseOracle::Adp).unwrap(), v),
                "Smp[GRR]" => replay_multi(&Smp::new(&doms, eps, BaseOracle::Grr).unwrap(), v),
                "Smp[OUE]" => replay_multi(&Smp::new(&doms, eps, BaseOracle::Oue).unwrap(), v),
                "Smp[ADP]" => replay_multi(&Smp::new(&doms, eps, BaseOracle::Adp).unwrap(), v),
                "RS+FD[GRR]" => replay_multi(&rsfd(RsFdVariant::Grr), v),
                "RS+FD[OUE-z]" => replay_multi(&rsfd(RsFdVariant::OueZero), v),
                "RS+FD[OUE-r]" => replay_multi(&rsfd(RsFdVariant::OueRandom), v),
                "RS+FD[ADP]" => replay_multi(&rsfd(RsFdVariant::Adp), v),
                other => panic!("unknown protocol {other} in {name}"),
            }
        }
    }
    assert_eq!(seen, 35);
}
