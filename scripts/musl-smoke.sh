#!/usr/bin/env bash
# The musllinux x86-64 wheel, built here and tried in a musl environment (on demand; not part
# of .ci/run: it compiles CPython, ~10 min on 2 cores).
#
# No musl CPython is published on PyPI or in Debian, so one is built from Debian's own
# sources (python3.11 and zlib source packages, fetched with a private apt source list so the
# machine's apt setup is untouched) with Debian's musl-gcc. It is a minimal CPython (no
# OpenSSL, libffi, sqlite: enough for the SDK and pytest, not for ipykernel). Then:
#   1. the wheel: `maturin build --release --zig --target x86_64-unknown-linux-musl
#      --compatibility musllinux_1_2` (maturin checks the musllinux_1_2 policy);
#   2. a virtualenv of the musl CPython with that wheel, e2b-code-interpreter and pytest
#      (pure-Python wheels fetched by the glibc pip), running tests/unit and tests/cloud —
#      the server being the full build's daemon (.venv), as on the release runners;
#   3. the local runtime on musl: `e2b-local serve` from the musl environment (a private
#      state directory, stopped by PID) and a `base` sandbox running a command and a file
#      round trip (its agent is this wheel's extension); `run_code` would need ipykernel's
#      stack (tornado needs the ssl module) in the musl environment, which this minimal
#      CPython has not.
# Needs: root (apt-get install musl-tools), `rustup target add x86_64-unknown-linux-musl`,
# and scripts/install.sh .venv run before.
#   usage: scripts/musl-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="$ROOT/target/musl-smoke"
PREFIX="$WORK/prefix"
mkdir -p "$WORK"

if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
    echo "musl-smoke: the Rust standard library for x86_64-unknown-linux-musl is not installed" >&2
    echo "            (rustup target add x86_64-unknown-linux-musl)" >&2
    exit 1
fi
command -v musl-gcc >/dev/null || apt-get install -y -q musl-tools >/dev/null

echo "== musl CPython from Debian's sources"
if [ ! -x "$PREFIX/bin/python3.11" ]; then
    cd "$WORK"
    echo "deb-src http://deb.debian.org/debian bookworm main" >src.list
    mkdir -p lists/partial
    APT=(-o Dir::Etc::SourceList="$WORK/src.list" -o Dir::Etc::SourceParts=/dev/null
         -o Dir::State::Lists="$WORK/lists")
    apt-get "${APT[@]}" update -q >/dev/null
    apt-get "${APT[@]}" source --download-only python3.11 zlib >/dev/null 2>&1
    rm -rf zlib-src py-src && mkdir zlib-src py-src
    tar xjf zlib_*.orig.tar.bz2 -C zlib-src --strip-components=1
    tar xzf python3.11_*.orig.tar.gz -C py-src --strip-components=1
    (cd zlib-src && CC=musl-gcc ./configure --prefix="$PREFIX" >/dev/null && make -j2 >/dev/null && make install >/dev/null)
    # gcc's multiarch answer is glibc's: CPython's configure compares it with musl's triplet
    # and setup.py (like its dpkg-architecture fallback) adds glibc's include directory for
    # it. Hide both.
    printf '#!/bin/sh\ncase "$1" in --print-multiarch|-print-multiarch) exit 0 ;; esac\nexec musl-gcc "$@"\n' >mcc
    mkdir -p fakebin && printf '#!/bin/sh\nexit 1\n' >fakebin/dpkg-architecture
    chmod +x mcc fakebin/dpkg-architecture
    (cd py-src && export PATH="$WORK/fakebin:$PATH" \
        && CC="$WORK/mcc" CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib -Wl,-rpath,$PREFIX/lib" \
            ./configure --prefix="$PREFIX" --without-ensurepip --disable-test-modules >/dev/null \
        && make -j2 >/dev/null 2>make.err && make install >/dev/null 2>&1)
    cd "$ROOT"
fi
"$PREFIX/bin/python3.11" -c 'import sys, zlib, asyncio; print("musl CPython", sys.version.split()[0])'

echo "== the musllinux wheel"
rm -rf "$WORK/wheel"
PATH="$ROOT/.venv/bin:$PATH" VIRTUAL_ENV="$ROOT/.venv" .venv/bin/maturin build --release --quiet --zig \
    --target x86_64-unknown-linux-musl --compatibility musllinux_1_2 --interpreter .venv/bin/python \
    --out "$WORK/wheel"
WHEEL=$(ls "$WORK"/wheel/e2b-*.whl)
echo "built $(basename "$WHEEL")"

echo "== a musl virtualenv: tests/unit and tests/cloud"
rm -rf "$WORK/venv" "$WORK/wheelhouse"
"$PREFIX/bin/python3.11" -m venv --without-pip "$WORK/venv"
.venv/bin/python -m pip download --quiet --only-binary=:all: --dest "$WORK/wheelhouse" \
    pip "pytest>=8,<9" "pytest-asyncio>=0.24,<2" "pytest-timeout>=2.3,<3" "h11>=0.14,<1"
PIP_WHEEL=$(ls "$WORK"/wheelhouse/pip-*.whl)
"$WORK/venv/bin/python" "$PIP_WHEEL/pip" install --quiet --no-index --find-links "$WORK/wheelhouse" \
    pip "$WHEEL" "$(ls dist/e2b_code_interpreter-*.whl)" "pytest>=8,<9" "pytest-asyncio>=0.24,<2" \
    "pytest-timeout>=2.3,<3" "h11>=0.14,<1"
"$WORK/venv/bin/python" -c 'from e2b import _native; assert _native.LOCAL_RUNTIME; print("e2b._native loaded on musl, LOCAL_RUNTIME =", _native.LOCAL_RUNTIME)'
"$WORK/venv/bin/e2b-local" --help >/dev/null
echo "e2b-local --help: ok"
unset E2B_API_KEY E2B_DOMAIN E2B_API_URL E2B_SANDBOX_URL E2B_DEBUG E2B_LOCAL
E2B_TEST_DAEMON_PYTHON="$ROOT/.venv/bin/python" \
    "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit tests/cloud

echo "== the local runtime on musl: a daemon of the musl environment, a sandbox"
STATE="$WORK/state"
rm -rf "$STATE" && mkdir -p "$STATE"
E2B_LOCAL_STATE_DIR="$STATE" "$WORK/venv/bin/python" - <<'PY'
import os, subprocess, sys, time
state = os.environ["E2B_LOCAL_STATE_DIR"]
with open(os.path.join(state, "serve.log"), "ab") as log:
    daemon = subprocess.Popen([sys.executable, "-m", "e2b._local", "serve"], stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
try:
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(state, "state.json")):
        assert daemon.poll() is None and time.monotonic() < deadline, open(os.path.join(state, "serve.log")).read()
        time.sleep(0.1)
    from e2b import Sandbox
    with Sandbox.create() as sbx:
        out = sbx.commands.run("echo hello-from-musl").stdout
        assert out == "hello-from-musl\n", out
        sbx.files.write("/home/user/musl.txt", "musl-file")
        assert sbx.files.read("/home/user/musl.txt") == "musl-file"
    print("local runtime on musl: sandbox created, command and file round trip: ok")
finally:
    daemon.terminate()
    daemon.wait(30)
PY
