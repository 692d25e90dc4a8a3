"""Livers cached by their anatomy key: in memory and on disk.

A liver depends only on the scenario's ``[liver]``, ``[anatomy]``, ``[[tumours]]``
and ``[flow]`` sections (:func:`sim.sweep_spec.anatomy_key`), so a change of
catheter, agent, endpoint or portal vein thrombosis reuses it. The memory cache
keeps the last few livers of this process; the disk cache keeps pickles under the
user cache folder (``platformdirs.user_cache_dir("embosim")/livers``, or
``$EMBOSIM_CACHE_DIR/livers``), named by a hash of the anatomy key, the embosim
version and the source of the modules that build a liver (so that a changed
builder never reuses an old liver), written atomically (:func:`sim.io.atomic_write`). A file that cannot be
read (truncated, another version's classes) is rebuilt and replaced; a cache
folder that cannot be written only costs the rebuild. The folder is kept under
:data:`DISK_LIMIT_GB` (``$EMBOSIM_CACHE_MAX_GB``): after a liver is stored, the least recently used files
go first (a liver read from disk counts as used), so livers of an old embosim version or builder, which are
never read again, leave the folder in time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from .. import __version__
from ..io import atomic_write
from ..scenario import Scenario
from ..sweep_spec import anatomy_key

__all__ = ["LiverCache", "cache_dir", "disk_limit_bytes", "DISK_LIMIT_GB"]

#: Livers kept in memory (the default liver is about 125 MB).
MEMORY_LIVERS = 3
#: Environment variable that moves the disk cache (tests, CI).
CACHE_ENV = "EMBOSIM_CACHE_DIR"
#: Largest size of the disk cache, GB (numerical choice: about 16 default livers of 125 MB).
DISK_LIMIT_GB = 2.0
#: Environment variable that sets the disk cache's largest size, GB.
CACHE_LIMIT_ENV = "EMBOSIM_CACHE_MAX_GB"


def disk_limit_bytes() -> float:
    """The disk cache's largest size, bytes: ``$EMBOSIM_CACHE_MAX_GB`` (``inf``: no limit) or :data:`DISK_LIMIT_GB`
    (a value that is not a positive number, 0 included, is ignored: the cache is a convenience, never a reason to
    fail)."""
    try:
        gb = float(os.environ.get(CACHE_LIMIT_ENV, DISK_LIMIT_GB))
    except ValueError:
        gb = DISK_LIMIT_GB
    return (gb if gb > 0 and gb == gb else DISK_LIMIT_GB) * 1e9


def cache_dir() -> Path:
    """The folder of the disk cache: ``$EMBOSIM_CACHE_DIR/livers`` or the user cache folder's ``livers``."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("embosim", appauthor=False)
    return Path(root) / "livers"


@functools.cache
def builder_fingerprint() -> str:
    """SHA-256 of the source of the modules that build a liver (sim/anatomy, the compiled arrays, the kernels)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted([*root.glob("anatomy/*.py"), *root.glob("kernels/*.py"), root / "network.py",
                        root / "scenario.py"]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


class LiverCache:
    """Built livers by anatomy key, in memory (least recently used first out) and on disk.

    Parameters
    ----------
    folder : Path, optional
        Disk cache folder (default :func:`cache_dir`); None with ``disk=False`` keeps memory only.
    disk : bool
        Use the disk cache.
    build : callable, optional
        ``build(scenario) -> Liver`` (default :func:`sim.anatomy.build_liver`).
    """

    def __init__(self, folder: Path | None = None, *, disk: bool = True, build: Callable | None = None):
        self.folder = (folder or cache_dir()) if disk else None
        self._build = build
        self._memory: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(scenario: Scenario) -> str:
        """File stem of a scenario's liver: SHA-256 of the anatomy key, the embosim version and the builder's source."""
        text = f"{__version__}\n{builder_fingerprint()}\n{anatomy_key(scenario)}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def cached(self, scenario: Scenario) -> bool:
        """Whether the liver of ``scenario`` is in memory or on disk (no build needed)."""
        key = self.key(scenario)
        return key in self._memory or (self.folder is not None and (self.folder / f"{key}.pickle").is_file())

    def get(self, scenario: Scenario):
        """The liver of ``scenario``: from memory, else from disk, else built (and stored in both)."""
        key = self.key(scenario)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
            liver = self._load(key)
            if liver is None:
                liver = self._make(scenario)
                self._store(key, liver)
            self._memory[key] = liver
            while len(self._memory) > MEMORY_LIVERS:
                self._memory.popitem(last=False)
            return liver

    def _make(self, scenario: Scenario):
        if self._build is not None:
            return self._build(scenario)
        from ..anatomy import build_liver

        return build_liver(scenario, check_catheter=False)  # (shared by catheter positions: each run checks its own)

    def _load(self, key: str):
        if self.folder is None:
            return None
        path = self.folder / f"{key}.pickle"
        try:
            with path.open("rb") as handle:
                liver = pickle.load(handle)
            with contextlib.suppress(OSError):  # used now: the last file the size limit removes
                os.utime(path)
            return liver
        except FileNotFoundError:
            return None
        except Exception:  # a truncated or stale file: rebuild and replace it
            return None

    def _store(self, key: str, liver) -> None:
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_write(self.folder / f"{key}.pickle") as tmp, tmp.open("wb") as handle:
                pickle.dump(liver, handle, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError:  # an unwritable cache folder costs only the rebuild next time
            return
        self._prune(keep=self.folder / f"{key}.pickle")

    def _prune(self, keep: Path) -> None:
        """Remove the least recently used livers until the folder is under :func:`disk_limit_bytes` (never ``keep``,
        the liver just stored)."""
        files = []
        for path in self.folder.glob("*.pickle"):
            with contextlib.suppress(OSError):  # (another process may remove it meanwhile)
                stat = path.stat()
                files.append((stat.st_mtime, stat.st_size, path))
        total, limit = sum(size for _, size, _ in files), disk_limit_bytes()
        for _, size, path in sorted(files):
            if total <= limit:
                break
            if path != keep:
                with contextlib.suppress(OSError):
                    path.unlink()
                    total -= size
