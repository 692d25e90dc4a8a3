"""Particle transport and embolisation, one particle at a time, on the live flow field.

Each particle leaves the catheter tip and is carried by the flow: at every node
it leaves through one of the vessels (or compartments) that carry flow *out of*
that node, chosen with probability proportional to that flow (Bomberna et al.
2022: well-mixed particles split with the flow within 1%), weighted down for
branches that are narrow relative to the particle (size bias, Bushi et al.
2005: large particles favour the wider branch). The rules (:mod:`.rules`) and the
embolic load (:mod:`.embolic_load`) are shared with the fixed-field router: a
particle wedges in the mouth of the first vessel it does not fit; one whose
chosen exit is blocked (wedged, or packed to its mouth) stops at the end of the
column of the vessel it is in, so columns grow upstream towards the catheter;
one that reaches a tissue or peribiliary compartment lodges in its
sub-resolution microvasculature, and one that enters a non-target bed (GDA,
RGA, cystic...) leaves the liver, is counted by branch and loads that bed the
same way; one that reaches an arterial root refluxes to the aorta. Every
lodging makes the element a leaky porous plug (Kozeny-Carman), never a perfect
seal.

After every lodging the flow is updated exactly and incrementally (the 2-ports
on the path to the subtree root, then the small trunk; :mod:`.twoport`), so
every particle sees the flow left by all particles before it. After every
lodging the native (injection-free) antegrade flow in the catheterised vessel is
measured, so the endpoint is detected at the particle that reaches it.

Pressures along a particle's path are computed on demand, top-down from the
trunk solution (O(depth) per particle); nothing is re-solved globally.

Random numbers come in as rows drawn beforehand or as a PCG64 state the kernel
steps to the numbers it reads (:class:`.uniforms.PathRandoms`, the same numbers), so
the kernel is deterministic.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ._borrow import borrowed
from ._config import NJIT_OPTS
from ._prefetch import prefetch
from .embolic_load import bed_load_step, vessel_load_step, write_bed_conductance_of, write_vessel_conductance_of
from .rules import (
    ACT_BED,
    ACT_COMPARTMENT,
    ACT_STOP,
    ACT_WEDGE,
    EXIT_BED,
    EXIT_COMPARTMENT,
    EXIT_VESSEL,
    NODE_AORTA,
    NODE_SUSPEND,
    choose,
    exit_action,
    node_action,
    size_weight,
)
from .twoport import (
    COMP_ART,
    COMP_EXTRA,
    COMP_HV,
    COMP_POR,
    PI_SA,
    PI_SP,
    PI_YA,
    PI_YAP,
    PI_YP,
    compartment_state,
    edge_flows,
    eliminate,
    flows_below,
    node_pressures,
    path_arrays,
    refresh_path,
    restore_trunk,
    solve_trunk,
    solve_trunk_late,
    solve_trunk_of,
    trunk_arrays,
    trunk_edge_flow,
    trunk_pressure_of,
    update_two_ports_body,
    write_trunk_outputs,
)
from .uniforms import jump, uniform_of

__all__ = ["TransportNet", "ProcedureState", "transport", "native_tip_flow", "tip_flows",
           "FATE_VESSEL", "FATE_TRUNK", "FATE_COMPARTMENT", "FATE_NONTARGET", "FATE_SUSPENDED",
           "FATE_NOT_INJECTED", "TIP_TRUNK", "TIP_PEDICLE", "STOP_BATCH", "STOP_ENDPOINT", "STOP_REFLUX",
           "STOP_PACKED", "tip_room_has_space"]

#: Particle fates (``ProcedureState.fate``) and what ``ProcedureState.where`` then indexes.
FATE_VESSEL = 0        # lodged in a pedicle vessel (pedicle node index)
FATE_TRUNK = 1         # lodged in a named trunk vessel (trunk edge)
FATE_COMPARTMENT = 2   # lodged in a compartment's microvasculature (compartment)
FATE_NONTARGET = 3     # left the liver through a non-target branch (sink id)
FATE_SUSPENDED = 4     # stopped where no flow leaves, or at the catheter tip packed (still in suspension)
FATE_NOT_INJECTED = 5
#: Where the catheter tip is.
TIP_TRUNK, TIP_PEDICLE = 0, 1
#: Why :func:`transport` returned (``STOP_PACKED``: a particle at the catheter tip found its exit blocked with no
#: room left at the tip (``TransportNet.tip_room`` full or absent): the column reaches the catheter).
STOP_BATCH, STOP_ENDPOINT, STOP_REFLUX, STOP_PACKED = 0, 1, 2, 3

_KIND_TRUNK_EDGE, _KIND_CHILD, _KIND_COMP, _KIND_PARENT, _KIND_BED = 0, 1, 2, 3, 4


class TransportNet(NamedTuple):
    """Static inputs of the transport kernel (built by :mod:`sim.procedure`).

    Attributes
    ----------
    tadj_ptr, tadj_edge : int64 (Nt+1,), (2 Et,)
        Trunk edges incident on each trunk node (CSR).
    trunk_diam : float64 (Et,)
        Lumen diameter of arterial trunk vessels, m (NaN for lumped beds, portal veins).
    trunk_edge_sink : int64 (Et,)
        Non-target branch id of a lumped bed edge (entering it leaves the liver), -1 otherwise.
    trunk_node_sink : int64 (Nt,)
        Non-target id of arterial root nodes (reflux to the aorta), -1 otherwise.
    trunk_root : int64 (Nt,)
        Pedicle root whose arterial node is this trunk node, -1 otherwise.
    bed_feed_diam : float64 (Et,)
        Diameter of the artery feeding each lumped non-target bed, m (NaN elsewhere).
    ped_diam : float64 (M,)
        Diameter of the arterial vessel into each pedicle node, m.
    ped_depth : int64 (M,)
        Depth below the subtree root (root = 0).
    comp_feed_diam : float64 (C,)
        Diameter of the arteriole feeding each compartment, m.
    murray_exponent : float
    deformability : float
    size_bias_onset : float
        Particle/branch diameter ratio above which a branch is weighted down; <= 0 disables.
    release_exponent : float
        At the first bifurcation after the tip, branches are chosen with weight
        flow^release_exponent: 1 for particles well mixed across the lumen, 2 for
        release on the axis (the central streamline goes to the dominant branch).
    full_resolve : bool
        Re-eliminate every 2-port after each lodging instead of the O(depth) path
        update (the reference the incremental update is benchmarked against).
    max_candidates, max_depth : int
        Most exits at one node (trunk edges, or children + compartments + parent),
        and one more than the deepest pedicle node's depth (work-array sizes).
    tip_kind, tip_index : int
        ``TIP_TRUNK`` and the tip's trunk node, or ``TIP_PEDICLE`` and the pedicle node.
    measure_edge, reflux_edge : int
        Trunk tip: the trunk edges distal (tip -> end) and proximal (origin -> tip) of the tip.
    tip_room, tip_room_length_m : int, float
        The vessel (pedicle node) a particle at the catheter tip is in, and the length of it ahead of the tip (m): a
        particle whose chosen exit is blocked stops there, at the end of that vessel's column. A synthetic vessel's
        distal half (``sim.procedure._tip_room``); -1 for a named vessel, split at the tip, whose distal part is the
        tip's exit and so the room, or with the tip at its end (no room). When the column fills the room (or there
        is none) such a particle stays in suspension, marked ``stacked``, and the injection stops
        (``STOP_PACKED``).
    """

    tadj_ptr: np.ndarray
    tadj_edge: np.ndarray
    trunk_diam: np.ndarray
    trunk_edge_sink: np.ndarray
    trunk_node_sink: np.ndarray
    trunk_root: np.ndarray
    bed_feed_diam: np.ndarray
    ped_diam: np.ndarray
    ped_depth: np.ndarray
    comp_feed_diam: np.ndarray
    murray_exponent: float
    deformability: float
    size_bias_onset: float
    release_exponent: float
    full_resolve: bool
    max_candidates: int
    max_depth: int
    tip_kind: int
    tip_index: int
    measure_edge: int
    reflux_edge: int
    tip_room: int
    tip_room_length_m: float


class ProcedureState(NamedTuple):
    """Mutable record of the embolisation (arrays updated in place by :func:`transport`).

    Attributes
    ----------
    load : embolic_load.Load
        The embolic load of every vessel and bed (cumulative over sessions).
    lodged_ped, lodged_trunk, lodged_comp : int64 (M,), (Et,), (C,)
        Particles of this procedure lodged per element.
    nontarget : int64 (n_sinks,)
        Particles that left the liver per non-target branch.
    fate, where : int64 (P,)
        Per particle (``FATE_*`` and the index it refers to).
    refluxed : bool (P,)
        Whether the particle left the catheterised vessel backwards.
    stacked : bool (P,)
        Whether the particle stopped at the end of a column (its chosen exit was
        blocked) rather than wedging in a vessel it does not fit.
    flow_after : float64 (P,)
        Native antegrade flow in the catheterised vessel after the particle, m^3/s.
    counters : int64 (5,)
        Particles done, lodgings (a cluster lodges once), incremental path updates, trunk solves, particles lodged
        in the liver (of this procedure).
    """

    load: object
    lodged_ped: np.ndarray
    lodged_trunk: np.ndarray
    lodged_comp: np.ndarray
    nontarget: np.ndarray
    fate: np.ndarray
    where: np.ndarray
    refluxed: np.ndarray
    stacked: np.ndarray
    flow_after: np.ndarray
    counters: np.ndarray


@njit(inline="always", **NJIT_OPTS)
def tip_room_has_space(blocked, column_m, room_length_m):
    """Whether the room ahead of the catheter tip (``TransportNet.tip_room``) takes another particle: its vessel's
    mouth open (``blocked`` 0) and its column (m) short of the room's length (m; less a relative 1e-12 for rounding,
    as a vessel's column fills at its length). The elements, not the arrays: kernels call it per particle."""
    return blocked == 0 and column_m < room_length_m * (1.0 - 1e-12)


@njit(**NJIT_OPTS)
def native_tip_flow(st, net):
    """Native (injection-free) flow in the catheterised vessel, m^3/s; leaves the state as found.

    The state must be solved (:func:`.twoport.solve_trunk`) with the injection on.
    Switches the injection off, solves, reads the flow distal to the tip (trunk
    tip) or in the tip's vessel (pedicle tip), switches it back on and puts the
    saved trunk solution back (the inputs are as before, so it is their solution).
    """
    nt = st.trunk_p.shape[0]
    saved = st.work_saved
    saved[:nt] = st.trunk_p
    saved[nt:] = st.trunk_q
    saved_status = st.status[0]
    if net.tip_kind == TIP_TRUNK:
        t = net.tip_index
        rate = st.q_trunk_in[t]
        st.q_trunk_in[t] = 0.0
        solve_trunk(st)
        q = st.trunk_q[net.measure_edge]
        st.q_trunk_in[t] = rate
    else:
        n = net.tip_index
        rate = st.q_art_in[n]
        st.q_art_in[n] = 0.0
        refresh_path(st, n)
        solve_trunk(st)
        pa, pp = node_pressures(st, st.parent[n])
        q = edge_flows(st, n, pa, pp)[0]
        st.q_art_in[n] = rate
        refresh_path(st, n)
    restore_trunk(st, saved[:nt], saved[nt:], saved_status)
    return q


@njit(**NJIT_OPTS)
def tip_flows(st, net):
    """Flows (antegrade distal to the tip, in the vessel proximal to the tip) with the injection on, m^3/s.

    A negative proximal flow is reflux: part of the injection goes backwards.
    """
    if net.tip_kind == TIP_TRUNK:
        return st.trunk_q[net.measure_edge], st.trunk_q[net.reflux_edge]
    n = net.tip_index
    pa, pp = node_pressures(st, st.parent[n])
    q = edge_flows(st, n, pa, pp)[0]
    return q, q


@njit(**NJIT_OPTS)
def transport(st, net, geo, ps, diameters, unit_end, randoms, first, last, stop_flow, stop_on_reflux):
    """Inject particles ``first`` .. ``last - 1`` unit by unit, updating the load and the flow after every lodging.

    A unit is one particle, or a cluster of consecutive particles that travel and
    lodge together (aggregation at high concentration): it walks as a sphere of
    the cluster's volume (the fit test and the size bias use that diameter), and
    where it stops each member joins the load with its own diameter.

    Parameters
    ----------
    st : FlowState
        Live flow state with the catheter injection in place (solved trunk, current 2-ports).
    net : TransportNet
    geo : embolic_load.LoadGeometry
    ps : ProcedureState
        Updated in place (its ``load`` too).
    diameters : float64 (P,)
        Particle diameters, m.
    unit_end : int64 (P,)
        For the first particle p of a unit, one past its last member (``p + 1`` for
        a lone particle); ``last`` must be a unit boundary.
    randoms : uniforms.PathRandoms
        Uniform random numbers in [0, 1), K a row: row ``p - first`` holds one per
        step along the path of the unit that particle p leads (read where the step
        chooses among two exits or more). Generated rows: their ``state`` is left
        just before row ``returned - first``.
    first, last : int
        Particle index range of this call.
    stop_flow : float
        Stop after the particle that brings the native antegrade flow to or below this (m^3/s).
    stop_on_reflux : bool
        Stop after the first particle that leaves the catheterised vessel backwards.

    Returns
    -------
    (int, int)
        Index one past the last particle injected, and ``STOP_BATCH``,
        ``STOP_ENDPOINT``, ``STOP_REFLUX`` or ``STOP_PACKED`` (a particle at the catheter tip found the exit it
        chose blocked and no room at the tip, ``net.tip_room``: the column reaches the catheter; it stays in
        suspension).
    """
    st, net, geo, ps = borrowed((st, net, geo, ps))  # no reference counts in the calls below (held by our caller)
    max_cand = net.max_candidates
    weights = np.empty(max_cand)
    flows = np.empty(max_cand)
    kinds = np.empty(max_cand, np.int64)
    targets = np.empty(max_cand, np.int64)
    diam = np.empty(max_cand)
    blocked = np.zeros(max_cand, np.bool_)
    cand_pa = np.empty(max_cand)
    cand_pp = np.empty(max_cand)
    max_depth = net.max_depth
    stack_node = np.empty(max_depth + 1, np.int64)
    stack_pa = np.empty(max_depth + 1)
    stack_pp = np.empty(max_depth + 1)
    table, jumps = randoms.table, randoms.jumps
    generated = randoms.state.shape[0] > 0
    n_steps = table.shape[1]
    state_hi = randoms.state[0] if generated else np.uint64(0)
    state_lo = randoms.state[1] if generated else np.uint64(0)
    deform = net.deformability
    m_ped = geo.n_pedicle
    n_comp = geo.n_compartment

    # every field the loop reads, bound once: a state field read inside the loop costs Numba a reference
    # count (an atomic increment and decrement) each time; the walk went from 4.2 to 1.1 us per particle
    parent, g_art, g_por, node_conn, node_pi = st.parent, st.g_art, st.g_por, st.node_conn, st.node_pi
    child_ptr, child_idx, comp_ptr, comp_idx = st.child_ptr, st.child_idx, st.comp_ptr, st.comp_idx
    g_comp, comp_extra_p = st.g_comp, st.comp_extra_p
    trunk_p, trunk_q, trunk_conns = st.trunk_p, st.trunk_q, st.trunk_conns
    root_slot, root_art, root_por = st.root_slot, st.root_art, st.root_por
    tadj_ptr, tadj_edge, trunk_diam = net.tadj_ptr, net.tadj_edge, net.trunk_diam
    trunk_edge_sink, trunk_node_sink, trunk_root = net.trunk_edge_sink, net.trunk_node_sink, net.trunk_root
    ped_diam, ped_depth, comp_feed_diam = net.ped_diam, net.ped_depth, net.comp_feed_diam
    size_bias_onset, release_exponent = net.size_bias_onset, net.release_exponent
    tip_kind, tip_index, reflux_edge, tip_room = net.tip_kind, net.tip_index, net.reflux_edge, net.tip_room
    room_length = net.tip_room_length_m
    load = ps.load
    vessel_blocked, bed_blocked = load.vessel_blocked, load.bed_blocked
    vessel_column, vessel_excess, vessel_layer, vessel_layer_excess, vessel_count = \
        load.vessel_column, load.vessel_excess, load.vessel_layer, load.vessel_layer_excess, load.vessel_count
    bed_gen, bed_wedged, bed_layer, bed_front, bed_excess, bed_count = \
        load.bed_gen, load.bed_wedged, load.bed_layer, load.bed_front, load.bed_excess, load.bed_count
    vessel_diam, vessel_length, vessel_g0, seal_porosity = geo.vessel_diam, geo.vessel_length, geo.vessel_g0, \
        geo.seal_porosity
    bed_arteriole = geo.bed_arteriole_share
    bed_feed_diam, bed_n_gen, bed_g0, murray_exponent, bed_aspect = geo.bed_feed_diam, geo.bed_n_gen, geo.bed_g0, \
        geo.murray_exponent, geo.bed_aspect
    g_trunk, comp_node = st.g_trunk, st.comp_node
    path = path_arrays(st)  # for the 2-port refresh after a lodging (passed one by one: inline, no call)
    no_order = parent[:0]  # (the refresh walks up from the lodging)
    trunk = trunk_arrays(st)  # for the trunk re-solve (the same)
    trunk_fixed, trunk_index, trunk_rhs, trunk_affine, trunk_base = trunk[0], trunk[17], trunk[21], trunk[25], trunk[26]
    # the solve after a lodging in a late subtree leaves the trunk's outputs unwritten (stale); a walk
    # computes those of the trunk nodes it visits (their vessels' flows, the roots' pressures), once per solve
    # (fresh[n] == epoch), and the state's are all written before returning
    stale = False
    epoch = 0
    fresh = np.zeros(trunk_p.shape[0], np.int64)
    full_resolve, measure_edge = net.full_resolve, net.measure_edge
    fates, wheres, refluxeds, stackeds, flow_after, counters = ps.fate, ps.where, ps.refluxed, ps.stacked, ps.flow_after, \
        ps.counters
    lodged_ped, lodged_trunk, lodged_comp, nontarget = ps.lodged_ped, ps.lodged_trunk, ps.lodged_comp, ps.nontarget

    solved = False  # a trunk solve of this call came last (nothing outside the loop changed its inputs since)
    p = first
    stop = STOP_BATCH
    while p < last:
        end = unit_end[p]
        d = diameters[p]
        if end > p + 1:  # a cluster walks as the sphere of its volume
            volume = 0.0
            for i in range(p, end):
                volume += diameters[i] ** 3
            d = volume ** (1.0 / 3.0)
        d_fit = (1.0 - deform) * d
        # ---- start at the tip
        in_trunk = tip_kind == TIP_TRUNK
        node = tip_index
        depth = 0
        if not in_trunk:
            # ancestors' pressures from the subtree root down to the tip
            depth = ped_depth[node]
            k = node
            for lev in range(depth, -1, -1):
                stack_node[lev] = k
                k = parent[k]
            root = stack_node[0]
            s = root_slot[root]
            stack_pa[0] = trunk_p[root_art[s]]
            stack_pp[0] = trunk_p[root_por[s]]
            for lev in range(1, depth + 1):
                j = stack_node[lev]
                qa, qp, xa, xp = flows_below(g_art[j], g_por[j], node_conn[j], node_pi[j, PI_YA], node_pi[j, PI_YP],
                                             node_pi[j, PI_YAP], node_pi[j, PI_SA], node_pi[j, PI_SP], stack_pa[lev - 1],
                                             stack_pp[lev - 1])
                stack_pa[lev] = xa
                stack_pp[lev] = xp
        fate = FATE_SUSPENDED
        where = -1
        refluxed = False
        lodged = False
        stacked = False
        packed = False  # at the tip, its exit blocked and no room left ahead of the catheter
        lodge_elem = -1  # where the unit lodges: a resolved vessel (unified index), or a bed with lodge_bed
        lodge_bed = False
        wedge = False
        bifurcations = 0
        # the vessel the particle is in (unified index); at the tip, the room ahead of the catheter, -1 when it is full
        came = tip_room if tip_room >= 0 and tip_room_has_space(vessel_blocked[tip_room], vessel_column[tip_room],
                                                                room_length) else -1
        used = 0  # numbers of the unit's row generated so far
        for step in range(n_steps):
            nc = 0
            # ---- candidate exits of the current node, with the flow leaving through each
            is_root = False
            if in_trunk:
                if stale and fresh[node] != epoch:  # this node's vessels and root after the last (late) solve
                    fresh[node] = epoch
                    for k in range(tadj_ptr[node], tadj_ptr[node + 1]):
                        e = tadj_edge[k]
                        a = trunk_conns[e, 0]
                        b = trunk_conns[e, 1]
                        trunk_p[a] = trunk_pressure_of(a, trunk_fixed, trunk_index, trunk_rhs, trunk_affine, trunk_base)
                        trunk_p[b] = trunk_pressure_of(b, trunk_fixed, trunk_index, trunk_rhs, trunk_affine, trunk_base)
                        trunk_q[e] = trunk_edge_flow(g_trunk[e], trunk_p[a], trunk_p[b])
                    r = trunk_root[node]
                    if r >= 0:
                        s = root_slot[r]
                        a = root_art[s]
                        b = root_por[s]
                        trunk_p[a] = trunk_pressure_of(a, trunk_fixed, trunk_index, trunk_rhs, trunk_affine, trunk_base)
                        trunk_p[b] = trunk_pressure_of(b, trunk_fixed, trunk_index, trunk_rhs, trunk_affine, trunk_base)
                is_root = trunk_node_sink[node] >= 0
                for k in range(tadj_ptr[node], tadj_ptr[node + 1]):
                    e = tadj_edge[k]
                    q = trunk_q[e]
                    other = trunk_conns[e, 1]
                    if trunk_conns[e, 1] == node:
                        q = -q
                        other = trunk_conns[e, 0]
                    if q > 0.0:
                        flows[nc] = q
                        targets[nc] = e
                        cand_pa[nc] = other
                        diam[nc] = trunk_diam[e]
                        if trunk_edge_sink[e] >= 0:
                            kinds[nc] = _KIND_BED
                            blocked[nc] = bed_blocked[n_comp + e] != 0
                        else:
                            kinds[nc] = _KIND_TRUNK_EDGE
                            blocked[nc] = vessel_blocked[m_ped + e] != 0
                        nc += 1
                r = trunk_root[node]
                if r >= 0:
                    s = root_slot[r]
                    pa0 = trunk_p[root_art[s]]
                    pp0 = trunk_p[root_por[s]]
                    ped = r
                else:
                    ped = -1
            else:
                ped = node
                pa0 = stack_pa[depth]
                pp0 = stack_pp[depth]
                # backwards through the vessel into this node
                par = parent[node]
                q_in = g_art[node] * (stack_pa[depth - 1] - pa0) if g_art[node] > 0.0 else 0.0
                if q_in < 0.0 and pa0 == pa0:
                    flows[nc] = -q_in
                    kinds[nc] = _KIND_PARENT
                    targets[nc] = par
                    diam[nc] = ped_diam[node]
                    blocked[nc] = vessel_blocked[node] != 0
                    nc += 1
            if ped >= 0 and pa0 == pa0:
                for k in range(child_ptr[ped], child_ptr[ped + 1]):
                    j = child_idx[k]
                    prefetch(child_ptr, j)  # a cache hint: the lists of j's children and compartments, read if
                    prefetch(comp_ptr, j)   # the particle goes on into j (their misses overlap this level's work)
                    # the elements, not the arrays: an inline helper taking arrays costs reference counts per call
                    qa, qp, xa, xp = flows_below(g_art[j], g_por[j], node_conn[j], node_pi[j, PI_YA], node_pi[j, PI_YP],
                                                 node_pi[j, PI_YAP], node_pi[j, PI_SA], node_pi[j, PI_SP], pa0, pp0)
                    if qa > 0.0:
                        flows[nc] = qa
                        kinds[nc] = _KIND_CHILD
                        targets[nc] = j
                        cand_pa[nc] = xa
                        cand_pp[nc] = xp
                        diam[nc] = ped_diam[j]
                        blocked[nc] = vessel_blocked[j] != 0
                        nc += 1
                for k in range(comp_ptr[ped], comp_ptr[ped + 1]):
                    c = comp_idx[k]
                    qc = compartment_state(g_comp[c, COMP_ART], g_comp[c, COMP_POR], g_comp[c, COMP_HV],
                                           g_comp[c, COMP_EXTRA], comp_extra_p[c], pa0, pp0)[1]
                    if qc > 0.0:
                        flows[nc] = qc
                        kinds[nc] = _KIND_COMP
                        targets[nc] = c
                        diam[nc] = comp_feed_diam[c]
                        blocked[nc] = bed_blocked[c] != 0
                        nc += 1
            action = node_action(is_root, step, nc)
            if action == NODE_AORTA:
                fate = FATE_NONTARGET
                where = trunk_node_sink[node]
                break
            if action == NODE_SUSPEND:
                break
            # ---- size-biased, flow-proportional choice (sharpened at the first bifurcation for central release)
            sharpen = release_exponent if (bifurcations == 0 and nc > 1) else 1.0
            if nc > 1:
                bifurcations += 1
            any_fit = False
            for k in range(nc):
                if sharpen != 1.0:
                    flows[k] = flows[k] ** sharpen
                weights[k] = flows[k] * size_weight(d, diam[k], deform, size_bias_onset) \
                    if diam[k] == diam[k] else flows[k]
                if weights[k] > 0.0:
                    any_fit = True
            if not any_fit:
                for k in range(nc):
                    weights[k] = flows[k]
            if nc == 1:
                k = 0  # what choose returns for one exit, whatever the number (not generated then)
            elif generated:  # the row's number of this step: the state stepped to it
                state_hi, state_lo = jump(state_hi, state_lo, jumps, step + 1 - used)
                used = step + 1
                k = choose(weights, nc, uniform_of(state_hi, state_lo))
            else:
                k = choose(weights, nc, table[p - first, step])
            kind = kinds[k]
            tgt = targets[k]
            if kind == _KIND_TRUNK_EDGE or kind == _KIND_BED:
                if in_trunk and tip_kind == TIP_TRUNK and tgt == reflux_edge:
                    refluxed = True
            elif kind == _KIND_PARENT:
                if tip_kind == TIP_PEDICLE and node == tip_index:
                    refluxed = True
            exit_kind = EXIT_BED if kind == _KIND_BED else (EXIT_COMPARTMENT if kind == _KIND_COMP else EXIT_VESSEL)
            act = exit_action(exit_kind, diam[k], blocked[k], d_fit)
            # ---- stop, exit, lodge or move
            if act == ACT_STOP:
                if came >= 0:  # the top of the column in the vessel it is in
                    lodge_elem = came
                    lodged = True
                    stacked = True
                    if came < m_ped:
                        fate, where = FATE_VESSEL, came
                    else:
                        fate, where = FATE_TRUNK, came - m_ped
                else:  # at the catheter tip, no room left ahead of it: packed
                    packed = True
                    stacked = True  # on the column that reaches the catheter
                break
            if act == ACT_BED:
                fate = FATE_NONTARGET
                where = trunk_edge_sink[tgt]
                lodge_elem, lodge_bed = n_comp + tgt, True
                lodged = True
                break
            if act == ACT_COMPARTMENT:
                fate = FATE_COMPARTMENT
                where = tgt
                lodge_elem, lodge_bed = tgt, True
                lodged = True
                break
            vessel = m_ped + tgt if kind == _KIND_TRUNK_EDGE else (node if kind == _KIND_PARENT else tgt)
            if act == ACT_WEDGE:
                lodge_elem, wedge = vessel, True
                lodged = True
                if vessel < m_ped:
                    fate, where = FATE_VESSEL, vessel
                else:
                    fate, where = FATE_TRUNK, tgt
                break
            came = vessel
            if kind == _KIND_TRUNK_EDGE:
                node = int(cand_pa[k])
                in_trunk = True
            elif kind == _KIND_CHILD:
                if in_trunk:
                    depth = 0
                    stack_node[0] = ped
                    stack_pa[0] = pa0
                    stack_pp[0] = pp0
                    in_trunk = False
                depth += 1
                stack_node[depth] = tgt
                stack_pa[depth] = cand_pa[k]
                stack_pp[depth] = cand_pp[k]
                node = tgt
            else:  # back up the vessel into the parent
                depth -= 1
                node = stack_node[depth]
                if depth == 0:
                    s = root_slot[node]
                    node = root_art[s]
                    in_trunk = True
        k = end - p
        if lodged:
            # ---- the load: every member joins the element with its own diameter; its conductance and 2-ports follow
            g = 0.0
            # (embolic_load.load_bed and load_vessel on the arrays bound above, the element's numbers passed)
            b = v = lodge_elem
            if lodge_bed:  # a compartment's microvasculature or a non-target bed, packed to lumens down to d_fit
                for i in range(p, end):
                    gen, wedged, layer, front, excess, full, g = bed_load_step(
                        bed_feed_diam[b], bed_n_gen[b], bed_g0[b], bed_arteriole[b], murray_exponent, bed_aspect, seal_porosity,
                        bed_gen[b], bed_wedged[b], bed_layer[b], bed_front[b], bed_excess[b], diameters[i], d_fit)
                    bed_gen[b], bed_wedged[b], bed_layer[b], bed_front[b], bed_excess[b] = gen, wedged, layer, front, excess
                    bed_count[b] += 1
                    if full:
                        bed_blocked[b] = 1
                node = write_bed_conductance_of(g_comp, g_trunk, comp_node, n_comp, b, g)
            else:  # a wedge in the vessel's mouth, or the top of its column
                for i in range(p, end):
                    column, excess, layer, layer_excess, full, g = vessel_load_step(
                        vessel_diam[v], vessel_length[v], vessel_g0[v], seal_porosity, vessel_column[v], vessel_excess[v],
                        vessel_layer[v], vessel_layer_excess[v], diameters[i], wedge)
                    vessel_column[v], vessel_excess[v], vessel_layer[v], vessel_layer_excess[v] = column, excess, layer, \
                        layer_excess
                    vessel_count[v] += 1
                    if full:
                        vessel_blocked[v] = 1
                node = write_vessel_conductance_of(g_art, g_trunk, m_ped, v, g)
            only_subtree = -1  # the trunk solve's promise: only this subtree's 2-port changed since its previous solve
            if node >= 0:
                root = update_two_ports_body(path[0], path[1], path[2], path[3], path[4], path[5], path[6], path[7],
                                             path[8], path[9], path[10], path[11], path[12], path[13], no_order, node)
                if solved and not full_resolve:
                    only_subtree = root_slot[root]
            # ---- the trunk re-solved, and the native flow at the tip measured
            counters[1] += 1
            if full_resolve:
                eliminate(st)  # the reference: every 2-port again, O(N)
            elif fate == FATE_VESSEL or fate == FATE_COMPARTMENT:
                counters[2] += 1
            if tip_kind == TIP_TRUNK:  # one elimination, two right-hand sides: with and without the injection
                counters[3] += 1
                applied, _, flow = solve_trunk_late(trunk, tip_index, measure_edge, only_subtree)
                if applied:  # the trunk's outputs left unwritten
                    stale = True
                else:
                    flow = solve_trunk_of(*trunk, tip_index, measure_edge, only_subtree)[1]
                    stale = False
                epoch += 1
                solved = True
            else:  # the injection sits in a subtree's 2-port: the native flow needs its own solve (it changes the inputs)
                solve_trunk_of(*trunk, -1, -1, -1)
                counters[3] += 2
                flow = native_tip_flow(st, net)
            if fate == FATE_VESSEL:
                lodged_ped[where] += k
            elif fate == FATE_TRUNK:
                lodged_trunk[where] += k
            elif fate == FATE_COMPARTMENT:
                lodged_comp[where] += k
            if fate != FATE_NONTARGET:
                counters[4] += k  # particles in the liver
        else:
            flow = flow_after[p - 1] if p > first else native_tip_flow(st, net)
        if fate == FATE_NONTARGET:
            nontarget[where] += k
        for i in range(p, end):
            fates[i] = fate
            wheres[i] = where
            refluxeds[i] = refluxed
            stackeds[i] = stacked
            flow_after[i] = flow
        counters[0] += k
        if generated:  # to the next unit's row (its members' rows are not read)
            state_hi, state_lo = jump(state_hi, state_lo, jumps, (end - p) * n_steps - used)
            randoms.state[0] = state_hi
            randoms.state[1] = state_lo
        p = end
        stop = STOP_BATCH
        if lodged and flow <= stop_flow:
            stop = STOP_ENDPOINT
        elif stop_on_reflux and refluxed:
            stop = STOP_REFLUX
        elif packed:
            stop = STOP_PACKED
        if stop != STOP_BATCH:
            break
    if stale:
        write_trunk_outputs(trunk[0], trunk[1], trunk[2], trunk[4], trunk[5], trunk[6], trunk[9], trunk[10], trunk[11],
                            trunk[12], trunk[17], trunk[21], trunk[25], trunk[26])
    return p, stop
