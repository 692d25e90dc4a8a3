"""The liver as a networkx DiGraph, both ways, in O(N); GraphML export.

Schema (all SI; attributes that would be NaN are omitted)
----------------------------------------------------------
Nodes:

* trunk nodes by name (``"coeliac_origin"``, ``"PHA_end"``, ``"A5_end"``,
  ``"MPV_inlet"``, ``"systemic_veins"``, ``"extrahepatic_<tumour>"``); a segment's
  pedicle root *is* its trunk nodes ``"A<k>_end"`` / ``"P<k>_end"``, which carry
  ``pedicle`` (the root's pedicle index) and ``segment``;
* pedicle node ``i`` (not a root): arterial ``"a{i}"`` and portal ``"p{i}"``;
* compartment ``k``: ``"c{k}"``;
* the hepatic veins (ground): ``"hepatic_veins"``.

Node attributes: ``kind`` ('artery', 'portal', 'reservoir', 'compartment',
'hepatic_veins'), ``x_m``, ``y_m``, ``z_m``, ``segment`` ('I'..'VIII', where
defined), ``pressure_pa`` on boundary nodes (absolute Dirichlet pressure, Pa,
``hepatic_veins`` included). Compartments also carry ``compartment_kind``
('tissue' or 'peribiliary'), ``volume_m3``, ``tumour_volume_m3``,
``necrotic_volume_m3``, ``tumour_id``, ``demand_art_m3s``, ``demand_por_m3s``,
``demand_extra_m3s``.

Edges, each directed along its baseline flow: ``kind`` 'artery' / 'portal'
(Poiseuille vessels, with ``radius_m``, ``length_m``, ``generation``, ``name`` for
named vessels, ``segment`` where defined), 'lumped' (non-target bed, with
``name`` and ``demand_m3s``), 'terminal_artery' (a_n -> c_k), 'terminal_portal'
(p_n -> c_k), 'outflow' (tissue c_k -> hepatic_veins; peribiliary c_k -> p_n),
'extrahepatic' (feeder reservoir -> c_k). Terminal, outflow and extrahepatic edges
carry ``demand_m3s`` (the baseline flow they are calibrated to). With
``conductances`` every edge also carries ``conductance`` (m^3/(s Pa)).

Graph attributes: ``hepatic_vein_pressure_pa``, ``coordinates``, and
``tissue_points`` (the :class:`sim.network.TissuePoints` object, kept by reference
and left out of GraphML).
"""

from __future__ import annotations

import gc
import math
from contextlib import contextmanager
from pathlib import Path

import networkx as nx
import numpy as np

from ..network import (
    EDGE_ARTERY,
    EDGE_LUMPED,
    EDGE_PORTAL,
    TRUNK_NODE_ARTERY,
    TRUNK_NODE_PORTAL,
    TRUNK_NODE_RESERVOIR,
    Compartments,
    CompiledLiver,
    Conductances,
    PedicleForest,
    TissuePoints,
    Trunk,
)
from ..scenario import SEGMENTS

__all__ = ["to_graph", "from_graph", "write_graphml", "HEPATIC_VEINS"]

#: Key of the hepatic-vein ground node.
HEPATIC_VEINS = "hepatic_veins"
_NODE_KIND = {TRUNK_NODE_ARTERY: "artery", TRUNK_NODE_PORTAL: "portal", TRUNK_NODE_RESERVOIR: "reservoir"}
_EDGE_KIND = {EDGE_ARTERY: "artery", EDGE_PORTAL: "portal", EDGE_LUMPED: "lumped"}
_COMPARTMENT_KIND = ("tissue", "peribiliary")
_COORDINATES = "liver coordinates, m: x to the patient's left, y posterior, z cranial (see sim.anatomy.domain)"


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while millions of acyclic attribute dicts are made.

    Its generation-0 passes otherwise rescan the growing graph over and over (about 1.5x
    slower at 1e5 terminals); nothing built here forms reference cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _xyz(xyz) -> dict:
    return {"x_m": xyz[0], "y_m": xyz[1], "z_m": xyz[2]}


def _finite(**attrs) -> dict:
    """The attributes that are not NaN."""
    return {k: v for k, v in attrs.items() if not (isinstance(v, float) and math.isnan(v))}


def _pedicle_keys(compiled: CompiledLiver) -> tuple[list[str], list[str]]:
    """Graph key of the arterial and portal node of every pedicle node (roots: their trunk nodes)."""
    forest, names = compiled.forest, compiled.trunk.node_names
    art = [f"a{i}" for i in range(forest.n_nodes)]
    por = [f"p{i}" for i in range(forest.n_nodes)]
    for s, r in enumerate(forest.root_nodes.tolist()):
        art[r] = names[forest.root_trunk_art[s]]
        por[r] = names[forest.root_trunk_por[s]]
    return art, por


def to_graph(compiled: CompiledLiver, conductances: Conductances | None = None) -> nx.DiGraph:
    """The compiled liver as a networkx DiGraph (schema in the module docstring).

    Parameters
    ----------
    compiled : CompiledLiver
    conductances : Conductances, optional
        If given, every edge gets ``conductance`` (m^3/(s Pa)).

    Returns
    -------
    networkx.DiGraph
        O(N) nodes and edges; :func:`from_graph` gives the arrays back exactly.
    """
    with _gc_paused():
        return _to_graph(compiled, conductances)


def _to_graph(compiled: CompiledLiver, conductances: Conductances | None) -> nx.DiGraph:
    trunk, forest, comp = compiled.trunk, compiled.forest, compiled.compartments
    G = nx.DiGraph(hepatic_vein_pressure_pa=float(compiled.hepatic_vein_pressure_pa), coordinates=_COORDINATES,
                   tissue_points=compiled.points)
    art_key, por_key = _pedicle_keys(compiled)
    seg_name = [SEGMENTS[s] for s in forest.segment.tolist()]
    xyz = forest.xyz.tolist()
    root_of = {}
    for s, r in enumerate(forest.root_nodes.tolist()):
        root_of[int(forest.root_trunk_art[s])] = r
        root_of[int(forest.root_trunk_por[s])] = r

    txyz, tp = trunk.node_xyz.tolist(), trunk.node_pressure_pa.tolist()
    for i, (name, kind) in enumerate(zip(trunk.node_names, trunk.node_kind.tolist())):
        attrs = _finite(kind=_NODE_KIND[kind], **_xyz(txyz[i]), pressure_pa=tp[i])
        if i in root_of:
            attrs.update(pedicle=root_of[i], segment=seg_name[root_of[i]])
        G.add_node(name, **attrs)
    is_root = forest.parent < 0
    G.add_nodes_from((art_key[i], {"kind": "artery", **_xyz(xyz[i]), "segment": seg_name[i]})
                     for i in np.flatnonzero(~is_root).tolist())
    G.add_nodes_from((por_key[i], {"kind": "portal", **_xyz(xyz[i]), "segment": seg_name[i]})
                     for i in np.flatnonzero(~is_root).tolist())
    cnode, ckind = comp.node.tolist(), comp.kind.tolist()
    cols = {name: getattr(comp, name).tolist() for name in ("volume_m3", "tumour_volume_m3", "necrotic_volume_m3",
                                                             "tumour_id", "demand_art_m3s", "demand_por_m3s",
                                                             "demand_extra_m3s")}
    G.add_nodes_from((f"c{k}", {"kind": "compartment", "compartment_kind": _COMPARTMENT_KIND[ckind[k]],
                                **_xyz(xyz[n]), "segment": seg_name[n], **{c: v[k] for c, v in cols.items()}})
                     for k, n in enumerate(cnode))
    G.add_node(HEPATIC_VEINS, kind="hepatic_veins", pressure_pa=float(compiled.hepatic_vein_pressure_pa))

    _add_trunk_edges(G, trunk, root_of, seg_name, conductances)
    _add_pedicle_edges(G, forest, art_key, por_key, seg_name, conductances)
    _add_compartment_edges(G, comp, art_key, por_key, trunk.node_names, conductances)
    return G


def _add_trunk_edges(G, trunk: Trunk, root_of: dict, seg_name: list, conductances) -> None:
    names = trunk.node_names
    cols = [trunk.edge_conns.tolist(), trunk.edge_names, trunk.edge_kind.tolist(), trunk.edge_radius_m.tolist(),
            trunk.edge_length_m.tolist(), trunk.edge_generation.tolist(), trunk.edge_demand_m3s.tolist()]
    for e, ((u, v), name, kind, r, length, gen, q) in enumerate(zip(*cols)):
        attrs = _finite(kind=_EDGE_KIND[kind], name=name, radius_m=r, length_m=length, generation=gen,
                        demand_m3s=q)
        if v in root_of:
            attrs["segment"] = seg_name[root_of[v]]
        if conductances is not None:
            attrs["conductance"] = float(conductances.trunk[e])
        G.add_edge(names[u], names[v], **attrs)


def _add_pedicle_edges(G, forest: PedicleForest, art_key, por_key, seg_name, conductances) -> None:
    parent, gen = forest.parent.tolist(), forest.generation.tolist()
    for tree, keys, radius, length, cond in (
            ("artery", art_key, forest.art_radius_m, forest.art_length_m, None if conductances is None
             else conductances.art),
            ("portal", por_key, forest.por_radius_m, forest.por_length_m, None if conductances is None
             else conductances.por)):
        r, ln = radius.tolist(), length.tolist()
        g_ = cond.tolist() if cond is not None else None
        G.add_edges_from(
            (keys[parent[i]], keys[i], {"kind": tree, "radius_m": r[i], "length_m": ln[i], "generation": gen[i],
                                        "segment": seg_name[i], **({} if g_ is None else {"conductance": g_[i]})})
            for i in range(len(parent)) if parent[i] >= 0)


def _add_compartment_edges(G, comp: Compartments, art_key, por_key, trunk_names, conductances) -> None:
    node, kind, extra = comp.node.tolist(), comp.kind.tolist(), comp.extra_trunk_node.tolist()
    qa, qp, qx = comp.demand_art_m3s.tolist(), comp.demand_por_m3s.tolist(), comp.demand_extra_m3s.tolist()
    c = None if conductances is None else {k: getattr(conductances, k).tolist()
                                           for k in ("comp_art", "comp_por", "comp_hv", "comp_extra")}

    def attrs(k, edge_kind, demand, cond_name):
        out = {"kind": edge_kind, "demand_m3s": demand}
        if c is not None:
            out["conductance"] = c[cond_name][k]
        return out

    edges = []
    for k, n in enumerate(node):
        ck = f"c{k}"
        edges.append((art_key[n], ck, attrs(k, "terminal_artery", qa[k], "comp_art")))
        if kind[k] == 0:
            edges.append((por_key[n], ck, attrs(k, "terminal_portal", qp[k], "comp_por")))
            edges.append((ck, HEPATIC_VEINS, attrs(k, "outflow", qa[k] + qp[k] + qx[k], "comp_hv")))
        else:
            edges.append((ck, por_key[n], attrs(k, "outflow", qa[k], "comp_por")))
        if extra[k] >= 0:
            edges.append((trunk_names[extra[k]], ck, attrs(k, "extrahepatic", qx[k], "comp_extra")))
    G.add_edges_from(edges)


def _pedicle_index(key: str) -> int:
    """i of ``"a{i}"`` / ``"p{i}"``, -1 for other keys."""
    return int(key[1:]) if len(key) > 1 and key[0] in "ap" and key[1:].isdigit() else -1


def _compartment_index(key: str) -> int:
    return int(key[1:]) if len(key) > 1 and key[0] == "c" and key[1:].isdigit() else -1


def from_graph(G: nx.DiGraph) -> CompiledLiver:
    """The compiled arrays of a liver graph (the inverse of :func:`to_graph`), in O(N).

    Trunk nodes and edges keep the graph's order; pedicle nodes and compartments are
    numbered by their keys. The tissue points come from ``G.graph["tissue_points"]``
    (empty if absent, e.g. after GraphML).

    Parameters
    ----------
    G : networkx.DiGraph
        A graph with the schema of this module.

    Returns
    -------
    CompiledLiver

    Raises
    ------
    ValueError
        If a node or edge lacks a required attribute.
    """
    with _gc_paused():
        return _from_graph(G)


def _from_graph(G: nx.DiGraph) -> CompiledLiver:
    trunk_names, trunk_nodes, root_attr = [], [], {}
    ped, comp = {}, {}
    for key, d in G.nodes(data=True):
        if key == HEPATIC_VEINS:
            continue
        if _pedicle_index(key) >= 0:
            ped[key] = d
        elif _compartment_index(key) >= 0:
            comp[_compartment_index(key)] = d
        else:
            trunk_names.append(key)
            trunk_nodes.append(d)
            if "pedicle" in d:
                root_attr[key] = d
    trunk_index = {n: i for i, n in enumerate(trunk_names)}

    def pedicle_of(key: str) -> int:
        i = _pedicle_index(key)
        return i if i >= 0 else int(root_attr[key]["pedicle"])

    trunk_edges, art_in, por_in, comp_art_src, comp_extra_src = [], {}, {}, {}, {}
    for u, v, d in G.edges(data=True):
        kind = d.get("kind")
        if kind in ("artery", "portal") and _pedicle_index(v) >= 0:
            (art_in if kind == "artery" else por_in)[_pedicle_index(v)] = (pedicle_of(u), d)
        elif kind in ("artery", "portal", "lumped"):
            trunk_edges.append((u, v, d))
        elif kind == "terminal_artery":
            comp_art_src[_compartment_index(v)] = pedicle_of(u)
        elif kind == "extrahepatic":
            comp_extra_src[_compartment_index(v)] = trunk_index[u]

    trunk = _trunk_from(trunk_names, trunk_nodes, trunk_edges, trunk_index)
    forest = _forest_from(G, ped, art_in, por_in, root_attr, trunk, trunk_index)
    compartments = _compartments_from(comp, comp_art_src, comp_extra_src)
    points = G.graph.get("tissue_points") or TissuePoints(
        xyz=np.zeros((0, 3)), segment=np.zeros(0, np.int8), compartment=np.zeros(0, np.int64),
        tumour_id=np.zeros(0, np.int64), volume_m3=0.0)
    return CompiledLiver(trunk=trunk, forest=forest, compartments=compartments, points=points,
                         hepatic_vein_pressure_pa=float(G.nodes[HEPATIC_VEINS]["pressure_pa"]))


def _require(d: dict, key: str, where: str):
    try:
        return d[key]
    except KeyError:
        raise ValueError(f"{where} has no {key!r} attribute") from None


def _trunk_from(names, nodes, edges, index) -> Trunk:
    node_kind = {v: k for k, v in _NODE_KIND.items()}
    edge_kind = {v: k for k, v in _EDGE_KIND.items()}
    nan = math.nan
    return Trunk(
        node_names=tuple(names),
        node_xyz=np.array([[d.get("x_m", nan), d.get("y_m", nan), d.get("z_m", nan)] for d in nodes]).reshape(-1, 3),
        node_kind=np.array([node_kind[_require(d, "kind", f"node {n!r}")] for n, d in zip(names, nodes)], np.int8),
        node_pressure_pa=np.array([d.get("pressure_pa", nan) for d in nodes], float),
        edge_conns=np.array([[index[u], index[v]] for u, v, _ in edges], np.int64).reshape(-1, 2),
        edge_names=tuple(_require(d, "name", f"edge {u}->{v}") for u, v, d in edges),
        edge_kind=np.array([edge_kind[d["kind"]] for _, _, d in edges], np.int8),
        edge_radius_m=np.array([d.get("radius_m", nan) for _, _, d in edges], float),
        edge_length_m=np.array([d.get("length_m", nan) for _, _, d in edges], float),
        edge_generation=np.array([d.get("generation", -1) for _, _, d in edges], np.int16),
        edge_demand_m3s=np.array([d.get("demand_m3s", nan) for _, _, d in edges], float))


def _forest_from(G, ped, art_in, por_in, root_attr, trunk: Trunk, trunk_index) -> PedicleForest:
    roots = sorted({int(d["pedicle"]) for d in root_attr.values()})
    m = max([*art_in, *roots]) + 1 if roots else 0
    parent = np.full(m, -1, np.int64)
    xyz = np.full((m, 3), np.nan)
    segment = np.zeros(m, np.int8)
    generation = np.zeros(m, np.int16)
    geom = np.full((4, m), np.nan)  # art radius, art length, por radius, por length
    seg_index = {s: i for i, s in enumerate(SEGMENTS)}
    for i, (p, d) in art_in.items():
        parent[i] = p
        generation[i] = _require(d, "generation", f"edge into a{i}")
        geom[0, i], geom[1, i] = d["radius_m"], d["length_m"]
        node = ped[f"a{i}"]
        xyz[i] = node["x_m"], node["y_m"], node["z_m"]
        segment[i] = seg_index[node["segment"]]
    for i, (_, d) in por_in.items():
        geom[2, i], geom[3, i] = d["radius_m"], d["length_m"]
    root_art = np.zeros(len(roots), np.int64)
    root_por = np.zeros(len(roots), np.int64)
    slot = {r: s for s, r in enumerate(roots)}
    gen_into = {int(v): g for (_, v), g in zip(trunk.edge_conns.tolist(), trunk.edge_generation.tolist())}
    for name, d in root_attr.items():
        r, t = int(d["pedicle"]), trunk_index[name]
        if d["kind"] == "artery":
            root_art[slot[r]] = t
            xyz[r] = d["x_m"], d["y_m"], d["z_m"]
            segment[r] = seg_index[d["segment"]]
            generation[r] = gen_into[t]
        else:
            root_por[slot[r]] = t
    return PedicleForest(parent=parent, root_nodes=np.array(roots, np.int64), root_trunk_art=root_art,
                         root_trunk_por=root_por, xyz=xyz, segment=segment, generation=generation,
                         art_radius_m=geom[0].copy(), art_length_m=geom[1].copy(), por_radius_m=geom[2].copy(),
                         por_length_m=geom[3].copy())


def _compartments_from(comp: dict, art_src: dict, extra_src: dict) -> Compartments:
    c = len(comp)
    cols = {name: np.array([comp[k][name] for k in range(c)], float) for name in (
        "volume_m3", "tumour_volume_m3", "necrotic_volume_m3", "demand_art_m3s", "demand_por_m3s",
        "demand_extra_m3s")}
    return Compartments(
        node=np.array([art_src[k] for k in range(c)], np.int64),
        kind=np.array([_COMPARTMENT_KIND.index(comp[k]["compartment_kind"]) for k in range(c)], np.int8),
        tumour_id=np.array([comp[k]["tumour_id"] for k in range(c)], np.int64),
        extra_trunk_node=np.array([extra_src.get(k, -1) for k in range(c)], np.int64),
        **cols)


def write_graphml(G: nx.DiGraph, path: str | Path) -> None:
    """Write a liver graph to GraphML (graph attributes that are not scalars are left out).

    Parameters
    ----------
    G : networkx.DiGraph
    path : str or Path
    """
    saved = G.graph
    G.graph = {k: v for k, v in saved.items() if isinstance(v, (str, int, float, bool))}
    try:
        nx.write_graphml(G, str(path))
    finally:
        G.graph = saved
