"""Absorbed dose from a deposition of Y-90 spheres: per compartment, mean doses, dose-volume histograms (SI).

Local deposition ([EANM2021]: mean beta range 2.5-4 mm, about a lobule's width): the activity
of the spheres lodged in a tissue compartment decays in place and its energy is absorbed in
that compartment, D = K A / m (:data:`sim.y90.DOSE_GY_KG_PER_GBQ`). Within a compartment the
tumour and normal parts are dosed separately from the activity attributed to each (the
deposition attribution of :func:`sim.outcomes.tumour_share_of_lodgings` splits by volume; a
caller may give any split). Lung activity is dosed over :data:`sim.dosimetry.LUNG_MASS_KG`.

Read-outs: mean tumour, normal-liver and lung dose; the cumulative dose-volume histogram of
tumour and normal liver over compartments (:func:`dvh`); D_x (the least dose received by the
best-dosed x% of the volume, e.g. D70) and V_x (the volume share receiving at least x Gy,
e.g. V100). With a uniform deposition (each compartment's activity proportional to its
mass, tumour concentration T/N times the normal) the means are the partition model's
(:func:`sim.dosimetry.partition_doses`; tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dosimetry import LUNG_MASS_KG
from .y90 import DOSE_GY_KG_PER_GBQ, GBQ_BQ

__all__ = ["DepositionDoses", "TUMOUR_DOSE_THRESHOLD_GY", "TUMOUR_DVH_SHARE", "doses_from_deposition", "dvh",
           "dose_at_volume", "volume_at_dose"]

#: D_x read-out of the tumour: the dose at least 70% of it receives (D70, [VanRoekel2021Thesis] practice).
TUMOUR_DVH_SHARE = 0.7
#: V_x read-out of the tumour: its share receiving at least 100 Gy (V100).
TUMOUR_DOSE_THRESHOLD_GY = 100.0


@dataclass(frozen=True)
class DepositionDoses:
    """Doses of a deposition.

    Attributes
    ----------
    tumour_gy, normal_gy : ndarray of float64, (C,), Gy
        Mean dose of each compartment's tumour and normal part (0 where the part has no mass).
    tumour_mass_kg, normal_mass_kg : ndarray of float64, (C,), kg
    mean_tumour_gy, mean_normal_gy, lung_gy : float, Gy
    """

    tumour_gy: np.ndarray
    normal_gy: np.ndarray
    tumour_mass_kg: np.ndarray
    normal_mass_kg: np.ndarray
    mean_tumour_gy: float
    mean_normal_gy: float
    lung_gy: float


def _dose(activity_bq: np.ndarray, mass_kg: np.ndarray) -> np.ndarray:
    out = np.zeros_like(mass_kg)
    np.divide(DOSE_GY_KG_PER_GBQ * activity_bq / GBQ_BQ, mass_kg, out=out, where=mass_kg > 0)
    return out


def _mean(dose: np.ndarray, mass: np.ndarray) -> float:
    total = mass.sum()
    return float((dose * mass).sum() / total) if total > 0 else float("nan")


def doses_from_deposition(tumour_activity_bq, normal_activity_bq, tumour_mass_kg, normal_mass_kg, *,
                          lung_activity_bq: float = 0.0, lung_mass_kg: float = LUNG_MASS_KG) -> DepositionDoses:
    """Doses of the activity (Bq at implantation) lodged in each compartment's tumour and normal part.

    Parameters
    ----------
    tumour_activity_bq, normal_activity_bq : array of float, (C,), Bq
    tumour_mass_kg, normal_mass_kg : array of float, (C,), kg
    lung_activity_bq : float, Bq
        Activity shunted to the lungs.
    lung_mass_kg : float, kg
    """
    a_t, a_n = (np.asarray(a, np.float64) for a in (tumour_activity_bq, normal_activity_bq))
    m_t, m_n = (np.asarray(m, np.float64) for m in (tumour_mass_kg, normal_mass_kg))
    if np.any(a_t[m_t <= 0] > 0) or np.any(a_n[m_n <= 0] > 0):
        raise ValueError("activity in a compartment part without mass")
    d_t, d_n = _dose(a_t, m_t), _dose(a_n, m_n)
    return DepositionDoses(tumour_gy=d_t, normal_gy=d_n, tumour_mass_kg=m_t, normal_mass_kg=m_n,
                           mean_tumour_gy=_mean(d_t, m_t), mean_normal_gy=_mean(d_n, m_n),
                           lung_gy=DOSE_GY_KG_PER_GBQ * lung_activity_bq / GBQ_BQ / lung_mass_kg)


def dvh(dose_gy, mass_kg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative dose-volume histogram over compartments with mass.

    Returns
    -------
    (ndarray of int64, ndarray of float64, ndarray of float64)
        The compartments in ascending dose, their doses (Gy), and the mass share receiving at least each dose
        (1 at the lowest).
    """
    dose, mass = np.asarray(dose_gy, np.float64), np.asarray(mass_kg, np.float64)
    keep = np.flatnonzero(mass > 0)
    idx = keep[np.argsort(dose[keep], kind="stable")]
    m = mass[idx]
    # a share is at most 1 (the reversed cumulative sum can exceed the total by rounding)
    at_least = np.minimum(np.cumsum(m[::-1])[::-1] / m.sum(), 1.0) if idx.size else np.zeros(0)
    return idx, dose[idx], at_least


def dose_at_volume(dose_gy, mass_kg, share: float) -> float:
    """D_x: the largest dose that at least ``share`` of the mass receives (D70: share 0.7), Gy."""
    _, d, at_least = dvh(dose_gy, mass_kg)
    ok = at_least >= share - 1e-12
    return float(d[ok].max()) if ok.any() else 0.0


def volume_at_dose(dose_gy, mass_kg, threshold_gy: float) -> float:
    """V_x: the mass share receiving at least ``threshold_gy`` (V100: 100 Gy), 1."""
    dose, mass = np.asarray(dose_gy, np.float64), np.asarray(mass_kg, np.float64)
    total = mass.sum()
    return float(mass[dose >= threshold_gy].sum() / total) if total > 0 else float("nan")
