"""Flow physiology on a built liver, and validation/hemodynamics.py (full run: `python -m sim.validation.hemodynamics`)."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.catalogue import default_scenario_path
from sim.units import MMHG_PA
from sim.validation.hemodynamics import FAST_TERMINAL_DIAMETER_UM, per_generation, run


@pytest.fixture(scope="module")
def liver():
    scenario = sim.load_scenario(default_scenario_path()).with_updates(
        {"liver.terminal_diameter_um": FAST_TERMINAL_DIAMETER_UM})
    return sim.build_liver(scenario)


@pytest.fixture(scope="module")
def results(liver, tmp_path_factory):
    out = tmp_path_factory.mktemp("hemodynamics")
    return out, {r.name: r for r in run(out, liver=liver)}


def test_writes_figure_and_tables(results):
    out, cases = results
    for name in ("hemodynamics.png", "hemodynamics.csv", "hemodynamics.md"):
        assert (out / name).stat().st_size > 0
    assert len((out / "hemodynamics.csv").read_text().splitlines()) == len(cases) + 1


def test_built_liver_meets_the_calibration_targets_and_habr(results):
    _, cases = results
    for name in ("normal liver hepatic arterial fraction", "total hepatic flow, mL/min/kg body mass",
                 "sinusoid - hepatic vein pressure gradient, mmHg", "HABR: arterial gain / portal loss after main PVT",
                 "HABR: largest arterial flow / baseline in any compartment", "main PVT raises arterial dependence (1 = yes)",
                 "portal pressure at the segmental portal veins, mmHg (lowest)"):
        assert cases[name].passed, (name, cases[name].embosim, cases[name].reference)
    assert cases["normal liver hepatic arterial fraction"].embosim == pytest.approx(0.20, abs=0.01)


def test_every_disagreement_is_explained(results):
    _, cases = results
    for name, case in cases.items():
        if not case.passed:
            assert case.note, name


def test_built_liver_pressure_cascade(liver):
    """Arterial pressure falls generation by generation from ~90 mmHg towards the sinusoid (portal level)."""
    res = sim.solve_flow(liver)
    pg = per_generation(res, "artery")
    median = pg["pressure_mmHg"][1]
    assert median[0] > 85 and np.all(np.diff(median) < 0)
    flow = liver.scenario.flow
    sinus = flow.hepatic_vein_pressure_mmHg + flow.sinusoid_gradient_mmHg
    assert median[-1] > sinus
    comps = liver.compiled.compartments
    tissue = comps.kind == 0
    assert np.allclose(res.comp_pressure_pa[tissue] / MMHG_PA, sinus)
    forest = liver.compiled.forest
    nonroot = forest.parent >= 0
    assert np.all(res.art_pressure_pa[nonroot] < res.art_pressure_pa[forest.parent[nonroot]])


def test_built_liver_segmental_pvt_diverts_portal_flow(liver):
    """P5 thrombosed: segment V loses its portal flow, every other segment gains, the total inflow is kept within 5%."""
    base = sim.solve_flow(liver)
    pvt = sim.flow.LiverFlow(liver.compiled, liver.scenario.with_updates({"portal.thrombosis": "P5"})).result()
    comps = liver.compiled.compartments
    segment = liver.compiled.forest.segment[comps.node]
    fed = (comps.kind == 0) & (base.comp_por_flow_m3s > 0)
    change = pvt.comp_por_flow_m3s[fed] / base.comp_por_flow_m3s[fed] - 1
    inside = segment[fed] == 4
    assert np.all(change[inside] < -0.5) and np.all(change[~inside] > 0.02)
    assert 0.95 < pvt.portal_inflow_m3s / base.portal_inflow_m3s < 1.0


@pytest.mark.slow
def test_default_liver_calibrates_to_the_dual_supply():
    """The shipped default scenario at full resolution (50 um terminals): its trees carry the demands."""
    liver = sim.build_liver(sim.load_scenario(default_scenario_path()))
    res = sim.solve_flow(liver)
    comps = liver.compiled.compartments
    normal = (comps.kind == 0) & (comps.tumour_id < 0)
    art, por = res.comp_art_flow_m3s[normal].sum(), res.comp_por_flow_m3s[normal].sum()
    assert art / (art + por) == pytest.approx(0.20, abs=0.01)
