"""``import sim`` (and the CLI module) stays light: no numba, scipy, matplotlib, networkx, pandas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numba", "scipy", "matplotlib", "networkx", "pandas")


def _heavy_modules_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("statement", [
    "import sim",
    "import sim; sim.load_scenario(sim.default_scenario_path())",
    "import sim.cli",
])
def test_import_loads_no_heavy_module(statement):
    assert _heavy_modules_after(statement) == []


def test_the_check_sees_heavy_imports():
    assert _heavy_modules_after("import sim, json.decoder, networkx") == ["networkx"]


def test_public_names():
    import sim

    assert sim.__version__
    assert {"load_scenario", "build_liver", "solve_flow", "run", "Scenario", "ScenarioError"} <= set(dir(sim))
    with pytest.raises(AttributeError):
        sim.no_such_name  # noqa: B018
