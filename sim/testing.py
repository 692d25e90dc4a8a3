"""Random pedicle livers for tests and benchmarks.

:func:`random_liver` builds a valid :class:`~sim.network.CompiledLiver` of any
size (1e3 to 1e6 terminals in seconds) without the anatomy module: a textbook
trunk (coeliac, CHA, GDA with its lumped bed, PHA, RHA, LHA, A1-A8; MPV, RPV,
LPV, P1-P8), optionally a collateral that closes a cycle and an extrahepatic
reservoir, and one random binary pedicle subtree per segment. Radii follow
Murray's law from each vessel's baseline flow, r ~ Q^(1/g) (g from the scenario for
arteries, 3 for portal veins), scaled so that the
proper hepatic artery is 4.5 mm and the main portal vein 12 mm wide; lengths
are 6 radii (x 0.75-1.25). Compartment demands follow the scenario's
``[flow]`` targets (total flow, normal arterial fraction) and first tumour
(arterial fraction, vascularity, extrahepatic share). Positions are not
meaningful (zeros).

Examples
--------
>>> from sim.testing import random_liver
>>> liver = random_liver(1000, rng=0)
>>> liver.compiled.compartments.n >= 1000
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels.treewalk import subtree_sums
from .network import (
    EDGE_ARTERY,
    EDGE_LUMPED,
    EDGE_PORTAL,
    TRUNK_NODE_ARTERY,
    TRUNK_NODE_PORTAL,
    TRUNK_NODE_RESERVOIR,
    Compartments,
    CompiledLiver,
    PedicleForest,
    TissuePoints,
    Trunk,
)
from .scenario import SEGMENTS, Scenario
from .units import ML_MIN_M3S, MM_M, MMHG_PA

__all__ = ["SyntheticLiver", "random_liver"]

#: Proper hepatic artery radius, m (4.5 mm wide; [TextbookAnatomy], unverified).
PHA_RADIUS_M = 2.25e-3
#: Main portal vein radius, m (model assumption for test livers: 12 mm wide).
MPV_RADIUS_M = 6.0e-3
#: Branching exponent of the portal subtrees ([Murray1926] cube law; [Jessen2023]: 2.0-3.0 against a portal cast).
PORTAL_MURRAY_EXPONENT = 3.0
#: Vessel length per radius in the synthetic subtrees ([Debbaut2014]: 74.4 mm / 13.2 mm to 0.74 mm / 0.08 mm, 5.6-9).
LENGTH_PER_RADIUS = 6.0
#: GDA flow relative to the hepatic arterial flow (model assumption for test livers).
GDA_FLOW_RATIO = 0.25
#: Share of the hepatic arterial flow feeding peribiliary plexus compartments (model assumption).
PERIBILIARY_SHARE = 0.02
#: Trunk vessel lengths, mm (model assumption, textbook order of magnitude).
_TRUNK_LENGTH_MM = {"coeliac": 15.0, "CHA": 30.0, "GDA": 40.0, "PHA": 30.0, "RHA": 25.0, "LHA": 30.0,
                    "MPV": 60.0, "RPV": 20.0, "LPV": 30.0, "collateral": 40.0, "segmental": 20.0}
_LEFT = ("I", "II", "III", "IV")


@dataclass(frozen=True)
class SyntheticLiver:
    """A compiled liver with the scenario it was made for (what :func:`sim.solve_flow` accepts as a liver)."""

    compiled: CompiledLiver
    scenario: Scenario


def _random_forest(counts: np.ndarray, rng: np.random.Generator):
    """Random full binary subtrees with ``counts[s]`` leaves each, concatenated in preorder.

    Returns parent, depth, leaf count and first leaf (global leaf index) of every node.
    """
    sizes = 2 * counts - 1
    m = int(sizes.sum())
    parent = np.full(m, -1, np.int64)
    depth = np.zeros(m, np.int64)
    leaves = np.zeros(m, np.int64)
    first = np.zeros(m, np.int64)
    pos = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    k = counts.astype(np.int64)
    fl = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    leaves[pos], first[pos] = k, fl
    level = 0
    while True:
        split = k > 1
        if not split.any():
            break
        pos, k, fl = pos[split], k[split], fl[split]
        kl = np.clip(np.rint(rng.uniform(0.25, 0.75, k.size) * k).astype(np.int64), 1, k - 1)
        level += 1
        pos, k, fl, par = (np.concatenate([pos + 1, pos + 2 * kl]), np.concatenate([kl, k - kl]),
                           np.concatenate([fl, fl + kl]), np.concatenate([pos, pos]))
        parent[pos], depth[pos], leaves[pos], first[pos] = par, level, k, fl
    return parent, depth, leaves, first


def _segment_counts(n_terminals: int, fractions: np.ndarray) -> np.ndarray:
    """One leaf per segment, the rest by volume fraction: exactly ``n_terminals`` in all."""
    counts = 1 + np.floor((n_terminals - fractions.size) * fractions).astype(np.int64)
    counts[np.argmax(fractions)] += n_terminals - int(counts.sum())
    return counts


def random_liver(n_terminals: int, *, scenario: Scenario | None = None, rng=None, peribiliary_fraction: float = 0.1,
                 tumour: bool = True, extrahepatic: bool = False, collateral: bool = False) -> SyntheticLiver:
    """A random pedicle liver with ``n_terminals`` tissue compartments (leaves).

    Parameters
    ----------
    n_terminals : int
        Number of leaves (tissue compartments), >= 8; each segment gets one and
        a share of the rest by ``scenario.liver.segment_fractions``. Pedicle nodes M = 2 n - 8, vessel
        segments about 2 M (arterial + portal).
    scenario : Scenario, optional
        Boundary pressures, flow targets, liver mass and the first tumour; the
        default scenario when omitted.
    rng : None, int or numpy.random.Generator
        Seed or generator (SPEC 7).
    peribiliary_fraction : float, optional
        Fraction of internal pedicle nodes carrying a peribiliary compartment.
    tumour : bool, optional
        Place the scenario's first tumour: about 20% of its segment's leaves.
    extrahepatic : bool, optional
        Give the tumour an extrahepatic feeder from a reservoir at arterial
        pressure (share ``tumours[0].extrahepatic.arterial_fraction`` or 0.2).
    collateral : bool, optional
        Join RHA and LHA ends by a collateral artery (a cycle in the trunk).

    Returns
    -------
    SyntheticLiver
    """
    if n_terminals < len(SEGMENTS):
        raise ValueError(f"n_terminals must be >= {len(SEGMENTS)} (one leaf per segment), got {n_terminals}")
    scenario = Scenario() if scenario is None else scenario
    rng = np.random.default_rng(rng)
    flow = scenario.flow
    fractions = np.array([scenario.liver.segment_fractions[s] for s in SEGMENTS])
    counts = _segment_counts(n_terminals, fractions)
    parent, depth, leaves, first = _random_forest(counts, rng)
    m = parent.size
    n_leaf = int(counts.sum())
    roots = np.flatnonzero(parent < 0)
    seg_of_node = np.repeat(np.arange(len(SEGMENTS)), 2 * counts - 1).astype(np.int8)
    leaf_nodes = np.flatnonzero(leaves == 1)  # preorder = leaf order
    # tissue volumes, tumour territory
    weight = rng.lognormal(0.0, 0.3, n_leaf)
    volume = weight / weight.sum() * scenario.liver.mass_kg * 1e-3  # 1.0 kg/L ([ICRP89])
    tumour_id = np.full(n_leaf, -1, np.int64)
    t_cfg = scenario.tumours[0] if scenario.tumours else None
    if tumour and t_cfg is not None:
        seg = SEGMENTS.index(t_cfg.segment or "V")
        cand = np.flatnonzero((seg_of_node == seg) & (leaves > 1))
        if cand.size:
            node = cand[np.argmin(np.abs(leaves[cand] - 0.2 * counts[seg]))]
            tumour_id[first[node]:first[node] + leaves[node]] = 0
    is_t = tumour_id >= 0
    vasc = t_cfg.vascularity if t_cfg is not None else 1.0
    q_total = flow.total_flow_ml_min_kg * flow.body_mass_kg * ML_MIN_M3S
    internal = np.flatnonzero(leaves > 1)
    peri_nodes = np.sort(rng.choice(internal, int(round(peribiliary_fraction * internal.size)), replace=False))
    n_peri = peri_nodes.size
    q_peri = PERIBILIARY_SHARE * flow.normal_arterial_fraction * q_total if n_peri else 0.0
    # peribiliary flow drains into the portal tree and reaches the tissue again: tissue inflow = hepatic inflow
    density = q_total / (volume[~is_t].sum() + vasc * volume[is_t].sum())
    q_leaf = density * volume * np.where(is_t, vasc, 1.0)
    art_frac = np.where(is_t, t_cfg.arterial_fraction if t_cfg is not None else 0.0, flow.normal_arterial_fraction)
    qa, qp = q_leaf * art_frac, q_leaf * (1 - art_frac)
    qe = np.zeros(n_leaf)
    if extrahepatic and is_t.any():
        share = t_cfg.extrahepatic.arterial_fraction if t_cfg.extrahepatic is not None else 0.2
        qe[is_t] = share * qa[is_t]
        qa = qa - qe
    qa_peri = np.full(n_peri, q_peri / max(n_peri, 1))
    # vessel flows -> Murray radii
    art_draw = np.zeros(m)
    por_draw = np.zeros(m)
    art_draw[leaf_nodes] += qa  # the extrahepatic share does not pass through the hepatic arteries
    por_draw[leaf_nodes] += qp
    np.add.at(art_draw, peri_nodes, qa_peri)
    q_art, q_por = np.empty(m), np.empty(m)
    subtree_sums(parent, art_draw, q_art)
    subtree_sums(parent, por_draw, q_por)
    g_exp = scenario.liver.murray_exponent
    qa_tot, qp_tot = q_art[roots].sum(), q_por[roots].sum()
    floor = 1e-3 * qp_tot / n_leaf  # a portal venule even where the tumour takes no portal flow

    def r_art(q):
        return PHA_RADIUS_M * (np.asarray(q) / qa_tot) ** (1.0 / g_exp)

    def r_por(q):
        return MPV_RADIUS_M * (np.maximum(np.asarray(q), floor) / qp_tot) ** (1.0 / PORTAL_MURRAY_EXPONENT)

    art_r, por_r = r_art(q_art), r_por(q_por)
    length = LENGTH_PER_RADIUS * art_r * rng.uniform(0.75, 1.25, m)
    nan_roots = np.where(parent < 0, np.nan, 1.0)
    trunk = _trunk(scenario, q_art[roots], q_por[roots], r_art, r_por, extrahepatic, collateral)
    root_art = np.array([trunk.node_index(f"A{k}_end") for k in range(1, 9)], np.int64)
    root_por = np.array([trunk.node_index(f"P{k}_end") for k in range(1, 9)], np.int64)
    forest = PedicleForest(
        parent=parent, root_nodes=roots, root_trunk_art=root_art, root_trunk_por=root_por, xyz=np.zeros((m, 3)),
        segment=seg_of_node, generation=(depth + 3).astype(np.int16), art_radius_m=art_r * nan_roots,
        art_length_m=length * nan_roots, por_radius_m=por_r * nan_roots, por_length_m=length * nan_roots)
    extra_node = trunk.node_index("phrenic_origin") if extrahepatic else -1
    c_node = np.concatenate([leaf_nodes, peri_nodes]).astype(np.int64)
    zeros_p = np.zeros(n_peri)
    compartments = Compartments(
        node=c_node, kind=np.concatenate([np.zeros(n_leaf), np.ones(n_peri)]).astype(np.int8),
        volume_m3=np.concatenate([volume, zeros_p]),
        tumour_volume_m3=np.concatenate([np.where(is_t, volume, 0.0), zeros_p]),
        necrotic_volume_m3=np.zeros(n_leaf + n_peri), tumour_id=np.concatenate([tumour_id, np.full(n_peri, -1)]),
        demand_art_m3s=np.concatenate([qa, qa_peri]), demand_por_m3s=np.concatenate([qp, zeros_p]),
        demand_extra_m3s=np.concatenate([qe, zeros_p]),
        extra_trunk_node=np.where(np.concatenate([qe, zeros_p]) > 0, extra_node, -1).astype(np.int64))
    points = TissuePoints(xyz=np.zeros((n_leaf, 3)), segment=seg_of_node[leaf_nodes],
                          compartment=np.arange(n_leaf, dtype=np.int64), tumour_id=tumour_id,
                          volume_m3=float(volume.mean()))
    compiled = CompiledLiver(trunk=trunk, forest=forest, compartments=compartments, points=points,
                             hepatic_vein_pressure_pa=flow.hepatic_vein_pressure_mmHg * MMHG_PA)
    return SyntheticLiver(compiled=compiled, scenario=scenario)


def _trunk(scenario: Scenario, q_seg_art, q_seg_por, r_art, r_por, extrahepatic: bool, collateral: bool) -> Trunk:
    """The textbook trunk: radii by Murray's law from the flows it carries to the segments."""
    flow = scenario.flow
    nodes: dict[str, tuple[int, float]] = {}

    def node(name, kind, pressure_mmhg=np.nan):
        nodes.setdefault(name, (kind, pressure_mmhg * MMHG_PA))
        return name

    edges = []

    def edge(name, a, b, kind, q, generation, demand=np.nan):
        radius = np.nan if kind == EDGE_LUMPED else float(r_art(q) if kind == EDGE_ARTERY else r_por(q))
        length = np.nan if kind == EDGE_LUMPED else _TRUNK_LENGTH_MM.get(name, _TRUNK_LENGTH_MM["segmental"]) * MM_M
        edges.append((name, a, b, kind, radius, length, generation, demand))

    left = np.array([s in _LEFT for s in SEGMENTS])
    qa_l, qa_r = q_seg_art[left].sum(), q_seg_art[~left].sum()
    qa_hep = qa_l + qa_r
    q_gda = GDA_FLOW_RATIO * qa_hep
    node("coeliac_origin", TRUNK_NODE_ARTERY, flow.arterial_pressure_mmHg)
    node("MPV_inlet", TRUNK_NODE_PORTAL, flow.portal_pressure_mmHg)
    node("systemic_veins", TRUNK_NODE_RESERVOIR, flow.systemic_venous_pressure_mmHg)
    edge("coeliac", "coeliac_origin", node("coeliac_end", TRUNK_NODE_ARTERY), EDGE_ARTERY, qa_hep + q_gda, -1)
    edge("CHA", "coeliac_end", node("CHA_end", TRUNK_NODE_ARTERY), EDGE_ARTERY, qa_hep + q_gda, -1)
    edge("GDA", "CHA_end", node("GDA_end", TRUNK_NODE_ARTERY), EDGE_ARTERY, q_gda, -1)
    edge("GDA_bed", "GDA_end", "systemic_veins", EDGE_LUMPED, q_gda, -1, demand=q_gda)
    edge("PHA", "CHA_end", node("PHA_end", TRUNK_NODE_ARTERY), EDGE_ARTERY, qa_hep, 0)
    edge("RHA", "PHA_end", node("RHA_end", TRUNK_NODE_ARTERY), EDGE_ARTERY, qa_r, 1)
    edge("LHA", "PHA_end", node("LHA_end", TRUNK_NODE_ARTERY), EDGE_ARTERY, qa_l, 1)
    qp_l, qp_r = q_seg_por[left].sum(), q_seg_por[~left].sum()
    edge("MPV", "MPV_inlet", node("MPV_end", TRUNK_NODE_PORTAL), EDGE_PORTAL, qp_l + qp_r, 0)
    edge("RPV", "MPV_end", node("RPV_end", TRUNK_NODE_PORTAL), EDGE_PORTAL, qp_r, 1)
    edge("LPV", "MPV_end", node("LPV_end", TRUNK_NODE_PORTAL), EDGE_PORTAL, qp_l, 1)
    for k in range(len(SEGMENTS)):
        side = "L" if left[k] else "R"
        edge(f"A{k + 1}", f"{side}HA_end", node(f"A{k + 1}_end", TRUNK_NODE_ARTERY), EDGE_ARTERY, q_seg_art[k], 2)
        edge(f"P{k + 1}", f"{side}PV_end", node(f"P{k + 1}_end", TRUNK_NODE_PORTAL), EDGE_PORTAL, q_seg_por[k], 2)
    if collateral:
        edge("collateral", "RHA_end", "LHA_end", EDGE_ARTERY, 0.02 * qa_hep, 2)
    if extrahepatic:
        node("phrenic_origin", TRUNK_NODE_RESERVOIR, flow.arterial_pressure_mmHg)
    names = tuple(nodes)
    index = {n: i for i, n in enumerate(names)}
    cols = list(zip(*edges))
    return Trunk(
        node_names=names, node_xyz=np.zeros((len(names), 3)),
        node_kind=np.array([nodes[n][0] for n in names], np.int8),
        node_pressure_pa=np.array([nodes[n][1] for n in names]),
        edge_conns=np.array([[index[a], index[b]] for a, b in zip(cols[1], cols[2])], np.int64),
        edge_names=tuple(cols[0]), edge_kind=np.array(cols[3], np.int8), edge_radius_m=np.array(cols[4]),
        edge_length_m=np.array(cols[5]), edge_generation=np.array(cols[6], np.int16),
        edge_demand_m3s=np.array(cols[7]))
