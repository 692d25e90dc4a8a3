"""Numba options shared by every kernel (one place for ``cache``, ``nogil`` and ``fastmath``).

``NJIT_OPTS`` caches compiled code on disk and types lazily (no explicit
signatures, so nothing compiles at import). ``FASTMATH_FLAGS`` is the named
fast-math set for kernels that want it: it leaves out ``nnan`` and ``ninf`` so
that NaN and infinity checks keep working.
"""

#: Keyword arguments of every ``numba.njit`` in :mod:`sim.kernels`.
NJIT_OPTS = dict(cache=True)

#: LLVM fast-math flags without ``nnan``/``ninf``; pass as ``njit(fastmath=set(FASTMATH_FLAGS))`` (numba wants a set).
FASTMATH_FLAGS = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})
