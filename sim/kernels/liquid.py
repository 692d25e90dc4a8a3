"""Array code of the liquid-embolic (Lipiodol) transport: top-down sums along a preorder forest.

A liquid that enters the portal vein at a pedicle node (through the peribiliary
plexus) is carried down the portal tree with the portal flow; the share reaching
each portal terminal is the sum, over the terminal's ancestors, of what entered
there per unit of the portal flow through that ancestor. :func:`sums_down`
computes those prefix sums in one preorder pass, O(M).
"""

from __future__ import annotations

from numba import njit

from ._config import NJIT_OPTS


@njit(**NJIT_OPTS)
def sums_down(parent, values, out):
    """``out[i]`` = sum of ``values`` over ``i`` and its ancestors (``parent[i] < i``, -1 at roots).

    Parameters
    ----------
    parent : ndarray of int64, shape (M,)
    values : ndarray of float64, shape (M,)
    out : ndarray of float64, shape (M,)
        Written; may alias ``values``.
    """
    for i in range(parent.shape[0]):
        p = parent[i]
        out[i] = values[i] + (out[p] if p >= 0 else 0.0)
