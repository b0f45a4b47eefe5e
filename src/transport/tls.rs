//! TLS for the QUIC binding: TLS 1.3 only, ALPN `secagg/1`, ring as the one crypto provider
//! (passed explicitly, so no process-wide default is needed), 0-RTT left off.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::frame::{TransportError, ALPN};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn cfg_err(e: impl std::fmt::Display) -> TransportError {
    TransportError::Config(e.to_string())
}

/// A certificate chain and its private key.
pub struct TlsIdentity {
    /// Leaf first.
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// The leaf's key.
    pub key: PrivateKeyDer<'static>,
    /// PEM of the leaf certificate (for writing where clients can read it).
    pub cert_pem: String,
}

impl core::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("certs", &self.cert_chain.len())
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// A fresh self-signed certificate for `names` (development mode).
    pub fn self_signed(names: &[&str]) -> Result<Self, TransportError> {
        let ck = rcgen::generate_simple_self_signed(
            names.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .map_err(cfg_err)?;
        Ok(Self {
            cert_pem: ck.cert.pem(),
            cert_chain: vec![ck.cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()).into(),
        })
    }

    /// Loads a PEM certificate chain and a PEM private key.
    pub fn from_pem_files(
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Self, TransportError> {
        let pem = std::fs::read(cert).map_err(cfg_err)?;
        let cert_chain = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(cfg_err)?;
        if cert_chain.is_empty() {
            return Err(TransportError::Config(format!(
                "no certificate in {}",
                cert.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(cfg_err)?;
        Ok(Self {
            cert_chain,
            key,
            cert_pem: String::from_utf8_lossy(&pem).into_owned(),
        })
    }
}

/// Reads trusted certificates (PEM) for a client.
pub fn read_certs_pem(
    path: &std::path::Path,
) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let pem = std::fs::read(path).map_err(cfg_err)?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(cfg_err)
}

fn transport(idle: Duration) -> Result<Arc<quinn::TransportConfig>, TransportError> {
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(Some(idle.try_into().map_err(cfg_err)?));
    t.keep_alive_interval(Some(idle / 3));
    // One protocol stream per connection, opened by the client.
    t.max_concurrent_bidi_streams(1u32.into());
    t.max_concurrent_uni_streams(0u32.into());
    Ok(Arc::new(t))
}

/// Socket buffer size requested for endpoints (the kernel may cap it, e.g. at
/// `net.core.rmem_max`). The default of about 200 KB overflows when hundreds of clients send
/// their round's message at once, and QUIC then waits for retransmission timers.
pub const SOCKET_BUFFER: usize = 4 << 20;

/// A UDP socket bound to `addr` with [`SOCKET_BUFFER`]-sized buffers (best effort).
pub fn udp_socket(addr: std::net::SocketAddr) -> Result<std::net::UdpSocket, TransportError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(cfg_err)?;
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    s.bind(&addr.into()).map_err(cfg_err)?;
    Ok(s.into())
}

/// A client endpoint (no server role) on `bind`, with large socket buffers.
pub fn client_endpoint(bind: std::net::SocketAddr) -> Result<quinn::Endpoint, TransportError> {
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        None,
        udp_socket(bind)?,
        Arc::new(quinn::TokioRuntime),
    )
    .map_err(cfg_err)
}

/// The coordinator's QUIC server configuration.
pub fn server_config(
    id: &TlsIdentity,
    idle: Duration,
) -> Result<quinn::ServerConfig, TransportError> {
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(cfg_err)?
        .with_no_client_auth()
        .with_single_cert(id.cert_chain.clone(), id.key.clone_key())
        .map_err(cfg_err)?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.max_early_data_size = 0;
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(cfg_err)?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(quic));
    cfg.transport_config(transport(idle)?);
    Ok(cfg)
}

/// A client configuration trusting `roots`.
pub fn client_config(
    roots: &[CertificateDer<'static>],
    idle: Duration,
) -> Result<quinn::ClientConfig, TransportError> {
    let mut store = rustls::RootCertStore::empty();
    for c in roots {
        store.add(c.clone()).map_err(cfg_err)?;
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(cfg_err)?
        .with_root_certificates(store)
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.enable_early_data = false;
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(cfg_err)?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(quic));
    cfg.transport_config(transport(idle)?);
    Ok(cfg)
}
