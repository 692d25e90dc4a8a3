"""Numba-compiled array code: arrays and scalars in, arrays out.

Nothing here imports from the rest of :mod:`sim` (docs/architecture.md: data flow one way); the
wrappers that check inputs and convert units live outside this package.
"""
