//! Writes `protocol-spec/test-vectors/ldp_*.json` (never edit those files by hand).
//!
//! Usage: `cargo run --example gen-ldp-test-vectors` (optionally `-- <output dir>`).

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use secagg::ldp::vectors;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-spec/test-vectors")
        });
    std::fs::create_dir_all(&dir)?;
    for f in vectors::generate(ChaCha20Rng::from_seed)? {
        let path = dir.join(&f.file);
        let mut json = serde_json::to_string_pretty(&f)?;
        json.push('\n');
        std::fs::write(&path, json)?;
        println!("wrote {} ({} vectors)", path.display(), f.vectors.len());
    }
    Ok(())
}
