"""Synthetic pedicle subtrees, Murray radii, compartments and demands (sim.anatomy)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.anatomy import build_liver
from sim.anatomy.compartments import PERIBILIARY, PERIBILIARY_MIN_DIAMETER_M, TISSUE
from sim.kernels.bisection import _weighted_select, bisect_points
from sim.kernels.treewalk import subtree_sums
from sim.scenario import Scenario
from sim.units import ml_min_to_m3s
from sim.validation.morphometry import murray_residuals

TERMINAL_UM = 300.0


def _scenario(**updates) -> Scenario:
    return Scenario().with_updates({"liver.terminal_diameter_um": TERMINAL_UM, **updates})


@pytest.fixture(scope="module")
def liver():
    return build_liver(_scenario(**{"tumours.0.vascularity": 3.0, "tumours.0.necrotic_core_fraction": 0.2}))


def test_preorder_forest_with_one_root_per_segment(liver):
    f = liver.compiled.forest
    i = np.arange(f.n_nodes)
    assert ((f.parent < i) & (f.parent >= -1)).all()
    np.testing.assert_array_equal(f.root_nodes, np.flatnonzero(f.parent < 0))
    np.testing.assert_array_equal(f.segment[f.root_nodes], np.arange(8))
    child = f.parent >= 0
    np.testing.assert_array_equal(f.segment[child], f.segment[f.parent[child]])
    np.testing.assert_array_equal(f.generation[child], f.generation[f.parent[child]] + 1)
    assert np.isnan(f.art_radius_m[f.root_nodes]).all() and np.isnan(f.por_length_m[f.root_nodes]).all()
    for a in (f.art_radius_m, f.art_length_m, f.por_radius_m, f.por_length_m):
        assert (a[child] > 0).all()
    assert (f.art_length_m[child] >= 2 * f.art_radius_m[child]).all()


@pytest.mark.parametrize("tree", ["artery", "portal"])
def test_murray_at_every_bifurcation(liver, tree):
    assert murray_residuals(liver, tree).max() < 1e-9


def test_murray_directly_on_the_pedicle_arrays(liver):
    f = liver.compiled.forest
    for radius, g in ((f.art_radius_m, liver.art_sizing.exponent), (f.por_radius_m, liver.por_sizing.exponent)):
        child = np.flatnonzero(f.parent >= 0)
        inner = child[np.isin(child, f.parent)]
        sums = np.bincount(f.parent[child], weights=radius[child] ** g, minlength=f.n_nodes)
        np.testing.assert_allclose(sums[inner], radius[inner] ** g, rtol=1e-9)


def test_terminal_diameter_stops_the_splitting(liver):
    f, comp = liver.compiled.forest, liver.compiled.compartments
    d_t, g = TERMINAL_UM * 1e-6, liver.scenario.liver.murray_exponent
    leaves = comp.node[comp.kind == TISSUE]
    inner = np.setdiff1d(np.flatnonzero(f.parent >= 0), leaves)
    # a node splits only if both children get at least the terminal design flow
    assert (2 * f.art_radius_m[inner] >= d_t * 2 ** (1 / g) * (1 - 1e-12)).all()
    # the necrotic core has no demand: its leaves may sit at the radius floor, all others reach d_t
    normal = comp.necrotic_volume_m3[comp.kind == TISSUE] == 0
    assert (2 * f.art_radius_m[leaves[normal]] >= d_t * (1 - 1e-12)).all()


def test_every_point_in_exactly_one_territory(liver):
    pts, comp, f = liver.compiled.points, liver.compiled.compartments, liver.compiled.forest
    tissue = np.flatnonzero(comp.kind == TISSUE)
    np.testing.assert_array_equal(tissue, np.arange(tissue.size))  # tissue compartments come first
    leaves = comp.node[tissue]
    assert not np.isin(leaves, f.parent).any()  # tissue compartments sit at leaves
    assert np.unique(leaves).size == leaves.size == (~np.isin(np.arange(f.n_nodes), f.parent)).sum()
    counts = np.bincount(pts.compartment, minlength=tissue.size)
    assert pts.compartment.min() >= 0 and counts.size == tissue.size and (counts >= 1).all()
    np.testing.assert_allclose(comp.volume_m3[tissue], counts * pts.volume_m3, rtol=1e-12)
    np.testing.assert_array_equal(pts.segment, f.segment[leaves[pts.compartment]])
    assert pts.volume_m3 * pts.xyz.shape[0] == pytest.approx(liver.domain.volume_m3, rel=1e-12)


def test_total_demand_is_the_target_flow(liver):
    comp, flow = liver.compiled.compartments, liver.scenario.flow
    tissue = comp.kind == TISSUE
    total = (comp.demand_art_m3s + comp.demand_por_m3s + comp.demand_extra_m3s)[tissue].sum()
    assert total == pytest.approx(ml_min_to_m3s(flow.total_flow_ml_min_kg * flow.body_mass_kg), rel=1e-12)
    normal = tissue & (comp.tumour_volume_m3 == 0) & (comp.necrotic_volume_m3 == 0)
    share = comp.demand_art_m3s[normal] / (comp.demand_art_m3s + comp.demand_por_m3s)[normal]
    np.testing.assert_allclose(share, flow.normal_arterial_fraction, rtol=1e-12)


def test_tumour_and_necrotic_core(liver):
    comp, pts, t = liver.compiled.compartments, liver.compiled.points, liver.scenario.tumours[0]
    viable, necrotic = comp.tumour_volume_m3.sum(), comp.necrotic_volume_m3.sum()
    sphere = np.pi / 6 * (t.diameter_mm * 1e-3) ** 3
    assert viable + necrotic == pytest.approx(sphere, rel=0.1)
    assert necrotic / (viable + necrotic) == pytest.approx(t.necrotic_core_fraction, rel=0.25)
    only_core = (comp.necrotic_volume_m3 > 0) & (comp.necrotic_volume_m3 == comp.volume_m3)
    assert (comp.demand_art_m3s[only_core] == 0).all() and (comp.demand_por_m3s[only_core] == 0).all()
    assert (comp.tumour_id[comp.tumour_volume_m3 + comp.necrotic_volume_m3 > 0] == 0).all()
    assert ((pts.tumour_id == 0) == (np.linalg.norm(pts.xyz - liver.tumours.centre_m[0], axis=1)
                                     < liver.tumours.radius_m[0])).all()


def test_peribiliary_compartments(liver):
    comp, f, trunk = liver.compiled.compartments, liver.compiled.forest, liver.compiled.trunk
    bile = comp.kind == PERIBILIARY
    assert bile.any() and np.isin(comp.node[bile], f.parent).all()  # internal nodes only
    assert (comp.demand_por_m3s[bile] == 0).all() and (comp.tumour_id[bile] == -1).all()
    radius = f.art_radius_m.copy()
    radius[f.root_nodes] = trunk.edge_radius_m[[trunk.edge_index(f"A{k}") for k in range(1, 9)]]
    assert (2 * radius[comp.node[bile]] >= PERIBILIARY_MIN_DIAMETER_M).all()
    share = comp.demand_art_m3s[bile].sum() / comp.demand_art_m3s.sum()
    assert 1e-3 < share < 0.05  # a few percent of the arterial flow at most


def test_portal_tree_leaves_room_for_the_sinusoid_gradient(liver):
    """Presinusoidal drop at baseline demand (Newtonian 3.5 mPa s) stays well inside portal - sinusoid pressure."""
    f, comp, flow = liver.compiled.forest, liver.compiled.compartments, liver.scenario.flow
    q = np.bincount(comp.node, weights=comp.demand_por_m3s, minlength=f.n_nodes)
    subtree_sums(f.parent, q.copy(), q)
    child = f.parent >= 0
    drop = np.zeros(f.n_nodes)
    drop[child] = q[child] * 8 * 3.5e-3 * f.por_length_m[child] / (np.pi * f.por_radius_m[child] ** 4)
    for i in np.flatnonzero(child):  # preorder: parents first
        drop[i] += drop[f.parent[i]]
    budget = flow.portal_pressure_mmHg - flow.hepatic_vein_pressure_mmHg - flow.sinusoid_gradient_mmHg
    assert drop.max() / 133.322 < 0.7 * budget


def test_same_seed_same_liver_other_seed_other_liver(liver):
    again = build_liver(liver.scenario)
    for part in ("forest", "compartments", "points", "trunk"):
        a, b = getattr(liver.compiled, part), getattr(again.compiled, part)
        for name, value in vars(a).items():
            assert np.array_equal(value, getattr(b, name), equal_nan=True) if isinstance(value, np.ndarray) \
                else value == getattr(b, name)
    other = build_liver(liver.scenario.with_updates({"liver.seed": 1}))
    assert not np.array_equal(other.compiled.points.xyz, liver.compiled.points.xyz)
    assert other.compiled.forest.n_nodes != liver.compiled.forest.n_nodes or \
        not np.array_equal(other.compiled.forest.art_radius_m, liver.compiled.forest.art_radius_m, equal_nan=True)


def test_arteries_feeding_a_hypervascular_tumour_are_larger(liver):
    """Same total flow: the segment V artery grows with the tumour, and tumour branches are wider per volume."""
    plain = build_liver(_scenario(tumours=[]))
    a5 = liver.compiled.trunk.edge_radius_m[liver.vessels["A5"]]
    assert a5 > 1.2 * plain.compiled.trunk.edge_radius_m[plain.vessels["A5"]]
    f, comp, g = liver.compiled.forest, liver.compiled.compartments, liver.scenario.liver.murray_exponent
    tissue = comp.kind == TISSUE
    volume, tumour = (np.zeros(f.n_nodes) for _ in range(2))
    volume[comp.node[tissue]] = comp.volume_m3[tissue]
    tumour[comp.node[tissue]] = comp.tumour_volume_m3[tissue]
    subtree_sums(f.parent, volume.copy(), volume)
    subtree_sums(f.parent, tumour.copy(), tumour)
    vessel = f.parent >= 0
    per_volume = f.art_radius_m ** g / volume  # Murray: r^g is proportional to the flow it carries
    in_tumour = vessel & (tumour > 0.9 * volume)
    normal = vessel & (tumour == 0) & (f.segment == 4)
    expected = liver.perfusion.art[1] / liver.perfusion.art[0]  # 0.9 x 3 / 0.2 = 13.5
    ratio = np.median(per_volume[in_tumour]) / np.median(per_volume[normal])
    assert ratio == pytest.approx(expected, rel=0.3)


def test_a_liver_without_tumours():
    liver = build_liver(_scenario(tumours=[]))
    comp = liver.compiled.compartments
    assert (comp.tumour_id == -1).all() and (comp.tumour_volume_m3 == 0).all() and liver.tumours.n == 0


def _reference_split(key, weight, target):
    order = np.argsort(key, kind="stable")
    return int(np.searchsorted(np.cumsum(weight[order]), target) + 1)


@pytest.mark.parametrize("seed", range(6))
def test_weighted_select_matches_sorting(seed):
    rng = np.random.default_rng(seed)
    n = 200
    ties = seed % 2 == 1
    key = rng.integers(0, 40, n).astype(float) if ties else rng.permutation(n).astype(float)
    weight = rng.random(n) * (rng.random(n) > 0.2)  # some zero weights
    target = 0.37 * weight.sum()
    xyz, order, k = rng.random((n, 3)), np.arange(n), key.copy()
    s = _weighted_select(xyz, weight.copy(), order, k, 0, n, target)
    if not ties:  # with ties the order inside a run of equal keys is free
        assert s == _reference_split(key, weight, target)
    assert k[:s].max() <= k[s:].min()
    np.testing.assert_array_equal(k, key[order])  # the arrays were permuted together
    assert weight[order[:s]].sum() >= target > weight[order[:s - 1]].sum()


def test_bisection_ranges_nest_and_leaves_partition_the_points():
    rng = np.random.default_rng(0)
    n = 3000
    xyz, w = rng.random((n, 3)), rng.random(n)
    parent, start, stop, depth, _, weight = bisect_points(xyz, w.copy(), np.arange(n), 5.0,
                                                               rng.uniform(0.3, 0.7, 2000))
    leaf = ~np.isin(np.arange(parent.size), parent)
    assert start[leaf][0] == 0 and stop[leaf][-1] == n and (start[leaf][1:] == stop[leaf][:-1]).all()
    child = parent >= 0
    assert (start[child] >= start[parent[child]]).all() and (stop[child] <= stop[parent[child]]).all()
    assert (weight[leaf] >= 5.0).all() and (weight[~leaf] >= 10.0).all()
    np.testing.assert_array_equal(depth[child], depth[parent[child]] + 1)
