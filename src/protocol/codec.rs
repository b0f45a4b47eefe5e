//! Byte reading and writing for wire messages (spec section "Encoding").
//!
//! Invariants: a [`Reader`] never reads past its input, every length is checked before anything
//! is allocated, and [`Reader::finish`] rejects trailing bytes, so a decoder built on it accepts
//! exactly one encoding of each message.

use crate::prelude::*;

/// Errors of message decoding. Safe to report to the peer that sent the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the message did.
    #[error("message truncated: needed {needed} more bytes at offset {offset}")]
    Truncated {
        /// Where reading stopped.
        offset: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// Bytes remain after the message.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// The version byte is not 1.
    #[error("unsupported protocol version {0}")]
    Version(u8),
    /// The type byte is not a known message of this direction.
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    /// A count exceeds the limit the session parameters allow.
    #[error("{what}: {got} entries exceed the limit of {max}")]
    TooMany {
        /// Which list.
        what: &'static str,
        /// Entries announced.
        got: usize,
        /// Most allowed.
        max: usize,
    },
    /// The message is larger than any message of its type can be.
    #[error("message of {got} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Message length.
        got: usize,
        /// Largest allowed.
        max: usize,
    },
    /// A field holds a value outside its domain.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// Sequential reader over a byte slice.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads from the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Truncated {
                offset: self.pos,
                needed: n.saturating_sub(self.remaining()),
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// A byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A count of fixed-size entries, checked against `max` and against the bytes left, so the
    /// caller may allocate `count` entries safely.
    pub fn count(
        &mut self,
        what: &'static str,
        max: usize,
        entry_len: usize,
    ) -> Result<usize, DecodeError> {
        let n = self.u16()? as usize;
        if n > max {
            return Err(DecodeError::TooMany { what, got: n, max });
        }
        let need = n.saturating_mul(entry_len);
        if need > self.remaining() {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                needed: need - self.remaining(),
            });
        }
        Ok(n)
    }

    /// Succeeds only if every byte has been read.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Appends big-endian integers and byte strings to a buffer.
pub trait Writer {
    /// Appends a u16, big-endian.
    fn put_u16(&mut self, v: u16);
    /// Appends a u32, big-endian.
    fn put_u32(&mut self, v: u32);
}

impl Writer for Vec<u8> {
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
}
