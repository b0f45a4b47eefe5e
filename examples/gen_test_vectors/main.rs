//! Writes protocol-spec/test-vectors/*.json. Run from the repository root:
//!
//! ```text
//! cargo run --example gen-test-vectors
//! ```
//!
//! The files are never edited by hand; `tests/test_vectors.rs` fails if they differ from what
//! this command produces.

mod analytics_vectors;
mod ddp_vectors;
mod edge;
mod vectors;

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-spec/test-vectors");
    std::fs::create_dir_all(&dir)?;
    for (name, value) in vectors::all() {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, vectors::render(&value))?;
        println!("wrote {}", path.display());
    }
    for (name, value) in ddp_vectors::all() {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, ddp_vectors::render(&value))?;
        println!("wrote {}", path.display());
    }
    for (name, value) in analytics_vectors::all() {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, analytics_vectors::render(&value))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
