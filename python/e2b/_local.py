"""``e2b-local``: the command line of the local sandbox runtime (``e2b-local serve``,
``status``, ``list``, ``kill``, ``logs``, ``stop``); also ``python -m e2b._local``.

A build of e2b without the local runtime (anything but x86-64 Linux) still installs the
command: it says that local sandboxes need x86-64 Linux and exits with status 1."""

from __future__ import annotations

import sys


def main() -> None:
    """Runs the ``e2b-local`` command line with ``sys.argv`` and exits with its code."""
    from e2b import _native

    if not _native.LOCAL_RUNTIME:
        print(
            f"e2b-local: {_native.LOCAL_RUNTIME_UNAVAILABLE} To use the E2B cloud, set "
            "E2B_API_KEY (keys: https://e2b.dev/dashboard?tab=keys).",
            file=sys.stderr,
        )
        sys.exit(1)
    sys.exit(_native.cli_main(sys.argv[1:], sys.executable, _native.__file__))


if __name__ == "__main__":
    main()
