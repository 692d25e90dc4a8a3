"""Numba-compiled array code: arrays and scalars in, arrays out.

Nothing here imports from the rest of :mod:`sim` (docs/architecture.md: data flow one way); the
wrappers that check inputs and convert units live outside this package.

The on-disk cache of compiled kernels is kept per version of this package's sources
(:func:`kernel_cache_dir`). Numba checks only the file that defines a cached function, but the
kernels inline helpers from their neighbours (``transport`` inlines ``embolic_load``'s rules,
for one): after an edit of a helper alone, or a ``git pull`` that changed only it, Numba would
load the old machine code and give the old results without a word (found on 2026-12-06, when a
change to ``column_porosity`` left the transport kernel's results unchanged until the cache was
deleted). Setting the cache folder before any kernel module is imported makes a changed source
compile afresh.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

#: Prefix of the per-source-version cache folders.
CACHE_PREFIX = "embosim-kernels-"


def source_stamp() -> str:
    """A digest of every source file of this package (16 hex digits): it changes with any edit of a kernel."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def kernel_cache_dir(stamp: str) -> Path:
    """Numba's cache folder for the sources of ``stamp``.

    ``$NUMBA_CACHE_DIR/embosim-kernels-<stamp>`` when the user set ``NUMBA_CACHE_DIR`` (a folder it
    already names is kept: worker processes inherit it); else this package's ``__pycache__`` when it
    is writable (an editable install, a checkout); else ``$XDG_CACHE_HOME/embosim`` (``~/.cache``).
    """
    name = CACHE_PREFIX + stamp
    given = os.environ.get("NUMBA_CACHE_DIR")
    if given:
        return Path(given) if Path(given).name == name else Path(given) / name
    pycache = Path(__file__).parent / "__pycache__"
    if os.access(pycache if pycache.exists() else pycache.parent, os.W_OK):
        return pycache / name
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "embosim" / name


def _use_cache_dir() -> None:
    """Point Numba at :func:`kernel_cache_dir` (before the kernel modules compile anything) and delete the
    in-tree caches of other source versions untouched for a day (a process of another version may still be using
    a younger one) and those Numba wrote beside the sources before (no version in their place)."""
    folder = kernel_cache_dir(source_stamp())
    os.environ["NUMBA_CACHE_DIR"] = str(folder)  # read when numba is imported (and by worker processes)
    if "numba" in sys.modules:  # imported already: its configuration took the variable then
        from numba.core import config

        config.CACHE_DIR = str(folder)
    pycache = Path(__file__).parent / "__pycache__"
    if folder.parent == pycache:
        day_ago = time.time() - 86400.0
        for old in pycache.glob(CACHE_PREFIX + "*"):
            if old != folder and old.stat().st_mtime < day_ago:
                shutil.rmtree(old, ignore_errors=True)
        for stale in pycache.glob("*.nb[ic]"):
            stale.unlink(missing_ok=True)


_use_cache_dir()
