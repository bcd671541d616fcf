"""Shared helpers of the code-interpreter e2e tests: which kernels and data packages the
sandbox Python offers (the session daemon runs on this interpreter, so its environment is the
sandboxes'), as skip markers that always say why."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Optional

import pytest


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _deno() -> Optional[str]:
    try:
        import deno

        return deno.find_deno_bin()
    except Exception:
        return None


def _kernelspec(language: str) -> Optional[str]:
    """Name of an installed kernelspec for `language`, looked up the way the daemon does."""
    try:
        from jupyter_core.paths import jupyter_path

        dirs = jupyter_path("kernels")
    except Exception:
        dirs = [os.path.join(sys.prefix, "share", "jupyter", "kernels")]
    for d in dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            try:
                spec = json.loads((Path(d) / name / "kernel.json").read_text())
            except (OSError, ValueError):
                continue
            if str(spec.get("language", "")).strip().lower() == language or name.lower() == language:
                return name
    return None


HAS_JS = _deno() is not None
HAS_BASH = _has("bash_kernel")
HAS_R = _kernelspec("r") is not None
HAS_JAVA = _kernelspec("java") is not None
HAS_DATA = all(_has(m) for m in ("numpy", "pandas", "matplotlib", "e2b_charts"))

requires_js = pytest.mark.skipif(
    not HAS_JS, reason="Deno is not installed in the sandbox Python (pip install 'e2b[local]')"
)
requires_bash = pytest.mark.skipif(
    not HAS_BASH, reason="bash_kernel is not installed in the sandbox Python (pip install 'e2b[local]')"
)
requires_r = pytest.mark.skipif(not HAS_R, reason="no R kernelspec (IRkernel) is installed on this machine")
requires_java = pytest.mark.skipif(not HAS_JAVA, reason="no Java kernelspec (IJava) is installed on this machine")
requires_data = pytest.mark.skipif(
    not HAS_DATA, reason="numpy/pandas/matplotlib/e2b-charts are not installed (pip install 'e2b[data]')"
)

# A value that breaks naive quoting in every language.
NASTY_VALUE = "it's \"quoted\" \\ back\\slash\nsecond line\t$HOME `cmd` ${x} é"

# Per language: code that prints env var FOO (followed by a newline), and a hello world.
PRINT_FOO = {
    "python": "import os; print(os.environ.get('FOO', 'unset'))",
    "javascript": "console.log(process.env.FOO ?? 'unset')",
    "typescript": "const foo: string = process.env.FOO ?? 'unset'; console.log(foo)",
    "bash": 'echo "${FOO:-unset}"',
    "r": 'cat(Sys.getenv("FOO", "unset"), "\\n", sep="")',
    "java": 'System.out.println(System.getProperty("FOO", System.getenv().getOrDefault("FOO", "unset")));',
}
PRINT_CWD = {
    "python": "import os; print(os.getcwd())",
    "javascript": "console.log(process.cwd())",
    "typescript": "console.log(process.cwd() as string)",
    "bash": "pwd",
    "r": 'cat(getwd(), "\\n", sep="")',
    "java": 'System.out.println(System.getProperty("user.dir"));',
}
# A cell that never ends on its own (interrupt tests).
FOREVER = {
    "python": "import time\nwhile True: time.sleep(0.1)",
    "javascript": "while (true) {}",
    "typescript": "while (true) {}",
    "bash": "sleep 1000",
    "r": "while (TRUE) Sys.sleep(0.1)",
    "java": "while (true) { Thread.sleep(100); }",
}
AVAILABLE = {
    "python": True,
    "javascript": HAS_JS,
    "typescript": HAS_JS,
    "bash": HAS_BASH,
    "r": HAS_R,
    "java": HAS_JAVA,
}
SKIP_REASON = {
    "javascript": requires_js.kwargs["reason"],
    "typescript": requires_js.kwargs["reason"],
    "bash": requires_bash.kwargs["reason"],
    "r": requires_r.kwargs["reason"],
    "java": requires_java.kwargs["reason"],
}


def language_params(*names: str) -> list:
    """`pytest.param`s for languages, each skipped with its reason when not installed."""
    return [
        pytest.param(n, marks=pytest.mark.skipif(not AVAILABLE[n], reason=SKIP_REASON.get(n, "")), id=n)
        for n in names
    ]


ALL_LANGUAGES = ("python", "javascript", "typescript", "bash", "r", "java")


def stdout(execution) -> str:
    """All stdout of an execution, joined."""
    return "".join(execution.logs.stdout)


def daemon_opts(state: dict) -> dict:
    """Connection options that reach a given daemon (the SDK caches the first local daemon it
    finds for the whole process, so tests with a private daemon name it explicitly)."""
    return {"api_key": state["api_key"], "api_url": state["url"], "sandbox_url": state["url"]}
