"""``trustledger serve``: the HTTP service under uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn
from sqlalchemy import make_url

from trustledger.cli.app import app, now, out, state
from trustledger.service.audit import KEY_ENV, audit_key_path, ensure_audit_key
from trustledger.store.engine import resolve_url
from trustledger.web.deps import DEFAULT_CONCURRENCY, DEFAULT_RATE


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes.")] = 1,
    rate_limit: Annotated[
        float,
        typer.Option(min=0.1, help="Requests per second per key (bursts of twice that)."),
    ] = DEFAULT_RATE,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            max=256,
            help="PostgreSQL: use cases running at once in each worker (SQLite runs one at "
            "a time).",
        ),
    ] = DEFAULT_CONCURRENCY,
    maintain_every: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds between runs of `maintain` (expiry, overdue reviews, rescoring); "
            "0: never.",
        ),
    ] = 3600,
    deliver_every: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds between deliveries of due webhook notifications; 0: never."
        ),
    ] = 30,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve the JSON API (OpenAPI at /docs) until interrupted."""
    engine = state.engine()
    key_path = audit_key_path(state.db, state.audit_key)
    ensure_audit_key(engine, key_path, now=now())
    start_server(
        host=host,
        port=port,
        workers=workers,
        rate_limit=rate_limit,
        concurrency=concurrency,
        maintain_every=maintain_every,
        deliver_every=deliver_every,
        log_level=log_level,
    )


def start_server(
    *,
    host: str,
    port: int,
    workers: int = 1,
    rate_limit: float = DEFAULT_RATE,
    concurrency: int = DEFAULT_CONCURRENCY,
    maintain_every: float = 3600,
    deliver_every: float = 30,
    log_level: str = "info",
) -> None:
    """Run uvicorn on the database and audit key the command line chose."""
    os.environ["TRUSTLEDGER_DB"] = resolve_url(state.db)
    os.environ[KEY_ENV] = str(audit_key_path(state.db, state.audit_key))
    os.environ["TRUSTLEDGER_RATE_LIMIT"] = str(rate_limit)
    os.environ["TRUSTLEDGER_CONCURRENCY"] = str(concurrency)
    os.environ["TRUSTLEDGER_MAINTAIN_EVERY"] = str(maintain_every)
    os.environ["TRUSTLEDGER_DELIVER_EVERY"] = str(deliver_every)
    shown = make_url(os.environ["TRUSTLEDGER_DB"]).render_as_string(hide_password=True)
    out.print(
        f"Serving {shown} on http://{host}:{port} "
        f"(API docs: http://{host}:{port}/docs). Stop with Ctrl-C.",
        highlight=False,
    )
    uvicorn.run(
        "trustledger.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=log_level == "debug",
    )
