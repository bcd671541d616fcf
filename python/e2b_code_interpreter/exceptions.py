"""The code interpreter's timeout errors (the Rust core raises the same texts)."""

from e2b import TimeoutException


def format_request_timeout_error() -> Exception:
    """``TimeoutException`` for a request that exceeded ``request_timeout``."""
    return TimeoutException(
        "Request timed out — the 'request_timeout' option can be used to increase this timeout",
    )


def format_execution_timeout_error() -> Exception:
    """``TimeoutException`` for an execution that exceeded ``timeout``."""
    return TimeoutException(
        "Execution timed out — the 'timeout' option can be used to increase this timeout",
    )


def format_sandbox_killed_error() -> Exception:
    """``TimeoutException`` for a sandbox that went away mid-request."""
    return TimeoutException(
        "The sandbox was killed while the request was in progress. "
        "This can happen when the sandbox times out or is killed manually. "
        "You can modify the sandbox timeout by passing 'timeout' when starting the sandbox "
        "or calling '.set_timeout' on the sandbox with the desired timeout",
    )
