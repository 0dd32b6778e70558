"""``flopbill web``: serve the dashboard and the JSON API from one process (loopback by default)."""

from __future__ import annotations

import ipaddress
import logging
import sys

import typer

from flopbill.cli.app import app, err_console
from flopbill.errors import InputError

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None, allow_open: bool) -> str | None:
    """Return a warning for a non-loopback bind; refuse one with neither a token nor ``--allow-open``."""
    if is_loopback(host):
        return None
    if token:
        return f"serving on {host}: every /api/ request needs 'Authorization: Bearer <token>'"
    if not allow_open:
        raise InputError(
            "--host", host, "a loopback address, or --token T (or --allow-open to serve without auth)"
        )
    return f"WARNING: serving on {host} WITHOUT authentication: anyone who can reach it can use it"


@app.command("web")
def web(
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind (default: loopback only)"),
    port: int = typer.Option(8000, "--port", help="TCP port (0 = any free port)"),
    token: str = typer.Option(None, "--token", help="require 'Authorization: Bearer T' on /api/"),
    allow_open: bool = typer.Option(
        False, "--allow-open", help="allow a non-loopback host without --token (loud warning)"
    ),
) -> None:
    """Serve the dashboard (/product, /engineer) and the JSON API (/api/, OpenAPI at /openapi.json)."""
    import uvicorn

    from flopbill.web import create_app

    if not 0 <= port <= 65535:
        raise InputError("--port", port, "a TCP port 0..65535")
    warning = check_exposure(host, token, allow_open)
    if warning:
        err_console.print(warning, markup=False, style="bold red")
    handler = logging.StreamHandler(sys.stderr)
    for name in ("flopbill.web.access", "flopbill.web.error"):
        log = logging.getLogger(name)
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    shown = f"[{host}]" if ":" in host else host
    err_console.print(
        f"flopbill web on http://{shown}:{port}/ — dashboard /product and /engineer, API /api/ "
        "(docs /api/docs, OpenAPI /openapi.json); access log: JSON lines on stderr",
        markup=False,
    )
    uvicorn.run(create_app(token=token), host=host, port=port, access_log=False, log_level="warning")
