"""
Stateful code execution in E2B sandboxes — a drop-in build of ``e2b-code-interpreter`` on
the Rust-core ``e2b`` package.

```py
from e2b_code_interpreter import Sandbox

with Sandbox.create() as sandbox:
    sandbox.run_code("x = 1")
    print(sandbox.run_code("x += 1; x").text)  # 2
```
"""

from e2b import *  # noqa: F401,F403

from . import client  # noqa: F401
from .client import E2B, E2BClientParams  # noqa: F401
from .code_interpreter_async import AsyncSandbox  # noqa: F401
from .code_interpreter_sync import Sandbox  # noqa: F401
from .models import (  # noqa: F401
    Context,
    Execution,
    ExecutionError,
    Logs,
    MIMEType,
    OutputHandler,
    OutputMessage,
    Result,
    RunCodeLanguage,
)

_V0_MESSAGE = (
    "`{name}` was removed in e2b-code-interpreter 1.0. Use `Sandbox` instead "
    "(`sandbox = Sandbox.create()`, or `sandbox = await AsyncSandbox.create()` in place of "
    "`AsyncCodeInterpreter`), e.g.:\n\n"
    "    from e2b_code_interpreter import Sandbox\n\n"
    "    with Sandbox() as sandbox:\n"
    '        execution = sandbox.run_code("1 + 1")\n\n'
    "Other v1 changes: `sandbox.notebook.exec_cell(code)` is now `sandbox.run_code(code)`; kernels are "
    "now code contexts (`sandbox.create_code_context(cwd=..., language=...)`); the sandbox-level `cwd` "
    "constructor option is gone — pass `cwd` per command (`sandbox.commands.run(cmd, cwd=...)`) or per "
    "context; `close()` is gone — call `kill()` or let the sandbox `timeout` expire."
)


def __getattr__(name: str):
    if name in ("CodeInterpreter", "AsyncCodeInterpreter"):
        raise ImportError(_V0_MESSAGE.format(name=name), name=name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
