#!/usr/bin/env bash
# Builds the distributions into OUT (default dist/):
#   * e2b: one abi3 wheel (CPython >= 3.9), manylinux2014 / manylinux_2_17 (glibc >= 2.17),
#     linked with zig (`ziglang` from PyPI) against glibc 2.17 symbol versions;
#   * e2b-code-interpreter: a pure-Python wheel;
#   * with --sdist, both sdists too (maturin sdist; setuptools through `build`).
# Reuses cargo's cache (CARGO_TARGET_DIR, default target/): building again with nothing
# changed only repackages.
#   usage: scripts/build-dists.sh VENV_PYTHON [OUT] [--sdist]
# VENV_PYTHON is a virtualenv's python with maturin and ziglang (and `build` for --sdist).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="$1"
OUT="${2:-dist}"
SDIST="${3:-}"
BIN="$(cd "$(dirname "$PY")" && pwd)"  # absolute: build scripts run zig from other directories
mkdir -p "$OUT"
# maturin finds zig as `python -m ziglang` of the first python on PATH.
PATH="$BIN:$PATH" VIRTUAL_ENV="$(dirname "$BIN")" \
    "$BIN/maturin" build --release --quiet --zig --compatibility manylinux2014 --out "$OUT"
"$PY" -m pip wheel --quiet --no-deps --wheel-dir "$OUT" ./python/e2b_code_interpreter
rm -rf python/e2b_code_interpreter/build python/e2b_code_interpreter/*.egg-info
if [ "$SDIST" = "--sdist" ]; then
    "$BIN/maturin" sdist --out "$OUT" >/dev/null
    "$PY" -m build --sdist --outdir "$OUT" ./python/e2b_code_interpreter >/dev/null
    rm -rf python/e2b_code_interpreter/*.egg-info
fi
