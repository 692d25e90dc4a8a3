"""The validation suite (issue 9): `embosim validate --fast` end to end, and the cases' building blocks.

The fast run (about 40 s here) is part of CI: it checks the command, its table and
files, and the physics the cases establish (exact agreements, lodging depth,
particle split, exact particle sequence) rather than only that files exist.
"""

from __future__ import annotations

import csv
import math
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim.validation as validation
import sim.validation_runner
from sim.cli import app
from sim.validation_runner import ValidationSuiteNotFound, load_runner

runner = load_runner()


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    """`embosim validate --fast --out DIR`: (exit code, stdout, DIR, rows of validation.csv by case name). In this
    process (``--workers 1``: the test workers already fill the cores; cases in other processes are
    :func:`test_cases_side_by_side_give_the_same_results_in_the_same_order`)."""
    out = tmp_path_factory.mktemp("validation")
    result = CliRunner().invoke(app, ["validate", "--fast", "--out", str(out), "--quiet", "--workers", "1"])
    assert (out / "validation.csv").is_file(), (result.output, result.exception)
    with (out / "validation.csv").open(encoding="utf-8") as fh:
        rows = {row["case"]: row for row in csv.DictReader(fh)}
    return result, out, rows


@pytest.mark.slow
def test_fast_validation_prints_the_table_and_writes_report_and_figures(fast_run):
    result, out, rows = fast_run
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0].split()
    assert header == ["case", "embosim", "reference", "tolerance", "pass"]
    for case in runner.CASES:
        assert f"[{case.key}]" in result.output
        assert (out / f"{case.key}.png").stat().st_size > 5_000
    assert {row["module"] for row in rows.values()} == {case.key for case in runner.CASES}
    report = (out / "validation.md").read_text(encoding="utf-8")
    assert "## Calibrated parameters" in report and "## Disagreements and why" in report
    assert all(f"({case.key}.png)" in report for case in runner.CASES)
    assert "errors: 0" in result.output


@pytest.mark.slow
def test_every_disagreement_is_reported_with_its_reason(fast_run):
    _, _, rows = fast_run
    failed = [row for row in rows.values() if row["pass"] == "NO"]
    assert failed  # the literature does disagree somewhere (e.g. [Debbaut2014], contrast clearance)
    assert all(row["note"] for row in failed)
    assert {row["role"] for row in rows.values()} == set(validation.ROLES)
    # a calibration shows the calibration worked; one that fails compares a model input with another source, and
    # its note says so (the CT perfusion rows: review 10 found them labelled validation)
    assert all(row["pass"] == "yes" or "input" in row["note"] for row in rows.values() if row["role"] == "calibration")


@pytest.mark.slow
def test_numerical_checks_hold_in_the_fast_run(fast_run):
    _, _, rows = fast_run
    # exact checks must pass; the resolution rows are findings (docs/validation.md, convergence)
    exact = [row for name, row in rows.items() if row["role"] == "check" and "terminal diameter" not in name]
    assert len(exact) > 15 and all(row["pass"] == "yes" for row in exact)
    for name in ("Poiseuille tube (PHA size), relative flow error",
                 "Wheatstone bridge (cycle), relative edge-flow error",
                 "particles whose path differs, incremental update vs full re-solve per lodging"):
        assert float(rows[name]["embosim"]) <= 1e-12


@pytest.mark.slow
def test_smaller_spheres_lodge_deeper_and_particles_follow_the_flow(fast_run):
    _, _, rows = fast_run
    g100 = float(rows["median lodging generation, 100-300 um microspheres (mean of replicates)"]["embosim"])
    g40 = float(rows["median lodging generation, 40-120 um microspheres (mean of replicates)"]["embosim"])
    assert 12 <= g100 <= 17 and g40 > g100 + 1
    median = float(rows["median per-outlet |particle share - flow share|, percentage points"]["embosim"])
    assert 0 < median <= 0.40
    # the vessels 100-300 um spheres occlude: 158 +/- 21 um (kidney, [JVIR2013Lodging]), 144 +/- 40 um (mesentery)
    occluded = rows["diameter of the vessels 100-300 um spheres wedge in, um (mean)"]
    assert occluded["role"] == "validation" and 104 <= float(occluded["embosim"]) <= 179


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_case_is_an_error_and_the_others_still_run(tmp_path, workers):
    def broken(shared):
        raise RuntimeError("broken case")

    cases = (runner.Case("broken", "A broken case", broken), runner.CASES[0])
    report = runner.run_all(tmp_path, cases=cases, workers=workers)
    assert [o.case.key for o in report.errors] == ["broken"]
    assert report.outcomes[1].results and all(r.passed for r in report.outcomes[1].results)
    assert "RuntimeError: broken case" in (tmp_path / "validation.md").read_text(encoding="utf-8")
    assert "errors: 1" in runner.format_table(report)


def test_cases_side_by_side_give_the_same_results_in_the_same_order(tmp_path):
    """``workers`` runs cases in other processes: the same rows, in the cases' order, whatever the number."""
    cases = tuple(c for c in runner.CASES if c.key in ("analytic", "reference_solver", "viscosity", "hemodynamics"))
    lines = {1: [], 2: []}
    reports = {w: runner.run_all(tmp_path / f"w{w}", fast=True, cases=cases, workers=w, echo=lines[w].append)
               for w in (1, 2)}
    assert [o.case.key for o in reports[2].outcomes] == [c.key for c in cases]
    # (the notes may quote a solve's time)
    assert [[(r.name, r.embosim, r.passed, r.role) for r in o.results] for o in reports[2].outcomes] == \
        [[(r.name, r.embosim, r.passed, r.role) for r in o.results] for o in reports[1].outcomes]
    assert [line.split("]")[1].split()[0] for line in lines[2]] == [c.key for c in cases]


def test_runner_is_found_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_runner() is runner


def test_runner_is_the_installed_subpackage():
    assert runner.__name__ == "sim.validation.runner"
    assert "validation" not in sys.modules  # no top-level package, no sys.path hack


def test_missing_suite_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sim.validation_runner, "RUNNER_MODULE", "sim.validation_absent.runner")
    monkeypatch.setitem(sys.modules, "sim.validation_absent", None)
    with pytest.raises(ValidationSuiteNotFound, match="pip install"):
        load_runner()
    result = CliRunner().invoke(app, ["validate", "--fast", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "validation suite is not installed" in result.output


def test_case_result_role_is_checked_and_has_no_default():
    """Review 33: the role defaulted to "validation", so a row that forgot it became the strongest evidence."""
    with pytest.raises(ValueError, match="role"):
        validation.CaseResult("x", 1.0, "1", "exact", True, role="guess")
    with pytest.raises(ValueError, match="x: role ''"):
        validation.CaseResult("x", 1.0, "1", "exact", True)
    with pytest.raises(TypeError, match="role"):
        validation.range_case("x", 1.0, 0.0, 2.0, "source")


@pytest.mark.slow
def test_rows_that_cannot_fail_are_not_validations(fast_run):
    """Review 33: rows whose band holds by construction or whatever the parameters were labelled validation."""
    _, _, rows = fast_run
    for name in ("share of the lobar volume to stasis injected when flow has halved",
                 "clearance time at baseline (before injection), cardiac cycles",
                 "cTACE plasma doxorubicin peak, ng/mL",
                 "Y-90 / MAA T/N from the same position (glass, A5)"):
        assert rows[name]["role"] == "check", name


def test_lodging_band_reproduces_the_reference_derivation():
    assert validation.lodging.derived_band("100-300") == (12, 17)  # [LodgingDepthDerived]
    assert validation.lodging.derived_band("40-120") == (16, 21)


def test_reduction_at_clearance_inverts_the_clearance_law():
    fraction = np.linspace(1.0, 0.05, 400)
    ts = pd.DataFrame({"antegrade_flow_fraction": fraction, "clearance_time_cycles": 1.5 / fraction})
    assert validation.endpoints.reduction_at_clearance(ts, 3.0) == pytest.approx(0.5, abs=1e-3)
    assert math.isnan(validation.endpoints.reduction_at_clearance(ts, 100.0))


def test_solver_comparison_flags_a_different_isolation_pattern():
    ref = np.array([1.0, np.nan, 3.0])
    assert validation.reference_solver.relative_error(np.array([1.0, 2.0, 3.0]), ref) == math.inf
    assert validation.reference_solver.relative_error(np.array([1.0, np.nan, 3.3]), ref) == pytest.approx(0.1)


def test_analytic_networks_match_their_closed_forms():
    tree = validation.analytic.murray_tree()
    np.testing.assert_allclose(tree["terminal_flow_solver"], tree["terminal_flow_exact"], rtol=1e-12)
    np.testing.assert_allclose(tree["pressure_solver"], tree["pressure_exact"], rtol=1e-12, atol=1e-9)
    bridge = validation.analytic.wheatstone_bridge()
    np.testing.assert_allclose(bridge["solver"], bridge["exact"], rtol=1e-12)
    assert bridge["exact"][4] != 0  # an unbalanced bridge: flow through the cycle's cross edge


def test_a_new_validation_replaces_an_earlier_one_whole(tmp_path):
    """No figure or table of an earlier validation in the same folder survives beside the new report."""
    out = tmp_path / "validation"
    runner.run_all(out, cases=(runner.CASES[0],))
    (out / "retired_case.png").write_bytes(b"\x89PNG stale")
    report = runner.run_all(out, cases=(runner.CASES[0],))
    assert not (out / "retired_case.png").exists()
    assert (out / "validation.md").is_file() and {p.parent for p in report.files} == {out}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_sirt_stasis_population_spans_the_burdens_and_builds_each_one():
    from sim.selection import disease_burden_percent
    from sim.validation import sirt_stasis

    pop = sirt_stasis.population(5, np.random.default_rng(0))
    assert [t.burden for t in pop] == pytest.approx(np.linspace(0.05, 0.5, 5))
    assert all(0.5 <= t.vascularity <= 1.5 and 0.8 <= t.arterial_fraction <= 0.95 for t in pop)
    for t in (pop[0], pop[-1]):
        s = sirt_stasis.lobar_scenario(validation.default_scenario(), t)
        assert s.catheter.vessel == "RHA" and {x.segment for x in s.tumours} == set(sirt_stasis.SEGMENTS)
        # segments II-VIII hold all but segment I's 3.5% of the liver
        assert disease_burden_percent(s) == pytest.approx(100 * t.burden * (1 - 0.035), rel=1e-3)


def test_sirt_stasis_counts_an_endpoint_only_before_the_whole_activity():
    from sim.validation.sirt_stasis import Delivery

    proc = validation.default_scenario().procedure
    rows = [{"antegrade_flow_fraction": f, "clearance_time_cycles": c, "territory_blush_fraction": b}
            for f, c, b in ((1.0, 1.3, 1.0), (0.2, 8.0, 0.3), (0.05, 100.0, 0.0), (0.04, 100.0, 0.0))]
    early = Delivery("y90_resin", 1.0, 1e7, np.array([0.0, 0.4, 0.9, 1.0]), rows, {})
    assert early.share_at("stasis", proc) == 0.9 and early.early("stasis", proc)
    late = Delivery("y90_resin", 1.0, 1e7, np.array([0.0, 0.4, 1.0, 1.0]), rows, {})
    assert late.share_at("stasis", proc) == 1.0 and not late.early("stasis", proc)
    glass = Delivery("y90_glass", 1.0, 4e5, np.array([0.0, 1.0]), rows[:1] * 2, {})
    assert glass.share_at("stasis", proc) == math.inf and not glass.early("near_stasis", proc)


def test_the_sampled_auc_starts_at_the_injection():
    """Review 39: Varela's AUC is a non-compartmental AUC(0-t); from the first sample (5 min) it left out the
    trapezoid from the injection, zero before it, to that sample."""
    from sim.pharmacokinetics import Release, plasma_curve
    from sim.units import NG_ML_KG_M3
    from sim.validation.doxorubicin import VARELA_SAMPLES_S, _sampled_auc

    dose, half_life = 1e-5, 1800.0  # 10 mg released with a 30 min half-life (a cTACE)
    t = VARELA_SAMPLES_S
    c = plasma_curve([Release(dose, half_life)], t) / NG_ML_KG_M3
    from_first = float(np.sum(0.5 * (c[1:] + c[:-1]) * np.diff(t / 60.0)))
    assert _sampled_auc(dose, half_life) == pytest.approx(from_first + 0.5 * c[0] * t[0] / 60.0, rel=1e-12)


def test_case_option_runs_the_cases_named_and_refuses_others(tmp_path, invoke):
    """`embosim validate --case KEY` (repeatable) runs those cases only, in the suite's order; an unknown key is one
    line naming the cases, exit 2, before any folder is made."""
    out = tmp_path / "two"
    result = invoke("validate", "--fast", "--quiet", "--case", "doxorubicin", "--case", "analytic", "--out", out)
    assert result.exit_code == 0, result.output
    with (out / "validation.csv").open(encoding="utf-8") as fh:
        modules = list(dict.fromkeys(row["module"] for row in csv.DictReader(fh)))
    assert modules == ["analytic", "doxorubicin"]
    bad = invoke("validate", "--case", "analytik", "--out", tmp_path / "bad")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "'--case': no validation case 'analytik'; the cases: analytic, reference_solver," in bad.stderr
    assert not (tmp_path / "bad").exists()
