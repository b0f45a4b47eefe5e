//! Who is whose neighbour (spec section "Communication graph").
//!
//! The complete graph (every client with every other) or the SecAgg+ k-regular Harary graph over
//! a permutation of the participants that every party derives from the session id:
//!
//! ```text
//! seed = derive(session_id, "graph permutation", session_id)          (spec: Key derivation)
//! words = ChaCha20(seed, nonce 0, counter 0) keystream read as u32 little-endian
//! perm = [0, 1, ..., n-1]; for i = n-1 down to 1: j = uniform(i + 1); swap(perm[i], perm[j])
//! uniform(b): draw w until w < 2^32 - (2^32 mod b); return w mod b
//! neighbours(perm[p]) = { perm[(p + d) mod n], perm[(p - d) mod n] : d = 1..k/2 }
//! ```
//!
//! Indices are positions in the sorted participant list. Invariant: the relation is symmetric
//! and irreflexive, and every client has exactly `degree` neighbours.

use crate::prelude::*;

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;

use super::params::{Graph, SessionParams};
use crate::crypto::kdf::{derive32, Context, Label};
use crate::ids::SessionId;

/// The neighbourhoods of one session.
#[derive(Debug, Clone)]
pub enum Topology {
    /// Every pair of distinct participants is adjacent (not materialized: O(1) memory).
    Complete {
        /// Number of participants.
        n: usize,
    },
    /// Explicit sorted neighbour lists (Harary graph).
    Listed(Vec<Vec<u32>>),
}

/// Draws from the permutation keystream.
struct WordStream {
    cipher: ChaCha20,
    buf: [u8; 256],
    pos: usize,
}

impl WordStream {
    fn next(&mut self) -> u32 {
        if self.pos == self.buf.len() {
            self.buf = [0; 256];
            self.cipher.apply_keystream(&mut self.buf);
            self.pos = 0;
        }
        let mut w = [0u8; 4];
        w.copy_from_slice(&self.buf[self.pos..self.pos + 4]);
        self.pos += 4;
        u32::from_le_bytes(w)
    }

    /// Uniform in `0..bound` by rejection (bound >= 1).
    fn uniform(&mut self, bound: u32) -> u32 {
        let zone = (1u64 << 32) - ((1u64 << 32) % bound as u64);
        loop {
            let w = self.next() as u64;
            if w < zone {
                return (w % bound as u64) as u32;
            }
        }
    }
}

/// The permutation of `0..n` that places participants on the Harary cycle.
pub fn permutation(session: &SessionId, n: usize) -> Vec<u32> {
    let seed = derive32(
        session.as_bytes(),
        &Context::new(Label::GraphPermutation).session(session),
    );
    let mut ws = WordStream {
        cipher: ChaCha20::new((&*seed).into(), &[0u8; 12].into()),
        buf: [0; 256],
        pos: 256,
    };
    let mut perm: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = ws.uniform(i as u32 + 1) as usize;
        perm.swap(i, j);
    }
    perm
}

impl Topology {
    /// The graph of a validated session.
    pub fn new(params: &SessionParams, session: &SessionId) -> Self {
        let n = params.n();
        match params.graph {
            Graph::Harary { degree } if (degree as usize) < n.saturating_sub(1) => {
                let perm = permutation(session, n);
                let half = degree as usize / 2;
                let mut lists = vec![Vec::with_capacity(degree as usize); n];
                for p in 0..n {
                    let me = perm[p] as usize;
                    for d in 1..=half {
                        lists[me].push(perm[(p + d) % n]);
                        lists[me].push(perm[(p + n - d) % n]);
                    }
                }
                for l in &mut lists {
                    l.sort_unstable();
                }
                Topology::Listed(lists)
            }
            _ => Topology::Complete { n },
        }
    }

    /// The neighbours of participant index `i`, ascending.
    pub fn neighbours(&self, i: usize) -> Neighbours<'_> {
        match self {
            Topology::Complete { n } => Neighbours::Complete {
                next: 0,
                skip: i,
                n: *n,
            },
            Topology::Listed(l) => {
                Neighbours::Listed(l.get(i).map(|v| v.iter()).unwrap_or_default())
            }
        }
    }

    /// Whether `i` and `j` are adjacent.
    pub fn adjacent(&self, i: usize, j: usize) -> bool {
        match self {
            Topology::Complete { n } => i != j && i < *n && j < *n,
            Topology::Listed(l) => l
                .get(i)
                .is_some_and(|v| v.binary_search(&(j as u32)).is_ok()),
        }
    }
}

/// Iterator over one client's neighbours (participant indices, ascending).
pub enum Neighbours<'a> {
    /// All indices except `skip`.
    Complete {
        /// Next index to consider.
        next: usize,
        /// The client itself.
        skip: usize,
        /// Number of participants.
        n: usize,
    },
    /// An explicit list.
    Listed(core::slice::Iter<'a, u32>),
}

impl Iterator for Neighbours<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        match self {
            Neighbours::Complete { next, skip, n } => {
                if *next == *skip {
                    *next += 1;
                }
                if *next >= *n {
                    return None;
                }
                *next += 1;
                Some(*next - 1)
            }
            Neighbours::Listed(it) => it.next().map(|&j| j as usize),
        }
    }
}
