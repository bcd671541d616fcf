"""Command-path variants (`sandbox.commands.run`): the same attacks through envd's
process service, including as sandbox root, which `run_code` cannot reach."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def base_sandbox(runtime):
    from e2b import Sandbox

    sbx = Sandbox.create(template="base", timeout=300, **runtime.opts)
    if not hasattr(sbx, "commands"):
        sbx.kill()
        pytest.skip("commands are not available in this build")
    try:
        yield sbx
    finally:
        sbx.kill()


def sh(sbx, cmd: str, user: str | None = None):
    from e2b import CommandExitException

    try:
        r = (
            sbx.commands.run(cmd, user=user, timeout=60)
            if user
            else sbx.commands.run(cmd, timeout=60)
        )
        return r.exit_code, r.stdout + r.stderr
    except CommandExitException as e:
        return e.exit_code, e.stdout + e.stderr


def _root_user(runtime):
    return "root" if runtime.mode == "root" else None


def test_writes_anywhere_stay_in_the_sandbox(runtime, base_sandbox):
    token = secrets.token_hex(6)
    user = _root_user(runtime)
    code, out = sh(
        base_sandbox,
        f"echo {token} > /usr/lib/e2b-{token} && rm /usr/bin/env && echo done",
        user,
    )
    if runtime.mode == "root":
        # Root mode: writes and deletions under /usr succeed — in the sandbox's own layer.
        assert code == 0 and "done" in out, out
    else:
        assert code != 0  # unprivileged: /usr is read-only
    assert not Path(f"/usr/lib/e2b-{token}").exists()
    assert Path("/usr/bin/env").exists()  # the host's /usr is untouched


@pytest.mark.parametrize(
    "cmd",
    [
        "mount -t tmpfs none /mnt",
        "unshare -U -r true",
        "unshare -m true",
        "nsenter -t 1 -m true",
        "echo 1 > /proc/sys/net/ipv4/ip_forward",
        "echo x > /proc/sys/kernel/hostname",
        "mknod /tmp/sda b 8 0",
        "chroot / true",
        "cat /root/.bashrc /etc/shadow",
    ],
)
def test_privileged_operations_fail_even_as_sandbox_root(runtime, base_sandbox, cmd):
    code, out = sh(base_sandbox, cmd, _root_user(runtime))
    assert code != 0, f"{cmd!r} succeeded: {out}"


def test_commands_run_under_the_filter(runtime, base_sandbox):
    code, out = sh(
        base_sandbox,
        "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; id -u",
        _root_user(runtime),
    )
    assert code == 0
    fields = out.split()
    assert fields[:4] == ["NoNewPrivs:", "1", "Seccomp:", "2"], out
    # Harmless twin: ordinary commands run.
    assert sh(base_sandbox, "echo ok && ls / >/dev/null")[0] == 0


def test_host_process_cannot_be_signalled(runtime, base_sandbox):
    import subprocess

    victim = subprocess.Popen(["sleep", "60"])
    try:
        sh(
            base_sandbox,
            f"kill -9 {victim.pid}; kill -9 {runtime.pid}",
            _root_user(runtime),
        )
        assert victim.poll() is None
        assert os.path.exists(f"/proc/{runtime.pid}")
    finally:
        victim.kill()
        victim.wait()
