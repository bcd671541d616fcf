#!/usr/bin/env bash
# The SDK as a macOS, Windows or aarch64-Linux user gets it — the extension built WITHOUT the
# local runtime (`--no-default-features`) — in its own virtualenv (.venv-cloud), running
# tests/unit and tests/cloud (cloud mode against a real E2B-protocol server on loopback: the
# daemon of the full build in .venv, reached as `e2b-local env` describes).
#
# A dev-profile build, which reuses the dependencies cargo already compiled for the workspace
# tests (about a minute from a warm cache, against several for the release build); the
# behaviour under test does not depend on the optimisation level. The e2b-code-interpreter
# wheel is the pure-Python one scripts/install.sh built into dist/.
#   usage: scripts/cloud-only.sh   (after scripts/install.sh .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV=.venv-cloud
OUT=target/cloud-only-wheel
PYTHON="${PYTHON:-python3}"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin>=1.5,<2" "pytest>=8,<9" "pytest-asyncio>=0.24,<2" "pytest-timeout>=2.3,<3" "h11>=0.14,<1"

start=$SECONDS
rm -rf "$OUT"
# `--compatibility linux`: a plain linux_x86_64 tag for this machine (no manylinux audit; the
# release wheels are audited by scripts/build-dists.sh and the release workflow).
VIRTUAL_ENV="$ROOT/$VENV" "$VENV/bin/maturin" build --quiet --profile dev --no-default-features \
    --compatibility linux --interpreter "$VENV/bin/python" --out "$OUT"
echo "cloud-only: built $(basename "$(ls "$OUT"/e2b-*.whl)") in $((SECONDS - start)) s"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
    "$OUT"/e2b-*.whl "$(ls dist/e2b_code_interpreter-*.whl)"

# The build must be the runtime-less one (what the feature gating promises).
"$VENV/bin/python" -c 'from e2b import _native; assert _native.LOCAL_RUNTIME is False, "the runtime is linked"'

unset E2B_API_KEY E2B_DOMAIN E2B_API_URL E2B_SANDBOX_URL E2B_DEBUG E2B_LOCAL
# tests/cloud's server is the full build's daemon; this build cannot run one.
E2B_TEST_DAEMON_PYTHON="$ROOT/.venv/bin/python" \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/unit tests/cloud
