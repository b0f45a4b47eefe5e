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

/// The LDP sample configuration validates and prints the true privacy loss.
#[test]
fn ldp_sample_config_validates() {
    let d = temp_dir("sample");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/coordinator-ldp.toml");
    let out = Command::new(BIN)
        .args(["validate", "--config"])
        .arg(&sample)
        .env("SECAGG_RESULT_DIR", d.join("results"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
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
        let cfg = d.join("c.toml");
        std::fs::write(
            &cfg,
            format!(
                "listen = \"127.0.0.1:0\"\ntask = \"ldp\"\n[tls]\ndev_cert_out = \"cert.pem\"\n\
                 [ldp]\nclients = 3\n[ldp.task]\n{task}\n"
            ),
        )
        .unwrap();
        let out = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{task}: {err}");
        assert!(err.contains(why), "{task}: {err}");
        assert!(!d.join("cert.pem").exists());
    }
    // An LDP task without an [ldp] table.
    let cfg = d.join("c.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\ntask = \"ldp\"\n[tls]\ndev_cert_out = \"cert.pem\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs an [ldp] table"));
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
    let results: Vec<_> = std::fs::read_dir(d.join("results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&results[0]).unwrap()).unwrap();
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
