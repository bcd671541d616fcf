"""Results of code execution: :class:`Execution` and what it holds (results, logs, error),
plus code contexts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Literal, Optional, Tuple, TypeVar, Union

from e2b._bridge import LazyLogger

from .charts import Chart, _deserialize_chart

RunCodeLanguage = Union[
    Literal["python", "javascript", "typescript", "r", "java", "bash"],
    str,
]
"""Language to run code in (any kernel language the sandbox has)."""

T = TypeVar("T")
OutputHandler = Union[Callable[[T], Any],]
"""A callback receiving output."""

OutputHandlerWithAsync = Union[OutputHandler[T], Callable[[T], Awaitable[Any]]]
"""A callback receiving output; may also be a coroutine function (async API)."""

logger = LazyLogger(__name__)


@dataclass
class OutputMessage:
    """An output message (stdout or stderr chunk) of a running execution."""

    line: str
    """The output text (a chunk; may hold several lines)."""
    timestamp: int
    """Time of the output as sent by the server (an ISO-8601 string in practice)."""
    error: bool = False
    """Whether the output is stderr."""

    def __str__(self) -> str:
        return self.line


@dataclass
class ExecutionError:
    """An error raised by the executed code: its name, value and traceback."""

    name: str
    """Name of the error (e.g. ``ZeroDivisionError``)."""
    value: str
    """Value (message) of the error."""
    traceback: str
    """The raw traceback."""

    def __init__(self, name: str, value: str, traceback: str, **kwargs: Any):
        self.name = name
        self.value = value
        self.traceback = traceback

    def to_json(self) -> str:
        """The error as a JSON string."""
        import json

        return json.dumps({"name": self.name, "value": self.value, "traceback": self.traceback})


class MIMEType(str):
    """A MIME type."""


@dataclass
class Result:
    """
    Data displayed as a result of executing a cell: the cell's value (``is_main_result``) or
    a display call (e.g. a plot). A result may carry several representations of the same
    data — text, HTML, PNG, … — each in its own field; ``formats()`` lists those present.
    """

    def __getitem__(self, item: str) -> Any:
        return getattr(self, item)

    text: Optional[str] = None
    """Text representation (``text/plain``)."""
    html: Optional[str] = None
    """HTML representation."""
    markdown: Optional[str] = None
    """Markdown representation."""
    svg: Optional[str] = None
    """SVG representation."""
    png: Optional[str] = None
    """PNG image, base64-encoded."""
    jpeg: Optional[str] = None
    """JPEG image, base64-encoded."""
    pdf: Optional[str] = None
    """PDF representation."""
    latex: Optional[str] = None
    """LaTeX representation."""
    json: Optional[dict] = None
    """JSON representation."""
    javascript: Optional[str] = None
    """JavaScript representation."""
    data: Optional[dict] = None
    """Tabular data (e.g. a pandas DataFrame as column lists)."""
    chart: Optional[Chart] = None
    """Chart extracted from a matplotlib figure."""
    is_main_result: bool = False
    """Whether this is the value of the cell (rather than a display call)."""
    extra: Optional[dict] = None
    """Other representations, keyed by MIME type."""

    def __init__(
        self,
        text: Optional[str] = None,
        html: Optional[str] = None,
        markdown: Optional[str] = None,
        svg: Optional[str] = None,
        png: Optional[str] = None,
        jpeg: Optional[str] = None,
        pdf: Optional[str] = None,
        latex: Optional[str] = None,
        json: Optional[dict] = None,
        javascript: Optional[str] = None,
        data: Optional[dict] = None,
        chart: Optional[dict] = None,
        is_main_result: bool = False,
        extra: Optional[dict] = None,
        **kwargs: Any,
    ):
        self.text = text
        self.html = html
        self.markdown = markdown
        self.svg = svg
        self.png = png
        self.jpeg = jpeg
        self.pdf = pdf
        self.latex = latex
        self.json = json
        self.javascript = javascript
        self.data = data
        if chart:
            try:
                self.chart = _deserialize_chart(chart)
            except Exception as e:  # a malformed chart must not lose the rest of the result
                logger.error(
                    f"Error deserializing chart, check if you are using the latest version of the library: {e}"
                )
        self.is_main_result = is_main_result
        self.extra = extra

    def formats(self) -> Iterable[str]:
        """
        The representations present, in the order text, html, markdown, svg, png, jpeg, pdf,
        latex, json, javascript, data, chart, then the ``extra`` MIME types.
        """
        names = (
            "text",
            "html",
            "markdown",
            "svg",
            "png",
            "jpeg",
            "pdf",
            "latex",
            "json",
            "javascript",
            "data",
            "chart",
        )
        formats = [name for name in names if getattr(self, name)]
        if self.extra:
            formats.extend(self.extra)
        return formats

    def __str__(self) -> str:
        return self.__repr__()

    def __repr__(self) -> str:
        if self.text:
            return f"Result({self.text})"
        return "Result(Formats: " + ", ".join(self.formats()) + ")"

    def _repr_html_(self) -> Optional[str]:
        """HTML representation, for IPython."""
        return self.html

    def _repr_markdown_(self) -> Optional[str]:
        """Markdown representation, for IPython."""
        return self.markdown

    def _repr_svg_(self) -> Optional[str]:
        """SVG representation, for IPython."""
        return self.svg

    def _repr_png_(self) -> Optional[str]:
        """Base64 PNG, for IPython."""
        return self.png

    def _repr_jpeg_(self) -> Optional[str]:
        """Base64 JPEG, for IPython."""
        return self.jpeg

    def _repr_pdf_(self) -> Optional[str]:
        """PDF representation, for IPython."""
        return self.pdf

    def _repr_latex_(self) -> Optional[str]:
        """LaTeX representation, for IPython."""
        return self.latex

    def _repr_json_(self) -> Optional[dict]:
        """JSON representation, for IPython."""
        return self.json

    def _repr_javascript_(self) -> Optional[str]:
        """JavaScript representation, for IPython."""
        return self.javascript


@dataclass(repr=False)
class Logs:
    """What the execution printed to stdout and stderr: one list element per stream chunk."""

    stdout: List[str] = field(default_factory=list)
    """Chunks printed to stdout."""
    stderr: List[str] = field(default_factory=list)
    """Chunks printed to stderr."""

    def __init__(self, stdout: Optional[List[str]] = None, stderr: Optional[List[str]] = None, **kwargs: Any):
        self.stdout = stdout or []
        self.stderr = stderr or []

    def __repr__(self) -> str:
        return f"Logs(stdout: {self.stdout}, stderr: {self.stderr})"

    def to_json(self) -> str:
        """The logs as a JSON string."""
        import json

        return json.dumps({"stdout": self.stdout, "stderr": self.stderr})


def serialize_results(results: List[Result]) -> List[Dict[str, Any]]:
    """The results as JSON-ready dicts (their formats plus ``text``)."""
    serialized = []
    for result in results:
        item: Dict[str, Any] = {}
        for key in result.formats():
            if key == "chart":
                if result.chart is not None:
                    item[key] = result.chart.to_dict()
            else:
                item[key] = result[key]
        item["text"] = result.text
        serialized.append(item)
    return serialized


@dataclass(repr=False)
class Execution:
    """The outcome of running a cell: results, logs, error and execution count."""

    results: List[Result] = field(default_factory=list)
    """Results: the cell's value and display calls (e.g. plots)."""
    logs: Logs = field(default_factory=Logs)
    """What the execution printed."""
    error: Optional[ExecutionError] = None
    """The error the code raised, if any (``run_code`` itself does not raise for it)."""
    execution_count: Optional[int] = None
    """Execution count of the cell."""

    def __init__(
        self,
        results: Optional[List[Result]] = None,
        logs: Optional[Logs] = None,
        error: Optional[ExecutionError] = None,
        execution_count: Optional[int] = None,
        **kwargs: Any,
    ):
        self.results = results or []
        self.logs = logs or Logs()
        self.error = error
        self.execution_count = execution_count

    def __repr__(self) -> str:
        return f"Execution(Results: {self.results}, Logs: {self.logs}, Error: {self.error})"

    @property
    def text(self) -> Optional[str]:
        """Text of the main result (the cell's value), if any."""
        for result in self.results:
            if result.is_main_result:
                return result.text
        return None

    def to_json(self) -> str:
        """
        The execution as JSON. As upstream, ``logs`` and ``error`` are embedded as JSON
        *strings* inside the outer object.
        """
        import json

        return json.dumps(
            {
                "results": serialize_results(self.results),
                "logs": self.logs.to_json(),
                "error": self.error.to_json() if self.error else None,
            }
        )


@dataclass
class Context:
    """A code context: an isolated kernel state with its own language and working directory."""

    id: str
    """ID of the context."""
    language: str
    """Language of the context."""
    cwd: str
    """Working directory of the context."""

    def __init__(self, context_id: str, language: str, cwd: str, **kwargs: Any):
        self.id = context_id
        self.language = language
        self.cwd = cwd

    @classmethod
    def from_json(cls, data: Dict[str, str]) -> "Context":
        """Builds a context from the server's JSON (``id``, ``language`` and ``cwd`` required)."""
        return cls(context_id=data["id"], language=data["language"], cwd=data["cwd"])


def _execution_from_native(summary: Tuple[Any, ...]) -> Execution:
    """Builds an :class:`Execution` from the Rust core's collected summary."""
    results, stdout, stderr, error, count = summary
    return Execution(
        results=[Result(**r) for r in results],
        logs=Logs(stdout=stdout, stderr=stderr),
        error=ExecutionError(*error) if error is not None else None,
        execution_count=count,
    )


def _apply_event(execution: Execution, event: Tuple[Any, ...]) -> Optional[Tuple[str, Any]]:
    """Applies one streamed event to ``execution``; returns ``(callback name, argument)`` for
    the callback it triggers, if any."""
    kind = event[0]
    if kind == "stdout":
        execution.logs.stdout.append(event[1])
        return "on_stdout", OutputMessage(event[1], event[2], False)
    if kind == "stderr":
        execution.logs.stderr.append(event[1])
        return "on_stderr", OutputMessage(event[1], event[2], True)
    if kind == "result":
        result = Result(**event[1])
        execution.results.append(result)
        return "on_result", result
    if kind == "error":
        execution.error = ExecutionError(event[1], event[2], event[3])
        return "on_error", execution.error
    if kind == "count":
        execution.execution_count = event[1]
    return None


def parse_output(
    execution: Execution,
    output: str,
    on_stdout: Optional[OutputHandler[OutputMessage]] = None,
    on_stderr: Optional[OutputHandler[OutputMessage]] = None,
    on_result: Optional[OutputHandler[Result]] = None,
    on_error: Optional[OutputHandler[ExecutionError]] = None,
) -> Any:
    """Applies one NDJSON line of ``/execute`` to ``execution`` and calls the matching callback."""
    import json

    data = json.loads(output)
    kind = data.pop("type")
    if kind == "result":
        event: Tuple[Any, ...] = ("result", data)
    elif kind in ("stdout", "stderr"):
        event = (kind, data["text"], data["timestamp"])
    elif kind == "error":
        event = ("error", data["name"], data["value"], data["traceback"])
    elif kind == "number_of_executions":
        event = ("count", data["execution_count"])
    else:
        return None
    triggered = _apply_event(execution, event)
    if triggered is not None:
        callbacks = {"on_stdout": on_stdout, "on_stderr": on_stderr, "on_result": on_result, "on_error": on_error}
        callback = callbacks[triggered[0]]
        if callback is not None:
            return callback(triggered[1])
    return None
