"""Control-plane calls of :class:`~e2b.AsyncSandbox` (the class forms of its dual methods),
each an awaitable from the Rust core."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from e2b._bridge import wait_native
from e2b.connection_config import ConnectionConfig
from e2b.sandbox.main import SandboxBase
from e2b.sandbox.sandbox_api import (
    SandboxInfo,
    SandboxListOrder,
    SandboxMetrics,
    SandboxQuery,
    metrics_from_json,
    resolve_connect_memory,
    resolve_snapshot_memory,
    sandbox_info_from_json,
)
from e2b.sandbox_async.paginator import AsyncSandboxPaginator

if TYPE_CHECKING:  # pragma: no cover
    import logging

    from typing_extensions import Unpack

    from e2b.connection_config import ApiParams


class AsyncSandboxApi(SandboxBase):
    """Class-level control-plane operations of the async sandbox."""

    @classmethod
    def list(
        cls,
        query: Optional[SandboxQuery] = None,
        limit: Optional[int] = None,
        next_token: Optional[str] = None,
        order: Optional[SandboxListOrder] = None,
        **opts: "Unpack[ApiParams]",
    ) -> AsyncSandboxPaginator:
        """
        Lists sandboxes (running and paused by default), page by page.

        :param query: Filter by metadata, state, start time or template, e.g.
            ``SandboxQuery(metadata={"key": "value"})``
        :param limit: Maximum number of sandboxes per page
        :param next_token: Cursor to start from
        :param order: ``"asc"`` or ``"desc"`` by start time (default newest first)
        :return: A paginator (not a coroutine): await ``next_items()`` while ``has_next`` is true. No request is
            made until then.
        """
        return AsyncSandboxPaginator(
            query=query,
            limit=limit,
            next_token=next_token,
            order=order,
            **cls._resolve_api_params(**opts),
        )

    @classmethod
    async def _cls_get_info(cls, sandbox_id: str, **opts: "Unpack[ApiParams]") -> SandboxInfo:
        config = ConnectionConfig(**cls._resolve_api_params(**opts))
        data = await wait_native(config._native_connection().get_info(True, sandbox_id))
        return sandbox_info_from_json(data, detail=True)

    @classmethod
    async def _cls_kill(cls, sandbox_id: str, **opts: "Unpack[ApiParams]") -> bool:
        config = ConnectionConfig(**cls._resolve_api_params(**opts))
        if config.debug:
            return True
        return await wait_native(config._native_connection().kill_sandbox(True, sandbox_id))

    @classmethod
    async def _cls_set_timeout(cls, sandbox_id: str, timeout: int, **opts: "Unpack[ApiParams]") -> None:
        config = ConnectionConfig(**cls._resolve_api_params(**opts))
        if config.debug:
            return
        await wait_native(config._native_connection().set_timeout(True, sandbox_id, int(timeout)))

    @classmethod
    async def _create_sandbox(
        cls,
        config: ConnectionConfig,
        template: str,
        timeout: Optional[int],
        allow_internet_access: Optional[bool],
        metadata: Optional[Dict[str, str]],
        env_vars: Optional[Dict[str, str]],
        extra: Optional[str],
        idempotency_key: Optional[str],
    ) -> Any:
        return await wait_native(
            config._native_connection().create_sandbox(
                True,
                template,
                timeout,
                allow_internet_access,
                metadata,
                env_vars,
                extra,
                idempotency_key,
            )
        )

    @classmethod
    async def _cls_get_metrics(
        cls,
        sandbox_id: str,
        start: Optional[datetime.datetime] = None,
        end: Optional[datetime.datetime] = None,
        **opts: "Unpack[ApiParams]",
    ) -> List[SandboxMetrics]:
        config = ConnectionConfig(**cls._resolve_api_params(**opts))
        if config.debug:
            return []
        items = await wait_native(
            config._native_connection().get_metrics(
                True,
                sandbox_id,
                int(start.timestamp()) if start else None,
                int(end.timestamp()) if end else None,
            )
        )
        return [metrics_from_json(item) for item in items]

    @classmethod
    async def _cls_connect(
        cls,
        sandbox_id: str,
        timeout: Optional[int] = None,
        logger: Optional[logging.Logger] = None,
        *,
        on_resume: str = "restore",
        **opts: "Unpack[ApiParams]",
    ) -> Any:
        memory = resolve_connect_memory(on_resume)
        config = ConnectionConfig(logger=logger, **cls._resolve_api_params(**opts))
        return await wait_native(config._native_connection().connect_sandbox(True, sandbox_id, timeout, memory))

    @classmethod
    async def _cls_pause(
        cls,
        sandbox_id: str,
        keep_memory: Optional[bool] = None,
        *,
        mode: Optional[str] = None,
        strict: bool = False,
        **opts: "Unpack[ApiParams]",
    ) -> bool:
        memory = resolve_snapshot_memory("mode", mode, keep_memory)
        config = ConnectionConfig(**cls._resolve_api_params(**opts))
        return await wait_native(
            config._native_connection().pause_sandbox(True, sandbox_id, memory, True if strict else None)
        )
