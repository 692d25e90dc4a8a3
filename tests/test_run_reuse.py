"""What ``sim.run`` reuses around the transport kernel gives exactly what recomputing gives (docs/performance.md).

Each shortcut is checked against the computation it replaces, to the bit: the random rows drawn
into one reused buffer, the units counted without a sort, the recorded blushes from the tumour
paths, the run's opening solve skipped on a state as LiverFlow solved it, the contrast read-outs
sharing the state's 2-ports, and the values kept per liver.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim import angiography as ag
from sim import procedure as pr
from sim.agents import agent_sequence
from sim.endpoints import territory_blush_fraction
from sim.flow.model import LiverFlow
from sim.flow.state import _csr
from sim.kernels import twoport, uniforms
from sim.outcomes import (
    _tumour_shares,
    compartment_necrosis,
    deliveries,
    tissue_outcomes,
    tumour_blush_fraction,
    tumour_rows,
    tumour_share_of_lodgings,
)


def _procedure(liver, scenario, *, solved: bool, seed: int = 3):
    flow = LiverFlow(liver.compiled, scenario, catheter=True, substitute=not solved)  # solved: sim.run's way
    agents = agent_sequence(scenario.agent, scenario.procedure.agent_sequence)
    return pr.run_procedure(flow.liver, flow.state, flow.catheter, scenario, agents, rng=np.random.default_rng(seed),
                            solved=solved), flow


@pytest.fixture(scope="module")
def procedures(coarse_liver, coarse_scenario):
    """The same procedure with the opening full solve done (reference) and skipped on a flow solved without its
    substitution (sim.run's way)."""
    return _procedure(coarse_liver, coarse_scenario, solved=False), _procedure(coarse_liver, coarse_scenario, solved=True)


@pytest.mark.parametrize("min_draw", [0, uniforms.MIN_DRAW])
def test_random_rows_are_one_long_draw_whatever_the_chunks_and_returns(monkeypatch, min_draw):
    monkeypatch.setattr(uniforms, "MIN_DRAW", min_draw)  # 0: every draw by the PCG64 kernel, else the small ones numpy's
    width, sizes, unused = 7, [3, 50, 1, 200, 64, 9, 300], [0, 10, 1, 0, 63, 2, 0]
    rows = pr._Rows(np.random.default_rng(11), width)
    handed = []
    for n, back in zip(sizes, unused):
        taken = rows.take(n).copy()  # valid until the next take
        rows.give_back(back)
        handed.append(taken[:n - back])
    expected = np.random.default_rng(11).random((sum(sizes) - sum(unused), width))
    assert np.concatenate(handed).tobytes() == expected.tobytes()
    # one number per row (diameters, clusters) likewise
    scalar = pr._Rows(np.random.default_rng(4))
    got = np.concatenate([scalar.take(5).copy(), scalar.take(1).copy(), scalar.take(40).copy()])
    assert got.tobytes() == np.random.default_rng(4).random(46).tobytes()


@pytest.mark.parametrize("extra_mean", [0.0, 1.2, 10.0])
def test_units_are_counted_as_the_distinct_unit_ends(extra_mean):
    unit_end = np.empty(5000, np.int64)
    assigned = pr._assign_units(unit_end, 0, 4000, 5000, extra_mean, pr._Rows(np.random.default_rng(2)))
    for done in (0, 1, 17, assigned):
        assert pr._count_units(unit_end[:done]) == np.unique(unit_end[:done]).size
    assert (pr._count_units(unit_end[:assigned]) < assigned) == (extra_mean > 0)


def test_skipping_the_opening_solve_changes_nothing(procedures):
    (ref, _), (fast, _) = procedures
    n = ref.n_injected
    assert fast.n_injected == n > 100 and fast.stop_reason == ref.stop_reason
    for name in ("fate", "where", "flow_after", "stacked", "refluxed"):
        assert getattr(fast.state, name)[:n].tobytes() == getattr(ref.state, name)[:n].tobytes(), name
    assert fast.q_base.tobytes() == ref.q_base.tobytes() and fast.q_final.tobytes() == ref.q_final.tobytes()
    assert fast.rows == ref.rows


def test_recorded_blushes_are_those_of_the_whole_liver_substituted(procedures):
    """The last row reads the tumour paths only; the final flows substitute every node: the same blushes."""
    (proc, flow) = procedures[1]
    comps = flow.liver.compartments
    last = proc.rows[-1]
    assert last["tumour_blush_fraction"] == tumour_blush_fraction(comps, proc.q_base, proc.q_final)
    rows = tumour_rows(comps)
    seen = rows[proc.in_territory[comps.node[rows]]]
    assert seen.size > 0
    expected = territory_blush_fraction(comps.tumour_volume_m3[seen], proc.q_base[seen], proc.q_final[seen])
    assert last["territory_blush_fraction"] == expected < 1.0
    assert proc.n_units == proc.n_injected  # no aggregation here: one unit per particle


def test_outcomes_with_the_necrosis_given_are_those_computed(procedures, coarse_scenario):
    (proc, flow) = procedures[1]
    q_healthy = flow.calibration.healthy_compartment_flows
    comps = flow.liver.compartments
    cfg = coarse_scenario.outcomes
    necrosis = compartment_necrosis(q_healthy, proc.q_base, proc.q_final, cfg)
    given = tissue_outcomes(comps, q_healthy, proc.q_base, proc.q_final, cfg, necrosis=necrosis)
    computed = tissue_outcomes(comps, q_healthy, proc.q_base, proc.q_final, cfg)
    assert given == computed
    assert 0.0 < computed["tumour_necrosis_fraction"] < 1.0
    # the inflows and O2 deliveries computed once for both (sim.run's way)
    delivered = deliveries(q_healthy, proc.q_base, proc.q_final, cfg)
    shared = compartment_necrosis(q_healthy, proc.q_base, proc.q_final, cfg, delivered=delivered)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(shared, necrosis))
    assert tissue_outcomes(comps, q_healthy, proc.q_base, proc.q_final, cfg, necrosis=shared,
                           delivered=delivered) == computed


@pytest.mark.parametrize("vessel", ["A5", "pedicle"])
def test_contrast_readouts_sharing_the_solved_state_are_those_eliminated_afresh(coarse_liver, coarse_scenario, vessel):
    if vessel == "pedicle":
        forest = coarse_liver.compiled.forest
        nodes = np.flatnonzero((np.asarray(forest.parent) >= 0) & (np.asarray(forest.generation) == 3))
        vessel = f"#{int(nodes[len(nodes) // 2])}"
    flow = LiverFlow(coarse_liver.compiled, coarse_scenario.with_updates({"catheter.vessel": vessel}), catheter=True)
    fresh = ag.contrast_readouts(flow)
    shared = ag.contrast_readouts(flow, like=flow.state)
    assert fresh == shared and fresh["native_tip_flow_m3s"] > 0
    assert (flow.catheter.tip_trunk_node >= 0) == (vessel == "A5")


def test_a_runs_final_two_ports_are_those_eliminated_afresh(procedures, coarse_liver, coarse_scenario):
    """The end-of-procedure contrast read-outs share the run's final 2-ports (trunk tip, sim.run): the incremental
    updates after every lodging leave exactly the 2-ports a fresh elimination of the final conductances gives."""
    (proc, flow) = procedures[1]
    state = flow.state
    assert flow.catheter.tip_trunk_node >= 0 and proc.state.counters[1] > 100  # many lodgings
    names = ("node_pi", "node_conn", "edge_pi", "edge_conn")
    fresh = state._replace(**{name: getattr(state, name).copy() for name in names})
    twoport.eliminate(fresh)
    for name in names:
        assert getattr(fresh, name).tobytes() == getattr(state, name).tobytes(), name
    before = LiverFlow(coarse_liver.compiled, coarse_scenario, catheter=True).state
    assert not np.array_equal(before.node_pi, state.node_pi)  # the run did change them


def test_a_flow_solved_without_its_substitution_is_the_full_solve_up_to_it(coarse_liver, coarse_scenario):
    full = LiverFlow(coarse_liver.compiled, coarse_scenario, catheter=True).state
    part = LiverFlow(coarse_liver.compiled, coarse_scenario, catheter=True, substitute=False).state
    for name in ("node_pi", "node_conn", "edge_pi", "edge_conn", "trunk_p", "trunk_q", "status"):
        assert getattr(part, name).tobytes() == getattr(full, name).tobytes(), name
    assert np.isnan(part.comp_p).all() and not np.isnan(full.comp_p).any()  # not substituted
    twoport.substitute(part)
    for name in ("art_p", "por_p", "art_q", "por_q", "comp_p", "comp_q"):
        assert getattr(part, name).tobytes() == getattr(full, name).tobytes(), name


def test_tumour_shares_are_kept_per_liver_and_read_only(coarse_liver):
    comps, parent = coarse_liver.compiled.compartments, np.asarray(coarse_liver.compiled.forest.parent, np.int64)
    first = tumour_share_of_lodgings(comps, parent)
    again = tumour_share_of_lodgings(comps, parent.copy())  # the same forest, another array
    assert again[0] is first[0] and again[1] is first[1]
    fresh = _tumour_shares(comps, parent)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first, fresh))
    assert not first[0].flags.writeable and first[0].max() > 0
    with pytest.raises(ValueError):
        first[1][0] = 0.5


def test_flow_states_of_one_liver_share_its_topology(coarse_liver, coarse_scenario):
    a = LiverFlow(coarse_liver.compiled, coarse_scenario, catheter=True).state
    b = LiverFlow(coarse_liver.compiled, coarse_scenario.with_updates({"catheter.vessel": "RHA"}), catheter=True).state
    assert np.shares_memory(a.child_idx, b.child_idx) and np.shares_memory(a.comp_idx, b.comp_idx)
    m = a.parent.shape[0]
    child_ptr, child_idx = _csr(np.where(a.parent >= 0, a.parent, m), m + 1)
    comp_ptr, comp_idx = _csr(np.asarray(coarse_liver.compiled.compartments.node, np.int64), m)
    assert np.array_equal(a.child_ptr, child_ptr[:m + 1]) and np.array_equal(a.child_idx, child_idx[:m - a.root_nodes.size])
    assert np.array_equal(a.comp_ptr, comp_ptr) and np.array_equal(a.comp_idx, comp_idx)


def test_run_summary_is_that_of_its_parts(coarse_liver, coarse_scenario):
    """sim.run (opening solve skipped, necrosis and shares reused) agrees with the procedure done the reference way."""
    result = sim.run(coarse_scenario, liver=coarse_liver, progress=False, rng=3)
    (ref, _) = _procedure(coarse_liver, coarse_scenario, solved=False, seed=3)
    assert result.summary["particles_injected"] == ref.n_injected
    assert result.state["compartment_flow_final_m3s"].tobytes() == ref.q_final.tobytes()
    assert result.timeseries["tumour_blush_fraction"].tolist() == [r["tumour_blush_fraction"] for r in ref.rows]


@pytest.mark.parametrize("updates", [{}, {"agent.contrast_dilution": 2.0, "catheter.vessel": "RHA"},
                                     {"procedure.endpoint": "near_stasis", "agent.size_bin": "300-500"}])
def test_path_numbers_generated_by_the_kernel_are_the_drawn_rows(coarse_liver, coarse_scenario, monkeypatch, updates):
    """With PCG64 the transport kernel generates the path numbers it reads (``uniforms.PathRandoms``) instead of reading
    rows drawn beforehand: whole runs (chunked calls, endpoint stops, clusters of aggregated particles at 1:2 dilution)
    equal the drawn rows' runs to the bit."""
    scenario = coarse_scenario.with_updates(updates)
    generated = sim.run(scenario, liver=coarse_liver, progress=False)
    monkeypatch.setattr(pr, "path_randoms", lambda generator, width: None)  # rows drawn, as for any other generator
    drawn = sim.run(scenario, liver=coarse_liver, progress=False)
    if updates.get("agent.contrast_dilution"):
        assert agent_sequence(scenario.agent, scenario.procedure.agent_sequence)[0][0].cluster_extra_mean() > 1.0
    assert len(generated.timeseries) > 3
    assert generated.timeseries.equals(drawn.timeseries)
    for key, value in generated.state.items():
        if isinstance(value, np.ndarray):
            assert value.tobytes() == drawn.state[key].tobytes(), key
    assert {k: v for k, v in generated.summary.items() if k != "run_time_s"} == \
        {k: v for k, v in drawn.summary.items() if k != "run_time_s"}
