//! Sets `cfg(local_runtime)` when the extension links the local runtime (`sandboxd`): the
//! `local-runtime` feature (on by default) on x86-64 Linux, the target `sandboxd` is a
//! dependency for in Cargo.toml. Any other build (macOS, Windows, other architectures,
//! `--no-default-features`) is the cloud-only SDK. Same rule as crates/e2b-client/build.rs.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(local_runtime)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let feature = std::env::var_os("CARGO_FEATURE_LOCAL_RUNTIME").is_some();
    if feature && os == "linux" && arch == "x86_64" {
        println!("cargo::rustc-cfg=local_runtime");
    }
}
