//! # secagg
//!
//! Secure aggregation for federated learning and private analytics.
#![forbid(unsafe_code)]
pub mod ldp;
