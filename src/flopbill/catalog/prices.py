"""GPU-hour prices from the dated snapshot ``gpu_prices.csv`` (or a user CSV with the same columns).

Columns: provider, instance, accelerator_id, gpus_per_instance, region, pricing, price_usd_per_instance_hour,
price_usd_per_gpu_hour, billing_increment_s, billing_minimum_s, date_checked, source_url. The two billing
columns say how the provider bills running time (e.g. AWS and GCP: per second after a 60 s minimum); empty
means the provider's increment is unknown here, and :attr:`PriceOffer.billing_increment_s` then assumes whole
hours (the conservative reading). :func:`gpu_price` summarises the offers of one accelerator
and pricing model as their median (expected) and min/max (range), and says which offers it used.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from flopbill.errors import CatalogError, InputError, UnknownNameError

HOUR_S = 3600.0
PRICING_MODELS = ("on_demand", "reserved_1y", "reserved_3y", "spot")
_DATA = "flopbill.catalog.data"
#: The snapshot's columns, in file order (the generator script writes them in this order).
COLUMNS = (
    "provider",
    "instance",
    "accelerator_id",
    "gpus_per_instance",
    "region",
    "pricing",
    "price_usd_per_instance_hour",
    "price_usd_per_gpu_hour",
    "billing_increment_s",
    "billing_minimum_s",
    "date_checked",
    "source_url",
)


#: Providers that sell machines of independent hosts (price, location and uptime set host by host), and
#: where that is stated. A plan prices a fleet at such an offer only when the option allows marketplaces.
MARKETPLACE_PROVIDERS: dict[str, str] = {
    "vast": "Vast.ai: hosts run its software and list their own machines and prices "
    "(https://vast.ai/faq/, checked 2026-12-01)",
}

#: Instance tiers of other providers that are host marketplaces, and where that is stated.
MARKETPLACE_TIERS: dict[str, str] = {
    "Community Cloud": "RunPod Community Cloud: lower cost, potentially less reliable shared hosts, unlike "
    "its Secure Cloud (RunPod API CloudType, "
    "https://docs.rs/runpod-sdk/0.6.2/runpod_sdk/model/enum.CloudType.html, checked 2026-12-01)",
}


@dataclass(frozen=True)
class PriceOffer:
    """One row of the price snapshot: a provider's price for one accelerator-hour."""

    provider: str
    instance: str
    accelerator_id: str
    pricing: str
    price_usd_per_gpu_hour: float
    date_checked: dt.date
    source_url: str
    gpus_per_instance: int = 1
    billing_increment_known_s: float | None = None
    billing_minimum_known_s: float | None = None
    region: str = ""
    price_usd_per_instance_hour: float | None = None

    @property
    def marketplace(self) -> bool:
        """Whether the offer is one host's listing on a marketplace (:data:`MARKETPLACE_PROVIDERS`, tiers)."""
        return self.provider in MARKETPLACE_PROVIDERS or any(t in self.instance for t in MARKETPLACE_TIERS)

    @property
    def billing_increment_s(self) -> float:
        """Seconds per billing increment; whole hours (3600 s) where the snapshot does not know it."""
        return HOUR_S if self.billing_increment_known_s is None else self.billing_increment_known_s

    @property
    def billing_minimum_s(self) -> float:
        """Minimum billed seconds per instance start; the increment where the snapshot does not know it."""
        if self.billing_minimum_known_s is None:
            return self.billing_increment_s
        return max(self.billing_minimum_known_s, self.billing_increment_s)


@dataclass(frozen=True)
class GpuPrice:
    """A summary of the offers for one accelerator and pricing model.

    ``price_usd_per_gpu_hour`` is the median; ``low``/``high`` the cheapest and dearest offer; ``date`` the
    oldest check among them (prices are no fresher than that); ``source`` names the offers.
    """

    accelerator_id: str
    pricing: str
    price_usd_per_gpu_hour: float
    low_usd_per_gpu_hour: float
    high_usd_per_gpu_hour: float
    date: dt.date
    source: str
    n_offers: int
    offers: tuple[PriceOffer, ...] = ()

    def __iter__(self) -> Iterator[float | dt.date | str]:
        """Unpack as ``(price_usd_per_gpu_hour, date, source)``."""
        return iter((self.price_usd_per_gpu_hour, self.date, self.source))


def _optional_seconds(text: str | None) -> float | None:
    """Parse an optional positive number of seconds ("" → unknown)."""
    text = (text or "").strip()
    if not text:
        return None
    value = float(text)
    if not value > 0:
        raise ValueError(f"billing seconds must be > 0, got {text!r}")
    return value


def _parse_row(path: str, line: int, row: dict[str, str]) -> PriceOffer:
    try:
        return PriceOffer(
            provider=row["provider"].strip(),
            instance=row["instance"].strip(),
            accelerator_id=row["accelerator_id"].strip().lower(),
            pricing=row["pricing"].strip().lower(),
            price_usd_per_gpu_hour=float(row["price_usd_per_gpu_hour"]),
            date_checked=dt.date.fromisoformat(row["date_checked"].strip()),
            source_url=row["source_url"].strip(),
            gpus_per_instance=int(row["gpus_per_instance"]),
            billing_increment_known_s=_optional_seconds(row["billing_increment_s"]),
            billing_minimum_known_s=_optional_seconds(row["billing_minimum_s"]),
            region=row["region"].strip(),
            price_usd_per_instance_hour=float(row["price_usd_per_instance_hour"]),
        )
    except (KeyError, ValueError, AttributeError) as exc:
        raise CatalogError(f"{path}: line {line}: bad price row ({exc})") from None


def load_price_file(path: Path | str) -> tuple[PriceOffer, ...]:
    """Return every offer in a price CSV; raise :class:`CatalogError` naming the line on bad rows."""
    with Path(path).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogError(f"{path}: missing columns {', '.join(missing)}")
        offers = tuple(_parse_row(str(path), i + 2, row) for i, row in enumerate(reader))
    for o in offers:
        if o.pricing not in PRICING_MODELS or o.price_usd_per_gpu_hour <= 0 or o.gpus_per_instance < 1:
            raise CatalogError(f"{path}: {o.provider} {o.instance}: bad pricing or price")
    return offers


@functools.cache
def price_offers() -> tuple[PriceOffer, ...]:
    """Return the offers of the built-in snapshot ``catalog/data/gpu_prices.csv``."""
    return load_price_file(Path(str(resources.files(_DATA) / "gpu_prices.csv")))


def select_offers(
    accelerator_id: str | None = None,
    provider: str | None = None,
    pricing: str | None = None,
    offers: tuple[PriceOffer, ...] | None = None,
) -> tuple[PriceOffer, ...]:
    """Return the offers matching every filter given (``None`` = any), in snapshot order.

    Raises :class:`UnknownNameError` (with close matches) for an accelerator or provider the snapshot
    does not price, and :class:`InputError` for an unknown pricing model.
    """
    rows = price_offers() if offers is None else offers
    if pricing is not None and pricing not in PRICING_MODELS:
        raise InputError("pricing", pricing, "one of " + ", ".join(PRICING_MODELS))
    if accelerator_id is not None and accelerator_id not in {o.accelerator_id for o in rows}:
        raise UnknownNameError("priced accelerator", accelerator_id, {o.accelerator_id for o in rows})
    if provider is not None and provider not in {o.provider for o in rows}:
        raise UnknownNameError("price provider", provider, {o.provider for o in rows})
    return tuple(
        o
        for o in rows
        if (accelerator_id is None or o.accelerator_id == accelerator_id)
        and (provider is None or o.provider == provider)
        and (pricing is None or o.pricing == pricing)
    )


def gpu_price(
    accelerator_id: str,
    pricing: str = "on_demand",
    offers: tuple[PriceOffer, ...] | None = None,
    provider: str | None = None,
) -> GpuPrice:
    """Return the median price per GPU-hour of ``accelerator_id`` under ``pricing``, with its range and date.

    ``provider`` keeps only that provider's offers. Raises :class:`UnknownNameError` when the snapshot has
    no offer for the accelerator (or provider), and :class:`InputError` when it has offers but none under
    that pricing model (the known ones are named).
    """
    if pricing not in PRICING_MODELS:
        raise InputError("pricing", pricing, "one of " + ", ".join(PRICING_MODELS))
    rows = price_offers() if offers is None else offers
    for_acc = [o for o in rows if o.accelerator_id == accelerator_id]
    if not for_acc:
        raise UnknownNameError("priced accelerator", accelerator_id, {o.accelerator_id for o in rows})
    if provider is not None:
        known = {o.provider for o in for_acc}
        for_acc = [o for o in for_acc if o.provider == provider]
        if not for_acc:
            raise UnknownNameError(f"provider with {accelerator_id} offers", provider, known)
    chosen = [o for o in for_acc if o.pricing == pricing]
    if not chosen:
        have = ", ".join(sorted({o.pricing for o in for_acc}))
        raise InputError("pricing", pricing, f"a pricing model with offers for {accelerator_id} ({have})")
    prices = [o.price_usd_per_gpu_hour for o in chosen]
    names = ", ".join(sorted(f"{o.provider} {o.instance} ${o.price_usd_per_gpu_hour:.2f}" for o in chosen))
    date = min(o.date_checked for o in chosen)
    return GpuPrice(
        accelerator_id=accelerator_id,
        pricing=pricing,
        price_usd_per_gpu_hour=statistics.median(prices),
        low_usd_per_gpu_hour=min(prices),
        high_usd_per_gpu_hour=max(prices),
        date=date,
        source=f"median of {len(chosen)} {pricing} offers in the price snapshot (checked {date}): {names}",
        n_offers=len(chosen),
        offers=tuple(chosen),
    )
