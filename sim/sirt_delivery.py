"""A Y-90 procedure by batched delivery, with each product's injection practice (docs/sirt.md).

``sim.run`` sends a Y-90 agent here instead of the exact particle sequence
(:func:`sim.procedure.run_procedure`): tens of millions of spheres are delivered by
:func:`sim.sirt_batch.deliver_batched` and the result is the same :class:`~sim.procedure.ProcedureRun`
(time-series rows from :func:`sim.procedure.row_recorder` after every batch, final state, flows).

Injection practice:

- **resin** (``y90_resin``): aliquots of ``agent.aliquot_fraction`` of the prescribed
  activity; after each, a contrast check reads the flow (SACE level, clearance, blush: the row)
  and delivery stops when the procedure endpoint (``procedure.endpoint``,
  :func:`sim.endpoints.endpoint_reached`) is reached: slow flow stops a resin injection before
  the whole activity is in (``sirt_stopped_early``, ``sirt_stop_reason = "slow_flow"``);
- **glass** (``y90_glass``): the whole dose in one saline flush, no check until the end (the
  rows still record the flow it reaches; ``sirt_stop_reason = "activity_delivered"``).

Both stop at ``procedure.max_volume_ml`` of suspension. Not modelled here: clusters of spheres
(Y-90 products are given diluted), reflux stops, an earlier session's load (such runs take the
exact sequence).
"""

from __future__ import annotations

import numpy as np

from .endpoints import endpoint_reached
from .procedure import ProcedureRun, _native_compartment_flows, baseline_tip_flow, inject, row_recorder, territory
from .sirt_batch import deliver_batched
from .units import ML_M3

__all__ = ["deliver_sirt", "aliquot_ends", "STOP_SLOW_FLOW", "STOP_DELIVERED", "STOP_MAX_VOLUME", "STOP_PACKED"]

#: ``sirt_stop_reason`` values.
STOP_SLOW_FLOW, STOP_DELIVERED, STOP_MAX_VOLUME, STOP_PACKED = "slow_flow", "activity_delivered", "max_volume", \
    "packed_to_tip"


def aliquot_ends(agent_config, prescribed: int) -> np.ndarray:
    """Sphere counts at which the aliquots of ``prescribed`` spheres end, from the scenario's ``[agent]``:
    every ``aliquot_fraction`` of them for resin, none for glass (one flush)."""
    if agent_config.kind != "y90_resin":
        return np.zeros(0, np.int64)
    share = agent_config.aliquot_fraction
    k = int(np.ceil(1.0 / share - 1e-9))
    return np.unique(np.minimum(np.round(np.arange(1, k + 1) * share * prescribed), prescribed)).astype(np.int64)


def deliver_sirt(liver, state, placement, scenario, agent, *, rng: np.random.Generator) -> tuple[ProcedureRun, dict]:
    """Deliver the prescribed spheres of a Y-90 ``agent`` with its injection practice.

    Parameters
    ----------
    liver : CompiledLiver
        With the catheter placed (``LiverFlow.liver``).
    state : FlowState
        Its flow state without load; the injection is put in place here; modified in place.
    placement : CatheterPlacement
    scenario : Scenario
    agent : Agent
        ``y90_resin`` or ``y90_glass`` with a prescribed activity.
    rng : numpy.random.Generator

    Returns
    -------
    (ProcedureRun, dict)
        The procedure, and the delivery keys of the summary: ``sirt_delivery`` ("aliquots" or "flush"),
        ``sirt_aliquots_delivered``, ``sirt_stopped_early``, ``sirt_stop_reason``,
        ``sirt_activity_delivered_fraction`` (docs/outputs.md).
    """
    net, sink_names, geo, rate = inject(liver, state, placement, scenario, agent)
    q_base = _native_compartment_flows(state, net)
    q0 = baseline_tip_flow(state, net, placement.vessel)
    proc = scenario.procedure
    in_territory, vascular_volume = territory(liver, state, net)
    row = row_recorder(liver, state, net, q0, rate, q_base, in_territory, vascular_volume, proc)
    per_m3 = agent.particles_per_suspension_m3()
    prescribed = max(1, int(round(agent.prescribed_spheres())))
    n = min(prescribed, max(1, int(proc.max_volume_ml * ML_M3 * per_m3)))
    stream_d, stream_u = rng.spawn(2)
    diameters = agent.sample_diameters(n, rng=stream_d)
    ends = aliquot_ends(scenario.agent, prescribed)
    aliquots = ends.size > 0
    lodged = [0]
    rows = [row(0, q0, agent.name, 0.0, 0.0, 0, 0)]
    checks = {"done": 0, "slow": False}

    def check(ps, delivered: int, flow: float, aliquot_done: bool) -> bool:
        lodged[0] = int(ps.lodged_comp.sum() + ps.lodged_ped.sum() + ps.lodged_trunk.sum())
        rows.append(row(delivered, flow, agent.name, delivered / per_m3, delivered / agent.particles_per_m3,
                        lodged[0], int(ps.nontarget.sum())))
        if not (aliquots and aliquot_done):
            return False
        checks["done"] += 1
        last = rows[-1]
        checks["slow"] = delivered < n and endpoint_reached(
            last["antegrade_flow_fraction"], last["clearance_time_cycles"], last["territory_blush_fraction"], proc)
        return checks["slow"]

    delivery = deliver_batched(liver, state, net, geo, sink_names, diameters, stream_u, aliquot_ends=ends,
                               check=check)
    ps = delivery.state
    done = delivery.n_injected
    ps.counters[1] = lodged[0]
    ps.counters[3] = delivery.n_batches
    if delivery.packed:  # the column reaches the catheter: what followed could only reflux
        reason, why = "packed_to_tip", STOP_PACKED
    elif checks["slow"]:
        reason, why = "endpoint", STOP_SLOW_FLOW
    elif done >= prescribed:
        reason, why = "activity_delivered", STOP_DELIVERED
    else:
        reason, why = "max_volume", STOP_MAX_VOLUME
    run = ProcedureRun(rows=rows, state=ps, flow_state=state, net=net, n_injected=done, stop_reason=reason,
                       q_base=q_base, q_final=_native_compartment_flows(state, net), tip_flow_baseline_m3s=q0,
                       tip_flow_reference_m3s=q0, q_reference=q_base,
                       geometry=geo, sink_names=sink_names, diameters_m=delivery.diameters[:done], in_territory=in_territory,
                       particle_volume_m3=np.broadcast_to(1.0 / per_m3, (done,)), agent_names=(agent.name,),
                       agent_vial_m3=agent.vial_m3, n_units=done)
    keys = {"sirt_delivery": "aliquots" if aliquots else "flush",
            "sirt_aliquots_delivered": checks["done"] if aliquots else 1,
            "sirt_stopped_early": why != STOP_DELIVERED, "sirt_stop_reason": why,
            "sirt_activity_delivered_fraction": done / prescribed}
    return run, keys
