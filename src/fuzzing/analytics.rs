//! Target `analytics_frames`: the frames of an LDP session (spec `analytics.md`).
//!
//! Input: a u16-length-prefixed Task frame, then any number of u16-length-prefixed Report
//! frames. Properties: decoding never panics; an accepted Task frame re-encodes to the same
//! bytes and its report-frame limit respects the caps; each Report frame is either counted
//! (the count grows by one) or refused with the accumulator unchanged; the estimates of any
//! accepted set of reports are computed without panicking, and their Norm-Sub post-processing
//! is a probability distribution.

use super::input::Src;
use crate::analytics::wire::{decode_report, decode_task, report_frame_max};
use crate::analytics::MAX_REPORT_LEN;

/// Tasks are only aggregated (which allocates O(Σ k_i)) up to this many cells.
const AGGREGATE_MAX: u64 = 1 << 16;

/// The harness.
pub fn analytics_frames(data: &[u8]) {
    let mut src = Src::new(data);
    let frame = src.blob();
    let Ok(p) = decode_task(frame) else { return };
    assert_eq!(p.encode(), frame, "a Task frame re-encodes identically");
    assert!(report_frame_max(&p.task) <= 38 + MAX_REPORT_LEN);
    let cells: u64 = p.task.spec().domains.iter().map(|&k| u64::from(k)).sum();
    if cells > AGGREGATE_MAX {
        return;
    }
    let sid = p.session_id();
    let mut acc = p.task.accumulator();
    while !src.is_empty() {
        let report = src.blob();
        // Frames in the corpus name their session; a fuzzed one may not.
        let before = acc.n();
        let ok = decode_report(&sid, report).and_then(|r| acc.add_bytes(r));
        match ok {
            Ok(()) => assert_eq!(acc.n(), before + 1),
            Err(_) => assert_eq!(acc.n(), before, "a refused report changed the counts"),
        }
    }
    let e = acc.estimates().expect("estimates of accepted reports");
    assert_eq!(e.n, acc.n());
    if e.n > 0 {
        for a in &e.attributes {
            if a.reports == 0 {
                continue;
            }
            let s: f64 = a.norm_sub.iter().sum();
            assert!(
                (s - 1.0).abs() < 1e-6 && a.norm_sub.iter().all(|&x| x >= 0.0),
                "Norm-Sub is a distribution"
            );
        }
    }
}
