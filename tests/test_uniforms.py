"""``random_into``: numpy's ``Generator.random`` numbers, to the bit, and the generator left where numpy leaves it."""

import numpy as np
import pytest

from sim.kernels import uniforms
from sim.kernels.uniforms import random_into


@pytest.fixture(autouse=True)
def every_draw_by_the_kernel(monkeypatch):
    """The kernel draws even the smallest buffers here (in a run, fewer than ``MIN_DRAW`` numbers are numpy's)."""
    monkeypatch.setattr(uniforms, "MIN_DRAW", 0)


@pytest.mark.parametrize("seed", [0, 12345, 2**63 + 7])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 1001, 100_003])
def test_same_numbers_and_state_as_numpy(seed, n):
    ours, numpys = (np.random.default_rng(seed).spawn(3)[1] for _ in range(2))
    got, want = np.full(n, -1.0), np.full(n, -2.0)
    random_into(ours, got)
    numpys.random(out=want)
    assert got.tobytes() == want.tobytes()
    assert ours.bit_generator.state == numpys.bit_generator.state
    assert ours.random(5).tobytes() == numpys.random(5).tobytes()  # and the stream goes on alike


def test_pieces_give_one_draw_and_a_2d_buffer_is_filled_in_row_order():
    ours, numpys = np.random.default_rng(3), np.random.default_rng(3)
    rows = np.empty((37, 91))
    random_into(ours, rows[:5])
    random_into(ours, rows[5:6])
    random_into(ours, rows[6:])
    assert rows.tobytes() == numpys.random((37, 91)).tobytes()


def test_the_32_bit_half_numpy_keeps_is_kept():
    ours, numpys = np.random.default_rng(9), np.random.default_rng(9)
    for g in (ours, numpys):
        g.integers(0, 2**32, dtype=np.uint32)  # leaves half of a 64-bit draw in the bit generator
    random_into(ours, got := np.empty(10))
    assert got.tobytes() == numpys.random(10).tobytes()
    assert ours.integers(0, 2**32, dtype=np.uint32) == numpys.integers(0, 2**32, dtype=np.uint32)


def test_other_bit_generators_are_drawn_by_numpy_and_a_strided_buffer_refused_as_numpy_does():
    for make in (lambda: np.random.Generator(np.random.Philox(4)), lambda: np.random.Generator(np.random.PCG64DXSM(4))):
        ours, numpys = make(), make()
        random_into(ours, got := np.empty((6, 4)))
        assert got.tobytes() == numpys.random((6, 4)).tobytes()
    with pytest.raises(ValueError, match="contiguous"):
        random_into(np.random.default_rng(4), np.empty((6, 8))[:, ::2])


def test_small_draws_are_numpys_and_mix_with_the_kernels(monkeypatch):
    monkeypatch.setattr(uniforms, "MIN_DRAW", 1000)
    calls = []
    real = uniforms.fill_pcg64
    monkeypatch.setattr(uniforms, "fill_pcg64", lambda *a: calls.append(a[0].size) or real(*a))
    ours = np.random.default_rng(5)
    got = np.empty(3000)
    for lo, hi in ((0, 10), (10, 1500), (1500, 1501), (1501, 3000)):
        random_into(ours, got[lo:hi])
    assert calls == [1490, 1499]
    assert got.tobytes() == np.random.default_rng(5).random(3000).tobytes()


@pytest.mark.parametrize("seed", [1, 2**64 + 3])
def test_jumps_reach_numpys_numbers_anywhere_in_the_stream(seed):
    """``path_randoms``/``jump``/``uniform_of``: number k of the rows is the state stepped k + 1 times, any k, jumps
    longer than the table's included; the generator itself is not advanced."""
    from numba import njit

    @njit
    def numbers_at(state, jumps, positions):
        hi, lo = state[0], state[1]
        out = np.empty(positions.size)
        at = -1
        for i in range(positions.size):
            hi, lo = uniforms.jump(hi, lo, jumps, positions[i] - at)
            at = positions[i]
            out[i] = uniforms.uniform_of(hi, lo)
        return out

    width = 9
    generator = np.random.default_rng(seed).spawn(2)[1]
    before = generator.bit_generator.state
    rows = uniforms.path_randoms(generator, width)
    assert generator.bit_generator.state == before and rows.width == width
    positions = np.array([0, 1, 2, 8, 9, 17, 18, 60, 61, 62, 500, 501, 999])
    want = np.random.default_rng(seed).spawn(2)[1].random(1000)[positions]
    assert numbers_at(rows.state, rows.jumps, positions).tobytes() == want.tobytes()
    assert uniforms.path_randoms(np.random.Generator(np.random.Philox(1)), width) is None
