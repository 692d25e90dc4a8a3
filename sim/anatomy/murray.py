"""Murray's law: vessel radius from the flow it carries.

A vessel carrying the design flow ``Q`` has radius ``r = r_ref (Q / Q_ref)^(1/g)``
([Murray1926]). Then ``r_parent^g = sum r_child^g`` at every bifurcation where the
parent's flow is the sum of its children's. The arterial tree uses ``g =
liver.murray_exponent`` ([NakamuraAwa2014]: 2.7 for 0.1-1 mm arteries) and is anchored
at the proper hepatic artery's diameter (4.5 mm, [TextbookAnatomy], unverified) for the total
hepatic arterial demand; the portal tree uses :data:`PORTAL_MURRAY_EXPONENT` and is
anchored at the main portal vein's literature diameter for the total portal design
flow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MurraySizing", "PORTAL_MURRAY_EXPONENT"]

#: Branching exponent of the portal veins: Murray's cube law ([Murray1926]; [Jessen2023]
#: compare synthetic trees with exponents 2.0-3.0 against a portal cast; the arterial
#: 2.7 of [NakamuraAwa2014] comes from pulsatile arteries). With it the presinusoidal
#: pressure drop stays about 1 mmHg, inside the 1-5 mmHg that separates portal from
#: sinusoidal pressure ([Berzigotti2013]); with 2.7 it would take 2.5-3 mmHg.
PORTAL_MURRAY_EXPONENT = 3.0


@dataclass(frozen=True)
class MurraySizing:
    """One tree's Murray scaling ``r = r_ref (Q / Q_ref)^(1/g)``.

    Attributes
    ----------
    exponent : float
        Branching exponent ``g``.
    r_ref_m : float, m
        Anchor radius.
    q_ref_m3s : float, m^3/s
        Flow of a vessel of the anchor radius.
    """

    exponent: float
    r_ref_m: float
    q_ref_m3s: float

    def radius(self, q_m3s):
        """Radius (m) of a vessel carrying ``q_m3s`` (m^3/s, scalar or array)."""
        return self.r_ref_m * (np.asarray(q_m3s, float) / self.q_ref_m3s) ** (1.0 / self.exponent)

    def flow(self, r_m):
        """Design flow (m^3/s) of a vessel of radius ``r_m`` (m, scalar or array)."""
        return self.q_ref_m3s * (np.asarray(r_m, float) / self.r_ref_m) ** self.exponent
