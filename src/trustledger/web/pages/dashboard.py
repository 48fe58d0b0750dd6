"""The operator's dashboard: grades, lists, records by domain over time, objections and
review times, each provider's data quality, and the latest batches received. Charts are
drawn on the server as SVG (``web/charts.py``), each beside a table of the same figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustledger.domain.principal import Role
from trustledger.web import charts
from trustledger.web.deps import run_use_case
from trustledger.web.pages.common import V, need, page, policy_texts, registry
from trustledger.web.pages.i18n import Lang

router = APIRouter(include_in_schema=False)
#: Review times in days, the histogram's bins.
REVIEW_BINS = (0.0, 1.0, 3.0, 7.0, 14.0, 21.0, 30.0, 45.0, 60.0)


@lru_cache(maxsize=64)
def _chart(kind: str, args: str) -> str:
    """A chart of ``args`` (JSON), cached: the same figures draw the same SVG."""
    data = json.loads(args)
    fn = getattr(charts, kind)
    positional = data.pop("_args")
    return str(fn(*positional, **data))


def chart(kind: str, *args: Any, **kwargs: Any) -> str:
    return _chart(kind, json.dumps({"_args": args, **kwargs}, sort_keys=True))


def draw(figures: dict[str, Any], L: Lang, pt: Callable[[str, str], str]) -> dict[str, str]:
    grades = [(g["grade"], g["persons"] + g["organisations"]) for g in figures["grades"]]
    kinds = [x["kind"] for x in figures["lists"]]
    kind_names = {"red": L.gettext("red list"), "black": L.gettext("black list")}
    # The short name when each kind of list is one list; the title otherwise.
    lists = [
        (
            kind_names[x["kind"]]
            if kinds.count(x["kind"]) == 1
            else pt(f"lists.{x['name']}.title", x["title"]),
            x["subjects"],
        )
        for x in figures["lists"]
    ]
    rbd = figures["records_by_domain"]
    names = {
        "upheld": L.gettext("upheld"),
        "corrected": L.gettext("corrected"),
        "retracted": L.gettext("retracted"),
        "approved": L.gettext("approved"),
        "refused": L.gettext("refused"),
    }
    outcomes = [(names.get(k, k), v) for k, v in figures["cases"]["by_outcome"].items()]
    total = sum(n for _, n in grades)
    return {
        "grades": chart(
            "bars",
            grades,
            chart_id="chart-grades",
            title=L.gettext("Subjects by grade"),
            summary=L.gettext("%(n)s subjects with a current grade, by grade.", n=L.number(total)),
        ),
        "lists": chart(
            "bars",
            lists,
            chart_id="chart-lists",
            horizontal=True,
            title=L.gettext("Subjects on each list today"),
            summary=L.gettext("The number of subjects with an entry in force on each list."),
        ),
        "records": chart(
            "stacked_by_period",
            rbd["months"],
            [(pt(f"domains.{d['domain']}.title", d["title"]), d["counts"]) for d in rbd["domains"]],
            chart_id="chart-records",
            title=L.gettext("Records by domain and month"),
            summary=L.gettext(
                "Records in the registry by the month of their date, stacked by domain."
            ),
        ),
        "outcomes": chart(
            "bars",
            outcomes,
            chart_id="chart-outcomes",
            title=L.gettext("Decided objections and repairs by outcome"),
            summary=L.gettext("How reviews ended."),
        ),
        "review": chart(
            "histogram",
            figures["cases"]["review_days"],
            bins=list(REVIEW_BINS),
            chart_id="chart-review",
            title=L.gettext("Review times"),
            summary=L.gettext("Days from an objection or request to its decision."),
            x_label=L.gettext("days"),
            y_label=L.gettext("cases"),
        ),
    }


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    who: V,
    months: Annotated[int, Query(ge=1, le=120)] = 24,
) -> Response:
    refused = need(request, who, Role.OPERATOR)
    if refused is not None:
        return refused
    figures = await run_use_case(
        request,
        registry(request).dashboard.figures,
        who.actor(request, "registry_administration"),
        months=months,
    )
    return page(
        request,
        who,
        "dashboard.html",
        f=figures,
        charts=draw(figures, who.lang, policy_texts(request, who)),
        months=months,
    )
