//! The client state machine (`secagg::protocol::Client`) for Python: start, set the input later
//! as a float32/float64 NumPy array with a weight, handle server bytes, read the outcome.
//!
//! Invariants: every client owns a ChaCha20 generator seeded from the OS (never exposed); the
//! key pairs and masks never leave Rust; masking and unmasking-share work runs with the GIL
//! released. Input arrays are read in place when C-contiguous (no copy).

use numpy::{PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use secagg::protocol::messages::Outcome;
use secagg::protocol::{Client as CoreClient, ClientStatus};
use secagg::rng::ChaCha20Rng;

use crate::errors;
use crate::params::{os_rng, pid, Params, Policy};

/// One client's side of one session. Create with :meth:`Client.start`.
#[pyclass(module = "secagg")]
pub struct Client {
    inner: CoreClient,
    rng: ChaCha20Rng,
}

/// An input array read in place (or copied once if not contiguous).
#[allow(clippy::large_enum_variant)]
pub enum Input<'py> {
    F32(PyReadonlyArray1<'py, f32>),
    F64(PyReadonlyArray1<'py, f64>),
}

/// Accepts a 1-D float32 or float64 array; anything else is an `InputError` naming the dtype.
pub fn read_input<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Input<'py>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, f32>>() {
        return Ok(Input::F32(a));
    }
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, f64>>() {
        return Ok(Input::F64(a));
    }
    let what = match obj.cast::<numpy::PyUntypedArray>() {
        Ok(a) => format!("a {}-D array of dtype {}", a.ndim(), a.dtype()),
        Err(_) => format!("a {}", obj.get_type().name()?),
    };
    Err(errors::input(
        "Dtype",
        format!("input must be a 1-D numpy array of float32 or float64, got {what}"),
    ))
}

impl Input<'_> {
    /// Runs `f` on the values as a slice, without the GIL.
    pub fn with_slice<R: Send>(&self, py: Python<'_>, f: impl Send + FnOnce(Slice<'_>) -> R) -> R {
        match self {
            Input::F32(a) => match a.as_slice() {
                Ok(s) => py.detach(|| f(Slice::F32(s))),
                Err(_) => {
                    let v = a.as_array().to_vec();
                    py.detach(|| f(Slice::F32(&v)))
                }
            },
            Input::F64(a) => match a.as_slice() {
                Ok(s) => py.detach(|| f(Slice::F64(s))),
                Err(_) => {
                    let v = a.as_array().to_vec();
                    py.detach(|| f(Slice::F64(&v)))
                }
            },
        }
    }
}

/// A borrowed input slice of either float width.
pub enum Slice<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

fn weight_of(weight: i64, max: u32) -> PyResult<u32> {
    u32::try_from(weight)
        .ok()
        .filter(|&w| w <= max)
        .ok_or_else(|| {
            errors::input(
                "Weight",
                format!("weight must be in 0..={max} (the session's max_weight), got {weight}"),
            )
        })
}

fn opt_bytes<'py>(py: Python<'py>, v: Option<Vec<u8>>) -> Option<Bound<'py, PyBytes>> {
    v.map(|b| PyBytes::new(py, &b))
}

#[pymethods]
impl Client {
    /// Starts a session as participant ``participant_id``: checks ``policy`` (default:
    /// ``Policy(params.vector_len)``), generates this session's keys and returns
    /// ``(client, advertise_keys_bytes)``. Give the input later with :meth:`set_input`.
    #[staticmethod]
    #[pyo3(signature = (params, participant_id, policy=None))]
    fn start<'py>(
        py: Python<'py>,
        params: &Params,
        participant_id: i64,
        policy: Option<&Policy>,
    ) -> PyResult<(Self, Bound<'py, PyBytes>)> {
        let me = pid(participant_id)?;
        let default;
        let policy = match policy {
            Some(p) => &p.inner,
            None => {
                default = secagg::protocol::ClientPolicy::new(
                    u32::try_from(crate::params::input_len(&params.inner)).unwrap_or(u32::MAX),
                );
                &default
            }
        };
        let mut rng = os_rng()?;
        let (inner, hello) = CoreClient::start(params.inner.clone(), policy, me, None, &mut rng)
            .map_err(errors::setup)?;
        Ok((Self { inner, rng }, PyBytes::new(py, &hello)))
    }

    /// Gives the input: a 1-D float32 or float64 array of ``params.input_len`` values, scaled by
    /// ``weight / max_weight`` and quantized. Returns the masked-input message to send if the
    /// server's share bundle already arrived (status ``"needs_input"``), else ``None``.
    /// Raises :class:`InputError` for a wrong dtype, length, weight, NaN or infinity (the
    /// client is unchanged and the call may be retried).
    #[pyo3(signature = (values, weight=1))]
    fn set_input<'py>(
        &mut self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        weight: i64,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let input = read_input(values)?;
        let w = weight_of(weight, u32::MAX)?;
        let (inner, rng) = (&mut self.inner, &mut self.rng);
        let r = input.with_slice(py, |s| match s {
            Slice::F32(v) => inner.set_input(v, w, rng),
            Slice::F64(v) => inner.set_input(v, w, rng),
        });
        Ok(opt_bytes(py, r.map_err(errors::setup)?))
    }

    /// Processes one server message and returns the reply to send, if any. Raises
    /// :class:`ClientAbortedError` if a check fails (the client is then aborted for good).
    fn handle<'py>(
        &mut self,
        py: Python<'py>,
        message: &[u8],
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let (inner, rng) = (&mut self.inner, &mut self.rng);
        let r = py.detach(|| inner.handle(message, rng));
        Ok(opt_bytes(py, r.map_err(errors::client_abort)?))
    }

    /// ``"waiting"``, ``"needs_input"``, ``"finished"`` or ``"aborted"``.
    #[getter]
    fn status(&self) -> &'static str {
        match self.inner.status() {
            ClientStatus::Waiting(_) => "waiting",
            ClientStatus::NeedsInput => "needs_input",
            ClientStatus::Finished(_) => "finished",
            _ => "aborted",
        }
    }

    /// While waiting: the round (0 to 4) whose closing server message is awaited.
    #[getter]
    fn waiting_round(&self) -> Option<u8> {
        match self.inner.status() {
            ClientStatus::Waiting(r) => Some(r.code()),
            _ => None,
        }
    }

    /// Once finished: ``"included"`` or ``"excluded"``; ``"aborted"`` after an abort; else
    /// ``None``.
    #[getter]
    fn outcome(&self) -> Option<&'static str> {
        match self.inner.status() {
            ClientStatus::Finished(Outcome::Included) => Some("included"),
            ClientStatus::Finished(Outcome::Excluded) => Some("excluded"),
            ClientStatus::Finished(_) | ClientStatus::Aborted(_) => Some("aborted"),
            _ => None,
        }
    }

    /// Why the client aborted, if it did.
    #[getter]
    fn abort_reason(&self) -> Option<String> {
        match self.inner.status() {
            ClientStatus::Aborted(a) => Some(a.to_string()),
            _ => None,
        }
    }

    /// This client's participant id.
    #[getter]
    fn id(&self) -> u16 {
        self.inner.id().get()
    }

    /// This client's neighbours (participant ids).
    #[getter]
    fn neighbours(&self) -> Vec<u16> {
        self.inner.neighbours().iter().map(|p| p.get()).collect()
    }

    /// How many input coordinates the quantizer clipped, once the input is set.
    #[getter]
    fn clipped_coordinates(&self) -> Option<u64> {
        self.inner.clipped_coordinates()
    }

    fn __repr__(&self) -> String {
        format!("Client(id={}, status={})", self.id(), self.status())
    }
}
