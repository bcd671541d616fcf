"""``e2b-local``: the command line of the local sandbox runtime (``e2b-local serve``,
``status``, ``list``, ``kill``, ``logs``, ``stop``); also ``python -m e2b._local``."""

from __future__ import annotations

import sys


def main() -> None:
    """Runs the ``e2b-local`` command line with ``sys.argv`` and exits with its code."""
    from e2b import _native

    sys.exit(_native.cli_main(sys.argv[1:], sys.executable, _native.__file__))


if __name__ == "__main__":
    main()
