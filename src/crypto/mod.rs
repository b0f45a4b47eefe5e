//! Cryptographic primitives: the single ciphersuite of protocol version 1.
//!
//! | role | primitive | module |
//! |---|---|---|
//! | key agreement | X25519 (RFC 7748), non-contributory results rejected | [`kex`] |
//! | key derivation | HKDF-SHA256 (RFC 5869) with labelled, length-prefixed info | [`kdf`] |
//! | mask PRG | ChaCha20 keystream (RFC 8439) read as packed ring elements | [`prg`] |
//! | share encryption | ChaCha20-Poly1305 (RFC 8439), one key per direction | [`aead`] |
//! | signatures (active model) | Ed25519 (RFC 8032), strict verification | [`sign`] |
//!
//! Everything secret lives in types that zeroize on drop and print as `<redacted>`.

pub mod aead;
pub mod kdf;
pub mod kex;
pub mod prg;
pub(crate) mod secret;
pub mod sign;

/// The protocol version bound into every derivation, associated data and signature.
pub const PROTOCOL_VERSION: u8 = 1;

/// Domain-separation prefix shared by all derivations and signatures.
pub const DOMAIN: &[u8] = b"secagg";
