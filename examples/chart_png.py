"""A matplotlib chart made in a sandbox and saved on this machine as a PNG file.

The code interpreter returns every figure a cell displays as a result; `result.png` holds the
image, base64-encoded. Needs matplotlib in the sandbox's Python (`pip install 'e2b[data]'`).

    python examples/chart_png.py [OUT.png]      (default: chart.png)
"""

import base64
import sys

from e2b_code_interpreter import Sandbox

CODE = """
import matplotlib.pyplot as plt

months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
signups = [120, 180, 260, 310, 450, 610]
fig, ax = plt.subplots(figsize=(6, 4))
ax.bar(months, signups, color="#ff8800")
ax.set_title("Sign-ups per month")
ax.set_ylabel("sign-ups")
plt.show()
"""

out = sys.argv[1] if len(sys.argv) > 1 else "chart.png"
with Sandbox.create() as sandbox:
    execution = sandbox.run_code(CODE)
    if execution.error:
        sys.exit(f"{execution.error.name}: {execution.error.value}")
    result = execution.results[0]
    with open(out, "wb") as f:
        f.write(base64.b64decode(result.png))
    # e2b-charts also describes the chart as data (type, title, elements).
    chart = result.chart
    print(f"saved {out}; chart: {chart.type.value if chart else None} {chart.title if chart else ''!r}")
