"""Microscopic dose heterogeneity inside a compartment: the lobule-scale dose distribution that discrete spheres imply.

A compartment part (the tumour or normal tissue of one terminal territory) with mean dose D has, locally, the sphere
density n = D rho / (K a) that gives it (a: one sphere's activity at implantation, K: :data:`sim.y90.DOSE_GY_KG_PER_GBQ`;
with the kernel dose model D includes the neighbours' cross-fire, so n is the density that would give it). Model:

- spheres lodge in clusters (strings in arterioles, conglomerates in small arteries, [Hogberg2015]) whose centres are
  a Poisson process; the cluster size M enters only through the dispersion Q = E[M^2] / E[M]
  (``sirt.sphere_cluster_dispersion``; Q = 1 is independent spheres, i.e. Poisson counts per lobule; Q > 1 the
  overdispersed, negative-binomial-like counts of the histology);
- each sphere's energy is spread by the Y-90 point kernel (:mod:`sim.y90_kernel`); the dose of a lobule is the
  kernel-weighted sum averaged over the lobule (a sphere of ``sirt.lobule_volume_mm3``);
- by Campbell's theorem the lobule dose then has mean D and squared coefficient of variation
  CV^2 = Q / (n V_eff), with 1 / V_eff = integral of k_L^2 over space and k_L the lobule-averaged kernel
  normalised to unit integral (computed in Fourier space: (1 / 2 pi^2) integral q^2 k^(q)^2 s^(q)^2 dq, s^ the
  sphere's form factor);
- the lobule doses follow a gamma distribution with that mean and CV (moment matched: model assumption; the sum of
  many overlapping kernel contributions is skewed at low n and tends to a normal one at high n).

Consequences: at the same mean dose glass (about 2500 Bq per sphere at calibration) has about 40 times fewer spheres
than resin (about 50-70 Bq) and a CV about six times larger; infinitely many spheres give a uniform dose (CV -> 0).
The fraction of lobules below a threshold t is the gamma distribution's P(D_lobule < t). Not modelled: heterogeneity
between lobules of one compartment from the tree's own flow split (the compartment's bed is symmetric), clusters whose
size grows with the sphere concentration ([Hogberg2015]), the lower tolerance per Gy of glass being linked to this.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .dosimetry import TISSUE_DENSITY_KG_M3
from .y90 import DOSE_GY_KG_PER_GBQ, GBQ_BQ
from .y90_kernel import CUTOFF_M, cumulative_fraction

__all__ = ["effective_volume_m3", "sphere_density_per_m3", "lobule_dose_cv", "fraction_below", "micro_readouts",
           "NORMAL_THRESHOLDS_GY", "TUMOUR_THRESHOLD_GY"]

#: Normal-liver lobule dose thresholds reported (Gy): 30-40 Gy, the whole-liver tolerance of external beam therapy
#: ([Hogberg2015] uses 30 Gy).
NORMAL_THRESHOLDS_GY = (30.0, 40.0)
#: Tumour lobule dose threshold reported (Gy): the V100 threshold of :data:`sim.sirt_run.TUMOUR_DOSE_THRESHOLD_GY`.
TUMOUR_THRESHOLD_GY = 100.0


@lru_cache(maxsize=16)
def effective_volume_m3(lobule_volume_m3: float) -> float:
    """V_eff of the lobule-averaged kernel: 1 / integral of k_L^2 over space, m^3 (k_L of unit integral)."""
    a = (3.0 * lobule_volume_m3 / (4.0 * math.pi)) ** (1.0 / 3.0)
    r = np.linspace(0.0, CUTOFF_M, 4001)
    d_f = np.gradient(cumulative_fraction(r), r)  # energy share per unit radius, 1/m
    q = np.linspace(1.0, 300.0 / a, 2000)
    h_hat = np.trapezoid(d_f[None, :] * np.sinc(q[:, None] * r[None, :] / np.pi), r, axis=1)
    qa = q * a
    s_hat = 3.0 * (np.sin(qa) - qa * np.cos(qa)) / qa ** 3
    integral = np.trapezoid(q * q * (h_hat * s_hat) ** 2, q) / (2.0 * math.pi ** 2)
    return float(1.0 / integral)


def sphere_density_per_m3(mean_dose_gy, activity_per_sphere_bq: float) -> np.ndarray:
    """Spheres per m^3 that give ``mean_dose_gy`` with local deposition (``a`` Bq each at implantation)."""
    return np.asarray(mean_dose_gy, np.float64) * TISSUE_DENSITY_KG_M3 * GBQ_BQ / (
        DOSE_GY_KG_PER_GBQ * float(activity_per_sphere_bq))


def lobule_dose_cv(mean_dose_gy, activity_per_sphere_bq: float, cluster_dispersion: float,
                   lobule_volume_m3: float) -> np.ndarray:
    """Coefficient of variation of the lobule dose around ``mean_dose_gy`` (inf where the mean dose is 0), 1."""
    n = sphere_density_per_m3(mean_dose_gy, activity_per_sphere_bq)
    with np.errstate(divide="ignore"):
        return np.sqrt(cluster_dispersion / (n * effective_volume_m3(lobule_volume_m3)))


def fraction_below(threshold_gy: float, mean_dose_gy, cv) -> np.ndarray:
    """Share of lobules below ``threshold_gy`` for gamma-distributed lobule doses (mean, CV), 1.

    1 where the mean dose is 0; a step at the mean when CV is 0 (uniform dose).
    """
    from scipy.special import gammainc

    mean = np.asarray(mean_dose_gy, np.float64)
    cv = np.asarray(cv, np.float64)
    out = np.where(mean < threshold_gy, 1.0, 0.0)
    ok = (mean > 0) & (cv > 0) & np.isfinite(cv)
    shape = 1.0 / np.where(ok, cv, 1.0) ** 2
    out[ok] = gammainc(shape[ok], shape[ok] * threshold_gy / mean[ok])
    return out


def _weighted(values: np.ndarray, mass: np.ndarray) -> float:
    keep = mass > 0
    return float(np.average(values[keep], weights=mass[keep])) if keep.any() else float("nan")


def micro_readouts(tumour_gy, tumour_mass_kg, normal_gy, normal_mass_kg, activity_per_sphere_bq: float,
                   config) -> dict:
    """The ``sirt_*_fraction_under_*`` and ``*_lobule_dose_cv`` summary keys over compartment parts.

    The shares are mass-weighted over the compartment parts; the CV is that of all lobule doses of the region (the
    compartments' spread and each one's lobule spread).

    Parameters
    ----------
    tumour_gy, normal_gy : array of float, (C,), Gy
        Mean dose of each compartment's tumour and normal part.
    tumour_mass_kg, normal_mass_kg : array of float, (C,), kg
        Their masses (the read-out's tumour and normal liver: 0 outside them).
    activity_per_sphere_bq : float, Bq
    config : SirtConfig
        ``lobule_volume_mm3``, ``sphere_cluster_dispersion``.
    """
    v_l = config.lobule_volume_mm3 * 1e-9
    out = {}
    for region, dose, mass, thresholds in (("normal_liver", normal_gy, normal_mass_kg, NORMAL_THRESHOLDS_GY),
                                           ("tumour", tumour_gy, tumour_mass_kg, (TUMOUR_THRESHOLD_GY,))):
        dose, mass = np.asarray(dose, np.float64), np.asarray(mass, np.float64)
        cv = lobule_dose_cv(dose, activity_per_sphere_bq, config.sphere_cluster_dispersion, v_l)
        for t in thresholds:
            out[f"sirt_{region}_fraction_under_{t:g}gy"] = _weighted(fraction_below(t, dose, cv), mass)
        out[f"sirt_{region}_lobule_dose_cv"] = _region_cv(dose, np.where(dose > 0, cv, 0.0), mass)
    return out


def _region_cv(dose: np.ndarray, cv: np.ndarray, mass: np.ndarray) -> float:
    """CV of the lobule doses over a region: the compartments' spread and each one's lobule spread (mass-weighted)."""
    keep = mass > 0
    if not keep.any():
        return float("nan")
    w = mass[keep] / mass[keep].sum()
    mean = float((w * dose[keep]).sum())
    second = float((w * dose[keep] ** 2 * (1.0 + cv[keep] ** 2)).sum())
    return math.sqrt(max(second - mean * mean, 0.0)) / mean if mean > 0 else float("nan")
