"""Time between sessions: what the weeks before the next session do to occlusions and to the liver.

A staged treatment (``sim.run(prior=...)``, the ``staged_bilobar`` strategy) waits
``interval.weeks`` between sessions (4-6 weeks for bilobar disease, [SeedDeckUHS]).
Three things happen in that time; rates and sources are ``[interval]`` scenario keys
(docs/strategies.md, "Time between sessions"):

* **Recanalisation.** Each vessel or bed loaded by a permanent agent reopens with
  probability p(T) = p_max (1 - exp(-T / tau)) (p_max per agent: microspheres 0.6,
  PVA 0.65, [Laurent2009]; tau 5.6 weeks from 18% at two weeks, [SheepUAE2018]); a
  reopened element is cleared whole (model assumption: the angiographic data count
  vessels, not partial plugs). Flow reconstituted around a plug by collaterals is
  not a separate mechanism: the angiographic rates count it (model assumption). A
  temporary agent (gelfoam, ``agent.permanent = false``) is resorbed: each element it
  loaded returns to the load it had before that session with probability
  1 - exp(-T / t_occ), t_occ the deficit's duration ``outcomes.temporary_occlusion_h``
  (one week; model assumption: an exponential time of that mean, so a session the
  same day keeps every gelfoam plug, and 4-6 weeks later 98-100% are gone;
  [McWilliams2011] saw 40% of gelfoam-embolised cystic arteries reopen at a month).
  The draws are one
  uniform per loaded element, in a fixed order, from a generator seeded by the
  scenario's ``procedure.seed``: the same elements' draws at every interval, so a
  longer interval reopens a superset (common random numbers).
* **Necrosis is permanent.** Tissue dead after one session stays dead: the
  cumulative necrotic share of each compartment is the largest of its sessions'
  (the expected shares of :func:`sim.outcomes.compartment_necrosis`, against the
  flows before the first session), so reopened vessels revive no tissue.
* **Regeneration.** The rest of the liver regrows a share g(T) = g_f (1 - exp(-T / tau_f))
  + g_s (1 - exp(-T / tau_s)) of the necrotic normal liver's function: a fast phase
  (g_f 0.49, tau_f 3 weeks) and a slow one (g_s 0.31, tau_s 57 weeks), fitted to the
  volume restored after living-donor hepatectomy from 1 week to 4 years ([Aoki2011];
  until 2026-12-06 one phase fitted to the first 13 weeks stopped at 0.6, below the
  source's 0.67 at a year and 0.79 at four, review 13).

The read-out that makes the interval visible is the **normal-liver function lost**:
the necrotic normal liver not yet replaced by regeneration, as a share of the normal
liver, F_k = F_(k-1) (1 - g(T_k)) + (new necrosis of session k), and its **peak**
over the course, the lowest functional reserve the patient goes through. With T = 0
the peak is the whole course's necrosis (whole-liver treatment in two sittings); with
weeks between the lobes the first lobe's loss is partly made good before the second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .kernels.embolic_load import new_load
from .scenario import IntervalConfig, Scenario

if TYPE_CHECKING:
    from .results import RunResult

__all__ = ["recanalised_fraction", "resorbed_fraction", "regenerated_fraction", "recanalise", "carried_load", "Course",
           "advance_course"]

#: Hours in a week (the interval is in weeks, a temporary plug's duration in hours).
HOURS_PER_WEEK = 168.0

#: Spawn key of the recanalisation draws (a stream of its own, apart from the procedure's).
_RECANALISATION_STREAM = 0x5EC5


def _saturating(maximum: float, weeks: float, tau_weeks: float) -> float:
    return maximum * -math.expm1(-weeks / tau_weeks)


def recanalised_fraction(cfg: IntervalConfig, agent_kind: str) -> float:
    """Share p(T) of the elements loaded by a permanent agent of ``agent_kind`` that reopen in ``cfg.weeks`` (empty: 0).

    Examples
    --------
    >>> cfg = IntervalConfig(weeks=2.0)
    >>> round(recanalised_fraction(cfg, "microspheres"), 2)
    0.18
    """
    top = cfg.pva_recanalised_max if agent_kind == "pva" else cfg.microsphere_recanalised_max
    return _saturating(top, cfg.elapsed_weeks, cfg.recanalisation_time_weeks)


def regenerated_fraction(cfg: IntervalConfig) -> float:
    """Share g(T) of the necrotic normal liver's function restored by regeneration in ``cfg.weeks``: a fast phase
    (hypertrophy, weeks) and a slow one (remodelling, months to years), fitted to [Aoki2011].

    Examples
    --------
    >>> round(regenerated_fraction(IntervalConfig(weeks=6.0)), 2), round(regenerated_fraction(IntervalConfig(weeks=52.0)), 2)
    (0.45, 0.68)
    """
    weeks = cfg.elapsed_weeks
    return (_saturating(cfg.regenerated_max, weeks, cfg.regeneration_time_weeks)
            + _saturating(cfg.regenerated_slow_max, weeks, cfg.regeneration_slow_time_weeks))


def recanalise(record: dict, fraction: float, rng: np.random.Generator, before: dict | None = None) -> dict:
    """A copy of a load record (:func:`sim.procedure.load_record`) with each loaded element reopened with ``fraction``.

    One uniform per loaded element, in a fixed order (pedicle vessels, compartment
    beds, trunk vessels, trunk beds; each by index or name), so the reopened set grows
    with ``fraction`` for the same generator state. A reopened element gets an empty
    load and keeps its whole conductance.

    ``before``: the record the session that left ``record`` started from (a temporary
    agent's resorption): only the elements that session loaded draw, and a reopened one
    returns to its load and conductance in ``before`` (by name for trunk parts: a
    catheter's ``_distal`` split either side).
    """
    out = {key: (dict(value) if isinstance(value, dict) else value.copy()) for key, value in record.items()}
    out["pedicle"] = {f: a.copy() for f, a in record["pedicle"].items()}
    out["compartment"] = {f: a.copy() for f, a in record["compartment"].items()}
    empty = new_load(1, 1)
    old_pedicle = {f: np.full_like(a, getattr(empty, f"vessel_{f}")[0]) for f, a in record["pedicle"].items()}
    old_compartment = {f: np.full_like(a, getattr(empty, f"bed_{f}")[0]) for f, a in record["compartment"].items()}
    old_ped_fraction = np.ones_like(record["pedicle_conductance_fraction"])
    old_comp_fraction = np.ones_like(record["compartment_conductance_fraction"])
    old_trunk, old_bed = {}, {}
    if before is not None:
        old_pedicle, old_compartment = before["pedicle"], before["compartment"]
        old_ped_fraction = before["pedicle_conductance_fraction"]
        old_comp_fraction = before["compartment_conductance_fraction"]
        old_trunk = {name: (value, before["trunk_conductance_fraction"][name]) for name, value in before["trunk"].items()}
        old_bed = {name: (value, before["bed_conductance_fraction"][name]) for name, value in before["bed"].items()}
    ped = np.flatnonzero(record["pedicle"]["count"] > old_pedicle["count"])
    comp = np.flatnonzero(record["compartment"]["count"] > old_compartment["count"])
    trunk = sorted(name for name, value in record["trunk"].items()
                   if value["count"] > _earlier(old_trunk, name, ({"count": 0}, 1.0))[0]["count"])
    bed = sorted(name for name, value in record["bed"].items()
                 if value["count"] > _earlier(old_bed, name, ({"count": 0}, 1.0))[0]["count"])
    reopen = rng.random(ped.size + comp.size + len(trunk) + len(bed)) < fraction
    ped_open, comp_open = ped[reopen[:ped.size]], comp[reopen[ped.size:ped.size + comp.size]]
    rest = reopen[ped.size + comp.size:]
    for f, a in out["pedicle"].items():
        a[ped_open] = old_pedicle[f][ped_open]
    for f, a in out["compartment"].items():
        a[comp_open] = old_compartment[f][comp_open]
    out["pedicle_conductance_fraction"][ped_open] = old_ped_fraction[ped_open]
    out["compartment_conductance_fraction"][comp_open] = old_comp_fraction[comp_open]
    for names, key, earlier in ((trunk, "trunk", old_trunk), (bed, "bed", old_bed)):
        chosen, rest = rest[:len(names)], rest[len(names):]
        for name in np.asarray(names, dtype=object)[chosen]:
            kept = _earlier(earlier, name, None)
            if kept is None:
                del out[key][name]
                del out[f"{key}_conductance_fraction"][name]
            else:
                out[key][name], out[f"{key}_conductance_fraction"][name] = dict(kept[0]), kept[1]
    return out


def _earlier(entries: dict, name: str, default):
    """The entry of trunk part ``name`` in an earlier record, whichever side of a catheter's ``_distal`` split it
    was recorded on (:func:`sim.procedure.restore_load`'s rule), else ``default``."""
    for candidate in (name, name.removesuffix("_distal"), f"{name}_distal"):
        if candidate in entries:
            return entries[candidate]
    return default


def resorbed_fraction(cfg: IntervalConfig, occlusion_h: float) -> float:
    """Share of the elements a temporary agent loaded that are resorbed in ``cfg.weeks``: 1 - exp(-T / t_occ), each
    plug lasting an exponential time of mean ``occlusion_h`` (``outcomes.temporary_occlusion_h``, the deficit's
    duration; model assumption). Empty interval (the same session): 0.

    Examples
    --------
    >>> round(resorbed_fraction(IntervalConfig(weeks=1.0), 168.0), 2), resorbed_fraction(IntervalConfig(), 168.0)
    (0.63, 0.0)
    """
    return _saturating(1.0, cfg.elapsed_weeks * HOURS_PER_WEEK, occlusion_h)


def carried_load(prior: RunResult | None, scenario: Scenario) -> dict | None:
    """The embolic load earlier sessions leave for this one, after ``scenario.interval.weeks``.

    The prior run's cumulative record, its permanent loads reopened with
    :func:`recanalised_fraction`; a temporary agent's session's own loads resorbed with
    :func:`resorbed_fraction` back to the load it started with (that of the sessions
    before it). At 0 weeks nothing reopens: chained injections keep every occlusion.
    """
    if prior is None:
        return None
    record = prior.state["load"]
    temporary = not prior.scenario.agent.permanent
    if temporary:
        fraction = resorbed_fraction(scenario.interval, prior.scenario.outcomes.temporary_occlusion_h)
    else:
        fraction = recanalised_fraction(scenario.interval, prior.scenario.agent.kind)
    if fraction <= 0.0:
        return record
    seeds = np.random.SeedSequence(scenario.procedure.seed, spawn_key=(_RECANALISATION_STREAM,))
    return recanalise(record, fraction, np.random.default_rng(seeds),
                      before=prior.state.get("prior_load") if temporary else None)


@dataclass(frozen=True)
class Course:
    """The liver's state over a course of sessions, after the latest.

    Attributes
    ----------
    reference_flow_m3s : ndarray, shape (C, 4)
        Compartment flows before the first session (the necrosis reference).
    tumour_dead, normal_dead : ndarray, shape (C,)
        Cumulative expected necrotic share of each compartment's tumour and normal tissue.
    tumour_necrosis : float
        Necrotic share of the viable tumour volume (cumulative).
    normal_necrosis : float
        Necrotic share of the normal liver volume (cumulative).
    function_loss : float
        Normal-liver function lost now: necrotic normal liver not yet replaced by regeneration (share).
    function_loss_peak : float
        Largest ``function_loss`` over the course (just after one of its sessions).
    """

    reference_flow_m3s: np.ndarray
    tumour_dead: np.ndarray
    normal_dead: np.ndarray
    tumour_necrosis: float
    normal_necrosis: float
    function_loss: float
    function_loss_peak: float


def _share(dead: np.ndarray, volume: np.ndarray) -> float:
    total = volume.sum()
    return float((dead * volume).sum() / total) if total > 0 else float("nan")


def advance_course(before: Course | None, cfg: IntervalConfig, tumour_now: np.ndarray, normal_now: np.ndarray,
                   tumour_vol: np.ndarray, normal_vol: np.ndarray, reference_flow_m3s: np.ndarray) -> Course:
    """The course after one more session (module docstring).

    Parameters
    ----------
    before : Course or None
        After the previous session, None for the first.
    cfg : IntervalConfig
        ``weeks`` since the previous session and the regeneration rate.
    tumour_now, normal_now : ndarray, shape (C,)
        Necrotic shares of the state after this session against the course's reference flows
        (:func:`sim.outcomes.compartment_necrosis`).
    tumour_vol, normal_vol : ndarray, shape (C,), m^3
        :func:`sim.outcomes.tissue_volumes`.
    reference_flow_m3s : ndarray, shape (C, 4)
        Flows before this session (kept only for the first).
    """
    if before is None:
        loss = _share(normal_now, normal_vol)
        return Course(reference_flow_m3s, tumour_now, normal_now, _share(tumour_now, tumour_vol), loss, loss,
                      loss)
    tumour_dead = np.maximum(before.tumour_dead, tumour_now)
    normal_dead = np.maximum(before.normal_dead, normal_now)
    added = _share(normal_dead - before.normal_dead, normal_vol)
    loss = before.function_loss * (1.0 - regenerated_fraction(cfg)) + added
    return Course(before.reference_flow_m3s, tumour_dead, normal_dead, _share(tumour_dead, tumour_vol),
                  _share(normal_dead, normal_vol), loss, max(before.function_loss_peak, loss))
