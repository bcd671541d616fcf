"""Invariant 4: a sandbox never reaches the host's loopback, the daemon, host abstract unix
sockets or another sandbox; without internet access it has only `lo`; with it (root + the
hardened slirp4netns) it has a `tap0` whose gateway does not lead to host loopback."""

from __future__ import annotations

import http.server
import os
import socket
import threading

import pytest
from sec_helpers import PRELUDE, probe


@pytest.fixture(scope="module")
def host_services():
    """A TCP server on host 127.0.0.1 and a host abstract unix socket, both answering."""
    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler
    )
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    name = f"\0e2b-sec-{os.getpid()}"
    abstract.bind(name)
    abstract.listen(8)
    # Reachable from the host (the harmless twin of each probe below).
    socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=2).close()
    c = socket.socket(socket.AF_UNIX)
    c.connect(name)
    c.close()
    yield {"tcp": srv.server_address[1], "abstract": name}
    srv.shutdown()
    abstract.close()


CONNECT = (
    PRELUDE
    + r"""
def tcp(host, port):
    s = socket.socket(); s.settimeout(3)
    try:
        return errno_of(lambda: s.connect((host, port)))
    except socket.timeout:
        return "TIMEOUT"
    finally:
        s.close()
def unix_abstract(name):
    s = socket.socket(socket.AF_UNIX)
    try:
        return errno_of(lambda: s.connect(name))
    finally:
        s.close()
"""
)


def _daemon_port(runtime) -> int:
    return int(runtime.url.rsplit(":", 1)[1])


def test_host_loopback_daemon_and_abstract_sockets_are_unreachable(
    runtime, probe_sandbox, host_services
):
    got = probe(
        probe_sandbox,
        CONNECT
        + f"""
print(json.dumps({{
  "host_tcp": tcp('127.0.0.1', {host_services["tcp"]}),
  "daemon": tcp('127.0.0.1', {_daemon_port(runtime)}),
  "gateway_tcp": tcp('10.0.2.2', {host_services["tcp"]}),
  "gateway_daemon": tcp('10.0.2.2', {_daemon_port(runtime)}),
  "abstract": unix_abstract({host_services["abstract"]!r}),
}}))
""",
    )
    for k, v in got.items():
        assert v in ("ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH", "TIMEOUT"), (k, v)


def test_loopback_inside_works(probe_sandbox):
    # Harmless twin: the sandbox's own loopback serves its own programs.
    got = probe(
        probe_sandbox,
        PRELUDE
        + """
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
port = srv.getsockname()[1]
print(json.dumps(errno_of(lambda: socket.create_connection(('127.0.0.1', port), timeout=2).close())))
""",
    )
    assert got == "ok"


def test_other_sandboxes_are_unreachable(runtime, probe_sandbox):
    other = runtime.create(timeout=120)
    try:
        port = probe(
            other,
            """
import socket, json, threading
srv = socket.socket(); srv.bind(('0.0.0.0', 0)); srv.listen(8)
globals()['_keep'] = srv
print(json.dumps(srv.getsockname()[1]))
""",
        )
        abstract = probe(
            other,
            """
import socket, json
a = socket.socket(socket.AF_UNIX); a.bind('\\0e2b-sec-other'); a.listen(1)
globals()['_keep2'] = a
print(json.dumps('ok'))
""",
        )
        assert abstract == "ok"
        got = probe(
            probe_sandbox,
            CONNECT
            + f"""
print(json.dumps({{"lo": tcp('127.0.0.1', {port}), "slirp_self": tcp('10.0.2.100', {port}),
                   "abstract": unix_abstract('\\0e2b-sec-other')}}))
""",
        )
        for k, v in got.items():
            assert v in (
                "ECONNREFUSED",
                "ENETUNREACH",
                "EHOSTUNREACH",
                "TIMEOUT",
                "EADDRNOTAVAIL",
            ), (k, v)
    finally:
        other.kill()


def _interfaces(sbx):
    return probe(
        sbx,
        """
import os, json
routes = [l.split()[:3] for l in open('/proc/net/route').read().splitlines()[1:]]
print(json.dumps({"ifaces": sorted(os.listdir('/sys/class/net')), "routes": routes}))
""",
    )


def test_no_internet_means_only_lo(runtime):
    sbx = runtime.create(template="base", allow_internet_access=False, timeout=60)
    try:
        from e2b import Sandbox as Base  # noqa: F401 (base template has no kernel; use envd-free probe)

        info = runtime.api("GET", f"/sandboxes/{sbx.sandbox_id}")[1]
        assert info["allowInternetAccess"] is False
    finally:
        sbx.kill()
    ci = runtime.create(allow_internet_access=False, timeout=60)
    try:
        got = _interfaces(ci)
        assert got["ifaces"] == ["lo"] and got["routes"] == []
    finally:
        ci.kill()


def test_internet_access_gets_a_hardened_user_mode_stack_or_a_note(
    runtime, host_services
):
    sbx = runtime.create(allow_internet_access=True, timeout=60)
    try:
        got = _interfaces(sbx)
        status, info = runtime.api("GET", f"/sandboxes/{sbx.sandbox_id}")
        assert status == 200
        notes = " ".join(info.get("localNotes") or [])
        slirp = runtime.mode == "root" and os.path.exists("/usr/bin/slirp4netns")
        if slirp:
            assert "tap0" in got["ifaces"], got
            assert ["tap0", "00000000", "0202000A"] in got["routes"], (
                got
            )  # default via 10.0.2.2
            # --disable-host-loopback: the gateway does not lead to the host's 127.0.0.1.
            res = probe(
                sbx,
                CONNECT + f"print(json.dumps(tcp('10.0.2.2', {host_services['tcp']})))",
            )
            assert res in ("ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH", "TIMEOUT"), (
                res
            )
            assert "network" not in notes
        else:
            assert got["ifaces"] == ["lo"], got
            assert "no network" in notes, info
            assert "WARN" in runtime.log() and "internet access" in runtime.log()
    finally:
        sbx.kill()
