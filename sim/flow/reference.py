"""Reference flow solver for any network: scipy.sparse Laplacian + direct solve.

This is the general path (graphs that are not pedicle-shaped) and the reference
the O(N) two-port kernel is tested and benchmarked against. Kirchhoff's current
law at every free node of a network of linear conductances,

    sum_j g_ij (p_i - p_j) = q_i,

is a weighted graph Laplacian; nodes with a prescribed pressure move to the
right-hand side. Parts cut off from every pressure boundary by zero-conductance
edges are found by connectivity (``scipy.sparse.csgraph``) and left out of the
system: their pressure is NaN and their flows 0. The diagonal is never padded.

:func:`liver_network` writes a liver's :class:`~sim.kernels.twoport.FlowState`
as such a general network (one node per trunk node, arterial and portal pedicle
node, compartment, and the hepatic-vein ground).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import spsolve

from .errors import FlowInputError

__all__ = ["NetworkSolution", "solve_network", "LiverNetwork", "liver_network"]


@dataclass(frozen=True)
class NetworkSolution:
    """Pressures and flows of a general network.

    Attributes
    ----------
    pressure : ndarray of float64, shape (N,), Pa
        NaN at nodes cut off from every pressure boundary.
    flow : ndarray of float64, shape (E,), m^3/s
        Along ``edge_conns[e, 0] -> edge_conns[e, 1]``.
    isolated : ndarray of bool, shape (N,)
        Nodes cut off from every pressure boundary by zero-conductance edges.
    """

    pressure: np.ndarray
    flow: np.ndarray
    isolated: np.ndarray


def _components(n_nodes: int, conns: np.ndarray) -> np.ndarray:
    adj = sp.coo_matrix((np.ones(conns.shape[0]), (conns[:, 0], conns[:, 1])), shape=(n_nodes, n_nodes))
    return connected_components(adj, directed=False)[1]


def _without_boundary(labels: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Mask of nodes whose component (``labels``) holds no fixed-pressure node."""
    has = np.zeros(labels.max() + 1 if labels.size else 0, bool)
    has[labels[fixed]] = True
    return ~has[labels]


def solve_network(n_nodes: int, edge_conns, conductance, fixed_pressure, inflow=None, *,
                  node_label: Callable[[int], str] = str) -> NetworkSolution:
    """Nodal pressures and edge flows of a network of linear conductances.

    Parameters
    ----------
    n_nodes : int
    edge_conns : array_like of int, shape (E, 2)
        Node indices; flow is positive from column 0 to column 1.
    conductance : array_like of float, shape (E,), m^3/(s Pa)
        >= 0; 0 closes the edge.
    fixed_pressure : array_like of float, shape (N,), Pa
        Dirichlet pressure, NaN at free nodes.
    inflow : array_like of float, shape (N,), m^3/s, optional
        Flow injected at free nodes (Neumann); ignored at fixed nodes.
    node_label : callable, optional
        Index -> name used in error messages.

    Returns
    -------
    NetworkSolution

    Raises
    ------
    FlowInputError
        No pressure boundary; a connected part of the network without one; a
        negative or non-finite conductance; an injection into a part that zero
        conductances cut off from every boundary.

    Examples
    --------
    Two tubes in series between 100 Pa and 0 Pa:

    >>> sol = solve_network(3, [[0, 1], [1, 2]], [1.0, 1.0], [100.0, np.nan, 0.0])
    >>> sol.pressure.tolist(), sol.flow.tolist()
    ([100.0, 50.0, 0.0], [50.0, 50.0])
    """
    conns = np.asarray(edge_conns, dtype=np.int64).reshape(-1, 2)
    g = np.asarray(conductance, dtype=np.float64)
    fixed_p = np.asarray(fixed_pressure, dtype=np.float64)
    q_in = np.zeros(n_nodes) if inflow is None else np.asarray(inflow, dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(g) & (g >= 0)))
    if bad.size:
        u, v = conns[bad[0]]
        raise FlowInputError(f"edge ({node_label(u)}, {node_label(v)}) has conductance {g[bad[0]]:g}; "
                             "allowed: a finite value >= 0 (0 closes the edge)")
    fixed = np.isfinite(fixed_p)
    if not fixed.any():
        raise FlowInputError("the network has no pressure boundary: give at least one node a pressure")
    unbounded = np.flatnonzero(_without_boundary(_components(n_nodes, conns), fixed))
    if unbounded.size:
        names = ", ".join(node_label(n) for n in unbounded[:5])
        raise FlowInputError(f"a connected part of the network has no pressure boundary (nodes {names}"
                             f"{', ...' if unbounded.size > 5 else ''}); give one of its nodes a pressure")
    active = g > 0
    isolated = _without_boundary(_components(n_nodes, conns[active]), fixed)
    lost = np.flatnonzero(isolated & (q_in != 0))
    if lost.size:
        raise FlowInputError(f"node {node_label(lost[0])} has an inflow but zero-conductance edges cut it off "
                             "from every pressure boundary: the flow has nowhere to go")
    pressure = np.where(fixed, fixed_p, np.nan)
    free = ~fixed & ~isolated
    index = np.full(n_nodes, -1, np.int64)
    index[free] = np.arange(int(free.sum()))
    a, b, ga = conns[active, 0], conns[active, 1], g[active]
    ia, ib = index[a], index[b]
    both = (ia >= 0) & (ib >= 0)
    n_free = int(free.sum())
    rows = np.concatenate([ia[ia >= 0], ib[ib >= 0], ia[both], ib[both]])
    cols = np.concatenate([ia[ia >= 0], ib[ib >= 0], ib[both], ia[both]])
    vals = np.concatenate([ga[ia >= 0], ga[ib >= 0], -ga[both], -ga[both]])
    rhs = q_in[free].copy()
    to_fixed_a = (ia >= 0) & (ib < 0)
    to_fixed_b = (ib >= 0) & (ia < 0)
    rhs += np.bincount(ia[to_fixed_a], ga[to_fixed_a] * fixed_p[b[to_fixed_a]], minlength=n_free)
    rhs += np.bincount(ib[to_fixed_b], ga[to_fixed_b] * fixed_p[a[to_fixed_b]], minlength=n_free)
    if n_free:
        mat = sp.csc_matrix((vals, (rows, cols)), shape=(n_free, n_free))
        pressure[free] = spsolve(mat, rhs)
    flow = np.zeros(conns.shape[0])
    ok = active & ~isolated[conns[:, 0]]
    flow[ok] = g[ok] * (pressure[conns[ok, 0]] - pressure[conns[ok, 1]])
    return NetworkSolution(pressure=pressure, flow=flow, isolated=isolated)


@dataclass(frozen=True)
class LiverNetwork:
    """A liver's :class:`~sim.kernels.twoport.FlowState` as a general network.

    Node numbering: trunk nodes ``0..Nt-1``, the hepatic-vein ground ``Nt``,
    then the arterial and portal nodes of non-root pedicle nodes, then the
    compartments (root pedicle nodes are their trunk nodes).

    Attributes
    ----------
    n_nodes : int
    edge_conns : ndarray of int64, shape (E, 2)
    conductance : ndarray of float64, shape (E,)
    fixed_pressure, inflow : ndarray of float64, shape (n_nodes,)
        Pressures relative to the hepatic veins, Pa; injections, m^3/s.
    art_node, por_node : ndarray of int64, shape (M,)
        Network node of A_i and P_i.
    comp_node : ndarray of int64, shape (C,)
        Network node of each compartment.
    trunk_edges : slice
        Trunk edges, in trunk order.
    art_edges, por_edges : ndarray of int64, shape (M,)
        Network edge of the vessel into pedicle node i, -1 at roots.
    comp_edges : ndarray of int64, shape (C, 4)
        Edge of each compartment terminal (columns ``COMP_*``, directed into the
        compartment except the hepatic-vein outflow), -1 where absent.
    """

    n_nodes: int
    edge_conns: np.ndarray
    conductance: np.ndarray
    fixed_pressure: np.ndarray
    inflow: np.ndarray
    art_node: np.ndarray
    por_node: np.ndarray
    comp_node: np.ndarray
    trunk_edges: slice
    art_edges: np.ndarray
    por_edges: np.ndarray
    comp_edges: np.ndarray

    def solve(self) -> NetworkSolution:
        """Solve with :func:`solve_network`."""
        return solve_network(self.n_nodes, self.edge_conns, self.conductance, self.fixed_pressure, self.inflow)


def liver_network(state) -> LiverNetwork:
    """Write the liver held in a :class:`~sim.kernels.twoport.FlowState` as a general network.

    Uses only the state's inputs (topology, conductances, sources), none of its
    2-ports or solution.

    Parameters
    ----------
    state : FlowState

    Returns
    -------
    LiverNetwork
    """
    nt = state.trunk_fixed_p.shape[0]
    m = state.parent.shape[0]
    c = state.comp_node.shape[0]
    nonroot = np.flatnonzero(state.parent >= 0)
    k = nonroot.size
    art = np.empty(m, np.int64)
    por = np.empty(m, np.int64)
    art[state.root_nodes] = state.root_art
    por[state.root_nodes] = state.root_por
    art[nonroot] = nt + 1 + np.arange(k)
    por[nonroot] = nt + 1 + k + np.arange(k)
    comp = nt + 1 + 2 * k + np.arange(c)
    ground = nt
    has_extra = state.comp_extra_node >= 0
    pieces = [
        (state.trunk_conns, state.g_trunk),
        (np.column_stack([art[state.parent[nonroot]], art[nonroot]]), state.g_art[nonroot]),
        (np.column_stack([por[state.parent[nonroot]], por[nonroot]]), state.g_por[nonroot]),
        (np.column_stack([art[state.comp_node], comp]), state.g_comp[:, 0]),
        (np.column_stack([por[state.comp_node], comp]), state.g_comp[:, 1]),
        (np.column_stack([comp, np.full(c, ground)]), state.g_comp[:, 2]),
        (np.column_stack([state.comp_extra_node[has_extra], comp[has_extra]]), state.g_comp[has_extra, 3]),
    ]
    starts = np.cumsum([0] + [len(g) for _, g in pieces])
    art_edges = np.full(m, -1, np.int64)
    por_edges = np.full(m, -1, np.int64)
    art_edges[nonroot] = starts[1] + np.arange(k)
    por_edges[nonroot] = starts[2] + np.arange(k)
    comp_edges = np.full((c, 4), -1, np.int64)
    for col in range(3):
        comp_edges[:, col] = starts[3 + col] + np.arange(c)
    comp_edges[has_extra, 3] = starts[6] + np.arange(int(has_extra.sum()))
    n_nodes = nt + 1 + 2 * k + c
    fixed = np.full(n_nodes, np.nan)
    fixed[:nt] = state.trunk_fixed_p
    fixed[ground] = 0.0
    inflow = np.zeros(n_nodes)
    inflow[:nt] = state.q_trunk_in
    np.add.at(inflow, art, state.q_art_in)
    return LiverNetwork(n_nodes=n_nodes, edge_conns=np.concatenate([p[0] for p in pieces]).astype(np.int64),
                        conductance=np.concatenate([p[1] for p in pieces]), fixed_pressure=fixed, inflow=inflow,
                        art_node=art, por_node=por, comp_node=comp, trunk_edges=slice(0, int(starts[1])),
                        art_edges=art_edges, por_edges=por_edges, comp_edges=comp_edges)
