"""The web pages: server-rendered HTML (Jinja2, htmx where it helps) over the same
service calls as the JSON API, in English and Simplified Chinese.

Who is signed in comes from a session cookie (``service/sessions.py``), never from an
``Authorization`` header; every form carries the session's CSRF token. The pages are not
in the OpenAPI document: ``docs/web.md`` describes them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from trustledger.web.pages import dashboard, desk, portal, public, signin
from trustledger.web.pages.common import error_page, http_error_page, is_page, message_of

__all__ = ["STATIC", "error_page", "http_error_page", "install", "is_page", "message_of"]

STATIC = Path(__file__).resolve().parent.parent / "static"


def install(app: FastAPI) -> None:
    """Add the pages and their static files (CSS, htmx) to ``app``."""
    router = APIRouter(include_in_schema=False)
    for module in (public, signin, portal, desk, dashboard):
        router.include_router(module.router)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
