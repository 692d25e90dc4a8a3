"""Time between sessions (sim/interval.py): rates against their sources, recanalisation of the load record,
the course of necrosis and regeneration, and chained sessions that keep every occlusion at 0 weeks."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.interval import Course, advance_course, carried_load, recanalise, recanalised_fraction, regenerated_fraction
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


def test_recanalise_with_no_share_or_all():
    record = {"pedicle": {"count": np.array([0, 2]), "column": np.array([0.0, 1e-3])},
              "compartment": {"count": np.array([1]), "gen": np.array([3]), "layer": np.array([0.5])},
              "trunk": {"A5": {"count": 1}}, "bed": {}, "pedicle_conductance_fraction": np.array([1.0, 0.1]),
              "compartment_conductance_fraction": np.array([0.2]), "trunk_conductance_fraction": {"A5": 0.3},
              "bed_conductance_fraction": {}}
    none = recanalise(record, 0.0, np.random.default_rng(0))
    assert none["pedicle"]["count"].tolist() == [0, 2] and "A5" in none["trunk"]
    everything = recanalise(record, 1.0, np.random.default_rng(0))
    assert everything["pedicle"]["count"].tolist() == [0, 0] and everything["compartment"]["gen"].tolist() == [-1]
    assert everything["compartment"]["layer"].tolist() == [1.0] and everything["trunk"] == {}
    assert everything["pedicle_conductance_fraction"].tolist() == [1.0, 1.0]
    assert record["pedicle"]["count"].tolist() == [0, 2]


def test_a_resorbed_element_returns_to_the_load_it_had_before_the_temporary_session():
    """``recanalise(before=...)``: only what the temporary session added draws, and a reopened element gets back its
    earlier load and conductance, a trunk part by name either side of a catheter's ``_distal`` split."""
    before = {"pedicle": {"count": np.array([0, 2, 0])}, "compartment": {"count": np.array([1])},
              "trunk": {"A5": {"count": 1}}, "bed": {}, "pedicle_conductance_fraction": np.array([1.0, 0.5, 1.0]),
              "compartment_conductance_fraction": np.array([0.2]), "trunk_conductance_fraction": {"A5": 0.3},
              "bed_conductance_fraction": {}}
    after = {"pedicle": {"count": np.array([0, 3, 4])}, "compartment": {"count": np.array([1])},
             "trunk": {"A5_distal": {"count": 2}, "A6": {"count": 1}}, "bed": {"GDA": {"count": 5}},
             "pedicle_conductance_fraction": np.array([1.0, 0.1, 0.4]),
             "compartment_conductance_fraction": np.array([0.2]),
             "trunk_conductance_fraction": {"A5_distal": 0.1, "A6": 0.6}, "bed_conductance_fraction": {"GDA": 0.9}}
    resorbed = recanalise(after, 1.0, np.random.default_rng(0), before=before)
    assert resorbed["pedicle"]["count"].tolist() == [0, 2, 0]
    assert resorbed["pedicle_conductance_fraction"].tolist() == [1.0, 0.5, 1.0]
    assert resorbed["compartment"]["count"].tolist() == [1]  # not added to by the session: no draw, kept
    assert resorbed["trunk"] == {"A5_distal": {"count": 1}} and resorbed["trunk_conductance_fraction"] == {"A5_distal": 0.3}
    assert resorbed["bed"] == {} and resorbed["bed_conductance_fraction"] == {}
    kept = recanalise(after, 0.0, np.random.default_rng(0), before=before)
    assert kept["pedicle"]["count"].tolist() == [0, 3, 4] and kept["trunk"] == after["trunk"]
    assert after["pedicle"]["count"].tolist() == [0, 3, 4]  # the record is not modified
