//! [`AesCtrRng`], the sampling generator this module recommends where the CPU has AES
//! instructions: the AES-128-CTR keystream, generated 2 KiB at a time.
//!
//! Why: a client's cost is almost entirely random words (GRR and HR draw one per report, LH three,
//! the unary encodings about 8 per 64 bits), and with hardware AES (AES-NI / VAES on x86-64, the
//! ARMv8 crypto extension) the AES-128-CTR keystream is several times faster than ChaCha20's
//! `next_u64` (measured by `examples/ldp_speed.rs`: see `benches/ldp_compare.py`). It is a
//! cryptographic generator (AES in counter mode, as in NIST SP 800-90A's CTR_DRBG without
//! reseeding); the samplers are exact for any generator, so the choice changes speed, not the
//! distributions. Without hardware AES the `aes` crate falls back to a constant-time bitsliced
//! implementation, slower than [`chacha20::ChaCha12Rng`], which is then the better choice: both
//! implement `rand_core::CryptoRng`, and every randomiser accepts either.
//!
//! Definition (normative for reproducibility): key = `seed[0..16]`, initial 128-bit big-endian
//! counter block = `seed[16..32]`; the output is the keystream bytes in order, `next_u64` and
//! `next_u32` reading 8 and 4 little-endian bytes. The buffered, not yet used keystream is
//! zeroized on drop (the cipher's key schedule is zeroized by `aes`).

use core::convert::Infallible;

use aes::Aes128;
use ctr::cipher::{KeyIvInit, StreamCipher};
use rand_core::{SeedableRng, TryCryptoRng, TryRng};

type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// Keystream bytes generated per refill.
const BUF: usize = 2048;

/// AES-128-CTR keystream as a `rand_core::CryptoRng` (see the module docs).
pub struct AesCtrRng {
    cipher: Aes128Ctr,
    buf: [u8; BUF],
    pos: usize,
}

impl core::fmt::Debug for AesCtrRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AesCtrRng { .. }")
    }
}

impl AesCtrRng {
    #[inline]
    fn refill(&mut self) {
        self.cipher.write_keystream(&mut self.buf);
        self.pos = 0;
    }

    #[inline]
    fn take<const N: usize>(&mut self) -> [u8; N] {
        // a direct N-byte load from the buffer (no zeroed temporary to copy into)
        if let Some(src) = self
            .buf
            .get(self.pos..self.pos + N)
            .and_then(|s| <&[u8; N]>::try_from(s).ok())
        {
            self.pos += N;
            return *src;
        }
        // the keystream continues across the refill
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }

    fn fill(&mut self, dst: &mut [u8]) {
        let mut dst = dst;
        while !dst.is_empty() {
            if self.pos >= BUF {
                self.refill();
            }
            let n = dst.len().min(BUF - self.pos);
            let (head, tail) = dst.split_at_mut(n);
            head.copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            dst = tail;
        }
    }
}

impl SeedableRng for AesCtrRng {
    type Seed = [u8; 32];

    fn from_seed(seed: [u8; 32]) -> Self {
        let mut key = [0u8; 16];
        let mut iv = [0u8; 16];
        key.copy_from_slice(&seed[..16]);
        iv.copy_from_slice(&seed[16..]);
        let cipher = Aes128Ctr::new(&key.into(), &iv.into());
        zeroize::Zeroize::zeroize(&mut key);
        AesCtrRng {
            cipher,
            buf: [0; BUF],
            pos: BUF,
        }
    }
}

impl TryRng for AesCtrRng {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(u32::from_le_bytes(self.take::<4>()))
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(u64::from_le_bytes(self.take::<8>()))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

impl TryCryptoRng for AesCtrRng {}

impl Drop for AesCtrRng {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn output_is_the_aes_ctr_keystream() {
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = i as u8 * 7 + 1;
        }
        let mut want = vec![0u8; 5000];
        let mut c = Aes128Ctr::new(
            &seed[..16].try_into().unwrap(),
            &seed[16..].try_into().unwrap(),
        );
        c.apply_keystream(&mut want);
        // mixed reads cross refills at odd offsets
        let mut r = AesCtrRng::from_seed(seed);
        let mut got = Vec::new();
        let mut i = 0;
        while got.len() + 16 <= want.len() {
            match i % 3 {
                0 => got.extend_from_slice(&r.next_u32().to_le_bytes()),
                1 => got.extend_from_slice(&r.next_u64().to_le_bytes()),
                _ => {
                    let mut b = [0u8; 3];
                    r.fill_bytes(&mut b);
                    got.extend_from_slice(&b);
                }
            }
            i += 1;
        }
        assert_eq!(got[..], want[..got.len()]);
        // FIPS-197 / SP 800-38A F.5.1 (CTR-AES128.Encrypt), block 1 keystream
        let key = hex_bytes("2b7e151628aed2a6abf7158809cf4f3c");
        let iv = hex_bytes("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        let mut s = [0u8; 32];
        s[..16].copy_from_slice(&key);
        s[16..].copy_from_slice(&iv);
        let mut ks = [0u8; 16];
        AesCtrRng::from_seed(s).fill_bytes(&mut ks);
        let pt = hex_bytes("6bc1bee22e409f96e93d7e117393172a");
        let ct = hex_bytes("874d6191b620e3261bef6864990db6ce");
        let x: Vec<u8> = ks.iter().zip(&pt).map(|(a, b)| a ^ b).collect();
        assert_eq!(x, ct);
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
