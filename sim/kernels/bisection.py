"""Recursive bisection of weighted points into a binary tree (space-filling vascular subtrees).

A node owns a contiguous range of points. It is split in two across the principal
axis of its weighted points, at the weighted quantile that gives the left child a
prescribed share of the node's weight (the flow demand), so that regions of high
demand are subdivided more. A node becomes a leaf when a split would leave a child
lighter than ``stop_weight`` (the demand of a vessel at the terminal diameter) or
when it holds a single point. Nodes are numbered in preorder (``parent[i] < i``).

Each level is O(n) (moments, projection, weighted quickselect), so the whole tree
is O(N log N) for N points.

The point arrays are permuted in place so that every node's points are the
contiguous range ``start[i]:stop[i]``; ``order`` carries the original indices.
Randomness (the split shares) comes in as an array drawn by the caller. No
fast-math: it would let the compiler reorder the weight sums, so the same seed could
give a different tree on another CPU (and it does not make this kernel faster).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._config import NJIT_OPTS

__all__ = ["bisect_points"]

#: Power iterations for the principal axis of a 3x3 covariance (converged to well below
#: the resolution that matters for a split direction).
_POWER_ITERATIONS = 24


@njit(**NJIT_OPTS)
def _swap(xyz, weight, order, key, i, j):
    for d in range(3):
        t = xyz[i, d]
        xyz[i, d] = xyz[j, d]
        xyz[j, d] = t
    t = weight[i]
    weight[i] = weight[j]
    weight[j] = t
    o = order[i]
    order[i] = order[j]
    order[j] = o
    t = key[i]
    key[i] = key[j]
    key[j] = t


@njit(**NJIT_OPTS)
def _weighted_select(xyz, weight, order, key, lo, hi, target):
    """Partition ``[lo, hi)`` by ``key`` and return the smallest ``s`` whose prefix weighs >= target.

    After the call every key in ``[lo, s)`` is <= every key in ``[s, hi)``. Expected
    O(hi - lo) (quickselect with a three-way partition and median-of-three pivot).
    Returns ``hi`` if the whole range weighs less than ``target``.
    """
    acc = 0.0
    a = lo
    b = hi
    while b - a > 1:
        k0 = key[a]
        k1 = key[(a + b) // 2]
        k2 = key[b - 1]
        pivot = max(min(k0, k1), min(max(k0, k1), k2))
        lt = a
        i = a
        gt = b
        w_less = 0.0
        w_equal = 0.0
        while i < gt:
            if key[i] < pivot:
                w_less += weight[i]
                _swap(xyz, weight, order, key, i, lt)
                lt += 1
                i += 1
            elif key[i] > pivot:
                gt -= 1
                _swap(xyz, weight, order, key, i, gt)
            else:
                w_equal += weight[i]
                i += 1
        if acc + w_less >= target:
            b = lt
        elif acc + w_less + w_equal >= target:
            acc += w_less
            for s in range(lt, gt):
                acc += weight[s]
                if acc >= target:
                    return s + 1
            return gt
        else:
            acc += w_less + w_equal
            a = gt
    if a < b and acc + weight[a] >= target:
        return a + 1
    return b


@njit(**NJIT_OPTS)
def _split(xyz, weight, order, key, lo, hi, target, stop_weight):
    """Split index giving the left part weight >= target and both parts >= stop_weight; -1 if impossible."""
    s = _weighted_select(xyz, weight, order, key, lo, hi, target)
    if s <= lo or s >= hi:
        return -1
    left = 0.0
    right = 0.0
    for k in range(lo, s):
        left += weight[k]
    for k in range(s, hi):
        right += weight[k]
    if left < stop_weight or right < stop_weight:
        return -1
    return s


@njit(**NJIT_OPTS)
def _principal_axis(cov):
    """Unit eigenvector of the largest eigenvalue of a symmetric 3x3 matrix (power iteration)."""
    axis = 0
    for d in range(1, 3):
        if cov[d, d] > cov[axis, axis]:
            axis = d
    v = np.zeros(3)
    v[axis] = 1.0
    for _ in range(_POWER_ITERATIONS):
        u = cov @ v
        norm = np.sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2])
        if norm == 0.0:
            break
        v = u / norm
    return v


@njit(**NJIT_OPTS)
def _moments(xyz, weight, lo, hi, centroid, cov):
    """Weight, weighted centroid and weighted covariance of points ``[lo, hi)`` (unweighted if weightless)."""
    ref = xyz[lo].copy()
    total = 0.0
    s1 = np.zeros(3)
    s2 = np.zeros((3, 3))
    for k in range(lo, hi):
        w = weight[k]
        total += w
    use_unit = total <= 0.0
    for k in range(lo, hi):
        w = 1.0 if use_unit else weight[k]
        for d in range(3):
            dx = xyz[k, d] - ref[d]
            s1[d] += w * dx
            for e in range(d + 1):
                s2[d, e] += w * dx * (xyz[k, e] - ref[e])
    norm = float(hi - lo) if use_unit else total
    for d in range(3):
        centroid[d] = ref[d] + s1[d] / norm
    for d in range(3):
        for e in range(d + 1):
            c = s2[d, e] / norm - (s1[d] / norm) * (s1[e] / norm)
            cov[d, e] = c
            cov[e, d] = c
    return total


@njit(**NJIT_OPTS)
def bisect_points(xyz, weight, order, stop_weight, split_share):
    """Grow a binary tree over weighted points by recursive bisection.

    Parameters
    ----------
    xyz : ndarray of float64, shape (n, 3), m
        Point positions; permuted in place.
    weight : ndarray of float64, shape (n,)
        Non-negative point weights (the flow demand each point stands for); permuted in place.
    order : ndarray of int64, shape (n,)
        Carried along the permutation (pass ``arange(n)`` to get original indices back).
    stop_weight : float
        A node is split only if both children weigh at least this much.
    split_share : ndarray of float64, shape (K,)
        Requested weight share of the left child of the k-th node (preorder), in (0, 1);
        clipped so that both children reach ``stop_weight``. ``K`` bounds the node count.

    Returns
    -------
    parent : ndarray of int64, shape (m,)
        Parent node, -1 for the root; ``parent[i] < i``.
    start, stop : ndarray of int64, shape (m,)
        Point range of each node in the permuted arrays.
    depth : ndarray of int64, shape (m,)
        Depth below the root (root 0).
    centroid : ndarray of float64, shape (m, 3), m
        Weighted centroid of each node's points (unweighted if the node weighs 0).
    node_weight : ndarray of float64, shape (m,)
        Total weight of each node's points.
    """
    n = xyz.shape[0]
    cap = split_share.shape[0]
    parent = np.empty(cap, np.int64)
    start = np.empty(cap, np.int64)
    stop = np.empty(cap, np.int64)
    depth = np.empty(cap, np.int64)
    centroid = np.empty((cap, 3))
    node_weight = np.empty(cap)
    key = np.empty(n)
    cov = np.empty((3, 3))
    # DFS stack of pending nodes: (start, stop, parent, depth); right pushed before left -> preorder.
    stack = np.empty((64, 4), np.int64)
    stack[0, 0] = 0
    stack[0, 1] = n
    stack[0, 2] = -1
    stack[0, 3] = 0
    top = 1
    m = 0
    while top > 0 and m < cap:
        top -= 1
        lo = stack[top, 0]
        hi = stack[top, 1]
        node = m
        m += 1
        parent[node] = stack[top, 2]
        depth[node] = stack[top, 3]
        start[node] = lo
        stop[node] = hi
        total = _moments(xyz, weight, lo, hi, centroid[node], cov)
        node_weight[node] = total
        if hi - lo < 2 or total < 2.0 * stop_weight or m + 2 + top > cap:
            continue
        axis = _principal_axis(cov)
        for k in range(lo, hi):
            key[k] = ((xyz[k, 0] - centroid[node, 0]) * axis[0] + (xyz[k, 1] - centroid[node, 1]) * axis[1]
                      + (xyz[k, 2] - centroid[node, 2]) * axis[2])
        least = stop_weight / total
        s = _split(xyz, weight, order, key, lo, hi, total * min(max(split_share[node], least), 1.0 - least),
                   stop_weight)
        if s < 0:
            # the drawn share cannot be met with these discrete points: try an even split
            s = _split(xyz, weight, order, key, lo, hi, 0.5 * total, stop_weight)
        if s < 0:
            continue
        if top + 2 > stack.shape[0]:
            grown = np.empty((2 * stack.shape[0], 4), np.int64)
            grown[:top] = stack[:top]
            stack = grown
        stack[top, 0] = s
        stack[top, 1] = hi
        stack[top, 2] = node
        stack[top, 3] = depth[node] + 1
        stack[top + 1, 0] = lo
        stack[top + 1, 1] = s
        stack[top + 1, 2] = node
        stack[top + 1, 3] = depth[node] + 1
        top += 2
    return parent[:m], start[:m], stop[:m], depth[:m], centroid[:m], node_weight[:m]
