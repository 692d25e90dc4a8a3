"""The liver flow model: conductances, calibration, disturbances, catheter, solve.

:class:`LiverFlow` turns a compiled liver and its scenario into a solved
dual-supply network, in this order:

1. vessel conductances from radius, length and the Pries viscosity at the
   scenario's haematocrit and plasma viscosity (:func:`vessel_conductances`);
2. calibration of compartment terminals and lumped beds to the healthy
   baseline demands (:mod:`sim.flow.calibration`): this is the baseline;
2b. the portal inlet fed by the splanchnic circulation (:mod:`sim.flow.splanchnic`;
   the healthy solution is unchanged, the portal pressure now emerges);
3. portal vein thrombosis on the calibrated conductances (:mod:`sim.flow.thrombosis`);
4. the hepatic arterial buffer response to the portal flow lost (:mod:`sim.flow.habr`),
   which sets the pre-procedure arterial tone (held fixed during the procedure);
5. optionally the catheter (:mod:`sim.flow.catheter`): tip node, narrowed
   lumen, injection.

Steps 1-4 do not depend on the catheter or the agent: they are computed once per
compiled liver and ``[flow]`` / ``[portal]`` section and reused (:mod:`sim.flow.calibrated`);
only the catheter and the solve are done for every ``LiverFlow``.

The boundary pressures are those of the compiled liver (the anatomy writes the
scenario's ``[flow]`` pressures into ``trunk.node_pressure_pa`` and
``hepatic_vein_pressure_pa``), except the portal inlet's with the splanchnic inlet. The solve is the O(N) two-port kernel
(:mod:`sim.kernels.twoport`); ``LiverFlow.state`` is its array state, which the
embolisation loop updates in place with the kernel's incremental functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels import twoport
from ..network import EDGE_LUMPED, CompiledLiver, Conductances
from ..rheology import apparent_viscosity, poiseuille_conductance
from ..scenario import FlowConfig, Scenario
from ..units import MPA_S_PA_S
from .calibrated import calibrated, disturbed
from .catheter import CatheterPlacement, place_catheter
from .errors import FlowInputError
from .habr import HabrReport
from .splanchnic import PortalInlet
from .state import build_state

__all__ = ["vessel_conductances", "LiverFlow", "LiverFlowResult"]


def _poiseuille(radius: np.ndarray, length: np.ndarray, flow: FlowConfig, what: str) -> np.ndarray:
    bad = np.flatnonzero(~(np.isfinite(radius) & (radius > 0) & np.isfinite(length) & (length > 0)))
    if bad.size:
        raise FlowInputError(f"{what} {bad[0]} has radius {radius[bad[0]]:g} m and length {length[bad[0]]:g} m; "
                             "allowed: finite values > 0")
    mu = apparent_viscosity(2.0 * radius, haematocrit=flow.haematocrit,
                            plasma_viscosity_pa_s=flow.plasma_viscosity_mPa_s * MPA_S_PA_S)
    return poiseuille_conductance(radius, length, mu)


def vessel_conductances(liver: CompiledLiver, flow: FlowConfig) -> Conductances:
    """Poiseuille conductances of every vessel with the Pries in vivo viscosity, m^3/(s Pa).

    Parameters
    ----------
    liver : CompiledLiver
    flow : FlowConfig
        ``haematocrit`` and ``plasma_viscosity_mPa_s``.

    Returns
    -------
    Conductances
        Trunk vessels and pedicle vessels set; lumped beds and compartments NaN
        (calibrated by :func:`sim.flow.calibration.calibrate`); pedicle roots NaN.
    """
    trunk, forest = liver.trunk, liver.forest
    g_trunk = np.full(trunk.n_edges, np.nan)
    vessel = trunk.edge_kind != EDGE_LUMPED
    g_trunk[vessel] = _poiseuille(trunk.edge_radius_m[vessel], trunk.edge_length_m[vessel], flow, "trunk vessel")
    nonroot = forest.parent >= 0
    art = np.full(forest.n_nodes, np.nan)
    por = np.full(forest.n_nodes, np.nan)
    art[nonroot] = _poiseuille(forest.art_radius_m[nonroot], forest.art_length_m[nonroot], flow, "pedicle artery")
    por[nonroot] = _poiseuille(forest.por_radius_m[nonroot], forest.por_length_m[nonroot], flow, "pedicle portal vein")
    nan_c = np.full(liver.compartments.n, np.nan)
    return Conductances(trunk=g_trunk, art=art, por=por, comp_art=nan_c, comp_por=nan_c.copy(), comp_hv=nan_c.copy(),
                        comp_extra=nan_c.copy())


@dataclass(frozen=True)
class LiverFlowResult:
    """Pressures and flows of a solved liver (copies: later state changes do not alter them).

    Pressures are absolute, Pa; flows m^3/s. Pedicle arrays: flow in the vessel
    parent -> i (NaN at subtree roots, which have no pedicle vessel). NaN
    pressures mark parts cut off from every pressure boundary (zero flow there).

    Attributes
    ----------
    liver : CompiledLiver
        The network solved (its trunk includes the catheter tip when placed).
    trunk_pressure_pa : ndarray, shape (Nt,)
    trunk_flow_m3s : ndarray, shape (Et,)
        Along ``trunk.edge_conns``.
    art_pressure_pa, por_pressure_pa : ndarray, shape (M,)
    art_flow_m3s, por_flow_m3s : ndarray, shape (M,)
    comp_pressure_pa : ndarray, shape (C,)
        Sinusoid (tissue) or plexus (peribiliary) pressure.
    comp_art_flow_m3s, comp_por_flow_m3s, comp_extra_flow_m3s : ndarray, shape (C,)
        Inflow into each compartment from its arterial node, portal node and
        extrahepatic feeder.
    comp_hv_flow_m3s : ndarray, shape (C,)
        Outflow to the hepatic veins.
    habr : HabrReport
    catheter : CatheterPlacement or None
    portal_inlet : PortalInlet or None
    """

    liver: CompiledLiver
    trunk_pressure_pa: np.ndarray
    trunk_flow_m3s: np.ndarray
    art_pressure_pa: np.ndarray
    por_pressure_pa: np.ndarray
    art_flow_m3s: np.ndarray
    por_flow_m3s: np.ndarray
    comp_pressure_pa: np.ndarray
    comp_art_flow_m3s: np.ndarray
    comp_por_flow_m3s: np.ndarray
    comp_hv_flow_m3s: np.ndarray
    comp_extra_flow_m3s: np.ndarray
    habr: HabrReport
    catheter: CatheterPlacement | None
    portal_inlet: PortalInlet | None = None

    @classmethod
    def from_state(cls, state: twoport.FlowState, liver: CompiledLiver, habr: HabrReport,
                   catheter: CatheterPlacement | None, portal_inlet: PortalInlet | None = None) -> LiverFlowResult:
        """Copy a solved state's solution, adding the hepatic-vein pressure back."""
        p0 = liver.hepatic_vein_pressure_pa
        return cls(liver=liver, trunk_pressure_pa=state.trunk_p + p0, trunk_flow_m3s=state.trunk_q.copy(),
                   art_pressure_pa=state.art_p + p0, por_pressure_pa=state.por_p + p0,
                   art_flow_m3s=state.art_q.copy(), por_flow_m3s=state.por_q.copy(),
                   comp_pressure_pa=state.comp_p + p0, comp_art_flow_m3s=state.comp_q[:, twoport.COMP_ART].copy(),
                   comp_por_flow_m3s=state.comp_q[:, twoport.COMP_POR].copy(),
                   comp_hv_flow_m3s=state.comp_q[:, twoport.COMP_HV].copy(),
                   comp_extra_flow_m3s=state.comp_q[:, twoport.COMP_EXTRA].copy(), habr=habr, catheter=catheter,
                   portal_inlet=portal_inlet)

    def vessel_flow(self, name: str) -> float:
        """Flow in the named trunk vessel along its baseline direction, m^3/s."""
        return float(self.trunk_flow_m3s[self.liver.trunk.edge_index(name)])

    @property
    def portal_inflow_m3s(self) -> float:
        """Total portal inflow of the liver: the flow leaving the inlet (``MPV_inlet``) into the portal trunk, m^3/s.

        With the splanchnic inlet, the healthy inflow less what a raised portal pressure diverts (docs/flow.md).
        NaN without an inlet record.
        """
        if self.portal_inlet is None:
            return float("nan")
        return float(self.trunk_flow_m3s[self.liver.trunk.edge_conns[:, 0] == self.portal_inlet.inlet_node].sum())

    @property
    def portal_pressure_pa(self) -> float:
        """Pressure at the portal inlet (absolute), Pa: emerges with the splanchnic inlet; NaN without an inlet record."""
        return float("nan") if self.portal_inlet is None else float(self.trunk_pressure_pa[self.portal_inlet.inlet_node])

    @property
    def isolated_pedicle_nodes(self) -> np.ndarray:
        """Pedicle nodes whose arterial or portal node is cut off from every pressure boundary."""
        return np.flatnonzero(np.isnan(self.art_pressure_pa) | np.isnan(self.por_pressure_pa))

    @property
    def isolated_compartments(self) -> np.ndarray:
        """Compartments cut off from every pressure boundary."""
        return np.flatnonzero(np.isnan(self.comp_pressure_pa))

    @property
    def arterial_fraction(self) -> np.ndarray:
        """Hepatic arterial share of each compartment's inflow (arterial + extrahepatic over all), NaN without inflow.

        Inflows only: a flow leaving a compartment through its arterial or portal terminal (portal venules draining
        backwards under a thrombosis) supplies nothing (as in :mod:`sim.outcomes`), so the share stays in [0, 1]
        (it reached 1.11 under main PVT, review 44).
        """
        art = np.maximum(self.comp_art_flow_m3s, 0.0) + np.maximum(self.comp_extra_flow_m3s, 0.0)
        total = art + np.maximum(self.comp_por_flow_m3s, 0.0)
        return np.divide(art, total, out=np.full_like(total, np.nan), where=total > 0)


class LiverFlow:
    """Calibrated dual-supply flow model of one liver (see the module docstring for the steps).

    Parameters
    ----------
    liver : CompiledLiver
    scenario : Scenario
        ``[flow]`` (rheology, sinusoid gradient, HABR), ``[portal]`` (thrombosis),
        ``[catheter]`` when ``catheter`` is true.
    catheter : bool, optional
        Place the catheter (tip node, narrowed lumen, injection). Default False:
        the pre-procedure circulation.
    substitute : bool, optional
        Default True: the solve ends with the substitution (the pressures and flows of every
        pedicle node and compartment). False: it stops after the trunk solve (2-ports and trunk
        solution current, exactly as the full solve leaves them; the rest not computed), for a
        caller that substitutes next itself: ``sim.run``, whose procedure substitutes every node
        without the injection at once. :meth:`result` then needs :meth:`solve` first.

    Attributes
    ----------
    liver : CompiledLiver
        The network solved (with the catheter tip when placed).
    network : CompiledLiver
        The network without catheter: the compiled liver with its portal inlet
        (:mod:`sim.flow.splanchnic`).
    baseline : Conductances
        Calibrated healthy conductances of ``network`` (read-only: shared by every
        ``LiverFlow`` of this liver and ``[flow]`` section).
    calibration : Calibration
        Steps 1-2b, computed once per compiled liver and ``[flow]`` section and reused
        (:mod:`sim.flow.calibrated`; steps 3-4 likewise per ``[portal]`` section).
    portal_inlet : PortalInlet
        The portal inlet (splanchnic source or fixed pressure) and its healthy state.
    habr : HabrReport
    catheter : CatheterPlacement or None
    state : FlowState
        The two-port kernel's arrays; solved. Update it in place with
        :mod:`sim.kernels.twoport` (``set_pedicle_conductance``, ``solve_trunk``,
        ``node_pressures``...) and read it with :meth:`result`.

    Raises
    ------
    ScenarioError
        The scenario cannot be calibrated or names an absent vessel.
    FlowInputError
        The compiled liver breaks the contract, or the injection is cut off.

    Examples
    --------
    >>> from sim.testing import random_liver
    >>> synthetic = random_liver(1000, rng=1)
    >>> flow = LiverFlow(synthetic.compiled, synthetic.scenario)
    >>> res = flow.result()
    >>> bool(abs(res.comp_art_flow_m3s.sum() / synthetic.compiled.compartments.demand_art_m3s.sum() - 1) < 1e-9)
    True
    """

    def __init__(self, liver: CompiledLiver, scenario: Scenario, *, catheter: bool = False, substitute: bool = True):
        self.scenario = scenario
        self.calibration = calibrated(liver, scenario.flow)  # steps 1-4 are kept per liver (sim.flow.calibrated)
        self.network, self.baseline = self.calibration.network, self.calibration.baseline
        self.portal_inlet = self.calibration.portal_inlet
        g, self.habr = disturbed(liver, scenario.flow, scenario.portal)
        liver = self.network
        self.catheter = None
        q_art = q_trunk = None
        if catheter:
            liver, g, self.catheter = place_catheter(liver, g, scenario.catheter)
            q_art = np.zeros(liver.forest.n_nodes)
            q_trunk = np.zeros(liver.trunk.n_nodes)
            if self.catheter.tip_pedicle_node >= 0:
                q_art[self.catheter.tip_pedicle_node] = self.catheter.rate_m3s
            else:
                q_trunk[self.catheter.tip_trunk_node] = self.catheter.rate_m3s
        state = build_state(liver, g, q_art_in=q_art, q_trunk_in=q_trunk)
        self.liver = liver
        self.state = state
        self._solve_state(substitute)  # the result is built when asked for (:meth:`result`)

    def solve(self) -> LiverFlowResult:
        """Full O(N) re-solve of the current state (after conductance changes); returns :meth:`result`.

        Raises
        ------
        FlowInputError
            An injection sits in a part cut off from every pressure boundary.
        """
        self._solve_state()
        return self.result()

    def _solve_state(self, substitute: bool = True) -> None:
        status = twoport.solve(self.state) if substitute else twoport.solve_without_substitution(self.state)
        if status != twoport.STATUS_OK:
            raise FlowInputError("the catheter injection is cut off from every pressure boundary (all vessels "
                                 "around the tip are closed): the flow has nowhere to go")

    def result(self) -> LiverFlowResult:
        """The state's solution as the last full solve (or ``twoport.substitute``) left it.

        After incremental updates (which refresh only 2-ports and the trunk), call
        :meth:`solve` or ``twoport.substitute(state)`` first for every pedicle node.
        """
        return LiverFlowResult.from_state(self.state, self.liver, self.habr, self.catheter, self.portal_inlet)
