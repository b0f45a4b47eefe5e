//! Reading structured fuzz input front to back, and writing it (for seed corpora).

use arbitrary::Unstructured;

/// A front-to-back reader over fuzz input. Exhausted input reads as zeros, so every byte string
/// is a valid input.
pub struct Src<'a> {
    u: Unstructured<'a>,
}

impl<'a> Src<'a> {
    /// Reads `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            u: Unstructured::new(data),
        }
    }

    /// Whether all input was read.
    pub fn is_empty(&self) -> bool {
        self.u.is_empty()
    }

    /// One byte (0 when exhausted).
    pub fn u8(&mut self) -> u8 {
        self.u.arbitrary::<u8>().unwrap_or(0)
    }

    /// Big-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// Big-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }

    /// Big-endian u64.
    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }

    /// An f64 from its big-endian bit pattern (any NaN, infinity or subnormal).
    pub fn f64(&mut self) -> f64 {
        f64::from_bits(self.u64())
    }

    /// `N` bytes, zero-padded.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        let b = self.bytes(N);
        a[..b.len()].copy_from_slice(b);
        a
    }

    /// Up to `n` bytes (fewer if the input ends).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.u.len());
        self.u.bytes(n).unwrap_or(&[])
    }

    /// A byte string prefixed by its u16 length.
    pub fn blob(&mut self) -> &'a [u8] {
        let n = self.u16() as usize;
        self.bytes(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let n = self.u.len();
        self.bytes(n)
    }

    /// A value of any `Arbitrary` type (used where seeds need no particular encoding).
    pub fn arbitrary<T: arbitrary::Arbitrary<'a>>(&mut self) -> Option<T> {
        self.u.arbitrary().ok()
    }
}

/// Writes input in the layout [`Src`] reads.
#[derive(Debug, Default, Clone)]
pub struct Script(pub Vec<u8>);

impl Script {
    /// Empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// A byte.
    pub fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }

    /// Big-endian u16.
    pub fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Big-endian u32.
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Big-endian u64.
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// An f64's bit pattern.
    pub fn f64(self, v: f64) -> Self {
        self.u64(v.to_bits())
    }

    /// Raw bytes.
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }

    /// A u16-length-prefixed byte string.
    pub fn blob(self, b: &[u8]) -> Self {
        let n = b.len().min(u16::MAX as usize);
        self.u16(n as u16).bytes(&b[..n])
    }

    /// The bytes.
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Applies up to 8 byte-level mutations read from `src` to `msg` (bit flips, byte writes,
/// truncation, insertion, overwrite). Positions wrap, so every input is meaningful.
pub fn mutate(src: &mut Src<'_>, msg: &mut Vec<u8>) {
    let count = src.u8() % 8 + 1;
    for _ in 0..count {
        let kind = src.u8() % 5;
        let pos = src.u16() as usize % (msg.len() + 1);
        match kind {
            0 => {
                let bit = src.u8() % 8;
                if let Some(b) = msg.get_mut(pos) {
                    *b ^= 1 << bit;
                }
            }
            1 => {
                let v = src.u8();
                if let Some(b) = msg.get_mut(pos) {
                    *b = v;
                }
            }
            2 => msg.truncate(pos),
            3 => {
                let ins = src.blob().to_vec();
                msg.splice(pos..pos, ins);
            }
            _ => {
                let over = src.blob();
                for (k, &v) in over.iter().enumerate() {
                    match msg.get_mut(pos + k) {
                        Some(b) => *b = v,
                        None => msg.push(v),
                    }
                }
            }
        }
    }
}
