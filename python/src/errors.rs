//! The Python exception hierarchy and the mapping from the core's error types.
//!
//! Every core error becomes an instance of one class below, carrying the Rust error's `Display`
//! text as its message and the Rust variant name as the attribute `kind` (for example
//! `"InputLength"` or `"Decode"`), so callers can branch without parsing messages. Nothing in
//! the binding panics on user input: arguments are validated and every fallible core call is
//! mapped here.
//!
//! ```text
//! SecaggError (Exception)
//! ├── ParamsError        invalid session parameters or chooser failure (also a ValueError)
//! ├── InputError         bad input to a call: length, dtype, NaN, weight (also a ValueError)
//! ├── PolicyError        the client's policy refused the session's parameters
//! ├── ClientAbortedError the client aborted the session (a check on a server message failed)
//! ├── MessageRejectedError  the server refused one client message; the session carries on
//! ├── SessionAbortedError   the session ended without a result
//! ├── LdpError           an LDP constructor, report or estimate failed
//! └── TransportError     the QUIC client failed (connect, timeout, TLS)
//! ```

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

create_exception!(
    _secagg,
    SecaggError,
    PyException,
    "Base class of every error raised by secagg."
);
create_exception!(
    _secagg,
    MessageRejectedError,
    SecaggError,
    "The server refused one client message; the session carries on."
);
create_exception!(
    _secagg,
    ClientAbortedError,
    SecaggError,
    "The client aborted the session: a check on a server message failed. Its secrets are erased."
);
create_exception!(
    _secagg,
    SessionAbortedError,
    SecaggError,
    "The session ended without a result (too few clients, reconstruction failed, shutdown)."
);
create_exception!(
    _secagg,
    PolicyError,
    SecaggError,
    "The client's policy refused the session's parameters."
);
create_exception!(
    _secagg,
    LdpError,
    SecaggError,
    "A local-differential-privacy call failed."
);
create_exception!(
    _secagg,
    TransportError,
    SecaggError,
    "The QUIC client failed."
);

/// The classes that are also `ValueError`s are created at module init (multiple inheritance is
/// not expressible with `create_exception!`).
pub struct ValueErrors {
    pub params: Py<PyAny>,
    pub input: Py<PyAny>,
}

static VALUE_ERRORS: std::sync::OnceLock<ValueErrors> = std::sync::OnceLock::new();

/// Which class an error maps to.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)] // Transport: the class exists for the QUIC client (not bound in this build).
pub enum Class {
    Params,
    Input,
    Policy,
    ClientAborted,
    Rejected,
    SessionAborted,
    Ldp,
    Transport,
}

/// The Rust variant (or type) name of an error, from its `Debug` text: `InputLength { .. }`
/// gives `InputLength`. Wrapper variants are unwrapped one level (`Policy(VectorLength {..})`
/// gives `VectorLength`) so `kind` names the check that failed.
fn kind_of(debug: &str) -> String {
    let head = |s: &str| -> String {
        s.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("")
            .to_string()
    };
    let outer = head(debug);
    match outer.as_str() {
        "Policy" | "Params" | "Quantize" | "Chooser" | "Aborted" | "Ldp" => {
            let rest = debug[outer.len()..].trim_start_matches(['(', ' ']);
            let inner = head(rest);
            if inner.is_empty() {
                outer
            } else {
                inner
            }
        }
        _ => outer,
    }
}

/// Builds the exception of `class` with `message` and `kind`.
pub fn make(py: Python<'_>, class: Class, kind: &str, message: String) -> PyErr {
    let err = match class {
        Class::Params | Class::Input => {
            let ve = VALUE_ERRORS.get().map(|v| match class {
                Class::Params => v.params.clone_ref(py),
                _ => v.input.clone_ref(py),
            });
            match ve.and_then(|cls| {
                let args = PyTuple::new(py, [message.clone()]).ok()?;
                cls.bind(py).call1(args).ok()
            }) {
                Some(obj) => PyErr::from_value(obj),
                None => PyValueError::new_err(message),
            }
        }
        Class::Policy => PolicyError::new_err(message),
        Class::ClientAborted => ClientAbortedError::new_err(message),
        Class::Rejected => MessageRejectedError::new_err(message),
        Class::SessionAborted => SessionAbortedError::new_err(message),
        Class::Ldp => LdpError::new_err(message),
        Class::Transport => TransportError::new_err(message),
    };
    // Best effort: an exception object without the attribute is still the right class.
    let _ = err.value(py).setattr("kind", kind);
    err
}

/// Maps a core error: message from `Display`, kind from `Debug`.
pub fn map<E: std::fmt::Display + std::fmt::Debug>(class: Class, e: E) -> PyErr {
    let kind = kind_of(&format!("{e:?}"));
    Python::attach(|py| make(py, class, &kind, e.to_string()))
}

/// An input-validation error raised by the binding itself.
pub fn input(kind: &str, message: impl Into<String>) -> PyErr {
    Python::attach(|py| make(py, Class::Input, kind, message.into()))
}

/// A parameter error raised by the binding itself.
pub fn params(kind: &str, message: impl Into<String>) -> PyErr {
    Python::attach(|py| make(py, Class::Params, kind, message.into()))
}

/// Maps the client's setup errors: policy refusals, aborts and input errors get their classes.
pub fn setup(e: secagg::protocol::ClientSetupError) -> PyErr {
    use secagg::protocol::ClientSetupError as E;
    let class = match &e {
        E::Policy(_) => Class::Policy,
        E::Params(_) | E::NotAParticipant(_) | E::IdentityKey => Class::Params,
        E::Aborted(_) => Class::ClientAborted,
        _ => Class::Input,
    };
    if let E::Aborted(a) = e {
        return client_abort(a);
    }
    map(class, e)
}

/// Registers the classes in the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let builtins = py.import("builtins")?;
    let type_ = builtins.getattr("type")?;
    let value_error = py.get_type::<PyValueError>();
    let base = py.get_type::<SecaggError>();
    let mk = |name: &str, doc: &str| -> PyResult<Py<PyAny>> {
        let ns = pyo3::types::PyDict::new(py);
        ns.set_item("__doc__", doc)?;
        ns.set_item("__module__", "secagg")?;
        let bases = PyTuple::new(py, [base.as_any(), value_error.as_any()])?;
        Ok(type_.call1((name, bases, ns))?.unbind())
    };
    let params = mk(
        "ParamsError",
        "Invalid session parameters, or the SecAgg+ chooser found no graph.",
    )?;
    let input = mk(
        "InputError",
        "Bad input to a call: wrong length or dtype, NaN or infinity, weight out of range.",
    )?;
    m.add("ParamsError", params.clone_ref(py))?;
    m.add("InputError", input.clone_ref(py))?;
    let _ = VALUE_ERRORS.set(ValueErrors { params, input });
    m.add("SecaggError", py.get_type::<SecaggError>())?;
    m.add(
        "MessageRejectedError",
        py.get_type::<MessageRejectedError>(),
    )?;
    m.add("ClientAbortedError", py.get_type::<ClientAbortedError>())?;
    m.add("SessionAbortedError", py.get_type::<SessionAbortedError>())?;
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    m.add("LdpError", py.get_type::<LdpError>())?;
    m.add("TransportError", py.get_type::<TransportError>())?;
    Ok(())
}

/// A refused client message: `kind` names the reason (e.g. `SessionOver`, `Decode`).
pub fn rejected(e: secagg::protocol::Rejected) -> PyErr {
    let kind = kind_of(&format!("{:?}", e.reason));
    Python::attach(|py| make(py, Class::Rejected, &kind, e.to_string()))
}

/// A client abort: `kind` names the failed check (e.g. `Decode`, `ServerAborted`).
pub fn client_abort(e: secagg::protocol::ClientAbort) -> PyErr {
    let kind = kind_of(&format!("{:?}", e.check));
    Python::attach(|py| make(py, Class::ClientAborted, &kind, e.to_string()))
}

/// A session abort: `kind` names the reason (e.g. `TooFewClients`).
pub fn session_abort(e: &secagg::protocol::SessionAbort) -> PyErr {
    let kind = kind_of(&format!("{:?}", e.reason));
    Python::attach(|py| make(py, Class::SessionAborted, &kind, e.to_string()))
}
