"""Callback types of the async API."""

from __future__ import annotations

from typing import Awaitable, Callable, TypeVar, Union

T = TypeVar("T")

OutputHandler = Union[Callable[[T], None], Callable[[T], Awaitable[None]]]
"""A callback receiving output; may be a plain function or a coroutine function."""
