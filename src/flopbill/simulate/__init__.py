"""Discrete-event simulation of a priced serving fleet: traffic, scheduler, router, autoscaler, metrics.

``flopbill.simulate(spec)`` runs one spec (:class:`SimulationSpec`, or :class:`PoolsSpec` for several
pools; from YAML with :func:`load_spec`, also exported as ``flopbill.load_simulation_spec``); see
``docs/simulation.md``. The package itself is
callable, so ``flopbill.simulate(spec)`` works whether ``flopbill.simulate`` names this package or its
entry point.
"""

import sys
import types
from typing import Any

from flopbill.simulate.api import simulate
from flopbill.simulate.result import PoolResult, SimulationResult
from flopbill.simulate.spec import AnySpec, PoolsSpec, SimulationSpec, load_spec, spec_from_dict

load_simulation_spec = load_spec


class _CallablePackage(types.ModuleType):
    """This package, callable as its entry point :func:`simulate`."""

    def __call__(self, spec: AnySpec, progress: Any = None) -> Any:
        return simulate(spec, progress)


sys.modules[__name__].__class__ = _CallablePackage

__all__ = [
    "PoolResult",
    "PoolsSpec",
    "SimulationResult",
    "SimulationSpec",
    "load_simulation_spec",
    "load_spec",
    "simulate",
    "spec_from_dict",
]
