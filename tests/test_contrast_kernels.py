"""The virtual DSA's kernels (sim.kernels.contrast) against the general algorithms they replace.

On random flow networks driven by one pressure field (so the flow-directed graph is acyclic):
arrival times equal scipy's Dijkstra bit for bit, the mixing equals a sparse direct solve of
the mass balance, the summed blush curve equals evaluating every pool at every time; a flow
that runs round a loop is refused.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csc_matrix, csr_matrix, diags
from scipy.sparse.csgraph import dijkstra
from scipy.sparse.linalg import spsolve

from sim import angiography as ag
from sim.kernels import contrast


def _network(seed: int, n: int = 400, extra: int = 300):
    """A random tree plus cross links, flows g (p_a - p_b) from random pressures (some edges closed or NaN)."""
    rng = np.random.default_rng(seed)
    parent = np.array([rng.integers(0, i) for i in range(1, n)])
    a = np.concatenate([parent, rng.integers(0, n, extra)])
    b = np.concatenate([np.arange(1, n), rng.integers(0, n, extra)])
    keep = a != b
    a, b = a[keep], b[keep]
    _, first = np.unique(np.minimum(a, b) * n + np.maximum(a, b), return_index=True)
    a, b = a[np.sort(first)], b[np.sort(first)]  # no parallel vessels (scipy would add their transit times)
    pressure = rng.uniform(0.0, 1.0, n)
    pressure[0] = 2.0  # the root, upstream of its subtree
    q = rng.uniform(0.1, 1.0, a.size) * (pressure[a] - pressure[b])
    q[rng.random(a.size) < 0.05] = 0.0
    q[rng.random(a.size) < 0.02] = np.nan
    volume = rng.uniform(0.1, 1.0, a.size)
    boundary = np.zeros(n, bool)
    boundary[rng.choice(np.arange(1, n), 5, replace=False)] = True
    return a, b, q, volume, boundary


def _no_forest(n: int):
    """The kernels' forest arguments for a network without one (the general depth-first order)."""
    return n, np.empty(0, np.int64), np.empty(0, np.int64)


@pytest.mark.parametrize("seed", range(5))
def test_arrival_times_are_dijkstra(seed):
    a, b, q, volume, boundary = _network(seed)
    n = boundary.size
    time = np.empty(n)
    assert contrast.arrival_times(*contrast.incidence(n, a, b), q, volume, boundary, 0, time, *_no_forest(n))
    moving = (q != 0) & ~np.isnan(q)
    src, dst = np.where(q > 0, a, b)[moving], np.where(q > 0, b, a)[moving]
    keep = ~boundary[src]
    graph = csr_matrix(((volume[moving] / np.abs(q[moving]))[keep], (src[keep], dst[keep])), shape=(n, n))
    np.testing.assert_array_equal(time, dijkstra(graph, directed=True, indices=0))
    assert np.isfinite(time).sum() > 10


@pytest.mark.parametrize("seed", range(5))
def test_mixing_solves_the_mass_balance(seed):
    a, b, q, volume, boundary = _network(seed)
    n = boundary.size
    rng = np.random.default_rng(seed + 100)
    comp_node = rng.integers(0, n, 50)
    comp_q = rng.uniform(-0.5, 0.5, (50, 4))  # column 0 < 0: blood flowing back into the node
    back = -np.minimum(comp_q[:, 0], 0.0)
    time = np.empty(n)
    incidence = contrast.incidence(n, a, b)
    contrast.arrival_times(*incidence, q, volume, boundary, 0, time, *_no_forest(n))
    reached, rate = np.isfinite(time), 0.7
    out = np.empty(n)
    split = a.size // 2  # the first edges as trunk edges, the others as pedicle arteries (listed in reverse)
    pedicle = np.arange(a.size - split)[::-1].copy()
    art_q = np.empty(pedicle.size)
    art_q[pedicle] = q[split:]
    assert contrast.mixing(*incidence, q[:split].copy(), art_q, pedicle, *contrast.group(n, comp_node), comp_q,
                           boundary, reached, 0, rate, out, *_no_forest(n))
    src, dst, flow = np.where(q > 0, a, b), np.where(q > 0, b, a), np.abs(q)
    inflow = np.bincount(dst, flow, minlength=n) + np.bincount(comp_node, back, minlength=n)
    inflow[0] += rate
    nodes = np.flatnonzero(reached & ~boundary & (inflow > 0))
    local = np.full(n, -1)
    local[nodes] = np.arange(nodes.size)
    mix = (local[dst] >= 0) & (local[src] >= 0) & (flow > 0)
    matrix = diags(inflow[nodes]) - csc_matrix((flow[mix], (local[dst[mix]], local[src[mix]])),
                                               shape=(nodes.size, nodes.size))
    expected = np.zeros(n)
    expected[nodes] = np.clip(spsolve(matrix.tocsc(), np.where(nodes == 0, rate, 0.0)), 0.0, 1.0)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)
    assert 0.0 < out[0] <= 1.0 and (out[reached & ~boundary] > 0).sum() >= 5


def test_a_flow_round_a_loop_is_refused():
    a, b = np.array([0, 1, 2]), np.array([1, 2, 0])
    q = np.ones(3)  # 0 -> 1 -> 2 -> 0: no pressure field gives this
    time = np.empty(3)
    assert not contrast.arrival_times(*contrast.incidence(3, a, b), q, np.ones(3), np.zeros(3, bool), 0, time,
                                      *_no_forest(3))


def test_blush_curve_sums_every_pool_at_every_time():
    rng = np.random.default_rng(7)
    c = 300
    arrival = np.where(rng.random(c) < 0.2, np.inf, rng.uniform(0.0, 10.0, c))
    tail = np.maximum(arrival, 0.0) + rng.uniform(0.0, 10.0, c)
    tail[np.isinf(arrival)] = 5.0
    fill = rng.choice([0.0, np.inf, 2.0, 15.0], c) * rng.uniform(0.5, 1.5, c)
    wash = rng.choice([0.0, np.inf, 5.0, 30.0], c) * rng.uniform(0.5, 1.5, c)
    fill[np.isnan(fill)], wash[np.isnan(wash)] = np.inf, np.inf
    transit = ag.ContrastTransit(*(np.zeros(1),) * 9, comp_concentration=rng.uniform(0.0, 1.0, c),
                                 comp_arrival_s=arrival, comp_tail_s=tail, comp_fill_mtt_s=fill, comp_wash_mtt_s=wash,
                                 injection=ag.Injection(1e-6), tip_concentration=1.0)
    volume = rng.uniform(1e-9, 1e-8, c)
    times = np.arange(0.0, 63.0, 0.25)
    total = np.zeros(times.size)
    assert contrast.blush_phases(times, transit.comp_concentration, arrival, tail, fill, wash, volume, total,
                                 times.size) == times.size  # the whole curve
    with np.errstate(divide="ignore"):  # instant filling or washout (mean transit time 0)
        expected = transit.compartment_concentration(times[:, None]) @ volume
    np.testing.assert_allclose(total, expected, rtol=1e-12, atol=1e-12 * expected.max())
    assert expected.max() > 0


def _trunk_and_forest(seed: int, retrograde: float, nt: int = 30, m: int = 600):
    """A random trunk (tree plus cross links) and a forest hung from it (parents before children), as the
    arterial network lays them out: trunk nodes first, the forest's vessels as the last edges, in node order."""
    rng = np.random.default_rng(seed)
    trunk_parent = np.array([rng.integers(0, i) for i in range(1, nt)])
    a = np.concatenate([trunk_parent, rng.integers(0, nt, 15)])
    b = np.concatenate([np.arange(1, nt), rng.integers(0, nt, 15)])
    keep = a != b
    a, b = a[keep], b[keep]
    parent = np.array([-1] + [rng.integers(0, f) if rng.random() < 0.95 else -1 for f in range(1, m)])
    up = np.where(parent >= 0, nt + parent, rng.integers(0, nt, m))
    down = nt + np.arange(m)
    pressure = np.empty(nt + m)
    pressure[:nt] = rng.uniform(1.0, 2.0, nt)
    pressure[0] = 3.0
    for f in range(m):  # downhill from the parent, a share of the vessels uphill (retrograde)
        pressure[nt + f] = pressure[up[f]] * (rng.uniform(1.01, 1.2) if rng.random() < retrograde else rng.uniform(0.8, 0.99))
    a, b = np.concatenate([a, up]), np.concatenate([b, down])
    q = rng.uniform(0.1, 1.0, a.size) * (pressure[a] - pressure[b])
    q[rng.random(a.size) < 0.03] = 0.0
    q[rng.random(a.size) < 0.01] = np.nan
    boundary = np.zeros(nt + m, bool)
    boundary[rng.choice(np.arange(1, nt), 3, replace=False)] = True
    return a, b, q, rng.uniform(0.1, 1.0, a.size), boundary, nt, up, down


@pytest.mark.parametrize("retrograde", [0.0, 0.01])
@pytest.mark.parametrize("seed", range(4))
def test_forest_order_gives_the_general_values_bit_for_bit(seed, retrograde):
    """The order over a trunk and a forest (the trunk's search, then the forest in node order) gives the arrival
    times and the mixing of the general depth-first order to the bit, from a trunk or a forest root; with flow
    from a child to its parent it falls back to the general order."""
    a, b, q, volume, boundary, nt, up, down = _trunk_and_forest(seed, retrograde)
    n, m = boundary.size, up.size
    incidence = contrast.incidence(n, a, b)
    rng = np.random.default_rng(seed)
    comp_node = rng.integers(0, n, 200)
    comp_q = rng.uniform(-0.1, 0.5, (200, 4))
    reached_somewhere = 0
    forest_q = q[-m:]
    roots = [0, int(down[np.argmax(forest_q > 0)])]  # a trunk root; a forest node fed by its parent
    if retrograde:
        roots.append(int(down[np.argmax(forest_q < 0)]))  # a forest node whose blood flows back to its parent
        assert forest_q[roots[-1] - nt] < 0
    for root in roots:
        times = []
        for forest in (_no_forest(n), (nt, up, down)):
            time = np.empty(n)
            assert contrast.arrival_times(*incidence, q, volume, boundary, root, time, *forest)
            times.append(time)
        np.testing.assert_array_equal(times[0], times[1])
        reached = np.isfinite(times[0])
        reached_somewhere += reached[nt:].sum()
        mixed = []
        for forest in (_no_forest(n), (nt, up, down)):
            out = np.empty(n)
            assert contrast.mixing(*incidence, q[:-m].copy(), q[-m:].copy(), np.arange(m), *contrast.group(n, comp_node),
                                   comp_q, boundary, reached, root, 0.7, out, *forest)
            mixed.append(out)
        np.testing.assert_array_equal(mixed[0], mixed[1])
        assert (mixed[0] > 0).sum() >= 5
    assert reached_somewhere > 50


def _sorted_quantile(done, weight, share):
    """The rule of the arterial phase over every vessel, sorted (sim.angiography._arterial_sorted)."""
    order = np.argsort(done)
    return float(done[order][np.searchsorted(np.cumsum(weight[order]) / weight.sum(), share)])


@pytest.mark.parametrize("seed", range(6))
def test_volume_quantile_is_the_sorted_rule(seed):
    """The binned search gives the sorted rule's value (ties included), or says it is unsure: never another value."""
    rng = np.random.default_rng(seed)
    n = 5000
    front_in = np.round(rng.uniform(0.0, 3.0, n), 2 if seed % 2 else 12)  # odd seeds: many tied crossing times
    front_in[rng.random(n) < 0.1] = np.inf
    span = np.round(rng.uniform(0.0, 0.5, n), 2 if seed % 2 else 12)
    concentration = np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0.1, 1.0, n))
    volume = rng.uniform(1e-9, 1e-8, n)
    reached = np.isfinite(front_in) & (concentration > 0)
    done = front_in + span
    found = 0
    for share in (0.1, 0.5, 0.9, 0.999):
        for bins in (1, 7, 4096):
            status, value = contrast.volume_quantile(front_in, span, concentration, volume, share, bins)
            assert status in (contrast.QUANTILE_FOUND, contrast.QUANTILE_UNSURE)
            if status == contrast.QUANTILE_FOUND:
                found += 1
                assert value == _sorted_quantile(done[reached], volume[reached], share)
    assert found >= 10
    assert contrast.volume_quantile(front_in, span, np.zeros(n), volume, 0.9, 64)[0] == contrast.QUANTILE_NONE


def test_volume_quantile_is_unsure_at_a_sum_on_the_share():
    """Ten equal volumes at distinct times: the cumulative share reaches 0.5 exactly at the fifth, within rounding."""
    front_in, volume = np.arange(10.0), np.full(10, 0.1)
    status, _ = contrast.volume_quantile(front_in, np.zeros(10), np.ones(10), volume, 0.5, 16)
    assert status == contrast.QUANTILE_UNSURE
    status, value = contrast.volume_quantile(front_in, np.zeros(10), np.ones(10), volume, 0.55, 16)
    assert status == contrast.QUANTILE_FOUND and value == _sorted_quantile(front_in, volume, 0.55) == 5.0


def _phases(times, total):
    """Peak and first fall to a third after it (-1: none) of a curve, as sim.angiography.phase_times reads them."""
    peak = int(np.argmax(total))
    after = np.flatnonzero((times > times[peak]) & (total <= total[peak] / 3.0))
    return peak, int(after[0]) if after.size else -1


@pytest.mark.parametrize("seed", range(3))
def test_blush_phases_stops_where_the_whole_curve_has_told_its_phases(seed):
    """Summed in chunks with the early stop, the curve so far is the whole curve's to the bit and tells the same peak
    and fall; it does stop early (a washout with contrast standing in a pool or two included)."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.0, 63.0, 0.25)
    stopped = 0
    for trial in range(60):
        c = int(rng.integers(1, 300))
        arrival = np.where(rng.random(c) < 0.2, np.inf, rng.uniform(-1.0, 20.0, c))
        tail = np.maximum(arrival, 0.0) + rng.choice([0.0, 1.0], c) * rng.uniform(0.0, 10.0, c)
        fill = rng.choice([0.0, np.inf, 2.0, 15.0], c) * rng.uniform(0.5, 1.5, c)
        wash = rng.choice([0.0, 5.0, 30.0, 1e4], c) * rng.uniform(0.5, 1.5, c)
        fill[np.isnan(fill)], wash[np.isnan(wash)] = np.inf, np.inf
        wash[: trial % 3] = np.inf  # contrast standing
        pools = (rng.uniform(0.0, 1.0, c), arrival, tail, fill, wash, rng.uniform(1e-9, 1e-8, c))
        whole = np.zeros(times.size)
        contrast.blush_phases(times, *pools, whole, times.size)
        for chunk in (1, 5, 32):
            total = np.zeros(times.size)
            known = contrast.blush_phases(times, *pools, total, chunk)
            np.testing.assert_array_equal(total[:known], whole[:known])
            assert not total[known:].any()
            assert _phases(times[:known], total[:known]) == _phases(times, whole)
            stopped += known < times.size
    assert stopped >= 10
