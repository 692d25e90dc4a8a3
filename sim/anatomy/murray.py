"""Murray's law: vessel radius from the flow it carries.

A vessel carrying the design flow ``Q`` has radius ``r = r_ref (Q / Q_ref)^(1/g)``
([Murray1926]). Then ``r_parent^g = sum r_child^g`` at every bifurcation where the
parent's flow is the sum of its children's. The arterial tree uses ``g =
liver.murray_exponent`` ([NakamuraAwa2014]: 2.7 for 0.1-1 mm arteries) and is anchored
at the proper hepatic artery's diameter (4.5 mm, [TextbookAnatomy], unverified) for the total
hepatic arterial demand; the portal tree uses :data:`PORTAL_MURRAY_EXPONENT` and is
anchored at the main portal vein's literature diameter for the total portal design
flow.

Arterial anchor and disease burden (:func:`arterial_anchor_flow`): the PHA keeps its
4.5 mm while the total arterial demand is at most what a PHA at the top of its
literature range (5 mm, [TextbookAnatomy]) carries by Murray scaling from 4.5 mm at the
healthy demand, ``(5 / 4.5)^g = 1.33`` times the healthy demand
(``flow.normal_arterial_fraction x`` the total liver inflow). Above that (many
hypervascular tumours) the anchor flow stays at the cap, so the PHA and every artery
enlarge with the flow they carry, ``r ~ Q^(1/g)`` ([Murray1926]; model assumption:
arteries feeding a hypervascular tumour burden remodel to their flow, as tumour-feeding
arteries are larger in patients). Without it the arterial pressure drop grows in
proportion to the arterial demand and a liver with more than half of it replaced by
hypervascular tumour cannot be perfused at physiological pressures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MurraySizing", "PORTAL_MURRAY_EXPONENT", "PHA_RANGE_TOP_MM", "arterial_anchor_flow"]

#: Branching exponent of the portal veins: Murray's cube law ([Murray1926]; [Jessen2023]
#: compare synthetic trees with exponents 2.0-3.0 against a portal cast; the arterial
#: 2.7 of [NakamuraAwa2014] comes from pulsatile arteries). With it the presinusoidal
#: pressure drop stays about 1 mmHg, inside the 1-5 mmHg that separates portal from
#: sinusoidal pressure ([Berzigotti2013]); with 2.7 it would take 2.5-3 mmHg.
PORTAL_MURRAY_EXPONENT = 3.0

#: Top of the literature range of the proper hepatic artery's diameter, mm
#: ([TextbookAnatomy]: 4-5 mm); sets the largest arterial demand a PHA of the anchor
#: diameter is taken to carry (:func:`arterial_anchor_flow`).
PHA_RANGE_TOP_MM = 5.0


def arterial_anchor_flow(q_total_m3s: float, q_healthy_m3s: float, exponent: float, pha_diameter_mm: float) -> float:
    """Flow ``Q_ref`` at which the arterial tree has the PHA's literature radius.

    The total hepatic arterial demand, capped at ``q_healthy (PHA_RANGE_TOP_MM /
    pha_diameter_mm)^exponent``: up to the cap the PHA keeps its literature diameter;
    above it every artery enlarges as ``(q_total / cap)^(1/exponent)`` (module docstring).

    Parameters
    ----------
    q_total_m3s : float, m^3/s
        Total hepatic arterial design demand of this liver.
    q_healthy_m3s : float, m^3/s
        Arterial demand of the same liver without tumours.
    exponent : float
        Arterial Murray exponent ``g``.
    pha_diameter_mm : float, mm
        Literature diameter of the PHA (the anchor).
        A ``q_healthy_m3s`` of 0 (no arterial share of normal liver) leaves the total uncapped.

    Returns
    -------
    float, m^3/s

    Examples
    --------
    >>> arterial_anchor_flow(1.0, 1.0, 2.7, 4.5), arterial_anchor_flow(3.0, 1.0, 3.0, 4.5) == (5 / 4.5) ** 3
    (1.0, True)
    """
    if not q_healthy_m3s > 0.0:  # no arterial supply to normal liver: anchor at the total as before
        return float(q_total_m3s)
    return float(min(q_total_m3s, q_healthy_m3s * (PHA_RANGE_TOP_MM / pha_diameter_mm) ** exponent))


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
