//! Writes the seed corpora of the fuzz targets, `fuzz/corpus/<target>/`, from the protocol-spec
//! test vectors (and, for the state-machine targets, from scripts over the harness's own
//! simulated sessions). Run from anywhere:
//!
//! ```text
//! cargo run --example gen-fuzz-corpus
//! ```
//!
//! Existing seed files (`seed-*`) of each target are replaced; other files are left alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use secagg::fuzzing::{client_runs, client_scenarios, client_step, ldp_kind, server_op, Script};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vectors(name: &str) -> Value {
    let p = root().join("protocol-spec/test-vectors").join(name);
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).expect("valid JSON")
}

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn num(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .expect("integer")
}

struct Out {
    dir: PathBuf,
    n: usize,
}

impl Out {
    fn new(target: &str) -> Self {
        let dir = root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        for e in std::fs::read_dir(&dir).expect("read corpus dir").flatten() {
            if e.file_name().to_string_lossy().starts_with("seed-") {
                std::fs::remove_file(e.path()).expect("remove old seed");
            }
        }
        Self { dir, n: 0 }
    }

    fn put(&mut self, name: &str, bytes: &[u8]) {
        let path = self.dir.join(format!("seed-{:03}-{name}", self.n));
        std::fs::write(&path, bytes).expect("write seed");
        self.n += 1;
    }

    fn done(self) {
        println!("{:>3} seeds in {}", self.n, short(&self.dir));
    }
}

fn short(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

const TRANSCRIPTS: &[&str] = &[
    "transcript_no_dropout",
    "transcript_active",
    "transcript_secaggplus_n20",
    "transcript_drop_round2",
    "transcript_below_threshold",
];

/// (direction, transcript, message type) -> first message of that kind.
/// Named messages.
type Named = Vec<(String, Vec<u8>)>;

fn transcript_messages() -> (Named, Named) {
    let (mut to_server, mut from_server) = (Vec::new(), Vec::new());
    let mut seen = BTreeSet::new();
    for t in TRANSCRIPTS {
        let v = vectors(&format!("{t}.json"));
        for e in v["events"].as_array().expect("events") {
            let dir = e["event"].as_str().unwrap_or("");
            if dir != "to_server" && dir != "from_server" {
                continue;
            }
            let ty = e["type"].as_str().unwrap_or("").to_string();
            let bytes = hex(&e["hex"]);
            // One of each type per transcript, and each distinct Finished outcome.
            let key = (t.to_string(), ty.clone(), bytes.get(34).copied());
            let key = if ty == "Finished" {
                key
            } else {
                (key.0, key.1, None)
            };
            if !seen.insert(key) {
                continue;
            }
            let name = format!("{}-{ty}", t.trim_start_matches("transcript_"));
            if dir == "to_server" {
                to_server.push((name, bytes));
            } else {
                from_server.push((name, bytes));
            }
        }
    }
    (to_server, from_server)
}

fn main() {
    let (to_server, from_server) = transcript_messages();

    let mut out = Out::new("decode_client_message");
    for (name, m) in &to_server {
        out.put(name, m);
    }
    out.done();
    let mut out = Out::new("decode_server_message");
    for (name, m) in &from_server {
        out.put(name, m);
    }
    out.done();

    // Session parameters as the coordinator sends them (the Params frame body).
    let mut out = Out::new("decode_params");
    for t in TRANSCRIPTS {
        let v = vectors(&format!("{t}.json"));
        out.put(
            t.trim_start_matches("transcript_"),
            &hex(&v["params"]["encoded"]),
        );
    }
    out.done();

    // Client: replay every recorded run in order, plus foreign (transcript) messages, crafted
    // survivor sets and a header with an arbitrary body.
    let mut out = Out::new("client_state_machine");
    for s in 0..client_scenarios() {
        for r in 0..client_runs(s).min(6) {
            let mut sc = Script::new().u8(s as u8);
            for _ in 0..8 {
                sc = sc.u8(client_step::NEXT_IN_RUN).u8(r as u8);
            }
            out.put(&format!("session{s}-run{r}"), &sc.finish());
        }
        let sc = Script::new()
            .u8(s as u8)
            .u8(client_step::NEXT_IN_RUN)
            .u8(0)
            .u8(client_step::NEXT_IN_RUN)
            .u8(0)
            .u8(client_step::SURVIVORS)
            .u8(0)
            .u16(0b1111_1011)
            .u8(0)
            .u8(client_step::SURVIVORS)
            .u8(0)
            .u16(0b1111_1111)
            .u8(0);
        out.put(&format!("session{s}-two-unmask-requests"), &sc.finish());
    }
    for (name, m) in from_server.iter().take(6) {
        let sc = Script::new().u8(0).u8(client_step::RAW).blob(m);
        out.put(&format!("foreign-{name}"), &sc.finish());
    }
    let sc = Script::new()
        .u8(0)
        .u8(client_step::HEADER)
        .u8(0x81)
        .blob(&[0, 1, 0, 3]);
    out.put("header-directory", &sc.finish());
    out.done();

    // Server: run sessions to completion, with dropouts at each stage, forged and replayed
    // messages, and transcript messages from outsiders.
    let mut out = Out::new("server_state_machine");
    let deliver_all = |mut sc: Script, times: usize| {
        for _ in 0..times {
            sc = sc.u8(server_op::DELIVER).u8(7);
        }
        sc
    };
    for s in 0..3u8 {
        let sc = deliver_all(Script::new().u8(s).u8(1), 12);
        out.put(&format!("session{s}-honest"), &sc.finish());
        for (k, delivers) in [1usize, 2, 3, 4].into_iter().enumerate() {
            // Deliver some rounds, then one client's connection drops.
            let sc = deliver_all(Script::new().u8(s).u8(2), delivers)
                .u8(server_op::GONE)
                .u8(1);
            let sc = deliver_all(sc, 10);
            out.put(&format!("session{s}-gone-after-{k}"), &sc.finish());
        }
        let sc = deliver_all(Script::new().u8(s).u8(3), 2)
            .u8(server_op::WITHHOLD)
            .u8(0)
            .u8(server_op::TIMEOUT)
            .u8(0)
            .u16(0);
        let sc = deliver_all(sc, 10);
        out.put(&format!("session{s}-silent"), &sc.finish());
        let sc = deliver_all(Script::new().u8(s).u8(4), 3)
            .u8(server_op::INJECT)
            .u8(1)
            .u8(2)
            .u8(0)
            .u8(server_op::DUPLICATE)
            .u8(3);
        let sc = deliver_all(sc, 10);
        out.put(&format!("session{s}-replays"), &sc.finish());
    }
    for (name, m) in to_server.iter().take(5) {
        let sc = Script::new()
            .u8(0)
            .u8(5)
            .u8(server_op::INJECT)
            .u8(0x80 + 10)
            .u8(0)
            .blob(m);
        let sc = deliver_all(sc, 10);
        out.put(&format!("outsider-{name}"), &sc.finish());
    }
    out.done();

    let mut out = Out::new("shamir_reconstruct");
    for (i, c) in vectors("shamir.json")["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .enumerate()
    {
        let t = num(&c["threshold"]);
        let shares = c["shares"].as_array().expect("shares");
        let mut sc = Script::new().u8(0).u8(t as u8).u8(shares.len() as u8);
        for s in shares {
            sc = sc.bytes(&hex(s));
        }
        out.put(&format!("vector{i}-shares"), &sc.finish());
        let holders = c["holders"].as_array().expect("holders");
        let mut sc = Script::new()
            .u8(1)
            .bytes(&hex(&c["secret"]))
            .u8(t as u8 - 1)
            .u8((holders.len() as u64 - t) as u8)
            .u64(i as u64);
        for h in holders {
            sc = sc.u16(num(h) as u16);
        }
        out.put(&format!("vector{i}-roundtrip"), &sc.u8(1).u16(7).finish());
    }
    out.done();

    let mut out = Out::new("unpack");
    let cases = vectors("packing.json");
    for (i, c) in cases["cases"].as_array().expect("cases").iter().enumerate() {
        if i % 2 == 1 {
            continue;
        }
        let bits = num(&c["bits"]) as u8;
        let len = c["elements"].as_array().expect("elements").len() as u32;
        let sc = Script::new()
            .u8(bits - 1)
            .u8(1)
            .u32(len)
            .bytes(&hex(&c["packed"]));
        out.put(&format!("packing{i}-bits{bits}"), &sc.finish());
    }
    out.put(
        "huge-len",
        &Script::new().u8(63).u8(2).u64(u64::MAX / 3).finish(),
    );
    out.done();

    let mut out = Out::new("quantize");
    for (i, c) in vectors("quantization.json")["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .enumerate()
    {
        let inputs = c["inputs"].as_array().expect("inputs");
        let words = c["rounding_words"].as_array().expect("words");
        let mut sc = Script::new()
            .f64(c["clip"].as_f64().expect("clip"))
            .u64(num(&c["levels"]))
            .u8(num(&c["bits"]) as u8 - 1)
            .u64(num(&c["max_clients"]))
            .f64(c["weight"].as_f64().unwrap_or(1.0))
            .u8(inputs.len() as u8);
        for x in inputs {
            sc = sc.f64(x.as_f64().expect("input"));
        }
        for w in words {
            sc = sc.u64(num(w));
        }
        out.put(&format!("vector{i}"), &sc.finish());
    }
    for (name, clip, levels, weight, x) in [
        ("nan", 1.0, 1025u64, 1.0, f64::NAN),
        ("inf-weight", 1.0, 1025, f64::INFINITY, 0.5),
        ("huge", 1e300, 1 << 32, 1.0, -1e308),
        ("tiny-clip", f64::MIN_POSITIVE, 1 << 20, 1.0, 0.0),
    ] {
        let sc = Script::new()
            .f64(clip)
            .u64(levels)
            .u8(63)
            .u64(1000)
            .f64(weight)
            .u8(1)
            .f64(x)
            .u64(u64::MAX / 2);
        out.put(name, &sc.finish());
    }
    out.done();

    let mut out = Out::new("ldp_decode");
    let kind_of = |name: &str| -> u8 {
        match name {
            "GRR" => ldp_kind::GRR,
            "SUE" => ldp_kind::SUE,
            "OUE" => ldp_kind::OUE,
            "BLH" => ldp_kind::BLH,
            "OLH" => ldp_kind::OLH,
            "HR" => ldp_kind::HR,
            "SS" => ldp_kind::SS,
            n if n.starts_with("ADP") => ldp_kind::ADP,
            n => {
                let base = if n.contains("[GRR]") {
                    0
                } else if n.contains("[OUE]") || n.contains("[OUE-z]") {
                    1
                } else if n.contains("[OUE-r]") {
                    2
                } else {
                    3
                };
                if n.starts_with("Spl") {
                    ldp_kind::SPL + base.min(2)
                } else if n.starts_with("Smp") {
                    ldp_kind::SMP + base.min(2)
                } else {
                    ldp_kind::RSFD + base
                }
            }
        }
    };
    for file in [
        "ldp_grr", "ldp_ue", "ldp_lh", "ldp_hr", "ldp_ss", "ldp_adp", "ldp_spl", "ldp_smp",
        "ldp_rsfd",
    ] {
        for (i, v) in vectors(&format!("{file}.json"))["vectors"]
            .as_array()
            .expect("vectors")
            .iter()
            .enumerate()
        {
            let protocol = v["protocol"].as_str().expect("protocol");
            let domains = v["domains"].as_array().expect("domains");
            let mut sc = Script::new()
                .u8(kind_of(protocol))
                .f64(v["epsilon"].as_f64().expect("epsilon"))
                .u8(domains.len() as u8 - 1);
            for d in domains {
                sc = sc.u32(num(d) as u32);
            }
            let report = v["reports"].as_array().and_then(|r| r.first());
            if let Some(r) = report {
                let bytes = sc.clone().bytes(&hex(r)).finish();
                out.put(&format!("{file}{i}-valid"), &bytes);
            }
            if i == 0 {
                if let Some(r) = v["invalid_reports"].as_array().and_then(|r| r.last()) {
                    out.put(&format!("{file}{i}-invalid"), &sc.bytes(&hex(r)).finish());
                }
            }
        }
    }
    out.done();

    // analytics_frames: every Task frame of the analytics vectors, alone; the GRR task with its
    // report frames (valid and refused ones); the invalid Task frames.
    let mut out = Out::new("analytics_frames");
    let a = vectors("analytics.json");
    for (i, t) in a["tasks"].as_array().expect("tasks").iter().enumerate() {
        out.put(
            &format!("task{i}"),
            &Script::new().blob(&hex(&t["task_frame"])).finish(),
        );
    }
    let agg = &a["aggregation"];
    let mut sc = Script::new().blob(&hex(&a["tasks"][0]["task_frame"]));
    for f in agg["report_frames"].as_array().expect("frames") {
        sc = sc.blob(&hex(f));
    }
    for key in [
        "wrong_session_frame",
        "wrong_length_frame",
        "out_of_domain_frame",
    ] {
        sc = sc.blob(&hex(&agg[key]));
    }
    out.put("grr-reports", &sc.finish());
    for (i, t) in a["invalid_tasks"]
        .as_array()
        .expect("invalid")
        .iter()
        .enumerate()
    {
        out.put(
            &format!("invalid{i}"),
            &Script::new().blob(&hex(&t["task_frame"])).finish(),
        );
    }
    out.done();
}
