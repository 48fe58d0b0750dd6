"""``trustledger keys``: API keys for the HTTP service's principals."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from trustledger.cli.app import app, err, fail, now, out, print_json, state
from trustledger.domain.principal import Role
from trustledger.service import keys as key_service
from trustledger.service import sessions as session_service

keys_app = typer.Typer(
    help="Create, list and revoke API keys, and set their webhooks. A key is shown once; "
    "only its hash is stored.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(keys_app, name="keys")

ROLES = ", ".join(r.value for r in Role)


@keys_app.command("create")
def create(
    role: Annotated[str, typer.Option(help=f"One of: {ROLES}.")],
    provider: Annotated[
        str | None, typer.Option(help="Provider keys: the provider, as the policy names it.")
    ] = None,
    measures: Annotated[
        str | None,
        typer.Option(help="Relying-party keys: the measures it may ask about, M1,M2,..."),
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="Subject keys: the subject's id or identifier.")
    ] = None,
    label: Annotated[str, typer.Option(help="Who holds the key, for people.")] = "",
    rate: Annotated[
        int | None,
        typer.Option(min=1, help="Requests per second [default: the server's --rate-limit]."),
    ] = None,
    webhook: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="POST the key's notifications to this http(s) URL, signed with a secret "
            "printed once.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key and print it once."""
    try:
        the_role = Role(role)
    except ValueError:
        fail(f"--role: unknown role {role!r}; one of: {ROLES}")
    names = tuple(m.strip() for m in measures.split(",") if m.strip()) if measures else ()
    made = key_service.create_key(
        state.engine(),
        role=the_role,
        now=now(),
        label=label,
        provider=provider,
        measures=names,
        subject=subject,
        rate_per_second=rate,
        webhook_url=webhook,
    )
    p = made.principal
    if json_out:
        print_json(
            {
                "key": made.token,
                "key_id": p.key_id,
                "role": p.role.value,
                "label": p.label,
                "provider": p.provider,
                "measures": list(p.measures),
                "subject": p.subject_id,
                "webhook": made.webhook_url,
                "webhook_secret": made.webhook_secret,
            }
        )
        return
    out.print(made.token, highlight=False, markup=False)
    err.print(
        f"Key {p.key_id} for {p.role.value}{' ' + p.scope if p.scope else ''} ({p.label}). "
        "It is shown once: store it now. Send it as 'Authorization: Bearer KEY'.",
        highlight=False,
        markup=False,
    )
    if made.webhook_secret is not None:
        _print_webhook_secret(made.webhook_secret, made.webhook_url)


def _print_webhook_secret(secret: str, url: str | None) -> None:
    out.print(secret, highlight=False, markup=False)
    err.print(
        f"Webhook secret for {url}: receivers verify the webhook-signature header of every "
        "notification with it (Standard Webhooks; see docs/webhooks.md). "
        "It is shown once too: store it now.",
        highlight=False,
        markup=False,
    )


@keys_app.command("list")
def list_keys(
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List keys (never their secrets)."""
    table = Table(show_edge=False)
    for col in ("key id", "role", "scope", "label", "created", "revoked", "webhook"):
        table.add_column(col, overflow="fold")
    for k in key_service.list_keys(state.engine(), include_revoked=all_keys):
        p = k.principal
        table.add_row(
            p.key_id,
            p.role.value,
            p.scope,
            p.label,
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
            k.webhook_url or "",
        )
    out.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (the part after tlk_).")],
) -> None:
    """Revoke a key at once; it is kept, marked revoked, for the audit trail."""
    done = key_service.revoke_key(state.engine(), key_id, now=now())
    out.print(
        f"Revoked key {done.principal.key_id} ({done.principal.role.value}).", highlight=False
    )


@keys_app.command("webhook")
def webhook(
    key_id: Annotated[str, typer.Argument(help="The key id (the part after tlk_).")],
    url: Annotated[
        str | None,
        typer.Argument(help="The http(s) URL to POST the key's notifications to."),
    ] = None,
    remove: Annotated[
        bool,
        typer.Option(
            "--remove", help="Remove the webhook: notifications are then read through the API."
        ),
    ] = False,
) -> None:
    """Set a key's webhook (with a new secret, printed once) or remove it."""
    if url is not None and remove:
        fail("give a URL or --remove, not both")
    if url is None and not remove:
        fail("give the webhook's URL, or --remove to remove it")
    secret = key_service.set_webhook(state.engine(), key_id, None if remove else url)
    if secret is None:
        out.print(
            f"Removed the webhook of key {key_id}: its notifications are read through the API.",
            highlight=False,
            markup=False,
        )
        return
    _print_webhook_secret(secret, url)


@keys_app.command("signin-code")
def signin_code(
    key_id: Annotated[str, typer.Argument(help="The key id (the part after tlk_).")],
    minutes: Annotated[
        int, typer.Option(min=1, max=7 * 24 * 60, help="How long the code lasts.")
    ] = 15,
    url: Annotated[
        str,
        typer.Option(
            envvar="TRUSTLEDGER_URL",
            help="The server's address, for the sign-in link (what `serve` listens on).",
        ),
    ] = "http://127.0.0.1:8000",
) -> None:
    """Make a one-time code that signs a browser in to the web pages as the key's holder
    (without handing over the key itself). It works once, within --minutes."""
    code = session_service.create_signin_code(
        state.engine(), key_id, now=now(), ttl=timedelta(minutes=minutes)
    )
    out.print(code, highlight=False, markup=False)
    err.print(
        f"One-time sign-in code for key {key_id}, valid {minutes} minutes: enter it at "
        f"{url.rstrip('/')}/signin or open {url.rstrip('/')}/signin?code={code}",
        highlight=False,
        markup=False,
    )
