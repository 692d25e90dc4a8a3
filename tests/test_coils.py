"""Coil protection before the injection (sim/coils.py, procedure.coils): validation, flow redistribution, non-target."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import assert_run_refused

import sim
from sim.coils import coilable_arteries, hepaticoenteric_beds
from sim.scenario import AnatomyConfig, ScenarioError, load_scenario


@pytest.fixture(scope="module")
def cha_runs(coarse_scenario, coarse_liver):
    """Bland 40-120 um spheres from the common hepatic artery (proximal to the GDA origin): no coils, GDA + RGA coiled
    with the default residual, and with perfect seals; the same seed and liver."""
    base = coarse_scenario.with_updates({"catheter.vessel": "CHA", "agent.size_bin": "40-120",
                                         "procedure.max_volume_ml": 0.15})
    runs = {}
    for label, updates in (("open", {}), ("coiled", {"procedure.coils": ["GDA", "RGA"]}),
                           ("sealed", {"procedure.coils": ["GDA", "RGA"], "procedure.coil_residual_flow_fraction": 0.0})):
        runs[label] = sim.run(base.with_updates(updates), liver=coarse_liver, progress=False)
    return runs


def test_gut_branches_take_spheres_from_the_cha_and_none_once_coiled(cha_runs):
    """From the CHA the GDA and RGA take a flow share of the spheres; coiled, their share falls to the residual flow's
    (2% of the flow: under 5% of the open count) and to exactly zero with a perfect seal."""
    open_, coiled, sealed = (cha_runs[k].summary for k in ("open", "coiled", "sealed"))
    assert open_["particles_injected"] == coiled["particles_injected"] == sealed["particles_injected"]
    before = open_["nontarget_particles_by_branch"]
    assert before["GDA"] > 0.1 * open_["particles_injected"] and before["RGA"] > 100
    for branch in ("GDA", "RGA"):
        assert coiled["nontarget_particles_by_branch"].get(branch, 0) < 0.05 * before[branch]
        assert sealed["nontarget_particles_by_branch"].get(branch, 0) == 0
    assert coiled["nontarget_particle_fraction"] < 0.5 * open_["nontarget_particle_fraction"]


def test_the_flows_before_and_after_a_coiled_run_have_its_coils(cha_runs):
    """The flow models before a run (the DSA before, the explorer's view) and at its end (the DSA after, figures from
    saved runs) place the run's coils as sim.run does: their native compartment flows are the run's baseline and final
    flows, with the coils as without, and the DSA before is injected at the summary's baseline rate; left out, the
    coiled GDA and RGA would take back their flow (0.3% of a compartment's flow here)."""
    from sim import angiography as ag

    for label in ("coiled", "sealed", "open"):
        run = cha_runs[label]
        baseline = ag.baseline_flow(run.liver, run.scenario)
        for key, flow in (("compartment_flow_baseline_m3s", baseline), ("compartment_flow_final_m3s", ag.final_flow(run)),
                          ("compartment_flow_final_m3s", ag.final_flow(run, baseline=baseline))):
            want = run.state[key]
            np.testing.assert_allclose(ag.solved_state(flow, 0.0).comp_q, want, rtol=1e-9, atol=1e-15 * np.abs(want).max())
        before = ag.run_angiograms(run)[0]
        assert before.transit.injection.rate_m3s * 1e6 == pytest.approx(run.summary["angiogram_rate_baseline_ml_s"],
                                                                         rel=1e-9)


def test_coils_redistribute_flow_to_the_liver(cha_runs):
    """The coiled vessels keep the residual share of their flow (to the 1% iteration tolerance), the hepaticoenteric
    beds lose that flow and the hepatic arterial inflow rises; without coils there are no coil keys."""
    s = cha_runs["coiled"].summary
    assert s["coil_residual_flow_fraction"] == pytest.approx(0.02, rel=0.011)
    assert s["hepaticoenteric_flow_after_coils_ml_min"] < s["hepaticoenteric_flow_before_coils_ml_min"] - 0.9 * (
        s["coiled_vessel_flow_before_ml_min"] - s["coiled_vessel_flow_after_ml_min"])
    assert s["hepatic_arterial_inflow_after_coils_ml_min"] > s["hepatic_arterial_inflow_before_coils_ml_min"]
    assert s["hepatic_arterial_inflow_change_fraction"] > 0
    assert cha_runs["sealed"].summary["coiled_vessel_flow_after_ml_min"] == 0.0
    assert "coils" not in cha_runs["open"].summary


def test_allowed_names_follow_the_michels_variant():
    """Replaced and accessory arteries are coilable only in the variants that have them; roots never."""
    conventional = coilable_arteries(AnatomyConfig())
    assert {"GDA", "RGA", "cystic", "RHA"} <= set(conventional) and "coeliac" not in conventional
    assert "replaced_RHA" not in conventional
    replaced = coilable_arteries(AnatomyConfig(michels_type="III"))
    assert "replaced_RHA" in replaced and "RHA" not in replaced
    assert set(hepaticoenteric_beds(AnatomyConfig())) == {"GDA", "RGA", "cystic"}


BAD = [
    ("unknown", "[procedure]\ncoils = ['gastroduodenal']\n", "allowed: splenic, LGA, CHA, GDA"),
    ("variant_absent", "[anatomy]\nmichels_type = 'III'\n[procedure]\ncoils = ['RHA']\n", "replaced_RHA"),
    ("catheter_path", "[procedure]\ncoils = ['PHA']\n", "carries the catheter"),
    ("twice", "[procedure]\ncoils = ['GDA', 'GDA']\n", "named twice"),
    ("residual", "[procedure]\ncoils = ['GDA']\ncoil_residual_flow_fraction = 1.5\n", "less than 1"),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_coils_one_line_exit_2(invoke, tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.path.startswith("procedure.coil") and words in info.value.message, str(info.value)
    assert_run_refused(invoke, path, tmp_path / "out", "procedure.coil", words)


def test_the_maa_work_up_sees_the_coils(coarse_scenario, coarse_liver):
    """The work-up from the CHA sends MAA down the GDA and RGA; with both sealed at the mapping none goes there and
    the non-target share falls to the uncoiled cystic artery's."""
    from sim.sirt_workup import maa_workup

    base = coarse_scenario.with_updates({"catheter.vessel": "CHA"})
    sealed = base.with_updates({"procedure.coils": ["GDA", "RGA"], "procedure.coil_residual_flow_fraction": 0.0})
    open_ = maa_workup(base, liver=coarse_liver, n_particles=20_000, rng=np.random.default_rng(1))
    coiled = maa_workup(sealed, liver=coarse_liver, n_particles=20_000, rng=np.random.default_rng(1))
    assert open_.nontarget_fraction > 0.15
    assert coiled.nontarget_fraction < 0.3 * open_.nontarget_fraction
    assert coiled.normal_fraction + coiled.tumour_fraction > open_.normal_fraction + open_.tumour_fraction
