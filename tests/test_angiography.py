"""Virtual angiography: transit along the path, dilution, filling, blush, washout, occlusion."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

import sim
from sim import angiography as ag
from sim.flow.state import build_state
from sim.kernels import twoport
from sim.procedure import apply_load_record

#: Frame times for arrival and blush read on the images, s.
TIMES = np.arange(0.0, 12.0, 0.1)


@pytest.fixture(scope="module")
def scenario(coarse_scenario):
    return coarse_scenario


@pytest.fixture(scope="module")
def liver(coarse_liver):
    return coarse_liver


@pytest.fixture(scope="module")
def baseline(liver):
    """Pre-procedure flow, its default injection and field of view."""
    flow = ag.baseline_flow(liver)
    return flow, ag.default_injection(flow), ag.View.around(flow.liver)


@pytest.fixture(scope="module")
def runs(scenario, liver):
    """Runs of the default scenario to each endpoint, on one liver (flow falls from first to last)."""
    return [sim.run(scenario.with_updates({"procedure.endpoint": endpoint}), progress=False, liver=liver)
            for endpoint in ("sluggish", "near_stasis", "stasis")]


def _angiogram(liver, baseline, run=None):
    flow = ag.baseline_flow(liver)
    if run is not None:
        apply_load_record(flow.state, flow.liver.trunk, run.state["load"])
    return ag.virtual_angiogram(flow, baseline[1], view=baseline[2])


def _tumour_curve(angio, liver):
    """Mean projected contrast over the tumour's pixels at each of TIMES, m."""
    mask = angio.region_mask(liver.compiled.points.tumour_id >= 0)
    return np.array([angio.frame(t)[mask].mean() for t in TIMES])


def test_front_advances_by_lumen_volume_over_flow_along_the_path(baseline):
    flow, injection, _ = baseline
    transit = ag.contrast_transit(flow, injection)
    net = ag.ArterialNetwork(flow.liver)
    forest = flow.liver.forest
    first = net.trunk_vessels.size
    vessel_of = np.full(forest.n_nodes, -1)
    vessel_of[net.pedicle_vessels] = first + np.arange(net.pedicle_vessels.size)
    child = first + np.arange(net.pedicle_vessels.size)
    parent = vessel_of[forest.parent[net.pedicle_vessels]]
    pairs = (parent >= 0) & np.isfinite(transit.front_in_s[child]) & np.isfinite(transit.front_in_s[parent])
    assert pairs.sum() > 100
    q = np.abs(net.vessel_flows(ag.solved_state(flow, injection.rate_m3s)))
    crossing = net.vessel_volume_m3[parent[pairs]] / q[parent[pairs]]
    np.testing.assert_allclose(transit.front_span_s[parent[pairs]], crossing, rtol=1e-12)
    np.testing.assert_allclose(transit.front_in_s[child[pairs]],
                               transit.front_in_s[parent[pairs]] + crossing, rtol=1e-9)


def test_tip_concentration_is_the_injection_diluted_by_the_vessel_flow(baseline):
    flow, injection, _ = baseline
    transit = ag.contrast_transit(flow, injection)
    injecting = ag.solved_state(flow, injection.rate_m3s)
    inflow = max(injecting.trunk_q[flow.catheter.proximal_edge], 0.0)
    assert 0.0 < inflow
    assert transit.tip_concentration == pytest.approx(injection.rate_m3s / (injection.rate_m3s + inflow), rel=1e-9)
    downstream = np.isfinite(transit.front_in_s) & (transit.vessel_concentration > 0)
    # below the tip nothing joins the injected blood: the same concentration everywhere
    np.testing.assert_allclose(transit.vessel_concentration[downstream], transit.tip_concentration, rtol=1e-9)


def test_parenchymal_contrast_is_diluted_by_portal_inflow(baseline, liver):
    flow, injection, _ = baseline
    transit = ag.contrast_transit(flow, injection)
    comps = liver.compiled.compartments
    reached = np.isfinite(transit.comp_arrival_s) & (comps.kind == 0)
    tumour = reached & (comps.tumour_volume_m3 > 0.5 * comps.volume_m3)
    normal = reached & (comps.tumour_volume_m3 == 0)
    assert tumour.any() and normal.any()
    # tumour: mostly arterial inflow; normal liver: 80% portal
    assert np.median(transit.comp_concentration[tumour]) > 2.0 * np.median(transit.comp_concentration[normal])
    assert transit.comp_concentration.max() <= transit.tip_concentration + 1e-12


def test_time_for_contrast_to_reach_the_tumour_increases_as_antegrade_flow_falls(baseline, liver, runs):
    flows = [1.0] + [r.summary["antegrade_flow_fraction"] for r in runs]
    assert flows == sorted(flows, reverse=True) and flows[-1] < 0.1
    curves = [_tumour_curve(_angiogram(liver, baseline, run), liver) for run in [None, *runs]]
    threshold = 0.2 * curves[0].max()
    arrivals = [TIMES[np.argmax(c > threshold)] if (c > threshold).any() else np.inf for c in curves]
    assert all(a < b for a, b in itertools.pairwise(arrivals)), arrivals


def test_tumour_blush_after_stasis_is_lower_than_at_baseline(baseline, liver, runs):
    stasis = runs[-1]
    assert stasis.summary["sace_level"] == 4
    before = _tumour_curve(_angiogram(liver, baseline), liver)
    after = _tumour_curve(_angiogram(liver, baseline, stasis), liver)
    assert after.max() < 0.5 * before.max()
    capillary = ag.phase_times(_angiogram(liver, baseline))["capillary"]
    k = np.argmin(np.abs(TIMES - capillary))
    assert after[k] < 0.3 * before[k]


def test_stasis_leaves_contrast_standing(baseline, liver, runs):
    before = _angiogram(liver, baseline).transit
    after = _angiogram(liver, baseline, runs[-1]).transit
    late = baseline[1].duration_s + 10.0  # well after the injection
    assert before.vessel_contrast(late).sum() < 1e-3 * before.vessel_contrast(baseline[1].duration_s).sum()
    assert after.vessel_contrast(late).sum() > 10.0 * before.vessel_contrast(late).sum()


def test_no_contrast_downstream_of_a_fully_occluded_vessel(baseline, liver):
    from scipy.ndimage import distance_transform_edt

    flow = ag.baseline_flow(liver)
    trunk, forest, comps = flow.liver.trunk, flow.liver.forest, flow.liver.compartments
    closed = trunk.edge_index("A5_distal")  # everything the catheter in A5 feeds
    flow.state.g_trunk[closed] = 0.0
    twoport.solve(flow.state)
    angio = ag.virtual_angiogram(flow, baseline[1], view=baseline[2])
    transit = angio.transit

    root = forest.root_nodes[forest.root_trunk_art == trunk.edge_conns[closed, 1]]
    below = np.isin(np.arange(forest.n_nodes), root)
    for i in np.flatnonzero(forest.parent >= 0):  # preorder: parents first
        below[i] |= below[forest.parent[i]]
    territory = below[comps.node]
    assert territory.sum() > 50
    net = ag.ArterialNetwork(flow.liver)
    vessels_below = np.concatenate([np.zeros(net.trunk_vessels.size, bool), below[net.pedicle_vessels]])
    assert not np.isfinite(transit.comp_arrival_s[territory]).any()
    assert (transit.vessel_concentration[vessels_below] == 0).all()
    for t in TIMES:
        assert (transit.compartment_concentration(t)[territory] == 0).all()
        assert (transit.vessel_contrast(t)[vessels_below] == 0).all()

    # on the images: pixels showing only that territory, far from anything that carries contrast
    points = flow.liver.points
    lit = angio.region_mask(np.isfinite(transit.comp_arrival_s)[points.compartment])
    carrying = np.flatnonzero(transit.vessel_concentration > 0)
    s = np.linspace(0.0, 1.0, 50)[:, None, None]
    along = transit.vessel_start_m[carrying] + s * (transit.vessel_end_m[carrying] - transit.vessel_start_m[carrying])
    pixels = angio.view.pixel_index(along.reshape(-1, 3))
    lit.ravel()[pixels[pixels >= 0]] = True
    far = distance_transform_edt(~lit) * angio.view.pixel_m > 0.015  # beyond every blur kernel
    only_territory = angio.region_mask(territory[points.compartment]) & far
    assert only_territory.sum() > 100
    frames = angio.frames(TIMES[::5])
    assert (frames[:, only_territory] == 0).all()
    open_angio = ag.virtual_angiogram(ag.baseline_flow(liver), baseline[1], view=baseline[2])
    assert (open_angio.frame(ag.phase_times(open_angio)["capillary"])[only_territory] > 0).mean() > 0.9


def test_final_flow_reproduces_the_run(runs):
    run = runs[-1]
    assert run.summary["nontarget_particle_fraction"] == 0  # no non-target bed partly occluded
    state = ag.solved_state(ag.final_flow(run), 0.0)
    np.testing.assert_allclose(state.comp_q, run.state["compartment_flow_final_m3s"], rtol=1e-9, atol=1e-18)


def test_phases_are_in_order_and_the_blush_washes_out(baseline):
    angio = ag.virtual_angiogram(*baseline[:2], view=baseline[2])
    phases = ag.phase_times(angio)
    assert 0 < phases["arterial"] <= baseline[1].duration_s < phases["capillary"] < phases["venous"]
    blush = [angio.compartment_volume_m3 @ angio.transit.compartment_concentration(t) for t in phases.values()]
    assert blush[1] > blush[2] > 0 and blush[1] > blush[0]


def test_view_is_radiological(liver):
    view = ag.View.around(liver.compiled)
    cols = view.shape[1]
    left, right, bottom, top = view.extent
    patient_right = np.array([[left + 0.1 * (right - left), 0.0, bottom + 0.1 * (top - bottom)]])
    patient_left_above = np.array([[right - 0.1 * (right - left), 0.0, top - 0.1 * (top - bottom)]])
    a, b = view.pixel_index(patient_right)[0], view.pixel_index(patient_left_above)[0]
    assert a % cols < b % cols  # patient's left (x > 0) to the image's right
    assert a // cols < b // cols  # cranial (z up) in higher rows, drawn with origin="lower"
    assert view.pixel_index(np.array([[right + 1.0, 0.0, 0.0]]))[0] == -1


def test_injection_must_be_positive():
    with pytest.raises(ValueError, match="allowed: both > 0"):
        ag.Injection(0.0)
    assert ag.Injection(1e-6, 2.0).volume_ml == pytest.approx(2.0)


def test_opacity_is_beer_lambert():
    assert ag.opacity(0.0) == 0.0
    assert ag.opacity(ag.DISPLAY_THICKNESS_M) == pytest.approx(1 - np.exp(-1))
    assert np.all(np.diff(ag.opacity(np.linspace(0, 0.01, 20))) > 0)


# ---------------------------------------------------------------------------
# catheter-limited injection and reflux


def _sinks(flow, rate):
    """Contrast leaving the arterial network per second: into pressure boundaries and into compartments, m^3/s."""
    net = ag.ArterialNetwork(flow.liver)
    state = ag.solved_state(flow, rate)
    tip = flow.catheter.tip_trunk_node
    conc = net.concentration(state, tip, rate, np.isfinite(net.arrival(state, tip)))
    conns, q = flow.liver.trunk.edge_conns, state.trunk_q
    src, dst = np.where(q > 0, conns[:, 0], conns[:, 1]), np.where(q > 0, conns[:, 1], conns[:, 0])
    boundary = (conc[src] * np.abs(q))[net.boundary[dst]].sum()
    tissue = (conc[net.comp_node] * np.clip(state.comp_q[:, twoport.COMP_ART], 0.0, None)).sum()
    return boundary, tissue


def test_catheter_limit_is_the_flow_at_the_rated_pressure():
    from sim.catheters import CATALOGUE, CONTRAST_DENSITY_KG_M3, CONTRAST_VISCOSITY_PA_S, max_rate_m3s

    rates = [max_rate_m3s(c) for c in CATALOGUE]
    assert rates == sorted(rates)  # wider lumens deliver more
    for c, q in zip(CATALOGUE, rates):
        v = q / (np.pi * c.inner_m**2 / 4)
        re = CONTRAST_DENSITY_KG_M3 * v * c.inner_m / CONTRAST_VISCOSITY_PA_S
        friction = max(64.0 / re, 0.316 * re**-0.25)  # laminar or Blasius, whichever is larger
        assert friction * c.length_m / c.inner_m * CONTRAST_DENSITY_KG_M3 * v**2 / 2 == pytest.approx(c.rated_pa,
                                                                                                     rel=1e-9)
    micro = CATALOGUE[1]  # 2.4 Fr, Re about 800, laminar: Poiseuille
    assert rates[1] == pytest.approx(np.pi * micro.inner_m**4 * micro.rated_pa
                                     / (128 * CONTRAST_VISCOSITY_PA_S * micro.length_m), rel=1e-12)
    assert 2.0e-6 < rates[2] < 4.0e-6 and 10e-6 < rates[4] < 20e-6  # mL/s of a 2.7 Fr micro- and a 4 Fr base catheter


def test_scenario_rejects_a_rate_the_catheter_cannot_deliver():
    base = sim.Scenario()
    with pytest.raises(sim.ScenarioError, match="catheter.angiogram_rate_ml_s: 5.8 mL/s is faster than a 2.7 Fr"):
        base.with_updates({"catheter.angiogram_rate_ml_s": 5.8})
    with pytest.raises(sim.ScenarioError, match="catheter.kind: a base catheter of 2.7 Fr"):
        base.with_updates({"catheter.kind": "base"})
    ok = base.with_updates({"catheter.kind": "base", "catheter.outer_diameter_fr": 5.0,
                            "catheter.angiogram_rate_ml_s": 5.8})
    assert ok.catheter.angiogram_rate_ml_s == 5.8


def test_rate_never_exceeds_the_catheter_limit(liver, runs):
    pha = ag.baseline_flow(sim.build_liver(liver.scenario.with_updates({"catheter.vessel": "PHA"})))
    limit = ag.catheter_limit_m3s(pha)
    assert ag.native_tip_flow(pha) > limit  # the PHA's flow is more than a microcatheter delivers
    assert ag.default_injection(pha).rate_m3s == pytest.approx(limit, rel=1e-12)
    for run in runs:
        flows = [ag.baseline_flow(ag.run_liver(run)), ag.final_flow(run)]
        assert all(i.rate_m3s <= ag.catheter_limit_m3s(flows[0]) for i in ag.run_injections(flows))


def test_no_reflux_on_the_open_bed_at_a_modest_rate(baseline):
    flow, injection, _ = baseline
    assert injection.rate_m3s <= ag.bed_acceptance_m3s(flow)
    for rate in (0.5 * injection.rate_m3s, injection.rate_m3s):
        transit = ag.contrast_transit(flow, ag.Injection(rate))
        assert transit.reflux_m3s == 0.0 and transit.reflux_ml == 0.0


def test_reflux_on_the_occluded_bed_at_a_high_rate(baseline, runs):
    final = ag.final_flow(runs[-1])  # stasis
    acceptance = ag.bed_acceptance_m3s(final)
    rate = 1.0e-6  # 1 mL/s, well below the 2.7 Fr limit
    assert 0 < acceptance < 0.2 * rate
    transit = ag.contrast_transit(final, ag.Injection(rate))
    assert transit.reflux_m3s > 0.5 * rate
    # linear network: the reflux grows with the excess over what the bed takes
    slope = (ag.native_tip_flow(final) - ag.proximal_flow(ag.solved_state(final, rate), final.catheter)) / rate
    assert transit.reflux_m3s == pytest.approx(slope * (rate - acceptance), rel=1e-6)
    assert transit.reflux_ml == pytest.approx(transit.reflux_m3s * 3.0 / 1e-6, rel=1e-12)
    # the picture shows it: contrast in vessels the open bed's run never reaches (siblings behind the tip)
    open_transit = ag.contrast_transit(*baseline[:2])
    refluxed = (transit.vessel_concentration > 0) & ~(open_transit.vessel_concentration > 0)
    assert refluxed.sum() > 10


def test_injected_contrast_is_conserved(baseline, runs):
    flows = [baseline[0], ag.final_flow(runs[-1])]
    for flow in flows:
        for rate in (0.2e-6, 2.0e-6):
            boundary, tissue = _sinks(flow, rate)
            assert boundary + tissue == pytest.approx(rate, rel=1e-9)


def test_end_of_procedure_run_is_what_the_bed_takes_and_the_report_agrees(scenario, liver, runs):
    stasis = runs[-1]
    before, after = ag.run_angiograms(stasis)
    assert after.transit.injection.rate_m3s < 0.2 * before.transit.injection.rate_m3s  # not the baseline rate
    assert after.transit.injection.rate_m3s <= ag.bed_acceptance_m3s(ag.final_flow(stasis)) * (1 + 1e-9)
    s = stasis.summary
    assert s["angiogram_rate_final_ml_s"] == pytest.approx(after.transit.injection.rate_m3s / 1e-6, rel=1e-9)
    assert s["angiogram_reflux_ml"] == pytest.approx(after.transit.reflux_ml, abs=1e-9) and s["angiogram_reflux_ml"] < 1e-6
    # an operator who insists on 1.5 mL/s after stasis refluxes, and report and angiogram say the same
    forced = sim.run(scenario.with_updates({"procedure.endpoint": "stasis", "catheter.angiogram_rate_ml_s": 1.5}),
                     progress=False, liver=liver)
    _, after = ag.run_angiograms(forced)
    assert after.transit.injection.rate_m3s == pytest.approx(1.5e-6)
    assert forced.summary["angiogram_reflux_ml"] > 1.0
    assert forced.summary["angiogram_reflux_ml"] == pytest.approx(after.transit.reflux_ml, rel=1e-6)


def test_the_dsa_after_a_run_reuses_the_vessel_points_only_where_the_vessels_run_as_before(liver, baseline, runs):
    """The points that draw the vessels are kept with the network for the vessel ends they were placed along: the DSA
    after a run on the same catheter placement reuses them where its vessels run as before, and places again those
    of the vessels that run the other way (a few, or all). Either way they are the kernel's for the transit's ends,
    and each point holds 1/n of its vessel's contrast (n points along it)."""
    from dataclasses import replace

    from sim.kernels import contrast

    flow, injection, view = ag.baseline_flow(liver), baseline[1], baseline[2]
    final = ag.final_flow(runs[-1], baseline=flow)
    before = ag.virtual_angiogram(flow, injection, view=view)
    after = ag.virtual_angiogram(final, ag.default_injection(final), view=view)
    drawn = np.flatnonzero(after.transit.vessel_diameter_m >= ag.MIN_DIAMETER_UM * 1e-6)
    transits = [before.transit, after.transit]
    for flipped in (drawn[[3, 40, 41, -1]], drawn):  # a few vessels run the other way, then all
        start, end = after.transit.vessel_start_m.copy(), after.transit.vessel_end_m.copy()
        start[flipped], end[flipped] = end[flipped], start[flipped]
        transits.append(replace(after.transit, vessel_start_m=start, vessel_end_m=end))
    placed = [ag._vessel_samples(transit, view, ag.MIN_DIAMETER_UM) for transit in transits]
    assert placed[1][0] is placed[0][0] and after._sample_pixel is before._sample_pixel
    assert not np.array_equal(placed[2][0], placed[1][0]) and not np.array_equal(placed[3][0], placed[2][0])
    for transit, kept in zip(transits, placed):
        fresh = contrast.vessel_samples(drawn, transit.vessel_start_m, transit.vessel_end_m, view.x0_m, view.z0_m,
                                        view.pixel_m, *view.shape)
        for mine, expected in zip(kept, fresh):
            np.testing.assert_array_equal(mine, expected)
    whole = after.transit.vessel_concentration * after.transit.vessel_volume_m3
    per_vessel = placed[1][3]
    np.testing.assert_array_equal(after._sample_contrast_m3, whole[after._sample_vessel] / per_vessel)
    points = np.bincount(after._sample_vessel, minlength=whole.size)
    inside = np.zeros(whole.size, bool)  # vessels with every point on the detector: all their contrast drawn
    inside[after._sample_vessel] = points[after._sample_vessel] == per_vessel
    assert inside.sum() > 100 and (whole[inside] > 0).sum() > 10
    np.testing.assert_allclose(np.bincount(after._sample_vessel, after._sample_contrast_m3, whole.size)[inside],
                               whole[inside], rtol=1e-12)


def test_arterial_phase_from_every_vessel_sorted_when_the_binned_search_is_unsure(baseline, monkeypatch):
    """Where the binned search cannot tell the crossing (a sum within rounding of 90%), the phase times take the sorted
    rule; on the baseline it is sure, and both give the same time."""
    from sim.kernels import contrast

    angio = ag.virtual_angiogram(baseline[0], baseline[1], view=baseline[2])
    sure = ag.phase_times(angio)
    status, _ = contrast.volume_quantile(angio.transit.front_in_s, angio.transit.front_span_s,
                                         angio.transit.vessel_concentration, angio.transit.vessel_volume_m3, 0.9, 4096)
    assert status == contrast.QUANTILE_FOUND
    monkeypatch.setattr(contrast, "volume_quantile", lambda *args: (contrast.QUANTILE_UNSURE, np.nan))
    assert ag.phase_times(angio) == sure
    assert sure["arterial"] == min(ag._arterial_sorted(angio.transit), angio.transit.injection.duration_s) < \
        angio.transit.injection.duration_s


def test_a_view_freezes_its_own_arrays_never_the_liver_s_nor_a_flow_state_s(liver):
    """The arterial network a view builds is read-only; the liver it was built from and every flow state stay
    writable. (A read-only array is another Numba type: a state sharing a frozen topology array compiled every
    flow-state kernel a second time, about 100 s on a fresh install, as soon as a run followed a view.)"""
    flow = ag.baseline_flow(liver)
    ag.contrast_transit(flow, ag.default_injection(flow))
    assert not ag.arterial_network(flow.liver)._trunk_conns.flags.writeable
    assert flow.liver.trunk.edge_conns.flags.writeable
    frozen = flow.network.forest.parent.copy()
    frozen.setflags(write=False)
    network = dataclasses.replace(flow.network, forest=dataclasses.replace(flow.network.forest, parent=frozen))
    state = build_state(network, flow.baseline)
    assert [name for name in state._fields if not getattr(state, name).flags.writeable] == []
    again = ag.baseline_flow(liver)
    assert [name for name in again.state._fields if not getattr(again.state, name).flags.writeable] == []
