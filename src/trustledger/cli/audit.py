"""``trustledger audit``: verify the log, print its signed tree head."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated

import typer

from trustledger.audit import AuditKey, TreeHead
from trustledger.cli.app import app, err, fail, out, print_json, state
from trustledger.errors import AuditError, InvalidInput
from trustledger.service import audit as audit_service

audit_app = typer.Typer(
    help="The tamper-evident audit log of every read and write.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    public_key: Annotated[
        str | None,
        typer.Option(
            help="The log's public key (base64, as /v1/audit/tree-head shows it) "
            "[default: from the signing key file if it is here, else the key pinned "
            "in the database]."
        ),
    ] = None,
    tree_head: Annotated[
        Path | None,
        typer.Option(
            help="A tree head saved earlier (`trustledger audit tree-head > FILE`): the log "
            "must still contain it. This catches events cut from the end."
        ),
    ] = None,
) -> None:
    """Recompute every leaf, node, root and signature; name the first bad event."""
    engine = state.engine()
    source = ""
    key_bytes: bytes | None = None
    if public_key is not None:
        try:
            key_bytes = base64.b64decode(public_key, validate=True)
        except ValueError:
            fail("--public-key: not valid base64")
        if len(key_bytes) != 32:
            fail(
                f"--public-key: an Ed25519 public key is 32 bytes, this is {len(key_bytes)}; "
                "copy public_key from /v1/audit/tree-head"
            )
        source = "--public-key"
    else:
        try:
            path = audit_service.audit_key_path(state.db, state.audit_key)
        except InvalidInput:  # PostgreSQL without a key path: use the pinned key
            path = None
        if path is not None and path.exists():
            key_bytes = AuditKey.load(path).public_bytes()
            source = f"key file {path}"
    published = None
    if tree_head is not None:
        try:
            published = TreeHead.from_json(tree_head.read_bytes())
        except OSError as exc:
            fail(f"--tree-head: cannot read {tree_head}: {exc.strerror}")
    try:
        report = audit_service.verify(
            engine, public_key=key_bytes, key_source=source, published=published
        )
    except AuditError as exc:
        fail(f"audit log does NOT verify: {exc}")
    for warning in report.warnings:
        err.print(f"warning: {warning}", highlight=False, markup=False)
    out.print(
        f"Audit log verifies: {report.events:,} events, {report.nodes:,} Merkle nodes, every "
        f"signature checked with the key from {report.key_source} "
        f"(fingerprint {report.fingerprint[:16]}).",
        highlight=False,
    )
    out.print(f"Root: {base64.b64encode(report.root).decode()}", highlight=False)
    if report.checked_head is not None:
        out.print(
            f"The published tree head of {report.checked_head.tree_size:,} events is in the log.",
            highlight=False,
        )


@audit_app.command("tree-head")
def tree_head_command() -> None:
    """Print the latest signed tree head as JSON (keep it to check the log later)."""
    engine = state.engine()
    with engine.connect() as conn:
        head = audit_service.tree_head(conn)
    if head is None:
        fail("the audit log is empty")
    print_json(head.as_json())
