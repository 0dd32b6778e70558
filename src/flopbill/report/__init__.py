"""Reports of scenario projections: charts and tables built from a result, no math of their own."""

from __future__ import annotations

from flopbill.report.html import render_html

__all__ = ["render_html"]
