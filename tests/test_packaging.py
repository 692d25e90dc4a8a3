"""Packaging (issue 14): the wheel carries the scenarios, sweep specs and validation suite inside ``sim``.

``scenarios/`` and ``validation/`` stay at the repository's top level; pyproject.toml
maps them to ``sim/scenarios/`` (package data) and ``sim.validation``. The wheel's
runtime (console script from another folder) is exercised by ``.ci/run``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_sim_package_is_listed_in_pyproject():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sim").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
    mapped = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert mapped == {"sim.validation": "validation", "sim.scenarios": "scenarios", "sim.docs": "docs"}


def test_validation_is_imported_as_a_subpackage_only():
    import sim.validation
    import sim.validation.runner

    assert Path(sim.validation.__file__).resolve() == ROOT / "validation" / "__init__.py"
    assert "validation" not in sys.modules and "scenarios" not in sys.modules
    for path in [*(ROOT / "sim").rglob("*.py"), *(ROOT / "validation").glob("*.py"), *(ROOT / "tests").glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) (validation|scenarios)\b", text, re.M), path
        assert "sys.path.insert" not in text or path.name == "test_packaging.py", path


@pytest.mark.slow
def test_plain_pytest_collects_from_the_repository_root():
    """``pytest`` (the console script: no current directory on sys.path) collects every test module."""
    exe = Path(sys.executable).with_name("pytest")
    if not exe.exists():
        pytest.skip("no pytest console script beside this interpreter")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(exe), "--collect-only", "-q", "-p", "no:cacheprovider"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "error" not in proc.stdout.splitlines()[-1].lower()


def _copy_source(dest: Path) -> Path:
    """The files a clean clone has (no .venv, build/ or egg-info), so that nothing stale enters the wheel."""
    ignore = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                    ".hypothesis", "*.nbi", "*.nbc")
    src = dest / "src"
    shutil.copytree(ROOT, src, ignore=ignore)
    return src


@pytest.mark.slow
def test_wheel_carries_scenarios_sweeps_and_validation_inside_sim(tmp_path):
    pytest.importorskip("build")
    src = _copy_source(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("embosim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    top = {n.split("/")[0] for n in names}
    assert top == {"sim", next(t for t in top if t.endswith(".dist-info"))}, top
    for scenario in (ROOT / "scenarios").glob("*.toml"):
        assert f"sim/scenarios/{scenario.name}" in names
    sweeps = list((ROOT / "scenarios" / "sweeps").glob("*.toml"))
    assert sweeps and all(f"sim/scenarios/sweeps/{s.name}" in names for s in sweeps)
    for case in (ROOT / "validation").glob("*.py"):
        assert f"sim/validation/{case.name}" in names
    for module in (ROOT / "sim").rglob("*.py"):
        assert module.relative_to(ROOT).as_posix() in names
    assert "sim/references.bib" in names
    pages = list((ROOT / "docs").glob("*.md"))  # what `embosim docs` and the messages name
    assert pages and all(f"sim/docs/{p.name}" in names for p in pages)
    assert not any(n.startswith("sim/docs/") and not n.endswith(".md") for n in names)  # no figures, no data
    cases = list((ROOT / "sim" / "explore" / "cases").glob("*.toml"))
    assert cases and all(f"sim/explore/cases/{c.name}" in names for c in cases)
