"""Doxorubicin of TACE: dose, where it goes, local exposure and the plasma curve (docs/tace.md).

Two carriers:

* **cTACE** (``agent.kind = "lipiodol"``): ``agent.emulsion_doxorubicin_mg`` travels in
  the emulsion's aqueous phase and is placed with the oil (:mod:`sim.lipiodol`): the
  tumour, normal liver and the oil that passes to the hepatic veins (straight into
  the blood) each get the drug in proportion to their oil. The emulsion lets it go
  with a first-order half-life, longer for a water-in-oil emulsion
  [Kan1997Emulsion] (``EMULSION_RELEASE_HALF_LIFE_MIN``: model assumption, weighted
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
its carrier per tissue volume, integrated over time (mg h/mL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Disposition", "disposition", "Release", "plasma_curve", "plasma_peak", "drug_summary", "session_drug",
           "emulsion_release_half_life_h", "summary_releases",
           "EMULSION_RELEASE_HALF_LIFE_MIN", "BODY_SURFACE_M2", "DOXORUBICIN"]

#: Adult body surface area, m^2 (model assumption).
BODY_SURFACE_M2 = 1.8
#: Release half-life of the aqueous drug from a water-in-oil and from an oil-in-water emulsion, min (model
#: assumption: minutes to an hour, longer for water-in-oil [Kan1997Emulsion]; not fitted to plasma data).
EMULSION_RELEASE_HALF_LIFE_MIN = {"water-in-oil": 30.0, "oil-in-water": 2.0}
#: Time grid of the plasma curve: 0 to 60 days, finer early (numerical choice), h.
TIME_GRID_H = np.concatenate([[0.0], np.geomspace(1.0 / 600.0, 60.0 * 24.0, 4000)])


@dataclass(frozen=True)
class Disposition:
    """Two-compartment plasma disposition: C(t) = dose / V1 x (f e^(-a t) + (1 - f) e^(-b t)) after a bolus.

    Attributes
    ----------
    v1_l : float, L
        Central volume.
    fast_share : float
        f, the share of the fast (distribution) phase.
    alpha_per_h, beta_per_h : float, 1/h
        Rate constants of the fast and slow phases.
    clearance_l_h : float, L/h
    """

    v1_l: float
    fast_share: float
    alpha_per_h: float
    beta_per_h: float
    clearance_l_h: float


def disposition(distribution_half_life_h: float, terminal_half_life_h: float, clearance_l_h: float,
                vss_l: float) -> Disposition:
    """The two-compartment model with these half-lives, clearance and steady-state volume.

    With ``m = Vss / CL`` the mean residence time, the fast share is
    ``f = (m / b - 1 / b^2) / (1 / a^2 - 1 / b^2 - m / a + m / b)`` and
    ``V1 = CL (f / a + (1 - f) / b)`` (AUC of a bolus = dose / CL).
    """
    a = math.log(2.0) / distribution_half_life_h
    b = math.log(2.0) / terminal_half_life_h
    m = vss_l / clearance_l_h
    f = (m / b - 1.0 / b**2) / (1.0 / a**2 - 1.0 / b**2 - m / a + m / b)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"no two-compartment model has these parameters (fast share {f:.3g})")
    return Disposition(v1_l=clearance_l_h * (f / a + (1.0 - f) / b), fast_share=f, alpha_per_h=a, beta_per_h=b,
                       clearance_l_h=clearance_l_h)


#: Intravenous doxorubicin [DoxorubicinLabel] for BODY_SURFACE_M2.
DOXORUBICIN = disposition(5.0 / 60.0, 30.0, 0.5 * 60.0 * BODY_SURFACE_M2, 1000.0 * BODY_SURFACE_M2)


@dataclass(frozen=True)
class Release:
    """An amount of drug entering the plasma first-order (``half_life_h`` = 0: at once), mg."""

    mg: float
    half_life_h: float


def plasma_curve(releases, t_h: np.ndarray = TIME_GRID_H, pk: Disposition = DOXORUBICIN) -> np.ndarray:
    """Plasma concentration (mg/L = ug/mL) at ``t_h`` from first-order releases (superposition, analytic).

    A release of D with rate k into a phase (coefficient c = share / V1, rate L) adds
    ``D c k / (k - L) (e^(-L t) - e^(-k t))`` (``D c t e^(-L t) k`` at k = L, ``D c e^(-L t)`` at once).
    """
    t = np.asarray(t_h, np.float64)
    out = np.zeros_like(t)
    phases = ((pk.fast_share / pk.v1_l, pk.alpha_per_h), ((1.0 - pk.fast_share) / pk.v1_l, pk.beta_per_h))
    for r in releases:
        if r.mg <= 0:
            continue
        for c, lam in phases:
            if r.half_life_h <= 0:
                out += r.mg * c * np.exp(-lam * t)
                continue
            k = math.log(2.0) / r.half_life_h
            if math.isclose(k, lam, rel_tol=1e-9):
                out += r.mg * c * k * t * np.exp(-lam * t)
            else:
                out += r.mg * c * k / (k - lam) * (np.exp(-lam * t) - np.exp(-k * t))
    return out


def plasma_peak(releases, pk: Disposition = DOXORUBICIN) -> tuple[float, float]:
    """Peak plasma concentration (ng/mL) and its time (h) on :data:`TIME_GRID_H`."""
    c = plasma_curve(releases, TIME_GRID_H, pk)
    i = int(np.argmax(c))
    return float(c[i] * 1e3), float(TIME_GRID_H[i])


def summary_releases(summary: dict) -> list[Release]:
    """The plasma inputs of a session from its drug keys (:func:`drug_summary`): what its carriers release, and what
    reached the blood at once."""
    at_once = summary["drug_at_once_mg"]
    return [Release(summary["drug_delivered_mg"] - at_once, summary["drug_release_half_life_h"]), Release(at_once, 0.0)]


def emulsion_release_half_life_h(water_in_oil: float) -> float:
    """Release half-life (h) of an emulsion with this water-in-oil share (:data:`EMULSION_RELEASE_HALF_LIFE_MIN`)."""
    return (water_in_oil * EMULSION_RELEASE_HALF_LIFE_MIN["water-in-oil"]
            + (1.0 - water_in_oil) * EMULSION_RELEASE_HALF_LIFE_MIN["oil-in-water"]) / 60.0


def _exposure(mg: float, half_life_h: float, volume_ml: float) -> float:
    """Time integral of the carrier's drug per tissue volume, mg h/mL (first-order release)."""
    if volume_ml <= 0 or mg <= 0:
        return 0.0
    return mg * half_life_h / math.log(2.0) / volume_ml


def drug_summary(split_mg: dict, half_life_h: float, systemic_mg: float, tumour_ml: float, normal_ml: float) -> dict:
    """Summary keys of the drug (docs/outputs.md).

    Parameters
    ----------
    split_mg : dict
        ``{"tumour": mg, "normal": mg, "nontarget": mg}``: drug held by carriers in viable
        tumour, normal liver, and non-target beds.
    half_life_h : float, h
        Release half-life of those carriers.
    systemic_mg : float
        Drug in the blood at once (oil that passed the liver).
    tumour_ml, normal_ml : float, mL
        Viable tumour and normal tissue of the territory (for the exposure per mL).
    """
    held = sum(split_mg.values())
    delivered = held + systemic_mg
    peak, t_peak = plasma_peak([Release(held, half_life_h), Release(systemic_mg, 0.0)])
    return {
        "drug_delivered_mg": delivered,
        "drug_tumour_mg": split_mg["tumour"],
        "drug_normal_mg": split_mg["normal"],
        "drug_nontarget_mg": split_mg["nontarget"] + systemic_mg,
        "drug_tumour_fraction": split_mg["tumour"] / delivered if delivered > 0 else float("nan"),
        "drug_release_half_life_h": half_life_h,
        "drug_at_once_mg": systemic_mg,
        "drug_tumour_exposure_mg_h_per_ml": _exposure(split_mg["tumour"], half_life_h, tumour_ml),
        "drug_normal_exposure_mg_h_per_ml": _exposure(split_mg["normal"], half_life_h, normal_ml),
        "plasma_doxorubicin_peak_ng_ml": peak,
        "plasma_doxorubicin_peak_time_h": t_peak,
        "plasma_doxorubicin_auc_ng_h_ml": delivered / DOXORUBICIN.clearance_l_h * 1e3,
    }


def session_drug(scenario, summary: dict, comps, in_territory: np.ndarray, liquid=None) -> dict:
    """The drug keys of a session, or ``{}`` without drug (bland particles, or no dose).

    Parameters
    ----------
    scenario : Scenario
    summary : dict
        The session's summary so far (particle fates: ``tumour_particle_fraction``,
        ``nontarget_particle_fraction``, ``particle_volume_ml``).
    comps : Compartments
    in_territory : ndarray of bool, shape (M,)
        Pedicle nodes of the territory (the viable tumour and normal volumes the exposure is per).
    liquid : LipiodolStage, optional
        The session's Lipiodol phase (cTACE).
    """
    from .units import ML_M3

    cfg = scenario.agent
    tissue = (comps.kind == 0) & in_territory[comps.node]
    tumour_ml = float(comps.tumour_volume_m3[tissue].sum()) / ML_M3
    normal_ml = float((comps.volume_m3 - comps.tumour_volume_m3 - comps.necrotic_volume_m3)[tissue].sum()) / ML_M3
    if liquid is not None and cfg.emulsion_doxorubicin_mg > 0:
        from .lipiodol import oil_by_tissue

        f = liquid.filled
        per_m3 = cfg.emulsion_doxorubicin_mg / f.injected_m3 if f.injected_m3 > 0 else 0.0  # none given: no drug
        tumour_oil, normal_oil = oil_by_tissue(comps, f)
        split = {"tumour": tumour_oil * per_m3, "normal": normal_oil * per_m3, "nontarget": 0.0}
        return drug_summary(split, emulsion_release_half_life_h(liquid.emulsion.water_in_oil),
                            f.systemic_m3 * per_m3, tumour_ml, normal_ml)
    if liquid is None and cfg.kind == "microspheres" and cfg.bead_doxorubicin_mg_per_ml > 0:
        dose = cfg.bead_doxorubicin_mg_per_ml * summary["particle_volume_ml"]
        tumour, nontarget = summary["tumour_particle_fraction"], summary["nontarget_particle_fraction"]
        split = {"tumour": dose * tumour, "normal": dose * max(0.0, 1.0 - tumour - nontarget),
                 "nontarget": dose * nontarget}
        return drug_summary(split, cfg.bead_elution_half_life_d * 24.0, 0.0, tumour_ml, normal_ml)
    return {}
