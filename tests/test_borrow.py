"""``sim.kernels._borrow.borrowed``: views without reference counts read and write the very arrays they borrow."""

from typing import NamedTuple

import numpy as np
from numba import njit

from sim.kernels._borrow import borrowed


class Pair(NamedTuple):
    values: np.ndarray
    table: np.ndarray
    scale: float


@njit
def _add_through_borrowed(pair, nested):
    pair, nested = borrowed((pair, nested))
    inner, counts = nested
    for i in range(pair.values.shape[0]):
        pair.values[i] += pair.scale * pair.table[i, 1]
        counts[i] += 1
    column = pair.table[:, 1]  # a slice of a borrowed array is a view too
    column[0] = -1.0
    return pair.values.sum() + inner.sum(), pair.table.shape[1], pair.scale


def test_borrowed_views_share_data_shapes_and_numbers():
    pair = Pair(values=np.zeros(5), table=np.arange(10.0).reshape(5, 2), scale=2.0)
    inner, counts = np.ones(3), np.zeros(5, np.int64)
    total, columns, scale = _add_through_borrowed(pair, (inner, counts))
    np.testing.assert_array_equal(pair.values, [2.0, 6.0, 10.0, 14.0, 18.0])
    np.testing.assert_array_equal(counts, np.ones(5))
    assert pair.table[0, 1] == -1.0 and total == 53.0 and columns == 2 and scale == 2.0
