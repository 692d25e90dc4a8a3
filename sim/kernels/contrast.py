"""Array code of the virtual DSA (:mod:`sim.angiography`): sweeps along the flow, the transit's arrays, the blush curve.

A flow field solved from one pressure field is acyclic when each edge is oriented along its
flow (pressure falls strictly along every edge that carries flow), so quantities carried by
the flow are found in one pass over the nodes in topological order, O(nodes + edges) of the
part the flow reaches; over the arterial network's pedicle forest (stored parents first) that
order is the node order, followed in one pass over its vessels (:func:`_backflow`):

* :func:`arrival_times`: shortest cumulative transit time from the catheter tip (the values of
  Dijkstra's algorithm: each node's is the least of ``time[u] + weight`` over its inflowing
  edges, the same additions in floating point);
* :func:`mixing`: complete mixing at every node (inflow-weighted mean of the upstream
  values), the forward substitution of the triangular mass balance.

:func:`vessel_transit` and :func:`compartment_transit` fill the per-vessel and per-compartment
arrays of a contrast transit in one pass each (the element-wise rules of
:func:`sim.angiography.contrast_transit`); :func:`vessel_samples` places the points that draw
the vessels on the detector; :func:`vessel_layers` and :func:`column_products` make a frame;
:func:`blush_phases` sums the well-mixed pools' contrast over a uniform time grid as far as it tells
the capillary and venous phases, :func:`volume_quantile` finds the arterial one.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._config import NJIT_OPTS

__all__ = ["incidence", "group", "arrival_times", "mixing", "vessel_transit", "compartment_transit", "vessel_samples",
           "moved_vessels", "vessel_layers", "column_products", "blush_phases", "volume_quantile", "QUANTILE_NONE",
           "QUANTILE_FOUND", "QUANTILE_UNSURE"]


@njit(**NJIT_OPTS)
def incidence(n, a, b):
    """The edges at each node, with their other end and orientation.

    Parameters
    ----------
    n : int
        Number of nodes.
    a, b : ndarray of int64, shape (E,)
        Edge ends.

    Returns
    -------
    start : ndarray of int64, shape (n + 1,)
        The edges at node ``u`` are entries ``start[u]:start[u + 1]`` of the arrays below.
    edges, other : ndarray of int64, shape (2 E,)
        The edge and its other end.
    outward : ndarray of float64, shape (2 E,)
        1.0 at the edge's ``a`` end, -1.0 at its ``b`` end: a flow ``q`` from ``a`` to ``b`` leaves the
        node when ``q * outward > 0``.
    """
    start = np.zeros(n + 1, np.int64)
    for e in range(a.shape[0]):
        start[a[e] + 1] += 1
        start[b[e] + 1] += 1
    for u in range(n):
        start[u + 1] += start[u]
    fill = start[:-1].copy()
    edges = np.empty(2 * a.shape[0], np.int64)
    other = np.empty(2 * a.shape[0], np.int64)
    outward = np.empty(2 * a.shape[0])
    for e in range(a.shape[0]):
        k = fill[a[e]]
        edges[k], other[k], outward[k] = e, b[e], 1.0
        fill[a[e]] += 1
        k = fill[b[e]]
        edges[k], other[k], outward[k] = e, a[e], -1.0
        fill[b[e]] += 1
    return start, edges, other, outward


@njit(**NJIT_OPTS)
def _topological(start, edges, other, outward, q, allowed, blocked, root, limit):
    """Nodes reachable from ``root`` along the flow ``q`` through ``allowed`` nodes below ``limit``, upstream first.

    Flow leaves no ``blocked`` node, and no node that is not allowed (or not below ``limit``) is
    entered. One depth-first search: the reverse of the order in which nodes are finished. Returns
    the order and whether it is complete (False: a directed cycle among the reachable nodes).
    """
    n = start.shape[0] - 1
    if not allowed[root] or root >= limit:
        return np.empty(0, np.int64), True
    mark = np.zeros(n, np.int8)  # 1: on the search path, 2: finished
    path = np.empty(n, np.int64)
    cursor = np.empty(n, np.int64)
    finished = np.empty(n, np.int64)
    path[0], cursor[0], mark[root] = root, start[root], 1
    depth, done, v = 1, 0, -1
    while depth > 0:
        u = path[depth - 1]
        k = cursor[depth - 1]
        last = start[u + 1] if not blocked[u] else k
        while k < last:
            v = other[k]
            leaves = v < limit and q[edges[k]] * outward[k] > 0.0 and v != u and allowed[v]
            k += 1
            if leaves:
                if mark[v] == 0:
                    break
                if mark[v] == 1:
                    return finished[:0], False
        else:
            depth -= 1
            mark[u] = 2
            finished[done] = u
            done += 1
            continue
        cursor[depth - 1] = k
        path[depth], cursor[depth], mark[v] = v, start[v], 1
        depth += 1
    return finished[:done][::-1].copy(), True


@njit(**NJIT_OPTS)
def _backflow(q, allowed, first, forest_up, forest_down):
    """Whether flow runs from a child to its parent in the forest between two ``allowed`` nodes.

    The forest of :func:`arrival_times` and :func:`mixing`: the last ``forest_up.size`` edges
    (from ``first`` on), edge ``first + i`` from ``forest_up[i]`` (the parent) to
    ``forest_down[i]``, with ``forest_up < forest_down``, ``forest_down`` ascending and at least
    ``n_trunk``, the nodes from ``n_trunk`` on touched by these edges only. Without such flow, a
    forest node is entered from its parent only, and nothing flows from the forest back into the
    trunk: the trunk's nodes come first, in the order of :func:`_topological` restricted to them
    (the same relative order as in the whole search, whose excursions into the forest never
    return to the trunk), then the forest's in ascending order, each from its parent in one pass.
    """
    for i in range(forest_up.shape[0]):
        if allowed[forest_up[i]] and allowed[forest_down[i]] and q[first + i] < 0.0:
            return True
    return False


@njit(**NJIT_OPTS)
def arrival_times(start, edges, other, outward, q, volume, blocked, root, time, n_trunk, forest_up, forest_down):
    """Shortest transit time (``volume / |q|`` per edge) from ``root`` along the flow, in place.

    Dijkstra's values in one topological pass: a node is final once every node upstream is,
    and gets the least of ``time[u] + volume[e] / |q[e]|`` over its inflowing edges (the same
    floating-point operations). Flow does not leave ``blocked`` nodes (pressure boundaries).

    Parameters
    ----------
    start, edges, other, outward : ndarray
        :func:`incidence` of the edges (``a``, ``b``).
    q : ndarray of float64, shape (E,)
        Flow from ``a`` to ``b`` (< 0: from ``b`` to ``a``; 0 or NaN: none).
    volume : ndarray of float64, shape (E,)
    blocked : ndarray of bool, shape (n,)
    root : int
    time : ndarray of float64, shape (n,), s
        Written: inf where unreached.
    n_trunk, forest_up, forest_down
        The forest among the edges (:func:`_backflow`: the same values, found faster); ``n`` and
        empty arrays: none.

    Returns
    -------
    bool
        False if the reachable part holds a directed cycle (then ``time`` is incomplete).
    """
    time[:] = np.inf
    n, m = time.shape[0], forest_up.shape[0]
    first = edges.shape[0] // 2 - m
    forest = m > 0 and not _backflow(q, np.ones(n, np.bool_), first, forest_up, forest_down)
    # the forest's nodes (one inflowing edge each, from the parent) are reached after the trunk's
    order, acyclic = _topological(start, edges, other, outward, q, np.ones(n, np.bool_), blocked, root,
                                  n_trunk if forest else n)
    if order.shape[0] or (forest and root >= n_trunk):
        time[root] = 0.0
    for i in range(order.shape[0]):
        u = order[i]
        if blocked[u]:
            continue
        tu = time[u]
        for k in range(start[u], start[u + 1]):
            e = edges[k]
            v = other[k]
            if q[e] * outward[k] > 0.0 and v != u:
                t = tu + volume[e] / abs(q[e])
                if t < time[v]:
                    time[v] = t
    if forest and acyclic:  # parents first: each node's time from its parent's final one (inf: unreached)
        for i in range(m):
            u, e = forest_up[i], first + i
            if q[e] > 0.0 and not blocked[u]:
                t = time[u] + volume[e] / abs(q[e])
                if t < time[forest_down[i]]:
                    time[forest_down[i]] = t
    return acyclic


@njit(**NJIT_OPTS)
def group(n, keys):
    """The indices of ``keys`` by key 0..n-1, ascending: those of key ``u`` are ``index[start[u]:start[u + 1]]``."""
    start = np.zeros(n + 1, np.int64)
    for i in range(keys.shape[0]):
        start[keys[i] + 1] += 1
    for u in range(n):
        start[u + 1] += start[u]
    fill = start[:-1].copy()
    index = np.empty(keys.shape[0], np.int64)
    for i in range(keys.shape[0]):
        index[fill[keys[i]]] = i
        fill[keys[i]] += 1
    return start, index


@njit(**NJIT_OPTS)
def mixing(start, edges, other, outward, trunk_q, art_q, pedicle_vessels, comp_start, comps, comp_q, boundary, reached,
           root, rate, out, n_trunk, forest_up, forest_down):
    """Complete mixing of a tracer entering ``root`` at ``rate`` (concentration 1), in topological order, in place.

    A node's concentration is its inflow-weighted mean: c_v sum(inflow) = sum(|q_e| c_u) +
    ``rate`` at the root, where the inflow counts every edge into v, the flow back from v's
    compartments into it and the root's ``rate``; only ``reached`` nodes that are not
    ``boundary`` and have inflow hold tracer (the others hold 0). A node's inflow is summed as
    numpy's ``bincount`` sums it: its edges in ascending order, then its compartments apart.

    Parameters
    ----------
    start, edges, other, outward
        :func:`incidence` of the edges: the trunk edges, then one per pedicle vessel.
    trunk_q : ndarray of float64, shape (Et,)
        Flow of each trunk edge from its first to its second node (NaN, 0: none).
    art_q, pedicle_vessels : ndarray
        Flow of each pedicle artery (parent -> node) and the pedicle node of edge ``Et + i``.
    comp_start, comps : ndarray of int64
        :func:`group` of the compartments by node.
    comp_q : ndarray of float64, shape (C, 4)
        Compartment flows; column 0 is the arterial inflow (< 0: blood flowing back into the
        node, carrying no tracer).
    boundary, reached : ndarray of bool, shape (n,)
    root : int
    rate : float
    out : ndarray of float64, shape (n,)
        Written, clipped to 0-1.
    n_trunk, forest_up, forest_down
        The pedicle arteries as a forest (:func:`_backflow`; a forest node's tracer then comes from its
        parent alone, so the sums are the same); ``n`` and empty arrays: none.

    Returns
    -------
    bool
        False if the mixing nodes hold a directed cycle.
    """
    n = out.shape[0]
    nt = trunk_q.shape[0]
    q = np.empty(nt + pedicle_vessels.shape[0])  # every edge's flow, read only where the tracer goes
    inflow = np.zeros(n)
    nodes = np.zeros(n, np.bool_)
    for u in range(n):
        if not reached[u]:
            continue
        from_edges = 0.0
        for k in range(start[u], start[u + 1]):
            e = edges[k]
            qe = trunk_q[e] if e < nt else art_q[pedicle_vessels[e - nt]]
            q[e] = qe
            if (qe > 0.0) == (outward[k] < 0.0):  # the edge's flow enters u (as bincount: q <= 0 or NaN enters a)
                from_edges += abs(qe)
        from_comps = 0.0
        for k in range(comp_start[u], comp_start[u + 1]):
            qa = comp_q[comps[k], 0]
            from_comps += np.nan if math.isnan(qa) else (-qa if qa < 0.0 else -0.0)  # numpy's -minimum(qa, 0)
        total = from_edges + from_comps
        if u == root:
            total += rate
        inflow[u] = total
        nodes[u] = not boundary[u] and total > 0.0
    out[:] = 0.0
    m = forest_up.shape[0]
    first = edges.shape[0] // 2 - m
    forest = m > 0 and not _backflow(q, nodes, first, forest_up, forest_down)
    # the forest's nodes (one inflowing edge each, from the parent) are mixed after the trunk's
    order, acyclic = _topological(start, edges, other, outward, q, nodes, np.zeros(n, np.bool_), root,
                                  n_trunk if forest else n)
    if not nodes[root] or not acyclic:
        return acyclic
    carried = np.zeros(n)
    carried[root] = rate
    value = np.zeros(n)
    mixed = np.zeros(n, np.bool_)
    for i in range(order.shape[0]):
        u = order[i]
        value[u] = carried[u] / inflow[u]
        mixed[u] = True
        out[u] = min(max(value[u], 0.0), 1.0)
        for k in range(start[u], start[u + 1]):
            e = edges[k]
            v = other[k]
            if q[e] * outward[k] > 0.0 and v != u and nodes[v] and (v < n_trunk or not forest):
                carried[v] += abs(q[e]) * value[u]
    if forest:  # parents first: each node's tracer from its parent's mixed value
        if root >= n_trunk:
            value[root] = carried[root] / inflow[root]
            mixed[root] = True
            out[root] = min(max(value[root], 0.0), 1.0)
        for i in range(m):
            u, v, e = forest_up[i], forest_down[i], first + i
            if mixed[u] and nodes[v] and q[e] > 0.0:  # (the root's parent is not reached)
                carried[v] += abs(q[e]) * value[u]
                value[v] = carried[v] / inflow[v]
                mixed[v] = True
                out[v] = min(max(value[v], 0.0), 1.0)
    return acyclic


@njit(inline="always", **NJIT_OPTS)
def _span(volume, flow):
    """Time to cross ``volume`` at ``flow``: volume / |flow|, inf without flow (NaN stays NaN)."""
    return volume / abs(flow) if flow != 0.0 else np.inf


@njit(**NJIT_OPTS)
def vessel_transit(up, down, q_injecting, q_native, xyz, volume, concentration, front, tail, start_xyz, end_xyz,
                   vessel_concentration, front_in, front_span, tail_in, tail_span):
    """Each vessel oriented along its injecting flow, the bolus's concentration and the front's and tail's times in it.

    Parameters
    ----------
    up, down : ndarray of int64, shape (V,)
        The vessel's nodes in the baseline direction.
    q_injecting, q_native : ndarray of float64, shape (V,)
        Its flow from ``up`` to ``down`` injecting and native, m^3/s.
    xyz : ndarray of float64, shape (n, 3)
    volume : ndarray of float64, shape (V,), m^3
    concentration, front, tail : ndarray of float64, shape (n,)
        Per node: mixed concentration (injecting field), front and tail arrival, s.
    start_xyz, end_xyz : ndarray of float64, shape (V, 3)
        Written: upstream and downstream end (injecting field; a vessel without flow keeps
        the baseline direction, a NaN flow the reverse).
    vessel_concentration, front_in, front_span, tail_in, tail_span : ndarray of float64, shape (V,)
        Written: concentration at the upstream end (0 without flow), the front's entry (inf
        without flow) and crossing time, the tail's entry and crossing time (native field).
    """
    for v in range(up.shape[0]):
        q = q_injecting[v]
        if q >= 0.0:
            u, d = up[v], down[v]
        else:
            u, d = down[v], up[v]
        for k in range(3):
            start_xyz[v, k] = xyz[u, k]
            end_xyz[v, k] = xyz[d, k]
        moving = q != 0.0
        vessel_concentration[v] = concentration[u] if moving else 0.0
        front_in[v] = front[u] if moving else np.inf
        front_span[v] = _span(volume[v], q)
        tail_in[v] = tail[u]
        tail_span[v] = _span(volume[v], q_native[v])


@njit(inline="always", **NJIT_OPTS)
def _inflow(q):
    """A compartment's inflow from its arterial, portal and extrahepatic ends: their positive parts, summed in order."""
    return (max(q[0], 0.0) + max(q[1], 0.0)) + max(q[3], 0.0) if not (math.isnan(q[0]) or math.isnan(q[1])
                                                                       or math.isnan(q[3])) else np.nan


@njit(**NJIT_OPTS)
def compartment_transit(comp_q_injecting, comp_q_native, blood, node_concentration, front, tail, concentration,
                        arrival, tail_arrival, fill_mtt, wash_mtt):
    """Each compartment's inflow concentration, the front's and tail's arrival and its pool's mean transit times.

    Parameters
    ----------
    comp_q_injecting, comp_q_native : ndarray of float64, shape (C, 4)
        Compartment flows (arterial, portal, hepatic-vein, extrahepatic columns) injecting and native, m^3/s.
    blood : ndarray of float64, shape (C,), m^3
        Blood pool volume.
    node_concentration, front, tail : ndarray of float64, shape (C,)
        At the compartment's feeding node: mixed concentration, front and tail arrival, s.
    concentration, arrival, tail_arrival, fill_mtt, wash_mtt : ndarray of float64, shape (C,)
        Written: arterial concentration diluted by all inflow (0 without inflow), front arrival
        (inf without contrast), tail arrival (not before the front), blood / inflow injecting and
        native (inf without flow).
    """
    for c in range(blood.shape[0]):
        total_in = _inflow(comp_q_injecting[c])
        c_in = node_concentration[c] * max(comp_q_injecting[c, 0], 0.0) / total_in if total_in > 0.0 else 0.0
        concentration[c] = c_in
        reached = front[c] if c_in > 0.0 else np.inf
        arrival[c] = reached
        tail_arrival[c] = max(tail[c], reached)
        fill_mtt[c] = _span(blood[c], total_in)
        wash_mtt[c] = _span(blood[c], _inflow(comp_q_native[c]))


@njit(**NJIT_OPTS)
def vessel_samples(drawn, start, end, x0, z0, pixel_m, rows, cols):
    """Points evenly along each drawn vessel that fall on the detector, in vessel order.

    Vessel ``v = drawn[i]`` gets n = max(1, ceil(2 projected length / ``pixel_m``)) points (two per
    pixel along its (x, z) projection) at positions (j + 0.5) / n along it (0 its start, 1 its
    end), each to hold 1 / n of the vessel's contrast; a point is kept when its (x, z) falls on the
    ``rows`` x ``cols`` pixel grid of lower-left corner (x0, z0).

    Returns
    -------
    pixel, vessel : ndarray of int64
        Flat pixel (row-major, rows along z) and vessel of each kept point.
    position, points : ndarray of float64
        Its position along the vessel and the vessel's n.
    """
    count = np.empty(drawn.shape[0], np.int64)
    total = 0
    for i in range(drawn.shape[0]):
        v = drawn[i]
        projected = math.hypot(end[v, 0] - start[v, 0], end[v, 2] - start[v, 2])
        count[i] = max(1, np.int64(np.ceil(2.0 * projected / pixel_m)))
        total += count[i]
    pixel = np.empty(total, np.int64)
    vessel = np.empty(total, np.int64)
    position = np.empty(total)
    points = np.empty(total)
    kept = 0
    for i in range(drawn.shape[0]):
        v = drawn[i]
        n = count[i]
        for j in range(n):
            p = (float(j) + 0.5) / float(n)
            x = start[v, 0] + p * (end[v, 0] - start[v, 0])
            z = start[v, 2] + p * (end[v, 2] - start[v, 2])
            col = np.int64(np.floor((x - x0) / pixel_m))
            row = np.int64(np.floor((z - z0) / pixel_m))
            if 0 <= row < rows and 0 <= col < cols:
                pixel[kept] = row * cols + col
                vessel[kept] = v
                position[kept] = p
                points[kept] = float(n)
                kept += 1
    return pixel[:kept].copy(), vessel[:kept].copy(), position[:kept].copy(), points[:kept].copy()


@njit(**NJIT_OPTS)
def moved_vessels(drawn, start, end, old_start, old_end):
    """The positions ``i`` in ``drawn`` whose vessel ``v = drawn[i]`` runs from ``start[v]`` to ``end[v]`` otherwise
    than from ``old_start[v]`` to ``old_end[v]`` (a coordinate that differs, or is NaN), ascending."""
    out = np.empty(drawn.shape[0], np.int64)
    k = 0
    for i in range(drawn.shape[0]):
        v = drawn[i]
        for c in range(3):
            if not (start[v, c] == old_start[v, c] and end[v, c] == old_end[v, c]):
                out[k] = i
                k += 1
                break
    return out[:k].copy()


@njit(**NJIT_OPTS)
def _progress(t, start, span):
    """Share of a vessel crossed at time ``t`` by something entering at ``start`` (inf: never) and crossing in ``span``."""
    if not math.isfinite(start):
        return 0.0
    return min(max(_ratio(max(t - start, 0.0), span), 0.0), 1.0)


@njit(**NJIT_OPTS)
def vessel_layers(t, pixel, vessel, position, contrast, layer_of, front_in, front_span, tail_in, tail_span, layers):
    """Add the contrast of every vessel sample lying between the tail and the front at time ``t`` to its layer.

    Parameters
    ----------
    t : float, s
    pixel, vessel : ndarray of int64, shape (S,)
        Flat pixel and vessel of each sample (:func:`vessel_samples`).
    position, contrast : ndarray of float64, shape (S,)
        Its position along the vessel (0-1) and contrast volume when filled.
    layer_of : ndarray of int64, shape (S,)
        Its layer (blur class).
    front_in, front_span, tail_in, tail_span : ndarray of float64, shape (V,)
        Per vessel (:class:`sim.angiography.ContrastTransit`).
    layers : ndarray of float64, shape (K, pixels)
        Added to, in sample order.
    """
    for i in range(pixel.shape[0]):
        v = vessel[i]
        p = position[i]
        if p > _progress(t, tail_in[v], tail_span[v]) and p <= _progress(t, front_in[v], front_span[v]):
            layers[layer_of[i], pixel[i]] += contrast[i]


@njit(**NJIT_OPTS)
def column_products(indptr, indices, data, columns, x, out):
    """``out += A[:, columns] @ x`` for a CSC matrix ``A`` (``x[i]`` goes with ``columns[i]``), column by column.

    For ascending ``columns`` and ``out`` zero on entry, each row's sum is taken in the order of a
    CSR product (ascending column), so the same value as ``A @ x_full`` when ``x_full`` is 0 elsewhere.
    """
    for i in range(columns.shape[0]):
        c = columns[i]
        xc = x[i]
        for k in range(indptr[c], indptr[c + 1]):
            out[indices[k]] += data[k] * xc


#: Outcomes of :func:`volume_quantile`.
QUANTILE_NONE, QUANTILE_FOUND, QUANTILE_UNSURE = 0, 1, 2


@njit(**NJIT_OPTS)
def volume_quantile(front_in, front_span, concentration, volume, share, bins):
    """When the front has crossed ``share`` of the opacified lumen volume, s, without sorting every vessel.

    The value of ``numpy``'s rule over the vessels the contrast fills (finite ``front_in``,
    ``concentration`` > 0): ``done = front_in + front_span``, the vessels sorted by ``done``, the
    first ``done`` whose cumulative ``volume`` (summed in that order, over the total) reaches
    ``share``. The volume is binned by ``done`` (``bins`` equal bins), and only the bins where
    the cumulative share may cross are sorted; a crossing is accepted only where every sum is
    away from ``share`` by more than its rounding could move it (relative 8 n eps, n vessels,
    whatever the order of the sums), so it is the same vessel group and value as in the sorted
    sums. Tied ``done`` values form one group: its cumulative share is the same in any order of
    the tie.

    Returns
    -------
    status : int
        ``QUANTILE_NONE`` (no filled vessel), ``QUANTILE_FOUND``, or ``QUANTILE_UNSURE``: a sum within
        rounding of ``share``, or a ``done`` that is not finite (use the sorted rule).
    value : float, s
    """
    n = 0
    lo, hi, total = np.inf, -np.inf, 0.0
    for v in range(front_in.shape[0]):
        if math.isfinite(front_in[v]) and concentration[v] > 0.0:
            d = front_in[v] + front_span[v]
            if not math.isfinite(d):
                return QUANTILE_UNSURE, np.nan
            n += 1
            lo, hi = min(lo, d), max(hi, d)
            total += volume[v]
    if n == 0:
        return QUANTILE_NONE, np.nan
    slack = 8.0 * n * 2.0 ** -52
    below, above = share * total * (1.0 - slack), share * total * (1.0 + slack)
    scale = bins / (hi - lo) if hi > lo else 0.0
    binned = np.zeros(bins)
    for v in range(front_in.shape[0]):
        if math.isfinite(front_in[v]) and concentration[v] > 0.0:
            binned[min(np.int64((front_in[v] + front_span[v] - lo) * scale), bins - 1)] += volume[v]
    first, last, cumulative, before = -1, -1, 0.0, 0.0
    for b in range(bins):  # the bins from the first that may reach ``share`` to the first that surely does
        if first < 0 and cumulative + binned[b] >= below:
            first, before = b, cumulative
        cumulative += binned[b]
        if cumulative >= above:
            last = b
            break
    if first < 0 or last < 0:
        return QUANTILE_UNSURE, np.nan
    done = np.empty(n)
    weight = np.empty(n)
    k = 0
    for v in range(front_in.shape[0]):
        if math.isfinite(front_in[v]) and concentration[v] > 0.0:
            d = front_in[v] + front_span[v]
            b = min(np.int64((d - lo) * scale), bins - 1)
            if first <= b <= last:
                done[k], weight[k] = d, volume[v]
                k += 1
    order = np.argsort(done[:k])
    i = 0
    while i < k:  # groups of equal ``done``
        value = done[order[i]]
        start = before
        while i < k and done[order[i]] == value:
            before += weight[order[i]]
            i += 1
        if before >= above:
            return (QUANTILE_FOUND, value) if start < below else (QUANTILE_UNSURE, np.nan)
        if before >= below:
            return QUANTILE_UNSURE, np.nan
    return QUANTILE_UNSURE, np.nan


@njit(**NJIT_OPTS)
def _ratio(num, den):
    """num / den; 0 where num <= 0 or den is inf, inf where den is 0 and num > 0 (no progress / instant)."""
    if num > 0.0:
        if den == 0.0:
            return np.inf
        if math.isfinite(den):
            return num / den
    return 0.0


@njit(**NJIT_OPTS)
def _blush_pools(times, concentration, arrival, tail, fill_mtt, wash_mtt, volume):
    """The pools :func:`blush_phases` steps (finite arrival), in ascending order, and their chains' first values.

    Returns
    -------
    fill_from, wash_from : ndarray of int64, shape (P,)
        First grid time of the filling and of the washout (the grid's length: none).
    scale, factor, offset, decay : ndarray of float64, shape (P,)
        Filling: level x ``scale`` added, level' = level ``factor`` + ``offset`` two times on;
        washout: value' = value ``decay``.
    level, value : ndarray of float64, shape (P, 2)
        The filling's chains at ``fill_from`` and the next time, the washout's at ``wash_from`` and the next.
    finite : bool
        Whether every value above is finite.
    """
    nt = times.shape[0]
    h = times[1] - times[0] if nt > 1 else 0.0
    pools = np.flatnonzero(np.isfinite(arrival))
    n = pools.shape[0]
    fill_from, wash_from = np.empty(n, np.int64), np.empty(n, np.int64)
    scale, factor, offset, decay = np.empty(n), np.empty(n), np.empty(n), np.ones(n)
    level, value = np.zeros((n, 2)), np.zeros((n, 2))
    finite = True
    for i in range(n):
        c = pools[i]
        a, f, w, tl = arrival[c], fill_mtt[c], wash_mtt[c], tail[c]
        k = 0
        while k < nt and times[k] <= a:
            k += 1
        washing = k
        while washing < nt and times[washing] <= tl:
            washing += 1
        # filling: level = c (1 - exp(-(t - a) / f)); two independent chains (even and odd times), each
        # D_{k+2} = D_k r + d with r = exp(-2 h / f), d = 1 - r
        step = _ratio(2.0 * h, f)
        scale[i], factor[i], offset[i] = concentration[c] * volume[c], math.exp(-step), -math.expm1(-step)
        level[i, 0] = -math.expm1(-_ratio(times[k] - a, f)) if k < washing else 0.0
        level[i, 1] = -math.expm1(-_ratio(times[k + 1] - a, f)) if k + 1 < washing else 0.0
        if washing < nt:  # washout from the level reached at the tail: E_{k+2} = E_k exp(-2 h / w)
            held = concentration[c] * -math.expm1(-_ratio(tl - a, f)) * volume[c]
            value[i, 0] = held * math.exp(-_ratio(times[washing] - tl, w))
            value[i, 1] = held * math.exp(-_ratio(times[washing + 1] - tl, w)) if washing + 1 < nt else 0.0
            decay[i] = math.exp(-_ratio(2.0 * h, w))
        fill_from[i], wash_from[i] = k, washing
        for x in (scale[i], factor[i], offset[i], decay[i], level[i, 0], level[i, 1], value[i, 0], value[i, 1]):
            finite = finite and math.isfinite(x)
    return fill_from, wash_from, scale, factor, offset, decay, level, value, finite


@njit(**NJIT_OPTS)
def _blush_times(k0, k1, fill_from, wash_from, scale, factor, offset, decay, level, value, total):
    """Add every pool's contrast at grid times ``k0`` to ``k1`` - 1 to ``total`` (pool after pool, ascending, each
    chain stepped as far: ``level`` and ``value`` then hold its values at ``k1`` and ``k1`` + 1); returns a bound
    of the sum at every later time (a pool still filling holds at most ``scale``; a washout only decreases)."""
    bound = 0.0
    for i in range(fill_from.shape[0]):
        ff, wf = fill_from[i], wash_from[i]
        k, stop = max(k0, ff), min(k1, wf)
        if k < stop:  # filling: the chain at k and at k + 1
            p = (k - ff) & 1
            now, later, cv, r, d = level[i, p], level[i, 1 - p], scale[i], factor[i], offset[i]
            while k + 1 < stop:
                total[k] += cv * now
                total[k + 1] += cv * later
                now = now * r + d
                later = later * r + d
                k += 2
            if k < stop:
                total[k] += cv * now
                now, later = later, now * r + d
                k += 1
            p = (k - ff) & 1
            level[i, p], level[i, 1 - p] = now, later
        k = max(k, max(k0, wf))
        if k < k1:  # washout
            p = (k - wf) & 1
            now, later, rho = value[i, p], value[i, 1 - p], decay[i]
            while k + 1 < k1:
                total[k] += now
                total[k + 1] += later
                now *= rho
                later *= rho
                k += 2
            if k < k1:
                total[k] += now
                now, later = later, now * rho
                k += 1
            p = (k - wf) & 1
            value[i, p], value[i, 1 - p] = now, later
        if wf <= k1:
            p = (k1 - wf) & 1
            bound += max(value[i, p], value[i, 1 - p])
        else:
            bound += scale[i] * (1.0 + 1e-6)
    return bound


@njit(**NJIT_OPTS)
def blush_phases(times, concentration, arrival, tail, fill_mtt, wash_mtt, volume, total, chunk):
    """Sum over pools of volume x concentration at each time of a uniform grid, into a zero ``total``, as far as
    it tells the capillary and venous phases by; returns how many grid times it summed (the rest is left 0).

    A pool fills from ``arrival`` towards ``concentration`` with ``fill_mtt``
    (``c (1 - exp(-(t - arrival) / fill_mtt))``) until ``tail``, then decays from there with
    ``wash_mtt``; nothing before ``arrival`` or without a finite one. The exponentials along
    the grid are stepped in two independent chains, even and odd times (a product by the
    two-step factor; the first two values of each phase exact), which keeps them within about a
    hundred rounding errors of evaluating each. Each time's sum is taken pool after pool.

    The curve is summed ``chunk`` times at a time (``chunk`` >= T: the whole curve). It stops
    after a chunk when the peak so far (the first greatest value) is followed by a fall to a
    third of it and no later value can reach the peak: a bound on every pool's contrast from
    there on (:func:`_blush_times`), with room for the rounding of the sums, stays below it.
    The peak and that fall are then those of the whole curve, and the values summed are the
    whole curve's. It never stops with a value that is not finite.

    Parameters
    ----------
    times : ndarray of float64, shape (T,), s
        Uniform grid (``times[k] = times[0] + k h``).
    concentration, arrival, tail, fill_mtt, wash_mtt, volume : ndarray of float64, shape (C,)
        Inflow concentration (0-1), front and tail arrival (s), filling and washout mean
        transit times (s; inf: no flow), pool volume.
    total : ndarray of float64, shape (T,)
        Zero; written.
    chunk : int
        Grid times summed between two checks.
    """
    nt = times.shape[0]
    fill_from, wash_from, scale, factor, offset, decay, level, value, finite = _blush_pools(
        times, concentration, arrival, tail, fill_mtt, wash_mtt, volume)
    slack = 1.0 + 4.0 * (fill_from.shape[0] + 1) * 2.0 ** -52
    k0 = 0
    while k0 < nt:
        k1 = min(k0 + chunk, nt)
        bound = _blush_times(k0, k1, fill_from, wash_from, scale, factor, offset, decay, level, value, total)
        if k1 < nt and finite:
            peak = 0
            for k in range(k1):
                finite = finite and math.isfinite(total[k])
                if total[k] > total[peak]:
                    peak = k
            fell = False
            for k in range(peak + 1, k1):
                fell = fell or total[k] <= total[peak] / 3.0
            if finite and fell and bound * slack < total[peak]:
                return k1
        k0 = k1
    return nt
