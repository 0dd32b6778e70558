"""Choose, per self-hosted option, the catalog offer that bills least for that option's fleet.

A GPU-hour price alone does not say what a fleet costs: an offer is an instance size (GPUs billed
together), a price per GPU-hour and a billing increment and minimum. One cheap 8-GPU node bills eight
GPUs all month for a fleet that needs one. So every offer of the option's accelerator and pricing model
(restricted to a pinned ``provider`` / ``instance``) is billed for the option's own fleet profile over the
horizon, at expected inputs, in one vectorised call (offers on the row axis of
:func:`flopbill.scenario.costs.option_costs`)::

    bill_k = Σ_months instance_hours_k(m) × gpus_per_instance_k × price_usd_per_gpu_hour_k

where ``instance_hours_k`` is :func:`flopbill.estimate.pricing.fleet_day.day_fleet` with offer ``k``'s
instance size, increment and minimum. The option is priced at the offer with the least bill (ties: the
earlier row of the snapshot); the cheapest, median and dearest bill are the spread over offers. The
option is billed as if it served all its traffic alone (a router's share of it does not change which
offer is chosen).
"""

from __future__ import annotations

import dataclasses
import statistics

import numpy as np

from flopbill.catalog.prices import PriceOffer, select_offers
from flopbill.errors import UnknownNameError
from flopbill.estimate.core.assumptions import Assumption, Range
from flopbill.estimate.core.uncertainty import expected_inputs
from flopbill.scenario.costs import Billing, Context, option_costs
from flopbill.scenario.inputs import ChosenOffer, FleetTerms, Resolved
from flopbill.scenario.schema import SelfHostedOption
from flopbill.scenario.traffic import project_traffic


def candidate_offers(opt: SelfHostedOption) -> tuple[PriceOffer, ...]:
    """Return the catalog offers ``opt`` may be billed at: its GPU and pricing model, and its ``provider``
    and ``instance`` when pinned. Raises :class:`UnknownNameError` (close matches) for an instance the
    snapshot does not list there.

    Unless an instance is pinned, only instances that hold a whole replica (GPUs per instance ≥
    ``gpus_per_replica``: tensor parallelism runs over one instance's NVLink, not between instances) are
    candidates, where any exists; and unless the option allows ``marketplaces`` or pins the provider, one
    host's listing on a marketplace (:attr:`PriceOffer.marketplace`) is not, where another offer exists:
    a fleet that must grow and stay up is priced at a provider that sells it.
    """
    offers = select_offers(opt.gpu, opt.provider, opt.pricing)
    if opt.instance is not None:
        known = {o.instance for o in offers}
        offers = tuple(o for o in offers if o.instance == opt.instance)
        if not offers:
            raise UnknownNameError(f"{opt.gpu} {opt.pricing} instance", opt.instance, known)
        return offers
    whole = tuple(o for o in offers if (opt.gpus_per_instance or o.gpus_per_instance) >= opt.gpus_per_replica)
    offers = whole or offers
    if opt.marketplaces or opt.provider is not None:
        return offers
    return tuple(o for o in offers if not o.marketplace) or offers


def _billing(opt: SelfHostedOption, offers: tuple[PriceOffer, ...]) -> Billing:
    """Return the offers' billing terms as (offers, 1) columns; the option's own fields win."""

    def col(values: list[float]) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)[:, None]

    inc = [opt.billing_increment_s or o.billing_increment_s for o in offers]
    if opt.billing_minimum_s is not None:
        minimum = [opt.billing_minimum_s] * len(offers)
    elif opt.billing_increment_s is not None:
        minimum = inc
    else:
        minimum = [o.billing_minimum_s for o in offers]
    gpi = [float(opt.gpus_per_instance or o.gpus_per_instance) for o in offers]
    return Billing(col(gpi), col(inc), col(minimum))


def offer_bills_usd(resolved: Resolved, opt: SelfHostedOption, offers: tuple[PriceOffer, ...]) -> np.ndarray:
    """Return each offer's bill for ``opt`` over the horizon at expected inputs, USD, shape (offers,)."""
    n = len(offers)
    v = expected_inputs(resolved.ranges, n)
    if opt.price_usd_per_gpu_hour is None:  # a given price applies to every offer's instance shape
        v[f"options.{opt.name}.price_usd_per_gpu_hour"] = np.array([o.price_usd_per_gpu_hour for o in offers])
    traffic = project_traffic(resolved.scenario, v, n)
    ctx = Context(resolved, v, traffic, billing={opt.name: _billing(opt, offers)})
    arrays = option_costs(opt, ctx)
    return np.asarray(arrays.recurring(ctx.shape).sum(axis=1), dtype=np.float64)


def _choose(resolved: Resolved, opt: SelfHostedOption) -> tuple[ChosenOffer, FleetTerms]:
    offers = candidate_offers(opt)
    bills = offer_bills_usd(resolved, opt, offers)
    i = int(np.argmin(np.round(bills, 2)))
    o, b = offers[i], _billing(opt, offers)
    dear = int(np.argmax(bills))
    chosen = ChosenOffer(
        provider=o.provider,
        instance=o.instance,
        region=o.region,
        gpus_per_instance=int(b.gpus_per_instance[i, 0]),
        price_usd_per_gpu_hour=(
            o.price_usd_per_gpu_hour
            if opt.price_usd_per_gpu_hour is None
            else resolved.ranges[f"options.{opt.name}.price_usd_per_gpu_hour"].expected
        ),
        billing_increment_s=float(b.billing_increment_s[i, 0]),
        billing_minimum_s=float(b.billing_minimum_s[i, 0]),
        billing_known=o.billing_increment_known_s is not None or opt.billing_increment_s is not None,
        date_checked=o.date_checked.isoformat(),
        source_url=o.source_url,
        n_offers=len(offers),
        bill_usd=float(bills[i]),
        median_bill_usd=float(statistics.median(bills.tolist())),
        dearest_bill_usd=float(bills[dear]),
        dearest_offer=f"{offers[dear].provider} {offers[dear].instance}",
        pinned=opt.instance is not None,
    )
    delay = resolved.fleet[opt.name].scale_down_delay_s
    terms = FleetTerms(chosen.gpus_per_instance, chosen.billing_increment_s, chosen.billing_minimum_s, delay)
    return chosen, terms


def _notes(opt: SelfHostedOption, c: ChosenOffer) -> tuple[Assumption, ...]:
    key = f"options.{opt.name}"
    how = "the pinned instance" if c.pinned else f"least bill of {c.n_offers} {opt.gpu} {opt.pricing} offers"
    if not c.pinned and not opt.marketplaces and opt.provider is None:
        how += " (host marketplaces left out; `marketplaces: true` adds them)"
    billing = (
        f"billed per {c.billing_increment_s:g} s after a {c.billing_minimum_s:g} s minimum"
        if c.billing_known
        else "billing increment unknown: whole hours assumed"
    )
    spread = (
        f"bills over the horizon: cheapest ${c.bill_usd:,.0f}, median ${c.median_bill_usd:,.0f}, "
        f"dearest ${c.dearest_bill_usd:,.0f} ({c.dearest_offer})"
    )
    return (
        Assumption(
            f"{key}.price_usd_per_gpu_hour",
            c.price_usd_per_gpu_hour,
            f"{c.provider} {c.instance} (checked {c.date_checked}): {c.source_url}",
            f"{how}; {spread}",
        ),
        Assumption(
            f"{key} instance",
            f"{c.provider} {c.instance}" + (f" ({c.region})" if c.region else ""),
            "GPU price snapshot",
            f"{c.gpus_per_instance} GPU(s) per instance, {billing}",
        ),
    )


def choose_offers(resolved: Resolved) -> Resolved:
    """Return ``resolved`` with every catalog-priced self-hosted option priced at its least-bill offer.

    Options with a given ``price_usd_per_gpu_hour`` keep it; with an ``instance`` as well they are
    billed with that instance's shape and billing (else 1 GPU per instance, whole hours, stated).
    """
    picks = [
        o
        for o in resolved.scenario.options
        if isinstance(o, SelfHostedOption) and (o.price_usd_per_gpu_hour is None or o.instance is not None)
    ]
    if not picks:
        return resolved
    ranges, fleet, offers = dict(resolved.ranges), dict(resolved.fleet), dict(resolved.offers)
    notes = list(resolved.assumptions)
    for opt in picks:
        chosen, terms = _choose(resolved, opt)
        fleet[opt.name], offers[opt.name] = terms, chosen
        if opt.price_usd_per_gpu_hour is None:
            ranges[f"options.{opt.name}.price_usd_per_gpu_hour"] = Range.point(chosen.price_usd_per_gpu_hour)
            notes.extend(_notes(opt, chosen))
        else:
            notes = [a for a in notes if a.name != f"options.{opt.name} instance"]
            notes.append(_notes(opt, chosen)[1])
    return dataclasses.replace(resolved, ranges=ranges, fleet=fleet, offers=offers, assumptions=tuple(notes))
