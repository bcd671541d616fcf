"""The OFFICIAL E2B SDK (`pip install e2b-code-interpreter` from PyPI, unmodified) against the
local runtime `e2b-local` — no account, no cloud. Run it in an environment that has the
official SDK, after pointing it at the local daemon:

    e2b-local serve &                 # or any call of our SDK, which starts the daemon
    eval "$(e2b-local env)"           # exports E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY
    python examples/official_sdk.py
"""

import os
import sys

import e2b
from e2b_code_interpreter import Sandbox

if not os.environ.get("E2B_SANDBOX_URL"):
    sys.exit('point the SDK at the local runtime first: eval "$(e2b-local env)"')

with Sandbox.create() as sandbox:
    print("sdk:", e2b.__file__)
    print("sandbox:", sandbox.sandbox_id, sandbox.get_info().template_id)
    print("run_code:", sandbox.run_code("import platform; platform.python_version()").text)
    sandbox.files.write("/home/user/hello.txt", "hello from the official SDK")
    print("files:", sandbox.files.read("/home/user/hello.txt"))
    print("commands:", sandbox.commands.run("cat /home/user/hello.txt | wc -w").stdout.strip())
