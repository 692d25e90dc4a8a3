"""The compiled kernels' cache follows their sources: an edit of any kernel module moves it (Numba alone checks
only the file that defines a function, not the helpers it inlines from its neighbours)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import sim.kernels

PACKAGE = Path(sim.kernels.__file__).resolve().parents[1]

PROBE = "import os, sim.kernels as k; print(k.kernel_cache_dir(k.source_stamp()), os.environ['NUMBA_CACHE_DIR'])"


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(PACKAGE, root / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _probe(root: Path, **env) -> tuple[str, str]:
    environ = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=root, env={**environ, "PYTHONPATH": str(root), **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0], out[1]


def test_an_edit_of_an_inlined_helper_moves_the_cache(tmp_path):
    root = _copy(tmp_path)
    before, exported = _probe(root)
    assert before == exported and Path(before).parent == root / "sim" / "kernels" / "__pycache__"
    helper = root / "sim" / "kernels" / "embolic_load.py"  # transport and batch_load inline its rules
    helper.write_text(helper.read_text() + "\n# edited\n")
    after, _ = _probe(root)
    assert after != before and Path(after).name.startswith(sim.kernels.CACHE_PREFIX)


def test_a_user_cache_folder_gets_a_version_folder_and_workers_keep_it(tmp_path):
    root = _copy(tmp_path)
    folder, exported = _probe(root, NUMBA_CACHE_DIR=str(tmp_path / "shared"))
    assert Path(folder).parent == tmp_path / "shared" and folder == exported
    again, _ = _probe(root, NUMBA_CACHE_DIR=folder)  # a worker process inherits the parent's variable
    assert again == folder


def test_this_process_compiles_into_the_versioned_folder():
    from numba.core import config

    assert Path(config.CACHE_DIR).name == sim.kernels.CACHE_PREFIX + sim.kernels.source_stamp()
