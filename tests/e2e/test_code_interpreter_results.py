"""Rich results (sync API): execute_result vs display_data, every MIME type the SDK knows,
unknown ones in `extra`, DataFrames (`data`), list/dict (`json`), and matplotlib charts
extracted in the sandbox by e2b-charts, compared with the figure that produced them."""

from __future__ import annotations

import base64
import json
import textwrap

import pytest
from ci_support import requires_data

from e2b_code_interpreter import Result
from e2b_code_interpreter.charts import BarChart, ChartType, LineChart, PieChart, ScaleType, SuperChart

PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def test_main_result_and_display_data(sandbox):
    execution = sandbox.run_code("from IPython.display import display\ndisplay('shown')\n'last'")
    assert [r.is_main_result for r in execution.results] == [False, True]
    assert [r.text for r in execution.results] == ["shown", "last"]
    assert execution.text == "last"


def test_every_known_mime_type(sandbox):
    code = textwrap.dedent(
        f"""
        import base64
        from IPython.display import display, HTML, Markdown, SVG, Image, Latex, JSON, Javascript

        class Pdf:
            def _repr_pdf_(self):
                return "JVBERi0xLjQK"

        png = base64.b64decode("{PNG_1PX}")
        display(HTML("<b>bold</b>"))
        display(Markdown("# Title"))
        display(SVG('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>'))
        display(Image(data=png, format="png"))
        display(Image(data=b"\\xff\\xd8\\xff\\xe0fakejpeg", format="jpeg"))
        display(Latex(r"$\\alpha$"))
        display(JSON({{"a": [1, 2]}}))
        display(Javascript("console.log(1)"))
        display(Pdf())
        display({{"application/x-custom+json": {{"k": "v"}}, "text/plain": "custom"}}, raw=True)
        """
    )
    execution = sandbox.run_code(code)
    assert execution.error is None, execution.error
    r = execution.results
    assert len(r) == 10 and not any(x.is_main_result for x in r)
    assert "<b>bold</b>" in r[0].html
    assert r[1].markdown == "# Title"
    assert r[2].svg.startswith("<svg")
    assert base64.b64decode(r[3].png) == base64.b64decode(PNG_1PX)
    assert base64.b64decode(r[4].jpeg).startswith(b"\xff\xd8")
    assert r[5].latex == "$\\alpha$"
    assert r[6].json == {"a": [1, 2]}
    assert r[7].javascript == "console.log(1)"
    assert r[8].pdf == "JVBERi0xLjQK"
    assert r[9].text == "custom" and r[9].extra == {"application/x-custom+json": {"k": "v"}}
    assert list(r[0].formats()) == ["text", "html"]
    assert "application/x-custom+json" in list(r[9].formats())


def test_list_and_dict_results_have_json(sandbox):
    execution = sandbox.run_code("{'a': 1, 'b': [1, 2, None]}")
    result = execution.results[0]
    assert result.is_main_result
    assert result.text == "{'a': 1, 'b': [1, 2, None]}"
    assert result.json == {"a": 1, "b": [1, 2, None]}
    assert sandbox.run_code("[1, 'two']").results[0].json == [1, "two"]


def test_custom_repr_object(sandbox):
    code = "class Fancy:\n    def _repr_html_(self):\n        return '<i>fancy</i>'\nFancy()"
    result = sandbox.run_code(code).results[0]
    assert result.html == "<i>fancy</i>" and result.is_main_result


def test_execution_count(sandbox):
    first = sandbox.run_code("1").execution_count
    second = sandbox.run_code("2").execution_count
    assert second == first + 1


def test_keepalive_lines_while_silent(sandbox, local_runtime):
    """The raw stream carries a keepalive line after 5 s without output
    (docs/protocol.md#interrupts-and-keepalives)."""
    import http.client
    from urllib.parse import urlparse

    url = urlparse(local_runtime["url"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    headers = {
        "Content-Type": "application/json",
        "E2b-Sandbox-Id": sandbox.sandbox_id,
        "E2b-Sandbox-Port": "49999",
    }
    if sandbox._envd_access_token:
        headers["X-Access-Token"] = sandbox._envd_access_token
    body = {"code": "import time; time.sleep(6); 'done'", "context_id": None, "language": None, "env_vars": None}
    conn.request("POST", "/execute", json.dumps(body), headers)
    resp = conn.getresponse()
    assert resp.status == 200
    lines = [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]
    conn.close()
    types = [line["type"] for line in lines]
    assert "keepalive" in types
    assert types[-1] == "end_of_execution"
    assert any(line.get("text") == "done" for line in lines if line["type"] == "result")


@requires_data
def test_dataframe_gives_data_and_html(sandbox):
    execution = sandbox.run_code(
        "import pandas as pd\npd.DataFrame({'a': [1, 2, 3], 't': pd.to_datetime(['2024-01-01'] * 3)})"
    )
    result = execution.results[0]
    assert result.is_main_result
    assert result.data["a"] == [1, 2, 3]
    assert result.data["t"][0].startswith("2024-01-01T00:00:00")
    assert "<table" in result.html
    assert "data" in list(result.formats())


LINE_CODE = """
import matplotlib.pyplot as plt
x = [0, 1, 2, 3]
plt.figure()
plt.plot(x, [0, 1, 4, 9], label="squares")
plt.plot(x, [0, 1, 8, 27], label="cubes")
plt.title("Powers")
plt.xlabel("x (m)")
plt.ylabel("y [s]")
plt.legend()
plt.show()
"""


@requires_data
def test_line_chart_matches_its_figure(sandbox):
    execution = sandbox.run_code(LINE_CODE)
    assert execution.error is None, execution.error
    assert len(execution.results) == 1
    result = execution.results[0]
    assert not result.is_main_result
    assert result.png and base64.b64decode(result.png).startswith(b"\x89PNG")
    chart = result.chart
    assert isinstance(chart, LineChart) and chart.type == ChartType.LINE
    assert chart.title == "Powers"
    assert (chart.x_label, chart.y_label) == ("x (m)", "y [s]")
    assert (chart.x_unit, chart.y_unit) == ("m", "s")
    assert chart.x_scale == ScaleType.LINEAR
    assert [e.label for e in chart.elements] == ["squares", "cubes"]
    assert [tuple(map(float, p)) for p in chart.elements[0].points] == [(0, 0), (1, 1), (2, 4), (3, 9)]
    assert [float(y) for _, y in chart.elements[1].points] == [0, 1, 8, 27]
    assert chart.to_dict()["type"] == "line"
    assert "chart" in list(result.formats())


@requires_data
def test_bar_pie_and_superchart(sandbox):
    bar = sandbox.run_code(
        "import matplotlib.pyplot as plt\nplt.figure()\nplt.bar(['a', 'b', 'c'], [3, 5, 1], label='n')\n"
        "plt.title('Bars')\nplt.show()"
    ).results[0].chart
    assert isinstance(bar, BarChart) and bar.title == "Bars"
    assert [(e.label, float(e.value)) for e in bar.elements] == [("a", 3.0), ("b", 5.0), ("c", 1.0)]

    pie = sandbox.run_code(
        "plt.figure()\nplt.pie([1, 3], labels=['one', 'three'])\nplt.title('Pie')\nplt.show()"
    ).results[0].chart
    assert isinstance(pie, PieChart)
    assert [e.label for e in pie.elements] == ["one", "three"]
    assert [round(e.angle) for e in pie.elements] == [90, 270]

    sup = sandbox.run_code(
        "fig, (a1, a2) = plt.subplots(1, 2)\na1.plot([1, 2], [3, 4])\na1.set_title('left')\n"
        "a2.bar(['x'], [1])\na2.set_title('right')\nfig.suptitle('Both')\nplt.show()"
    ).results[0].chart
    assert isinstance(sup, SuperChart) and sup.title == "Both"
    assert [c.title for c in sup.elements] == ["left", "right"]
    assert isinstance(sup.elements[0], LineChart) and isinstance(sup.elements[1], BarChart)


@requires_data
def test_bare_figure_is_the_main_result(sandbox):
    execution = sandbox.run_code(
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.scatter([1, 2], [3, 4])\n"
        "ax.set_title('Dots')\nplt.close(fig)\nfig"
    )
    assert execution.error is None, execution.error
    main = [r for r in execution.results if r.is_main_result]
    assert len(main) == 1
    assert main[0].png and main[0].chart is not None
    assert main[0].chart.type == ChartType.SCATTER and main[0].chart.title == "Dots"


@requires_data
def test_blank_figure_has_no_chart_elements(sandbox):
    result = sandbox.run_code("import matplotlib.pyplot as plt\nplt.figure()\nplt.show()").results
    # Upstream: a blank figure gives `{}` → no chart object.
    assert all(r.chart is None for r in result)


@requires_data
def test_pil_save_displays_the_image(sandbox):
    execution = sandbox.run_code(
        "from PIL import Image\nImage.new('RGB', (2, 2), 'red').save('/tmp/red.png')\nprint('saved')"
    )
    assert execution.error is None, execution.error
    assert execution.logs.stdout == ["saved\n"]
    assert len(execution.results) == 1 and execution.results[0].png


def test_result_objects_are_sdk_results(sandbox):
    result = sandbox.run_code("1 + 1").results[0]
    assert isinstance(result, Result)
    assert str(result) == "Result(2)"
