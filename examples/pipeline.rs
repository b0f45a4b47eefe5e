//! In-process walk through the secure-aggregation pipeline with the primitives that exist today
//! (the protocol state machines and QUIC transport come later):
//!
//! quantize -> X25519 pairwise seeds -> self mask + pairwise masks -> pack -> accumulate packed
//! -> one client drops after sharing its keys -> reconstruct its mask key from Shamir shares,
//! check it against its public key, remove its pairwise masks -> reconstruct the survivors'
//! self-mask seeds, remove the self masks -> dequantize -> compare with the plaintext sum.
//!
//! ```text
//! cargo run --release --example pipeline -- --clients 20 --dim 100000 --dropouts 2
//! ```

use std::time::Instant;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use getrandom::SysRng;
use secagg::crypto::kex::{KexPublicKey, KexSecretKey};
use secagg::crypto::prg::{add_mask, sub_mask, MaskPrg, SelfMaskSecret};

/// The mask PRG suite of this example.
const PRG: MaskPrg = MaskPrg::Aes128Ctr;
use secagg::ids::{ParticipantId, SessionId};
use secagg::quantize::{bits_for, Quantizer};
use secagg::ring::{Bits, RingVec};
use secagg::shamir::{self, Reconstructor, Share};

struct Args {
    clients: u16,
    dim: usize,
    dropouts: u16,
    clip: f64,
    levels: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        clients: 20,
        dim: 100_000,
        dropouts: 2,
        clip: 1.0,
        levels: 1 << 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {val}: {e}");
        match flag.as_str() {
            "--clients" => a.clients = val.parse().map_err(|e| bad(&e))?,
            "--dim" => a.dim = val.parse().map_err(|e| bad(&e))?,
            "--dropouts" => a.dropouts = val.parse().map_err(|e| bad(&e))?,
            "--clip" => a.clip = val.parse().map_err(|e| bad(&e))?,
            "--levels" => a.levels = val.parse().map_err(|e| bad(&e))?,
            _ => {
                return Err(format!(
                    "unknown flag {flag} (use --clients --dim --dropouts --clip --levels)"
                ))
            }
        }
    }
    if a.clients < 2 || a.dropouts >= a.clients {
        return Err("need at least 2 clients and fewer dropouts than clients".into());
    }
    Ok(a)
}

/// What each client keeps and what it hands to the others.
struct Client {
    id: ParticipantId,
    mask_key: KexSecretKey,
    self_mask: SelfMaskSecret,
    input: Vec<f32>,
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let mut rng = ChaCha20Rng::try_from_rng(&mut SysRng).expect("OS randomness");
    let n = args.clients as usize;
    let t = n / 2 + 1;
    let session = SessionId(core::array::from_fn(|i| i as u8));
    let bits = bits_for(n as u64, args.levels).expect("levels and clients fit 64 bits");
    let bits = Bits::new(bits.get().max(32)).expect("valid width");
    let q = Quantizer::new(args.clip, args.levels, bits, n as u64).expect("valid quantizer");
    println!(
        "pipeline: {n} clients, L = {}, threshold t = {t}, {} dropouts, clip = {}, Q = {}, ring Z_2^{}",
        args.dim, args.dropouts, args.clip, args.levels, bits
    );

    let t0 = Instant::now();
    let clients: Vec<Client> = (1..=args.clients)
        .map(|i| Client {
            id: ParticipantId::new(i).expect("nonzero"),
            mask_key: KexSecretKey::generate(&mut rng),
            self_mask: SelfMaskSecret::random(&mut rng),
            input: (0..args.dim)
                .map(|j| (((i as usize * 7919 + j * 104_729) % 2001) as f32 / 1000.0 - 1.0) * 0.8)
                .collect(),
        })
        .collect();
    let public: Vec<KexPublicKey> = clients.iter().map(|c| c.mask_key.public_key()).collect();
    let ids: Vec<ParticipantId> = clients.iter().map(|c| c.id).collect();

    // Round 1: every client Shamir-shares its mask key and its self-mask secret with everyone.
    let key_shares: Vec<Vec<Share>> = clients
        .iter()
        .map(|c| shamir::split(&c.mask_key.to_bytes(), t, &ids, &mut rng).expect("valid sharing"))
        .collect();
    let b_shares: Vec<Vec<Share>> = clients
        .iter()
        .map(|c| shamir::split(c.self_mask.expose(), t, &ids, &mut rng).expect("valid sharing"))
        .collect();
    println!(
        "keys and shares:  {:>8.1} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );

    // Round 2: the last `dropouts` clients vanish after sharing; the others send masked inputs.
    let survivors = n - args.dropouts as usize;
    let t1 = Instant::now();
    let mut accumulator = RingVec::zeros(bits, args.dim);
    let mut wire_bytes = 0usize;
    for c in &clients[..survivors] {
        let mut y = q.quantize(&c.input, 1.0, &mut rng).expect("finite input");
        add_mask(PRG, &c.self_mask.mask_seed(&session, c.id), &mut y).expect("mask fits");
        for (peer, pk) in ids.iter().zip(&public) {
            if *peer == c.id {
                continue;
            }
            let seed = c
                .mask_key
                .agree(pk)
                .expect("honest keys are contributory")
                .pairwise_mask_seed(&session, c.id, *peer);
            if c.id < *peer {
                add_mask(PRG, &seed, &mut y).expect("mask fits");
            } else {
                sub_mask(PRG, &seed, &mut y).expect("mask fits");
            }
        }
        let packed = y.pack();
        wire_bytes += packed.len();
        accumulator
            .unpack_add(bits, &packed)
            .expect("well-formed packed vector");
    }
    let mask_ms = t1.elapsed().as_secs_f64() * 1e3;
    println!(
        "masking:          {:>8.1} ms for {survivors} clients ({:.2} ms each, {} masks each), {} bytes on the wire each",
        mask_ms,
        mask_ms / survivors as f64,
        n,
        wire_bytes / survivors
    );

    // Unmasking: the survivors' shares reconstruct what the server needs.
    let t2 = Instant::now();
    let holders: Vec<ParticipantId> = ids[..survivors].to_vec();
    let rec = Reconstructor::new(&holders, t).expect("enough survivors");
    for (d, dropped) in clients.iter().enumerate().skip(survivors) {
        let shares: Vec<&Share> = key_shares[d][..t].iter().collect();
        let key = KexSecretKey::from_bytes(*rec.reconstruct(&shares).expect("consistent shares"));
        assert!(
            key.matches(&public[d]),
            "reconstructed key must match the advertised one"
        );
        for (s, pk) in ids[..survivors].iter().zip(&public) {
            let seed = key
                .agree(pk)
                .expect("contributory")
                .pairwise_mask_seed(&session, dropped.id, *s);
            // Survivor s added the mask if s < dropped, subtracted it otherwise: undo that.
            if *s < dropped.id {
                sub_mask(PRG, &seed, &mut accumulator).expect("mask fits");
            } else {
                add_mask(PRG, &seed, &mut accumulator).expect("mask fits");
            }
        }
    }
    for (u, c) in clients[..survivors].iter().enumerate() {
        let shares: Vec<&Share> = b_shares[u][..t].iter().collect();
        let b = SelfMaskSecret::from_bytes(*rec.reconstruct(&shares).expect("consistent shares"));
        sub_mask(PRG, &b.mask_seed(&session, c.id), &mut accumulator).expect("mask fits");
    }
    println!(
        "unmasking:        {:>8.1} ms ({} key reconstructions, {} self masks)",
        t2.elapsed().as_secs_f64() * 1e3,
        args.dropouts,
        survivors
    );

    let sum = q
        .dequantize_sum(&accumulator, survivors as u64)
        .expect("in range");
    let mut max_err = 0f64;
    for (j, s) in sum.iter().enumerate() {
        let exact: f64 = clients[..survivors].iter().map(|c| c.input[j] as f64).sum();
        max_err = max_err.max((s - exact).abs());
    }
    let bound = survivors as f64 * q.step();
    println!(
        "result: sum of {survivors} inputs, max |error| = {max_err:.3e} (bound m * step = {bound:.3e}) -> {}",
        if max_err < bound { "OK" } else { "FAILED" }
    );
    if max_err >= bound {
        std::process::exit(1);
    }
}
