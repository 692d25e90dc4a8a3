"""Blood flow in the liver: the public solve and the liver flow model.

:func:`solve_flow` takes a bare ``networkx.DiGraph`` (general sparse solver,
:mod:`sim.flow.graph`) or a liver (anything with ``.compiled`` and ``.scenario``:
calibrated O(N) two-port solver, :class:`sim.flow.model.LiverFlow`).
See docs/flow.md.
"""

from __future__ import annotations

from .errors import FlowInputError
from .graph import GraphFlowResult, solve_graph
from .model import LiverFlow, LiverFlowResult

__all__ = ["solve_flow", "FlowInputError", "GraphFlowResult", "LiverFlow", "LiverFlowResult"]


def solve_flow(network, *, catheter: bool = False) -> GraphFlowResult | LiverFlowResult:
    """Pressures and flows of a vessel network.

    Parameters
    ----------
    network : networkx.DiGraph or liver
        A DiGraph whose edges carry ``radius_m`` and ``length_m`` (optionally
        ``viscosity_pa_s`` or ``conductance``) and whose boundary nodes carry
        ``pressure_pa`` (or ``inflow_m3s``); or a liver (``.compiled``, a
        :class:`~sim.network.CompiledLiver`, and ``.scenario``), which is
        calibrated to its baseline demands and solved with the two-port kernel.
    catheter : bool, optional
        Liver only: place the scenario's catheter (narrowed lumen and injection).
        Default: the pre-procedure circulation.

    Returns
    -------
    GraphFlowResult or LiverFlowResult
        Flow in m^3/s (positive along each edge's direction) and pressure in Pa,
        addressable by the graph's own keys (``res.flow[(u, v)]``,
        ``res.pressure[n]``) for a graph; arrays per element for a liver.

    Raises
    ------
    FlowInputError
        An unsolvable or ill-described network (the message names the element).
    ScenarioError
        A liver whose scenario cannot be calibrated (names the parameter).
    TypeError
        Neither a DiGraph nor a liver.

    Examples
    --------
    One Poiseuille tube, 1 mm radius, 10 cm, 4 mPa s, 1000 Pa drop:

    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> g.add_edge(0, 1, radius_m=1e-3, length_m=0.1, viscosity_pa_s=4e-3)
    >>> g.nodes[0]["pressure_pa"], g.nodes[1]["pressure_pa"] = 1000.0, 0.0
    >>> f"{solve_flow(g).flow[(0, 1)]:.4e}"  # pi r^4 dP / (8 mu L), m^3/s
    '9.8175e-07'
    """
    import networkx as nx

    if isinstance(network, nx.Graph):
        if catheter:
            raise TypeError("catheter=True needs a liver, not a graph (add the source as an inflow_m3s node)")
        return solve_graph(network)
    if hasattr(network, "compiled") and hasattr(network, "scenario"):
        return LiverFlow(network.compiled, network.scenario, catheter=catheter).solve()
    raise TypeError(f"solve_flow takes a networkx.DiGraph or a liver (with .compiled and .scenario), "
                    f"not {type(network).__name__}")
