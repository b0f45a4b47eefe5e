//! Local differential privacy for Python: the single-attribute frequency oracles and the
//! multidimensional protocols of `secagg::ldp`, with NumPy batch calls.
//!
//! Reports cross the boundary as their wire encodings (`protocol-spec/ldp.md`): a batch of
//! reports is a 2-D `uint8` array (one row per report) when every report has the same length,
//! which is the case for every oracle and for Spl / RS+FD, else a list of `bytes` (Smp with
//! attributes of different report lengths). Estimation accepts either form; every report is
//! decoded and validated by the core, so untrusted reports raise `LdpError`, never panic.
//! Batch work runs without the GIL. Randomness: a ChaCha20 generator seeded from the OS per
//! call, or from `seed` (32 bytes) for reproducible simulations and test vectors only: a report
//! whose seed is known is not private.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use secagg::ldp::{
    Adp, BaseOracle, FrequencyOracle, Grr, Hr, LdpError as CoreLdpError, Lh, MultidimProtocol,
    RsFd, RsFdVariant, Smp, Spl, Ss, Ue,
};
use secagg::rand_core::SeedableRng;
use secagg::rng::ChaCha20Rng;

use crate::errors::{self, Class};

fn ldp_err(e: CoreLdpError) -> PyErr {
    errors::map(Class::Ldp, e)
}

fn rng(seed: Option<Vec<u8>>) -> PyResult<ChaCha20Rng> {
    match seed {
        None => crate::params::os_rng(),
        Some(s) => {
            let s: [u8; 32] = s.try_into().map_err(|s: Vec<u8>| {
                errors::input("Seed", format!("seed must be 32 bytes, got {}", s.len()))
            })?;
            Ok(ChaCha20Rng::from_seed(s))
        }
    }
}

/// Encoded reports as a 2-D uint8 array (uniform length) or a list of bytes.
fn reports_out<'py>(py: Python<'py>, reports: Vec<Vec<u8>>) -> PyResult<Bound<'py, PyAny>> {
    let len = reports.first().map_or(0, Vec::len);
    if reports.iter().all(|r| r.len() == len) {
        let n = reports.len();
        let flat: Vec<u8> = reports.concat();
        let arr = PyArray1::from_vec(py, flat);
        Ok(arr.reshape([n, len])?.into_any())
    } else {
        Ok(PyList::new(py, reports.iter().map(|r| PyBytes::new(py, r)))?.into_any())
    }
}

/// Reports in: a 2-D uint8 array or a sequence of bytes.
fn reports_in(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<u8>>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray2<'_, u8>>() {
        return Ok(a
            .as_array()
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect());
    }
    if obj.cast::<numpy::PyUntypedArray>().is_ok() {
        return Err(errors::input(
            "Dtype",
            "reports must be a 2-D uint8 array (one row per report) or a list of bytes",
        ));
    }
    obj.extract::<Vec<Vec<u8>>>().map_err(|_| {
        errors::input(
            "Dtype",
            "reports must be a 2-D uint8 array (one row per report) or a list of bytes",
        )
    })
}

/// Values in: a 1-D integer array (any integer dtype, checked to fit u32) or a sequence.
fn values_in(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, u32>>() {
        return Ok(a.as_array().to_vec());
    }
    let v: Vec<i64> = match obj.extract::<PyReadonlyArray1<'_, i64>>() {
        Ok(a) => a.as_array().to_vec(),
        Err(_) => obj.extract::<Vec<i64>>().map_err(|_| {
            errors::input(
                "Dtype",
                "values must be a 1-D integer array or a list of ints",
            )
        })?,
    };
    v.into_iter()
        .map(|x| {
            u32::try_from(x).map_err(|_| {
                errors::input(
                    "ValueOutOfDomain",
                    format!("value {x} is not a valid category"),
                )
            })
        })
        .collect()
}

#[derive(Clone)]
enum Oracle {
    Grr(Grr),
    Ue(Ue),
    Lh(Lh),
    Hr(Hr),
    Ss(Ss),
    Adp(Adp),
}

macro_rules! with_oracle {
    ($o:expr, $x:ident => $body:expr) => {
        match $o {
            Oracle::Grr($x) => $body,
            Oracle::Ue($x) => $body,
            Oracle::Lh($x) => $body,
            Oracle::Hr($x) => $body,
            Oracle::Ss($x) => $body,
            Oracle::Adp($x) => $body,
        }
    };
}

fn randomize_all<O: FrequencyOracle>(
    o: &O,
    values: &[u32],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<Vec<u8>>, CoreLdpError> {
    let reports = o.randomize_batch(values, rng)?;
    reports
        .iter()
        .map(|r| {
            let mut out = Vec::with_capacity(o.report_len());
            o.encode_report(r, &mut out)?;
            Ok(out)
        })
        .collect()
}

fn aggregate<O: FrequencyOracle>(
    o: &O,
    reports: &[Vec<u8>],
) -> Result<(Vec<u64>, Vec<f64>), CoreLdpError> {
    let mut agg = o.aggregator();
    for r in reports {
        agg.add_bytes(r)?;
    }
    Ok((agg.support_counts(), agg.estimate()))
}

/// Support counts and unbiased estimates, as NumPy arrays.
type CountsAndEstimates<'py> = (Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<f64>>);

/// A single-attribute frequency oracle: ``kind`` is one of ``"grr"``, ``"sue"``, ``"oue"``,
/// ``"blh"``, ``"olh"``, ``"hr"``, ``"ss"``, ``"adp"``, over categories ``0..k`` at privacy
/// ``epsilon``.
#[pyclass(module = "secagg.ldp", name = "FrequencyOracle", frozen)]
pub struct FrequencyOracleObj {
    o: Oracle,
}

#[pymethods]
impl FrequencyOracleObj {
    #[new]
    fn new(kind: &str, k: u32, epsilon: f64) -> PyResult<Self> {
        let o = match kind.to_ascii_lowercase().as_str() {
            "grr" | "krr" => Oracle::Grr(Grr::new(k, epsilon).map_err(ldp_err)?),
            "sue" | "rappor" => Oracle::Ue(Ue::sue(k, epsilon).map_err(ldp_err)?),
            "oue" => Oracle::Ue(Ue::oue(k, epsilon).map_err(ldp_err)?),
            "blh" => Oracle::Lh(Lh::blh(k, epsilon).map_err(ldp_err)?),
            "olh" => Oracle::Lh(Lh::olh(k, epsilon).map_err(ldp_err)?),
            "hr" => Oracle::Hr(Hr::new(k, epsilon).map_err(ldp_err)?),
            "ss" => Oracle::Ss(Ss::new(k, epsilon).map_err(ldp_err)?),
            "adp" => Oracle::Adp(Adp::new(k, epsilon).map_err(ldp_err)?),
            other => {
                return Err(errors::params(
                    "Kind",
                    format!("unknown oracle {other:?}: grr, sue, oue, blh, olh, hr, ss or adp"),
                ))
            }
        };
        Ok(Self { o })
    }

    /// The oracle's name, e.g. ``"OLH"``.
    #[getter]
    fn name(&self) -> &'static str {
        with_oracle!(&self.o, o => o.name())
    }

    /// Number of categories k.
    #[getter]
    fn domain_size(&self) -> u32 {
        with_oracle!(&self.o, o => o.domain_size())
    }

    /// The configured epsilon.
    #[getter]
    fn epsilon(&self) -> f64 {
        with_oracle!(&self.o, o => o.epsilon())
    }

    /// The exact worst-case privacy loss of one report.
    #[getter]
    fn true_epsilon(&self) -> f64 {
        with_oracle!(&self.o, o => o.true_epsilon())
    }

    /// Bytes per encoded report.
    #[getter]
    fn report_len(&self) -> usize {
        with_oracle!(&self.o, o => o.report_len())
    }

    /// Randomizes ``values`` (1-D integers in ``0..k``), one report per value: a 2-D uint8
    /// array of shape ``(len(values), report_len)``.
    #[pyo3(signature = (values, seed=None))]
    fn randomize_batch<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        seed: Option<Vec<u8>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = values_in(values)?;
        let mut rng = rng(seed)?;
        let o = &self.o;
        let reports = py
            .detach(|| with_oracle!(o, o => randomize_all(o, &values, &mut rng)))
            .map_err(ldp_err)?;
        reports_out(py, reports)
    }

    /// Decodes, validates and aggregates ``reports``; returns ``(support_counts, estimates)``
    /// (unbiased frequency estimates, float64, length k).
    fn aggregate<'py>(
        &self,
        py: Python<'py>,
        reports: &Bound<'py, PyAny>,
    ) -> PyResult<CountsAndEstimates<'py>> {
        let reports = reports_in(reports)?;
        let o = &self.o;
        let (counts, est) = py
            .detach(|| with_oracle!(o, o => aggregate(o, &reports)))
            .map_err(ldp_err)?;
        Ok((PyArray1::from_vec(py, counts), PyArray1::from_vec(py, est)))
    }

    /// Unbiased frequency estimates from ``reports`` (see :meth:`aggregate`).
    fn estimate<'py>(
        &self,
        py: Python<'py>,
        reports: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(self.aggregate(py, reports)?.1)
    }

    fn __repr__(&self) -> String {
        format!(
            "FrequencyOracle({}, k={}, epsilon={})",
            self.name(),
            self.domain_size(),
            self.epsilon()
        )
    }
}

#[derive(Clone)]
enum Multi {
    Spl(Spl),
    Smp(Smp),
    RsFd(RsFd),
}

macro_rules! with_multi {
    ($o:expr, $x:ident => $body:expr) => {
        match $o {
            Multi::Spl($x) => $body,
            Multi::Smp($x) => $body,
            Multi::RsFd($x) => $body,
        }
    };
}

fn multi_randomize<P: MultidimProtocol>(
    p: &P,
    rows: &[u32],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<Vec<u8>>, CoreLdpError> {
    let reports = p.randomize_batch(rows, rng)?;
    reports
        .iter()
        .map(|r| {
            let mut out = Vec::new();
            p.encode_report(r, &mut out)?;
            Ok(out)
        })
        .collect()
}

fn multi_estimate<P: MultidimProtocol>(
    p: &P,
    reports: &[Vec<u8>],
) -> Result<Vec<Vec<f64>>, CoreLdpError> {
    let mut counts = p.new_counts();
    for r in reports {
        let rep = p.decode_report(r)?;
        p.accumulate(&mut counts, &rep)?;
    }
    p.estimate(&counts)
}

fn parse_base(s: &str) -> PyResult<BaseOracle> {
    match s.to_ascii_lowercase().as_str() {
        "grr" => Ok(BaseOracle::Grr),
        "oue" => Ok(BaseOracle::Oue),
        "adp" => Ok(BaseOracle::Adp),
        other => Err(errors::params(
            "Base",
            format!("unknown base oracle {other:?}: grr, oue or adp"),
        )),
    }
}

fn parse_variant(s: &str) -> PyResult<RsFdVariant> {
    match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
        "grr" => Ok(RsFdVariant::Grr),
        "ouez" => Ok(RsFdVariant::OueZero),
        "ouer" => Ok(RsFdVariant::OueRandom),
        "adp" => Ok(RsFdVariant::Adp),
        other => Err(errors::params(
            "Variant",
            format!("unknown RS+FD variant {other:?}: grr, oue-z, oue-r or adp"),
        )),
    }
}

/// A multidimensional LDP protocol over ``d`` attributes with domain sizes ``domains``:
/// ``kind`` ``"spl"`` (split the budget), ``"smp"`` (sample one attribute) with ``base``
/// ``"grr"``/``"oue"``/``"adp"``, or ``"rsfd"`` (RS+FD) with ``base`` ``"grr"``, ``"oue-z"``,
/// ``"oue-r"`` or ``"adp"``. Spl and Smp take ``epsilon`` at tuple level; RS+FD takes the
/// nominal attribute-level epsilon, or with ``tuple_epsilon=True`` the true tuple-level loss
/// (RS+FD calibrated so that ``ln(d (e^eps - 1) + 1)`` equals it).
#[pyclass(module = "secagg.ldp", name = "Multidim", frozen)]
pub struct MultidimObj {
    p: Multi,
}

#[pymethods]
impl MultidimObj {
    #[new]
    #[pyo3(signature = (kind, domains, epsilon, base="adp", tuple_epsilon=false))]
    fn new(
        kind: &str,
        domains: Vec<u32>,
        epsilon: f64,
        base: &str,
        tuple_epsilon: bool,
    ) -> PyResult<Self> {
        let p = match kind
            .to_ascii_lowercase()
            .replace(['+', '-', '_'], "")
            .as_str()
        {
            "spl" => Multi::Spl(Spl::new(&domains, epsilon, parse_base(base)?).map_err(ldp_err)?),
            "smp" => Multi::Smp(Smp::new(&domains, epsilon, parse_base(base)?).map_err(ldp_err)?),
            "rsfd" if tuple_epsilon => Multi::RsFd(
                RsFd::tuple_calibrated(&domains, epsilon, parse_variant(base)?).map_err(ldp_err)?,
            ),
            "rsfd" => {
                Multi::RsFd(RsFd::new(&domains, epsilon, parse_variant(base)?).map_err(ldp_err)?)
            }
            other => {
                return Err(errors::params(
                    "Kind",
                    format!("unknown protocol {other:?}: spl, smp or rsfd"),
                ))
            }
        };
        Ok(Self { p })
    }

    /// The protocol's name, e.g. ``"RS+FD[GRR]"``.
    #[getter]
    fn name(&self) -> String {
        with_multi!(&self.p, p => p.name())
    }

    /// Domain sizes.
    #[getter]
    fn domains(&self) -> Vec<u32> {
        with_multi!(&self.p, p => p.domains().to_vec())
    }

    /// The configured epsilon, at the level the protocol takes it (tuple level for Spl, Smp
    /// and tuple-calibrated RS+FD; nominal attribute level for RS+FD otherwise).
    #[getter]
    fn epsilon(&self) -> f64 {
        with_multi!(&self.p, p => p.nominal_epsilon())
    }

    /// The true tuple-level privacy loss of one report.
    #[getter]
    fn tuple_epsilon(&self) -> f64 {
        with_multi!(&self.p, p => p.tuple_epsilon())
    }

    /// Randomizes ``rows`` (a 2-D integer array, one tuple of ``d`` values per row): a 2-D
    /// uint8 array of reports (or a list of bytes if report lengths differ).
    #[pyo3(signature = (rows, seed=None))]
    fn randomize_batch<'py>(
        &self,
        py: Python<'py>,
        rows: &Bound<'py, PyAny>,
        seed: Option<Vec<u8>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let d = with_multi!(&self.p, p => p.domains().len());
        let flat: Vec<u32> = if let Ok(a) = rows.extract::<PyReadonlyArray2<'py, u32>>() {
            if a.shape()[1] != d {
                return Err(errors::input(
                    "ArityMismatch",
                    format!("rows must have {d} columns, got {}", a.shape()[1]),
                ));
            }
            a.as_array().iter().copied().collect()
        } else {
            let rows: Vec<Vec<i64>> = rows.extract().map_err(|_| {
                errors::input(
                    "Dtype",
                    "rows must be a 2-D integer array or a list of tuples",
                )
            })?;
            let mut flat = Vec::with_capacity(rows.len() * d);
            for r in rows {
                if r.len() != d {
                    return Err(errors::input(
                        "ArityMismatch",
                        format!("each row must have {d} values, got {}", r.len()),
                    ));
                }
                for x in r {
                    flat.push(u32::try_from(x).map_err(|_| {
                        errors::input(
                            "ValueOutOfDomain",
                            format!("value {x} is not a valid category"),
                        )
                    })?);
                }
            }
            flat
        };
        let mut rng = rng(seed)?;
        let p = &self.p;
        let reports = py
            .detach(|| with_multi!(p, p => multi_randomize(p, &flat, &mut rng)))
            .map_err(ldp_err)?;
        reports_out(py, reports)
    }

    /// Unbiased frequency estimates per attribute (a list of float64 arrays).
    fn estimate<'py>(
        &self,
        py: Python<'py>,
        reports: &Bound<'py, PyAny>,
    ) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
        let reports = reports_in(reports)?;
        let p = &self.p;
        let est = py
            .detach(|| with_multi!(p, p => multi_estimate(p, &reports)))
            .map_err(ldp_err)?;
        Ok(est.into_iter().map(|v| PyArray1::from_vec(py, v)).collect())
    }

    fn __repr__(&self) -> String {
        format!("Multidim({}, domains={:?})", self.name(), self.domains())
    }
}

/// Registers the LDP classes (re-exported by `secagg.ldp`).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FrequencyOracle", m.py().get_type::<FrequencyOracleObj>())?;
    m.add("Multidim", m.py().get_type::<MultidimObj>())?;
    Ok(())
}
