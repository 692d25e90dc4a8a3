"""Particle routing on a fixed flow field, from precomputed exit tables.

With no occlusion the flow field does not change, so every node's exits (the
vessels and compartments that carry flow out of it, with that flow and their
diameter) can be tabulated once, and a particle's walk only reads the table.
The rules are those of :func:`.transport.transport`, from the same functions
(:mod:`.rules`: flow-proportional choice, size bias, central release at the
first bifurcation, a wedge in the first vessel the particle does not fit, a stop
at the column end before a blocked exit, exits to compartments and non-target
beds, reflux to the aorta and reflux flags), applied to the flows of the last
full solve and the blocked exits of a given embolic load; the particle sees every
node's exits in the same order and makes the same draw, so a fixed-field route is
the path the exact kernel gives the next particle on the same field and load
(tested). The router records fates only: it does not change the load.

The table is one int64 buffer (and a float64 view of the same memory): one
record per node, starting on a 64-byte cache line, the trunk nodes first, then
each pedicle subtree depth-first, so that a node's record is usually next to its
parent's. A record is one header word (number of exits in the low byte, the
node's non-target sink + 1 above it: an arterial root, reflux to the aorta)
followed by ``EXIT_WORDS`` words per exit: flow (m^3/s), diameter (m; +inf where
the lumen sets no limit, e.g. a lumped bed) and a link word (what the exit is,
whether it is reflux, whether it is blocked, the index it refers to and the
offset of the next record).
Size weights are computed only for branches between the onset ratio and the
ratio the particle cannot pass; elsewhere they are known to be 1 or 0.

All particles of a call advance one node per sweep, and the record each will
read next is prefetched a few particles ahead (:mod:`._prefetch`): the walks are
independent, so their memory reads overlap instead of waiting for each other
(2.8e6 particles/s on a 1e5-terminal liver; docs/performance.md).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ._config import NJIT_OPTS
from ._prefetch import prefetch
from .rules import (
    ACT_BED,
    ACT_COMPARTMENT,
    ACT_MOVE,
    ACT_STOP,
    EXIT_BED,
    EXIT_COMPARTMENT,
    EXIT_VESSEL,
    NODE_AORTA,
    NODE_SUSPEND,
    exit_action,
    node_action,
    size_weight,
)
from .transport import (
    FATE_COMPARTMENT,
    FATE_NONTARGET,
    FATE_SUSPENDED,
    FATE_TRUNK,
    FATE_VESSEL,
    TIP_PEDICLE,
    TIP_TRUNK,
    tip_room_has_space,
)
from .twoport import COMP_ART

__all__ = ["RoutingTable", "Walks", "build_table", "start_walks", "sweep", "suspend", "route", "HEADER", "EXIT_WORDS"]

#: Words in a node's header and per exit; records start on a 64-byte cache line (8 words).
HEADER, EXIT_WORDS, ALIGN = 1, 3, 8
_X_FLOW, _X_DIAM, _X_LINK = 0, 1, 2
#: Exit link word: kind in bits 0-1, reflux flag in bit 2, index (edge, sink, node or
#: compartment) in bits 3-34, blocked flag in bit 35, offset of the next record + 1 in bits 36-62.
_TRUNK_EDGE, _BED, _VESSEL, _COMPARTMENT = 0, 1, 2, 3
_REFLUX = 4
_INDEX_SHIFT, _INDEX_MASK, _BLOCKED_BIT, _NEXT_SHIFT = 3, (1 << 32) - 1, 35, 36
#: Largest table (words) the link word can address, and most exits per node (header byte).
MAX_WORDS, MAX_EXITS = 1 << 27, 255
#: Relative safety margin on the particle/branch diameter ratios below which a branch's
#: size weight is known to be 1, and above which it is known to be 0, without computing
#: it (the tests stay clear of the rounding boundary).
_RATIO_MARGIN = 1e-12
#: How many particles ahead the next record is prefetched (covers a main-memory latency
#: with the work of that many particle steps).
PREFETCH_AHEAD = 8


class RoutingTable(NamedTuple):
    """Exit tables of a fixed flow field (built by :func:`build_table`).

    Attributes
    ----------
    words : int64 (W,)
        Node records (see the module docstring).
    values : float64 (W,)
        The same memory seen as float64 (flows, diameters).
    start : int
        Offset of the catheter tip's record.
    max_exits : int
        Most exits of any node.
    n_pedicle : int
        Pedicle nodes M (a trunk edge e is vessel M + e, as in :mod:`.embolic_load`).
    deformability, size_bias_onset, release_exponent : float
        As in :class:`.transport.TransportNet`.
    tip_room : int
        ``TransportNet.tip_room`` (the vessel a particle at the catheter tip is in), -1 where the room ahead of the
        tip is full in the table's load: a particle whose exit is blocked there stays in suspension, marked
        ``stacked`` (the exact kernel stops packed).
    """

    words: np.ndarray
    values: np.ndarray
    start: int
    max_exits: int
    n_pedicle: int
    deformability: float
    size_bias_onset: float
    release_exponent: float
    tip_room: int


@njit(**NJIT_OPTS)
def _unified(st, i, n_trunk):
    """Record index of pedicle node i: a subtree root is its trunk node, others follow the trunk nodes."""
    s = st.root_slot[i]
    return st.root_art[s] if s >= 0 else n_trunk + i


@njit(**NJIT_OPTS)
def _node_exits(st, net, load, u, flows, diams, nexts, tags):
    """Exits of record u, in the exact kernel's order; fills the work arrays and returns their number.

    ``nexts`` holds record indices (not yet offsets), -1 for exits that end the walk.
    """
    n_trunk = st.trunk_p.shape[0]
    m = st.parent.shape[0]
    c_all = st.comp_node.shape[0]
    n = 0
    if u < n_trunk:
        for k in range(net.tadj_ptr[u], net.tadj_ptr[u + 1]):
            e = net.tadj_edge[k]
            q = st.trunk_q[e]
            other = st.trunk_conns[e, 1]
            if other == u:
                q = -q
                other = st.trunk_conns[e, 0]
            if q > 0.0:
                reflux = _REFLUX if (net.tip_kind == TIP_TRUNK and e == net.reflux_edge) else 0
                flows[n] = q
                diams[n] = net.trunk_diam[e]
                if net.trunk_edge_sink[e] >= 0:
                    nexts[n] = -1
                    tags[n] = _BED | reflux | (net.trunk_edge_sink[e] << _INDEX_SHIFT) | \
                        (np.int64(load.bed_blocked[c_all + e]) << _BLOCKED_BIT)
                else:
                    nexts[n] = other
                    tags[n] = _TRUNK_EDGE | reflux | (e << _INDEX_SHIFT) | \
                        (np.int64(load.vessel_blocked[m + e]) << _BLOCKED_BIT)
                n += 1
        ped = net.trunk_root[u]
        if ped >= 0:
            pa = st.trunk_p[st.root_art[st.root_slot[ped]]]
            if not pa == pa:  # a subtree cut off from every boundary carries nothing
                ped = -1
    else:
        ped = u - n_trunk
        if st.art_q[ped] < 0.0:  # flow runs back up the vessel into this node
            flows[n] = -st.art_q[ped]
            diams[n] = net.ped_diam[ped]
            nexts[n] = _unified(st, st.parent[ped], n_trunk)
            reflux = _REFLUX if (net.tip_kind == TIP_PEDICLE and ped == net.tip_index) else 0
            tags[n] = _VESSEL | reflux | (ped << _INDEX_SHIFT) | (np.int64(load.vessel_blocked[ped]) << _BLOCKED_BIT)
            n += 1
    if ped >= 0:
        for k in range(st.child_ptr[ped], st.child_ptr[ped + 1]):
            j = st.child_idx[k]
            if st.art_q[j] > 0.0:
                flows[n] = st.art_q[j]
                diams[n] = net.ped_diam[j]
                nexts[n] = n_trunk + j
                tags[n] = _VESSEL | (j << _INDEX_SHIFT) | (np.int64(load.vessel_blocked[j]) << _BLOCKED_BIT)
                n += 1
        for k in range(st.comp_ptr[ped], st.comp_ptr[ped + 1]):
            c = st.comp_idx[k]
            if st.comp_q[c, COMP_ART] > 0.0:
                flows[n] = st.comp_q[c, COMP_ART]
                diams[n] = net.comp_feed_diam[c]
                nexts[n] = -1
                tags[n] = _COMPARTMENT | (c << _INDEX_SHIFT) | (np.int64(load.bed_blocked[c]) << _BLOCKED_BIT)
                n += 1
    return n


@njit(**NJIT_OPTS)
def _record_order(st, n_trunk):
    """Record indices in layout order: trunk nodes, then each subtree depth-first (first child first)."""
    n_ped = st.parent.shape[0]
    order = np.empty(n_trunk + n_ped - st.root_nodes.shape[0], np.int64)
    for t in range(n_trunk):
        order[t] = t
    pos = n_trunk
    stack = np.empty(n_ped, np.int64)
    for r in st.root_nodes:
        top = 0
        for k in range(st.child_ptr[r + 1] - 1, st.child_ptr[r] - 1, -1):
            stack[top] = st.child_idx[k]
            top += 1
        while top > 0:
            top -= 1
            i = stack[top]
            order[pos] = n_trunk + i
            pos += 1
            for k in range(st.child_ptr[i + 1] - 1, st.child_ptr[i] - 1, -1):
                stack[top] = st.child_idx[k]
                top += 1
    return order[:pos]


@njit(**NJIT_OPTS)
def _exit_buffers(width):
    """Work arrays for one node's exits (:func:`_node_exits`): flows, diameters, next records, tags."""
    return np.empty(width), np.empty(width), np.empty(width, np.int64), np.empty(width, np.int64)


@njit(**NJIT_OPTS)
def _layout(st, net, load):
    """Record order, offsets (words, cache-line aligned), table size and most exits of a node."""
    n_trunk = st.trunk_p.shape[0]
    flows, diams, nexts, tags = _exit_buffers(net.max_candidates)
    order = _record_order(st, n_trunk)
    offset = np.full(n_trunk + st.parent.shape[0], -1, np.int64)
    size = 0
    max_exits = 1
    for u in order:
        offset[u] = size
        n = _node_exits(st, net, load, u, flows, diams, nexts, tags)
        max_exits = max(max_exits, n)
        size += (HEADER + EXIT_WORDS * n + ALIGN - 1) // ALIGN * ALIGN
    return order, offset, size, max_exits


@njit(**NJIT_OPTS)
def _fill(st, net, load, order, offset, words, values):
    """Write every node's record (layout of :func:`_layout`) into ``words``/``values``."""
    n_trunk = st.trunk_p.shape[0]
    flows, diams, nexts, tags = _exit_buffers(net.max_candidates)
    for u in order:
        o = offset[u]
        n = _node_exits(st, net, load, u, flows, diams, nexts, tags)
        sink = net.trunk_node_sink[u] if u < n_trunk else -1
        words[o] = n | ((sink + 1) << 8)
        for k in range(n):
            x = o + HEADER + EXIT_WORDS * k
            values[x + _X_FLOW] = flows[k]
            values[x + _X_DIAM] = diams[k] if diams[k] == diams[k] else np.inf  # no lumen limit
            words[x + _X_LINK] = tags[k] | ((offset[nexts[k]] + 1 if nexts[k] >= 0 else 0) << _NEXT_SHIFT)


@njit(**NJIT_OPTS)
def build_table(st, net, load):
    """Exit tables of the solved flow field ``st`` for the catheter and agent of ``net``, O(N).

    Parameters
    ----------
    st : FlowState
        Solved state (:func:`.twoport.solve`); its flows are read, nothing is changed.
    net : TransportNet
        The transport inputs (tip, diameters, sinks, agent rules).
    load : embolic_load.Load
        Its blocked vessels and beds are flagged on their exits.

    Returns
    -------
    RoutingTable
    """
    order, offset, size, max_exits = _layout(st, net, load)
    if size >= MAX_WORDS or max_exits > MAX_EXITS:
        raise ValueError("routing table too large for its link words (MAX_WORDS, MAX_EXITS)")
    buffer = np.zeros(size + ALIGN, np.int64)
    shift = (-(buffer.ctypes.data // 8)) % ALIGN  # first record on a cache-line boundary
    words = buffer[shift:shift + size]
    values = words.view(np.float64)
    _fill(st, net, load, order, offset, words, values)
    n_trunk = st.trunk_p.shape[0]
    start = offset[net.tip_index] if net.tip_kind == TIP_TRUNK else offset[n_trunk + net.tip_index]
    room = net.tip_room
    if room >= 0 and not tip_room_has_space(load.vessel_blocked[room], load.vessel_column[room], net.tip_room_length_m):
        room = -1
    return RoutingTable(words=words, values=values, start=start, max_exits=max_exits,
                        n_pedicle=st.parent.shape[0], deformability=net.deformability, size_bias_onset=net.size_bias_onset,
                        release_exponent=net.release_exponent, tip_room=room)


@njit(inline="always", **NJIT_OPTS)  # inlined into the sweep: about 10% faster
def _choose_exit(values, x, n, d, sharpen, full_below, none_above, deformability, onset, u, weights):
    """Exit of the record at ``x`` drawn with the exact kernel's weights, without branching on the draw.

    The weight of an exit is its flow (raised to ``sharpen`` at the first
    bifurcation of a central release) times the size weight
    (:func:`.rules.size_weight`), which is computed only where the particle is
    neither clearly below the onset ratio (``d < diameter * full_below``: weight 1)
    nor clearly above the ratio it cannot pass (``d > diameter * none_above``:
    weight 0); an exit without lumen limit has diameter +inf (weight 1). If no exit
    takes the particle, the flows alone. Same result as :func:`.transport.choose`:
    the total is summed in the same order, and the first cumulative weight above
    ``u * total`` is found by counting those (but the last) at or below it.
    """
    total = 0.0
    for k in range(n):
        w = values[x + EXIT_WORDS * k + _X_FLOW]
        if sharpen != 1.0:
            w = w ** sharpen
        dk = values[x + EXIT_WORDS * k + _X_DIAM]
        if not d < dk * full_below:
            w = 0.0 if d > dk * none_above else w * size_weight(d, dk, deformability, onset)
        weights[k] = w
        total += w
    if not total > 0.0:  # weights are >= 0: all zero
        for k in range(n):
            w = values[x + EXIT_WORDS * k + _X_FLOW]
            weights[k] = w ** sharpen if sharpen != 1.0 else w
            total += weights[k]
    target = u * total
    acc = 0.0
    k = 0
    for j in range(n - 1):
        acc += weights[j]
        k += target >= acc
    return k


@njit(**NJIT_OPTS)
def _finish(ps, p, fate, where, refluxed, stacked):
    """Record particle p's end (``FATE_*``, the index it refers to, reflux, column stop) and count it."""
    ps.fate[p] = fate
    ps.where[p] = where
    ps.refluxed[p] = refluxed
    ps.stacked[p] = stacked
    if fate == FATE_NONTARGET:
        ps.nontarget[where] += 1
    elif fate == FATE_VESSEL:
        ps.lodged_ped[where] += 1
    elif fate == FATE_TRUNK:
        ps.lodged_trunk[where] += 1
    elif fate == FATE_COMPARTMENT:
        ps.lodged_comp[where] += 1
    ps.counters[0] += 1


class Walks(NamedTuple):
    """Particles of one call in flight (:func:`start_walks`); updated in place by :func:`sweep`.

    Attributes
    ----------
    moving : int64 (count,)
        Particles still moving (index ``p - first``), in order, in the first
        ``n_moving`` entries (the count :func:`sweep` returns).
    at : int64 (count,)
        Record each particle is at.
    sharpen : float64 (count,)
        Flow exponent of its next bifurcation (central release: until the first).
    reflux : bool (count,)
        Whether it has left the catheterised vessel backwards.
    came : int64 (count,)
        The vessel it is in (pedicle node v, or M + trunk edge); at the catheter tip ``RoutingTable.tip_room``.
    """

    moving: np.ndarray
    at: np.ndarray
    sharpen: np.ndarray
    reflux: np.ndarray
    came: np.ndarray


@njit(**NJIT_OPTS)
def start_walks(table, count):
    """``count`` particles at the catheter tip, none moved yet (a :class:`Walks`)."""
    return Walks(moving=np.arange(count), at=np.full(count, table.start), sharpen=np.full(count, table.release_exponent),
                 reflux=np.zeros(count, np.bool_), came=np.full(count, table.tip_room, np.int64))


@njit(**NJIT_OPTS)
def sweep(table, ps, diameters, u, step, first, walks, n_moving):
    """Move every walk one node: step ``step`` of particles ``first + walks.moving[:n_moving]``.

    Particle ``p`` draws ``u[p - first]``. The record each particle will read next is
    prefetched ``PREFETCH_AHEAD`` particles in advance, so the memory reads of
    the independent walks overlap instead of waiting for one another. Particles
    whose route ends are recorded in ``ps`` (see :func:`route`).

    Returns
    -------
    int
        Particles still moving (now first in ``walks.moving``).
    """
    words = table.words
    values = table.values
    weights = np.empty(table.max_exits)
    keep = 1.0 - table.deformability
    onset = table.size_bias_onset
    full_below = onset * (1.0 - _RATIO_MARGIN) if onset > 0.0 else np.inf
    fit = 1.0 / keep
    none_above = fit * (1.0 + _RATIO_MARGIN) if 0.0 < onset < fit else np.inf
    moving, at, sharpen, reflux, came = walks.moving, walks.at, walks.sharpen, walks.reflux, walks.came
    m = table.n_pedicle
    kept = 0
    for i in range(n_moving):
        if i + PREFETCH_AHEAD < n_moving:
            prefetch(words, at[moving[i + PREFETCH_AHEAD]])
        j = moving[i]
        o = at[j]
        head = words[o]
        n = head & 255
        fate = -1
        where = -1
        stacked = False
        action = node_action(head > 255, step, n)
        if action == NODE_AORTA:  # back at an arterial root: reflux to the aorta
            fate, where = FATE_NONTARGET, (head >> 8) - 1
        elif action == NODE_SUSPEND:
            fate = FATE_SUSPENDED
        else:
            d = diameters[first + j]
            x = o + HEADER
            k = 0
            if n > 1:
                k = _choose_exit(values, x, n, d, sharpen[j], full_below, none_above, table.deformability,
                                 onset, u[j], weights)
                sharpen[j] = 1.0
            e = x + EXIT_WORDS * k
            link = words[e + _X_LINK]
            kind = link & 3
            if link & _REFLUX:
                reflux[j] = True
            index = (link >> _INDEX_SHIFT) & _INDEX_MASK
            exit_kind = EXIT_BED if kind == _BED else (EXIT_COMPARTMENT if kind == _COMPARTMENT else EXIT_VESSEL)
            act = exit_action(exit_kind, values[e + _X_DIAM], (link >> _BLOCKED_BIT) & 1, keep * d)
            vessel = m + index if kind == _TRUNK_EDGE else index
            if act == ACT_MOVE:
                came[j] = vessel
                at[j] = (link >> _NEXT_SHIFT) - 1
            elif act == ACT_STOP:
                v = came[j]
                if v < 0:  # packed to the catheter tip
                    fate, stacked = FATE_SUSPENDED, True
                elif v < m:
                    fate, where, stacked = FATE_VESSEL, v, True
                else:
                    fate, where, stacked = FATE_TRUNK, v - m, True
            elif act == ACT_BED:
                fate, where = FATE_NONTARGET, index
            elif act == ACT_COMPARTMENT:
                fate, where = FATE_COMPARTMENT, index
            else:  # a wedge in the exit's mouth
                fate, where = (FATE_VESSEL, index) if kind == _VESSEL else (FATE_TRUNK, index)
        if fate >= 0:
            _finish(ps, first + j, fate, where, reflux[j], stacked)
        else:
            moving[kept] = j
            kept += 1
    return kept


@njit(**NJIT_OPTS)
def suspend(ps, first, walks, n_moving):
    """Record the walks still moving (out of random numbers) as particles in suspension."""
    for i in range(n_moving):
        j = walks.moving[i]
        _finish(ps, first + j, FATE_SUSPENDED, -1, walks.reflux[j], False)


@njit(**NJIT_OPTS)
def route(table, ps, diameters, uniforms, first, last):
    """Route particles ``first`` .. ``last - 1`` on the fixed field of ``table``; nothing is loaded.

    All particles advance one node per :func:`sweep` (step s draws row s). Each
    route depends only on its own diameter and random numbers, so the result is
    the one of walking the particles one after another.

    Parameters
    ----------
    table : RoutingTable
    ps : ProcedureState
        ``fate``, ``where``, ``refluxed``, the per-element lodging counts,
        ``nontarget`` and ``counters[0]`` are updated (``flow_after`` is not: the
        field does not change).
    diameters : float64 (P,)
        Particle diameters, m.
    uniforms : float64 (K, last - first)
        One uniform in [0, 1) per node along a particle's path: column ``p - first``
        holds particle p's (the transpose of :func:`.transport.transport`'s, so
        that each sweep reads one row); a particle still moving after K nodes stays
        in suspension. Rows may also be drawn one at a time while particles still
        move (:func:`sim.procedure.route_fixed_field`): the same numbers as one
        (K, n) draw, fewer of them.
    first, last : int
    """
    walks = start_walks(table, last - first)
    n_moving = last - first
    for step in range(uniforms.shape[0]):
        if n_moving == 0:
            break
        n_moving = sweep(table, ps, diameters, uniforms[step], step, first, walks, n_moving)
    suspend(ps, first, walks, n_moving)
