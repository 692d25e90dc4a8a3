"""Slow, obviously correct versions of the flow physics, for tests to compare against.

Nothing here is vectorised or clever: one Python statement per formula, one
loop iteration per edge.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np


def pries_relative_viscosity(d_um: float, h: float) -> float:
    """Pries et al. 1994 in vivo law, term by term as printed in REFERENCES.md section 2."""
    eta45 = 6 * math.exp(-0.085 * d_um) + 3.2 - 2.44 * math.exp(-0.06 * d_um ** 0.645)
    c = (0.8 + math.exp(-0.075 * d_um)) * (-1 + 1 / (1 + 1e-11 * d_um ** 12)) + 1 / (1 + 1e-11 * d_um ** 12)
    ratio = ((1 - h) ** c - 1) / ((1 - 0.45) ** c - 1)
    return (1 + (eta45 - 1) * ratio * (d_um / (d_um - 1.1)) ** 2) * (d_um / (d_um - 1.1)) ** 2


def dense_solve(n_nodes: int, edges, conductance, fixed_pressure, inflow=None):
    """Kirchhoff's law with a dense matrix, one loop iteration per edge; every node must be solvable.

    Returns (pressure (N,), flow (E,)).
    """
    inflow = np.zeros(n_nodes) if inflow is None else inflow
    a = np.zeros((n_nodes, n_nodes))
    b = np.zeros(n_nodes)
    for (u, v), g in zip(edges, conductance):
        a[u, u] += g
        a[v, v] += g
        a[u, v] -= g
        a[v, u] -= g
    for n in range(n_nodes):
        if math.isfinite(fixed_pressure[n]):
            a[n, :] = 0.0
            a[n, n] = 1.0
            b[n] = fixed_pressure[n]
        else:
            b[n] = inflow[n]
    p = np.linalg.solve(a, b)
    flow = np.array([g * (p[u] - p[v]) for (u, v), g in zip(edges, conductance)])
    return p, flow


def kcl_residual(n_nodes: int, edges, flow: np.ndarray, inflow: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Mass balance error at every free node, relative to the flow through it.

    |inflow + sum in - sum out| / max(sum of |flows| at the node, 1e-6 max |flow|): the
    floor keeps dead ends, whose only flow is rounding noise, from dividing by ~0.
    """
    net = inflow.astype(float).copy()
    through = np.abs(inflow).astype(float)
    for (u, v), q in zip(edges, flow):
        net[u] -= q
        net[v] += q
        through[u] += abs(q)
        through[v] += abs(q)
    free = ~np.isfinite(fixed)
    floor = 1e-6 * np.abs(flow).max()
    return np.where(free, np.abs(net) / np.maximum(through, floor), 0.0)


def liver_graph(liver, conductances, *, q_art_in=None, q_trunk_in=None) -> nx.DiGraph:
    """A compiled liver as a networkx DiGraph with a ``conductance`` on every edge.

    Node keys (those of ``sim.anatomy.graph.to_graph``): trunk node names, ``a{i}``
    and ``p{i}`` for non-root pedicle nodes (a root is its trunk nodes), ``c{k}``
    for compartments, ``hepatic_veins`` for the ground. Pressures are absolute.
    """
    trunk, forest, comps = liver.trunk, liver.forest, liver.compartments
    g = nx.DiGraph()
    for n, name in enumerate(trunk.node_names):
        g.add_node(name)
        if math.isfinite(trunk.node_pressure_pa[n]):
            g.nodes[name]["pressure_pa"] = float(trunk.node_pressure_pa[n])
        elif q_trunk_in is not None and q_trunk_in[n] != 0:
            g.nodes[name]["inflow_m3s"] = float(q_trunk_in[n])
    g.add_node("hepatic_veins", pressure_pa=float(liver.hepatic_vein_pressure_pa))
    for e, (a, b) in enumerate(trunk.edge_conns):
        g.add_edge(trunk.node_names[a], trunk.node_names[b], conductance=float(conductances.trunk[e]))
    art, por = {}, {}
    for s, r in enumerate(forest.root_nodes):
        art[int(r)] = trunk.node_names[forest.root_trunk_art[s]]
        por[int(r)] = trunk.node_names[forest.root_trunk_por[s]]
    for i in range(forest.n_nodes):
        p = int(forest.parent[i])
        if p < 0:
            continue
        art[i], por[i] = f"a{i}", f"p{i}"
        g.add_edge(art[p], art[i], conductance=float(conductances.art[i]))
        g.add_edge(por[p], por[i], conductance=float(conductances.por[i]))
        if q_art_in is not None and q_art_in[i] != 0:
            g.nodes[art[i]]["inflow_m3s"] = float(q_art_in[i])
    for k in range(comps.n):
        i = int(comps.node[k])
        g.add_edge(art[i], f"c{k}", conductance=float(conductances.comp_art[k]))
        g.add_edge(por[i], f"c{k}", conductance=float(conductances.comp_por[k]))
        g.add_edge(f"c{k}", "hepatic_veins", conductance=float(conductances.comp_hv[k]))
        if comps.extra_trunk_node[k] >= 0:
            g.add_edge(trunk.node_names[comps.extra_trunk_node[k]], f"c{k}",
                       conductance=float(conductances.comp_extra[k]))
    return g
