"""Signatures of the pre-authorised file URLs (``download_url`` / ``upload_url``)."""

from __future__ import annotations

import time
from typing import Literal, Optional, TypedDict

Operation = Literal["read", "write"]


class Signature(TypedDict):
    """A URL signature and its expiry (unix seconds), if any."""

    signature: str
    expiration: Optional[int]


def get_signature(
    path: str,
    operation: Operation,
    user: Optional[str],
    envd_access_token: Optional[str],
    expiration_in_seconds: Optional[int] = None,
) -> Signature:
    """
    Computes the v1 signature envd checks on ``/files`` URLs:
    ``"v1_" + base64(sha256("{path}:{operation}:{user}:{token}[:{expiration}]"))`` without
    padding, where ``user`` is empty for the default user.

    :raises ValueError: when there is no access token to sign with
    """
    import base64
    import hashlib

    if not envd_access_token:
        raise ValueError("Access token is not set and signature cannot be generated!")
    expiration = int(time.time()) + expiration_in_seconds if expiration_in_seconds is not None else None
    raw = f"{path}:{operation}:{user or ''}:{envd_access_token}"
    if expiration is not None:
        raw += f":{expiration}"
    digest = hashlib.sha256(raw.encode("utf-8")).digest()
    encoded = base64.b64encode(digest).rstrip(b"=").decode("ascii")
    return {"signature": f"v1_{encoded}", "expiration": expiration}
