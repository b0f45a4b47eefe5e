//! The coordinator's sans-IO state machine (`secagg::protocol::Server`) for Python: feed client
//! messages, timeouts and disconnections in; pull messages to send and the result out.
//!
//! Time is milliseconds. Every method takes an optional ``now_ms``; without it the server uses
//! its own monotonic clock started at construction (so drivers that do not simulate time need
//! not pass one). Unmasking (which runs in the call that completes the last round) releases
//! the GIL. A rejected message raises :class:`MessageRejectedError` and leaves the session as
//! it was.

use std::time::Instant;

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use secagg::protocol::server::{AggregateOutput, ClientFate};
use secagg::protocol::Server as CoreServer;

use crate::errors::{self, Class};
use crate::params::{pid, Params};

/// The coordinator of one session.
#[pyclass(module = "secagg")]
pub struct Server {
    inner: CoreServer,
    epoch: Instant,
    vector_len: usize,
}

impl Server {
    fn now(&self, now_ms: Option<u64>) -> u64 {
        now_ms.unwrap_or_else(|| self.epoch.elapsed().as_millis() as u64)
    }
}

#[pymethods]
impl Server {
    /// Starts a session (collecting round 0) at ``now_ms``.
    #[new]
    #[pyo3(signature = (params, now_ms=None))]
    fn new(params: &Params, now_ms: Option<u64>) -> PyResult<Self> {
        let epoch = Instant::now();
        let inner = CoreServer::new(params.inner.clone(), now_ms.unwrap_or(0))
            .map_err(|e| errors::map(Class::Params, e))?;
        Ok(Self {
            inner,
            epoch,
            vector_len: params.inner.vector_len as usize,
        })
    }

    /// Processes one message from participant ``sender`` (authenticated by the transport).
    /// Raises :class:`MessageRejectedError` if it is refused; the session carries on.
    #[pyo3(signature = (sender, message, now_ms=None))]
    fn handle_message(
        &mut self,
        py: Python<'_>,
        sender: i64,
        message: &[u8],
        now_ms: Option<u64>,
    ) -> PyResult<()> {
        let from = pid(sender)?;
        let now = self.now(now_ms);
        let inner = &mut self.inner;
        py.detach(|| inner.handle_message(from, message, now))
            .map_err(errors::rejected)
    }

    /// The next message to send as ``(recipient, bytes)``, or ``None``. Call until ``None``
    /// after every other call (see :meth:`drain`).
    fn poll_transmit<'py>(&mut self, py: Python<'py>) -> Option<(u16, Bound<'py, PyBytes>)> {
        self.inner
            .poll_transmit()
            .map(|(to, b)| (to.get(), PyBytes::new(py, &b)))
    }

    /// Every queued message, as a list of ``(recipient, bytes)``.
    fn drain<'py>(&mut self, py: Python<'py>) -> Vec<(u16, Bound<'py, PyBytes>)> {
        std::iter::from_fn(|| self.inner.poll_transmit())
            .map(|(to, b)| (to.get(), PyBytes::new(py, &b)))
            .collect()
    }

    /// When :meth:`handle_timeout` must next be called (ms; ``None`` once finished).
    fn poll_timeout(&self) -> Option<u64> {
        self.inner.poll_timeout()
    }

    /// Advances time: at the round deadline, clients that have not answered are dropped and
    /// the round closes.
    #[pyo3(signature = (now_ms=None))]
    fn handle_timeout(&mut self, py: Python<'_>, now_ms: Option<u64>) {
        let now = self.now(now_ms);
        let inner = &mut self.inner;
        py.detach(|| inner.handle_timeout(now));
    }

    /// The transport reports that ``participant``'s connection closed (a dropout).
    #[pyo3(signature = (participant, now_ms=None))]
    fn client_gone(
        &mut self,
        py: Python<'_>,
        participant: i64,
        now_ms: Option<u64>,
    ) -> PyResult<()> {
        let id = pid(participant)?;
        let now = self.now(now_ms);
        let inner = &mut self.inner;
        py.detach(|| inner.client_gone(id, now));
        Ok(())
    }

    /// Ends the session without a result; clients still present are told it aborted.
    fn shut_down(&mut self) {
        self.inner.shut_down();
    }

    /// The round being collected (0 to 4).
    #[getter]
    fn round(&self) -> u8 {
        self.inner.round().code()
    }

    /// Whether the session has ended (with a result or an abort).
    #[getter]
    fn finished(&self) -> bool {
        self.inner.result().is_some()
    }

    /// What happened to ``participant``: ``"active"``, ``"dropped"``, ``"included"`` or
    /// ``"excluded"`` (``None`` if not a participant).
    fn fate(&self, participant: i64) -> PyResult<Option<&'static str>> {
        Ok(self.inner.fate(pid(participant)?).map(|f| match f {
            ClientFate::Active(_) => "active",
            ClientFate::Dropped { .. } => "dropped",
            ClientFate::Included => "included",
            _ => "excluded",
        }))
    }

    /// The largest message a client may send (for transport frame limits).
    #[getter]
    fn max_client_message(&self) -> usize {
        self.inner.max_client_message()
    }

    /// The result: ``None`` while running, an :class:`AggregateResult` once complete. Raises
    /// :class:`SessionAbortedError` if the session ended without a result.
    fn result(&self) -> PyResult<Option<AggregateResult>> {
        match self.inner.result() {
            None => Ok(None),
            Some(Err(e)) => Err(errors::session_abort(e)),
            Some(Ok(out)) => Ok(Some(AggregateResult {
                out: out.clone(),
                vector_len: self.vector_len,
            })),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Server(round={}, finished={})",
            self.round(),
            self.finished()
        )
    }
}

/// The result of a completed session.
#[pyclass(module = "secagg", frozen)]
pub struct AggregateResult {
    out: AggregateOutput,
    vector_len: usize,
}

impl AggregateResult {
    /// Wraps a core result (the sum carries the weight as element L: it is cut off).
    pub fn new(out: AggregateOutput, vector_len: usize) -> Self {
        Self { out, vector_len }
    }
}

#[pymethods]
impl AggregateResult {
    /// The sum of the included quantized inputs in Z_{2^bits} (uint64, length L).
    #[getter]
    fn sum<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        let mut v = self.out.sum.to_u64s();
        v.truncate(self.vector_len);
        PyArray1::from_vec(py, v)
    }

    /// The dequantized sum of the included clients' ``weight / max_weight * input`` (float64).
    #[getter]
    fn dequantized_sum<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.out.dequantized_sum())
    }

    /// The weighted mean ``sum(w x) / sum(w)`` (float64; empty if the weights sum to zero).
    #[getter]
    fn weighted_mean<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.out.weighted_mean())
    }

    /// The sum of the included clients' weights.
    #[getter]
    fn weight_sum(&self) -> u64 {
        self.out.weight_sum
    }

    /// The participants whose inputs are in the sum.
    #[getter]
    fn included(&self) -> Vec<u16> {
        self.out.included.iter().map(|p| p.get()).collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "AggregateResult(included={}, weight_sum={})",
            self.out.included.len(),
            self.out.weight_sum
        )
    }
}
