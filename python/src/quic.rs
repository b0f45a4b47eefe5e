//! The QUIC transport for Python: `participate` (one client's session against a coordinator,
//! blocking; `secagg.participate_async` wraps it for asyncio) and a `Coordinator` that runs
//! sessions from Python (for tests, demos and small deployments).
//!
//! Both run the core's tokio drivers on a runtime owned by the call (client) or the object
//! (coordinator), with the GIL released for the whole network exchange. The client vets the
//! coordinator's parameters with its `Policy` before generating any key, exactly as the
//! `secagg-client` binary does; its RNG is seeded from the OS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use secagg::transport::client::Retry;
use secagg::transport::tls::{client_config, client_endpoint, read_certs_pem, TlsIdentity};
use secagg::transport::{
    participate as core_participate, ClientOptions, ClientOutcome, Coordinator as CoreCoordinator,
    CoordinatorOptions,
};

use crate::client::{read_input, Slice};
use crate::errors::{self, Class};
use crate::params::{os_rng, pid, Params, Policy};
use crate::server::AggregateResult;

fn transport_err(e: impl std::fmt::Display + std::fmt::Debug) -> PyErr {
    errors::map(Class::Transport, e)
}

fn secs(name: &str, s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            errors::input(
                "Timeout",
                format!("{name} must be a positive number of seconds, got {s}"),
            )
        })
}

/// Takes part in one session as ``participant_id``: connects to the coordinator at
/// ``server`` (``"host:port"``, trusting the PEM certificate(s) in ``cert_path``), checks its
/// parameters against ``policy`` (default ``Policy(len(values))``), and sends the masked
/// ``values`` (float32 or float64) with ``weight``. Returns ``"included"``, ``"excluded"`` or
/// ``"aborted"``; raises :class:`TransportError` if the connection fails or times out and
/// :class:`PolicyError` if the parameters are refused. A connection the coordinator refuses
/// as busy (or before any session data) is retried up to ``retry_attempts`` times with the
/// core's exponential backoff. Blocks (without the GIL).
#[pyfunction]
#[pyo3(signature = (server, participant_id, values, weight=1, *, cert_path, server_name=None,
    token=None, policy=None, connect_timeout_s=10.0, message_timeout_s=120.0,
    retry_attempts=8))]
#[allow(clippy::too_many_arguments)]
pub fn participate(
    py: Python<'_>,
    server: &str,
    participant_id: i64,
    values: &Bound<'_, PyAny>,
    weight: i64,
    cert_path: std::path::PathBuf,
    server_name: Option<String>,
    token: Option<Vec<u8>>,
    policy: Option<&Policy>,
    connect_timeout_s: f64,
    message_timeout_s: f64,
    retry_attempts: u32,
) -> PyResult<&'static str> {
    let id = pid(participant_id)?;
    let input = read_input(values)?;
    let weight = u32::try_from(weight).map_err(|_| {
        errors::input(
            "Weight",
            format!("weight must be in 0..=2^32-1, got {weight}"),
        )
    })?;
    let addr: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(server)
        .map_err(|e| errors::input("Address", format!("{server:?}: {e}")))?
        .next()
        .ok_or_else(|| errors::input("Address", format!("{server:?} resolves to nothing")))?;
    let server_name = server_name.unwrap_or_else(|| {
        server
            .rsplit_once(':')
            .map_or(server, |(h, _)| h)
            .trim_matches(['[', ']'])
            .to_string()
    });
    let roots = read_certs_pem(&cert_path).map_err(transport_err)?;
    if roots.is_empty() {
        return Err(errors::input(
            "Certificate",
            format!("{}: no certificate", cert_path.display()),
        ));
    }
    let mut rng = os_rng()?;
    let len = match &input {
        crate::client::Input::F32(a) => a.as_array().len(),
        crate::client::Input::F64(a) => a.as_array().len(),
    };
    let policy = match policy {
        Some(p) => p.inner.clone(),
        None => secagg::protocol::ClientPolicy::new(u32::try_from(len).unwrap_or(u32::MAX)),
    };
    let opts = ClientOptions {
        server: addr,
        server_name,
        id,
        credential: zeroize::Zeroizing::new(token.unwrap_or_default()),
        connect_timeout: secs("connect_timeout_s", connect_timeout_s)?,
        message_timeout: secs("message_timeout_s", message_timeout_s)?,
        policy,
        retry: Retry {
            attempts: retry_attempts,
            ..Retry::default()
        },
        vanish: None,
    };
    let outcome = input.with_slice(py, |s| {
        // The core's client takes f64 input (the quantizer reads it in place).
        let values: Vec<f64> = match s {
            Slice::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Slice::F64(v) => v.to_vec(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        rt.block_on(async {
            let bind: SocketAddr = if addr.is_ipv6() {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            };
            let endpoint = client_endpoint(bind).map_err(|e| e.to_string())?;
            let cfg = client_config(&roots, opts.message_timeout).map_err(|e| e.to_string())?;
            let r = core_participate(&endpoint, cfg, &opts, None, &values, weight, &mut rng).await;
            endpoint.wait_idle().await;
            Ok::<_, String>(r)
        })
    });
    match outcome {
        Err(e) => Err(errors::map(Class::Transport, e)),
        Ok(Err(secagg::transport::TransportError::Policy(e))) => Err(errors::map(Class::Policy, e)),
        Ok(Err(e)) => Err(transport_err(e)),
        Ok(Ok(ClientOutcome::Included)) => Ok("included"),
        Ok(Ok(ClientOutcome::Excluded)) => Ok("excluded"),
        Ok(Ok(_)) => Ok("aborted"),
    }
}

/// A QUIC coordinator bound to ``bind`` (default an ephemeral port on 127.0.0.1) with a fresh
/// self-signed certificate for ``names`` (development mode: any connection may claim any
/// participant id; use the ``secagg-coordinator`` binary for authenticated deployments).
/// :meth:`run_session` runs one session to its end.
#[pyclass(module = "secagg")]
pub struct Coordinator {
    rt: tokio::runtime::Runtime,
    inner: Arc<CoreCoordinator>,
    cert_pem: String,
    addr: SocketAddr,
}

#[pymethods]
impl Coordinator {
    #[new]
    #[pyo3(signature = (bind="127.0.0.1:0", names=vec!["localhost".to_string(), "127.0.0.1".to_string()]))]
    fn new(bind: &str, names: Vec<String>) -> PyResult<Self> {
        let addr: SocketAddr = bind
            .parse()
            .map_err(|e| errors::input("Address", format!("{bind:?}: {e}")))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(transport_err)?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let identity = TlsIdentity::self_signed(&names).map_err(transport_err)?;
        let inner = {
            let _guard = rt.enter();
            CoreCoordinator::bind(addr, &identity, CoordinatorOptions::default())
                .map_err(transport_err)?
        };
        let addr = inner.local_addr().map_err(transport_err)?;
        Ok(Self {
            rt,
            inner: Arc::new(inner),
            cert_pem: identity.cert_pem.clone(),
            addr,
        })
    }

    /// The bound address, ``"host:port"``.
    #[getter]
    fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The coordinator's certificate (PEM): what clients must trust.
    #[getter]
    fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Runs one session with ``params`` until it ends (blocking, without the GIL) and returns
    /// its :class:`AggregateResult`; raises :class:`SessionAbortedError` if it aborted.
    fn run_session(&self, py: Python<'_>, params: &Params) -> PyResult<AggregateResult> {
        let p = (*params.inner).clone();
        let vector_len = p.vector_len as usize;
        let inner = self.inner.clone();
        let report = py
            .detach(|| self.rt.block_on(async move { inner.run_session(p).await }))
            .map_err(transport_err)?;
        match report.result {
            Ok(out) => Ok(AggregateResult::new(out, vector_len)),
            Err(e) => Err(errors::session_abort(&e)),
        }
    }
}
