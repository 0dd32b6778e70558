"""flopbill: what AI costs — training and inference compute, time, dollars and energy, with sources."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
