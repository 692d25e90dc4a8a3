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
from .kernels import transport as tk
from .kernels import twoport
from .network import EDGE_ARTERY, EDGE_LUMPED, CompiledLiver
from .outcomes import tumour_blush_fraction
from .scenario import Scenario
from .units import ML_M3

__all__ = ["ProcedureRun", "run_procedure", "transport_net", "RECORD_FLOW_STEP"]

#: Target change of the antegrade flow fraction between two recorded rows (dimensionless).
RECORD_FLOW_STEP = 0.02
#: First chunk of particles, and the bounds of the adaptive chunk (particles).
FIRST_CHUNK, MIN_CHUNK, MAX_CHUNK = 32, 1, 65536


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
    particles_per_suspension_m3: float


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
                  agent: Agent) -> tuple[tk.TransportNet, tuple[str, ...]]:
    """Static transport inputs for a liver with its catheter placed.

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
    if placement.tip_trunk_node >= 0:
        tip_kind, tip_index = tk.TIP_TRUNK, placement.tip_trunk_node
    else:
        tip_kind, tip_index = tk.TIP_PEDICLE, placement.tip_pedicle_node
    net = tk.TransportNet(
        tadj_ptr=ptr, tadj_edge=adj, trunk_diam=trunk_diam, trunk_edge_sink=edge_sink, trunk_node_sink=node_sink,
        trunk_root=trunk_root, bed_feed_diam=bed_feed, trunk_g0=state.g_trunk.copy(), ped_diam=ped_diam, ped_depth=_depths(np.asarray(forest.parent, np.int64)),
        comp_feed_diam=np.ascontiguousarray(feed, dtype=np.float64), comp_g0=state.g_comp[:, twoport.COMP_ART].copy(),
        murray_exponent=float(scenario.liver.murray_exponent), deformability=float(agent.deformability),
        size_bias_onset=float(scenario.procedure.size_bias_onset), tip_kind=tip_kind, tip_index=int(tip_index),
        measure_edge=int(placement.proximal_edge), reflux_edge=int(placement.proximal_edge))
    return net, sink_names


def _native_compartment_flows(st: twoport.FlowState, net: tk.TransportNet) -> np.ndarray:
    """Compartment flows (C, 4) without the injection; the state is left with the injection on."""
    if net.tip_kind == tk.TIP_TRUNK:
        rate = st.q_trunk_in[net.tip_index]
        st.q_trunk_in[net.tip_index] = 0.0
        twoport.solve(st)
        q = st.comp_q.copy()
        st.q_trunk_in[net.tip_index] = rate
    else:
        rate = st.q_art_in[net.tip_index]
        st.q_art_in[net.tip_index] = 0.0
        twoport.solve(st)
        q = st.comp_q.copy()
        st.q_art_in[net.tip_index] = rate
    twoport.solve(st)
    return q


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


def run_procedure(liver: CompiledLiver, state: twoport.FlowState, placement, scenario: Scenario, agent: Agent, *,
                  rng: np.random.Generator, progress: bool = False) -> ProcedureRun:
    """Inject particles until the endpoint, the maximum volume or reflux (if asked).

    Parameters
    ----------
    liver : CompiledLiver
        With the catheter placed (tip node in the trunk).
    state : FlowState
        Pre-procedure flow state with the injection in place; modified in place.
    placement : CatheterPlacement
    scenario : Scenario
    agent : Agent
    rng : numpy.random.Generator
        Source of every random number (two child streams: diameters and path choices).
    progress : bool
        Show a tqdm progress bar.
    """
    from tqdm.auto import tqdm

    net, sink_names = transport_net(liver, state, placement, scenario, agent)
    twoport.solve(state)
    q_base = _native_compartment_flows(state, net)
    q0 = tk.native_tip_flow(state, net)
    if not q0 > 0:
        from .scenario import ScenarioError

        raise ScenarioError(f"no antegrade flow in {placement.vessel!r} at baseline (catheter wedged?)",
                            path="catheter.vessel")
    proc = scenario.procedure
    per_m3 = agent.particles_per_suspension_m3()
    n_max = max(1, int(proc.max_volume_ml * ML_M3 * per_m3))
    stream_d, stream_u = rng.spawn(2)
    diameters = agent.sample_diameters(n_max, rng=stream_d)
    n_steps = int(liver.trunk.n_nodes + net.ped_depth.max() * 2 + 8)
    ps = _new_state(n_max, liver, len(sink_names))
    stop_flow = q0 * (1.0 - endpoint_threshold(proc))
    in_territory, vascular_volume = territory(liver, state, net)

    def record(n_done: int) -> dict:
        flow = ps.flow_after[n_done - 1] if n_done else q0
        fraction = flow / q0
        antegrade, proximal = tk.tip_flows(state, net)
        q_now = _native_compartment_flows(state, net)
        blush = tumour_blush_fraction(liver.compartments, q_base, q_now)
        return {
            "particles": n_done,
            "suspension_volume_ml": n_done / per_m3 / ML_M3,
            "particle_volume_ml": agent.settled_volume_m3(n_done) / ML_M3,
            "antegrade_flow_fraction": fraction,
            "sace_level": sace_level(fraction, proc),
            "clearance_time_cycles": clearance_time_cycles(vascular_volume, flow, proc.cardiac_cycle_s),
            "tumour_blush_fraction": blush,
            "reflux_fraction": max(0.0, -proximal) / placement.rate_m3s,
            "particles_lodged": int(ps.counters[1]),
            "particles_nontarget": int(ps.nontarget.sum()),
        }

    rows = [record(0)]
    done, chunk, reason = 0, FIRST_CHUNK, "max_volume"
    bar = tqdm(total=n_max, disable=not progress, unit="particle", desc="embolisation", leave=False)
    while done < n_max:
        last = min(n_max, done + chunk)
        uniforms = stream_u.random((last - done, n_steps))
        end, stop = tk.transport(state, net, ps, diameters, uniforms, done, last, stop_flow, proc.stop_on_reflux)
        bar.update(end - done)
        step = abs(rows[-1]["antegrade_flow_fraction"] - ps.flow_after[end - 1] / q0)
        done = end
        rows.append(record(done))
        if stop == tk.STOP_ENDPOINT:
            reason = "endpoint"
            break
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
                        particles_per_suspension_m3=per_m3)
