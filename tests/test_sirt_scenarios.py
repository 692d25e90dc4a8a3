"""The shipped SIRT scenarios (docs/sirt.md): their plans, and the teaching trend each states."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.anatomy import build_liver
from sim.catalogue import scenarios_dir
from sim.scenario import load_scenario
from sim.sirt_workup import bsa_plan_gbq, maa_workup, mird_plan_gbq

#: Coarse trees for the runs: the contrasts tested do not need the shipped resolution.
TERMINAL_UM = 300.0
#: Patient height of the resin scenario's BSA plan, m (stated in its header).
HEIGHT_M = 1.75


def _load(name):
    return load_scenario(scenarios_dir() / f"{name}.toml")


def test_sirt_main_pvt_is_main_pvt_with_glass_instead_of_particles():
    y90, bland = _load("sirt_main_pvt"), _load("main_pvt")
    assert y90.agent.kind == "y90_glass" and bland.agent.kind == "microspheres"
    same = {"title": bland.title, "description": bland.description, "reference": bland.reference,
            "agent": bland.agent.model_dump()}
    assert y90.with_updates(same) == bland


@pytest.mark.parametrize(("name", "method", "target"), [
    ("sirt_main_pvt", "mird", 120.0),  # Gy to the perfused lobe
    ("sirt_resin_lobar_bilobar_net", "bsa", None),
])
def test_scenario_activity_is_its_stated_plan(name, method, target):
    """The activity in the file is what the plan in its header gives on the shipped liver (within 2%)."""
    s = _load(name)
    w = maa_workup(s, n_particles=50_000, rng=np.random.default_rng(0))
    planned = mird_plan_gbq(w, target) if method == "mird" else bsa_plan_gbq(s, w, height_m=HEIGHT_M)
    assert s.agent.activity_gbq == pytest.approx(planned, rel=0.02)


def test_pvt_raises_the_lung_shunt_of_the_sirt_main_pvt_plan():
    """The tumour shunts twice as much with PVT; the lobe's LSF rises less (the buffer response sends more of the
    arterial flow, and of the MAA, to the normal liver: T/N falls)."""
    s = _load("sirt_main_pvt").with_updates({"liver.terminal_diameter_um": TERMINAL_UM})
    liver = build_liver(s, progress=False)
    with_pvt = maa_workup(s, liver=liver, n_particles=50_000, rng=np.random.default_rng(0))
    without = maa_workup(s.with_updates({"portal.thrombosis": "none"}), n_particles=50_000,
                         rng=np.random.default_rng(0))
    assert with_pvt.lung_shunt_fraction > 1.1 * without.lung_shunt_fraction
    assert with_pvt.tn_ratio < without.tn_ratio


@pytest.fixture(scope="module")
def pvt_pair():
    """sirt_main_pvt and main_pvt on one coarse liver."""
    runs = {}
    liver = None
    for name in ("sirt_main_pvt", "main_pvt"):
        s = _load(name).with_updates({"liver.terminal_diameter_um": TERMINAL_UM})
        liver = liver or build_liver(s, progress=False)
        runs[name] = sim.run(s, liver=liver, progress=False)
    return runs


@pytest.mark.slow
def test_glass_in_main_pvt_spares_the_normal_liver_that_bland_tae_infarcts(pvt_pair):
    y90, tae = pvt_pair["sirt_main_pvt"].summary, pvt_pair["main_pvt"].summary
    assert y90["stop_reason"] == "activity_delivered"
    assert y90["antegrade_flow_fraction"] > 0.7 > tae["antegrade_flow_fraction"]
    assert tae["normal_function_loss_fraction"] > 0.05
    assert y90["normal_function_loss_fraction"] < 0.2 * tae["normal_function_loss_fraction"]
    assert y90["normal_ischaemic_fraction"] < 0.2 * tae["normal_ischaemic_fraction"]
    # the normal liver's cost is the radiation dose instead, and the tumour gets more
    assert y90["sirt_tumour_dose_mean_gy"] > y90["sirt_normal_liver_dose_mean_gy"] > 30.0


@pytest.mark.slow
def test_lobar_resin_ends_at_slow_flow_before_the_bsa_activity_and_glass_would_not():
    """The resin scenario's teaching point: the lobe reaches the near-stasis endpoint after some aliquots; the same
    activity of glass (36x fewer spheres) leaves the flow nearly intact."""
    s = _load("sirt_resin_lobar_bilobar_net").with_updates({"liver.terminal_diameter_um": TERMINAL_UM})
    liver = build_liver(s, progress=False)
    resin = sim.run(s, liver=liver, progress=False).summary
    assert resin["sirt_delivery"] == "aliquots" and resin["sirt_stopped_early"]
    assert resin["sirt_stop_reason"] == "slow_flow" and resin["stop_reason"] == "endpoint"
    assert 0.1 < resin["sirt_activity_delivered_fraction"] < 0.9
    assert resin["sirt_activity_delivered_gbq"] < resin["sirt_activity_prescribed_gbq"]
    assert resin["sirt_tumour_dose_mean_gy"] > resin["sirt_normal_liver_dose_mean_gy"] > 0
    glass = sim.run(s.with_updates({"agent.kind": "y90_glass"}), liver=liver, progress=False).summary
    assert not glass["sirt_stopped_early"] and glass["antegrade_flow_fraction"] > 0.8
