//! `secagg._secagg`: the Python extension module (PyO3, abi3 for CPython >= 3.9).
//!
//! A thin layer over the Rust core: it converts types (bytes, NumPy arrays, ids), maps errors
//! to the exception hierarchy in [`errors`] and releases the GIL around heavy work. Every
//! protocol decision stays in `secagg`. No `unsafe` here: the crate forbids it.
#![forbid(unsafe_code)]

use pyo3::prelude::*;

mod client;
mod errors;
mod ldp;
mod params;
#[cfg(feature = "quic")]
mod quic;
mod server;

#[pymodule]
fn _secagg(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<params::Params>()?;
    m.add_class::<params::Policy>()?;
    m.add_class::<client::Client>()?;
    m.add_class::<server::Server>()?;
    m.add_class::<server::AggregateResult>()?;
    m.add_function(wrap_pyfunction!(params::choose_graph, m)?)?;
    ldp::register(m)?;
    #[cfg(feature = "quic")]
    {
        m.add_class::<quic::Coordinator>()?;
        m.add_function(wrap_pyfunction!(quic::participate, m)?)?;
    }
    Ok(())
}
