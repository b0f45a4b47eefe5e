//! Randomness for apps that do not bring their own generator.
//!
//! Every API in this crate takes the caller's `&mut impl rand_core::CryptoRng`, so tests and
//! test vectors replay exactly. In production, seed a cryptographic generator once from the
//! operating system: [`os_rng`] (feature `getrandom`) returns ChaCha20 keyed with 32 bytes from
//! the OS's generator (`getrandom(2)`, `SecRandomCopyBytes`, `BCryptGenRandom`, ...).

pub use chacha20::ChaCha20Rng;

/// A ChaCha20 generator seeded with 32 bytes from the operating system.
///
/// # Errors
/// The OS generator failed (rare: e.g. a sandbox that forbids it); never a weak seed.
///
/// ```
/// use secagg::rand_core::Rng;
///
/// let mut rng = secagg::rng::os_rng().expect("OS randomness");
/// let a = rng.next_u64();
/// let b = rng.next_u64();
/// assert_ne!((a, b), (0, 0));
/// ```
#[cfg(feature = "getrandom")]
pub fn os_rng() -> Result<ChaCha20Rng, getrandom::Error> {
    use rand_core::SeedableRng;
    // The seed is wiped once the generator holds its own copy.
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *seed)?;
    Ok(ChaCha20Rng::from_seed(*seed))
}
