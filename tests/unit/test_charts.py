"""Chart deserialisation (``e2b/chart`` payloads, docs/protocol.md#chart-payload)."""

from __future__ import annotations

from e2b_code_interpreter import Result
from e2b_code_interpreter.charts import (
    BarChart,
    BoxAndWhiskerChart,
    Chart,
    ChartType,
    LineChart,
    PieChart,
    ScaleType,
    ScatterChart,
    SuperChart,
    _deserialize_chart,
)

AXES = {"x_label": "Time (s)", "y_label": "Value", "x_unit": "s", "y_unit": None}


def line(kind="line"):
    return {
        "type": kind,
        "title": "T",
        **AXES,
        "x_ticks": [0, 1],
        "x_tick_labels": ["0", "1"],
        "x_scale": "linear",
        "y_ticks": [0.0, 0.5],
        "y_tick_labels": ["0.0", "0.5"],
        "y_scale": "weird",
        "elements": [{"label": "sin", "points": [[0, 0.0], [1, 0.8]]}],
    }


def test_line_and_scatter():
    chart = _deserialize_chart(line())
    assert isinstance(chart, LineChart)
    assert chart.type == ChartType.LINE
    assert chart.x_scale == ScaleType.LINEAR and chart.y_scale == ScaleType.UNKNOWN
    assert chart.elements[0].label == "sin"
    assert chart.elements[0].points == [(0, 0.0), (1, 0.8)]
    assert chart.x_unit == "s" and chart.y_label == "Value"
    assert chart.to_dict() == line()
    assert isinstance(_deserialize_chart(line("scatter")), ScatterChart)


def test_bar_pie_box():
    bar = _deserialize_chart(
        {"type": "bar", "title": None, **AXES, "elements": [{"label": "a", "group": "g", "value": 3}]}
    )
    assert isinstance(bar, BarChart) and bar.elements[0].value == 3 and bar.elements[0].group == "g"
    pie = _deserialize_chart({"type": "pie", "title": "p", "elements": [{"label": "a", "angle": 90.0, "radius": 1.0}]})
    assert isinstance(pie, PieChart) and pie.elements[0].angle == 90.0
    box = _deserialize_chart(
        {
            "type": "box_and_whisker",
            "title": "b",
            **AXES,
            "elements": [{"label": "x", "min": 1, "first_quartile": 2, "median": 3, "third_quartile": 4, "max": 5}],
        }
    )
    assert isinstance(box, BoxAndWhiskerChart) and box.elements[0].outliers == [] and box.elements[0].median == 3


def test_superchart_skips_empty_subcharts_and_unknown_types_are_generic():
    superchart = _deserialize_chart({"type": "superchart", "title": "s", "elements": [line(), {}, None]})
    assert isinstance(superchart, SuperChart)
    assert len(superchart.elements) == 1 and isinstance(superchart.elements[0], LineChart)
    unknown = _deserialize_chart({"type": "unknown", "title": None, "elements": []})
    assert type(unknown) is Chart and unknown.type == ChartType.UNKNOWN
    assert _deserialize_chart({}) is None and _deserialize_chart(None) is None


def test_result_deserialises_its_chart():
    result = Result(png="x", chart=line())
    assert isinstance(result.chart, LineChart)
    assert list(result.formats()) == ["png", "chart"]
