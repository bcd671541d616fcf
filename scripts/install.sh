#!/usr/bin/env bash
# Builds and installs both distributions (`e2b` with its `local` extra, and
# `e2b-code-interpreter`) into a virtualenv. Idempotent; reuses the venv and cargo's cache.
#   usage: scripts/install.sh [VENV_DIR]   (default: .venv in the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
PYTHON="${PYTHON:-python3}"

if ! command -v cargo >/dev/null; then
    echo "error: a Rust toolchain (cargo) is needed to build the e2b wheel: https://rustup.rs" >&2
    exit 1
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# maturin builds the wheel; zig (from PyPI) links it against glibc 2.17 (manylinux2014).
"$VENV/bin/python" -m pip install --quiet "maturin>=1.5,<2" "ziglang>=0.13"

rm -rf dist && mkdir -p dist
bash scripts/build-dists.sh "$VENV/bin/python" dist

E2B_WHEEL=$(ls dist/e2b-*.whl)
CI_WHEEL=$(ls dist/e2b_code_interpreter-*.whl)
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps "$E2B_WHEEL" "$CI_WHEEL"
# Resolve the `local` extras (ipykernel) against the wheels just installed.
"$VENV/bin/python" -m pip install --quiet --find-links dist "${E2B_WHEEL}[local]" "${CI_WHEEL}[local]"
echo "installed: $(basename "$E2B_WHEEL") $(basename "$CI_WHEEL") into $VENV"
