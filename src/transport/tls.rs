//! TLS for the QUIC binding: TLS 1.3 only, ALPN `secagg/1`, ring as the one crypto provider
//! (passed explicitly, so no process-wide default is needed), 0-RTT left off.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// Certificates in DER, as rustls takes them (re-exported so callers need not depend on rustls).
pub use rustls::pki_types::CertificateDer;

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
    /// A fresh self-signed certificate for `names` (development mode), with its private key
    /// in PEM (zeroized on drop) for a caller that keeps the identity across restarts.
    pub fn self_signed_with_key_pem(
        names: &[&str],
    ) -> Result<(Self, zeroize::Zeroizing<String>), TransportError> {
        let ck = rcgen::generate_simple_self_signed(
            names.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .map_err(cfg_err)?;
        let key_pem = zeroize::Zeroizing::new(ck.signing_key.serialize_pem());
        Ok((
            Self {
                cert_pem: ck.cert.pem(),
                cert_chain: vec![ck.cert.der().clone()],
                key: PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()).into(),
            },
            key_pem,
        ))
    }

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
    // No QUIC datagrams: the protocol does not use them, and a peer allowed to send them fills
    // a receive buffer nobody reads (finding: 400 such connections took 700 MB).
    t.datagram_receive_buffer_size(None);
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

/// The coordinator's QUIC server configuration. With `client_ca`, mutual TLS: every client
/// must present a certificate chain to one of these roots, or the handshake fails (the
/// participant id is then read from the certificate by
/// [`super::auth::ClientCertificates`]).
pub fn server_config(
    id: &TlsIdentity,
    idle: Duration,
    client_ca: Option<&[CertificateDer<'static>]>,
) -> Result<quinn::ServerConfig, TransportError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(cfg_err)?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(roots) => {
            let mut store = rustls::RootCertStore::empty();
            for c in roots {
                store.add(c.clone()).map_err(cfg_err)?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(store),
                provider(),
            )
            .build()
            .map_err(cfg_err)?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut tls = builder
        .with_single_cert(id.cert_chain.clone(), id.key.clone_key())
        .map_err(|e| {
            TransportError::Config(format!("certificate and key do not fit together: {e}"))
        })?;
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
    client_config_with_identity(roots, idle, None)
}

/// A client configuration trusting `roots` and, for mutual TLS, presenting `identity` (a
/// certificate from the operator CA naming the participant).
pub fn client_config_with_identity(
    roots: &[CertificateDer<'static>],
    idle: Duration,
    identity: Option<&TlsIdentity>,
) -> Result<quinn::ClientConfig, TransportError> {
    let mut store = rustls::RootCertStore::empty();
    for c in roots {
        store.add(c.clone()).map_err(cfg_err)?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(cfg_err)?
        .with_root_certificates(store);
    let mut tls = match identity {
        None => tls.with_no_client_auth(),
        Some(id) => tls
            .with_client_auth_cert(id.cert_chain.clone(), id.key.clone_key())
            .map_err(cfg_err)?,
    };
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.enable_early_data = false;
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(cfg_err)?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(quic));
    cfg.transport_config(transport(idle)?);
    Ok(cfg)
}

/// A throwaway certificate authority for development and tests of mutual TLS: it issues the
/// coordinator's server certificate and participant client certificates naming
/// `participant-<id>.secagg` (see [`super::auth::ClientCertificates`]). Production deployments
/// use their own CA and issuance process; this only saves writing openssl commands.
pub struct DevCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl core::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DevCa").finish_non_exhaustive()
    }
}

impl DevCa {
    /// A fresh CA with a random P-256 key.
    pub fn new() -> Result<Self, TransportError> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(cfg_err)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "secagg development CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().map_err(cfg_err)?;
        Ok(Self {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).map_err(cfg_err)?,
        })
    }

    /// The CA certificate (what the coordinator trusts for client certificates and clients
    /// trust for the server).
    pub fn cert(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// The CA certificate as PEM.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    fn issue(
        &self,
        names: Vec<String>,
        usage: rcgen::ExtendedKeyUsagePurpose,
    ) -> Result<TlsIdentity, TransportError> {
        let mut params = rcgen::CertificateParams::new(names).map_err(cfg_err)?;
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let key = rcgen::KeyPair::generate().map_err(cfg_err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(cfg_err)?;
        Ok(TlsIdentity {
            cert_pem: cert.pem(),
            cert_chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        })
    }

    /// A server certificate for `names`.
    pub fn issue_server(&self, names: &[&str]) -> Result<TlsIdentity, TransportError> {
        self.issue(
            names.iter().map(|s| s.to_string()).collect(),
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate naming `participant`.
    pub fn issue_participant(
        &self,
        participant: crate::ids::ParticipantId,
    ) -> Result<TlsIdentity, TransportError> {
        self.issue(
            vec![super::auth::participant_dns_name(participant)],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        )
    }
}
