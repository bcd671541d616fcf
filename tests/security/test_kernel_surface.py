"""Invariants 1 and 6: processes and the kernel surface. Firecracker-style pairs: every
malicious system call must be refused, its harmless twin must still work. Syscall numbers are
x86_64's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sec_helpers import PRELUDE, probe, run

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux only")

# name → (probe expression, errnos that count as "blocked")
MALICIOUS = {
    "mount": ("sc(165, b'tmpfs', b'/tmp', b'tmpfs', 0, 0)", {"EPERM"}),
    "umount2": ("sc(166, b'/proc', 2)", {"EPERM"}),
    "pivot_root": ("sc(155, b'/tmp', b'/tmp')", {"EPERM"}),
    "chroot": ("sc(161, b'/tmp')", {"EPERM"}),
    "open_tree": ("sc(428, -100, b'/usr', 1)", {"EPERM"}),
    # open_tree_attr (6.15): a writable clone of /proc/sys would be the prize.
    "open_tree_attr": ("sc(467, -100, b'/proc/sys', 1, 0, 0)", {"EPERM"}),
    "quotactl_fd": ("sc(443, 0, 0, 0, 0)", {"EPERM"}),
    "fanotify_init": ("sc(300, 0, 0)", {"EPERM"}),
    # io_setup takes from fs.aio-max-nr, one pool for the whole host.
    "io_setup": ("sc(206, 65536, ctypes.byref(ctypes.c_ulong(0)))", {"ENOSYS"}),
    # Numbers above the reviewed maximum (469) answer ENOSYS, whatever the kernel has.
    "beyond_reviewed": ("sc(470, 0, 0, 0)", {"ENOSYS"}),
    "beyond_reviewed_far": ("sc(1023, 0, 0, 0)", {"ENOSYS"}),
    "fsopen": ("sc(430, b'tmpfs', 0)", {"EPERM"}),
    "unshare_user": ("sc(272, 0x10000000)", {"EPERM"}),
    "unshare_mount": ("sc(272, 0x00020000)", {"EPERM"}),
    "unshare_net": ("sc(272, 0x40000000)", {"EPERM"}),
    "clone_newuser": ("clone_ns()", {"EPERM"}),
    "clone3": ("sc(435, 0, 0)", {"ENOSYS"}),
    "setns": ("setns_self()", {"EPERM"}),
    "kexec_load": ("sc(246, 0, 0, 0, 0)", {"EPERM"}),
    "kexec_file_load": ("sc(320, -1, -1, 0, 0, 0)", {"EPERM"}),
    "init_module": ("sc(175, 0, 0, b'')", {"EPERM"}),
    "finit_module": ("sc(313, 0, b'', 0)", {"EPERM"}),
    "bpf": ("sc(321, 0, 0, 0)", {"EPERM"}),
    "perf_event_open": ("sc(298, 0, 0, -1, -1, 0)", {"EPERM"}),
    "userfaultfd": ("sc(323, 0)", {"EPERM"}),
    "io_uring_setup": ("sc(425, 8, ctypes.create_string_buffer(128))", {"EPERM"}),
    "keyctl": ("sc(250, 0, -1, 0)", {"EPERM"}),
    "add_key": ("sc(248, b'user', b'k', b'v', 1, -2)", {"EPERM"}),
    "request_key": ("sc(249, b'user', b'k', 0, 0)", {"EPERM"}),
    "ptrace_agent": ("sc(101, 16, 1, 0, 0)", {"EPERM"}),  # PTRACE_ATTACH to pid 1
    "process_vm_readv": ("sc(310, 1, 0, 0, 0, 0, 0)", {"EPERM"}),
    "open_by_handle_at": ("sc(304, -100, 0, 0)", {"EPERM"}),
    "name_to_handle_at": ("sc(303, -100, b'/', 0, 0, 0)", {"EPERM"}),
    "reboot": ("sc(169, 0xfee1dead, 672274793, 0x1234567, 0)", {"EPERM"}),
    "swapon": ("sc(167, b'/tmp/x', 0)", {"EPERM"}),
    "settimeofday": ("sc(164, 0, 0)", {"EPERM"}),
    "clock_settime": ("sc(227, 0, ctypes.create_string_buffer(16))", {"EPERM"}),
    "syslog": ("sc(103, 3, ctypes.create_string_buffer(64), 64)", {"EPERM"}),
    "iopl": ("sc(172, 3)", {"EPERM"}),
    "vsock": ("errno_of(lambda: socket.socket(40, socket.SOCK_STREAM))", {"EPERM"}),
    "tiocsti": ("tiocsti()", {"EPERM"}),
    "x32_mount": (
        "sc(0x40000000 | 165, b'tmpfs', b'/tmp', b'tmpfs', 0, 0)",
        {"EPERM", "ENOSYS"},
    ),
}

HARMLESS = {
    "getpid": "sc(39)",
    "fork_exec": "errno_of(lambda: __import__('subprocess').run(['/bin/true'], check=True))",
    "thread": "errno_of(lambda: (lambda t: (t.start(), t.join()))(__import__('threading').Thread(target=lambda: None)))",
    "unshare_files": "sc(272, 0x00000400)",  # CLONE_FILES: not a namespace
    "socket_inet": "errno_of(lambda: socket.socket().close())",
    "socket_unix": "errno_of(lambda: socket.socket(socket.AF_UNIX).close())",
    "pty": "errno_of(lambda: [os.close(fd) for fd in os.openpty()])",
    "mmap": "errno_of(lambda: __import__('mmap').mmap(-1, 4096).close())",
    "uname": "errno_of(os.uname)",
    # Reviewed and allowed; on a kernel older than the call, ENOSYS is the kernel's own answer.
    "statx": "sc(332, -100, b'/', 0, 0xfff, ctypes.create_string_buffer(256))",
    "listxattrat": "new_call(6, 13, lambda: sc(465, -100, b'/tmp', 0, 0, 0))",
    "mseal": "new_call(6, 10, lambda: sc(462, MAP, 4096, 0))",
    "statmount": "new_call(6, 8, statmount_root)",
}

HELPERS = r"""
import fcntl, termios
def clone_ns():
    # clone(CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD): must fail before a child exists.
    r = sc(56, 0x10000000 | 0x40000000 | 17, 0, 0, 0, 0)
    if r == "ok" and os.getpid() != PARENT:
        os._exit(0)
    return r
def setns_self():
    fd = os.open('/proc/self/ns/net', os.O_RDONLY)
    try:
        return sc(308, fd, 0)
    finally:
        os.close(fd)
def tiocsti():
    m, s = os.openpty()
    try:
        return errno_of(lambda: fcntl.ioctl(s, termios.TIOCSTI, b'x'))
    finally:
        os.close(m); os.close(s)
def new_call(major, minor, fn):
    release = tuple(int(x) for x in os.uname().release.split('-')[0].split('.')[:2])
    r = fn()
    return "ok" if release < (major, minor) and r == "ENOSYS" else r
import mmap
_map = mmap.mmap(-1, 4096)
MAP = ctypes.addressof(ctypes.c_char.from_buffer(_map))
def statmount_root():
    # statmount(mnt_id_req{size 24, spare, mnt_id of /, param STATMOUNT_SB_BASIC}, buf, 512, 0)
    req = (ctypes.c_uint64 * 3)()
    req[0] = 24  # size (u32) + spare (u32)
    # mnt_id_req.mnt_id is the unique 64-bit id; statx(STATX_MNT_ID_UNIQUE) gives it.
    buf = ctypes.create_string_buffer(256)
    if sc(332, -100, b'/', 0, 0x4000, buf) != "ok":
        return "ENOSYS"
    req[1] = int.from_bytes(buf.raw[144:152], 'little')
    req[2] = 1
    out = ctypes.create_string_buffer(512)
    return sc(457, req, out, 512, 0)
PARENT = os.getpid()
"""


@pytest.fixture(scope="module")
def syscall_results(probe_sandbox):
    body = ", ".join(f"{k!r}: {v}" for k, (v, _) in MALICIOUS.items())
    harmless = ", ".join(f"{k!r}: {v}" for k, v in HARMLESS.items())
    return probe(
        probe_sandbox,
        PRELUDE
        + HELPERS
        + f"print(json.dumps({{'bad': {{{body}}}, 'ok': {{{harmless}}}}}))",
    )


@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_dangerous_syscall_is_refused(syscall_results, name):
    got = syscall_results["bad"][name]
    assert got in MALICIOUS[name][1], f"{name}: {got}"


@pytest.mark.parametrize("name", sorted(HARMLESS))
def test_harmless_twin_still_works(syscall_results, name):
    assert syscall_results["ok"][name] == "ok", syscall_results["ok"]


def test_no_new_privs_and_seccomp_are_set_for_code(probe_sandbox):
    got = probe(
        probe_sandbox,
        """
import json, subprocess
st = dict(l.split(':', 1) for l in open('/proc/self/status'))
child = subprocess.run(['sh', '-c', 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status'], capture_output=True, text=True).stdout
print(json.dumps({"nnp": st['NoNewPrivs'].strip(), "seccomp": st['Seccomp'].strip(), "child": child.split()}))
""",
    )
    assert got["nnp"] == "1" and got["seccomp"] == "2"
    assert got["child"] == ["NoNewPrivs:", "1", "Seccomp:", "2"]


def test_the_agent_runs_confined_too(runtime, probe_sandbox):
    # Host state: the sandbox's init (the agent) has the filter and no_new_privs.
    pid = _init_pid(runtime, probe_sandbox.sandbox_id)
    status = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    assert status["Seccomp"].strip() == "2"
    assert status["NoNewPrivs"].strip() == "1"
    log = (runtime.run_dir() / probe_sandbox.sandbox_id / "agent.log").read_text()
    assert "landlock: fully enforced" in log, log[-2000:]


def _init_pid(runtime, sandbox_id: str) -> int:
    import json

    rec = json.loads(
        (runtime.state_dir / "sandboxes" / f"{sandbox_id}.json").read_text()
    )
    return rec["initPid"]


def test_only_own_processes_are_visible(runtime, probe_sandbox):
    victim = subprocess.Popen(["sleep", "300"])
    try:
        got = probe(
            probe_sandbox,
            PRELUDE
            + f"""
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
cmds = [open(f'/proc/{{p}}/cmdline', 'rb').read().split(b'\\0')[0].decode(errors='replace') for p in pids]
print(json.dumps({{"pids": pids, "cmds": cmds, "kill_daemon": errno_of(lambda: os.kill({runtime.pid}, 9)),
                   "kill_victim": errno_of(lambda: os.kill({victim.pid}, 9)),
                   "kill_init": errno_of(lambda: os.kill(1, 9))}}))
""",
        )
        assert victim.poll() is None, "a host process was killed from inside a sandbox"
        assert 1 in got["pids"] and len(got["pids"]) < 20, got
        assert not any("sleep" in c or "serve" in c for c in got["cmds"]), got["cmds"]
        # Root mode: EPERM (the agent is sandbox root); unprivileged: the kernel ignores
        # signals to a pid namespace's init without a handler. Either way the agent lives:
        assert got["kill_init"] in ("EPERM", "ok")
        assert run(probe_sandbox, "print('alive')").strip() == "alive"
    finally:
        victim.kill()
        victim.wait()
    import os

    assert os.path.exists(f"/proc/{runtime.pid}")  # the daemon survived


def test_nested_user_namespace_command_fails(probe_sandbox):
    out = run(
        probe_sandbox,
        """
import subprocess
r = subprocess.run(['unshare', '-Ur', 'true'], capture_output=True, text=True)
print(r.returncode)
""",
    )
    assert out.strip() != "0"
