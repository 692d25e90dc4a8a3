"""SIRT activity planning (issue 16): the Y-90 dose coefficient, BSA, MIRD and partition closed forms, and the limits."""

from __future__ import annotations

import math

import pytest

import sim
from sim import dosimetry as dm
from sim import y90
from sim.anatomy import build_liver


def test_dose_coefficient_derived_from_physical_constants_matches_the_published_49_67():
    """K = 1e9 Bq x E x T1/2 / ln 2 with E = 0.9324 MeV (99.9885%) + 0.1846 MeV (0.0115%), T1/2 = 64.1 h."""
    energy_j = (0.999885 * 0.9324 + 0.000115 * 0.1846) * 1.602176634e-13
    k = 1e9 * energy_j * 64.1 * 3600.0 / math.log(2.0)
    assert y90.DOSE_GY_KG_PER_GBQ == pytest.approx(k, rel=1e-12)
    assert y90.DOSE_GY_KG_PER_GBQ == pytest.approx(49.67, rel=0.002)  # [Kao2011BSA], [VanRoekel2021Thesis]
    assert y90.dose_gy(2.0, 1.5) == pytest.approx(k * 2.0 / 1.5, rel=1e-12)


def test_mird_closed_form_and_inverse():
    k = y90.DOSE_GY_KG_PER_GBQ
    assert dm.mird_dose_gy(3.0, 1.2, 0.1) == pytest.approx(k * 3.0 * 0.9 / 1.2, rel=1e-12)
    assert dm.mird_activity_gbq(120.0, 1.0) == pytest.approx(120.0 / k, rel=1e-12)   # 2.41 GBq
    a = dm.mird_activity_gbq(250.0, 0.35, 0.07)
    assert dm.mird_dose_gy(a, 0.35, 0.07) == pytest.approx(250.0, rel=1e-12)


def test_partition_closed_form_conserves_activity_and_keeps_the_ratio():
    k = y90.DOSE_GY_KG_PER_GBQ
    p = dm.Partition(tumour_mass_kg=0.2, normal_mass_kg=1.3, tn_ratio=3.0, lung_shunt_fraction=0.1)
    d = dm.partition_doses(2.0, p)
    # by hand: liver 1.8 GBq, split 0.6 : 1.3
    assert d.tumour_gbq == pytest.approx(1.8 * 0.6 / 1.9, rel=1e-12)
    assert d.normal_gbq == pytest.approx(1.8 * 1.3 / 1.9, rel=1e-12)
    assert d.lung_gbq == pytest.approx(0.2, rel=1e-12)
    assert d.tumour_gbq + d.normal_gbq + d.lung_gbq == pytest.approx(2.0, rel=1e-12)
    assert d.tumour_gy == pytest.approx(k * 1.8 * 0.6 / 1.9 / 0.2, rel=1e-12)
    assert d.lung_gy == pytest.approx(k * 0.2 / 1.0, rel=1e-12)
    assert d.tumour_gy / d.normal_gy == pytest.approx(3.0, rel=1e-12)


@pytest.mark.parametrize("target", ["tumour_gy", "normal_gy", "lung_gy"])
def test_partition_activity_inverts_each_compartment(target):
    p = dm.Partition(tumour_mass_kg=0.15, normal_mass_kg=0.9, tn_ratio=4.5, lung_shunt_fraction=0.08)
    a = dm.partition_activity_gbq(p, **{target: 40.0})
    assert getattr(dm.partition_doses(a, p), target) == pytest.approx(40.0, rel=1e-12)


def test_partition_rejects_ambiguous_targets_and_bad_fractions():
    p = dm.Partition(tumour_mass_kg=0.1, normal_mass_kg=1.0, tn_ratio=2.0, lung_shunt_fraction=0.0)
    with pytest.raises(ValueError, match="exactly one"):
        dm.partition_activity_gbq(p, tumour_gy=100.0, normal_gy=30.0)
    with pytest.raises(ValueError, match="no activity"):
        dm.partition_activity_gbq(p, lung_gy=10.0)
    with pytest.raises(ValueError, match="lung_shunt_fraction"):
        dm.Partition(tumour_mass_kg=0.1, normal_mass_kg=1.0, tn_ratio=2.0, lung_shunt_fraction=1.0)


def test_partition_with_equal_uptake_is_the_mird_single_compartment():
    """T/N = 1: every liver gram gets the same dose, the single-compartment MIRD dose of the whole mass."""
    p = dm.Partition(tumour_mass_kg=0.3, normal_mass_kg=1.2, tn_ratio=1.0, lung_shunt_fraction=0.05)
    d = dm.partition_doses(2.5, p)
    mird = dm.mird_dose_gy(2.5, 1.5, 0.05)
    assert d.tumour_gy == pytest.approx(mird, rel=1e-12) and d.normal_gy == pytest.approx(mird, rel=1e-12)


def test_du_bois_body_surface_area():
    """175 cm, 70 kg: 1.85 m^2 (Du Bois tables); 160 cm, 50 kg: 1.50 m^2."""
    assert dm.body_surface_area_m2(1.75, 70.0) == pytest.approx(1.85, abs=0.01)
    assert dm.body_surface_area_m2(1.60, 50.0) == pytest.approx(1.50, abs=0.01)


def test_bsa_activity_closed_form_and_lung_shunt_bands():
    bsa = dm.body_surface_area_m2(1.75, 70.0)
    whole = (bsa - 0.2) + 0.25
    assert dm.bsa_activity_gbq(bsa, 0.25e-3, 1.0e-3) == pytest.approx(whole, rel=1e-12)
    assert dm.bsa_activity_gbq(bsa, 0.25e-3, 1.0e-3, treated_fraction=0.6) == pytest.approx(0.6 * whole, rel=1e-12)
    assert dm.bsa_activity_gbq(bsa, 0.25e-3, 1.0e-3, lung_shunt_fraction=0.12) == pytest.approx(0.8 * whole)
    assert dm.bsa_activity_gbq(bsa, 0.25e-3, 1.0e-3, lung_shunt_fraction=0.17) == pytest.approx(0.6 * whole)
    assert dm.lung_shunt_reduction(0.0999) == 1.0 and dm.lung_shunt_reduction(0.10) == 0.8
    with pytest.raises(dm.PlanRefused, match="20%"):
        dm.bsa_activity_gbq(bsa, 0.25e-3, 1.0e-3, lung_shunt_fraction=0.2)


def test_lung_limits_refuse_and_normal_liver_warns():
    p = dm.Partition(tumour_mass_kg=0.2, normal_mass_kg=1.8, tn_ratio=3.0, lung_shunt_fraction=0.3)
    at_30 = dm.partition_activity_gbq(p, lung_gy=30.0)
    assert dm.check_plan(dm.partition_doses(0.999 * at_30, p)) == []
    over = dm.check_plan(dm.partition_doses(1.001 * at_30, p))
    assert [f.rule for f in over] == ["lung_single"] and over[0].level == "refuse"
    cumulative = dm.check_plan(dm.partition_doses(dm.partition_activity_gbq(p, lung_gy=25.0), p), prior_lung_gy=26.0)
    assert [f.rule for f in cumulative] == ["lung_cumulative"]
    with pytest.raises(dm.PlanRefused, match="cumulative lung dose 51.0 Gy"):
        dm.enforce_plan(dm.partition_doses(dm.partition_activity_gbq(p, lung_gy=25.0), p), prior_lung_gy=26.0)
    no_shunt = dm.Partition(tumour_mass_kg=0.2, normal_mass_kg=1.3, tn_ratio=3.0, lung_shunt_fraction=0.0)
    assert dm.check_plan(dm.partition_doses(1.0, no_shunt), prior_lung_gy=60.0) == []  # nothing to the lungs
    warn = dm.enforce_plan(dm.partition_doses(dm.partition_activity_gbq(no_shunt, normal_gy=75.0), no_shunt))
    assert [(f.level, f.rule) for f in warn] == [("warn", "normal_liver")]


def test_segmental_treatment_is_not_held_to_the_normal_liver_limit():
    """Radiation segmentectomy (at most two Couinaud segments perfused) ablates its normal liver by intent: the
    70 Gy limit (lobar, whole liver) gives way to an info finding; three segments or more warn as before."""
    no_shunt = dm.Partition(tumour_mass_kg=0.2, normal_mass_kg=1.3, tn_ratio=3.0, lung_shunt_fraction=0.0)
    doses = dm.partition_doses(dm.partition_activity_gbq(no_shunt, normal_gy=200.0), no_shunt)
    segmental = dm.check_plan(doses, segments_perfused=dm.SEGMENTAL_MAX_SEGMENTS)
    assert [(f.level, f.rule) for f in segmental] == [("info", "segmental")]
    assert "200.0 Gy" in segmental[0].message and "2 Couinaud segments perfused" in segmental[0].message
    assert [f.rule for f in dm.enforce_plan(doses, segments_perfused=1)] == ["segmental"]  # not a refusal
    lobar = dm.check_plan(doses, segments_perfused=3)
    assert [(f.level, f.rule) for f in lobar] == [("warn", "normal_liver")]
    assert "ablative by intent" in segmental[0].message
    # below a segmentectomy's 190 Gy the plan does not call it ablative (review 53: a 120 Gy MIRD plan of one segment,
    # 92 Gy to its normal liver, read "ablative by intent")
    sub = dm.partition_doses(dm.partition_activity_gbq(no_shunt, normal_gy=92.0), no_shunt)
    (finding,) = dm.check_plan(sub, segments_perfused=1)
    assert finding.rule == "segmental" and "ablative by intent" not in finding.message
    assert "below the 190 Gy of an ablative radiation segmentectomy" in finding.message


def test_a_segment_viii_segmentectomy_is_segmental_whatever_its_size(tmp_path):
    """Review 13: segment VIII is 26% of the default liver, more than 2/8; its radiation segmentectomy was planned
    as a lobar treatment (warn at 104 Gy). Segments are counted, not volume shares."""
    from sim.catalogue import resolve_scenario
    from sim.sirt_workup import maa_workup

    scenario = sim.load_scenario(resolve_scenario("sirt_glass_segment5")).with_updates(
        {"catheter.vessel": "A8", "liver.terminal_diameter_um": 150.0})
    liver = build_liver(scenario, progress=False)
    workup = maa_workup(scenario, liver=liver, n_particles=20_000)
    assert workup.perfused_share > 0.25 and workup.segments_perfused == 1
    lobar = maa_workup(scenario.with_updates({"catheter.vessel": "RHA"}), liver=liver, n_particles=20_000)
    assert lobar.segments_perfused >= 4
