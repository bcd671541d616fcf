"""``E2B`` client of the code-interpreter package: its ``Sandbox``/``AsyncSandbox`` are the
code-interpreter classes bound to the client's params."""

from __future__ import annotations

from typing import Any, Dict, Type, TypeVar, cast

from e2b import E2B as CoreE2B
from e2b import ApiParams, E2BClientParams

from e2b_code_interpreter.code_interpreter_async import AsyncSandbox
from e2b_code_interpreter.code_interpreter_sync import Sandbox

T = TypeVar("T")

__all__ = ["E2B", "E2BClientParams"]


def _bind(cls: Type[T], api_params: ApiParams) -> Type[T]:
    return cast(Type[T], type(cls.__name__, (cls,), {"_bound_api_params": api_params}))


class E2B:
    """
    A client whose resource classes use the params given here as defaults instead of the
    environment; per-call params still win.

    Example::

        from e2b_code_interpreter import E2B

        client = E2B(api_key="e2b_...")
        sandbox = client.Sandbox.create()
        execution = sandbox.run_code("x = 1; x += 1; x")
    """

    def __init__(self, **opts: Any):
        api_params = cast(ApiParams, dict(cast(Dict[str, object], opts)))
        for key in ("headers", "api_headers"):
            if api_params.get(key) is not None:
                api_params[key] = dict(api_params[key])  # type: ignore[literal-required]
        self.Sandbox = _bind(Sandbox, api_params)
        """Code-interpreter ``Sandbox`` bound to this client's params."""
        self.AsyncSandbox = _bind(AsyncSandbox, api_params)
        """Code-interpreter ``AsyncSandbox`` bound to this client's params."""
        core = CoreE2B(**api_params)
        self.Volume = core.Volume
        """``Volume`` (not supported in this build)."""
        self.AsyncVolume = core.AsyncVolume
        """``AsyncVolume`` (not supported in this build)."""
        self.Template = core.Template
        """``Template`` (not supported in this build)."""
        self.AsyncTemplate = core.AsyncTemplate
        """``AsyncTemplate`` (not supported in this build)."""
        self.Secret = core.Secret
        """``Secret`` (not supported in this build)."""
        self.AsyncSecret = core.AsyncSecret
        """``AsyncSecret`` (not supported in this build)."""
