"""Compatibility tier for the code interpreter: the official `e2b-code-interpreter` 2.11.5
from PyPI (own virtualenv, subprocess) against our local runtime — rich results, contexts,
languages, env vars, interrupt."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from official import requires_official_sdk, run_official

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from ci_support import HAS_BASH, HAS_DATA, HAS_JS, NASTY_VALUE, requires_data  # noqa: E402

pytestmark = [pytest.mark.compat, requires_official_sdk]


def official_json(local_runtime, code: str, timeout: float = 240) -> dict:
    """Runs `code` with the official SDK; it must print one JSON object as its last line."""
    out = run_official(local_runtime, code, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_rich_results_through_official_sdk(local_runtime):
    got = official_json(local_runtime, """
        import json
        from e2b_code_interpreter import Sandbox
        sbx = Sandbox.create()
        try:
            ex = sbx.run_code(
                "from IPython.display import display, HTML, Markdown, SVG, Latex, JSON\\n"
                "display(HTML('<b>b</b>'))\\n"
                "display(Markdown('# m'))\\n"
                "display(SVG('<svg xmlns=\\\\'http://www.w3.org/2000/svg\\\\'></svg>'))\\n"
                "display(Latex('$x$'))\\n"
                "display({'application/x-custom': {'a': 1}, 'text/plain': 'c'}, raw=True)\\n"
                "{'k': [1, 2]}"
            )
            r = ex.results
            print(json.dumps(dict(
                main=[x.is_main_result for x in r],
                html=r[0].html, markdown=r[1].markdown, svg=r[2].svg[:4], latex=r[3].latex,
                extra=r[4].extra, json=r[5].json, text=ex.text,
                formats=list(r[0].formats()), count=ex.execution_count,
                error=ex.error is None,
            )))
        finally:
            sbx.kill()
    """)
    assert got["main"] == [False, False, False, False, False, True]
    assert got["html"] == "<b>b</b>" and got["markdown"] == "# m" and got["svg"] == "<svg"
    assert got["latex"] == "$x$"
    assert got["extra"] == {"application/x-custom": {"a": 1}}
    assert got["json"] == {"k": [1, 2]} and got["text"] == "{'k': [1, 2]}"
    assert got["formats"] == ["text", "html"] and got["count"] == 1 and got["error"]


@requires_data
def test_charts_and_dataframes_through_official_sdk(local_runtime):
    got = official_json(local_runtime, """
        import json
        from e2b_code_interpreter import Sandbox
        from e2b_code_interpreter.charts import LineChart
        sbx = Sandbox.create()
        try:
            ex = sbx.run_code(
                "import matplotlib.pyplot as plt\\n"
                "plt.plot([1, 2, 3], [1, 4, 9], label='sq')\\n"
                "plt.title('Squares')\\nplt.xlabel('x (s)')\\nplt.ylabel('y')\\nplt.show()"
            )
            r = ex.results[0]
            c = r.chart
            df = sbx.run_code("import pandas as pd\\npd.DataFrame({'a': [1, 2]})").results[0]
            print(json.dumps(dict(
                png=bool(r.png), is_line=isinstance(c, LineChart), title=c.title,
                x_label=c.x_label, x_unit=c.x_unit, label=c.elements[0].label,
                points=[[float(x), float(y)] for x, y in c.elements[0].points],
                data=df.data, html="<table" in df.html,
            )))
        finally:
            sbx.kill()
    """)
    assert got["png"] and got["is_line"]
    assert (got["title"], got["x_label"], got["x_unit"], got["label"]) == ("Squares", "x (s)", "s", "sq")
    assert got["points"] == [[1, 1], [2, 4], [3, 9]]
    assert got["data"] == {"a": [1, 2]} and got["html"]


def test_contexts_through_official_sdk(local_runtime):
    got = official_json(local_runtime, """
        import json
        from e2b_code_interpreter import Sandbox
        from e2b.exceptions import NotFoundException, SandboxException
        sbx = Sandbox.create()
        try:
            listed = sorted(c.language for c in sbx.list_code_contexts())
            ctx = sbx.create_code_context(cwd="/tmp", language="python")
            cwd = sbx.run_code("import os; os.getcwd()", context=ctx).text
            sbx.run_code("y = 5", context=ctx)
            isolated = sbx.run_code("'y' in globals()").text
            sbx.restart_code_context(ctx)
            after_restart = sbx.run_code("'y' in globals()", context=ctx).text
            sbx.remove_code_context(ctx.id)
            try:
                sbx.run_code("1", context=ctx)
                removed = "no error"
            except NotFoundException:
                removed = "NotFoundException"
            try:
                sbx.run_code("1", language="cobol")
                unknown = ""
            except SandboxException as e:
                unknown = str(e)
            print(json.dumps(dict(listed=listed, ctx=[ctx.language, ctx.cwd], cwd=cwd,
                                  isolated=isolated, after_restart=after_restart,
                                  removed=removed, unknown=unknown)))
        finally:
            sbx.kill()
    """)
    assert got["listed"] == (["javascript", "python"] if HAS_JS else ["python"])
    assert got["ctx"] == ["python", "/tmp"] and got["cwd"] == "/tmp"
    assert got["isolated"] == "False" and got["after_restart"] == "False"
    assert got["removed"] == "NotFoundException"
    assert got["unknown"].startswith("500 Internal Server Error: language 'cobol'")


@pytest.mark.skipif(not (HAS_JS and HAS_BASH), reason="needs Deno and bash_kernel (pip install 'e2b[local]')")
def test_languages_and_envs_through_official_sdk(local_runtime):
    got = official_json(local_runtime, """
        import json
        from e2b_code_interpreter import Sandbox
        VALUE = %r
        sbx = Sandbox.create(envs={"GLOBAL_VAR": "g"})
        try:
            out = {}
            out["js"] = sbx.run_code("console.log('Hello, World!')", language="js").logs.stdout
            out["ts"] = sbx.run_code("const m: string = 'typed'; m", language="ts").text
            out["bash"] = sbx.run_code("echo hi", language="bash").logs.stdout
            out["js_cwd"] = sbx.run_code("process.cwd()", language="js").text
            for lang, code in [("python", "import os; print(os.environ['FOO'])"),
                               ("js", "console.log(process.env.FOO)"),
                               ("bash", 'echo "$FOO"')]:
                out["env_" + lang] = "".join(sbx.run_code(code, language=lang, envs={"FOO": VALUE}).logs.stdout)
            out["global_js"] = sbx.run_code("process.env.GLOBAL_VAR", language="js").text
            out["global_bash"] = sbx.run_code("echo $GLOBAL_VAR", language="bash").logs.stdout
            out["restored"] = sbx.run_code("import os; os.environ.get('FOO', 'unset')").text
            print(json.dumps(out))
        finally:
            sbx.kill()
    """ % NASTY_VALUE)
    assert got["js"] == ["Hello, World!\n"] and got["ts"] == "typed" and got["bash"] == ["hi\n"]
    assert got["js_cwd"] == "/home/user"
    for lang in ("python", "js", "bash"):
        assert got["env_" + lang] == NASTY_VALUE + "\n", lang
    assert got["global_js"] == "g" and got["global_bash"] == ["g\n"]
    assert got["restored"] == "unset"


def test_interrupt_through_official_sdk(local_runtime):
    got = official_json(local_runtime, """
        import json, time
        from e2b_code_interpreter import Sandbox
        from e2b.exceptions import TimeoutException
        sbx = Sandbox.create()
        try:
            sbx.run_code("x = 1")
            try:
                sbx.run_code("import time; time.sleep(300)", timeout=3)
                timed_out = False
            except TimeoutException:
                timed_out = True
            start = time.monotonic()
            text = sbx.run_code("x + 1", timeout=30).text
            print(json.dumps(dict(timed_out=timed_out, text=text, elapsed=time.monotonic() - start)))
        finally:
            sbx.kill()
    """)
    assert got["timed_out"] and got["text"] == "2"
    assert got["elapsed"] < 3
