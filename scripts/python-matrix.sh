#!/usr/bin/env bash
# The test suite on the other CPythons of this machine: for each version, a virtualenv
# (.venv-pyX.Y) with the abi3 wheel scripts/install.sh built into dist/ (nothing is compiled
# again) and its `local` extra, running tests/unit and the real-sandbox smoke subset
# (tests/e2e/test_smoke.py; its daemon, and so the sandboxes' kernels, run that very Python).
# The default interpreter's run (scripts/test.sh) covers everything else. A version that is
# not installed is skipped with the reason printed.
#   usage: scripts/python-matrix.sh [X.Y ...]   (default: 3.9 3.10 3.11 3.12 3.13, less .venv's)
set -euo pipefail
cd "$(dirname "$0")/.."

E2B_WHEEL=$(ls dist/e2b-*.whl)
CI_WHEEL=$(ls dist/e2b_code_interpreter-*.whl)
DEFAULT=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ $# -gt 0 ]; then VERSIONS=("$@"); else VERSIONS=(3.9 3.10 3.11 3.12 3.13); fi

# The newest X.Y.* under pyenv, else pythonX.Y on PATH (not a pyenv shim without that version).
find_python() {
    local v=$1 c found=""
    for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v"; do
        [ -x "$c" ] && found=$c
    done
    if [ -z "$found" ] && c=$(command -v "python$v") && "$c" -c '' 2>/dev/null; then
        found=$c
    fi
    [ -n "$found" ] && echo "$found"
}

unset E2B_API_KEY E2B_DOMAIN E2B_API_URL E2B_SANDBOX_URL E2B_DEBUG E2B_LOCAL
failed=()
for v in "${VERSIONS[@]}"; do
    if [ "$v" = "$DEFAULT" ]; then
        echo "-- CPython $v: the default interpreter (.venv); the full suite covers it"
        continue
    fi
    if ! py=$(find_python "$v"); then
        echo "-- CPython $v: skipped, not installed (no ${PYENV_ROOT:-$HOME/.pyenv}/versions/$v.*, no python$v on PATH)"
        continue
    fi
    start=$SECONDS
    venv=".venv-py$v"
    echo "-- CPython $v ($py) in $venv"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
        "$E2B_WHEEL" "$CI_WHEEL"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --find-links dist \
        "${E2B_WHEEL}[local]" "$CI_WHEEL" "pytest>=8,<9" "pytest-asyncio>=0.24,<2" "pytest-timeout>=2.3,<3" \
        "h11>=0.14,<1"
    if "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit tests/e2e/test_smoke.py; then
        echo "-- CPython $v: passed in $((SECONDS - start)) s"
    else
        failed+=("$v")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "python matrix: failed on CPython ${failed[*]}" >&2
    exit 1
fi
