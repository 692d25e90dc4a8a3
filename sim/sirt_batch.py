"""Batched delivery of many small spheres: routing on a fixed field between flow updates (docs/sirt.md).

The exact sequence (:func:`sim.procedure.run_procedure`) updates the flow after every
lodging: exact, and a few thousand to 20 000 spheres per second. A full resin activity
is 3-4e7 spheres, each of which barely changes the flow. Here spheres go in batches:

1. route the batch on the current field and load with the fast router
   (:func:`sim.procedure.route_fixed_field`: the exact kernel's rules, 2-3e6 particles/s);
2. load its particles in order (:func:`sim.kernels.batch_load.apply_batch`), handing back
   any whose element or path an earlier particle of the batch blocked (they are routed again
   first in the next batch, so no element takes more than the exact sequence would let it),
   and refresh the 2-ports of the changed paths once;
3. re-solve the trunk and substitute the catheter's subtrees (:class:`_Field`): the next
   batch sees the new field, the one the exact kernel computes on demand.

The one approximation is the flow field inside a batch. The batch size adapts so that the
native flow at the catheter changes by at most ``flow_step`` (default 2%, the exact
procedure's recording step) per batch: doubling while the change stays below half of it,
halving (down to one particle, the exact sequence's granularity) above it. The final flow
does not depend on it measurably (docs/sirt.md: 0.05% to 5% within the seeds' scatter).
The endpoint (flow at or below the stop flow, or ``check``) is checked after every batch, so
it can be overshot by at most one batch's spheres.
The error against the exact sequence is measured on small cases in
``tests/test_sirt_batch.py`` (deposition per compartment, flow, tumour share).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import transport as tk

__all__ = ["BatchedDelivery", "deliver_batched", "prepare", "FLOW_STEP", "FIRST_BATCH", "MAX_BATCH"]

#: Largest relative change of the native catheter flow per batch (numerical choice: the exact procedure's recording
#: step, sim.procedure.RECORD_FLOW_STEP; 0.0005-0.05 give the same final flow within the seeds' scatter).
FLOW_STEP = 0.02
#: First and largest batch, particles (the largest bounds the router's per-batch arrays to about 100 MB).
FIRST_BATCH, MAX_BATCH = 256, 1 << 21


@dataclass
class BatchedDelivery:
    """Result of :func:`deliver_batched`.

    Attributes
    ----------
    state : ProcedureState
        Per particle ``fate``, ``where``, ``stacked``, ``refluxed``; counts per element; the load.
    n_injected : int
        Spheres delivered (all, unless the stop flow was reached).
    flow_fraction : ndarray of float64
        Native catheter flow over its baseline after each batch (first entry 1).
    particles_after : ndarray of int64
        Spheres delivered after each batch (first entry 0).
    n_batches, n_deferred : int
        Batches routed, and particles handed back to the next batch.
    stopped : bool
        Whether the delivery stopped before every sphere was in: the stop flow reached, ``check`` returned True,
        or packed.
    packed : bool
        Whether a sphere at the catheter tip found its exit blocked and the room ahead of the tip full
        (``TransportNet.tip_room``): the column reaches the catheter; that sphere is the last one in, in suspension.
    diameters : ndarray of float64
        The spheres' diameters in the order of ``state``'s per-particle arrays: the ``n_injected`` delivered ones
        first. A delivery that stops while spheres are handed back (deferred) leaves them out: they are moved
        behind the delivered ones, which the summary reads as the first ``n_injected`` (review 39: they had been
        read in their place, and the last delivered spheres, the one packed at the tip among them, left out).
    """

    state: object
    n_injected: int
    flow_fraction: np.ndarray
    particles_after: np.ndarray
    n_batches: int
    n_deferred: int
    stopped: bool
    packed: bool
    diameters: np.ndarray


def deliver_batched(liver, state, net, geo, sink_names, diameters: np.ndarray, rng: np.random.Generator, *,
                    stop_flow: float = 0.0, flow_step: float = FLOW_STEP, first_batch: int = FIRST_BATCH,
                    max_batch: int = MAX_BATCH, aliquot_ends=(), check=None) -> BatchedDelivery:
    """Deliver ``diameters`` (m, in order) in batches on a flow state with the injection in place.

    Parameters
    ----------
    liver : CompiledLiver
        With the catheter placed (``LiverFlow.liver``).
    state : FlowState
        Solved, injection in place (as :func:`sim.procedure.run_procedure` prepares it); updated in place.
    net, geo : TransportNet, LoadGeometry
        From :func:`sim.procedure.transport_net` and :func:`sim.procedure.load_geometry`.
    sink_names : tuple of str
        The non-target sinks of ``net``.
    diameters : float64 (P,)
    rng : numpy.random.Generator
    stop_flow : float, m^3/s
        Stop after the batch that brings the native catheter flow to or below this.
    flow_step : float
        Largest relative flow change per batch (see the module notes).
    aliquot_ends : sequence of int
        Sphere counts at which an aliquot ends (ascending): no batch crosses one, and the spheres
        handed back are loaded before the aliquot counts as delivered.
    check : callable, optional
        ``check(procedure_state, delivered, native_flow_m3s, aliquot_done) -> bool`` after every batch, with
        the state solved; ``aliquot_done`` is True when exactly the spheres up to an aliquot end are in. True stops
        the delivery (``stopped``).
    """
    from .kernels import embolic_load as el
    from .kernels.batch_load import apply_batch, bed_of_sinks
    from .kernels.treewalk import subtree_sums
    from .procedure import _new_state, route_fixed_field

    diameters = np.ascontiguousarray(diameters, dtype=np.float64)
    n = diameters.size
    n_sinks = len(sink_names)
    ps = _new_state(n, liver, n_sinks, el.new_load(liver.forest.n_nodes + liver.trunk.n_edges,
                                                   liver.compartments.n + liver.trunk.n_edges))
    load = ps.load  # empty: the state must be that of an unloaded liver (no earlier session)
    parent = np.asarray(liver.forest.parent, np.int64)
    comp_node = np.asarray(liver.compartments.node, np.int64)
    sink_bed = bed_of_sinks(np.asarray(net.trunk_edge_sink, np.int64), n_sinks, geo.n_compartment)
    tip = int(net.tip_index) if net.tip_kind == tk.TIP_PEDICLE else -1
    keep = 1.0 - net.deformability
    mark = np.zeros(parent.size, np.uint8)
    cut = np.zeros(parent.size, np.uint8)  # pedicle nodes cut off from the tip by a closed vessel
    size = np.empty(parent.size)
    subtree_sums(parent, np.ones(parent.size), size)
    size = size.astype(np.int64)
    field = _Field(liver, state, net)
    q0 = field.native_flow()
    head = 0  # particles [head, n) not yet routed; the deferred ones (pending) go first
    pending = np.zeros(0, np.int64)
    batch = first_batch
    fractions, after = [1.0], [0]
    delivered, n_batches, n_deferred, stopped, packed = 0, 0, 0, False, False
    flow = q0
    ends = [int(e) for e in aliquot_ends if 0 < e < n] + [n]
    while pending.size or head < n:
        while ends[0] <= head and not pending.size and ends[0] < n:
            ends.pop(0)
        take = max(0, min(batch - pending.size, ends[0] - head))
        idx = np.concatenate([pending, np.arange(head, head + take)])
        head += take
        routed = route_fixed_field(liver, state, net, n_sinks, diameters[idx], rng, load=load)
        at_tip = np.flatnonzero((routed.fate == tk.FATE_SUSPENDED) & routed.stacked)
        if at_tip.size:  # packed to the catheter tip: that sphere is the last one in (as in the exact kernel)
            packed = True
            idx = idx[:at_tip[0] + 1]
            routed = _first(routed, idx.size)
        deferred = np.empty(idx.size, np.int64)
        k, full_at = apply_batch(state, geo, load, parent, comp_node, sink_bed, tip, net.tip_room_length_m, keep, routed.fate,
                                 routed.where, routed.stacked, diameters[idx], ps.lodged_ped, ps.lodged_trunk,
                                 ps.lodged_comp, ps.nontarget, deferred, mark, size, cut)
        if full_at >= 0:  # earlier spheres of the batch filled the room: this one is packed to the tip, the last in
            packed = True
            idx = idx[:full_at + 1]  # (the deferred ones all come before it)
            routed = _first(routed, idx.size)
            routed.fate[full_at], routed.where[full_at] = tk.FATE_SUSPENDED, -1
        done = np.ones(idx.size, bool)
        done[deferred[:k]] = False
        ok = idx[done]
        ps.fate[ok] = routed.fate[done]
        ps.where[ok] = routed.where[done]
        ps.stacked[ok] = routed.stacked[done]
        ps.refluxed[ok] = routed.refluxed[done]
        pending = idx[~done]
        n_deferred += k
        delivered += int(done.sum())
        n_batches += 1
        new_flow = field.update()
        change = abs(new_flow - flow) / q0
        flow = new_flow
        fractions.append(flow / q0)
        after.append(delivered)
        if packed or flow <= stop_flow or (check is not None and check(ps, delivered, flow,
                                                                      not pending.size and head == ends[0])):
            stopped = True
            break
        if change < 0.5 * flow_step:
            batch = min(max_batch, 2 * batch)
        elif change > flow_step:
            batch = max(1, batch // 2)
    ps.counters[0] = delivered
    n_injected = delivered if stopped else n
    if pending.size:  # stopped with spheres handed back: not injected; the delivered ones first, in their order
        order = np.concatenate([np.setdiff1d(np.arange(head), pending, assume_unique=True), np.sort(pending),
                                np.arange(head, n)])
        for name in ("fate", "where", "stacked", "refluxed", "flow_after"):
            values = getattr(ps, name)
            values[:n] = values[:n][order]
        diameters = diameters[order]
    return BatchedDelivery(state=ps, n_injected=n_injected, flow_fraction=np.array(fractions),
                           particles_after=np.array(after, np.int64), n_batches=n_batches, n_deferred=n_deferred,
                           stopped=stopped, packed=packed, diameters=diameters)



def _first(routed, count: int):
    """The routing result (a ProcedureState) of a batch's first ``count`` particles."""
    return routed._replace(**{f: getattr(routed, f)[:count] for f in ("fate", "where", "stacked", "refluxed")})


class _Field:
    """The flow field the router reads, brought up to date after a batch's loads (:func:`deliver_batched`).

    The router's exit tables read the pedicle and compartment flows of the last substitution
    (``art_q``, ``comp_q``), not flows on demand as the exact kernel does; re-solving the trunk
    alone would leave every choice inside the subtrees on the pre-injection split (the cause of
    the +0.4-0.9 point final-flow bias of the first version, docs/sirt.md). So after each batch:
    trunk solve with the native flow, then top-down substitution of the subtrees the catheter
    feeds (those holding a node of its baseline territory). Other subtrees keep the flows of
    their last substitution: only particles that reflux out of the territory read them.
    """

    def __init__(self, liver, state, net):
        from .procedure import territory

        self.state, self.net = state, net
        inside, _ = territory(liver, state, net)
        parent = np.asarray(liver.forest.parent)
        roots = np.flatnonzero(parent < 0)
        ends = np.append(roots[1:], parent.size)  # each subtree a contiguous preorder range from its root
        self.ranges = [(int(a), int(b)) for a, b in zip(roots, ends) if inside[a:b].any()]

    def native_flow(self) -> float:
        """Trunk solve with the injection on, and the native (injection-free) catheter flow, m^3/s."""
        from .kernels.twoport import solve_trunk, solve_trunk_without

        if self.net.tip_kind == tk.TIP_TRUNK:
            return float(solve_trunk_without(self.state, self.net.tip_index, self.net.measure_edge)[1])
        solve_trunk(self.state)
        return float(tk.native_tip_flow(self.state, self.net))

    def update(self) -> float:
        """:meth:`native_flow`, then the territory's subtrees substituted; returns the native flow."""
        from .kernels.twoport import substitute_range

        q = self.native_flow()
        for a, b in self.ranges:
            substitute_range(self.state, a, b)
        return q


def prepare(scenario, liver, agent):
    """A fresh flow state of ``liver`` (a built Liver) with the injection in place (:func:`sim.procedure.inject`):
    ``(compiled liver, state, net, geo, sink_names)``."""
    from .procedure import inject
    from .simulation import placed_flow

    flow, _ = placed_flow(liver.compiled, scenario)  # as sim.run places the catheter and any coils
    net, sinks, geo, _ = inject(flow.liver, flow.state, flow.catheter, scenario, agent)
    return flow.liver, flow.state, net, geo, sinks
