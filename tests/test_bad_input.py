"""Issue 14: NaN, inf and absurd sizes are rejected at load time; size estimates before anything large.

Every case: the library raises a ScenarioError (or FlowInputError) naming the key,
and the command line exits 2 with one line naming the file and key, writing nothing.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from cli_helpers import console_script

from sim.anatomy.trunk import arterial_parents
from sim.flow import FlowInputError, solve_flow
from sim.limits import (
    MAX_MEMORY_BYTES,
    SizeError,
    SizeEstimate,
    SizeWarning,
    allow_large,
    check_size,
)
from sim.scenario import (
    NAMED_ARTERIES,
    AnatomyConfig,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
)
from sim.strategies import estimate_grid, parse_vary, vary_grid
from sim.sweep_spec import estimate_plan, load_sweep_spec, parse_sweep_spec, plan_sweep

#: (case id, TOML text, key path named, words in the message)
LOAD_TIME_CASES = [
    ("segment_fraction_nan", ("[liver.segment_fractions]\nI = nan\nII = 0.065\nIII = 0.085\nIV = 0.145\nV = 0.125\n"
                              "VI = 0.080\nVII = 0.205\nVIII = 0.260\n"), "liver.segment_fractions.I", "finite number"),
    ("custom_diameter_nan", "[agent]\nkind = 'custom'\ndiameters_um = [nan]\n", "agent.diameters_um.0",
     "finite number"),
    ("custom_diameter_inf", "[agent]\nkind = 'custom'\ndiameters_um = [inf]\n", "agent.diameters_um.0",
     "finite number"),
    ("custom_diameter_1e9", "[agent]\nkind = 'custom'\ndiameters_um = [1e9]\n", "agent.diameters_um.0",
     "less than or equal to 2000"),
    ("custom_diameter_tiny", "[agent]\nkind = 'custom'\ndiameters_um = [100.0, 1.0]\n", "agent.diameters_um.1",
     "greater than or equal to 5"),
    ("particles_per_ml_inf", "[agent]\nparticles_per_ml = inf\n", "agent.particles_per_ml", "finite number"),
    ("particles_per_ml_1e300", "[agent]\nparticles_per_ml = 1e300\n", "agent.particles_per_ml",
     "less than or equal to"),
    ("particles_per_ml_beyond_packing", "[agent]\nsize_bin = '100-300'\nparticles_per_ml = 1e8\n",
     "agent.particles_per_ml", "do not fit in 1 mL"),
    ("rate_nan", "[catheter]\nrate_ml_min = nan\n", "catheter.rate_ml_min", "finite number"),
    ("tip_distance_zero", "[catheter]\ntip_distance_mm = 0.0\n", "catheter.tip_distance_mm",  # (after the build)
     "greater than 0"),
    ("tip_distance_absurd", "[catheter]\ntip_distance_mm = 1e9\n", "catheter.tip_distance_mm",
     "less than or equal to 300"),
    ("tumour_200mm_in_small_liver", "[liver]\nmass_kg = 0.31\n[[tumours]]\ndiameter_mm = 200.0\n",
     "tumours.0.diameter_mm", "does not fit in a 0.31 kg"),
    ("tumours_fill_the_liver", "[liver]\nmass_kg = 1.0\n" + "".join(
        f"[[tumours]]\nname = 't{i}'\nsegment = 'VII'\ndiameter_mm = 100.0\n" for i in range(2)),
     "tumours", "total volume"),
    ("tumour_centre_outside", "[[tumours]]\nsegment = 'V'\ncentre_mm = [0.0, 0.0, 250.0]\n",
     "tumours.0.centre_mm", "outside the liver"),
    ("tumour_centre_absurd", "[[tumours]]\ncentre_mm = [1e9, 0.0, 0.0]\n", "tumours.0.centre_mm.0",
     "less than or equal to 300"),
    ("catheter_vessel_absent_in_michels_type", "[anatomy]\nmichels_type = 'III'\n[catheter]\nvessel = 'RHA'\n",
     "catheter.vessel", "Michels type III"),
    ("falciform_catheter_without_falciform", "[catheter]\nvessel = 'falciform'\n", "catheter.vessel",
     "falciform artery absent"),
    ("terminal_diameter_nan", "[liver]\nterminal_diameter_um = nan\n", "liver.terminal_diameter_um",
     "finite number"),
    # review 27: combinations that had run, silently wrong or to a traceback after the build
    ("y90_then_bland_particles", "[agent]\nkind = 'y90_glass'\nactivity_gbq = 1.0\n[[procedure.agent_sequence]]\n"
     "kind = 'microspheres'\nsize_bin = '300-500'\n", "procedure.agent_sequence", "one agent"),
    ("y90_without_tumours", "tumours = []\n[agent]\nkind = 'y90_resin'\nactivity_gbq = 1.0\n", "tumours",
     "at least one tumour"),
    ("y90_vial_ml", "[agent]\nkind = 'y90_glass'\nactivity_gbq = 1.0\nvial_ml = 1.0\n", "agent.vial_ml",
     "does not apply"),
    ("y90_not_permanent", "[agent]\nkind = 'y90_glass'\nactivity_gbq = 1.0\npermanent = false\n", "agent.permanent",
     "spheres are permanent"),
    ("lipiodol_alone_particles_per_ml", "[agent]\nkind = 'lipiodol'\nparticles_per_ml = 1e9\n", "agent.particles_per_ml",
     "gives no particles"),
    ("y90_particles_per_ml", "[agent]\nkind = 'y90_glass'\nactivity_gbq = 1.0\nparticles_per_ml = 1e5\n",
     "agent.particles_per_ml", "from the product"),
    ("ctace_size_bin", "[agent]\nkind = 'lipiodol'\nsize_bin = '40-120'\n[[procedure.agent_sequence]]\n"
     "kind = 'microspheres'\nsize_bin = '300-500'\n", "agent.size_bin", "does not apply"),
    ("ctace_particles_beyond_packing", "[agent]\nkind = 'lipiodol'\nparticles_per_ml = 1.5e6\n"
     "[[procedure.agent_sequence]]\nkind = 'microspheres'\nsize_bin = '300-500'\n", "agent.particles_per_ml",
     "do not fit in 1 mL"),
    ("ctace_particles_too_large_for_the_catheter", "[agent]\nkind = 'lipiodol'\n[[procedure.agent_sequence]]\n"
     "kind = 'microspheres'\nsize_bin = '900-1200'\n", "procedure.agent_sequence.0.size_bin", "do not pass"),
]


def _write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path




def _one_line_exit_2(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("embosim: error: "), result.stderr
    assert all(f in lines[0] for f in fragments), lines[0]
    return lines[0]


@pytest.mark.parametrize(("text", "key", "words"), [c[1:] for c in LOAD_TIME_CASES],
                         ids=[c[0] for c in LOAD_TIME_CASES])
def test_load_time_rejection_names_file_and_key(tmp_path, text, key, words):
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert (info.value.source, info.value.path) == (str(path), key)
    assert words in info.value.message
    assert str(info.value).startswith(f"{path}: {key}: ")


@pytest.mark.parametrize(("text", "key", "words"), [c[1:] for c in LOAD_TIME_CASES],
                         ids=[c[0] for c in LOAD_TIME_CASES])
def test_load_time_rejection_cli_exit_2_before_anything_is_written(invoke, tmp_path, text, key, words):
    path = _write(tmp_path, text)
    out = tmp_path / "out"
    _one_line_exit_2(invoke("run", path, "--out", out, "--quiet"), f"embosim: error: {path}: {key}: ", words)
    assert not out.exists()


def test_every_float_field_rejects_nan_and_inf():
    """allow_inf_nan=False reaches every number of every section."""
    for dotted in ("liver.mass_kg", "flow.arterial_pressure_mmHg", "tumours.0.vascularity", "agent.deformability",
                   "procedure.max_volume_ml", "outcomes.devascularised_fraction", "patient.ki67_percent",
                   "flow.habr.buffer_efficiency", "portal.thrombosis_occlusion"):
        for bad in (math.nan, math.inf, -math.inf):
            with pytest.raises(ScenarioError, match="finite number") as info:
                Scenario().with_updates({dotted: bad})
            assert info.value.path == dotted


def test_michels_vessel_check_matches_the_built_trunk():
    """The load-time check uses the trunk's own parent map: every named artery of every variant is accepted."""
    for michels in ("I", "II", "III", "IV", "V", "VI"):
        for falciform in (False, True):
            anatomy = AnatomyConfig(michels_type=michels, falciform_artery=falciform)
            present = set(arterial_parents(anatomy))
            for vessel in NAMED_ARTERIES:
                data = {"anatomy": {"michels_type": michels, "falciform_artery": falciform},
                        "catheter": {"vessel": vessel}}
                if vessel in present:
                    assert parse_scenario(data).catheter.vessel == vessel
                else:
                    with pytest.raises(ScenarioError, match="no vessel") as info:
                        parse_scenario(data, source="f.toml")
                    assert (info.value.path, info.value.source) == ("catheter.vessel", "f.toml")
                    # left to the build in with_updates (a sweep records such pairs as failed runs)
                    assert Scenario().with_updates({"anatomy.michels_type": michels,
                                                    "anatomy.falciform_artery": falciform,
                                                    "catheter.vessel": vessel}).catheter.vessel == vessel


def test_largest_tumour_that_fits_is_accepted():
    Scenario().with_updates({"liver.mass_kg": 0.31, "tumours.0.diameter_mm": 70.0})
    with pytest.raises(ScenarioError, match="at most 71 mm"):
        Scenario().with_updates({"liver.mass_kg": 0.31, "tumours.0.diameter_mm": 72.0})


# --- errors found after the build name the scenario file ---------------------------------------


def test_post_build_error_names_the_scenario_file(invoke, tmp_path, monkeypatch):
    """A ScenarioError raised after loading (on the built liver) gets the file the CLI loaded."""
    import types

    def run(scenario, *, rng=None, progress=True):
        raise ScenarioError("no synthetic vessel '#999999'", path="catheter.vessel")

    monkeypatch.setitem(sys.modules, "sim.simulation", types.SimpleNamespace(run=run))
    path = _write(tmp_path, "[catheter]\nvessel = '#999999'\n")
    _one_line_exit_2(invoke("run", path, "--out", tmp_path / "out"), f"embosim: error: {path}: catheter.vessel: ")


def test_synthetic_vessel_beyond_the_tree_names_file_and_key(invoke, tmp_path):
    """Through the real build (a small liver): the anatomy-level check names the file and key."""
    path = _write(tmp_path, "[liver]\nterminal_diameter_um = 400.0\n[catheter]\nvessel = '#99999999'\n")
    _one_line_exit_2(invoke("run", path, "--out", tmp_path / "out", "--quiet", "--no-figures"),
                     f"embosim: error: {path}: catheter.vessel: ", "no synthetic vessel")


def test_with_source_keeps_the_class_and_an_existing_source():
    err = SizeError("too big", path="liver.terminal_diameter_um")
    named = err.with_source("a.toml")
    assert type(named) is SizeError and str(named) == "a.toml: liver.terminal_diameter_um: too big"
    assert named.with_source("b.toml") is named


# --- solve_flow on a bare graph ----------------------------------------------------------------


def _two_edges(**attrs) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_edge("a", "b", **attrs)
    g.add_edge("b", "c", radius_m=1e-3, length_m=0.1)
    g.nodes["a"]["pressure_pa"], g.nodes["c"]["pressure_pa"] = 1000.0, 0.0
    return g


@pytest.mark.parametrize(("attrs", "words"), [
    ({"conductance": 1e308}, "conductance 1e+308; allowed: a finite value >= 0 and <= 1e+20"),
    ({"conductance": math.nan, "radius_m": 1e-3, "length_m": 0.1}, "conductance nan"),
    ({"viscosity_pa_s": math.nan, "radius_m": 1e-3, "length_m": 0.1}, "viscosity_pa_s nan"),
    ({"radius_m": math.nan, "length_m": 0.1}, "radius_m nan"),
    ({"radius_m": 1e200, "length_m": 1e-200, "viscosity_pa_s": 1e-3}, "give a conductance of inf"),
], ids=["huge_conductance", "nan_conductance", "nan_viscosity", "nan_radius", "overflowing_geometry"])
def test_solve_flow_rejects_nan_and_huge_attributes_naming_the_edge(attrs, words):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning either
        with pytest.raises(FlowInputError) as info:
            solve_flow(_two_edges(**attrs))
    assert "edge ('a', 'b')" in str(info.value) and words in str(info.value)


def test_solve_flow_refuses_a_non_finite_solution():
    """Inputs within their bounds whose solution overflows: an inflow through a near-closed edge (p = 1e320)."""
    g = nx.DiGraph()
    g.add_edge("a", "b", conductance=1e-300)
    g.nodes["a"]["pressure_pa"], g.nodes["b"]["inflow_m3s"] = 0.0, 1e20
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FlowInputError, match="not finite .*node 'b'"):
            solve_flow(g)


def test_solve_flow_still_solves_a_plain_tube():
    g = _two_edges(radius_m=1e-3, length_m=0.1, viscosity_pa_s=4e-3)
    result = solve_flow(g)
    assert 0.0 < result.pressure["b"] < 1000.0


# --- size limits --------------------------------------------------------------------------------


def test_check_size_refuses_warns_and_allows():
    huge = SizeEstimate("liver build", "1e8 terminals", 2 * MAX_MEMORY_BYTES, 1.0)
    with pytest.raises(SizeError, match="--allow-large") as info:
        check_size(huge, path="liver.terminal_diameter_um", fix="raise liver.terminal_diameter_um")
    assert info.value.path == "liver.terminal_diameter_um" and "raise liver.terminal_diameter_um" in str(info.value)
    with pytest.warns(SizeWarning):
        check_size(huge, path="x", allow_large=True)
    with allow_large(), pytest.warns(SizeWarning):
        check_size(huge, path="x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_size(SizeEstimate("liver build", "1e3 terminals", 4e8, 0.3), path="x")


def test_liver_estimate_matches_the_benchmark():
    """benchmarks/results/anatomy.json: 1e5 terminals 2.1 s / 523 MB peak, 1e6 26.6 s / 2345 MB (within 30%)."""
    from sim.anatomy import estimate_build

    for diameter, terminals, seconds, peak_mb in ((56.33, 101314, 2.109, 522.9), (24.01, 1010244, 26.606, 2345.4)):
        est, key = estimate_build(Scenario().with_updates({"liver.terminal_diameter_um": diameter}))
        assert key == "liver.terminal_diameter_um"
        assert float(est.detail.split()[1]) == pytest.approx(terminals, rel=0.1)
        assert est.seconds == pytest.approx(seconds, rel=0.3)
        assert est.memory_bytes / 2**20 == pytest.approx(peak_mb, rel=0.3)


def test_tiny_terminals_are_refused_before_the_build(monkeypatch):
    from sim.anatomy import build_liver, liver

    def no_alloc(*args, **kwargs):
        raise AssertionError("the build started")

    monkeypatch.setattr(liver, "liver_domain", no_alloc)
    scenario = Scenario().with_updates({"liver.terminal_diameter_um": 5.0})
    with pytest.raises(SizeError) as info:
        build_liver(scenario)
    assert info.value.path == "liver.terminal_diameter_um" and "GiB" in info.value.message
    with allow_large(), pytest.warns(SizeWarning), pytest.raises(AssertionError, match="the build started"):
        build_liver(scenario)  # allowed: gets past the check (stopped here by the stub)


def test_tiny_tumour_driving_the_size_is_named():
    from sim.anatomy import estimate_build

    scenario = Scenario().with_updates({"liver.mass_kg": 5.0, "tumours.0.diameter_mm": 1.01,
                                        "liver.terminal_diameter_um": 2000.0})
    _, key = estimate_build(scenario)
    assert key == "tumours.0.diameter_mm"


def test_cli_run_refuses_a_huge_liver_and_writes_nothing(invoke, tmp_path):
    path = _write(tmp_path, "[liver]\nterminal_diameter_um = 5.0\n")
    out = tmp_path / "out"
    line = _one_line_exit_2(invoke("run", path, "--out", out), f"{path}: liver.terminal_diameter_um: ",
                            "liver build of about", "--allow-large")
    assert "GiB" in line
    assert not out.exists()


def test_cli_run_allow_large_gets_past_the_check(invoke, tmp_path, monkeypatch):
    import types

    calls = {}

    def run(scenario, *, rng=None, progress=True):
        from sim.anatomy.liver import check_build_size

        calls["estimate"] = check_build_size(scenario)  # inside the CLI's allow_large context: no error
        raise ScenarioError("stop here", path="procedure")

    monkeypatch.setitem(sys.modules, "sim.simulation", types.SimpleNamespace(run=run))
    path = _write(tmp_path, "[liver]\nterminal_diameter_um = 5.0\n")
    result = invoke("run", path, "--out", tmp_path / "out", "--allow-large")
    assert result.exit_code == 2 and "stop here" in result.stderr
    assert "embosim: warning: " in result.stderr and "liver build of about" in result.stderr
    assert calls["estimate"].too_large


def test_vary_grid_size_is_checked_before_allocating():
    with pytest.raises(SizeError) as info:
        parse_vary("tumours.0.arterial_fraction=0:1:2000000000")
    assert info.value.path == "tumours.0.arterial_fraction"
    scenario = Scenario()
    grid = {"catheter.rate_ml_min": range(1, 2001), "tumours.0.arterial_fraction": np.linspace(0.5, 1.0, 2000)}
    with pytest.raises(SizeError, match="4e6 points"):
        vary_grid(scenario, grid)
    assert estimate_grid(6, 150).large is False
    with pytest.raises(ValueError, match="finite"):
        parse_vary("catheter.rate_ml_min=nan:1:3")


def test_cli_compare_huge_vary_is_one_line_exit_2(invoke, tmp_path):
    out = tmp_path / "cmp"
    _one_line_exit_2(invoke("compare", "--vary", "tumours.0.arterial_fraction=0:1:2000000000", "--out", out),
                     "--vary", "tumours.0.arterial_fraction", "--allow-large")
    assert not out.exists()


def test_sweep_plan_size_is_checked_before_drawing_points():
    for data, key in (({"seed": 1, "replicates": 10**9}, "replicates"),
                      ({"seed": 1, "parameters": {"catheter.rate_ml_min": {"start": 0.5, "stop": 2.0,
                                                                          "num": 10**10}}}, "parameters"),
                      ({"seed": 1, "sampling": "random", "samples": 10**10,
                        "parameters": {"catheter.rate_ml_min": {"distribution": "uniform", "low": 0.5,
                                                                "high": 2.0}}}, "samples")):
        spec = parse_sweep_spec(data)
        with pytest.raises(SizeError) as info:
            plan_sweep(spec)
        assert info.value.path == key
        # the estimate is of the plan, not of the runs (review 52: "and 0.002 s" read as the whole sweep's time)
        assert info.value.message.startswith("the plan and results table (not the runs) of ")
    assert estimate_plan(parse_sweep_spec({"seed": 1, "replicates": 4})).large is False


def test_sweep_liver_too_large_is_named_before_any_run():
    spec = parse_sweep_spec({"seed": 1, "replicates": 2, "fixed": {"liver.terminal_diameter_um": 5.0}})
    with pytest.raises(SizeError) as info:
        plan_sweep(spec, source="s.toml")
    assert info.value.path == 'fixed."liver.terminal_diameter_um"' and info.value.source == "s.toml"
    spec = parse_sweep_spec({"seed": 1, "parameters": {"liver.terminal_diameter_um": [400.0, 5.0]}})
    with pytest.raises(SizeError) as info:
        plan_sweep(spec)
    assert info.value.path == 'parameters."liver.terminal_diameter_um"'


@pytest.mark.parametrize(("spec_text", "key"), [
    ("seed = 1\nreplicates = 1000000000\n", "replicates"),
    ("seed = 1\n[parameters]\n\"catheter.rate_ml_min\" = {start = 0.5, stop = 2.0, num = 10000000000}\n",
     "parameters"),
    ("seed = 1\nreplicates = 2\n[fixed]\n\"liver.terminal_diameter_um\" = 5.0\n",
     'fixed."liver.terminal_diameter_um"'),
], ids=["1e9_replicates", "1e10_points", "huge_liver"])
def test_cli_sweep_too_large_writes_nothing(invoke, tmp_path, spec_text, key):
    spec = _write(tmp_path, spec_text, name="sweep.toml")
    out = tmp_path / "sweep-out"
    _one_line_exit_2(invoke("sweep", spec, "--out", out, "--backend", "serial"), f"{spec}: {key}: ",
                     "--allow-large")
    assert not out.exists()
    assert load_sweep_spec(spec)  # the spec itself is valid: only its size is refused




@pytest.mark.parametrize(("text", "key"), [
    ("[agent]\nkind = 'custom'\ndiameters_um = [nan]\n", "agent.diameters_um.0"),
    ("[agent]\nparticles_per_ml = 1e300\n", "agent.particles_per_ml"),
    ("[liver]\nterminal_diameter_um = 5.0\n", "liver.terminal_diameter_um"),
], ids=["nan_diameter", "absurd_particles_per_ml", "huge_liver"])
def test_console_script_rejects_without_traceback(tmp_path, text, key):
    path = _write(tmp_path, text)
    out = tmp_path / "out"
    proc = subprocess.run([console_script(), "run", str(path), "--out", str(out)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith(f"embosim: error: {path}: {key}: ")
    assert not out.exists()


def test_doctests_of_the_size_estimates():
    import doctest

    import sim.anatomy.liver
    import sim.limits
    import sim.sweep_spec

    for module in (sim.limits, sim.anatomy.liver, sim.sweep_spec):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0, module.__name__


# --- particles of one procedure ------------------------------------------------------------------


def test_particle_arrays_are_estimated_before_the_procedure():
    from sim.limits import check_particles_size, estimate_particles

    est, key = estimate_particles(Scenario())
    assert key == "procedure.max_volume_ml" and not est.large
    tiny = Scenario().with_updates({"agent.kind": "custom", "agent.diameters_um": [5.0]})
    with pytest.raises(SizeError, match="4.4e10 particles") as info:  # 50 mL of 5 um spheres at 1:10
        check_particles_size(tiny)
    assert info.value.path == "agent.diameters_um"
    flood = Scenario().with_updates({"agent.size_bin": "40-120", "agent.contrast_dilution": 0.0,
                                     "procedure.max_volume_ml": 500.0})
    with pytest.raises(SizeError) as info:
        check_particles_size(flood)
    assert info.value.path == "procedure.max_volume_ml"
    with pytest.warns(SizeWarning):
        check_particles_size(flood, allow_large=True)


def test_cli_run_refuses_too_many_particles_and_writes_nothing(invoke, tmp_path):
    path = _write(tmp_path, "[agent]\nkind = 'custom'\ndiameters_um = [5.0]\n")
    out = tmp_path / "out"
    _one_line_exit_2(invoke("run", path, "--out", out), f"{path}: agent.diameters_um: ", "particles",
                     "--allow-large")
    assert not out.exists()


def test_vary_point_with_too_many_particles_is_named():
    base = Scenario().with_updates({"agent.contrast_dilution": 0.0, "procedure.max_volume_ml": 500.0})
    with pytest.raises(SizeError) as info:
        vary_grid(base, {"agent.size_bin": ["300-500", "40-120"]})
    assert info.value.path == "agent.size_bin" and "40-120" in info.value.message


def test_sweep_point_with_too_many_particles_is_named():
    spec = parse_sweep_spec({"seed": 1, "fixed": {"agent.contrast_dilution": 0.0, "procedure.max_volume_ml": 500.0,
                                                  "liver.terminal_diameter_um": 400.0},
                             "parameters": {"agent.size_bin": ["300-500", "40-120"]}})
    with pytest.raises(SizeError) as info:
        plan_sweep(spec, source="s.toml")
    assert info.value.path == 'fixed."procedure.max_volume_ml"' and "agent.size_bin='40-120'" in info.value.message
    spec = parse_sweep_spec({"seed": 1, "fixed": {"liver.terminal_diameter_um": 400.0, "agent.size_bin": "40-120"},
                             "parameters": {"procedure.max_volume_ml": [2.0, 500.0],
                                            "agent.contrast_dilution": [0.0, 10.0]}})
    with pytest.raises(SizeError) as info:  # the particle count follows from two varied parameters
        plan_sweep(spec, source="s.toml")
    assert info.value.path == 'parameters."procedure.max_volume_ml"' and "500.0" in info.value.message


def test_vary_liver_too_large_is_refused_before_any_run(invoke, tmp_path):
    with pytest.raises(SizeError) as info:
        vary_grid(Scenario(), {"liver.terminal_diameter_um": [400.0, 5.0]})
    assert info.value.path == "liver.terminal_diameter_um" and "liver build" in info.value.message
    out = tmp_path / "cmp"
    _one_line_exit_2(invoke("compare", "--vary", "liver.terminal_diameter_um=400:5:2", "--out", out),
                     "--vary", "liver.terminal_diameter_um", "liver build")
    assert not out.exists()


# --- the Python API's arguments (review 16) ------------------------------------------------------------


@pytest.mark.parametrize("rng", ["abc", 3.0, -5, True])
def test_a_bad_rng_is_one_error_naming_rng_before_anything_runs(rng):
    import sim
    from sim.scenario import Scenario

    with pytest.raises(ValueError, match="^rng: "):
        sim.run(Scenario(), rng=rng)
    with pytest.raises(ValueError, match="^rng: "):
        sim.compare(Scenario(), strategies=["selective"], replicates=1, rng=rng)


def test_run_of_a_name_says_to_load_the_scenario_and_compare_takes_one_strategy_alone():
    import sim
    from sim.scenario import Scenario, ScenarioError
    from sim.strategies import Strategy, distinct_strategies

    with pytest.raises(TypeError, match=r"sim.load_scenario\('main_pvt'\)"):
        sim.run("main_pvt")
    assert distinct_strategies("selective") == [Strategy.parse("selective")]  # was read letter by letter
    with pytest.raises(ScenarioError, match="replicates must be an integer"):
        sim.compare(Scenario(), strategies="selective", replicates=1.5)


def test_a_later_session_on_another_liver_is_refused_by_name():
    """A prior session's load maps element by element onto the liver it ran on: another liver gave a numpy
    broadcast error deep in the procedure."""
    import sim
    from sim.scenario import Scenario

    coarse = Scenario().with_updates({"liver.terminal_diameter_um": 400.0, "agent.size_bin": "300-500"})
    first = sim.run(coarse, progress=False)
    with pytest.raises(ValueError, match=r"prior: the earlier session ran on a liver built for a different \[liver\]"):
        sim.run(coarse.with_updates({"liver.seed": 1}), prior=first, progress=False)
    with pytest.raises(TypeError, match="prior: the RunResult"):
        sim.run(coarse, prior={"load": {}}, progress=False)


def test_a_run_on_a_given_liver_checks_its_catheter_on_it(coarse_scenario, coarse_liver):
    """A shared liver (a sweep's or a comparison's anatomy group) is built without any run's catheter (review 52), so
    the run checks its own: a named artery this anatomy lacks, or a synthetic node it does not have, is one line
    naming catheter.vessel."""
    import sim
    from sim.scenario import ScenarioError

    for vessel, words in (("replaced_RHA", "no vessel 'replaced_RHA' in this anatomy"), ("#999999999", "999999999")):
        with pytest.raises(ScenarioError, match=words) as err:
            sim.run(coarse_scenario.with_updates({"catheter.vessel": vessel}), liver=coarse_liver, progress=False)
        assert err.value.path == "catheter.vessel"


def test_keys_a_kind_ignores_do_not_decide_its_checks():
    """Review 27: a cTACE's [agent] size_bin (its particles are procedure.agent_sequence's) refused a valid 100-300 um
    sequence as too large for the catheter, and let 900-1200 um through when [agent] said 100-300; a Y-90 agent with
    permanent = false (from any source) had half of its rules temporary."""
    from sim.scenario import agent_kind_updates

    Scenario().with_updates({"agent.kind": "lipiodol", "agent.size_bin": "900-1200", "procedure.agent_sequence":
                             [{"kind": "microspheres", "size_bin": "100-300"}]})  # (was refused)
    with pytest.raises(ScenarioError) as info:
        Scenario().with_updates({"agent.kind": "lipiodol", "agent.size_bin": "100-300", "procedure.agent_sequence":
                                 [{"kind": "microspheres", "size_bin": "900-1200"}]})
    assert info.value.path == "procedure.agent_sequence.0.size_bin" and "do not pass" in info.value.message
    with pytest.raises(ScenarioError, match="spheres are permanent"):
        Scenario().with_updates({"agent.kind": "y90_glass", "agent.activity_gbq": 1.0, "agent.permanent": False})
    temporary = Scenario().with_updates({"agent.permanent": False})  # a kind change to Y-90 makes it permanent
    y90 = temporary.with_updates({**agent_kind_updates(temporary, "y90_glass"), "agent.activity_gbq": 1.0})
    assert y90.agent.permanent


@pytest.mark.parametrize("tables", [
    {"parameters": {"tumours.diameter_mm": [20.0, 30.0], "tumours.0.diameter_mm": [40.0, 50.0]}},
    {"fixed": {"tumours.diameter_mm": 20.0}, "parameters": {"tumours.0.diameter_mm": [40.0, 50.0]}}],
    ids=["both_varied", "fixed_and_varied"])
def test_two_paths_setting_one_value_are_refused(tables):
    """Review 27: a sweep varying "tumours.diameter_mm" and "tumours.0.diameter_mm" ran, the first path silently
    dropped (its column in the table false); with_updates dropped one too. One rule: Scenario.expand_updates."""
    spec = parse_sweep_spec({"seed": 1, "fixed": {"liver.terminal_diameter_um": 400.0}} | {
        k: {**v, **({"liver.terminal_diameter_um": 400.0} if k == "fixed" else {})} for k, v in tables.items()})
    with pytest.raises(ScenarioError, match="both set tumours.0.diameter_mm"):
        plan_sweep(spec, source="s.toml")
    with pytest.raises(ScenarioError, match="both set tumours.0.diameter_mm"):
        Scenario().with_updates({"tumours.diameter_mm": 10.0, "tumours.0.diameter_mm": 20.0})
    with pytest.raises(ScenarioError, match="both set tumours.0.diameter_mm"):  # an index written two ways (review 29)
        Scenario().with_updates({"tumours.00.diameter_mm": 10.0, "tumours.0.diameter_mm": 20.0})


@pytest.mark.parametrize("terminal_um", [1900.0, 2000.0])
def test_the_coarsest_livers_allowed_run(terminal_um):
    """Review 27: at 1900-2000 um (inside the documented bound) the trunk's arteries are already below the terminal
    diameter, compartments hang at the subtrees' roots (no vessel of their own) and the run raised an OverflowError
    in the kernel (an infinite feeder diameter); the feeder is now the trunk artery ending there."""
    import sim

    scenario = load_scenario(sim.default_scenario_path()).with_updates({"liver.terminal_diameter_um": terminal_um})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = sim.run(scenario, progress=False).summary
    assert summary["stop_reason"] == "endpoint" and summary["particles_injected"] > 100
    assert 0.0 < summary["particle_volume_ml"] < 5.0


def test_small_input_mistakes_get_plain_messages(tmp_path):
    """Review 27: plan_sweep("spec.toml") raised an AttributeError deep inside; an index into an empty array said
    "(0--1)"; a negative index was taken for a field name ("tumours.0.-1")."""
    with pytest.raises(TypeError, match="takes a SweepSpec"):
        plan_sweep(str(tmp_path / "spec.toml"))
    with pytest.raises(ScenarioError, match=r"out of range \(the array is empty\)"):
        Scenario().with_updates({"procedure.agent_sequence.0.switch_at_flow_fraction": 0.5})
    with pytest.raises(ScenarioError) as info:
        Scenario().with_updates({"tumours.-1.diameter_mm": 3.0})
    assert info.value.path == "tumours.-1.diameter_mm" and "out of range (0-0)" in info.value.message


def test_compare_refuses_a_varied_key_the_agent_kind_ignores():
    """Review 29: compare --vary agent.size_bin on a cTACE (its particles are procedure.agent_sequence's) ran every
    point the same; the sweep refused it. One rule: sim.scenario.check_agent_keys."""
    ctace = load_scenario("ctace_bulky_segment5_net")
    with pytest.raises(ScenarioError) as info:
        vary_grid(ctace, {"agent.size_bin": ["100-300", "300-500"]})
    assert info.value.path == "agent.size_bin" and "does not apply to agent.kind = 'lipiodol'" in info.value.message
