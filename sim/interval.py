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
  temporary agent (gelfoam, ``agent.permanent = false``) is resorbed: each of its
  plugs lasts an exponential time of mean t_occ, the deficit's duration of the
  necrosis (:func:`sim.outcomes.deficit_duration_h`: ``outcomes.temporary_occlusion_h``,
  a week, unless ``ischaemia_duration_h`` is set; model assumption), so a session the
  same day keeps every gelfoam plug and 4-6 weeks later 98-100% are gone
  ([McWilliams2011] saw 40% of gelfoam-embolised cystic arteries reopen at a month).
* **Each session's plugs are a layer** (:class:`LoadLayer`; same-day injections of one
  agent class are one): the load record carries, for every session, the elements it
  loaded and their state before it. A plug leaves by its own agent's rule, the newest
  layer first, and its element returns to its state before that session; a plug under
  a newer one that stays, stays too (model assumption: last in, first out). A layer
  carried over several intervals leaves as over their sum (each carry draws the
  survivors' share). The draws are one uniform per layer and element, in a fixed order,
  from a generator seeded by the scenario's ``procedure.seed``: the same draws at every
  interval, so a longer interval reopens a superset (common random numbers). (Until
  2026-12-07 the whole record followed the last session's agent: chained gelfoam kept
  the earlier injections' plugs for good, and microspheres under a later gelfoam
  session never reopened; review 40.)
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
from .units import HOUR_S, HOURS_PER_WEEK

if TYPE_CHECKING:
    from .results import RunResult

__all__ = ["recanalised_fraction", "resorbed_fraction", "regenerated_fraction", "LoadLayer", "session_layer",
           "stack_session", "carry", "carried_load", "Course", "advance_course"]

#: Spawn key of the recanalisation draws (a stream of its own, apart from the procedure's).
_RECANALISATION_STREAM = 0x5EC5


def _saturating(maximum: float, weeks: float, tau_weeks: float) -> float:
    return maximum * -math.expm1(-weeks / tau_weeks)


def recanalised_fraction(cfg: IntervalConfig, agent_kind: str, weeks: float | None = None) -> float:
    """Share p(T) of the elements loaded by a permanent agent of ``agent_kind`` that reopen in ``weeks`` (default
    ``cfg.weeks``, empty: 0), at ``cfg``'s rates.

    Examples
    --------
    >>> cfg = IntervalConfig(weeks=2.0)
    >>> round(recanalised_fraction(cfg, "microspheres"), 2)
    0.18
    """
    top = cfg.pva_recanalised_max if agent_kind == "pva" else cfg.microsphere_recanalised_max
    return _saturating(top, cfg.elapsed_weeks if weeks is None else weeks, cfg.recanalisation_time_weeks)


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


@dataclass(frozen=True)
class LoadLayer:
    """What one session added to the cumulative load record: the elements it loaded, each with its state before it.

    Consecutive sessions on the same day with the same kind of agent are one layer (one
    procedure's injections). Layers leave in the reverse order they came (last in,
    first out): a plug leaves only once the plugs put over it later have left, and its
    element returns to its state before the plug's session.

    Attributes
    ----------
    week : float, weeks
        The session's time on the course's clock (weeks since the first session).
    permanent : bool
        A permanent agent (recanalises, :func:`recanalised_fraction`) or a temporary one (resorbs).
    kind : str
        ``agent.kind`` (its recanalisation maximum).
    occlusion_h : float, h
        Mean life of a temporary plug (:func:`sim.outcomes.deficit_duration_h`); inf for a permanent agent.
    pedicle, compartment : ndarray of int64
        Pedicle vessels and compartment beds it loaded.
    pedicle_before, compartment_before : dict of str to ndarray
        Their load fields before it (aligned with the indices).
    pedicle_fraction_before, compartment_fraction_before : ndarray of float64
        Their conductance fractions before it.
    trunk_before, bed_before : dict
        Trunk vessels and non-target beds it loaded, by name without a catheter's ``_distal`` suffix: the
        ``(name, entry, fraction)`` of each of its parts in the record before it (both sides of a split; none
        where it held nothing).
    draws : ndarray of float64 or None
        One uniform per element (pedicle vessels, compartment beds, trunk vessels, trunk beds, in that order), drawn
        at the layer's first carry and kept for its life: an element leaves at the first carry that finds it exposed
        with its uniform below the layer's share left by then (:func:`_left_share`). None before the first carry.
    """

    week: float
    permanent: bool
    kind: str
    occlusion_h: float
    pedicle: np.ndarray
    pedicle_before: dict
    pedicle_fraction_before: np.ndarray
    compartment: np.ndarray
    compartment_before: dict
    compartment_fraction_before: np.ndarray
    trunk_before: dict
    bed_before: dict
    draws: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Elements it holds."""
        return self.pedicle.size + self.compartment.size + len(self.trunk_before) + len(self.bed_before)


def _canonical(name: str) -> str:
    """A trunk part's vessel, whichever side of a catheter's ``_distal`` split it was recorded on
    (:func:`sim.procedure.restore_load`'s rule)."""
    return name.removesuffix("_distal")


def _named(part: dict, fractions: dict) -> dict:
    """Trunk part entries of a record by vessel: canonical name -> tuple of (name, entry, fraction), one per side of
    a catheter's split it was recorded on."""
    out: dict[str, tuple] = {}
    for name, entry in sorted(part.items()):
        out[_canonical(name)] = out.get(_canonical(name), ()) + ((name, entry, fractions[name]),)
    return out


def _count(parts: tuple) -> int:
    return sum(entry["count"] for _, entry, _ in parts)


def _empty_like(record: dict, key: str, prefix: str) -> dict:
    empty = new_load(1, 1)
    return {f: np.full_like(a, getattr(empty, f"{prefix}_{f}")[0]) for f, a in record[key].items()}


def session_layer(before: dict | None, after: dict, scenario: Scenario, week: float) -> LoadLayer:
    """The layer a session on ``scenario`` adds: the elements whose particle count rose from ``before`` (the load it
    started from, None: nothing) to ``after`` (its record), with their state in ``before``. Its rule is the session
    agent's (``agent.kind``, ``agent.permanent``), for the particles of a ``procedure.agent_sequence`` too (model
    assumption)."""
    from .outcomes import deficit_duration_h

    permanent = scenario.agent.permanent
    if before is None:
        ped_old, comp_old = _empty_like(after, "pedicle", "vessel"), _empty_like(after, "compartment", "bed")
        ped_frac = np.ones_like(after["pedicle_conductance_fraction"])
        comp_frac = np.ones_like(after["compartment_conductance_fraction"])
        trunk_old, bed_old = {}, {}
    else:
        ped_old, comp_old = before["pedicle"], before["compartment"]
        ped_frac, comp_frac = before["pedicle_conductance_fraction"], before["compartment_conductance_fraction"]
        trunk_old = _named(before["trunk"], before["trunk_conductance_fraction"])
        bed_old = _named(before["bed"], before["bed_conductance_fraction"])
    ped = np.flatnonzero(after["pedicle"]["count"] > ped_old["count"])
    comp = np.flatnonzero(after["compartment"]["count"] > comp_old["count"])
    parts = []
    for key, old in (("trunk", trunk_old), ("bed", bed_old)):
        now = _named(after[key], after[f"{key}_conductance_fraction"])
        parts.append({vessel: old.get(vessel, ()) for vessel, held in now.items()
                      if _count(held) > _count(old.get(vessel, ()))})
    return LoadLayer(float(week), bool(permanent), scenario.agent.kind,
                     math.inf if permanent else deficit_duration_h(scenario.outcomes, False),
                     ped, {f: a[ped].copy() for f, a in ped_old.items()}, ped_frac[ped].copy(),
                     comp, {f: a[comp].copy() for f, a in comp_old.items()}, comp_frac[comp].copy(), *parts)


def _merged(earlier: LoadLayer, later: LoadLayer) -> LoadLayer:
    """One layer of two consecutive same-day sessions of one agent class: the union of their elements, each with its
    state before the first of them that loaded it."""
    def union(idx_a, before_a, frac_a, idx_b, before_b, frac_b):
        new = ~np.isin(idx_b, idx_a)
        idx = np.concatenate([idx_a, idx_b[new]])
        order = np.argsort(idx, kind="stable")
        before = {f: np.concatenate([before_a[f], before_b[f][new]])[order] for f in before_a}
        return idx[order], before, np.concatenate([frac_a, frac_b[new]])[order]

    ped = union(earlier.pedicle, earlier.pedicle_before, earlier.pedicle_fraction_before,
                later.pedicle, later.pedicle_before, later.pedicle_fraction_before)
    comp = union(earlier.compartment, earlier.compartment_before, earlier.compartment_fraction_before,
                 later.compartment, later.compartment_before, later.compartment_fraction_before)
    trunk = dict(sorted({**later.trunk_before, **earlier.trunk_before}.items()))
    bed = dict(sorted({**later.bed_before, **earlier.bed_before}.items()))
    # (a layer of the same week has not been carried: no draws yet)
    return LoadLayer(earlier.week, earlier.permanent, earlier.kind, earlier.occlusion_h, *ped, *comp, trunk, bed)


def stack_session(before: dict | None, after: dict, scenario: Scenario) -> dict:
    """``after`` (a session's :func:`sim.procedure.load_record`, modified in place and returned) with the course's
    clock (``"week"``: ``before``'s, the carried load it started from, else 0) and its layers (``"layers"``:
    ``before``'s and this session's, merged with the last when on the same day with the same agent class)."""
    week = 0.0 if before is None else float(before.get("week", 0.0))
    layers = [] if before is None else list(before.get("layers", []))
    layer = session_layer(before, after, scenario, week)
    if layer.size:
        last = layers[-1] if layers else None
        if last is not None and (last.week, last.permanent, last.kind, last.occlusion_h) == (
                layer.week, layer.permanent, layer.kind, layer.occlusion_h):
            layers[-1] = _merged(last, layer)
        else:
            layers.append(layer)
    after["week"], after["layers"] = week, layers
    return after


def _left_share(layer: LoadLayer, cfg: IntervalConfig, now_week: float) -> float:
    """Share of ``layer``'s plugs gone by ``now_week`` (weeks on the course's clock), had nothing held them, at the
    layer's age: :func:`recanalised_fraction` (permanent) or :func:`resorbed_fraction` (temporary)."""
    age = now_week - layer.week
    if layer.permanent:
        return recanalised_fraction(cfg, layer.kind, age)
    return resorbed_fraction(cfg, layer.occlusion_h, age)


def carry(record: dict, cfg: IntervalConfig, weeks: float, rng: np.random.Generator) -> dict:
    """A copy of a layered load record (:func:`stack_session`) ``weeks`` later: newest layer first, each element of a
    layer leaves when no newer plug holds it and its uniform is below the layer's :func:`_left_share`, returning to
    its state before that layer; an element that stays holds the older layers' plugs under it (:class:`LoadLayer`).

    A layer's uniforms are drawn at its first carry (newest layer first, its elements in a fixed order: pedicle
    vessels, compartment beds, trunk vessels, trunk beds, by index or name) and kept: a longer interval reopens a
    superset of the same elements (common random numbers), a layer carried over several intervals leaves as over
    their sum, and a plug held under a newer one leaves as soon as that one has gone, if its time has come.
    The rates are ``cfg``'s (the carrying session's ``[interval]``) for every layer. A record without layers (not
    from :func:`sim.run`) carries unchanged.
    """
    out = {key: (dict(value) if isinstance(value, dict) else np.copy(value)) for key, value in record.items()
           if key not in ("layers", "week")}
    out["pedicle"] = {f: a.copy() for f, a in record["pedicle"].items()}
    out["compartment"] = {f: a.copy() for f, a in record["compartment"].items()}
    now = float(record.get("week", 0.0)) + weeks
    layers = list(record.get("layers", []))
    fresh = rng.random(sum(layer.size for layer in layers if layer.draws is None))
    blocked_ped = np.zeros(out["pedicle_conductance_fraction"].shape, bool)
    blocked_comp = np.zeros(out["compartment_conductance_fraction"].shape, bool)
    blocked_named: dict[str, set] = {"trunk": set(), "bed": set()}
    kept_layers = []
    for layer in reversed(layers):
        if layer.draws is None:
            u, fresh = fresh[:layer.size], fresh[layer.size:]
        else:
            u = layer.draws
        leaves, kept_u = u < _left_share(layer, cfg, now), []
        arrays = []
        for idx, before, fraction, blocked, key in (
                (layer.pedicle, layer.pedicle_before, layer.pedicle_fraction_before, blocked_ped, "pedicle"),
                (layer.compartment, layer.compartment_before, layer.compartment_fraction_before, blocked_comp,
                 "compartment")):
            (mine, leaves), (draws, u) = (leaves[:idx.size], leaves[idx.size:]), (u[:idx.size], u[idx.size:])
            go = mine & ~blocked[idx]
            blocked[idx[~go]] = True
            for f, a in out[key].items():
                a[idx[go]] = before[f][go]
            out[f"{key}_conductance_fraction"][idx[go]] = fraction[go]
            arrays.append((idx[~go], {f: b[~go] for f, b in before.items()}, fraction[~go]))
            kept_u.append(draws[~go])
        named = []
        for key, held in (("trunk", layer.trunk_before), ("bed", layer.bed_before)):
            (mine, leaves), (draws, u) = (leaves[:len(held)], leaves[len(held):]), (u[:len(held)], u[len(held):])
            stays = {}
            for (vessel, earlier), go, draw in zip(held.items(), mine, draws):
                if not go or vessel in blocked_named[key]:
                    blocked_named[key].add(vessel)
                    stays[vessel] = earlier
                    kept_u.append([draw])
                    continue
                for name in [n for n in out[key] if _canonical(n) == vessel]:
                    del out[key][name], out[f"{key}_conductance_fraction"][name]
                for name, entry, fraction in earlier:
                    out[key][name], out[f"{key}_conductance_fraction"][name] = dict(entry), fraction
            named.append(stays)
        kept = LoadLayer(layer.week, layer.permanent, layer.kind, layer.occlusion_h, *arrays[0], *arrays[1], *named,
                         draws=np.concatenate([np.asarray(d, np.float64) for d in kept_u]))
        if kept.size:
            kept_layers.append(kept)
    out["layers"], out["week"] = kept_layers[::-1], now
    return out


def carried_load(prior: RunResult | None, scenario: Scenario) -> dict | None:
    """The embolic load earlier sessions leave for this one, after ``scenario.interval.weeks``.

    The prior run's cumulative record, each session's plugs leaving by its agent's rule
    (:func:`carry`: permanent agents recanalise, :func:`recanalised_fraction`; temporary ones
    resorb, :func:`resorbed_fraction`; newest first). At 0 weeks nothing leaves: chained
    injections keep every occlusion, and the record is the prior's own.
    """
    if prior is None:
        return None
    record = prior.state["load"]
    weeks = scenario.interval.elapsed_weeks
    if weeks <= 0.0:
        return record
    # the layers drawn at this carry are those of the sessions since the last one (at the record's week): a stream per
    # week carried from, so they do not repeat an earlier carry's draws (review 42); the first carry's is the course's
    since_s = round(float(record.get("week", 0.0)) * HOURS_PER_WEEK * HOUR_S)  # (review 43: hours merged short carries)
    key = (_RECANALISATION_STREAM,) if since_s == 0 else (_RECANALISATION_STREAM, since_s)
    seeds = np.random.SeedSequence(scenario.procedure.seed, spawn_key=key)
    return carry(record, scenario.interval, weeks, np.random.default_rng(seeds))


def resorbed_fraction(cfg: IntervalConfig, occlusion_h: float, weeks: float | None = None) -> float:
    """Share of the elements a temporary agent loaded that are resorbed in ``weeks`` (default ``cfg.weeks``):
    1 - exp(-T / t_occ), each plug lasting an exponential time of mean ``occlusion_h``
    (:func:`sim.outcomes.deficit_duration_h`: the deficit's duration, ``outcomes.temporary_occlusion_h`` unless
    ``ischaemia_duration_h`` is set; model assumption). Empty interval (the same session): 0.

    Examples
    --------
    >>> round(resorbed_fraction(IntervalConfig(weeks=1.0), 168.0), 2), resorbed_fraction(IntervalConfig(), 168.0)
    (0.63, 0.0)
    """
    return _saturating(1.0, (cfg.elapsed_weeks if weeks is None else weeks) * HOURS_PER_WEEK, occlusion_h)


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
