"""What the Rust client puts on the wire and how it maps answers, checked against a small
in-process HTTP stub on 127.0.0.1 (no sandbox involved): request bodies and headers, the
retry policy, error mapping, list pagination and encoding, and the ``/execute`` stream."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, List, Optional

import e2b
import pytest
from e2b import AsyncSandbox, Sandbox, SandboxQuery, SandboxState

SANDBOX_JSON = {
    "templateID": "code-interpreter-v1",
    "sandboxID": "sbx1",
    "clientID": "6532622b",
    "envdVersion": "0.6.13",
    "envdAccessToken": "tok",
    "domain": None,
}
LISTED = {
    "templateID": "base",
    "sandboxID": "s1",
    "clientID": "6532622b",
    "startedAt": "2024-01-02T03:04:05.123456789Z",
    "endAt": "2024-01-02T03:09:05Z",
    "cpuCount": 2,
    "memoryMB": 512,
    "diskSizeMB": 1024,
    "state": "running",
    "envdVersion": "0.6.13",
    "metadata": {"a": "b"},
}


class Stub:
    """Records requests; `routes` maps "METHOD /path" to a handler returning
    (status, headers, body chunks)."""

    def __init__(self):
        self.requests: List[dict] = []
        self.routes: Dict[str, Callable[[dict], tuple]] = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                request = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
                stub.requests.append(request)
                handler = stub.routes.get(f"{self.command} {path}")
                if handler is None:
                    status, headers, chunks = 404, {}, [b'{"code":404,"message":"no route"}']
                else:
                    status, headers, chunks = handler(request)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if headers.get("Transfer-Encoding") == "chunked":
                    self.end_headers()
                    for chunk in chunks:
                        if chunk is None:  # drop the connection mid-stream
                            self.wfile.flush()
                            self.connection.shutdown(2)
                            return
                        if isinstance(chunk, float):
                            time.sleep(chunk)
                            continue
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    data = b"".join(chunks)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def route(self, key: str, status: int = 200, body=None, headers: Optional[dict] = None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
        self.routes[key] = lambda request: (status, {"Content-Type": "application/json", **(headers or {})}, [data])

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub(monkeypatch):
    for var in (
        "E2B_API_KEY",
        "E2B_DOMAIN",
        "E2B_API_URL",
        "E2B_SANDBOX_URL",
        "E2B_DEBUG",
        "E2B_LOCAL",
        "E2B_HTTP_VERSION",
    ):
        monkeypatch.delenv(var, raising=False)
    server = Stub()
    monkeypatch.setenv("E2B_API_KEY", "e2b_test")
    monkeypatch.setenv("E2B_API_URL", server.url)
    monkeypatch.setenv("E2B_SANDBOX_URL", server.url)
    yield server
    server.close()


def test_create_sends_the_2_63_body_and_headers(stub):
    stub.route("POST /v2/sandboxes", 201, SANDBOX_JSON)
    import e2b_code_interpreter

    sbx = e2b_code_interpreter.Sandbox.create()
    request = stub.requests[-1]
    assert json.loads(request["body"]) == {"templateID": "code-interpreter-v1", "metadata": {}, "envVars": {}}
    headers = request["headers"]
    assert headers["x-api-key"] == "e2b_test"
    assert headers["user-agent"] == "e2b-python-sdk/2.63.0"
    assert headers["lang"] == "python" and headers["publisher"] == "e2b" and headers["sdk_runtime"] == "python"
    assert headers["content-type"] == "application/json"
    assert "idempotency-key" not in headers
    assert sbx.sandbox_id == "sbx1" and sbx._envd_access_token == "tok"
    assert sbx.connection_config.sandbox_headers["X-Access-Token"] == "tok"
    assert sbx.connection_config.sandbox_headers["E2b-Sandbox-Port"] == "49983"

    Sandbox.create(
        template="base",
        timeout=120,
        metadata={"a": "b"},
        envs={"X": "1"},
        secure=True,
        allow_internet_access=False,
        idempotency_key="key-1",
    )
    request = stub.requests[-1]
    assert json.loads(request["body"]) == {
        "templateID": "base",
        "timeout": 120,
        "allow_internet_access": False,
        "metadata": {"a": "b"},
        "envVars": {"X": "1"},
    }
    assert request["headers"]["idempotency-key"] == "key-1"


def test_create_rejects_bad_idempotency_keys(stub):
    with pytest.raises(e2b.InvalidArgumentException, match="lowercase"):
        Sandbox.create(idempotency_key="UPPER")
    assert stub.requests == []


def test_create_lifecycle_and_network_fields(stub):
    stub.route("POST /v2/sandboxes", 201, SANDBOX_JSON)
    Sandbox.create(
        lifecycle={"on_timeout": {"action": "pause", "mode": "filesystem"}},
        network={"allow_out": ["1.1.1.1"], "deny_out": lambda ctx: [ctx.all_traffic]},
    )
    body = json.loads(stub.requests[-1]["body"])
    assert body["autoPause"] is True and body["autoPauseMemory"] is False
    assert body["network"] == {"allowOut": ["1.1.1.1"], "denyOut": ["0.0.0.0/0"]}
    with pytest.raises(e2b.InvalidArgumentException, match="on_timeout must be one of"):
        Sandbox.create(lifecycle={"on_timeout": "explode"})


def test_old_envd_is_refused_and_killed(stub):
    stub.route("POST /v2/sandboxes", 201, dict(SANDBOX_JSON, envdVersion="0.0.9"))
    stub.route("DELETE /sandboxes/sbx1", 204)
    with pytest.raises(e2b.TemplateException, match="update the template"):
        Sandbox.create()
    assert stub.requests[-1]["method"] == "DELETE"


def test_connect_kill_timeout_info(stub):
    stub.route("POST /v2/sandboxes/sbx1/connect", 200, SANDBOX_JSON)
    stub.route("DELETE /sandboxes/sbx1", 204)
    stub.route("POST /sandboxes/sbx1/timeout", 204)
    detail = dict(
        LISTED,
        sandboxID="sbx1",
        domain="my.dev",
        allowInternetAccess=False,
        lifecycle={"autoResume": False, "onTimeout": "kill"},
    )
    stub.route("GET /sandboxes/sbx1", 200, detail)
    sbx = Sandbox.connect("sbx1", timeout=100)
    assert json.loads(stub.requests[-1]["body"]) == {"timeout": 100}
    sbx.connect(on_resume="reboot")
    assert json.loads(stub.requests[-1]["body"]) == {"memory": False}
    Sandbox.connect("sbx1")
    assert json.loads(stub.requests[-1]["body"]) == {}
    sbx.set_timeout(30)
    assert json.loads(stub.requests[-1]["body"]) == {"timeout": 30}
    info = sbx.get_info()
    assert info.sandbox_domain == "my.dev" and info.allow_internet_access is False
    assert info.state is SandboxState.RUNNING and info.started_at.microsecond == 123456
    assert info.lifecycle == {"on_timeout": "kill", "auto_resume": False}
    assert sbx.kill() is True
    assert Sandbox.kill("missing") is False
    with pytest.raises(e2b.SandboxNotFoundException, match="^Sandbox missing not found$"):
        Sandbox.get_info("missing")
    with pytest.raises(e2b.SandboxNotFoundException, match="^Paused sandbox missing not found$"):
        Sandbox.connect("missing")


def test_error_mapping_and_status_codes(stub):
    stub.route("DELETE /sandboxes/a", 401, {"code": 401, "message": "bad key"})
    stub.route("DELETE /sandboxes/b", 400, {"code": 400, "message": "nope"})
    stub.route("DELETE /sandboxes/c", 500, b"plain text")
    stub.route("DELETE /sandboxes/d", 503, {"code": 503, "message": "busy"}, headers={"Retry-After": "0"})
    stub.route("DELETE /sandboxes/e", 403, {"code": 403, "message": "forbidden"})
    with pytest.raises(e2b.AuthenticationException) as auth:
        Sandbox.kill("a")
    assert str(auth.value) == "401: Unauthorized, please check your credentials. - bad key"
    with pytest.raises(e2b.SandboxException) as bad:
        Sandbox.kill("b")
    assert type(bad.value) is e2b.SandboxException and str(bad.value) == "400: nope" and bad.value.status_code == 400
    with pytest.raises(e2b.SandboxException) as raw:
        Sandbox.kill("c")
    assert str(raw.value) == "500: b'plain text'" and raw.value.status_code == 500
    with pytest.raises(e2b.SandboxException) as forbidden:
        Sandbox.kill("e")
    assert forbidden.value.status_code == 403
    before = len(stub.requests)
    with pytest.raises(e2b.ServiceBusyException) as busy:
        Sandbox.kill("d")
    assert str(busy.value) == "503: Service temporarily unavailable, please retry. - busy"
    assert len(stub.requests) - before == 4  # the first try and 3 retries
    before = len(stub.requests)
    with pytest.raises(e2b.ServiceBusyException):
        Sandbox.kill("d", retries=0)
    assert len(stub.requests) - before == 1


def test_rate_limit_and_should_retry(stub):
    stub.route("DELETE /sandboxes/r", 429, {"code": 429, "message": "slow"}, headers={"Should-Retry": "false"})
    with pytest.raises(e2b.RateLimitException) as info:
        Sandbox.kill("r")
    assert info.value.status_code == 429
    assert len(stub.requests) == 1


def test_list_encodes_filters_and_paginates(stub):
    pages = iter([({"X-Next-Token": "page2"}, [LISTED]), ({}, [dict(LISTED, sandboxID="s2", state="paused")])])

    def handler(request):
        headers, body = next(pages)
        return 200, {"Content-Type": "application/json", **headers}, [json.dumps(body).encode()]

    stub.routes["GET /v2/sandboxes"] = handler
    paginator = Sandbox.list(
        query=SandboxQuery(metadata={"a b": "c&d", "x": "y"}, state=[SandboxState.RUNNING, SandboxState.PAUSED]),
        limit=1,
    )
    first = paginator.next_items()
    assert (
        stub.requests[-1]["path"]
        == "/v2/sandboxes?metadata=a%252520b%3Dc%252526d%26x%3Dy&state=running%2Cpaused&limit=1"
    )
    assert (
        [s.sandbox_id for s in first] == ["s1"] and first[0].metadata == {"a": "b"} and first[0].sandbox_domain is None
    )
    assert paginator.has_next and paginator.next_token == "page2"
    second = paginator.next_items()
    assert "nextToken=page2" in stub.requests[-1]["path"]
    assert second[0].state is SandboxState.PAUSED
    assert not paginator.has_next
    with pytest.raises(Exception, match="No more items to fetch"):
        paginator.next_items()


def ndjson(*lines):
    return [json.dumps(line).encode() + b"\n" for line in lines]


def _ci_sandbox():
    import e2b_code_interpreter

    return e2b_code_interpreter.Sandbox(
        sandbox_id="sbx1",
        sandbox_domain=None,
        envd_version="0.6.13",
        envd_access_token="tok",
        traffic_access_token="traffic",
        connection_config=e2b.ConnectionConfig(
            extra_sandbox_headers={"E2b-Sandbox-Id": "sbx1", "E2b-Sandbox-Port": "49983", "X-Access-Token": "tok"}
        ),
    )


EXECUTE_LINES = [
    {"type": "number_of_executions", "execution_count": 7},
    {"type": "stdout", "text": "hi\n", "timestamp": "2024-01-01T00:00:00+00:00"},
    {"type": "keepalive"},
    {"type": "result", "text": "2", "is_main_result": True, "extra": {}, "json": {"k": [1, 2.5, None]}},
    {"type": "stderr", "text": "warn\n", "timestamp": "t2"},
    {"type": "something_new"},
    {"type": "error", "name": "ValueError", "value": "v", "traceback": "tb"},
    {"type": "end_of_execution"},
]


def _execute_route(stub, chunks):
    stub.routes["POST /execute"] = lambda request: (200, {"Transfer-Encoding": "chunked"}, chunks)


def test_run_code_request_and_collected_execution(stub):
    raw = b"".join(ndjson(*EXECUTE_LINES))
    # Split the stream at awkward places, including inside a line and a UTF-8 sequence.
    _execute_route(stub, [raw[:10], raw[10:57], raw[57:]])
    sbx = _ci_sandbox()
    execution = sbx.run_code("1+1", envs={"A": "1"})
    request = stub.requests[-1]
    assert json.loads(request["body"]) == {"code": "1+1", "context_id": None, "language": None, "env_vars": {"A": "1"}}
    headers = request["headers"]
    assert headers["x-access-token"] == "tok"
    assert headers["e2b-sandbox-id"] == "sbx1" and headers["e2b-sandbox-port"] == "49999"
    assert headers["e2b-traffic-access-token"] == "traffic"
    assert headers["content-type"] == "application/json"
    assert execution.execution_count == 7
    assert execution.text == "2"
    assert execution.results[0].json == {"k": [1, 2.5, None]}
    assert execution.results[0].extra == {}
    assert execution.logs.stdout == ["hi\n"] and execution.logs.stderr == ["warn\n"]
    assert (execution.error.name, execution.error.value, execution.error.traceback) == ("ValueError", "v", "tb")


def test_run_code_callbacks_run_in_order_while_streaming(stub):
    _execute_route(stub, ndjson(*EXECUTE_LINES[:2]) + [0.2] + ndjson(*EXECUTE_LINES[2:]))
    sbx = _ci_sandbox()
    seen = []
    started = time.monotonic()
    execution = sbx.run_code(
        "x",
        on_stdout=lambda m: seen.append(("out", m.line, m.timestamp, round(time.monotonic() - started, 1))),
        on_stderr=lambda m: seen.append(("err", m.line, m.error)),
        on_result=lambda r: seen.append(("result", r.text)),
        on_error=lambda e: seen.append(("error", e.name)),
    )
    assert seen[0][:3] == ("out", "hi\n", "2024-01-01T00:00:00+00:00")
    assert seen[0][3] < 0.2  # delivered before the rest of the stream arrived
    assert [s[0] for s in seen] == ["out", "result", "err", "error"]
    assert seen[2] == ("err", "warn\n", True)
    assert execution.text == "2" and execution.logs.stdout == ["hi\n"]


def test_async_run_code_with_sync_and_async_callbacks(stub):
    _execute_route(stub, ndjson(*EXECUTE_LINES))
    import e2b_code_interpreter

    async def main():
        sbx = e2b_code_interpreter.AsyncSandbox(
            sandbox_id="sbx1",
            sandbox_domain=None,
            envd_version="0.6.13",
            envd_access_token="tok",
            traffic_access_token=None,
            connection_config=e2b.ConnectionConfig(),
        )
        seen = []

        async def on_result(result):
            await asyncio.sleep(0)
            seen.append(result.text)

        execution = await sbx.run_code("x", on_stdout=lambda m: seen.append(m.line), on_result=on_result)
        plain = await sbx.run_code("x")
        return seen, execution, plain

    seen, execution, plain = asyncio.run(main())
    assert seen == ["hi\n", "2"]
    assert execution.text == plain.text == "2"
    assert "e2b-traffic-access-token" not in stub.requests[-1]["headers"]


def test_run_code_error_statuses(stub):
    sbx = _ci_sandbox()
    stub.route("POST /execute", 404, b"Context nope not found")
    with pytest.raises(e2b.NotFoundException) as nf:
        sbx.run_code("x")
    assert str(nf.value) == "Context nope not found"
    stub.route("POST /execute", 500, b"kernel died\n")
    with pytest.raises(e2b.SandboxException) as err:
        sbx.run_code("x")
    assert str(err.value) == "500 Internal Server Error: kernel died" and err.value.status_code is None
    stub.route("POST /execute", 502, b'{"message":"gone"}')
    with pytest.raises(e2b.TimeoutException) as gone:
        sbx.run_code("x")
    assert str(gone.value).startswith('{"message":"gone"}: This error is likely due to sandbox timeout.')


def test_run_code_timeout_and_dropped_connection(stub):
    sbx = _ci_sandbox()
    _execute_route(stub, ndjson(EXECUTE_LINES[0]) + [2.0] + ndjson(*EXECUTE_LINES[1:]))
    started = time.monotonic()
    with pytest.raises(e2b.TimeoutException) as info:
        sbx.run_code("x", timeout=0.5)
    assert str(info.value) == "Execution timed out — the 'timeout' option can be used to increase this timeout"
    assert time.monotonic() - started < 1.9

    _execute_route(stub, ndjson(EXECUTE_LINES[0]) + [None])
    stub.route("GET /health", 502, {"message": "The sandbox was not found", "code": 502})
    with pytest.raises(e2b.TimeoutException) as killed:
        sbx.run_code("x")
    assert str(killed.value).startswith("The sandbox was killed while the request was in progress.")
    assert stub.requests[-1]["path"] == "/health"
    assert stub.requests[-1]["headers"]["e2b-sandbox-port"] == "49983"


def test_is_running_and_contexts(stub):
    sbx = _ci_sandbox()
    stub.route("GET /health", 204)
    assert sbx.is_running() is True
    assert stub.requests[-1]["headers"]["x-access-token"] == "tok"
    stub.route("GET /health", 502, {"message": "The sandbox was not found"})
    assert sbx.is_running() is False
    stub.route("POST /contexts", 200, {"id": "c1", "language": "python", "cwd": "/tmp"})
    context = sbx.create_code_context(cwd="/tmp")
    assert json.loads(stub.requests[-1]["body"]) == {"cwd": "/tmp"}
    assert "x-access-token" not in stub.requests[-1]["headers"]
    assert (context.id, context.cwd) == ("c1", "/tmp")
    stub.route("GET /contexts", 200, [{"id": "c1", "language": "python", "cwd": "/tmp"}])
    assert [c.id for c in sbx.list_code_contexts()] == ["c1"]
    assert stub.requests[-1]["headers"]["content-type"] == "application/json"
    stub.route("DELETE /contexts/c1", 200, b"null")
    sbx.remove_code_context(context)
    stub.route("POST /contexts/c1/restart", 200, b"null")
    sbx.restart_code_context("c1")
    assert stub.requests[-1]["path"] == "/contexts/c1/restart"
    stub.route("POST /contexts", 200, {"id": "c2", "language": "python"})
    with pytest.raises(KeyError):
        sbx.create_code_context()


def test_async_control_plane(stub):
    stub.route("POST /v2/sandboxes", 201, SANDBOX_JSON)
    stub.route("DELETE /sandboxes/sbx1", 204)
    stub.route("GET /v2/sandboxes", 200, [LISTED])

    async def main():
        sbx = await AsyncSandbox.create()
        items = await AsyncSandbox.list().next_items()
        killed = await AsyncSandbox.kill(sbx)
        missing = await AsyncSandbox.kill("missing")
        return sbx, items, killed, missing

    sbx, items, killed, missing = asyncio.run(main())
    assert sbx.sandbox_id == "sbx1" and items[0].sandbox_id == "s1" and killed is True and missing is False
