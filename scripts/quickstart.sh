#!/usr/bin/env bash
# Fresh machine → the E2B quickstart running on a real local sandbox (no account, no internet).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh .venv
unset E2B_API_KEY
.venv/bin/python examples/quickstart.py
echo "(the local daemon keeps running for the next sandbox; stop it with: .venv/bin/e2b-local stop)"
