"""sim.solve_flow on bare networkx graphs: analytic cases, invariants, isolated parts, bad input."""

import math

import networkx as nx
import numpy as np
import pytest
from reference import dense_solve, kcl_residual

import sim
from sim.flow import FlowInputError
from sim.rheology import apparent_viscosity


def tube(radius=1e-3, length=0.1, p_in=1000.0, p_out=0.0, **edge):
    g = nx.DiGraph()
    g.add_edge("in", "out", radius_m=radius, length_m=length, **edge)
    g.nodes["in"]["pressure_pa"] = p_in
    g.nodes["out"]["pressure_pa"] = p_out
    return g


def test_poiseuille_tube_given_viscosity():
    res = sim.solve_flow(tube(viscosity_pa_s=4e-3))
    assert res.flow[("in", "out")] == pytest.approx(math.pi * 1e-12 / (8 * 4e-3 * 0.1) * 1000.0, rel=1e-14)
    assert res.pressure["in"] == 1000.0 and res.pressure["out"] == 0.0


def test_poiseuille_tube_pries_default():
    """Default viscosity: Pries at haematocrit 0.45 and plasma 1.2 mPa s."""
    mu = apparent_viscosity(2e-4)
    res = sim.solve_flow(tube(radius=1e-4))
    assert res.flow[("in", "out")] == pytest.approx(math.pi * 1e-16 / (8 * mu * 0.1) * 1000.0, rel=1e-13)


def test_reversed_edge_gives_negative_flow():
    res = sim.solve_flow(tube(viscosity_pa_s=4e-3, p_in=0.0, p_out=1000.0))
    assert res.flow[("in", "out")] < 0


def test_series_and_parallel():
    g = nx.DiGraph()
    g.add_edge("a", "b", conductance=2.0)
    g.add_edge("b", "c", conductance=3.0)   # series a-b-c
    g.add_edge("c", "d", conductance=1.0)   # c-d in parallel with c-e-d
    g.add_edge("c", "e", conductance=4.0)
    g.add_edge("e", "d", conductance=4.0)
    g.nodes["a"]["pressure_pa"] = 10.0
    g.nodes["d"]["pressure_pa"] = 0.0
    res = sim.solve_flow(g)
    g_total = 1.0 / (1 / 2.0 + 1 / 3.0 + 1 / (1.0 + 2.0))
    q = 10.0 * g_total
    assert res.flow[("a", "b")] == pytest.approx(q, rel=1e-14)
    assert res.flow[("b", "c")] == pytest.approx(q, rel=1e-14)
    assert res.flow[("c", "d")] == pytest.approx(q / 3, rel=1e-14)
    assert res.flow[("c", "e")] == pytest.approx(2 * q / 3, rel=1e-14)
    assert res.pressure["b"] == pytest.approx(10.0 - q / 2.0, rel=1e-14)


def _murray_tree(depth, r0=1e-3, l0=2e-2, mu=3.5e-3):
    g = nx.DiGraph()
    g.add_node(0, pressure_pa=1000.0)
    g.add_edge(0, 1, radius_m=r0, length_m=l0, viscosity_pa_s=mu)
    nxt = 2
    frontier = [1]
    for gen in range(1, depth + 1):
        r, length = r0 * 2 ** (-gen / 3), l0 * 2 ** (-gen / 3)
        new = []
        for n in frontier:
            for _ in range(2):
                g.add_edge(n, nxt, radius_m=r, length_m=length, viscosity_pa_s=mu)
                new.append(nxt)
                nxt += 1
        frontier = new
    for n in frontier:
        g.nodes[n]["pressure_pa"] = 0.0
    return g, frontier


def test_symmetric_murray_tree_splits_equally_with_exact_total():
    depth, r0, l0, mu = 7, 1e-3, 2e-2, 3.5e-3
    g, leaves = _murray_tree(depth, r0, l0, mu)
    res = sim.solve_flow(g)
    leaf_q = np.array([res.flow[next(iter(g.in_edges(n)))] for n in leaves])
    np.testing.assert_allclose(leaf_q, leaf_q[0], rtol=1e-12)
    # generation k: 2^k vessels of resistance R_k in parallel, generations in series
    resistance = sum(8 * mu * (l0 * 2 ** (-k / 3)) / (math.pi * (r0 * 2 ** (-k / 3)) ** 4) / 2 ** k
                     for k in range(depth + 1))
    assert res.flow[(0, 1)] == pytest.approx(1000.0 / resistance, rel=1e-12)


def test_cycle_triangle_analytic():
    """A (1 Pa) -> B (0 Pa) directly and through C: p_C = g2 / (g2 + g3)."""
    g = nx.DiGraph()
    g.add_edge("A", "B", conductance=1.0)
    g.add_edge("A", "C", conductance=2.0)
    g.add_edge("C", "B", conductance=5.0)
    g.add_edge("B", "D", conductance=1.0)  # dead end through a cycle-free branch
    g.nodes["A"]["pressure_pa"] = 1.0
    g.nodes["B"]["pressure_pa"] = 0.0
    res = sim.solve_flow(g)
    assert res.pressure["C"] == pytest.approx(2 / 7, rel=1e-14)
    assert res.flow[("A", "C")] == pytest.approx(res.flow[("C", "B")], rel=1e-14)
    assert res.pressure["D"] == 0.0 and res.flow[("B", "D")] == 0.0


def test_neumann_inflow():
    g = nx.DiGraph()
    g.add_edge("src", "x", conductance=2e-9)
    g.add_edge("x", "ground", conductance=3e-9)
    g.nodes["src"]["inflow_m3s"] = 1e-6
    g.nodes["ground"]["pressure_pa"] = 500.0
    res = sim.solve_flow(g)
    assert res.flow[("src", "x")] == pytest.approx(1e-6, rel=1e-12)
    assert res.pressure["x"] == pytest.approx(500.0 + 1e-6 / 3e-9, rel=1e-12)
    assert res.pressure["src"] == pytest.approx(500.0 + 1e-6 / 3e-9 + 1e-6 / 2e-9, rel=1e-12)


def _random_network(seed, n=60, extra_edges=80):
    """A connected random graph with cycles, two pressure nodes and two inflows."""
    rng = np.random.default_rng(seed)
    g = nx.DiGraph()
    for v in range(1, n):
        g.add_edge(int(rng.integers(v)), v, conductance=float(rng.lognormal(-20, 2)))
    for _ in range(extra_edges):
        u, v = (int(x) for x in rng.choice(n, 2, replace=False))
        if not g.has_edge(v, u):
            g.add_edge(u, v, conductance=float(rng.lognormal(-20, 2)))
    g.nodes[0]["pressure_pa"] = 12000.0
    g.nodes[n - 1]["pressure_pa"] = 500.0
    g.nodes[5]["inflow_m3s"] = 1e-8
    g.nodes[7]["inflow_m3s"] = -2e-9
    return g


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_networks_match_dense_reference_and_conserve_mass(seed):
    g = _random_network(seed)
    res = sim.solve_flow(g)
    index = {n: i for i, n in enumerate(res.nodes)}
    edges = [(index[u], index[v]) for u, v in res.edges]
    fixed = np.array([g.nodes[n].get("pressure_pa", np.nan) for n in res.nodes])
    inflow = np.array([g.nodes[n].get("inflow_m3s", 0.0) for n in res.nodes])
    p, q = dense_solve(len(res.nodes), edges, res.edge_conductance, fixed, inflow)
    np.testing.assert_allclose(res.node_pressure_pa, p, rtol=1e-9)
    np.testing.assert_allclose(res.edge_flow_m3s, q, rtol=1e-9, atol=1e-9 * np.abs(q).max())
    assert kcl_residual(len(res.nodes), edges, res.edge_flow_m3s, inflow, fixed).max() < 1e-10


def test_isolated_part_is_reported_not_regularised():
    g = tube(viscosity_pa_s=4e-3)
    g.add_edge("out", "dead1", conductance=0.0)
    g.add_edge("dead1", "dead2", conductance=1e-9)
    g.add_edge("dead2", "in", conductance=0.0)
    res = sim.solve_flow(g)
    assert res.isolated_nodes == {"dead1", "dead2"}
    assert math.isnan(res.pressure["dead1"]) and math.isnan(res.pressure["dead2"])
    assert res.flow[("dead1", "dead2")] == 0.0 and res.flow[("out", "dead1")] == 0.0
    assert res.flow[("in", "out")] == sim.solve_flow(tube(viscosity_pa_s=4e-3)).flow[("in", "out")]


def test_keys_and_arrays_agree():
    g = _random_network(3)
    res = sim.solve_flow(g)
    assert len(res.flow) == g.number_of_edges() and len(res.pressure) == g.number_of_nodes()
    for i, e in enumerate(res.edges):
        assert res.flow[e] == res.edge_flow_m3s[i]
    assert set(res.pressure) == set(g.nodes)


def _graph(edges, pressures, inflows=()):
    g = nx.DiGraph()
    for u, v, attrs in edges:
        g.add_edge(u, v, **attrs)
    for n, p in pressures:
        g.nodes[n]["pressure_pa"] = p
    for n, q in inflows:
        g.nodes[n]["inflow_m3s"] = q
    return g


OK = dict(radius_m=1e-3, length_m=0.01)


@pytest.mark.parametrize("graph, match", [
    (_graph([(0, 1, OK)], []), "no pressure boundary"),
    (_graph([(0, 1, OK), (2, 3, OK)], [(0, 1.0)]), r"connected part .* no pressure boundary \(nodes 2, 3\)"),
    (_graph([(0, 1, dict(length_m=0.01))], [(0, 1.0)]), r"edge \(0, 1\) has radius_m missing"),
    (_graph([(0, 1, dict(radius_m=-1e-3, length_m=0.01))], [(0, 1.0)]), r"edge \(0, 1\) has radius_m -0.001"),
    (_graph([(0, 1, dict(radius_m=1e-3, length_m=0.0))], [(0, 1.0)]), "length_m 0;"),
    (_graph([(0, 1, dict(radius_m=1e-3))], [(0, 1.0)]), "length_m missing"),
    (_graph([(0, 1, dict(radius_m="1e-3", length_m=0.01))], [(0, 1.0)]), "'radius_m' is '1e-3'"),
    (_graph([(0, 1, dict(conductance=-1.0))], [(0, 1.0)]), "conductance -1;"),
    (_graph([(0, 1, dict(viscosity_pa_s=0.0, **OK))], [(0, 1.0)]), "viscosity_pa_s 0;"),
    (_graph([(0, 1, dict(radius_m=5e-7, length_m=1e-3))], [(0, 1.0)]), "Pries"),
    (_graph([(0, 1, dict(conductance=0.0)), (1, 2, OK)], [(0, 1.0), (2, 0.0)], [(2, 1.0)]),
     "both pressure_pa and inflow_m3s"),
    (_graph([(0, 1, dict(conductance=0.0))], [(0, 1.0)], [(1, 1e-6)]), "nowhere to go"),
    (_graph([(0, 1, OK)], [(0, math.nan)]), "pressure_pa nan"),
])
def test_bad_graphs(graph, match):
    with pytest.raises(FlowInputError, match=match):
        sim.solve_flow(graph)


def test_not_a_digraph():
    with pytest.raises(FlowInputError, match="DiGraph"):
        sim.solve_flow(nx.Graph(tube()))
    with pytest.raises(FlowInputError, match="DiGraph"):
        sim.solve_flow(nx.MultiDiGraph(tube()))
    with pytest.raises(TypeError, match="networkx.DiGraph or a liver"):
        sim.solve_flow([1, 2])
