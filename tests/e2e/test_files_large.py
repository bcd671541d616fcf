"""100 MB files stream in both directions without being held whole in memory: the peak RSS
of the client process and of the in-sandbox agent (pid 1) stay far below the file size."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SIZE = 100 * 1024 * 1024
BOUND = 40 * 1024 * 1024

CLIENT = textwrap.dedent(
    """
    import hashlib, json, os, sys, tempfile
    from e2b import Sandbox

    SIZE = int(sys.argv[1])

    def status(field, pid="self", sbx=None):
        if sbx is None:
            text = open(f"/proc/{pid}/status").read()
        else:
            text = sbx.commands.run(f"cat /proc/{pid}/status", user="root").stdout
        line = next(l for l in text.splitlines() if l.startswith(field + ":"))
        return int(line.split()[1]) * 1024

    def reset_peak(pid="self", sbx=None):
        try:
            if sbx is None:
                open(f"/proc/{pid}/clear_refs", "w").write("5")
            else:
                sbx.commands.run(f"echo 5 > /proc/{pid}/clear_refs", user="root")
            return True
        except Exception:
            return False

    def chunks():
        block = bytes(range(256)) * 4096  # 1 MiB
        for _ in range(SIZE // len(block)):
            yield block

    expected = hashlib.sha256()
    for c in chunks():
        expected.update(c)

    sbx = Sandbox.create()
    try:
        sbx.files.write("warmup", b"x" * 1000)
        b"".join(sbx.files.read("warmup", format="stream"))
        out = {}
        for phase in ("iterable", "file"):
            reset_peak(); agent_reset = reset_peak(1, sbx)
            client_base = status("VmRSS")
            agent_base = status("VmRSS", 1, sbx)
            if phase == "iterable":
                sbx.files.write("big.bin", chunks())
            else:
                with tempfile.TemporaryFile() as f:
                    for c in chunks():
                        f.write(c)
                    f.seek(0)
                    sbx.files.write("big.bin", f)
            got = hashlib.sha256()
            n = 0
            with sbx.files.read("big.bin", format="stream") as stream:
                for c in stream:
                    got.update(c)
                    n += len(c)
            assert n == SIZE and got.hexdigest() == expected.hexdigest(), (n, phase)
            out[phase] = {
                "client_growth": status("VmHWM") - client_base,
                "agent_growth": status("VmHWM", 1, sbx) - agent_base,
                "agent_peak_reset": agent_reset,
            }
        print(json.dumps(out))
    finally:
        sbx.kill()
    """
)


def test_100_mb_streams_with_bounded_memory(local_runtime):
    out = subprocess.run(
        [sys.executable, "-c", CLIENT, str(SIZE)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert out.returncode == 0, out.stderr
    import json

    result = json.loads(out.stdout.strip().splitlines()[-1])
    for phase, m in result.items():
        assert m["client_growth"] < BOUND, (phase, m)
        assert m["agent_growth"] < BOUND, (phase, m)
    print(result)
