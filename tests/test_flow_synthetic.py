"""sim.testing.random_liver: a valid CompiledLiver per the sim.network contract, reproducible."""

import numpy as np
import pytest

from sim.network import EDGE_LUMPED
from sim.scenario import SEGMENTS
from sim.testing import random_liver
from sim.units import ML_MIN_M3S


@pytest.mark.parametrize("n", [8, 1000, 20000])
def test_contract(n):
    liver = random_liver(n, rng=n, extrahepatic=True, collateral=True)
    trunk, forest, comps = liver.compiled.trunk, liver.compiled.forest, liver.compiled.compartments
    i = np.arange(forest.n_nodes)
    nonroot = forest.parent >= 0
    assert np.all(forest.parent[nonroot] < i[nonroot])
    np.testing.assert_array_equal(forest.root_nodes, np.flatnonzero(~nonroot))
    assert [trunk.node_names[a] for a in forest.root_trunk_art] == [f"A{k}_end" for k in range(1, 9)]
    assert [trunk.node_names[p] for p in forest.root_trunk_por] == [f"P{k}_end" for k in range(1, 9)]
    assert np.all(np.isnan(forest.art_radius_m[~nonroot])) and np.all(forest.art_radius_m[nonroot] > 0)
    assert np.all(forest.por_length_m[nonroot] > 0)
    tissue = comps.kind == 0
    assert tissue.sum() == n
    leaves = np.setdiff1d(i, forest.parent)
    np.testing.assert_array_equal(np.sort(comps.node[tissue]), leaves)
    assert np.all(np.bincount(forest.segment[comps.node[tissue]], minlength=8) >= 1)
    assert len(SEGMENTS) == forest.root_nodes.size
    lumped = trunk.edge_kind == EDGE_LUMPED
    assert np.all(np.isfinite(trunk.edge_demand_m3s[lumped])) and np.all(np.isnan(trunk.edge_radius_m[lumped]))
    fed = comps.demand_extra_m3s > 0
    assert (fed.any() or n == 8) and np.all(np.isfinite(trunk.node_pressure_pa[comps.extra_trunk_node[fed]]))
    flow = liver.scenario.flow
    total = (comps.demand_art_m3s + comps.demand_por_m3s + comps.demand_extra_m3s)[tissue].sum()
    assert total / ML_MIN_M3S == pytest.approx(flow.total_flow_ml_min_kg * flow.body_mass_kg)


def test_murray_radii():
    """Arterial radii follow r ~ Q^(1/g) with the scenario's exponent: r_parent^g = sum r_child^g + the
    parent's own peribiliary draw."""
    liver = random_liver(3000, rng=4, peribiliary_fraction=0.0)
    forest = liver.compiled.forest
    g = liver.scenario.liver.murray_exponent
    nonroot = np.flatnonzero(forest.parent >= 0)
    internal = np.unique(forest.parent[nonroot])
    internal = internal[forest.parent[internal] >= 0]
    sums = np.bincount(forest.parent[nonroot], forest.art_radius_m[nonroot] ** g, minlength=forest.n_nodes)
    np.testing.assert_allclose(sums[internal], forest.art_radius_m[internal] ** g, rtol=1e-10)


def test_reproducible():
    a, b = random_liver(500, rng=3), random_liver(500, rng=3)
    np.testing.assert_array_equal(a.compiled.forest.parent, b.compiled.forest.parent)
    np.testing.assert_array_equal(a.compiled.compartments.demand_art_m3s, b.compiled.compartments.demand_art_m3s)
    c = random_liver(500, rng=4)
    assert not np.array_equal(a.compiled.forest.art_radius_m, c.compiled.forest.art_radius_m, equal_nan=True)
