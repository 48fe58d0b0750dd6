"""Charts for the web pages, drawn on the server with matplotlib and returned as inline SVG.

Each function takes plain data, with its labels already translated, and returns one
``<svg>`` element as a string for a template to output unescaped::

    {{ chart|safe }}   {# chart = bars([("A", 120), ("B", 80)], chart_id="grades", ...) #}

The ``<svg>`` has no width or height, only a ``viewBox``, ``class="chart"`` and
``style="max-width:100%;height:auto"``: it takes the width of its container and the page's
CSS may cap it (``.chart { max-width: 40rem }``). It is an image to screen readers
(``role="img"``) named by a ``<title>`` holding ``title`` and described by a ``<desc>``
holding ``summary``; the page shows the same numbers as a table.

Text stays text (``svg.fonttype = "none"``), so Chinese labels are drawn by the browser's
fonts. Every ``id`` in a chart, and every reference to one, starts with ``chart_id + "-"``,
so that several charts on one page never clash. The same input gives the same bytes.

Rendering is serialised by a lock: matplotlib's ``rcParams`` and Python's warning filters
are process-wide, and each chart sets both for the time it is drawn. Nothing is cached.
"""

from __future__ import annotations

import functools
import io
import math
import re
import threading
import unicodedata
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple
from xml.sax.saxutils import escape

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

__all__ = ["OKABE_ITO", "bars", "histogram", "stacked_by_period", "waterfall"]

#: The Okabe–Ito palette, told apart by people with any common colour-vision deficiency;
#: the strongest colours first (yellow, light on white, comes late).
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)
_TOTAL = "#0072B2"
_GAIN = "#009E73"
_LOSS = "#D55E00"
_TEXT = "#1a1a1a"  # 17:1 on white
_AXIS = "#595959"  # 7:1 on white
_GRID = "#dddddd"
_MINUS = "\u2212"

#: Figure width in inches: 460 SVG units, so a 360 px phone shows it at 0.78 scale.
_WIDTH = 6.4
_LABEL_PT = 12.0
_TICK_PT = 11.0
_MAX_CHARS = 48
_MAX_BARS_LABELLED = 12

# The browser picks the first family that has a glyph; matplotlib measures text with the
# first one it has, DejaVu Sans, which it ships, so the layout is the same on every server.
_FONTS = [
    "DejaVu Sans",
    "Noto Sans",
    "Helvetica",
    "Arial",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "WenQuanYi Micro Hei",
]
# Keys are checked by rc_context itself; the stubs spell them as a Literal only lately.
_RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "trustledger",
    "text.parse_math": False,  # a label holding "$" is text, never mathtext
    "text.usetex": False,
    "font.family": ["sans-serif"],
    "font.sans-serif": _FONTS,
    "font.size": _LABEL_PT,
    "text.color": _TEXT,
    "axes.labelcolor": _TEXT,
    "axes.labelsize": _LABEL_PT,
    "axes.edgecolor": _AXIS,
    "axes.linewidth": 0.8,
    "axes.facecolor": "white",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.unicode_minus": True,
    "axes.axisbelow": True,
    "xtick.color": _AXIS,
    "ytick.color": _AXIS,
    "xtick.labelcolor": _TEXT,
    "ytick.labelcolor": _TEXT,
    "xtick.labelsize": _TICK_PT,
    "ytick.labelsize": _TICK_PT,
    "grid.color": _GRID,
    "grid.linewidth": 0.8,
    "hatch.color": "#ffffff",
    "hatch.linewidth": 1.2,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.edgecolor": "white",
}
# As matplotlib writes it into the style of every <text>; said once on the root instead.
_FONT_FAMILY = ", ".join(f"'{name}'" for name in _FONTS) + ", sans-serif"
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_LOCK = threading.Lock()
_CHART_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


# --- public charts --------------------------------------------------------------------------


def waterfall(
    steps: Sequence[tuple[str, float]],
    *,
    start_label: str,
    start: float,
    end_label: str,
    chart_id: str,
    title: str,
    summary: str,
    floor: float | None = None,
) -> str:
    """A score as a horizontal waterfall: the start bar, one floating bar per signed step
    (gains green, losses vermillion, each labelled "+12.5" or "−40"), then the end bar,
    the start plus every step.

    Each row has its label above its bar, so labels of any length (cut at 48 characters)
    get the full width. The value axis starts a little below the lowest running total when
    starting at 0 would squash the steps; the start and end bars then begin at its edge.
    ``floor`` makes the axis reach down to at least that value (the lower edge of the
    subject's grade, say), so that the same step looks as big on every subject's chart.

    >>> svg = waterfall([("Unpaid fine", -40)], start_label="Base", start=1000,
    ...                 end_label="Score", chart_id="s42", title="Score",
    ...                 summary="From 1000 to 960.")
    >>> svg.startswith("<svg") and "\u221240" in svg
    True
    """
    _check_id(chart_id)
    values = [float(delta) for _, delta in steps]
    _check_finite([start, *values])
    running = [float(start)]
    for delta in values:
        running.append(running[-1] + delta)
    end = running[-1]
    lo, hi = min(running), max(running)
    if floor is not None:
        _check_finite([floor])
        lo = min(lo, float(floor))

    rows = len(values) + 2
    span = hi - lo
    if lo >= 0 and (span == 0 or span >= 0.25 * hi):
        left = 0.0
        ticks = MaxNLocator(nbins=5).tick_values(0.0, hi)
    else:
        pad = span * 0.08 if span > 0 else max(abs(hi) * 0.05, 1.0)
        ticks = MaxNLocator(nbins=5).tick_values(lo - pad, hi)
        left = max(float(ticks[0]), 0.0) if lo >= 0 else float(ticks[0])
    # No ticks in the room kept for the value labels right of the longest bar.
    shown = [float(t) for t in ticks if left <= t <= max(hi, left)]

    with _drawing():  # text is measured from here on
        row_in = 0.5
        top_in = 0.42 if rows > 12 else 0.12  # a second axis on top of long charts
        bottom_in = 0.36
        # Room for half the first tick label, centred on the axis' left edge.
        left_in = max(0.1, (_text_width(_number(shown[0]), _TICK_PT) / 2 + 3) / 72)
        right_in = 0.1
        axes_w_pt = (_WIDTH - left_in - right_in) * 72
        fig = Figure(figsize=(_WIDTH, top_in + rows * row_in + bottom_in))
        ax = _axes(fig, left=left_in, right=right_in, top=top_in, bottom=bottom_in)
        value_labels = [_number(start), *(_signed(v) for v in values), _number(end)]
        label_w = max(_text_width(s, _LABEL_PT, bold=True) for s in value_labels) + 8
        ax.set_xlim(left, _headroom(left, max(hi, left + 1.0), label_w, axes_w_pt))
        ax.set_ylim(rows, 0)

        # Each row: its label on top, left-aligned, with the whole width to itself; its bar
        # below. Label boxes are white so the dotted guides pass behind the text.
        names = [start_label, *(label for label, _ in steps), end_label]
        row_text = ax.get_yaxis_transform()  # x in axes fraction, y in rows
        for row, name in enumerate(names):
            bold = row in (0, rows - 1)
            ax.text(
                0.0,
                row + 0.05,
                _fit(name, axes_w_pt - 2, _LABEL_PT, bold=bold),
                transform=row_text,
                ha="left",
                va="top",
                fontsize=_LABEL_PT,
                fontweight="bold" if bold else "normal",
                bbox={"boxstyle": "square,pad=0.08", "facecolor": "white", "edgecolor": "none"},
            )
        bar_h = 0.36
        y_mid = [row + 0.52 + bar_h / 2 for row in range(rows)]

        # The totals grow from the axis' left edge, which is not 0 when the axis is cut.
        moves = [i for i, delta in enumerate(values, start=1) if delta != 0]
        ax.barh(
            [y_mid[0], *(y_mid[i] for i in moves), y_mid[-1]],
            [start - left, *(values[i - 1] for i in moves), end - left],
            left=[left, *(running[i - 1] for i in moves), left],
            height=bar_h,
            color=[_TOTAL, *(_GAIN if values[i - 1] > 0 else _LOSS for i in moves), _TOTAL],
        )
        # A step of 0 is a thin mark; every step has a dotted guide up to the bar before.
        marks = [
            [(running[i], y_mid[i] - bar_h / 2), (running[i], y_mid[i] + bar_h / 2)]
            for i, delta in enumerate(values, start=1)
            if delta == 0
        ]
        ax.add_collection(LineCollection(marks, colors=_AXIS, linewidths=1.5), autolim=False)
        guides = [
            [(running[i - 1], y_mid[i - 1] + bar_h / 2), (running[i - 1], y_mid[i] - bar_h / 2)]
            for i in range(1, rows)
        ]
        ax.add_collection(
            LineCollection(
                guides, colors=_AXIS, linewidths=0.6, linestyles=[(0, (1, 2))], zorder=1
            ),
            autolim=False,
        )
        ends = [start, *(max(running[i - 1], running[i]) for i in range(1, rows - 1)), end]
        for row, (x, text) in enumerate(zip(ends, value_labels, strict=True)):
            bold = row in (0, rows - 1)
            ax.annotate(
                text,
                (max(x, left), y_mid[row]),
                xytext=(4, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=_LABEL_PT,
                fontweight="bold" if bold else "normal",
            )

        ax.xaxis.set_major_locator(FixedLocator(shown))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _number(x)))
        ax.grid(axis="x")
        ax.tick_params(axis="y", left=False, labelleft=False)
        ax.tick_params(axis="x", top=rows > 12, labeltop=rows > 12)
        ax.spines["left"].set_visible(False)
        ax.spines["bottom"].set_visible(False)
        return _finish(fig, chart_id=chart_id, title=title, summary=summary)


def bars(
    items: Sequence[tuple[str, float]],
    *,
    chart_id: str,
    title: str,
    summary: str,
    horizontal: bool = False,
    value_format: str = "{:,.0f}",
    colors: Sequence[str] | None = None,
) -> str:
    """A bar per item, in the given order; with at most 12 bars each carries its value
    written with ``value_format``. ``colors`` are used in turn, one per bar (default all
    blue). Horizontal bars run top to bottom, their labels on the left: use them for long
    labels, which upright bars turn by 45° and cut shorter.

    >>> svg = bars([("A", 120), ("B", 80)], chart_id="grades", title="Grades",
    ...            summary="120 subjects have grade A, 80 grade B.")
    >>> ">120<" in svg
    True
    """
    _check_id(chart_id)
    values = [float(v) for _, v in items]
    _check_finite(values)
    n = len(values)
    palette = list(colors) if colors else [_TOTAL]
    fills = [palette[i % len(palette)] for i in range(n)]
    labelled = 0 < n <= _MAX_BARS_LABELLED
    texts = [_real_minus(value_format.format(v)) for v in values] if labelled else []
    integer = all(v.is_integer() for v in values)
    lo, hi = min([0.0, *values]), max([0.0, *values])
    if lo == hi:
        hi = 1.0

    with _drawing():
        if n == 0:
            return _empty(chart_id=chart_id, title=title, summary=summary)
        if horizontal:
            names = [_fit(label, 0.42 * _WIDTH * 72, _LABEL_PT) for label, _ in items]
            left_in = (max(_text_width(s, _LABEL_PT) for s in names) + 10) / 72
            row_in = 0.38
            top_in, bottom_in, right_in = 0.12, 0.36, 0.15
            fig = Figure(figsize=(_WIDTH, top_in + n * row_in + bottom_in))
            ax = _axes(fig, left=left_in, right=right_in, top=top_in, bottom=bottom_in)
            axes_w_pt = (_WIDTH - left_in - right_in) * 72
            label_w = max((_text_width(s, _LABEL_PT) for s in texts), default=0.0) + 8
            ticks, right = _value_ticks(lo, hi, integer=integer)
            right = _headroom(ticks[0], max(right, hi), label_w, axes_w_pt) if texts else right
            left_lim = ticks[0]
            if lo < 0 and texts:  # room for labels left of negative bars
                left_lim = -_headroom(-ticks[-1], -lo, label_w, axes_w_pt)
            positions = list(range(n))
            container = ax.barh(positions, values, height=0.66, color=fills)
            ax.set_ylim(n - 0.5, -0.5)
            ax.set_yticks(positions, names, fontsize=_LABEL_PT)
            ax.tick_params(axis="y", left=False)
            ax.set_xlim(left_lim, right)
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_major_formatter(FuncFormatter(_tick_formatter(value_format)))
            ax.grid(axis="x")
            ax.spines["left"].set_visible(lo < 0)
            ax.axvline(0, color=_AXIS, linewidth=0.8)
        else:
            axes_h_in = 3.2
            ticks, top = _value_ticks(lo, hi, integer=integer)
            tick_labels = [_real_minus(value_format.format(t)) for t in ticks]
            left_in = (max(_text_width(s, _TICK_PT) for s in tick_labels) + 12) / 72
            right_in, top_in = 0.12, 0.12
            slot_pt = (_WIDTH - left_in - right_in) * 72 / n
            cats = _categories([label for label, _ in items], slot_pt)
            left_in = max(left_in, _overhang(cats, slot_pt) / 72)
            bottom_in = cats.depth / 72 + 0.08
            fig = Figure(figsize=(_WIDTH, top_in + axes_h_in + bottom_in))
            ax = _axes(fig, left=left_in, right=right_in, top=top_in, bottom=bottom_in)
            if texts:
                top = _headroom(ticks[0], max(top, hi), 18.0, axes_h_in * 72)
            bottom_lim = ticks[0]
            if lo < 0 and texts:
                bottom_lim = -_headroom(-ticks[-1], -lo, 18.0, axes_h_in * 72)
            positions = list(range(n))
            container = ax.bar(positions, values, width=0.66, color=fills)
            ax.set_xlim(-0.5, n - 0.5)
            _set_x_labels(ax, cats)
            ax.tick_params(axis="x", bottom=False)
            ax.set_ylim(bottom_lim, top)
            ax.yaxis.set_major_locator(FixedLocator(ticks))
            ax.yaxis.set_major_formatter(FuncFormatter(_tick_formatter(value_format)))
            ax.grid(axis="y")
            ax.axhline(0, color=_AXIS, linewidth=0.8)
        if texts:
            ax.bar_label(container, labels=texts, padding=3, fontsize=_LABEL_PT, color=_TEXT)
        return _finish(fig, chart_id=chart_id, title=title, summary=summary)


def stacked_by_period(
    periods: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    chart_id: str,
    title: str,
    summary: str,
) -> str:
    """Stacked bars of counts (not negative) per period, one colour per series (the first
    at the bottom), with the legend below the plot. Up to 12 periods carry their totals;
    with more, the period labels are turned and thinned.

    >>> svg = stacked_by_period(["2025-01", "2025-02"], [("Tax", [3, 4]), ("Court", [1, 0])],
    ...                         chart_id="monthly", title="Records per month",
    ...                         summary="Records per month by domain.")
    >>> "Court" in svg
    True
    """
    _check_id(chart_id)
    n = len(periods)
    for name, values in series:
        if len(values) != n:
            raise ValueError(f"series {name!r} has {len(values)} values for {n} periods")
    matrix = np.array([[float(v) for v in values] for _, values in series], dtype=float)
    _check_finite(matrix.ravel().tolist())
    if np.any(matrix < 0):
        raise ValueError("stacked counts cannot be negative")
    with _drawing():
        if n == 0 or not series:
            return _empty(chart_id=chart_id, title=title, summary=summary)
        totals = matrix.sum(axis=0)
        hi = max(float(totals.max()), 1.0)
        integer = bool(np.all(np.mod(matrix, 1) == 0))
        ticks, top = _value_ticks(0.0, hi, integer=integer)
        labelled = n <= _MAX_BARS_LABELLED
        if labelled:
            top = _headroom(0.0, max(top, hi), 18.0, 3.2 * 72)

        tick_labels = [_number(t) for t in ticks]
        left_in = (max(_text_width(s, _TICK_PT) for s in tick_labels) + 12) / 72
        right_in, top_in, axes_h_in = 0.12, 0.12, 3.2
        axes_w_pt = (_WIDTH - left_in - right_in) * 72
        cats = _categories(periods, axes_w_pt / n, size=_TICK_PT)
        left_in = max(left_in, _overhang(cats, axes_w_pt / n) / 72)
        x_depth_pt = cats.depth

        legend = _legend_layout([name for name, _ in series])
        legend_h_pt = legend.rows * 19.0
        bottom_in = (x_depth_pt + 14.0 + legend_h_pt) / 72
        fig = Figure(figsize=(_WIDTH, top_in + axes_h_in + bottom_in))
        ax = _axes(fig, left=left_in, right=right_in, top=top_in, bottom=bottom_in)

        fills = _series_styles(len(series))
        base = np.zeros(n)
        positions = np.arange(n, dtype=float)
        half = 0.36 if n > 1 else 0.25
        # One collection per series rather than a patch per bar: a tenth of the time for
        # 60 periods of 10 series, and the same SVG.
        for (color, hatch), row in zip(fills, matrix, strict=True):
            tops = base + row
            boxes = [
                [(x - half, y0), (x - half, y1), (x + half, y1), (x + half, y0)]
                for x, y0, y1 in zip(positions, base, tops, strict=True)
                if y1 != y0
            ]
            ax.add_collection(
                PolyCollection(
                    boxes,
                    facecolors=color,
                    edgecolors="white",
                    linewidths=0.5 if n <= 30 else 0.0,
                    hatch=hatch,
                ),
                autolim=False,
            )
            base = tops
        if labelled:
            for x, total in zip(positions, totals, strict=True):
                ax.annotate(
                    _number(float(total)),
                    (float(x), float(total)),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=_LABEL_PT,
                )
        ax.set_xlim(-0.5, n - 0.5)
        _set_x_labels(ax, cats)
        ax.set_ylim(0, top)
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: _number(y)))
        ax.grid(axis="y")

        # The legend is laid out here rather than by matplotlib, which measures Chinese
        # text with a Latin font and would let wide labels run into the next column.
        y_pt = (bottom_in * 72) - x_depth_pt - 14.0 - 8.5
        for i, (color, hatch) in enumerate(fills):
            col, line = i % legend.cols, i // legend.cols
            x_pt = legend.left + col * legend.col_w
            y = y_pt - line * 19.0
            fig.add_artist(
                Rectangle(
                    (x_pt / 72, (y - 6) / 72),
                    12 / 72,
                    12 / 72,
                    transform=fig.dpi_scale_trans,
                    facecolor=color,
                    hatch=hatch,
                    edgecolor="white" if hatch else color,
                    linewidth=0.0 if not hatch else 0.5,
                )
            )
            fig.text(
                (x_pt + 16) / 72,
                y / 72,
                legend.labels[i],
                transform=fig.dpi_scale_trans,
                ha="left",
                va="center_baseline",
                fontsize=_LABEL_PT,
            )
        return _finish(fig, chart_id=chart_id, title=title, summary=summary)


def histogram(
    values: Sequence[float],
    *,
    bins: Sequence[float],
    chart_id: str,
    title: str,
    summary: str,
    x_label: str,
    y_label: str,
) -> str:
    """A histogram of ``values`` over the bin edges ``bins`` (increasing; values outside
    the first and last edge are not counted, so give an open-ended last bin a high edge).
    Bins of unequal width are drawn equally wide, labelled by their edges. With at most 12
    bins each bar carries its count.

    >>> svg = histogram([1, 2, 2, 9], bins=[0, 7, 14], chart_id="review-days",
    ...                 title="Review times", summary="Most reviews take under a week.",
    ...                 x_label="Days", y_label="Reviews")
    >>> "Days" in svg
    True
    """
    _check_id(chart_id)
    edges = [float(b) for b in bins]
    _check_finite(edges)
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError("bins must be at least two increasing edges")
    data = np.array([float(v) for v in values], dtype=float)
    _check_finite(data.tolist())
    counts, _ = np.histogram(data, bins=np.array(edges))
    k = len(counts)
    with _drawing():
        ticks, top = _value_ticks(0.0, max(float(counts.max()), 1.0), integer=True)
        labelled = k <= _MAX_BARS_LABELLED
        axes_h_in = 3.0
        if labelled:
            top = _headroom(0.0, top, 18.0, axes_h_in * 72)
        tick_labels = [_number(t) for t in ticks]
        left_in = (max(_text_width(s, _TICK_PT) for s in tick_labels) + 12 + 20) / 72
        right_in, top_in = 0.2, 0.12
        axes_w_pt = (_WIDTH - left_in - right_in) * 72
        bottom_in = (_TICK_PT * 1.4 + 6 + _LABEL_PT * 1.4 + 8) / 72
        fig = Figure(figsize=(_WIDTH, top_in + axes_h_in + bottom_in))
        ax = _axes(fig, left=left_in, right=right_in, top=top_in, bottom=bottom_in)
        # Bins of unequal width (say 0, 3, 7, 14, 30, 365 days) are drawn equally wide, so
        # that a long tail does not squash the rest; the edges are labelled either way.
        widths = np.diff(edges)
        even = bool(np.allclose(widths, widths[0]))
        xs = edges if even else [float(i) for i in range(len(edges))]
        container = ax.bar(
            xs[:-1],
            counts,
            width=np.diff(xs),
            align="edge",
            color=_TOTAL,
            edgecolor="white",
            linewidth=0.8,
        )
        if labelled:
            ax.bar_label(
                container,
                labels=[_number(float(c)) for c in counts],
                padding=3,
                fontsize=_LABEL_PT,
                color=_TEXT,
            )
        ax.set_xlim(xs[0], xs[-1])
        if even and len(edges) > 13:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _number(x)))
        else:
            slot_pt = axes_w_pt / k
            widest = max(_text_width(_number(e), _TICK_PT) for e in edges)
            every = _nice_step(math.ceil((widest + 6) / slot_pt))
            ax.set_xticks(xs[::every], [_number(e) for e in edges[::every]])
        ax.set_ylim(0, top)
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: _number(y)))
        ax.grid(axis="y")
        ax.set_xlabel(_fit(x_label, axes_w_pt, _LABEL_PT))
        ax.set_ylabel(_fit(y_label, axes_h_in * 72, _LABEL_PT))
        return _finish(fig, chart_id=chart_id, title=title, summary=summary)


# --- drawing ---------------------------------------------------------------------------------


@contextmanager
def _drawing() -> Iterator[None]:
    """Hold the lock and set matplotlib's options for the time one chart is drawn."""
    with _LOCK, matplotlib.rc_context(_RC), warnings.catch_warnings():
        # Text is written as text and drawn by the browser, but matplotlib still measures
        # it with its own fonts, and DejaVu Sans has no Chinese (nor Thai, …) glyphs. That
        # warning alone is silenced; the layout allows for wide glyphs itself (_text_width).
        warnings.filterwarnings(
            "ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning
        )
        yield


def _axes(fig: Figure, *, left: float, right: float, top: float, bottom: float) -> Axes:
    """Axes placed by margins in inches: the layout is computed, not left to matplotlib."""
    width, height = fig.get_size_inches()
    return fig.add_axes(
        (left / width, bottom / height, 1 - (left + right) / width, 1 - (top + bottom) / height)
    )


def _empty(*, chart_id: str, title: str, summary: str) -> str:
    """An empty frame with a dash in the middle, for a chart with nothing to show."""
    fig = Figure(figsize=(_WIDTH, 2.0))
    ax = _axes(fig, left=0.1, right=0.1, top=0.1, bottom=0.1)
    ax.set_axis_off()
    ax.text(0.5, 0.5, "\u2014", ha="center", va="center", fontsize=20, color=_AXIS)
    return _finish(fig, chart_id=chart_id, title=title, summary=summary)


class _Categories(NamedTuple):
    shown: list[int]  # the indices that carry a label
    names: list[str]  # their labels, cut to fit
    size: float
    rotate: bool
    depth: float  # how far below the axes the labels reach, in points


def _categories(labels: Sequence[str], slot_pt: float, size: float = _LABEL_PT) -> _Categories:
    """Labels for bars ``slot_pt`` apart: level if they all fit, else turned by 45° and, when
    even that is too tight, only every 2nd, 3rd, 4th, 6th or 12th."""
    line = size * 1.25
    level = [_fit(label, 130.0, size) for label in labels]
    if all(_text_width(s, size) + 6 <= slot_pt for s in level):
        return _Categories(list(range(len(labels))), level, size, False, line + 6)
    every = _nice_step(math.ceil(line * 1.4 / slot_pt))
    shown = list(range(0, len(labels), every))
    names = [_fit(labels[i], 130.0, size) for i in shown]
    widest = max((_text_width(s, size) for s in names), default=0.0)
    return _Categories(shown, names, size, True, (widest + line) * math.sin(math.pi / 4) + 6)


def _overhang(cats: _Categories, slot_pt: float) -> float:
    """How far a turned first label reaches left of the axes, in points, plus a margin."""
    if not cats.rotate or not cats.names:
        return 0.0
    reach = (_text_width(cats.names[0], cats.size) + cats.size) * math.cos(math.pi / 4)
    return reach - slot_pt / 2 + 4


def _set_x_labels(ax: Axes, cats: _Categories) -> None:
    positions = [float(i) for i in cats.shown]
    if cats.rotate:
        ax.set_xticks(
            positions,
            cats.names,
            rotation=45,
            ha="right",
            rotation_mode="anchor",
            fontsize=cats.size,
        )
    else:
        ax.set_xticks(positions, cats.names, fontsize=cats.size)


def _series_styles(count: int) -> list[tuple[str, str | None]]:
    """A colour per series; after the eight colours, the same again with a hatch."""
    hatches = [None, "//", "..", "\\\\", "xx"]
    return [
        (OKABE_ITO[i % len(OKABE_ITO)], hatches[(i // len(OKABE_ITO)) % len(hatches)])
        for i in range(count)
    ]


class _Legend(NamedTuple):
    labels: list[str]
    cols: int
    col_w: float  # points
    left: float  # points from the figure's left edge
    rows: int


def _legend_layout(names: Sequence[str]) -> _Legend:
    """Columns of equal width, as many as fit the figure, centred."""
    usable = _WIDTH * 72 - 24
    labels = [_fit(name, usable - 16, _LABEL_PT) for name in names]
    col_w = max((_text_width(s, _LABEL_PT) for s in labels), default=0.0) + 16 + 14
    cols = max(1, min(len(labels), int(usable // col_w)))
    left = (_WIDTH * 72 - cols * col_w + 14) / 2
    return _Legend(labels, cols, col_w, left, math.ceil(len(labels) / cols))


def _finish(fig: Figure, *, chart_id: str, title: str, summary: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata=_NO_METADATA)
    return _accessible(buf.getvalue(), chart_id=chart_id, title=title, summary=summary)


# --- the SVG text ----------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")  # text and attribute values have < and > escaped
_ROOT = re.compile(r"<svg\b[^>]*>")
_SIZE_ATTR = re.compile(r'\s(?:width|height)="[^"]*"')
_ID_ATTR = re.compile(r'(\sid=")([^"]*)(")')
_URL_REF = re.compile(r"(url\(#)([^)\s]+)(\))")
_HREF_REF = re.compile(r'(\s(?:xlink:)?href="#)([^"]*)(")')


def _accessible(svg: str, *, chart_id: str, title: str, summary: str) -> str:
    """The root ``<svg>`` alone, sized by its container, named and described for screen
    readers, with every id prefixed by the chart's id."""
    svg = svg[svg.index("<svg") :].strip()
    svg = _prefix_ids(svg, f"{chart_id}-")
    svg = svg.replace(f"font-family: {_FONT_FAMILY}; ", "")
    root = _ROOT.search(svg)
    assert root is not None  # matplotlib always writes one
    tag = _SIZE_ATTR.sub("", root.group(0))[: -len(">")]
    tag += (
        f' class="chart" role="img" aria-labelledby="{chart_id}-title"'
        f' aria-describedby="{chart_id}-desc"'
        f' style="max-width:100%;height:auto;font-family:{_FONT_FAMILY}">'
        f'\n <title id="{chart_id}-title">{escape(title)}</title>'
        f'\n <desc id="{chart_id}-desc">{escape(summary)}</desc>'
    )
    return svg[: root.start()] + tag + svg[root.end() :]


def _prefix_ids(svg: str, prefix: str) -> str:
    """Prefix every ``id`` and every ``url(#…)`` and ``href="#…"`` that names one; only
    inside tags, so that a label reading ``id="x"`` stays as written."""
    ids = {m.group(2) for tag in _TAG.findall(svg) for m in _ID_ATTR.finditer(tag)}

    def ref(m: re.Match[str]) -> str:
        name = m.group(2)
        return m.group(1) + (prefix + name if name in ids else name) + m.group(3)

    def tag(m: re.Match[str]) -> str:
        text = _ID_ATTR.sub(lambda a: a.group(1) + prefix + a.group(2) + a.group(3), m.group(0))
        return _HREF_REF.sub(ref, _URL_REF.sub(ref, text))

    return _TAG.sub(tag, svg)


# --- text and numbers ------------------------------------------------------------------------


def _check_id(chart_id: str) -> None:
    if not _CHART_ID.fullmatch(chart_id):
        raise ValueError(f"chart_id must be a letter then letters, digits, - or _: {chart_id!r}")


def _check_finite(values: Sequence[float]) -> None:
    if not all(math.isfinite(v) for v in values):
        raise ValueError("chart values must be finite numbers")


def _text_width(text: str, size: float, *, bold: bool = False) -> float:
    """The width of ``text`` in points: Latin text as DejaVu Sans sets it (wider than most
    browser fonts), and a full em for each wide East Asian character, which matplotlib
    cannot measure without a Chinese font."""
    return size * sum(_advance(ch, bold) for ch in text)


@functools.lru_cache(maxsize=4096)
def _advance(ch: str, bold: bool) -> float:
    """One character's advance in ems; a memo of font metrics (not of charts), as laying
    out a text glyph by glyph each time took half the time of a long waterfall."""
    if unicodedata.east_asian_width(ch) in "WF":
        return 1.05 if bold else 1.0
    weight = "bold" if bold else "normal"
    font = get_font(findfont(FontProperties(family="DejaVu Sans", weight=weight)))
    if font.get_char_index(ord(ch)) == 0:  # not in DejaVu Sans (Thai, say): a guess
        return 0.65
    font.set_size(100, 72)
    # The unhinted advance, in 16.16 fixed point: kerning is left out, which errs wide.
    return font.load_char(ord(ch)).linearHoriAdvance / 65536 / 100


def _fit(label: str, width_pt: float, size: float, *, bold: bool = False) -> str:
    """One line of at most 48 characters that fits ``width_pt``, cut with "…"."""
    text = " ".join(label.split())
    if len(text) > _MAX_CHARS:
        text = text[: _MAX_CHARS - 1].rstrip() + "\u2026"
    while len(text) > 1 and _text_width(text, size, bold=bold) > width_pt:
        text = text[:-2].rstrip() + "\u2026"
    return text


def _number(value: float) -> str:
    """1000 → "1,000", 12.5 → "12.5", −40 with a real minus sign."""
    value = round(float(value), 2)
    if value == 0:
        return "0"
    text = f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace("-", _MINUS)


def _signed(value: float) -> str:
    text = _number(value)
    return "+" + text if text != "0" and value > 0 else text


def _real_minus(text: str) -> str:
    """A formatted number with a real minus sign in place of the hyphen."""
    return re.sub(r"-(?=[\d.,])", _MINUS, text)


def _tick_formatter(value_format: str) -> Callable[[float, int | None], str]:
    return lambda value, _pos: _real_minus(value_format.format(value))


def _value_ticks(lo: float, hi: float, *, integer: bool) -> tuple[list[float], float]:
    """Round ticks covering ``lo``–``hi`` and the axis' upper limit (the last tick)."""
    ticks = [float(t) for t in MaxNLocator(nbins=5, integer=integer).tick_values(lo, hi)]
    while len(ticks) > 2 and ticks[1] <= lo:
        ticks.pop(0)
    while len(ticks) > 2 and ticks[-2] >= hi:
        ticks.pop()
    return ticks, ticks[-1]


def _headroom(lo: float, hi: float, label_pt: float, axis_pt: float) -> float:
    """The axis' upper limit that leaves ``label_pt`` points free beyond ``hi``."""
    share = min(label_pt / axis_pt, 0.6)
    return (hi - lo * share) / (1 - share)


def _nice_step(step: int) -> int:
    for nice in (1, 2, 3, 4, 6, 12, 24):
        if nice >= step:
            return nice
    return step
