"""Angiographic endpoints: SACE level from what the angiographer sees, the endpoint test, clearance and blush.

The subjective angiographic chemoembolisation endpoint scale (SACE,
[Lewandowski2007SACE], modified from the cardiology TIMI grade) describes each
level by the antegrade flow in the catheterised vessel and the tumour blush:
I normal antegrade flow, full tumour blush; II slowed but present flow, reduced
blush; III sluggish flow, blush absent or minimal; IV stasis, no blush. A common
angiographic definition of stasis is contrast not cleared within 3-5 cardiac
cycles ([TIMIGrades]).

embosim reads three quantities an angiographer sees (docs/endpoints.md):

* **antegrade flow**: the native (injection-free) flow in the catheterised vessel
  as a fraction of its pre-procedure value;
* **contrast clearance**: the arterial lumen volume downstream of the tip over
  that flow, in cardiac cycles. With a fixed volume it is C = C0 / f (C0 the
  baseline clearance, f the flow fraction), so a clearance criterion of N cycles
  is a flow criterion f <= C0 / N;
* **tumour blush seen from the catheter** (``territory_blush_fraction``): the
  tumour-volume-weighted hepatic arterial inflow of the tumour in the catheter's
  territory relative to baseline (contrast enters a tumour only through the
  arteries the catheter feeds). ``tumour_blush_fraction`` (all tumour, every
  arterial feeder) is reported beside it: blush that other feeders or tumours
  outside the territory keep is not seen in this injection, and the label says so.

Each level is a set of criteria on these quantities ([procedure] thresholds) and
the level is the highest one whose *every* criterion holds, so a label never
claims more than was measured:

====== ============================== ============================ ==========================
level  antegrade flow reduction       clearance                    blush seen from catheter
====== ============================== ============================ ==========================
II     >= slowed_flow_reduction       -                            <= reduced_blush_fraction
III    >= sluggish_flow_reduction     -                            <= minimal_blush_fraction
IV     >= stasis_flow_reduction       >= stasis_clearance_cycles   <= absent_blush_fraction
====== ============================== ============================ ==========================

Without tumour in the territory the blush criteria hold (nothing to blush). The
near-stasis endpoint is level III with the flow reduced by near_stasis_flow_reduction
and contrast not cleared within near_stasis_clearance_cycles.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from .scenario import ProcedureConfig

__all__ = ["SACE_DEFINITIONS", "ROMAN", "STOP_REASON_WORDS", "stop_reason_words", "sace_level", "endpoint_level",
           "endpoint_threshold", "endpoint_reached", "clearance_time_cycles", "territory_blush_fraction", "TerritoryBlush",
           "sace_label", "endpoint_summary"]

#: The SACE levels in the published wording ([Lewandowski2007SACE]; wording as recorded in sim/references.bib).
SACE_DEFINITIONS = {
    1: "normal antegrade flow, full tumour blush",
    2: "slowed but present antegrade flow, reduced blush",
    3: "sluggish antegrade flow, blush absent or minimal",
    4: "stasis, no blush",
}
#: SACE levels as written in the literature.
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
#: Why an injection stopped (``stop_reason``; a Y-90 run's ``sirt_stop_reason``: docs/outputs.md), in words, for
#: the report and the figures.
STOP_REASON_WORDS = {"endpoint": "endpoint reached", "max_volume": "maximum volume given", "reflux": "reflux",
                     "activity_delivered": "activity delivered", "packed_to_tip": "columns packed to the catheter tip",
                     "slow_flow": "the flow slowed to the endpoint"}


def stop_reason_words(reason: str) -> str:
    """``reason`` (a ``stop_reason``) in words (:data:`STOP_REASON_WORDS`; an unknown one: underscores to spaces)."""
    return STOP_REASON_WORDS.get(reason, reason.replace("_", " "))


#: Words for the antegrade flow by the level its flow criterion alone reaches.
_FLOW_WORDS = {1: "normal antegrade flow", 2: "slowed antegrade flow", 3: "sluggish antegrade flow",
               4: "stasis of antegrade flow"}
_COMP_ART = 0  # hepatic arterial column of the compartment flows (sim.kernels.twoport.COMP_ART)


def _flow_level(flow_fraction: float, procedure: ProcedureConfig) -> int:
    reduction = 1.0 - flow_fraction
    for level, threshold in ((4, procedure.stasis_flow_reduction), (3, procedure.sluggish_flow_reduction),
                             (2, procedure.slowed_flow_reduction)):
        if reduction >= threshold:
            return level
    return 1


def _clearance_level(clearance_cycles: float, procedure: ProcedureConfig) -> int:
    return 4 if clearance_cycles >= procedure.stasis_clearance_cycles else 3


def _blush_level(blush_fraction: float, procedure: ProcedureConfig) -> int:
    if math.isnan(blush_fraction):  # no tumour in the territory: nothing to blush
        return 4
    for level, threshold in ((4, procedure.absent_blush_fraction), (3, procedure.minimal_blush_fraction),
                             (2, procedure.reduced_blush_fraction)):
        if blush_fraction <= threshold:
            return level
    return 1


def sace_level(flow_fraction: float, clearance_cycles: float, blush_fraction: float,
               procedure: ProcedureConfig) -> int:
    """SACE level 1-4: the highest level whose every criterion holds (table in the module docstring).

    Parameters
    ----------
    flow_fraction : float
        Native antegrade flow in the catheterised vessel / baseline (dimensionless).
    clearance_cycles : float
        Contrast clearance time, cardiac cycles (inf without antegrade flow).
    blush_fraction : float
        Tumour blush seen from the catheter (:func:`territory_blush_fraction`); NaN without tumour in the territory.
    procedure : ProcedureConfig

    Examples
    --------
    >>> from sim.scenario import ProcedureConfig
    >>> p = ProcedureConfig()
    >>> [sace_level(f, 1.0 / f, f, p) for f in (1.0, 0.6, 0.3, 0.05)]
    [1, 2, 3, 4]
    >>> sace_level(0.05, 20.0, 0.3, p)  # stasis of flow, but 30% of the blush left: not IV
    3
    """
    return min(_flow_level(flow_fraction, procedure), _clearance_level(clearance_cycles, procedure),
               _blush_level(blush_fraction, procedure))


def endpoint_level(procedure: ProcedureConfig) -> int:
    """SACE level of the scenario's endpoint: III for sluggish and near stasis, IV for stasis."""
    return 4 if procedure.endpoint == "stasis" else 3


def endpoint_threshold(procedure: ProcedureConfig) -> float:
    """Antegrade flow reduction (dimensionless) the scenario's endpoint needs (its flow criterion)."""
    return {
        "sluggish": procedure.sluggish_flow_reduction,
        "near_stasis": procedure.near_stasis_flow_reduction,
        "stasis": procedure.stasis_flow_reduction,
    }[procedure.endpoint]


def endpoint_reached(flow_fraction: float, clearance_cycles: float, blush_fraction: float,
                     procedure: ProcedureConfig) -> bool:
    """Whether the angiographic state meets the scenario's endpoint.

    The SACE level reaches the endpoint's level and the flow is reduced by
    :func:`endpoint_threshold`; near stasis also needs the contrast not cleared
    within ``near_stasis_clearance_cycles``.
    """
    if sace_level(flow_fraction, clearance_cycles, blush_fraction, procedure) < endpoint_level(procedure):
        return False
    if procedure.endpoint == "near_stasis" and clearance_cycles < procedure.near_stasis_clearance_cycles:
        return False
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


def territory_blush_fraction(volume_m3: np.ndarray, q_base: np.ndarray, q_now: np.ndarray) -> float:
    """Tumour blush seen from the catheter: volume-weighted hepatic arterial inflow now / at baseline.

    Parameters
    ----------
    volume_m3 : ndarray of float64, shape (K,), m^3
        Tumour volume of the tumour compartments in the catheter's territory.
    q_base, q_now : ndarray of float64, shape (K, 4), m^3/s
        Their compartment flows before the procedure and now (columns of
        :mod:`sim.kernels.twoport`; only the hepatic arterial inflow counts: the
        extrahepatic and portal inflows carry no contrast from this catheter).

    Returns
    -------
    float
        1 = full blush; NaN without tumour in the territory.

    Examples
    --------
    >>> q0 = np.array([[2.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 1.0]])
    >>> territory_blush_fraction(np.array([1.0, 3.0]), q0, q0 * 0.5)
    0.5
    """
    return TerritoryBlush(volume_m3, q_base[:, _COMP_ART])(q_now[:, _COMP_ART])


class TerritoryBlush:
    """:func:`territory_blush_fraction` against one baseline: what depends on it alone computed once (a procedure
    reads the blush after every chunk), then called with the hepatic arterial inflows now.

    Parameters
    ----------
    volume_m3 : ndarray of float64, shape (K,), m^3
        As for :func:`territory_blush_fraction`.
    q_base_art : ndarray of float64, shape (K,), m^3/s
        Their hepatic arterial inflows before the procedure.
    """

    def __init__(self, volume_m3: np.ndarray, q_base_art: np.ndarray):
        self.volume = volume_m3
        self.total = volume_m3.sum()
        self.base = np.maximum(q_base_art, 0.0)
        self.inflowing = self.base > 0

    def __call__(self, q_now_art: np.ndarray) -> float:
        """The blush fraction for hepatic arterial inflows ``q_now_art`` (K,), m^3/s; NaN without tumour."""
        if not self.total > 0:
            return math.nan
        ratio = np.ones_like(self.base)
        np.divide(np.maximum(q_now_art, 0.0), self.base, out=ratio, where=self.inflowing)
        return float((self.volume * ratio).sum() / self.total)


def _percent(x: float) -> str:
    return f"{100.0 * x:.0f}%"


def _shown(value: float, level_of, *, scale: float = 1.0, digits: int = 0, suffix: str = "") -> str:
    """``value x scale`` with the fewest decimals from ``digits`` on (at most three more) whose shown value has the
    level (``level_of``) the value has: a label never shows 8% beside the sluggish level when 8% is stasis."""
    text = ""
    for places in range(digits, digits + 4):
        text = f"{scale * value:.{places}f}"
        if level_of(float(text) / scale) == level_of(value):
            break
    return text + suffix


def sace_label(level: int, flow_fraction: float, clearance_cycles: float, blush_fraction: float,
               tumour_blush: float, vessel: str, procedure: ProcedureConfig) -> str:
    """The SACE level with what was measured: flow, clearance, blush seen from ``vessel`` and the tumour's blush.

    Every word is a measured value or the level its own criterion reaches, so the
    label cannot claim an absent blush where blush remains: blush that other
    feeders or tumours outside the territory keep is stated as such.

    Examples
    --------
    >>> from sim.scenario import ProcedureConfig
    >>> label = sace_label(4, 0.08, 13.6, 0.07, 0.24, "A1", ProcedureConfig())
    >>> for part in label.split("; "):
    ...     print(part)
    IV: stasis of antegrade flow (8% of baseline, contrast clearance 13.6 cardiac cycles), tumour blush from A1 7% of baseline
    24% of all tumours' arterial inflow remains (other feeders, or tumours outside A1's territory)
    """
    flow_level, blush_level, clearance_level = (partial(rule, procedure=procedure)  # each number's own level
                                                for rule in (_flow_level, _blush_level, _clearance_level))
    clearance = "contrast stands" if math.isinf(clearance_cycles) else \
        f"contrast clearance {_shown(clearance_cycles, clearance_level, digits=1)} cardiac cycles"
    text = (f"{ROMAN[level]}: {_FLOW_WORDS[_flow_level(flow_fraction, procedure)]} "
            f"({_shown(flow_fraction, flow_level, scale=100.0, suffix='%')} of baseline, {clearance}), ")
    text += (f"no tumour in {vessel}'s territory" if math.isnan(blush_fraction)
             else f"tumour blush from {vessel} {_shown(blush_fraction, blush_level, scale=100.0, suffix='%')} of baseline")
    limits = [what for what, own in (("clearance", _clearance_level(clearance_cycles, procedure)),
                                     ("tumour blush", _blush_level(blush_fraction, procedure)))
              if own == level < _flow_level(flow_fraction, procedure)]
    if limits:
        text += f" (the {' and '.join(limits)} hold{'s' if len(limits) == 1 else ''} the level at {ROMAN[level]})"
    seen = 0.0 if math.isnan(blush_fraction) else blush_fraction
    if tumour_blush > seen + 0.005:  # shown to the percent
        text += (f"; {_percent(tumour_blush)} of all tumours' arterial inflow remains (other feeders, or tumours "
                 f"outside {vessel}'s territory)")
    return text


def endpoint_summary(rows: list[dict], procedure: ProcedureConfig, vessel: str) -> dict:
    """The angiographic summary keys of a run from its recorded rows (first: baseline, last: at stop).

    Returns
    -------
    dict
        ``sace_level``, ``sace_label``, ``antegrade_flow_fraction``, ``clearance_time_cycles``,
        ``clearance_time_baseline_cycles``, ``territory_blush_fraction`` (docs/outputs.md).
    """
    last = rows[-1]
    level = int(last["sace_level"])
    return {
        "sace_level": level,
        "sace_label": sace_label(level, last["antegrade_flow_fraction"], last["clearance_time_cycles"],
                                 last["territory_blush_fraction"], last["tumour_blush_fraction"], vessel, procedure),
        "antegrade_flow_fraction": float(last["antegrade_flow_fraction"]),
        "clearance_time_cycles": float(last["clearance_time_cycles"]),
        "clearance_time_baseline_cycles": float(rows[0]["clearance_time_cycles"]),
        "territory_blush_fraction": float(last["territory_blush_fraction"]),
    }
