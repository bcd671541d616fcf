#!/usr/bin/env bash
# Fresh machine → every test: Rust crates, the Python SDK against a real local runtime, the
# compatibility tier (the official SDK from PyPI against our runtime), the portability checks
# and the cloud-only build (the SDK as macOS/Windows/aarch64 users get it). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PYTHON="${PYTHON:-python3}"

echo "== build and install both distributions"
bash scripts/install.sh .venv
# The data stack (pandas, matplotlib, e2b-charts…) for the rich-result and chart tests.
.venv/bin/python -m pip install --quiet --find-links dist "$(ls dist/e2b-*.whl)[data]"
.venv/bin/python -m pip install --quiet "pytest>=8,<9" "pytest-asyncio>=0.24,<2" "pytest-timeout>=2.3,<3"
# h11 (an HTTP/1.1 parser) reads back what tests/traffic_recorder.py recorded: where the SDK's
# requests went under each E2B_LOCAL / key / URL setting (tests/e2e/test_env_switches.py).
.venv/bin/python -m pip install --quiet "h11>=0.14,<1"
# tests/packaging: mypy (stubtest of e2b._native, --strict on typed usage; pinned because each
# release adds stubtest checks) and `build` (the e2b-code-interpreter sdist).
.venv/bin/python -m pip install --quiet "mypy==2.4.1" "build>=1.2,<2"

echo "== official SDK for the compatibility tier (its own virtualenv)"
[ -x .venv-compat/bin/python ] || "$PYTHON" -m venv .venv-compat
.venv-compat/bin/python -m pip install --quiet --upgrade pip
.venv-compat/bin/python -m pip install --quiet "e2b-code-interpreter==2.11.5" "e2b==2.63.0"

echo "== system packages the security tier uses (user-mode network stack for sandboxes)"
if ! command -v slirp4netns >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -q slirp4netns >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q slirp4netns >/dev/null; }
fi

echo "== rust: format, lints, tests"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The SDK without the local runtime (what every platform but x86-64 Linux builds).
cargo clippy -p e2b-python -p e2b-client --no-default-features --all-targets --quiet -- -D warnings
cargo test -p e2b-client --no-default-features --quiet

echo "== portability: no ungated platform API outside the runtime; cross-target checks"
bash scripts/portability.sh .venv/bin/python
# Real sandboxes are required here: a test that cannot create one fails instead of skipping.
E2B_TEST_PYTHON="$ROOT/.venv/bin/python" E2B_TEST_REQUIRE_SANDBOXES=1 \
    E2B_OFFICIAL_PYTHON="$ROOT/.venv-compat/bin/python" \
    cargo test --workspace --exclude e2b-python --quiet

echo "== python: unit, e2e (real local sandboxes), compat (official SDK)"
# Each test sets what it needs; tests/e2e/test_env_switches.py sets these per subprocess.
unset E2B_API_KEY E2B_DOMAIN E2B_API_URL E2B_SANDBOX_URL E2B_DEBUG E2B_LOCAL
E2B_COMPAT_PYTHON="$ROOT/.venv-compat/bin/python" .venv/bin/python -m pytest -q tests

echo "== cloud-only build (as on macOS, Windows, aarch64 Linux): tests/unit + tests/cloud"
bash scripts/cloud-only.sh

echo "== python matrix: tests/unit + tests/e2e/test_smoke.py on the other CPythons (same abi3 wheel)"
bash scripts/python-matrix.sh
