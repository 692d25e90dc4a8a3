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
from .embolic_load import load_bed, load_vessel, write_bed_conductance, write_vessel_conductance
from .transport import FATE_COMPARTMENT, FATE_NONTARGET, FATE_TRUNK, FATE_VESSEL
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


@njit(inline="always", **NJIT_OPTS)
def _prefetch_element(geo, load, lodged_comp, lodged_ped, f, w):
    """Start bringing in the load records of element ``w`` of fate ``f`` (never changes a result)."""
    if f == FATE_COMPARTMENT:
        prefetch(load.bed_count, w)
        prefetch(load.bed_gen, w)
        prefetch(load.bed_wedged, w)
        prefetch(load.bed_layer, w)
        prefetch(load.bed_front, w)
        prefetch(load.bed_excess, w)
        prefetch(load.bed_blocked, w)
        prefetch(geo.bed_feed_diam, w)
        prefetch(geo.bed_n_gen, w)
        prefetch(geo.bed_g0, w)
        prefetch(lodged_comp, w)
    elif f == FATE_VESSEL:
        prefetch(load.vessel_count, w)
        prefetch(load.vessel_column, w)
        prefetch(load.vessel_excess, w)
        prefetch(load.vessel_layer, w)
        prefetch(load.vessel_blocked, w)
        prefetch(geo.vessel_diam, w)
        prefetch(geo.vessel_length, w)
        prefetch(geo.vessel_g0, w)
        prefetch(lodged_ped, w)


@njit(**NJIT_OPTS)
def apply_batch(st, geo, load, parent, comp_node, sink_bed, tip, keep, fate, where, stacked, diameters,
                lodged_ped, lodged_trunk, lodged_comp, nontarget, deferred, mark, size, cut):
    """Load the particles of one routed batch in order, then refresh the changed 2-ports; return how many were deferred.

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
    n_def = 0
    dirty = np.empty(fate.shape[0], np.int64)
    n_dirty = 0
    for i in range(fate.shape[0]):
        if i + PREFETCH_AHEAD < fate.shape[0]:
            _prefetch_element(geo, load, lodged_comp, lodged_ped, fate[i + PREFETCH_AHEAD], where[i + PREFETCH_AHEAD])
        f = fate[i]
        w = where[i]
        d = diameters[i]
        if f == FATE_COMPARTMENT:
            if load.bed_blocked[w] != 0 or cut[comp_node[w]] != 0:
                deferred[n_def] = i
                n_def += 1
                continue
            dirty[n_dirty] = write_bed_conductance(st, geo, w, load_bed(geo, load, w, d, keep * d))
            n_dirty += 1
            lodged_comp[w] += 1
        elif f == FATE_VESSEL:
            # a wedge in v's mouth needs the path above v open and v itself open; a column stop needs v open
            start = w if stacked[i] else parent[w]
            if load.vessel_blocked[w] != 0 or (start >= 0 and cut[start] != 0):
                deferred[n_def] = i
                n_def += 1
                continue
            dirty[n_dirty] = write_vessel_conductance(st, geo, w, load_vessel(geo, load, w, d, not stacked[i]))
            n_dirty += 1
            if load.vessel_blocked[w] != 0:
                close_below(size, cut, w, tip)
            lodged_ped[w] += 1
        elif f == FATE_TRUNK:
            if load.vessel_blocked[m + w] != 0:
                deferred[n_def] = i
                n_def += 1
                continue
            write_vessel_conductance(st, geo, m + w, load_vessel(geo, load, m + w, d, not stacked[i]))
            lodged_trunk[w] += 1
        elif f == FATE_NONTARGET:
            b = sink_bed[w]
            if b >= 0:
                if load.bed_blocked[b] != 0:
                    deferred[n_def] = i
                    n_def += 1
                    continue
                write_bed_conductance(st, geo, b, load_bed(geo, load, b, d, keep * d))
            nontarget[w] += 1
    refresh_paths(st, dirty[:n_dirty], mark)
    return n_def


@njit(**NJIT_OPTS)
def bed_of_sinks(trunk_edge_sink, n_sinks, n_compartment):
    """Bed index of each non-target sink (``n_compartment + trunk edge``), -1 where the sink has no bed."""
    out = np.full(n_sinks, -1, np.int64)
    for e in range(trunk_edge_sink.shape[0]):
        s = trunk_edge_sink[e]
        if s >= 0:
            out[s] = n_compartment + e
    return out
