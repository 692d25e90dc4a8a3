"""Time between sessions (sim/interval.py): rates against their sources, recanalisation of the load record,
the course of necrosis and regeneration, and chained sessions that keep every occlusion at 0 weeks."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.interval import Course, advance_course, carried_load, carry, recanalised_fraction, regenerated_fraction, stack_session
from sim.scenario import IntervalConfig, ScenarioError

TINY = {"liver.terminal_diameter_um": 300.0}


def test_recanalisation_rates_match_their_sources():
    # [SheepUAE2018]: 18% of microsphere-embolised arteries reopened at 2 weeks; [Laurent2009]: 60.6% / 65.2% at
    # 26 months (microspheres / PVA)
    assert recanalised_fraction(IntervalConfig(weeks=2.0), "microspheres") == pytest.approx(0.18, abs=0.01)
    assert recanalised_fraction(IntervalConfig(weeks=104.0), "microspheres") == pytest.approx(0.606, abs=0.01)
    assert recanalised_fraction(IntervalConfig(weeks=104.0), "pva") == pytest.approx(0.652, abs=0.01)
    assert recanalised_fraction(IntervalConfig(weeks=0.0), "pva") == 0.0
    weeks = [0.0, 1.0, 2.0, 6.0, 12.0, 52.0]
    shares = [recanalised_fraction(IntervalConfig(weeks=w), "custom") for w in weeks]
    assert np.all(np.diff(shares) > 0)


@pytest.mark.parametrize(("weeks", "restored"), [(1.0, 0.16), (2.0, 0.26), (4.3, 0.38), (13.0, 0.55), (26.0, 0.60),
                                                 (52.0, 0.67), (208.0, 0.79)])
def test_regeneration_follows_the_living_donor_volumes(weeks, restored):
    """[Aoki2011]: share of the resected volume restored (liver 51, 57, 64, 74, 77, 81 and 88% of its volume from
    42% at 1, 2, 4.3, 13, 26, 52 and 208 weeks): the two-phase fit is within 0.02 of each (one phase fitted to the
    first four stopped at 0.6, 0.19 short at four years, review 13)."""
    cfg = IntervalConfig().model_copy(update={"weeks": weeks})  # (4 years is beyond the key's 104 weeks: the fit's)
    assert regenerated_fraction(cfg) == pytest.approx(restored, abs=0.02)


def test_regeneration_restores_at_most_the_lost_function():
    with pytest.raises(ValueError, match="at most 1"):
        IntervalConfig(regenerated_max=0.8, regenerated_slow_max=0.3)


def test_interval_weeks_is_validated():
    with pytest.raises(ScenarioError, match="interval.weeks"):
        sim.Scenario().with_updates({"interval.weeks": -1.0})
    with pytest.raises(ScenarioError, match="interval.weeks"):
        sim.Scenario().with_updates({"interval.weeks": 500.0})


def test_course_keeps_the_dead_and_regenerates_between_sessions():
    ref = np.zeros((3, 4))
    vol = np.array([1.0, 1.0, 2.0])
    first = advance_course(None, IntervalConfig(), np.zeros(3), np.array([0.5, 0.0, 0.0]), vol, vol, ref)
    assert first.function_loss == first.function_loss_peak == first.normal_necrosis == pytest.approx(0.125)
    second_now = np.array([0.1, 0.6, 0.0])  # a reopened compartment 0 revives nothing
    at_once = advance_course(first, IntervalConfig(weeks=0.0), np.zeros(3), second_now, vol, vol, ref)
    assert at_once.normal_necrosis == pytest.approx((0.5 + 0.6) / 4)
    assert at_once.function_loss == at_once.function_loss_peak == pytest.approx(at_once.normal_necrosis)
    later = advance_course(first, IntervalConfig(weeks=6.0), np.zeros(3), second_now, vol, vol, ref)
    g = regenerated_fraction(IntervalConfig(weeks=6.0))
    assert later.normal_necrosis == at_once.normal_necrosis  # necrosis is permanent
    assert later.function_loss == pytest.approx(0.125 * (1 - g) + 0.6 / 4)
    assert later.function_loss_peak == max(0.125, later.function_loss)
    assert isinstance(later, Course)


@pytest.fixture(scope="module")
def chain():
    """Three sessions on one tiny liver, A5 then A6 then A7, to the endpoint."""
    base = sim.Scenario().with_updates(TINY)
    liver = sim.build_liver(base, progress=False)
    runs = [sim.run(base.with_updates({"catheter.vessel": "A5"}), progress=False, liver=liver)]
    for vessel in ("A6", "A7"):
        runs.append(sim.run(base.with_updates({"catheter.vessel": vessel}), progress=False, liver=liver,
                            prior=runs[-1]))
    return base, liver, runs


def _loaded(record):
    return (set(np.flatnonzero(record["pedicle"]["count"] > 0)), set(np.flatnonzero(record["compartment"]["count"] > 0)),
            set(record["trunk"]), set(record["bed"]))


def test_chained_sessions_at_zero_weeks_never_lose_an_occlusion(chain):
    _, _, runs = chain
    for before, after in zip(runs, runs[1:]):
        assert after.state["prior_load"] is before.state["load"]  # 0 weeks: the record as it was
        for old, new in zip(_loaded(before.state["load"]), _loaded(after.state["load"])):
            assert old <= new
        assert np.all(after.state["load"]["pedicle"]["count"] >= before.state["load"]["pedicle"]["count"])


def test_recanalisation_reopens_a_growing_share_with_the_weeks(chain):
    base, _, runs = chain
    record = runs[-1].state["load"]
    ped, comp, trunk, bed = _loaded(record)
    n = len(ped) + len(comp) + len(trunk) + len(bed)
    assert n > 200
    reopened = []
    for weeks in (2.0, 6.0, 26.0):
        carried = carried_load(runs[-1], base.with_updates({"interval.weeks": weeks}))
        kept = _loaded(carried)
        reopened.append(set().union(*({(k, e) for e in old - new} for k, (old, new) in
                                      enumerate(zip((ped, comp, trunk, bed), kept)))))
        p = recanalised_fraction(IntervalConfig(weeks=weeks), "microspheres")
        assert abs(len(reopened[-1]) / n - p) < 4 * np.sqrt(p * (1 - p) / n)  # binomial, 4 sigma
        for k in ped - kept[0]:
            assert carried["pedicle_conductance_fraction"][k] == 1.0 and carried["pedicle"]["column"][k] == 0.0
    assert reopened[0] <= reopened[1] <= reopened[2]  # the same draws: longer intervals reopen a superset
    assert _loaded(record) == (ped, comp, trunk, bed)  # the prior run's record is not modified


def test_recanalised_vessels_carry_flow_again(chain):
    """A session after an interval starts from a liver with more arterial flow than one at 0 weeks."""
    base, liver, runs = chain
    now = sim.run(base.with_updates({"catheter.vessel": "A8"}), progress=False, liver=liver, prior=runs[-1])
    later = sim.run(base.with_updates({"catheter.vessel": "A8", "interval.weeks": 26.0}), progress=False,
                    liver=liver, prior=runs[-1])
    art = lambda r: r.state["compartment_flow_baseline_m3s"][:, 0].sum()  # noqa: E731
    assert art(later) > art(now)
    assert later.summary["normal_function_loss_fraction"] < now.summary["normal_function_loss_fraction"]


def _record(pedicle_counts, trunk=None, bed=None):
    """A load record (sim.procedure.load_record's keys) with these pedicle counts; conductance fraction 1 / (1 + count)."""
    counts = np.asarray(pedicle_counts)
    trunk, bed = trunk or {}, bed or {}
    return {"pedicle": {"count": counts.copy(), "column": 1e-4 * counts}, "compartment": {"count": np.array([0]),
            "gen": np.array([-1]), "layer": np.array([1.0])}, "trunk": {n: {"count": c} for n, c in trunk.items()},
            "bed": {n: {"count": c} for n, c in bed.items()}, "pedicle_conductance_fraction": 1.0 / (1.0 + counts),
            "compartment_conductance_fraction": np.array([1.0]),
            "trunk_conductance_fraction": {n: 1.0 / (1 + c) for n, c in trunk.items()},
            "bed_conductance_fraction": {n: 1.0 / (1 + c) for n, c in bed.items()}}


PERMANENT, GELFOAM = sim.Scenario(), sim.Scenario().with_updates({"agent.permanent": False})
#: Every permanent plug recanalises (in a long interval), and almost none.
ALL_REOPEN = IntervalConfig(microsphere_recanalised_max=1.0, recanalisation_time_weeks=0.01)
NONE_REOPEN = IntervalConfig(microsphere_recanalised_max=1e-12)


def _chain():
    """A permanent session, then a gelfoam one the same day on top of it (a pedicle vessel of both, a trunk vessel of
    both under another catheter split, one vessel and one bed of the gelfoam only)."""
    first = stack_session(None, _record([0, 2, 0], trunk={"A5": 1}), PERMANENT)
    second = stack_session(first, _record([0, 3, 4], trunk={"A5_distal": 2}, bed={"GDA": 5}), GELFOAM)
    return first, second


def test_same_day_sessions_of_one_agent_class_are_one_layer():
    first = stack_session(None, _record([0, 2, 0]), PERMANENT)
    again = stack_session(first, _record([1, 3, 0]), PERMANENT)
    assert len(again["layers"]) == 1 and again["layers"][0].pedicle.tolist() == [0, 1]
    assert again["layers"][0].pedicle_before["count"].tolist() == [0, 0]  # the state before the first that loaded it
    assert len(_chain()[1]["layers"]) == 2 and _chain()[1]["week"] == 0.0


def test_a_plug_leaves_newest_first_back_to_its_state_before_its_session():
    """Review 40: chained gelfoam sessions kept the earlier sessions' plugs for good, and a record mixing permanent and
    temporary sessions followed the last session's rule for all of them. Each session's plugs are a layer, leaving by
    its own rule, the newest first, an element going back to its state before that session."""
    first, second = _chain()
    gelfoam_gone = carry(second, NONE_REOPEN, 26.0, np.random.default_rng(0))  # exp(-26): gelfoam all resorbed
    assert gelfoam_gone["pedicle"]["count"].tolist() == [0, 2, 0]
    assert gelfoam_gone["pedicle_conductance_fraction"].tolist() == first["pedicle_conductance_fraction"].tolist()
    assert gelfoam_gone["trunk"] == {"A5": {"count": 1}} and gelfoam_gone["bed"] == {}
    assert gelfoam_gone["trunk_conductance_fraction"] == {"A5": 0.5} and gelfoam_gone["week"] == 26.0
    assert [layer.permanent for layer in gelfoam_gone["layers"]] == [True]
    everything = carry(second, ALL_REOPEN, 26.0, np.random.default_rng(0))
    assert everything["pedicle"]["count"].tolist() == [0, 0, 0] and everything["trunk"] == {}
    assert everything["layers"] == [] and everything["pedicle_conductance_fraction"].tolist() == [1.0, 1.0, 1.0]
    # a permanent plug under gelfoam that stays (a tenth of an hour later) cannot leave: the gelfoam holds it
    under = carry(second, ALL_REOPEN, 1e-3 / 168.0, np.random.default_rng(0))
    assert under["pedicle"]["count"].tolist() == [0, 3, 4] and "A5_distal" in under["trunk"]
    assert second["pedicle"]["count"].tolist() == [0, 3, 4]  # the record is not modified


def test_a_layer_carried_twice_leaves_as_if_carried_once():
    """Over two intervals a permanent plug reopens with p(a + b), not 1 - (1 - p(a))(1 - p(b)), and a plug held under a
    newer one leaves as soon as that one has gone if its time has come (review 41: a conditional draw per carry lost
    its chances while held, 16% fewer reopened with a session between): each layer keeps its uniforms for life, so
    two carries with the same seeds end where one does."""
    spheres = stack_session(None, _record(np.ones(20_000, int)), PERMANENT)
    pva = stack_session(spheres, _record(2 * np.ones(20_000, int)), PERMANENT.with_updates({"agent.kind": "pva"}))
    assert len(pva["layers"]) == 2  # another agent kind the same day: its own layer, over the first
    cfg = IntervalConfig()
    once = carry(pva, cfg, 26.0, np.random.default_rng(1))
    twice = carry(carry(pva, cfg, 6.0, np.random.default_rng(1)), cfg, 20.0, np.random.default_rng(2))
    assert twice["week"] == once["week"] == 26.0
    assert np.array_equal(once["pedicle"]["count"], twice["pedicle"]["count"])
    p_ms, p_pva = (recanalised_fraction(IntervalConfig(weeks=26.0), kind) for kind in ("microspheres", "pva"))
    for carried in (once, twice):
        empty = np.mean(carried["pedicle"]["count"] == 0)
        assert abs(empty - p_ms * p_pva) < 4 * np.sqrt(p_ms * p_pva * (1 - p_ms * p_pva) / 20_000)


def test_a_plug_as_old_as_any_leaves_without_dividing_by_zero():
    """Review 41: with interval.microsphere_recanalised_max = 1, a layer held long enough had reopened 1.0 of its share
    and the conditional draw divided 0 by 0."""
    first = stack_session(None, _record([1, 1]), PERMANENT)
    second = stack_session(first, _record([2, 2]), PERMANENT.with_updates({"agent.kind": "pva"}))
    cfg = IntervalConfig(microsphere_recanalised_max=1.0, pva_recanalised_max=0.0, recanalisation_time_weeks=0.5)
    held = carry(second, cfg, 40.0, np.random.default_rng(0))  # the PVA stays and holds the spheres
    later = carry(held, cfg, 1.0, np.random.default_rng(1))
    assert later["pedicle"]["count"].tolist() == [2, 2] and len(later["layers"]) == 2


@pytest.mark.parametrize(("earlier", "gelfoam"), [({"A5": 2, "A5_distal": 3}, {"A5": 9}),
                                                   ({"A5": 3}, {"A5": 2, "A5_distal": 7})])
def test_a_resorbed_trunk_vessel_gets_back_both_sides_of_a_catheter_split(earlier, gelfoam):
    """Review 40: a trunk vessel recorded as X and X_distal (catheters split it at their tip) matched one name only, so
    a resorbed vessel lost the other side's earlier load, or kept gelfoam for good."""
    first = stack_session(None, _record([0], trunk=earlier), PERMANENT)
    second = stack_session(first, _record([0], trunk=gelfoam), GELFOAM)
    assert list(second["layers"][1].trunk_before) == ["A5"]
    gone = carry(second, NONE_REOPEN, 26.0, np.random.default_rng(0))
    assert gone["trunk"] == {name: {"count": c} for name, c in earlier.items()}
    assert gone["trunk_conductance_fraction"] == first["trunk_conductance_fraction"]


def test_layers_drawn_at_different_carries_draw_different_numbers(chain):
    """Review 42: every carry started from the same seed, so a layer drawn at a later carry repeated an earlier layer's
    uniforms position by position (both layers gone 0.388 against 0.209)."""
    base, liver, runs = chain
    later = base.with_updates({"catheter.vessel": "A8", "interval.weeks": 6.0})
    second = sim.run(later, progress=False, liver=liver, prior=runs[0])
    third_carry = carried_load(second, base.with_updates({"interval.weeks": 6.0}))
    first_draws = carried_load(runs[0], later)["layers"][0].draws
    second_layer = [layer for layer in third_carry["layers"] if layer.week == 6.0]
    assert first_draws is not None and second_layer and second_layer[0].draws is not None
    n = min(first_draws.size, second_layer[0].draws.size)
    assert not np.allclose(first_draws[:n], second_layer[0].draws[:n])
