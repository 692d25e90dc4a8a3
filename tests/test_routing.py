"""Fixed-field routing (sim.kernels.routing) gives every particle the route of the exact kernel.

On a fixed flow field a particle's route depends only on its diameter and its
random numbers. The exact kernel (:func:`sim.kernels.transport.transport`, flows
computed on demand from pressures) routes the first particle of a procedure on
the unoccluded field; so, particle by particle on a fresh copy of the field, it is
the reference for the table-driven router.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.agents import agent_from_config
from sim.anatomy import build_liver
from sim.flow.model import LiverFlow
from sim.kernels import embolic_load as el
from sim.kernels import routing, twoport
from sim.kernels import transport as tk
from sim.kernels.uniforms import drawn_rows
from sim.procedure import _new_state, load_geometry, route_fixed_field, transport_net, walk_steps

PARTICLES = 300


@pytest.fixture(scope="module")
def base():
    return sim.load_scenario(sim.default_scenario_path()).with_updates({"liver.terminal_diameter_um": 300.0})


@pytest.fixture(scope="module")
def liver(base):
    return build_liver(base)


def _pedicle_tip(liver, depth):
    """A synthetic vessel ``depth`` levels below the subtree root of A5."""
    forest = liver.compiled.forest
    node = int(forest.root_nodes[np.flatnonzero(forest.segment[forest.root_nodes] == 4)[0]])
    children = np.flatnonzero(forest.parent >= 0)
    for _ in range(depth):
        node = int(children[forest.parent[children] == node][0])
    return f"#{node}"


def _setup(liver, scenario):
    flow = LiverFlow(liver.compiled, scenario, catheter=True)
    agent = agent_from_config(scenario.agent)
    net, sinks = transport_net(flow.liver, flow.state, flow.catheter, scenario, agent)
    return flow, agent, net, sinks


def _copy(named_tuple):
    return type(named_tuple)(*(a.copy() if isinstance(a, np.ndarray) else a for a in named_tuple))


def _empty_load(flow):
    liver = flow.liver
    return el.new_load(liver.forest.n_nodes + liver.trunk.n_edges, liver.compartments.n + liver.trunk.n_edges)


def _exact_first_particle_routes(flow, net, geo, load, n_sinks, diameters, uniforms, state=None):
    """Each particle alone, as the next particle of a procedure on a fresh copy of the field and the load."""
    fate = np.empty(diameters.size, np.int64)
    where = np.empty(diameters.size, np.int64)
    refluxed = np.empty(diameters.size, bool)
    stacked = np.empty(diameters.size, bool)
    for p in range(diameters.size):
        st = _copy(flow.state if state is None else state)
        ps = _new_state(1, flow.liver, n_sinks, _copy(load))
        tk.transport(st, net, geo, ps, diameters[p:p + 1], np.ones(1, np.int64), drawn_rows(uniforms[p:p + 1]), 0, 1, -1.0,
                     False)
        fate[p], where[p], refluxed[p], stacked[p] = ps.fate[0], ps.where[0], ps.refluxed[0], ps.stacked[0]
    return fate, where, refluxed, stacked


CASES = {
    "PHA, 100-300 um": {"catheter.vessel": "PHA"},
    "PHA, 300-500 um, no size bias": {"catheter.vessel": "PHA", "agent.size_bin": "300-500",
                                      "procedure.size_bias_onset": 0.0},
    "RHA, central release": {"catheter.vessel": "RHA", "procedure.release": "central"},
    "A1 at 60 mL/min (reflux)": {"catheter.vessel": "A1", "catheter.rate_ml_min": 60.0},
    "synthetic vessel at 40 mL/min (reflux)": {"catheter.rate_ml_min": 40.0},
    "40-120 um": {"catheter.vessel": "A5", "agent.size_bin": "40-120"},
}


def _compare(flow, net, n_sinks, d, rng, *, state=None, load=None, scenario=None):
    """Route ``d`` with both kernels on the same random numbers (and field and load); returns the router's state."""
    state = flow.state if state is None else state
    load = _empty_load(flow) if load is None else load
    geo = load_geometry(flow.liver, flow.state, net, scenario or flow.scenario, agent_from_config(
        (scenario or flow.scenario).agent))
    u = rng.random((d.size, walk_steps(flow.liver, net)))
    fate, where, refluxed, stacked = _exact_first_particle_routes(flow, net, geo, load, n_sinks, d, u, state)
    ps = _new_state(d.size, flow.liver, n_sinks, load)
    routing.route(routing.build_table(state, net, load), ps, d, np.ascontiguousarray(u.T), 0, d.size)
    np.testing.assert_array_equal(ps.fate, fate)
    np.testing.assert_array_equal(ps.where, where)
    np.testing.assert_array_equal(ps.refluxed, refluxed)
    np.testing.assert_array_equal(ps.stacked, stacked)
    assert ps.counters[0] == d.size
    for f, counts in ((tk.FATE_VESSEL, ps.lodged_ped), (tk.FATE_TRUNK, ps.lodged_trunk),
                      (tk.FATE_COMPARTMENT, ps.lodged_comp), (tk.FATE_NONTARGET, ps.nontarget)):
        np.testing.assert_array_equal(counts, np.bincount(where[fate == f], minlength=counts.size))
    return ps


@pytest.mark.parametrize("case", list(CASES))
def test_routes_equal_the_exact_kernel(liver, base, case):
    updates = dict(CASES[case])
    updates.setdefault("catheter.vessel", _pedicle_tip(liver, 3))
    flow, agent, net, sinks = _setup(liver, base.with_updates(updates))
    rng = np.random.default_rng(11)
    ps = _compare(flow, net, len(sinks), agent.sample_diameters(PARTICLES, rng=rng), rng)
    if "reflux" in case:  # the case exercises what it is named for
        assert ps.refluxed.any()


def test_every_way_a_route_ends_equals_the_exact_kernel(liver, base):
    """Particles from 5 um to 5 mm: compartments, pedicle vessels, named trunk vessels and non-target beds."""
    flow, _, net, sinks = _setup(liver, base.with_updates({"catheter.vessel": "PHA"}))
    rng = np.random.default_rng(5)
    d = np.exp(rng.uniform(np.log(5e-6), np.log(5e-3), PARTICLES))
    ps = _compare(flow, net, len(sinks), d, rng)
    assert {tk.FATE_VESSEL, tk.FATE_TRUNK, tk.FATE_COMPARTMENT, tk.FATE_NONTARGET} <= set(ps.fate.tolist())


def test_loaded_field_routes_equal_the_exact_kernel(liver, base):
    """On a loaded field (wedges, columns, packed beds) every route end agrees, column stops included."""
    scenario = base.with_updates({"catheter.vessel": "A5"})
    flow, agent, net, sinks = _setup(liver, scenario)
    geo = load_geometry(flow.liver, flow.state, net, scenario, agent)
    load = _empty_load(flow)
    st = _copy(flow.state)
    rng = np.random.default_rng(4)
    n = 30000  # an embolisation well under way: beds packed, columns have formed and grow upstream
    ps = _new_state(n, flow.liver, len(sinks), load)
    tk.transport(st, net, geo, ps, agent.sample_diameters(n, rng=rng), np.arange(1, n + 1),
                 drawn_rows(rng.random((n, walk_steps(flow.liver, net)))), 0, n, -1.0, False)
    assert ps.stacked.any() and load.vessel_blocked.any()
    twoport.solve(st)  # the router reads the flows of a full solve
    d = np.concatenate([agent.sample_diameters(PARTICLES, rng=rng),
                        np.exp(rng.uniform(np.log(5e-6), np.log(5e-3), PARTICLES))])
    routed = _compare(flow, net, len(sinks), d, rng, state=st, load=load, scenario=scenario)
    assert routed.stacked.any()  # column stops are among the route ends compared
    assert {tk.FATE_VESSEL, tk.FATE_COMPARTMENT} <= set(routed.fate.tolist())


def test_routes_from_a_synthetic_tip_stacking_back_to_it_equal_the_exact_kernel(liver, base):
    """A synthetic tip has its vessel's distal half as the room ahead of the catheter (``TransportNet.tip_room``): on a load
    where particles already stack there, and on one where it is full (the exact kernel stopped packed), every
    route end agrees: a column stop in the tip's vessel, then suspension at the tip."""
    tip = _pedicle_tip(liver, 2)
    scenario = base.with_updates({"catheter.vessel": tip, "agent.size_bin": "500-700"})
    flow, agent, net, sinks = _setup(liver, scenario)
    room = int(tip[1:])
    assert net.tip_room == room
    geo = load_geometry(flow.liver, flow.state, net, scenario, agent)
    load = _empty_load(flow)
    st = _copy(flow.state)
    rng = np.random.default_rng(6)
    n = 20000
    ps = _new_state(n, flow.liver, len(sinks), load)
    d = agent.sample_diameters(n, rng=rng)
    u = rng.random((n, walk_steps(flow.liver, net)))
    p, stop, checked = 0, tk.STOP_BATCH, []
    while p < n and stop == tk.STOP_BATCH:  # one particle a call: the load as it stands after each
        p, stop = tk.transport(st, net, geo, ps, d, np.arange(1, n + 1), drawn_rows(u[p:p + 1]), p, p + 1, -1.0, False)
        partly = load.vessel_count[room] > 0 and tk.tip_room_has_space(load.vessel_blocked[room], load.vessel_column[room],
                                                                        net.tip_room_length_m)
        if stop == tk.STOP_PACKED or (partly and not checked):
            twoport.solve(st)
            routed = _compare(flow, net, len(sinks), agent.sample_diameters(PARTICLES, rng=rng), rng, state=_copy(st),
                              load=_copy(load), scenario=scenario)
            checked.append(routed)
    assert stop == tk.STOP_PACKED and len(checked) == 2
    partly, packed = checked
    assert (partly.stacked & (partly.fate == tk.FATE_VESSEL) & (partly.where == room)).any()
    assert (packed.stacked & (packed.fate == tk.FATE_SUSPENDED)).any()  # packed to the tip


def test_routing_chunks_and_random_number_budget(liver, base):
    """Chunking never changes a route; a walk longer than its random numbers stays in suspension."""
    flow, agent, net, sinks = _setup(liver, base.with_updates({"catheter.vessel": "PHA"}))
    d = agent.sample_diameters(1000, rng=np.random.default_rng(1))
    whole = route_fixed_field(flow.liver, flow.state, net, len(sinks), d, np.random.default_rng(2), chunk=1000)
    table = routing.build_table(flow.state, net, _empty_load(flow))
    u = np.random.default_rng(2).random((walk_steps(flow.liver, net), 1000))
    parts = _new_state(1000, flow.liver, len(sinks), _empty_load(flow))
    for first in range(0, 1000, 300):
        last = min(1000, first + 300)
        routing.route(table, parts, d, np.ascontiguousarray(u[:, first:last]), first, last)
    np.testing.assert_array_equal(parts.where, whole.where)
    np.testing.assert_array_equal(parts.fate, whole.fate)

    short = _new_state(1000, flow.liver, len(sinks), _empty_load(flow))
    routing.route(table, short, d, np.ascontiguousarray(u[:3]), 0, 1000)
    assert (short.fate == tk.FATE_SUSPENDED).any()
    assert np.array_equal(short.fate == tk.FATE_SUSPENDED, short.where == -1)
    ended_early = short.fate != tk.FATE_SUSPENDED
    np.testing.assert_array_equal(short.where[ended_early], whole.where[ended_early])
