"""Sweeps over a forest stored in preorder (``parent[i] < i``): sums up, walks down.

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
