//! Single-thread CPU time of every LDP oracle's client and server, batch and per-report APIs,
//! on fixed workloads shared with the NumPy reference implementation `benches/ldp_numpy.py`.
//! Run both side by side with `python3 benches/ldp_compare.py` (prints the comparison table).
//!
//! ```text
//! cargo run --release --example ldp_speed -- [--n 100000] [--reps 3] [--rng aes|chacha12|chacha8|chacha20] [--only NAME,..]
//! ```
//!
//! `--only` runs just the named oracles or protocols (e.g. `--only GRR,Spl[GRR]`), for quick
//! before/after comparisons of one change.
//!
//! Prints one JSON object per line: `{"oracle", "side", "api", "n", "k", "eps", "cpu_s"}`, where
//! `cpu_s` is the smallest of `--reps` runs of on-CPU seconds of this thread
//! (`CLOCK_THREAD_CPUTIME_ID`, so time the scheduler gives to other processes is not counted).
//! Data: Zipf(1.1) values. Local-hashing servers are `O(n·k)`, so BLH and OLH use `n/5` users.
//!
//! APIs: `batch` is `randomize_batch` / `Aggregator::add_all` for the oracles and
//! `randomize_columns` / `accumulate_columns` for the multidimensional protocols. `per-report`
//! is `randomize` / `Aggregator::add` one report at a time for the oracles; for the
//! multidimensional protocols it is `randomize_into` a reused report on the client and
//! `accumulate_bytes` of each encoded report on the server (the coordinator's path), neither of
//! which allocates.

use std::hint::black_box;

use chacha20::{ChaCha12Rng, ChaCha20Rng, ChaCha8Rng};
use rand_core::{CryptoRng, SeedableRng};
use secagg::ldp::synthetic::Zipf;
use secagg::ldp::*;

fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Smallest CPU time of `reps` runs of `f`.
fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..reps)
        .map(|_| {
            let t0 = thread_cpu();
            black_box(f());
            thread_cpu() - t0
        })
        .fold(f64::INFINITY, f64::min)
}

fn emit(oracle: &str, side: &str, api: &str, n: usize, k: &str, eps: f64, cpu: f64) {
    println!(
        "{{\"oracle\": \"{oracle}\", \"side\": \"{side}\", \"api\": \"{api}\", \"n\": {n}, \"k\": \"{k}\", \"eps\": {eps}, \"cpu_s\": {cpu:.6}}}"
    );
}

fn zipf(k: u32, n: usize, seed: u64) -> Vec<u32> {
    Zipf::new(k, 1.1)
        .expect("valid")
        .sample_n(&mut ChaCha20Rng::seed_from_u64(seed), n)
}

/// The `--only` filter (empty: everything).
static ONLY: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

fn selected(name: &str) -> bool {
    ONLY.get()
        .is_none_or(|o| o.is_empty() || o.iter().any(|x| x == name))
}

fn single<O: FrequencyOracle, R: CryptoRng>(o: &O, n: usize, reps: usize, rng: &mut R) {
    if !selected(o.name()) {
        return;
    }
    let values = zipf(o.domain_size(), n, 1);
    let k = o.domain_size().to_string();
    let eps = o.epsilon();
    let name = o.name();
    let t = time(reps, || o.randomize_batch(&values, rng).expect("valid"));
    emit(name, "client", "batch", n, &k, eps, t);
    let t = time(reps, || {
        let mut out = Vec::with_capacity(values.len());
        for &v in &values {
            out.push(o.randomize(v, rng).expect("valid"));
        }
        out
    });
    emit(name, "client", "per-report", n, &k, eps, t);
    let reports = o.randomize_batch(&values, rng).expect("valid");
    let t = time(reps, || {
        let mut agg = o.aggregator();
        agg.add_all(&reports).expect("valid");
        agg.estimate()
    });
    emit(name, "server", "batch", n, &k, eps, t);
    let t = time(reps, || {
        let mut agg = o.aggregator();
        for r in &reports {
            agg.add(r).expect("valid");
        }
        agg.estimate()
    });
    emit(name, "server", "per-report", n, &k, eps, t);
}

fn multi<P: MultidimProtocol, R: CryptoRng>(p: &P, n: usize, reps: usize, rng: &mut R) {
    if !selected(&p.name()) {
        return;
    }
    let dom = p.domains().to_vec();
    let cols: Vec<Vec<u32>> = dom
        .iter()
        .enumerate()
        .map(|(i, &k)| zipf(k, n, 10 + i as u64))
        .collect();
    let mut rows = Vec::with_capacity(n * dom.len());
    for u in 0..n {
        rows.extend(cols.iter().map(|c| c[u]));
    }
    let k = format!("{dom:?}").replace(' ', "");
    let eps = p.nominal_epsilon();
    let name = p.name();
    let t = time(reps, || p.randomize_columns(&rows, rng).expect("valid"));
    emit(&name, "client", "batch", n, &k, eps, t);
    // per-report client: one report at a time into a reused report (no allocation); like the
    // batch client, it does not encode
    let t = time(reps, || {
        let mut report = p.randomize(&rows[..dom.len()], rng).expect("valid");
        for t in rows.chunks(dom.len()) {
            p.randomize_into(t, rng, &mut report).expect("valid");
            black_box(&report);
        }
        report
    });
    emit(&name, "client", "per-report", n, &k, eps, t);
    let len = p.randomize(&rows[..dom.len()], rng).map_or(0, |r| {
        let mut b = Vec::new();
        p.encode_report(&r, &mut b).map_or(0, |_| b.len())
    });
    let batch = p.randomize_columns(&rows, rng).expect("valid");
    let t = time(reps, || {
        let mut c = p.new_counts();
        p.accumulate_columns(&mut c, &batch).expect("valid");
        p.estimate(&c).expect("own counts")
    });
    emit(&name, "server", "batch", n, &k, eps, t);
    // per-report server as on the coordinator: validate and count each encoded report
    // (`accumulate_bytes`, no allocation)
    // (one flat buffer with report boundaries: Smp's reports differ in length)
    let mut wire = Vec::with_capacity(n * len);
    let mut ends = Vec::with_capacity(n);
    for r in p.randomize_batch(&rows, rng).expect("valid") {
        p.encode_report(&r, &mut wire).expect("valid");
        ends.push(wire.len());
    }
    let t = time(reps, || {
        let mut c = p.new_counts();
        let mut start = 0;
        for &end in &ends {
            p.accumulate_bytes(&mut c, &wire[start..end])
                .expect("valid");
            start = end;
        }
        p.estimate(&c).expect("own counts")
    });
    emit(&name, "server", "per-report", n, &k, eps, t);
}

fn run<R: CryptoRng>(n: usize, reps: usize, rng: &mut R) -> Result<(), LdpError> {
    let eps = 1.0;
    single(&Grr::new(16, eps)?, n, reps, rng);
    single(&Grr::new(1024, eps)?, n, reps, rng);
    single(&Ue::sue(1024, eps)?, n, reps, rng);
    single(&Ue::oue(1024, eps)?, n, reps, rng);
    single(&Lh::blh(1024, eps)?, n / 5, reps, rng);
    single(&Lh::olh(1024, eps)?, n / 5, reps, rng);
    single(&Hr::new(1024, eps)?, n, reps, rng);
    single(&Ss::new(1024, eps)?, n, reps, rng);
    let dom = [8u32, 16, 32, 64, 128];
    multi(&RsFd::new(&dom, eps, RsFdVariant::Grr)?, n, reps, rng);
    multi(&RsFd::new(&dom, eps, RsFdVariant::OueZero)?, n, reps, rng);
    multi(&Spl::new(&dom, eps, BaseOracle::Grr)?, n, reps, rng);
    multi(&Smp::new(&dom, eps, BaseOracle::Adp)?, n, reps, rng);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut n, mut reps, mut which) = (100_000usize, 3usize, String::from("aes"));
    let mut only = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--n" => n = val.parse()?,
            "--reps" => reps = val.parse()?,
            "--rng" => which = val,
            "--only" => only = val.split(',').map(str::to_string).collect(),
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    let quick = !only.is_empty();
    let _ = ONLY.set(only);
    if !quick {
        generators(reps);
    }
    match which.as_str() {
        "aes" => run(n, reps, &mut AesCtrRng::seed_from_u64(7))?,
        "chacha12" => run(n, reps, &mut ChaCha12Rng::seed_from_u64(7))?,
        "chacha8" => run(n, reps, &mut ChaCha8Rng::seed_from_u64(7))?,
        "chacha20" => run(n, reps, &mut ChaCha20Rng::seed_from_u64(7))?,
        other => return Err(format!("unknown generator {other}").into()),
    }
    Ok(())
}

/// Raw generator throughput, for the record (skipped by `--only`).
fn generators(reps: usize) {
    let words = 1usize << 22;
    let gen = |name: &str, t: f64| {
        println!(
            "{{\"generator\": \"{name}\", \"u64_per_s\": {:.4e}}}",
            words as f64 / t
        )
    };
    use rand_core::Rng;
    let mut a = ChaCha20Rng::seed_from_u64(1);
    gen(
        "chacha20",
        time(reps, || (0..words).fold(0u64, |x, _| x ^ a.next_u64())),
    );
    let mut b = ChaCha12Rng::seed_from_u64(1);
    gen(
        "chacha12",
        time(reps, || (0..words).fold(0u64, |x, _| x ^ b.next_u64())),
    );
    let mut c = ChaCha8Rng::seed_from_u64(1);
    gen(
        "chacha8",
        time(reps, || (0..words).fold(0u64, |x, _| x ^ c.next_u64())),
    );
    // bulk generation (fill_bytes into 4 KiB), u64 equivalents per second
    let mut buf = vec![0u8; 4096];
    let blocks = words * 8 / buf.len();
    let mut a = ChaCha20Rng::seed_from_u64(1);
    gen(
        "chacha20 bulk",
        time(reps, || {
            for _ in 0..blocks {
                a.fill_bytes(&mut buf);
            }
            buf[0]
        }),
    );
    let mut b = ChaCha12Rng::seed_from_u64(1);
    gen(
        "chacha12 bulk",
        time(reps, || {
            for _ in 0..blocks {
                b.fill_bytes(&mut buf);
            }
            buf[0]
        }),
    );
    let mut c = ChaCha8Rng::seed_from_u64(1);
    gen(
        "chacha8 bulk",
        time(reps, || {
            for _ in 0..blocks {
                c.fill_bytes(&mut buf);
            }
            buf[0]
        }),
    );
    {
        use ctr::cipher::{KeyIvInit, StreamCipher};
        let mut c = ctr::Ctr128BE::<aes::Aes128>::new(&[1u8; 16].into(), &[0u8; 16].into());
        gen(
            "aes128-ctr bulk",
            time(reps, || {
                for _ in 0..blocks {
                    c.write_keystream(&mut buf);
                }
                buf[0]
            }),
        );
    }
}
