"""The web dashboard and HTTP API (``flopbill web``): the same answers as the CLI's ``--json``."""

from __future__ import annotations

from flopbill.web.app import Limits, create_app

__all__ = ["Limits", "create_app"]
