"""Inherited descriptors: nothing but stdin, stdout and stderr reaches a process user code runs
in — kernels of every language, commands (as the user and as root), background commands,
PTYs, restarted kernels and anything user code starts itself. Nothing of the agent (its
listening socket, configuration memfd, extension module, memory-cgroup events) and nothing of
the daemon (through slirp4netns) is reachable that way.

Each child reports every descriptor it holds (`/proc/self/fd`), whether it is close-on-exec
(one that came through `exec` never is) and, for sockets, `getsockname` and whether it
listens. A descriptor >= 3 that is not close-on-exec was inherited; a descriptor naming the
sandbox's host run directory, the agent's socket, config or extension is the agent's. Twins:
user code still hands its own descriptors to its own children on purpose."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from sec_helpers import probe, run

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux only")

O_CLOEXEC = 0o2000000

# Prints {"pid": …, "fds": {fd: {...}}} for the process that runs it, or for the process
# whose pid is its argument (a shell that runs it: the shell's own descriptors, without the
# pipes a shell-level listing would open itself).
FD_PROBE = r"""
import json, os, socket, sys
PID = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1].isdigit() else 'self'
def describe():
    out = {}
    for name in os.listdir(f'/proc/{PID}/fd'):
        fd = int(name)
        try:
            target = os.readlink(f'/proc/{PID}/fd/{fd}')
            info = open(f'/proc/{PID}/fdinfo/{fd}').read()
        except OSError:
            continue  # the listing's own descriptor, closed by now
        flags = int([l for l in info.splitlines() if l.startswith('flags:')][0].split()[1], 8)
        entry = {"target": target, "cloexec": bool(flags & 0o2000000)}
        if target.startswith('socket:') and PID == 'self':
            try:
                s = socket.socket(fileno=os.dup(fd))
                try:
                    name = s.getsockname()
                    entry["sockname"] = name if isinstance(name, str) else repr(name)
                    entry["listening"] = bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
                finally:
                    s.close()
            except OSError as e:
                entry["sockname"] = f"error {e.errno}"
        out[fd] = entry
    return out
print(json.dumps({"pid": os.getpid() if PID == 'self' else int(PID), "fds": describe()}))
"""

# Runs the probe in a grandchild that inherits everything its parent did not mark
# close-on-exec (close_fds=False), i.e. what a nested subprocess of user code would get.
NESTED = (
    "import subprocess, sys\n"
    f"PROBE = {FD_PROBE!r}\n"
    "r = subprocess.run([sys.executable, '-c', PROBE], close_fds=False, capture_output=True, text=True)\n"
    "print(r.stdout.strip().splitlines()[-1])\n"
)

# Deno's kernel lists its own descriptors.
DENO_SELF = r"""
const out = {};
for (const e of Deno.readDirSync('/proc/self/fd')) {
  try {
    const target = Deno.readLinkSync('/proc/self/fd/' + e.name);
    const m = Deno.readTextFileSync('/proc/self/fdinfo/' + e.name).match(/flags:\s*(\d+)/);
    out[e.name] = {target, cloexec: (parseInt(m[1], 8) & 0o2000000) !== 0};
  } catch (_) {}
}
console.log(JSON.stringify({pid: Deno.pid, fds: out}));
"""


def leaks(report: dict, run_dir: Path) -> list[str]:
    """What a child holds that it did not open itself, or that belongs to the agent."""
    bad = []
    marks = (str(run_dir), "agent.sock", "e2b-agent-config", "_native", "memory.events")
    for fd, e in report["fds"].items():
        fd = int(fd)
        what = f"fd {fd}: {e}"
        if fd >= 3 and not e["cloexec"]:
            bad.append("inherited " + what)
        text = f"{e['target']} {e.get('sockname', '')}"
        if any(m in text for m in marks) or e["target"].endswith(".so"):
            bad.append("agent's " + what)
    return bad


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def sbx(runtime):
    s = runtime.create(timeout=600)
    try:
        s.files.write("/tmp/fdprobe.py", FD_PROBE)
        yield s
    finally:
        s.kill()


@pytest.fixture(scope="module")
def python(sbx) -> str:
    return run(sbx, "import sys; print(sys.executable)").strip()


def test_python_kernel_and_its_children_hold_only_their_own(runtime, sbx):
    kernel = probe(sbx, FD_PROBE)
    nested = probe(sbx, NESTED)
    assert kernel["fds"], kernel
    assert leaks(kernel, runtime.run_dir()) == []
    # The grandchild got exactly stdin, stdout and stderr.
    assert sorted(int(fd) for fd in nested["fds"]) == [0, 1, 2], nested
    assert leaks(nested, runtime.run_dir()) == []


def test_a_restarted_kernel_holds_only_its_own(runtime, sbx):
    ctx = sbx.create_code_context()
    before = last_json(run_in(sbx, FD_PROBE, ctx))
    sbx.restart_code_context(ctx)
    after = last_json(run_in(sbx, FD_PROBE, ctx))
    nested = last_json(run_in(sbx, NESTED, ctx))
    assert before["pid"] != after["pid"], "the kernel was not restarted"
    for r in (before, after, nested):
        assert leaks(r, runtime.run_dir()) == [], r
    assert sorted(int(fd) for fd in nested["fds"]) == [0, 1, 2], nested


def run_in(sbx, code: str, ctx) -> str:
    ex = sbx.run_code(code, context=ctx, timeout=60)
    assert ex.error is None, ex.error
    return "".join(ex.logs.stdout)


@pytest.mark.parametrize("user", ["user", "root"])
def test_commands_hold_only_stdio(runtime, sbx, python, user):
    if runtime.mode == "unprivileged" and user == "root":
        pytest.skip("no root in an unprivileged sandbox (a single mapped id)")
    r = sbx.commands.run(f"{python} /tmp/fdprobe.py", user=user, timeout=60)
    got = last_json(r.stdout)
    assert sorted(int(fd) for fd in got["fds"] if int(fd) < 3) == [0, 1, 2]
    assert leaks(got, runtime.run_dir()) == [], got
    # A shell's child inherits what the shell was given: only stdio here as well.
    r = sbx.commands.run(
        f"sh -c 'ls /proc/self/fd; {python} /tmp/fdprobe.py'", user=user, timeout=60
    )
    assert leaks(last_json(r.stdout), runtime.run_dir()) == []


def test_background_commands_hold_only_stdio(runtime, sbx, python):
    h = sbx.commands.run(
        f"{python} /tmp/fdprobe.py > /tmp/bg-fds.json", background=True, timeout=60
    )
    assert h.wait().exit_code == 0
    got = json.loads(sbx.files.read("/tmp/bg-fds.json"))
    assert leaks(got, runtime.run_dir()) == [], got


def test_ptys_hold_only_stdio(runtime, sbx, python):
    from e2b import PtySize

    h = sbx.pty.create(PtySize(rows=24, cols=80), timeout=60)
    sbx.pty.send_stdin(
        h.pid, f"{python} /tmp/fdprobe.py > /tmp/pty-fds.json; exit\n".encode()
    )
    h.wait(on_pty=lambda _: None)
    got = json.loads(sbx.files.read("/tmp/pty-fds.json"))
    assert leaks(got, runtime.run_dir()) == [], got
    # The probe's stdin and stderr are the terminal (stdout went to the file).
    assert all("/dev/pts/" in got["fds"][str(i)]["target"] for i in (0, 2)), got


def _kernels(runtime) -> dict:
    python = runtime.extra.get("python") or sys.executable
    import subprocess

    out = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util, json\n"
            "try:\n    import deno; d = deno.find_deno_bin()\nexcept Exception:\n    d = None\n"
            "print(json.dumps({'bash': importlib.util.find_spec('bash_kernel') is not None, 'js': d is not None}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_bash_kernel_holds_only_its_own(runtime, sbx, python):
    if not _kernels(runtime)["bash"]:
        pytest.skip("bash_kernel is not installed in this runtime's Python")
    # The shell that runs user code, listed by its child.
    out = sbx.run_code(f"{python} /tmp/fdprobe.py $$", language="bash", timeout=60)
    assert out.error is None, out.error
    shell = last_json("".join(out.logs.stdout))
    assert 255 > len(shell["fds"]) >= 3 and leaks(shell, runtime.run_dir()) == [], shell
    out = sbx.run_code(f"{python} /tmp/fdprobe.py", language="bash", timeout=60)
    child = last_json("".join(out.logs.stdout))
    assert leaks(child, runtime.run_dir()) == [], child


def test_js_kernel_holds_only_its_own(runtime, sbx, python):
    if not _kernels(runtime)["js"]:
        pytest.skip("Deno is not installed in this runtime's Python")
    ex = sbx.run_code(DENO_SELF, language="javascript", timeout=120)
    assert ex.error is None, ex.error
    own = last_json("".join(ex.logs.stdout))
    assert own["fds"] and leaks(own, runtime.run_dir()) == [], own
    ex = sbx.run_code(
        f"const o = new Deno.Command({python!r}, {{args: ['/tmp/fdprobe.py']}}).outputSync();"
        "console.log(new TextDecoder().decode(o.stdout));",
        language="javascript",
        timeout=120,
    )
    assert ex.error is None, ex.error
    child = last_json("".join(ex.logs.stdout))
    assert leaks(child, runtime.run_dir()) == [], child


def test_user_code_can_still_pass_its_own_descriptors(sbx, python):
    """The twin: descriptors user code makes inheritable reach its children."""
    got = run(
        sbx,
        f"""
import os, subprocess
r, w = os.pipe()
os.set_inheritable(w, True)
subprocess.run([{python!r}, '-c', f'import os; os.write({{w}}, b"handed over")'], close_fds=False, check=True)
os.close(w)
print(os.read(r, 100).decode())
""",
    )
    assert got.strip() == "handed over"
    r = sbx.commands.run(
        f"sh -c 'exec 7</etc/hostname; {python} -c \"import os; print(os.read(7, 100).decode())\"'",
        timeout=60,
    )
    assert r.stdout.strip() == "sandbox"


def _fd_table(pid: int) -> dict[int, tuple[str, bool]]:
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
            info = Path(f"/proc/{pid}/fdinfo/{name}").read_text()
        except OSError:
            continue
        flags = int(
            [line for line in info.splitlines() if line.startswith("flags:")][0].split()[1],
            8,
        )
        out[int(name)] = (target, bool(flags & O_CLOEXEC))
    return out


def test_the_agent_keeps_what_it_inherited_to_itself(runtime, sbx):
    """From the host: everything the agent holds above stderr is close-on-exec, and the
    extension module it was loaded from is closed."""
    rec = json.loads(
        (runtime.state_dir / "sandboxes" / f"{sbx.sandbox_id}.json").read_text()
    )
    table = _fd_table(rec["initPid"])
    assert 3 in table and table[3][0].startswith("socket:"), table
    open_inheritable = {fd: t for fd, t in table.items() if fd >= 3 and not t[1]}
    assert open_inheritable == {}, open_inheritable
    assert not any(t.endswith(".so") for t, _ in table.values()), table


def test_slirp_gets_nothing_of_the_daemon(root_runtime):
    """slirp4netns (sandbox traffic, host side) holds its exit and ready pipes and what it
    opened itself, nothing the daemon had open."""
    if not os.path.exists("/usr/bin/slirp4netns"):
        pytest.skip("slirp4netns is not installed")
    sbx = root_runtime.create(allow_internet_access=True, timeout=60)
    try:
        rec = json.loads(
            (root_runtime.state_dir / "sandboxes" / f"{sbx.sandbox_id}.json").read_text()
        )
        init = str(rec["initPid"])
        slirp = [
            int(p)
            for p in os.listdir("/proc")
            if p.isdigit()
            and Path(f"/proc/{p}/comm").read_text().strip() == "slirp4netns"
            and init in Path(f"/proc/{p}/cmdline").read_bytes().decode().split("\0")
        ]
        assert len(slirp) == 1, slirp
        daemon = {t for t, _ in _fd_table(root_runtime.pid).values()}
        shared = {
            fd: t
            for fd, (t, _) in _fd_table(slirp[0]).items()
            if fd >= 5 and t in daemon and not t.startswith("anon_inode:")
        }
        assert shared == {}, shared
        # Its stdio is /dev/null, not the daemon's log.
        assert {_fd_table(slirp[0])[i][0] for i in range(3)} == {"/dev/null"}
    finally:
        sbx.kill()
