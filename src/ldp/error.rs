//! Typed errors of the `ldp` module.
//!
//! Every fallible entry point of the module (parameter validation, client-side randomisation of a
//! value, server-side aggregation of a report, decoding of untrusted report bytes) returns
//! [`LdpError`]; none of them panics on bad input. Messages name the value the caller gave (the
//! `ε` passed to the constructor, the length of the slice passed in), and errors inside a batch
//! say which row ([`LdpError::AtRow`]) and which attribute ([`LdpError::AtAttribute`]).

use thiserror::Error;

/// `"1 byte"`, `"2 bytes"`.
pub(crate) fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// Errors of the local differential privacy module.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum LdpError {
    /// The privacy parameter is not a finite number in `[MIN_EPSILON, MAX_EPSILON]`.
    #[error("epsilon must be finite and in [1e-6, {max}], got {value}")]
    InvalidEpsilon {
        /// The rejected value, as the caller gave it.
        value: f64,
        /// The largest supported epsilon ([`crate::ldp::MAX_EPSILON`]).
        max: f64,
    },
    /// Spl splits `epsilon` evenly over `d` attributes and the share is below
    /// [`crate::ldp::MIN_EPSILON`].
    #[error(
        "Spl splits epsilon = {epsilon} over {d} attributes, {per_attribute} each, below the \
         minimum {min}; use a larger epsilon or fewer attributes"
    )]
    SplitEpsilonTooSmall {
        /// The epsilon the caller gave.
        epsilon: f64,
        /// Number of attributes.
        d: usize,
        /// `epsilon / d`.
        per_attribute: f64,
        /// [`crate::ldp::MIN_EPSILON`].
        min: f64,
    },
    /// The domain size is below 2.
    #[error("domain size must be at least 2, got {0}")]
    DomainTooSmall(u64),
    /// The domain size exceeds [`crate::ldp::MAX_DOMAIN`].
    #[error("domain size {got} exceeds the supported maximum {max}")]
    DomainTooLarge {
        /// The rejected size.
        got: u64,
        /// The supported maximum.
        max: u64,
    },
    /// A size the parameters imply (a report, the server's counters) exceeds its documented cap
    /// ([`crate::ldp::MAX_REPORT_BYTES`], [`crate::ldp::MAX_COUNTERS`]); computed before anything
    /// is allocated.
    #[error("{what} would be {size} {unit}, above the cap of {max} ({cap})")]
    TooLarge {
        /// What would be too large, e.g. `"an SS report"`.
        what: &'static str,
        /// The size the parameters imply.
        size: u64,
        /// Its unit (`"bytes"`, `"counters"`).
        unit: &'static str,
        /// The cap.
        max: u64,
        /// The cap's name.
        cap: &'static str,
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
    /// A row-major batch whose length is not a multiple of the number of attributes.
    #[error("a row-major batch of {} is not a whole number of rows of d = {d} attributes", plural(*len as u64, "value"))]
    RaggedRows {
        /// Length of the slice the caller passed.
        len: usize,
        /// Number of attributes.
        d: usize,
    },
    /// An error in row (user, report) `row` of a batch; nothing after it was processed.
    #[error("row {row}: {source}")]
    AtRow {
        /// 0-based index in the batch.
        row: usize,
        /// What was wrong with it.
        source: Box<LdpError>,
    },
    /// An error in attribute `attribute` (0-based) of a multidimensional input or report.
    #[error("attribute {attribute}: {source}")]
    AtAttribute {
        /// 0-based attribute index.
        attribute: usize,
        /// What was wrong with it.
        source: Box<LdpError>,
    },
    /// An attribute index (an Smp report's first field, or an argument) is not below `d`.
    #[error("attribute index {index} is out of range: the protocol has d = {d} attributes")]
    AttributeOutOfRange {
        /// The rejected index.
        index: u64,
        /// Number of attributes.
        d: usize,
    },
    /// A report's byte length does not match the length fixed by the protocol parameters.
    #[error("report length mismatch: expected {}, got {}", plural(*expected as u64, "byte"), plural(*got as u64, "byte"))]
    ReportLength {
        /// Length fixed by the parameters.
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// A field of a report is not below its bound.
    #[error("{field} {value} is out of range: must be below {bound}")]
    FieldOutOfRange {
        /// Which field, e.g. `"GRR value"`.
        field: &'static str,
        /// The value received.
        value: u64,
        /// Exclusive bound.
        bound: u64,
    },
    /// An accumulator (or count) slice passed to a low-level method has the wrong length.
    #[error("accumulator has {}, expected {}", plural(*got as u64, "entry"), plural(*expected as u64, "entry"))]
    AccumulatorLength {
        /// Length the oracle needs ([`crate::ldp::FrequencyOracle::accumulator_len`]).
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// Counts or an aggregator made by one protocol (or other parameters) were given to another.
    #[error("counts were made by {got}, not by {expected}")]
    ProtocolMismatch {
        /// The protocol (and parameters) asked to use them.
        expected: String,
        /// The protocol (and parameters) that made them.
        got: String,
    },
    /// A report (decoded from bytes or built by the caller) violates the protocol's invariants.
    #[error("malformed report: {0}")]
    MalformedReport(&'static str),
    /// A derived protocol parameter is out of its supported range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),
}

impl LdpError {
    /// Wraps `self` with the batch row it occurred in.
    pub(crate) fn at_row(self, row: usize) -> LdpError {
        LdpError::AtRow {
            row,
            source: Box::new(self),
        }
    }

    /// Wraps `self` with the attribute it occurred in.
    pub(crate) fn at_attribute(self, attribute: usize) -> LdpError {
        LdpError::AtAttribute {
            attribute,
            source: Box::new(self),
        }
    }

    /// The innermost error, with the [`LdpError::AtRow`] / [`LdpError::AtAttribute`] context
    /// removed.
    pub fn root(&self) -> &LdpError {
        match self {
            LdpError::AtRow { source, .. } | LdpError::AtAttribute { source, .. } => source.root(),
            e => e,
        }
    }
}
