"""Importing the SDK stays light: `import e2b_code_interpreter` (and `import e2b`) load none of
the heavy machinery an agent may never use — no asyncio until an async API is used, no
JSON-schema or pydantic models, no HTTP stack, no data libraries. Each check runs in a fresh
interpreter, so nothing the test session imported counts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "asyncio",
    "pydantic",
    "pydantic_core",
    "jsonschema",
    "jsonschema_specifications",
    "referencing",
    "attrs",
    "attr",
    "httpx",
    "httpcore",
    "anyio",
    "h2",
    "ssl",
    "email",
    "http.client",
    "concurrent.futures",
    "numpy",
    "pandas",
    "matplotlib",
    "IPython",
)


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import e2b_code_interpreter",
        "from e2b_code_interpreter import Sandbox, AsyncSandbox, Execution, Result",
        "import e2b",
        "from e2b import Sandbox, AsyncSandbox, CommandExitException",
    ],
)
def test_import_loads_no_heavy_module(code):
    loaded = loaded_after(code)
    heavy_packages = {"pydantic", "jsonschema", "httpx", "numpy", "pandas", "matplotlib"}
    heavy = sorted(m for m in loaded if m in HEAVY or m.split(".")[0] in heavy_packages)
    assert heavy == [], f"{code!r} loads {heavy}"


def test_naming_the_async_api_does_not_load_asyncio():
    # asyncio comes with the first awaited call, not with the import or attribute access.
    code = "from e2b_code_interpreter import AsyncSandbox\nAsyncSandbox.create; AsyncSandbox.run_code"
    assert "asyncio" not in loaded_after(code)
