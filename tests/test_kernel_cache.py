"""The compiled kernels' cache follows all their sources: an edit of a helper that another kernel inlines recompiles
that kernel (Numba alone checks only the file that defines a function, and would load the old machine code)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import sim.kernels

PACKAGE = Path(sim.kernels.__file__).resolve().parents[1]

#: A helper inlined across modules, as embolic_load's rules are into transport.
HELPER = """from numba import njit
from ._config import NJIT_OPTS


@njit(inline="always", **NJIT_OPTS)
def porosity(x):
    return 0.4 * x
"""
CALLER = """from numba import njit
from ._config import NJIT_OPTS
from ._probe_helper import porosity


@njit(**NJIT_OPTS)
def column(x):
    return porosity(x) + 1.0
"""
RUN = "import sim.kernels._probe_caller as c; print(c.column(1.0), sum(c.column.stats.cache_hits.values()))"


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(PACKAGE, root / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    kernels = root / "sim" / "kernels"
    (kernels / "_probe_helper.py").write_text(HELPER)
    (kernels / "_probe_caller.py").write_text(CALLER)
    return root


def _run(root: Path, **env) -> tuple[float, int]:
    environ = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", RUN], cwd=root, env={**environ, "PYTHONPATH": str(root), **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1])  # value, signatures loaded from the cache


def test_an_edit_of_an_inlined_helper_alone_recompiles_its_caller(tmp_path):
    root = _tree(tmp_path)
    assert _run(root) == (1.4, 0)  # compiled and cached
    assert _run(root) == (1.4, 1)  # loaded from the cache
    helper = root / "sim" / "kernels" / "_probe_helper.py"
    helper.write_text(HELPER.replace("0.4 * x", "0.5 * x"))  # the caller's file is untouched
    assert _run(root) == (1.5, 0)  # Numba alone gave 1.4 from the stale cache
    assert _run(root) == (1.5, 1)


def test_is_cached_tells_a_first_run_and_an_edit_from_a_cached_kernel(tmp_path):
    """``sim.kernels.is_cached``, which the CLI asks before a run to say that it will compile first."""
    root = _tree(tmp_path)
    probe = "import sim.kernels as k, sim.kernels._probe_caller as c; print(k.is_cached(c.column))"

    def cached() -> bool:
        environ = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
        out = subprocess.run([sys.executable, "-c", probe], cwd=root, env={**environ, "PYTHONPATH": str(root)},
                             capture_output=True, text=True, check=True).stdout.split()
        return {"True": True, "False": False}[out[-1]]

    assert not cached()  # never compiled here
    _run(root)
    assert cached()
    (root / "sim" / "kernels" / "_probe_helper.py").write_text(HELPER.replace("0.4 * x", "0.7 * x"))
    assert not cached()  # an edit of any kernel source: its cache is stale


def test_a_user_cache_folder_is_stamped_too(tmp_path):
    root = _tree(tmp_path)
    shared = tmp_path / "shared"
    assert _run(root, NUMBA_CACHE_DIR=str(shared)) == (1.4, 0)
    assert list(shared.rglob("*.nbi")) and not list((root / "sim" / "kernels").rglob("*.nbi"))
    helper = root / "sim" / "kernels" / "_probe_helper.py"
    helper.write_text(HELPER.replace("0.4 * x", "0.6 * x"))
    assert _run(root, NUMBA_CACHE_DIR=str(shared)) == (1.6, 0)


def test_only_this_package_is_stamped():
    from numba import njit
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    locators = [k.__name__ for k in impl._locator_classes]
    assert locators[:3] == ["KernelSourcesUserProvidedCacheLocator", "KernelSourcesInTreeCacheLocator",
                            "KernelSourcesUserWideCacheLocator"]
    from sim.kernels import embolic_load

    assert embolic_load.load_vessel._cache._impl.locator.get_source_stamp() == sim.kernels.source_stamp()
    other = njit(cache=True)(lambda x: x)  # a function of another module keeps Numba's own locator and stamp
    assert not type(other._cache._impl.locator).__name__.startswith("KernelSources")
