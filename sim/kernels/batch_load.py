"""Apply a batch of particles routed on a fixed field to the embolic load (batched delivery, docs/sirt.md).

The particles of a batch were routed on the flow field and load of the batch's start
(:mod:`.routing`). Here they join the load one by one, in order, with the load functions of
the exact kernel (:mod:`.embolic_load`), each lodging's conductance written into the flow
state; the 2-ports of the union of the changed elements' paths are refreshed once at the end
of the batch (:func:`.twoport.refresh_paths`: the same 2-ports as a refresh after every
lodging, since nothing reads them inside the batch), and the trunk is re-solved once per
batch by the caller. A
particle whose element, or any pedicle vessel on its path from the catheter, was blocked by
an earlier particle of the same batch could not have got there: it is handed back
(deferred) and routed again in the next batch, on the new field. What stays approximate is
the flow field within a batch (the caller bounds the flow change per batch).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._config import NJIT_OPTS
from .embolic_load import load_bed, load_vessel, write_bed_conductance, write_vessel_conductance
from .transport import FATE_COMPARTMENT, FATE_NONTARGET, FATE_TRUNK, FATE_VESSEL
from .twoport import refresh_paths


@njit(**NJIT_OPTS)
def _path_blocked(parent, vessel_blocked, node, tip):
    """Whether a pedicle vessel from ``node`` up to (not including) the tip's vessel ``tip`` (-1: trunk) is blocked."""
    j = node
    while j >= 0 and j != tip:
        if vessel_blocked[j] != 0:
            return True
        j = parent[j]
    return False


@njit(**NJIT_OPTS)
def apply_batch(st, geo, load, parent, comp_node, sink_bed, tip, keep, fate, where, stacked, diameters,
                lodged_ped, lodged_trunk, lodged_comp, nontarget, deferred, mark):
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
    """
    m = geo.n_pedicle
    n_def = 0
    dirty = np.empty(fate.shape[0], np.int64)
    n_dirty = 0
    closed = 0  # vessels blocked inside this batch: only they can block a routed path (the router saw the others)
    for i in range(fate.shape[0]):
        f = fate[i]
        w = where[i]
        d = diameters[i]
        if f == FATE_COMPARTMENT:
            if load.bed_blocked[w] != 0 or (closed and _path_blocked(parent, load.vessel_blocked, comp_node[w], tip)):
                deferred[n_def] = i
                n_def += 1
                continue
            dirty[n_dirty] = write_bed_conductance(st, geo, w, load_bed(geo, load, w, d, keep * d))
            n_dirty += 1
            lodged_comp[w] += 1
        elif f == FATE_VESSEL:
            # a wedge in v's mouth needs the path above v open and v itself open; a column stop needs v open
            start = w if stacked[i] else parent[w]
            if load.vessel_blocked[w] != 0 or (closed and _path_blocked(parent, load.vessel_blocked, start, tip)):
                deferred[n_def] = i
                n_def += 1
                continue
            dirty[n_dirty] = write_vessel_conductance(st, geo, w, load_vessel(geo, load, w, d, not stacked[i]))
            n_dirty += 1
            closed += load.vessel_blocked[w]
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
