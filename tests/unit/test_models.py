"""Code-interpreter models: Execution/Result/Logs/Context behaviour that users rely on."""

from __future__ import annotations

import json

import pytest
from e2b_code_interpreter import Context, Execution, ExecutionError, Logs, MIMEType, OutputMessage, Result
from e2b_code_interpreter.models import parse_output, serialize_results


def test_execution_to_json_nests_logs_and_error_as_strings():
    execution = Execution(
        results=[Result(text="2", is_main_result=True, extra={})],
        logs=Logs(stdout=["hi\n"], stderr=[]),
        error=ExecutionError("ValueError", "bad", "Traceback..."),
    )
    data = json.loads(execution.to_json())
    assert data["results"] == [{"text": "2"}]
    assert isinstance(data["logs"], str)
    assert json.loads(data["logs"]) == {"stdout": ["hi\n"], "stderr": []}
    assert isinstance(data["error"], str)
    assert json.loads(data["error"]) == {"name": "ValueError", "value": "bad", "traceback": "Traceback..."}
    assert json.loads(Execution().to_json())["error"] is None


def test_execution_text_is_the_main_result():
    assert Execution().text is None
    execution = Execution(results=[Result(text="shown"), Result(text="value", is_main_result=True)])
    assert execution.text == "value"
    assert repr(execution).startswith(
        "Execution(Results: [Result(shown), Result(value)], Logs: Logs(stdout: [], stderr: []), Error: None"
    )


def test_result_formats_order_and_extra():
    result = Result(
        chart=None,
        png="iVBOR",
        text="t",
        json={"a": 1},
        html="<b>",
        data={"x": [1]},
        extra={"application/vnd.custom": 1, "text/x": "y"},
    )
    assert list(result.formats()) == ["text", "html", "png", "json", "data", "application/vnd.custom", "text/x"]
    assert result["png"] == "iVBOR"
    assert str(result) == "Result(t)" == repr(result)
    no_text = Result(png="x", svg="<svg/>")
    assert repr(no_text) == "Result(Formats: svg, png)"
    assert no_text._repr_png_() == "x" and no_text._repr_svg_() == "<svg/>"
    assert no_text._repr_html_() is None
    assert Result(unknown_field=1).text is None  # extra keyword arguments are accepted


def test_result_ipython_hooks():
    r = Result(html="h", markdown="m", jpeg="j", pdf="p", latex="l", json={"k": 1}, javascript="js")
    assert (
        r._repr_html_(),
        r._repr_markdown_(),
        r._repr_jpeg_(),
        r._repr_pdf_(),
        r._repr_latex_(),
        r._repr_json_(),
        r._repr_javascript_(),
    ) == (
        "h",
        "m",
        "j",
        "p",
        "l",
        {"k": 1},
        "js",
    )


def test_serialize_results_includes_chart_dict():
    chart = {"type": "pie", "title": "t", "elements": [{"label": "a", "angle": 90, "radius": 1}]}
    results = serialize_results([Result(chart=chart, text=None)])
    assert results == [{"chart": chart, "text": None}]


def test_bad_chart_is_logged_not_raised(caplog):
    result = Result(chart={"type": "line", "title": "x"})
    assert result.chart is None
    assert "Error deserializing chart" in caplog.text


def test_logs_repr_and_json():
    logs = Logs(stdout=["a\n"], stderr=["b"])
    assert repr(logs) == "Logs(stdout: ['a\\n'], stderr: ['b'])"
    assert json.loads(logs.to_json()) == {"stdout": ["a\n"], "stderr": ["b"]}


def test_context_constructor_and_strict_from_json():
    context = Context("id1", "python", "/home/user")
    assert (context.id, context.language, context.cwd) == ("id1", "python", "/home/user")
    assert Context.from_json({"id": "x", "language": "js", "cwd": "/"}).id == "x"
    with pytest.raises(KeyError):
        Context.from_json({"id": "x", "language": "python"})


def test_output_message_and_error():
    message = OutputMessage("line\n", "2024-01-01T00:00:00+00:00", False)
    assert str(message) == "line\n"
    error = ExecutionError("N", "V", "T", extra="ignored")
    assert json.loads(error.to_json()) == {"name": "N", "value": "V", "traceback": "T"}
    assert isinstance(MIMEType("text/plain"), str)


def test_parse_output_lines_and_callbacks():
    execution = Execution()
    seen = []
    parse_output(execution, '{"type": "number_of_executions", "execution_count": 3}')
    parse_output(execution, '{"type": "stdout", "text": "hi", "timestamp": "t"}', on_stdout=seen.append)
    parse_output(execution, '{"type": "stderr", "text": "e", "timestamp": "t"}', on_stderr=seen.append)
    parse_output(
        execution, '{"type": "result", "text": "2", "is_main_result": true, "extra": {}}', on_result=seen.append
    )
    parse_output(execution, '{"type": "error", "name": "N", "value": "V", "traceback": "T"}', on_error=seen.append)
    parse_output(execution, '{"type": "keepalive"}')
    assert execution.execution_count == 3
    assert execution.logs.stdout == ["hi"] and execution.logs.stderr == ["e"]
    assert execution.text == "2"
    assert execution.error.name == "N"
    assert [type(x).__name__ for x in seen] == ["OutputMessage", "OutputMessage", "Result", "ExecutionError"]
    assert seen[1].error is True
