"""Numba-compiled array code: arrays and scalars in, arrays out.

Nothing here imports from the rest of :mod:`sim` (docs/architecture.md: data flow one way); the
wrappers that check inputs and convert units live outside this package.

The on-disk cache of a compiled kernel is stamped with a digest of every source file of this
package (:func:`source_stamp`), not only the file that defines it, which is all Numba checks:
the kernels inline helpers from their neighbours (``transport`` inlines ``embolic_load``'s
rules, for one), so after an edit of a helper alone, or a ``git pull`` that changed only it,
Numba would load the old machine code and give the old results without a word (found on
2026-12-06, when a change to ``column_porosity`` left the transport kernel's results unchanged
until the cache was deleted). Numba's own cache locators are kept (the folder, a user's
``NUMBA_CACHE_DIR``, the fallbacks); for this package's files alone they stamp with the digest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def source_stamp() -> str:
    """A digest of every source file of this package (16 hex digits): it changes with any edit of a kernel."""
    digest = hashlib.sha256()
    for path in sorted(_HERE.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def is_cached(kernel) -> bool:
    """Whether ``kernel`` (a cached Numba dispatcher of this package) has machine code in its on-disk cache under
    the current :func:`source_stamp`: False before the first run after installing, or after an edit of any kernel
    source, when calling it compiles first. True where Numba's cache cannot be inspected (its internals changed)."""
    load_index = getattr(getattr(getattr(kernel, "_cache", None), "_cache_file", None), "_load_index", None)
    return bool(load_index()) if load_index is not None else True


def _stamp_kernel_caches() -> None:
    """Put, ahead of Numba's cache locators, the same locators restricted to this package's files and stamping
    their caches with :func:`source_stamp` (an index written under another stamp is stale: Numba compiles afresh
    and overwrites it). Other libraries' functions fall through to Numba's own locators."""
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # (the underscore names before numba 0.60)
    names = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
    bases = [getattr(caching, name, None) or getattr(caching, "_" + name) for name in names]
    stamp = source_stamp()
    ours = []
    for base in bases:
        class KernelSourcesLocator(base):
            @classmethod
            def from_function(cls, py_func, py_file):
                if Path(py_file).resolve().parent != _HERE:
                    return None
                return super().from_function(py_func, py_file)

            def get_source_stamp(self):
                return stamp

        KernelSourcesLocator.__name__ = KernelSourcesLocator.__qualname__ = "KernelSources" + base.__name__.lstrip("_")
        ours.append(KernelSourcesLocator)
    theirs = [k for k in impl._locator_classes if not k.__name__.startswith("KernelSources")]
    impl._locator_classes = [*ours, *theirs]


_stamp_kernel_caches()
