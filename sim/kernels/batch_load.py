"""Apply a batch of particles routed on a fixed field to the embolic load (batched delivery, docs/sirt.md).

The particles of a batch were routed on the flow field and load of the batch's start
(:mod:`.routing`). Here they join the load one by one, in order, with the load functions of
the exact kernel (:mod:`.embolic_load`), each lodging's conductance written into the flow
state; the 2-ports of the union of the changed elements' paths are refreshed once at the end
of the batch (:func:`.twoport.refresh_paths`: the same 2-ports as a refresh after every
lodging, since nothing reads them inside the batch), and the trunk is re-solved once per
batch by the caller. A
particle whose element, or any pedicle vessel on its path from the catheter (:func:`close_below`
marks the nodes below a closed vessel: an O(1) check per particle), was blocked by
an earlier particle of the same batch could not have got there: it is handed back
(deferred) and routed again in the next batch, on the new field. What stays approximate is
the flow field within a batch (the caller bounds the flow change per batch).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._config import NJIT_OPTS
from ._prefetch import prefetch
from .embolic_load import bed_load_step, vessel_load_step, write_bed_conductance_of, write_vessel_conductance_of
from .transport import FATE_COMPARTMENT, FATE_NONTARGET, FATE_TRUNK, FATE_VESSEL, tip_room_has_space
from .twoport import refresh_paths


@njit(**NJIT_OPTS)
def close_below(size, cut, v, tip):
    """Vessel ``v`` closed: mark every pedicle node whose path up to the tip's vessel ``tip`` (-1: trunk) runs through
    it, i.e. v's subtree (preorder: the index range ``v .. v + size[v] - 1``) when v lies below the tip.

    A vessel closes once, so over a delivery the marking costs at most the sum of the closed subtrees.
    """
    if v == tip or (tip >= 0 and not tip < v < tip + size[tip]):
        return
    for j in range(v, v + size[v]):
        cut[j] = 1


#: How many particles ahead the load records of a particle's element are prefetched (a cache hint only).
PREFETCH_AHEAD = 8


@njit(**NJIT_OPTS)
def apply_batch(st, geo, load, parent, comp_node, sink_bed, tip, room_length, keep, fate, where, stacked, diameters,
                lodged_ped, lodged_trunk, lodged_comp, nontarget, deferred, mark, size, cut):
    """Load the particles of one routed batch in order, then refresh the changed 2-ports.

    Returns
    -------
    (int, int)
        How many were deferred, and the batch position of the particle that found the room ahead of the catheter
        tip full (packed to the tip: it and the particles after it are not loaded), -1 if none did.

    Parameters
    ----------
    st : FlowState
        Live flow state; conductances of loaded elements written (O(depth) each).
    geo, load : LoadGeometry, Load
    parent : int64 (M,)
        Pedicle parent array.
    comp_node : int64 (C,)
        Pedicle node of each compartment.
    sink_bed : int64 (S,)
        Bed index (``n_compartment + trunk edge``) of each non-target sink, -1 for a sink without a bed (aorta).
    tip : int
        Pedicle node of the catheter's vessel, -1 for a trunk catheter.
    room_length : float
        Length (m) of that vessel ahead of the tip (``TransportNet.tip_room_length_m``): a particle routed to stack
        there once earlier particles of the batch have filled it is packed to the tip.
    keep : float
        1 - deformability (a particle fits lumens down to ``keep x d``).
    fate, where, stacked, diameters : (B,)
        The batch's routing result and diameters (m).
    lodged_ped, lodged_trunk, lodged_comp, nontarget : int64
        Global counts, incremented for the particles loaded.
    deferred : int64 (B,)
        Out: batch positions of the deferred particles, first the returned count.
    mark : uint8 (M,)
        Work array of :func:`.twoport.refresh_paths` (all 0).
    size, cut : int64 (M,), uint8 (M,)
        Pedicle subtree sizes, and the nodes cut off from the tip by a closed vessel (:func:`close_below`; kept
        over the whole delivery, updated here).
    """
    m = geo.n_pedicle
    n_comp = geo.n_compartment
    # every array the loop reads or writes, bound once, and the load rules called on the element's numbers
    # (embolic_load.load_bed, load_vessel): a tuple field read or an array handed to a helper inside the loop
    # costs an atomic reference count each time (docs/flow.md)
    g_art, g_trunk, g_comp, st_comp_node = st.g_art, st.g_trunk, st.g_comp, st.comp_node
    vessel_column, vessel_excess, vessel_layer, vessel_layer_excess, vessel_count, vessel_blocked = \
        load.vessel_column, load.vessel_excess, load.vessel_layer, load.vessel_layer_excess, load.vessel_count, \
        load.vessel_blocked
    bed_gen, bed_wedged, bed_layer, bed_front, bed_excess, bed_count, bed_blocked = \
        load.bed_gen, load.bed_wedged, load.bed_layer, load.bed_front, load.bed_excess, load.bed_count, load.bed_blocked
    vessel_diam, vessel_length, vessel_g0, seal_porosity = geo.vessel_diam, geo.vessel_length, geo.vessel_g0, \
        geo.seal_porosity
    bed_arteriole = geo.bed_arteriole_share
    bed_feed_diam, bed_n_gen, bed_g0, murray_exponent, bed_aspect = geo.bed_feed_diam, geo.bed_n_gen, geo.bed_g0, \
        geo.murray_exponent, geo.bed_aspect
    n_def = 0
    packed = -1
    dirty = np.empty(fate.shape[0], np.int64)
    n_dirty = 0
    for i in range(fate.shape[0]):
        if i + PREFETCH_AHEAD < fate.shape[0]:  # the load records of a particle a few ahead (a cache hint only)
            f = fate[i + PREFETCH_AHEAD]
            w = where[i + PREFETCH_AHEAD]
            if f == FATE_COMPARTMENT:
                prefetch(bed_wedged, w)
                prefetch(bed_layer, w)
                prefetch(bed_front, w)
                prefetch(bed_excess, w)
                prefetch(bed_feed_diam, w)
                prefetch(bed_n_gen, w)
                prefetch(bed_g0, w)
                prefetch(bed_gen, w)
                prefetch(bed_count, w)
                prefetch(lodged_comp, w)
                prefetch(bed_blocked, w)
            elif f == FATE_VESSEL:
                prefetch(vessel_column, w)
                prefetch(vessel_excess, w)
                prefetch(vessel_layer, w)
                prefetch(vessel_diam, w)
                prefetch(vessel_length, w)
                prefetch(vessel_g0, w)
                prefetch(vessel_count, w)
                prefetch(lodged_ped, w)
                prefetch(vessel_blocked, w)
        f = fate[i]
        w = where[i]
        d = diameters[i]
        b = -1  # the bed or the vessel the particle joins
        v = -1
        if f == FATE_COMPARTMENT:
            if bed_blocked[w] != 0 or cut[comp_node[w]] != 0:
                deferred[n_def] = i
                n_def += 1
                continue
            b = w
            lodged_comp[w] += 1
        elif f == FATE_VESSEL:
            # a wedge in v's mouth needs the path above v open and v itself open; a column stop needs v open
            if stacked[i] and w == tip and not tip_room_has_space(vessel_blocked[w], vessel_column[w], room_length):
                packed = i
                break
            start = w if stacked[i] else parent[w]
            if vessel_blocked[w] != 0 or (start >= 0 and cut[start] != 0):
                deferred[n_def] = i
                n_def += 1
                continue
            v = w
            lodged_ped[w] += 1
        elif f == FATE_TRUNK:
            if vessel_blocked[m + w] != 0:
                deferred[n_def] = i
                n_def += 1
                continue
            v = m + w
            lodged_trunk[w] += 1
        elif f == FATE_NONTARGET:
            b = sink_bed[w]
            if b >= 0 and bed_blocked[b] != 0:
                deferred[n_def] = i
                n_def += 1
                continue
            nontarget[w] += 1
        if b >= 0:
            gen, wedged, layer, front, excess, full, g = bed_load_step(
                bed_feed_diam[b], bed_n_gen[b], bed_g0[b], bed_arteriole[b], murray_exponent, bed_aspect, seal_porosity,
                bed_gen[b], bed_wedged[b], bed_layer[b], bed_front[b], bed_excess[b], d, keep * d)
            bed_gen[b], bed_wedged[b], bed_layer[b], bed_front[b], bed_excess[b] = gen, wedged, layer, front, excess
            bed_count[b] += 1
            if full:
                bed_blocked[b] = 1
            node = write_bed_conductance_of(g_comp, g_trunk, st_comp_node, n_comp, b, g)
            if node >= 0:
                dirty[n_dirty] = node
                n_dirty += 1
        elif v >= 0:
            column, excess, layer, layer_excess, full, g = vessel_load_step(
                vessel_diam[v], vessel_length[v], vessel_g0[v], seal_porosity, vessel_column[v], vessel_excess[v],
                vessel_layer[v], vessel_layer_excess[v], d, not stacked[i])
            vessel_column[v], vessel_excess[v], vessel_layer[v], vessel_layer_excess[v] = column, excess, layer, \
                layer_excess
            vessel_count[v] += 1
            if full:
                vessel_blocked[v] = 1
            node = write_vessel_conductance_of(g_art, g_trunk, m, v, g)
            if node >= 0:
                dirty[n_dirty] = node
                n_dirty += 1
                if full:
                    close_below(size, cut, v, tip)
    refresh_paths(st, dirty[:n_dirty], mark)
    return n_def, packed


@njit(**NJIT_OPTS)
def bed_of_sinks(trunk_edge_sink, n_sinks, n_compartment):
    """Bed index of each non-target sink (``n_compartment + trunk edge``), -1 where the sink has no bed."""
    out = np.full(n_sinks, -1, np.int64)
    for e in range(trunk_edge_sink.shape[0]):
        s = trunk_edge_sink[e]
        if s >= 0:
            out[s] = n_compartment + e
    return out
