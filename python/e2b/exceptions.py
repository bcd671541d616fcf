"""Exceptions raised by the SDK, with the same classes and bases as upstream ``e2b`` 2.63.0.

The Rust core decides *which* of these to raise (by class name); they live here as plain
Python classes so that ``except`` and ``isinstance`` work exactly as with the upstream SDK.
"""

from __future__ import annotations

from typing import Optional

# Substrings of the proxy's 502 messages that tell a stopped sandbox from an unreachable one.
SANDBOX_NOT_FOUND_MESSAGE = "was not found"
SANDBOX_PORT_NOT_OPEN_MESSAGE = "port is not open"


def format_request_timeout_error() -> Exception:
    """The ``TimeoutException`` raised when a request exceeds ``request_timeout``."""
    return TimeoutException(
        "Request timed out — the 'request_timeout' option can be used to increase this timeout",
    )


class SandboxException(Exception):
    """
    Base class of the sandbox errors: a generic failure of a sandbox, the API or envd.

    :param status_code: HTTP status of the API response this error was built from, if any.
    """

    status_code: Optional[int] = None
    """HTTP status of the API response behind this error (``None`` when there was none)."""

    def __init__(self, *args, status_code: Optional[int] = None):
        super().__init__(*args)
        self.status_code = status_code


class TimeoutException(SandboxException):
    """
    Raised when a timeout occurs: a request exceeded ``request_timeout``, a long-running
    request (command, watch, code execution) exceeded its ``timeout``, or the sandbox stopped
    answering (see the two subclasses below).
    """


class InvalidArgumentException(SandboxException):
    """Raised when an argument is invalid (checked client-side or refused by envd)."""


class NotEnoughSpaceException(SandboxException):
    """Raised when the sandbox ran out of disk space."""


class NotFoundException(SandboxException):
    """
    Raised when a resource is not found.

    .. deprecated::
        Catch :class:`FileNotFoundException` or :class:`SandboxNotFoundException` instead.
    """


class FileNotFoundException(NotFoundException):
    """Raised when a file or directory does not exist inside the sandbox."""


class SandboxNotFoundException(NotFoundException):
    """Raised when the API does not know the sandbox (it never existed or is gone)."""


class SandboxNotRunningException(TimeoutException):
    """
    Raised when the sandbox is not running any more — killed, paused or timed out — as
    reported by the proxy in front of it (or by the health probe after a failed request).
    Retrying will not help; create or resume a sandbox.
    """


class SandboxUnreachableException(TimeoutException):
    """
    Raised when the sandbox could not be reached although it is not known to be stopped:
    envd's port is not open, or the connection failed and the health probe got no answer
    either. Check the sandbox with ``Sandbox.get_info()``.
    """


class AuthenticationException(Exception):
    """Raised when authentication fails (missing or rejected API key or access token)."""


class GitAuthException(AuthenticationException):
    """
    Raised when git authentication fails.

    :deprecated: Run git with ``sandbox.commands.run()`` instead.
    """


class GitUpstreamException(SandboxException):
    """
    Raised when git upstream tracking is missing.

    :deprecated: Run git with ``sandbox.commands.run()`` instead.
    """


class TemplateException(SandboxException):
    """Raised when the sandbox's template (its envd) is too old for the requested feature."""


class RateLimitException(SandboxException):
    """Raised when the API rate limit is exceeded; ``status_code`` is always 429."""

    def __init__(self, *args):
        super().__init__(*args, status_code=429)


class GuestUnresponsiveException(SandboxException):
    """
    Raised when a paused sandbox cannot be resumed with its memory because its snapshot was
    taken while envd was not responding. Resume it with ``on_resume="reboot"``.
    """

    code = "sandbox_snapshot_guest_agent_unresponsive"
    """The API's ``error_code`` for this exception."""

    def __init__(self, *args):
        super().__init__(*args, status_code=409)


class ServiceBusyException(Exception):
    """
    Raised when the API answered 503: the service is temporarily busy and nothing was
    changed, so the same call can be retried after a short wait. Not a
    :class:`SandboxException` — catch it explicitly.
    """

    status_code = 503
    """HTTP status of the API response: always 503."""


class BuildException(Exception):
    """Raised when a template build fails."""


class FileUploadException(BuildException):
    """Raised when uploading files for a template build fails."""


class VolumeException(Exception):
    """Base class of the volume errors."""


class VolumeNotFoundException(NotFoundException):
    """Raised when a volume is not found."""


class VolumePathNotFoundException(NotFoundException):
    """Raised when a file or directory is not found inside a volume."""


class SecretException(Exception):
    """Base class of the secret errors."""


class SecretNotFoundException(SecretException):
    """Raised when a secret is not found."""
