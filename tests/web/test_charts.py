"""The server-side charts: each is read back as XML and checked for what a page and a
screen reader rely on. Data is made inline, per test; no fixtures from conftest."""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable

import matplotlib
import pytest

from trustledger.web import charts

SVG = "{http://www.w3.org/2000/svg}"
MINUS = "\u2212"


def _waterfall(chart_id: str = "wf", **kw: object) -> str:
    args: dict[str, object] = {
        "steps": [("未履行法院判决", -40.0), ("Tax paid on time", 12.5), ("<A&B>", 0.0)],
        "start_label": "基础分",
        "start": 1000.0,
        "end_label": "信用分",
        "chart_id": chart_id,
        "title": "Score of <A&B>",
        "summary": "From 1000 to 972.5 & back.",
    }
    args.update(kw)
    return charts.waterfall(**args)  # type: ignore[arg-type]


def _bars(chart_id: str = "bars") -> str:
    return charts.bars(
        [("A", 4120), ("红名单", 37), ("<A&B>", 5)],
        chart_id=chart_id,
        title="Grades",
        summary="Most subjects have grade A.",
    )


def _hbars(chart_id: str = "hbars") -> str:
    return charts.bars(
        [("Upheld", 120), ("已撤回的异议", 3), ("<A&B>", -2)],
        chart_id=chart_id,
        title="Outcomes",
        summary="Most objections are upheld.",
        horizontal=True,
        colors=charts.OKABE_ITO,
    )


def _stacked(chart_id: str = "stacked") -> str:
    return charts.stacked_by_period(
        ["2025-01", "2025-02", "2025-03"],
        [("司法 judicial", [30, 41, 0]), ("<A&B>", [1, 0, 23])],
        chart_id=chart_id,
        title="Records per month",
        summary="Records per month by domain.",
    )


def _histogram(chart_id: str = "hist") -> str:
    return charts.histogram(
        [1.0] * 31 + [9.0] * 7 + [40.0] * 13,
        bins=[0, 5, 15, 365],
        chart_id=chart_id,
        title="Review times",
        summary="Most reviews take under a week.",
        x_label="审查天数",
        y_label="<A&B>",
    )


KINDS: dict[str, Callable[[str], str]] = {
    "waterfall": _waterfall,
    "bars": _bars,
    "horizontal bars": _hbars,
    "stacked": _stacked,
    "histogram": _histogram,
}
each_kind = pytest.mark.parametrize("make", KINDS.values(), ids=KINDS.keys())


def _texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def _ids(svg: str) -> set[str]:
    return {el.attrib["id"] for el in ET.fromstring(svg).iter() if "id" in el.attrib}


@each_kind
def test_one_accessible_svg_element(make: Callable[[str], str]) -> None:
    svg = make("c1")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("class") == "chart"
    assert "width" not in root.attrib and "height" not in root.attrib
    assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", root.get("viewBox", ""))
    assert "max-width:100%" in root.get("style", "")
    title, desc = root[0], root[1]
    assert title.tag == f"{SVG}title" and title.get("id") == "c1-title"
    assert root.get("aria-labelledby") == "c1-title"
    assert desc.tag == f"{SVG}desc" and root.get("aria-describedby") == desc.get("id")
    assert title.text and desc.text and desc.text.endswith(".")
    # No date, no creator: nothing but the drawing.
    assert "<metadata" not in svg and "<!DOCTYPE" not in svg and "<?xml" not in svg


@each_kind
def test_text_stays_text_with_chinese_fallback_fonts(make: Callable[[str], str]) -> None:
    svg = make("c1")
    assert "<text" in svg
    assert not re.search(r'<path id="[^"]*DejaVu', svg)  # no glyphs drawn as paths
    # Said once, on the root, rather than on every <text>.
    style = ET.fromstring(svg).get("style", "")
    assert "'Noto Sans CJK SC'" in style and "'Microsoft YaHei'" in style
    assert style.endswith("sans-serif") and svg.count("font-family") == 1
    assert "#1a1a1a" in svg


@each_kind
def test_same_input_same_bytes(make: Callable[[str], str]) -> None:
    assert make("c1") == make("c1")


@each_kind
def test_ids_are_prefixed_and_references_resolve(make: Callable[[str], str]) -> None:
    one, two = make("first"), make("second")
    ids_one, ids_two = _ids(one), _ids(two)
    assert ids_one and not ids_one & ids_two
    assert all(i.startswith("first-") for i in ids_one)
    for svg, ids in ((one, ids_one), (two, ids_two)):
        refs = re.findall(r"url\(#([^)]+)\)", svg) + re.findall(r'href="#([^"]+)"', svg)
        assert refs  # clip paths and tick markers at least
        assert set(refs) <= ids


@each_kind
def test_special_characters_escaped(make: Callable[[str], str]) -> None:
    svg = make("c1")
    assert "<A&B>" not in svg
    assert "&lt;A&amp;B&gt;" in svg
    root = ET.fromstring(svg)
    assert "<A&B>" in _texts(svg) or "<A&B>" in (root[0].text or "")


def test_waterfall_value_labels_use_a_real_minus_sign() -> None:
    texts = _texts(_waterfall())
    assert "+12.5" in texts
    assert f"{MINUS}40" in texts and "-40" not in texts
    assert "1,000" in texts and "972.5" in texts  # start and end, the end computed
    assert "0" in texts  # a step of nothing is shown as such
    assert {"基础分", "未履行法院判决", "Tax paid on time", "<A&B>", "信用分"} <= set(texts)


def test_waterfall_title_and_summary_escaped() -> None:
    svg = _waterfall()
    assert '<title id="wf-title">Score of &lt;A&amp;B&gt;</title>' in svg
    root = ET.fromstring(svg)
    assert root[0].text == "Score of <A&B>"
    assert root[1].text == "From 1000 to 972.5 & back."


def test_waterfall_axis_cut_below_the_lowest_total_when_steps_are_small() -> None:
    svg = _waterfall(steps=[("a", -40.0), ("b", 12.5)])
    ticks = [float(t.replace(",", "")) for t in _texts(svg) if re.fullmatch(r"[\d,]+", t)]
    # The tick labels include the axis' left edge, above 0 and at most the lowest total.
    assert 900 <= min(ticks) <= 960


def test_waterfall_starts_at_zero_when_steps_are_large() -> None:
    texts = _texts(_waterfall(steps=[("Fraud", -700.0)]))
    assert "0" in texts and f"{MINUS}700" in texts and "300" in texts


def test_waterfall_with_no_steps() -> None:
    texts = _texts(_waterfall(steps=[]))
    assert texts.count("1,000") >= 2  # start and end bars (and maybe a tick)
    assert "基础分" in texts and "信用分" in texts


def test_waterfall_grows_with_its_steps_and_rows_do_not_overlap() -> None:
    def height(svg: str) -> float:
        return float(ET.fromstring(svg).get("viewBox", "").split()[3])

    steps = [(f"Line {i}", float(i % 7 - 3)) for i in range(40)]
    short, long = _waterfall(steps=steps[:20]), _waterfall(steps=steps)
    assert height(long) - height(short) == pytest.approx(20 * 0.5 * 72)
    label_ys = sorted(
        float(t.get("y", "nan"))
        for t in ET.fromstring(long).iter(f"{SVG}text")
        if (t.text or "").startswith("Line ")
    )
    assert len(label_ys) == 40
    assert min(b - a for a, b in zip(label_ys, label_ys[1:], strict=False)) >= 30


def test_long_labels_are_cut_with_an_ellipsis() -> None:
    label = "A very long description of a record " * 4
    texts = _texts(_waterfall(steps=[(label, -1.0)]))
    (latin,) = [t for t in texts if t.startswith("A very long")]
    assert latin.endswith("\u2026") and len(latin) <= 48
    wide = "很长的中文说明" * 10  # 70 wide characters cannot fit 460 points at 12 points
    texts = _texts(_waterfall(steps=[(wide, -1.0)]))
    (chinese,) = [t for t in texts if t.startswith("很长")]
    assert chinese.endswith("\u2026") and len(chinese) <= 38


def test_scripts_without_glyphs_in_matplotlibs_font_do_not_warn() -> None:
    # The suite turns warnings into errors: "Glyph ... missing from font(s)" must not fire.
    _waterfall(steps=[("ภาษาไทย", 1.0), ("हिन्दी", -1.0)])
    charts.bars([("ሀ", 1)], chart_id="b", title="t", summary="s.", horizontal=True)
    charts.bars([("ᚠ", 1)], chart_id="b", title="t", summary="s.")
    charts.stacked_by_period(["ก"], [("अ", [1])], chart_id="s", title="t", summary="s.")
    charts.histogram(
        [1], bins=[0, 2], chart_id="h", title="t", summary="s.", x_label="ก", y_label="अ"
    )


def test_ids_inside_label_text_are_left_alone() -> None:
    svg = _waterfall(steps=[('id="x" url(#y) href="#z"', 1.0)])
    assert 'id="x" url(#y) href="#z"' in _texts(svg)


def test_bars_label_values_only_when_few() -> None:
    twelve = [(f"b{i}", 100.0 + i) for i in range(12)]
    texts = _texts(charts.bars(twelve, chart_id="b", title="t", summary="s."))
    assert "100" in texts and "111" in texts
    texts = _texts(charts.bars([*twelve, ("b12", 112)], chart_id="b", title="t", summary="s."))
    assert "111" not in texts


def test_bars_value_format_colors_and_negative_values() -> None:
    svg = charts.bars(
        [("up", 0.125), ("down", -0.05)],
        chart_id="b",
        title="t",
        summary="s.",
        value_format="{:.1%}",
        colors=["#009E73", "#D55E00"],
    )
    texts = _texts(svg)
    assert "12.5%" in texts and f"{MINUS}5.0%" in texts
    assert "#009e73" in svg.lower() and "#d55e00" in svg.lower()


def test_stacked_shows_totals_legend_and_checks_lengths() -> None:
    texts = _texts(_stacked())
    assert {"31", "41", "23"} <= set(texts)  # totals of the three months
    assert "司法 judicial" in texts and "<A&B>" in texts
    with pytest.raises(ValueError, match="2 values for 3 periods"):
        charts.stacked_by_period(
            ["a", "b", "c"], [("x", [1, 2])], chart_id="s", title="t", summary="s."
        )


def test_stacked_counts_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        charts.stacked_by_period(["a"], [("x", [-1])], chart_id="s", title="t", summary="s.")


def test_stacked_thins_many_periods() -> None:
    periods = [f"{2021 + m // 12}-{m % 12 + 1:02d}" for m in range(60)]
    series = [(f"domain {d}", [float((m * d) % 11) for m in range(60)]) for d in range(10)]
    svg = charts.stacked_by_period(periods, series, chart_id="s", title="t", summary="s.")
    shown = [t for t in _texts(svg) if re.fullmatch(r"\d{4}-\d\d", t)]
    assert 5 <= len(shown) <= 30 and shown[0] == "2021-01"
    assert {f"domain {d}" for d in range(10)} <= set(_texts(svg))
    assert "rotate(-45" in svg


def test_histogram_counts_and_edges() -> None:
    texts = _texts(_histogram())
    assert {"31", "7", "13"} <= set(texts)  # the counts, on unequal bins drawn equally wide
    assert {"0", "5", "15", "365", "审查天数", "<A&B>"} <= set(texts)
    with pytest.raises(ValueError, match="increasing"):
        charts.histogram(
            [1], bins=[0, 0], chart_id="h", title="t", summary="s.", x_label="x", y_label="y"
        )


@pytest.mark.parametrize(
    "make",
    [
        lambda: charts.waterfall(
            [], start_label="", start=0, end_label="", chart_id="e", title="t", summary="s."
        ),
        lambda: charts.bars([], chart_id="e", title="t", summary="s."),
        lambda: charts.bars([], chart_id="e", title="t", summary="s.", horizontal=True),
        lambda: charts.bars([("a", 0), ("b", 0)], chart_id="e", title="t", summary="s."),
        lambda: charts.stacked_by_period([], [], chart_id="e", title="t", summary="s."),
        lambda: charts.stacked_by_period(["2025-01"], [], chart_id="e", title="t", summary="s."),
        lambda: charts.histogram(
            [], bins=[0, 1], chart_id="e", title="t", summary="s.", x_label="x", y_label="y"
        ),
    ],
    ids=["waterfall", "bars", "hbars", "zeros", "stacked", "no series", "histogram"],
)
def test_empty_inputs_draw_a_chart(make: Callable[[], str]) -> None:
    root = ET.fromstring(make())
    assert root[0].text == "t"


@pytest.mark.parametrize("chart_id", ["", "1st", "a b", 'x"y', "a<b", "é"])
def test_chart_id_must_be_a_plain_token(chart_id: str) -> None:
    with pytest.raises(ValueError, match="chart_id"):
        _bars(chart_id)


def test_values_must_be_finite() -> None:
    with pytest.raises(ValueError, match="finite"):
        charts.bars([("a", float("nan"))], chart_id="b", title="t", summary="s.")
    with pytest.raises(ValueError, match="finite"):
        _waterfall(steps=[("a", float("inf"))])


def test_global_matplotlib_settings_are_left_alone() -> None:
    before = dict(matplotlib.rcParams)
    _waterfall()
    assert dict(matplotlib.rcParams) == before


def test_threads_draw_what_one_thread_draws() -> None:
    expected = {name: make(name.replace(" ", "-")) for name, make in KINDS.items()}
    got: dict[str, str] = {}
    errors: list[BaseException] = []

    def draw(name: str) -> None:
        try:
            got[name] = KINDS[name](name.replace(" ", "-"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=draw, args=(name,)) for name in KINDS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert got == expected


def test_the_waterfall_axis_reaches_down_to_the_floor() -> None:
    def ticks(svg: str) -> list[float]:
        found = re.findall(r">([0-9][0-9,.]*)</text>", svg)
        return [float(t.replace(",", "")) for t in found]

    def draw(chart_id: str, floor: float | None) -> str:
        return charts.waterfall(
            [("Late fare", -10)],
            start_label="Base",
            start=1000,
            end_label="Score",
            chart_id=chart_id,
            title="t",
            summary="s",
            floor=floor,
        )

    near, floored = draw("a", None), draw("b", 960)
    assert min(ticks(near)) > 960
    assert min(ticks(floored)) <= 960
