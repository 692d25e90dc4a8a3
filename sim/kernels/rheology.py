"""Blood rheology and vessel conductance laws (Numba scalars and array loops).

All SI except where a law is stated in its published units (Pries: diameter in um).
The checked wrappers are in :mod:`sim.rheology`.

References
----------
.. [1] Pries A. R., Secomb T. W., Gessner T., Sperandio M. B., Gross J. F.,
   Gaehtgens P. (1994) Resistance to blood flow in microvessels in vivo.
   Circ. Res. 75:904-915, equations of the "in vivo viscosity law" ([Pries1994]).
.. [2] Bird R. B., Stewart W. E., Lightfoot E. N. (2002) Transport Phenomena,
   2nd ed., Wiley, section 2.4 (flow through an annulus), eq. 2.4-17.
"""

from __future__ import annotations

import math

from numba import njit

from ._config import NJIT_OPTS

#: Reference discharge haematocrit of the Pries law (dimensionless) [Pries1994].
_H_REF = 0.45
#: Diameter (um) at which the Pries law's (D / (D - 1.1))^2 factor diverges [Pries1994].
PRIES_MIN_DIAMETER_UM = 1.1


@njit(**NJIT_OPTS)
def pries_relative_viscosity(diameter_um, haematocrit):
    """Apparent viscosity relative to plasma, Pries et al. 1994 in vivo law [1].

    Parameters
    ----------
    diameter_um : float
        Vessel diameter, um; must exceed 1.1 um (the law's singularity).
    haematocrit : float
        Discharge haematocrit, 0 <= H < 1.

    Returns
    -------
    float
        eta_rel (dimensionless): 5.87 at 10 um, 2.28 at 50 um, 3.20 at 1000 um (H = 0.45).

    Notes
    -----
    The ratio ((1-H)^C - 1) / ((1-0.45)^C - 1) is evaluated as
    expm1(C ln(1-H)) / expm1(C ln 0.55), exact as C crosses 0 (near D = 7.9 um).
    """
    d = diameter_um
    eta45 = 6.0 * math.exp(-0.085 * d) + 3.2 - 2.44 * math.exp(-0.06 * d ** 0.645)
    s = 1.0 / (1.0 + 1e-11 * d ** 12)
    c = (0.8 + math.exp(-0.075 * d)) * (s - 1.0) + s
    if c == 0.0:
        shape = math.log1p(-haematocrit) / math.log1p(-_H_REF)
    else:
        shape = math.expm1(c * math.log1p(-haematocrit)) / math.expm1(c * math.log1p(-_H_REF))
    f = (d / (d - 1.1)) ** 2
    return (1.0 + (eta45 - 1.0) * shape * f) * f


@njit(**NJIT_OPTS)
def apparent_viscosity(diameter_m, haematocrit, plasma_viscosity_pa_s, out):
    """Pries apparent viscosity of each vessel, Pa s, written into ``out``.

    Parameters
    ----------
    diameter_m : ndarray of float64, shape (n,), m
    haematocrit : float
    plasma_viscosity_pa_s : float, Pa s
    out : ndarray of float64, shape (n,), Pa s
    """
    for i in range(diameter_m.shape[0]):
        out[i] = plasma_viscosity_pa_s * pries_relative_viscosity(diameter_m[i] * 1e6, haematocrit)


@njit(**NJIT_OPTS)
def poiseuille_conductance(radius_m, length_m, viscosity_pa_s):
    """Hagen-Poiseuille conductance G = pi r^4 / (8 mu L), m^3/(s Pa)."""
    return math.pi * radius_m ** 4 / (8.0 * viscosity_pa_s * length_m)


@njit(**NJIT_OPTS)
def annulus_fraction(k):
    """Conductance of a concentric annulus relative to the open tube, k = r_c / R [2].

    (1 - k^4) - (1 - k^2)^2 / ln(1/k): 1 at k = 0 (no catheter), 0 at k >= 1
    (catheter as wide as the vessel: wedged).
    """
    if k <= 0.0:
        return 1.0
    if k >= 1.0:
        return 0.0
    k2 = k * k
    return max((1.0 - k2 * k2) - (1.0 - k2) ** 2 / -math.log(k), 0.0)


@njit(**NJIT_OPTS)
def annulus_conductance(radius_m, inner_radius_m, length_m, viscosity_pa_s):
    """Poiseuille conductance of a concentric annulus, m^3/(s Pa) [2].

    G = pi R^4 / (8 mu L) [(1 - k^4) - (1 - k^2)^2 / ln(1/k)], k = r_c / R, for a
    rod (catheter) of radius r_c inside a tube of radius R.
    """
    return annulus_fraction(inner_radius_m / radius_m) * poiseuille_conductance(radius_m, length_m, viscosity_pa_s)


@njit(**NJIT_OPTS)
def vessel_conductance(radius_m, length_m, viscosity_pa_s, out):
    """Poiseuille conductance of each vessel, m^3/(s Pa), written into ``out``.

    Parameters
    ----------
    radius_m, length_m, viscosity_pa_s : ndarray of float64, shape (n,)
        m, m, Pa s. NaN entries give NaN.
    out : ndarray of float64, shape (n,)
    """
    for i in range(radius_m.shape[0]):
        out[i] = poiseuille_conductance(radius_m[i], length_m[i], viscosity_pa_s[i])

