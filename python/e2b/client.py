"""``E2B``: a client object with connection params bound to its resource classes."""

from __future__ import annotations

from typing import Any, Dict, Type, TypeVar, cast

from e2b.connection_config import ApiParams

T = TypeVar("T")


class E2BClientParams(ApiParams, total=False):
    """Connection params an :class:`E2B` client binds (the keys of ``ApiParams``)."""


def _bind(cls: Type[T], api_params: ApiParams) -> Type[T]:
    return cast(Type[T], type(cls.__name__, (cls,), {"_bound_api_params": api_params}))


class E2B:
    """
    A client whose resource classes use the params given here as defaults instead of the
    environment. Per-call params still win.

    Example::

        client = E2B(api_key="e2b_...")
        sandbox = client.Sandbox.create()
    """

    def __init__(self, **opts: Any):
        from e2b import _extras
        from e2b.sandbox_async.main import AsyncSandbox
        from e2b.sandbox_sync.main import Sandbox

        api_params = cast(ApiParams, dict(cast(Dict[str, object], opts)))
        for key in ("headers", "api_headers"):
            if api_params.get(key) is not None:
                api_params[key] = dict(api_params[key])  # type: ignore[literal-required]
        self.Sandbox = _bind(Sandbox, api_params)
        """``Sandbox`` bound to this client's params."""
        self.AsyncSandbox = _bind(AsyncSandbox, api_params)
        """``AsyncSandbox`` bound to this client's params."""
        self.Volume = _extras.Volume
        """``Volume`` (not supported in this build)."""
        self.AsyncVolume = _extras.AsyncVolume
        """``AsyncVolume`` (not supported in this build)."""
        self.Template = _extras.Template
        """``Template`` (not supported in this build)."""
        self.AsyncTemplate = _extras.AsyncTemplate
        """``AsyncTemplate`` (not supported in this build)."""
        self.Secret = _extras.Secret
        """``Secret`` (not supported in this build)."""
        self.AsyncSecret = _extras.AsyncSecret
        """``AsyncSecret`` (not supported in this build)."""
