//! Coordinator metrics in the Prometheus text exposition format, and a small HTTP endpoint
//! serving `/metrics`, `/healthz` and `/readyz`.
//!
//! The protocol figures (survivors per round, drops by round and reason, refused messages,
//! round durations, session outcomes) come from the sans-IO server through
//! [`MetricsObserver`], so any driver gets the same numbers; the coordinator adds what only it
//! sees (sessions started, refused connections by close code, bytes, the duration of the step
//! that unmasked). They equal the figures of its [`super::SessionReport`]s. Hand-written
//! exposition text keeps the dependency list short.
//!
//! The HTTP server is deliberately minimal: it reads one request head (at most 8 KiB, 5 s),
//! answers `GET` on the three paths, and closes the connection. It is meant for a scraper on an
//! internal network, not for the internet.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Histogram bucket bounds in seconds (round durations, unmasking).
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        for (c, b) in self.counts.iter_mut().zip(BUCKETS) {
            if v <= b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

/// (metric name, rendered label set) -> value.
type Key = (&'static str, String);

#[derive(Default)]
struct Inner {
    counters: BTreeMap<Key, u64>,
    histograms: BTreeMap<Key, Histogram>,
}

/// Help text and type of every metric, in exposition order.
const METRICS: &[(&str, &str, &str)] = &[
    (
        "secagg_sessions_started_total",
        "counter",
        "Sessions opened.",
    ),
    (
        "secagg_sessions_completed_total",
        "counter",
        "Sessions that produced a sum.",
    ),
    (
        "secagg_sessions_aborted_total",
        "counter",
        "Sessions that ended without a sum, by reason.",
    ),
    (
        "secagg_round_survivors_total",
        "counter",
        "Clients in each survivor set as its round closed (U1..U5), summed over sessions.",
    ),
    (
        "secagg_client_drops_total",
        "counter",
        "Clients that left a session, by round and reason.",
    ),
    (
        "secagg_connections_refused_total",
        "counter",
        "Connections refused, by close code.",
    ),
    (
        "secagg_messages_rejected_total",
        "counter",
        "Protocol messages the server refused.",
    ),
    (
        "secagg_bytes_received_total",
        "counter",
        "Protocol bytes received (frame payloads).",
    ),
    (
        "secagg_bytes_sent_total",
        "counter",
        "Protocol bytes queued for sending.",
    ),
    (
        "secagg_round_duration_seconds",
        "histogram",
        "Time from a round's opening to its close.",
    ),
    (
        "secagg_unmask_seconds",
        "histogram",
        "Duration of the server step that unmasked the sum.",
    ),
];

const ALWAYS_PRESENT: &[&str] = &[
    "secagg_sessions_started_total",
    "secagg_sessions_completed_total",
    "secagg_messages_rejected_total",
    "secagg_bytes_received_total",
    "secagg_bytes_sent_total",
];

/// Thread-safe metric store. Cheap to record into (one short lock per event).
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl core::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        // Label values here are enum names and set names; escape anyway.
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(s, "{k}=\"{v}\"");
    }
    s
}

impl Metrics {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` to a counter.
    pub fn add(&self, name: &'static str, label_pairs: &[(&str, &str)], n: u64) {
        if let Ok(mut m) = self.inner.lock() {
            *m.counters.entry((name, labels(label_pairs))).or_default() += n;
        }
    }

    /// Records one observation in a histogram.
    pub fn observe(&self, name: &'static str, label_pairs: &[(&str, &str)], d: Duration) {
        if let Ok(mut m) = self.inner.lock() {
            m.histograms
                .entry((name, labels(label_pairs)))
                .or_default()
                .observe(d.as_secs_f64());
        }
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let Ok(m) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::new();
        for &(name, kind, help) in METRICS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            if kind == "counter" {
                let mut any = false;
                for ((n, l), v) in m.counters.range((name, String::new())..) {
                    if *n != name {
                        break;
                    }
                    any = true;
                    if l.is_empty() {
                        let _ = writeln!(out, "{name} {v}");
                    } else {
                        let _ = writeln!(out, "{name}{{{l}}} {v}");
                    }
                }
                // Unlabelled counters are always present, so a scraper sees 0, not absence.
                if !any && ALWAYS_PRESENT.contains(&name) {
                    let _ = writeln!(out, "{name} 0");
                }
            } else {
                for ((n, l), h) in m.histograms.range((name, String::new())..) {
                    if *n != name {
                        break;
                    }
                    let sep = if l.is_empty() { "" } else { "," };
                    for (b, c) in BUCKETS.iter().zip(h.counts) {
                        let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"{b}\"}} {c}");
                    }
                    let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"+Inf\"}} {}", h.count);
                    let braces = if l.is_empty() {
                        String::new()
                    } else {
                        format!("{{{l}}}")
                    };
                    let _ = writeln!(out, "{name}_sum{braces} {}", h.sum);
                    let _ = writeln!(out, "{name}_count{braces} {}", h.count);
                }
            }
        }
        out
    }
}

/// Feeds a [`Metrics`] from the sans-IO server's events ([`crate::protocol::ServerObserver`]):
/// drops, refused messages, survivors and durations per round, session outcomes. Times are the
/// driver's clock in milliseconds, as passed to the server.
pub struct MetricsObserver {
    metrics: std::sync::Arc<Metrics>,
    round_opened_ms: u64,
}

impl MetricsObserver {
    /// For a session whose clock starts at `start_ms`.
    pub fn new(metrics: std::sync::Arc<Metrics>, start_ms: u64) -> Self {
        Self {
            metrics,
            round_opened_ms: start_ms,
        }
    }
}

impl crate::protocol::ServerObserver for MetricsObserver {
    fn client_dropped(
        &mut self,
        _client: crate::ids::ParticipantId,
        round: crate::ids::Round,
        why: crate::protocol::DropReason,
    ) {
        let (r, w) = (format!("{round:?}"), format!("{why:?}"));
        self.metrics.add(
            "secagg_client_drops_total",
            &[("round", &r), ("reason", &w)],
            1,
        );
    }

    fn round_closed(
        &mut self,
        round: crate::ids::Round,
        set: Option<(&'static str, usize)>,
        now: u64,
    ) {
        let r = format!("{round:?}");
        let took = Duration::from_millis(now.saturating_sub(self.round_opened_ms));
        self.round_opened_ms = now;
        self.metrics
            .observe("secagg_round_duration_seconds", &[("round", &r)], took);
        if let Some((name, size)) = set {
            self.metrics.add(
                "secagg_round_survivors_total",
                &[("set", name)],
                size as u64,
            );
        }
    }

    fn message_rejected(&mut self, _rejected: &crate::protocol::Rejected) {
        self.metrics.add("secagg_messages_rejected_total", &[], 1);
    }

    fn session_ended(
        &mut self,
        result: &Result<crate::protocol::AggregateOutput, crate::protocol::SessionAbort>,
    ) {
        match result {
            Ok(_) => self.metrics.add("secagg_sessions_completed_total", &[], 1),
            Err(e) => {
                let reason = format!("{:?}", e.reason);
                let reason = reason.split([' ', '{', '(']).next().unwrap_or("");
                self.metrics
                    .add("secagg_sessions_aborted_total", &[("reason", reason)], 1)
            }
        }
    }
}

/// Serves `/metrics` (the exposition), `/healthz` (200 while the process runs) and `/readyz`
/// (200 while `ready()` is true, else 503) on `listener` until the task is dropped.
pub async fn serve_http(
    listener: tokio::net::TcpListener,
    metrics: std::sync::Arc<Metrics>,
    ready: std::sync::Arc<dyn Fn() -> bool + Send + Sync>,
) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let (metrics, ready) = (metrics.clone(), ready.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            // Read until the end of the request head, at most 8 KiB, at most 5 s.
            let head = tokio::time::timeout(Duration::from_secs(5), async {
                while len < buf.len() {
                    match sock.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => return false,
                        Ok(n) => len += n,
                    }
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        return true;
                    }
                }
                false
            })
            .await;
            if !matches!(head, Ok(true)) {
                return;
            }
            let line = buf[..len].split(|&b| b == b'\r').next().unwrap_or(&[]);
            let line = String::from_utf8_lossy(line);
            let mut parts = line.split(' ');
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let (status, ctype, body) = match (method, path) {
                ("GET", "/metrics") => (
                    "200 OK",
                    "text/plain; version=0.0.4; charset=utf-8",
                    metrics.render(),
                ),
                ("GET", "/healthz") => ("200 OK", "text/plain", "ok\n".to_string()),
                ("GET", "/readyz") if ready() => ("200 OK", "text/plain", "ready\n".to_string()),
                ("GET", "/readyz") => (
                    "503 Service Unavailable",
                    "text/plain",
                    "draining\n".to_string(),
                ),
                ("GET", _) => ("404 Not Found", "text/plain", "not found\n".to_string()),
                _ => (
                    "405 Method Not Allowed",
                    "text/plain",
                    "GET only\n".to_string(),
                ),
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}
