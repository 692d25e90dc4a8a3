"""The calibrated circulation of a liver, computed once and reused by every :class:`~sim.flow.model.LiverFlow` of it.

Steps 1-4 of a ``LiverFlow`` (conductances, calibration, splanchnic inlet, portal vein
thrombosis, hepatic arterial buffer response) depend only on the compiled liver and the
scenario's ``[flow]`` and ``[portal]`` sections, never on the catheter or the agent. They
are kept here per compiled liver (by identity, for as long as it lives: :mod:`sim.keep`) and
per section:

* :func:`calibrated`: the healthy calibration of ``[flow]`` (:class:`Calibration`), with
  its healthy compartment flows computed on first use;
* :func:`disturbed`: the conductances after ``[portal]`` thrombosis and the buffer
  response, and the response's report.

The arrays kept are read-only (a caller that wants to change them copies them, as
``place_catheter`` and ``apply_thrombosis`` do), so a run cannot alter what the next one
starts from; every ``LiverFlow`` builds its own solver state from them. The values are
those of the steps done afresh, bit for bit (tests/test_flow_reuse.py).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np

from ..keep import LOCK, kept_for
from ..kernels import twoport
from ..network import CompiledLiver, Conductances
from ..scenario import FlowConfig, PortalConfig
from .calibration import calibrate
from .habr import HabrReport, relax_habr
from .splanchnic import PortalInlet, splanchnic_inlet
from .state import build_state, state_conductances
from .thrombosis import apply_thrombosis

__all__ = ["Calibration", "calibrated", "disturbed", "KEEP_PER_LIVER"]

#: ``[flow]`` / ``[portal]`` variants kept per compiled liver, least recently used dropped first
#: (numerical choice bounding memory: about 25 MB per variant for the default liver).
KEEP_PER_LIVER = 8


def _read_only(conductances: Conductances) -> Conductances:
    for f in fields(conductances):
        getattr(conductances, f.name).setflags(write=False)
    return conductances


@dataclass(frozen=True)
class Calibration:
    """The healthy calibrated circulation of one liver under one ``[flow]`` section.

    Attributes
    ----------
    network : CompiledLiver
        The compiled liver with its portal inlet (:mod:`sim.flow.splanchnic`), without catheter.
    baseline : Conductances
        Calibrated healthy conductances of ``network``, m^3/(s Pa) (read-only).
    portal_inlet : PortalInlet
    """

    network: CompiledLiver
    baseline: Conductances
    portal_inlet: PortalInlet

    @cached_property
    def healthy_compartment_flows(self) -> np.ndarray:
        """Compartment flows (C, 4) of the healthy liver (no thrombosis, catheter or HABR), m^3/s (read-only)."""
        state = build_state(self.network, self.baseline)
        twoport.solve(state)
        q = state.comp_q.copy()
        q.setflags(write=False)
        return q


def _table(liver: CompiledLiver, name: str) -> OrderedDict:
    with LOCK:
        return kept_for(liver).setdefault(name, OrderedDict())


def _remember(table: OrderedDict, key, value):
    with LOCK:
        table[key] = value
        table.move_to_end(key)
        while len(table) > KEEP_PER_LIVER:
            table.popitem(last=False)
    return value


def _recall(table: OrderedDict, key):
    with LOCK:
        value = table.get(key)
        if value is not None:
            table.move_to_end(key)
        return value


def calibrated(liver: CompiledLiver, flow: FlowConfig) -> Calibration:
    """The healthy calibration of ``liver`` under ``flow`` (computed the first time, then reused).

    Raises
    ------
    ScenarioError, FlowInputError
        As :func:`sim.flow.calibration.calibrate` (nothing is kept then).
    """
    from .model import vessel_conductances

    table = _table(liver, "flow.calibrations")
    found = _recall(table, flow)
    if found is not None:
        return found
    network, baseline, inlet = splanchnic_inlet(liver, calibrate(liver, vessel_conductances(liver, flow), flow), flow)
    return _remember(table, flow, Calibration(network=network, baseline=_read_only(baseline), portal_inlet=inlet))


def disturbed(liver: CompiledLiver, flow: FlowConfig, portal: PortalConfig) -> tuple[Conductances, HabrReport]:
    """Conductances of the calibrated ``liver`` after the thrombosis of ``portal`` and the buffer response of ``flow``.

    Returns
    -------
    (Conductances, HabrReport)
        Read-only conductances of :attr:`Calibration.network` (NaN at pedicle roots), and the response's report.

    Raises
    ------
    ScenarioError
        The thrombosis site is not a portal vein of this anatomy (nothing is kept then).
    """
    table = _table(liver, "flow.disturbed")
    found = _recall(table, (flow, portal))
    if found is not None:
        return found
    calibration = calibrated(liver, flow)
    network = calibration.network
    state = build_state(network, apply_thrombosis(network, calibration.baseline, portal))
    habr = relax_habr(state, network.compartments, flow.habr)
    habr.multiplier.setflags(write=False)
    return _remember(table, (flow, portal), (_read_only(state_conductances(state)), habr))
