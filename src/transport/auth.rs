//! Participant authentication: who may speak for a participant id.
//!
//! The coordinator asks an [`Authenticator`] about every connection *after* its Hello and
//! *before* the participant's slot in the session is taken, so a connection that cannot prove
//! its identity never occupies (or blocks) a real participant's place. A refused connection is
//! closed with [`super::CloseCode::Unauthorized`] and logged at WARN with the reason and the
//! peer address.
//!
//! Provided authenticators:
//! * [`TokenFile`]: a registry of `participant token [identity key]` lines; the Hello carries
//!   the token. Only SHA-256 digests of the tokens are kept in memory and compared in constant
//!   time.
//! * [`HmacTokens`]: self-contained tokens `secagg1.<id>.<expiry>.<identity key or ->.<tag>`,
//!   the tag being HMAC-SHA256 under an operator key over everything before it; no per-client
//!   state on the coordinator, and tokens expire.
//! * [`ClientCertificates`]: mutual TLS. The TLS layer verifies the client's chain against the
//!   operator CA (see [`super::tls::server_config`]); this authenticator takes the participant
//!   id from the leaf certificate's DNS subject alternative name `participant-<id>.secagg`.
//! * [`TrustClaimedId`]: no authentication (development only): the Hello's id is believed.
//!
//! Invariant: an authenticator returns the participant the credential proves, never the id a
//! peer merely claims; if the two differ the connection is refused. In the active model the
//! participant's Ed25519 identity key comes from the same registry
//! ([`Authenticator::identity_key`]), so the key in the session parameters and the credential
//! that proves the participant are issued together.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::ids::ParticipantId;

/// Largest credential a Hello may carry (bytes).
pub const MAX_CREDENTIAL: usize = 1024;

/// Shortest bearer token a [`TokenFile`] accepts (bytes): 128 bits of entropy as hex.
pub const MIN_TOKEN_LEN: usize = 32;

/// What a connection presents: the Hello's claimed id and credential, the TLS client
/// certificate chain if any, and where it comes from.
#[derive(Debug)]
pub struct Claim<'a> {
    /// The participant id the Hello claims.
    pub participant: ParticipantId,
    /// The Hello's credential (empty if none).
    pub credential: &'a [u8],
    /// The client's certificate chain, leaf first, already verified by TLS against the
    /// operator CA (only with mutual TLS).
    pub peer_certificates: Option<&'a [CertificateDer<'static>]>,
    /// The peer's address (for logs and for authenticators that use it).
    pub remote: SocketAddr,
    /// Wall-clock time, for expiring credentials.
    pub now: SystemTime,
}

/// Why a connection was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The Hello carries no credential and no client certificate was presented.
    #[error("no credential")]
    MissingCredential,
    /// The credential is not known (or its tag does not verify).
    #[error("credential not recognised")]
    BadCredential,
    /// The credential is valid for another participant.
    #[error("credential is for participant {proven}, Hello claims {claimed}")]
    WrongParticipant {
        /// What the Hello claimed.
        claimed: ParticipantId,
        /// What the credential proves.
        proven: ParticipantId,
    },
    /// The credential expired.
    #[error("credential expired at {expired_at} (unix seconds)")]
    Expired {
        /// Expiry, in seconds since the Unix epoch.
        expired_at: u64,
    },
    /// The credential does not parse.
    #[error("malformed credential: {0}")]
    Malformed(&'static str),
    /// Mutual TLS: no certificate, or no participant identity in it.
    #[error("client certificate: {0}")]
    Certificate(String),
}

/// Decides which participant a connection speaks for. Implement it to plug in device
/// attestation, OAuth introspection or any other scheme; it runs on the connection's task, so
/// it should not block for long.
pub trait Authenticator: Send + Sync + 'static {
    /// The participant the connection proves to be, or why not.
    fn authenticate(&self, claim: &Claim<'_>) -> Result<ParticipantId, AuthError>;

    /// The participant's Ed25519 identity public key from the same registry, for the
    /// active model's session parameters. `None` if the registry has none.
    fn identity_key(&self, _participant: ParticipantId) -> Option<[u8; 32]> {
        None
    }

    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;
}

/// No authentication: the claimed id is believed. For development and tests only; anyone can
/// take any participant's place.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustClaimedId;

impl Authenticator for TrustClaimedId {
    fn authenticate(&self, claim: &Claim<'_>) -> Result<ParticipantId, AuthError> {
        Ok(claim.participant)
    }
    fn name(&self) -> &'static str {
        "none"
    }
}

fn parse_id(s: &str) -> Option<ParticipantId> {
    s.parse::<u16>().ok().and_then(ParticipantId::new)
}

fn parse_key_hex(s: &str) -> Option<[u8; 32]> {
    let mut k = [0u8; 32];
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(k)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A registry error while loading a file (line numbers are 1-based).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is wrong.
    #[error("{path}:{line}: {why}")]
    Line {
        /// The file.
        path: String,
        /// The line.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

struct Entry {
    digest: [u8; 32],
    identity_key: Option<[u8; 32]>,
}

/// Bearer tokens from a registry file, one participant per line:
/// `<participant id> <token> [<identity public key, 64 hex digits>]`; blank lines and lines
/// starting with `#` are ignored. Tokens are at least [`MIN_TOKEN_LEN`] bytes, unique per
/// participant and per file.
pub struct TokenFile {
    entries: HashMap<ParticipantId, Entry>,
}

impl core::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenFile")
            .field("participants", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl TokenFile {
    /// Reads and checks a registry file.
    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| RegistryError::Io {
                    path: path.display().to_string(),
                    source,
                })?,
            );
        Self::parse(&text).map_err(|(line, why)| RegistryError::Line {
            path: path.display().to_string(),
            line,
            why,
        })
    }

    /// Parses registry text; errors carry the 1-based line number.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut entries = HashMap::new();
        let mut seen_digests = std::collections::HashSet::new();
        for (no, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let no = no + 1;
            let mut it = line.split_whitespace();
            let (Some(id), Some(token)) = (it.next(), it.next()) else {
                return Err((
                    no,
                    "expected `<participant id> <token> [identity key]`".into(),
                ));
            };
            let id = parse_id(id).ok_or((no, format!("participant id {id:?} not in 1..=65535")))?;
            if token.len() < MIN_TOKEN_LEN || token.len() > MAX_CREDENTIAL {
                return Err((
                    no,
                    format!(
                        "token of {} bytes, {MIN_TOKEN_LEN}..={MAX_CREDENTIAL} required",
                        token.len()
                    ),
                ));
            }
            let identity_key = match it.next() {
                Some(k) => Some(
                    parse_key_hex(k)
                        .ok_or((no, "identity key is not 64 hex digits".to_string()))?,
                ),
                None => None,
            };
            if it.next().is_some() {
                return Err((no, "trailing fields".into()));
            }
            let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            if !seen_digests.insert(digest) {
                return Err((no, "token used for two participants".into()));
            }
            if entries
                .insert(
                    id,
                    Entry {
                        digest,
                        identity_key,
                    },
                )
                .is_some()
            {
                return Err((no, format!("participant {id} listed twice")));
            }
        }
        Ok(Self { entries })
    }

    /// The registered participants, in increasing order.
    pub fn participants(&self) -> Vec<ParticipantId> {
        let mut v: Vec<_> = self.entries.keys().copied().collect();
        v.sort_unstable();
        v
    }
}

impl Authenticator for TokenFile {
    fn authenticate(&self, claim: &Claim<'_>) -> Result<ParticipantId, AuthError> {
        if claim.credential.is_empty() {
            return Err(AuthError::MissingCredential);
        }
        let digest: [u8; 32] = Sha256::digest(claim.credential).into();
        // The claimed participant's entry decides; the digest comparison is constant time, so
        // the response time does not tell how much of a guessed token was right.
        match self.entries.get(&claim.participant) {
            Some(e) if bool::from(e.digest.ct_eq(&digest)) => Ok(claim.participant),
            _ => {
                // A valid token presented under another id: say so (it is the operator's
                // misconfiguration or a stolen token, both worth a distinct log line).
                match self
                    .entries
                    .iter()
                    .find(|(_, e)| bool::from(e.digest.ct_eq(&digest)))
                {
                    Some((&proven, _)) => Err(AuthError::WrongParticipant {
                        claimed: claim.participant,
                        proven,
                    }),
                    None => Err(AuthError::BadCredential),
                }
            }
        }
    }

    fn identity_key(&self, participant: ParticipantId) -> Option<[u8; 32]> {
        self.entries.get(&participant)?.identity_key
    }

    fn name(&self) -> &'static str {
        "token-file"
    }
}

/// Prefix of an HMAC token.
const HMAC_TOKEN_PREFIX: &str = "secagg1";

/// Self-contained expiring tokens: `secagg1.<id>.<expiry unix seconds>.<identity key hex or
/// ->.<tag hex>`, the tag being HMAC-SHA256 under the operator key over the text before the last
/// dot. The key is at least 32 bytes and is zeroized on drop.
pub struct HmacTokens {
    key: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for HmacTokens {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HmacTokens").finish_non_exhaustive()
    }
}

/// Errors creating an [`HmacTokens`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HmacKeyError {
    /// The key is shorter than 32 bytes.
    #[error("HMAC key of {0} bytes, at least 32 required")]
    TooShort(usize),
    /// The key file could not be read or is not hex.
    #[error("{0}")]
    File(String),
}

type HmacSha256 = hmac::Hmac<Sha256>;

impl HmacTokens {
    /// From raw key bytes (at least 32).
    pub fn new(key: &[u8]) -> Result<Self, HmacKeyError> {
        if key.len() < 32 {
            return Err(HmacKeyError::TooShort(key.len()));
        }
        Ok(Self {
            key: Zeroizing::new(key.to_vec()),
        })
    }

    /// From a file holding the key as hex (whitespace ignored).
    pub fn from_hex_file(path: &Path) -> Result<Self, HmacKeyError> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| HmacKeyError::File(format!("{}: {e}", path.display())))?,
        );
        let digits: Zeroizing<String> =
            Zeroizing::new(text.chars().filter(|c| !c.is_whitespace()).collect());
        if !digits.len().is_multiple_of(2) || !digits.is_ascii() {
            return Err(HmacKeyError::File(format!(
                "{}: not an even number of hex digits",
                path.display()
            )));
        }
        let mut key = Zeroizing::new(Vec::with_capacity(digits.len() / 2));
        for i in (0..digits.len()).step_by(2) {
            let b = digits
                .get(i..i + 2)
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| HmacKeyError::File(format!("{}: not hex", path.display())))?;
            key.push(b);
        }
        Self::new(&key)
    }

    fn mac(&self, body: &str) -> HmacSha256 {
        // `new_from_slice` accepts any key length for HMAC; the length was checked in `new`.
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        m.update(b"secagg token v1\0");
        m.update(body.as_bytes());
        m
    }

    /// Issues a token for `participant`, valid until `expires` (seconds since the Unix epoch),
    /// binding `identity_key` if given.
    pub fn issue(
        &self,
        participant: ParticipantId,
        expires: u64,
        identity_key: Option<&[u8; 32]>,
    ) -> String {
        let key = identity_key.map(|k| hex(k)).unwrap_or_else(|| "-".into());
        let body = format!("{HMAC_TOKEN_PREFIX}.{participant}.{expires}.{key}");
        let tag = self.mac(&body).finalize().into_bytes();
        format!("{body}.{}", hex(&tag))
    }

    /// Verifies a token's tag and expiry; returns the participant and the bound identity key.
    pub fn verify(
        &self,
        token: &[u8],
        now: SystemTime,
    ) -> Result<(ParticipantId, Option<[u8; 32]>), AuthError> {
        let token = std::str::from_utf8(token).map_err(|_| AuthError::Malformed("not UTF-8"))?;
        let (body, tag_hex) = token
            .rsplit_once('.')
            .ok_or(AuthError::Malformed("no tag"))?;
        if tag_hex.len() != 64 {
            return Err(AuthError::Malformed("tag is not 64 hex digits"));
        }
        let tag = parse_key_hex(tag_hex).ok_or(AuthError::Malformed("tag is not hex"))?;
        // Tag first: nothing in an unauthenticated body is interpreted.
        self.mac(body)
            .verify_slice(&tag)
            .map_err(|_| AuthError::BadCredential)?;
        let mut parts = body.split('.');
        let (Some(HMAC_TOKEN_PREFIX), Some(id), Some(exp), Some(key), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(AuthError::Malformed("fields"));
        };
        let id = parse_id(id).ok_or(AuthError::Malformed("participant id"))?;
        let expired_at: u64 = exp.parse().map_err(|_| AuthError::Malformed("expiry"))?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if now >= expired_at {
            return Err(AuthError::Expired { expired_at });
        }
        let key = match key {
            "-" => None,
            k => Some(parse_key_hex(k).ok_or(AuthError::Malformed("identity key"))?),
        };
        Ok((id, key))
    }
}

impl Authenticator for HmacTokens {
    fn authenticate(&self, claim: &Claim<'_>) -> Result<ParticipantId, AuthError> {
        if claim.credential.is_empty() {
            return Err(AuthError::MissingCredential);
        }
        let (proven, _) = self.verify(claim.credential, claim.now)?;
        if proven != claim.participant {
            return Err(AuthError::WrongParticipant {
                claimed: claim.participant,
                proven,
            });
        }
        Ok(proven)
    }

    fn name(&self) -> &'static str {
        "hmac-token"
    }
}

/// The DNS subject alternative name that carries a participant id in a client certificate.
pub fn participant_dns_name(participant: ParticipantId) -> String {
    format!("participant-{participant}.secagg")
}

/// Mutual TLS: the participant id comes from the verified client certificate's DNS name
/// `participant-<id>.secagg` (exactly one such name). Use with a server configuration built
/// with the operator CA ([`super::tls::server_config`] with `client_ca`), which rejects
/// connections without a valid chain during the handshake. Identity keys for the active model
/// may be registered alongside ([`ClientCertificates::with_identity_keys`]).
#[derive(Debug, Default)]
pub struct ClientCertificates {
    identity_keys: HashMap<ParticipantId, [u8; 32]>,
}

impl ClientCertificates {
    /// Without identity keys (semi-honest model).
    pub fn new() -> Self {
        Self::default()
    }

    /// With the participants' identity keys (active model).
    pub fn with_identity_keys(keys: HashMap<ParticipantId, [u8; 32]>) -> Self {
        Self {
            identity_keys: keys,
        }
    }

    /// The participant named by a certificate.
    pub fn participant_of(cert: &CertificateDer<'_>) -> Result<ParticipantId, AuthError> {
        let ee = webpki::EndEntityCert::try_from(cert)
            .map_err(|e| AuthError::Certificate(format!("unparsable: {e}")))?;
        let mut found = None;
        for name in ee.valid_dns_names() {
            let Some(id) = name
                .strip_prefix("participant-")
                .and_then(|s| s.strip_suffix(".secagg"))
            else {
                continue;
            };
            let id = parse_id(id)
                .ok_or_else(|| AuthError::Certificate(format!("bad participant name {name:?}")))?;
            if found.replace(id).is_some() {
                return Err(AuthError::Certificate("two participant names".into()));
            }
        }
        found.ok_or_else(|| AuthError::Certificate("no participant-<id>.secagg name".into()))
    }
}

impl Authenticator for ClientCertificates {
    fn authenticate(&self, claim: &Claim<'_>) -> Result<ParticipantId, AuthError> {
        let leaf = claim
            .peer_certificates
            .and_then(|c| c.first())
            .ok_or_else(|| AuthError::Certificate("none presented".into()))?;
        let proven = Self::participant_of(leaf)?;
        if proven != claim.participant {
            return Err(AuthError::WrongParticipant {
                claimed: claim.participant,
                proven,
            });
        }
        Ok(proven)
    }

    fn identity_key(&self, participant: ParticipantId) -> Option<[u8; 32]> {
        self.identity_keys.get(&participant).copied()
    }

    fn name(&self) -> &'static str {
        "mutual-tls"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(i: u16) -> ParticipantId {
        ParticipantId::new(i).unwrap()
    }

    fn claim(id: u16, cred: &[u8]) -> Claim<'_> {
        Claim {
            participant: pid(id),
            credential: cred,
            peer_certificates: None,
            remote: "127.0.0.1:1".parse().unwrap(),
            now: UNIX_EPOCH + std::time::Duration::from_secs(1_000),
        }
    }

    const T1: &str = "0123456789abcdef0123456789abcdef";
    const T2: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn token_file_accepts_only_the_registered_token_for_the_claimed_id() {
        let key = "11".repeat(32);
        let reg = TokenFile::parse(&format!("# comment\n1 {T1} {key}\n\n2 {T2}\n")).unwrap();
        assert_eq!(reg.participants(), vec![pid(1), pid(2)]);
        assert_eq!(reg.authenticate(&claim(1, T1.as_bytes())), Ok(pid(1)));
        assert_eq!(reg.authenticate(&claim(2, T2.as_bytes())), Ok(pid(2)));
        assert_eq!(
            reg.authenticate(&claim(2, T1.as_bytes())),
            Err(AuthError::WrongParticipant {
                claimed: pid(2),
                proven: pid(1)
            })
        );
        assert_eq!(
            reg.authenticate(&claim(1, b"0123456789abcdef0123456789abcdeX")),
            Err(AuthError::BadCredential)
        );
        assert_eq!(
            reg.authenticate(&claim(3, T1.as_bytes())),
            Err(AuthError::WrongParticipant {
                claimed: pid(3),
                proven: pid(1)
            })
        );
        assert_eq!(
            reg.authenticate(&claim(1, b"")),
            Err(AuthError::MissingCredential)
        );
        assert_eq!(reg.identity_key(pid(1)), Some([0x11; 32]));
        assert_eq!(reg.identity_key(pid(2)), None);
    }

    #[test]
    fn token_file_rejects_weak_duplicate_and_malformed_lines() {
        for (text, line) in [
            ("1 short\n", 1),
            (&format!("1 {T1}\n1 {T2}\n") as &str, 2),
            (&format!("1 {T1}\n2 {T1}\n"), 2),
            (&format!("0 {T1}\n"), 1),
            (&format!("1 {T1} nothex\n"), 1),
            (&format!("\n1 {T1} {} extra\n", "00".repeat(32)), 2),
            ("1\n", 1),
        ] {
            assert_eq!(
                TokenFile::parse(text).map(|_| ()).unwrap_err().0,
                line,
                "{text:?}"
            );
        }
    }

    #[test]
    fn hmac_tokens_verify_bind_the_id_and_expire() {
        let h = HmacTokens::new(&[7u8; 32]).unwrap();
        let ik = [9u8; 32];
        let tok = h.issue(pid(5), 2_000, Some(&ik));
        assert_eq!(
            h.verify(tok.as_bytes(), claim(5, b"").now),
            Ok((pid(5), Some(ik)))
        );
        assert_eq!(h.authenticate(&claim(5, tok.as_bytes())), Ok(pid(5)));
        assert_eq!(
            h.authenticate(&claim(6, tok.as_bytes())),
            Err(AuthError::WrongParticipant {
                claimed: pid(6),
                proven: pid(5)
            })
        );
        let late = Claim {
            now: UNIX_EPOCH + std::time::Duration::from_secs(2_000),
            ..claim(5, tok.as_bytes())
        };
        assert_eq!(
            h.authenticate(&late),
            Err(AuthError::Expired { expired_at: 2_000 })
        );
        // Changing the id, the expiry or the key in the body breaks the tag.
        for forged in [
            tok.replacen(".5.", ".6.", 1),
            tok.replacen(".2000.", ".9000.", 1),
            tok.replacen(&hex(&ik), &hex(&[8u8; 32]), 1),
        ] {
            assert_ne!(forged, tok);
            assert_eq!(
                h.verify(
                    forged.as_bytes(),
                    late.now
                        .checked_sub(std::time::Duration::from_secs(1500))
                        .unwrap()
                ),
                Err(AuthError::BadCredential)
            );
        }
        // Another key's token is refused.
        let other = HmacTokens::new(&[8u8; 32])
            .unwrap()
            .issue(pid(5), 2_000, None);
        assert_eq!(
            h.authenticate(&claim(5, other.as_bytes())),
            Err(AuthError::BadCredential)
        );
        assert!(matches!(
            HmacTokens::new(&[1u8; 31]),
            Err(HmacKeyError::TooShort(31))
        ));
        assert!(matches!(
            h.authenticate(&claim(5, b"garbage")),
            Err(AuthError::Malformed(_))
        ));
    }
}
