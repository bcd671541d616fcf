"""Exception classes: exact bases and 2.63.0 ``status_code`` semantics
(docs/protocol.md#exception-classes)."""

from __future__ import annotations

import e2b
from e2b import exceptions as ex


def test_bases():
    expected = {
        "SandboxException": Exception,
        "TimeoutException": ex.SandboxException,
        "SandboxNotRunningException": ex.TimeoutException,
        "SandboxUnreachableException": ex.TimeoutException,
        "GuestUnresponsiveException": ex.SandboxException,
        "ServiceBusyException": Exception,
        "InvalidArgumentException": ex.SandboxException,
        "NotEnoughSpaceException": ex.SandboxException,
        "NotFoundException": ex.SandboxException,
        "FileNotFoundException": ex.NotFoundException,
        "SandboxNotFoundException": ex.NotFoundException,
        "VolumeNotFoundException": ex.NotFoundException,
        "VolumePathNotFoundException": ex.NotFoundException,
        "TemplateException": ex.SandboxException,
        "RateLimitException": ex.SandboxException,
        "GitUpstreamException": ex.SandboxException,
        "AuthenticationException": Exception,
        "GitAuthException": ex.AuthenticationException,
        "BuildException": Exception,
        "FileUploadException": ex.BuildException,
        "VolumeException": Exception,
        "SecretException": Exception,
        "SecretNotFoundException": ex.SecretException,
    }
    for name, base in expected.items():
        cls = getattr(e2b, name)
        assert cls.__bases__ == (base,), name
    assert e2b.CommandExitException.__bases__ == (ex.SandboxException, e2b.CommandResult)
    assert e2b.DockerfileSyntaxError.__bases__ == (ValueError,)
    assert not issubclass(e2b.AuthenticationException, e2b.SandboxException)
    assert not issubclass(e2b.ServiceBusyException, e2b.SandboxException)


def test_status_codes():
    assert ex.SandboxException("x").status_code is None
    assert ex.SandboxException("x", status_code=400).status_code == 400
    assert ex.TimeoutException("t").status_code is None
    assert ex.RateLimitException("r").status_code == 429
    assert ex.GuestUnresponsiveException("g").status_code == 409
    assert ex.GuestUnresponsiveException.code == "sandbox_snapshot_guest_agent_unresponsive"
    assert ex.ServiceBusyException.status_code == 503
    assert e2b.CommandExitException(stderr="e", stdout="", exit_code=1, error=None).status_code is None


def test_command_exit_exception_text():
    err = e2b.CommandExitException(stderr="boom", stdout="out", exit_code=2, error="exit status 2")
    assert str(err) == "Command exited with code 2 and error:\nboom"
    assert (
        str(e2b.CommandExitException(stderr=None, stdout=None, exit_code=3, error=None)) == "Command exited with code 3"
    )
    assert isinstance(err, e2b.CommandResult) and err.exit_code == 2


def test_request_timeout_text():
    assert str(ex.format_request_timeout_error()) == (
        "Request timed out — the 'request_timeout' option can be used to increase this timeout"
    )
