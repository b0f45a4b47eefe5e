//! Primitive benchmarks: mask expansion against the raw ChaCha20 keystream, bit-packing,
//! Shamir split/reconstruct at the sizes the foundation issue asks for, and the server's
//! unmasking path (many masks regenerated into one accumulator, sequential and on rayon).
//!
//! Run: `cargo bench --bench primitives`. Every benchmark id carries its sizes.

use std::hint::black_box;

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use secagg::crypto::prg::{
    add_mask, apply_masks, apply_masks_parallel, MaskPrg, MaskSeed, MaskSign,
};
use secagg::ids::ParticipantId;
use secagg::ring::{Bits, RingVec};
use secagg::shamir::{self, Reconstructor};

fn mask_expansion(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask_expansion");
    g.sample_size(30);
    let seed = MaskSeed::from_bytes([7; 32]);
    for len in [100_000usize, 1_000_000] {
        // Bytes of keystream per mask at 32 bits: the same amount for both functions.
        g.throughput(Throughput::Bytes(4 * len as u64));
        let mut buf = vec![0u8; 4 * len];
        g.bench_with_input(
            BenchmarkId::new("raw_chacha20_keystream", len),
            &len,
            |b, _| {
                b.iter(|| {
                    let mut c = chacha20::ChaCha20::new(&[7u8; 32].into(), &[0u8; 12].into());
                    c.write_keystream(black_box(&mut buf));
                })
            },
        );
        for prg in MaskPrg::ALL {
            for bits in [32u32, 16, 33, 64, 7] {
                let b_ = Bits::new(bits).unwrap();
                let mut v = RingVec::zeros(b_, len);
                g.bench_with_input(
                    BenchmarkId::new(format!("add_mask_{prg}_bits{bits}"), len),
                    &len,
                    |b, _| b.iter(|| add_mask(prg, &seed, black_box(&mut v)).unwrap()),
                );
            }
        }
    }
    g.finish();
}

fn packing(c: &mut Criterion) {
    let mut g = c.benchmark_group("packing");
    g.sample_size(30);
    let len = 1_000_000usize;
    for bits in [32u32, 16, 33, 7, 64] {
        let b_ = Bits::new(bits).unwrap();
        let v = RingVec::from_u64s_reduced(
            b_,
            (0..len as u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        );
        let packed = v.pack();
        g.throughput(Throughput::Bytes(packed.len() as u64));
        let mut out = vec![0u8; packed.len()];
        g.bench_with_input(
            BenchmarkId::new(format!("pack_bits{bits}"), len),
            &len,
            |b, _| b.iter(|| v.pack_into(black_box(&mut out)).unwrap()),
        );
        g.bench_with_input(
            BenchmarkId::new(format!("unpack_bits{bits}"), len),
            &len,
            |b, _| b.iter(|| RingVec::unpack(b_, len, black_box(&packed)).unwrap()),
        );
        let mut acc = RingVec::zeros(b_, len);
        g.bench_with_input(
            BenchmarkId::new(format!("unpack_add_bits{bits}"), len),
            &len,
            |b, _| b.iter(|| acc.unpack_add(b_, black_box(&packed)).unwrap()),
        );
    }
    g.finish();
}

fn shamir_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("shamir");
    g.sample_size(10);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let holders: Vec<ParticipantId> = (1..=1000).map(|i| ParticipantId::new(i).unwrap()).collect();
    g.bench_function("split_n1000_t500", |b| {
        b.iter(|| shamir::split(black_box(&[9; 32]), 500, &holders, &mut rng).unwrap())
    });
    // 1000 secrets, each shared among the same 1000 holders; reconstruct all from holders 1..=500.
    let all: Vec<Vec<shamir::Share>> = (0..1000u32)
        .map(|s| shamir::split(&[s as u8; 32], 500, &holders, &mut rng).unwrap())
        .collect();
    g.bench_function("lagrange_setup_t500", |b| {
        b.iter(|| Reconstructor::new(black_box(&holders[..500]), 500).unwrap())
    });
    g.bench_function("reconstruct_1000_secrets_t500_incl_setup", |b| {
        b.iter(|| {
            let r = Reconstructor::new(&holders[..500], 500).unwrap();
            for shares in &all {
                let refs: Vec<&shamir::Share> = shares[..500].iter().collect();
                black_box(r.reconstruct(&refs).unwrap());
            }
        })
    });
    g.finish();
}

/// The server's mask regeneration (and the client's fused masking) against the raw keystream of
/// the same masks: `m` masks of L + 1 = 100 001 elements at 32 bits.
fn unmasking(c: &mut Criterion) {
    let mut g = c.benchmark_group("unmasking");
    g.sample_size(10);
    let len = 100_001usize;
    let threads = rayon::current_num_threads();
    for m in [15usize, 100] {
        let seeds: Vec<MaskSeed> = (0..m)
            .map(|i| MaskSeed::from_bytes([i as u8; 32]))
            .collect();
        let masks: Vec<(&MaskSeed, MaskSign)> = seeds
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    s,
                    if i % 2 == 0 {
                        MaskSign::Add
                    } else {
                        MaskSign::Sub
                    },
                )
            })
            .collect();
        let bytes = 4 * len as u64 * m as u64;
        g.throughput(Throughput::Bytes(bytes));
        let id = format!("L{len}_bits32_masks{m}");
        let mut buf = [0u8; 8192];
        g.bench_function(BenchmarkId::new("raw_keystream_1thread", &id), |b| {
            b.iter(|| {
                for s in &seeds {
                    let mut c = chacha20::ChaCha20::new(s.expose().into(), &[0u8; 12].into());
                    let mut left = 4 * len;
                    while left > 0 {
                        let n = left.min(buf.len());
                        c.write_keystream(black_box(&mut buf[..n]));
                        left -= n;
                    }
                }
            })
        });
        let mut v = RingVec::zeros(Bits::B32, len);
        g.bench_function(BenchmarkId::new("apply_masks_1thread", &id), |b| {
            b.iter(|| apply_masks(MaskPrg::Aes128Ctr, &masks, black_box(&mut v)).unwrap())
        });
        g.bench_function(
            BenchmarkId::new(format!("apply_masks_parallel_{threads}threads"), &id),
            |b| {
                b.iter(|| {
                    apply_masks_parallel(MaskPrg::Aes128Ctr, &masks, black_box(&mut v)).unwrap()
                })
            },
        );
        g.bench_function(BenchmarkId::new("add_mask_one_by_one", &id), |b| {
            b.iter(|| {
                for s in &seeds {
                    add_mask(MaskPrg::Aes128Ctr, s, black_box(&mut v)).unwrap();
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, mask_expansion, packing, shamir_bench, unmasking);
criterion_main!(benches);
