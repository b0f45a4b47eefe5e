//! The secure aggregation protocol as sans-IO state machines (spec sections 14 and later).
//!
//! Bonawitz et al. (CCS 2017) with the SecAgg+ graphs of Bell et al. (CCS 2020):
//!
//! | round | client sends | server answers with |
//! |---|---|---|
//! | 0 AdvertiseKeys | two X25519 public keys (signed in the active model) | [`messages::KeyDirectory`]: own and neighbours' keys (U1) |
//! | 1 ShareKeys | Shamir shares of its mask key and self-mask seed, encrypted to each neighbour | [`messages::ShareBundle`]: the ciphertexts addressed to it (U2) |
//! | 2 MaskedInput | `y = x + PRG(b) ± PRG(s_uv)` | [`messages::ConsistencyRequest`] (active) or [`messages::UnmaskRequest`] (U3) |
//! | 3 ConsistencyCheck | signature over U3 (active only) | [`messages::UnmaskRequest`] with neighbours' signatures (U4) |
//! | 4 Unmasking | self-mask shares of survivors, key shares of dropped neighbours | [`messages::Finished`] |
//!
//! [`client::Client`] and [`server::Server`] never touch sockets, clocks or global randomness:
//! the caller passes bytes, a `CryptoRng`, and (server) the time. [`sim`] drives them in-process.

#[cfg(feature = "server")]
pub mod aggregate;
#[cfg(feature = "client")]
pub mod builder;
#[cfg(feature = "client")]
pub mod chooser;
#[cfg(feature = "client")]
pub mod client;
pub mod codec;
pub mod error;
pub mod graph;
pub mod messages;
pub mod params;
#[cfg(feature = "client")]
pub mod policy;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "sim")]
pub mod sim;

#[cfg(feature = "client")]
pub use builder::{BuildError, SessionParamsBuilder};
#[cfg(feature = "client")]
pub use client::{Client, ClientStatus};
pub use error::ClientSetupError;
pub use error::{AbortReason, ClientAbort, ClientCheck, RejectReason, Rejected, SessionAbort};
pub use params::{Graph, ParamsError, SessionParams, ThreatModel};
#[cfg(feature = "client")]
pub use policy::{ClientPolicy, DpRequirement, PolicyError, Roster, SignedRoster};
#[cfg(feature = "server")]
pub use server::{
    AggregateOutput, ClientFate, DecodedValues, DropReason, Server, ServerObserver, UnmaskPhase,
    UnmaskStats,
};
