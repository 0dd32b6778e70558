"""Pure estimators: no I/O, no clock, no printing, no randomness; numpy-broadcastable where noted.

Packages (imports flow downwards only):

- :mod:`flopbill.estimate.core` — transformer arithmetic, the roofline, array plumbing, assumptions, ranges.
- :mod:`flopbill.estimate.training` — pretraining, fine-tuning and alignment: FLOPs, memory, GPU-hours, cost.
- :mod:`flopbill.estimate.serving` — inference: step physics, request metrics, queueing, capacity and search.
- :mod:`flopbill.estimate.pricing` — money: API prices, fleets billed as clouds bill them, product economics.
"""
