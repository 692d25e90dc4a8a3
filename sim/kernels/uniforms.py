"""``random_into(generator, out)``: ``generator.random(out=out)``, the same numbers drawn faster for PCG64.

numpy's default bit generator, PCG64, steps a 128-bit linear congruential state
``s' = a s + c (mod 2^128)`` and turns each new state into 64 bits (XSL-RR: the
high and low halves xor-ed, rotated right by the top six bits); ``Generator.random``
makes a double of the top 53 of them, ``(x >> 11) 2^-53`` (numpy's ``pcg64.h``). numpy calls
the bit generator through a function pointer for every number (about 2.2 ns each
here). This kernel draws the same numbers in four interleaved lanes: lane j holds
the state of number k + j and jumps four numbers at a time (``a^4``,
``c (1 + a + a^2 + a^3)``), so the four 128-bit multiplications overlap instead of
waiting on each other (about 1.4 ns each). Every number is the one numpy draws, to
the bit, and the generator is left where numpy's draw leaves it (tests/test_uniforms.py).
Any other bit generator is drawn by numpy itself.

The procedure's particles read one number per step of their walk from a row of about 90
(one per possible step): tens of millions of rows' numbers per run, most never read. With
a PCG64 generator the transport kernel generates the numbers it reads where it reads them
(:class:`PathRandoms`): number k of the stream is the state stepped k + 1 times, and any
number of steps is one jump (``a_d s + c_d``, the constants of d steps tabulated), so
the numbers are numpy's, to the bit, without drawing the rest.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ._config import NJIT_OPTS

__all__ = ["random_into", "PathRandoms", "path_randoms", "drawn_rows", "jump", "uniform_of"]

#: PCG64's multiplier (numpy's ``PCG_DEFAULT_MULTIPLIER_128``).
MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645
_MASK128, _MASK64 = (1 << 128) - 1, (1 << 64) - 1
#: Interleaved lanes (numerical choice: four hide the multiplication's latency; speed only).
LANES = 4
#: Fewest numbers drawn by the kernel (numerical choice, speed only): reading and writing the generator's
#: state costs about 13 us, what numpy takes for about 4,000 numbers; smaller draws are numpy's (the same numbers).
MIN_DRAW = 8192


@intrinsic
def _mulhi(typingctx, a, b):
    """High 64 bits of the 128-bit product of two uint64 (one ``mul`` on x86-64)."""
    if not (a == types.uint64 and b == types.uint64):
        return None

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        return builder.trunc(builder.lshr(product, ir.Constant(i128, 64)), ir.IntType(64))

    return types.uint64(types.uint64, types.uint64), codegen


@njit(inline="always", **NJIT_OPTS)
def _step(hi, lo, a_hi, a_lo, c_hi, c_lo):
    """(hi, lo) of ``a s + c (mod 2^128)`` for the state s = (hi, lo)."""
    low = lo * a_lo
    high = _mulhi(lo, a_lo) + lo * a_hi + hi * a_lo
    lo = low + c_lo
    return high + c_hi + (np.uint64(1) if lo < low else np.uint64(0)), lo


@njit(inline="always", **NJIT_OPTS)
def _double(hi, lo):
    """The double in [0, 1) that ``Generator.random`` makes of the state (hi, lo): XSL-RR output, top 53 bits."""
    rot = hi >> np.uint64(58)
    x = hi ^ lo
    x = (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))
    return np.int64(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)  # < 2^53: exact as a signed integer


@njit(**NJIT_OPTS)
def fill_pcg64(out, hi, lo, m_hi, m_lo, inc_hi, inc_lo, a_hi, a_lo, c_hi, c_lo):
    """Fill ``out`` (float64, 1-d) with the next numbers of the PCG64 state (hi, lo); returns the state after them.

    (m, inc): the generator's one-step multiplier and increment; (a, c): four steps at once.
    """
    n = out.shape[0]
    last_hi, last_lo = hi, lo
    h0, l0 = _step(hi, lo, m_hi, m_lo, inc_hi, inc_lo)
    h1, l1 = _step(h0, l0, m_hi, m_lo, inc_hi, inc_lo)
    h2, l2 = _step(h1, l1, m_hi, m_lo, inc_hi, inc_lo)
    h3, l3 = _step(h2, l2, m_hi, m_lo, inc_hi, inc_lo)
    k = 0
    while k + LANES <= n:
        out[k] = _double(h0, l0)
        out[k + 1] = _double(h1, l1)
        out[k + 2] = _double(h2, l2)
        out[k + 3] = _double(h3, l3)
        last_hi, last_lo = h3, l3
        h0, l0 = _step(h0, l0, a_hi, a_lo, c_hi, c_lo)
        h1, l1 = _step(h1, l1, a_hi, a_lo, c_hi, c_lo)
        h2, l2 = _step(h2, l2, a_hi, a_lo, c_hi, c_lo)
        h3, l3 = _step(h3, l3, a_hi, a_lo, c_hi, c_lo)
        k += LANES
    if k < n:
        out[k] = _double(h0, l0)
        last_hi, last_lo = h0, l0
    if k + 1 < n:
        out[k + 1] = _double(h1, l1)
        last_hi, last_lo = h1, l1
    if k + 2 < n:
        out[k + 2] = _double(h2, l2)
        last_hi, last_lo = h2, l2
    return last_hi, last_lo


def _halves(x: int) -> tuple[np.uint64, np.uint64]:
    return np.uint64(x >> 64), np.uint64(x & _MASK64)


def _jumps(increment: int, steps: int) -> list[tuple[int, int]]:
    """(a, c) of d PCG64 steps at once for d = 0 .. ``steps``: a = m^d, c = increment (1 + m + ... + m^(d-1)), mod 2^128."""
    a, c = 1, 0
    out = [(a, c)]
    for _ in range(steps):
        a, c = (a * MULTIPLIER) & _MASK128, (c * MULTIPLIER + increment) & _MASK128
        out.append((a, c))
    return out


def random_into(generator: np.random.Generator, out: np.ndarray) -> None:
    """``generator.random(out=out)``: the same numbers in ``out`` (float64, C-contiguous), the generator advanced alike.

    A PCG64 generator is drawn by :func:`fill_pcg64` (at least ``MIN_DRAW`` numbers); any other, and fewer
    numbers, by numpy.
    """
    bits = generator.bit_generator
    if (type(bits) is not np.random.PCG64 or out.size < MIN_DRAW or out.dtype != np.float64
            or not out.flags.c_contiguous):
        generator.random(out=out)
        return
    state = bits.state
    increment = state["state"]["inc"]
    hi, lo = fill_pcg64(out.reshape(-1), *_halves(state["state"]["state"]), *_halves(MULTIPLIER),
                        *_halves(increment), *(half for x in _jumps(increment, LANES)[-1] for half in _halves(x)))
    state["state"]["state"] = (int(hi) << 64) | int(lo)
    bits.state = state  # its cached 32-bit half (has_uint32), which random() does not use, kept


class PathRandoms(NamedTuple):
    """The uniform numbers of the particles' paths: row r (the r-th particle from here) holds ``width`` numbers, one
    per possible step, the rows consecutive numbers of one stream (as ``Generator.random((rows, width))``).

    Either drawn beforehand (``table``; any bit generator) or generated by the kernel where it reads them from
    a PCG64 state (``state``), the same numbers.

    Attributes
    ----------
    table : float64 (rows, width)
        Drawn rows; (0, width) when generated.
    state : uint64 (2,)
        PCG64 state (high, low 64 bits) just before row 0's first number; the kernel leaves it just before the
        first row it did not use. (0,) when drawn.
    jumps : uint64 (width + 1, 4)
        (a high, a low, c high, c low) of d steps at once, d = 0 .. width (:func:`jump`); zeros when drawn.
    """

    table: np.ndarray
    state: np.ndarray
    jumps: np.ndarray

    @property
    def width(self) -> int:
        """Numbers per row."""
        return self.table.shape[1]


def path_randoms(generator: np.random.Generator, width: int) -> PathRandoms | None:
    """Rows of ``width`` numbers generated where the kernel reads them, starting at the generator's next number;
    None unless the generator is numpy's PCG64 (then draw them: :func:`drawn_rows`).

    The generator itself is not advanced: the returned ``state`` is.
    """
    bits = generator.bit_generator
    if type(bits) is not np.random.PCG64:
        return None
    state = bits.state["state"]
    increment = state["inc"]
    jumps = np.array([(*_halves(a), *_halves(c)) for a, c in _jumps(increment, width)], np.uint64)
    return PathRandoms(table=np.empty((0, width)), state=np.array(_halves(state["state"]), np.uint64), jumps=jumps)


def drawn_rows(table: np.ndarray) -> PathRandoms:
    """Rows drawn beforehand (float64, (rows, width))."""
    return PathRandoms(table=table, state=np.empty(0, np.uint64), jumps=np.zeros((table.shape[1] + 1, 4), np.uint64))


@njit(inline="always", **NJIT_OPTS)
def jump(hi, lo, jumps, steps):
    """The PCG64 state (hi, lo) stepped ``steps`` times (0 <= steps, any number: jumps of at most the table's)."""
    longest = jumps.shape[0] - 1
    while steps > longest:
        hi, lo = _step(hi, lo, jumps[longest, 0], jumps[longest, 1], jumps[longest, 2], jumps[longest, 3])
        steps -= longest
    return _step(hi, lo, jumps[steps, 0], jumps[steps, 1], jumps[steps, 2], jumps[steps, 3])


@njit(inline="always", **NJIT_OPTS)
def uniform_of(hi, lo):
    """The number in [0, 1) ``Generator.random`` makes of the PCG64 state (hi, lo) it has just stepped to."""
    return _double(hi, lo)
