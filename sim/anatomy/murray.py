"""Murray's law: vessel radius from the flow it carries.

A vessel carrying the design flow ``Q`` has radius ``r = r_ref (Q / Q_ref)^(1/g)``
(Murray1926, with exponent ``g`` = ``liver.murray_exponent``; NakamuraAwa2014,
Jessen2023). Then ``r_parent^g = sum r_child^g`` at every bifurcation where the
parent's flow is the sum of its children's. The arterial tree is anchored at the
proper hepatic artery's diameter (4.5 mm, REFERENCES.md 3) for the total hepatic
arterial demand, the portal tree at the main portal vein's literature diameter for
the total portal demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MurraySizing"]


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
