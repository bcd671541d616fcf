"""Symlinks planted inside a sandbox must never lead file operations to the host.

envd resolves paths inside the sandbox's own mount namespace (after `pivot_root`), so a link
to `/`, a `..` chain or a host path only ever reaches the sandbox's own files. Each test
plants links, drives files.read/write/list/rename/remove/watch_dir through them (as `user`
and as `root`), and checks on the HOST that nothing was read, written or removed there."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

import pytest
from e2b import FileNotFoundException, Sandbox, SandboxException


# A host directory next to this checkout (where `.venv` lives, which the sandbox does see,
# read-only, at the same path).
HOST_DIR = Path(__file__).resolve().parents[2].parent


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


@pytest.fixture
def host_markers():
    """Files on the host the sandbox must not see or touch."""
    tag = uuid.uuid4().hex[:10]
    markers = {
        "tmp": Path(f"/tmp/e2b-escape-{tag}"),
        "root": Path(f"/root/.e2b-escape-{tag}"),
        "work": HOST_DIR / f"e2b-escape-{tag}",
    }
    for p in markers.values():
        p.write_text(f"host secret {tag}")
    try:
        yield tag, markers
    finally:
        for p in markers.values():
            p.unlink(missing_ok=True)
        for extra in Path("/tmp").glob(f"e2b-escape-new-{tag}*"):
            extra.unlink()


@pytest.fixture(scope="module")
def sbx(local_runtime):
    sandbox = Sandbox.create()
    try:
        yield sandbox
    finally:
        sandbox.kill()


@pytest.mark.parametrize("user", ["user", "root"])
def test_symlinks_cannot_reach_host_files(sbx, host_markers, user):
    tag, markers = host_markers
    host_state = {name: digest(p) for name, p in markers.items()}
    bashrc = Path("/root/.bashrc")
    bashrc_before = digest(bashrc)
    home = "/root" if user == "root" else "/home/user"
    links = {
        "to_root": "/",
        "to_dotdot": "../../../../../../../..",
        "to_host_tmp_marker": str(markers["tmp"]),
        "to_host_root_marker": str(markers["root"]),
        "to_host_bashrc": "/root/.bashrc",
        "to_work": str(HOST_DIR),
    }
    script = " && ".join(f"ln -sfn {target} {home}/{name}-{tag}" for name, target in links.items())
    sbx.commands.run(script, user=user)
    link = {name: f"{name}-{tag}" for name in links}

    # read
    for name in ("to_host_tmp_marker", "to_host_root_marker"):
        with pytest.raises((FileNotFoundException, SandboxException)) as info:
            sbx.files.read(link[name], user=user)
        assert "host secret" not in str(info.value)
    for via in (f"{link['to_root']}/tmp/e2b-escape-{tag}", f"{link['to_dotdot']}/root/.e2b-escape-{tag}"):
        with pytest.raises((FileNotFoundException, SandboxException)):
            sbx.files.read(via, user=user)
    try:
        content = sbx.files.read(link["to_host_bashrc"], user=user)
    except SandboxException:
        content = None  # the sandbox has no /root/.bashrc: the link dangles
    assert content is None or not bashrc.exists() or content != bashrc.read_text(errors="replace")

    # write (through the link to the marker itself, through `/` and `..`, next to the checkout)
    for target in (
        link["to_host_tmp_marker"],
        f"{link['to_root']}/tmp/e2b-escape-{tag}",
        f"{link['to_dotdot']}/tmp/e2b-escape-{tag}",
        f"{link['to_work']}/e2b-escape-{tag}",
        f"{link['to_root']}/root/.e2b-escape-{tag}",
    ):
        try:
            sbx.files.write(target, "sandbox data", user=user)
        except SandboxException:
            pass  # refused (read-only, permission) is fine; landing inside the sandbox too

    # list
    for via in (link["to_root"], f"{link['to_root']}/tmp", f"{link['to_dotdot']}/root", link["to_work"]):
        try:
            names = [e.name for e in sbx.files.list(via, user=user)]
        except SandboxException:
            continue
        assert (
            f".e2b-escape-{tag}" not in names
            or via.endswith("/root")
            and user == "root"
            and sbx.files.read(f"{via}/.e2b-escape-{tag}", user=user) == "sandbox data"
        )

    # rename and remove through the links
    sbx.files.write(f"moveme-{tag}", "m", user=user)
    for dest in (f"{link['to_root']}/tmp/e2b-escape-{tag}", f"{link['to_work']}/moved-{tag}"):
        try:
            sbx.files.rename(f"moveme-{tag}", dest, user=user)
            sbx.files.write(f"moveme-{tag}", "m", user=user)
        except SandboxException:
            pass
    for target in (
        link["to_host_tmp_marker"],
        f"{link['to_root']}/tmp/e2b-escape-{tag}",
        f"{link['to_dotdot']}/root/.e2b-escape-{tag}",
        f"{link['to_work']}/e2b-escape-{tag}",
        link["to_host_bashrc"],
    ):
        try:
            sbx.files.remove(target, user=user)
        except SandboxException:
            pass

    # watch: a change on the host is never reported
    events = []
    try:
        handle = sbx.files.watch_dir(f"{link['to_root']}/tmp", user=user)
    except SandboxException:
        handle = None
    if handle is not None:
        new_host_file = Path(f"/tmp/e2b-escape-new-{tag}")
        new_host_file.write_text("host")
        time.sleep(0.5)
        events = handle.get_new_events()
        handle.stop()
        assert all(f"e2b-escape-new-{tag}" not in e.name for e in events), events

    # The host is untouched.
    assert {name: digest(p) for name, p in markers.items()} == host_state
    assert digest(bashrc) == bashrc_before
    assert not (HOST_DIR / f"moved-{tag}").exists()
    assert not any(Path("/tmp").glob(f"moveme-{tag}*"))
    assert all(p.read_text() == f"host secret {tag}" for p in markers.values())


def test_sandbox_etc_is_the_sandboxes_own(sbx):
    passwd = sbx.files.read("../../../../etc/passwd")
    assert "user:x:1000:1000" in passwd
    host = Path("/etc/passwd").read_text()
    assert passwd != host
    if os.path.exists("/etc/shadow"):
        with pytest.raises(FileNotFoundException):
            sbx.files.read("/etc/shadow", user="root")
