"""
Sandboxes for AI agents and apps — a drop-in, Rust-core build of the E2B Python SDK.

Without an API key, sandboxes run on this machine (the local runtime, Linux); with
``E2B_API_KEY`` set, they run in the E2B cloud exactly as with the upstream SDK.

```py
from e2b import Sandbox

sandbox = Sandbox.create()
```

```py
from e2b import AsyncSandbox

sandbox = await AsyncSandbox.create()
```
"""

# Names are imported on first use (PEP 562 `__getattr__` below), so that `import e2b` costs
# next to nothing; type checkers read the imports in the `TYPE_CHECKING` block. The two must
# agree (tests/unit/test_surface.py checks it).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from . import client
    from ._extras import (
        ApiClient,
        AsyncSecret,
        AsyncSecretPaginator,
        AsyncSnapshotPaginator,
        AsyncTemplate,
        AsyncVolume,
        BuildInfo,
        BuildStatusReason,
        CopyItem,
        DockerfileSyntaxError,
        Git,
        GitBranches,
        GitFileStatus,
        GitHubMcpServer,
        GitHubMcpServerConfig,
        GitResetMode,
        GitStatus,
        LogEntry,
        LogEntryEnd,
        LogEntryLevel,
        LogEntryStart,
        McpServer,
        ReadyCmd,
        Secret,
        SecretInfo,
        SecretPaginator,
        SnapshotPaginator,
        Template,
        TemplateBase,
        TemplateBuildStatus,
        TemplateBuildStatusResponse,
        TemplateClass,
        TemplateTag,
        TemplateTagInfo,
        Volume,
        VolumeAndToken,
        VolumeApiParams,
        VolumeConnectionConfig,
        VolumeEntryStat,
        VolumeFileType,
        VolumeInfo,
        default_build_logger,
        wait_for_file,
        wait_for_port,
        wait_for_process,
        wait_for_timeout,
        wait_for_url,
    )
    from .client import E2B, E2BClientParams
    from .connection_config import ApiParams, ConnectionConfig, HttpVersion, ProxyTypes, Username
    from .exceptions import (
        AuthenticationException,
        BuildException,
        FileNotFoundException,
        FileUploadException,
        GitAuthException,
        GitUpstreamException,
        GuestUnresponsiveException,
        InvalidArgumentException,
        NotEnoughSpaceException,
        NotFoundException,
        RateLimitException,
        SandboxException,
        SandboxNotFoundException,
        SandboxNotRunningException,
        SandboxUnreachableException,
        SecretException,
        SecretNotFoundException,
        ServiceBusyException,
        TemplateException,
        TimeoutException,
        VolumeException,
        VolumeNotFoundException,
        VolumePathNotFoundException,
    )
    from .sandbox.commands.command_handle import (
        CommandExitException,
        CommandResult,
        PtyOutput,
        PtySize,
        Stderr,
        Stdout,
    )
    from .sandbox.commands.main import ProcessInfo
    from .sandbox.filesystem.filesystem import AsyncWriteData, EntryInfo, FileType, WriteData, WriteInfo
    from .sandbox.filesystem.watch_handle import FilesystemEvent, FilesystemEventType
    from .sandbox.network import ALL_TRAFFIC
    from .sandbox.sandbox_api import (
        SandboxEgressProxyInfo,
        SandboxEgressProxyOpts,
        SandboxEgressProxyTLSInfo,
        SandboxEgressProxyTLSOpts,
        SandboxIamOpts,
        SandboxIamToken,
        SandboxIamTokenType,
        SandboxInfo,
        SandboxInfoLifecycle,
        SandboxLifecycle,
        SandboxListOrder,
        SandboxMetrics,
        SandboxNetworkInfo,
        SandboxNetworkOpts,
        SandboxNetworkRule,
        SandboxNetworkRuleInfo,
        SandboxNetworkRules,
        SandboxNetworkSelector,
        SandboxNetworkSelectorContext,
        SandboxNetworkTransform,
        SandboxNetworkTransformContext,
        SandboxNetworkTransformResolver,
        SandboxNetworkUpdate,
        SandboxOnResume,
        SandboxOnTimeout,
        SandboxQuery,
        SandboxState,
        SnapshotInfo,
        SnapshotMode,
    )
    from .sandbox.signature import get_signature
    from .sandbox_async.commands.command_handle import AsyncCommandHandle
    from .sandbox_async.commands.command_input_handle import AsyncCommandInputHandle
    from .sandbox_async.filesystem.watch_handle import AsyncWatchHandle
    from .sandbox_async.main import AsyncSandbox
    from .sandbox_async.paginator import AsyncSandboxPaginator
    from .sandbox_async.utils import OutputHandler
    from .sandbox_sync.commands.command_handle import CommandHandle
    from .sandbox_sync.filesystem.watch_handle import WatchHandle
    from .sandbox_sync.main import Sandbox
    from .sandbox_sync.paginator import SandboxPaginator

_LAZY_MODULES = {
    "_extras": "ApiClient AsyncSecret AsyncSecretPaginator AsyncSnapshotPaginator AsyncTemplate AsyncVolume BuildInfo BuildStatusReason CopyItem DockerfileSyntaxError Git GitBranches GitFileStatus GitHubMcpServer GitHubMcpServerConfig GitResetMode GitStatus LogEntry LogEntryEnd LogEntryLevel LogEntryStart McpServer ReadyCmd Secret SecretInfo SecretPaginator SnapshotPaginator Template TemplateBase TemplateBuildStatus TemplateBuildStatusResponse TemplateClass TemplateTag TemplateTagInfo Volume VolumeAndToken VolumeApiParams VolumeConnectionConfig VolumeEntryStat VolumeFileType VolumeInfo default_build_logger wait_for_file wait_for_port wait_for_process wait_for_timeout wait_for_url",
    "client": "E2B E2BClientParams",
    "connection_config": "ApiParams ConnectionConfig HttpVersion ProxyTypes Username",
    "exceptions": "AuthenticationException BuildException FileNotFoundException FileUploadException GitAuthException GitUpstreamException GuestUnresponsiveException InvalidArgumentException NotEnoughSpaceException NotFoundException RateLimitException SandboxException SandboxNotFoundException SandboxNotRunningException SandboxUnreachableException SecretException SecretNotFoundException ServiceBusyException TemplateException TimeoutException VolumeException VolumeNotFoundException VolumePathNotFoundException",
    "sandbox.commands.command_handle": "CommandExitException CommandResult PtyOutput PtySize Stderr Stdout",
    "sandbox.commands.main": "ProcessInfo",
    "sandbox.filesystem.filesystem": "AsyncWriteData EntryInfo FileType WriteData WriteInfo",
    "sandbox.filesystem.watch_handle": "FilesystemEvent FilesystemEventType",
    "sandbox.network": "ALL_TRAFFIC",
    "sandbox.sandbox_api": "SandboxEgressProxyInfo SandboxEgressProxyOpts SandboxEgressProxyTLSInfo SandboxEgressProxyTLSOpts SandboxIamOpts SandboxIamToken SandboxIamTokenType SandboxInfo SandboxInfoLifecycle SandboxLifecycle SandboxListOrder SandboxMetrics SandboxNetworkInfo SandboxNetworkOpts SandboxNetworkRule SandboxNetworkRuleInfo SandboxNetworkRules SandboxNetworkSelector SandboxNetworkSelectorContext SandboxNetworkTransform SandboxNetworkTransformContext SandboxNetworkTransformResolver SandboxNetworkUpdate SandboxOnResume SandboxOnTimeout SandboxQuery SandboxState SnapshotInfo SnapshotMode",
    "sandbox.signature": "get_signature",
    "sandbox_async.commands.command_handle": "AsyncCommandHandle",
    "sandbox_async.commands.command_input_handle": "AsyncCommandInputHandle",
    "sandbox_async.filesystem.watch_handle": "AsyncWatchHandle",
    "sandbox_async.main": "AsyncSandbox",
    "sandbox_async.paginator": "AsyncSandboxPaginator",
    "sandbox_async.utils": "OutputHandler",
    "sandbox_sync.commands.command_handle": "CommandHandle",
    "sandbox_sync.filesystem.watch_handle": "WatchHandle",
    "sandbox_sync.main": "Sandbox",
    "sandbox_sync.paginator": "SandboxPaginator",
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names.split()}

__version__ = "2.63.0"

__all__ = [
    "E2B",
    "E2BClientParams",
    "ApiClient",
    "client",
    "ConnectionConfig",
    "VolumeConnectionConfig",
    "HttpVersion",
    "ProxyTypes",
    "ApiParams",
    "VolumeApiParams",
    "Username",
    "SandboxException",
    "ServiceBusyException",
    "TimeoutException",
    "NotFoundException",
    "FileNotFoundException",
    "SandboxNotFoundException",
    "SandboxNotRunningException",
    "SandboxUnreachableException",
    "AuthenticationException",
    "GitAuthException",
    "GitUpstreamException",
    "InvalidArgumentException",
    "NotEnoughSpaceException",
    "TemplateException",
    "DockerfileSyntaxError",
    "BuildException",
    "FileUploadException",
    "GuestUnresponsiveException",
    "RateLimitException",
    "VolumeException",
    "VolumeNotFoundException",
    "VolumePathNotFoundException",
    "SandboxInfo",
    "SandboxInfoLifecycle",
    "SandboxMetrics",
    "ProcessInfo",
    "SandboxListOrder",
    "SandboxQuery",
    "SandboxState",
    "SandboxMetrics",
    "GitStatus",
    "GitBranches",
    "GitFileStatus",
    "GitResetMode",
    "CommandResult",
    "Stderr",
    "Stdout",
    "CommandExitException",
    "PtyOutput",
    "PtySize",
    "FilesystemEvent",
    "FilesystemEventType",
    "EntryInfo",
    "WriteInfo",
    "WriteData",
    "AsyncWriteData",
    "FileType",
    "SandboxEgressProxyOpts",
    "SandboxEgressProxyInfo",
    "SandboxEgressProxyTLSOpts",
    "SandboxEgressProxyTLSInfo",
    "SandboxNetworkOpts",
    "SandboxNetworkInfo",
    "SandboxNetworkSelector",
    "SandboxNetworkSelectorContext",
    "SandboxNetworkRule",
    "SandboxNetworkRuleInfo",
    "SandboxNetworkRules",
    "SandboxNetworkTransform",
    "SandboxNetworkTransformContext",
    "SandboxNetworkTransformResolver",
    "SandboxNetworkUpdate",
    "SandboxLifecycle",
    "SandboxOnTimeout",
    "SandboxOnResume",
    "ALL_TRAFFIC",
    "SandboxIamOpts",
    "SandboxIamToken",
    "SandboxIamTokenType",
    "Secret",
    "AsyncSecret",
    "SecretInfo",
    "SecretPaginator",
    "AsyncSecretPaginator",
    "SecretException",
    "SecretNotFoundException",
    "SnapshotInfo",
    "SnapshotMode",
    "SnapshotPaginator",
    "AsyncSnapshotPaginator",
    "get_signature",
    "Sandbox",
    "SandboxPaginator",
    "WatchHandle",
    "CommandHandle",
    "OutputHandler",
    "AsyncSandboxPaginator",
    "AsyncSandbox",
    "AsyncWatchHandle",
    "AsyncCommandHandle",
    "AsyncCommandInputHandle",
    "Template",
    "AsyncTemplate",
    "TemplateBase",
    "TemplateClass",
    "CopyItem",
    "BuildInfo",
    "BuildStatusReason",
    "TemplateBuildStatus",
    "TemplateBuildStatusResponse",
    "TemplateTag",
    "TemplateTagInfo",
    "ReadyCmd",
    "wait_for_file",
    "wait_for_url",
    "wait_for_port",
    "wait_for_process",
    "wait_for_timeout",
    "LogEntry",
    "LogEntryStart",
    "LogEntryEnd",
    "LogEntryLevel",
    "default_build_logger",
    "McpServer",
    "GitHubMcpServer",
    "GitHubMcpServerConfig",
    "Git",
    "Volume",
    "AsyncVolume",
    "VolumeInfo",
    "VolumeAndToken",
    "VolumeEntryStat",
    "VolumeFileType",
]


def __getattr__(name: str):
    import importlib

    if name == "client":
        return importlib.import_module(".client", __name__)  # binds `client` here as well
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("." + module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | {"client"})
