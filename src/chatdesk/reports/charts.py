"""Bar charts as plain geometry for an inline SVG template: no JavaScript, no chart library.

Each bar carries a `<title>` (read by screen readers and shown on hover); the template also
renders the same numbers as a table inside `<details>`, for anyone who cannot see the chart.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatdesk.reports.selectors import DayCount

WIDTH, HEIGHT = 600, 200
LEFT, RIGHT, TOP, BOTTOM = 34, 6, 10, 22
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    css: str  # bar-a, bar-b


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class XLabel:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    summary: str
    series: list[Series]
    bars: list[Bar]
    x_labels: list[XLabel]
    max_value: int
    table: list[tuple[str, list[int]]]  # (day, one value per series): the data table fallback
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM


def _day(day) -> str:
    return f"{day.day} {day:%b}"


def bar_chart(
    *, slug: str, title: str, unit: str, days: list[DayCount], series: list[Series]
) -> Chart:
    peak = max((d.values[s.key] for d in days for s in series), default=0)
    scale_max = max(peak, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.8 / len(series), 0.5)
    bars = []
    for i, day in enumerate(days):
        for j, s in enumerate(series):
            value = day.values[s.key]
            height = plot_h * value / scale_max
            bars.append(
                Bar(
                    x=round(LEFT + i * slot + slot * 0.1 + j * bar_w, 2),
                    y=round(TOP + plot_h - height, 2),
                    width=round(bar_w, 2),
                    height=round(height, 2),
                    css=s.css,
                    title=f"{_day(day.day)}: {value} {s.label.lower()} {unit}".strip(),
                )
            )
    step = max(1, -(-len(days) // MAX_X_LABELS))
    x_labels = [
        XLabel(x=round(LEFT + i * slot + slot / 2, 2), text=_day(day.day))
        for i, day in enumerate(days)
        if i % step == 0
    ]
    totals = ", ".join(f"{sum(d.values[s.key] for d in days)} {s.label.lower()}" for s in series)
    summary = f"{title} over {len(days)} days: {totals}."
    if peak:
        busiest = max(days, key=lambda d: sum(d.values[s.key] for s in series))
        summary += f" Busiest day: {_day(busiest.day)}."
    return Chart(
        slug=slug,
        title=title,
        summary=summary,
        series=series,
        bars=bars,
        x_labels=x_labels,
        max_value=peak,
        table=[(_day(d.day), [d.values[s.key] for s in series]) for d in days],
    )
