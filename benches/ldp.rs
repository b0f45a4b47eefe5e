//! LDP throughput benchmarks: n = 100 000 users, Zipf(1.1) data, single thread unless the name
//! says otherwise. Throughput is reported in users (elements) per second.
//!
//! `cargo bench --bench ldp`

use std::hint::black_box;

use chacha20::ChaCha20Rng;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand_core::SeedableRng;
use secagg::ldp::synthetic::Zipf;
use secagg::ldp::*;

const N: usize = 100_000;

fn data(k: u32, seed: u64) -> Vec<u32> {
    Zipf::new(k, 1.1)
        .unwrap()
        .sample_n(&mut ChaCha20Rng::seed_from_u64(seed), N)
}

fn single<O>(c: &mut Criterion, label: &str, o: &O, threads: &[usize])
where
    O: FrequencyOracle + Sync + Send,
    O::Report: Sync + Send,
{
    let values = data(o.domain_size(), 1);
    let mut g = c.benchmark_group(format!(
        "{label} n={N} k={} eps={}",
        o.domain_size(),
        o.epsilon()
    ));
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    g.bench_function("client", |b| {
        b.iter(|| black_box(o.randomize_batch(&values, &mut rng).unwrap()))
    });
    let reports = o.randomize_batch(&values, &mut rng).unwrap();
    for &t in threads {
        g.bench_function(format!("server threads={t}"), |b| {
            b.iter(|| black_box(aggregate_parallel(o, &reports, t).unwrap().estimate()))
        });
    }
    g.finish();
}

fn oracles(c: &mut Criterion) {
    single(c, "GRR", &Grr::new(16, 1.0).unwrap(), &[1]);
    single(c, "OUE", &Ue::oue(1024, 1.0).unwrap(), &[1]);
    single(c, "OUE", &Ue::oue(1024, 4.0).unwrap(), &[1]);
    single(c, "OLH", &Lh::olh(1024, 1.0).unwrap(), &[1, 2]);
    single(c, "HR", &secagg::ldp::hr::Hr::new(1024, 1.0).unwrap(), &[1]);
    single(c, "SS", &Ss::new(1024, 1.0).unwrap(), &[1]);
}

fn rsfd(c: &mut Criterion) {
    let dom = [8u32, 16, 32, 64, 128];
    let cols: Vec<Vec<u32>> = dom
        .iter()
        .enumerate()
        .map(|(i, &k)| data(k, 10 + i as u64))
        .collect();
    let mut rows = Vec::with_capacity(N * dom.len());
    for u in 0..N {
        rows.extend(cols.iter().map(|c| c[u]));
    }
    for v in [RsFdVariant::Grr, RsFdVariant::Adp] {
        let p = RsFd::new(&dom, 1.0, v).unwrap();
        let mut g = c.benchmark_group(format!("{} n={N} d=5 k={dom:?} eps=1", p.name()));
        g.sample_size(10);
        g.throughput(Throughput::Elements(N as u64));
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        g.bench_function("client columns", |b| {
            b.iter(|| black_box(p.randomize_columns(&rows, &mut rng).unwrap()))
        });
        let batch = p.randomize_columns(&rows, &mut rng).unwrap();
        g.bench_function("server columns", |b| {
            b.iter(|| {
                let mut counts = p.new_counts();
                p.accumulate_columns(&mut counts, &batch).unwrap();
                black_box(p.estimate(&counts).unwrap())
            })
        });
        g.bench_function("client per-report", |b| {
            b.iter(|| black_box(p.randomize_batch(&rows, &mut rng).unwrap()))
        });
        let reports = p.randomize_batch(&rows, &mut rng).unwrap();
        g.bench_function("server per-report", |b| {
            b.iter(|| {
                let mut counts = p.new_counts();
                p.accumulate_batch(&mut counts, &reports).unwrap();
                black_box(p.estimate(&counts).unwrap())
            })
        });
        g.finish();
    }
}

criterion_group!(benches, oracles, rsfd);
criterion_main!(benches);
