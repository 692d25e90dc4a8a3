"""The catheter in the flow network: a flow source at its tip and a narrowed lumen behind it.

Approximations (docs/flow.md):

* The tip on a named trunk vessel at ``catheter.tip_distance_mm`` from its origin
  (mid-vessel when omitted) splits the vessel at a new trunk node
  ``catheter_tip``: the proximal part keeps the vessel's name and index, the
  distal part is appended as ``<name>_distal``. A tip at the vessel's end
  (distance = length) uses the existing end node.
* The injection (``catheter.rate_ml_min``) is a Neumann source at the tip, added
  to the pressure-driven flow; when the bed downstream cannot take it, the
  proximal part carries the excess backwards (reflux).
* The catheter narrows every vessel it passes through, from the arterial root
  to the tip: each is a concentric annulus around a rod of the catheter's outer
  radius over its whole length (the proximal part only for the tip vessel),
  conductance x ``annulus_fraction(r_c / R)`` (Bird, Stewart and Lightfoot
  2002, eq. 2.4-17). The path is the shortest chain of arteries upstream to a
  pressure boundary. A vessel no wider than the catheter is wedged (0).
  Coaxial guide catheters, eccentric position and pulsatility are ignored.
* On a synthetic vessel ``'#n'`` the tip is at pedicle node n's arterial node
  (the vessel's distal end; ``tip_distance_mm`` is not used): the source is
  ``q_art_in[n]`` and the pedicle arteries from the subtree root to n, and the
  trunk arteries above, are narrowed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from ..kernels.rheology import annulus_fraction
from ..network import EDGE_ARTERY, TRUNK_NODE_ARTERY, CompiledLiver, Conductances, Trunk
from ..scenario import CatheterConfig, ScenarioError
from ..units import FRENCH_M, ML_MIN_M3S, MM_M

__all__ = ["TIP_NODE", "CatheterPlacement", "place_catheter"]

#: Name of the trunk node inserted at the tip.
TIP_NODE = "catheter_tip"
#: Where the tip sits when no ``catheter.tip_distance_mm`` is given, and in a synthetic vessel (whose tip position
#: the model does not resolve): this share of the vessel's length from its origin (model assumption: half-way).
DEFAULT_TIP_POSITION = 0.5


@dataclass(frozen=True)
class CatheterPlacement:
    """Where the catheter is in the (augmented) network.

    Attributes
    ----------
    vessel : str
        ``catheter.vessel``.
    rate_m3s : float
        Injection rate, m^3/s.
    tip_trunk_node : int
        Trunk node holding the tip, -1 when the tip is in a pedicle subtree.
    tip_pedicle_node : int
        Pedicle node whose arterial node holds the tip, -1 when on the trunk.
    proximal_edge : int
        Trunk edge just upstream of a trunk tip (the catheterised vessel's
        proximal part, its flow reverses on reflux); -1 for a pedicle tip, whose
        upstream vessel is pedicle vessel ``tip_pedicle_node``.
    distal_edge : int
        Trunk edge just downstream of a trunk tip (appended ``<name>_distal``),
        -1 when the tip is at the vessel's end or in a pedicle subtree.
    narrowed_trunk : tuple of int
        Trunk edges narrowed by the catheter.
    narrowed_pedicle : ndarray of int64
        Pedicle nodes whose incoming artery is narrowed.
    """

    vessel: str
    rate_m3s: float
    tip_trunk_node: int
    tip_pedicle_node: int
    proximal_edge: int
    distal_edge: int
    narrowed_trunk: tuple[int, ...]
    narrowed_pedicle: np.ndarray


def _arteries_to_root(trunk: Trunk, node: int) -> list[int]:
    """Trunk arteries from a pressure boundary down to ``node`` (shortest chain; empty if node is one)."""
    incoming: dict[int, list[int]] = {}
    for e, (_a, b) in enumerate(trunk.edge_conns):
        if trunk.edge_kind[e] == EDGE_ARTERY:
            incoming.setdefault(int(b), []).append(e)
    via = {node: -1}
    queue = deque([node])
    while queue:
        n = queue.popleft()
        if np.isfinite(trunk.node_pressure_pa[n]):
            path = []
            while via[n] >= 0:
                path.append(via[n])
                n = int(trunk.edge_conns[via[n], 1])
            return path
        for e in incoming.get(n, []):
            a = int(trunk.edge_conns[e, 0])
            if a not in via:
                via[a] = e
                queue.append(a)
    raise ScenarioError(f"no chain of arteries leads from an arterial root to {trunk.node_names[node]!r}",
                        path="catheter.vessel")


def _split(trunk: Trunk, e: int, fraction: float) -> Trunk:
    """The trunk with vessel e split at ``fraction`` of its length by a new node ``TIP_NODE``."""
    a, b = trunk.edge_conns[e]
    tip = trunk.n_nodes
    conns = np.vstack([trunk.edge_conns, [[tip, b]]])
    conns[e, 1] = tip
    length = trunk.edge_length_m.copy()
    length[e] *= fraction
    return replace(
        trunk, node_names=trunk.node_names + (TIP_NODE,),
        node_xyz=np.vstack([trunk.node_xyz, trunk.node_xyz[a] + fraction * (trunk.node_xyz[b] - trunk.node_xyz[a])]),
        node_kind=np.append(trunk.node_kind, np.int8(TRUNK_NODE_ARTERY)),
        node_pressure_pa=np.append(trunk.node_pressure_pa, np.nan), edge_conns=conns,
        edge_names=trunk.edge_names + (f"{trunk.edge_names[e]}_distal",),
        edge_kind=np.append(trunk.edge_kind, trunk.edge_kind[e]),
        edge_radius_m=np.append(trunk.edge_radius_m, trunk.edge_radius_m[e]),
        edge_length_m=np.append(length, trunk.edge_length_m[e] * (1.0 - fraction)),
        edge_generation=np.append(trunk.edge_generation, trunk.edge_generation[e]),
        edge_demand_m3s=np.append(trunk.edge_demand_m3s, np.nan))


def place_catheter(liver: CompiledLiver, conductances: Conductances,
                   catheter: CatheterConfig) -> tuple[CompiledLiver, Conductances, CatheterPlacement]:
    """Insert the catheter: split its vessel at the tip, narrow the vessels it passes through.

    Parameters
    ----------
    liver : CompiledLiver
    conductances : Conductances
        Of ``liver`` (vessel conductances proportional to 1 / length).
    catheter : CatheterConfig
        ``vessel``, ``tip_distance_mm``, ``outer_diameter_fr``, ``rate_ml_min``.

    Returns
    -------
    (CompiledLiver, Conductances, CatheterPlacement)
        The liver with the tip node and distal part appended to the trunk (when
        split), its conductances, and the placement.

    Raises
    ------
    ScenarioError
        Unknown or non-arterial vessel (``catheter.vessel``), tip outside the
        vessel (``catheter.tip_distance_mm``).
    """
    trunk, forest = liver.trunk, liver.forest
    r_cath = 0.5 * catheter.outer_diameter_fr * FRENCH_M
    g = conductances.copy()
    rate = catheter.rate_ml_min * ML_MIN_M3S
    pedicle: list[int] = []
    if catheter.vessel.startswith("#"):
        tip_ped = int(catheter.vessel[1:])
        if not (0 <= tip_ped < forest.n_nodes and forest.parent[tip_ped] >= 0):
            raise ScenarioError(f"no synthetic vessel {catheter.vessel!r}: allowed '#1'..'#{forest.n_nodes - 1}', "
                                "a pedicle node that is not a subtree root", path="catheter.vessel")
        n = tip_ped
        while forest.parent[n] >= 0:
            pedicle.append(n)
            n = int(forest.parent[n])
        upstream = _arteries_to_root(trunk, int(forest.root_trunk_art[np.flatnonzero(forest.root_nodes == n)[0]]))
        tip_node, proximal, distal = -1, -1, -1
    else:
        try:
            e = trunk.edge_index(catheter.vessel)
        except KeyError:
            raise ScenarioError(f"no vessel {catheter.vessel!r} in this anatomy; allowed: "
                                f"{', '.join(n for n, k in zip(trunk.edge_names, trunk.edge_kind) if k == EDGE_ARTERY)}"
                                " or a synthetic vessel '#<n>'", path="catheter.vessel") from None
        if trunk.edge_kind[e] != EDGE_ARTERY:
            raise ScenarioError(f"{catheter.vessel!r} is not an artery; the catheter is trans-arterial",
                                path="catheter.vessel")
        length = trunk.edge_length_m[e]
        d = DEFAULT_TIP_POSITION * length if catheter.tip_distance_mm is None else catheter.tip_distance_mm * MM_M
        if not 0.0 < d <= length:
            raise ScenarioError(f"tip {d / MM_M:g} mm from the origin of {catheter.vessel!r}, which is "
                                f"{length / MM_M:.1f} mm long; allowed: (0, {length / MM_M:.1f}] mm",
                                path="catheter.tip_distance_mm")
        upstream = _arteries_to_root(trunk, int(trunk.edge_conns[e, 0])) + [e]
        tip_ped, proximal = -1, e
        if d < length:
            trunk = _split(trunk, e, d / length)
            g.trunk = np.append(g.trunk, g.trunk[e] * length / (length - d))
            g.trunk[e] *= length / d
            tip_node, distal = trunk.n_nodes - 1, trunk.n_edges - 1
        else:
            tip_node, distal = int(trunk.edge_conns[e, 1]), -1
    for e in upstream:
        g.trunk[e] *= annulus_fraction(r_cath / trunk.edge_radius_m[e])
    for n in pedicle:
        g.art[n] *= annulus_fraction(r_cath / forest.art_radius_m[n])
    placement = CatheterPlacement(vessel=catheter.vessel, rate_m3s=rate, tip_trunk_node=tip_node,
                                  tip_pedicle_node=tip_ped, proximal_edge=proximal, distal_edge=distal,
                                  narrowed_trunk=tuple(upstream), narrowed_pedicle=np.array(pedicle, np.int64))
    return replace(liver, trunk=trunk), g, placement
