//! The binaries with an LDP task, as an operator runs them: `secagg-coordinator` with
//! `task = "ldp"` and `secagg-client --ldp-values`, the result file on disk.
#![cfg(feature = "quic")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_secagg-coordinator");
const CLIENT: &str = env!("CARGO_BIN_EXE_secagg-client");

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("secagg-acli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `secagg-coordinator validate` on a sample configuration in `deploy/`: must succeed; its
/// standard output.
fn validate_sample(name: &str) -> String {
    let d = temp_dir(name);
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    let out = Command::new(BIN)
        .args(["validate", "--config"])
        .arg(&sample)
        .env("SECAGG_RESULT_DIR", d.join("results"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The LDP sample configuration validates and prints the true privacy loss.
#[test]
fn ldp_sample_config_validates() {
    let stdout = validate_sample("coordinator-ldp.toml");
    assert!(stdout.contains("RS+FD[ADP] at epsilon 1"), "{stdout}");
    // ln(5 (e - 1) + 1) = 2.2609.
    assert!(stdout.contains("tuple-level loss 2.2609"), "{stdout}");
}

/// Bad LDP tasks fail before binding, with the reason.
#[test]
fn bad_ldp_tasks_are_refused_before_binding() {
    let d = temp_dir("bad");
    for (task, why) in [
        (
            "protocol = \"oue\"\nepsilon = 1.0\ndomains = [4, 4]",
            "one attribute",
        ),
        (
            "protocol = \"grr\"\nepsilon = 0.0\ndomains = [4]",
            "epsilon",
        ),
        (
            "protocol = \"grr\"\nepsilon = 1.0\ndomains = [4000000]",
            "task cap",
        ),
        (
            "protocol = \"nope\"\nepsilon = 1.0\ndomains = [4]",
            "unknown variant",
        ),
    ] {
        let err = refused_before_binding(
            &d,
            &format!(
                "listen = \"127.0.0.1:0\"\ntask = \"ldp\"\n[tls]\ndev_cert_out = \"cert.pem\"\n\
                 [ldp]\nclients = 3\n[ldp.task]\n{task}\n"
            ),
        );
        assert!(err.contains(why), "{task}: {err}");
    }
    // An LDP task without an [ldp] table.
    let err = refused_before_binding(
        &d,
        "listen = \"127.0.0.1:0\"\ntask = \"ldp\"\n[tls]\ndev_cert_out = \"cert.pem\"\n",
    );
    assert!(err.contains("needs an [ldp] table"), "{err}");
}

/// `secagg-coordinator serve` with this configuration (written to `<d>/c.toml`) must exit 2
/// before binding (no dev certificate written); its standard error.
fn refused_before_binding(d: &Path, config: &str) -> String {
    let cfg = d.join("c.toml");
    std::fs::write(&cfg, config).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{config}: {err}");
    assert!(!d.join("cert.pem").exists(), "{config}");
    err
}

/// The one result file in `<d>/results`, parsed.
fn the_result(d: &Path) -> serde_json::Value {
    let results: Vec<_> = std::fs::read_dir(d.join("results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    serde_json::from_slice(&std::fs::read(&results[0]).unwrap()).unwrap()
}

fn start(cfg: &Path) -> (std::process::Child, SocketAddr) {
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(cfg)
        .env("RUST_LOG", "secagg=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("exited before listening").unwrap();
        if let Some(rest) = line.split("addr=Some(").nth(1) {
            break rest.split(')').next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    (child, addr)
}

/// Eight `secagg-client --ldp-values` processes report; one more refuses the task by its
/// policy (exit 13) and one reports values outside the domain (exit 2 before connecting); the
/// coordinator writes the result file with eight counted reports and exits 0.
#[test]
fn coordinator_and_clients_run_an_ldp_task() {
    let d = temp_dir("run");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\nresult_dir = \"results\"\ntask = \"ldp\"\n\
         [tls]\ndev_cert_out = \"cert.pem\"\n[ldp]\nclients = 9\ndeadline_ms = 8000\n\
         min_reports = 8\n[ldp.task]\nprotocol = \"rsfd-grr\"\nepsilon = 1.0\ndomains = [4, 6]\n",
    )
    .unwrap();
    let (mut coordinator, addr) = start(&cfg);
    let client = |id: u16, values: &str, max_eps: &str| {
        Command::new(CLIENT)
            .args(["--server", &format!("localhost:{}", addr.port())])
            .arg("--cert")
            .arg(d.join("cert.pem"))
            .args(["--id", &id.to_string(), "--ldp-values", values])
            .args(["--ldp-domains", "4,6", "--ldp-max-epsilon", max_eps])
            .args(["--timeout-s", "10"])
            .spawn()
            .unwrap()
    };
    // RS+FD at nominal 1 over d = 2: true tuple loss ln(2 (e - 1) + 1) = 1.49.
    let refused = client(9, "0,0", "1.4").wait().unwrap();
    assert_eq!(refused.code(), Some(13));
    let kids: Vec<_> = (1..=8u16)
        .map(|id| client(id, &format!("{},{}", id % 4, id % 6), "1.5"))
        .collect();
    for mut k in kids {
        assert_eq!(k.wait().unwrap().code(), Some(0));
    }
    let status = coordinator.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let v = the_result(&d);
    assert_eq!(v["schema"], "secagg-ldp-result/1");
    assert_eq!(v["status"], "complete");
    assert_eq!(v["traffic"]["accepted_reports"], 8);
    assert_eq!(v["result"]["n"], 8);
    let eps_prime = (2.0 * 1f64.exp_m1()).ln_1p();
    let tuple = v["result"]["privacy"]["tuple_epsilon"].as_f64().unwrap();
    assert!((tuple - eps_prime).abs() < 1e-12);
    let attrs = v["result"]["attributes"].as_array().unwrap();
    assert_eq!(attrs.len(), 2);
    for (a, k) in attrs.iter().zip([4usize, 6]) {
        let ns: Vec<f64> = a["norm_sub"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(ns.len(), k);
        assert!((ns.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(a["std_err"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.as_f64().unwrap() > 0.0));
    }
    // A value outside the domain is refused on the device (bad arguments), nothing sent.
    let bad = Command::new(CLIENT)
        .args(["--server", "127.0.0.1:9", "--cert"])
        .arg(d.join("cert.pem"))
        .args(["--id", "1", "--ldp-values", "9,0", "--ldp-domains", "4,6"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("do not fit"));
}

/// `secagg-client --histogram-values` against the coordinator at `addr` (certificate in `d`).
fn histogram_client(
    addr: SocketAddr,
    d: &Path,
    id: u16,
    values: &str,
    domains: &str,
) -> std::process::Child {
    Command::new(CLIENT)
        .args(["--server", &format!("localhost:{}", addr.port())])
        .arg("--cert")
        .arg(d.join("cert.pem"))
        .args(["--id", &id.to_string(), "--histogram-values", values])
        .args(["--histogram-domains", domains, "--min-clients", "2"])
        .args(["--timeout-s", "20"])
        .spawn()
        .unwrap()
}

/// The histogram sample configuration validates and prints the task's shape.
#[test]
fn histogram_sample_config_validates() {
    let stdout = validate_sample("coordinator-histogram.toml");
    assert!(stdout.contains("domains [8, 4]"), "{stdout}");
    assert!(stdout.contains("12 cells"), "{stdout}");
    assert!(stdout.contains("exact estimates"), "{stdout}");
    // The task fixed the quantization: L = 12, clip 1, 3 levels.
    assert!(
        stdout.contains("L = 12, bits = 16, clip = 1, levels = 3, max weight = 1"),
        "{stdout}"
    );
}

/// Histogram settings that would not sum the histogram exactly (or would clip it under DP)
/// fail before binding, with the reason.
#[test]
fn bad_histogram_tasks_are_refused_before_binding() {
    let d = temp_dir("hbad");
    for (task, table, session, why) in [
        (
            "histogram",
            "[histogram]\ndomains = [4, 4]\n",
            "vector_len = 9\n",
            "8 cells",
        ),
        (
            "histogram",
            "[histogram]\ndomains = [4, 4]\n",
            "clip = 0.5\n",
            "needs clip 1",
        ),
        (
            "histogram",
            "[histogram]\ndomains = [4, 4]\n",
            "levels = 4\n",
            "odd number of levels",
        ),
        (
            "histogram",
            "[histogram]\ndomains = [4, 4]\n",
            "max_weight = 2\n",
            "weight 1",
        ),
        (
            "histogram",
            "[histogram]\ndomains = [4, 4]\n",
            "[session.dp]\nepsilon = 1.0\nl2_clip = 1.0\n",
            "below sqrt(2)",
        ),
        (
            "histogram",
            "[histogram]\ndomains = [4, 1]\n",
            "",
            "domain size 1",
        ),
        ("histogram", "", "", "needs a [histogram] table"),
        (
            "secagg",
            "[histogram]\ndomains = [4]\n",
            "vector_len = 4\n",
            "needs task = \"histogram\"",
        ),
        ("secagg", "", "", "vector_len is required"),
    ] {
        let err = refused_before_binding(
            &d,
            &format!(
                "listen = \"127.0.0.1:0\"\ntask = \"{task}\"\n[tls]\ndev_cert_out = \"cert.pem\"\n\
                 {table}[session]\nclients = 5\ngraph = \"complete\"\n{session}"
            ),
        );
        assert!(err.contains(why), "{task} {table} {session}: {err}");
    }
}

/// Six `secagg-client --histogram-values` processes input their tuples, a seventh expects
/// another shape and refuses the session by its policy (exit 13, a dropout for the others); the
/// coordinator's report carries the exact histogram of the six as frequency estimates.
#[test]
fn coordinator_and_clients_run_a_histogram_task() {
    let d = temp_dir("hrun");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\nresult_dir = \"results\"\ntask = \"histogram\"\n\
         [tls]\ndev_cert_out = \"cert.pem\"\n[histogram]\ndomains = [4, 3]\n\
         [session]\nclients = 7\ngraph = \"complete\"\ndropout = 0.2\nbits = 16\n\
         round_timeout_ms = [8000, 8000, 8000, 8000, 8000]\n",
    )
    .unwrap();
    let (mut coordinator, addr) = start(&cfg);
    let client =
        |id: u16, values: &str, domains: &str| histogram_client(addr, &d, id, values, domains);
    let tuples: Vec<(u32, u32)> = (1..=6u32).map(|i| (i % 4, (i * i) % 3)).collect();
    let refusing = client(7, "0,0", "4,4");
    let kids: Vec<_> = tuples
        .iter()
        .zip(1u16..)
        .map(|(&(a, b), id)| client(id, &format!("{a},{b}"), "4,3"))
        .collect();
    for mut k in kids {
        assert_eq!(k.wait().unwrap().code(), Some(0));
    }
    assert_eq!(refusing.wait_with_output().unwrap().status.code(), Some(13));
    assert_eq!(coordinator.wait().unwrap().code(), Some(0));
    let v = the_result(&d);
    assert_eq!(v["schema"], "secagg-result/1");
    assert_eq!(v["status"], "complete");
    assert_eq!(v["parameters"]["vector_len"], 7);
    assert_eq!(v["parameters"]["levels"], 3);
    assert_eq!(v["histogram"]["domains"], serde_json::json!([4, 3]));
    let est = &v["histogram"]["estimates"];
    assert_eq!(est["method"], "SecAgg");
    assert_eq!(est["n"], 6);
    assert_eq!(est["privacy"]["model"], "none");
    let attrs = est["attributes"].as_array().unwrap();
    assert_eq!(attrs.len(), 2);
    for (i, (a, k)) in attrs.iter().zip([4u32, 3]).enumerate() {
        let raw: Vec<f64> = a["estimate"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let truth: Vec<f64> = (0..k)
            .map(|c| {
                tuples
                    .iter()
                    .filter(|t| if i == 0 { t.0 == c } else { t.1 == c })
                    .count() as f64
                    / 6.0
            })
            .collect();
        assert_eq!(raw, truth, "attribute {i}: the exact histogram");
        assert!(a["std_err"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.as_f64() == Some(0.0)));
    }
    // A value outside its domain is refused on the device, nothing sent.
    let bad = Command::new(CLIENT)
        .args(["--server", "127.0.0.1:9", "--cert"])
        .arg(d.join("cert.pem"))
        .args(["--id", "1", "--histogram-values", "4,0"])
        .args(["--histogram-domains", "4,3"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("outside"));
}

/// With `[session.dp]` the report's histogram is noisy: method SecAgg+DDP, the distributed
/// guarantee (at most the configured epsilon, for at least the threshold's clients), positive
/// standard errors, and every estimate within 5 of them of the true frequency.
#[test]
fn histogram_task_with_distributed_dp() {
    let d = temp_dir("hdp");
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\nresult_dir = \"results\"\ntask = \"histogram\"\n\
         [tls]\ndev_cert_out = \"cert.pem\"\n[histogram]\ndomains = [5, 2]\n\
         [session]\nclients = 8\ngraph = \"complete\"\ndropout = 0.1\n\
         round_timeout_ms = [8000, 8000, 8000, 8000, 8000]\n\
         [session.dp]\nepsilon = 6.0\ndelta = 1e-5\n",
    )
    .unwrap();
    let (mut coordinator, addr) = start(&cfg);
    let tuples: Vec<(u32, u32)> = (1..=8u32).map(|i| (i % 5, i % 2)).collect();
    let kids: Vec<_> = tuples
        .iter()
        .zip(1u16..)
        .map(|(&(a, b), id)| histogram_client(addr, &d, id, &format!("{a},{b}"), "5,2"))
        .collect();
    for mut k in kids {
        assert_eq!(k.wait().unwrap().code(), Some(0));
    }
    assert_eq!(coordinator.wait().unwrap().code(), Some(0));
    let v = the_result(&d);
    assert_eq!(v["status"], "complete");
    assert!(!v["parameters"]["dp"].is_null());
    let est = &v["histogram"]["estimates"];
    assert_eq!(est["method"], "SecAgg+DDP");
    assert_eq!(est["n"], 8);
    assert_eq!(est["privacy"]["model"], "distributed");
    assert_eq!(est["privacy"]["delta"], 1e-5);
    let eps = est["privacy"]["epsilon"].as_f64().unwrap();
    assert!(eps > 0.0 && eps <= 6.0, "epsilon {eps}");
    for (i, (a, k)) in est["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .zip([5u32, 2])
        .enumerate()
    {
        let f = |key: &str| -> Vec<f64> {
            a[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        let (raw, se) = (f("estimate"), f("std_err"));
        assert_eq!(raw.len(), k as usize);
        for c in 0..k {
            let truth = tuples
                .iter()
                .filter(|t| if i == 0 { t.0 == c } else { t.1 == c })
                .count() as f64
                / 8.0;
            let s = se[c as usize];
            assert!(s > 0.0);
            assert!(
                (raw[c as usize] - truth).abs() <= 5.0 * s,
                "attribute {i} value {c}: {} vs {truth} (se {s})",
                raw[c as usize]
            );
        }
    }
}
