"""Data types of the sandbox control plane (``SandboxInfo``, ``SandboxQuery``, lifecycle and
network options, …) and the conversions between them and the API's JSON, shared by the sync
and async APIs."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    Literal,
    Mapping,
    Optional,
    TypedDict,
    Union,
)

from e2b.exceptions import InvalidArgumentException
from e2b.sandbox.network import ALL_TRAFFIC

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Unpack

    from e2b.connection_config import ApiParams


class SandboxState(str, enum.Enum):
    """State of a sandbox."""

    RUNNING = "running"
    PAUSED = "paused"

    def __str__(self) -> str:
        return str(self.value)


SandboxListOrder = Literal["asc", "desc"]
"""Sort order of ``Sandbox.list`` by start time."""

SnapshotMode = Literal["full", "filesystem"]
"""What a pause or snapshot persists: memory and filesystem, or the filesystem only."""

SandboxOnResume = Literal["restore", "reboot"]
"""How a paused sandbox comes back: restore its memory, or cold-boot from disk."""


# --- network options (EXTRA: accepted and sent; the local runtime may ignore them) ---------


class SandboxNetworkTransform(TypedDict, total=False):
    """Transform applied to egress requests matching a rule."""

    headers: Dict[str, str]
    """Headers to inject into the outbound request."""


@dataclass(frozen=True)
class _SandboxNetworkTransformIam:
    tokens: Mapping[str, str]


@dataclass(frozen=True)
class SandboxNetworkTransformContext:
    """Context passed to a rule's ``transform`` callable (placeholder strings)."""

    iam: _SandboxNetworkTransformIam


SandboxNetworkTransformResolver = Callable[[SandboxNetworkTransformContext], SandboxNetworkTransform]
"""Callable form of a rule's ``transform``."""


class SandboxNetworkRule(TypedDict, total=False):
    """Per-domain rule applied to egress requests."""

    transform: Union[SandboxNetworkTransform, SandboxNetworkTransformResolver]


SandboxNetworkRules = Dict[str, List[SandboxNetworkRule]]
"""Map of host to the ordered rules applied to requests for it."""


class SandboxNetworkRuleInfo(TypedDict, total=False):
    """Per-domain rule as returned by the sandbox info endpoint."""

    transform: SandboxNetworkTransform


@dataclass(frozen=True)
class SandboxNetworkSelectorContext:
    """Context passed to ``allow_out``/``deny_out`` callables."""

    all_traffic: str
    """The all-traffic range, ``"0.0.0.0/0"``."""
    rules: Mapping[str, List[SandboxNetworkRule]]
    """The rules registered in the network options."""


SandboxNetworkSelector = Union[List[str], Callable[[SandboxNetworkSelectorContext], List[str]]]
"""A list of CIDRs / IPs / hostnames, or a callable returning one."""


class SandboxEgressProxyTLSOpts(TypedDict, total=False):
    """TLS settings for the connection to an egress SOCKS5 proxy."""

    server_name: str
    ca_cert: str


class SandboxEgressProxyTLSInfo(TypedDict, total=False):
    """TLS status of the egress proxy connection."""

    server_name: str


class _SandboxEgressProxyOptsBase(TypedDict):
    address: str


class SandboxEgressProxyOpts(_SandboxEgressProxyOptsBase, total=False):
    """SOCKS5 proxy the sandbox's outbound TCP is tunnelled through."""

    username: str
    password: str
    tls: Union[bool, SandboxEgressProxyTLSOpts]


class _SandboxEgressProxyInfoBase(TypedDict):
    address: str


class SandboxEgressProxyInfo(_SandboxEgressProxyInfoBase, total=False):
    """Egress proxy as returned by the sandbox info endpoint."""

    username: str
    tls: SandboxEgressProxyTLSInfo


class SandboxNetworkOpts(TypedDict, total=False):
    """Sandbox network options."""

    allow_out: SandboxNetworkSelector
    deny_out: SandboxNetworkSelector
    rules: SandboxNetworkRules
    egress_proxy: SandboxEgressProxyOpts
    dns_servers: List[str]
    allow_public_traffic: bool
    mask_request_host: str
    https_ports: List[int]


class SandboxNetworkUpdate(TypedDict, total=False):
    """Network options accepted by ``Sandbox.update_network`` (replaces everything)."""

    allow_out: SandboxNetworkSelector
    deny_out: SandboxNetworkSelector
    rules: SandboxNetworkRules
    egress_proxy: SandboxEgressProxyOpts
    dns_servers: List[str]
    allow_internet_access: bool


class SandboxNetworkInfo(TypedDict, total=False):
    """Network configuration as returned by the sandbox info endpoint."""

    allow_out: List[str]
    deny_out: List[str]
    rules: Dict[str, List[SandboxNetworkRuleInfo]]
    egress_proxy: SandboxEgressProxyInfo
    dns_servers: List[str]
    allow_public_traffic: bool
    mask_request_host: str
    https_ports: List[int]


SandboxIamTokenType = Union[Literal["JWT-SVID"], str]
"""Workload token type."""


class SandboxIamToken(TypedDict):
    """Workload token definition."""

    audience: str
    token_type: SandboxIamTokenType


class SandboxIamOpts(TypedDict, total=False):
    """Workload identity configuration."""

    tokens: Dict[str, SandboxIamToken]


# --- lifecycle ------------------------------------------------------------------------------


class _SandboxOnTimeoutPauseBase(TypedDict):
    action: Literal["pause"]


class SandboxOnTimeoutPause(_SandboxOnTimeoutPauseBase, total=False):
    """Object form of ``on_timeout`` that pauses the sandbox at its timeout."""

    mode: SnapshotMode
    keep_memory: bool


class SandboxOnTimeoutKill(TypedDict):
    """Object form of ``on_timeout`` that kills the sandbox at its timeout."""

    action: Literal["kill"]


SandboxOnTimeout = Union[Literal["pause", "kill"], SandboxOnTimeoutPause, SandboxOnTimeoutKill]
"""What happens to the sandbox when its timeout is reached."""


class _SandboxLifecycleBase(TypedDict):
    on_timeout: SandboxOnTimeout


class SandboxLifecycle(_SandboxLifecycleBase, total=False):
    """Lifecycle options: what happens at the timeout, and whether traffic resumes a paused sandbox."""

    auto_resume: bool


class SandboxInfoLifecycle(TypedDict):
    """Lifecycle configuration as returned by sandbox info."""

    on_timeout: Literal["pause", "kill"]
    auto_resume: bool


# --- data classes -----------------------------------------------------------------------------


@dataclass
class SandboxInfo:
    """Information about a sandbox."""

    sandbox_id: str
    """Sandbox ID."""
    sandbox_domain: Optional[str]
    """Domain where the sandbox is hosted."""
    template_id: str
    """Template ID."""
    name: Optional[str]
    """Template name (alias)."""
    metadata: Dict[str, str]
    """Saved sandbox metadata."""
    started_at: datetime
    """Sandbox start time."""
    end_at: datetime
    """Sandbox expiration time."""
    state: SandboxState
    """Sandbox state."""
    cpu_count: int
    """Number of CPUs."""
    memory_mb: int
    """Memory size in MiB."""
    envd_version: str
    """Version of envd in the sandbox."""
    allow_internet_access: Optional[bool] = None
    """Whether internet access was explicitly enabled or disabled."""
    network: Optional[SandboxNetworkInfo] = None
    """Network configuration."""
    lifecycle: Optional[SandboxInfoLifecycle] = None
    """Lifecycle configuration."""
    volume_mounts: List[Dict[str, str]] = field(default_factory=list)
    """Volume mounts of the sandbox."""
    envd_unresponsive_at_pause: Optional[bool] = None
    """``True`` when the snapshot of this paused sandbox was taken while envd was not
    responding (resume it with ``on_resume="reboot"``); ``None`` otherwise."""


@dataclass
class SandboxQuery:
    """Filters for ``Sandbox.list``."""

    metadata: Optional[Dict[str, str]] = None
    """Filter sandboxes by metadata (all pairs must match)."""
    state: Optional[List[SandboxState]] = None
    """Filter sandboxes by state."""
    started_after: Optional[datetime] = None
    """Only sandboxes started at or after this time (naive datetimes are local time)."""
    template: Optional[str] = None
    """Filter sandboxes by template ID or name."""


@dataclass
class SandboxMetrics:
    """One sample of sandbox resource usage."""

    cpu_count: int
    """Number of CPUs."""
    cpu_used_pct: float
    """CPU usage in percent."""
    disk_total: int
    """Total disk space in bytes."""
    disk_used: int
    """Disk used in bytes."""
    mem_total: int
    """Total memory in bytes."""
    mem_used: int
    """Memory used in bytes."""
    mem_cache: int
    """Cached memory (page cache) in bytes."""
    timestamp: datetime
    """Time of the sample."""


@dataclass
class SnapshotInfo:
    """Information about a snapshot."""

    snapshot_id: str
    """Snapshot ID, usable as a template with ``Sandbox.create``."""
    names: List[str] = field(default_factory=list)
    """Full names of the snapshot."""


# --- conversions ------------------------------------------------------------------------------

_FRACTION = re.compile(r"\.(\d+)")


def parse_datetime(value: Any) -> datetime:
    """Parses an RFC 3339 timestamp (``Z`` suffix and nanoseconds allowed) into an aware
    ``datetime``; works on Python 3.9, whose ``fromisoformat`` is strict."""
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    match = _FRACTION.search(text)
    if match:
        digits = (match.group(1) + "000000")[:6]
        text = text[: match.start()] + "." + digits + text[match.end() :]
    parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    return parsed


def _camel_network_to_info(network: Mapping[str, Any]) -> SandboxNetworkInfo:
    result: Dict[str, Any] = {}
    if network.get("allowOut") is not None:
        result["allow_out"] = list(network["allowOut"])
    if network.get("denyOut") is not None:
        result["deny_out"] = list(network["denyOut"])
    if network.get("rules") is not None:
        result["rules"] = dict(network["rules"])
    proxy = network.get("egressProxy")
    if isinstance(proxy, Mapping) and "address" in proxy:
        info: Dict[str, Any] = {"address": proxy["address"]}
        if proxy.get("username") is not None:
            info["username"] = proxy["username"]
        tls = proxy.get("tls")
        if isinstance(tls, Mapping) and tls.get("enabled") is True:
            info["tls"] = {"server_name": tls["serverName"]} if tls.get("serverName") is not None else {}
        result["egress_proxy"] = info
    if network.get("dnsServers") is not None:
        result["dns_servers"] = list(network["dnsServers"])
    if network.get("allowPublicTraffic") is not None:
        result["allow_public_traffic"] = network["allowPublicTraffic"]
    if network.get("maskRequestHost") is not None:
        result["mask_request_host"] = network["maskRequestHost"]
    if network.get("httpsPorts") is not None:
        result["https_ports"] = list(network["httpsPorts"])
    return result  # type: ignore[return-value]


def sandbox_info_from_json(data: Mapping[str, Any], detail: bool) -> SandboxInfo:
    """Builds a :class:`SandboxInfo` from a ``SandboxDetail`` (``detail=True``) or a
    ``ListedSandbox`` JSON object."""
    alias = data.get("alias")
    metadata = data.get("metadata")
    mounts = data.get("volumeMounts")
    network = data.get("network") if detail else None
    lifecycle = data.get("lifecycle") if detail else None
    domain = data.get("domain") if detail else None
    allow = data.get("allowInternetAccess") if detail else None
    return SandboxInfo(
        sandbox_id=data["sandboxID"],
        sandbox_domain=domain if isinstance(domain, str) else None,
        template_id=data["templateID"],
        name=alias if isinstance(alias, str) else None,
        metadata=dict(metadata) if isinstance(metadata, dict) else {},
        started_at=parse_datetime(data["startedAt"]),
        end_at=parse_datetime(data["endAt"]),
        state=SandboxState(data["state"]),
        cpu_count=data["cpuCount"],
        memory_mb=data["memoryMB"],
        envd_version=data["envdVersion"],
        allow_internet_access=allow if isinstance(allow, bool) else None,
        network=_camel_network_to_info(network) if isinstance(network, Mapping) else None,
        lifecycle=(
            {"on_timeout": lifecycle["onTimeout"], "auto_resume": lifecycle["autoResume"]}  # type: ignore[typeddict-item]
            if isinstance(lifecycle, Mapping)
            else None
        ),
        volume_mounts=[{"name": m["name"], "path": m["path"]} for m in mounts] if isinstance(mounts, list) else [],
        envd_unresponsive_at_pause=True if data.get("envdUnresponsiveAtPause") is True else None,
    )


def metrics_from_json(data: Mapping[str, Any]) -> SandboxMetrics:
    """Builds :class:`SandboxMetrics` from a ``SandboxMetric`` JSON object."""
    return SandboxMetrics(
        cpu_count=data["cpuCount"],
        cpu_used_pct=data["cpuUsedPct"],
        disk_total=data["diskTotal"],
        disk_used=data["diskUsed"],
        mem_total=data["memTotal"],
        mem_used=data["memUsed"],
        mem_cache=data["memCache"],
        timestamp=parse_datetime(data["timestamp"]),
    )


def resolve_snapshot_memory(field_name: str, mode: Optional[str], keep_memory: Optional[bool] = None) -> Optional[bool]:
    """``mode`` (or the deprecated ``keep_memory``) as the API's ``memory`` flag; ``None``
    leaves the API default."""
    if mode is not None and keep_memory is not None:
        raise InvalidArgumentException(f"Pass either {field_name} or the deprecated keep_memory, not both.")
    if mode is None:
        return keep_memory
    allowed = ("full", "filesystem")
    if mode not in allowed:
        raise InvalidArgumentException(f"{field_name} must be one of: {', '.join(allowed)} (got {mode!r}).")
    return mode == "full"


def resolve_connect_memory(on_resume: Optional[str]) -> Optional[bool]:
    """``on_resume`` as ``ConnectSandboxV2.memory`` (``False`` for reboot, else omitted)."""
    if on_resume is None:
        return None
    allowed = ("restore", "reboot")
    if on_resume not in allowed:
        raise InvalidArgumentException(f"on_resume must be one of: {', '.join(allowed)} (got {on_resume!r}).")
    return False if on_resume == "reboot" else None


def resolve_idempotency_key(key: Optional[str]) -> Optional[str]:
    """Validates ``idempotency_key`` (1–255 characters of ``[a-z0-9-]``)."""
    if key is None:
        return None
    if not isinstance(key, str):
        raise InvalidArgumentException(f"Invalid idempotency_key: expected a string, got {type(key).__name__}.")
    if len(key) < 1 or len(key) > 255:
        raise InvalidArgumentException(f"Invalid idempotency_key: expected 1-255 characters, got {len(key)}.")
    if re.fullmatch(r"[a-z0-9-]+", key) is None:
        raise InvalidArgumentException(
            "Invalid idempotency_key: only lowercase letters, digits and hyphens are allowed."
        )
    return key


def build_lifecycle_fields(lifecycle: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The ``autoPause`` / ``autoPauseMemory`` / ``autoResume`` create fields (only those set)."""
    on_timeout_raw = lifecycle.get("on_timeout") if lifecycle else None
    configured = on_timeout_raw is not None
    if isinstance(on_timeout_raw, dict):
        on_timeout = on_timeout_raw.get("action")
        pause_opts: Dict[str, Any] = dict(on_timeout_raw)
    else:
        on_timeout = on_timeout_raw if configured else "kill"
        pause_opts = {}
    allowed = ("pause", "kill")
    if configured and on_timeout not in allowed:
        name = 'on_timeout["action"]' if isinstance(on_timeout_raw, dict) else "on_timeout"
        raise InvalidArgumentException(f"{name} must be one of: {', '.join(allowed)} (got {on_timeout!r}).")
    if ("mode" in pause_opts or "keep_memory" in pause_opts) and on_timeout != "pause":
        raise InvalidArgumentException("mode is only allowed when on_timeout action is 'pause'.")
    memory = resolve_snapshot_memory('on_timeout["mode"]', pause_opts.get("mode"), pause_opts.get("keep_memory"))
    auto_resume = lifecycle.get("auto_resume") if lifecycle else None
    if auto_resume and on_timeout != "pause":
        raise InvalidArgumentException("auto_resume can only be True when on_timeout action is 'pause'.")
    if memory is False and auto_resume:
        raise InvalidArgumentException(
            "auto_resume: True is not a valid value with mode: 'filesystem' - a filesystem-only "
            "snapshot cannot be auto-resumed by traffic and must be resumed explicitly using "
            "Sandbox.connect()."
        )
    fields: Dict[str, Any] = {}
    if configured:
        fields["autoPause"] = on_timeout == "pause"
    if on_timeout == "pause" and memory is not None:
        fields["autoPauseMemory"] = memory
    if auto_resume is not None:
        fields["autoResume"] = {"enabled": auto_resume}
    return fields


def _iam_placeholders(names: List[str]) -> Mapping[str, str]:
    class _Tokens(dict):
        def __missing__(self, key: str) -> str:
            raise InvalidArgumentException(f"IAM token {key!r} is not registered in the sandbox's iam options.")

    return _Tokens({n: "${e2b.identity.tokens." + n + "}" for n in names})


def build_iam_body(iam: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The ``iam`` create field (``None`` for no tokens)."""
    if not iam or not iam.get("tokens"):
        return None
    tokens: Dict[str, Any] = {}
    for name, token in iam["tokens"].items():
        if (
            not isinstance(token, dict)
            or not isinstance(token.get("audience"), str)
            or not isinstance(token.get("token_type"), str)
        ):
            raise InvalidArgumentException(
                f"iam token {name!r} must be a dict with string 'audience' and 'token_type' values "
                "(snake_case 'token_type', not 'tokenType')."
            )
        if not name or any(c in name for c in "{}") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
            raise InvalidArgumentException(
                f"iam token name {name!r} must be non-empty and contain no '{{', '}}' or control characters."
            )
        tokens[name] = {"audience": token["audience"], "tokenType": token["token_type"]}
    return {"tokens": tokens}


def build_network_body(
    network: Optional[Mapping[str, Any]], iam_body: Optional[Mapping[str, Any]] = None, update: bool = False
) -> Optional[Dict[str, Any]]:
    """The ``network`` create field (or the update body) in wire form, with callables resolved."""
    if network is None:
        return None
    rules = network.get("rules") or {}
    token_names = list((iam_body or {}).get("tokens", {}).keys())
    body: Dict[str, Any] = {}
    for key, wire in (("allow_out", "allowOut"), ("deny_out", "denyOut")):
        selector = network.get(key)
        if selector is None:
            continue
        if callable(selector):
            selector = selector(SandboxNetworkSelectorContext(all_traffic=ALL_TRAFFIC, rules=rules))
        body[wire] = list(selector)
    proxy = network.get("egress_proxy")
    if proxy is not None:
        if not isinstance(proxy, Mapping) or not isinstance(proxy.get("address"), str):
            raise InvalidArgumentException(
                "network egress_proxy must be a dict with a string 'address' (e.g. 'proxy.example.com:1080')."
            )
        wire_proxy: Dict[str, Any] = {"address": proxy["address"]}
        for k in ("username", "password"):
            if proxy.get(k) is not None:
                wire_proxy[k] = proxy[k]
        tls = proxy.get("tls")
        if tls is not None:
            if isinstance(tls, bool):
                if tls:
                    wire_proxy["tls"] = {"enabled": True}
            elif isinstance(tls, Mapping):
                if "enabled" in tls:
                    raise InvalidArgumentException(
                        "network egress_proxy tls takes no 'enabled'; pass tls=True or tls=False instead."
                    )
                wire_tls: Dict[str, Any] = {"enabled": True}
                if tls.get("server_name") is not None:
                    wire_tls["serverName"] = tls["server_name"]
                if tls.get("ca_cert") is not None:
                    wire_tls["caCert"] = tls["ca_cert"]
                wire_proxy["tls"] = wire_tls
            else:
                raise InvalidArgumentException("network egress_proxy tls must be a bool or a dict.")
        body["egressProxy"] = wire_proxy
    if network.get("dns_servers") is not None:
        body["dnsServers"] = list(network["dns_servers"])
    if network.get("rules") is not None:
        ctx = SandboxNetworkTransformContext(iam=_SandboxNetworkTransformIam(tokens=_iam_placeholders(token_names)))
        wire_rules: Dict[str, Any] = {}
        for host, host_rules in network["rules"].items():
            converted = []
            for rule in host_rules:
                transform = rule.get("transform")
                if transform is None:
                    converted.append({})
                    continue
                if callable(transform):
                    transform = transform(ctx)
                    if not isinstance(transform, Mapping):
                        raise InvalidArgumentException(
                            f"Network transform callable for {host!r} must return a transform dict, "
                            f"got {type(transform).__name__}."
                        )
                wire_transform: Dict[str, Any] = {}
                if transform.get("headers"):
                    wire_transform["headers"] = dict(transform["headers"])
                converted.append({"transform": wire_transform})
            wire_rules[host] = converted
        body["rules"] = wire_rules
    if update:
        if "allow_internet_access" in network:
            body["allow_internet_access"] = network["allow_internet_access"]
        return body
    if "allow_public_traffic" in network:
        body["allowPublicTraffic"] = network["allow_public_traffic"]
    if "mask_request_host" in network:
        body["maskRequestHost"] = network["mask_request_host"]
    if network.get("https_ports") is not None:
        body["httpsPorts"] = list(network["https_ports"])
    return body


def build_create_extra(
    network: Optional[Mapping[str, Any]],
    iam: Optional[Mapping[str, Any]],
    lifecycle: Optional[Mapping[str, Any]],
    volume_mounts: Optional[Mapping[str, Any]],
) -> Optional[str]:
    """The create-body fields beyond the basic ones, as a JSON object string (or ``None``)."""
    extra: Dict[str, Any] = build_lifecycle_fields(lifecycle)
    iam_body = build_iam_body(iam)
    network_body = build_network_body(network, iam_body)
    if network_body:
        extra["network"] = network_body
    if iam_body:
        extra["iam"] = iam_body
    if volume_mounts:
        extra["volumeMounts"] = [
            {"name": vol if isinstance(vol, str) else vol.name, "path": path} for path, vol in volume_mounts.items()
        ]
    if not extra:
        return None
    import json

    return json.dumps(extra)


def list_query_args(
    query: Optional[SandboxQuery], limit: Optional[int], next_token: Optional[str], order: Optional[str]
) -> Dict[str, Any]:
    """Keyword arguments of the native list call for one page."""
    if order is not None and order not in ("asc", "desc"):
        raise InvalidArgumentException(f"Invalid order {order!r}, expected 'asc' or 'desc'")
    args: Dict[str, Any] = {"order": order, "limit": limit or None, "next_token": next_token or None}
    if query is not None:
        if query.metadata:
            args["metadata"] = [(str(k), str(v)) for k, v in query.metadata.items()]
        if query.state:
            args["state"] = [s.value for s in query.state]
        if query.started_after:
            args["started_after"] = query.started_after.astimezone().isoformat()
        if query.template:
            args["template"] = query.template
    return args


class PaginatorBase:
    """Cursor-based pagination state shared by the list paginators."""

    def __init__(self, limit: Optional[int] = None, next_token: Optional[str] = None, **opts: "Unpack[ApiParams]"):
        self._opts = opts
        self.limit = limit
        self._has_next = True
        self._next_token = next_token

    @property
    def has_next(self) -> bool:
        """``True`` while there may be more items to fetch."""
        return self._has_next

    @property
    def next_token(self) -> Optional[str]:
        """The cursor of the next page."""
        return self._next_token

    def _update_pagination(self, next_token: Optional[str]) -> None:
        self._next_token = next_token
        self._has_next = bool(next_token)


class SandboxPaginatorBase(PaginatorBase):
    """State of a sandbox list paginator."""

    def __init__(
        self,
        query: Optional[SandboxQuery] = None,
        limit: Optional[int] = None,
        next_token: Optional[str] = None,
        order: Optional[SandboxListOrder] = None,
        **opts: "Unpack[ApiParams]",
    ):
        super().__init__(limit=limit, next_token=next_token, **opts)
        self.query = query
        self.order = order


class SnapshotPaginatorBase(PaginatorBase):
    """State of a snapshot list paginator."""

    def __init__(
        self,
        sandbox_id: Optional[str] = None,
        limit: Optional[int] = None,
        next_token: Optional[str] = None,
        name: Optional[str] = None,
        **opts: "Unpack[ApiParams]",
    ):
        super().__init__(limit=limit, next_token=next_token, **opts)
        self.sandbox_id = sandbox_id
        self.name = name
