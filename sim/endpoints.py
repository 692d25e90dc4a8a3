"""Angiographic endpoints: SACE level, endpoint test and contrast clearance time.

The subjective angiographic chemoembolisation endpoint scale (SACE, Lewandowski
et al., JVIR 2007;18:1249) grades the antegrade flow in the catheterised vessel:
I normal flow and full tumour blush; II slowed but present flow, reduced blush;
III sluggish flow, blush absent or minimal; IV stasis, no blush. embosim reads
the level from the reduction of the native (pressure-driven) antegrade flow in
the catheterised vessel relative to baseline, with thresholds from the
``[procedure]`` section ([EndpointThresholds]: sluggish at about 55-60%, near stasis
about 75%, stasis at 90-95% or more). Near stasis is the upper part of level III.

Contrast clearance time is the arterial blood volume downstream of the tip
divided by the native antegrade flow, in cardiac cycles: a stasis definition in
common use is contrast not cleared within 3-5 cardiac cycles ([TIMIGrades]).
"""

from __future__ import annotations

import math

from .scenario import ProcedureConfig

__all__ = ["SACE_LABELS", "sace_level", "endpoint_threshold", "endpoint_reached", "clearance_time_cycles"]

SACE_LABELS = {
    1: "I: normal antegrade flow, full tumour blush",
    2: "II: slowed but present antegrade flow, reduced blush",
    3: "III: sluggish antegrade flow, blush minimal",
    4: "IV: stasis, no blush",
}


def sace_level(flow_fraction: float, procedure: ProcedureConfig) -> int:
    """SACE level 1-4 for an antegrade flow fraction (current / baseline, dimensionless).

    Examples
    --------
    >>> from sim.scenario import ProcedureConfig
    >>> [sace_level(f, ProcedureConfig()) for f in (1.0, 0.6, 0.3, 0.05)]
    [1, 2, 3, 4]
    """
    reduction = 1.0 - flow_fraction
    if reduction >= procedure.stasis_flow_reduction:
        return 4
    if reduction >= procedure.sluggish_flow_reduction:
        return 3
    if reduction >= procedure.slowed_flow_reduction:
        return 2
    return 1


def endpoint_threshold(procedure: ProcedureConfig) -> float:
    """Flow reduction (dimensionless) at which the scenario's endpoint is reached."""
    return {
        "sluggish": procedure.sluggish_flow_reduction,
        "near_stasis": procedure.near_stasis_flow_reduction,
        "stasis": procedure.stasis_flow_reduction,
    }[procedure.endpoint]


def endpoint_reached(flow_fraction: float, procedure: ProcedureConfig) -> bool:
    """Whether the antegrade flow fraction has fallen to the scenario's endpoint."""
    return 1.0 - flow_fraction >= endpoint_threshold(procedure)


def clearance_time_cycles(vascular_volume_m3: float, flow_m3s: float, cardiac_cycle_s: float) -> float:
    """Contrast clearance time of a territory in cardiac cycles (inf without antegrade flow).

    Parameters
    ----------
    vascular_volume_m3 : float, m^3
        Arterial lumen volume downstream of the catheter tip.
    flow_m3s : float, m^3/s
        Native antegrade flow through it.
    cardiac_cycle_s : float, s
    """
    if flow_m3s <= 0.0:
        return math.inf
    return vascular_volume_m3 / flow_m3s / cardiac_cycle_s
