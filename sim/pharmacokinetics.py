"""Doxorubicin of TACE: dose, where it goes, local exposure and the plasma curve (docs/tace.md).

Two carriers:

* **cTACE** (``agent.kind = "lipiodol"``): ``agent.emulsion_doxorubicin_mg`` travels in
  the emulsion's aqueous phase and is placed with the oil (:mod:`sim.lipiodol`): the
  tumour, normal liver and the oil that passes to the hepatic veins (straight into
  the blood) each get the drug in proportion to their oil. The emulsion lets it go
  with a first-order half-life, longer for a water-in-oil emulsion
  [Kan1997Emulsion] (``EMULSION_RELEASE_HALF_LIFE_S``: model assumption, weighted
  by the water-in-oil share).
* **DEB-TACE** (microspheres with ``agent.bead_doxorubicin_mg_per_ml`` > 0): the
  dose is the loading times the settled bead volume injected (a 2 mL vial at 25
  mg/mL carries 50 mg [DCBeadLoading]); it goes where the beads lodge (the particle
  fates: tumour share, normal liver, non-target branches) and elutes first-order
  with ``agent.bead_elution_half_life_d`` (10 d, derived from the tissue
  concentrations around beads in patient explants [Namur2011]).

What leaves a carrier enters the plasma (model assumption: no hepatic first-pass
extraction, no binding in tissue), whose disposition is the two-compartment model
of intravenous doxorubicin [DoxorubicinLabel]: distribution half-life 5 min,
terminal half-life 30 h (20-48), clearance 500 mL/min/m2 (324-809), steady-state
volume 1000 L/m2 (809-1214), for a body surface of 1.8 m2 (model assumption: an
adult). The central volume and the fast phase's share follow from these four
numbers (:func:`disposition`). The local exposure of a tissue is the drug still in
its carrier per tissue volume, integrated over time.

Everything inside is SI (kg, m^3, s; concentrations kg/m^3); the summary keys
(:func:`drug_summary`) are in the clinical units their names carry (mg, h, ng/mL, mg h/mL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .units import DAY_S, HOUR_S, L_M3, MG_KG, MIN_S, ML_M3, NG_ML_KG_M3

__all__ = ["Disposition", "disposition", "Release", "plasma_curve", "plasma_peak", "course_plasma_peak", "drug_summary",
           "session_drug",
           "emulsion_release_half_life_s", "summary_releases",
           "EMULSION_RELEASE_HALF_LIFE_S", "BODY_SURFACE_M2", "DOXORUBICIN", "TIME_GRID_S"]

#: Adult body surface area, m^2 (model assumption: a round adult value; Du Bois for the default patient, 70 kg and
#: 1.76 m, gives 1.86 m^2, :func:`sim.dosimetry.body_surface_area_m2`).
BODY_SURFACE_M2 = 1.8
#: Release half-life of the aqueous drug from a water-in-oil and from an oil-in-water emulsion, s: 30 and 2 min
#: (model assumption: minutes to an hour, longer for water-in-oil [Kan1997Emulsion]; not fitted to plasma data).
EMULSION_RELEASE_HALF_LIFE_S = {"water-in-oil": 30.0 * MIN_S, "oil-in-water": 2.0 * MIN_S}
#: Time grid of the plasma curve: 0 to 60 days, finer early (6 s first; numerical choice), s.
TIME_GRID_S = np.concatenate([[0.0], np.geomspace(6.0, 60.0 * DAY_S, 4000)])


@dataclass(frozen=True)
class Disposition:
    """Two-compartment plasma disposition: C(t) = dose / V1 x (f e^(-a t) + (1 - f) e^(-b t)) after a bolus.

    Attributes
    ----------
    v1_m3 : float, m^3
        Central volume.
    fast_share : float
        f, the share of the fast (distribution) phase.
    alpha_per_s, beta_per_s : float, 1/s
        Rate constants of the fast and slow phases.
    clearance_m3_s : float, m^3/s
    """

    v1_m3: float
    fast_share: float
    alpha_per_s: float
    beta_per_s: float
    clearance_m3_s: float


def disposition(distribution_half_life_s: float, terminal_half_life_s: float, clearance_m3_s: float,
                vss_m3: float) -> Disposition:
    """The two-compartment model with these half-lives (s), clearance (m^3/s) and steady-state volume (m^3).

    With ``m = Vss / CL`` the mean residence time, the fast share is
    ``f = (m / b - 1 / b^2) / (1 / a^2 - 1 / b^2 - m / a + m / b)`` and
    ``V1 = CL (f / a + (1 - f) / b)`` (AUC of a bolus = dose / CL).
    """
    a = math.log(2.0) / distribution_half_life_s
    b = math.log(2.0) / terminal_half_life_s
    m = vss_m3 / clearance_m3_s
    f = (m / b - 1.0 / b**2) / (1.0 / a**2 - 1.0 / b**2 - m / a + m / b)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"no two-compartment model has these parameters (fast share {f:.3g})")
    return Disposition(v1_m3=clearance_m3_s * (f / a + (1.0 - f) / b), fast_share=f, alpha_per_s=a, beta_per_s=b,
                       clearance_m3_s=clearance_m3_s)


#: Intravenous doxorubicin [DoxorubicinLabel] for BODY_SURFACE_M2: distribution half-life 5 min, terminal 30 h,
#: clearance 500 mL/min/m^2, steady-state volume 1000 L/m^2.
DOXORUBICIN = disposition(5.0 * MIN_S, 30.0 * HOUR_S, 500.0 * ML_M3 / MIN_S * BODY_SURFACE_M2,
                          1000.0 * L_M3 * BODY_SURFACE_M2)


@dataclass(frozen=True)
class Release:
    """An amount of drug (kg) entering the plasma first-order with ``half_life_s`` (s; 0: at once)."""

    kg: float
    half_life_s: float


def plasma_curve(releases, t_s: np.ndarray = TIME_GRID_S, pk: Disposition = DOXORUBICIN) -> np.ndarray:
    """Plasma concentration (kg/m^3) at ``t_s`` (s) from first-order releases (superposition, analytic).

    A release of D with rate k into a phase (coefficient c = share / V1, rate L) adds
    ``D c k / (k - L) (e^(-L t) - e^(-k t))`` (``D c t e^(-L t) k`` at k = L, ``D c e^(-L t)`` at once).
    """
    t = np.asarray(t_s, np.float64)
    out = np.zeros_like(t)
    phases = ((pk.fast_share / pk.v1_m3, pk.alpha_per_s), ((1.0 - pk.fast_share) / pk.v1_m3, pk.beta_per_s))
    for r in releases:
        if r.kg <= 0:
            continue
        for c, lam in phases:
            if r.half_life_s <= 0:
                out += r.kg * c * np.exp(-lam * t)
                continue
            k = math.log(2.0) / r.half_life_s
            if math.isclose(k, lam, rel_tol=1e-9):
                out += r.kg * c * k * t * np.exp(-lam * t)
            else:
                out += r.kg * c * k / (k - lam) * (np.exp(-lam * t) - np.exp(-k * t))
    return out


def plasma_peak(releases, pk: Disposition = DOXORUBICIN) -> tuple[float, float]:
    """Peak plasma concentration (kg/m^3) and its time (s) on :data:`TIME_GRID_S`."""
    c = plasma_curve(releases, TIME_GRID_S, pk)
    i = int(np.argmax(c))
    return float(c[i]), float(TIME_GRID_S[i])


def course_plasma_peak(sessions, pk: Disposition = DOXORUBICIN) -> tuple[float, float]:
    """Peak plasma concentration (kg/m^3) of a course and its time (s from the course's start): ``sessions`` are
    (start s, releases) pairs whose curves add (superposition), each evaluated on :data:`TIME_GRID_S` after every
    start.

    Examples
    --------
    >>> one = [Release(5e-5, 0.0)]
    >>> peak, _ = course_plasma_peak([(0.0, one), (0.0, one)])
    >>> round(peak / plasma_peak(one)[0], 12)  # two at once: twice one
    2.0
    """
    starts = sorted({float(start) for start, _ in sessions})
    t = np.unique(np.concatenate([start + TIME_GRID_S for start in starts]))
    c = np.zeros_like(t)
    for start, releases in sessions:
        after = t >= start
        c[after] += plasma_curve(releases, t[after] - start, pk)
    i = int(np.argmax(c))
    return float(c[i]), float(t[i])


def summary_releases(summary: dict) -> list[Release]:
    """The plasma inputs of a session from its drug keys (:func:`drug_summary`): what its carriers release, and what
    reached the blood at once."""
    at_once = summary["drug_at_once_mg"] * MG_KG
    held = summary["drug_delivered_mg"] * MG_KG - at_once
    return [Release(held, summary["drug_release_half_life_h"] * HOUR_S), Release(at_once, 0.0)]


def emulsion_release_half_life_s(water_in_oil: float) -> float:
    """Release half-life (s) of an emulsion with this water-in-oil share (:data:`EMULSION_RELEASE_HALF_LIFE_S`)."""
    return (water_in_oil * EMULSION_RELEASE_HALF_LIFE_S["water-in-oil"]
            + (1.0 - water_in_oil) * EMULSION_RELEASE_HALF_LIFE_S["oil-in-water"])


def _exposure(kg: float, half_life_s: float, volume_m3: float) -> float:
    """Time integral of the carrier's drug per tissue volume, kg s/m^3 (first-order release)."""
    if volume_m3 <= 0 or kg <= 0:
        return 0.0
    return kg * half_life_s / math.log(2.0) / volume_m3


#: mg h/mL per kg s/m^3 (the exposure's summary unit).
_EXPOSURE_UNIT = MG_KG * HOUR_S / ML_M3


def drug_summary(split_kg: dict, half_life_s: float, systemic_kg: float, tumour_m3: float, normal_m3: float) -> dict:
    """Summary keys of the drug (docs/outputs.md), in the units their names carry.

    Parameters
    ----------
    split_kg : dict
        ``{"tumour": kg, "normal": kg, "nontarget": kg}``: drug held by carriers in viable
        tumour, normal liver, and non-target beds.
    half_life_s : float, s
        Release half-life of those carriers.
    systemic_kg : float, kg
        Drug in the blood at once (oil that passed the liver).
    tumour_m3, normal_m3 : float, m^3
        Viable tumour and normal tissue of the territory (for the exposure per volume).
    """
    held = sum(split_kg.values())
    delivered = held + systemic_kg
    peak, t_peak = plasma_peak([Release(held, half_life_s), Release(systemic_kg, 0.0)])
    return {
        "drug_delivered_mg": delivered / MG_KG,
        "drug_tumour_mg": split_kg["tumour"] / MG_KG,
        "drug_normal_mg": split_kg["normal"] / MG_KG,
        "drug_nontarget_mg": (split_kg["nontarget"] + systemic_kg) / MG_KG,
        "drug_tumour_fraction": split_kg["tumour"] / delivered if delivered > 0 else float("nan"),
        "drug_release_half_life_h": half_life_s / HOUR_S,
        "drug_at_once_mg": systemic_kg / MG_KG,
        "drug_tumour_exposure_mg_h_per_ml": _exposure(split_kg["tumour"], half_life_s, tumour_m3) / _EXPOSURE_UNIT,
        "drug_normal_exposure_mg_h_per_ml": _exposure(split_kg["normal"], half_life_s, normal_m3) / _EXPOSURE_UNIT,
        "plasma_doxorubicin_peak_ng_ml": peak / NG_ML_KG_M3,
        "plasma_doxorubicin_peak_time_h": t_peak / HOUR_S,
        "plasma_doxorubicin_auc_ng_h_ml": delivered / DOXORUBICIN.clearance_m3_s / (NG_ML_KG_M3 * HOUR_S),
    }


def session_drug(scenario, comps, in_territory: np.ndarray, liquid=None, beads: dict | None = None) -> dict:
    """The drug keys of a session, or ``{}`` without drug (bland particles, or no dose).

    Parameters
    ----------
    scenario : Scenario
    comps : Compartments
    in_territory : ndarray of bool, shape (M,)
        Pedicle nodes of the territory (the viable tumour and normal volumes the exposure is per).
    liquid : LipiodolStage, optional
        The session's Lipiodol phase (cTACE).
    beads : dict, optional
        The session's drug-eluting beads (:func:`sim.simulation.loaded_beads`): their settled volume
        (``volume_ml``) and the shares of them in tumour and out of the liver.
    """
    cfg = scenario.agent
    tissue = (comps.kind == 0) & in_territory[comps.node]
    tumour_m3 = float(comps.tumour_volume_m3[tissue].sum())
    normal_m3 = float(comps.normal_volume_m3[tissue].sum())
    if liquid is not None and cfg.emulsion_doxorubicin_mg > 0:
        from .lipiodol import oil_by_tissue

        f = liquid.filled
        per_m3 = cfg.emulsion_doxorubicin_mg * MG_KG / f.injected_m3 if f.injected_m3 > 0 else 0.0  # none given: none
        tumour_oil, normal_oil = oil_by_tissue(comps, f)
        split = {"tumour": tumour_oil * per_m3, "normal": normal_oil * per_m3, "nontarget": 0.0}
        return drug_summary(split, emulsion_release_half_life_s(liquid.emulsion.water_in_oil),
                            f.systemic_m3 * per_m3, tumour_m3, normal_m3)
    if liquid is None and beads is not None:
        dose = cfg.bead_doxorubicin_mg_per_ml * MG_KG / ML_M3 * beads["volume_ml"] * ML_M3
        tumour, nontarget = beads["tumour_fraction"], beads["nontarget_fraction"]
        split = {"tumour": dose * tumour, "normal": dose * max(0.0, 1.0 - tumour - nontarget),
                 "nontarget": dose * nontarget}
        return drug_summary(split, cfg.bead_elution_half_life_d * DAY_S, 0.0, tumour_m3, normal_m3)
    return {}
