"""Sweeps over a forest stored in preorder (``parent[i] < i``): sums up, walks down, depths, subtrees and paths.

Used by the flow calibration (:mod:`sim.flow.calibration`) to turn known
compartment demands into vessel flows and pressures in O(M).
"""

from __future__ import annotations

from numba import njit

from ._config import NJIT_OPTS


@njit(**NJIT_OPTS)
def subtree_sums(parent, values, out):
    """``out[i]`` = sum of ``values`` over the subtree rooted at ``i`` (i included).

    Parameters
    ----------
    parent : ndarray of int64, shape (M,)
        Parent node, -1 at roots, ``parent[i] < i``.
    values : ndarray of float64, shape (M,)
    out : ndarray of float64, shape (M,)
        Written; may not alias ``values``.
    """
    out[:] = values
    for i in range(parent.shape[0] - 1, -1, -1):
        p = parent[i]
        if p >= 0:
            out[p] += out[i]


@njit(**NJIT_OPTS)
def walk_pressures(parent, flow, conductance, out):
    """Top-down pressures from known vessel flows: ``out[i] = out[parent[i]] - flow[i] / conductance[i]``.

    Parameters
    ----------
    parent : ndarray of int64, shape (M,)
    flow : ndarray of float64, shape (M,), m^3/s
        Flow in the vessel parent -> i.
    conductance : ndarray of float64, shape (M,), m^3/(s Pa)
        Of that vessel, > 0.
    out : ndarray of float64, shape (M,), Pa
        Must hold the root pressures on entry; the other entries are written.
    """
    for i in range(parent.shape[0]):
        p = parent[i]
        if p >= 0:
            out[i] = out[p] - flow[i] / conductance[i]


@njit(**NJIT_OPTS)
def depths(parent, out):
    """``out[i]`` = number of vessels between node ``i`` and its subtree root (0 at roots), O(M).

    Parameters
    ----------
    parent : ndarray of int64, shape (M,)
        Parent node, -1 at roots, ``parent[i] < i``.
    out : ndarray of int64, shape (M,)
        Written.
    """
    for i in range(parent.shape[0]):
        p = parent[i]
        out[i] = out[p] + 1 if p >= 0 else 0


@njit(**NJIT_OPTS)
def spread_down(parent, mask):
    """Mark every descendant of a node marked in ``mask`` (bool, shape (M,)), in place, O(M); ``parent`` as in
    :func:`depths`."""
    for i in range(parent.shape[0]):
        p = parent[i]
        if p >= 0 and mask[p]:
            mask[i] = True


@njit(**NJIT_OPTS)
def mark_ancestors(parent, nodes, mask):
    """Mark ``nodes`` and every node on their paths up to their subtree roots, in place, O(nodes on the paths).

    Parameters
    ----------
    parent : ndarray of int64, shape (M,)
        Parent node, -1 at roots.
    nodes : ndarray of int64
    mask : ndarray of bool, shape (M,)
        Marked nodes (and their ancestors) on entry stay marked.
    """
    for n in nodes:
        while n >= 0 and not mask[n]:
            mask[n] = True
            n = parent[n]
