"""Serverless GPU prices from the dated snapshot ``serverless_gpu_prices.csv``.

Columns: provider, offer, accelerator_id, price_usd_per_gpu_second, billing_increment_s, billing_minimum_s,
idle_timeout_s (how long the provider keeps a replica up after its last request by default), date_checked,
source_url, note. A serverless endpoint bills the seconds its replicas are up (start, requests, idle
timeout), not whole instances; see :func:`flopbill.estimate.pricing.fleet_day.serverless_day`.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import statistics
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from flopbill.errors import CatalogError, UnknownNameError

_DATA = "flopbill.catalog.data"


@dataclass(frozen=True)
class ServerlessOffer:
    """One provider's per-second price for one GPU type on its serverless endpoints."""

    provider: str
    offer: str
    accelerator_id: str
    price_usd_per_gpu_second: float
    billing_increment_s: float
    billing_minimum_s: float
    idle_timeout_s: float
    date_checked: dt.date
    source_url: str
    note: str


def _row(path: str, line: int, row: dict[str, str]) -> ServerlessOffer:
    try:
        offer = ServerlessOffer(
            provider=row["provider"].strip(),
            offer=row["offer"].strip(),
            accelerator_id=row["accelerator_id"].strip().lower(),
            price_usd_per_gpu_second=float(row["price_usd_per_gpu_second"]),
            billing_increment_s=float(row["billing_increment_s"]),
            billing_minimum_s=float(row["billing_minimum_s"]),
            idle_timeout_s=float(row["idle_timeout_s"]),
            date_checked=dt.date.fromisoformat(row["date_checked"].strip()),
            source_url=row["source_url"].strip(),
            note=(row.get("note") or "").strip(),
        )
    except (KeyError, ValueError, AttributeError) as exc:
        raise CatalogError(f"{path}: line {line}: bad serverless price row ({exc})") from None
    if not offer.price_usd_per_gpu_second > 0 or not offer.billing_increment_s > 0:
        raise CatalogError(f"{path}: line {line}: price and billing increment must be > 0")
    return offer


@functools.cache
def serverless_offers() -> tuple[ServerlessOffer, ...]:
    """Return every row of the built-in serverless GPU price snapshot."""
    path = Path(str(resources.files(_DATA) / "serverless_gpu_prices.csv"))
    with path.open(encoding="utf-8", newline="") as fh:
        return tuple(_row(str(path), i + 2, r) for i, r in enumerate(csv.DictReader(fh)))


@dataclass(frozen=True)
class ServerlessPrice:
    """The median per-second price over the chosen offers, and the offer whose billing terms apply."""

    price_usd_per_gpu_second: float
    low_usd_per_gpu_second: float
    high_usd_per_gpu_second: float
    terms: ServerlessOffer  # billing increment, minimum and idle timeout of the median (or dearer) offer
    offers: tuple[ServerlessOffer, ...]

    @property
    def source(self) -> str:
        """Which offers, when checked, and where from."""
        names = ", ".join(
            f"{o.provider} {o.offer} ${o.price_usd_per_gpu_second:.6f}/s ({o.source_url}, {o.date_checked})"
            for o in self.offers
        )
        return f"median of {len(self.offers)} serverless offers: {names}"


def serverless_price(accelerator_id: str, provider: str | None = None) -> ServerlessPrice:
    """Return the median USD per GPU-second for ``accelerator_id`` (``provider`` keeps only its offers).

    Unknown accelerator or provider → :class:`UnknownNameError` with close matches.
    """
    rows = serverless_offers()
    chosen = [o for o in rows if o.accelerator_id == accelerator_id]
    if not chosen:
        raise UnknownNameError("serverless GPU", accelerator_id, {o.accelerator_id for o in rows})
    if provider is not None:
        known = {o.provider for o in chosen}
        chosen = [o for o in chosen if o.provider == provider]
        if not chosen:
            raise UnknownNameError(f"serverless provider with {accelerator_id}", provider, known)
    prices = sorted(o.price_usd_per_gpu_second for o in chosen)
    ordered = sorted(chosen, key=lambda o: o.price_usd_per_gpu_second)
    return ServerlessPrice(
        price_usd_per_gpu_second=statistics.median(prices),
        low_usd_per_gpu_second=prices[0],
        high_usd_per_gpu_second=prices[-1],
        terms=ordered[len(ordered) // 2],
        offers=tuple(ordered),
    )
