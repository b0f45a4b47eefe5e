//! The analytics vector file `protocol-spec/test-vectors/analytics.json` (spec `analytics.md`):
//! Task frames with their session ids and report-frame limits, invalid Task frames, Report and
//! Receipt frames, and one aggregation case (GRR reports given as bytes, so no RNG is involved)
//! with its estimates, Norm-Sub estimates and standard errors.
//!
//! Shared by `cargo run --example gen-test-vectors` (which writes it) and
//! `tests/analytics_vectors.rs` (which regenerates it in memory, requires byte equality with the
//! committed file, and replays every case through the public API).

use secagg::analytics::wire::{
    decode_task, encode_receipt, encode_report, report_frame_max, LdpSessionParams,
};
use secagg::analytics::{LdpProtocol, LdpTaskSpec, PrivacySummary};
use secagg::ldp::{FrequencyOracle, Grr};
use serde_json::{json, Value};

/// The command that regenerates the file.
pub const GENERATOR: &str = "cargo run --example gen-test-vectors";

fn hx(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn f(x: f64) -> Value {
    // Exact decimal round trip (serde_json's float formatting is shortest round-trip).
    json!(x)
}

/// The tasks of the file: (protocol, epsilon, domains, deadline).
pub fn tasks() -> Vec<(LdpProtocol, f64, Vec<u32>, u32)> {
    vec![
        (LdpProtocol::Grr, 1.0, vec![4], 60_000),
        (LdpProtocol::Oue, 2.0, vec![64], 30_000),
        (LdpProtocol::Olh, 0.5, vec![1000], 60_000),
        (LdpProtocol::Hr, 1.0, vec![16], 60_000),
        (LdpProtocol::Adp, 1.0, vec![64], 60_000),
        (LdpProtocol::SplAdp, 3.0, vec![8, 16, 32], 60_000),
        (LdpProtocol::SmpOue, 1.0, vec![8, 16, 32], 60_000),
        (LdpProtocol::RsfdGrr, 1.0, vec![8, 16, 32, 64, 128], 60_000),
        (LdpProtocol::RsfdAdp, 1.0, vec![8, 16, 32, 64, 128], 60_000),
    ]
}

fn nonce(i: usize) -> [u8; 32] {
    core::array::from_fn(|b| (i as u8).wrapping_mul(37).wrapping_add(b as u8))
}

fn task_cases() -> Vec<Value> {
    tasks()
        .into_iter()
        .enumerate()
        .map(|(i, (protocol, epsilon, domains, deadline_ms))| {
            let p = LdpSessionParams::new(
                nonce(i),
                deadline_ms,
                LdpTaskSpec {
                    protocol,
                    epsilon,
                    domains: domains.clone(),
                },
            )
            .expect("valid task");
            let (tuple, attribute) = match p.task.privacy() {
                PrivacySummary::Local {
                    tuple, attribute, ..
                } => (tuple, attribute),
                _ => unreachable!("LDP tasks have local privacy"),
            };
            json!({
                "protocol": protocol.config_name(),
                "protocol_code": protocol.code(),
                "name": p.task.name(),
                "epsilon": f(epsilon),
                "domains": domains,
                "nonce": hx(&p.nonce),
                "deadline_ms": deadline_ms,
                "task_frame": hx(&p.encode()),
                "session_id": hx(&p.session_id()),
                "max_report_len": p.task.max_report_len(),
                "max_report_frame": report_frame_max(&p.task),
                "tuple_epsilon": f(tuple),
                "attribute_epsilon": attribute.into_iter().map(f).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn invalid_tasks() -> Vec<Value> {
    let good = LdpSessionParams::new(
        nonce(0),
        1000,
        LdpTaskSpec {
            protocol: LdpProtocol::Grr,
            epsilon: 1.0,
            domains: vec![4],
        },
    )
    .expect("valid")
    .encode();
    let with = |at: usize, bytes: &[u8]| {
        let mut v = good.clone();
        v.splice(at..at + bytes.len(), bytes.iter().copied());
        v
    };
    let mut cases = vec![
        ("bad magic", with(0, b"SAGG\x01P")),
        ("unknown protocol", with(42, &[0x09])),
        ("epsilon NaN", with(43, &f64::NAN.to_bits().to_be_bytes())),
        ("epsilon 0", with(43, &0f64.to_bits().to_be_bytes())),
        ("epsilon above 30", with(43, &31f64.to_bits().to_be_bytes())),
        ("zero attributes", with(51, &[0, 0])),
        ("two attributes for an oracle", {
            let mut v = with(51, &[0, 2]);
            v.extend_from_slice(&4u32.to_be_bytes());
            v
        }),
        ("count says 2, one domain", with(51, &[0, 2])),
        ("domain 1", with(53, &1u32.to_be_bytes())),
        (
            "domain above the task cap",
            with(53, &(1u32 << 21).to_be_bytes()),
        ),
        ("truncated", good[..50].to_vec()),
        ("trailing byte", {
            let mut v = good.clone();
            v.push(0);
            v
        }),
    ];
    // 65 attributes: above MAX_ATTRIBUTES (and longer than the largest Task frame).
    let mut many = good[..51].to_vec();
    many[42] = LdpProtocol::SplGrr.code();
    many.extend_from_slice(&65u16.to_be_bytes());
    for _ in 0..65 {
        many.extend_from_slice(&4u32.to_be_bytes());
    }
    cases.push(("65 attributes", many));
    cases
        .into_iter()
        .map(|(why, b)| {
            assert!(decode_task(&b).is_err(), "{why} must be refused");
            json!({"why": why, "task_frame": hx(&b)})
        })
        .collect()
}

/// GRR over k = 4 at epsilon 1: 10 reports given as bytes, their counts, estimates, Norm-Sub
/// estimates and standard errors.
fn aggregation() -> Value {
    let p = LdpSessionParams::new(
        nonce(0),
        60_000,
        LdpTaskSpec {
            protocol: LdpProtocol::Grr,
            epsilon: 1.0,
            domains: vec![4],
        },
    )
    .expect("valid");
    let sid = p.session_id();
    let grr = Grr::new(4, 1.0).expect("valid");
    let values = [0u32, 0, 0, 1, 0, 2, 0, 1, 3, 0];
    let mut acc = p.task.accumulator();
    let mut frames = Vec::new();
    for v in values {
        let mut r = Vec::new();
        grr.encode_report(&v, &mut r).expect("valid report");
        let frame = encode_report(&sid, &r);
        let report = secagg::analytics::wire::decode_report(&sid, &frame).expect("own frame");
        acc.add_bytes(report).expect("valid report");
        frames.push(hx(&frame));
    }
    let e = acc.estimates().expect("estimates");
    let a = &e.attributes[0];
    json!({
        "protocol": "grr",
        "epsilon": f(1.0),
        "domains": [4],
        "session_id": hx(&sid),
        "report_frames": frames,
        "n": e.n,
        "estimate": a.raw.iter().copied().map(f).collect::<Vec<_>>(),
        "norm_sub": a.norm_sub.iter().copied().map(f).collect::<Vec<_>>(),
        "std_err": a.std_err.iter().copied().map(f).collect::<Vec<_>>(),
        "receipt_frame": hx(&encode_receipt(&sid)),
        "wrong_session_frame": hx(&encode_report(&[0xee; 32], &[1])),
        "wrong_length_frame": hx(&encode_report(&sid, &[1, 2])),
        "out_of_domain_frame": hx(&encode_report(&sid, &[4])),
    })
}

/// Every analytics vector file: (name, content).
pub fn all() -> Vec<(String, Value)> {
    vec![(
        "analytics".to_string(),
        json!({
            "description": "LDP sessions over the QUIC binding (protocol-spec/analytics.md): Task frames, session ids, report-frame limits, invalid Task frames, and one aggregation of GRR report frames",
            "generator": GENERATOR,
            "tasks": task_cases(),
            "invalid_tasks": invalid_tasks(),
            "aggregation": aggregation(),
        }),
    )]
}

/// The exact bytes written for one file.
pub fn render(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("serializable");
    s.push('\n');
    s
}
