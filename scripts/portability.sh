#!/usr/bin/env bash
# Proves, as far as this Linux machine can, that the SDK builds where upstream's e2b installs:
#   1. scripts/check_portability.py: no platform-specific API outside the local runtime
#      without a #[cfg] gate (needs nothing);
#   2. `cargo check` of the extension (default features: the local runtime gates itself off
#      off x86-64 Linux) for macOS, Windows and aarch64 Linux, for each of those targets whose
#      standard library is installed (`rustup target add x86_64-apple-darwin
#      x86_64-pc-windows-gnu aarch64-unknown-linux-gnu` on a developer's machine; this script
#      downloads nothing). A check needs no linker; ring's C parts are compiled by zig
#      (`ziglang` from PyPI, already in the venv for the manylinux build). A target that is
#      not installed is reported as not checked — step 1 still covers it.
# Reuses cargo's cache: target/<triple>/ is rebuilt only for what changed.
#   usage: scripts/portability.sh VENV_PYTHON   (a python with `ziglang`)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
TARGETS=(x86_64-apple-darwin x86_64-pc-windows-gnu aarch64-unknown-linux-gnu)

"$PY" scripts/check_portability.py

# cc-rs (ring's build script) compiles C for the target with this wrapper: zig's clang aimed
# at $TARGET (which cargo sets for build scripts), without the Apple-clang-only flags cc-rs
# adds; `zig ar` archives.
WRAP="$PWD/target/portability-tools"
mkdir -p "$WRAP"
cat >"$WRAP/cc" <<'EOF'
#!/bin/sh
case "$TARGET" in
  x86_64-apple-darwin) z=x86_64-macos ;;
  aarch64-apple-darwin) z=aarch64-macos ;;
  x86_64-pc-windows-gnu) z=x86_64-windows-gnu ;;
  aarch64-unknown-linux-gnu) z=aarch64-linux-gnu ;;
  *) echo "portability cc: no zig target for $TARGET" >&2; exit 1 ;;
esac
skip=0
for a in "$@"; do
  shift
  if [ $skip = 1 ]; then skip=0; continue; fi
  case "$a" in
    -arch) skip=1 ;;
    --target=*|-mmacosx-version-min=*) ;;
    *) set -- "$@" "$a" ;;
  esac
done
exec "$E2B_ZIG_PYTHON" -m ziglang cc -target "$z" "$@"
EOF
printf '#!/bin/sh\nexec "$E2B_ZIG_PYTHON" -m ziglang ar "$@"\n' >"$WRAP/ar"
chmod +x "$WRAP/cc" "$WRAP/ar"

installed=$(rustup target list --installed 2>/dev/null || true)
unchecked=()
for target in "${TARGETS[@]}"; do
    if ! grep -qx "$target" <<<"$installed"; then
        unchecked+=("$target")
        continue
    fi
    start=$SECONDS
    env E2B_ZIG_PYTHON="$PY" "CC_${target//-/_}=$WRAP/cc" "AR_${target//-/_}=$WRAP/ar" \
        cargo check --quiet -p e2b-python --target "$target"
    echo "portability: cargo check -p e2b-python --target $target passed ($((SECONDS - start)) s)"
done
if [ ${#unchecked[@]} -gt 0 ]; then
    echo "portability: NOT compiled for ${unchecked[*]} (standard library not installed); the lint above covers them"
fi
