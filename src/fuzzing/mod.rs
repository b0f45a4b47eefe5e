//! Fuzzing harness: one function per cargo-fuzz target in `fuzz/`, each taking the raw fuzzer
//! input and panicking only when a property is violated.
//!
//! Not part of the supported API: it exists (behind the `fuzzing` feature) so that the fuzz
//! targets and the plain test `tests/fuzz_replay.rs` run exactly the same code, and a fuzz finding
//! saved under `fuzz/regressions/<target>/` becomes an ordinary test. Structured inputs are read
//! with [`arbitrary::Unstructured`] in a simple front-to-back layout that [`Script`] can also write,
//! so seed corpora can be generated (`cargo run --example gen-fuzz-corpus`).
//!
//! | target | what it checks |
//! |---|---|
//! | `decode_params` | session parameters from the network decode, re-encode identically, validate without panicking, and give a graph of the declared degree |
//! | `decode_client_message`, `decode_server_message` | decoding under several [`Limits`](crate::protocol::messages::Limits) never panics; a decoded message re-encodes to the same bytes |
//! | `client_state_machine` | a client fed valid (recorded), mutated and arbitrary server messages never panics, never replies after aborting or finishing, replies are well-formed, and never reveals both kinds of share of a peer |
//! | `server_state_machine` | a server facing live honest clients, injected and tampered messages, timeouts and disconnects never panics, always terminates, and any result over untampered clients is their exact sum |
//! | `shamir_reconstruct` | arbitrary shares never panic; split then reconstruct round-trips; a tampered extra share is detected |
//! | `unpack` | arbitrary bytes at every width 1..=64: typed errors, canonical re-encoding |
//! | `quantize` | arbitrary clip, levels, widths, weights and f64 bit patterns: typed errors or values within one step of the clipped input |
//! | `ldp_decode` | every LDP report decoder: typed errors; a decoded report re-encodes identically and is accepted by the aggregator |
//! | `analytics_frames` | LDP session frames: a Task frame decodes within the caps and re-encodes identically; report frames are counted or refused without changing the counts; estimates never panic |
#![allow(missing_docs)]

mod analytics;
mod client;
mod codec;
mod input;
mod ldp;
mod math;
mod server;
mod setup;

pub use analytics::analytics_frames;
pub use client::{client_runs, client_scenarios, client_state_machine, step as client_step};
pub use codec::{decode_client_message, decode_params, decode_server_message, fuzz_limits};
pub use input::{Script, Src};
pub use ldp::{ldp_decode, ldp_kind};
pub use math::{quantize, shamir_reconstruct, unpack};
pub use server::{op as server_op, server_state_machine};

/// A harness function: panics only when a property is violated.
pub type Harness = fn(&[u8]);

/// Every target: (name, harness function). The names are the `fuzz/fuzz_targets/*.rs` names and
/// the directories under `fuzz/corpus/` and `fuzz/regressions/`.
pub const TARGETS: &[(&str, Harness)] = &[
    ("decode_client_message", decode_client_message),
    ("decode_server_message", decode_server_message),
    ("client_state_machine", client_state_machine),
    ("server_state_machine", server_state_machine),
    ("shamir_reconstruct", shamir_reconstruct),
    ("unpack", unpack),
    ("quantize", quantize),
    ("ldp_decode", ldp_decode),
    ("decode_params", decode_params),
    ("analytics_frames", analytics_frames),
];

/// The harness function of `name`.
pub fn target(name: &str) -> Option<Harness> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
