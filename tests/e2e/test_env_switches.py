"""Where the SDK's traffic goes under every combination of the switches a user sets:
`E2B_LOCAL` (unset / 1 / 0), a key (none / dummy, as `E2B_API_KEY` or `api_key=`),
`E2B_DOMAIN` / `domain=`, `E2B_API_URL` / `E2B_SANDBOX_URL` and `api_url=` / `sandbox_url=`.

Each case runs a fresh Python process with the environment set as a user would, which runs
the quickstart (`run_code`) and one call of each service — files write/read, `commands.run`,
a PTY, `get_info`, and a fetch of a signed `download_url` — and reports its URLs, results and
log records. Around it:

* the test session's private daemon (`local_runtime`) is the only local runtime; a cloud case
  gets an `E2B_LOCAL_STATE_DIR` that does not exist, so any local use would show there;
* `HTTPS_PROXY`/`HTTP_PROXY` point at a refusing recorder (loopback exempt via `NO_PROXY`):
  a request to any non-loopback host (`api.e2b.app`, `sandbox.e2b.app`, …) arrives there as a
  `CONNECT` and goes no further;
* cloud URLs point at a recorder too — a refusing one for a dummy key, or one that relays to
  the session's daemon (the way `e2b-local env` points the SDK at it) so that a cloud-mode
  run can complete with every request on record.

A local case must reach only the daemon and log why it is local (with `E2B_LOCAL=1`, which
settings it ignored, the key included); a cloud case must reach only the recorders, with the
right host, paths and key, and never the local runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from traffic_recorder import Request, TrafficRecorder

DUMMY_KEY = "e2b_0123456789abcdef0123456789abcdef01234567"
CLOUD_DOMAIN = "switch.test"
PATH = "/home/user/switch.txt"

SCRIPT = r"""
import asyncio, json, logging, sys, urllib.request

spec = json.loads(sys.argv[1])
records, out = [], {}


class Collect(logging.Handler):
    def emit(self, record):
        records.append([record.name, record.levelname, record.getMessage()])


logging.getLogger().addHandler(Collect())
logging.getLogger().setLevel(logging.INFO)
PATH = spec["path"]


def fetch(url):
    # The signed URL as any HTTP client would use it (no proxy: its host is checked instead).
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as resp:
        return resp.read().decode()


def note(sbx):
    out["sandbox_id"] = sbx.sandbox_id
    out["envd_api_url"] = sbx.envd_api_url
    out["jupyter_url"] = sbx._jupyter_url
    out["host"] = sbx.get_host(8080)
    out["download_url"] = sbx.download_url(PATH)


def run_sync(opts):
    from e2b import PtySize
    from e2b_code_interpreter import Sandbox

    with Sandbox.create(**opts) as sbx:
        note(sbx)
        sbx.run_code("x = 1")
        out["run_code"] = sbx.run_code("x += 1; x").text
        sbx.files.write(PATH, "switch-payload")
        out["read"] = sbx.files.read(PATH)
        out["command"] = sbx.commands.run("echo command-ok").stdout
        term = sbx.pty.create(PtySize(24, 80))
        out["pty_killed"] = sbx.pty.kill(term.pid)
        out["template"] = sbx.get_info().template_id
        out["download"] = fetch(out["download_url"])


async def run_async(opts):
    from e2b import PtySize
    from e2b_code_interpreter import AsyncSandbox

    sbx = await AsyncSandbox.create(**opts)
    try:
        note(sbx)
        await sbx.run_code("x = 1")
        out["run_code"] = (await sbx.run_code("x += 1; x")).text
        await sbx.files.write(PATH, "switch-payload")
        out["read"] = await sbx.files.read(PATH)
        out["command"] = (await sbx.commands.run("echo command-ok")).stdout
        term = await sbx.pty.create(PtySize(24, 80), on_data=lambda data: None)
        out["pty_killed"] = await sbx.pty.kill(term.pid)
        out["template"] = (await sbx.get_info()).template_id
        out["download"] = await asyncio.get_running_loop().run_in_executor(None, fetch, out["download_url"])
    finally:
        await sbx.kill()


try:
    if spec["async"]:
        asyncio.run(run_async(spec["opts"]))
    else:
        run_sync(spec["opts"])
except Exception as error:
    out["error"] = [type(error).__name__, str(error)]
print(json.dumps({"out": out, "records": records}))
"""

# Placeholders in a case's env and options, filled in per run.
FORWARD, REFUSE, DAEMON_KEY = "<forward>", "<refuse>", "<daemon-key>"


@dataclass
class Case:
    id: str
    env: Dict[str, str] = field(default_factory=dict)
    opts: Dict[str, str] = field(default_factory=dict)
    # "local": served by the daemon; "forward": cloud mode through the relaying recorder;
    # "refused": cloud mode, the API request leaves through the proxy (CONNECT `connect`);
    # "dataplane-refused": cloud API through the relay, data plane through the proxy;
    # "auth": AuthenticationException before any request.
    expect: str = "local"
    connect: Optional[str] = None
    # Local cases: the source names the local note must list as ignored.
    ignored: List[str] = field(default_factory=list)
    flavours: tuple = ("sync",)


CASES = [
    # --- local: no key, or E2B_LOCAL=1 ----------------------------------------------------
    Case("nothing set (the quickstart)", flavours=("sync", "async")),
    Case("E2B_LOCAL=1", env={"E2B_LOCAL": "1"}),
    Case("E2B_LOCAL=1 + E2B_API_KEY", env={"E2B_LOCAL": "1", "E2B_API_KEY": DUMMY_KEY},
         ignored=["the API key (E2B_API_KEY)"], flavours=("sync", "async")),
    Case("E2B_LOCAL=true + api_key=", env={"E2B_LOCAL": "true"}, opts={"api_key": DUMMY_KEY},
         ignored=["the API key (api_key=)"]),
    Case("E2B_LOCAL=1 + key + E2B_DOMAIN/E2B_API_URL/E2B_SANDBOX_URL",
         env={"E2B_LOCAL": "1", "E2B_API_KEY": DUMMY_KEY, "E2B_DOMAIN": CLOUD_DOMAIN,
              "E2B_API_URL": REFUSE, "E2B_SANDBOX_URL": REFUSE},
         ignored=["the API key (E2B_API_KEY)", "E2B_DOMAIN", "E2B_API_URL", "E2B_SANDBOX_URL"]),
    Case("E2B_LOCAL=1 + api_key=/domain=/api_url=/sandbox_url=", env={"E2B_LOCAL": "1"},
         opts={"api_key": DUMMY_KEY, "domain": CLOUD_DOMAIN, "api_url": REFUSE, "sandbox_url": REFUSE},
         ignored=["the API key (api_key=)", "domain=", "api_url=", "sandbox_url="]),
    Case("E2B_LOCAL=1 + the output of e2b-local env",
         env={"E2B_LOCAL": "1", "E2B_API_KEY": DAEMON_KEY, "E2B_API_URL": FORWARD, "E2B_SANDBOX_URL": FORWARD},
         ignored=["the API key (E2B_API_KEY)", "E2B_API_URL", "E2B_SANDBOX_URL"]),
    Case("no key + E2B_DOMAIN/E2B_API_URL/E2B_SANDBOX_URL",
         env={"E2B_DOMAIN": CLOUD_DOMAIN, "E2B_API_URL": REFUSE, "E2B_SANDBOX_URL": REFUSE},
         ignored=["E2B_DOMAIN", "E2B_API_URL", "E2B_SANDBOX_URL"]),
    Case("no key + sandbox_url=", opts={"sandbox_url": REFUSE}, ignored=["sandbox_url="]),
    # --- cloud: a key without E2B_LOCAL=1, or E2B_LOCAL=0 ---------------------------------
    Case("E2B_API_KEY", env={"E2B_API_KEY": DUMMY_KEY}, expect="refused", connect="api.e2b.app:443",
         flavours=("sync", "async")),
    Case("api_key=", opts={"api_key": DUMMY_KEY}, expect="refused", connect="api.e2b.app:443"),
    Case("E2B_LOCAL=0 + E2B_API_KEY", env={"E2B_LOCAL": "0", "E2B_API_KEY": DUMMY_KEY},
         expect="refused", connect="api.e2b.app:443"),
    Case("E2B_LOCAL=0 without a key", env={"E2B_LOCAL": "0"}, expect="auth"),
    Case("E2B_LOCAL=0 + E2B_API_URL without a key", env={"E2B_LOCAL": "0", "E2B_API_URL": REFUSE},
         expect="auth"),
    Case("key + E2B_DOMAIN", env={"E2B_API_KEY": DUMMY_KEY, "E2B_DOMAIN": CLOUD_DOMAIN},
         expect="refused", connect=f"api.{CLOUD_DOMAIN}:443"),
    Case("api_key= + domain=", opts={"api_key": DUMMY_KEY, "domain": CLOUD_DOMAIN},
         expect="refused", connect=f"api.{CLOUD_DOMAIN}:443"),
    Case("the output of e2b-local env (E2B_API_URL/E2B_SANDBOX_URL/E2B_API_KEY)",
         env={"E2B_API_KEY": DAEMON_KEY, "E2B_API_URL": FORWARD, "E2B_SANDBOX_URL": FORWARD},
         expect="forward", flavours=("sync", "async")),
    Case("E2B_LOCAL=0 + the output of e2b-local env",
         env={"E2B_LOCAL": "0", "E2B_API_KEY": DAEMON_KEY, "E2B_API_URL": FORWARD, "E2B_SANDBOX_URL": FORWARD},
         expect="forward"),
    Case("api_key=/api_url=/sandbox_url=", opts={"api_key": DAEMON_KEY, "api_url": FORWARD, "sandbox_url": FORWARD},
         expect="forward"),
    Case("key + E2B_API_URL, data plane on the E2B domain",
         env={"E2B_API_KEY": DAEMON_KEY, "E2B_API_URL": FORWARD},
         expect="dataplane-refused", connect="sandbox.e2b.app:443"),
    Case("key + E2B_API_URL + E2B_DOMAIN, data plane on that domain",
         env={"E2B_API_KEY": DAEMON_KEY, "E2B_API_URL": FORWARD, "E2B_DOMAIN": CLOUD_DOMAIN},
         expect="dataplane-refused", connect=f"49999-{{id}}.{CLOUD_DOMAIN}:443"),
]

RUNS = [pytest.param(case, flavour, id=f"{case.id} [{flavour}]") for case in CASES for flavour in case.flavours]


@pytest.fixture(scope="module")
def recorders(local_runtime):
    forward = TrafficRecorder(upstream=local_runtime["url"])
    refuse = TrafficRecorder()
    proxy = TrafficRecorder()
    try:
        yield {"forward": forward, "refuse": refuse, "proxy": proxy}
    finally:
        for recorder in (forward, refuse, proxy):
            recorder.close()


def fill(value: str, recorders: dict, local_runtime: dict) -> str:
    return (value.replace(FORWARD, recorders["forward"].url)
            .replace(REFUSE, recorders["refuse"].url)
            .replace(DAEMON_KEY, local_runtime["api_key"]))


def run_case(case: Case, flavour: str, recorders: dict, local_runtime: dict, state_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("E2B_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    proxy = recorders["proxy"].url
    env.update(HTTPS_PROXY=proxy, HTTP_PROXY=proxy, ALL_PROXY=proxy, https_proxy=proxy, http_proxy=proxy,
               all_proxy=proxy, NO_PROXY="127.0.0.1,localhost,::1", no_proxy="127.0.0.1,localhost,::1",
               E2B_LOCAL_STATE_DIR=str(state_dir), E2B_CONNECTION_RETRIES="0")
    env.update({k: fill(v, recorders, local_runtime) for k, v in case.env.items()})
    spec = {"async": flavour == "async", "path": PATH,
            "opts": {k: fill(v, recorders, local_runtime) for k, v in case.opts.items()}}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(spec)], env=env,
                          capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def local_notes(records: list) -> List[str]:
    return [msg for name, level, msg in records
            if name == "e2b" and level == "WARNING" and "sandboxes run on this machine" in msg]


def assert_services_worked(out: dict) -> None:
    assert "error" not in out, out
    assert out["run_code"] == "2"
    assert out["read"] == "switch-payload"
    assert out["command"] == "command-ok\n"
    assert out["pty_killed"] is True
    assert out["template"]
    assert out["download"] == "switch-payload"


@pytest.mark.parametrize("case,flavour", RUNS)
def test_traffic_goes_where_the_switches_say(case: Case, flavour: str, recorders, local_runtime, tmp_path):
    for recorder in recorders.values():
        recorder.reset()
    daemon_url = local_runtime["url"]
    # Local cases use the session's daemon; cloud cases a state directory that must stay absent.
    state_dir = Path(local_runtime["state_dir"]) if case.expect == "local" else tmp_path / "never-used"
    result = run_case(case, flavour, recorders, local_runtime, state_dir)
    out, records = result["out"], result["records"]
    assert all(DUMMY_KEY not in msg for _, _, msg in records), records

    if case.expect == "local":
        assert_services_worked(out)
        assert out["envd_api_url"] == daemon_url
        assert out["jupyter_url"] == daemon_url
        assert out["download_url"].startswith(daemon_url + "/files?")
        assert out["host"] == daemon_url.split("://", 1)[1]
        for name, recorder in recorders.items():
            assert recorder.connections() == 0, (name, recorder.requests())
        notes = local_notes(records)
        assert len(notes) == 1, records
        note = notes[0]
        forced = case.env.get("E2B_LOCAL")
        if forced:
            assert note.startswith(f"E2B_LOCAL={forced}: sandboxes run on this machine"), note
            assert "No E2B API key" not in note
        else:
            assert note.startswith("No E2B API key is configured: sandboxes run on this machine"), note
        for name in case.ignored:
            assert name in note, (name, note)
        if not case.ignored:
            assert "ignored" not in note, note
        return

    # Every cloud case: the local runtime is never looked for, let alone started.
    assert not state_dir.exists(), sorted(p.name for p in state_dir.iterdir())
    assert local_notes(records) == [], records
    proxied = recorders["proxy"].requests()

    if case.expect == "auth":
        assert out["error"][0] == "AuthenticationException", out
        assert out["error"][1].startswith("API key is required")
        for name, recorder in recorders.items():
            assert recorder.connections() == 0, (name, recorder.requests())
        return

    if case.expect == "refused":
        assert "error" in out and "sandbox_id" not in out, out
        assert proxied and {(r.method, r.target) for r in proxied} == {("CONNECT", case.connect)}, proxied
        assert recorders["forward"].connections() == 0 and recorders["refuse"].connections() == 0
        return

    forwarded = recorders["forward"].requests()
    forward_host = recorders["forward"].authority
    sandbox_id = out["sandbox_id"]
    assert_api_requests(forwarded, forward_host, local_runtime["api_key"], sandbox_id)
    assert recorders["refuse"].connections() == 0

    if case.expect == "dataplane-refused":
        # The API went to E2B_API_URL; the data plane to the domain's hosts, through the proxy.
        assert "error" in out and "run_code" not in out, out
        connect = case.connect.format(id=sandbox_id)
        assert proxied and {(r.method, r.target) for r in proxied} == {("CONNECT", connect)}, proxied
        return

    assert case.expect == "forward"
    assert_services_worked(out)
    forward_url = recorders["forward"].url
    assert out["envd_api_url"] == forward_url and out["jupyter_url"] == forward_url
    assert out["download_url"].startswith(forward_url + "/files?")
    assert proxied == []
    data_plane = [r for r in forwarded if "e2b-sandbox-id" in r.headers]
    assert {r.headers["e2b-sandbox-id"] for r in data_plane} == {sandbox_id}
    assert all(r.headers["host"] == forward_host for r in data_plane)
    ports = {r.headers["e2b-sandbox-port"] for r in data_plane}
    assert ports == {"49983", "49999"}, ports
    paths = {r.path for r in data_plane}
    assert "/execute" in paths and "/files" in paths, paths
    assert any(p.startswith("/process.Process/") for p in paths), paths
    envd = [r for r in data_plane if r.headers["e2b-sandbox-port"] == "49983"]
    assert all(r.headers.get("x-access-token") for r in envd), envd
    assert all("x-api-key" not in r.headers for r in data_plane)
    signed = [r for r in forwarded if r.path == "/files" and "signature=" in r.target and "e2b-sandbox-id" not in r.headers]
    assert len(signed) == 1 and signed[0].method == "GET" and signed[0].headers["host"] == forward_host, signed


def assert_api_requests(forwarded: List[Request], host: str, key: str, sandbox_id: str) -> None:
    """The control-plane requests of a cloud-mode run: to the API URL, with the key."""
    api = [r for r in forwarded if "e2b-sandbox-id" not in r.headers and r.path != "/files"]
    assert api and api[0].method == "POST" and api[0].path == "/v2/sandboxes", api
    assert all(r.headers.get("x-api-key") == key for r in api), api
    assert all(r.headers["host"] == host for r in api), api
    assert ("DELETE", f"/sandboxes/{sandbox_id}") in {(r.method, r.path) for r in api}, api
