"""The embolisation procedure: inject, transport, occlude, update the flow, record, check the endpoint.

The physics is the exact particle sequence (:func:`sim.kernels.transport.transport`):
every particle sees the flow left by all particles before it, the flow being
updated incrementally after every lodging. Python only drives the loop in
chunks of particles, records the time series between chunks and stops at the
endpoint, the maximum volume or on reflux. Chunks set the recording resolution
only (they adapt so that the antegrade flow changes by about
``RECORD_FLOW_STEP`` between rows); they never change the physics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .agents import Agent
from .endpoints import clearance_time_cycles, endpoint_threshold, sace_level
from .kernels import routing
from .kernels import transport as tk
from .kernels import twoport
from .network import EDGE_ARTERY, EDGE_LUMPED, CompiledLiver
from .outcomes import tumour_blush_fraction, tumour_rows
from .scenario import Scenario
from .units import ML_M3

__all__ = ["ProcedureRun", "run_procedure", "transport_net", "walk_steps", "route_fixed_field", "RECORD_FLOW_STEP",
           "FIXED_FIELD_CHUNK"]

#: Target change of the antegrade flow fraction between two recorded rows (dimensionless;
#: numerical choice: sets the time series' resolution only, never the physics).
RECORD_FLOW_STEP = 0.02
#: Flow exponent of the branch weights at the first bifurcation for particles released on
#: the vessel axis (model assumption: the central streamline belongs to the dominant branch;
#: Taebi et al. measured up to 53% delivery change for a tip 5 mm before a bifurcation).
CENTRAL_RELEASE_EXPONENT = 2.0
#: Peak-to-mean injection rate of pulsed hand injection (model assumption: pulses a third of the time).
PULSE_PEAK_FACTOR = 3.0
#: First chunk of particles, and the bounds of the adaptive chunk (particles; numerical
#: choices like RECORD_FLOW_STEP).
FIRST_CHUNK, MIN_CHUNK, MAX_CHUNK = 32, 1, 65536
#: Particles per call of the fixed-field router (numerical choice: bounds its array of
#: random numbers to about 50 MB at 1e5 terminals; never changes a route).
FIXED_FIELD_CHUNK = 65536


@dataclass
class ProcedureRun:
    """Raw outcome of :func:`run_procedure` (turned into a summary by :mod:`sim.simulation`)."""

    rows: list[dict]
    state: tk.ProcedureState
    flow_state: twoport.FlowState
    net: tk.TransportNet
    n_injected: int
    stop_reason: str
    q_base: np.ndarray
    q_final: np.ndarray
    tip_flow_baseline_m3s: float
    sink_names: tuple[str, ...]
    diameters_m: np.ndarray
    in_territory: np.ndarray
    particle_volume_m3: np.ndarray
    agent_names: tuple[str, ...]


def _trunk_adjacency(conns: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    ends = np.concatenate([conns[:, 0], conns[:, 1]])
    edges = np.concatenate([np.arange(conns.shape[0]), np.arange(conns.shape[0])])
    order = np.argsort(ends, kind="stable")
    ptr = np.zeros(n_nodes + 1, np.int64)
    np.cumsum(np.bincount(ends, minlength=n_nodes), out=ptr[1:])
    return ptr, edges[order].astype(np.int64)


def _depths(parent: np.ndarray) -> np.ndarray:
    depth = np.zeros(parent.shape[0], np.int64)
    for i in np.flatnonzero(parent >= 0):  # preorder: parents first
        depth[i] = depth[parent[i]] + 1
    return depth


def _max_candidates(tadj_ptr: np.ndarray, state: twoport.FlowState) -> int:
    """Most exits a particle can choose among at one node (trunk edges, or children + compartments + parent)."""
    trunk = int(np.diff(tadj_ptr).max(initial=0))
    pedicle = int((np.diff(state.child_ptr) + np.diff(state.comp_ptr)).max(initial=0)) + 1
    return trunk + pedicle


def _sinks(liver: CompiledLiver) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Non-target exits: lumped beds (by vessel name) and arterial roots (reflux to the aorta)."""
    trunk = liver.trunk
    names: list[str] = []
    edge_sink = np.full(trunk.n_edges, -1, np.int64)
    for e in np.flatnonzero(trunk.edge_kind == EDGE_LUMPED):
        name = trunk.edge_names[e].removesuffix("_bed")
        if name not in names:
            names.append(name)
        edge_sink[e] = names.index(name)
    node_sink = np.full(trunk.n_nodes, -1, np.int64)
    arterial_ends = set(trunk.edge_conns[trunk.edge_kind == EDGE_ARTERY].ravel().tolist())
    for n in np.flatnonzero(np.isfinite(trunk.node_pressure_pa)):
        if int(n) in arterial_ends:
            names.append(f"aorta via {trunk.node_names[n]}")
            node_sink[n] = len(names) - 1
    return edge_sink, node_sink, tuple(names)


def transport_net(liver: CompiledLiver, state: twoport.FlowState, placement, scenario: Scenario,
                  agent: Agent, *, full_resolve: bool = False) -> tuple[tk.TransportNet, tuple[str, ...]]:
    """Static transport inputs for a liver with its catheter placed.

    ``full_resolve=True`` makes the kernel re-eliminate every 2-port after each
    lodging (the O(N) reference for benchmarks) instead of the O(depth) update.

    Returns
    -------
    (TransportNet, tuple of str)
        The kernel's inputs and the names of the non-target sinks.
    """
    trunk, forest, comps = liver.trunk, liver.forest, liver.compartments
    ptr, adj = _trunk_adjacency(np.asarray(trunk.edge_conns, np.int64), trunk.n_nodes)
    trunk_diam = np.where(trunk.edge_kind == EDGE_ARTERY, 2.0 * trunk.edge_radius_m, np.nan)
    edge_sink, node_sink, sink_names = _sinks(liver)
    bed_feed = np.full(trunk.n_edges, np.nan)
    for e in np.flatnonzero(edge_sink >= 0):  # the artery ending where the bed starts
        feeding = np.flatnonzero((trunk.edge_conns[:, 1] == trunk.edge_conns[e, 0]) & (trunk.edge_kind == EDGE_ARTERY))
        bed_feed[e] = 2.0 * trunk.edge_radius_m[feeding].max() if feeding.size else np.inf
    trunk_root = np.full(trunk.n_nodes, -1, np.int64)
    trunk_root[forest.root_trunk_art] = forest.root_nodes
    ped_diam = np.nan_to_num(2.0 * forest.art_radius_m, nan=np.inf)
    tissue = comps.kind == 0
    feed = np.where(tissue, ped_diam[comps.node], scenario.liver.peribiliary_arteriole_diameter_um * 1e-6)
    depth = _depths(np.asarray(forest.parent, np.int64))
    if placement.tip_trunk_node >= 0:
        tip_kind, tip_index = tk.TIP_TRUNK, placement.tip_trunk_node
    else:
        tip_kind, tip_index = tk.TIP_PEDICLE, placement.tip_pedicle_node
    net = tk.TransportNet(
        tadj_ptr=ptr, tadj_edge=adj, trunk_diam=trunk_diam, trunk_edge_sink=edge_sink, trunk_node_sink=node_sink,
        trunk_root=trunk_root, bed_feed_diam=bed_feed, trunk_g0=state.g_trunk.copy(), ped_diam=ped_diam,
        ped_depth=depth,
        comp_feed_diam=np.ascontiguousarray(feed, dtype=np.float64), comp_g0=state.g_comp[:, twoport.COMP_ART].copy(),
        murray_exponent=float(scenario.liver.murray_exponent), deformability=float(agent.deformability),
        size_bias_onset=float(scenario.procedure.size_bias_onset),
        release_exponent=CENTRAL_RELEASE_EXPONENT if scenario.procedure.release == "central" else 1.0,
        full_resolve=bool(full_resolve), max_candidates=_max_candidates(ptr, state),
        max_depth=int(depth.max()) + 1, tip_kind=tip_kind, tip_index=int(tip_index),
        measure_edge=int(placement.proximal_edge), reflux_edge=int(placement.proximal_edge))
    return net, sink_names


def _injection_rate(st: twoport.FlowState, net: tk.TransportNet) -> float:
    return st.q_trunk_in[net.tip_index] if net.tip_kind == tk.TIP_TRUNK else st.q_art_in[net.tip_index]


def _native_compartment_flows(st: twoport.FlowState, net: tk.TransportNet, ranges: np.ndarray | None = None,
                               rows: np.ndarray | None = None) -> np.ndarray:
    """Compartment flows (C, 4) without the injection; the state is left with the injection on.

    The 2-ports are current (incremental updates), so this is a trunk solve and an
    O(N) back substitution, not a full re-elimination. With ``ranges`` (rows of
    whole-subtree preorder ranges ``[first, last)``) only those subtrees are
    substituted, and ``rows`` (compartments inside them) are the rows returned.
    """
    rate = _injection_rate(st, net)
    _set_injection(st, net, 0.0)
    if ranges is None:
        twoport.substitute(st)
    else:
        for first, last in ranges:
            twoport.substitute_range(st, first, last)
    q = st.comp_q.copy() if rows is None else st.comp_q[rows]
    _set_injection(st, net, rate)
    return q


def tumour_subtree_ranges(liver: CompiledLiver) -> np.ndarray:
    """Preorder ranges ``[first, last)`` (shape (k, 2)) of the pedicle subtrees that hold tumour tissue."""
    roots = np.sort(np.asarray(liver.forest.root_nodes, np.int64))
    ends = np.append(roots[1:], liver.forest.n_nodes)
    comps = liver.compartments
    tumour_nodes = comps.node[comps.tumour_volume_m3 > 0]
    keep = np.unique(np.searchsorted(roots, tumour_nodes, side="right") - 1)  # node 0 is a root (preorder)
    return np.column_stack([roots[keep], ends[keep]])


def occlusion_record(trunk, ps: tk.ProcedureState) -> dict:
    """What a procedure closed, by vessel name where the trunk is concerned (portable between catheter placements).

    Returns
    -------
    dict
        ``lodged_pedicle`` (M,), ``compartment_occluded`` (C,), ``occluded_vessels``
        (trunk vessel names holding a particle) and ``bed_occluded`` (non-target bed
        name -> occluded share).
    """
    return {"lodged_pedicle": ps.lodged_ped, "compartment_occluded": ps.comp_occluded,
            "occluded_vessels": sorted(trunk.edge_names[e] for e in np.flatnonzero(ps.lodged_trunk > 0)),
            "bed_occluded": {trunk.edge_names[e]: float(ps.bed_occluded[e]) for e in np.flatnonzero(ps.bed_occluded)}}


def _trunk_edge(trunk, name: str) -> int:
    """Index of ``name``, or of its vessel when ``name`` is a catheter-split part absent here (``A5_distal``)."""
    return trunk.edge_index(name if name in trunk.edge_names else name.removesuffix("_distal"))


def apply_occlusions(state: twoport.FlowState, trunk, record: dict) -> None:
    """Close in ``state`` what a procedure closed (:func:`occlusion_record`), in place, and re-solve it.

    Parameters
    ----------
    state : FlowState
        Of the same liver, with any catheter placement (trunk vessels are matched by name).
    trunk : Trunk
        The trunk ``state`` was built from.
    record : dict
        From :func:`occlusion_record` (``RunResult.state`` holds its keys).
    """
    state.g_art[record["lodged_pedicle"] > 0] = 0.0
    state.g_comp[:, twoport.COMP_ART] *= 1.0 - record["compartment_occluded"]
    for name in record["occluded_vessels"]:
        state.g_trunk[_trunk_edge(trunk, name)] = 0.0
    for name, share in record["bed_occluded"].items():
        state.g_trunk[_trunk_edge(trunk, name)] *= 1.0 - share
    twoport.solve(state)


def walk_steps(liver: CompiledLiver, net: tk.TransportNet) -> int:
    """Most nodes a particle's walk can take (random numbers drawn per particle): every trunk
    node once, down and back up the deepest subtree, and a margin."""
    return int(liver.trunk.n_nodes + 2 * int(net.ped_depth.max()) + 8)


def route_fixed_field(liver: CompiledLiver, state: twoport.FlowState, net: tk.TransportNet, n_sinks: int,
                      diameters: np.ndarray, rng: np.random.Generator, *,
                      chunk: int = FIXED_FIELD_CHUNK) -> tk.ProcedureState:
    """Route particles on the solved flow field ``state`` without occluding anything.

    The particles follow the transport rules of ``net`` (:mod:`sim.kernels.routing`:
    the same route the exact kernel gives a particle on this field) and only their
    fates are recorded: particle-versus-flow split checks, lodging depths,
    throughput. Random numbers come from ``rng``: step s of the particles of a
    chunk draws row s of a (steps, chunk) array, row by row and only while a
    particle still moves (about a third of the rows).

    Parameters
    ----------
    liver : CompiledLiver
        The liver with the catheter placed (``LiverFlow.liver``).
    state : FlowState
        Its solved flow (``LiverFlow.state``); read, not changed.
    net : TransportNet
        From :func:`transport_net`, with ``n_sinks`` non-target branches.
    diameters : float64 (P,)
        Particle diameters, m.
    rng : numpy.random.Generator
    chunk : int
        Particles per kernel call (bounds the memory of the random numbers).

    Returns
    -------
    ProcedureState
        ``fate``, ``where``, ``refluxed`` per particle and the counts per element.
    """
    table = routing.build_table(state, net)
    diameters = np.ascontiguousarray(diameters, dtype=np.float64)
    n = diameters.shape[0]
    ps = _new_state(n, liver, n_sinks)
    steps = walk_steps(liver, net)
    row = np.empty(min(n, chunk))
    for first in range(0, n, chunk):
        count = min(n, first + chunk) - first
        walks = routing.start_walks(table, count)
        moving = count
        for step in range(steps):
            if moving == 0:
                break
            u = row[:count]
            rng.random(out=u)  # row by row: the numbers of one (steps, count) draw, only as many as needed
            moving = routing.sweep(table, ps, diameters, u, step, first, walks, moving)
        routing.suspend(ps, first, walks, moving)
    return ps


def _new_state(n_particles: int, liver: CompiledLiver, n_sinks: int) -> tk.ProcedureState:
    return tk.ProcedureState(
        comp_occluded=np.zeros(liver.compartments.n), bed_occluded=np.zeros(liver.trunk.n_edges), lodged_ped=np.zeros(liver.forest.n_nodes, np.int64),
        lodged_trunk=np.zeros(liver.trunk.n_edges, np.int64), lodged_comp=np.zeros(liver.compartments.n, np.int64),
        nontarget=np.zeros(max(n_sinks, 1), np.int64), fate=np.full(n_particles, tk.FATE_NOT_INJECTED, np.int64),
        where=np.full(n_particles, -1, np.int64), refluxed=np.zeros(n_particles, np.bool_),
        flow_after=np.zeros(n_particles), counters=np.zeros(4, np.int64))


def territory(liver: CompiledLiver, st: twoport.FlowState, net: tk.TransportNet) -> tuple[np.ndarray, float]:
    """Pedicle nodes fed through the catheterised vessel at baseline, and their arterial lumen volume.

    Follows the antegrade flow from the tip through the trunk into the subtrees.

    Returns
    -------
    (ndarray of bool, shape (M,), float)
        Territory mask over pedicle nodes, and the arterial lumen volume (m^3) of
        the trunk and pedicle vessels downstream of the tip (for clearance times).
    """
    from .kernels.treewalk import subtree_sums

    trunk, forest = liver.trunk, liver.forest
    parent = np.asarray(forest.parent, np.int64)
    lumen = np.nan_to_num(np.pi * forest.art_radius_m**2 * forest.art_length_m)
    below = np.empty_like(lumen)
    subtree_sums(parent, lumen, below)
    starts: list[int] = []
    volume = 0.0
    if net.tip_kind == tk.TIP_PEDICLE:
        starts.append(net.tip_index)
    else:
        seen = {net.tip_index}
        stack = [net.tip_index]
        while stack:
            node = stack.pop()
            if net.trunk_root[node] >= 0:
                starts.append(int(net.trunk_root[node]))
            for k in range(net.tadj_ptr[node], net.tadj_ptr[node + 1]):
                e = net.tadj_edge[k]
                a, b = st.trunk_conns[e]
                if a == node and st.trunk_q[e] > 0 and trunk.edge_kind[e] == EDGE_ARTERY and e != net.reflux_edge:
                    volume += np.pi * trunk.edge_radius_m[e] ** 2 * trunk.edge_length_m[e]
                    if b not in seen:
                        seen.add(b)
                        stack.append(int(b))
    mask = np.zeros(parent.shape[0], np.bool_)
    mask[starts] = True
    for i in np.flatnonzero(parent >= 0):  # preorder: parents first
        mask[i] |= mask[parent[i]]
    return mask, float(volume + below[starts].sum())


def _set_injection(st: twoport.FlowState, net: tk.TransportNet, rate_m3s: float) -> None:
    """Set the catheter's injection rate in the flow state (and refresh what depends on it)."""
    if net.tip_kind == tk.TIP_TRUNK:
        st.q_trunk_in[net.tip_index] = rate_m3s
    else:
        st.q_art_in[net.tip_index] = rate_m3s
        twoport.refresh_path(st, net.tip_index)
    twoport.solve_trunk(st)


def run_procedure(liver: CompiledLiver, state: twoport.FlowState, placement, scenario: Scenario,
                  agents: list[tuple[Agent, float]], *, rng: np.random.Generator, progress: bool = False,
                  full_resolve: bool = False) -> ProcedureRun:
    """Inject particles until the endpoint, the maximum volume or reflux (if asked).

    Parameters
    ----------
    liver : CompiledLiver
        With the catheter placed (tip node in the trunk).
    state : FlowState
        Pre-procedure flow state with the injection in place; modified in place.
    placement : CatheterPlacement
    scenario : Scenario
    agents : list of (Agent, float)
        The agents in order with the antegrade flow fraction at which each starts
        (:func:`sim.agents.agent_sequence`; the first starts at 1).
    rng : numpy.random.Generator
        Source of every random number (two child streams: diameters and path choices).
    progress : bool
        Show a tqdm progress bar.
    full_resolve : bool
        Reference mode: full O(N) re-elimination after every lodging (benchmarks).
    """
    from tqdm.auto import tqdm

    net, sink_names = transport_net(liver, state, placement, scenario, agents[0][0], full_resolve=full_resolve)
    rate = placement.rate_m3s * (PULSE_PEAK_FACTOR if scenario.catheter.mode == "pulsed" else 1.0)
    _set_injection(state, net, rate)
    twoport.solve(state)
    q_base = _native_compartment_flows(state, net)
    q0 = tk.native_tip_flow(state, net)
    if not q0 > 0:
        from .scenario import ScenarioError

        raise ScenarioError(f"no antegrade flow in {placement.vessel!r} at baseline (catheter wedged?)",
                            path="catheter.vessel")
    proc = scenario.procedure
    max_volume = proc.max_volume_ml * ML_M3
    per_m3 = np.array([a.particles_per_suspension_m3() for a, _ in agents])
    n_cap = max(1, int(max_volume * per_m3.max()))
    stream_d, stream_u = rng.spawn(2)
    u_diameter = stream_d.random(n_cap)
    diameters = np.empty(n_cap)
    agent_of = np.zeros(n_cap, np.int64)
    n_steps = walk_steps(liver, net)
    ps = _new_state(n_cap, liver, len(sink_names))
    endpoint_flow = q0 * (1.0 - endpoint_threshold(proc))
    in_territory, vascular_volume = territory(liver, state, net)
    tumour_ranges = tumour_subtree_ranges(liver)
    blush_rows = tumour_rows(liver.compartments)
    q_base_blush = q_base[blush_rows]
    volume = np.zeros(n_cap + 1)  # suspension volume after each particle, m^3

    def record(n_done: int) -> dict:
        flow = ps.flow_after[n_done - 1] if n_done else q0
        fraction = flow / q0
        proximal = tk.tip_flows(state, net)[1]
        q_now = _native_compartment_flows(state, net, tumour_ranges, blush_rows)  # the blush needs tumour rows only
        suspension = volume[n_done]
        return {
            "particles": n_done,
            "agent": agents[agent_of[n_done - 1] if n_done else 0][0].name,
            "suspension_volume_ml": suspension / ML_M3,
            "particle_volume_ml": suspension / (1.0 + agents[0][0].contrast_dilution) / ML_M3,
            "antegrade_flow_fraction": fraction,
            "sace_level": sace_level(fraction, proc),
            "clearance_time_cycles": clearance_time_cycles(vascular_volume, flow, proc.cardiac_cycle_s),
            "tumour_blush_fraction": tumour_blush_fraction(liver.compartments, q_base_blush, q_now, blush_rows),
            "reflux_fraction": max(0.0, -proximal) / rate,
            "particles_lodged": int(ps.counters[1]),
            "particles_nontarget": int(ps.nontarget.sum()),
        }

    rows = [record(0)]
    done, chunk, current, reason = 0, FIRST_CHUNK, 0, "max_volume"
    bar = tqdm(total=n_cap, disable=not progress, unit="particle", desc="embolisation", leave=False)
    while True:
        agent = agents[current][0]
        room = int(round((max_volume - volume[done]) * per_m3[current]))
        last = min(n_cap, done + chunk, done + room)
        if last <= done:
            break
        diameters[done:last] = agent.diameters_from_uniform(u_diameter[done:last])
        agent_of[done:last] = current
        volume[done + 1:last + 1] = volume[done] + np.arange(1, last - done + 1) / per_m3[current]
        switch_flow = q0 * agents[current + 1][1] if current + 1 < len(agents) else 0.0
        uniforms = stream_u.random((last - done, n_steps))
        end, stop = tk.transport(state, net, ps, diameters, uniforms, done, last, max(endpoint_flow, switch_flow),
                                 proc.stop_on_reflux)
        bar.update(end - done)
        step = abs(rows[-1]["antegrade_flow_fraction"] - ps.flow_after[end - 1] / q0)
        done = end
        rows.append(record(done))
        if stop == tk.STOP_ENDPOINT and ps.flow_after[end - 1] <= endpoint_flow:
            reason = "endpoint"
            break
        if stop == tk.STOP_ENDPOINT:
            current += 1  # switch flow reached: next agent
            continue
        if stop == tk.STOP_REFLUX:
            reason = "reflux"
            break
        if step < 0.5 * RECORD_FLOW_STEP:
            chunk = min(MAX_CHUNK, chunk * 2)
        elif step > 2 * RECORD_FLOW_STEP:
            chunk = max(MIN_CHUNK, chunk // 2)
    bar.close()
    q_final = _native_compartment_flows(state, net)
    return ProcedureRun(rows=rows, state=ps, flow_state=state, net=net, n_injected=done, stop_reason=reason,
                        q_base=q_base, q_final=q_final, tip_flow_baseline_m3s=q0, sink_names=sink_names,
                        diameters_m=diameters[:done], in_territory=in_territory,
                        particle_volume_m3=np.diff(volume[:done + 1]),
                        agent_names=tuple(agents[i][0].name for i in range(current + 1)))
