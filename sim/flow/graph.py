"""Flow in a bare networkx graph: read the attributes, solve with the reference solver, key the result.

Edges carry ``radius_m`` and ``length_m`` (m), optionally ``viscosity_pa_s``
(Pa s; default: the Pries in vivo viscosity at haematocrit 0.45 and plasma
viscosity 1.2 mPa s) or ``conductance`` (m^3/(s Pa), overriding both; 0 closes
the edge). Boundary nodes carry ``pressure_pa`` (Pa, Dirichlet) or
``inflow_m3s`` (m^3/s into the node, Neumann). A missing attribute is an
error, never a default of 1.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..rheology import apparent_viscosity, poiseuille_conductance
from .errors import FlowInputError
from .reference import solve_network

__all__ = ["GraphFlowResult", "solve_graph"]


class _Keyed(Mapping):
    """Read-only mapping from graph keys to the entries of an array."""

    def __init__(self, index: dict, values: np.ndarray):
        self._index = index
        self._values = values

    def __getitem__(self, key) -> float:
        return float(self._values[self._index[key]])

    def __iter__(self) -> Iterator:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


@dataclass(frozen=True)
class GraphFlowResult:
    """Pressures and flows of a graph, by the graph's own keys and as arrays.

    Attributes
    ----------
    nodes : tuple
        Node keys in array order.
    edges : tuple of (u, v)
        Edge keys in array order.
    node_pressure_pa : ndarray of float64, shape (N,), Pa
        NaN at isolated nodes.
    edge_flow_m3s : ndarray of float64, shape (E,), m^3/s
        Positive along the edge's direction.
    edge_conductance : ndarray of float64, shape (E,), m^3/(s Pa)
        As used (given or from radius, length, viscosity).
    isolated_nodes : frozenset
        Nodes cut off from every pressure boundary by zero-conductance edges
        (pressure NaN, flow 0 around them).

    Examples
    --------
    >>> import networkx as nx
    >>> from sim.flow import solve_flow
    >>> g = nx.DiGraph()
    >>> g.add_edge("in", "out", conductance=2.0)
    >>> g.nodes["in"]["pressure_pa"], g.nodes["out"]["pressure_pa"] = 10.0, 4.0
    >>> solve_flow(g).flow[("in", "out")]
    12.0
    """

    nodes: tuple
    edges: tuple
    node_pressure_pa: np.ndarray
    edge_flow_m3s: np.ndarray
    edge_conductance: np.ndarray
    isolated_nodes: frozenset

    @cached_property
    def pressure(self) -> Mapping[Hashable, float]:
        """Node key -> pressure, Pa."""
        return _Keyed({n: i for i, n in enumerate(self.nodes)}, self.node_pressure_pa)

    @cached_property
    def flow(self) -> Mapping[tuple, float]:
        """Edge key ``(u, v)`` -> flow, m^3/s, positive from u to v."""
        return _Keyed({e: i for i, e in enumerate(self.edges)}, self.edge_flow_m3s)


def _number(value, what: str) -> float:
    """A real number from an attribute value, or a FlowInputError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise FlowInputError(f"{what} is {value!r}; allowed: a real number")
    return float(value)


#: Largest conductance, m^3/(s Pa): a water-filled tube 1 m wide and 1 um long conducts about 2.5e7;
#: 1e20 leaves room for unit-free networks while keeping conductance x pressure far from overflow.
MAX_CONDUCTANCE = 1e20
#: Largest |pressure_pa| (Pa) and |inflow_m3s| (m^3/s) at a boundary node, for the same reason.
MAX_BOUNDARY_VALUE = 1e20


def _edge_attribute(edges: list, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The attribute's values (NaN where absent) and where it is present (a given NaN is present)."""
    present = np.array([name in d for _, _, d in edges], dtype=bool)
    values = np.array([_number(d[name], f"edge ({u!r}, {v!r}) attribute {name!r}") if name in d else math.nan
                       for u, v, d in edges])
    return values, present


def _conductances(edges: list) -> np.ndarray:
    g, given = _edge_attribute(edges, "conductance")
    bad = np.flatnonzero(given & ~(np.isfinite(g) & (g >= 0) & (g <= MAX_CONDUCTANCE)))
    if bad.size:
        u, v, _ = edges[bad[0]]
        raise FlowInputError(f"edge ({u!r}, {v!r}) has conductance {g[bad[0]]:g}; allowed: a finite value >= 0 "
                             f"and <= {MAX_CONDUCTANCE:g} m^3/(s Pa) (0 closes the edge)")
    need = ~given
    (radius, _), (length, _), (mu, has_mu) = (_edge_attribute(edges, k) for k in ("radius_m", "length_m",
                                                                                  "viscosity_pa_s"))
    for name, arr in (("radius_m", radius), ("length_m", length)):
        bad = np.flatnonzero(need & ~(np.isfinite(arr) & (arr > 0)))
        if bad.size:
            u, v, d = edges[bad[0]]
            got = f"{arr[bad[0]]:g}" if name in d else "missing"
            raise FlowInputError(f"edge ({u!r}, {v!r}) has {name} {got}; allowed: a finite value > 0 (in m), "
                                 "or give the edge a 'conductance'")
    bad = np.flatnonzero(need & has_mu & ~(np.isfinite(mu) & (mu > 0)))
    if bad.size:
        u, v, _ = edges[bad[0]]
        raise FlowInputError(f"edge ({u!r}, {v!r}) has viscosity_pa_s {mu[bad[0]]:g}; allowed: a finite value > 0 "
                             "(Pa s), or leave it out for the Pries in vivo viscosity")
    pries = need & ~has_mu
    if pries.any():
        try:
            mu[pries] = apparent_viscosity(2.0 * radius[pries])
        except ValueError as exc:
            raise FlowInputError(f"{exc}; give such edges a 'viscosity_pa_s' or a 'conductance'") from None
    with np.errstate(over="ignore"):
        g[need] = poiseuille_conductance(radius[need], length[need], mu[need])
    bad = np.flatnonzero(need & ~(np.isfinite(g) & (g <= MAX_CONDUCTANCE)))
    if bad.size:
        u, v, _ = edges[bad[0]]
        raise FlowInputError(f"edge ({u!r}, {v!r}): radius_m {radius[bad[0]]:g}, length_m {length[bad[0]]:g} and "
                             f"viscosity give a conductance of {g[bad[0]]:g}; allowed: at most {MAX_CONDUCTANCE:g} "
                             "m^3/(s Pa)")
    return g


def solve_graph(graph) -> GraphFlowResult:
    """Pressures and flows of a networkx DiGraph (see the module docstring for the attributes).

    Parameters
    ----------
    graph : networkx.DiGraph

    Returns
    -------
    GraphFlowResult

    Raises
    ------
    FlowInputError
        Not a DiGraph; no pressure boundary; a connected part without one; a
        missing, non-positive or non-numeric radius or length on an edge without
        conductance; a negative conductance; a node with both ``pressure_pa``
        and ``inflow_m3s``; an inflow into an isolated part.
    """
    import networkx as nx

    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        raise FlowInputError(f"expected a networkx.DiGraph (flow is signed along each edge), got "
                             f"{type(graph).__name__}; convert with nx.DiGraph(graph)")
    nodes = tuple(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    edges = list(graph.edges(data=True))
    conns = np.array([[index[u], index[v]] for u, v, _ in edges], dtype=np.int64).reshape(-1, 2)
    fixed = np.full(len(nodes), np.nan)
    inflow = np.zeros(len(nodes))
    for n, d in graph.nodes(data=True):
        if "pressure_pa" in d and "inflow_m3s" in d:
            raise FlowInputError(f"node {n!r} has both pressure_pa and inflow_m3s; allowed: one of them")
        for name, arr in (("pressure_pa", fixed), ("inflow_m3s", inflow)):
            if name in d:
                value = _number(d[name], f"node {n!r} attribute {name!r}")
                if not (math.isfinite(value) and abs(value) <= MAX_BOUNDARY_VALUE):
                    raise FlowInputError(f"node {n!r} has {name} {value!r}; allowed: a finite number of "
                                         f"magnitude at most {MAX_BOUNDARY_VALUE:g}")
                arr[index[n]] = value
    g = _conductances(edges)
    with np.errstate(all="ignore"):
        sol = solve_network(len(nodes), conns, g, fixed, inflow, node_label=lambda i: repr(nodes[i]))
    bad = np.flatnonzero(~sol.isolated & ~np.isfinite(sol.pressure))
    if bad.size or not np.isfinite(sol.flow).all():
        where = f"at node {nodes[bad[0]]!r}" if bad.size else "in an edge flow"
        raise FlowInputError(f"the solution is not finite ({where}): the conductances span too many orders of "
                             f"magnitude ({g[g > 0].min():g} to {g.max():g} m^3/(s Pa)); rescale or merge edges")
    return GraphFlowResult(nodes=nodes, edges=tuple((u, v) for u, v, _ in edges), node_pressure_pa=sol.pressure,
                           edge_flow_m3s=sol.flow, edge_conductance=g,
                           isolated_nodes=frozenset(nodes[i] for i in np.flatnonzero(sol.isolated)))
