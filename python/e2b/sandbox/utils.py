"""The descriptor behind the "dual" sandbox methods that work both on an instance
(``sbx.kill()``) and on the class with a sandbox ID (``Sandbox.kill("id")``)."""

from __future__ import annotations

import functools
from typing import Any, Generic, Optional, Type, TypeVar, cast

T = TypeVar("T")


class class_method_variant(Generic[T]):
    """
    Decorates an instance method so that calling it on the class dispatches to the
    classmethod named ``class_method_name`` instead. ``Class.method(instance, ...)`` is
    treated as the instance call.
    """

    method: Any

    def __init__(self, class_method_name: str):
        self.class_method_name = class_method_name

    def __call__(self, method: T) -> T:
        self.method = method
        functools.update_wrapper(cast(Any, self), cast(Any, method))
        return cast(T, self)

    def __get__(self, obj: Any, objtype: Optional[Type[Any]] = None):
        @functools.wraps(self.method)
        def _wrapper(*args, **kwargs):
            if obj is not None:
                return self.method(obj, *args, **kwargs)
            if args and objtype is not None and isinstance(args[0], objtype):
                return self.method(args[0], *args[1:], **kwargs)
            return getattr(objtype, self.class_method_name)(*args, **kwargs)

        return _wrapper
