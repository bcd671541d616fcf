"""Invariant 2 (own root file system) and 1 (sandbox root is never host root), attacked from
inside a sandbox in both privilege modes. Each malicious probe has a harmless twin that must
still work."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from sec_helpers import PRELUDE, probe, run


@pytest.fixture(scope="module")
def host_markers(tmp_path_factory):
    """Secret files in host places a sandbox must not see."""
    token = secrets.token_hex(8)
    places = [
        Path("/root") / f".e2b-sec-{token}",
        Path("/tmp") / f"e2b-sec-{token}",
        Path("/run") / f"e2b-sec-{token}",
    ]
    home = Path("/home") / f"e2bsec-host-{token}"
    home.mkdir()
    places.append(home / "secret")
    for p in places:
        p.write_text(token)
    yield token, places
    for p in places:
        p.unlink(missing_ok=True)
    home.rmdir()


def test_host_dirs_are_invisible(probe_sandbox, host_markers):
    _token, places = host_markers
    seen = probe(
        probe_sandbox,
        f"""
import os, json
print(json.dumps({{p: os.path.exists(p) for p in {[str(p) for p in places]!r}}}))
""",
    )
    assert not any(seen.values()), seen
    # Harmless twin: the sandbox's own /tmp and home work.
    assert (
        run(
            probe_sandbox,
            "open('/tmp/e2b-twin','w').write('1'); open('/home/user/e2b-twin','w').write('2'); print(open('/tmp/e2b-twin').read()+open('/home/user/e2b-twin').read())",
        ).strip()
        == "12"
    )


REPO = Path(__file__).resolve().parents[2]


def test_host_home_and_root_listing_is_the_sandboxs_own(probe_sandbox):
    # Only the Python environment's own directories are bound in (read-only); the repository
    # around a virtualenv, say, stays invisible.
    got = probe(
        probe_sandbox,
        f"""
import os, json
print(json.dumps({{"home": sorted(os.listdir('/home')), "root": os.access('/root', os.R_OK),
                  "work": os.path.exists({str(REPO / "crates")!r}), "var": sorted(os.listdir('/var'))}}))
""",
    )
    assert got["home"] == ["user"]
    assert got["work"] is False
    assert "lib" in got["var"] and "run" not in got["var"]


def test_daemon_state_and_other_sandboxes_are_invisible(runtime, probe_sandbox):
    other = runtime.create(timeout=120)
    try:
        run(other, "open('/tmp/other-secret','w').write('x')")
        got = probe(
            probe_sandbox,
            f"""
import os, json
paths = [{str(runtime.state_dir)!r}, {str(runtime.state_dir / "state.json")!r}, {str(runtime.run_dir())!r},
         {str(runtime.run_dir() / other.sandbox_id)!r}, '/tmp/other-secret']
env_has_key = any({runtime.api_key!r} in open(f'/proc/{{p}}/environ', errors='replace').read()
                  for p in os.listdir('/proc') if p.isdigit() and os.access(f'/proc/{{p}}/environ', os.R_OK))
print(json.dumps({{"visible": [p for p in paths if os.path.exists(p)], "key_in_env": env_has_key}}))
""",
        )
        assert got == {"visible": [], "key_in_env": False}
    finally:
        other.kill()


def test_writes_never_reach_the_host(runtime, probe_sandbox):
    token = secrets.token_hex(8)
    run(
        probe_sandbox,
        f"""
for p in ['/tmp/{token}', '/home/user/{token}', '/dev/shm/{token}']:
    open(p, 'w').write('{token}')
""",
    )
    for p in [f"/tmp/{token}", f"/home/user/{token}", f"/dev/shm/{token}"]:
        assert not Path(p).exists()
    # Nothing of it in the daemon's run directory either (the layer is a private tmpfs).
    for root, _dirs, files in os.walk(runtime.run_dir()):
        assert token not in files


def test_system_dirs_are_read_only_for_the_user(probe_sandbox):
    got = probe(
        probe_sandbox,
        PRELUDE
        + """
print(json.dumps({p: errno_of(lambda p=p: open(p, 'a').close()) for p in
    ['/usr/bin/e2b-evil', '/etc/passwd', '/bin/sh', '/proc/sys/kernel/hostname', '/sys/kernel/notes']}))
""",
    )
    assert all(v in ("EACCES", "EROFS", "EPERM") for v in got.values()), got


def test_proc_sys_and_sys_are_read_only_mounts(probe_sandbox):
    got = probe(
        probe_sandbox,
        """
import json
opts = {}
for line in open('/proc/self/mountinfo'):
    f = line.split()
    opts[f[4]] = f[5].split(',')
print(json.dumps({m: ('ro' in opts.get(m, [])) for m in ['/proc/sys', '/sys']}))
""",
    )
    assert got == {"/proc/sys": True, "/sys": True}


def test_no_host_devices(probe_sandbox):
    got = probe(
        probe_sandbox,
        PRELUDE
        + """
import stat
devs = sorted(os.listdir('/dev'))
mk = errno_of(lambda: os.mknod('/tmp/sda', 0o600 | stat.S_IFBLK, os.makedev(8, 0)))
mkc = errno_of(lambda: os.mknod('/tmp/mem', 0o600 | stat.S_IFCHR, os.makedev(1, 1)))
fifo = errno_of(lambda: os.mkfifo('/tmp/fifo'))
print(json.dumps({"devs": devs, "mknod_blk": mk, "mknod_chr": mkc, "fifo": fifo}))
""",
    )
    for bad in ("vda", "sda", "kvm", "mem", "kmsg", "net", "fuse", "loop-control"):
        assert bad not in got["devs"], got["devs"]
    assert got["mknod_blk"] in ("EPERM", "EACCES")
    assert got["mknod_chr"] in ("EPERM", "EACCES")
    assert got["fifo"] == "ok"  # harmless twin


def test_sandbox_root_is_not_host_root(runtime, probe_sandbox):
    got = probe(
        probe_sandbox,
        """
import json, os
print(json.dumps({"uid_map": open('/proc/self/uid_map').read().split(), "uid": os.getuid(),
                  "capeff": [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0],
                  "usr_owner": os.stat('/usr/bin/env').st_uid}))
""",
    )
    m = [int(x) for x in got["uid_map"]]
    if runtime.mode == "root":
        assert m[1] >= 100000, got  # sandbox ids map to the subordinate range
        # Idmapped /usr lower layer: host root's files show as sandbox root, not nobody.
        assert got["usr_owner"] == 0
    else:
        assert m[1] == runtime.extra["uid"] and m[2] == 1, got
    assert got["uid"] == 1000
    assert int(got["capeff"], 16) == 0


def test_usr_is_an_overlay_on_the_writable_layer_in_root_mode(runtime, probe_sandbox):
    got = probe(
        probe_sandbox,
        """
import json, os
fs = {}
for line in open('/proc/self/mountinfo'):
    f = line.split()
    sep = f.index('-')
    fs[f[4]] = (f[sep + 1], f[5])
st = os.statvfs('/home/user')
print(json.dumps({"usr": fs['/usr'], "root": fs['/'], "layer_mb": st.f_blocks * st.f_frsize // 2**20}))
""",
    )
    if runtime.mode == "root":
        assert got["usr"][0] == "overlay"
        assert got["root"][1].startswith("rw")
    else:
        assert got["usr"][1].startswith("ro")
        assert got["root"][1].startswith("ro")
    assert got["layer_mb"] == 1024  # default disk limit: the writable layer's size
