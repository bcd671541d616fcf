"""`e2b-local`, the command line of the local runtime, against real daemons: `status`, `env`,
`list` (the table and `--json`), `logs ID`, `kill ID`, `stop`, each with `--json`; the progress
`serve` prints; local templates (`template list|add|remove`, `serve --template`) used by
`Sandbox.create(template=...)`; an unknown template names the available ones."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2b import NotFoundException, Sandbox, SandboxException
from runtime_helpers import pid_alive, start_daemon, stop_process

E2B_LOCAL = str(Path(sys.executable).with_name("e2b-local"))
LIST_COLUMNS = ["SANDBOX ID", "TEMPLATE", "STATE", "AGE", "CPU TIME", "MEMORY", "METADATA"]


def cli(state_dir: Path, *args: str, ok: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
    env["E2B_LOCAL_STATE_DIR"] = str(state_dir)
    out = subprocess.run([E2B_LOCAL, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if ok:
        assert out.returncode == 0, f"e2b-local {' '.join(args)} → {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out


def cli_json(state_dir: Path, *args: str, ok: bool = True):
    return json.loads(cli(state_dir, *args, "--json", ok=ok).stdout)


def table(text: str) -> tuple[list[str], list[list[str]]]:
    """Splits a docker-ps-like table on runs of 2+ spaces."""
    lines = [line for line in text.splitlines() if line.strip()]
    split = [re.split(r"\s{2,}", line.strip()) for line in lines]
    return split[0], split[1:]


@pytest.fixture(scope="module")
def sandbox_python_venv(tmp_path_factory) -> Path:
    """A named Python environment distinct from the daemon's: a virtualenv made from this
    interpreter's base, which sees this environment's packages (ipykernel…) through a .pth
    file, so it can serve `run_code`, while `sys.prefix` inside it is its own."""
    venv = tmp_path_factory.mktemp("template-env") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    ours = [p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix)]
    Path(site, "parent_env.pth").write_text("\n".join(ours) + "\n")
    return venv


@pytest.fixture(scope="module")
def own_daemon(tmp_path_factory, sandbox_python_venv):
    """A daemon of this module with no warm pool and a template given on its command line."""
    state_dir = tmp_path_factory.mktemp("cli-state")
    proc, state = start_daemon(
        state_dir, ("--pool-size", "0", "--template", f"serve-env={sandbox_python_venv}/bin/python"))
    try:
        yield {"state_dir": state_dir, "proc": proc, **state}
    finally:
        stop_process(proc.pid)


def test_status_and_env(own_daemon):
    state_dir = own_daemon["state_dir"]
    status = cli_json(state_dir, "status")
    assert status["running"] is True
    assert status["poolSize"] == 0
    text = cli(state_dir, "status").stdout
    assert text.startswith("running") and f"pid:        {own_daemon['pid']}" in text
    env = cli_json(state_dir, "env")
    assert env == {"E2B_API_URL": own_daemon["url"], "E2B_SANDBOX_URL": own_daemon["url"],
                   "E2B_API_KEY": own_daemon["api_key"]}


def test_serve_prints_progress_and_the_warm_pool(local_runtime):
    log = (local_runtime["state_dir"] / "serve.log").read_text()
    assert "e2b-local: checking the sandbox Python" in log
    assert "kernels: python (ipykernel)" in log
    assert "the warm pool prepares 1 sandbox(es) of code-interpreter-v1" in log
    assert re.search(r"e2b-local: ready: http://127\.0\.0\.1:\d+ \(pid \d+\)", log), log[-2000:]
    assert re.search(r"warm pool: preparing sandbox \w+ \(1 of 1, starting its Python kernel\)", log), log[-2000:]
    deadline = time.monotonic() + 60
    while not re.search(r"warm pool: sandbox \w+ ready in \d+ ms", log) and time.monotonic() < deadline:
        time.sleep(0.2)
        log = (local_runtime["state_dir"] / "serve.log").read_text()
    assert re.search(r"warm pool: sandbox \w+ ready in \d+ ms", log), log[-2000:]


def test_list_logs_and_kill(local_runtime):
    state_dir = local_runtime["state_dir"]
    sandbox = Sandbox.create(metadata={"who": "cli-test", "step": "1"})
    try:
        sandbox.commands.run("python3 -c 'sum(range(3_000_000))'")
        out = cli(state_dir, "list").stdout
        header, rows = table(out)
        assert header == LIST_COLUMNS, out
        row = next(r for r in rows if r[0] == sandbox.sandbox_id)
        assert row[1:3] == ["base", "running"], row
        assert re.fullmatch(r"\d+s|\d+m\d+s", row[3]), row
        assert re.fullmatch(r"[\d.]+s|\d+m\d+s", row[4]), row
        assert re.fullmatch(r"[\d.]+ [KMG]i?B / 1\.0 GiB", row[5]), row
        assert row[6] == "step=1,who=cli-test", row

        listed = next(r for r in cli_json(state_dir, "list") if r["sandboxID"] == sandbox.sandbox_id)
        assert listed["templateID"] == "base" and listed["state"] == "running"
        assert listed["metadata"] == {"who": "cli-test", "step": "1"}
        assert listed["cpuUsageSeconds"] > 0 and listed["memoryBytes"] > 0
        assert listed["memoryMB"] == 1024

        logs = cli(state_dir, "logs", sandbox.sandbox_id, "-n", "20").stdout
        assert 0 < len(logs.splitlines()) <= 20
        as_json = cli_json(state_dir, "logs", sandbox.sandbox_id, "-n", "5")
        assert as_json["sandboxID"] == sandbox.sandbox_id and 0 < len(as_json["lines"]) <= 5
        missing = cli(state_dir, "logs", "nosuchsandbox", ok=False)
        assert missing.returncode == 1 and "sandbox nosuchsandbox not found" in missing.stderr

        assert cli_json(state_dir, "kill", sandbox.sandbox_id) == {"killed": [sandbox.sandbox_id], "failed": {}}
        assert not sandbox.is_running()
        again = cli(state_dir, "kill", sandbox.sandbox_id, "--json", ok=False)
        assert again.returncode == 1
        assert json.loads(again.stdout)["failed"] == {sandbox.sandbox_id: f"sandbox {sandbox.sandbox_id} not found"}
        assert sandbox.sandbox_id not in cli(state_dir, "list").stdout
    finally:
        sandbox.kill()


def test_template_add_list_use_remove(local_runtime, sandbox_python_venv):
    state_dir = local_runtime["state_dir"]
    python = sandbox_python_venv / "bin" / "python"
    added = cli_json(state_dir, "template", "add", "my-env", "--python", str(python))
    assert added["name"] == "my-env" and added["ipykernel"] is True
    assert added["pythonVersion"] == "{}.{}.{}".format(*sys.version_info[:3])
    try:
        rows = {r["name"]: r for r in cli_json(state_dir, "template", "list")}
        assert set(rows) >= {"code-interpreter-v1", "base", "my-env"}
        assert rows["my-env"]["source"] == "state" and rows["my-env"]["python"] == str(python)
        assert rows["code-interpreter-v1"]["aliases"] == ["code-interpreter"]
        header, table_rows = table(cli(state_dir, "template", "list").stdout)
        assert header == ["TEMPLATE", "SOURCE", "PYTHON", "VERSION", "KERNEL"]
        assert ["my-env", "state", str(python), added["pythonVersion"], "python kernel at create"] in table_rows

        # The running daemon uses it at the next create: the sandbox runs that environment.
        from e2b_code_interpreter import Sandbox as CodeSandbox

        with CodeSandbox.create(template="my-env") as sandbox:
            assert sandbox.get_info().template_id == "my-env"
            execution = sandbox.run_code("import sys; sys.prefix")
            assert execution.error is None, execution.error
            assert execution.text == str(sandbox_python_venv)
            assert sandbox.run_code("import sys; sys.executable").text == str(python)
            out = sandbox.commands.run(f"{python} -c 'import sys; print(sys.prefix)'")
            assert out.stdout.strip() == str(sandbox_python_venv)
    finally:
        assert cli_json(state_dir, "template", "remove", "my-env") == {"removed": "my-env"}
    assert "my-env" not in {r["name"] for r in cli_json(state_dir, "template", "list")}
    refused = cli(state_dir, "template", "remove", "base", ok=False)
    assert refused.returncode == 1 and "built-in template" in refused.stderr


def test_a_template_without_ipykernel_runs_commands(local_runtime, tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    out = cli(local_runtime["state_dir"], "template", "add", "bare-env", "--python", str(bare / "bin" / "python"))
    assert "ipykernel is not installed there" in out.stdout and "-m pip install ipykernel" in out.stdout
    try:
        with Sandbox.create(template="bare-env") as sandbox:
            result = sandbox.commands.run(f"{bare}/bin/python -c 'import sys; print(sys.prefix)'")
            assert result.stdout.strip() == str(bare)
        from e2b_code_interpreter import Sandbox as CodeSandbox

        with CodeSandbox.create(template="bare-env") as sandbox:
            with pytest.raises(SandboxException) as e:
                sandbox.run_code("1")
            assert "language 'python' is not available in this sandbox (installed: none)" in str(e.value)
            assert "pip install 'e2b[local]'" in str(e.value)
    finally:
        cli(local_runtime["state_dir"], "template", "remove", "bare-env")


def test_serve_template_and_unknown_template(own_daemon, sandbox_python_venv):
    state_dir = own_daemon["state_dir"]
    rows = {r["name"]: r for r in cli_json(state_dir, "template", "list")}
    assert rows["serve-env"]["source"] == "serve"
    code = (
        "import json\n"
        "from e2b import NotFoundException\n"
        "from e2b_code_interpreter import Sandbox\n"
        "with Sandbox.create(template='serve-env') as s:\n"
        "    prefix = s.run_code('import sys; sys.prefix').text\n"
        "try:\n"
        "    Sandbox.create(template='no-such-template')\n"
        "except NotFoundException as e:\n"
        "    print(json.dumps({'prefix': prefix, 'error': str(e)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
    env["E2B_LOCAL_STATE_DIR"] = str(state_dir)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["prefix"] == str(sandbox_python_venv)
    assert "no-such-template" in result["error"]
    assert "available: code-interpreter-v1 (alias code-interpreter), base, serve-env" in result["error"]


def test_unknown_template_raises_not_found_naming_the_templates(local_runtime):
    with pytest.raises(NotFoundException) as e:
        Sandbox.create(template="definitely-missing")
    message = str(e.value)
    assert "template 'definitely-missing' not found" in message
    assert "code-interpreter-v1 (alias code-interpreter), base" in message


def test_a_language_without_a_kernel_says_how_to_get_one(sandbox):
    with pytest.raises(SandboxException) as e:
        sandbox.run_code("puts 1", language="ruby")
    message = str(e.value)
    assert "language 'ruby' is not available in this sandbox (installed: python" in message
    assert "pip install 'e2b[local]'" in message and "Jupyter kernelspec" in message


def test_serve_warns_with_the_fix_when_ipykernel_is_missing(tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    proc, _ = start_daemon(tmp_path / "state", ("--pool-size", "0", "--python", str(bare / "bin" / "python")))
    try:
        log = (tmp_path / "state" / "serve.log").read_text()
        assert "warning: ipykernel is not installed there" in log
        assert f"fix: {bare}/bin/python -m pip install 'e2b[local]'" in log
    finally:
        stop_process(proc.pid)


def test_stop_json(tmp_path):
    state_dir = tmp_path / "state"
    proc, state = start_daemon(state_dir, ("--pool-size", "0"))
    try:
        assert cli_json(state_dir, "stop") == {"stopped": True, "pid": proc.pid}
        deadline = time.monotonic() + 10
        while pid_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(proc.pid)
        assert cli_json(state_dir, "stop") == {"stopped": False, "running": False}
        status = cli(state_dir, "status", "--json", ok=False)
        assert status.returncode == 1 and json.loads(status.stdout)["running"] is False
    finally:
        stop_process(proc.pid)
