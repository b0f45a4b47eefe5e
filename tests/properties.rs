//! Property tests of the math and primitive layers (proptest).

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use num_bigint::BigUint;
use proptest::prelude::*;
use secagg::crypto::kex::KexSecretKey;
use secagg::crypto::prg::{add_mask, sub_mask, MaskPrg};
use secagg::field::FieldElement;
use secagg::ids::{ParticipantId, SessionId};
use secagg::quantize::Quantizer;
use secagg::ring::{packed_len, Bits, RingVec};
use secagg::shamir::{self, Reconstructor, ShamirError};

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn p() -> BigUint {
    (BigUint::from(1u8) << 130u32) - BigUint::from(5u8)
}

fn big(x: FieldElement) -> BigUint {
    BigUint::from_bytes_le(&x.to_bytes())
}

/// A field element from 17 arbitrary bytes reduced below p by clearing the top bits and
/// retrying downwards (keeps edge values such as p - 1 reachable).
fn elem(mut b: [u8; 17]) -> FieldElement {
    b[16] &= 3;
    loop {
        if let Ok(x) = FieldElement::from_bytes(&b) {
            return x;
        }
        b[0] = b[0].wrapping_sub(8);
    }
}

fn edge_or_any() -> impl Strategy<Value = [u8; 17]> {
    prop_oneof![
        any::<[u8; 17]>(),
        Just([0u8; 17]),
        Just({
            let mut m = [0xffu8; 17];
            m[0] = 0xfa;
            m[16] = 3;
            m
        }),
        Just({
            let mut m = [0u8; 17];
            m[16] = 2;
            m
        }),
        Just([0xff; 17]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn field_matches_bigint_reference(a in edge_or_any(), b in edge_or_any()) {
        let (x, y) = (elem(a), elem(b));
        let (bx, by, p) = (big(x), big(y), p());
        prop_assert!(bx < p && by < p);
        prop_assert_eq!(big(x + y), (&bx + &by) % &p);
        prop_assert_eq!(big(x - y), (&bx + &p - &by) % &p);
        prop_assert_eq!(big(x * y), (&bx * &by) % &p);
        prop_assert_eq!(big(-x), (&p - &bx) % &p);
        if bx != BigUint::from(0u8) {
            prop_assert_eq!(big(x * x.invert()), BigUint::from(1u8));
        }
        prop_assert_eq!(FieldElement::from_bytes(&x.to_bytes()).unwrap(), x);
        let k = u16::from_le_bytes([a[3], b[5]]);
        prop_assert_eq!(big(x.mul_small_add(k, y)), (&bx * BigUint::from(k) + &by) % &p);
        // Lazy-reduced dot product over many terms equals the reference sum.
        let terms: Vec<(FieldElement, FieldElement)> = (0..70u64)
            .map(|i| (x * FieldElement::from_u64(i + 1), -y))
            .collect();
        let want = terms.iter().fold(BigUint::from(0u8), |acc, (u, v)| (acc + big(*u) * big(*v)) % &p);
        prop_assert_eq!(big(FieldElement::sum_of_products(terms)), want);
    }

    #[test]
    fn shamir_any_t_subset_reconstructs(
        secret in any::<[u8; 32]>(),
        n in 1usize..40,
        t_frac in 0.0f64..1.0,
        seed in any::<u64>(),
        order in any::<u64>(),
    ) {
        let t = 1 + ((n - 1) as f64 * t_frac) as usize;
        let holders: Vec<ParticipantId> =
            (0..n).map(|i| ParticipantId::new(1 + (i as u16) * 7).unwrap()).collect();
        let shares = shamir::split(&secret, t, &holders, &mut rng(seed)).unwrap();
        // A pseudo-random subset of size >= t in pseudo-random order.
        let mut picked = shares.clone();
        let mut o = order;
        for i in (1..picked.len()).rev() {
            picked.swap(i, (o % (i as u64 + 1)) as usize);
            o = o.rotate_left(7) ^ 0x9e37_79b9_7f4a_7c15;
        }
        let keep = t + (order as usize % (n - t + 1));
        picked.truncate(keep);
        prop_assert_eq!(*shamir::reconstruct(&picked, t).unwrap(), secret);
        // Round trip through the encoding.
        let decoded: Vec<_> =
            picked.iter().map(|s| shamir::Share::from_bytes(&s.to_bytes()[..]).unwrap()).collect();
        prop_assert_eq!(*shamir::reconstruct(&decoded, t).unwrap(), secret);
        // t - 1 shares are refused.
        prop_assert_eq!(
            shamir::reconstruct(&picked[..t - 1], t).unwrap_err(),
            ShamirError::TooFewShares { got: t - 1, need: t }
        );
    }

    #[test]
    fn reconstructor_is_reusable_across_secrets(seed in any::<u64>(), t in 1usize..12) {
        let holders: Vec<ParticipantId> =
            (1..=(t as u16 + 3)).map(|i| ParticipantId::new(i * 3).unwrap()).collect();
        let r = Reconstructor::new(&holders, t).unwrap();
        let mut g = rng(seed);
        for k in 0..5u8 {
            let secret = [k.wrapping_mul(37); 32];
            let shares = shamir::split(&secret, t, &holders, &mut g).unwrap();
            let refs: Vec<_> = shares.iter().collect();
            prop_assert_eq!(*r.reconstruct(&refs).unwrap(), secret);
        }
    }

    #[test]
    fn pack_unpack_roundtrip(bits in 1u32..=64, len in 0usize..300, seed in any::<u64>()) {
        let b = Bits::new(bits).unwrap();
        let mut g = rng(seed);
        let vals: Vec<u64> = (0..len).map(|_| rand_u64(&mut g) & b.max_element()).collect();
        let v = RingVec::from_u64s(b, &vals).unwrap();
        let packed = v.pack();
        prop_assert_eq!(packed.len(), packed_len(b, len).unwrap());
        prop_assert_eq!(packed.len(), (len * bits as usize).div_ceil(8));
        let back = RingVec::unpack(b, len, &packed).unwrap();
        prop_assert_eq!(back.to_u64s(), vals.clone());
        let mut acc = v.clone();
        acc.unpack_add(b, &packed).unwrap();
        let doubled: Vec<u64> = vals.iter().map(|x| x.wrapping_mul(2) & b.max_element()).collect();
        prop_assert_eq!(acc.to_u64s(), doubled);
    }

    #[test]
    fn pairwise_masks_cancel(seed in any::<u64>(), bits in 1u32..=64, len in 0usize..2100) {
        let mut g = rng(seed);
        let session = SessionId([0x5a; 32]);
        let (u, v) = (ParticipantId::new(3).unwrap(), ParticipantId::new(11).unwrap());
        let (su, sv) = (KexSecretKey::generate(&mut g), KexSecretKey::generate(&mut g));
        let seed_uv = su.agree(&sv.public_key()).unwrap().pairwise_mask_seed(&session, u, v);
        let seed_vu = sv.agree(&su.public_key()).unwrap().pairwise_mask_seed(&session, v, u);
        prop_assert_eq!(&seed_uv, &seed_vu);
        let b = Bits::new(bits).unwrap();
        let prg = MaskPrg::ALL[(seed % 2) as usize];
        let x = RingVec::from_u64s_reduced(b, (0..len as u64).map(|i| i.wrapping_mul(seed)));
        // u (smaller index) adds, v subtracts: the sum of both contributions is unmasked.
        let mut y_u = x.clone();
        add_mask(prg, &seed_uv, &mut y_u).unwrap();
        let mut y_v = RingVec::zeros(b, len);
        sub_mask(prg, &seed_vu, &mut y_v).unwrap();
        y_u.add_assign(&y_v).unwrap();
        prop_assert_eq!(y_u, x);
    }

    #[test]
    fn quantized_sum_error_within_bound(
        clients in 1usize..20,
        len in 1usize..50,
        clip in 0.01f64..100.0,
        level_bits in 1u32..30,
        seed in any::<u64>(),
    ) {
        let levels = (1u64 << level_bits) + 1;
        let bits = secagg::quantize::bits_for(clients as u64, levels).unwrap();
        let q = Quantizer::new(clip, levels, bits, clients as u64).unwrap();
        let mut g = rng(seed);
        let mut sum = RingVec::zeros(bits, len);
        let mut exact = vec![0f64; len];
        for _ in 0..clients {
            // Inputs up to 1.5 c, so clipping is exercised too.
            let w = (rand_u64(&mut g) % 1000) as f64 / 500.0;
            let xs: Vec<f64> = (0..len)
                .map(|_| ((rand_u64(&mut g) % 2001) as f64 / 1000.0 - 1.0) * 1.5 * clip)
                .collect();
            for (e, x) in exact.iter_mut().zip(&xs) {
                *e += (w * x).clamp(-clip, clip);
            }
            sum.add_assign(&q.quantize(&xs, w, &mut g).unwrap()).unwrap();
        }
        let got = q.dequantize_sum(&sum, clients as u64).unwrap();
        let bound = clients as f64 * q.step();
        for (g, e) in got.iter().zip(&exact) {
            // Strictly below m * delta, plus a relative float-rounding allowance.
            prop_assert!((g - e).abs() < bound + 1e-9 * clip * clients as f64, "{g} vs {e} bound {bound}");
        }
    }
}

fn rand_u64(g: &mut ChaCha20Rng) -> u64 {
    use chacha20::rand_core::Rng;
    g.next_u64()
}
