"""Autoscaling policies: how many replicas the fleet wants at each evaluation.

Each policy is a small class in :data:`AUTOSCALERS`; the kernel dispatches on its code in
:func:`desired_replicas`. Every ``eval_interval_s`` the autoscaler compares the wanted count with the
active (ready + starting) replicas: more → new replicas start and become ready after the cold start
(billed from the moment they start); fewer → after the cooldown since the last change, starting replicas
are cancelled first, then the least loaded ready ones drain (no new requests; off when empty).
Counts are clamped to ``[min_replicas, max_replicas]``; ``min_replicas = 0`` allows scale to zero.

* ``fixed``: never changes the fleet.
* ``target_utilization``: ``ceil(busy replica-seconds in the last interval / interval / target)``
  (the Kubernetes HPA rule ``ceil(current · metric / target)`` with busy fraction as the metric).
* ``queue_length``: ``ceil(outstanding requests / target per replica)`` (KEDA / Knative concurrency style).
* ``request_rate``: ``ceil(arrivals in the last interval / interval / target requests/s per replica)``
  (KEDA's Prometheus scaler on a request-rate metric; the rule the scenario projection's hourly fleet
  uses, evaluated every interval instead of every hour); at least one replica while requests remain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flopbill.errors import InputError
from flopbill.simulate._jit import jit
from flopbill.simulate.entities import (
    DRAINING,
    F_EVAL_ARRIVALS,
    I_G_LEN,
    I_LATE_ARRIVED,
    I_NEXT_ARRIVAL,
    READY,
    Config,
    State,
)


@dataclass(frozen=True)
class AutoscalerPolicy:
    """An autoscaling policy: its name in specs and its code in the kernel."""

    name: str
    code: int


FIXED = AutoscalerPolicy("fixed", 0)
TARGET_UTILIZATION = AutoscalerPolicy("target_utilization", 1)
QUEUE_LENGTH = AutoscalerPolicy("queue_length", 2)
REQUEST_RATE = AutoscalerPolicy("request_rate", 3)

AUTOSCALERS: dict[str, AutoscalerPolicy] = {
    p.name: p for p in (FIXED, TARGET_UTILIZATION, QUEUE_LENGTH, REQUEST_RATE)
}


def autoscaler_code(name: str) -> int:
    """Return the kernel code of autoscaler ``name`` or raise :class:`InputError` naming the field."""
    if name not in AUTOSCALERS:
        raise InputError("autoscaler.policy", name, "one of " + ", ".join(AUTOSCALERS))
    return AUTOSCALERS[name].code


@jit
def desired_replicas(st: State, cfg: Config, active: int) -> int:
    """Return the replica count the policy wants now (before clamping)."""
    if cfg.autoscaler == 1:
        busy = 0.0
        for r in range(cfg.max_replicas):
            if st.r_state[r] == READY or st.r_state[r] == DRAINING:
                busy += st.r_busy_window_s[r]
        want = math.ceil(busy / cfg.eval_interval_s / cfg.autoscale_target - 1e-9)
        if st.ints[I_G_LEN] > 0:
            want = max(want, 1)
        return want
    if cfg.autoscaler == 2:
        outstanding = int(st.ints[I_G_LEN])
        for r in range(cfg.max_replicas):
            if st.r_state[r] == READY or st.r_state[r] == DRAINING:
                outstanding += st.r_n_run[r] + st.r_q_len[r]
        return math.ceil(outstanding / cfg.autoscale_target - 1e-9)
    if cfg.autoscaler == 3:
        seen = st.ints[I_NEXT_ARRIVAL] + st.ints[I_LATE_ARRIVED]  # the sessions' later turns too
        arrivals = float(seen) - float(st.floats[F_EVAL_ARRIVALS])
        want = math.ceil(arrivals / cfg.eval_interval_s / cfg.autoscale_target - 1e-9)
        busy = st.ints[I_G_LEN] > 0
        for r in range(cfg.max_replicas):
            if (st.r_state[r] == READY or st.r_state[r] == DRAINING) and st.r_n_run[r] + st.r_q_len[r] > 0:
                busy = True
        return max(want, 1) if busy else want  # never to zero with requests still in the fleet
    return active
