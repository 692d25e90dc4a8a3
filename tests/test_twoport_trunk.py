"""The trunk solve (workspace, cached pattern, elimination over the pattern, late subtrees) against the dense solve.

The reference below is the straightforward solve: union-find, index map and a dense matrix built
afresh on every call, Gaussian elimination without pivoting over every entry, in trunk node order.
With no subtree marked late the kernel must give the very same floating-point numbers (pressures,
flows, status, the second right-hand side's flow); with late subtrees (eliminated last) the same
numbers to 1e-12. Either way, whatever the kernel kept from earlier solves (the pattern, the
factorisation, the Schur complement, y, W and c), its result must equal, bit for bit, its own solve
with every kept value recomputed: random conductance changes, occlusions that cut parts of the trunk
or whole subtrees off, and back again.
"""

import math

import numpy as np
import pytest
from numba import njit

from sim.flow import LiverFlow
from sim.kernels import twoport
from sim.scenario import Scenario
from sim.testing import random_liver

_YA, _YP, _YAP, _SA, _SP = twoport.PI_YA, twoport.PI_YP, twoport.PI_YAP, twoport.PI_SA, twoport.PI_SP


@njit
def _find(uf, a):
    while uf[a] != a:
        a = uf[a]
    return a


@njit
def _union(uf, a, b):
    ra = _find(uf, a)
    rb = _find(uf, b)
    if ra != rb:
        uf[ra] = rb


@njit
def _stamp(mat, rhs, index, fixed, a, b, g):
    ia = index[a]
    ib = index[b] if b >= 0 else -1
    pb = 0.0 if b < 0 else fixed[b]
    if ia >= 0:
        mat[ia, ia] += g
        if ib >= 0:
            mat[ia, ib] -= g
        else:
            rhs[ia] += g * pb
    if ib >= 0:
        mat[ib, ib] += g
        if ia >= 0:
            mat[ib, ia] -= g
        else:
            rhs[ib] += g * fixed[a]


@njit
def reference_trunk(st, off_node, off_edge):
    """Dense reference: (status, q_off, trunk_p, trunk_q); the state is not written."""
    nt = st.trunk_fixed_p.shape[0]
    ground = nt
    uf = np.arange(nt + 1)
    status = 0
    for n in range(nt):
        if not math.isnan(st.trunk_fixed_p[n]):
            _union(uf, n, ground)
    for e in range(st.trunk_conns.shape[0]):
        if st.g_trunk[e] > 0.0:
            _union(uf, st.trunk_conns[e, 0], st.trunk_conns[e, 1])
    for s in range(st.root_nodes.shape[0]):
        m = st.node_conn[st.root_nodes[s]]
        if m & 8:
            status = 1
        if m & 1:
            _union(uf, st.root_art[s], ground)
        if m & 2:
            _union(uf, st.root_por[s], ground)
        if m & 4:
            _union(uf, st.root_art[s], st.root_por[s])
    groot = _find(uf, ground)
    index = np.full(nt, -1, np.int64)
    nfree = 0
    for n in range(nt):
        if math.isnan(st.trunk_fixed_p[n]) and _find(uf, n) == groot:
            index[n] = nfree
            nfree += 1
    rhs = np.zeros(nfree)
    mat = np.zeros((nfree, nfree))
    for e in range(st.trunk_conns.shape[0]):
        g = st.g_trunk[e]
        a = st.trunk_conns[e, 0]
        if g > 0.0 and _find(uf, a) == groot:
            _stamp(mat, rhs, index, st.trunk_fixed_p, a, st.trunk_conns[e, 1], g)
    for s in range(st.root_nodes.shape[0]):
        pi = st.node_pi[st.root_nodes[s]]
        ta = st.root_art[s]
        tp = st.root_por[s]
        for node, y, source in ((ta, _YA, _SA), (tp, _YP, _SP)):  # each side to ground, with its source
            if _find(uf, node) == groot:
                _stamp(mat, rhs, index, st.trunk_fixed_p, node, -1, pi[y])
                if index[node] >= 0:
                    rhs[index[node]] += pi[source]
            elif pi[source] != 0.0:
                status = 1
        if pi[_YAP] > 0.0 and _find(uf, ta) == groot:
            _stamp(mat, rhs, index, st.trunk_fixed_p, ta, tp, pi[_YAP])
    off = off_node >= 0 and index[off_node] >= 0
    rhs2 = rhs.copy()
    for n in range(nt):
        if index[n] >= 0:
            rhs[index[n]] += st.q_trunk_in[n]
            if n != off_node:
                rhs2[index[n]] += st.q_trunk_in[n]
        elif st.q_trunk_in[n] != 0.0 and math.isnan(st.trunk_fixed_p[n]):
            status = 1
    n = nfree
    for k in range(n):  # dense Gaussian elimination without pivoting, every entry
        inv = 1.0 / mat[k, k]
        for i in range(k + 1, n):
            f = mat[i, k] * inv
            if f != 0.0:
                for j in range(k + 1, n):
                    mat[i, j] -= f * mat[k, j]
                rhs[i] -= f * rhs[k]
                rhs2[i] -= f * rhs2[k]
    for k in range(n - 1, -1, -1):
        acc = rhs[k]
        acc2 = rhs2[k]
        for j in range(k + 1, n):
            acc -= mat[k, j] * rhs[j]
            acc2 -= mat[k, j] * rhs2[j]
        rhs[k] = acc / mat[k, k]
        rhs2[k] = acc2 / mat[k, k]
    p = np.empty(nt)
    for n in range(nt):
        p[n] = rhs[index[n]] if index[n] >= 0 else st.trunk_fixed_p[n]
    q = np.empty(st.trunk_conns.shape[0])
    for e in range(q.shape[0]):
        g = st.g_trunk[e]
        a = st.trunk_conns[e, 0]
        q[e] = g * (p[a] - p[st.trunk_conns[e, 1]]) if g > 0.0 and not math.isnan(p[a]) else 0.0
    q_off = np.nan
    if off_node >= 0:
        if not off:
            q_off = q[off_edge]
        else:
            a = st.trunk_conns[off_edge, 0]
            b = st.trunk_conns[off_edge, 1]
            pa = rhs2[index[a]] if index[a] >= 0 else p[a]
            pb = rhs2[index[b]] if index[b] >= 0 else p[b]
            g = st.g_trunk[off_edge]
            q_off = g * (pa - pb) if g > 0.0 and not math.isnan(pa) and not math.isnan(pb) else 0.0
    return status, q_off, p, q


def bits(x):
    return np.asarray(x, dtype=np.float64).view(np.int64)


def assert_trunk_is_reference(st, off_node=-1, off_edge=-1):
    """Kernel solve == dense reference (bit for bit with no late subtree, else to 1e-12: the order of the
    elimination differs), and == the kernel's own full path bit for bit whatever it kept; returns the status."""
    got_status, got_off = twoport.solve_trunk_without(st, off_node, off_edge)
    afresh = copy_state(st)  # the same order (work_late), every kept value recomputed
    afresh.work_inputs[-1] = 0.0
    afresh.work_recorded[-1] = 0.0
    again_status, again_off = twoport.solve_trunk_without(afresh, off_node, off_edge)
    assert again_status == got_status and bits(again_off) == bits(got_off)
    for name in ("trunk_p", "trunk_q", "art_p", "por_p"):
        np.testing.assert_array_equal(bits(getattr(afresh, name)), bits(getattr(st, name)))
    status, q_off, p, q = reference_trunk(st, off_node, off_edge)  # plain node order
    assert got_status == status == st.status[0]
    if not st.work_late.any():
        np.testing.assert_array_equal(bits(st.trunk_p), bits(p))
        np.testing.assert_array_equal(bits(st.trunk_q), bits(q))
        if off_node >= 0:
            assert bits(got_off) == bits(q_off)
    else:
        np.testing.assert_allclose(st.trunk_p, p, rtol=1e-12, atol=0.0)
        scale = np.nanmax(np.abs(q)) if q.size else 1.0
        np.testing.assert_allclose(st.trunk_q, q, rtol=1e-9, atol=1e-11 * scale)
        if off_node >= 0:
            np.testing.assert_allclose(got_off, q_off, rtol=1e-9, atol=1e-11 * scale)
    np.testing.assert_array_equal(bits(st.art_p[st.root_nodes]), bits(st.trunk_p[st.root_art]))
    np.testing.assert_array_equal(bits(st.por_p[st.root_nodes]), bits(st.trunk_p[st.root_por]))
    return status


def copy_state(st):
    return twoport.FlowState(*[a.copy() for a in st])


def random_changes(st, rng, steps, *, tip=-1, tip_edge=-1):
    """Random trunk conductances (some 0, some restored), pedicle occlusions and sources; reference checked each step.

    Each step is checked twice (with and without a second right-hand side): the second solve
    has the same matrix, so it takes the kernel's sources-only path.
    """
    g0 = st.g_trunk.copy()
    nonroot = np.flatnonzero(st.parent >= 0)
    statuses = set()
    for _ in range(steps):
        what = rng.random()
        if what < 0.35:
            e = rng.integers(st.g_trunk.size)
            twoport.set_trunk_conductance(st, e, 0.0 if rng.random() < 0.4 else g0[e] * rng.uniform(0.1, 3.0))
        elif what < 0.45:
            e = rng.integers(st.g_trunk.size)
            twoport.set_trunk_conductance(st, e, g0[e])
        elif what < 0.85:
            k = rng.choice(nonroot)
            twoport.set_pedicle_conductance(st, k, 0.0 if rng.random() < 0.5 else st.g_art[k] * 0.5,
                                            0.0 if rng.random() < 0.3 else st.g_por[k])
        elif what < 0.92:  # sources only (the matrix is the one factorised last): a trunk injection
            n = rng.integers(st.q_trunk_in.size)
            st.q_trunk_in[n] = 0.0 if rng.random() < 0.5 else rng.uniform(0.0, 1e-6)
        else:  # ... or an injection into a pedicle node, as the native flow of a catheter in a pedicle vessel
            k = rng.choice(nonroot)
            st.q_art_in[k] = 0.0 if rng.random() < 0.5 else rng.uniform(0.0, 1e-6)
            twoport.refresh_path(st, k)
        statuses.add(assert_trunk_is_reference(st, tip, tip_edge))
        assert_trunk_is_reference(st)
    return statuses


@pytest.fixture(scope="module")
def synthetic():
    """1e3 terminals with a trunk cycle and an extrahepatic feeder, catheter on A5 (a trunk tip)."""
    liver = random_liver(1000, rng=11, extrahepatic=True, collateral=True)
    return LiverFlow(liver.compiled, liver.scenario, catheter=True)


def test_random_changes_equal_dense_reference(synthetic):
    st = copy_state(synthetic.state)
    twoport.solve(st)
    cath = synthetic.catheter
    assert cath.tip_trunk_node >= 0 and cath.distal_edge >= 0
    statuses = random_changes(st, np.random.default_rng(3), 300, tip=cath.tip_trunk_node, tip_edge=cath.distal_edge)
    assert statuses == {twoport.STATUS_OK, twoport.STATUS_LOST_SOURCE}  # parts were cut off, sources lost
    assert np.isnan(st.trunk_p).any()


def test_cut_off_trunk_node_and_lost_source(synthetic):
    """An injection into a trunk node whose every vessel is closed: NaN there, STATUS_LOST_SOURCE, as the reference."""
    st = copy_state(synthetic.state)
    twoport.solve(st)
    conns = synthetic.liver.trunk.edge_conns
    free = np.setdiff1d(np.flatnonzero(np.isnan(st.trunk_fixed_p)), np.r_[st.root_art, st.root_por])  # no subtree
    node = int(free[len(free) // 2])
    touching = np.flatnonzero((conns[:, 0] == node) | (conns[:, 1] == node))
    g = st.g_trunk[touching].copy()
    st.q_trunk_in[node] = 1e-7
    st.g_trunk[touching] = 0.0
    assert assert_trunk_is_reference(st, node, int(touching[0])) == twoport.STATUS_LOST_SOURCE
    assert math.isnan(st.trunk_p[node])
    st.g_trunk[touching] = g  # and back: the cached pattern must follow
    assert assert_trunk_is_reference(st, node, int(touching[0])) == twoport.STATUS_OK
    assert not math.isnan(st.trunk_p[node])


def test_built_liver_equals_dense_reference():
    """The default anatomy (coarse), catheter in the RHA and in a pedicle vessel; random changes on top."""
    scenario = Scenario().with_updates({"liver.terminal_diameter_um": 300.0})
    import sim
    liver = sim.build_liver(scenario, progress=False)
    for vessel in ("RHA", "#7"):
        flow = LiverFlow(liver.compiled, scenario.with_updates({"catheter.vessel": vessel}), catheter=True)
        st = copy_state(flow.state)
        twoport.solve(st)
        assert_trunk_is_reference(st)
        random_changes(st, np.random.default_rng(len(vessel)), 120)


def test_lodgings_in_one_subtree_mark_it_late_and_refactorise_its_block_only(synthetic):
    """Particles lodging in one subtree: it is marked late (its rows last), every later solve takes the partial
    factorisation (the Schur complement of the rest kept), and each equals the dense two-phase reference bit for
    bit; the elimination order moves the result in the last bits only."""
    st = copy_state(synthetic.state)
    twoport.solve(st)
    assert not st.work_late.any()
    nt = st.trunk_p.size
    s = int(np.argmax(np.bincount(np.searchsorted(st.root_nodes, np.arange(st.parent.size), side="right") - 1)))
    lo = st.root_nodes[s]
    hi = st.root_nodes[s + 1] if s + 1 < st.root_nodes.size else st.parent.size
    inside = np.arange(lo + 1, hi)
    assert np.all(st.parent[inside] >= lo)  # preorder: a subtree is a contiguous block after its root
    rng = np.random.default_rng(5)
    factorised = []
    for _ in range(40):
        k = int(rng.choice(inside))
        twoport.set_pedicle_conductance(st, k, st.g_art[k] * 0.7, st.g_por[k])
        before = st.work_schur.copy()
        assert_trunk_is_reference(st, -1, -1)
        factorised.append(not np.array_equal(before, st.work_schur))  # the kept Schur complement was recomputed
    assert st.work_late[s] == 1 and st.work_late.sum() == 1
    late_rows = st.work_index[nt] - st.work_index[nt + 1]
    assert late_rows == sum(1 for n in (st.root_art[s], st.root_por[s]) if st.work_index[n] >= 0) > 0
    assert st.work_index[st.root_art[s]] >= st.work_index[nt + 1]
    assert factorised[0] and not any(factorised[1:])  # marked at the first lodging, partial from then on
    unmarked = copy_state(st)
    unmarked.work_late[:] = 0
    unmarked.work_key[-1] = 0  # the pattern is rebuilt in plain node order
    twoport.solve_trunk(unmarked)
    np.testing.assert_allclose(unmarked.trunk_p, st.trunk_p, rtol=1e-12, atol=0.0)
    np.testing.assert_allclose(unmarked.trunk_q, st.trunk_q, rtol=1e-9, atol=1e-12 * np.abs(st.trunk_q).max())


def test_promise_of_one_changed_subtree_gives_the_full_comparison_bit_for_bit(synthetic):
    """``only_subtree`` (the transport kernel's promise after a lodging: only that subtree's 2-port changed) skips
    comparing the other inputs; every output and every kept work array equals the solve that compares them all,
    bit for bit, through lodgings that alternate between subtrees (late and unmarked ones), cut a vessel off, and
    carry the catheter's second right-hand side."""
    promised = copy_state(synthetic.state)
    twoport.solve(promised)
    checked = copy_state(promised)
    tip, edge = synthetic.catheter.tip_trunk_node, synthetic.catheter.distal_edge
    nonroot = np.flatnonzero(promised.parent >= 0)
    rng = np.random.default_rng(8)
    for st in (promised, checked):  # the previous solve, with the same off_node, as in the kernel
        twoport.solve_trunk_of(*twoport.trunk_arrays(st), tip, edge, -1)
    for step in range(150):
        k = int(rng.choice(nonroot))
        g_art = 0.0 if step % 17 == 0 else promised.g_art[k] * rng.uniform(0.3, 0.95)
        root = k
        while promised.parent[root] >= 0:
            root = promised.parent[root]
        outs = []
        for st, only in ((promised, int(promised.root_slot[root])), (checked, -1)):
            twoport.set_pedicle_conductance(st, k, g_art, st.g_por[k])
            outs.append(twoport.solve_trunk_of(*twoport.trunk_arrays(st), tip, edge, only))
        assert outs[0][0] == outs[1][0] and bits(outs[0][1]) == bits(outs[1][1])
        for a, b in zip(promised, checked, strict=True):
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    assert promised.work_late.sum() >= 2  # lodgings in several subtrees were kept late


def test_late_solve_equals_the_full_one_and_defers_its_outputs(synthetic):
    """``solve_trunk_late`` (the transport loop's inline solve after a lodging in a late subtree) applies
    exactly when that subtree is late (alone, its stamps alone; or with others), gives the status and the flow
    without the injection of ``solve_trunk_of`` to the bit, and leaves ``trunk_p``, ``trunk_q`` and the roots'
    pressures unwritten: ``trunk_pressure_of`` and ``trunk_edge_flow`` give, and ``write_trunk_outputs`` writes, the very numbers
    ``solve_trunk_of`` writes; every kept work array is the same too. Where it does not apply it changes
    nothing."""
    deferred = copy_state(synthetic.state)
    twoport.solve(deferred)
    tip, edge = synthetic.catheter.tip_trunk_node, synthetic.catheter.distal_edge
    twoport.solve_trunk_of(*twoport.trunk_arrays(deferred), tip, edge, -1)
    written = copy_state(deferred)
    s = int(np.argmax(np.diff(np.append(deferred.root_nodes, deferred.parent.size))))
    lo = deferred.root_nodes[s]
    hi = deferred.root_nodes[s + 1] if s + 1 < deferred.root_nodes.size else deferred.parent.size
    rng = np.random.default_rng(21)
    applied_count = alone = 0
    for step in range(60):
        # the first 40 lodgings in one subtree (marked late at the first), then anywhere (others marked late too)
        k = int(rng.integers(lo + 1, hi)) if step < 40 else int(rng.choice(np.flatnonzero(deferred.parent >= 0)))
        g_art = deferred.g_art[k] * rng.uniform(0.3, 0.95)
        root = k
        while deferred.parent[root] >= 0:
            root = deferred.parent[root]
        only = int(deferred.root_slot[root])
        for st in (deferred, written):
            twoport.set_pedicle_conductance(st, k, g_art, st.g_por[k])
        late = deferred.work_late[only] == 1
        alone += late and deferred.work_late.sum() == 1
        before = copy_state(deferred)
        applied, status, q_off = twoport.solve_trunk_late(twoport.trunk_arrays(deferred), tip, edge, only)
        assert applied == late
        if not applied:
            for a, b in zip(before, deferred, strict=True):
                np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
            status, q_off = twoport.solve_trunk_of(*twoport.trunk_arrays(deferred), tip, edge, only)
        want = twoport.solve_trunk_of(*twoport.trunk_arrays(written), tip, edge, only)
        assert status == want[0] and bits(q_off) == bits(want[1])
        trunk = twoport.trunk_arrays(deferred)
        if applied:
            applied_count += 1
            np.testing.assert_array_equal(bits(deferred.trunk_p), bits(before.trunk_p))  # not written
        pressures = np.array([twoport.trunk_pressure_of(n, trunk[0], trunk[17], trunk[21], trunk[25], trunk[26])
                              for n in range(deferred.trunk_p.size)])
        np.testing.assert_array_equal(bits(pressures), bits(written.trunk_p))
        flows = np.array([twoport.trunk_edge_flow(deferred.g_trunk[e], pressures[a], pressures[b])
                          for e, (a, b) in enumerate(deferred.trunk_conns)])
        np.testing.assert_array_equal(bits(flows), bits(written.trunk_q))
        twoport.write_trunk_outputs(*(trunk[i] for i in (0, 1, 2, 4, 5, 6, 9, 10, 11, 12, 17, 21, 25, 26)))
        for a, b in zip(deferred, written, strict=True):
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    assert 39 <= alone < applied_count < 60  # late alone, late with others, and not late (marked then)
