"""The SDK logs through Python's `logging`, under upstream's logger names (each module's
`__name__`), and nothing is printed: an application sees the records only if it configures
logging. The one record of our own, that sandboxes run locally, comes once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, logging

records = []

class Collect(logging.Handler):
    def emit(self, record):
        records.append([record.name, record.levelname, record.getMessage()])

logging.getLogger().addHandler(Collect())
logging.getLogger().setLevel(logging.DEBUG)

from e2b_code_interpreter import Sandbox

for _ in range(2):
    with Sandbox.create() as sandbox:
        sandbox.run_code("1 + 1")
print(json.dumps(records))
"""


def test_records_use_upstream_logger_names_and_the_local_note_comes_once(local_runtime):
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
    env["E2B_LOCAL_STATE_DIR"] = str(local_runtime["state_dir"])
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no handler of ours: nothing printed
    records = [tuple(r) for r in json.loads(out.stdout.strip().splitlines()[-1])]
    ours = [r for r in records if r[0].split(".")[0] in ("e2b", "e2b_code_interpreter")]
    local_notes = [r for r in ours if "sandboxes run on this machine" in r[2]]
    assert len(local_notes) == 1 and local_notes[0][:2] == ("e2b", "WARNING"), ours
    executing = [r for r in ours if r[2] == "Executing code 1 + 1"]
    assert executing == [("e2b_code_interpreter.code_interpreter_sync", "DEBUG", "Executing code 1 + 1")] * 2, ours
