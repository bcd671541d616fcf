"""Access control of the daemon (docs/design.md#the-per-user-daemon,
docs/design.md#listener-and-routing): API key on the control plane, access token
on the data plane, private state, loopback-only listener; a second local user can neither use
the first user's daemon nor see its sandboxes."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sec_helpers import probe


@pytest.fixture(scope="module")
def root_sandbox(root_runtime):
    sbx = root_runtime.create(timeout=300)
    try:
        yield sbx
    finally:
        sbx.kill()


def test_control_plane_needs_the_api_key(root_runtime):
    rt = root_runtime
    assert rt.api("GET", "/v2/sandboxes", key=None)[0] == 401
    assert rt.api("GET", "/v2/sandboxes", key="e2b_" + "0" * 40)[0] == 401
    assert rt.api("POST", "/sandboxes", {"templateID": "base"}, key="wrong")[0] == 401
    assert rt.api("GET", "/v2/sandboxes")[0] == 200  # harmless twin


def test_data_plane_needs_the_access_token(root_runtime, root_sandbox):
    rt = root_runtime
    sid = root_sandbox.sandbox_id

    def execute(token):
        req = urllib.request.Request(
            rt.url + "/execute",
            data=json.dumps({"code": "print(1)"}).encode(),
            method="POST",
            headers={
                "E2b-Sandbox-Id": sid,
                "E2b-Sandbox-Port": "49999",
                "Content-Type": "application/json",
            },
        )
        if token:
            req.add_header("X-Access-Token", token)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert execute(None) == 401
    assert execute("not-the-token") == 401
    assert execute(root_sandbox._envd_access_token) == 200


def test_state_is_private(runtime):
    st = runtime.state_dir
    assert stat.S_IMODE(os.stat(st).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(st / "state.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(runtime.run_dir()).st_mode) == 0o700


def test_listener_is_loopback_only(runtime):
    port = int(runtime.url.rsplit(":", 1)[1])
    listening = []
    tables = Path("/proc/net/tcp").read_text() + Path("/proc/net/tcp6").read_text()
    for line in tables.splitlines():
        if line.strip().startswith("sl"):
            continue
        f = line.split()
        local, state = f[1], f[3]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
            listening.append(local.rsplit(":", 1)[0])
    assert listening == ["0100007F"], listening  # 127.0.0.1 only
    # A non-loopback address of this host does not reach it.
    addrs = {
        a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    } - {"127.0.0.1", "127.0.1.1"}
    for addr in addrs:
        with pytest.raises(OSError):
            socket.create_connection((addr, port), timeout=2).close()


def _as_user(user, code: str) -> dict:
    import pwd

    pw = pwd.getpwnam(user)
    out = subprocess.run(
        ["/usr/bin/python3", "-c", code],
        check=False,
        user=pw.pw_uid,
        group=pw.pw_gid,
        extra_groups=[],
        env={"PATH": "/usr/bin:/bin", "HOME": pw.pw_dir},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_another_local_user_cannot_use_the_daemon(
    root_runtime, root_sandbox, throwaway_user
):
    rt = root_runtime
    sid = root_sandbox.sandbox_id
    got = _as_user(
        throwaway_user.pw_name,
        f"""
import json, os, errno, urllib.request, urllib.error, socket
def err(fn):
    try:
        fn(); return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def api(path, headers, data=None):
    try:
        with urllib.request.urlopen(urllib.request.Request({rt.url!r} + path, headers=headers, data=data), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
def agent():
    s = socket.socket(socket.AF_UNIX); s.connect({str(rt.run_dir() / sid / "agent.sock")!r})
print(json.dumps({{
  "state": err(lambda: open({str(rt.state_dir / "state.json")!r}).read()),
  "list_sandboxes": api('/v2/sandboxes', {{}}),
  "sandbox_info": api('/sandboxes/{sid}', {{}}),
  "agent_socket": err(agent),
  "run_dir": err(lambda: os.listdir({str(rt.run_dir())!r})),
  "signal_daemon": err(lambda: os.kill({rt.pid}, 0)),
  "daemon_environ": err(lambda: open('/proc/{rt.pid}/environ').read()),
  "daemon_fds": err(lambda: os.listdir('/proc/{rt.pid}/fd')),
  "data_plane": api('/execute', {{'E2b-Sandbox-Id': '{sid}', 'E2b-Sandbox-Port': '49999',
                                  'Content-Type': 'application/json'}}, b'{{"code": "1"}}'),
}}))
""",
    )
    assert got["state"] == "EACCES"
    # Refused at the connection, before any key is looked at (test_other_local_users_…).
    assert got["list_sandboxes"] == 403 and got["sandbox_info"] == 403
    assert got["agent_socket"] in ("EACCES", "ENOENT")
    assert got["run_dir"] == "EACCES"
    assert got["signal_daemon"] == "EPERM"
    assert got["daemon_environ"] == "EACCES" and got["daemon_fds"] == "EACCES"
    assert got["data_plane"] == 403


def test_sandbox_cannot_see_the_daemon_key_or_token(root_runtime, root_sandbox):
    rt = root_runtime
    got = probe(
        root_sandbox,
        f"""
import os, json
hits = []
for root in ['/tmp', '/home/user', '/run', '/etc']:
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                if {rt.api_key!r}.encode() in open(p, 'rb').read(1 << 20):
                    hits.append(p)
            except OSError:
                pass
print(json.dumps(hits))
""",
    )
    assert got == []


_LISTENER_PROBE = """
import json, urllib.request, urllib.error
def call(url, headers, data=None, method=None):
    req = urllib.request.Request(url, headers=headers, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
a = json.loads({args!r})
box = {{"E2b-Sandbox-Id": a["sid"], "Content-Type": "application/json"}}
print(json.dumps({{
  "api": call(a["url"] + "/v2/sandboxes", {{"X-API-Key": a["key"]}}),
  "execute": call(a["url"] + "/execute", dict(box, **{{"E2b-Sandbox-Port": "49999",
                  "X-Access-Token": a["token"]}}), b'{{"code": "1"}}'),
  "contexts": call(a["url"] + "/contexts", dict(box, **{{"E2b-Sandbox-Port": "49999"}})),
  "envd": call(a["url"] + "/envs", dict(box, **{{"E2b-Sandbox-Port": "49983",
               "X-Access-Token": a["token"]}})),
  "signed_url": call(a["download"], {{}}),
}}))
"""


def test_other_local_users_are_refused_on_every_listener_even_with_the_keys(
    runtime, stranger_user, throwaway_user
):
    """The daemon serves only its own uid and root: another local user holding the API key,
    a sandbox's access token and a signed URL still gets 403 on the API, both data-plane
    ports (`/contexts` needs no token) and the signed URL. Harmless twin: the daemon's own
    user (root, or the unprivileged daemon's user) with the same requests is served."""
    sbx = runtime.create(timeout=120)
    try:
        sbx.files.write("/home/user/f.txt", "x")
        args = json.dumps(
            {
                "url": runtime.url,
                "key": runtime.api_key,
                "sid": sbx.sandbox_id,
                "token": sbx._envd_access_token,
                "download": sbx.download_url("/home/user/f.txt"),
            }
        )
        code = _LISTENER_PROBE.format(args=args)
        stranger = _as_user(stranger_user.pw_name, code)
        assert stranger == {
            "api": 403,
            "execute": 403,
            "contexts": 403,
            "envd": 403,
            "signed_url": 403,
        }
        owner = (
            _as_user(throwaway_user.pw_name, code)
            if runtime.mode == "unprivileged"
            else json.loads(
                subprocess.run(
                    ["/usr/bin/python3", "-c", code],
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=60,
                ).stdout
            )
        )
        assert owner == {
            "api": 200,
            "execute": 200,
            "contexts": 200,
            "envd": 200,
            "signed_url": 200,
        }
        assert runtime.log().count("refused: this daemon serves only uid") >= 5
    finally:
        sbx.kill()
