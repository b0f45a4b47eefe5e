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
//! ## A round in 30 lines
//!
//! Ten clients and a coordinator in one process: parameters from the builder (graph and
//! threshold from the SecAgg+ chooser), each client started before its input is known, every
//! server message delivered and every reply returned. A real app sends the same bytes over its
//! own transport.
//!
//! ```
//! use std::sync::Arc;
//! use secagg::ids::ParticipantId;
//! use secagg::protocol::{Client, ClientPolicy, RejectReason, Server, SessionParams};
//! use secagg::rand_core::SeedableRng;
//!
//! let ids: Vec<ParticipantId> = (1..=10).filter_map(ParticipantId::new).collect();
//! let params = Arc::new(SessionParams::builder([1; 32], ids.clone(), 3).build()?);
//! let mut server = Server::new(params.clone(), 0)?;
//! // Fixed seed for a reproducible example; an app uses `secagg::rng::os_rng()`.
//! let mut rng = secagg::rng::ChaCha20Rng::from_seed([0; 32]);
//! let policy = ClientPolicy::new(3); // what each client accepts, checked before any key exists
//! let mut clients = Vec::new();
//! for &id in &ids {
//!     let (mut client, hello) = Client::start(params.clone(), &policy, id, None, &mut rng)?;
//!     server.handle_message(id, &hello, 0)?;
//!     // Any time before the masked-input round; f32 is read in place.
//!     client.set_input(&[0.25f32, -0.5, 1.0], 1, &mut rng)?;
//!     clients.push(client);
//! }
//! // Drain `poll_transmit` to the end: the final `Finished` messages follow the result.
//! while let Some((to, bytes)) = server.poll_transmit() {
//!     let client = &mut clients[params.index_of(to).ok_or("unknown id")?];
//!     if let Some(reply) = client.handle(&bytes, &mut rng)? {
//!         match server.handle_message(to, &reply, 0) {
//!             // The sum is done once every secret has t shares; later shares are refused.
//!             Err(e) if e.reason == RejectReason::SessionOver => {}
//!             r => r?,
//!         }
//!     }
//! }
//! let Some(Ok(out)) = server.result() else { return Err("session aborted".into()) };
//! assert_eq!(out.included.len(), 10);
//! assert!((out.weighted_mean()[1] + 0.5).abs() < 1e-4); // within one quantization step
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Conventions
//! * Randomness is always injected (`&mut impl rand_core::CryptoRng`), so every test replays.
//! * Input from the network or a file is decoded with size checks into typed errors; nothing a
//!   peer sends can panic the process.
//! * Secret keys and seeds zeroize on drop and print as `<redacted>`.
//!
//! ## Feature flags
//! Every feature below is on by default except `getrandom` and `fuzzing`.
//! * `std`: the standard library. Without it the client core is `no_std + alloc`: the client
//!   state machine, messages, primitives, Shamir, ring, quantizer, policy and chooser build for
//!   targets such as `thumbv7em-none-eabihf`.
//! * `client`: the client side of the protocol, with no async runtime, networking or serde, for
//!   apps that bring their own transport (`default-features = false, features = ["client"]`).
//! * `server`: the coordinator's protocol state machine (needs `std`; unmasks on rayon).
//! * `sim`: the in-process simulator ([`protocol::sim`]).
//! * `ldp`: local differential privacy ([`ldp`]; needs `std` and serde).
//! * `getrandom`: [`rng::os_rng`], an RNG seeded from the operating system.
//! * `quic`: the QUIC transport over quinn and tokio.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

/// The `rand_core` version whose traits every API here takes (`CryptoRng`, `SeedableRng`), so
/// callers need not match its version themselves.
pub use rand_core;

/// The `alloc` items that `std`'s prelude provides, imported by modules that also build without
/// `std`.
#[allow(unused_imports)]
mod prelude {
    pub(crate) use alloc::borrow::ToOwned;
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec::Vec;
    pub(crate) use alloc::{format, vec};
}

#[cfg(feature = "ldp")]
pub mod analytics;
pub mod crypto;
pub mod ddp;
pub mod field;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
#[cfg(feature = "ldp")]
pub mod ldp;
pub mod protocol;
pub mod quantize;
pub mod ring;
pub mod rng;
pub mod shamir;
#[cfg(feature = "quic")]
pub mod transport;
