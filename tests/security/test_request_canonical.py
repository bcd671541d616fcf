"""Every authorisation decision is made on exactly the request the agent serves.

The daemon's proxy and the agent share one parser (`crates/sandboxd/src/route.rs`): only the
canonical spelling of a path is routed, a query holds only the parameters its route names (each
once), and the daemon forwards the canonical form rebuilt from what it verified. These tests
send every route of both data-plane ports in every other spelling a lenient router might accept
(`/x/`, `//x`, `/x//`, `%2F`, `.`/`..` segments, case, `;`, a stray query) and check that none is
served — in particular that no spelling of `POST /execute` runs code without the access token —
while the canonical spelling with the token (the harmless twin) works. Signed `/files` URLs with
polluted parameters (a second `path`, an added `username`) are refused, while the URLs the SDK
made work. Both privilege modes.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest

EXECUTE = "/execute"


def _conn(rt) -> http.client.HTTPConnection:
    host, port = urllib.parse.urlsplit(rt.url).netloc.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


def raw(rt, method: str, target: str, headers: dict, body: bytes | None = None):
    """One request with the request target exactly as given; returns (status, body)."""
    c = _conn(rt)
    try:
        c.putrequest(method, target, skip_accept_encoding=True)
        for k, v in headers.items():
            for value in v if isinstance(v, list) else [v]:
                c.putheader(k, value)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def spellings(path: str) -> list[str]:
    """Other spellings of `path` (no query) that a lenient router might take for it."""
    head, _, last = path.rpartition("/")
    out = [
        f"{path}/",
        f"/{path}",
        f"{path}//",
        path.replace("/", "//", 1),
        f"/.{path}",
        f"{head}/./{last}",
        f"/x/..{path}",
        f"{path}/.",
        f"{path};x=1",
        f"{path}%20",
        path.replace("/", "%2F"),
        f"{head}/%{ord(last[0]):02X}{last[1:]}",
        f"{head}/{last.upper()}",
        f"{head}/{last[0].upper()}{last[1:]}",
        f"{path}?x=1",
    ]
    return [s for s in dict.fromkeys(out) if s != path]


@pytest.fixture(scope="module")
def sbx(runtime):
    s = runtime.create(timeout=600)
    try:
        yield s
    finally:
        s.kill()


def _route_headers(sbx, port: int, token: bool) -> dict:
    h = {
        "E2b-Sandbox-Id": sbx.sandbox_id,
        "E2b-Sandbox-Port": str(port),
        "Content-Type": "application/json",
    }
    if token:
        h["X-Access-Token"] = sbx._envd_access_token
    return h


def test_no_spelling_of_execute_runs_code_without_the_token(runtime, sbx):
    headers = _route_headers(sbx, 49999, token=False)
    statuses = {}
    for i, target in enumerate(spellings(EXECUTE)):
        code = f"open('/tmp/pwned-{i}', 'w').write('x')"
        body = json.dumps({"code": code}).encode()
        status, _ = raw(runtime, "POST", target, headers, body)
        statuses[target] = status
    assert all(400 <= s < 500 for s in statuses.values()), statuses
    # The canonical spelling without the token is refused too…
    status, _ = raw(runtime, "POST", EXECUTE, headers, b'{"code": "1"}')
    assert status == 401
    # …and nothing ran.
    assert sbx.commands.run("ls /tmp").stdout.count("pwned") == 0
    # Harmless twin: the canonical request with the token runs.
    status, out = raw(
        runtime,
        "POST",
        EXECUTE,
        _route_headers(sbx, 49999, token=True),
        json.dumps({"code": "open('/tmp/twin', 'w').write('x'); 1+1"}).encode(),
    )
    assert status == 200 and b'"text":"2"' in out.replace(b" ", b"")
    assert "twin" in sbx.commands.run("ls /tmp").stdout


def test_every_route_of_both_ports_is_served_only_in_its_canonical_spelling(
    runtime, sbx
):
    ctx = sbx.create_code_context()
    routes = [
        (49999, "GET", "/health", None),
        (49999, "GET", "/contexts", None),
        (49999, "POST", "/contexts", b"{}"),
        (49999, "DELETE", f"/contexts/{ctx.id}", None),
        (49999, "POST", f"/contexts/{ctx.id}/restart", None),
        (49983, "GET", "/health", None),
        (49983, "GET", "/envs", None),
        (49983, "GET", "/files?path=%2Fetc%2Fhostname", None),
        (49983, "POST", "/process.Process/List", b"{}"),
        (49983, "POST", "/filesystem.Filesystem/Stat", b'{"path": "/etc"}'),
    ]
    served = []
    for port, method, target, body in routes:
        path, _, query = target.partition("?")
        for spelled in spellings(path):
            if query and "?" not in spelled:
                spelled = f"{spelled}?{query}"
            for token in (False, True):
                status, _ = raw(
                    runtime, method, spelled, _route_headers(sbx, port, token), body
                )
                if status < 400:
                    served.append((port, method, spelled, token, status))
    assert served == []
    # The context survived every spelling of its DELETE and restart.
    assert ctx.id in [c.id for c in sbx.list_code_contexts()]
    # Harmless twins: each canonical request with the token is served.
    for port, method, target, body in routes:
        if method == "DELETE":
            continue
        status, _ = raw(
            runtime, method, target, _route_headers(sbx, port, True), body
        )
        assert status < 300, (port, method, target, status)
    status, _ = raw(
        runtime, "DELETE", f"/contexts/{ctx.id}", _route_headers(sbx, 49999, True)
    )
    assert status == 200


def test_ambiguous_routing_headers_are_refused(runtime, sbx):
    headers = _route_headers(sbx, 49999, token=False)
    headers["E2b-Sandbox-Port"] = ["49983", "49999"]
    status, _ = raw(runtime, "GET", "/health", headers)
    assert status == 400
    headers["E2b-Sandbox-Port"] = "49983"
    headers["E2b-Sandbox-Id"] = [sbx.sandbox_id, sbx.sandbox_id]
    status, _ = raw(runtime, "GET", "/health", headers)
    assert status == 400
    # Harmless twin: one of each.
    status, _ = raw(runtime, "GET", "/health", _route_headers(sbx, 49983, False))
    assert status == 204


def _fetch(url: str, method: str = "GET", body: bytes | None = None):
    parts = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        target = parts.path + ("?" + parts.query if parts.query else "")
        headers = {}
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        c.request(method, target, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_signed_urls_with_polluted_parameters_are_refused(runtime, sbx):
    # Root's files (in unprivileged mode `root` is the sandbox's one uid: the requests must
    # still be refused, whatever they would reach).
    sbx.commands.run(
        "mkdir -p /tmp/rootdir && chmod 700 /tmp/rootdir && echo root-secret > "
        "/tmp/rootdir/secret && echo original > /tmp/rootdir/.profile",
        user="root",
    )
    sbx.files.write("/home/user/mine.txt", "user data")
    down = sbx.download_url("/home/user/mine.txt", use_signature_expiration=600)
    up = sbx.upload_url("/home/user/upload.txt", use_signature_expiration=600)
    down_plain = sbx.download_url("/home/user/mine.txt")
    polluted = [
        down + "&path=%2Ftmp%2Frootdir%2Fsecret&username=root",
        down + "&path=%2Ftmp%2Frootdir%2Fsecret",
        down + "&username=root",
        down + "&user=root",
        down_plain + "&signature_expiration=99999999999",
        down.replace("?", "?path=%2Ftmp%2Frootdir%2Fsecret&", 1),
        down + "&path=/tmp/rootdir/secret",
    ]
    for url in polluted:
        status, body = _fetch(url)
        assert status in (400, 401), (url, status)
        assert b"root-secret" not in body
    for url in (
        up + "&path=%2Ftmp%2Frootdir%2F.profile&username=root",
        up + "&username=root",
        up.replace("?", "?path=%2Ftmp%2Frootdir%2F.profile&", 1),
    ):
        status, _ = _fetch(url, "POST", b"echo pwned\n")
        assert status in (400, 401), (url, status)
    profile = sbx.commands.run("cat /tmp/rootdir/.profile", user="root").stdout
    assert "pwned" not in profile
    # Harmless twins: the URLs as the SDK made them work.
    assert _fetch(down) == (200, b"user data")
    assert _fetch(down_plain) == (200, b"user data")
    status, _ = _fetch(up, "POST", b"uploaded")
    assert status == 200
    assert sbx.files.read("/home/user/upload.txt") == "uploaded"
