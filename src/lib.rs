//! # secagg
//!
//! Secure aggregation for federated learning and private analytics.
#![forbid(unsafe_code)]

pub mod crypto;
pub mod field;
pub mod ids;
pub mod quantize;
pub mod ring;
pub mod shamir;
