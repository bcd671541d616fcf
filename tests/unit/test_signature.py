"""Signed file URLs (docs/protocol.md#signed-urls)."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
from e2b import ConnectionConfig, InvalidArgumentException, Sandbox, get_signature


def test_signature_matches_a_hand_computed_value():
    # Expected values computed independently: base64(sha256(raw)) without padding.
    assert get_signature("/home/user/a.txt", "read", None, "tok") == {
        "signature": "v1_"
        + base64.b64encode(hashlib.sha256(b"/home/user/a.txt:read::tok").digest()).rstrip(b"=").decode(),
        "expiration": None,
    }
    assert (
        get_signature("a.txt", "write", "root", "secret")["signature"]
        == "v1_1mGd2Y6TwDcy41vF3LMF7wqw4glzb67R6t+TcF/wfOo"
    )


def test_signature_with_expiration(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.5)
    sig = get_signature("p", "read", "user", "tok", 60)
    assert sig["expiration"] == 1_700_000_060
    raw = b"p:read:user:tok:1700000060"
    assert sig["signature"] == "v1_" + base64.b64encode(hashlib.sha256(raw).digest()).rstrip(b"=").decode()


def test_signature_requires_a_token():
    with pytest.raises(ValueError):
        get_signature("p", "read", None, None)


def _sandbox(token=None, version="0.6.13"):
    config = ConnectionConfig(api_key="k", sandbox_url="http://127.0.0.1:9")
    return Sandbox(
        sandbox_id="sbx1",
        sandbox_domain=None,
        envd_version=version,
        envd_access_token=token,
        traffic_access_token=None,
        connection_config=config,
    )


def test_download_and_upload_urls():
    sbx = _sandbox(token="tok")
    expected = get_signature("/tmp/a b.txt", "read", None, "tok")["signature"]
    url = sbx.download_url("/tmp/a b.txt")
    assert url.startswith("http://127.0.0.1:9/files?path=%2Ftmp%2Fa%20b.txt&signature=v1_")
    from urllib.parse import parse_qs, urlsplit

    assert parse_qs(urlsplit(url).query)["signature"] == [expected]
    up = sbx.upload_url("x", user="root")
    assert parse_qs(urlsplit(up).query) == {
        "path": ["x"],
        "username": ["root"],
        "signature": [get_signature("x", "write", "root", "tok")["signature"]],
    }
    exp = sbx.download_url("x", use_signature_expiration=30)
    assert "signature_expiration=" in exp


def test_unsigned_urls_and_expiration_without_token():
    sbx = _sandbox()
    assert sbx.download_url("x") == "http://127.0.0.1:9/files?path=x"
    with pytest.raises(InvalidArgumentException, match="only when sandbox is created as secured"):
        sbx.upload_url("x", use_signature_expiration=10)


def test_old_envd_sends_the_default_user():
    assert _sandbox(version="0.3.0").download_url("x") == "http://127.0.0.1:9/files?path=x&username=user"
