"""Paginators of the sync API."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from e2b.connection_config import ConnectionConfig, merge_api_params
from e2b.sandbox.sandbox_api import SandboxInfo, SandboxPaginatorBase, list_query_args, sandbox_info_from_json

if TYPE_CHECKING:  # pragma: no cover
    from e2b._extras import SnapshotPaginator
    from typing_extensions import Unpack

    from e2b.connection_config import ApiParams

__all__ = ["SandboxPaginator", "SnapshotPaginator"]


class SandboxPaginator(SandboxPaginatorBase):
    """
    Paginator over sandboxes.

    Example::

        paginator = Sandbox.list()
        while paginator.has_next:
            sandboxes = paginator.next_items()
    """

    def next_items(self, **opts: "Unpack[ApiParams]") -> List[SandboxInfo]:
        """
        Fetches the next page of sandboxes. Call only while ``has_next`` is true.

        :param opts: Connection options for this call, on top of the paginator's
        :return: List of sandboxes
        :raises Exception: ``"No more items to fetch"`` when there is no next page
        """
        if not self.has_next:
            raise Exception("No more items to fetch")
        args = list_query_args(self.query, self.limit, self._next_token, self.order)
        config = ConnectionConfig(**merge_api_params(self._opts, opts))
        items, next_token = config._native_connection().list_sandboxes(False, **args)
        self._update_pagination(next_token)
        return [sandbox_info_from_json(item, detail=False) for item in items]


def __getattr__(name: str):
    if name == "SnapshotPaginator":  # re-exported as upstream does; imported on first use
        from e2b._extras import SnapshotPaginator

        return SnapshotPaginator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
