"""The kernel's shared pools: one sandbox exhausts each pool it can draw on, and the host (its
root, or the daemon's user in unprivileged mode) and another sandbox still get their share.
Caps: `crates/sandboxd/src/sandbox/pools.rs`; the list with the residuals is in
`docs/security.md`. Twins: a normal number of ptys and inotify watches works, and
`watch_dir` keeps working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sec_helpers import PRELUDE, probe, run

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux only")

PTY_MAX = 64
INOTIFY_INSTANCES = 32
INOTIFY_WATCHES = 16384

INOTIFY = """
import ctypes, os
_lc = ctypes.CDLL(None, use_errno=True)
def inotify():
    fd = _lc.inotify_init1(0o2000000)
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return fd
"""

# Takes as many inotify instances as it can, in `uids` processes of their own uid each (sandbox
# root spreading over uids to get past a per-uid cap), holds them, and writes the total.
SPREAD = (
    INOTIFY
    + r"""
import json, sys, time
uids, out = [int(u) for u in sys.argv[1].split(',')], sys.argv[2]
pipes = []
for uid in uids:
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(r)
        if uid != os.getuid():
            os.setgid(uid); os.setuid(uid)
        n, err = 0, None
        try:
            while n < 100000:
                inotify(); n += 1
        except OSError as e:
            err = e.errno
        os.write(w, json.dumps([n, err]).encode()); os.close(w)
        time.sleep(120)
        os._exit(0)
    os.close(w)
    pipes.append(r)
got = [json.loads(os.read(r, 100)) for r in pipes]
open(out + '.tmp', 'w').write(json.dumps(got)); os.rename(out + '.tmp', out)
time.sleep(120)
"""
)


def host_can(runtime, code: str) -> str:
    """Runs `code` on the host as the daemon's user (host root for a root daemon); it prints
    "ok" or an errno name."""
    kw, python = {}, sys.executable
    if runtime.mode == "unprivileged":
        kw = {"user": runtime.extra["uid"], "group": runtime.extra["uid"], "extra_groups": []}
        python = str(runtime.extra["python"])
    r = subprocess.run(
        [python, "-c", PRELUDE + INOTIFY + code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        **kw,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_sandbox_pool_caps_are_set_inside(probe_sandbox):
    got = probe(
        probe_sandbox,
        """
import json
names = ['max_inotify_instances', 'max_inotify_watches', 'max_fanotify_groups',
         'max_user_namespaces', 'max_mnt_namespaces', 'max_net_namespaces']
print(json.dumps({n: int(open('/proc/sys/user/' + n).read()) for n in names}))
""",
    )
    assert got == {
        "max_inotify_instances": INOTIFY_INSTANCES,
        "max_inotify_watches": INOTIFY_WATCHES,
        "max_fanotify_groups": 0,
        "max_user_namespaces": 0,
        "max_mnt_namespaces": 0,
        "max_net_namespaces": 0,
    }


def test_one_sandbox_cannot_take_the_pty_pool(runtime, probe_sandbox):
    hog = runtime.create(timeout=120)
    try:
        got = probe(
            hog,
            PRELUDE
            + """
held = []
try:
    while len(held) < 100000:
        held.append(os.openpty())
    err = None
except OSError as e:
    err = errno.errorcode[e.errno]
print(json.dumps([len(held), err]))
""",
        )
        n, err = got
        assert 8 <= n <= PTY_MAX and err == "ENOSPC", got  # 8: a normal number works
        # While the hog holds all it can: the host and another sandbox get a pty.
        assert host_can(runtime, "print(errno_of(os.openpty))") == "ok"
        assert (
            probe(probe_sandbox, PRELUDE + "print(json.dumps(errno_of(os.openpty)))")
            == "ok"
        )
        # … and a terminal of the other sandbox works.
        from e2b import PtySize

        out = []
        h = probe_sandbox.pty.create(PtySize(rows=24, cols=80), timeout=30)
        probe_sandbox.pty.send_stdin(h.pid, b"tty; exit\n")
        h.wait(on_pty=out.append)
        assert b"/dev/pts/" in b"".join(out), out
    finally:
        hog.kill()


def test_one_sandbox_cannot_take_the_inotify_pool(runtime, probe_sandbox):
    hog = runtime.create(timeout=120)
    try:
        hog.files.write("/tmp/spread.py", SPREAD)
        python = run(hog, "import sys; print(sys.executable)").strip()
        if runtime.mode == "root":
            # Sandbox root spreads over 8 uids: 8 × the per-uid cap is more than a host
            # user's whole pool (128), so only the owner bucket holds it.
            cmd = f"{python} /tmp/spread.py 0,2001,2002,2003,2004,2005,2006,2007 /tmp/spread.json"
            h = hog.commands.run(cmd, user="root", background=True, timeout=0)
        else:
            cmd = f"{python} /tmp/spread.py 1000 /tmp/spread.json"
            h = hog.commands.run(cmd, background=True, timeout=0)
        deadline = time.monotonic() + 60
        while True:
            try:
                got = json.loads(hog.files.read("/tmp/spread.json"))
                break
            except Exception:
                assert time.monotonic() < deadline, "the spreader did not report"
                time.sleep(0.5)
        for n, err in got:
            assert n <= INOTIFY_INSTANCES and err is not None, got
        assert got[0][0] >= 4, got  # a normal number works
        if runtime.mode == "root":
            # The spread worked: more than one uid's cap, as much as a host user's pool.
            assert sum(n for n, _ in got) > 2 * INOTIFY_INSTANCES, got
        # While the hog holds all it got: the host user (root / the daemon's user) and
        # another sandbox still get an inotify instance, and watch_dir works there.
        assert host_can(runtime, "print(errno_of(lambda: os.close(inotify())))") == "ok"
        assert (
            probe(
                probe_sandbox,
                PRELUDE + INOTIFY + "print(json.dumps(errno_of(lambda: os.close(inotify()))))",
            )
            == "ok"
        )
        probe_sandbox.files.make_dir("/tmp/watched")
        w = probe_sandbox.files.watch_dir("/tmp/watched")
        probe_sandbox.files.write("/tmp/watched/a", "x")
        deadline = time.monotonic() + 10
        events = []
        while not events and time.monotonic() < deadline:
            events = w.get_new_events()
            time.sleep(0.1)
        w.stop()
        assert events, "watch_dir saw nothing"
        # The hog itself only starved itself (its uids, the agent's among them in root mode).
        assert run(hog, "print('alive')").strip() == "alive"
        h.kill()
    finally:
        hog.kill()


def test_the_sandbox_user_namespace_is_not_owned_by_host_root(runtime, probe_sandbox):
    """Its ucounts roll up to its owner: the first host uid of its own id range (root mode),
    the daemon's user (unprivileged mode), never host root."""
    import fcntl
    import struct

    rec = json.loads(
        (runtime.state_dir / "sandboxes" / f"{probe_sandbox.sandbox_id}.json").read_text()
    )
    ns = os.open(f"/proc/{rec['initPid']}/ns/user", os.O_RDONLY)
    try:
        buf = fcntl.ioctl(ns, 0xB704, b"\0" * 4)  # NS_GET_OWNER_UID
    finally:
        os.close(ns)
    owner = struct.unpack("I", buf)[0]
    if runtime.mode == "root":
        uid_map = Path(f"/proc/{rec['initPid']}/uid_map").read_text().split()
        assert owner >= 100_000 and (owner - 100_000) % 65_536 == 0, owner
        assert uid_map == ["0", str(owner), "65536"], uid_map
    else:
        assert owner == runtime.extra["uid"], owner
    assert "root owns it" not in runtime.log()


def test_sandboxes_have_host_ids_of_their_own(runtime, probe_sandbox):
    """Root mode: two sandboxes' ids map to disjoint host ranges, so the kernel's per-uid
    pools (epoll watches, pipe pages, …) are per sandbox. Unprivileged mode: the single id is
    the daemon's user in each (the documented residual)."""
    other = runtime.create(timeout=60)
    try:
        maps = []
        for sbx in (probe_sandbox, other):
            rec = json.loads(
                (runtime.state_dir / "sandboxes" / f"{sbx.sandbox_id}.json").read_text()
            )
            maps.append(Path(f"/proc/{rec['initPid']}/uid_map").read_text().split())
        if runtime.mode == "root":
            (a, b) = (int(m[1]) for m in maps)
            assert [m[0] for m in maps] == ["0", "0"] and abs(a - b) >= 65_536, maps
            # Twin: inside, both still see the same ids (user is 1000 in each).
            assert run(other, "import os; print(os.getuid())").strip() == "1000"
        else:
            uid = str(runtime.extra["uid"])
            assert maps == [["1000", uid, "1"], ["1000", uid, "1"]], maps
    finally:
        other.kill()


def test_inotify_watches_are_capped(runtime):
    sbx = runtime.create(timeout=120)
    try:
        got = probe(
            sbx,
            PRELUDE
            + INOTIFY
            + f"""
os.makedirs('/tmp/w', exist_ok=True)
fd = inotify()
n, err = 0, None
while n < {INOTIFY_WATCHES} + 100:
    p = f'/tmp/w/{{n}}'
    open(p, 'w').close()
    if _lc.inotify_add_watch(fd, p.encode(), 0x2) < 0:
        err = errno.errorcode[ctypes.get_errno()]
        break
    n += 1
os.close(fd)
print(json.dumps([n, err]))
""",
            timeout=120,
        )
        # A normal number works (thousands), the cap holds.
        assert got == [INOTIFY_WATCHES, "ENOSPC"], got
    finally:
        sbx.kill()


def test_rlimits_are_capped_and_cannot_be_raised(probe_sandbox):
    got = probe(
        probe_sandbox,
        PRELUDE
        + """
import resource
names = {'msgqueue': resource.RLIMIT_MSGQUEUE, 'sigpending': resource.RLIMIT_SIGPENDING,
         'memlock': resource.RLIMIT_MEMLOCK, 'nofile': resource.RLIMIT_NOFILE}
lims = {k: resource.getrlimit(v) for k, v in names.items()}
soft, hard = lims['msgqueue']
def prlimit(soft, hard):  # raw prlimit64: Python turns EPERM into ValueError
    return sc(302, 0, resource.RLIMIT_MSGQUEUE, (ctypes.c_uint64 * 2)(soft, hard), 0)
raise_ = prlimit(hard * 4, hard * 4)
lower = prlimit(hard // 2, hard)
print(json.dumps({'lims': lims, 'raise': raise_, 'lower': lower}))
""",
    )
    lims = got["lims"]
    assert lims["msgqueue"][1] <= 256 << 10
    assert lims["sigpending"][1] <= 4096
    assert lims["memlock"][1] <= 8 << 20
    assert lims["nofile"][1] <= 65536
    assert got["raise"] == "EPERM"  # no CAP_SYS_RESOURCE over the host
    assert got["lower"] == "ok"  # twin
