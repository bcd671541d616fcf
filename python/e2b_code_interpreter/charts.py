"""Charts extracted from matplotlib figures (the ``e2b/chart`` result format): typed views
of the chart dict, for building interactive charts or custom visualisations."""

from __future__ import annotations

import enum
from typing import Any, List, Optional, Tuple, Union


class ChartType(str, enum.Enum):
    """Chart types."""

    LINE = "line"
    SCATTER = "scatter"
    BAR = "bar"
    PIE = "pie"
    BOX_AND_WHISKER = "box_and_whisker"
    SUPERCHART = "superchart"
    UNKNOWN = "unknown"


class ScaleType(str, enum.Enum):
    """Axis scale types."""

    LINEAR = "linear"
    DATETIME = "datetime"
    CATEGORICAL = "categorical"
    LOG = "log"
    SYMLOG = "symlog"
    LOGIT = "logit"
    FUNCTION = "function"
    FUNCTIONLOG = "functionlog"
    ASINH = "asinh"
    UNKNOWN = "unknown"


def _scale(value: Any) -> ScaleType:
    try:
        return ScaleType(value)
    except ValueError:
        return ScaleType.UNKNOWN


class Chart:
    """A chart: its type, title and elements. ``to_dict()`` returns the raw data."""

    type: ChartType
    title: str
    elements: List[Any]

    def __init__(self, **kwargs: Any):
        self._raw_data = kwargs
        self.type = ChartType(kwargs["type"] or ChartType.UNKNOWN)
        self.title = kwargs["title"]
        self.elements = kwargs["elements"]

    def to_dict(self) -> dict:
        """The chart as received (a dict)."""
        return self._raw_data


class Chart2D(Chart):
    """A chart with two axes."""

    x_label: Optional[str]
    y_label: Optional[str]
    x_unit: Optional[str]
    y_unit: Optional[str]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.x_label = kwargs["x_label"]
        self.y_label = kwargs["y_label"]
        self.x_unit = kwargs["x_unit"]
        self.y_unit = kwargs["y_unit"]


class PointData:
    """One series of a line or scatter chart."""

    label: str
    points: List[Tuple[Union[str, float], Union[str, float]]]

    def __init__(self, **kwargs: Any):
        self.label = kwargs["label"]
        self.points = [(x, y) for x, y in kwargs["points"]]


class PointChart(Chart2D):
    """A chart of points (line or scatter)."""

    x_ticks: List[Union[str, float]]
    x_tick_labels: List[str]
    x_scale: ScaleType
    y_ticks: List[Union[str, float]]
    y_tick_labels: List[str]
    y_scale: ScaleType
    elements: List[PointData]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.x_scale = _scale(kwargs.get("x_scale"))
        self.x_ticks = kwargs["x_ticks"]
        self.x_tick_labels = kwargs["x_tick_labels"]
        self.y_scale = _scale(kwargs.get("y_scale"))
        self.y_ticks = kwargs["y_ticks"]
        self.y_tick_labels = kwargs["y_tick_labels"]
        self.elements = [PointData(**d) for d in kwargs["elements"]]


class LineChart(PointChart):
    """A line chart."""

    type = ChartType.LINE


class ScatterChart(PointChart):
    """A scatter chart."""

    type = ChartType.SCATTER


class BarData:
    """One bar."""

    label: str
    group: str
    value: str

    def __init__(self, **kwargs: Any):
        self.label = kwargs["label"]
        self.value = kwargs["value"]
        self.group = kwargs["group"]


class BarChart(Chart2D):
    """A bar chart."""

    type = ChartType.BAR
    elements: List[BarData]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.elements = [BarData(**d) for d in kwargs["elements"]]


class PieData:
    """One pie slice."""

    label: str
    angle: float
    radius: float

    def __init__(self, **kwargs: Any):
        self.label = kwargs["label"]
        self.angle = kwargs["angle"]
        self.radius = kwargs["radius"]


class PieChart(Chart):
    """A pie chart."""

    type = ChartType.PIE
    elements: List[PieData]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.elements = [PieData(**d) for d in kwargs["elements"]]


class BoxAndWhiskerData:
    """One box of a box-and-whisker chart."""

    label: str
    min: float
    first_quartile: float
    median: float
    third_quartile: float
    max: float
    outliers: List[float]

    def __init__(self, **kwargs: Any):
        self.label = kwargs["label"]
        self.min = kwargs["min"]
        self.first_quartile = kwargs["first_quartile"]
        self.median = kwargs["median"]
        self.third_quartile = kwargs["third_quartile"]
        self.max = kwargs["max"]
        self.outliers = kwargs.get("outliers") or []


class BoxAndWhiskerChart(Chart2D):
    """A box-and-whisker chart."""

    type = ChartType.BOX_AND_WHISKER
    elements: List[BoxAndWhiskerData]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.elements = [BoxAndWhiskerData(**d) for d in kwargs["elements"]]


class SuperChart(Chart):
    """A figure of several charts (one per axes); empty sub-charts are left out."""

    type = ChartType.SUPERCHART
    elements: List[Chart]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.elements = []
        for raw in kwargs["elements"]:
            chart = _deserialize_chart(raw)
            if chart is not None:
                self.elements.append(chart)


ChartTypes = Union[Chart, LineChart, ScatterChart, BarChart, PieChart, BoxAndWhiskerChart, SuperChart]
"""Any chart class."""

_CHART_CLASSES = {
    ChartType.LINE.value: LineChart,
    ChartType.SCATTER.value: ScatterChart,
    ChartType.BAR.value: BarChart,
    ChartType.PIE.value: PieChart,
    ChartType.BOX_AND_WHISKER.value: BoxAndWhiskerChart,
    ChartType.SUPERCHART.value: SuperChart,
}


def _deserialize_chart(data: Optional[dict]) -> Optional[ChartTypes]:
    """The chart object for a chart dict (``None`` for an empty one)."""
    if not data:
        return None
    kind = data["type"]
    cls = _CHART_CLASSES.get(kind.value if isinstance(kind, ChartType) else kind, Chart)
    return cls(**data)
