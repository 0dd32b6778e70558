"""Command-line interface: ``flopbill``. Thin over the library; every command has ``--json``."""

from __future__ import annotations

import importlib

from flopbill.cli.app import app, main

#: Modules that register commands on :data:`app` when imported (one per command family).
COMMAND_MODULES = (
    "flopbill.cli.catalog",
    "flopbill.cli.model",
    "flopbill.cli.train",
    "flopbill.cli.serve",
    "flopbill.cli.api",
    "flopbill.cli.plan",
    "flopbill.cli.measure",
    "flopbill.cli.serve_local",
    "flopbill.cli.calibrate",
    "flopbill.cli.web",
    "flopbill.cli.bill",
    "flopbill.cli.simulate",
)


def register_commands() -> None:
    """Import every command module that exists (each registers itself on import)."""
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


__all__ = ["app", "main", "register_commands"]
