//! Compiles the C reference node's core (reference-impls/c/core) plus the parse-only shim in
//! c-shim/ into a static library the fuzz targets call through FFI.
//!
//! Under `cargo fuzz` (which sets `--cfg fuzzing`) the C code is built with clang and
//! `-fsanitize=fuzzer-no-link,address` for coverage feedback and ASan, and with UBSan in trap mode
//! (`-fsanitize-trap=undefined`: undefined behaviour stops the process, no UBSan runtime needed, so
//! it links next to Rust's sanitizer runtime). Under `cargo fuzz run -s none` (no `cfg(sanitize)`:
//! the throughput build, `EKC_FUZZ_SANITIZER=none` in tools/fuzz.sh) it keeps the coverage feedback
//! only, since there is no sanitizer runtime to link against. Otherwise (the stable replay tool) it
//! is a plain -O2 build.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let core = manifest.join("../reference-impls/c/core");
    let src = core.join("src");
    let fuzzing = std::env::var_os("CARGO_CFG_FUZZING").is_some();
    // `-Zsanitizer=address` sets `cfg(sanitize = "address")`; `cargo fuzz -s none` sets none.
    let sanitized = std::env::var("CARGO_CFG_SANITIZE").is_ok_and(|s| s.split(',').any(|s| s == "address"));

    let mut build = cc::Build::new();
    build
        .include(core.join("include"))
        .include(&src)
        .flag("-std=c11")
        .warnings(false)
        .opt_level(if fuzzing { 1 } else { 2 })
        .debug(true)
        // roj.c is compiled inside the shim (its parser is file-static).
        .file(manifest.join("c-shim/ekc_fuzz_shim.c"));
    for entry in std::fs::read_dir(&src).expect("reference-impls/c/core/src exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "c") && path.file_name().unwrap() != "roj.c" {
            build.file(&path);
        }
    }
    if fuzzing && sanitized {
        build
            .compiler("clang")
            .flag("-fsanitize=fuzzer-no-link,address,undefined")
            .flag("-fsanitize-trap=undefined")
            .flag("-fno-sanitize-recover=all");
    } else if fuzzing {
        build.compiler("clang").flag("-fsanitize=fuzzer-no-link");
    }
    build.compile("ekc_c_core");

    println!("cargo:rerun-if-changed=c-shim");
    println!("cargo:rerun-if-changed={}", core.display());
    println!("cargo:rustc-check-cfg=cfg(fuzzing)");
    println!("cargo:rerun-if-env-changed=CARGO_CFG_SANITIZE");
}
