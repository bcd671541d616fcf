//! Sets `cfg(local_runtime)` when this build includes the local runtime's client side (daemon
//! discovery and start): the `local-runtime` feature on x86-64 Linux, the only platform the
//! runtime itself (`sandboxd`: namespaces, a seccomp filter written for x86-64, Landlock,
//! cgroups) supports. Everywhere else the client is cloud-only. The extension's build.rs
//! derives its own `cfg(local_runtime)` by the same rule.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(local_runtime)");
    let target = |key: &str| std::env::var(key).unwrap_or_default();
    let supported =
        target("CARGO_CFG_TARGET_OS") == "linux" && target("CARGO_CFG_TARGET_ARCH") == "x86_64";
    if supported && std::env::var_os("CARGO_FEATURE_LOCAL_RUNTIME").is_some() {
        println!("cargo::rustc-cfg=local_runtime");
    }
}
