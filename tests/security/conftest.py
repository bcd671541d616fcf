"""Security tier (docs/design.md#tests): attacks from inside real sandboxes, in both privilege
modes.

Two daemons per session, each private to the tier:

* ``root``: ``e2b-local serve`` as root (this process's uid), state in a temp dir.
* ``unprivileged``: the same daemon run by a throwaway user this fixture creates with
  ``useradd`` and removes at the end. It gets a Python environment it can read (a venv of the
  system Python with ipykernel plus a copy of the installed ``e2b`` package, under a
  world-readable temp dir) and a delegated cgroup subtree (v1: ``chown`` of
  ``<controller>/e2b-sec-…``), as an administrator would set it up.

Tests talk to either daemon with explicit ``api_key``/``api_url``/``sandbox_url`` options, so
one pytest process can drive both. Processes started here are stopped by PID.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sec_helpers import CGROUP, Runtime, rmdir_tree, serve, stop_process, wait_for_state

MODES = ["root", "unprivileged"]


def _delegate_cgroups(parent: str, uid: int, gid: int) -> list[Path]:
    """Creates `<ctl>/<parent>` owned by the user (docs/platform.md#cgroup-delegation)."""
    made = []
    for ctl in ("memory", "pids", "cpu", "freezer", "unified"):
        root = CGROUP / ctl
        if not root.is_dir():
            continue
        d = root / parent
        try:
            d.mkdir(exist_ok=True)
        except OSError:
            continue
        for p in [d, *d.iterdir()]:
            os.chown(p, uid, gid)
        made.append(d)
    return made


@pytest.fixture(scope="session")
def root_runtime(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the root-mode daemon needs root")
    state_dir = tmp_path_factory.mktemp("sec-root-state")
    parent = f"e2b-sec/root-{os.getpid()}"
    env = dict(
        os.environ, E2B_LOCAL_STATE_DIR=str(state_dir), E2B_LOCAL_CGROUP_PARENT=parent
    )
    proc = serve([sys.executable, "-m", "e2b._local", "serve"], state_dir, env, None)
    try:
        state = wait_for_state(state_dir, proc)
        yield Runtime(
            "root", state_dir, proc.pid, state["url"], state["api_key"], parent
        )
    finally:
        stop_process(proc.pid)
        for ctl in ("memory", "pids", "cpu", "freezer", "unified"):
            rmdir_tree(CGROUP / ctl / parent)
            rmdir_tree(CGROUP / ctl / "e2b-sec")


def _python_env_for(user_dir: Path) -> Path:
    """A venv of the system Python with ipykernel (and bash_kernel and Deno where this
    session has them) and the installed `e2b` package, readable
    by any user. Built once per session (pip's cache makes it quick)."""
    import e2b

    venv = user_dir / "venv"
    system_python = shutil.which("python3", path="/usr/bin:/bin") or "/usr/bin/python3"
    subprocess.run([system_python, "-m", "venv", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    # The other kernels this session's environment has (bash, Deno), so that every kind of
    # kernel runs in both privilege modes.
    extra = [
        pkg
        for pkg, mod in (("bash_kernel", "bash_kernel"), ("deno", "deno"))
        if importlib.util.find_spec(mod) is not None
    ]
    subprocess.run([*pip, "ipykernel", *extra], check=True, timeout=600)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # A copy of the e2b package that runs this session (with its native extension).
    shutil.copytree(
        Path(e2b.__file__).parent,
        site / "e2b",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for root, dirs, files in os.walk(user_dir):
        for n in dirs + files:
            p = os.path.join(root, n)
            if not os.path.islink(p):
                os.chmod(
                    p,
                    os.stat(p).st_mode
                    | 0o044
                    | (0o011 if os.path.isdir(p) or os.access(p, os.X_OK) else 0),
                )
    os.chmod(user_dir, 0o755)
    return venv / "bin" / "python"


def _local_user(prefix: str):
    """Creates a local user for the session and removes it (and its home) afterwards. Its
    processes are stopped by PID by the fixtures that started them."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("creating a throwaway user needs root and useradd")
    name = f"{prefix}{os.getpid() % 100000}"
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


@pytest.fixture(scope="session")
def throwaway_user():
    """The user the unprivileged daemon runs as."""
    yield from _local_user("e2bsec")


@pytest.fixture(scope="session")
def stranger_user():
    """Another local user, who runs no daemon: the attacker of the "other local user" tests
    in both modes."""
    yield from _local_user("e2bstr")


@pytest.fixture(scope="session")
def unprivileged_runtime(throwaway_user):
    pw = throwaway_user
    base = Path(tempfile.mkdtemp(prefix="e2b-sec-unpriv-"))
    os.chmod(base, 0o755)
    try:
        python = _python_env_for(base / "py")
        state_dir = base / "state"
        state_dir.mkdir(mode=0o700)
        os.chown(state_dir, pw.pw_uid, pw.pw_gid)
        parent = f"e2b-sec-{pw.pw_name}"
        delegated = _delegate_cgroups(parent, pw.pw_uid, pw.pw_gid)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": pw.pw_dir,
            "USER": pw.pw_name,
            "LANG": "C.UTF-8",
            "E2B_LOCAL_STATE_DIR": str(state_dir),
            "E2B_LOCAL_CGROUP_PARENT": parent,
        }
        proc = serve(
            [str(python), "-m", "e2b._local", "serve"], state_dir, env, pw.pw_name
        )
        try:
            state = wait_for_state(state_dir, proc, timeout=60)
            yield Runtime(
                "unprivileged",
                state_dir,
                proc.pid,
                state["url"],
                state["api_key"],
                parent,
                user=pw.pw_name,
                extra={"uid": pw.pw_uid, "delegated": delegated, "python": python},
            )
        finally:
            stop_process(proc.pid)
            for d in delegated:
                rmdir_tree(d)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session", params=MODES)
def runtime(request):
    """Each privilege mode in turn."""
    return request.getfixturevalue(f"{request.param}_runtime")


@pytest.fixture(scope="module")
def probe_sandbox(runtime):
    """A code-interpreter sandbox for read-only probes, shared by a module per mode."""
    sbx = runtime.create(timeout=600)
    try:
        yield sbx
    finally:
        sbx.kill()


@pytest.fixture(scope="module")
def witness(runtime):
    """A bystander sandbox whose responsiveness the limit tests measure during attacks."""
    sbx = runtime.create(timeout=600)
    try:
        sbx.run_code("1")
        yield sbx
    finally:
        sbx.kill()
