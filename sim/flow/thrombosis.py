"""Portal vein thrombosis: the thrombosed portal branch loses a fraction of its conductance.

Applied to the calibrated (healthy) conductances, so the baseline demands stay
those of the healthy liver and the hepatic arterial buffer response
(:mod:`sim.flow.habr`) answers the portal flow lost against that baseline.
"""

from __future__ import annotations

from ..network import EDGE_PORTAL, CompiledLiver, Conductances
from ..scenario import PortalConfig, ScenarioError

__all__ = ["thrombosed_vessel", "apply_thrombosis"]


def thrombosed_vessel(liver: CompiledLiver, portal: PortalConfig) -> int:
    """Trunk edge index of the thrombosed portal branch, -1 for ``thrombosis = "none"``.

    ``"main"`` is the main portal vein ``MPV``; other sites are trunk vessel names.

    Raises
    ------
    ScenarioError
        The site is not a portal vein of this anatomy (``portal.thrombosis``).
    """
    if portal.thrombosis == "none":
        return -1
    name = "MPV" if portal.thrombosis == "main" else portal.thrombosis
    trunk = liver.trunk
    portal_names = [n for n, k in zip(trunk.edge_names, trunk.edge_kind) if k == EDGE_PORTAL]
    if name not in portal_names:
        raise ScenarioError(f"no portal vein {name!r} in this anatomy; allowed: none, main, "
                            f"{', '.join(n for n in portal_names if n != 'MPV')}", path="portal.thrombosis")
    return trunk.edge_index(name)


def apply_thrombosis(liver: CompiledLiver, conductances: Conductances, portal: PortalConfig) -> Conductances:
    """A copy of ``conductances`` with the thrombosed branch at ``1 - thrombosis_occlusion`` of its conductance.

    Parameters
    ----------
    liver : CompiledLiver
    conductances : Conductances
        Calibrated, healthy.
    portal : PortalConfig
        ``thrombosis`` (none, main, RPV, LPV, P1-P8) and ``thrombosis_occlusion`` (fraction lost).

    Returns
    -------
    Conductances
    """
    out = conductances.copy()
    e = thrombosed_vessel(liver, portal)
    if e >= 0:
        out.trunk[e] *= 1.0 - portal.thrombosis_occlusion
    return out
