//! The README's Rust example: compiled for wasm32 (`npm test` builds every wasm32 test
//! target), and checked natively to be the code the README shows.

#[cfg(target_arch = "wasm32")]
#[allow(dead_code, missing_docs)]
mod example {
    include!("readme/example.rs");
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_readme_shows_the_compiled_example() {
    let readme = include_str!("../README.md");
    let code = include_str!("readme/example.rs");
    assert!(
        readme.contains(code.trim()),
        "README.md's Rust example differs from tests/readme/example.rs"
    );
}
