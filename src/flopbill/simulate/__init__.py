"""Discrete-event simulation of a priced serving fleet: traffic, scheduler, router, autoscaler, metrics.

``simulate(spec)`` runs one spec (:class:`SimulationSpec`, from YAML with :func:`load_spec`); see
``docs/simulation.md``.
"""

from flopbill.simulate.api import simulate
from flopbill.simulate.result import SimulationResult
from flopbill.simulate.spec import SimulationSpec, load_spec, spec_from_dict

__all__ = ["SimulationResult", "SimulationSpec", "load_spec", "simulate", "spec_from_dict"]
