"""Analytic flow: ``sim.solve_flow`` against closed-form solutions of Poiseuille networks.

Three networks with exact answers (exact tests of the flow solver):

* a Poiseuille tube the size of the proper hepatic artery: Q = pi r^4 dP / (8 mu L)
  (Hagen-Poiseuille);
* a symmetric binary tree obeying Murray's cube law ([Murray1926]: r_k = r_0 2^(-k/3),
  lengths proportional to radii): every generation k is 2^k equal tubes in
  parallel, the generations in series, so the total conductance, the flow of each
  terminal and the pressure at the end of each generation follow by hand;
* a Wheatstone bridge (a network with a cycle): the two inner node pressures solve a
  2 x 2 linear system, written out with Cramer's rule.

Agreement to 1e-12 relative (double precision with a direct sparse solve) is the
tolerance: these are checks of the solver, not of physiology.
"""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np

import sim
from sim.units import MMHG_PA

from . import CaseResult, module_main, new_figure, publish

__all__ = ["poiseuille_tube", "murray_tree", "wheatstone_bridge", "run", "TOLERANCE"]

#: Relative tolerance of every analytic comparison.
TOLERANCE = 1e-12
#: Whole-blood viscosity of the analytic cases, Pa s ([TextbookPhysiology]: 3.5-4 mPa s).
VISCOSITY_PA_S = 3.5e-3
#: Tube: proper hepatic artery, 4.5 mm wide and 25 mm long ([TextbookAnatomy]; docs/anatomy.md), 85 mmHg drop.
TUBE_RADIUS_M, TUBE_LENGTH_M, TUBE_DROP_PA = 2.25e-3, 25e-3, 85.0 * MMHG_PA
#: Murray tree: generations below the root vessel, root radius (m), length per radius, pressure drop (Pa).
TREE_GENERATIONS, TREE_ROOT_RADIUS_M, TREE_LENGTH_PER_RADIUS, TREE_DROP_PA = 10, 2.25e-3, 10.0, 80.0 * MMHG_PA
#: Wheatstone bridge: conductances s-a, s-b, a-t, b-t, a-b (m^3/(s Pa)) and the drop s -> t (Pa).
BRIDGE_G = (3e-10, 1e-10, 1e-10, 4e-10, 2e-10)
BRIDGE_DROP_PA = 1000.0


def _rel_error(ours: np.ndarray, exact: np.ndarray) -> float:
    """Largest error relative to the largest exact magnitude."""
    ours, exact = np.atleast_1d(ours), np.atleast_1d(exact)
    return float(np.max(np.abs(ours - exact)) / np.max(np.abs(exact)))


def _conductance(radius_m: float, length_m: float) -> float:
    return math.pi * radius_m**4 / (8.0 * VISCOSITY_PA_S * length_m)


def poiseuille_tube() -> dict[str, float]:
    """Flow through one tube: solver and Hagen-Poiseuille, m^3/s."""
    g = nx.DiGraph()
    g.add_edge("in", "out", radius_m=TUBE_RADIUS_M, length_m=TUBE_LENGTH_M, viscosity_pa_s=VISCOSITY_PA_S)
    g.nodes["in"]["pressure_pa"] = TUBE_DROP_PA
    g.nodes["out"]["pressure_pa"] = 0.0
    res = sim.solve_flow(g)
    return {"solver": res.flow[("in", "out")], "exact": _conductance(TUBE_RADIUS_M, TUBE_LENGTH_M) * TUBE_DROP_PA}


def murray_tree() -> dict[str, np.ndarray]:
    """Symmetric cube-law tree: pressure at the end of each generation and terminal flows, solver and exact.

    Returns
    -------
    dict
        ``generation`` (G+1,), ``pressure_solver`` and ``pressure_exact`` (G+1,), Pa (minimum
        over the generation's nodes for the solver), ``terminal_flow_solver`` (2^G,) and
        ``terminal_flow_exact`` (scalar), m^3/s.
    """
    g = nx.DiGraph()
    g.add_node(0, pressure_pa=TREE_DROP_PA)
    level_nodes, next_id = [[1]], 2
    radius = TREE_ROOT_RADIUS_M * 2.0 ** (-np.arange(TREE_GENERATIONS + 1) / 3.0)
    g.add_edge(0, 1, radius_m=radius[0], length_m=TREE_LENGTH_PER_RADIUS * radius[0], viscosity_pa_s=VISCOSITY_PA_S)
    for k in range(1, TREE_GENERATIONS + 1):
        level = []
        for parent in level_nodes[-1]:
            for child in (next_id, next_id + 1):
                g.add_edge(parent, child, radius_m=radius[k], length_m=TREE_LENGTH_PER_RADIUS * radius[k],
                           viscosity_pa_s=VISCOSITY_PA_S)
                level.append(child)
            next_id += 2
        level_nodes.append(level)
    for n in level_nodes[-1]:
        g.nodes[n]["pressure_pa"] = 0.0
    res = sim.solve_flow(g)
    per_generation = 2.0 ** np.arange(TREE_GENERATIONS + 1) * np.array(
        [_conductance(r, TREE_LENGTH_PER_RADIUS * r) for r in radius])
    total = TREE_DROP_PA / np.sum(1.0 / per_generation)
    exact = TREE_DROP_PA - total * np.cumsum(1.0 / per_generation)
    solved = np.array([min(res.pressure[n] for n in nodes) for nodes in level_nodes])
    terminal = np.array([res.flow[(p, c)] for p, c in g.in_edges(level_nodes[-1])])
    return {"generation": np.arange(TREE_GENERATIONS + 1), "pressure_solver": solved, "pressure_exact": exact,
            "terminal_flow_solver": terminal, "terminal_flow_exact": total / 2**TREE_GENERATIONS}


def wheatstone_bridge() -> dict[str, np.ndarray]:
    """Bridge s-a, s-b, a-t, b-t with the cross edge a-b: the five edge flows, solver and Cramer's rule, m^3/s."""
    g1, g2, g3, g4, g5 = BRIDGE_G
    edges = (("s", "a"), ("s", "b"), ("a", "t"), ("b", "t"), ("a", "b"))
    g = nx.DiGraph()
    for (u, v), c in zip(edges, BRIDGE_G):
        g.add_edge(u, v, conductance=c)
    g.nodes["s"]["pressure_pa"] = BRIDGE_DROP_PA
    g.nodes["t"]["pressure_pa"] = 0.0
    res = sim.solve_flow(g)
    # Kirchhoff at a and b: [[g1+g3+g5, -g5], [-g5, g2+g4+g5]] (pa, pb) = (g1 P, g2 P)
    a11, a12, a22 = g1 + g3 + g5, -g5, g2 + g4 + g5
    det = a11 * a22 - a12 * a12
    pa = (g1 * BRIDGE_DROP_PA * a22 - a12 * g2 * BRIDGE_DROP_PA) / det
    pb = (a11 * g2 * BRIDGE_DROP_PA - a12 * g1 * BRIDGE_DROP_PA) / det
    exact = np.array([g1 * (BRIDGE_DROP_PA - pa), g2 * (BRIDGE_DROP_PA - pb), g3 * pa, g4 * pb, g5 * (pa - pb)])
    return {"solver": np.array([res.flow[e] for e in edges]), "exact": exact}


def _case(name: str, error: float) -> CaseResult:
    return CaseResult(name, error, "0 (closed form)", f"<= {TOLERANCE:g}", error <= TOLERANCE, role="check")


def run(out_dir: str | Path, *, fast: bool = False) -> list[CaseResult]:
    """Solve the three analytic networks and compare.

    The case interface of :mod:`validation`; ``fast`` changes nothing (milliseconds).
    """
    tube, tree, bridge = poiseuille_tube(), murray_tree(), wheatstone_bridge()
    results = [
        _case("Poiseuille tube (PHA size), relative flow error", _rel_error(tube["solver"], tube["exact"])),
        _case(f"Murray cube-law tree ({TREE_GENERATIONS} generations), relative terminal-flow error",
              _rel_error(tree["terminal_flow_solver"], np.full(2**TREE_GENERATIONS, tree["terminal_flow_exact"]))),
        _case("Murray cube-law tree, relative pressure error per generation",
              _rel_error(tree["pressure_solver"], tree["pressure_exact"])),
        _case("Wheatstone bridge (cycle), relative edge-flow error", _rel_error(bridge["solver"], bridge["exact"])),
    ]
    fig, ax = new_figure(1, 2, size=(10, 4))
    ax[0, 0].plot(tree["generation"], tree["pressure_exact"] / MMHG_PA, "k-", label="closed form")
    ax[0, 0].plot(tree["generation"], tree["pressure_solver"] / MMHG_PA, "o", mfc="none", label="sim.solve_flow")
    ax[0, 0].set_xlabel("generation")
    ax[0, 0].set_ylabel("pressure at the generation's end, mmHg")
    ax[0, 0].legend(fontsize=8)
    ax[0, 0].set_title("symmetric Murray tree (cube law)", fontsize=9)
    bars = ax[0, 1].barh(range(len(results)), [max(r.embosim, 1e-17) for r in results])
    ax[0, 1].bar_label(bars, [f"{r.embosim:.1e}" if r.embosim else "0 (exact)" for r in results], fontsize=8,
                       padding=3)
    ax[0, 1].axvline(TOLERANCE, color="k", ls=":", label=f"tolerance {TOLERANCE:g}")
    ax[0, 1].set_yticks(range(len(results)), ["tube", "tree flows", "tree pressures", "bridge"])
    ax[0, 1].set_xscale("log")
    ax[0, 1].set_xlabel("relative error")
    ax[0, 1].legend(fontsize=8)
    return publish(fig, results, out_dir, "analytic", "Analytic flow: sim.solve_flow against closed forms")


if __name__ == "__main__":
    raise SystemExit(module_main(run, __doc__.splitlines()[0], "analytic"))
