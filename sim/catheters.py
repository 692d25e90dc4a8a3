"""Catheter lumens and the fastest contrast injection each can deliver.

The contrast run of a virtual angiogram (:mod:`sim.angiography`) is injected through
the scenario's catheter: a microcatheter (2.0-2.8 Fr, coaxial through a base catheter,
the usual hepatic set-up [HepaticCoaxialPractice]) or a 4-5 Fr base (diagnostic)
catheter. Which one is ``catheter.kind``; its size is ``catheter.outer_diameter_fr``.

Maximum injection rate
----------------------
The injector may not exceed the catheter's rated pressure, so the fastest injection is
the steady flow of contrast through the lumen with that pressure across it:
Delta p = f (L / d) rho v^2 / 2, with the larger of the laminar (64 / Re) and Blasius
(0.316 Re^-0.25) friction factors [BirdStewartLightfoot2002], which is continuous and
never optimistic (microcatheters run at Re of about 1,000-1,500, base catheters at
3,000-4,000). Model assumption: flow in a smooth tube stays laminar up to Re of about
2,300, so between Re 1,190 (where the two factors cross) and 2,300 the Blasius factor
understates the rate: by 6% for the 2.7 Fr microcatheter (2.93 against 3.12 mL/s laminar),
a margin kept on purpose (a hub, bends and the tip add losses that are neglected here).
Contrast: iohexol 300 mgI/mL at body temperature, 6.1 mPa s, 1.35 g/mL
[ContrastViscosity]. Lumen diameters, working lengths and rated pressures are
typical labelled values [CatheterSpecs]; base catheters are limited by the injector's
pressure limit [InjectorLimit1200psi]. Losses in the hub, connecting tube and at the
tip are neglected (the rate is an upper bound).

A catheter whose outer diameter lies between two catalogue sizes gets the lumen of the
larger catalogue size not above it (conservative: a thinner catheter has no wider lumen).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .units import ML_M3, MPA_S_PA_S

__all__ = ["BASE_MIN_FR", "CATALOGUE", "CONTRAST_DENSITY_KG_M3", "CONTRAST_VISCOSITY_PA_S", "PSI_PA", "Lumen",
           "lumen_for", "max_rate_m3s", "max_rate_ml_s"]

#: Pa per psi (pound-force per square inch).
PSI_PA = 6894.757
#: Viscosity of iohexol 300 mgI/mL at 37 degC, Pa s [ContrastViscosity].
CONTRAST_VISCOSITY_PA_S = 6.1 * MPA_S_PA_S
#: Density of iohexol 300 mgI/mL, kg/m^3 [ContrastViscosity].
CONTRAST_DENSITY_KG_M3 = 1349.0
#: Smallest outer diameter of a base catheter, Fr [CatheterSpecs] (microcatheters are below it).
BASE_MIN_FR = 4.0
_INCH_M = 0.0254


@dataclass(frozen=True)
class Lumen:
    """One catheter size of the catalogue.

    Attributes
    ----------
    kind : str
        ``"microcatheter"`` or ``"base"``.
    outer_fr : float
        Outer diameter, Fr.
    inner_m : float
        Lumen diameter, m.
    length_m : float
        Working length, m.
    rated_pa : float
        Highest injection pressure allowed, Pa.
    """

    kind: str
    outer_fr: float
    inner_m: float
    length_m: float
    rated_pa: float

    @property
    def label(self) -> str:
        """E.g. ``"2.7 Fr microcatheter"``."""
        return f"{self.outer_fr:g} Fr {'microcatheter' if self.kind == 'microcatheter' else 'base catheter'}"


#: Catheter sizes [CatheterSpecs] (base catheters: the injector's limit [InjectorLimit1200psi]).
CATALOGUE: tuple[Lumen, ...] = (
    Lumen("microcatheter", 2.0, 0.016 * _INCH_M, 1.30, 900 * PSI_PA),
    Lumen("microcatheter", 2.4, 0.021 * _INCH_M, 1.30, 900 * PSI_PA),
    Lumen("microcatheter", 2.7, 0.025 * _INCH_M, 1.30, 900 * PSI_PA),
    Lumen("microcatheter", 2.8, 0.027 * _INCH_M, 1.30, 900 * PSI_PA),
    Lumen("base", 4.0, 0.038 * _INCH_M, 1.00, 1200 * PSI_PA),
    Lumen("base", 5.0, 0.042 * _INCH_M, 1.00, 1200 * PSI_PA),
)


def lumen_for(kind: str, outer_fr: float) -> Lumen:
    """The catalogue lumen of a catheter: its kind's largest size not above ``outer_fr``.

    Raises
    ------
    ValueError
        ``kind`` unknown, or ``outer_fr`` below the kind's smallest size or, for a
        microcatheter, at or above :data:`BASE_MIN_FR`.

    Examples
    --------
    >>> lumen_for("microcatheter", 2.7).label, lumen_for("microcatheter", 2.5).outer_fr
    ('2.7 Fr microcatheter', 2.4)
    """
    sizes = [c for c in CATALOGUE if c.kind == kind]
    if not sizes:
        raise ValueError(f"unknown catheter kind {kind!r}; allowed: microcatheter, base")
    low, high = sizes[0].outer_fr, (BASE_MIN_FR if kind == "microcatheter" else math.inf)
    if not low <= outer_fr < high:
        bound = f"[{low:g}, {high:g}) Fr" if math.isfinite(high) else f">= {low:g} Fr"
        name = "microcatheter" if kind == "microcatheter" else "base catheter"
        raise ValueError(f"a {name} of {outer_fr:g} Fr; allowed: {bound}")
    return [c for c in sizes if c.outer_fr <= outer_fr][-1]


def max_rate_m3s(lumen: Lumen, *, viscosity_pa_s: float = CONTRAST_VISCOSITY_PA_S,
                 density_kg_m3: float = CONTRAST_DENSITY_KG_M3) -> float:
    """Steady flow of contrast through ``lumen`` at its rated pressure, m^3/s.

    Solves Delta p = f (L/d) rho v^2 / 2 for v with f = max(64/Re, 0.316 Re^-0.25):
    the laminar flow (Poiseuille) when it is below the Blasius one, else the Blasius flow.

    Examples
    --------
    >>> round(max_rate_ml_s(lumen_for("base", 4.0)), 1), round(max_rate_ml_s(lumen_for("microcatheter", 2.7)), 2)
    (12.5, 2.93)
    """
    d, length, dp, mu, rho = lumen.inner_m, lumen.length_m, lumen.rated_pa, viscosity_pa_s, density_kg_m3
    v_laminar = dp * d**2 / (32.0 * mu * length)
    v_blasius = (2.0 * dp * d**1.25 / (0.316 * length * rho**0.75 * mu**0.25)) ** (1.0 / 1.75)
    return min(v_laminar, v_blasius) * math.pi * d**2 / 4.0


def max_rate_ml_s(lumen: Lumen) -> float:
    """:func:`max_rate_m3s` in mL/s."""
    return max_rate_m3s(lumen) / ML_M3
