//! QUIC transport (spec section "QUIC binding"): the coordinator that drives
//! [`crate::protocol::Server`] over quinn, and the async client library that drives
//! [`crate::protocol::Client`]. Both only move bytes and time; every protocol decision stays in
//! the sans-IO state machines.
//!
//! * ALPN `secagg/1`, TLS 1.3 only, 0-RTT off (rustls' default `max_early_data_size = 0`).
//! * One bidirectional stream per connection, opened by the client; frames are
//!   `u32be(length) || bytes`, and a frame longer than the session's largest message is refused
//!   from its length prefix alone, before any of it is read.
//! * First frame client -> server: Hello; first frame server -> client: the session
//!   parameters; then the protocol messages of section 16.
//! * Connection close codes: see [`CloseCode`].
//! * LDP sessions ([`ldp`]): the same binding with a Task frame instead of the parameters and
//!   one Report frame per client (spec `analytics.md`).

pub mod auth;
pub mod client;
pub mod coordinator;
pub mod faults;
pub mod frame;
pub mod ldp;
pub mod metrics;
pub mod result_file;
pub mod tls;

pub use auth::{AuthError, Authenticator, Claim};
pub use client::{participate, participate_histogram, ClientOptions, ClientOutcome, Retry};
pub use coordinator::{Cohort, Coordinator, CoordinatorOptions, SessionReport};
pub use frame::{CloseCode, TransportError};
pub use ldp::{send_ldp_report, LdpClientOptions, LdpReceipt, LdpSessionReport};
