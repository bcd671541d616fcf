"""The synchronous :class:`Sandbox`."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from e2b._version import Version
from e2b.connection_config import ConnectionConfig
from e2b.exceptions import TemplateException
from e2b.sandbox_sync.commands.command import Commands
from e2b.sandbox_sync.commands.pty import Pty
from e2b.sandbox_sync.filesystem.filesystem import Filesystem
from e2b.sandbox.main import sandbox_kwargs
from e2b.sandbox.sandbox_api import (
    SandboxInfo,
    SandboxMetrics,
    build_create_extra,
    resolve_idempotency_key,
)
from e2b.sandbox.utils import class_method_variant
from e2b.sandbox_sync.sandbox_api import SandboxApi
from e2b._bridge import LazyLogger

if TYPE_CHECKING:  # pragma: no cover
    import logging

    from typing_extensions import Self, Unpack

    from e2b.connection_config import ApiParams
    from e2b.sandbox.main import SandboxOpts
    from e2b.sandbox.sandbox_api import (
        SandboxIamOpts,
        SandboxLifecycle,
        SandboxNetworkOpts,
        SandboxNetworkUpdate,
        SandboxOnResume,
        SnapshotInfo,
        SnapshotMode,
    )

logger = LazyLogger(__name__)

_INTERNAL_KEYS = frozenset(
    ("sandbox_id", "sandbox_domain", "envd_version", "envd_access_token", "traffic_access_token", "connection_config")
)


class Sandbox(SandboxApi):
    """
    An E2B sandbox: an isolated Linux environment for running code, commands and files.

    Without an API key the sandbox runs on this machine (local runtime); with one it runs in
    the E2B cloud. Create one with :meth:`Sandbox.create`::

        from e2b import Sandbox

        with Sandbox.create() as sandbox:
            ...
    """

    def __init__(self, **opts: "Unpack[SandboxOpts]"):
        """
        With the internal keyword arguments (``sandbox_id``, ``connection_config``, …):
        builds the object for an existing sandbox, without any network call.

        Without them, ``Sandbox(**create_opts)`` creates a new sandbox like
        :meth:`Sandbox.create` (the v1-style quickstart ``with Sandbox() as sandbox:`` keeps
        working; upstream 2.x raises ``TypeError`` here).

        :deprecated: Use :meth:`Sandbox.create` or :meth:`Sandbox.connect` instead.
        """
        if not opts.keys() & _INTERNAL_KEYS:
            created = type(self).create(**opts)  # type: ignore[arg-type]
            self.__dict__.update(created.__dict__)
        else:
            super().__init__(**opts)
        self._filesystem = Filesystem(self)
        self._commands = Commands(self)
        self._pty = Pty(self)

    @property
    def files(self) -> Filesystem:
        """Module for interacting with the sandbox filesystem."""
        return self._filesystem

    @property
    def commands(self) -> Commands:
        """Module for running commands in the sandbox."""
        return self._commands

    @property
    def pty(self) -> Pty:
        """Module for interacting with PTYs (pseudo-terminals) in the sandbox."""
        return self._pty

    @property
    def git(self) -> Git:
        """
        Git helpers (not supported in this build).

        :deprecated: Run git with ``sandbox.commands.run()`` instead.
        """
        from e2b._extras import Git

        return Git  # every attribute raises NotImplementedError naming the missing feature

    def is_running(self, request_timeout: Optional[float] = None) -> bool:
        """
        Checks whether the sandbox is running (envd answers its health check).

        :param request_timeout: Timeout for the request in **seconds**
        :return: ``True`` if the sandbox is running, ``False`` otherwise
        """
        return self._sandbox_client.is_running(False, self.connection_config.get_request_timeout(request_timeout))

    @classmethod
    def create(
        cls,
        template: Optional[str] = None,
        timeout: Optional[int] = None,
        metadata: Optional[Dict[str, str]] = None,
        envs: Optional[Dict[str, str]] = None,
        secure: Optional[bool] = None,
        allow_internet_access: Optional[bool] = None,
        mcp: Optional[Dict[str, Any]] = None,
        network: Optional["SandboxNetworkOpts"] = None,
        iam: Optional["SandboxIamOpts"] = None,
        lifecycle: Optional["SandboxLifecycle"] = None,
        volume_mounts: Optional[Dict[str, Any]] = None,
        logger: Optional[logging.Logger] = None,
        idempotency_key: Optional[str] = None,
        **opts: "Unpack[ApiParams]",
    ) -> "Self":
        """
        Creates a new sandbox from ``template`` (default: the class's ``default_template``).

        :param template: Sandbox template name or ID
        :param timeout: Sandbox lifetime in **seconds** (server default 300)
        :param metadata: Custom metadata for the sandbox
        :param envs: Environment variables for everything that runs in the sandbox
        :param secure: Deprecated and ignored: every sandbox is secured
        :param allow_internet_access: Allow outbound internet access (sent only when given)
        :param mcp: MCP servers to enable (not supported in this build)
        :param network: Network options
        :param iam: Workload identity options
        :param lifecycle: What happens at the timeout (``on_timeout``) and ``auto_resume``
        :param volume_mounts: Mount path → volume (or volume name)
        :param logger: Logger for this sandbox's requests (accepted; not used by this build)
        :param idempotency_key: Sent as ``Idempotency-Key`` (1–255 characters of ``[a-z0-9-]``)
        :return: The new sandbox
        """
        if mcp is not None:
            raise _unsupported("Sandbox.create(mcp=...)")
        template = template or cls.default_template
        key = resolve_idempotency_key(idempotency_key)
        params = cls._resolve_api_params(**opts)
        config = ConnectionConfig(logger=logger, **params)
        if config.debug:
            return cls(**sandbox_kwargs(None, dict(params), logger))
        extra = build_create_extra(network, iam, lifecycle, volume_mounts)
        created = cls._create_sandbox(config, template, timeout, allow_internet_access, metadata, envs, extra, key)
        return cls(**sandbox_kwargs(created, dict(params), logger))

    @class_method_variant("_cls_connect_sandbox")
    def connect(
        self,
        timeout: Optional[int] = None,
        *,
        on_resume: "SandboxOnResume" = "restore",
        **opts: "Unpack[ApiParams]",
    ) -> "Self":
        """
        Connects to the sandbox, resuming it if paused. Also callable on the class with a
        sandbox ID: ``Sandbox.connect(sandbox_id, timeout=None, logger=None, *,
        on_resume="restore", **opts)``.

        :param timeout: Sandbox lifetime in **seconds**; a running sandbox's timeout is only
            ever extended
        :param on_resume: ``"restore"`` (memory snapshot) or ``"reboot"`` (cold boot from disk)
        :return: The running sandbox (this object for the instance form)
        """
        if self.connection_config.debug:
            return self
        SandboxApi._cls_connect(
            sandbox_id=self.sandbox_id,
            timeout=timeout,
            on_resume=on_resume,
            **self.connection_config.get_api_params(**opts),
        )
        return self

    @classmethod
    def _cls_connect_sandbox(
        cls,
        sandbox_id: str,
        timeout: Optional[int] = None,
        logger: Optional[logging.Logger] = None,
        *,
        on_resume: "SandboxOnResume" = "restore",
        **opts: "Unpack[ApiParams]",
    ) -> "Self":
        params = cls._resolve_api_params(**opts)
        if ConnectionConfig(**params).debug:
            return cls(**sandbox_kwargs(None, dict(params), logger, debug_sandbox_id=sandbox_id))
        created = SandboxApi._cls_connect(
            sandbox_id=sandbox_id, timeout=timeout, on_resume=on_resume, logger=logger, **params
        )
        return cls(**sandbox_kwargs(created, dict(params), logger))

    def __enter__(self) -> "Self":
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        self.kill()

    @class_method_variant("_cls_kill")
    def kill(self, **opts: "Unpack[ApiParams]") -> bool:
        """
        Kills the sandbox. Also callable as ``Sandbox.kill(sandbox_id, **opts)``.

        :return: ``True`` if the sandbox was killed, ``False`` if it was not found
        """
        if self.connection_config.debug:
            return True
        return SandboxApi._cls_kill(sandbox_id=self.sandbox_id, **self.connection_config.get_api_params(**opts))

    @class_method_variant("_cls_set_timeout")
    def set_timeout(self, timeout: int, **opts: "Unpack[ApiParams]") -> None:
        """
        Sets the sandbox's remaining lifetime (can shorten or extend it). Also callable as
        ``Sandbox.set_timeout(sandbox_id, timeout, **opts)``.

        :param timeout: Timeout in **seconds** from now
        """
        SandboxApi._cls_set_timeout(
            sandbox_id=self.sandbox_id, timeout=timeout, **self.connection_config.get_api_params(**opts)
        )

    @class_method_variant("_cls_get_info")
    def get_info(self, **opts: "Unpack[ApiParams]") -> SandboxInfo:
        """
        Returns information about the sandbox (template, metadata, start and end time, …).
        Also callable as ``Sandbox.get_info(sandbox_id, **opts)``.

        :return: Sandbox info
        """
        return SandboxApi._cls_get_info(sandbox_id=self.sandbox_id, **self.connection_config.get_api_params(**opts))

    @class_method_variant("_cls_get_metrics")
    def get_metrics(
        self,
        start: Optional[datetime.datetime] = None,
        end: Optional[datetime.datetime] = None,
        **opts: "Unpack[ApiParams]",
    ) -> List[SandboxMetrics]:
        """
        Returns the sandbox's resource usage samples. Also callable as
        ``Sandbox.get_metrics(sandbox_id, start=None, end=None, **opts)``.

        :param start: Start of the time range (default: sandbox start)
        :param end: End of the time range (default: now)
        :return: CPU, memory and disk usage samples
        """
        if self._envd_older_than(Version("0.1.5")):
            raise TemplateException("You need to update the template to use the new SDK.")
        if self._envd_older_than(Version("0.2.4")):
            logger.warning(
                "Disk metrics are not supported in this version of the sandbox, "
                "please rebuild the template to get disk metrics."
            )
        return SandboxApi._cls_get_metrics(
            sandbox_id=self.sandbox_id, start=start, end=end, **self.connection_config.get_api_params(**opts)
        )

    @class_method_variant("_cls_pause")
    def pause(
        self,
        keep_memory: Optional[bool] = None,
        *,
        mode: Optional["SnapshotMode"] = None,
        strict: bool = False,
        **opts: "Unpack[ApiParams]",
    ) -> bool:
        """
        Pauses the sandbox. Also callable as ``Sandbox.pause(sandbox_id, ...)``.

        :param keep_memory: Deprecated: use ``mode``
        :param mode: ``"full"`` (memory and filesystem) or ``"filesystem"``
        :param strict: Refuse the pause (``ServiceBusyException``) when envd does not respond
        :return: ``True`` if paused, ``False`` if it was already paused
        """
        return SandboxApi._cls_pause(
            sandbox_id=self.sandbox_id,
            keep_memory=keep_memory,
            mode=mode,
            strict=strict,
            **self.connection_config.get_api_params(**opts),
        )

    @class_method_variant("_cls_pause")
    def beta_pause(
        self,
        keep_memory: Optional[bool] = None,
        *,
        mode: Optional["SnapshotMode"] = None,
        **opts: "Unpack[ApiParams]",
    ) -> bool:
        """
        :deprecated: Use :meth:`pause` instead.

        :return: ``True`` if paused, ``False`` if it was already paused
        """
        return self.pause(keep_memory=keep_memory, mode=mode, **opts)

    @class_method_variant("_cls_fork_sandbox")
    def fork(
        self, timeout: Optional[int] = None, count: Optional[int] = None, **opts: "Unpack[ApiParams]"
    ) -> List[Union["Self", Exception]]:
        """Forks the sandbox. Not supported in this build."""
        raise _unsupported("Sandbox.fork")

    @classmethod
    def _cls_fork_sandbox(cls, sandbox_id: str, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported("Sandbox.fork")

    @class_method_variant("_cls_update_network")
    def update_network(self, network: "SandboxNetworkUpdate", **opts: "Unpack[ApiParams]") -> None:
        """Replaces the sandbox's network configuration. Not supported in this build."""
        raise _unsupported("Sandbox.update_network")

    @classmethod
    def _cls_update_network(cls, sandbox_id: str, *args: Any, **kwargs: Any) -> None:
        raise _unsupported("Sandbox.update_network")

    @class_method_variant("_cls_create_snapshot")
    def create_snapshot(
        self, name: Optional[str] = None, *, mode: Optional["SnapshotMode"] = None, **opts: "Unpack[ApiParams]"
    ) -> "SnapshotInfo":
        """Snapshots the sandbox. Not supported in this build."""
        raise _unsupported("Sandbox.create_snapshot")

    @classmethod
    def _cls_create_snapshot(cls, sandbox_id: str, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported("Sandbox.create_snapshot")

    @class_method_variant("_cls_list_snapshots")
    def list_snapshots(
        self,
        limit: Optional[int] = None,
        next_token: Optional[str] = None,
        name: Optional[str] = None,
        **opts: "Unpack[ApiParams]",
    ) -> SnapshotPaginator:
        """Lists snapshots. Not supported in this build."""
        raise _unsupported("Sandbox.list_snapshots")

    @classmethod
    def _cls_list_snapshots(cls, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported("Sandbox.list_snapshots")

    @classmethod
    def delete_snapshot(cls, snapshot_id: str, **opts: "Unpack[ApiParams]") -> bool:
        """Deletes a snapshot. Not supported in this build."""
        raise _unsupported("Sandbox.delete_snapshot")

    def get_mcp_token(self) -> Optional[str]:
        """The MCP gateway token. Not supported in this build."""
        if self._mcp_token:
            return self._mcp_token
        raise _unsupported("Sandbox.get_mcp_token")


def _unsupported(name: str) -> NotImplementedError:
    from e2b._extras import unsupported

    return unsupported(name)
