"""Calibration of the terminal (compartment) and lumped conductances to the baseline demands.

At baseline every compartment must receive exactly its target inflows
(``Compartments.demand_art_m3s``, ``demand_por_m3s``, ``demand_extra_m3s``) with
the sinusoids at hepatic-vein pressure + ``flow.sinusoid_gradient_mmHg``, and
every lumped trunk bed its ``Trunk.edge_demand_m3s``. Those flows fix the flow
in every vessel, hence every pressure; each unknown conductance is then flow /
pressure drop. Steps (O(M + C), exact):

1. vessel flows: subtree sums of the compartments' arterial and portal draws;
2. trunk pressures: the trunk's vessels with the boundary pressures, the
   subtree draws and lumped-bed demands as known sinks (one small solve);
3. pedicle pressures: walk down from the trunk, p_child = p_parent - Q / G;
4. g = Q / dP for every compartment terminal and lumped bed.

The calibrated values reproduce the demands to rounding when the network is
solved with the same boundary pressures. What is calibrated, and to which data,
is listed in docs/flow.md: the normal-liver arterial fraction and total flow
([Carlisle1992], the seed's 20%/80%) enter through the demands; the sinusoid
pressure through ``flow.sinusoid_gradient_mmHg`` ([Berzigotti2013]).

Peribiliary plexus compartments (kind 1) take arterial (and extrahepatic) flow
and drain it all into their node's portal vein; their plexus pressure is set
at the node's portal pressure + ``flow.sinusoid_gradient_mmHg`` (model
assumption: the same small gradient as from sinusoid to hepatic vein).
"""

from __future__ import annotations

import numpy as np

from ..kernels.treewalk import subtree_sums, walk_pressures
from ..network import EDGE_LUMPED, Compartments, CompiledLiver, Conductances
from ..scenario import FlowConfig, ScenarioError
from ..units import MMHG_PA
from .errors import FlowInputError
from .reference import solve_network

__all__ = ["compartment_inflows", "calibrate"]


def compartment_inflows(compartments: Compartments) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Baseline inflows of each compartment from its arterial node, portal node and extrahepatic feeder.

    Tissue compartments take their demands; a peribiliary compartment's portal
    "inflow" is its drainage, -(arterial + extrahepatic demand), by mass conservation.

    Returns
    -------
    (ndarray, ndarray, ndarray) of float64, shape (C,), m^3/s

    Raises
    ------
    FlowInputError
        A negative or non-finite demand, or a portal demand on a peribiliary compartment.
    """
    qa, qp, qe = (np.asarray(getattr(compartments, f"demand_{k}_m3s"), dtype=np.float64) for k in ("art", "por", "extra"))
    for name, q in (("demand_art_m3s", qa), ("demand_por_m3s", qp), ("demand_extra_m3s", qe)):
        bad = np.flatnonzero(~(np.isfinite(q) & (q >= 0)))
        if bad.size:
            raise FlowInputError(f"compartment {bad[0]} has {name} = {q[bad[0]]:g}; allowed: a finite flow >= 0")
    peri = compartments.kind == 1
    bad = np.flatnonzero(peri & (qp != 0))
    if bad.size:
        raise FlowInputError(f"peribiliary compartment {bad[0]} has demand_por_m3s = {qp[bad[0]]:g}; allowed: 0 "
                             "(the plexus is fed by the artery only and drains into the portal vein)")
    return qa, np.where(peri, -(qa + qe), qp), qe


def _trunk_pressures(liver: CompiledLiver, g_trunk: np.ndarray, root_art_q: np.ndarray,
                     root_por_q: np.ndarray) -> np.ndarray:
    """Trunk node pressures (absolute, Pa) with the subtree draws and lumped demands as known sinks."""
    trunk, forest = liver.trunk, liver.forest
    lumped = trunk.edge_kind == EDGE_LUMPED
    demand = np.asarray(trunk.edge_demand_m3s, dtype=np.float64)
    bad = np.flatnonzero(lumped & ~(np.isfinite(demand) & (demand >= 0)))
    if bad.size:
        raise FlowInputError(f"lumped trunk edge {trunk.edge_names[bad[0]]!r} has edge_demand_m3s = "
                             f"{demand[bad[0]]:g}; allowed: a finite baseline flow >= 0 m^3/s")
    bad = np.flatnonzero(~lumped & ~(np.isfinite(g_trunk) & (g_trunk > 0)))
    if bad.size:
        raise FlowInputError(f"trunk vessel {trunk.edge_names[bad[0]]!r} has conductance {g_trunk[bad[0]]:g}; "
                             "calibration needs every trunk vessel open (> 0)")
    inflow = np.zeros(trunk.n_nodes)
    np.add.at(inflow, forest.root_trunk_art, -root_art_q)
    np.add.at(inflow, forest.root_trunk_por, -root_por_q)
    np.add.at(inflow, trunk.edge_conns[lumped, 0], -demand[lumped])
    np.add.at(inflow, trunk.edge_conns[lumped, 1], demand[lumped])
    try:
        sol = solve_network(trunk.n_nodes, trunk.edge_conns[~lumped], g_trunk[~lumped], trunk.node_pressure_pa, inflow,
                            node_label=lambda n: repr(trunk.node_names[n]))
    except FlowInputError as exc:
        raise FlowInputError(f"cannot calibrate: through its vessels alone (lumped beds left out), {exc}") from None
    return sol.pressure


def _terminal(q: np.ndarray, p_up: np.ndarray, p_down, what: str, path: str, node: np.ndarray) -> np.ndarray:
    """g = q / (p_up - p_down), or a ScenarioError naming the parameter ``path`` when the drop is not positive."""
    drop = p_up - p_down
    bad = np.flatnonzero((q > 0) & ~(drop > 0))
    if bad.size:
        b = bad[np.argmin(drop[bad])]
        down = p_down if np.ndim(p_down) == 0 else p_down[b]
        raise ScenarioError(
            f"the {what} is too resistive for the boundary pressures: at pedicle node {node[b]} (compartment {b}) "
            f"the pressure is {p_up[b] / MMHG_PA:.2f} mmHg, not above the {down / MMHG_PA:.2f} mmHg it must drive "
            f"flow into; raise {path} or liver.terminal_diameter_um (a finer tree is more resistive: 20 um and "
            "below can fail with the default pressures), or lower flow.sinusoid_gradient_mmHg", path=path)
    return np.divide(q, drop, out=np.zeros_like(q), where=q > 0)


def calibrate(liver: CompiledLiver, vessels: Conductances, flow: FlowConfig) -> Conductances:
    """Compartment and lumped conductances that give every compartment exactly its baseline demand.

    Parameters
    ----------
    liver : CompiledLiver
        Boundary pressures in ``trunk.node_pressure_pa`` and ``hepatic_vein_pressure_pa``.
    vessels : Conductances
        Vessel conductances (trunk vessels, pedicle vessels), m^3/(s Pa), all > 0;
        lumped and compartment entries are ignored.
    flow : FlowConfig
        ``sinusoid_gradient_mmHg`` is used.

    Returns
    -------
    Conductances
        A copy of ``vessels`` with lumped trunk beds and every compartment terminal set.

    Raises
    ------
    ScenarioError
        The arterial or portal tree (or an extrahepatic feeder, or a lumped bed)
        cannot carry its demand at these boundary pressures; the message names
        the pressure and the parameter to change.
    FlowInputError
        Missing or negative demands, a closed vessel, a free trunk node joined
        to the boundaries only through lumped beds.
    """
    trunk, forest, comps = liver.trunk, liver.forest, liver.compartments
    qa, qp, qe = compartment_inflows(comps)
    m = forest.n_nodes
    nonroot = forest.parent >= 0
    for name in ("art", "por"):
        g = getattr(vessels, name)
        bad = np.flatnonzero(nonroot & ~(np.isfinite(g) & (g > 0)))
        if bad.size:
            raise FlowInputError(f"pedicle {name} vessel into node {bad[0]} has conductance {g[bad[0]]:g}; "
                                 "calibration needs the healthy liver (every vessel open, > 0)")
    q_art, q_por = np.empty(m), np.empty(m)
    subtree_sums(forest.parent, np.bincount(comps.node, qa, minlength=m), q_art)
    subtree_sums(forest.parent, np.bincount(comps.node, qp, minlength=m), q_por)
    roots = forest.root_nodes
    p_trunk = _trunk_pressures(liver, np.asarray(vessels.trunk, dtype=np.float64), q_art[roots], q_por[roots])
    pa, pp = np.empty(m), np.empty(m)
    pa[roots], pp[roots] = p_trunk[forest.root_trunk_art], p_trunk[forest.root_trunk_por]
    walk_pressures(forest.parent, q_art, vessels.art, pa)
    walk_pressures(forest.parent, q_por, vessels.por, pp)

    grad = flow.sinusoid_gradient_mmHg * MMHG_PA
    tissue = comps.kind == 0
    node = comps.node
    p_comp = np.where(tissue, liver.hepatic_vein_pressure_pa + grad, pp[node] + grad)
    out = vessels.copy()
    out.comp_art = _terminal(qa, pa[node], p_comp, "arterial tree",
                             "flow.arterial_pressure_mmHg", node)
    out.comp_por = np.where(tissue, _terminal(np.where(tissue, qp, 0.0), pp[node], p_comp, "portal tree",
                                              "flow.portal_pressure_mmHg", node), (qa + qe) / grad)
    out.comp_hv = np.where(tissue, (qa + qp + qe) / grad, 0.0)
    extra = comps.extra_trunk_node
    p_extra = np.where(extra >= 0, trunk.node_pressure_pa[np.maximum(extra, 0)], np.nan)
    bad = np.flatnonzero((qe > 0) & ~np.isfinite(p_extra))
    if bad.size:
        raise FlowInputError(f"compartment {bad[0]} has demand_extra_m3s > 0 but its extra_trunk_node is not a "
                             "trunk node with a pressure (the extrahepatic reservoir must be a pressure boundary)")
    out.comp_extra = _terminal(qe, np.where(qe > 0, p_extra, 0.0), p_comp, "extrahepatic feeder",
                               "flow.arterial_pressure_mmHg", node)
    lumped = np.flatnonzero(trunk.edge_kind == EDGE_LUMPED)
    a, b = trunk.edge_conns[lumped, 0], trunk.edge_conns[lumped, 1]
    demand = trunk.edge_demand_m3s[lumped]
    drop = p_trunk[a] - p_trunk[b]
    bad = np.flatnonzero((demand > 0) & ~(drop > 0))
    if bad.size:
        e = lumped[bad[0]]
        raise ScenarioError(
            f"the lumped bed {trunk.edge_names[e]!r} cannot take its baseline flow: the pressure at "
            f"{trunk.node_names[a[bad[0]]]!r} ({p_trunk[a[bad[0]]] / MMHG_PA:.2f} mmHg) is not above that at "
            f"{trunk.node_names[b[bad[0]]]!r} ({p_trunk[b[bad[0]]] / MMHG_PA:.2f} mmHg); raise "
            "flow.arterial_pressure_mmHg or lower flow.systemic_venous_pressure_mmHg",
            path="flow.systemic_venous_pressure_mmHg")
    out.trunk = out.trunk.copy()
    out.trunk[lumped] = np.divide(demand, drop, out=np.zeros_like(demand), where=demand > 0)
    return out
