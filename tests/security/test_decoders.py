"""Every decoder is bounded: each class of input the agent or the client decodes — gzip and
multipart uploads, Connect envelopes, JSON bodies, Jupyter messages from the kernel, and the
NDJSON stream of `/execute` — is refused (or cut) with a typed error past its documented
bound, without the agent's or the client's memory following the input, and the sandbox keeps
running code. Each attack has a harmless twin of the same shape that must succeed.

The agent's memory is read on the host: the peak RSS (`VmHWM`) of the sandbox's init (the
agent), reset through `/proc/<pid>/clear_refs` before each attack."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import subprocess
import sys
import textwrap
import threading
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sec_helpers import run

ENVD_PORT = 49983
JUPYTER_PORT = 49999
MIB = 1 << 20
# Growth of the agent's peak RSS allowed during an attack: its buffers are a few chunks and
# channels (the decoded data goes to files, the kernel or the client as it streams).
AGENT_GROWTH = 48 * MIB


@pytest.fixture(scope="module")
def sbx(runtime):
    s = runtime.create(timeout=900)
    try:
        yield s
    finally:
        s.kill()


def agent_pid(runtime, sandbox) -> int:
    rec = json.loads(
        (runtime.state_dir / "sandboxes" / f"{sandbox.sandbox_id}.json").read_text()
    )
    return rec["initPid"]


def status_field(pid: int, field: str) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


class AgentMemory:
    """The agent's peak RSS over a block, against its RSS before it."""

    def __init__(self, runtime, sandbox):
        self.pid = agent_pid(runtime, sandbox)

    def __enter__(self):
        with open(f"/proc/{self.pid}/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        self.before = status_field(self.pid, "VmRSS")
        return self

    def __exit__(self, *exc):
        self.growth = status_field(self.pid, "VmHWM") - self.before

    def check(self):
        print(f"agent peak RSS growth: {self.growth >> 20} MiB")
        assert self.growth < AGENT_GROWTH, f"agent peak grew by {self.growth >> 20} MiB"


def data_plane(runtime, sandbox, method, path, body=b"", headers=None, port=ENVD_PORT):
    """One request through the daemon's proxy; returns (status, body bytes). `body` may be
    an iterable of chunks (sent chunked)."""
    url = urllib.parse.urlparse(runtime.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=300)
    h = {
        "E2b-Sandbox-Id": sandbox.sandbox_id,
        "E2b-Sandbox-Port": str(port),
        "X-Access-Token": sandbox._envd_access_token,
    }
    h.update(headers or {})
    chunked = not isinstance(body, (bytes, bytearray))
    if chunked:
        h["Transfer-Encoding"] = "chunked"
    conn.request(method, path, body=body, headers=h, encode_chunked=chunked)
    resp = conn.getresponse()
    out = resp.read()
    conn.close()
    return resp.status, out


def still_runs_code(sandbox):
    assert run(sandbox, "print(6 * 7)").strip() == "42"


def gzip_stream(size: int, block: bytes) -> bytes:
    enc = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [enc.compress(block) for _ in range(size // len(block))]
    parts.append(enc.flush())
    return b"".join(parts)


def upload_raw(runtime, sandbox, path, data, encoding=None):
    headers = {"Content-Type": "application/octet-stream"}
    if encoding:
        headers["Content-Encoding"] = encoding
    q = urllib.parse.urlencode({"path": path})
    return data_plane(runtime, sandbox, "POST", f"/files?{q}", data, headers)


# ------------------------------------------------------------------------------ gzip


def test_gzip_bomb_upload_is_refused_and_the_agent_stays_small(runtime, sbx):
    bomb = gzip_stream(512 * MIB, bytes(MIB))  # 512 MiB of zeros
    assert len(bomb) < 600 * 1024
    with AgentMemory(runtime, sbx) as mem:
        status, body = upload_raw(runtime, sbx, "/tmp/bomb.bin", bomb, "gzip")
    assert status == 413, body
    message = json.loads(body)["message"]
    assert "upload it uncompressed" in message and "200 times" in message, message
    mem.check()
    # The partial file is gone, and the sandbox works.
    assert run(sbx, "import os; print(os.path.exists('/tmp/bomb.bin'))").strip() == "False"
    still_runs_code(sbx)


def test_normal_gzip_uploads_still_work(runtime, sbx):
    # 50 MB of text (compresses ~5:1) and 50 MB of zeros (~1000:1, within the free 64 MiB).
    text = b"".join(b"line %d of a log file\n" % i for i in range(2_400_000))[: 50 * 10**6]
    zeros = bytes(50 * 10**6)
    for name, data in (("text", text), ("zeros", zeros)):
        with AgentMemory(runtime, sbx) as mem:
            status, body = upload_raw(
                runtime, sbx, f"/tmp/{name}.bin", gzip.compress(data, 6), "gzip"
            )
        assert status == 200, body
        mem.check()
        digest = run(
            sbx,
            f"import hashlib; print(hashlib.sha256(open('/tmp/{name}.bin','rb').read()).hexdigest())",
        ).strip()
        assert digest == hashlib.sha256(data).hexdigest(), name
        run(sbx, f"import os; os.remove('/tmp/{name}.bin')")
    # The SDK's own gzip upload, too.
    sbx.files.write("/tmp/sdk.txt", text[: 5 * MIB], gzip=True)
    assert sbx.files.read("/tmp/sdk.txt", format="bytes") == text[: 5 * MIB]


def test_corrupt_gzip_is_400(runtime, sbx):
    status, body = upload_raw(runtime, sbx, "/tmp/c.bin", b"\x1f\x8b not gzip", "gzip")
    assert status == 400, body
    assert "error decompressing request body" in json.loads(body)["message"]
    still_runs_code(sbx)


# ------------------------------------------------------------------------- multipart


def multipart(parts, boundary="XyZzY"):
    return b"".join(
        b"--%s\r\n%s\r\n\r\n%s\r\n" % (boundary.encode(), headers, data)
        for headers, data in parts
    ) + b"--%s--\r\n" % boundary.encode()


def upload_form(runtime, sandbox, body, boundary="XyZzY"):
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return data_plane(runtime, sandbox, "POST", "/files", body, headers)


def test_multipart_bombs_are_refused(runtime, sbx):
    # A part whose header block never ends (the parser would buffer it whole): 64 MiB.
    def header_bomb():
        yield b"--XyZzY\r\nX-Junk: "
        for _ in range(64):
            yield b"a" * MIB

    with AgentMemory(runtime, sbx) as mem:
        status, body = upload_form(runtime, sbx, header_bomb())
    assert status == 400, body
    assert "header block" in json.loads(body)["message"]
    mem.check()

    # 20 000 parts (fields the server ignores, so nothing is written).
    many = multipart([(b'Content-Disposition: form-data; name="x"', b"1")] * 20_000)
    status, body = upload_form(runtime, sbx, many)
    assert status == 413, body
    assert "more than 10000 parts" in json.loads(body)["message"]
    still_runs_code(sbx)


def test_normal_multipart_uploads_still_work(runtime, sbx):
    files = [{"path": f"/tmp/mp/f{i}.txt", "data": f"file {i}\n" * 1000} for i in range(50)]
    infos = sbx.files.write_files(files)
    assert len(infos) == 50
    assert sbx.files.read("/tmp/mp/f49.txt") == "file 49\n" * 1000
    # A raw form with a long (but bounded) header block and a preamble.
    body = b"preamble\r\n" + multipart(
        [
            (
                b'Content-Disposition: form-data; name="file"; filename="/tmp/mp/raw.txt"\r\n'
                + b"X-Long: " + b"b" * 30_000,
                b"raw part",
            )
        ]
    )
    status, out = upload_form(runtime, sbx, body)
    assert status == 200, out
    assert sbx.files.read("/tmp/mp/raw.txt") == "raw part"


# --------------------------------------------------------------------------- Connect


def test_connect_envelope_claiming_4_gib_is_refused(runtime, sbx):
    headers = {"Content-Type": "application/connect+json", "Connect-Protocol-Version": "1"}
    # Server-streaming request (process Start) and client-streaming input (StreamInput).
    for rpc in ("/process.Process/Start", "/process.Process/StreamInput"):
        envelope = b"\x00\xff\xff\xff\xff" + b"{" * 1000
        with AgentMemory(runtime, sbx) as mem:
            status, body = data_plane(runtime, sbx, "POST", rpc, envelope, headers)
        mem.check()
        text = body.decode(errors="replace")
        assert "resource_exhausted" in text and "larger than the limit" in text, (
            rpc,
            status,
            text[:300],
        )
    # A unary message past the limit.
    unary = {"Content-Type": "application/json", "Connect-Protocol-Version": "1"}
    big = json.dumps({"path": "a" * (17 * MIB)}).encode()
    status, body = data_plane(
        runtime, sbx, "POST", "/filesystem.Filesystem/Stat", big, unary
    )
    assert status == 429 and b"resource_exhausted" in body, (status, body[:300])
    # The harmless twins: the same calls, well-formed.
    assert sbx.commands.run("echo hi").stdout == "hi\n"
    h = sbx.commands.run("cat", background=True, stdin=True)
    sbx.commands.send_stdin(h.pid, "typed\n")
    sbx.commands.close_stdin(h.pid)
    assert h.wait().stdout == "typed\n"


# ------------------------------------------------------------------------------ JSON


def test_huge_and_deep_json_bodies_are_refused(runtime, sbx):
    def post(path, body):
        return data_plane(
            runtime,
            sbx,
            "POST",
            path,
            body,
            {"Content-Type": "application/json"},
            port=JUPYTER_PORT,
        )

    nest = b"[" * 200_000 + b"]" * 200_000
    # Deep nesting is skipped without recursion in a field nobody reads, and refused where
    # the request has a type (no stack overflow either way).
    status, body = post("/execute", b'{"code": "1", "x": ' + nest + b"}")
    assert status == 200 and b'"text":"1"' in body, body[:300]
    status, body = post("/execute", b'{"code": "1", "env_vars": {"A": ' + nest + b"}}")
    assert status == 422, body[:300]
    huge = json.dumps({"code": "#" + "a" * (17 * MIB)}).encode()
    with AgentMemory(runtime, sbx) as mem:
        status, body = post("/execute", huge)
    assert status == 413, body[:300]
    mem.check()
    status, body = post("/contexts", json.dumps({"cwd": "/" + "d" * (100 << 10)}).encode())
    assert status == 413, body[:300]
    status, body = post("/contexts", b'{"language": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert status in (413, 422), body[:300]
    # The harmless twins: a 4 MiB cell, and a context.
    assert run(sbx, "x = '" + "a" * (4 * MIB) + "'\nprint(len(x))").strip() == str(4 * MIB)
    ctx = sbx.create_code_context(cwd="/tmp")
    assert sbx.run_code("import os; os.getcwd()", context=ctx).text == "/tmp"


# ------------------------------------------------------------------------- the kernel

HOSTILE_FRAME = textwrap.dedent(
    """
    import os, socket, stat, time
    time.sleep(0.3)  # let the kernel's own messages of this cell leave first
    hit = 0
    for fd in map(int, os.listdir('/proc/self/fd')):
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            with socket.socket(fileno=os.dup(fd)) as s:
                name = s.getsockname()
                listening = s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError:
            continue
        # The agent's connection to iopub: accepted (not listening) on the iopub socket.
        if not listening and isinstance(name, str) and name.endswith('-2'):
            # A ZMTP message frame whose 8-byte length claims 4 GiB.
            os.write(fd, b'\\x02' + (4 << 30).to_bytes(8, 'big'))
            hit += 1
    print(hit)
    """
)


def test_hostile_kernel_messages_are_dropped_and_the_agent_lives(runtime, sbx):
    ctx = sbx.create_code_context()
    pid = agent_pid(runtime, sbx)
    notices = []
    with AgentMemory(runtime, sbx) as mem:
        try:
            sbx.run_code(
                HOSTILE_FRAME,
                context=ctx,
                on_stderr=lambda m: notices.append(m.line),
                timeout=15,
            )
        except Exception as e:  # the cell's idle status was swallowed with the frame
            assert type(e).__name__ == "TimeoutException", repr(e)
        # A message of 2 million JSON values (tiny on the wire, huge once parsed).
        ex = sbx.run_code(
            "from IPython.display import display\n"
            "display({'application/json': [0] * 2_000_000}, raw=True)\n"
            "print('after')",
            context=ctx,
            timeout=60,
        )
    mem.check()
    assert any("the kernel sent a message of at least" in n for n in notices), notices
    assert ex.error is None and ex.logs.stdout == ["after\n"], ex
    assert any("JSON values are dropped" in line for line in ex.logs.stderr), ex.logs
    assert not ex.results
    assert agent_pid(runtime, sbx) == pid and os.path.exists(f"/proc/{pid}")
    # The harmless twins: the same context keeps working, with a big (8 MiB) result.
    ex = sbx.run_code(
        "from IPython.display import display\n"
        "display({'text/html': 'x' * (8 << 20)}, raw=True)\n1 + 1",
        context=ctx,
        timeout=60,
    )
    assert ex.error is None and ex.text == "2"
    assert len(ex.results[0].html) == 8 << 20
    still_runs_code(sbx)


# -------------------------------------------------------------------- NDJSON (client)

CLIENT = textwrap.dedent(
    """
    import json, sys
    from e2b_code_interpreter import Sandbox
    sandbox_id, api_key, api_url, fake_url = sys.argv[1:5]
    sbx = Sandbox.connect(sandbox_id, api_key=api_key, api_url=api_url, sandbox_url=fake_url)
    def peak():
        for line in open('/proc/self/status'):
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    base = peak()
    ex = sbx.run_code('print(1)', timeout=300)
    print(json.dumps({"base": base, "peak": peak(), "stdout": ex.logs.stdout,
                      "stderr": ex.logs.stderr, "error": ex.error and ex.error.name}))
    """
)


class EndlessLine(BaseHTTPRequestHandler):
    """A hostile code interpreter: `/execute` answers one 512 MiB line (then a newline and a
    well-formed ending, so the call can finish), or a normal answer for the twin."""

    size = 512 * MIB
    protocol_version = "HTTP/1.1"  # chunked

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        if self.size:
            chunk(b'{"type": "stdout", "text": "')
            block = b"x" * MIB
            for _ in range(self.size // MIB):
                chunk(block)
            chunk(b'", "timestamp": "t"}\n')
        chunk(b'{"type": "stdout", "text": "fine\\n", "timestamp": "t"}\n')
        chunk(b'{"type": "end_of_execution"}\n')
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("hostile", [True, False], ids=["endless-line", "normal-twin"])
def test_a_never_ending_ndjson_line_is_bounded_in_the_client(runtime, sbx, hostile):
    handler = type("H", (EndlessLine,), {"size": 512 * MIB if hostile else 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        fake = f"http://127.0.0.1:{server.server_address[1]}"
        out = subprocess.run(
            [sys.executable, "-c", CLIENT, sbx.sandbox_id, runtime.api_key, runtime.url, fake],
            capture_output=True,
            text=True,
            timeout=600,
            env={k: v for k, v in os.environ.items() if not k.startswith("E2B_")},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["error"] is None
    assert got["stdout"] == ["fine\n"]
    growth = got["peak"] - got["base"]
    print(f"client peak RSS growth: {growth >> 20} MiB")
    if hostile:
        # The line was skipped once past the client's bound (128 MiB + 64 KiB), with a notice.
        assert any(s.startswith("[e2b: output truncated:") for s in got["stderr"]), got
        assert growth < 200 * MIB, f"client peak grew by {growth >> 20} MiB"
    else:
        assert got["stderr"] == []
