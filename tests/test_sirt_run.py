"""SIRT runs (issue 16): a Y-90 run stops at the prescribed activity; activity is conserved; doses and DVH."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

import sim
from sim import dosimetry as dm
from sim.agents import agent_from_config
from sim.sirt_deposition import compartment_amounts
from sim.sirt_run import sirt_readouts
from sim.sirt_workup import tumour_shunt_fractions
from sim.y90 import GBQ_BQ


@pytest.fixture(scope="module")
def glass_run():
    scenario = sim.Scenario().with_updates({"agent.kind": "y90_glass", "agent.activity_gbq": 0.05,
                                            "agent.treatment_delay_h": 24.0})
    return sim.run(scenario, progress=False)


def test_y90_run_delivers_the_prescribed_spheres(glass_run):
    s = glass_run.summary
    assert s["stop_reason"] == "activity_delivered"
    assert s["sirt_spheres_delivered"] == round(s["sirt_spheres_prescribed"]) == s["particles_injected"]
    assert s["sirt_activity_delivered_gbq"] == pytest.approx(0.05, rel=1e-4)
    # one day after calibration each glass sphere carries 2500 x 2^(-24/64.1) Bq
    assert s["sirt_activity_per_sphere_bq"] == pytest.approx(2500.0 * 2 ** (-24.0 / 64.1), rel=1e-12)


def test_activity_is_conserved(glass_run):
    s = glass_run.summary
    suspended = s["particles_in_suspension"] * s["sirt_activity_per_sphere_bq"] / GBQ_BQ
    parts = (s["sirt_activity_liver_gbq"] + s["sirt_activity_lung_gbq"] + s["sirt_activity_nontarget_gbq"]
             + s["sirt_activity_named_vessels_gbq"] + suspended)
    assert parts == pytest.approx(s["sirt_activity_delivered_gbq"], rel=1e-9)
    assert s["sirt_lung_dose_gy"] == pytest.approx(49.73 * s["sirt_activity_lung_gbq"], rel=1e-3)
    assert 0 < s["sirt_lung_shunt_fraction"] < 0.1
    # tumour dose above normal-liver dose: the tumour takes more spheres per gram (T/N of the run above 1)
    assert s["tumour_to_normal_deposition_ratio"] > 1.5
    assert s["sirt_tumour_dose_mean_gy"] > 1.5 * s["sirt_normal_liver_dose_mean_gy"] > 0
    # a segmental injection: the perfused normal liver takes the activity, the whole liver's mean is diluted
    assert s["sirt_normal_liver_dose_mean_gy"] > 3 * s["sirt_normal_liver_dose_whole_gy"] > 0


def test_local_doses_keep_every_lodged_sphere_s_energy(glass_run):
    """Dose x mass over the liver's tumour and normal liver is the energy of the activity lodged in the liver (its
    peribiliary beds included, spread over the tissue below): nothing lodged goes undosed."""
    s, arrays = glass_run.summary, glass_run.state["sirt"]
    energy = (arrays["tumour_dose_gy"] * arrays["tumour_mass_kg"] + arrays["normal_dose_gy"] * arrays["normal_mass_kg"])
    assert energy.sum() == pytest.approx(49.73 * s["sirt_activity_liver_gbq"], rel=1e-3)
    assert s["sirt_absorbed_energy_fraction"] == 1.0


def test_the_run_checks_the_cumulative_lung_limit_and_knows_a_segmentectomy(glass_run):
    """The delivered doses are checked as a plan is: an earlier lung dose counts towards the 50 Gy limit; a segmental
    injection's ablative perfused normal-liver dose is an info finding, not a warning."""
    s = glass_run.summary
    perfused = glass_run.state["sirt"]["perfused"]
    volume = glass_run.liver.compiled.compartments.volume_m3
    assert volume[perfused].sum() / volume[glass_run.liver.compiled.compartments.kind == 0].sum() < 0.25
    assert not any(f.startswith("refuse") for f in s["sirt_limit_findings"])
    prior = 50.0 - 0.5 * s["sirt_lung_dose_gy"]
    again = sim.run(glass_run.scenario.with_updates({"patient.prior_lung_dose_gy": prior}), progress=False)
    assert any(f.startswith("refuse: cumulative lung dose") for f in again.summary["sirt_limit_findings"])
    ablative = sim.run(glass_run.scenario.with_updates({"agent.activity_gbq": 2.0}), progress=False).summary
    assert ablative["sirt_normal_liver_dose_mean_gy"] > 70.0
    assert [f.split(":")[0] for f in ablative["sirt_limit_findings"]] == ["info"]


def test_dvh_table_is_written(glass_run, tmp_path):
    written = {p.name for p in glass_run.write(tmp_path / "out", figures=False)}
    assert "dvh.csv" in written
    table = pd.read_csv(tmp_path / "out" / "dvh.csv")
    assert set(table["region"]) == {"tumour", "normal_liver"}
    for _, part in table.groupby("region"):
        assert np.all(np.diff(part["dose_gy"]) >= 0) and part["mass_fraction_at_least"].iloc[0] == pytest.approx(1.0)
    tumour = table[table.region == "tumour"]
    mean = float((tumour.dose_gy * tumour.mass_g).sum() / tumour.mass_g.sum())
    assert mean == pytest.approx(glass_run.summary["sirt_tumour_dose_mean_gy"], rel=1e-9)


def _uniform_state(liver, through_vessels: bool):
    """Spheres in proportion to tissue volume: in the beds, or in the root vessels of the subtrees."""
    comps, forest = liver.compartments, liver.forest
    tissue = comps.kind == 0
    n_total = 1e7
    lodged_comp = np.zeros(comps.n)
    lodged_ped = np.zeros(forest.n_nodes)
    if through_vessels:
        roots = np.flatnonzero(np.asarray(forest.parent) < 0)
        node_volume = np.bincount(comps.node[tissue], weights=comps.volume_m3[tissue], minlength=forest.n_nodes)
        from sim.kernels.treewalk import subtree_sums

        below = np.empty_like(node_volume)
        subtree_sums(np.asarray(forest.parent, np.int64), node_volume, below)
        lodged_ped[roots] = n_total * below[roots] / below[roots].sum()
    else:
        lodged_comp[tissue] = n_total * comps.volume_m3[tissue] / comps.volume_m3[tissue].sum()
    return types.SimpleNamespace(lodged_comp=lodged_comp, lodged_ped=lodged_ped,
                                 lodged_trunk=np.zeros(liver.trunk.n_edges), nontarget=np.zeros(1)), n_total


@pytest.mark.parametrize("through_vessels", [False, True], ids=["beds", "vessels"])
def test_uniform_deposition_reproduces_the_partition_model(glass_run, through_vessels):
    """Spheres spread in proportion to tissue volume: in the beds, tumour concentration (1 - s) x normal after the
    shunt s, lung share s x tumour share; the run's doses are the partition model's with T/N = 1 - s and that lung
    shunt. Wedged in the vessels above, they stop upstream of the tumour's shunts: T/N 1, no lung shunt."""
    liver = glass_run.liver.compiled
    scenario = glass_run.scenario
    ps, n = _uniform_state(liver, through_vessels)
    agent = agent_from_config(scenario.agent)
    summary, _, _ = sirt_readouts(scenario, liver, ps, int(n), agent)
    comps = liver.compartments
    tissue = comps.kind == 0
    m_t = comps.tumour_volume_m3[tissue].sum() * 1000.0
    m_n = (comps.volume_m3 - comps.tumour_volume_m3 - comps.necrotic_volume_m3)[tissue].sum() * 1000.0
    viable_share = m_t / (m_t + m_n)
    s = float(tumour_shunt_fractions(scenario)[0]) if not through_vessels else 0.0
    assert s > 0 or through_vessels
    assert comps.necrotic_volume_m3.sum() == 0.0  # every sphere lands in viable tumour or normal liver
    activity = n * agent.activity_per_sphere_bq() / GBQ_BQ
    p = dm.Partition(tumour_mass_kg=m_t, normal_mass_kg=m_n, tn_ratio=1.0 - s, lung_shunt_fraction=s * viable_share)
    ref = dm.partition_doses(activity, p)
    assert summary["sirt_tumour_dose_mean_gy"] == pytest.approx(ref.tumour_gy, rel=1e-9)
    assert summary["sirt_normal_liver_dose_mean_gy"] == pytest.approx(ref.normal_gy, rel=1e-9)
    assert summary["sirt_lung_dose_gy"] == pytest.approx(ref.lung_gy, rel=1e-9)


def test_compartment_amounts_conserve_vessel_and_peribiliary_lodgings(glass_run):
    """Every sphere lands in tissue (those in vessels and peribiliary beds spread below): none is left undosed."""
    liver = glass_run.liver.compiled
    comps = liver.compartments
    rng = np.random.default_rng(0)
    lodged_ped = rng.integers(0, 5, liver.forest.n_nodes)
    lodged_comp = rng.integers(0, 5, comps.n)
    assert (comps.kind != 0).any() and lodged_comp[comps.kind != 0].sum() > 0  # peribiliary beds hold some
    in_beds, total = compartment_amounts(liver, lodged_ped, lodged_comp)
    assert total.sum() == pytest.approx(lodged_ped.sum() + lodged_comp.sum(), rel=1e-9)
    tissue = comps.kind == 0
    assert np.array_equal(in_beds[tissue], lodged_comp[tissue]) and not in_beds[~tissue].any()
    assert not total[~tissue].any() and np.all(total >= in_beds)


def test_lobar_read_outs_are_the_treated_tumours(coarse_scenario):
    """A right lobar treatment of bilobar disease is judged on the tumours it treats: the mean tumour dose, D70 and the
    DVH are over the perfused tumour; the whole-liver mean (untreated left-lobe tumours at 0 Gy) is lower."""
    from sim.catalogue import scenarios_dir

    s = sim.load_scenario(scenarios_dir() / "sirt_resin_lobar_bilobar_net.toml").with_updates(
        {"liver.terminal_diameter_um": coarse_scenario.liver.terminal_diameter_um, "agent.activity_gbq": 0.05})
    r = sim.run(s, progress=False)
    summary, perfused = r.summary, r.state["sirt"]["perfused"]
    tumour_mass = r.state["sirt"]["tumour_mass_kg"]
    assert tumour_mass[perfused].sum() > 0 and tumour_mass[~perfused].sum() > 0  # tumours on both sides
    assert summary["sirt_tumour_dose_whole_gy"] < summary["sirt_tumour_dose_mean_gy"]
    share = tumour_mass[perfused].sum() / tumour_mass.sum()
    # the left-lobe tumours get (almost) nothing: the whole mean is the perfused mean diluted by their mass
    assert summary["sirt_tumour_dose_whole_gy"] == pytest.approx(summary["sirt_tumour_dose_mean_gy"] * share, rel=0.05)
    assert summary["sirt_y90_tn"] == pytest.approx(
        summary["sirt_tumour_dose_mean_gy"] / summary["sirt_normal_liver_dose_mean_gy"], rel=1e-9)
    tumour_rows = r.dvh[r.dvh["region"] == "tumour"]
    assert tumour_rows["mass_g"].sum() == pytest.approx(tumour_mass[perfused].sum() * 1e3, rel=1e-9)


def test_nontarget_findings_name_the_branches_that_took_a_per_cent():
    from sim.sirt_run import nontarget_findings

    found = nontarget_findings({"cystic": 0.06e9, "GDA": 0.005e9, "RGA": 0.02e9}, 1.0e9)
    assert [f.split(" left through the ")[1].split(" ")[0] for f in found] == ["cystic", "RGA"]  # GDA: 0.5%, not named
    assert found[0].startswith("info: 0.06 GBq (6.0% of the activity)") and "cholecystitis" in found[0]
    assert "cholecystitis" not in found[1] and nontarget_findings({}, 1.0e9) == []
