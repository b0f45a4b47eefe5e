//! Durable session reports: a versioned JSON document per session, written so that a reader
//! never sees a partial file and a crash never leaves a truncated one under the final name.
//!
//! Write protocol: stream the JSON into `<dir>/.<session id>.json.tmp` (O(1) memory beyond the
//! sum itself: each coordinate is formatted straight into a buffered writer), `fsync` it, rename
//! it to `<dir>/<session id>.json`, then `fsync` the directory so the rename itself is durable.
//! Any failure removes the temporary file and is returned: the caller must treat the result as
//! not stored (the coordinator binary logs it at ERROR and exits non-zero).
//!
//! # Schema `secagg-result/1`
//!
//! ```text
//! {
//!   "schema": "secagg-result/1",
//!   "session_id": hex (64 digits),
//!   "status": "complete" | "aborted",
//!   "abort": null | {"round": "AdvertiseKeys" | ..., "reason": text},
//!   "parameters": {"participants": [ids], "threat_model": "semi-honest" | "active",
//!                  "graph": "complete" | "harary", "degree": k, "threshold": t,
//!                  "max_corrupt_neighbours": c, "mask_prg": "aes128-ctr" | "chacha20",
//!                  "vector_len": L, "bits": b, "clip": c,
//!                  "levels": Q, "max_weight": w, "round_timeout_ms": [5 numbers],
//!                  "dp": null | {"mechanism": "discrete-gaussian" | "skellam", "bits": b,
//!                                "dim": d, "clip": C, "scale": s, "norm_bound_sq": n,
//!                                "noise_x65536": v}},
//!   "timings": {"elapsed_ms": ms, "rounds": [{"round": name, "closed_at_ms": ms,
//!               "set": null | name, "set_size": null | size}]},
//!   "clients": [{"id": id, "fate": "included" | "excluded" | "dropped" | "active",
//!                "round": null | name, "reason": null | "Deadline" | "ConnectionLost" |
//!                "InvalidMessage" | "IsolatedNeighbourhood"}],
//!   "traffic": {"bytes_in": n, "bytes_out": n, "connections": n, "refused_connections": n,
//!               "rejected_messages": n},
//!   "result": null | {"included": [ids], "weight_sum": n, "sum": [integers mod 2^bits],
//!                     "dequantized_sum": [floats], "weighted_mean": [floats]},
//!   "histogram": (histogram tasks only) {"domains": [k_1, ..],
//!                "estimates": null (aborted) | the "result" object of the LDP schema below:
//!                {"method": "SecAgg" | "SecAgg+DDP", "n": clients, "privacy": {..},
//!                 "attributes": [{"reports", "estimate", "norm_sub", "std_err"}]}}
//! }
//! ```
//!
//! A new field keeps the version; removing or changing the meaning of one bumps it. LDP
//! sessions write schema [`LDP_SCHEMA`] ([`write_ldp_json`]) by the same protocol.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::coordinator::SessionReport;
use crate::protocol::params::{Graph, ThreatModel};
use crate::protocol::server::ClientFate;

/// The schema identifier written in every report.
pub const SCHEMA: &str = "secagg-result/1";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that reports can be written to `dir` (creating it if needed) by writing, syncing and
/// removing a probe file. Call it before accepting any participant.
pub fn check_writable(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".secagg-probe-{}", std::process::id()));
    let r = (|| {
        let mut f = File::create(&probe)?;
        f.write_all(b"probe")?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&probe);
    r
}

fn write_floats(w: &mut impl Write, v: impl Iterator<Item = f64>) -> io::Result<()> {
    w.write_all(b"[")?;
    for (i, x) in v.enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        // JSON has no NaN or infinity; the protocol never produces them, but a report must
        // stay valid JSON whatever it holds.
        if x.is_finite() {
            write!(w, "{x:?}")?;
        } else {
            w.write_all(b"null")?;
        }
    }
    w.write_all(b"]")
}

/// Streams the report as JSON (schema [`SCHEMA`]) into `w`.
pub fn write_json(w: &mut impl Write, r: &SessionReport) -> io::Result<()> {
    write_json_with(w, r, None)
}

/// [`write_json`] with the task's own member, e.g. `("histogram", ..)` for a histogram task:
/// added beside the standard members (a new member keeps the schema version).
pub fn write_json_with(
    w: &mut impl Write,
    r: &SessionReport,
    task_member: Option<(&str, serde_json::Value)>,
) -> io::Result<()> {
    let p = &r.params;
    let (graph, degree) = match p.graph {
        Graph::Complete => ("complete", p.degree()),
        Graph::Harary { degree } => ("harary", degree as usize),
    };
    let head = json!({
        "schema": SCHEMA,
        "session_id": hex(&r.session_id.0),
        "status": if r.result.is_ok() { "complete" } else { "aborted" },
        "abort": r.result.as_ref().err().map(|e| json!({
            "round": format!("{:?}", e.round),
            "reason": e.reason.to_string(),
        })),
        "parameters": {
            "participants": p.participants.iter().map(|id| id.get()).collect::<Vec<_>>(),
            "threat_model": match p.threat_model {
                ThreatModel::SemiHonest => "semi-honest",
                ThreatModel::Active => "active",
            },
            "graph": graph,
            "degree": degree,
            "threshold": p.threshold,
            "max_corrupt_neighbours": p.max_corrupt_neighbours,
            "mask_prg": p.mask_prg.name(),
            "vector_len": p.vector_len,
            "bits": p.bits.get(),
            "clip": p.clip,
            "levels": p.levels,
            "max_weight": p.max_weight,
            "round_timeout_ms": p.round_timeout_ms,
            "dp": p.dp.as_ref().map(|d| json!({
                "mechanism": match d.mechanism() {
                    crate::ddp::Mechanism::Skellam => "skellam",
                    _ => "discrete-gaussian",
                },
                "bits": d.bits(),
                "dim": d.dim(),
                "clip": d.clip(),
                "scale": d.scale(),
                "norm_bound_sq": d.norm_bound_sq(),
                "noise_x65536": d.noise_raw(),
            })),
        },
        "timings": {
            "elapsed_ms": r.elapsed.as_millis() as u64,
            "rounds": r.rounds.iter().map(|l| json!({
                "round": format!("{:?}", l.round),
                "closed_at_ms": l.closed_at.as_millis() as u64,
                "set": l.set.map(|s| s.0),
                "set_size": l.set.map(|s| s.1),
            })).collect::<Vec<_>>(),
        },
        "clients": r.fates.iter().map(|(id, f)| {
            let (fate, round, reason) = match f {
                ClientFate::Included => ("included", None, None),
                ClientFate::Excluded => ("excluded", None, None),
                ClientFate::Dropped { round, why } => {
                    ("dropped", Some(format!("{round:?}")), Some(format!("{why:?}")))
                }
                ClientFate::Active(_) => ("active", None, None),
            };
            json!({"id": id.get(), "fate": fate, "round": round, "reason": reason})
        }).collect::<Vec<_>>(),
        "traffic": {
            "bytes_in": r.bytes_in,
            "bytes_out": r.bytes_out,
            "connections": r.connections,
            "refused_connections": r.refused,
            "rejected_messages": r.rejected,
        },
    });
    let mut head = head;
    if let (Some((name, value)), Some(obj)) = (task_member, head.as_object_mut()) {
        obj.insert(name.to_string(), value);
    }
    // Everything but the result through serde_json (small), then the result streamed: the
    // vectors are L long and must not be copied into a JSON tree.
    let mut head = serde_json::to_vec(&head)?;
    if head.pop() != Some(b'}') {
        return Err(io::Error::other("report head is not a JSON object"));
    }
    w.write_all(&head)?;
    w.write_all(b",\"result\":")?;
    match &r.result {
        Err(_) => w.write_all(b"null")?,
        Ok(o) => {
            w.write_all(b"{\"included\":")?;
            serde_json::to_writer(
                &mut *w,
                &o.included.iter().map(|id| id.get()).collect::<Vec<_>>(),
            )?;
            write!(w, ",\"weight_sum\":{},\"sum\":[", o.weight_sum)?;
            for (i, x) in o.sum.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                write!(w, "{x}")?;
            }
            w.write_all(b"],\"dequantized_sum\":")?;
            write_floats(w, o.dequantized_values())?;
            w.write_all(b",\"weighted_mean\":")?;
            write_floats(w, o.weighted_mean_values())?;
            w.write_all(b"}")?;
        }
    }
    w.write_all(b"}\n")
}

/// Writes the report durably to `<dir>/<session id>.json` (see the module documentation) and
/// returns the path.
pub fn write_report(dir: &Path, r: &SessionReport) -> io::Result<PathBuf> {
    write_report_with(dir, r, None)
}

/// [`write_report`] with the task's own member (see [`write_json_with`]).
pub fn write_report_with(
    dir: &Path,
    r: &SessionReport,
    task_member: Option<(&str, serde_json::Value)>,
) -> io::Result<PathBuf> {
    write_durably(dir, &format!("{}.json", hex(&r.session_id.0)), |w| {
        write_json_with(w, r, task_member)
    })
}

/// The durable write protocol of the module documentation, for any JSON writer.
fn write_durably(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<PathBuf> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let dst = dir.join(name);
    let res = (|| {
        let f = File::options().write(true).create_new(true).open(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 16, f);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &dst)?;
        // The rename is durable once the directory entry is.
        File::open(dir)?.sync_all()
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map(|()| dst)
}

/// The schema identifier of LDP session reports.
pub const LDP_SCHEMA: &str = "secagg-ldp-result/1";

/// Writes an LDP session's report (schema [`LDP_SCHEMA`]) as JSON into `w`:
///
/// ```text
/// {
///   "schema": "secagg-ldp-result/1",
///   "session_id": hex (64 digits),
///   "status": "complete" | "aborted",
///   "abort": null | {"reason": text},
///   "parameters": {"protocol": "oue" | "rsfd-grr" | ..., "name": "OUE" | "RS+FD[GRR]" | ...,
///                  "epsilon": nominal epsilon, "domains": [k_1, ..],
///                  "participants": [ids], "deadline_ms": ms, "min_reports": m,
///                  "max_report_len": bytes},
///   "timings": {"elapsed_ms": ms},
///   "traffic": {"bytes_in": n, "bytes_out": n, "connections": n, "refused_connections": n,
///               "accepted_reports": n, "rejected_reports": n},
///   "result": {"method": name, "n": reports,
///              "privacy": {"model": "local", "nominal_epsilon": e, "tuple_epsilon": e,
///                          "attribute_epsilon": [e per attribute]},
///              "attributes": [{"reports": n, "estimate": [raw unbiased estimates],
///                              "norm_sub": [Norm-Sub estimates], "std_err": [standard errors]}]}
/// }
/// ```
///
/// Non-finite numbers (every estimate when no report was counted) are written as `null`.
pub fn write_ldp_json(w: &mut impl Write, r: &super::ldp::LdpSessionReport) -> io::Result<()> {
    let spec = r.params.task.spec();
    let v = json!({
        "schema": LDP_SCHEMA,
        "session_id": hex(&r.session_id),
        "status": if r.status.is_ok() { "complete" } else { "aborted" },
        "abort": r.status.as_ref().err().map(|e| json!({"reason": e})),
        "parameters": {
            "protocol": spec.protocol.config_name(),
            "name": r.params.task.name(),
            "epsilon": spec.epsilon,
            "domains": spec.domains,
            "participants": r.participants.iter().map(|id| id.get()).collect::<Vec<_>>(),
            "deadline_ms": r.params.deadline_ms,
            "min_reports": r.min_reports,
            "max_report_len": r.params.task.max_report_len(),
        },
        "timings": {"elapsed_ms": r.elapsed.as_millis() as u64},
        "traffic": {
            "bytes_in": r.bytes_in,
            "bytes_out": r.bytes_out,
            "connections": r.connections,
            "refused_connections": r.refused,
            "accepted_reports": r.accepted,
            "rejected_reports": r.rejected,
        },
        "result": r.estimates.to_json(),
    });
    // O(Σ k_i): the estimates are the size of the domains, never of the number of clients.
    serde_json::to_writer(&mut *w, &v)?;
    w.write_all(b"\n")
}

/// Writes an LDP session's report durably to `<dir>/<session id>.json` (same protocol as
/// [`write_report`]) and returns the path.
pub fn write_ldp_report(dir: &Path, r: &super::ldp::LdpSessionReport) -> io::Result<PathBuf> {
    write_durably(dir, &format!("{}.json", hex(&r.session_id)), |w| {
        write_ldp_json(w, r)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::ids::{ParticipantId, Round, SessionId};
    use crate::protocol::aggregate::Decoding;
    use crate::protocol::params::SessionParams;
    use crate::protocol::server::{AggregateOutput, DropReason};
    use crate::ring::{Bits, RingVec};
    use crate::transport::coordinator::RoundLog;

    fn pid(i: u16) -> ParticipantId {
        ParticipantId::new(i).unwrap()
    }

    fn report(ok: bool) -> SessionReport {
        let params = SessionParams {
            nonce: [1; 32],
            participants: vec![pid(1), pid(2), pid(3)],
            threat_model: ThreatModel::SemiHonest,
            identity_keys: Vec::new(),
            graph: Graph::Complete,
            threshold: 2,
            max_corrupt_neighbours: 1,
            dp: None,
            mask_prg: crate::crypto::prg::MaskPrg::Aes128Ctr,
            vector_len: 3,
            bits: Bits::B32,
            clip: 1.0,
            levels: 3,
            max_weight: 1,
            round_timeout_ms: [100; 5],
        };
        let result = if ok {
            // max_weight 1 and weight sum 2: the mean is half the decoded sum.
            Ok(AggregateOutput::new(
                RingVec::from_u64s(Bits::B32, &[5, 0, 4_294_967_295]).unwrap(),
                2,
                vec![pid(1), pid(3)],
                Decoding::Decoded(vec![0.5, 0.0, -1.0]),
                1,
            ))
        } else {
            Err(crate::protocol::SessionAbort {
                round: Round::ShareKeys,
                reason: crate::protocol::AbortReason::TooFewClients { have: 1, need: 2 },
            })
        };
        SessionReport {
            session_id: SessionId([0xab; 32]),
            params: Arc::new(params),
            result,
            fates: vec![
                (pid(1), ClientFate::Included),
                (
                    pid(2),
                    ClientFate::Dropped {
                        round: Round::MaskedInput,
                        why: DropReason::Deadline,
                    },
                ),
                (pid(3), ClientFate::Included),
            ],
            rounds: vec![RoundLog {
                round: Round::AdvertiseKeys,
                closed_at: Duration::from_millis(12),
                set: Some(("U1", 3)),
            }],
            bytes_in: 10,
            bytes_out: 20,
            connections: 3,
            refused: 1,
            rejected: 0,
            elapsed: Duration::from_millis(40),
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("secagg-rf-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn report_is_written_atomically_and_parses_with_the_schema() {
        let dir = temp_dir("ok");
        check_writable(&dir).unwrap();
        let path = write_report(&dir, &report(true)).unwrap();
        assert_eq!(path, dir.join(format!("{}.json", "ab".repeat(32))));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["status"], "complete");
        assert_eq!(v["result"]["sum"], json!([5, 0, 4_294_967_295u64]));
        assert_eq!(v["result"]["included"], json!([1, 3]));
        assert_eq!(v["result"]["weighted_mean"], json!([0.25, 0.0, -0.5]));
        assert_eq!(v["clients"][1]["fate"], "dropped");
        assert_eq!(v["clients"][1]["reason"], "Deadline");
        assert_eq!(v["timings"]["rounds"][0]["set_size"], 3);
        assert_eq!(v["traffic"]["refused_connections"], 1);
        // Only the final file is left.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
        let aborted = write_report(&dir, &report(false));
        // Same session id: the temporary name is free again, the final one is replaced.
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(aborted.unwrap()).unwrap()).unwrap();
        assert_eq!(v["status"], "aborted");
        assert_eq!(v["abort"]["round"], "ShareKeys");
        assert!(v["result"].is_null());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Finding 5: a result directory under a regular file was accepted and the sum stored
    /// nowhere; a failed write left a truncated file under the final name.
    #[test]
    fn unwritable_directories_and_failed_writes_are_errors_without_partial_files() {
        let dir = temp_dir("bad");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain");
        std::fs::write(&file, b"x").unwrap();
        assert!(check_writable(&file.join("results")).is_err());
        // A write that fails midway (here: the temporary name is taken by a directory) leaves
        // no file under the final name.
        let out = dir.join("out");
        std::fs::create_dir_all(out.join(format!(".{}.json.tmp", "ab".repeat(32)))).unwrap();
        assert!(write_report(&out, &report(true)).is_err());
        assert!(!out.join(format!("{}.json", "ab".repeat(32))).exists());
        // A writer that fails (disk full) surfaces the error from the streaming writer.
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if self.0 < b.len() {
                    return Err(io::Error::new(io::ErrorKind::StorageFull, "full"));
                }
                self.0 -= b.len();
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let e = write_json(&mut Full(600), &report(true)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
