"""The distributions as a user gets them: both wheels and both sdists, built into a temporary
directory by `scripts/build-dists.sh` (cargo's cache is reused, so after `scripts/install.sh`
this only repackages), then installed into a CLEAN virtualenv together with a third-party
package that depends on upstream's `e2b` name (`langchain-e2b` from PyPI: `e2b>=2.32,<3`).
The resolver must keep ours, and a real call through the third-party package must reach a
local sandbox."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from runtime_helpers import REPO

E2B_VERSION = "2.63.0+rs.1"
CI_VERSION = "2.11.5+rs.1"
# The third-party integration: depends on upstream's `e2b` (`e2b<3.0.0,>=2.32.0`) and needs
# CPython >= 3.11.
THIRD_PARTY = "langchain-e2b==0.0.6"

pytestmark = pytest.mark.skipif(
    not shutil.which("maturin", path=str(Path(sys.executable).parent)),
    reason="maturin is not installed next to this interpreter (scripts/install.sh installs it)",
)


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{cmd} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dists")
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(REPO / "target"))
    run(["bash", str(REPO / "scripts" / "build-dists.sh"), sys.executable, str(out), "--sdist"],
        env=env, timeout=1800)
    found = {
        "e2b_wheel": list(out.glob("e2b-*.whl")),
        "ci_wheel": list(out.glob("e2b_code_interpreter-*.whl")),
        "e2b_sdist": list(out.glob("e2b-*.tar.gz")),
        "ci_sdist": list(out.glob("e2b_code_interpreter-*.tar.gz")),
    }
    for kind, paths in found.items():
        assert len(paths) == 1, f"{kind}: {paths} in {sorted(p.name for p in out.iterdir())}"
    return {kind: paths[0] for kind, paths in found.items()}


def metadata(wheel: Path) -> tuple[list[str], dict[str, list[str]]]:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        wheel_name = next(n for n in names if n.endswith(".dist-info/WHEEL"))
        fields: dict[str, list[str]] = {}
        for name in (meta_name, wheel_name):
            for line in z.read(name).decode().split("\n\n")[0].splitlines():
                key, _, value = line.partition(": ")
                fields.setdefault(key, []).append(value)
    return names, fields


def test_e2b_wheel_is_one_abi3_manylinux2014_wheel_with_stubs(dists):
    wheel = dists["e2b_wheel"]
    assert wheel.name == (
        f"e2b-{E2B_VERSION}-cp39-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
    ), wheel.name
    names, fields = metadata(wheel)
    assert set(fields["Tag"]) == {"cp39-abi3-manylinux2014_x86_64", "cp39-abi3-manylinux_2_17_x86_64"}
    assert fields["Version"] == [E2B_VERSION]
    assert fields["Requires-Python"] == [">=3.9"]
    for needed in ("e2b/_native.abi3.so", "e2b/_native.pyi", "e2b/py.typed", "e2b/__init__.py",
                   "e2b/sandbox_sync/main.py"):
        assert needed in names, needed
    assert not [n for n in names if n.startswith("e2b_code_interpreter/")]
    # No required dependency; the extras are the local kernels and the data stack.
    requires = fields.get("Requires-Dist", [])
    assert all("extra ==" in r for r in requires), requires
    extras: dict[str, set[str]] = {}
    for r in requires:
        req, _, marker = r.partition(";")
        extra = re.search(r"extra == [\"']([\w-]+)[\"']", marker).group(1)
        extras.setdefault(extra, set()).add(re.split(r"[<>=! ]", req.strip())[0])
    assert extras == {
        "local": {"ipykernel", "bash-kernel", "deno"},
        "data": {"numpy", "pandas", "matplotlib", "e2b-charts", "orjson"},
    }, extras
    # deno's wheels need CPython >= 3.10: on 3.9 `e2b[local]` still installs, without it.
    deno = next(r for r in requires if r.startswith("deno"))
    assert re.search(r"python(_full)?_version >= [\"']3\.10[\"']", deno), deno
    # The kernels are for the local runtime, which only x86-64 Linux has.
    for r in requires:
        if re.search(r"extra == [\"']local[\"']", r):
            assert re.search(r"sys_platform == [\"']linux[\"']", r), r
            assert re.search(r"platform_machine == [\"']x86_64[\"']", r), r
    assert set(fields["Provides-Extra"]) == {"local", "data"}
    # Linked against glibc 2.17 symbol versions at most (what manylinux2014 promises).
    with zipfile.ZipFile(wheel) as z:
        so = z.read("e2b/_native.abi3.so")
    versions = re.finditer(rb"GLIBC_(2\.[0-9]+(?:\.[0-9]+)?)\x00", so)
    glibc = {tuple(int(x) for x in m.group(1).split(b".")) for m in versions}
    assert glibc and max(glibc) <= (2, 17), sorted(glibc)[-3:]


def test_code_interpreter_wheel_is_pure_and_needs_only_our_e2b(dists):
    wheel = dists["ci_wheel"]
    assert wheel.name == f"e2b_code_interpreter-{CI_VERSION}-py3-none-any.whl"
    names, fields = metadata(wheel)
    assert "e2b_code_interpreter/py.typed" in names
    assert "e2b_code_interpreter/__init__.py" in names
    assert not [n for n in names if n.startswith("e2b/") or n.endswith(".so")]
    requires = fields["Requires-Dist"]
    assert [r for r in requires if "extra ==" not in r] == [f"e2b=={E2B_VERSION}"]
    assert set(fields["Provides-Extra"]) == {"local", "data"}


def test_sdists_hold_what_a_build_needs(dists):
    with tarfile.open(dists["e2b_sdist"]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    # build.rs files decide whether the runtime is built (cfg(local_runtime)).
    for needed in ("pyproject.toml", "Cargo.toml", "Cargo.lock", "src/lib.rs", "README.md", "build.rs",
                   "crates/e2b-client/build.rs",
                   "crates/sandboxd/Cargo.toml", "crates/sandboxd/src/cli.rs",
                   "crates/e2b-client/src/lib.rs", "crates/e2b-wire/src/lib.rs",
                   "python/e2b/__init__.py", "python/e2b/_native.pyi", "python/e2b/py.typed"):
        assert needed in names, needed
    assert not [n for n in names if n.startswith("target/") or n.endswith(".so")]
    with tarfile.open(dists["ci_sdist"]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert "pyproject.toml" in names
    assert any(n.endswith("e2b_code_interpreter/__init__.py") or n == "__init__.py" for n in names), names


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory, dists):
    """A fresh virtualenv with our e2b wheel, the e2b-code-interpreter SDIST and a
    third-party package that depends on upstream's name, installed in one resolver run."""
    if sys.version_info < (3, 11):
        pytest.skip(f"{THIRD_PARTY} needs CPython >= 3.11")
    venv = tmp_path_factory.mktemp("clean") / "venv"
    run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    py = venv / "bin" / "python"
    run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         str(dists["e2b_wheel"]), str(dists["ci_sdist"]), THIRD_PARTY], timeout=900)
    try:
        yield py
    finally:
        shutil.rmtree(venv.parent, ignore_errors=True)


def installed_versions(py: Path) -> dict[str, str]:
    out = run([str(py), "-c", "import json, importlib.metadata as m; print(json.dumps("
               "{d: m.version(d) for d in ('e2b', 'e2b-code-interpreter', 'langchain-e2b')}))"])
    return json.loads(out.stdout)


# Its fixture installs langchain-e2b and its dependencies into a clean venv: minutes on a
# loaded 2-core machine.
@pytest.mark.timeout(600)
def test_the_resolver_keeps_ours_next_to_a_package_pinning_upstream(clean_venv):
    assert installed_versions(clean_venv) == {
        "e2b": E2B_VERSION, "e2b-code-interpreter": CI_VERSION, "langchain-e2b": "0.0.6"}
    # Requirements written for upstream are met by ours: nothing to do, nothing replaced.
    for requirement in (THIRD_PARTY, "e2b>=2.32.0,<3.0.0", "e2b==2.63.0", "e2b-code-interpreter>=2,<3"):
        out = run([str(clean_venv), "-m", "pip", "install", "--disable-pip-version-check",
                   "--dry-run", "--report", "-", "--quiet", requirement])
        assert json.loads(out.stdout)["install"] == [], (requirement, out.stdout[:2000])
    run([str(clean_venv), "-m", "pip", "check"])
    native = run([str(clean_venv), "-c", "import e2b._native as n; print(n.__file__)"]).stdout
    assert native.strip().endswith("_native.abi3.so")


INTEGRATION = r"""
import json
from e2b import Sandbox
from langchain_e2b import E2BSandbox

sandbox = Sandbox.create()
try:
    backend = E2BSandbox(sandbox=sandbox)
    ran = backend.execute("echo hello from $E2B_SANDBOX_ID; pwd")
    uploaded = backend.upload_files([("/home/user/notes.txt", b"written by langchain-e2b")])
    downloaded = backend.download_files(["/home/user/notes.txt"])
    print(json.dumps({
        "id": sandbox.sandbox_id,
        "output": ran.output, "exit_code": ran.exit_code,
        "upload_error": uploaded[0].error,
        "content": downloaded[0].content.decode(), "download_error": downloaded[0].error,
    }))
finally:
    sandbox.kill()
"""


def test_a_real_call_through_the_third_party_package(clean_venv, local_runtime):
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
    env["E2B_LOCAL_STATE_DIR"] = str(local_runtime["state_dir"])
    out = run([str(clean_venv), "-c", INTEGRATION], env=env, timeout=180)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["exit_code"] == 0, result
    assert result["output"].splitlines() == [f"hello from {result['id']}", "/home/user"]
    assert result["upload_error"] is None and result["download_error"] is None
    assert result["content"] == "written by langchain-e2b"
    # The code interpreter, installed from its sdist, works from the clean environment too.
    out = run([str(clean_venv), "-c", "from e2b_code_interpreter import Sandbox\n"
               "with Sandbox.create() as s: print(s.run_code('6 * 7').text)"], env=env, timeout=180)
    assert out.stdout.strip().splitlines()[-1] == "42"
