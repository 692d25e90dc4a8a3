"""The calibration kept per liver (sim.flow.calibrated): reused only where it applies, and bit for bit a fresh one.

A "fresh" flow model is built on a shallow copy of the compiled liver (a new object, so
nothing is kept for it yet): same arrays, calibrated from scratch.
"""

import dataclasses
import json

import numpy as np
import pytest

import sim
from sim.flow import LiverFlow
from sim.testing import random_liver


def fresh(compiled):
    return dataclasses.replace(compiled)


def assert_same_state(a, b):
    for name, x, y in zip(a.state._fields, a.state, b.state):
        assert np.array_equal(x, y, equal_nan=True), name


@pytest.fixture(scope="module")
def synthetic():
    return random_liver(3000, rng=5, extrahepatic=True)


def test_a_catheter_move_reuses_the_calibration_and_matches_a_fresh_model(coarse_liver, coarse_scenario):
    compiled = coarse_liver.compiled
    first = LiverFlow(compiled, coarse_scenario, catheter=True)
    moved = coarse_scenario.with_updates({"catheter.vessel": "RHA"})
    second = LiverFlow(compiled, moved, catheter=True)
    assert second.calibration is first.calibration
    assert second.catheter.vessel == "RHA" and second.liver.trunk.n_edges >= compiled.trunk.n_edges
    assert_same_state(second, LiverFlow(fresh(compiled), moved, catheter=True))
    assert_same_state(first, LiverFlow(fresh(compiled), coarse_scenario, catheter=True))


def test_a_portal_thrombosis_is_not_taken_from_the_healthy_entry(synthetic):
    compiled, scenario = synthetic.compiled, synthetic.scenario
    healthy = LiverFlow(compiled, scenario)
    pvt = scenario.with_updates({"portal.thrombosis": "main"})
    thrombosed = LiverFlow(compiled, pvt)
    assert thrombosed.calibration is healthy.calibration  # the healthy calibration is the same
    assert thrombosed.habr.multiplier.max() > 1.0 == healthy.habr.multiplier.max()  # the buffer response answered
    assert_same_state(thrombosed, LiverFlow(fresh(compiled), pvt))
    assert_same_state(healthy, LiverFlow(fresh(compiled), scenario))
    mpv = compiled.trunk.edge_index("MPV")
    assert thrombosed.state.g_trunk[mpv] < healthy.state.g_trunk[mpv]


def test_a_flow_section_change_is_calibrated_again(synthetic):
    compiled, scenario = synthetic.compiled, synthetic.scenario
    base = LiverFlow(compiled, scenario)
    thicker = scenario.with_updates({"flow.haematocrit": scenario.flow.haematocrit + 0.05})
    other = LiverFlow(compiled, thicker)
    assert other.calibration is not base.calibration
    assert not np.array_equal(other.baseline.art, base.baseline.art, equal_nan=True)
    assert_same_state(other, LiverFlow(fresh(compiled), thicker))


def test_kept_arrays_are_read_only_and_a_model_state_is_its_own(synthetic):
    compiled, scenario = synthetic.compiled, synthetic.scenario
    a, b = LiverFlow(compiled, scenario), LiverFlow(compiled, scenario)
    with pytest.raises(ValueError):
        a.baseline.art[1] = 0.0
    with pytest.raises(ValueError):
        a.calibration.healthy_compartment_flows[0, 0] = 0.0
    a.state.g_art[:] = 0.0  # a procedure changes its own state in place ...
    assert b.state.g_art.max() > 0.0
    assert_same_state(LiverFlow(compiled, scenario), b)  # ... never the next model's


def test_another_michels_type_is_another_liver(coarse_scenario):
    """Michels III builds another liver: nothing of the type I liver is reused, and sim.run refuses the mix."""
    small = coarse_scenario.with_updates({"liver.terminal_diameter_um": 400.0})
    type1 = sim.build_liver(small, progress=False)
    type3_scenario = small.with_updates({"anatomy.michels_type": "III", "catheter.vessel": "replaced_RHA"})
    type3 = sim.build_liver(type3_scenario, progress=False)
    flow1 = LiverFlow(type1.compiled, small, catheter=True)
    flow3 = LiverFlow(type3.compiled, type3_scenario, catheter=True)
    assert flow3.calibration is not flow1.calibration
    assert_same_state(flow3, LiverFlow(fresh(type3.compiled), type3_scenario, catheter=True))
    with pytest.raises(ValueError, match="anatomy"):
        sim.run(type3_scenario, liver=type1, progress=False)


def test_runs_on_one_liver_equal_runs_on_fresh_copies(coarse_liver, coarse_scenario):
    """A run after another (catheter moved, then back) gives the summary of a run on a liver never used before."""
    moved = coarse_scenario.with_updates({"catheter.vessel": "RHA"})
    first = sim.run(coarse_scenario, liver=coarse_liver, progress=False)
    lobar = sim.run(moved, liver=coarse_liver, progress=False)
    again = sim.run(coarse_scenario, liver=coarse_liver, progress=False)
    copy = dataclasses.replace(coarse_liver, compiled=fresh(coarse_liver.compiled))
    for result, scenario in ((again, coarse_scenario), (lobar, moved)):
        alone = sim.run(scenario, liver=dataclasses.replace(copy, compiled=fresh(copy.compiled)), progress=False)
        assert without_time(result.summary) == without_time(alone.summary)
    assert without_time(first.summary) == without_time(again.summary)
    assert lobar.summary["particles_injected"] > first.summary["particles_injected"]


def without_time(summary):
    """The summary as JSON without its run time (NaN compares equal to NaN there)."""
    return json.dumps({k: v for k, v in summary.items() if k != "run_time_s"}, sort_keys=True)
