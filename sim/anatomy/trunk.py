"""The named vessels: arterial trunk with Michels variants, portal trunk, boundary nodes.

Vessels are declared once in :data:`ARTERIES`, :data:`VARIANT_ARTERIES` and
:data:`PORTAL_VEINS` with their literature diameter and its source. The conventional
anatomy (Michels type I) is a parent map ``vessel -> parent vessel``; the segment IV
artery's origin, the optional falciform artery and the Michels types II-VI are
transforms of that map (:func:`arterial_parents`).

Each vessel runs from its parent's distal node to its own distal node
``"<name>_end"``; root vessels start at a boundary node: ``coeliac_origin`` and
``SMA_origin`` (Dirichlet, ``flow.arterial_pressure_mmHg``), ``MPV_inlet``
(``flow.portal_pressure_mmHg``). Non-target vessels (GDA, RGA, cystic, falciform,
LGA, splenic, SMA) end in a lumped bed ``"<name>_bed"`` draining to the reservoir
``systemic_veins`` (``flow.systemic_venous_pressure_mmHg``); its baseline demand
follows Murray scaling of the vessel's literature diameter, ``Q = Q_ref (r /
r_ref)^g``, so the vessel keeps its literature diameter. Each tumour with an
extrahepatic feeder gets a reservoir ``"extrahepatic_<tumour>"`` at arterial
pressure.

Radii of all other vessels follow Murray's law from the flow they carry (the sum
of the beds and pedicle subtrees downstream), so ``r_parent^g = sum r_child^g`` at
every trunk junction, counting a lumped bed by its literature radius. Their
literature diameters are kept for comparison (:mod:`validation.morphometry`).

Positions: the proper hepatic artery ends at the porta hepatis (hilum), the main
portal vein just behind it; vessels outside the liver are placed from there by
their literature length along a schematic direction; a named vessel inside the
liver ends on the line from the hilum to the demand-weighted centroid of its
territory, a third of the way for lobar vessels, two thirds for sectoral ones, and
at the centroid for segmental ones (where its pedicle subtree's root lies). Vessel
length is the distance between its nodes, at least its diameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import EDGE_ARTERY, EDGE_LUMPED, EDGE_PORTAL, TRUNK_NODE_ARTERY, TRUNK_NODE_PORTAL, TRUNK_NODE_RESERVOIR, Trunk
from ..scenario import AnatomyConfig, FlowConfig
from ..units import MM_M, mmhg_to_pa
from .murray import MurraySizing

__all__ = ["VesselSpec", "ARTERIES", "VARIANT_ARTERIES", "PORTAL_VEINS", "VESSELS", "TrunkLayout",
           "arterial_parents", "portal_parents", "build_trunk", "SYSTEMIC_VEINS", "ARTERIAL_ROOTS", "PORTAL_ROOT"]

_TEXTBOOK = "textbook (unverified)"


@dataclass(frozen=True)
class VesselSpec:
    """A named vessel of the conventional anatomy.

    Attributes
    ----------
    name : str
    parent : str or None
        Parent vessel in Michels type I (None: leaves a boundary node).
    diameter_mm : float, mm
        Literature diameter.
    source : str
        Source of the diameter (citation key ``[Key]`` of sim/references.bib, or "textbook (unverified)").
    length_mm : float, mm
        Literature length (textbook, unverified), used to place vessels outside the
        liver (NaN inside, where positions follow the territories).
    direction : tuple of float
        Schematic direction (x left, y posterior, z cranial) of a vessel outside the liver.
    bed : bool
        Non-target vessel ending in a lumped bed.
    segment : int
        Couinaud segment 0-7 supplied by a segmental vessel, -1 otherwise.
    """

    name: str
    parent: str | None
    diameter_mm: float
    source: str
    length_mm: float = float("nan")
    direction: tuple[float, float, float] = (0.0, 0.0, 0.0)
    bed: bool = False
    segment: int = -1


def _segmental(prefix: str, k: int, parent: str, diameter_mm: float) -> VesselSpec:
    return VesselSpec(f"{prefix}{k}", parent, diameter_mm, _TEXTBOOK + ": segmental branches 1.5-2.5 mm (arteries), "
                      "3-6 mm (portal)", segment=k - 1)


#: Arteries of the conventional anatomy (Michels type I), parents before children.
ARTERIES: tuple[VesselSpec, ...] = (
    VesselSpec("coeliac", None, 7.0, _TEXTBOOK + ": 6-8 mm", 15.0, (0.0, -1.0, 0.3)),
    VesselSpec("SMA", None, 7.0, _TEXTBOOK + ": 6-8 mm", 30.0, (0.0, -0.5, -1.0), bed=True),
    VesselSpec("splenic", "coeliac", 5.5, _TEXTBOOK + ": 5-6 mm", 100.0, (1.0, 0.3, 0.0), bed=True),
    VesselSpec("LGA", "coeliac", 2.5, _TEXTBOOK + ": 2-3 mm", 50.0, (0.3, -0.2, 1.0), bed=True),
    VesselSpec("CHA", "coeliac", 5.0, _TEXTBOOK + ": 4-6 mm", 35.0, (-1.0, -0.2, 0.2)),
    VesselSpec("GDA", "CHA", 3.0, _TEXTBOOK + ": 2-4 mm", 25.0, (0.0, -0.3, -1.0), bed=True),
    VesselSpec("PHA", "CHA", 4.5, "[TextbookAnatomy] (4-5 mm, unverified): the arterial Murray anchor", 25.0,
               (0.0, 0.2, 1.0)),
    VesselSpec("RGA", "PHA", 1.5, _TEXTBOOK + ": 1-2 mm", 30.0, (1.0, -0.3, -0.5), bed=True),
    VesselSpec("RHA", "PHA", 3.5, _TEXTBOOK + ": 3-4 mm; [Taebi2021] 4.6 mm in one patient"),
    VesselSpec("LHA", "PHA", 2.8, _TEXTBOOK + ": 2-3.5 mm"),
    VesselSpec("cystic", "RHA", 1.5, _TEXTBOOK + ": 1-2 mm", 20.0, (-0.3, -1.0, -0.6), bed=True),
    VesselSpec("A1", "RHA", 1.0, _TEXTBOOK + ": caudate branches about 1 mm, from both sides ([Garg2019])", segment=0),
    VesselSpec("right_anterior", "RHA", 2.5, _TEXTBOOK + ": 2-3 mm"),
    VesselSpec("right_posterior", "RHA", 2.5, _TEXTBOOK + ": 2-3 mm"),
    _segmental("A", 5, "right_anterior", 2.0),
    _segmental("A", 8, "right_anterior", 2.5),
    _segmental("A", 6, "right_posterior", 2.0),
    _segmental("A", 7, "right_posterior", 2.2),
    _segmental("A", 2, "LHA", 1.8),
    _segmental("A", 3, "LHA", 1.8),
    _segmental("A", 4, "LHA", 2.0),
    VesselSpec("falciform", "A4", 1.0, _TEXTBOOK + ": about 1 mm; present in 2-25% ([TextbookAnatomy])", 30.0,
               (0.0, -1.0, 0.3), bed=True),
)

#: Variant arteries ([Michels1966]; [Loschner2015]), with the parent they leave.
VARIANT_ARTERIES: tuple[VesselSpec, ...] = (
    VesselSpec("replaced_LHA", "LGA", 2.8, _TEXTBOOK + ": as the LHA it replaces"),
    VesselSpec("replaced_RHA", "SMA", 3.5, _TEXTBOOK + ": as the RHA it replaces"),
    VesselSpec("accessory_LHA", "LGA", 2.0, _TEXTBOOK + ": 1.5-2.5 mm"),
    VesselSpec("accessory_RHA", "SMA", 2.5, _TEXTBOOK + ": 2-3 mm"),
)

#: Portal veins, parents before children. The right portal vein's sectoral branches
#: are named so that arterial and portal segmental vessels sit at the same generation.
PORTAL_VEINS: tuple[VesselSpec, ...] = (
    VesselSpec("MPV", None, 11.0, _TEXTBOOK + ": 10-13 mm: the portal Murray anchor", 70.0, (-0.3, 0.3, 1.0)),
    VesselSpec("RPV", "MPV", 9.0, _TEXTBOOK + ": 8-10 mm"),
    VesselSpec("LPV", "MPV", 8.0, _TEXTBOOK + ": 7-9 mm"),
    VesselSpec("right_anterior_portal", "RPV", 6.5, _TEXTBOOK + ": 5-8 mm"),
    VesselSpec("right_posterior_portal", "RPV", 6.5, _TEXTBOOK + ": 5-8 mm"),
    _segmental("P", 5, "right_anterior_portal", 4.5),
    _segmental("P", 8, "right_anterior_portal", 5.5),
    _segmental("P", 6, "right_posterior_portal", 4.5),
    _segmental("P", 7, "right_posterior_portal", 5.5),
    _segmental("P", 1, "LPV", 3.0),
    _segmental("P", 2, "LPV", 4.0),
    _segmental("P", 3, "LPV", 4.0),
    _segmental("P", 4, "LPV", 4.5),
)

#: Every named vessel by name.
VESSELS: dict[str, VesselSpec] = {v.name: v for v in ARTERIES + VARIANT_ARTERIES + PORTAL_VEINS}

#: Boundary node each root vessel leaves.
ARTERIAL_ROOTS = {"coeliac": "coeliac_origin", "SMA": "SMA_origin"}
PORTAL_ROOT = {"MPV": "MPV_inlet"}
#: Reservoir the non-target beds drain into.
SYSTEMIC_VEINS = "systemic_veins"
#: Offset of the SMA origin from the coeliac origin, m. Textbook (unverified): the SMA
#: leaves the aorta about 1 cm below the coeliac trunk.
_OTHER_ROOT_OFFSET_M = np.array([0.0, 0.0, -0.010])
#: Offset of the portal bifurcation from the hepatic artery's (hilum), m. Textbook
#: (unverified): the portal vein runs behind the hepatic artery in the hepatoduodenal ligament.
_PORTAL_HILUM_OFFSET_M = np.array([0.0, 0.010, 0.0])
#: Schematic position of the systemic venous reservoir below the liver, m (plots only).
_SYSTEMIC_DROP_M = 0.03
#: Fraction of the way from the hilum to the territory centroid at which lobar (1) and
#: sectoral (2) vessels end; segmental vessels end at the centroid. Model assumption.
_BRANCH_FRACTION = {0: 0.0, 1: 1.0 / 3.0, 2: 2.0 / 3.0}
#: Vessels counted as lobar hepatic arteries (generation 1) although they leave the LGA or SMA.
_LOBAR_VARIANTS = ("replaced_LHA", "replaced_RHA", "accessory_LHA", "accessory_RHA")


def arterial_parents(anatomy: AnatomyConfig) -> dict[str, str | None]:
    """Parent map ``vessel -> parent vessel`` of the arteries of this anatomy.

    Transforms of the conventional map: A4 from the RHA if
    ``segment4_artery_origin = "RHA"``; no falciform artery unless
    ``falciform_artery``; Michels II replaced LHA from the LGA (``replaced_LHA``),
    III replaced RHA from the SMA (``replaced_RHA``), IV both, V accessory LHA from
    the LGA (``accessory_LHA``) supplying A2 while the LHA keeps A3 and A4, VI
    accessory RHA from the SMA (``accessory_RHA``) supplying the right posterior
    sector.

    Returns
    -------
    dict of str to str or None
        In a parents-before-children order.
    """
    parents = {v.name: v.parent for v in ARTERIES}
    parents["A4"] = anatomy.segment4_artery_origin
    if not anatomy.falciform_artery:
        del parents["falciform"]

    def replace(old: str, new: str) -> None:
        for child, parent in parents.items():
            if parent == old:
                parents[child] = new
        del parents[old]
        parents[new] = VESSELS[new].parent

    def add_accessory(name: str, supplies: str) -> None:
        parents[name] = VESSELS[name].parent
        parents[supplies] = name

    michels = anatomy.michels_type
    if michels in ("II", "IV"):
        replace("LHA", "replaced_LHA")
    if michels in ("III", "IV"):
        replace("RHA", "replaced_RHA")
    if michels == "V":
        add_accessory("accessory_LHA", "A2")
    if michels == "VI":
        add_accessory("accessory_RHA", "right_posterior")
    return _parents_first(parents)


def portal_parents() -> dict[str, str | None]:
    """Parent map of the portal veins (no variants)."""
    return {v.name: v.parent for v in PORTAL_VEINS}


def _parents_first(parents: dict[str, str | None]) -> dict[str, str | None]:
    """The same map ordered breadth-first from the roots (children in insertion order)."""
    children: dict[str | None, list[str]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    ordered: dict[str, str | None] = {}
    queue = list(children.get(None, []))
    while queue:
        name = queue.pop(0)
        ordered[name] = parents[name]
        queue.extend(children.get(name, []))
    return ordered


def _generations(parents: dict[str, str | None], hepatic_root: str) -> dict[str, int]:
    """Generation of each vessel below ``hepatic_root`` (0); lobar variants 1; outside the liver -1."""
    gen: dict[str, int] = {}
    for name, parent in parents.items():
        if name == hepatic_root:
            gen[name] = 0
        elif name in _LOBAR_VARIANTS:
            gen[name] = 1
        elif parent is not None and gen.get(parent, -1) >= 0 and not VESSELS[name].bed:
            gen[name] = gen[parent] + 1
        else:
            gen[name] = -1
    return gen


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


@dataclass(frozen=True)
class TrunkLayout:
    """The trunk and where the pedicle subtrees and feeders attach to it.

    Attributes
    ----------
    trunk : Trunk
    root_art, root_por : ndarray of int64, shape (8,)
        Trunk nodes at the distal ends of A1-A8 and P1-P8 (the subtree roots, by segment).
    feeder_node : ndarray of int64, shape (T,)
        Reservoir node of each tumour's extrahepatic feeder, -1 for none.
    segmental_edge_art, segmental_edge_por : ndarray of int64, shape (8,)
        Trunk edges A1-A8 and P1-P8.
    """

    trunk: Trunk
    root_art: np.ndarray
    root_por: np.ndarray
    feeder_node: np.ndarray
    segmental_edge_art: np.ndarray
    segmental_edge_por: np.ndarray


class _TrunkBuilder:
    """Accumulates trunk nodes and edges, then sorts edges by upstream node."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[np.ndarray, int, float]] = {}
        self.edges: list[tuple[str, str, str, int, float, int, float]] = []

    def node(self, name: str, xyz: np.ndarray, kind: int, pressure: float = float("nan")) -> None:
        """Add (or replace) a node: position (m), ``TRUNK_NODE_*`` kind, Dirichlet pressure (Pa) or NaN."""
        self.nodes[name] = (np.asarray(xyz, float), kind, pressure)

    def edge(self, up: str, down: str, name: str, kind: int, radius: float, generation: int, demand: float) -> None:
        """Add a vessel or lumped bed from ``up`` to ``down`` (radius m, demand m^3/s; NaN where undefined)."""
        self.edges.append((up, down, name, kind, radius, generation, demand))

    def build(self, min_length_diameters: float) -> Trunk:
        """The :class:`~sim.network.Trunk`: edges sorted by upstream node, lengths from positions."""
        names = tuple(self.nodes)
        index = {n: i for i, n in enumerate(names)}
        edges = sorted(self.edges, key=lambda e: index[e[0]])
        xyz = np.array([self.nodes[n][0] for n in names])
        conns = np.array([[index[e[0]], index[e[1]]] for e in edges], np.int64).reshape(-1, 2)
        radius = np.array([e[4] for e in edges])
        distance = np.linalg.norm(xyz[conns[:, 1]] - xyz[conns[:, 0]], axis=1)
        length = np.where(np.isnan(radius), np.nan, np.maximum(distance, min_length_diameters * 2.0 * radius))
        return Trunk(
            node_names=names, node_xyz=xyz,
            node_kind=np.array([self.nodes[n][1] for n in names], np.int8),
            node_pressure_pa=np.array([self.nodes[n][2] for n in names]),
            edge_conns=conns, edge_names=tuple(e[2] for e in edges),
            edge_kind=np.array([e[3] for e in edges], np.int8), edge_radius_m=radius, edge_length_m=length,
            edge_generation=np.array([e[5] for e in edges], np.int16),
            edge_demand_m3s=np.array([e[6] for e in edges]))


def _design_flows(parents: dict[str, str | None], own: dict[str, float]) -> dict[str, float]:
    """Flow of each vessel: its own (segment subtree, bed) plus everything downstream."""
    total = {name: own.get(name, 0.0) for name in parents}
    for name in reversed(parents):
        if parents[name] is not None:
            total[parents[name]] += total[name]
    return total


def _territory_centroids(parents: dict[str, str | None], root_centroid: np.ndarray,
                         root_q: np.ndarray) -> dict[str, np.ndarray]:
    """Demand-weighted centroid of the segments below each vessel (vessels that reach a segment)."""
    seg = {name: VESSELS[name].segment for name in parents}
    weight = _design_flows(parents, {n: root_q[s] for n, s in seg.items() if s >= 0})
    moment = {name: np.zeros(3) for name in parents}
    for name in reversed(parents):
        if seg[name] >= 0:
            moment[name] += root_q[seg[name]] * root_centroid[seg[name]]
        if parents[name] is not None:
            moment[parents[name]] += moment[name]
    return {n: moment[n] / weight[n] for n in parents if weight[n] > 0.0}


def _add_tree(builder: _TrunkBuilder, parents: dict[str, str | None], roots: dict[str, str], *, kind: int,
              edge_kind: int, hilum_vessel: str, hilum: np.ndarray, root_centroid: np.ndarray, root_q: np.ndarray,
              sizing: MurraySizing) -> None:
    """Add the nodes and vessels of one tree (beds included) to ``builder``."""
    gen = _generations(parents, hilum_vessel)
    bed_q = {n: float(sizing.flow(0.5 * VESSELS[n].diameter_mm * MM_M)) for n in parents if VESSELS[n].bed}
    own = dict(bed_q)
    for name in parents:
        if VESSELS[name].segment >= 0:
            own[name] = float(root_q[VESSELS[name].segment])
    flow = _design_flows(parents, own)
    centroid = _territory_centroids(parents, root_centroid, root_q)
    for name in parents:  # a segmental vessel ends exactly at its subtree's root
        if VESSELS[name].segment >= 0:
            centroid[name] = root_centroid[VESSELS[name].segment]
    position = _positions(parents, roots, gen, centroid, hilum_vessel, hilum)
    for name, parent in parents.items():
        up = roots[name] if parent is None else f"{parent}_end"
        if parent is None:
            builder.node(up, position[up], kind)
        builder.node(f"{name}_end", position[f"{name}_end"], kind)
        builder.edge(up, f"{name}_end", name, edge_kind, float(sizing.radius(flow[name])), gen[name], float("nan"))
        if name in bed_q:
            builder.edge(f"{name}_end", SYSTEMIC_VEINS, f"{name}_bed", EDGE_LUMPED, float("nan"), -1, bed_q[name])


def _positions(parents: dict[str, str | None], roots: dict[str, str], gen: dict[str, int],
               centroid: dict[str, np.ndarray], hilum_vessel: str, hilum: np.ndarray) -> dict[str, np.ndarray]:
    """Node positions: the hilum vessel's end at ``hilum``; see the module docstring."""
    pos: dict[str, np.ndarray] = {f"{hilum_vessel}_end": hilum}
    name = hilum_vessel  # walk back from the hilum to the tree's root along literature lengths
    while True:
        spec = VESSELS[name]
        up = roots[name] if parents[name] is None else f"{parents[name]}_end"
        pos[up] = pos[f"{name}_end"] - spec.length_mm * MM_M * _unit(spec.direction)
        if parents[name] is None:
            break
        name = parents[name]
    chain_root = pos[up]
    for name, parent in parents.items():
        up = roots[name] if parent is None else f"{parent}_end"
        if up not in pos:  # another root (the SMA origin) next to the hilum chain's root
            pos[up] = chain_root + _OTHER_ROOT_OFFSET_M
        spec = VESSELS[name]
        if f"{name}_end" in pos:
            continue
        if spec.segment >= 0:
            pos[f"{name}_end"] = centroid[name]
        elif gen[name] >= 0:
            pos[f"{name}_end"] = hilum + _BRANCH_FRACTION[gen[name]] * (centroid[name] - hilum)
        else:
            pos[f"{name}_end"] = pos[up] + spec.length_mm * MM_M * _unit(spec.direction)
    return pos


def build_trunk(anatomy: AnatomyConfig, flow: FlowConfig, *, hilum: np.ndarray, root_centroid: np.ndarray,
                root_q_art: np.ndarray, root_q_por: np.ndarray, art_sizing: MurraySizing,
                por_sizing: MurraySizing, feeders: list[tuple[str, np.ndarray] | None],
                min_length_diameters: float) -> TrunkLayout:
    """Assemble the trunk of this anatomy.

    Parameters
    ----------
    anatomy, flow : AnatomyConfig, FlowConfig
        Scenario sections (variant, boundary pressures).
    hilum : ndarray of float64, shape (3,), m
        Porta hepatis (end of the proper hepatic artery).
    root_centroid : ndarray of float64, shape (8, 3), m
        Position of each segment's pedicle root (its demand-weighted centroid).
    root_q_art, root_q_por : ndarray of float64, shape (8,), m^3/s
        Design flow of each segment's arterial and portal subtree.
    art_sizing, por_sizing : MurraySizing
        Murray scaling of the arterial and portal trees.
    feeders : list of (name, position) or None, length T
        Per tumour, the reservoir name and position of its extrahepatic feeder, or None.
    min_length_diameters : float
        Shortest vessel length, in vessel diameters.

    Returns
    -------
    TrunkLayout
    """
    p_art = mmhg_to_pa(flow.arterial_pressure_mmHg)
    builder = _TrunkBuilder()
    art = arterial_parents(anatomy)
    _add_tree(builder, art, ARTERIAL_ROOTS, kind=TRUNK_NODE_ARTERY, edge_kind=EDGE_ARTERY, hilum_vessel="PHA",
              hilum=hilum, root_centroid=root_centroid, root_q=root_q_art, sizing=art_sizing)
    _add_tree(builder, portal_parents(), PORTAL_ROOT, kind=TRUNK_NODE_PORTAL, edge_kind=EDGE_PORTAL,
              hilum_vessel="MPV", hilum=hilum + _PORTAL_HILUM_OFFSET_M, root_centroid=root_centroid,
              root_q=root_q_por, sizing=por_sizing)
    for root in ARTERIAL_ROOTS.values():
        builder.nodes[root] = (builder.nodes[root][0], TRUNK_NODE_ARTERY, p_art)
    inlet = PORTAL_ROOT["MPV"]
    builder.nodes[inlet] = (builder.nodes[inlet][0], TRUNK_NODE_PORTAL, mmhg_to_pa(flow.portal_pressure_mmHg))
    low = min(xyz[2] for xyz, _, _ in builder.nodes.values())
    builder.node(SYSTEMIC_VEINS, np.array([0.0, hilum[1], low - _SYSTEMIC_DROP_M]), TRUNK_NODE_RESERVOIR,
                 mmhg_to_pa(flow.systemic_venous_pressure_mmHg))
    for feeder in feeders:
        if feeder is not None:
            builder.node(feeder[0], feeder[1], TRUNK_NODE_RESERVOIR, p_art)
    trunk = builder.build(min_length_diameters)
    names = trunk.node_names
    return TrunkLayout(
        trunk=trunk,
        root_art=np.array([names.index(f"A{k}_end") for k in range(1, 9)], np.int64),
        root_por=np.array([names.index(f"P{k}_end") for k in range(1, 9)], np.int64),
        feeder_node=np.array([-1 if f is None else names.index(f[0]) for f in feeders], np.int64),
        segmental_edge_art=np.array([trunk.edge_index(f"A{k}") for k in range(1, 9)], np.int64),
        segmental_edge_por=np.array([trunk.edge_index(f"P{k}") for k in range(1, 9)], np.int64))
