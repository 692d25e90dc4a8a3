"""Sweeps along a flow-directed graph in topological order, and the summed blush curve of the virtual DSA.

A flow field solved from one pressure field is acyclic when each edge is oriented along its
flow (pressure falls strictly along every edge that carries flow), so quantities carried by
the flow are found in one pass over the nodes in topological order, O(nodes + edges):

* :func:`topological_order`: the nodes reachable from a root, upstream before downstream;
* :func:`shortest_times`: shortest cumulative edge weight from the root (the values of
  Dijkstra's algorithm: each node's is the least of ``time[u] + weight`` over its inflowing
  edges, the same additions in floating point);
* :func:`mix`: complete mixing at every node (inflow-weighted mean of the upstream
  values), the forward substitution of the triangular mass balance.

:func:`blush_curve` sums the well-mixed pools' contrast over a uniform time grid. Used by
:mod:`sim.angiography` (contrast transit and phase times).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._config import NJIT_OPTS

__all__ = ["topological_order", "shortest_times", "mix", "blush_curve"]


@njit(**NJIT_OPTS)
def topological_order(n, src, dst, allowed, root):
    """Nodes reachable from ``root`` along the edges ``src -> dst`` through ``allowed`` nodes, upstream first.

    Parameters
    ----------
    n : int
        Number of nodes.
    src, dst : ndarray of int64, shape (E,)
        Edge ends, oriented along the flow.
    allowed : ndarray of bool, shape (n,)
        Nodes that may be entered (an edge into another node is not followed).
    root : int
        Start node (need not be allowed: then nothing is reachable).

    Returns
    -------
    order : ndarray of int64
        The reachable nodes (``root`` first) in topological order.
    start, edges : ndarray of int64, shapes (n + 1,), (E,)
        The edges leaving node ``u`` are ``edges[start[u]:start[u + 1]]`` (ascending edge index).
    acyclic : bool
        False if the reachable nodes hold a directed cycle (``order`` is then incomplete).
    """
    start = np.zeros(n + 1, np.int64)
    for e in range(src.shape[0]):
        start[src[e] + 1] += 1
    for u in range(n):
        start[u + 1] += start[u]
    fill = start[:-1].copy()
    edges = np.empty(src.shape[0], np.int64)
    for e in range(src.shape[0]):
        edges[fill[src[e]]] = e
        fill[src[e]] += 1
    if not allowed[root]:
        return np.empty(0, np.int64), start, edges, True
    reached = np.zeros(n, np.bool_)
    stack = np.empty(n, np.int64)
    stack[0] = root
    reached[root] = True
    top, count = 1, 1
    while top > 0:
        top -= 1
        u = stack[top]
        for k in range(start[u], start[u + 1]):
            v = dst[edges[k]]
            if allowed[v] and not reached[v]:
                reached[v] = True
                stack[top] = v
                top += 1
                count += 1
    waiting = np.zeros(n, np.int64)  # inflowing edges from reachable nodes not yet passed
    for e in range(src.shape[0]):
        if reached[src[e]] and reached[dst[e]]:
            waiting[dst[e]] += 1
    order = np.empty(count, np.int64)
    done = 0
    if waiting[root] == 0:
        order[0] = root
        done = 1
    head = 0
    while head < done:
        u = order[head]
        head += 1
        for k in range(start[u], start[u + 1]):
            v = dst[edges[k]]
            if reached[v]:
                waiting[v] -= 1
                if waiting[v] == 0:
                    order[done] = v
                    done += 1
    return order[:done], start, edges, done == count


@njit(**NJIT_OPTS)
def shortest_times(order, start, edges, dst, weight, time):
    """Shortest cumulative ``weight`` from ``order[0]`` along the edges, in place.

    ``time`` must hold 0 at ``order[0]`` and inf elsewhere; a node is relaxed from its
    upstream nodes (``time[v] = min(time[v], time[u] + weight[e])``) once all of them are
    final. An edge of NaN weight is never taken.
    """
    for i in range(order.shape[0]):
        u = order[i]
        tu = time[u]
        for k in range(start[u], start[u + 1]):
            e = edges[k]
            v = dst[e]
            t = tu + weight[e]
            if t < time[v]:
                time[v] = t


@njit(**NJIT_OPTS)
def mix(order, start, edges, dst, flow, allowed, inflow, rate, out):
    """Complete mixing: ``out[v] inflow[v] = sum(flow[e] out[u]) + rate [v == order[0]]``, in topological order.

    Parameters
    ----------
    order, start, edges, dst, allowed
        From :func:`topological_order` (same ``dst`` and ``allowed``).
    flow : ndarray of float64, shape (E,)
        Flow of each edge, > 0 on the edges of the graph.
    inflow : ndarray of float64, shape (n,)
        All flow entering each node (from the graph and from anywhere else, which carries 0), > 0 on ``order``.
    rate : float
        Flow of value 1 entering ``order[0]``.
    out : ndarray of float64, shape (n,)
        Zero on entry; written on ``order`` (unclipped). Nodes upstream of nothing reachable keep 0.
    """
    if order.shape[0] == 0:
        return
    carried = np.zeros(out.shape[0])
    carried[order[0]] = rate
    for i in range(order.shape[0]):
        u = order[i]
        value = carried[u] / inflow[u]
        out[u] = value
        for k in range(start[u], start[u + 1]):
            e = edges[k]
            v = dst[e]
            if allowed[v]:
                carried[v] += flow[e] * value


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
def blush_curve(times, concentration, arrival, tail, fill_mtt, wash_mtt, volume, total):
    """Sum over pools of volume x concentration at each time of a uniform grid, added to ``total``.

    A pool fills from ``arrival`` towards ``concentration`` with ``fill_mtt``
    (``c (1 - exp(-(t - arrival) / fill_mtt))``) until ``tail``, then decays from there with
    ``wash_mtt``; nothing before ``arrival`` or without a finite one. The exponentials along
    the grid are stepped (a product by the one-step factor per time; the first value of each
    phase exact), which keeps them within a few hundred rounding errors of evaluating each.

    Parameters
    ----------
    times : ndarray of float64, shape (T,), s
        Uniform grid (``times[k] = times[0] + k h``).
    concentration, arrival, tail, fill_mtt, wash_mtt, volume : ndarray of float64, shape (C,)
        Inflow concentration (0-1), front and tail arrival (s), filling and washout mean
        transit times (s; inf: no flow), pool volume.
    total : ndarray of float64, shape (T,)
        Written (added to).
    """
    nt = times.shape[0]
    h = times[1] - times[0] if nt > 1 else 0.0
    for c in range(concentration.shape[0]):
        a = arrival[c]
        if not math.isfinite(a):
            continue
        f = fill_mtt[c]
        tl = tail[c]
        k = 0
        while k < nt and times[k] <= a:
            k += 1
        # filling: level = c (1 - exp(-(t - a) / f)); D_{k+1} = D_k r + d with r = exp(-h / f), d = 1 - r
        if k < nt and times[k] <= tl:
            x = _ratio(times[k] - a, f)
            level = -math.expm1(-x)
            step = _ratio(h, f)
            r = math.exp(-step)
            d = -math.expm1(-step)
            while k < nt and times[k] <= tl:
                total[k] += concentration[c] * level * volume[c]
                level = level * r + d
                k += 1
        if k < nt:
            w = wash_mtt[c]
            held = concentration[c] * -math.expm1(-_ratio(tl - a, f))
            value = held * math.exp(-_ratio(times[k] - tl, w))
            rho = math.exp(-_ratio(h, w))
            vol = volume[c]
            while k < nt:
                total[k] += vol * value
                value *= rho
                k += 1
