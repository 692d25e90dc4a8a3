"""The dose models on a built liver (sirt.dose_model, sim/sirt_run.py): kernel against local deposition."""

from __future__ import annotations

import types

import numpy as np
import pytest

from sim.agents import agent_from_config
from sim.sirt_run import sirt_readouts


@pytest.fixture(scope="module")
def glass(coarse_scenario):
    return coarse_scenario.with_updates({"agent.kind": "y90_glass", "agent.activity_gbq": 1.0})


def _state(liver, share: np.ndarray, n_total: float = 1e6):
    """Spheres in the compartments' beds in proportion to ``share``."""
    return types.SimpleNamespace(lodged_comp=n_total * share / share.sum(), lodged_ped=np.zeros(liver.forest.n_nodes),
                                 lodged_trunk=np.zeros(liver.trunk.n_edges), nontarget=np.zeros(1)), int(n_total)


def _readouts(scenario, liver, state, n, model):
    scenario = scenario.with_updates({"sirt.dose_model": model})
    return sirt_readouts(scenario, liver, state, n, agent_from_config(scenario.agent))[0]


def test_uniform_deposition_kernel_close_to_local(glass, coarse_liver):
    """Spheres in proportion to tissue volume over the whole liver: the kernel's normal-liver dose is the local one
    less the betas escaping the liver's surface (a few %); local deposition absorbs everything by definition."""
    liver = coarse_liver.compiled
    comps = liver.compartments
    state, n = _state(liver, np.where(comps.kind == 0, comps.volume_m3, 0.0))
    local = _readouts(glass, liver, state, n, "local")
    kernel = _readouts(glass, liver, state, n, "kernel")
    assert local["sirt_absorbed_energy_fraction"] == 1.0 and kernel["sirt_dose_model"] == "kernel"
    assert 0.85 < kernel["sirt_absorbed_energy_fraction"] < 1.0
    assert kernel["sirt_normal_liver_dose_mean_gy"] == pytest.approx(local["sirt_normal_liver_dose_mean_gy"], rel=0.1)
    assert kernel["sirt_normal_liver_dose_mean_gy"] < local["sirt_normal_liver_dose_mean_gy"]
    assert kernel["sirt_activity_liver_gbq"] == local["sirt_activity_liver_gbq"]  # activities are not re-attributed


def test_kernel_cross_fire_reaches_neighbouring_compartments(glass, coarse_liver):
    """All spheres in segment V's compartments: with local deposition the rest of the liver gets nothing, with the
    kernel the compartments next to segment V get cross-fire, so the whole liver's normal dose spreads over more mass
    and segment V's own tissue loses some of its dose."""
    liver = coarse_liver.compiled
    comps, points = liver.compartments, liver.points
    seg = np.bincount(points.compartment, weights=(points.segment == 4).astype(float), minlength=comps.n)
    in_v = (seg > 0.5 * np.bincount(points.compartment, minlength=comps.n)) & (comps.kind == 0)
    state, n = _state(liver, np.where(in_v, comps.volume_m3, 0.0))
    local = _readouts(glass, liver, state, n, "local")
    kernel = _readouts(glass, liver, state, n, "kernel")
    assert kernel["sirt_normal_liver_dose_whole_gy"] == pytest.approx(local["sirt_normal_liver_dose_whole_gy"], rel=0.1)
    assert kernel["sirt_normal_liver_fraction_under_30gy"] != local["sirt_normal_liver_fraction_under_30gy"]
    from sim.y90_kernel import kernel_compartment_doses

    per_sphere = agent_from_config(glass.agent).activity_per_sphere_bq()
    activity = state.lodged_comp * per_sphere
    share_t = np.divide(comps.tumour_volume_m3, comps.volume_m3, out=np.zeros(comps.n), where=comps.volume_m3 > 0)
    _, d_n = kernel_compartment_doses(liver, activity * share_t, activity * (1 - share_t))
    outside = (comps.kind == 0) & ~in_v
    assert (d_n[outside] > 0).sum() > 0.05 * outside.sum()  # cross-fire beyond segment V
    assert d_n[in_v].mean() < (activity[in_v] / comps.volume_m3[in_v]).mean() * 49.73e-9 / 1000.0


def test_kernel_run_figures_and_ratios_are_the_summary_s(glass):
    """With the kernel, the per-compartment doses the figures draw (``state["sirt"]``) and ``sirt_y90_tn`` come from
    the kernel doses the summary reports, not from local deposition."""
    import sim

    r = sim.run(glass.with_updates({"sirt.dose_model": "kernel", "agent.activity_gbq": 0.05}), progress=False)
    s, a = r.summary, r.state["sirt"]
    perfused = a["perfused"]
    for region, key in (("tumour", "sirt_tumour_dose_mean_gy"), ("normal", "sirt_normal_liver_dose_mean_gy")):
        dose, mass = a[f"{region}_dose_gy"][perfused], a[f"{region}_mass_kg"][perfused]
        assert (dose * mass).sum() / mass.sum() == pytest.approx(s[key], rel=1e-9)
    assert s["sirt_y90_tn"] == pytest.approx(s["sirt_tumour_dose_mean_gy"] / s["sirt_normal_liver_dose_mean_gy"],
                                             rel=1e-9)
    assert s["sirt_absorbed_energy_fraction"] < 1.0


def test_kernel_puts_no_activity_in_a_necrotic_core_and_averages_the_viable_tumour(coarse_scenario, monkeypatch):
    """Review 35: a tumour's necrotic-core points counted as tumour, so its activity was spread over the core and
    the viable tumour's kernel dose fell 38% below the local one (6% without a core)."""
    import sim
    import sim.y90_kernel as yk

    liver = sim.build_liver(coarse_scenario.with_updates({"tumours.0.necrotic_core_fraction": 0.5}),
                            progress=False).compiled
    points, comps = liver.points, liver.compartments
    assert points.necrotic.sum() > 0 and (points.tumour_id[points.necrotic] >= 0).all()
    seen = {}
    real = yk.grid_doses
    monkeypatch.setattr(yk, "grid_doses", lambda xyz, activity, *a: seen.setdefault("a", activity) is None
                        or real(xyz, activity, *a))
    share_t = np.divide(comps.tumour_volume_m3, comps.volume_m3, out=np.zeros(comps.n), where=comps.volume_m3 > 0)
    activity = np.where(comps.kind == 0, comps.volume_m3, 0.0) * 1e15  # Bq, in proportion to the tissue
    d_t, d_n = yk.kernel_compartment_doses(liver, activity * share_t, activity * (1 - share_t))
    spread = seen["a"]
    assert spread[points.necrotic].max() == 0.0  # no sphere, no activity in the core
    assert spread.sum() == pytest.approx(activity.sum(), rel=1e-12)  # all of it on the other points
    cored = np.bincount(points.compartment[points.necrotic], minlength=comps.n) > 0
    viable = cored & (comps.tumour_volume_m3 > 0)
    # a compartment's tumour dose is the mean over its viable tumour points: close to the local dose of its viable
    # tumour (its own activity over its own mass), not diluted by the core's points
    local = (activity * share_t)[viable] / (comps.tumour_volume_m3[viable] * 1000.0) * yk.DOSE_GY_KG_PER_GBQ / 1e9
    assert np.median(d_t[viable] / local) > 0.6
