//! Targets `shamir_reconstruct`, `unpack` and `quantize`.

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;

use super::input::Src;
use crate::ids::ParticipantId;
use crate::quantize::{bits_for, QuantizeError, Quantizer};
use crate::ring::{packed_len, Bits, PackError, RingVec};
use crate::shamir::{self, Reconstructor, Share, SHARE_LEN};

/// `shamir_reconstruct`. Input: `u8 mode`, then
/// * even mode, arbitrary shares: `u8 threshold, u8 count, count * SHARE_LEN bytes`; decoding
///   and reconstruction must not panic, and a successful reconstruction is deterministic;
/// * odd mode, round trip: `secret (32), u8 t, u8 extra, u64 rng seed, (t + extra) * u16 holder,
///   u8 rotation, u16 tamper position`: shares of the secret, any `t` or more of them (rotated)
///   rebuild it, and altering one share beyond the first `t` is detected.
pub fn shamir_reconstruct(data: &[u8]) {
    let mut src = Src::new(data);
    if src.u8().is_multiple_of(2) {
        let t = (src.u8() % 8) as usize;
        let count = (src.u8() % 12) as usize;
        let shares: Vec<Share> = (0..count)
            .filter_map(|_| Share::from_bytes(src.bytes(SHARE_LEN)).ok())
            .collect();
        for s in &shares {
            assert_eq!(Share::from_bytes(&*s.to_bytes()).as_ref(), Ok(s));
        }
        let a = shamir::reconstruct(&shares, t);
        let b = shamir::reconstruct(&shares, t);
        assert_eq!(a.as_deref().ok(), b.as_deref().ok());
        let xs: Vec<ParticipantId> = shares.iter().map(Share::x).collect();
        if let Ok(r) = Reconstructor::new(&xs, t) {
            let refs: Vec<&Share> = shares.iter().collect();
            let _ = r.reconstruct(&refs);
        }
        return;
    }
    let secret: [u8; 32] = src.array();
    let t = (src.u8() % 6) as usize + 1;
    let extra = (src.u8() % 4) as usize;
    let mut rng = ChaCha20Rng::seed_from_u64(src.u64());
    let holders: Vec<ParticipantId> = (0..t + extra)
        .map(|_| ParticipantId::new(src.u16().max(1)).expect("nonzero id"))
        .collect();
    let Ok(mut shares) = shamir::split(&secret, t, &holders, &mut rng) else {
        // Duplicate holders: typed error.
        return;
    };
    let rot = src.u8() as usize % shares.len();
    shares.rotate_left(rot);
    let got = shamir::reconstruct(&shares, t).expect("honest shares reconstruct");
    assert_eq!(*got, secret);
    let got = shamir::reconstruct(&shares[..t], t).expect("any t shares reconstruct");
    assert_eq!(*got, secret);
    if extra > 0 {
        let pos = src.u16() as usize % (SHARE_LEN - 2) + 2;
        let victim = t + (pos % extra);
        let mut b = *shares[victim].to_bytes();
        b[pos] ^= 1;
        if let Ok(bad) = Share::from_bytes(&b) {
            shares[victim] = bad;
            assert!(
                shamir::reconstruct(&shares, t).is_err(),
                "tampered share went unnoticed"
            );
        }
    }
}

/// `unpack`. Input: `u8 width` (1 + w % 64), `u8 mode`, then for mode 1 a u32 and for mode 2 a
/// u64 element count (mode 0: as many elements as fit), then the packed bytes. Unpacking must
/// fail with a typed error or give elements below 2^bits that pack back to the same bytes; adding
/// the bytes into a zero vector gives the same elements.
pub fn unpack(data: &[u8]) {
    let mut src = Src::new(data);
    let bits = Bits::new(src.u8() as u32 % 64 + 1).expect("1..=64");
    let mode = src.u8() % 3;
    let len = match mode {
        1 => src.u32() as usize,
        2 => src.u64() as usize,
        _ => 0,
    };
    let bytes = src.rest();
    let len = if mode == 0 {
        bytes.len() * 8 / bits.get() as usize
    } else {
        len
    };
    let expected = packed_len(bits, len);
    match RingVec::unpack(bits, len, bytes) {
        Ok(v) => {
            assert_eq!(Some(bytes.len()), expected);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|x| x <= bits.max_element()));
            assert_eq!(v.pack(), bytes, "non-canonical encoding accepted");
            let mut acc = RingVec::zeros(bits, len);
            acc.unpack_add(bits, bytes).expect("same input adds");
            assert_eq!(acc, v);
            let other = Bits::new(bits.get() % 64 + 1).expect("1..=64");
            let mut wrong = RingVec::zeros(other, len);
            assert!(matches!(
                wrong.unpack_add(bits, bytes),
                Err(PackError::BitsMismatch { .. })
            ));
        }
        Err(PackError::Length { expected: e, got }) => {
            assert_eq!(Some(e), expected);
            assert_eq!(got, bytes.len());
            assert_ne!(Some(bytes.len()), expected);
        }
        Err(PackError::TooLarge { .. }) => assert_eq!(expected, None),
        Err(PackError::NonZeroPadding) => assert_eq!(Some(bytes.len()), expected),
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// `quantize`. Input: `f64 clip, u64 levels, u8 width, u64 max clients, f64 weight, u8 count`,
/// then `count % 32` f64 inputs and as many u64 rounding words (all f64s as raw bit patterns).
/// Either a typed error (invalid configuration, non-finite input or weight), or every level is in
/// `[0, Q)` and dequantizes to within one step of the clipped weighted input.
pub fn quantize(data: &[u8]) {
    let mut src = Src::new(data);
    let clip = src.f64();
    let levels = src.u64();
    let bits = Bits::new(src.u8() as u32 % 64 + 1).expect("1..=64");
    let max_clients = src.u64();
    let weight = src.f64();
    let count = (src.u8() % 32) as usize;
    let values: Vec<f64> = (0..count).map(|_| src.f64()).collect();
    let words: Vec<u64> = (0..count).map(|_| src.u64()).collect();
    let _ = bits_for(max_clients, levels);
    let q = match Quantizer::new(clip, levels, bits, max_clients) {
        Ok(q) => q,
        Err(
            QuantizeError::InvalidClip(_)
            | QuantizeError::InvalidLevels(_)
            | QuantizeError::NoClients
            | QuantizeError::Overflow { .. },
        ) => return,
        Err(e) => panic!("unexpected configuration error {e}"),
    };
    let step = q.step();
    assert!(step.is_finite() && step > 0.0, "step {step}");
    let v = match q.quantize_with_words(&values, weight, &words) {
        Ok(v) => v,
        Err(QuantizeError::InvalidWeight(_)) => {
            assert!(!(weight.is_finite() && weight >= 0.0));
            return;
        }
        Err(QuantizeError::NonFinite { index }) => {
            assert!(!values[index].is_finite());
            return;
        }
        Err(e) => panic!("unexpected quantization error {e}"),
    };
    assert!(weight.is_finite() && weight >= 0.0 && values.iter().all(|x| x.is_finite()));
    assert_eq!(v.len(), values.len());
    assert_eq!(v.bits(), bits);
    let deq = q.dequantize_sum(&v, 1).expect("one client fits");
    for ((level, x), d) in v.iter().zip(&values).zip(&deq) {
        assert!(level < levels, "level {level} >= Q = {levels}");
        let want = (weight * x).clamp(-clip, clip);
        // One step of rounding, plus float error relative to the range.
        let tol = step * (1.0 + 1e-9) + clip * 1e-12;
        assert!(
            (d - want).abs() <= tol,
            "input {x} (weight {weight}, clip {clip}, Q {levels}): level {level} \
             dequantizes to {d}, more than one step {step} from {want}"
        );
    }
    if max_clients < u64::MAX {
        assert!(q.dequantize_sum(&v, max_clients + 1).is_err());
    }
}
