//! Typed errors of the `ldp` module.
//!
//! Every fallible entry point of the module (parameter validation, client-side randomisation of a
//! value, server-side aggregation of a report, decoding of untrusted report bytes) returns
//! [`LdpError`]; none of them panics on bad input.

use thiserror::Error;

/// Errors of the local differential privacy module.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum LdpError {
    /// The privacy parameter is not a finite number in `[MIN_EPSILON, MAX_EPSILON]`.
    #[error("epsilon must be finite and in [1e-6, {max}], got {value}")]
    InvalidEpsilon {
        /// The rejected value.
        value: f64,
        /// The largest supported epsilon ([`crate::ldp::MAX_EPSILON`]).
        max: f64,
    },
    /// The domain size is below 2.
    #[error("domain size must be at least 2, got {0}")]
    DomainTooSmall(u64),
    /// The domain size (or a size derived from it) exceeds what the module supports.
    #[error("domain size {got} exceeds the supported maximum {max}")]
    DomainTooLarge {
        /// The rejected size.
        got: u64,
        /// The supported maximum.
        max: u64,
    },
    /// A client value lies outside its domain `[0, k)`.
    #[error("value {value} is outside the domain [0, {k})")]
    ValueOutOfDomain {
        /// The rejected value.
        value: u64,
        /// The domain size.
        k: u64,
    },
    /// A multidimensional protocol needs at least one attribute.
    #[error("a multidimensional protocol needs at least one attribute")]
    NoAttributes,
    /// The number of attribute values does not match the protocol's number of attributes.
    #[error("expected {expected} attribute values, got {got}")]
    ArityMismatch {
        /// Number of attributes of the protocol.
        expected: usize,
        /// Number supplied.
        got: usize,
    },
    /// A report's byte length does not match the length fixed by the protocol parameters.
    #[error("report length mismatch: expected {expected} bytes, got {got}")]
    ReportLength {
        /// Length fixed by the parameters.
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// A report (decoded from bytes or built by the caller) violates the protocol's invariants.
    #[error("malformed report: {0}")]
    MalformedReport(&'static str),
    /// A derived protocol parameter is out of its supported range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),
}
