"""The O(N) two-port kernel against the scipy reference: agreement, conservation, occlusion, incremental update."""

import math

import numpy as np
import pytest
from reference import kcl_residual

import sim
from sim.anatomy import to_graph
from sim.flow import FlowInputError, LiverFlow, LiverFlowResult
from sim.flow.reference import liver_network
from sim.flow.state import state_conductances
from sim.kernels import twoport
from sim.testing import random_liver

TOL = 1e-9


def copy_state(st):
    return twoport.FlowState(*[a.copy() for a in st])


def on_network(st, net):
    """The kernel's solution written on the general network's nodes and edges."""
    p = np.full(net.n_nodes, np.nan)
    p[:st.trunk_p.size] = st.trunk_p
    p[st.trunk_p.size] = 0.0
    p[net.art_node] = st.art_p
    p[net.por_node] = st.por_p
    p[net.comp_node] = st.comp_p
    q = np.zeros(net.edge_conns.shape[0])
    q[net.trunk_edges] = st.trunk_q
    nonroot = st.parent >= 0
    q[net.art_edges[nonroot]] = st.art_q[nonroot]
    q[net.por_edges[nonroot]] = st.por_q[nonroot]
    for col in range(4):
        has = net.comp_edges[:, col] >= 0
        q[net.comp_edges[has, col]] = st.comp_q[has, col]
    return p, q


def assert_close(a, b, what):
    """Same NaN pattern; elsewhere |a - b| <= TOL max|b|."""
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{what}: NaN patterns differ")
    ok = ~np.isnan(b)
    scale = np.abs(b[ok]).max()
    assert np.abs(a[ok] - b[ok]).max() <= TOL * scale, f"{what}: max error {np.abs(a[ok] - b[ok]).max() / scale:.2e}"


def assert_matches_reference(st):
    net = liver_network(st)
    sol = net.solve()
    p, q = on_network(st, net)
    assert_close(p, sol.pressure, "pressure")
    assert_close(q, sol.flow, "flow")
    return net, sol, p, q


def occlude_randomly(st, rng, n):
    nonroot = np.flatnonzero(st.parent >= 0)
    for k in rng.choice(nonroot, n, replace=False):
        portal = st.g_por[k] if rng.random() < 0.7 else 0.0
        twoport.set_pedicle_conductance(st, k, 0.0, portal)


@pytest.fixture(scope="module")
def small():
    """1e3 terminals, collateral (a trunk cycle), extrahepatic feeder, catheter on A5."""
    liver = random_liver(1000, rng=11, extrahepatic=True, collateral=True)
    return LiverFlow(liver.compiled, liver.scenario, catheter=True)


def subtree_of(st, k):
    """Pedicle nodes of the subtree rooted at k (preorder: a contiguous block)."""
    size = 1
    while k + size < st.parent.size and st.parent[k + size] >= k:
        size += 1
    return np.arange(k, k + size)


def cut_off(st, k):
    """Close the vessels into node k and the outflows of every compartment below: a floating part."""
    twoport.set_pedicle_conductance(st, k, 0.0, 0.0)
    for c in np.flatnonzero(np.isin(st.comp_node, subtree_of(st, k))):
        twoport.set_compartment_conductance(st, c, twoport.COMP_HV, 0.0)
        twoport.set_compartment_conductance(st, c, twoport.COMP_EXTRA, 0.0)


@pytest.mark.parametrize("n_terminals", [1000, 10000])
def test_matches_scipy_reference(n_terminals):
    liver = random_liver(n_terminals, rng=n_terminals, extrahepatic=True, collateral=True)
    st = LiverFlow(liver.compiled, liver.scenario, catheter=True).state
    assert_matches_reference(st)
    occlude_randomly(st, np.random.default_rng(0), n_terminals // 20)
    assert twoport.solve(st) == twoport.STATUS_OK
    assert_matches_reference(st)


@pytest.mark.slow
def test_matches_scipy_reference_1e5_terminals():
    liver = random_liver(100_000, rng=5)
    st = LiverFlow(liver.compiled, liver.scenario).state
    occlude_randomly(st, np.random.default_rng(1), 2000)
    twoport.solve(st)
    assert_matches_reference(st)


def test_one_leaf_per_segment():
    """Subtrees reduced to their root, which carries the tissue compartment itself."""
    liver = random_liver(8, rng=0, tumour=False)
    st = LiverFlow(liver.compiled, liver.scenario).state
    assert st.parent.size == 8 and np.all(st.parent < 0)
    assert_matches_reference(st)


def test_public_solve_flow_on_the_liver_graph(small):
    """The kernel == sim.solve_flow(to_graph(liver, conductances)), addressed by the graph's keys."""
    st = copy_state(small.state)
    occlude_randomly(st, np.random.default_rng(3), 60)
    cut_off(st, int(np.flatnonzero((st.parent >= 0) & (np.diff(st.child_ptr) > 0))[9]))
    twoport.solve(st)
    g = to_graph(small.liver, state_conductances(st))
    g.nodes[small.liver.trunk.node_names[small.catheter.tip_trunk_node]]["inflow_m3s"] = small.catheter.rate_m3s
    res = sim.solve_flow(g)
    p0 = small.liver.hepatic_vein_pressure_pa
    trunk = small.liver.trunk
    nonroot = np.flatnonzero(st.parent >= 0)
    a_keys = [f"a{i}" for i in nonroot]
    p_keys = [f"p{i}" for i in nonroot]
    res_pa = np.array([res.pressure[k] for k in a_keys]) - p0
    res_pp = np.array([res.pressure[k] for k in p_keys]) - p0
    assert_close(np.concatenate([st.art_p[nonroot], st.por_p[nonroot]]), np.concatenate([res_pa, res_pp]), "pressure")
    art_key = np.array([f"a{i}" for i in range(st.parent.size)], dtype=object)
    art_key[st.root_nodes] = [trunk.node_names[n] for n in st.root_art]
    flows = [res.flow[(art_key[st.parent[i]], art_key[i])] for i in nonroot]
    flows += [res.flow[(trunk.node_names[a], trunk.node_names[b])] for a, b in trunk.edge_conns]
    tissue = np.flatnonzero(small.liver.compartments.kind == 0)
    flows += [res.flow[(f"c{c}", "hepatic_veins")] for c in tissue]
    ours = np.concatenate([st.art_q[nonroot], st.trunk_q, st.comp_q[tissue, twoport.COMP_HV]])
    assert_close(ours, np.array(flows), "flow")
    isolated = {k for k, p in zip(a_keys + p_keys, np.concatenate([res_pa, res_pp])) if math.isnan(p)}
    isolated |= {f"c{c}" for c in range(st.comp_node.size) if math.isnan(st.comp_p[c])}
    assert res.isolated_nodes == isolated
    assert np.isnan(st.art_p).any()


def test_mass_conserved_at_every_node(small):
    st = copy_state(small.state)
    occlude_randomly(st, np.random.default_rng(4), 40)
    twoport.solve(st)
    net = liver_network(st)
    _, q = on_network(st, net)
    residual = kcl_residual(net.n_nodes, net.edge_conns, q, net.inflow, net.fixed_pressure)
    assert residual.max() < 1e-10


def test_occluded_subtree_carries_no_flow_and_nothing_else_is_nan(small):
    st = copy_state(small.state)
    k = int(np.flatnonzero((st.parent >= 0) & (np.diff(st.child_ptr) > 0))[5])
    sub = subtree_of(st, k)
    assert sub.size > 2
    twoport.set_pedicle_conductance(st, k, 0.0, 0.0)
    assert twoport.solve(st) == twoport.STATUS_OK
    comps = np.isin(st.comp_node, sub)
    assert np.all(st.art_q[sub] == 0.0) and np.all(st.por_q[sub] == 0.0)
    assert np.all(st.comp_q[comps] == 0.0)
    # the subtree still drains to the hepatic veins: its pressure is theirs, finite
    assert np.all(st.art_p[sub] == 0.0) and np.all(st.por_p[sub] == 0.0)
    assert np.all(np.isfinite(st.art_p)) and np.all(np.isfinite(st.comp_p)) and np.all(np.isfinite(st.trunk_q))
    assert_matches_reference(st)


def test_part_cut_off_from_every_boundary_is_reported(small):
    st = copy_state(small.state)
    k = int(np.flatnonzero((st.parent >= 0) & (np.diff(st.child_ptr) > 0))[7])
    sub = subtree_of(st, k)
    cut_off(st, k)
    assert twoport.solve(st) == twoport.STATUS_OK
    isolated = np.flatnonzero(np.isnan(st.art_p))
    np.testing.assert_array_equal(isolated, sub)
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(st.por_p)), sub)
    assert np.all(st.art_q[sub] == 0.0) and np.all(st.comp_q[np.isin(st.comp_node, sub)] == 0.0)
    _, sol, _, _ = assert_matches_reference(st)
    assert sol.isolated.sum() == 2 * sub.size + np.isin(st.comp_node, sub).sum()
    res = LiverFlowResult.from_state(st, small.liver, small.habr, small.catheter)
    np.testing.assert_array_equal(res.isolated_pedicle_nodes, sub)
    np.testing.assert_array_equal(res.isolated_compartments, np.flatnonzero(np.isin(st.comp_node, sub)))


def test_trunk_occlusion_and_isolated_trunk_node(small):
    st = copy_state(small.state)
    trunk = small.liver.trunk
    for name in ("A5_distal", "P5", "GDA_bed"):
        twoport.set_trunk_conductance(st, trunk.edge_index(name), 0.0)
    twoport.set_trunk_conductance(st, trunk.edge_index("GDA"), 0.0)  # GDA_end now floats
    twoport.solve(st)
    assert math.isnan(st.trunk_p[trunk.node_index("GDA_end")])
    assert st.trunk_q[trunk.edge_index("P5")] == 0.0
    assert np.all(np.isfinite(st.art_p))  # segment 5 still drains through its compartments
    tip = small.catheter.proximal_edge  # the injection, cut off distally, all refluxes
    assert st.trunk_q[tip] == pytest.approx(-small.catheter.rate_m3s, rel=1e-12)
    assert_matches_reference(st)


def test_injection_with_nowhere_to_go(small):
    liver = random_liver(1000, rng=11)
    scenario = liver.scenario.with_updates({"catheter.vessel": "#5"})
    flow = LiverFlow(liver.compiled, scenario, catheter=True)
    st = flow.state
    twoport.set_pedicle_conductance(st, 5, 0.0, st.g_por[5])
    for j in st.child_idx[st.child_ptr[5]:st.child_ptr[6]]:
        twoport.set_pedicle_conductance(st, j, 0.0, st.g_por[j])
    for c in st.comp_idx[st.comp_ptr[5]:st.comp_ptr[6]]:
        twoport.set_compartment_conductance(st, c, twoport.COMP_ART, 0.0)
    assert twoport.solve(st) == twoport.STATUS_LOST_SOURCE
    with pytest.raises(FlowInputError, match="nowhere to go"):
        flow.solve()


def test_refresh_of_many_paths_at_once_equals_full_elimination(small):
    """``refresh_paths`` (the batched Y-90 delivery's: the union of the changed nodes' paths, bottom-up in one pass
    of ``update_two_ports``) leaves every 2-port as the full elimination makes it, to the bit, and its work array
    clear; the changes sit in several subtrees and some paths share their upper nodes."""
    st = copy_state(small.state)
    twoport.solve(st)
    rng = np.random.default_rng(3)
    for _ in range(20):
        nodes = rng.choice(np.flatnonzero(st.parent >= 0), size=12, replace=False)
        for k in nodes[:8]:  # the vessel into k narrowed or closed, written without any refresh
            st.g_art[k] *= rng.choice([0.0, 0.4])
        comps = rng.choice(st.comp_node.size, size=4, replace=False)
        st.g_comp[comps, twoport.COMP_ART] *= 0.5
        dirty = np.concatenate([nodes, st.comp_node[comps]])
        mark = np.zeros(st.parent.shape[0], np.uint8)
        twoport.refresh_paths(st, dirty, mark)
        assert not mark.any()
        full = copy_state(st)
        twoport.eliminate(full)
        for name in ("node_pi", "edge_pi", "node_conn", "edge_conn"):
            np.testing.assert_array_equal(getattr(st, name).view(np.uint8), getattr(full, name).view(np.uint8), err_msg=name)
    assert len({int(r) for r in st.root_slot[[_root(st, k) for k in nodes]]}) > 1


def _root(st, k):
    while st.parent[k] >= 0:
        k = st.parent[k]
    return k


def test_incremental_updates_equal_full_resolve(small):
    """Random lodgings, compartment and trunk changes: the path update == a full re-solve, and the
    on-demand pressures and flows == the full substitution."""
    st = copy_state(small.state)
    rng = np.random.default_rng(7)
    nonroot = np.flatnonzero(st.parent >= 0)
    for step in range(400):
        kind = rng.random()
        if kind < 0.7:
            k = int(rng.choice(nonroot))
            twoport.set_pedicle_conductance(st, k, st.g_art[k] * rng.choice([0.0, 0.3, 2.0]), st.g_por[k])
        elif kind < 0.95:
            c = int(rng.integers(st.comp_node.size))
            which = int(rng.integers(4))
            twoport.set_compartment_conductance(st, c, which, st.g_comp[c, which] * rng.choice([0.0, 0.5, 3.0]))
        else:
            e = int(rng.integers(st.g_trunk.size))
            twoport.set_trunk_conductance(st, e, st.g_trunk[e] * rng.choice([0.0, 0.5]))
        if step % 50 == 49:
            twoport.solve_trunk(st)
            full = copy_state(st)
            twoport.solve(full)
            for name in ("node_pi", "edge_pi", "trunk_p"):
                a, b = getattr(st, name), getattr(full, name)
                assert np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True), name
            for name in ("node_conn", "edge_conn"):
                np.testing.assert_array_equal(getattr(st, name), getattr(full, name))
            for i in rng.choice(st.parent.size, 50):
                pa, pp = twoport.node_pressures(st, i)
                assert (pa == full.art_p[i] or math.isnan(pa) and math.isnan(full.art_p[i]))
                assert (pp == full.por_p[i] or math.isnan(pp) and math.isnan(full.por_p[i]))
                for j in st.child_idx[st.child_ptr[i]:st.child_ptr[i + 1]]:
                    qa, qp, _, _ = twoport.edge_flows(st, j, pa, pp)
                    assert qa == full.art_q[j] and qp == full.por_q[j]
                for c in st.comp_idx[st.comp_ptr[i]:st.comp_ptr[i + 1]]:
                    np.testing.assert_array_equal(twoport.compartment_flows(st, c, pa, pp)[1:], full.comp_q[c])
