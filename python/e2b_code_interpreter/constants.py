"""Defaults of the code-interpreter sandbox."""

DEFAULT_TEMPLATE = "code-interpreter-v1"
"""Template of ``Sandbox.create()`` in this package."""
JUPYTER_PORT = 49999
"""Port of the code-interpreter server inside the sandbox."""
DEFAULT_TIMEOUT = 300
"""Default ``run_code`` timeout in seconds."""
