//! The mask PRG: a 32-byte seed expanded by the session's cipher suite ([`MaskPrg`]) into
//! elements of Z_{2^bits} (spec section "Mask expansion").
//!
//! ```text
//! suite 1 (ChaCha20):    keystream = ChaCha20(key = seed, nonce = 0^12, initial counter = 0)
//!                                    (RFC 8439)
//! suite 2 (AES-128-CTR): keystream = AES-128-CTR(key = seed[0..16], initial counter block 0^16,
//!                                    incremented as a 128-bit big-endian integer) (SP 800-38A)
//! mask      = unpack(bits, L, keystream[0 .. ceil(L * bits / 8)])       (see ring::pack)
//! ```
//!
//! i.e. the keystream is read as a little-endian bit string and cut into `bits`-bit elements, the
//! same layout as a packed vector (without the zero-padding rule: leftover keystream bits are
//! discarded). Every element is uniform in Z_{2^bits} because the keystream bits are.
//!
//! Why two suites: AES-CTR runs at several GB/s per core on CPUs with AES instructions (x86
//! AES-NI, ARMv8 crypto extensions; the `aes` crate detects them at run time), about 3x the
//! portable ChaCha20 here; without them its constant-time (bitsliced) software fallback is
//! slower than ChaCha20, so devices without AES hardware keep suite 1. Why AES-128 and not
//! AES-256: the seed is the output of an X25519 agreement or a 256-bit secret, both at the
//! 128-bit level, and the measured AES-256 keystream is slower (spec section "Mask expansion"
//! gives the figures). The key is the first half of the 32-byte seed (a uniformly random string,
//! so its halves are too).
//!
//! Expansion never allocates a mask vector: [`add_mask`] and [`sub_mask`] generate the keystream in
//! small stack blocks and fold each block into the caller's vector. Both suites bound one mask to
//! 2^32 - 1 blocks of 64 bytes (256 GiB - 64 bytes) of keystream, ChaCha20's block-counter limit;
//! longer requests are a typed error (no session comes near it: L <= 2^28 elements of <= 8 bytes).

#[cfg(any(feature = "client", feature = "server"))]
use crate::prelude::*;

use super::kdf::{derive32, Context, Label};
use super::secret::secret_bytes;
use crate::ids::{ParticipantId, Round, SessionId};
use crate::ring::{packed_len, Bits, Combine, Elems, RingVec, Word};
use aes::Aes128;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20;

secret_bytes!(
    /// A 32-byte seed from which a mask is expanded (a pairwise seed `s_uv` or a self-mask seed).
    MaskSeed,
    32
);

secret_bytes!(
    /// The self-mask secret `b_u`: drawn fresh by each client per session and Shamir-shared.
    SelfMaskSecret,
    32
);

impl SelfMaskSecret {
    /// A binding commitment to `b_u`, published in round 1 so the server can recognise a
    /// correctly reconstructed seed (and reject one shifted by a malicious share):
    /// `SHA-256(u8(6) || "secagg" || u8(VERSION) || u8(20) || "self mask commitment"
    /// || session_id || u16be(owner) || b_u)`.
    pub fn commitment(&self, session: &SessionId, owner: ParticipantId) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        const LABEL: &[u8] = b"self mask commitment";
        let mut h = Sha256::new();
        h.update([super::DOMAIN.len() as u8]);
        h.update(super::DOMAIN);
        h.update([super::PROTOCOL_VERSION, LABEL.len() as u8]);
        h.update(LABEL);
        h.update(session.as_bytes());
        h.update(owner.to_be_bytes());
        h.update(self.expose());
        h.finalize().into()
    }

    /// The seed of the self mask `PRG(b_u)`, bound to the session and owner.
    pub fn mask_seed(&self, session: &SessionId, owner: ParticipantId) -> MaskSeed {
        let ctx = Context::new(Label::SelfMask)
            .session(session)
            .round(Round::MaskedInput)
            .participant(owner);
        MaskSeed::from_bytes(*derive32(self.expose(), &ctx))
    }
}

/// The mask PRG cipher suite: a session parameter (encoded in the session id), so clients and
/// server always expand a seed the same way, and a client policy can refuse a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MaskPrg {
    /// Suite 1: ChaCha20 (RFC 8439). For devices without AES hardware.
    ChaCha20,
    /// Suite 2: AES-128 in counter mode (NIST SP 800-38A). The default for new sessions.
    Aes128Ctr,
}

impl MaskPrg {
    /// Every suite, in code order.
    pub const ALL: [MaskPrg; 2] = [MaskPrg::ChaCha20, MaskPrg::Aes128Ctr];

    /// The suite's code in the parameter encoding.
    pub const fn code(self) -> u8 {
        match self {
            MaskPrg::ChaCha20 => 1,
            MaskPrg::Aes128Ctr => 2,
        }
    }

    /// The suite with this code, if any.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(MaskPrg::ChaCha20),
            2 => Some(MaskPrg::Aes128Ctr),
            _ => None,
        }
    }

    /// A short name (`chacha20`, `aes128-ctr`), as in configuration files.
    pub const fn name(self) -> &'static str {
        match self {
            MaskPrg::ChaCha20 => "chacha20",
            MaskPrg::Aes128Ctr => "aes128-ctr",
        }
    }

    /// The suite with this [`Self::name`], if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl core::fmt::Display for MaskPrg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// One seed's keystream under a suite. Both ciphers zeroize their key state on drop.
// The AES variant (expanded keys for both the hardware and the software backend) is larger; the
// value lives on the stack for one mask at a time, where boxing would cost an allocation per
// mask and chunk.
#[allow(clippy::large_enum_variant)]
enum Keystream {
    ChaCha(ChaCha20),
    Aes(Aes128Ctr),
}

impl Keystream {
    fn new(prg: MaskPrg, seed: &MaskSeed) -> Self {
        let key = seed.expose();
        match prg {
            MaskPrg::ChaCha20 => Keystream::ChaCha(ChaCha20::new(key.into(), &[0u8; 12].into())),
            MaskPrg::Aes128Ctr => {
                let mut k = [0u8; 16];
                k.copy_from_slice(&key[..16]);
                let c = Aes128Ctr::new(&k.into(), &[0u8; 16].into());
                zeroize::Zeroize::zeroize(&mut k);
                Keystream::Aes(c)
            }
        }
    }

    /// Positions the keystream at byte `offset` (callers pass offsets below [`MAX_KEYSTREAM`]).
    fn seek(&mut self, offset: u64) {
        match self {
            Keystream::ChaCha(c) => c.seek(offset),
            Keystream::Aes(c) => c.seek(offset),
        }
    }

    fn write(&mut self, buf: &mut [u8]) {
        match self {
            Keystream::ChaCha(c) => c.write_keystream(buf),
            Keystream::Aes(c) => c.write_keystream(buf),
        }
    }
}

/// Errors of mask expansion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrgError {
    /// The mask needs more keystream than one seed may produce (256 GiB).
    #[error("a mask of {len} elements of {bits} bits exceeds the 256 GiB keystream limit")]
    TooLong {
        /// Requested length.
        len: usize,
        /// Element width.
        bits: u32,
    },
    /// Internal: the accumulator word or the output length does not fit the width and length.
    #[error("mask output layout does not match the ring width and length")]
    Layout,
}

/// Largest keystream one seed may produce: the IETF ChaCha20 32-bit block counter yields
/// 2^32 - 1 blocks of 64 bytes from counter 0 (the crate refuses the last counter value).
const MAX_KEYSTREAM: u64 = 64 * ((1 << 32) - 1);

/// Elements per keystream block: a multiple of 8 so every block boundary is byte-aligned
/// (block bytes = 128 * bits, at most 8 KiB, a multiple of the 64-byte ChaCha block).
const BLOCK_ELEMS: usize = 1024;

fn check(bits: Bits, len: usize) -> Result<(), PrgError> {
    match packed_len(bits, len) {
        Some(n) if (n as u64) <= MAX_KEYSTREAM => Ok(()),
        _ => Err(PrgError::TooLong {
            len,
            bits: bits.get(),
        }),
    }
}

fn expand_into<W: Word>(prg: MaskPrg, seed: &MaskSeed, bits: Bits, dst: &mut [W], op: Combine) {
    let mut cipher = Keystream::new(prg, seed);
    let mut buf = [0u8; BLOCK_ELEMS * 8];
    for chunk in dst.chunks_mut(BLOCK_ELEMS) {
        // Full chunks are byte-aligned; only the last one may end mid-byte.
        let n = (chunk.len() * bits.get() as usize).div_ceil(8);
        let ks = &mut buf[..n];
        cipher.write(ks);
        crate::ring::combine_keystream(bits, ks, chunk, op);
    }
    zeroize::Zeroize::zeroize(&mut buf);
}

fn apply(prg: MaskPrg, seed: &MaskSeed, v: &mut RingVec, op: Combine) -> Result<(), PrgError> {
    let bits = v.bits();
    check(bits, v.len())?;
    match v.elems_mut() {
        Elems::Narrow(d) => expand_into(prg, seed, bits, d, op),
        Elems::Wide(d) => expand_into(prg, seed, bits, d, op),
    }
    Ok(())
}

/// Whether a mask is added to or subtracted from a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskSign {
    /// `v += PRG(seed)`.
    Add,
    /// `v -= PRG(seed)`.
    Sub,
}

/// Elements per cache chunk of [`apply_masks`]: 8192 elements are 32 KiB of `u32` words, which stay
/// in L1/L2 while every mask's keystream for them is folded in. A multiple of `BLOCK_ELEMS`, so
/// every chunk starts on a byte (indeed a 64-byte ChaCha block) boundary of every mask's keystream.
pub const CHUNK_ELEMS: usize = 8 * BLOCK_ELEMS;

/// Folds every mask's keystream for elements `start .. start + dst.len()` into `dst`.
/// `start` must be a multiple of [`BLOCK_ELEMS`], so the keystream offset `start * bits / 8` is a
/// whole number of 64-byte blocks and the result is bit-identical to expanding each mask from
/// element 0 (the block layout of [`expand_into`] is reproduced exactly).
///
/// The keystream is folded in by the width kernels of [`mask_and_pack`] (modulo the word, which
/// 2^bits divides) and the chunk is reduced to `bits` once at the end.
fn masks_into<W: MaskWord>(
    prg: MaskPrg,
    masks: &[(&MaskSeed, MaskSign)],
    bits: Bits,
    dst: &mut [W],
    start: usize,
) {
    debug_assert_eq!(start % BLOCK_ELEMS, 0);
    let b = bits.get() as usize;
    let offset = (start as u64) * b as u64 / 8;
    let mut buf = [0u8; BLOCK_ELEMS * 8 + KS_PAD];
    for (seed, sign) in masks {
        let mut cipher = Keystream::new(prg, seed);
        cipher.seek(offset);
        for chunk in dst.chunks_mut(BLOCK_ELEMS) {
            let n = (chunk.len() * b).div_ceil(8);
            cipher.write(&mut buf[..n]);
            kernels::combine(b, &buf[..n + KS_PAD], chunk, *sign == MaskSign::Sub);
        }
    }
    let max = W::from_u64(bits.max_element());
    for x in dst.iter_mut() {
        *x = x.and(max);
    }
    zeroize::Zeroize::zeroize(&mut buf);
}

/// `v += sum_i sign_i * PRG(seed_i)` in place: the same result as calling [`add_mask`] /
/// [`sub_mask`] once per mask, but in one pass over `v`, chunk by chunk (each chunk of `v` stays
/// in cache while all masks' keystreams for it are generated).
pub fn apply_masks(
    prg: MaskPrg,
    masks: &[(&MaskSeed, MaskSign)],
    v: &mut RingVec,
) -> Result<(), PrgError> {
    let bits = v.bits();
    check(bits, v.len())?;
    match v.elems_mut() {
        Elems::Narrow(d) => d
            .chunks_mut(CHUNK_ELEMS)
            .enumerate()
            .for_each(|(i, c)| masks_into(prg, masks, bits, c, i * CHUNK_ELEMS)),
        Elems::Wide(d) => d
            .chunks_mut(CHUNK_ELEMS)
            .enumerate()
            .for_each(|(i, c)| masks_into(prg, masks, bits, c, i * CHUNK_ELEMS)),
    }
    Ok(())
}

/// [`apply_masks`] on all rayon worker threads: `v` is cut into byte-aligned coordinate chunks and
/// each thread regenerates every mask's keystream for the chunks it takes (the cipher seeks to the
/// chunk's first block). No memory beyond one 8 KiB keystream buffer per thread; the result is
/// bit-identical to the sequential version. Chunks are small enough (at most [`CHUNK_ELEMS`], and
/// about eight per thread for short vectors) for work stealing to balance the threads.
#[cfg(feature = "server")]
pub fn apply_masks_parallel(
    prg: MaskPrg,
    masks: &[(&MaskSeed, MaskSign)],
    v: &mut RingVec,
) -> Result<(), PrgError> {
    use rayon::prelude::*;
    let bits = v.bits();
    check(bits, v.len())?;
    let threads = rayon::current_num_threads().max(1);
    if v.len() <= MASK_MAJOR_MAX_ELEMS && masks.len() >= 4 * threads {
        // Short vectors, many masks (n = 10 000, L = 10 000): cutting the vector would set up
        // every mask's cipher once per piece, so cut the masks instead. Each task expands whole
        // masks into its own zeroed vector (small enough to stay in cache) and the partial sums
        // are added up at the end; ring addition commutes, so the result is bit-identical.
        let groups = masks.len().div_ceil(4 * threads);
        match v.elems_mut() {
            Elems::Narrow(d) => mask_major(prg, masks, bits, d, groups),
            Elems::Wide(d) => mask_major(prg, masks, bits, d, groups),
        }
        return Ok(());
    }
    let per_thread = v.len().div_ceil(8 * threads);
    let chunk = per_thread
        .next_multiple_of(BLOCK_ELEMS)
        .clamp(BLOCK_ELEMS, CHUNK_ELEMS);
    match v.elems_mut() {
        Elems::Narrow(d) => d
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| masks_into(prg, masks, bits, c, i * chunk)),
        Elems::Wide(d) => d
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| masks_into(prg, masks, bits, c, i * chunk)),
    }
    Ok(())
}

/// Longest vector (elements) for which [`apply_masks_parallel`] splits the masks rather than the
/// vector: 64 Ki elements are 256 KiB of `u32` words per partial sum.
#[cfg(feature = "server")]
const MASK_MAJOR_MAX_ELEMS: usize = 1 << 16;

/// `dst += sum of masks`, the masks split in groups of `group` across the rayon threads, each
/// group summed into its own zeroed vector.
#[cfg(feature = "server")]
fn mask_major<W: MaskWord>(
    prg: MaskPrg,
    masks: &[(&MaskSeed, MaskSign)],
    bits: Bits,
    dst: &mut [W],
    group: usize,
) where
    Vec<W>: zeroize::Zeroize,
{
    use rayon::prelude::*;
    let mask = W::from_u64(bits.max_element());
    let len = dst.len();
    let partial = masks
        .par_chunks(group.max(1))
        .fold(
            || vec![W::default(); len],
            |mut acc, g| {
                masks_into(prg, g, bits, &mut acc, 0);
                acc
            },
        )
        .reduce_with(|mut a, mut b| {
            add_words(&mut a, &b, mask);
            zeroize::Zeroize::zeroize(&mut b);
            a
        });
    if let Some(mut p) = partial {
        add_words(dst, &p, mask);
        zeroize::Zeroize::zeroize(&mut p);
    }
}

#[cfg(feature = "server")]
fn add_words<W: Word>(a: &mut [W], b: &[W], mask: W) {
    a.iter_mut()
        .zip(b)
        .for_each(|(x, &y)| *x = x.wrapping_add(y).and(mask));
}

/// `v += PRG(seed)` in place.
pub fn add_mask(prg: MaskPrg, seed: &MaskSeed, v: &mut RingVec) -> Result<(), PrgError> {
    apply(prg, seed, v, Combine::Add)
}

/// `v -= PRG(seed)` in place.
pub fn sub_mask(prg: MaskPrg, seed: &MaskSeed, v: &mut RingVec) -> Result<(), PrgError> {
    apply(prg, seed, v, Combine::Sub)
}

/// The mask `PRG(seed)` as a new vector (test vectors and diagnostics; the protocol uses
/// [`add_mask`] / [`sub_mask`]).
pub fn expand(prg: MaskPrg, seed: &MaskSeed, bits: Bits, len: usize) -> Result<RingVec, PrgError> {
    check(bits, len)?;
    let mut v = RingVec::zeros(bits, len);
    match v.elems_mut() {
        Elems::Narrow(d) => expand_into(prg, seed, bits, d, Combine::Assign),
        Elems::Wide(d) => expand_into(prg, seed, bits, d, Combine::Assign),
    }
    Ok(v)
}

// ------------------------------------------------------------------------------------------------
// Fused client masking: the masked-input message body in one pass.

/// Elements per chunk of [`mask_and_pack`]: 4096 `u32` accumulators (16 KiB) and one mask's
/// keystream for them (at most 16 KiB for widths up to 32 bits) stay in L1 while every mask is
/// folded in. A multiple of 8, so every chunk starts on a byte of the keystream and of the packed
/// output.
#[cfg(feature = "client")]
const FUSED_ELEMS: usize = 4096;

/// Keystream bytes read past a chunk's last element by the width kernels (they read whole
/// 8- or 16-byte words); never part of any element's bits.
const KS_PAD: usize = 16;

/// The packed masked vector `pack(x + sum_i sign_i * PRG(seed_i))` written into `out`
/// (exactly `packed_len(bits, len)` bytes), where `fill(start, dst)` writes the plaintext elements
/// `start .. start + dst.len()` (each `< 2^bits`) into `dst`, called once per chunk in order.
/// Byte-identical to [`apply_masks`] on the whole vector followed by `RingVec::pack`, without the
/// vector: each chunk is produced, masked by every seed's keystream (one cipher per seed, read
/// sequentially) and packed while it is in cache, and the accumulator is erased at the end.
///
/// Elements are accumulated modulo the word (2^32 or 2^64) and reduced to `bits` only when
/// packed, which is exact because 2^bits divides the word's modulus; the width kernels read the
/// keystream as whole words, monomorphised per width so every shift is a constant.
#[cfg(feature = "client")]
pub(crate) fn mask_and_pack<W: MaskWord>(
    prg: MaskPrg,
    masks: &[(&MaskSeed, MaskSign)],
    bits: Bits,
    len: usize,
    mut fill: impl FnMut(usize, &mut [W]),
    out: &mut [u8],
) -> Result<(), PrgError> {
    check(bits, len)?;
    let b = bits.get() as usize;
    if W::NARROW != bits.is_narrow() || packed_len(bits, len) != Some(out.len()) {
        return Err(PrgError::Layout);
    }
    let mut ciphers: Vec<(Keystream, MaskSign)> = masks
        .iter()
        .map(|(seed, sign)| (Keystream::new(prg, seed), *sign))
        .collect();
    let mut acc = zeroize::Zeroizing::new(vec![W::default(); FUSED_ELEMS.min(len)]);
    let mut ks = zeroize::Zeroizing::new(vec![0u8; FUSED_ELEMS * b / 8 + KS_PAD]);
    let mut start = 0;
    let mut out_at = 0;
    while start < len {
        let n = FUSED_ELEMS.min(len - start);
        let dst = &mut acc[..n];
        fill(start, dst);
        let nbytes = (n * b).div_ceil(8);
        for (cipher, sign) in ciphers.iter_mut() {
            cipher.write(&mut ks[..nbytes]);
            kernels::combine(b, &ks[..nbytes + KS_PAD], dst, *sign == MaskSign::Sub);
        }
        kernels::pack(b, dst, &mut out[out_at..out_at + nbytes]);
        out_at += nbytes;
        start += n;
    }
    Ok(())
}

/// Width-specialised kernels of [`mask_and_pack`].
mod kernels {
    use crate::ring::Word;

    /// `dst[i] +=/-= element i of the keystream` (modulo the word; not reduced to `B` bits).
    /// `ks` holds the chunk's keystream followed by at least [`super::KS_PAD`] readable bytes.
    #[inline(always)]
    fn combine_b<W: Word, const B: usize, const SUB: bool>(ks: &[u8], dst: &mut [W]) {
        #[inline(always)]
        fn read<const B: usize>(src: &[u8], bit: usize) -> u64 {
            let (p, s) = (bit / 8, bit % 8);
            if B.is_multiple_of(8) {
                // Byte-aligned widths: exactly the element's bytes, so the compiler sees loads
                // of adjacent words and vectorizes them as such (a wider read truncated to the
                // word became two loads and shuffles per vector at 32 bits).
                let mut w = [0u8; 8];
                w[..B / 8].copy_from_slice(&src[p..p + B / 8]);
                u64::from_le_bytes(w)
            } else if B + 7 <= 64 {
                let mut w = [0u8; 8];
                w.copy_from_slice(&src[p..p + 8]);
                u64::from_le_bytes(w) >> s
            } else {
                let mut w = [0u8; 16];
                w.copy_from_slice(&src[p..p + 16]);
                (u128::from_le_bytes(w) >> s) as u64
            }
        }
        let (groups, tail) = dst.as_chunks_mut::<8>();
        for (g, d) in groups.iter_mut().enumerate() {
            // One bounds check per 8 elements (B bytes); the offsets below are constants.
            let src = &ks[g * B..g * B + B + 16];
            for (j, x) in d.iter_mut().enumerate() {
                let k = W::from_u64(read::<B>(src, j * B));
                *x = if SUB {
                    x.wrapping_sub(k)
                } else {
                    x.wrapping_add(k)
                };
            }
        }
        let base = groups.len() * 8 * B;
        for (j, x) in tail.iter_mut().enumerate() {
            let k = W::from_u64(read::<B>(ks, base + j * B));
            *x = if SUB {
                x.wrapping_sub(k)
            } else {
                x.wrapping_add(k)
            };
        }
    }

    fn add_b<W: Word, const B: usize>(ks: &[u8], dst: &mut [W]) {
        combine_b::<W, B, false>(ks, dst)
    }

    fn sub_b<W: Word, const B: usize>(ks: &[u8], dst: &mut [W]) {
        combine_b::<W, B, true>(ks, dst)
    }

    /// Packs `src` (reduced to `B` bits here) into `out`, `ceil(src.len() * B / 8)` bytes, high
    /// bits of the last byte zero.
    // Packing serves the client's fused pass only; builds without the client keep combine.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    #[inline(always)]
    fn pack_b<W: Word, const B: usize>(src: &[W], out: &mut [u8]) {
        let mask = u64::MAX >> (64 - B);
        let (groups, tail) = src.as_chunks::<8>();
        for (g, d) in groups.iter().enumerate() {
            let o = &mut out[g * B..g * B + B];
            let mut acc: u128 = 0;
            let mut have = 0;
            let mut at = 0;
            for x in d {
                acc |= ((x.to_u64() & mask) as u128) << have;
                have += B;
                if have >= 64 {
                    o[at..at + 8].copy_from_slice(&(acc as u64).to_le_bytes());
                    acc >>= 64;
                    have -= 64;
                    at += 8;
                }
            }
            // 8 * B bits in all: what is left is a whole number of bytes.
            let rest = &mut o[at..];
            let r = rest.len();
            rest.copy_from_slice(&(acc as u64).to_le_bytes()[..r]);
        }
        let mut acc: u128 = 0;
        let mut have = 0;
        let mut at = groups.len() * B;
        for x in tail {
            acc |= ((x.to_u64() & mask) as u128) << have;
            have += B;
            while have >= 8 {
                out[at] = acc as u8;
                acc >>= 8;
                have -= 8;
                at += 1;
            }
        }
        if have > 0 {
            out[at] = acc as u8;
        }
    }

    macro_rules! dispatch {
        ($b:expr, $f:ident::<$w:ty, {$($n:literal)*}>($x:expr, $y:expr)) => {
            match $b {
                $($n => $f::<$w, $n>($x, $y),)*
                // Not reached: `mask_and_pack` checks that the width belongs to the word.
                _ => {}
            }
        };
    }

    /// Per-width dispatch for one word type.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) trait Kernels: Word + zeroize::Zeroize {
        /// Whether this word stores widths up to 32 (else 33..=64).
        const NARROW: bool;
        fn combine(b: usize, ks: &[u8], dst: &mut [Self], sub: bool);
        fn pack(b: usize, src: &[Self], out: &mut [u8]);
    }

    impl Kernels for u32 {
        const NARROW: bool = true;
        fn combine(b: usize, ks: &[u8], dst: &mut [u32], sub: bool) {
            if sub {
                dispatch!(b, sub_b::<u32, {1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
                    21 22 23 24 25 26 27 28 29 30 31 32}>(ks, dst))
            } else {
                dispatch!(b, add_b::<u32, {1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
                    21 22 23 24 25 26 27 28 29 30 31 32}>(ks, dst))
            }
        }
        fn pack(b: usize, src: &[u32], out: &mut [u8]) {
            dispatch!(b, pack_b::<u32, {1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
                21 22 23 24 25 26 27 28 29 30 31 32}>(src, out))
        }
    }

    impl Kernels for u64 {
        const NARROW: bool = false;
        fn combine(b: usize, ks: &[u8], dst: &mut [u64], sub: bool) {
            if sub {
                dispatch!(b, sub_b::<u64, {33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48
                    49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64}>(ks, dst))
            } else {
                dispatch!(b, add_b::<u64, {33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48
                    49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64}>(ks, dst))
            }
        }
        fn pack(b: usize, src: &[u64], out: &mut [u8]) {
            dispatch!(b, pack_b::<u64, {33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48
                49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64}>(src, out))
        }
    }

    pub(crate) fn combine<W: Kernels>(b: usize, ks: &[u8], dst: &mut [W], sub: bool) {
        W::combine(b, ks, dst, sub)
    }

    #[cfg(feature = "client")]
    pub(crate) fn pack<W: Kernels>(b: usize, src: &[W], out: &mut [u8]) {
        W::pack(b, src, out)
    }
}

pub(crate) use kernels::Kernels as MaskWord;

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn add_then_sub_is_identity() {
        let seed = MaskSeed::from_bytes([3; 32]);
        for prg in MaskPrg::ALL {
            for bits in [1, 7, 8, 16, 32, 33, 63, 64] {
                let b = Bits::new(bits).unwrap();
                let x = RingVec::from_u64s_reduced(b, (0..3000u64).map(|i| i * 0x9e37_79b9));
                let mut y = x.clone();
                add_mask(prg, &seed, &mut y).unwrap();
                assert_ne!(x, y, "{prg} bits {bits}");
                sub_mask(prg, &seed, &mut y).unwrap();
                assert_eq!(x, y, "{prg} bits {bits}");
            }
        }
    }

    #[test]
    fn suites_differ_and_codes_round_trip() {
        let seed = MaskSeed::from_bytes([5; 32]);
        let a = expand(MaskPrg::ChaCha20, &seed, Bits::B32, 64).unwrap();
        let b = expand(MaskPrg::Aes128Ctr, &seed, Bits::B32, 64).unwrap();
        assert_ne!(a, b);
        for p in MaskPrg::ALL {
            assert_eq!(MaskPrg::from_code(p.code()), Some(p));
            assert_eq!(MaskPrg::from_name(p.name()), Some(p));
        }
        assert_eq!(MaskPrg::from_code(0), None);
        assert_eq!(MaskPrg::from_code(3), None);
        assert_eq!(MaskPrg::from_name("aes256-ctr"), None);
    }

    /// NIST SP 800-38A, F.5.1 (CTR-AES128.Encrypt): checks the AES implementation and that the
    /// counter block is incremented as one 128-bit big-endian integer (the second block's
    /// increment carries from byte 15 into byte 14).
    #[test]
    fn nist_sp800_38a_f51_aes128_ctr() {
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let iv = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        let mut buf = hex(concat!(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51",
            "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
        ));
        let want = hex(concat!(
            "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff",
            "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
        ));
        let mut c = Aes128Ctr::new(
            key.as_slice().try_into().unwrap(),
            iv.as_slice().try_into().unwrap(),
        );
        c.apply_keystream(&mut buf);
        assert_eq!(buf, want);
    }

    /// Suite 2 is AES-128-CTR keyed with the seed's first 16 bytes from the all-zero counter
    /// block: its keystream equals the AES encryptions of the big-endian counters 0, 1, 2, ...
    /// (computed here block by block with the raw block cipher), and a seek lands on the same
    /// bytes as generating from the start.
    #[test]
    fn aes_suite_is_ctr_from_zero() {
        use aes::cipher::{BlockCipherEncrypt, KeyInit};
        let seed_bytes: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(29) ^ 0x5a);
        let seed = MaskSeed::from_bytes(seed_bytes);
        let mut ks = Keystream::new(MaskPrg::Aes128Ctr, &seed);
        let mut got = [0u8; 16 * 300];
        ks.write(&mut got);
        let aes = Aes128::new(seed_bytes[..16].try_into().unwrap());
        for (i, block) in got.chunks(16).enumerate() {
            let mut b = (i as u128).to_be_bytes().into();
            aes.encrypt_block(&mut b);
            assert_eq!(block, b.as_slice(), "block {i}");
        }
        let mut later = Keystream::new(MaskPrg::Aes128Ctr, &seed);
        later.seek(16 * 257);
        let mut tail = [0u8; 16 * 43];
        later.write(&mut tail);
        assert_eq!(&tail[..], &got[16 * 257..]);
    }

    #[test]
    fn mask_is_keystream_read_as_packed_bits() {
        let seed = MaskSeed::from_bytes([9; 32]);
        for prg in MaskPrg::ALL {
            for bits in [1, 5, 7, 32, 33, 64] {
                let b = Bits::new(bits).unwrap();
                let len = 2500;
                let n = packed_len(b, len).unwrap();
                let mut ks = vec![0u8; n];
                match prg {
                    MaskPrg::ChaCha20 => {
                        ChaCha20::new(&[9u8; 32].into(), &[0u8; 12].into()).apply_keystream(&mut ks)
                    }
                    MaskPrg::Aes128Ctr => Aes128Ctr::new(&[9u8; 16].into(), &[0u8; 16].into())
                        .apply_keystream(&mut ks),
                }
                // Clear the padding bits so the canonical unpacker accepts the keystream.
                let used = (len * bits as usize) % 8;
                if used != 0 {
                    *ks.last_mut().unwrap() &= (1u8 << used) - 1;
                }
                let want = RingVec::unpack(b, len, &ks).unwrap();
                assert_eq!(
                    expand(prg, &seed, b, len).unwrap(),
                    want,
                    "{prg} bits {bits}"
                );
            }
        }
    }

    #[test]
    fn fused_masks_equal_one_by_one() {
        // Enough masks that the parallel version splits the masks (not the vector) for the
        // short lengths below, whatever the number of threads up to 16.
        let seeds: Vec<MaskSeed> = (0..70u8).map(|i| MaskSeed::from_bytes([i; 32])).collect();
        let signs = (0..70).map(|i| {
            if i % 3 == 1 {
                MaskSign::Sub
            } else {
                MaskSign::Add
            }
        });
        let masks: Vec<(&MaskSeed, MaskSign)> = seeds.iter().zip(signs).collect();
        for (prg, bits) in MaskPrg::ALL
            .into_iter()
            .flat_map(|p| [1, 5, 7, 8, 16, 31, 32, 33, 63, 64].map(|b| (p, b)))
        {
            let b = Bits::new(bits).unwrap();
            // Lengths around the chunk and block sizes, and one spanning several chunks.
            for len in [
                0,
                1,
                1023,
                1024,
                1025,
                CHUNK_ELEMS + 7,
                3 * CHUNK_ELEMS + 1001,
            ] {
                let x = RingVec::from_u64s_reduced(b, (0..len as u64).map(|i| i * 0x9e37_79b9));
                let mut want = x.clone();
                for (seed, sign) in &masks {
                    match sign {
                        MaskSign::Add => add_mask(prg, seed, &mut want).unwrap(),
                        MaskSign::Sub => sub_mask(prg, seed, &mut want).unwrap(),
                    }
                }
                let mut got = x.clone();
                apply_masks(prg, &masks, &mut got).unwrap();
                assert_eq!(got, want, "{prg} bits {bits} len {len}");
                #[cfg(feature = "server")]
                {
                    let mut par = x.clone();
                    apply_masks_parallel(prg, &masks, &mut par).unwrap();
                    assert_eq!(par, want, "parallel, {prg} bits {bits} len {len}");
                }
            }
        }
    }

    /// The fused client pass (plaintext, k + 1 masks, packing, chunk by chunk) is
    /// byte-identical to `apply_masks` on the whole vector followed by `RingVec::pack`, for
    /// every width, both suites, and lengths around the chunk and group sizes.
    #[test]
    fn mask_and_pack_equals_apply_then_pack() {
        let seeds: Vec<MaskSeed> = (0..4u8)
            .map(|i| MaskSeed::from_bytes([i.wrapping_mul(37) ^ 0x5c; 32]))
            .collect();
        let signs = [MaskSign::Add, MaskSign::Sub, MaskSign::Add, MaskSign::Sub];
        let masks: Vec<(&MaskSeed, MaskSign)> = seeds.iter().zip(signs).collect();
        for prg in MaskPrg::ALL {
            for bits in 1..=64u32 {
                let b = Bits::new(bits).unwrap();
                for len in [0, 1, 7, 8, 9, 4095, 4096, 4097, 2 * FUSED_ELEMS + 13] {
                    let x = RingVec::from_u64s_reduced(
                        b,
                        (0..len as u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                    );
                    let mut want = x.clone();
                    apply_masks(prg, &masks, &mut want).unwrap();
                    let want = want.pack();
                    let mut got = vec![0u8; want.len()];
                    let mut src = x.clone();
                    let r = match src.elems_mut() {
                        Elems::Narrow(v) => mask_and_pack::<u32>(
                            prg,
                            &masks,
                            b,
                            len,
                            |at, d| d.copy_from_slice(&v[at..at + d.len()]),
                            &mut got,
                        ),
                        Elems::Wide(v) => mask_and_pack::<u64>(
                            prg,
                            &masks,
                            b,
                            len,
                            |at, d| d.copy_from_slice(&v[at..at + d.len()]),
                            &mut got,
                        ),
                    };
                    r.unwrap();
                    assert_eq!(got, want, "{prg} bits {bits} len {len}");
                }
            }
        }
        // A word that does not match the width, or a wrong output length, is an error.
        let mut out = vec![0u8; 4];
        assert_eq!(
            mask_and_pack::<u64>(
                MaskPrg::Aes128Ctr,
                &masks,
                Bits::B32,
                1,
                |_, _| {},
                &mut out
            ),
            Err(PrgError::Layout)
        );
        assert_eq!(
            mask_and_pack::<u32>(
                MaskPrg::Aes128Ctr,
                &masks,
                Bits::B32,
                2,
                |_, _| {},
                &mut out
            ),
            Err(PrgError::Layout)
        );
    }

    #[test]
    fn too_long_is_an_error() {
        let seed = MaskSeed::from_bytes([0; 32]);
        for prg in MaskPrg::ALL {
            assert!(matches!(
                expand(prg, &seed, Bits::new(64).unwrap(), usize::MAX / 2),
                Err(PrgError::TooLong { .. })
            ));
        }
    }
}
