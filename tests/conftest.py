"""Shared fixtures: scenario files written on the fly, the bad-input cases, and the command-line runner; with
several pytest-xdist workers, the Numba kernels compiled once before they start (:func:`pytest_configure`)."""

from __future__ import annotations

import contextlib
import functools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner


def pytest_configure(config):
    """In pytest-xdist's controller of two or more workers: compile the kernels into Numba's disk cache first
    (``tests/compile_kernels.py``, in a process of its own), so that the workers load them instead of each
    compiling them at the same time. A failure there only costs the workers the compile (the tests then show
    any real error)."""
    option = config.option
    workers = min(getattr(option, "numprocesses", None) or 0, getattr(option, "maxprocesses", None) or 1 << 30)
    if hasattr(config, "workerinput") or workers < 2 or option.collectonly or option.help:
        return
    say = functools.partial(_say, config)
    say("compiling the Numba kernels once before the workers start (tests/compile_kernels.py: a few minutes on a "
        "fresh checkout, seconds once they are cached)")
    script = Path(__file__).with_name("compile_kernels.py")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    say(done.stdout.strip() if done.returncode == 0 else (
        f"tests/compile_kernels.py failed (exit {done.returncode}); the workers compile the kernels:\n"
        f"{done.stderr[-2000:]}"))


def _say(config, message: str) -> None:
    """Print ``message`` to the terminal at configure time (pytest's capture would hide it)."""
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(message, file=sys.stderr, flush=True)


#: Test files that take longest (a few minutes of CPU each, measured in CI): with several workers they are
#: handed out first, so that no worker is left alone with one of them at the end.
LONGEST_FILES = ("test_validation.py", "test_figures.py", "test_sweep.py", "test_strategies.py", "test_explore.py",
                 "test_explore_browser.py")


def pytest_collection_modifyitems(config, items):
    """In a pytest-xdist worker: the :data:`LONGEST_FILES` first (every worker collects the same order, which
    the controller hands out file by file as collected with ``--no-loadscope-reorder``; without it, xdist
    hands out the files with most tests first); a single process keeps the files' own order."""
    if hasattr(config, "workerinput"):
        rank = {name: i for i, name in enumerate(LONGEST_FILES)}
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


#: Bad scenario files: (id, TOML text, key path the error must name, words it must contain).
BAD_SCENARIOS = [
    ("unknown_key", "[catheter]\nspeed_ml_min = 2.0\n", "catheter.speed_ml_min", "unknown key"),
    ("unknown_section", "[cathter]\nvessel = 'A5'\n", "cathter", "unknown key"),
    ("wrong_type", "[catheter]\nrate_ml_min = 'fast'\n", "catheter.rate_ml_min", "valid number"),
    ("out_of_range", "[catheter]\nrate_ml_min = -1.0\n", "catheter.rate_ml_min", "greater than 0"),
    ("true_as_number", "[catheter]\nrate_ml_min = true\n", "catheter.rate_ml_min", "not true or false"),
    ("quoted_number", "[liver]\nterminal_diameter_um = '300'\n", "liver.terminal_diameter_um", "unquoted"),
    ("true_as_integer", "[liver]\nseed = true\n", "liver.seed", "not true or false"),
    ("unknown_vessel", "[catheter]\nvessel = 'A9'\n", "catheter.vessel", "unknown vessel 'A9'"),
    ("portal_vein_catheter", "[catheter]\nvessel = 'MPV'\n", "catheter.vessel", "unknown vessel 'MPV'"),
    ("unknown_segment", "[[tumours]]\nsegment = 'IX'\n", "tumours.0.segment", "'VIII'"),
    ("tumour_name_twice", "[[tumours]]\nname = 'a'\nsegment = 'V'\n[[tumours]]\nname = 'a'\nsegment = 'VI'\n",
     "tumours.1.name", "'a' is used twice"),
    ("unknown_portal_branch", "[portal]\nthrombosis = 'P9'\n", "portal.thrombosis", "'P8'"),
    ("tumours_not_array", "[tumours]\nsegment = 'V'\n", "tumours", "[[header]]"),
    ("segment_fractions_sum",
     "[liver.segment_fractions]\nI = 0.1\nII = 0.1\nIII = 0.1\nIV = 0.1\nV = 0.1\nVI = 0.1\nVII = 0.1\nVIII = 0.1\n",
     "liver.segment_fractions", "sum to 1"),
    ("custom_agent_without_diameters", "[agent]\nkind = 'custom'\n", "agent.diameters_um", "needs diameters_um"),
    ("thresholds_out_of_order", "[procedure]\nsluggish_flow_reduction = 0.8\nnear_stasis_flow_reduction = 0.7\n",
     "procedure.near_stasis_flow_reduction", "sluggish_flow_reduction < near_stasis_flow_reduction"),
    ("invalid_toml", "[catheter\nvessel = 'A5'\n", "", "invalid TOML"),
]


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    """``write_scenario(text, name="scenario.toml") -> Path``: a scenario file in ``tmp_path``."""

    def write(text: str, name: str = "scenario.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(params=BAD_SCENARIOS, ids=[case[0] for case in BAD_SCENARIOS])
def bad_scenario(request, write_scenario) -> tuple[Path, str, str]:
    """(file, key path, words) for each bad-input case of :data:`BAD_SCENARIOS`."""
    name, text, key_path, words = request.param
    return write_scenario(text, name=f"{name}.toml"), key_path, words


@pytest.fixture(params=["missing", "directory", "not_utf8"])
def unreadable_scenario(request, tmp_path: Path) -> Path:
    """A scenario path that cannot be read: missing, a directory, or not UTF-8 text."""
    path = tmp_path / f"{request.param}.toml"
    if request.param == "directory":
        path.mkdir()
    elif request.param == "not_utf8":
        path.write_bytes(b"title = \"\xff\xfe\"\n")
    return path


@pytest.fixture
def invoke():
    """``invoke(*args) -> Result`` of the Typer app, stdout and stderr kept apart."""
    from sim.cli import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], prog_name="embosim")


@pytest.fixture(scope="session")
def coarse_scenario():
    """The default scenario on a coarse liver (200 um terminals): a whole embolisation takes about a second."""
    import sim

    return sim.load_scenario(sim.default_scenario_path()).with_updates({"liver.terminal_diameter_um": 200.0})


@pytest.fixture(scope="session")
def coarse_liver(coarse_scenario):
    """The liver of :func:`coarse_scenario` (shared by the angiography and DSA tests)."""
    import sim

    return sim.build_liver(coarse_scenario)
