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

import e2b as _e2b

# Like upstream, this module offers every name of `e2b` plus its own; all of them are imported
# on first use (PEP 562 `__getattr__`), so `import e2b_code_interpreter` costs next to nothing.
TYPE_CHECKING = False
if TYPE_CHECKING:
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

_OWN = {
    "E2B": "client",
    "E2BClientParams": "client",
    "AsyncSandbox": "code_interpreter_async",
    "Sandbox": "code_interpreter_sync",
    **{
        name: "models"
        for name in (
            "Context Execution ExecutionError Logs MIMEType OutputHandler OutputMessage Result RunCodeLanguage"
        ).split()
    },
}

__all__ = [name for name in _e2b.__all__ if name not in _OWN] + list(_OWN)

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
    import importlib

    module = _OWN.get(name)
    if name == "client":  # our own submodule, not `e2b.client`
        return importlib.import_module(".client", __name__)
    if module is not None:
        value = getattr(importlib.import_module("." + module, __name__), name)
    elif name in _e2b.__all__:
        value = getattr(_e2b, name)
    elif name in ("CodeInterpreter", "AsyncCodeInterpreter"):
        raise ImportError(_V0_MESSAGE.format(name=name), name=name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
