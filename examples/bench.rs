//! Whole secure-aggregation rounds in-process, with the size of the work next to every figure and,
//! next to every mask-expansion time, its ideal: the raw keystream time (the session's mask PRG
//! suite) of the masks that step expands, measured in the same run. Every run starts with the
//! keystream rates of ChaCha20, AES-128-CTR and AES-256-CTR in-process and of `openssl speed`
//! (the fastest keystream on the machine), and the server table ends with a plaintext
//! aggregation baseline (decode + add the same inputs, no masking). No ratio against another
//! system is printed here: `scripts/compare_flower.sh` runs Flower and this bench in one
//! invocation.
//!
//! ```text
//! cargo run --release --example bench                 # the full table (a few minutes)
//! cargo run --release --example bench -- --quick      # CI-sized
//! cargo run --release --example bench -- --only h100-d0.1,c100-d0.1 --reps 5
//! cargo run --release --example bench -- --keystreams      # only the keystream rates
//! cargo run --release --example bench -- --prg chacha20    # mask PRG suite 1 (default aes128-ctr)
//! ```
//!
//! Flags: `--quick` (two small rounds and the wire computation), `--only NAME,..` (scenarios by
//! name, see `--list`), `--no-big` (skip the n = 1000 and n = 10 000 rounds), `--reps N` (repeat
//! each scenario N times and print medians; default 3 for the L = 100 000 rounds, 1 for the
//! big ones), `--list`, `--keystreams`, `--prg SUITE`, `--json PATH` (per-scenario medians),
//! `--no-limits` (skip every limit measurement: keystream rates, raw mask and X25519 times, the
//! plaintext baseline; for profiling, so that `perf record` of the driver (clients) or of the
//! coordinator child sees only the round; the ratio columns then print inf or NaN).
//!
//! How it measures:
//! * The coordinator runs in a child process (this binary with `--coordinator`), fed the real
//!   encoded messages over a pipe, one at a time. Its peak resident memory is the child's own
//!   `VmHWM` from `/proc/self/status`, so it counts only the server (plus the process's fixed
//!   baseline, printed separately), never the clients. The child times each `Server` call, reads
//!   the unmasking phases through `Server::observe_unmasking`, and measures its own raw keystream
//!   rate after the round.
//! * Clients run in this process, one call at a time on one thread, timed per step. Each client's
//!   masked vector is encoded, sent to the coordinator and dropped before the next client masks,
//!   so at most one masked vector exists at a time. Inputs stream the same way: a client starts
//!   without its input (`Client::start`) and gets it (`set_input`, timed as setup) right before
//!   its share bundle is handled, so the driver's peak memory (`driver` column, its own
//!   `VmHWM`) does not grow with n x L. Dropouts vanish after sharing their keys and
//!   before sending their masked input (the expensive case for the server: their pairwise masks
//!   must be regenerated).
//! * Ideal client masking = (k + 1) x raw keystream time of one mask of `ceil((L + 1) * bits / 8)`
//!   bytes; ideal server regeneration = (masks regenerated) x that time / (worker threads).
//!   "Raw keystream" is the session's suite writing into an 8 KiB buffer, median of repeated runs.

use std::collections::VecDeque;
use std::hint::black_box;
use std::io::{BufReader, BufWriter, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use secagg::crypto::prg::MaskPrg;
use secagg::ids::ParticipantId;
use secagg::protocol::chooser::choose_graph_params;
use secagg::protocol::messages::{
    types, AdvertiseKeys, ClientMessage, MaskedInput, RevealedShare, ShareKeys, ShareKind,
    UnmaskShares, SHARE_CIPHERTEXT_LEN,
};
use secagg::protocol::params::{Graph, SessionParams, ThreatModel};
use secagg::protocol::{Client, ClientPolicy, Server, UnmaskPhase};
use secagg::ring::{packed_len, Bits, RingVec};
use secagg::shamir::SHARE_LEN;
use serde::{Deserialize, Serialize};

// ------------------------------------------------------------------------------------------------
// Scenarios

#[derive(Clone, Copy, Debug)]
enum GraphSpec {
    Harary(u16),
    Chooser,
    Complete,
}

#[derive(Clone, Debug)]
struct Scenario {
    name: &'static str,
    n: usize,
    len: u32,
    dropout: f64,
    graph: GraphSpec,
    reps: usize,
    big: bool,
}

/// The resolved session shape, passed to the coordinator child on its command line.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Shape {
    n: usize,
    len: u32,
    bits: u32,
    levels: u64,
    /// 0 = complete graph.
    degree: u16,
    threshold: u16,
    seed: u64,
    /// Mask PRG suite code (section 4 of the spec).
    prg: u8,
    /// Measure the limits (raw keystream, X25519, plaintext baseline) around the round; off
    /// with `--no-limits`, so that a profile of either process shows only the round.
    limits: bool,
}

fn scenarios(quick: bool) -> Vec<Scenario> {
    let s = |name, n, len, dropout, graph, big| Scenario {
        name,
        n,
        len,
        dropout,
        graph,
        reps: if big || quick { 1 } else { 3 },
        big,
    };
    if quick {
        return vec![
            s(
                "quick-h100-d0.1",
                100,
                10_000,
                0.1,
                GraphSpec::Harary(14),
                false,
            ),
            s(
                "quick-c100-d0.1",
                100,
                10_000,
                0.1,
                GraphSpec::Complete,
                false,
            ),
        ];
    }
    vec![
        s("h100-d0", 100, 100_000, 0.0, GraphSpec::Harary(14), false),
        s("h100-d0.1", 100, 100_000, 0.1, GraphSpec::Harary(14), false),
        s("h500-d0.1", 500, 100_000, 0.1, GraphSpec::Harary(18), false),
        s("c100-d0.1", 100, 100_000, 0.1, GraphSpec::Complete, false),
        s(
            "h1000-d0.05",
            1000,
            1_000_000,
            0.05,
            GraphSpec::Chooser,
            true,
        ),
        s(
            "h10000-d0.05",
            10_000,
            10_000,
            0.05,
            GraphSpec::Chooser,
            true,
        ),
    ]
}

/// Corrupt fraction given to the SecAgg+ chooser (as in `examples/simulate.rs`).
const CORRUPT: f64 = 0.05;

fn resolve(sc: &Scenario, seed: u64) -> Shape {
    let n = sc.n;
    let (degree, threshold) = match sc.graph {
        GraphSpec::Harary(k) => (k, k / 2 + 1),
        GraphSpec::Complete => (0, (n / 2) as u16),
        GraphSpec::Chooser => {
            let c = choose_graph_params(n as u64, sc.dropout.max(0.01), CORRUPT)
                .expect("chooser has parameters for this size");
            if c.degree as usize >= n - 1 {
                (0, c.threshold as u16)
            } else {
                (c.degree as u16, c.threshold as u16)
            }
        }
    };
    Shape {
        n,
        len: sc.len,
        bits: 32,
        levels: 1 << 16,
        degree,
        threshold,
        seed,
        prg: MaskPrg::Aes128Ctr.code(),
        limits: true,
    }
}

fn params_of(s: &Shape) -> SessionParams {
    SessionParams {
        dp: None,
        nonce: [s.seed as u8; 32],
        participants: (1..=s.n as u16)
            .map(|i| ParticipantId::new(i).expect("nonzero"))
            .collect(),
        threat_model: ThreatModel::SemiHonest,
        identity_keys: Vec::new(),
        graph: if s.degree == 0 {
            Graph::Complete
        } else {
            Graph::Harary { degree: s.degree }
        },
        threshold: s.threshold,
        max_corrupt_neighbours: 0,
        vector_len: s.len,
        bits: Bits::new(s.bits).expect("valid width"),
        clip: 1.0,
        levels: s.levels,
        max_weight: 1,
        round_timeout_ms: [10_000; 5],
        mask_prg: prg_of(s),
    }
}

fn prg_of(s: &Shape) -> MaskPrg {
    MaskPrg::from_code(s.prg).expect("valid suite code")
}

fn graph_desc(s: &Shape) -> String {
    if s.degree == 0 {
        format!("complete k={} t={}", s.n - 1, s.threshold)
    } else {
        format!("Harary k={} t={}", s.degree, s.threshold)
    }
}

fn degree(s: &Shape) -> usize {
    if s.degree == 0 {
        s.n - 1
    } else {
        s.degree as usize
    }
}

// ------------------------------------------------------------------------------------------------
// Measurements shared by both processes

/// A raw keystream generator, for the ideals and the keystream table: the session's suites and
/// AES-256-CTR (measured to justify the suite's key size, spec section 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Raw {
    ChaCha20,
    Aes128Ctr,
    Aes256Ctr,
}

impl Raw {
    fn of(prg: MaskPrg) -> Raw {
        match prg {
            MaskPrg::ChaCha20 => Raw::ChaCha20,
            _ => Raw::Aes128Ctr,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Raw::ChaCha20 => "ChaCha20 (chacha20 0.10)",
            Raw::Aes128Ctr => "AES-128-CTR (aes 0.9 + ctr 0.10)",
            Raw::Aes256Ctr => "AES-256-CTR (aes 0.9 + ctr 0.10)",
        }
    }

    /// Writes `bytes` of keystream under key byte `k` into an 8 KiB buffer, block by block.
    fn run(self, k: u8, bytes: usize) {
        fn go(c: &mut impl StreamCipher, bytes: usize) {
            let mut buf = [0u8; 8192];
            let mut left = bytes;
            while left > 0 {
                let m = left.min(buf.len());
                c.write_keystream(&mut buf[..m]);
                black_box(&buf);
                left -= m;
            }
        }
        match self {
            Raw::ChaCha20 => go(
                &mut chacha20::ChaCha20::new(&[k; 32].into(), &[0u8; 12].into()),
                bytes,
            ),
            Raw::Aes128Ctr => go(
                &mut ctr::Ctr128BE::<aes::Aes128>::new(&[k; 16].into(), &[0u8; 16].into()),
                bytes,
            ),
            Raw::Aes256Ctr => go(
                &mut ctr::Ctr128BE::<aes::Aes256>::new(&[k; 32].into(), &[0u8; 16].into()),
                bytes,
            ),
        }
    }
}

/// Median (wall, this thread's CPU) seconds of `reps` runs of the suite's keystream producing
/// `bytes` into an 8 KiB buffer (the same block size the mask PRG uses).
fn raw_keystream(raw: Raw, bytes: usize, reps: usize) -> (f64, f64) {
    let mut cpu = Vec::with_capacity(reps);
    let wall = raw_keystream_wall(raw, bytes, reps, &mut cpu);
    (wall, median(&mut cpu))
}

fn raw_keystream_wall(raw: Raw, bytes: usize, reps: usize, cpu: &mut Vec<f64>) -> f64 {
    let mut times: Vec<f64> = (0..reps)
        .map(|r| {
            let c0 = thread_cpu();
            let t0 = Instant::now();
            raw.run(r as u8, bytes);
            let t = t0.elapsed().as_secs_f64();
            cpu.push(thread_cpu() - c0);
            t
        })
        .collect();
    median(&mut times)
}

/// On-CPU seconds of the calling thread (`CLOCK_THREAD_CPUTIME_ID`): unlike wall time, it does
/// not grow when other work on this shared machine takes the core away.
fn thread_cpu() -> f64 {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// On-CPU seconds of every thread of this process (`CLOCK_PROCESS_CPUTIME_ID`).
fn process_cpu() -> f64 {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_clock(clock: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn raw_reps(bytes: usize) -> usize {
    (64_000_000 / bytes.max(1)).clamp(5, 51)
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// A field of `/proc/self/status` in KiB (0 if unavailable).
fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

// ------------------------------------------------------------------------------------------------
// Pipe framing between the driver and the coordinator child

const TAG_MSG: u8 = 1;
const TAG_GONE: u8 = 2;
const TAG_TIMEOUT: u8 = 3;
const TAG_REPORT: u8 = 4;

fn read_exact_vec(r: &mut impl Read, buf: &mut Vec<u8>, n: usize) -> std::io::Result<()> {
    buf.resize(n, 0);
    r.read_exact(buf)
}

fn read_u8(r: &mut impl Read) -> std::io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn read_u16(r: &mut impl Read) -> std::io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// What the coordinator reports at the end of a round.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct CoordReport {
    error: Option<String>,
    included: usize,
    sets: Vec<(String, usize)>,
    /// Server wall time per round being collected (0..=4), all calls included.
    round_secs: [f64; 5],
    /// Time in `handle_message` for masked inputs (accumulation).
    accumulate_secs: f64,
    /// The same in on-CPU seconds of the coordinator's thread.
    accumulate_cpu: f64,
    shamir_secs: f64,
    seeds_secs: f64,
    regen_secs: f64,
    /// On-CPU seconds of all the coordinator's threads in the same phases.
    shamir_cpu: f64,
    seeds_cpu: f64,
    regen_cpu: f64,
    secrets: usize,
    self_masks: usize,
    pairwise_masks: usize,
    threads: usize,
    /// Raw keystream time of one mask, one thread (median), measured in this process.
    raw_mask_secs: f64,
    /// The same in on-CPU seconds.
    raw_mask_cpu: f64,
    /// Raw keystream time per mask with all worker threads busy (2 masks per thread).
    raw_par_mask_secs: f64,
    /// On-CPU seconds of one X25519 agreement (median), measured in this process: every
    /// pairwise mask of a dropped client costs one, so `pairwise x this` is a floor of the
    /// unmasking CPU beside the keystream's.
    agree_cpu: f64,
    /// Bytes of masked input accumulated (included inputs x packed length, with the header).
    accumulated_bytes: f64,
    /// Plaintext aggregation baseline, on-CPU seconds of this thread: decode (unpack) and add
    /// `included` unmasked vectors of the same size into an accumulator, no masking at all.
    plain_cpu: f64,
    baseline_kib: u64,
    after_new_kib: u64,
    peak_kib: u64,
    cpu_secs: f64,
    /// On-CPU seconds of the coordinator inside `Server` calls only: the main thread's CPU in
    /// `new`, `handle_message`, `client_gone`, `handle_timeout` and `poll_transmit`, plus all
    /// of the rayon workers' CPU. That is `cpu_secs` without this harness's side of the
    /// transport (pipe reads and writes and their wake-ups: over a third of `cpu_secs` at
    /// L = 100 000 per `perf`) and its bookkeeping.
    calls_cpu: f64,
}

/// The coordinator child: reads frames from stdin, drives a `Server`, answers on stdout.
fn coordinator(shape: Shape) -> std::io::Result<()> {
    let baseline_kib = proc_status_kib("VmRSS:");
    let params = Arc::new(params_of(&shape));
    let mut input = BufReader::with_capacity(1 << 16, std::io::stdin().lock());
    let mut output = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let c_new = thread_cpu();
    let mut server = Server::new(params.clone(), 0).expect("valid parameters");
    // This thread's CPU inside Server calls; the rayon workers' CPU is added at the end.
    let mut calls_cpu = thread_cpu() - c_new;
    type Marks = Vec<(UnmaskPhase, Instant, f64)>;
    let phases: Arc<Mutex<Marks>> = Arc::default();
    let p2 = phases.clone();
    server.observe_unmasking(Box::new(move |ph| {
        let cpu = process_cpu();
        if let Ok(mut v) = p2.lock() {
            v.push((ph, Instant::now(), cpu));
        }
    }));
    let after_new_kib = proc_status_kib("VmRSS:");
    let mut rep = CoordReport {
        baseline_kib,
        after_new_kib,
        ..Default::default()
    };
    let mut buf = Vec::new();
    loop {
        let tag = read_u8(&mut input)?;
        let round = server.round().code().min(4) as usize;
        let t0 = Instant::now();
        match tag {
            TAG_MSG => {
                let from = read_u16(&mut input)?;
                let now = read_u64(&mut input)?;
                let len = read_u32(&mut input)? as usize;
                read_exact_vec(&mut input, &mut buf, len)?;
                let id = ParticipantId::new(from).expect("nonzero");
                let (t0, c0) = (Instant::now(), thread_cpu());
                let _ = server.handle_message(id, &buf, now);
                let dc = thread_cpu() - c0;
                calls_cpu += dc;
                if buf.get(1) == Some(&types::MASKED_INPUT) {
                    rep.accumulate_secs += t0.elapsed().as_secs_f64();
                    rep.accumulate_cpu += dc;
                    rep.accumulated_bytes += buf.len() as f64;
                }
            }
            TAG_GONE => {
                let from = read_u16(&mut input)?;
                let now = read_u64(&mut input)?;
                let p0 = thread_cpu();
                server.client_gone(ParticipantId::new(from).expect("nonzero"), now);
                calls_cpu += thread_cpu() - p0;
            }
            TAG_TIMEOUT => {
                let now = read_u64(&mut input)?;
                let p0 = thread_cpu();
                server.handle_timeout(now);
                calls_cpu += thread_cpu() - p0;
            }
            TAG_REPORT => break,
            _ => return Err(std::io::Error::other("bad frame")),
        }
        rep.round_secs[round] += t0.elapsed().as_secs_f64();
        // Answer: every queued message as it is polled (never all at once), then the status.
        loop {
            let p0 = thread_cpu();
            let next = server.poll_transmit();
            calls_cpu += thread_cpu() - p0;
            let Some((to, bytes)) = next else { break };
            output.write_all(&[1])?;
            output.write_all(&to.get().to_le_bytes())?;
            output.write_all(&(bytes.len() as u32).to_le_bytes())?;
            output.write_all(&bytes)?;
        }
        output.write_all(&[0])?;
        output.write_all(&[server.result().is_some() as u8])?;
        output.write_all(&server.poll_timeout().unwrap_or(u64::MAX).to_le_bytes())?;
        output.flush()?;
    }
    rep.peak_kib = proc_status_kib("VmHWM:");
    rep.cpu_secs = process_cpu();
    // The worker threads run nothing but the server's parallel work (seed derivation and mask
    // regeneration, and their spinning before they sleep), so all their CPU counts; it is read
    // here, long after they went to sleep, because a running thread's CPU time is only settled
    // when it is descheduled (a process-clock delta around a call undercounts them).
    rep.calls_cpu = calls_cpu + (rep.cpu_secs - thread_cpu());
    let sum: Vec<f64> = match server.result() {
        Some(Ok(out)) => {
            rep.included = out.included.len();
            out.dequantized_sum().clone()
        }
        Some(Err(e)) => {
            rep.error = Some(e.to_string());
            Vec::new()
        }
        None => {
            rep.error = Some("no result".into());
            Vec::new()
        }
    };
    rep.sets = server
        .set_sizes()
        .sets
        .iter()
        .map(|(s, k)| (s.to_string(), *k))
        .collect();
    if let Ok(v) = phases.lock() {
        if let Some(start) = v.iter().rposition(|(p, _, _)| *p == UnmaskPhase::Start) {
            let at = |ph| {
                v[start..]
                    .iter()
                    .find(|(p, _, _)| *p == ph)
                    .map(|(_, t, c)| (*t, *c))
            };
            if let (Some(a), Some(b), Some(c), Some(d)) = (
                at(UnmaskPhase::Start),
                at(UnmaskPhase::SecretsRebuilt),
                at(UnmaskPhase::SeedsDerived),
                at(UnmaskPhase::MasksRemoved),
            ) {
                rep.shamir_secs = (b.0 - a.0).as_secs_f64();
                rep.seeds_secs = (c.0 - b.0).as_secs_f64();
                rep.regen_secs = (d.0 - c.0).as_secs_f64();
                rep.shamir_cpu = b.1 - a.1;
                rep.seeds_cpu = c.1 - b.1;
                rep.regen_cpu = d.1 - c.1;
            }
        }
    }
    if let Some(st) = server.unmask_stats() {
        rep.secrets = st.secrets;
        rep.self_masks = st.self_masks;
        rep.pairwise_masks = st.pairwise_masks;
        rep.threads = st.threads;
    }
    drop(server);
    if shape.limits {
        // The plaintext baseline: the same number of inputs of the same size, decoded and added.
        {
            let bits = Bits::new(shape.bits).expect("valid");
            let l = shape.len as usize + 1;
            let packed =
                RingVec::from_u64s_reduced(bits, (0..l as u64).map(|i| i * 0x9e37_79b9)).pack();
            let mut acc = RingVec::zeros(bits, l);
            let c0 = thread_cpu();
            for _ in 0..rep.included {
                acc.unpack_add(bits, black_box(&packed))
                    .expect("same shape");
            }
            rep.plain_cpu = thread_cpu() - c0;
            black_box(&acc);
        }
        // The ideal, in this process, right after the round.
        let mask_bytes = packed_len(
            Bits::new(shape.bits).expect("valid"),
            shape.len as usize + 1,
        )
        .expect("fits");
        let raw = Raw::of(prg_of(&shape));
        (rep.raw_mask_secs, rep.raw_mask_cpu) =
            raw_keystream(raw, mask_bytes, raw_reps(mask_bytes));
        {
            use rayon::prelude::*;
            let threads = rayon::current_num_threads();
            let jobs = 2 * threads;
            let mut t: Vec<f64> = (0..3)
                .map(|_| {
                    let t0 = Instant::now();
                    (0..jobs).into_par_iter().for_each(|_| {
                        black_box(raw_keystream(raw, mask_bytes, 1));
                    });
                    t0.elapsed().as_secs_f64() / jobs as f64
                })
                .collect();
            rep.raw_par_mask_secs = median(&mut t);
        }
        {
            use secagg::crypto::kex::KexSecretKey;
            let mut rng = ChaCha20Rng::seed_from_u64(7);
            let a = KexSecretKey::generate(&mut rng);
            let peers: Vec<_> = (0..64)
                .map(|_| KexSecretKey::generate(&mut rng).public_key())
                .collect();
            let mut t: Vec<f64> = peers
                .iter()
                .map(|p| {
                    let c0 = thread_cpu();
                    black_box(a.agree(black_box(p)).is_ok());
                    thread_cpu() - c0
                })
                .collect();
            rep.agree_cpu = median(&mut t);
        }
    }
    let json = serde_json::to_vec(&rep).map_err(std::io::Error::other)?;
    output.write_all(&(json.len() as u32).to_le_bytes())?;
    output.write_all(&json)?;
    output.write_all(&(sum.len() as u32).to_le_bytes())?;
    for x in sum {
        output.write_all(&x.to_le_bytes())?;
    }
    output.flush()
}

// ------------------------------------------------------------------------------------------------
// The driver

struct Coord {
    child: std::process::Child,
    tx: BufWriter<std::process::ChildStdin>,
    rx: BufReader<std::process::ChildStdout>,
    finished: bool,
    deadline: u64,
}

impl Coord {
    fn spawn(shape: &Shape) -> Coord {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .arg("--coordinator")
            .arg(serde_json::to_string(shape).expect("serializable"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the coordinator");
        let tx = BufWriter::with_capacity(1 << 16, child.stdin.take().expect("piped"));
        let rx = BufReader::with_capacity(1 << 16, child.stdout.take().expect("piped"));
        Coord {
            child,
            tx,
            rx,
            finished: false,
            deadline: 0,
        }
    }

    /// Sends one frame and appends the coordinator's answer to `queue`.
    fn call(&mut self, frame: &[&[u8]], queue: &mut VecDeque<(u16, Vec<u8>)>) {
        for part in frame {
            self.tx.write_all(part).expect("pipe");
        }
        self.tx.flush().expect("pipe");
        while read_u8(&mut self.rx).expect("pipe") == 1 {
            let to = read_u16(&mut self.rx).expect("pipe");
            let len = read_u32(&mut self.rx).expect("pipe") as usize;
            let mut bytes = Vec::new();
            read_exact_vec(&mut self.rx, &mut bytes, len).expect("pipe");
            queue.push_back((to, bytes));
        }
        self.finished = read_u8(&mut self.rx).expect("pipe") != 0;
        self.deadline = read_u64(&mut self.rx).expect("pipe");
    }

    fn message(&mut self, from: u16, now: u64, bytes: &[u8], q: &mut VecDeque<(u16, Vec<u8>)>) {
        self.call(
            &[
                &[TAG_MSG],
                &from.to_le_bytes(),
                &now.to_le_bytes(),
                &(bytes.len() as u32).to_le_bytes(),
                bytes,
            ],
            q,
        );
    }

    fn finish(mut self) -> (CoordReport, Vec<f64>) {
        self.tx.write_all(&[TAG_REPORT]).expect("pipe");
        self.tx.flush().expect("pipe");
        let len = read_u32(&mut self.rx).expect("pipe") as usize;
        let mut json = Vec::new();
        read_exact_vec(&mut self.rx, &mut json, len).expect("pipe");
        let rep: CoordReport = serde_json::from_slice(&json).expect("report");
        let n = read_u32(&mut self.rx).expect("pipe") as usize;
        let mut raw = Vec::new();
        read_exact_vec(&mut self.rx, &mut raw, 8 * n).expect("pipe");
        let sum = raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let _ = self.child.wait();
        (rep, sum)
    }
}

/// One client's input, generated on the fly (uniform in [-0.5, 0.5), SplitMix64).
fn input_of(seed: u64, i: usize, len: usize) -> Vec<f64> {
    let mut x = seed ^ ((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (0..len)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

/// The figures of one run of one scenario.
#[derive(Debug, Clone, Default)]
struct RunResult {
    survivors: usize,
    /// Per survivor, mean on-CPU seconds: setup (quantize + keys), sharing, masking, unmask reply.
    setup: f64,
    sharing: f64,
    masking: f64,
    unmask_reply: f64,
    /// Mean wall seconds of masking per survivor.
    masking_wall: f64,
    /// Raw keystream of one mask in this process: (wall, CPU) seconds.
    client_raw_mask: (f64, f64),
    sent: f64,
    received: f64,
    masked_msg_len: usize,
    coord: CoordReport,
    wall: f64,
    driver_peak_kib: u64,
    max_err: f64,
    err_bound: f64,
}

fn run_once(shape: &Shape, dropout: f64) -> RunResult {
    let t_start = Instant::now();
    let params = Arc::new(params_of(shape));
    let n = shape.n;
    let len = shape.len as usize;
    let bits = params.bits;
    let mask_bytes = packed_len(bits, len + 1).expect("fits");
    let mut raw_samples = Vec::new();
    if shape.limits {
        raw_samples.push(raw_keystream(
            Raw::of(params.mask_prg),
            mask_bytes,
            raw_reps(mask_bytes),
        ));
    }

    // Dropouts: a deterministic sample of round(d * n) clients vanish before masking.
    let drops = (dropout * n as f64).round() as usize;
    let mut order: Vec<usize> = (0..n).collect();
    let mut x = shape.seed.wrapping_add(17);
    for i in (1..n).rev() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        order.swap(i, ((x >> 33) % (i as u64 + 1)) as usize);
    }
    let mut vanishes = vec![false; n];
    for &i in order.iter().take(drops) {
        vanishes[i] = true;
    }

    let mut coord = Coord::spawn(shape);
    let mut queue: VecDeque<(u16, Vec<u8>)> = VecDeque::new();
    let mut clients = Vec::with_capacity(n);
    let mut rngs = Vec::with_capacity(n);
    // The bench's shapes (for example a complete graph at n = 100) are chosen here, not offered
    // by an untrusted coordinator: accept them all.
    let policy = {
        let mut p = ClientPolicy::new(shape.len);
        p.participants = (1, usize::MAX);
        p.min_threshold = 1;
        p.max_degree = usize::MAX;
        p.max_mask_elements = u64::MAX;
        p.assumed_corrupt_rate = 0.0;
        p
    };
    // Per client and step: on-CPU seconds, and wall seconds.
    let mut time = vec![[0f64; 4]; n];
    let mut wall = vec![[0f64; 4]; n];
    let mut sent = vec![0usize; n];
    let mut received = vec![0usize; n];
    let mut gone = vec![false; n];
    let mut masked = vec![false; n];
    let mut masked_msg_len = 0;
    let mut expected = vec![0f64; len];
    // Clients start without their input (`Client::start`); each one's input is generated,
    // given (`set_input`, timed as setup: it quantizes) and dropped right before its share
    // bundle is delivered, so the driver holds one input at a time and its peak memory does
    // not grow with n times L.
    for i in 0..n {
        let id = params.participants[i];
        let mut rng = ChaCha20Rng::seed_from_u64(shape.seed ^ ((i as u64 + 1) << 20));
        let (t0, c0) = (Instant::now(), thread_cpu());
        let (client, msg) =
            Client::start(params.clone(), &policy, id, None, &mut rng).expect("client setup");
        time[i][0] += thread_cpu() - c0;
        wall[i][0] += t0.elapsed().as_secs_f64();
        clients.push(client);
        rngs.push(rng);
        sent[i] += msg.len();
        coord.message(id.get(), 0, &msg, &mut queue);
    }
    let mut now = 0u64;
    loop {
        while let Some((to, bytes)) = queue.pop_front() {
            let Some(i) = params.index_of(ParticipantId::new(to).expect("nonzero")) else {
                continue;
            };
            if gone[i] {
                continue;
            }
            received[i] += bytes.len();
            if vanishes[i] && bytes.get(1) == Some(&types::SHARE_BUNDLE) {
                // Vanishes after sharing, before masking: its connection closes.
                gone[i] = true;
                coord.call(
                    &[&[TAG_GONE], &to.to_le_bytes(), &now.to_le_bytes()],
                    &mut queue,
                );
                continue;
            }
            if bytes.get(1) == Some(&types::SHARE_BUNDLE) {
                let inp = input_of(shape.seed, i, len);
                for (e, v) in expected.iter_mut().zip(&inp) {
                    *e += v;
                }
                let (t0, c0) = (Instant::now(), thread_cpu());
                let early = clients[i]
                    .set_input(&inp, 1, &mut rngs[i])
                    .expect("input accepted before the bundle");
                time[i][0] += thread_cpu() - c0;
                wall[i][0] += t0.elapsed().as_secs_f64();
                assert!(early.is_none(), "the bundle has not been handled yet");
            }
            let (t0, c0) = (Instant::now(), thread_cpu());
            let reply = clients[i].handle(&bytes, &mut rngs[i]);
            let dc = thread_cpu() - c0;
            let dt = t0.elapsed().as_secs_f64();
            match reply {
                Ok(Some(reply)) => {
                    let code = reply.get(1).copied().unwrap_or(0);
                    let step = match code {
                        types::SHARE_KEYS => 1,
                        types::MASKED_INPUT => 2,
                        _ => 3,
                    };
                    time[i][step] += dc;
                    wall[i][step] += dt;
                    if code == types::MASKED_INPUT {
                        masked[i] = true;
                        masked_msg_len = reply.len();
                    }
                    sent[i] += reply.len();
                    coord.message(to, now, &reply, &mut queue);
                    // `reply` (a whole masked vector in round 2) is dropped here.
                }
                Ok(None) => {}
                Err(e) => eprintln!("client {to} aborted: {e}"),
            }
        }
        if coord.finished {
            break;
        }
        // Nothing left to deliver: advance to the deadline.
        if coord.deadline == u64::MAX {
            break;
        }
        now = now.max(coord.deadline);
        coord.call(&[&[TAG_TIMEOUT], &now.to_le_bytes()], &mut queue);
    }
    if shape.limits {
        raw_samples.push(raw_keystream(
            Raw::of(params.mask_prg),
            mask_bytes,
            raw_reps(mask_bytes),
        ));
    }
    let (rep, sum) = coord.finish();
    let survivors: Vec<usize> = (0..n).filter(|&i| masked[i]).collect();
    let s = survivors.len().max(1) as f64;
    let mean = |k: usize| survivors.iter().map(|&i| time[i][k]).sum::<f64>() / s;
    let q = params.quantizer().expect("valid");
    let err_bound = rep.included as f64 * q.step();
    let max_err = if sum.len() == len {
        sum.iter()
            .zip(&expected)
            .map(|(g, w)| (g - w).abs())
            .fold(0.0, f64::max)
    } else {
        f64::INFINITY
    };
    RunResult {
        survivors: survivors.len(),
        setup: mean(0),
        sharing: mean(1),
        masking: mean(2),
        unmask_reply: mean(3),
        masking_wall: survivors.iter().map(|&i| wall[i][2]).sum::<f64>() / s,
        client_raw_mask: (
            median(&mut raw_samples.iter().map(|x| x.0).collect::<Vec<_>>()),
            median(&mut raw_samples.iter().map(|x| x.1).collect::<Vec<_>>()),
        ),
        sent: survivors.iter().map(|&i| sent[i] as f64).sum::<f64>() / s,
        received: survivors.iter().map(|&i| received[i] as f64).sum::<f64>() / s,
        masked_msg_len,
        coord: rep,
        wall: t_start.elapsed().as_secs_f64(),
        driver_peak_kib: proc_status_kib("VmHWM:"),
        max_err,
        err_bound,
    }
}

// ------------------------------------------------------------------------------------------------
// Aggregation over repetitions and printing

/// Median over runs of a figure.
fn med(runs: &[RunResult], f: impl Fn(&RunResult) -> f64) -> f64 {
    let mut v: Vec<f64> = runs.iter().map(f).collect();
    median(&mut v)
}

struct Row {
    sc: Scenario,
    shape: Shape,
    runs: Vec<RunResult>,
}

fn size_cols(r: &Row) -> String {
    format!(
        "{:<13} {:>5} {:>8} {:>4} {:<22} {:>4}",
        r.sc.name,
        r.shape.n,
        r.shape.len,
        r.shape.bits,
        graph_desc(&r.shape),
        r.sc.dropout
    )
}

fn size_header() -> String {
    format!(
        "{:<13} {:>5} {:>8} {:>4} {:<22} {:>4}",
        "scenario", "n", "L", "bits", "graph", "d"
    )
}

fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{:.0}", x * 1e3)
    } else if x >= 1.0 {
        format!("{:.1}", x * 1e3)
    } else {
        format!("{:.2}", x * 1e3)
    }
}

/// Keystream rates of every generator this crate has and of `openssl speed` (if installed), one
/// core, in this run: the limits the PRG figures are compared against.
fn keystream_table() {
    const BYTES: usize = 64 << 20;
    println!("== Keystream rates, one core, this run (64 MiB into an 8 KiB buffer, median of 5; MB/s = 10^6 B/s)");
    for raw in [Raw::ChaCha20, Raw::Aes128Ctr, Raw::Aes256Ctr] {
        let (wall, cpu) = raw_keystream(raw, BYTES, 5);
        println!(
            "  in-process {:<34} {:>7.0} MB/s of CPU time {:>7.0} MB/s wall",
            raw.name(),
            BYTES as f64 / cpu / 1e6,
            BYTES as f64 / wall / 1e6
        );
    }
    for alg in ["chacha20", "aes-128-ctr", "aes-256-ctr"] {
        // `-mr` prints `+F:<i>:<name>:<bytes per second>` for each block size.
        let out = Command::new("openssl")
            .args([
                "speed", "-mr", "-evp", alg, "-seconds", "2", "-bytes", "8192",
            ])
            .stderr(Stdio::null())
            .output();
        let rate = out.ok().and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.starts_with("+F:"))
                .and_then(|l| l.rsplit(':').next()?.trim().parse::<f64>().ok())
        });
        match rate {
            Some(r) => println!(
                "  openssl speed -evp {:<22} {:>7.0} MB/s (openssl's own timing, 8 KiB blocks)",
                alg,
                r / 1e6
            ),
            None => println!("  openssl speed -evp {alg}: not available"),
        }
    }
}

/// Per-scenario medians for scripts (scripts/compare_flower.sh reads them).
fn write_json(path: &str, rows: &[Row]) {
    let v: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.sc.name,
                "n": r.shape.n,
                "len": r.shape.len,
                "bits": r.shape.bits,
                "dropout": r.sc.dropout,
                "degree": degree(&r.shape),
                "threshold": r.shape.threshold,
                "mask_prg": prg_of(&r.shape).name(),
                "survivors": med(&r.runs, |x| x.survivors as f64),
                "client_cpu_s": med(&r.runs, |x| x.setup + x.sharing + x.masking + x.unmask_reply),
                "server_cpu_s": med(&r.runs, |x| x.coord.cpu_secs),
                "server_calls_cpu_s": med(&r.runs, |x| x.coord.calls_cpu),
                "plain_cpu_s": med(&r.runs, |x| x.coord.plain_cpu),
                "regen_cpu_s": med(&r.runs, |x| x.coord.regen_cpu),
                "raw_mask_cpu_s": med(&r.runs, |x| x.coord.raw_mask_cpu),
                "masks_regenerated": med(&r.runs, |x| (x.coord.self_masks + x.coord.pairwise_masks) as f64),
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&v).expect("serializable");
    if let Err(e) = std::fs::write(path, text) {
        eprintln!("writing {path}: {e}");
    }
}

fn print_tables(rows: &[Row]) {
    println!("\n== Client, mean per survivor (ms of on-CPU time of the client's thread; medians over reps)");
    println!(
        "{}  {:>7} {:>7} {:>8} {:>5} {:>8} {:>6} {:>8} {:>8} {:>6} {:>8}",
        size_header(),
        "setup",
        "sharing",
        "masking",
        "masks",
        "ideal",
        "ratio",
        "mask wall",
        "ideal w",
        "ratio",
        "total"
    );
    for r in rows {
        let k = degree(&r.shape);
        let masks = (k + 1) as f64;
        let total = med(&r.runs, |x| {
            x.setup + x.sharing + x.masking + x.unmask_reply
        });
        println!(
            "{}  {:>7} {:>7} {:>8} {:>5} {:>8} {:>5.2}x {:>9} {:>8} {:>5.2}x {:>8}",
            size_cols(r),
            ms(med(&r.runs, |x| x.setup)),
            ms(med(&r.runs, |x| x.sharing)),
            ms(med(&r.runs, |x| x.masking)),
            k + 1,
            ms(med(&r.runs, |x| masks * x.client_raw_mask.1)),
            med(&r.runs, |x| x.masking / (masks * x.client_raw_mask.1)),
            ms(med(&r.runs, |x| x.masking_wall)),
            ms(med(&r.runs, |x| masks * x.client_raw_mask.0)),
            med(&r.runs, |x| x.masking_wall / (masks * x.client_raw_mask.0)),
            ms(total),
        );
    }
    println!("  setup = quantize + 2 key pairs; sharing = k agreements, Shamir split, encryption;");
    println!(
        "  masking = decrypt shares + expand k+1 masks + pack + encode; ideal = (k+1) x the raw"
    );
    println!(
        "  keystream time (session's suite) of one mask (ceil((L+1)*bits/8) bytes), same run, in"
    );
    println!(
        "  CPU time (ratio) and wall time (mask wall, ideal w, ratio); total = all four steps"
    );
    println!("  in CPU time. Ratios against Flower: scripts/compare_flower.sh (same invocation).");

    println!("\n== Server, per round (ms; wall time unless marked CPU)");
    println!(
        "{}  {:>3} {:>7} {:>6} {:>7} {:>7} {:>7} {:>6} {:>8} {:>6} {:>8} {:>6} {:>5} {:>7} {:>6} {:>8} {:>7} {:>7} {:>7} {:>9} {:>8} {:>8}",
        size_header(),
        "thr",
        "keys+sh",
        "accum",
        "shamir",
        "seeds",
        "regen",
        "masks",
        "ideal/thr",
        "ratio",
        "regenCPU",
        "ratio",
        "cores",
        "unmask",
        "ratio",
        "CPUratio",
        "CPU s",
        "calls s",
        "plain s",
        "CPU/plain",
        "accumCPU",
        "vs plain"
    );
    for r in rows {
        let c = |f: &dyn Fn(&CoordReport) -> f64| med(&r.runs, |x| f(&x.coord));
        let masks = |c: &CoordReport| (c.self_masks + c.pairwise_masks) as f64;
        let ideal = |c: &CoordReport| masks(c) * c.raw_mask_secs / c.threads.max(1) as f64;
        let cpu = c(&|c| c.cpu_secs);
        let plain = c(&|c| c.plain_cpu);
        println!(
            "{}  {:>3} {:>7} {:>6} {:>7} {:>7} {:>7} {:>6} {:>9} {:>5.2}x {:>8} {:>5.2}x {:>5.2} {:>7} {:>5.2}x {:>7.2}x {:>7.3} {:>7.3} {:>7.4} {:>8.1}x {:>8} {:>7.1}x",
            size_cols(r),
            c(&|c| c.threads as f64),
            ms(c(&|c| c.round_secs[0] + c.round_secs[1])),
            ms(c(&|c| c.accumulate_secs)),
            ms(c(&|c| c.shamir_secs)),
            ms(c(&|c| c.seeds_secs)),
            ms(c(&|c| c.regen_secs)),
            c(&masks),
            ms(c(&ideal)),
            c(&|c| c.regen_secs / ideal(c)),
            ms(c(&|c| c.regen_cpu)),
            c(&|c| c.regen_cpu / (masks(c) * c.raw_mask_cpu)),
            c(&|c| c.regen_cpu / c.regen_secs),
            ms(c(&|c| c.shamir_secs + c.seeds_secs + c.regen_secs)),
            c(&|c| (c.shamir_secs + c.seeds_secs + c.regen_secs) / ideal(c)),
            c(&|c| (c.shamir_cpu + c.seeds_cpu + c.regen_cpu) / (masks(c) * c.raw_mask_cpu)),
            cpu,
            c(&|c| c.calls_cpu),
            plain,
            cpu / plain,
            ms(c(&|c| c.accumulate_cpu)),
            c(&|c| c.accumulate_cpu) / plain,
        );
    }
    println!(
        "  thr = worker threads; keys+sh = rounds 0-1 (key checks, directory, share routing);"
    );
    println!(
        "  accum = unpacking every masked input into the accumulator; shamir = rebuilding every"
    );
    println!("  needed secret; seeds = X25519 + HKDF for dropped clients' pairwise masks; regen =");
    println!("  regenerating all masks into the accumulator; masks = self + pairwise masks;");
    println!(
        "  ideal/thr = masks x raw keystream of one mask (measured in the coordinator process"
    );
    println!(
        "  after the round) / threads; regenCPU = on-CPU time of all threads during regen, its"
    );
    println!("  ratio against masks x raw CPU time; cores = regenCPU / regen, the parallelism");
    println!("  the machine actually gave (2.00 = both cores); unmask = shamir + seeds + regen, ratio against");
    println!("  ideal/thr; CPUratio = their CPU time over masks x raw CPU time (no division:");
    println!(
        "  CPU time adds up over threads); CPU s = the coordinator's CPU for the whole round;"
    );
    println!(
        "  calls s = the part of it inside Server calls (CPU s minus this bench's pipe transport);"
    );
    println!(
        "  plain s = plaintext aggregation baseline: CPU to decode and add the same number of"
    );
    println!("  unmasked vectors of the same size (no masking); CPU/plain = the cost of security;");
    println!("  accumCPU = CPU of the coordinator's thread handling masked inputs (decode, check,");
    println!("  add), vs plain = its ratio to the baseline (same inputs count; both cache-hot).");

    println!("\n== Rebuilt secrets, raw keystream, correctness");
    println!(
        "{}  {:>7} {:>6} {:>6} {:>9} {:>9} {:>7} {:>8} {:>8} {:>11} {:>9} {:>7}",
        size_header(),
        "secrets",
        "self",
        "pair",
        "raw/mask",
        "raw-par",
        "dh us",
        "DHfloor",
        "acc GB/s",
        "sets",
        "max err",
        "ok"
    );
    for r in rows {
        let last = r.runs.last().expect("one run");
        let sets: Vec<String> = last.coord.sets.iter().map(|(_, k)| k.to_string()).collect();
        let ok = r
            .runs
            .iter()
            .all(|x| x.coord.error.is_none() && x.max_err < x.err_bound);
        let masks = (last.coord.self_masks + last.coord.pairwise_masks) as f64;
        let raw_cpu = med(&r.runs, |x| x.coord.raw_mask_cpu);
        let dh = med(&r.runs, |x| x.coord.agree_cpu);
        let floor = (masks * raw_cpu + last.coord.pairwise_masks as f64 * dh) / (masks * raw_cpu);
        let acc = med(&r.runs, |x| {
            x.coord.accumulated_bytes / x.coord.accumulate_cpu.max(1e-9) / 1e9
        });
        println!(
            "{}  {:>7} {:>6} {:>6} {:>9} {:>9} {:>7.1} {:>7.2}x {:>8.2} {:>11} {:>9.2e} {:>7}",
            size_cols(r),
            last.coord.secrets,
            last.coord.self_masks,
            last.coord.pairwise_masks,
            ms(med(&r.runs, |x| x.coord.raw_mask_secs)),
            ms(med(&r.runs, |x| x.coord.raw_par_mask_secs)),
            dh * 1e6,
            floor,
            acc,
            sets.join("/"),
            last.max_err,
            if ok { "MATCH" } else { "FAIL" }
        );
        if let Some(e) = &last.coord.error {
            println!("  error: {e}");
        }
    }
    println!("  raw/mask = one mask's keystream on one thread (ms); raw-par = per mask with every");
    println!("  worker thread generating keystream at once (what the machine delivers right now);");
    println!("  dh us = one X25519 agreement, CPU microseconds, coordinator process; DHfloor =");
    println!(
        "  (masks x raw CPU + pair x dh) / (masks x raw CPU): the best CPUratio (server table)"
    );
    println!("  possible with one agreement per pairwise mask; acc GB/s = masked-input bytes over");
    println!(
        "  the coordinator thread's CPU in handle_message for them (decode, repeat check, add);"
    );
    println!("  sets = U1/U2/U3/U5; max err = dequantized sum vs plaintext sum (bound n x step).");

    println!("\n== Wire and memory (bytes per survivor; coordinator peak RSS)");
    println!(
        "{}  {:>10} {:>10} {:>10} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
        size_header(),
        "sent",
        "received",
        "masked msg",
        "ceil(Lb/8)",
        "framing",
        "peak MiB",
        "base MiB",
        "target",
        "driver",
        "wall s"
    );
    for r in rows {
        let payload = packed_len(
            Bits::new(r.shape.bits).expect("valid"),
            r.shape.len as usize,
        )
        .expect("fits");
        let last = r.runs.last().expect("one run");
        let peak = med(&r.runs, |x| x.coord.peak_kib as f64) / 1024.0;
        let target = 64.0 + 4.0 * r.shape.len as f64 / (1 << 20) as f64;
        println!(
            "{}  {:>10.0} {:>10.0} {:>10} {:>10} {:>7.3}% {:>9.1} {:>9.1} {:>9.1} {:>9.0} {:>9.1}",
            size_cols(r),
            med(&r.runs, |x| x.sent),
            med(&r.runs, |x| x.received),
            last.masked_msg_len,
            payload,
            100.0 * (last.masked_msg_len as f64 - payload as f64) / payload as f64,
            peak,
            last.coord.baseline_kib as f64 / 1024.0,
            target,
            last.driver_peak_kib as f64 / 1024.0,
            med(&r.runs, |x| x.wall),
        );
    }
    println!("  framing = masked message minus ceil(L*bits/8), over it (header + the weight");
    println!("  element); peak = the coordinator child's VmHWM (includes its baseline RSS,");
    println!("  base, at start); target = 64 MiB + 4 L bytes; driver = the client-side");
    println!("  process's VmHWM (all n clients' state, cumulative over the runs so far).");
}

/// Client upload with 16-bit inputs (2^16 levels), n = 1024, L = 2^20, from the sizes of real
/// encoded messages: every message a client sends is built with the protocol's types and
/// encoded by the real codec, with the session's ring width.
fn wire16(quick: bool) {
    let n = 1024usize;
    let len: u32 = if quick { 1 << 16 } else { 1 << 20 };
    let levels = 1u64 << 16;
    let bits = secagg::quantize::bits_for(n as u64, levels).expect("fits");
    let plaintext = len as f64 * 2.0;
    let session = secagg::ids::SessionId([7; 32]);
    let id = |i: usize| ParticipantId::new(i as u16).expect("nonzero");
    println!(
        "\n== Wire, 16-bit inputs: n={n} L={len} levels=2^16 -> ring bits={} (sum of n inputs must fit)",
        bits.get()
    );
    println!(
        "{:<24} {:>5} {:>10} {:>10} {:>10} {:>12} {:>12} {:>8}",
        "graph", "k", "keys", "shares", "unmask", "masked", "total", "x plain"
    );
    let complete = (n - 1, n / 2);
    let chooser = choose_graph_params(n as u64, 0.05, CORRUPT).expect("chooser");
    for (name, (k, t)) in [
        ("complete", complete),
        (
            "SecAgg+ (chooser d=0.05)",
            (chooser.degree as usize, chooser.threshold as usize),
        ),
    ] {
        let _ = t;
        let me = id(1);
        let keys = ClientMessage::AdvertiseKeys(AdvertiseKeys {
            sender: me,
            c_pk: secagg::crypto::kex::KexPublicKey([9; 32]),
            s_pk: secagg::crypto::kex::KexPublicKey([9; 32]),
            signature: None,
        })
        .encode(&session)
        .len();
        let shares = ClientMessage::ShareKeys(ShareKeys {
            sender: me,
            commitment: [0; 32],
            ciphertexts: (2..k + 2)
                .map(|j| (id(j), [0u8; SHARE_CIPHERTEXT_LEN]))
                .collect(),
        })
        .encode(&session)
        .len();
        // Every neighbour's share (self-mask share or key share): one per neighbour.
        let unmask = ClientMessage::UnmaskShares(UnmaskShares {
            sender: me,
            shares: (2..k + 2)
                .map(|j| RevealedShare {
                    owner: id(j),
                    kind: ShareKind::SelfMask,
                    share: [0u8; SHARE_LEN],
                })
                .collect(),
        })
        .encode(&session)
        .len();
        let masked = ClientMessage::MaskedInput(MaskedInput {
            sender: me,
            packed: RingVec::zeros(bits, len as usize + 1).pack(),
        })
        .encode(&session)
        .len();
        let total = keys + shares + unmask + masked;
        println!(
            "{:<24} {:>5} {:>10} {:>10} {:>10} {:>12} {:>12} {:>7.3}x",
            name,
            k,
            keys,
            shares,
            unmask,
            masked,
            total,
            total as f64 / plaintext
        );
    }
    println!(
        "  plaintext = L x 2 bytes = {plaintext:.0}; the ring must hold the sum of n inputs, so each masked element"
    );
    println!(
        "  takes {} bits, not 16: masked alone is {:.3}x. These encoders are the ones the rounds above use",
        bits.get(),
        bits.get() as f64 / 16.0
    );
    println!("  (their per-client 'sent' column is the same sum of sizes).");
}

struct Args {
    quick: bool,
    only: Option<Vec<String>>,
    no_big: bool,
    reps: Option<usize>,
    list: bool,
    prg: MaskPrg,
    keystreams_only: bool,
    json: Option<String>,
    no_limits: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        quick: false,
        only: None,
        no_big: false,
        reps: None,
        list: false,
        prg: MaskPrg::Aes128Ctr,
        keystreams_only: false,
        json: None,
        no_limits: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        match f.as_str() {
            "--quick" => a.quick = true,
            "--no-big" => a.no_big = true,
            "--list" => a.list = true,
            "--keystreams" => a.keystreams_only = true,
            "--no-limits" => a.no_limits = true,
            "--prg" => {
                let v = it.next().ok_or("--prg needs a value")?;
                a.prg =
                    MaskPrg::from_name(&v).ok_or(format!("--prg {v}: aes128-ctr or chacha20"))?;
            }
            "--json" => a.json = Some(it.next().ok_or("--json needs a path")?),
            "--only" => {
                let v = it.next().ok_or("--only needs a value")?;
                a.only = Some(v.split(',').map(str::to_string).collect());
            }
            "--reps" => {
                let v = it.next().ok_or("--reps needs a value")?;
                a.reps = Some(v.parse().map_err(|e| format!("--reps {v}: {e}"))?);
            }
            _ => return Err(format!("unknown flag {f}")),
        }
    }
    Ok(a)
}

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--coordinator") {
        let shape: Shape = serde_json::from_str(&args.next().expect("shape")).expect("valid shape");
        if let Err(e) = coordinator(shape) {
            eprintln!("coordinator: {e}");
            std::process::exit(1);
        }
        return;
    }
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let all = scenarios(a.quick);
    if a.list {
        for s in &all {
            let sh = resolve(s, 1);
            println!(
                "{:<14} n={} L={} d={} {}",
                s.name,
                s.n,
                s.len,
                s.dropout,
                graph_desc(&sh)
            );
        }
        return;
    }
    if !a.no_limits {
        keystream_table();
    }
    if a.keystreams_only {
        return;
    }
    let chosen: Vec<Scenario> = all
        .into_iter()
        .filter(|s| {
            a.only
                .as_ref()
                .is_none_or(|o| o.iter().any(|x| x == s.name))
        })
        .filter(|s| !(a.no_big && s.big))
        .collect();
    println!(
        "secagg bench: {} scenario(s), mask PRG {}, coordinator on {} worker thread(s) (rayon), machine has {} CPU(s)",
        chosen.len(),
        a.prg,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into()),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut rows = Vec::new();
    for sc in chosen {
        let reps = a.reps.unwrap_or(sc.reps).max(1);
        let mut runs = Vec::new();
        let mut shape = resolve(&sc, 1);
        shape.prg = a.prg.code();
        shape.limits = !a.no_limits;
        for rep in 0..reps {
            shape.seed = 1 + rep as u64;
            let r = run_once(&shape, sc.dropout);
            eprintln!(
                "  {} rep {}/{}: {:.1} s wall, masking {:.2} ms/survivor, regen {:.1} ms, {} survivors",
                sc.name,
                rep + 1,
                reps,
                r.wall,
                r.masking * 1e3,
                r.coord.regen_secs * 1e3,
                r.survivors
            );
            runs.push(r);
        }
        rows.push(Row { sc, shape, runs });
    }
    if !rows.is_empty() {
        print_tables(&rows);
    }
    if let Some(path) = &a.json {
        write_json(path, &rows);
    }
    if a.only.is_none() {
        wire16(a.quick);
    }
}
