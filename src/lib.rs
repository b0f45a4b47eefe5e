//! # secagg
//!
//! Secure aggregation for federated learning and private analytics: many clients each hold a
//! private vector, and a coordinator learns their sum and nothing else, even when clients drop
//! out (Bonawitz et al., CCS 2017; SecAgg+ of Bell et al., CCS 2020).
//!
//! This crate is built in layers; lower layers never import higher ones.
//!
//! | layer | modules | what it owns |
//! |---|---|---|
//! | identifiers | [`ids`] | session ids, participant indices, round numbers |
//! | math | [`ring`], [`field`], [`shamir`], [`quantize`] | vectors mod 2^bits and their packing, GF(2^130-5), Shamir sharing, clipping and stochastic quantization |
//! | primitives | [`crypto`] | X25519, HKDF-SHA256, ChaCha20 mask PRG, ChaCha20-Poly1305, Ed25519 |
//! | distributed DP | [`ddp`] | clipping, rotation, rounding and exact discrete noise added by clients before masking; decoding and accounting of the noisy sum |
//! | local DP (independent) | [`ldp`] | frequency oracles, multidimensional protocols, estimators, exact privacy loss |
//!
//! The byte-level definitions of every primitive live in `protocol-spec/secagg.md`, with test
//! vectors in `protocol-spec/test-vectors/` (regenerate with
//! `cargo run --example gen-test-vectors`).
//!
//! ## Conventions
//! * Randomness is always injected (`&mut impl rand_core::CryptoRng`), so every test replays.
//! * Input from the network or a file is decoded with size checks into typed errors; nothing a
//!   peer sends can panic the process.
//! * Secret keys and seeds zeroize on drop and print as `<redacted>`.
//!
//! ## Feature flags
//! * `client`: the client side of the protocol, with no async runtime or networking, for apps
//!   that bring their own transport (`default-features = false, features = ["client"]`).
//! * `server`: the coordinator's protocol state machine.
//! * `quic` (default): the QUIC transport over quinn and tokio.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod crypto;
pub mod ddp;
pub mod field;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub mod ldp;
pub mod protocol;
pub mod quantize;
pub mod ring;
pub mod shamir;
#[cfg(feature = "quic")]
pub mod transport;
