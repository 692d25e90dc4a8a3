"""cTACE Lipiodol model (sim/lipiodol.py): water filling, emulsion, fill routes, embolic effect, sessions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sim
from sim.anatomy import build_liver
from sim.kernels.twoport import COMP_ART, COMP_HV, COMP_POR
from sim.lipiodol import (
    WATER_IN_OIL_POINTS,
    apply_fill,
    emulsion_from_config,
    fill,
    retained_fraction,
    water_fill,
    water_in_oil_share,
)
from sim.network import Compartments
from sim.outcomes import tumour_inflow_ratios
from sim.scenario import AgentConfig, Scenario, ScenarioError


# --- water filling: analytic cases -------------------------------------------------------------------------------
def test_water_fill_is_proportional_below_every_capacity():
    w = np.array([1.0, 2.0, 3.0])
    v = water_fill(w, np.array([10.0, 10.0, 10.0]), 3.0)
    np.testing.assert_allclose(v, [0.5, 1.0, 1.5])


def test_water_fill_passes_a_full_share_on_and_conserves_volume():
    w = np.array([1.0, 1.0, 2.0, 0.0])
    k = np.array([0.2, 5.0, 5.0, 7.0])
    v = water_fill(w, k, 3.0)
    assert v.sum() == pytest.approx(3.0)
    assert v[0] == pytest.approx(0.2)  # full
    assert v[3] == 0.0  # no flow, no oil
    assert v[2] == pytest.approx(2.0 * v[1])  # the open ones stay in proportion to their flow
    np.testing.assert_allclose(water_fill(w, k, 100.0), [0.2, 5.0, 5.0, 0.0])  # beyond capacity: all full


def test_water_fill_just_below_the_capacity_fills_everything():
    """Rounding may put the summed breakpoints a hair below the volume: still one level, everything full."""
    rng = np.random.default_rng(7)
    w, k = rng.random(100_000), rng.random(100_000)
    for volume in (np.nextafter(k.sum(), 0.0), k.sum() * (1 - 1e-15)):
        v = water_fill(w, k, float(volume))
        assert v.sum() == pytest.approx(volume, rel=1e-9) and np.all(v <= k)  # cumulative sums round


@pytest.mark.parametrize("seed", range(5))
def test_water_fill_random_cases_meet_its_definition(seed):
    rng = np.random.default_rng(seed)
    w, k = rng.random(50), rng.random(50)
    volume = rng.random() * k.sum()
    v = water_fill(w, k, volume)
    assert v.sum() == pytest.approx(volume)
    assert np.all(v <= k + 1e-15)
    open_ = v < k - 1e-12
    level = v[open_] / w[open_]
    assert np.ptp(level) < 1e-9  # one level for every element not full
    assert np.all(k[~open_] / w[~open_] <= level.max() + 1e-9)  # the full ones filled below it


# --- the emulsion -------------------------------------------------------------------------------------------------
def test_water_in_oil_share_reproduces_masada_and_is_capped():
    for ratio, share in WATER_IN_OIL_POINTS:
        assert water_in_oil_share(ratio) == pytest.approx(share)
    assert water_in_oil_share(4.0) == pytest.approx(WATER_IN_OIL_POINTS[1][1])  # capped at about 70%
    assert water_in_oil_share(0.5) == 0.0


def test_emulsion_type_and_viscosity_follow_the_published_trend():
    """[Masada2017]: the 1:1 emulsion is mostly oil-in-water and less viscous than the 2:1 water-in-oil one."""
    wo = emulsion_from_config(AgentConfig(kind="lipiodol", lipiodol_to_aqueous_ratio=2.0))
    ow = emulsion_from_config(AgentConfig(kind="lipiodol", lipiodol_to_aqueous_ratio=1.0))
    assert wo.phase == "water-in-oil" and ow.phase == "oil-in-water"
    assert wo.viscosity_pa_s > ow.viscosity_pa_s
    assert wo.viscosity_pa_s > 25e-3  # drops of water thicken the oil (Taylor, Krieger-Dougherty)
    assert wo.aqueous_m3 == pytest.approx(wo.oil_m3 / 2.0)


def test_retention_halves_at_the_half_life():
    assert retained_fraction(3.0, 3.0) == pytest.approx(0.5)
    assert retained_fraction(28.0, 60.0) > retained_fraction(28.0, 3.0)


# --- fill routes on a hand-made tree ------------------------------------------------------------------------------
def _tree():
    """Root 0 -> 1 -> (2, 3): tissue at leaves 2 and 3 (3 holds tumour), a plexus at node 1."""
    parent = np.array([-1, 0, 1, 1])
    comps = Compartments(
        node=np.array([2, 3, 1]), kind=np.array([0, 0, 1], np.int8),
        volume_m3=np.array([100e-6, 100e-6, 1e-6]), tumour_volume_m3=np.array([0.0, 50e-6, 0.0]),
        necrotic_volume_m3=np.zeros(3), tumour_id=np.array([-1, 0, -1]), demand_art_m3s=np.ones(3),
        demand_por_m3s=np.ones(3), demand_extra_m3s=np.zeros(3), extra_trunk_node=np.full(3, -1))
    q = np.zeros((3, 4))
    q[:, COMP_ART] = [1e-7, 3e-7, 0.1e-7]  # the tumour takes three times the flow
    q[:, COMP_POR] = [4e-7, 0.5e-7, 0.0]
    return parent, comps, q


def _fill(volume_ml, q=None, sin=0.01, por=0.005):
    parent, comps, q0 = _tree()
    return comps, fill(comps, parent, q0 if q is None else q, np.ones(4, bool), volume_ml * 1e-6, sin, por)


def test_fill_conserves_the_oil():
    for volume in (0.1, 1.0, 1.4, 5.0):
        _, f = _fill(volume)
        assert f.deposited_m3.sum() + f.systemic_m3 == pytest.approx(volume * 1e-6, rel=1e-12)


def test_fill_follows_the_flow_then_overflows_into_the_portal_venules():
    comps, f = _fill(0.4)
    assert f.sinusoid_m3[1] > f.sinusoid_m3[0]  # more flow, more oil (until full)
    comps, small = _fill(0.2)
    comps, large = _fill(2.4)
    assert large.portal_m3[:2].sum() > small.portal_m3[:2].sum()  # portal filling rises with volume
    assert large.sinusoid_m3[1] == pytest.approx(large.sinusoid_capacity_m3[1])  # the fast compartment fills first
    assert large.systemic_m3 == 0.0
    _, full = _fill(10.0)
    np.testing.assert_allclose(full.portal_m3[:2], full.portal_capacity_m3[:2])
    assert full.systemic_m3 > 0  # what no compartment holds passes to the hepatic veins


def test_plexus_oil_reaches_the_portal_venules_below_its_node_even_without_portal_flow():
    parent, comps, q = _tree()
    q[:, COMP_POR] = 0.0  # portal thrombosis: no portal flow below
    f = fill(comps, parent, q, np.ones(4, bool), 0.05e-6, 0.01, 0.005)
    expected = 0.05e-6 * q[2, COMP_ART] / q[:, COMP_ART].sum()
    assert f.plexus_m3 == pytest.approx(expected)
    assert f.portal_m3[0] == pytest.approx(f.portal_m3[1])  # equal portal capacity below node 1: equal shares


def test_outside_the_territory_gets_nothing():
    parent, comps, q = _tree()
    f = fill(comps, parent, q, np.array([True, True, True, False]), 0.5e-6, 0.01, 0.005)
    assert f.deposited_m3[1] == 0.0 and f.deposited_m3[0] > 0


def test_apply_fill_lowers_conductances_by_the_viscosity_ratio_over_the_filled_share():
    comps, f = _fill(10.0)  # everything full
    g = np.ones((3, 4))
    apply_fill(g, f, 11.0, comps)
    np.testing.assert_allclose(g[:2, [COMP_ART, COMP_POR]], 1.0 / 11.0)
    # the tumour's spaces keep the oil (its outflow closes over its share); normal sinusoids keep draining
    # [Koda1999Microcirculation]: the tumour and normal parts in parallel
    share = comps.tumour_volume_m3[:2] / comps.volume_m3[:2]
    np.testing.assert_allclose(g[:2, COMP_HV], share / 11.0 + (1.0 - share))
    np.testing.assert_allclose(g[2], 1.0)  # the plexus is a transit route: left open


# --- sessions on a built liver -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def liver():
    return build_liver(Scenario().with_updates({"liver.terminal_diameter_um": 300.0}), progress=False)


def _run(liver, **updates):
    return sim.run(liver.scenario.with_updates(updates), liver=liver, progress=False)


def test_lipiodol_session_reports_its_keys_and_portal_filling_grows_with_volume(liver):
    small = _run(liver, **{"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 0.5}).summary
    large = _run(liver, **{"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 2.0}).summary
    assert small["agent"] == "lipiodol emulsion" and small["particles_injected"] == 0
    assert 0.0 <= small["portal_opacification_fraction"] < large["portal_opacification_fraction"] <= 1.0
    assert small["lipiodol_tumour_to_normal_ratio"] > 1.0  # the hypervascular tumour takes more oil per volume
    assert large["antegrade_flow_fraction"] < small["antegrade_flow_fraction"] < 1.0  # an embolic effect
    kept_tumour = large["lipiodol_tumour_retained_28d_ml"] / large["lipiodol_tumour_ml"]
    kept_normal = large["lipiodol_normal_retained_28d_ml"] / large["lipiodol_normal_ml"]
    assert kept_tumour > 0.5 > 0.01 > kept_normal  # the tumour keeps its oil for weeks, normal liver washes it out


def test_lipiodol_embolises_the_tumour_portal_supply_particles_do_not(liver):
    # a segmental thrombus that leaves the tumour some portal supply to embolise (the default 0.9998 leaves
    # almost none, and the ratios below compare noise)
    pvt = {"portal.thrombosis": "P5", "portal.thrombosis_occlusion": 0.999}
    lip = _run(liver, **pvt, **{"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 3.0})
    tae = _run(liver, **pvt)
    def portal_ratio(result):
        return tumour_inflow_ratios(liver.compiled.compartments, result.state["compartment_flow_baseline_m3s"],
                                    result.state["compartment_flow_final_m3s"])[1]

    # 0.59 on this coarse liver, whose compartments mix much normal liver with the tumour; 0.24 at the shipped
    # resolution (docs/tace.md, generated)
    assert portal_ratio(lip) < 0.75 * portal_ratio(tae)


def test_particles_may_follow_the_oil_and_only_slow_the_flow_further(liver):
    result = _run(liver, **{"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 0.5, "agent.permanent": False,
                            "procedure.agent_sequence": [{"kind": "microspheres", "size_bin": "300-500"}]})
    s, ts = result.summary, result.timeseries
    assert s["agent"] == "lipiodol emulsion then microspheres 300-500 um"
    assert s["particles_injected"] > 0
    assert list(ts["agent"].iloc[:2]) == ["lipiodol emulsion"] * 2  # the baseline row and the row after the oil
    after_oil = ts["antegrade_flow_fraction"].iloc[1]
    particles = ts[ts["particles"] > 0]["antegrade_flow_fraction"].to_numpy()
    assert after_oil < 1.0 and np.all(particles <= after_oil + 1e-9)  # a plug in an oil-filled bed adds resistance
    from sim import figures  # the curve names the oil's step at 0 mL (review 28: an unlabelled vertical line)

    texts = [t.get_text() for t in figures.endpoint_curve(result).axes[0].texts]
    assert any(t.startswith("Lipiodol first (0.5 mL of oil)") and f"\u2192 {after_oil:.0%}" in t for t in texts)


@pytest.mark.parametrize("updates", [
    {"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 2.0},
    {"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 0.5, "agent.permanent": False,
     "procedure.agent_sequence": [{"kind": "microspheres", "size_bin": "300-500"}]}])
def test_the_flow_after_a_ctace_session_has_its_oil(liver, updates):
    """The flow model at the end of a cTACE run (the DSA after, figures from saved runs, the explorer) puts the oil
    back from the saved fill before the particles' load: its native compartment flows are the run's final flows.
    Without the oil the oiled compartments' arterial inflow came back about tenfold (issue 18's review)."""
    from sim import angiography as ag

    run = _run(liver, **updates)
    final = run.state["compartment_flow_final_m3s"]
    oiled = run.state["lipiodol_sinusoid_fill"] > 0
    assert oiled.sum() > 10
    for flow in (ag.final_flow(run), ag.final_flow(run, baseline=ag.baseline_flow(run.liver, run.scenario))):
        got = ag.solved_state(flow, 0.0).comp_q
        np.testing.assert_allclose(got, final, rtol=1e-9, atol=1e-15 * np.abs(final).max())


def test_bad_lipiodol_volume_names_the_key():
    with pytest.raises(ScenarioError, match="agent.lipiodol_volume_ml"):
        Scenario().with_updates({"agent.lipiodol_volume_ml": 0.0})


def test_saved_run_carries_where_the_oil_went_and_the_before_after_figure_draws_it(liver, tmp_path):
    from sim import figures

    result = _run(liver, **{"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 10.0})
    result.write(tmp_path / "run", figures=False)
    data = figures.load_run(tmp_path / "run")
    oil = np.asarray(data["parenchyma/lipiodol_sinusoid"], float)
    portal = np.asarray(data["parenchyma/lipiodol_portal"], float)
    segment = np.asarray(data["parenchyma/segment"])
    assert oil.shape == portal.shape == segment.shape
    assert ((oil >= 0) & (oil <= 1.001)).all() and oil[segment == 4].max() > 0.5  # segment V (index 4) holds oil
    assert oil[(segment != 4)].max() == 0.0  # A5 feeds segment V only
    labels = [text.get_text() for legend in figures.before_after(data).legends for text in legend.texts]
    assert any("Lipiodol in the sinusoids" in label for label in labels)
    curve = figures.endpoint_curve(data)  # no particle: the curve says so, on an axis of mL, not of 1e-9 mL
    assert any("Lipiodol alone" in t.get_text() for t in curve.axes[0].texts) and curve.axes[0].get_xlim()[1] > 0.5
    drop = f"flow 100% \u2192 {result.summary['antegrade_flow_fraction']:.0%}"  # the oil's step at 0 mL is named
    assert any(t.get_text().startswith("Lipiodol (10 mL of oil)") and drop in t.get_text() for t in curve.axes[0].texts)


def test_the_report_tells_the_oil_and_the_drug(liver):
    """report.md of a cTACE session says what was injected and where the drug went (it said "after 0 particles: 0 mL"
    and nothing of the oil or the drug), and heads its patient selection once."""
    from sim.report import render_report

    result = _run(liver, **{"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 2.0})
    s, text = result.summary, render_report(result)
    # the oil alone is given by volume: not "Stopped on max_volume (endpoint not reached)" (review 37)
    assert f"{s['lipiodol_volume_ml']:.3g} mL of Lipiodol given (by volume; no particles followed)" in text
    assert "Stopped on" not in text
    assert "## Lipiodol (cTACE)" in text and f"{s['lipiodol_tumour_ml']:.3g} mL" in text
    assert "## Drug" in text and f"{s['drug_delivered_mg']:.3g} mg delivered" in text
    assert "weak point" not in text  # the beads' plasma caveat (test_tace_deb) is not the emulsion's
    assert f"peak {s['plasma_doxorubicin_peak_ng_ml']:.3g} ng/mL" in text and "AUC" in text  # (review 37: missing)
    assert text.count("## Patient selection") == 1
    # review 49: shares of no particle read 0, the portal oil looked like a fourth destination (the four summed to more
    # than was given), "before any particle" with none after, and a raw key stood where the baseline rate belongs
    assert "| Particles in tumour | n/a (no particle injected) |" in text
    assert "| Non-target particles (extrahepatic) | n/a (no particle injected) |" in text
    assert f"of these two, {s['lipiodol_portal_ml']:.3g} mL in the portal venules" in text
    assert s["lipiodol_tumour_ml"] + s["lipiodol_normal_ml"] + s["lipiodol_systemic_ml"] == \
        pytest.approx(s["lipiodol_volume_ml"], rel=1e-9)  # the portal oil is inside the tissue's (the wording's claim)
    assert "before the particles" not in text and "before any particle" not in text
    assert f"(baseline run: {s['angiogram_rate_baseline_ml_s']:.3g} mL/s)" in text and "angiogram_rate_" not in text


def test_lobar_lipiodol_alone_embolises_the_tumour_but_does_not_infarct_the_normal_liver(liver):
    """Review 37: a lobar injection of Lipiodol alone (10 mL, routine) infarcted half of the normal liver (0.49 at the
    shipped resolution) because the sinusoidal oil also closed the hepatic-venous side. The liver tolerates even large
    doses of oil alone [Kan1993IodizedOil] and the terminal hepatic venules keep their flow [Koda1999Microcirculation];
    the arterial flow still slows (the injection is given to stagnation) and the tumour is still embolised."""
    run = _run(liver, **{"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 10.0, "catheter.vessel": "RHA"}).summary
    assert run["lipiodol_normal_ml"] > 5.0 and run["portal_opacification_fraction"] > 0.0
    assert run["normal_necrosis_fraction"] < 0.05 and run["normal_ischaemic_fraction"] < 0.05
    assert run["antegrade_flow_fraction"] < 0.5 and run["tumour_necrosis_fraction"] > 0.5


def test_a_necrotic_core_holds_no_oil_and_the_tumours_oil_is_the_tumours():
    """Review 37: the oil a tumour compartment's necrotic share held was reported as normal liver (and the drug with
    it). A necrotic core has no vascular space: no capacity; a compartment of viable tumour and core holds tumour oil
    only."""
    from sim.lipiodol import oil_by_tissue

    parent, comps, q = _tree()
    cored = dataclasses.replace(comps, necrotic_volume_m3=np.array([0.0, 50e-6, 0.0]))  # tumour 50, core 50 of 100
    f = fill(cored, parent, q, np.ones(4, bool), 10e-6, 0.01, 0.005)  # everything full
    assert f.sinusoid_capacity_m3[1] == pytest.approx(0.5 * f.sinusoid_capacity_m3[0])  # the perfused half only
    tumour, normal = oil_by_tissue(cored, f)
    assert tumour == pytest.approx(f.deposited_m3[1]) and normal == pytest.approx(f.deposited_m3[0])


def test_an_oil_in_water_emulsion_embolises_with_its_oil(liver):
    """Review 37: a 1:2 emulsion (mostly oil-in-water, its mixture thinner than blood) had no embolic effect with the oil
    sitting in the portal venules. In the microvessels the emulsion breaks up and the oil stays: its effect is the
    oil's, whatever the emulsion type (which sets the drug's release only)."""
    runs = {r: _run(liver, **{"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 2.0,
                              "agent.lipiodol_to_aqueous_ratio": r}).summary for r in (0.5, 2.0)}
    thin, thick = runs[0.5], runs[2.0]
    assert thin["emulsion_viscosity_mPa_s"] < 3.5 < thick["emulsion_viscosity_mPa_s"]  # the mixtures as injected
    assert thin["antegrade_flow_fraction"] < 0.9 and thin["tumour_necrosis_fraction"] > 0.1
    assert thin["antegrade_flow_fraction"] == pytest.approx(thick["antegrade_flow_fraction"])  # the same oil
    assert thin["drug_release_half_life_h"] != thick["drug_release_half_life_h"]  # the type sets the release


def test_oil_given_where_no_liver_tissue_is_downstream_goes_on():
    """Review 39: from a non-target artery the oil ended nowhere (tumour, normal and systemic all 0) and its drug
    with it; it goes on, out of the liver, all of it."""
    parent, comps, q = _tree()
    f = fill(comps, parent, q, np.zeros(4, bool), 0.5e-6, 0.01, 0.005)  # no territory
    assert f.deposited_m3.sum() == 0.0 and f.systemic_m3 == pytest.approx(0.5e-6)


def test_more_than_twenty_ml_of_lipiodol_is_flagged_for_pulmonary_oil_embolism(liver):
    """[Chung1993PulmonaryOil]: symptomatic pulmonary oil embolism in 6 of the 14 patients given more than 20 mL; the
    summary flags the volume and report.md says so (review 37: no safety read-out for the oil)."""
    lobar = {"agent.kind": "lipiodol", "catheter.vessel": "RHA"}
    within = _run(liver, **lobar, **{"agent.lipiodol_volume_ml": 20.0})
    beyond = _run(liver, **lobar, **{"agent.lipiodol_volume_ml": 24.0})
    assert within.summary["lipiodol_pulmonary_risk"] is False and beyond.summary["lipiodol_pulmonary_risk"] is True
    assert "pulmonary oil embolism" in beyond.report and "pulmonary oil embolism" not in within.report
    assert beyond.summary["lipiodol_systemic_ml"] > within.summary["lipiodol_systemic_ml"]


def test_a_full_territorys_ratio_of_1_is_said_to_be_the_models_limit_and_a_stop_is_said_once():
    """Review 53: a cTACE report's "tumour/normal 1 per volume" read as a finding (cTACE not tumour-selective), where
    it is the model's limit once the territory is full (docs/tace.md); and "endpoint reached (endpoint reached)"."""
    from sim.report import _stopped, _tace_section
    from sim.scenario import Scenario

    oil = {"lipiodol_volume_ml": 3.0, "emulsion_volume_ml": 4.5, "emulsion_type": "water-in-oil",
           "emulsion_droplet_um": 50.0, "emulsion_viscosity_mPa_s": 25.0, "particles_injected": 0,
           "lipiodol_tumour_ml": 0.5, "lipiodol_normal_ml": 2.0, "lipiodol_portal_ml": 0.3,
           "portal_opacification_fraction": 0.5, "lipiodol_systemic_ml": 0.5, "lipiodol_tumour_retained_28d_ml": 0.4}
    full = "\n".join(_tace_section({**oil, "lipiodol_tumour_to_normal_ratio": 1.0}))
    partial = "\n".join(_tace_section({**oil, "lipiodol_tumour_to_normal_ratio": 2.4}))
    assert "tumour/normal ratio of 1 is the model's limit, not a finding" in full
    assert "model's limit" not in partial
    run = {"stop_reason": "endpoint", "endpoint_reached": True, "particles_injected": 10, "particle_volume_ml": 0.1,
           "vials": 0.05, "suspension_volume_ml": 1.0, "injection_time_min": 1.0}
    assert _stopped(run, Scenario()).startswith("Stopped: **endpoint reached** after 10 particles")
    short = _stopped({**run, "stop_reason": "max_volume", "endpoint_reached": False}, Scenario())
    assert "(endpoint not reached) after" in short
