"""Blood viscosity and vessel conductance laws, checked numpy wrappers.

The laws themselves are Numba kernels in :mod:`sim.kernels.rheology`; these
wrappers broadcast, check ranges and convert to float64. SI throughout.

The default haematocrit (0.45) and plasma viscosity (1.2 mPa s) are the
scenario's ``[flow]`` defaults (:class:`sim.scenario.FlowConfig`, source [Pries1994]).

Examples
--------
>>> from sim.rheology import relative_viscosity
>>> [round(float(v), 2) for v in relative_viscosity([10e-6, 50e-6, 1000e-6])]
[5.87, 2.28, 3.2]

References
----------
.. [1] Pries et al. (1994) Circ. Res. 75:904-915 (in vivo viscosity law).
.. [2] Bird, Stewart, Lightfoot (2002) Transport Phenomena, 2nd ed., section 2.4, eq. 2.4-17.
"""

from __future__ import annotations

import numpy as np

from .kernels import rheology as _k
from .scenario import FlowConfig
from .units import MPA_S_PA_S

__all__ = ["DEFAULT_HAEMATOCRIT", "DEFAULT_PLASMA_VISCOSITY_PA_S", "relative_viscosity", "apparent_viscosity",
           "poiseuille_conductance", "annulus_conductance"]

#: Discharge haematocrit (dimensionless), the scenario default ([Pries1994]).
DEFAULT_HAEMATOCRIT: float = FlowConfig.model_fields["haematocrit"].default
#: Plasma viscosity, Pa s, the scenario default ([Pries1994]: 1.2-1.3 mPa s).
DEFAULT_PLASMA_VISCOSITY_PA_S: float = FlowConfig.model_fields["plasma_viscosity_mPa_s"].default * MPA_S_PA_S


def _float_array(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (got a NaN or infinite value)")
    return arr


def _check_haematocrit(haematocrit: float) -> None:
    if not 0.0 <= haematocrit < 1.0:
        raise ValueError(f"haematocrit must be in [0, 1) (got {haematocrit!r})")


def relative_viscosity(diameter_m, haematocrit: float = DEFAULT_HAEMATOCRIT) -> np.ndarray:
    """Apparent blood viscosity relative to plasma (Pries et al. 1994 in vivo law).

    Parameters
    ----------
    diameter_m : array_like of float, m
        Vessel diameters; each must exceed 1.1 um, where the law diverges.
    haematocrit : float, optional
        Discharge haematocrit, 0 <= H < 1.

    Returns
    -------
    ndarray of float64, same shape, dimensionless

    Raises
    ------
    ValueError
        A diameter <= 1.1 um or not finite, or a haematocrit outside [0, 1).

    References
    ----------
    Pries et al. (1994) Circ. Res. 75:904, in vivo viscosity law [Pries1994].
    """
    d = _float_array("diameter_m", diameter_m)
    _check_haematocrit(haematocrit)
    if np.any(d * 1e6 <= _k.PRIES_MIN_DIAMETER_UM):
        raise ValueError(f"diameter_m must exceed {_k.PRIES_MIN_DIAMETER_UM} um, where the Pries law diverges "
                         f"(smallest given: {d.min() * 1e6:.3g} um)")
    out = np.empty(d.size)
    _k.apparent_viscosity(np.ascontiguousarray(d.ravel()), float(haematocrit), 1.0, out)
    return out.reshape(d.shape)


def apparent_viscosity(diameter_m, *, haematocrit: float = DEFAULT_HAEMATOCRIT,
                       plasma_viscosity_pa_s: float = DEFAULT_PLASMA_VISCOSITY_PA_S) -> np.ndarray:
    """Apparent blood viscosity in a vessel of the given diameter, Pa s.

    Parameters
    ----------
    diameter_m : array_like of float, m
    haematocrit : float, optional
        Discharge haematocrit.
    plasma_viscosity_pa_s : float, optional
        Pa s, > 0.

    Returns
    -------
    ndarray of float64, Pa s
        ``relative_viscosity(diameter_m, haematocrit) * plasma_viscosity_pa_s``; about
        3.8 mPa s in large arteries at the defaults (whole blood 3.5-4 mPa s).

    See Also
    --------
    relative_viscosity
    """
    if not plasma_viscosity_pa_s > 0:
        raise ValueError(f"plasma_viscosity_pa_s must be > 0 (got {plasma_viscosity_pa_s!r})")
    return relative_viscosity(diameter_m, haematocrit) * plasma_viscosity_pa_s


def _positive(name: str, value) -> np.ndarray:
    arr = _float_array(name, value)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 (smallest given: {arr.min()!r})")
    return arr


def poiseuille_conductance(radius_m, length_m, viscosity_pa_s) -> np.ndarray:
    """Hagen-Poiseuille conductance G = pi r^4 / (8 mu L), m^3/(s Pa).

    Parameters
    ----------
    radius_m, length_m : array_like of float, m, > 0
    viscosity_pa_s : array_like of float, Pa s, > 0

    Returns
    -------
    ndarray of float64, m^3/(s Pa), the broadcast shape

    Examples
    --------
    >>> f"{poiseuille_conductance(1e-3, 0.01, 3.5e-3):.4e}"  # pi 1e-12 / (8 x 3.5e-3 x 0.01)
    '1.1220e-08'
    """
    r, length, mu = np.broadcast_arrays(_positive("radius_m", radius_m), _positive("length_m", length_m),
                                        _positive("viscosity_pa_s", viscosity_pa_s))
    out = np.empty(r.size)
    _k.vessel_conductance(np.ascontiguousarray(r.ravel()), np.ascontiguousarray(length.ravel()),
                          np.ascontiguousarray(mu.ravel()), out)
    return out.reshape(r.shape)


def annulus_conductance(radius_m: float, inner_radius_m: float, length_m: float, viscosity_pa_s: float) -> float:
    """Conductance of a vessel of radius R around a concentric catheter of radius r_c, m^3/(s Pa).

    G = pi R^4 / (8 mu L) [(1 - k^4) - (1 - k^2)^2 / ln(1/k)] with k = r_c / R
    (exact Poiseuille flow in a concentric annulus, Bird, Stewart and Lightfoot
    2002, section 2.4, eq. 2.4-17). 0 when the catheter fills the vessel (k >= 1).

    Parameters
    ----------
    radius_m : float, m, > 0
    inner_radius_m : float, m, >= 0
        Catheter outer radius.
    length_m : float, m, > 0
    viscosity_pa_s : float, Pa s, > 0

    Returns
    -------
    float, m^3/(s Pa)

    Notes
    -----
    A real catheter lies eccentrically, against the wall, which conducts more
    than the concentric annulus for the same gap; the concentric value is the
    conservative (most narrowing) choice.
    """
    for name, value in (("radius_m", radius_m), ("length_m", length_m), ("viscosity_pa_s", viscosity_pa_s)):
        _positive(name, value)
    if not (np.isfinite(inner_radius_m) and inner_radius_m >= 0):
        raise ValueError(f"inner_radius_m must be >= 0 (got {inner_radius_m!r})")
    return float(_k.annulus_conductance(float(radius_m), float(inner_radius_m), float(length_m),
                                        float(viscosity_pa_s)))
