"""networkx view of a liver: round trip, GraphML, schema (sim.anatomy.graph)."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest

from sim.anatomy import build_liver, from_graph, to_graph
from sim.network import Conductances
from sim.scenario import Scenario

KINDS = {"artery", "portal", "lumped", "terminal_artery", "terminal_portal", "outflow", "extrahepatic"}


@pytest.fixture(scope="module")
def liver():
    return build_liver(Scenario().with_updates({
        "liver.terminal_diameter_um": 400.0, "anatomy.michels_type": "V", "anatomy.falciform_artery": True,
        "tumours.0.extrahepatic": {"artery": "inferior_phrenic", "arterial_fraction": 0.2}}))


def assert_same(a, b, *, points=True):
    """Every array of two compiled livers is equal (dtype, shape, values, NaN where NaN)."""
    for part in ("trunk", "forest", "compartments", *(("points",) if points else ())):
        x, y = getattr(a, part), getattr(b, part)
        for f in dataclasses.fields(x):
            u, v = getattr(x, f.name), getattr(y, f.name)
            if isinstance(u, np.ndarray):
                assert u.dtype == v.dtype and u.shape == v.shape, f"{part}.{f.name}"
                assert np.array_equal(u, v, equal_nan=u.dtype.kind == "f"), f"{part}.{f.name}"
            else:
                assert u == v, f"{part}.{f.name}"
    assert a.hepatic_vein_pressure_pa == b.hepatic_vein_pressure_pa


def test_arrays_graph_arrays_round_trip_is_exact(liver):
    assert_same(liver.compiled, from_graph(liver.graph))


def test_graph_arrays_graph_round_trip_is_exact(liver):
    again = to_graph(from_graph(liver.graph))
    assert list(again.nodes(data=True)) == list(liver.graph.nodes(data=True))
    assert list(again.edges(data=True)) == list(liver.graph.edges(data=True))


def test_graphml_writes_and_reads_back(liver, tmp_path):
    path = tmp_path / "liver.graphml"
    liver.to_graphml(path)
    back = nx.read_graphml(path)
    assert back.number_of_nodes() == liver.graph.number_of_nodes()
    assert back.number_of_edges() == liver.graph.number_of_edges()
    assert_same(liver.compiled, from_graph(back), points=False)
    assert "tissue_points" in liver.graph.graph  # restored after writing


def test_schema_and_counts(liver):
    G, c = liver.graph, liver.compiled
    assert G.number_of_nodes() == c.trunk.n_nodes + 2 * (c.forest.n_nodes - 8) + c.compartments.n + 1
    assert {d["kind"] for _, _, d in G.edges(data=True)} == KINDS
    assert G.nodes["hepatic_veins"]["pressure_pa"] == c.hepatic_vein_pressure_pa
    assert G.nodes["A5_end"]["segment"] == "V" and G.nodes["A5_end"]["pedicle"] in c.forest.root_nodes
    assert G.edges["A4_end", "falciform_end"]["name"] == "falciform"
    for _, _, d in G.edges(data=True):
        assert all(not (isinstance(v, float) and np.isnan(v)) for v in d.values())
        if d["kind"] in ("artery", "portal"):
            assert d["radius_m"] > 0 and d["length_m"] > 0 and "generation" in d
    boundary = {n for n, d in G.nodes(data=True) if "pressure_pa" in d}
    assert {"coeliac_origin", "SMA_origin", "MPV_inlet", "systemic_veins", "hepatic_veins",
            "extrahepatic_tumour"} == boundary


def test_edges_point_along_the_baseline_flow(liver):
    G, comp = liver.graph, liver.compiled.compartments
    roots = liver.compiled.forest.root_nodes
    k = int(np.flatnonzero((comp.kind == 1) & ~np.isin(comp.node, roots))[0])  # peribiliary: a_n -> c_k -> p_n
    n = int(comp.node[k])
    assert G.has_edge(f"a{n}", f"c{k}") and G.has_edge(f"c{k}", f"p{n}")
    t = int(np.flatnonzero(comp.kind == 0)[0])
    assert G.has_edge(f"c{t}", "hepatic_veins")
    assert G.has_edge("coeliac_origin", "coeliac_end") and G.has_edge("GDA_end", "systemic_veins")
    sources = {n for n in G if G.in_degree(n) == 0}
    assert sources == {"coeliac_origin", "SMA_origin", "MPV_inlet", "extrahepatic_tumour"}
    assert {n for n in G if G.out_degree(n) == 0} == {"hepatic_veins", "systemic_veins"}
    assert nx.is_directed_acyclic_graph(G)


def test_conductances_on_every_edge(liver):
    c = liver.compiled
    m, n_comp = c.forest.n_nodes, c.compartments.n
    cond = Conductances(trunk=np.arange(c.trunk.n_edges, dtype=float) + 1, art=np.full(m, 2.0), por=np.full(m, 3.0),
                        comp_art=np.full(n_comp, 4.0), comp_por=np.full(n_comp, 5.0), comp_hv=np.full(n_comp, 6.0),
                        comp_extra=np.full(n_comp, 7.0))
    G = to_graph(c, cond)
    expected = {"artery": {1.0, 2.0}, "portal": {3.0}, "terminal_artery": {4.0}, "terminal_portal": {5.0},
                "outflow": {5.0, 6.0}, "extrahepatic": {7.0}}
    for u, v, d in G.edges(data=True):
        if d["kind"] in expected and "name" not in d:
            assert d["conductance"] in expected[d["kind"]], (u, v, d["kind"])
    assert G.edges["coeliac_origin", "coeliac_end"]["conductance"] == 1.0 + c.trunk.edge_index("coeliac")
