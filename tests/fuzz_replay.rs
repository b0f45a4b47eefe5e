//! Replays every committed fuzz input, `fuzz/corpus/<target>/*` and
//! `fuzz/regressions/<target>/*`, through the same harness functions the cargo-fuzz targets call
//! (`secagg::fuzzing`), so fuzz findings are ordinary tests and need no fuzzer to check.

use std::path::PathBuf;

use secagg::fuzzing::TARGETS;

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for e in dir.flatten() {
            let p = e.path();
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if p.is_file() && !hidden {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn replay(target: &str) {
    let f = secagg::fuzzing::target(target).expect("known target");
    let files = inputs(target);
    assert!(!files.is_empty(), "no committed inputs for {target}");
    let mut failed = Vec::new();
    for p in &files {
        let data = std::fs::read(p).expect("readable input");
        if std::panic::catch_unwind(|| f(&data)).is_err() {
            failed.push(p.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target}: failing inputs {failed:#?}");
}

#[test]
fn every_target_has_a_test() {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    for e in std::fs::read_dir(dir).expect("fuzz/fuzz_targets").flatten() {
        let file = e.file_name().to_string_lossy().to_string();
        let name = file.trim_end_matches(".rs");
        assert!(names.contains(&name), "fuzz target {name} has no harness");
    }
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                replay(stringify!($name));
            }
        )*
    };
}

replay_tests!(
    decode_client_message,
    decode_server_message,
    client_state_machine,
    server_state_machine,
    shamir_reconstruct,
    unpack,
    quantize,
    ldp_decode,
    decode_params,
    analytics_frames,
);
