//! `protocol-spec/test-vectors/analytics.json` is exactly what the generator produces, and every
//! case replays through the public API: Task frames decode to their parameters and session ids,
//! invalid ones are refused, report frames aggregate to the committed estimates.
#![cfg(feature = "ldp")]

#[allow(dead_code)]
#[path = "../examples/gen_test_vectors/analytics_vectors.rs"]
mod analytics_vectors;

use secagg::analytics::wire::{decode_receipt, decode_report, decode_task, report_frame_max};
use secagg::analytics::{AnalyticsError, LdpProtocol, PrivacySummary};
use serde_json::Value;

fn load() -> Value {
    let path = format!(
        "{}/protocol-spec/test-vectors/analytics.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn committed_file_matches_the_generator() {
    for (name, value) in analytics_vectors::all() {
        let path = format!(
            "{}/protocol-spec/test-vectors/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            committed == analytics_vectors::render(&value),
            "{path} differs from `{}`: regenerate it, never edit it by hand",
            analytics_vectors::GENERATOR
        );
    }
}

#[test]
fn replay_tasks() {
    let f = load();
    let cases = f["tasks"].as_array().unwrap();
    assert!(cases.len() >= 9);
    for c in cases {
        let frame = unhex(&c["task_frame"]);
        let p = decode_task(&frame).unwrap();
        let spec = p.task.spec();
        assert_eq!(spec.protocol.config_name(), c["protocol"].as_str().unwrap());
        assert_eq!(
            LdpProtocol::from_code(c["protocol_code"].as_u64().unwrap() as u8),
            Some(spec.protocol)
        );
        assert_eq!(spec.epsilon, c["epsilon"].as_f64().unwrap());
        assert_eq!(p.nonce.to_vec(), unhex(&c["nonce"]));
        assert_eq!(u64::from(p.deadline_ms), c["deadline_ms"].as_u64().unwrap());
        assert_eq!(p.encode(), frame, "re-encodes identically");
        assert_eq!(p.session_id().to_vec(), unhex(&c["session_id"]));
        assert_eq!(p.task.name(), c["name"].as_str().unwrap());
        assert_eq!(
            p.task.max_report_len() as u64,
            c["max_report_len"].as_u64().unwrap()
        );
        assert_eq!(
            report_frame_max(&p.task) as u64,
            c["max_report_frame"].as_u64().unwrap()
        );
        let PrivacySummary::Local {
            tuple, attribute, ..
        } = p.task.privacy()
        else {
            panic!("local privacy")
        };
        assert_eq!(tuple, c["tuple_epsilon"].as_f64().unwrap());
        assert_eq!(attribute, floats(&c["attribute_epsilon"]));
    }
}

#[test]
fn replay_invalid_tasks() {
    let f = load();
    let cases = f["invalid_tasks"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let r = decode_task(&unhex(&c["task_frame"]));
        assert!(r.is_err(), "{}: accepted", c["why"]);
    }
}

#[test]
fn replay_aggregation() {
    let f = load();
    let a = &f["aggregation"];
    let frames: Vec<Vec<u8>> = a["report_frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(unhex)
        .collect();
    let sid: [u8; 32] = unhex(&a["session_id"]).try_into().unwrap();
    let task = f["tasks"][0].clone();
    let p = decode_task(&unhex(&task["task_frame"])).unwrap();
    assert_eq!(p.session_id(), sid);
    let mut acc = p.task.accumulator();
    for fr in &frames {
        acc.add_bytes(decode_report(&sid, fr).unwrap()).unwrap();
    }
    // Refused frames change nothing.
    let wrong = unhex(&a["wrong_session_frame"]);
    assert_eq!(
        decode_report(&sid, &wrong),
        Err(AnalyticsError::WrongSession)
    );
    for key in ["wrong_length_frame", "out_of_domain_frame"] {
        let fr = unhex(&a[key]);
        assert!(
            acc.add_bytes(decode_report(&sid, &fr).unwrap()).is_err(),
            "{key}"
        );
    }
    let e = acc.estimates().unwrap();
    assert_eq!(e.n, a["n"].as_u64().unwrap());
    assert_eq!(e.attributes[0].raw, floats(&a["estimate"]));
    assert_eq!(e.attributes[0].norm_sub, floats(&a["norm_sub"]));
    assert_eq!(e.attributes[0].std_err, floats(&a["std_err"]));
    decode_receipt(&sid, &unhex(&a["receipt_frame"])).unwrap();
    assert_eq!(
        decode_receipt(&[0; 32], &unhex(&a["receipt_frame"])),
        Err(AnalyticsError::WrongSession)
    );
}
