//! Session parameters: the builder with the SecAgg+ chooser, their wire encoding (a coordinator
//! sends them to clients, who vet them with a [`Policy`]) and the client policy.
//!
//! Invariant: a [`Params`] object always holds parameters that passed
//! `SessionParams::validate` (built by the core builder, or decoded and validated).

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use secagg::crypto::prg::MaskPrg;
use secagg::ids::ParticipantId;
use secagg::protocol::{ClientPolicy, Graph, SessionParams};
use secagg::ring::Bits;

use crate::errors::{self, Class};

/// Converts a Python participant id (1..=65535).
pub fn pid(id: i64) -> PyResult<ParticipantId> {
    u16::try_from(id)
        .ok()
        .and_then(ParticipantId::new)
        .ok_or_else(|| {
            errors::input(
                "ParticipantId",
                format!("participant id must be in 1..=65535, got {id}"),
            )
        })
}

fn os_nonce() -> PyResult<[u8; 32]> {
    let mut n = [0u8; 32];
    getrandom_fill(&mut n)?;
    Ok(n)
}

/// 32 bytes from the OS generator (through the core's `os_rng`, which seeds ChaCha20 from it).
fn getrandom_fill(out: &mut [u8]) -> PyResult<()> {
    use secagg::rand_core::Rng;
    let mut rng = os_rng()?;
    rng.fill_bytes(out);
    Ok(())
}

/// The core's OS-seeded ChaCha20 generator.
pub fn os_rng() -> PyResult<secagg::rng::ChaCha20Rng> {
    secagg::rng::os_rng().map_err(|e| {
        pyo3::exceptions::PyOSError::new_err(format!("the OS random generator failed: {e}"))
    })
}

/// Validated session parameters (immutable). Build with :meth:`Params.build`, or decode the
/// bytes a coordinator sent with :meth:`Params.decode`.
#[pyclass(module = "secagg", frozen)]
pub struct Params {
    pub inner: Arc<SessionParams>,
}

#[pymethods]
impl Params {
    /// Builds parameters for ``participants`` (ids in 1..=65535) with inputs of ``vector_len``
    /// coordinates. The graph degree, threshold and corruption bound come from the SecAgg+
    /// chooser for ``dropout_rate`` and ``corruption_rate`` unless ``degree`` and
    /// ``threshold`` are given (``degree=None`` with a threshold means the complete graph).
    /// ``nonce`` defaults to 32 bytes from the OS generator (it must be fresh per session).
    #[staticmethod]
    #[pyo3(signature = (participants, vector_len, *, nonce=None, dropout_rate=0.05,
        corruption_rate=0.05, clip=1.0, levels=65536, max_weight=1, bits=None, degree=None,
        threshold=None, max_corrupt_neighbours=None, timeouts_ms=None, mask_prg="aes128ctr",
        dp_epsilon=None, dp_delta=None, dp_l2_clip=1.0, dp_mechanism="discrete-gaussian",
        dp_rounds=1, dp_max_wrap=1e-9))]
    #[allow(clippy::too_many_arguments)]
    fn build(
        participants: Vec<i64>,
        vector_len: i64,
        nonce: Option<Vec<u8>>,
        dropout_rate: f64,
        corruption_rate: f64,
        clip: f64,
        levels: u64,
        max_weight: i64,
        bits: Option<u32>,
        degree: Option<u16>,
        threshold: Option<u16>,
        max_corrupt_neighbours: Option<u16>,
        timeouts_ms: Option<Vec<u32>>,
        mask_prg: &str,
        dp_epsilon: Option<f64>,
        dp_delta: Option<f64>,
        dp_l2_clip: f64,
        dp_mechanism: &str,
        dp_rounds: u32,
        dp_max_wrap: f64,
    ) -> PyResult<Self> {
        let ids = participants
            .iter()
            .map(|&i| pid(i))
            .collect::<PyResult<Vec<_>>>()?;
        let len = u32::try_from(vector_len)
            .ok()
            .filter(|&l| l > 0)
            .ok_or_else(|| {
                errors::params(
                    "VectorLength",
                    format!("vector_len must be in 1..=2^32-1, got {vector_len}"),
                )
            })?;
        let nonce: [u8; 32] = match nonce {
            Some(n) => n.try_into().map_err(|n: Vec<u8>| {
                errors::params("Nonce", format!("nonce must be 32 bytes, got {}", n.len()))
            })?,
            None => os_nonce()?,
        };
        let max_weight = u32::try_from(max_weight)
            .ok()
            .filter(|&w| w >= 1)
            .ok_or_else(|| {
                errors::params(
                    "MaxWeight",
                    format!("max_weight must be in 1..=2^32-1, got {max_weight}"),
                )
            })?;
        let mut b = SessionParams::builder(nonce, ids, len)
            .dropout_rate(dropout_rate)
            .corruption_rate(corruption_rate)
            .quantization(clip, levels)
            .max_weight(max_weight)
            .mask_prg(parse_prg(mask_prg)?);
        if let Some(bits) = bits {
            b = b.bits(Bits::new(bits).map_err(|e| errors::map(Class::Params, e))?);
        }
        match (degree, threshold) {
            (None, None) => {}
            (d, Some(t)) => {
                let graph = match d {
                    None => Graph::Complete,
                    Some(k) => Graph::Harary { degree: k },
                };
                let c = max_corrupt_neighbours.unwrap_or(t.saturating_sub(1));
                b = b.graph(graph, t, c);
            }
            (Some(_), None) => {
                return Err(errors::params(
                    "Threshold",
                    "a degree needs a threshold (or give neither and let the chooser pick)",
                ))
            }
        }
        if let Some(t) = timeouts_ms {
            let t: [u32; 5] = t.try_into().map_err(|t: Vec<u32>| {
                errors::params(
                    "Timeouts",
                    format!("timeouts_ms must have 5 entries, got {}", t.len()),
                )
            })?;
            b = b.round_timeouts_ms(t);
        }
        if let Some(epsilon) = dp_epsilon {
            b = b.distributed_dp(secagg::ddp::SessionDp {
                mechanism: parse_mechanism(dp_mechanism)?,
                epsilon,
                delta: dp_delta,
                l2_clip: dp_l2_clip,
                rounds: dp_rounds,
                max_wrap: dp_max_wrap,
            });
        }
        let p = b.build().map_err(|e| errors::map(Class::Params, e))?;
        Ok(Self { inner: Arc::new(p) })
    }

    /// Decodes and validates parameters received from a coordinator.
    #[staticmethod]
    fn decode(data: &[u8]) -> PyResult<Self> {
        let p = SessionParams::decode(data).map_err(|e| errors::map(Class::Params, e))?;
        p.validate().map_err(|e| errors::map(Class::Params, e))?;
        Ok(Self { inner: Arc::new(p) })
    }

    /// The canonical encoding (what the session id hashes).
    fn encode<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.encode())
    }

    /// The 32-byte session id.
    #[getter]
    fn session_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.session_id().as_bytes())
    }

    /// The participant ids, ascending.
    #[getter]
    fn participants(&self) -> Vec<u16> {
        self.inner.participants.iter().map(|p| p.get()).collect()
    }

    /// Number of participants.
    #[getter]
    fn n(&self) -> usize {
        self.inner.n()
    }

    /// Neighbours per client (``n - 1`` for the complete graph).
    #[getter]
    fn degree(&self) -> usize {
        self.inner.degree()
    }

    /// Whether the graph is complete (SecAgg) rather than a Harary graph (SecAgg+).
    #[getter]
    fn complete_graph(&self) -> bool {
        matches!(self.inner.graph, Graph::Complete)
    }

    /// Shamir threshold t.
    #[getter]
    fn threshold(&self) -> u16 {
        self.inner.threshold
    }

    /// Assumed bound c on corrupted neighbours.
    #[getter]
    fn max_corrupt_neighbours(&self) -> u16 {
        self.inner.max_corrupt_neighbours
    }

    /// Length L of the masked vectors (with distributed DP, the rotation's padded length;
    /// clients give ``input_len`` values).
    #[getter]
    fn vector_len(&self) -> u32 {
        self.inner.vector_len
    }

    /// The number of values each client inputs: ``vector_len``, or the DP configuration's
    /// dimension with distributed DP.
    #[getter]
    fn input_len(&self) -> usize {
        input_len(&self.inner)
    }

    /// Whether clients add distributed-DP noise (``ddp.md``).
    #[getter]
    fn dp(&self) -> bool {
        self.inner.dp.is_some()
    }

    /// The predicted mean squared error per coordinate of the decoded mean of ``included``
    /// clients' inputs (noise plus rounding, without clipping): what DP costs in accuracy.
    /// ``None`` without distributed DP.
    fn dp_predicted_mse(&self, included: u64) -> PyResult<Option<f64>> {
        let Some(dp) = &self.inner.dp else {
            return Ok(None);
        };
        if included == 0 {
            return Err(errors::input(
                "Included",
                "included must be at least 1".to_string(),
            ));
        }
        let s = dp.scale();
        Ok(Some(
            (secagg::ddp::calibrate::noise_variance(dp) + 1.0 / 6.0) / (s * s * included as f64),
        ))
    }

    /// The epsilon, at ``delta`` (default ``min(1e-6, 1/n^2)``), that one session guarantees
    /// to every client: with the noise of the ``max(1, t + 1 - c)`` honest clients a completed
    /// session is sure to include. ``None`` without distributed DP.
    #[pyo3(signature = (delta=None))]
    fn dp_epsilon(&self, delta: Option<f64>) -> PyResult<Option<f64>> {
        let Some(dp) = &self.inner.dp else {
            return Ok(None);
        };
        let delta = delta.unwrap_or_else(|| secagg::ddp::SessionDp::default_delta(self.inner.n()));
        if !(delta > 0.0 && delta < 1.0) {
            return Err(errors::params(
                "InvalidDelta",
                format!("delta must be in (0, 1), got {delta}"),
            ));
        }
        let noisy = secagg::ddp::SessionDp::noisy_clients(
            self.inner.threshold,
            self.inner.max_corrupt_neighbours,
        );
        Ok(Some(
            secagg::ddp::accounting::guarantee(dp, noisy, delta, 1, false).epsilon(),
        ))
    }

    /// Ring width in bits.
    #[getter]
    fn bits(&self) -> u32 {
        self.inner.bits.get()
    }

    /// Clip bound of the quantizer.
    #[getter]
    fn clip(&self) -> f64 {
        self.inner.clip
    }

    /// Quantization levels.
    #[getter]
    fn levels(&self) -> u64 {
        self.inner.levels
    }

    /// Largest client weight.
    #[getter]
    fn max_weight(&self) -> u32 {
        self.inner.max_weight
    }

    /// The quantizer's step ``2 * clip / (levels - 1)``: each client's rounding error per
    /// coordinate is below one step.
    #[getter]
    fn step(&self) -> PyResult<f64> {
        let q = self
            .inner
            .quantizer()
            .map_err(|e| errors::map(Class::Params, e))?;
        Ok(q.step())
    }

    /// Each round's deadline in milliseconds.
    #[getter]
    fn timeouts_ms(&self) -> Vec<u32> {
        self.inner.round_timeout_ms.to_vec()
    }

    /// Whether the active (malicious-server) model is used.
    #[getter]
    fn active(&self) -> bool {
        self.inner.threat_model == secagg::protocol::ThreatModel::Active
    }

    fn __repr__(&self) -> String {
        let p = &self.inner;
        format!(
            "Params(n={}, vector_len={}, degree={}, threshold={}, bits={}, clip={}, levels={}, max_weight={})",
            p.n(),
            p.vector_len,
            p.degree(),
            p.threshold,
            p.bits.get(),
            p.clip,
            p.levels,
            p.max_weight
        )
    }
}

/// The number of values a client of `p` inputs.
pub fn input_len(p: &SessionParams) -> usize {
    p.dp.as_ref().map_or(p.vector_len as usize, |dp| dp.dim())
}

fn parse_mechanism(s: &str) -> PyResult<secagg::ddp::Mechanism> {
    match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
        "discretegaussian" | "gaussian" => Ok(secagg::ddp::Mechanism::DiscreteGaussian),
        "skellam" => Ok(secagg::ddp::Mechanism::Skellam),
        _ => Err(errors::params(
            "Mechanism",
            format!("dp_mechanism must be 'discrete-gaussian' or 'skellam', got {s:?}"),
        )),
    }
}

fn parse_prg(s: &str) -> PyResult<MaskPrg> {
    match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
        "aes128ctr" | "aes" => Ok(MaskPrg::Aes128Ctr),
        "chacha20" | "chacha" => Ok(MaskPrg::ChaCha20),
        _ => Err(errors::params(
            "MaskPrg",
            format!("mask_prg must be 'aes128ctr' or 'chacha20', got {s:?}"),
        )),
    }
}

/// What a client accepts from a coordinator (checked before any key is generated). Defaults
/// are the core's production defaults: cohorts of 10 to 10 000, threshold >= 2, degree <= 1000,
/// an assumed 5% corruption rate.
#[pyclass(module = "secagg", frozen)]
#[derive(Clone)]
pub struct Policy {
    pub inner: ClientPolicy,
}

#[pymethods]
impl Policy {
    #[new]
    #[pyo3(signature = (vector_len, *, min_clients=None, max_clients=None, min_threshold=None,
        max_degree=None, assumed_corrupt_rate=None, max_round_timeout_ms=None,
        require_dp_epsilon=None, require_dp_delta=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        vector_len: u32,
        min_clients: Option<usize>,
        max_clients: Option<usize>,
        min_threshold: Option<u16>,
        max_degree: Option<usize>,
        assumed_corrupt_rate: Option<f64>,
        max_round_timeout_ms: Option<u32>,
        require_dp_epsilon: Option<f64>,
        require_dp_delta: Option<f64>,
    ) -> PyResult<Self> {
        let mut p = ClientPolicy::new(vector_len);
        if let Some(v) = min_clients {
            p.participants.0 = v;
        }
        if let Some(v) = max_clients {
            p.participants.1 = v;
        }
        if let Some(v) = min_threshold {
            p.min_threshold = v;
        }
        if let Some(v) = max_degree {
            p.max_degree = v;
        }
        if let Some(v) = assumed_corrupt_rate {
            if !(0.0..1.0).contains(&v) {
                return Err(errors::params(
                    "AssumedCorruptRate",
                    format!("assumed_corrupt_rate must be in [0, 1), got {v}"),
                ));
            }
            p.assumed_corrupt_rate = v;
        }
        if let Some(v) = max_round_timeout_ms {
            p.max_round_timeout_ms = v;
        }
        match (require_dp_epsilon, require_dp_delta) {
            (None, None) => {}
            (Some(max_epsilon), delta) => {
                let delta = delta.unwrap_or(1e-6);
                if !(max_epsilon.is_finite() && max_epsilon > 0.0 && delta > 0.0 && delta < 1.0) {
                    return Err(errors::params(
                        "DpRequirement",
                        format!(
                            "require_dp_epsilon must be positive and finite and require_dp_delta in (0, 1), got {max_epsilon} and {delta}"
                        ),
                    ));
                }
                p.require_dp = Some(secagg::protocol::DpRequirement { max_epsilon, delta });
            }
            (None, Some(_)) => {
                return Err(errors::params(
                    "DpRequirement",
                    "require_dp_delta needs require_dp_epsilon",
                ))
            }
        }
        Ok(Self { inner: p })
    }

    /// Raises :class:`PolicyError` if ``params`` is not acceptable for participant ``me``.
    fn check(&self, params: &Params, me: i64) -> PyResult<()> {
        self.inner
            .check(&params.inner, pid(me)?)
            .map_err(|e| errors::map(Class::Policy, e))
    }

    fn __repr__(&self) -> String {
        format!("Policy({:?})", self.inner)
    }
}

/// The SecAgg+ chooser: ``(degree, threshold, max_corrupt_neighbours)`` for ``n`` clients, a
/// fraction ``dropout_rate`` of which may drop and ``corruption_rate`` may collude with the
/// server. ``degree`` is ``n - 1`` when only the complete graph works.
#[pyfunction]
#[pyo3(signature = (n, dropout_rate=0.05, corruption_rate=0.05, active=false))]
pub fn choose_graph(
    n: u64,
    dropout_rate: f64,
    corruption_rate: f64,
    active: bool,
) -> PyResult<(u64, u16, u16)> {
    let model = if active {
        secagg::protocol::ThreatModel::Active
    } else {
        secagg::protocol::ThreatModel::SemiHonest
    };
    let (g, t, c) =
        secagg::protocol::chooser::choose_session_graph(n, dropout_rate, corruption_rate, model)
            .map_err(|e| errors::map(Class::Params, e))?;
    let k = match g {
        Graph::Harary { degree } => u64::from(degree),
        _ => n.saturating_sub(1),
    };
    Ok((k, t, c))
}
