"""Coil protection before the injection: named arteries occluded by coil packs, and the flow redistribution (SI).

Before a SIRT (or any) injection the operator may coil hepaticoenteric branches - the gastroduodenal artery (GDA), the
right gastric artery (RGA), a cystic or falciform artery - so that spheres refluxing or released proximal to their
origin cannot reach the gut ([Borggreve2016]: advised for branches that leave close to or distal to the injection
site). ``procedure.coils`` names the vessels (named arteries of the built anatomy, Michels variants included; checked
at load time by :func:`check_coils`); :func:`place_coils` occludes them in the flow state with the catheter placed,
before the baseline of the procedure is recorded, for every agent.

Coil model: a coil pack is not a perfect seal when it is placed: thrombus fills it over minutes
(``procedure.coil_residual_flow_fraction``). The coiled vessel's conductance is scaled by the factor that leaves that
fraction of its pre-coil flow passing it (log-secant iteration on full solves, all coils together, to 1% relative),
so the residual is a flow share whatever the resistance downstream. The flow the coiled branches no longer take goes
to the rest of the tree at the same inlet pressure: the hepatic arterial inflow rises. Not modelled: collaterals
(the pancreaticoduodenal arcades that refill the GDA bed from the SMA; flow redistribution through intrahepatic
collaterals after coiling an accessory or replaced hepatic artery).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .units import ML_M3

__all__ = ["CoilReport", "coilable_arteries", "check_coils", "place_coils", "coil_summary", "hepaticoenteric_beds",
           "apply_coils"]

#: Arterial roots never coiled (they feed everything below them).
_ROOTS = ("coeliac", "SMA")
#: Relative tolerance on each coiled vessel's residual flow share, and the most full solves spent reaching it.
COIL_FLOW_RTOL, COIL_MAX_SOLVES = 0.01, 60


def coilable_arteries(anatomy) -> tuple[str, ...]:
    """Named arteries of this anatomy (``[anatomy]``: Michels type, falciform, segment IV origin) that may be coiled.

    Every named artery except the coeliac trunk and the SMA, in the anatomy's parents-first order.
    """
    from .anatomy.trunk import arterial_parents

    return tuple(name for name in arterial_parents(anatomy) if name not in _ROOTS)


def _ancestors(parents: dict, name: str) -> list[str]:
    out = [name]
    while parents.get(out[-1]) is not None:
        out.append(parents[out[-1]])
    return out


def check_coils(scenario) -> None:
    """Refuse coils that name no coilable artery of the scenario's anatomy, or close the catheter's own path.

    Raises
    ------
    ScenarioError
        One line with the key ``procedure.coils`` and the allowed names.
    """
    from .anatomy.trunk import arterial_parents
    from .scenario import ScenarioError

    coils = scenario.procedure.coils
    if not coils:
        return
    allowed = coilable_arteries(scenario.anatomy)
    for name in coils:
        if name not in allowed:
            raise ScenarioError(f"no coilable artery {name!r} in this anatomy (Michels {scenario.anatomy.michels_type}); "
                                f"allowed: {', '.join(allowed)}", path="procedure.coils")
    if len(set(coils)) != len(coils):
        raise ScenarioError(f"a vessel is named twice in {list(coils)}", path="procedure.coils")
    parents = arterial_parents(scenario.anatomy)
    vessel = scenario.catheter.vessel
    if vessel in parents:
        blocked = [c for c in coils if c in _ancestors(parents, vessel)]
        if blocked:
            raise ScenarioError(f"{blocked[0]!r} carries the catheter (catheter.vessel = {vessel!r}); coil a branch "
                                "that the tip does not pass through", path="procedure.coils")


def hepaticoenteric_beds(anatomy) -> tuple[str, ...]:
    """Non-target arteries ending in a lumped bed that leave the common hepatic artery's tree (GDA, RGA, cystic...)."""
    from .anatomy.trunk import VESSELS, arterial_parents

    parents = arterial_parents(anatomy)
    return tuple(n for n in parents if VESSELS[n].bed and "CHA" in _ancestors(parents, n)[1:])


@dataclass(frozen=True)
class CoilReport:
    """What the coils did to the pre-injection flow (catheter in place).

    Attributes
    ----------
    vessels : tuple of str
        The coiled arteries.
    conductance_factor : ndarray of float64, (K,), 1
        Each coiled vessel's conductance after / before.
    vessel_flow_before_m3s, vessel_flow_after_m3s : ndarray of float64, (K,), m^3/s
        Flow through each coiled vessel (magnitude).
    hepatic_arterial_before_m3s, hepatic_arterial_after_m3s : float, m^3/s
        Arterial inflow of all liver compartments.
    bed_flow_before_m3s, bed_flow_after_m3s : dict of str to float, m^3/s
        Flow into each hepaticoenteric bed (:func:`hepaticoenteric_beds`).
    solves : int
        Full flow solves spent.
    """

    vessels: tuple[str, ...]
    conductance_factor: np.ndarray
    vessel_flow_before_m3s: np.ndarray
    vessel_flow_after_m3s: np.ndarray
    hepatic_arterial_before_m3s: float
    hepatic_arterial_after_m3s: float
    bed_flow_before_m3s: dict
    bed_flow_after_m3s: dict
    solves: int


def _readouts(state, trunk, beds: tuple[str, ...]) -> tuple[float, dict]:
    from .kernels.twoport import COMP_ART

    bed_q = {name: float(abs(state.trunk_q[trunk.edge_index(f"{name}_bed")])) for name in beds}
    return float(state.comp_q[:, COMP_ART].sum()), bed_q


def place_coils(flow, names, residual_flow_fraction: float) -> CoilReport:
    """Occlude ``names`` in ``flow.state`` (a :class:`sim.flow.model.LiverFlow` with its catheter) and re-solve it.

    Parameters
    ----------
    flow : LiverFlow
        Solved; its state's trunk conductances are changed in place.
    names : sequence of str
        Named arteries (checked by :func:`check_coils`).
    residual_flow_fraction : float, 1
        Share of its pre-coil flow each coiled vessel keeps (0: a perfect seal).

    Raises
    ------
    ScenarioError
        A coiled vessel is the catheter's or cuts the injection off (``procedure.coils``).
    """
    from .kernels import twoport
    from .scenario import ScenarioError

    trunk, state = flow.liver.trunk, flow.state
    beds = hepaticoenteric_beds(flow.scenario.anatomy)
    edges = np.array([trunk.edge_index(n) for n in names], np.int64)
    if flow.catheter is not None and set(edges.tolist()) & set(flow.catheter.narrowed_trunk):
        raise ScenarioError("a coiled vessel carries the catheter; coil a branch the tip does not pass through",
                            path="procedure.coils")
    art_before, beds_before = _readouts(state, trunk, beds)
    g0 = state.g_trunk[edges].copy()
    q0 = np.abs(state.trunk_q[edges])
    f = float(residual_flow_fraction)
    x = np.full(edges.size, f)
    solves = 0

    def solve_with(factor: np.ndarray) -> np.ndarray:
        nonlocal solves
        state.g_trunk[edges] = g0 * factor
        if twoport.solve(state) != twoport.STATUS_OK:
            raise ScenarioError("the coils cut the catheter's injection off from every outlet", path="procedure.coils")
        solves += 1
        return np.abs(state.trunk_q[edges])

    q = solve_with(x)
    if f > 0:
        live = q0 > 0
        prev_x, prev_r = np.ones_like(x), np.ones_like(x)  # before the coils: factor 1, flow share 1
        while solves < COIL_MAX_SOLVES:
            r = np.where(live, q / np.where(live, q0, 1.0), f)
            if np.all(np.abs(r / f - 1.0) <= COIL_FLOW_RTOL):
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = np.log(r / prev_r) / np.log(x / prev_x)
            slope = np.clip(np.nan_to_num(slope, nan=1.0, posinf=1.0, neginf=1.0), 0.02, 1.0)
            prev_x, prev_r = x.copy(), r
            x = np.where(live, x * np.exp(np.log(f / np.maximum(r, 1e-300)) / slope), x)
            q = solve_with(x)
    art_after, beds_after = _readouts(state, trunk, beds)
    return CoilReport(vessels=tuple(names), conductance_factor=x, vessel_flow_before_m3s=q0, vessel_flow_after_m3s=q,
                      hepatic_arterial_before_m3s=art_before, hepatic_arterial_after_m3s=art_after,
                      bed_flow_before_m3s=beds_before, bed_flow_after_m3s=beds_after, solves=solves)


def coil_summary(report: CoilReport) -> dict:
    """The ``coil*`` and ``*_coils_*`` summary keys (docs/outputs.md), flows in mL/min."""
    per_min = 60.0 / ML_M3
    before, after = report.hepatic_arterial_before_m3s, report.hepatic_arterial_after_m3s
    q0, q1 = report.vessel_flow_before_m3s.sum(), report.vessel_flow_after_m3s.sum()
    return {
        "coils": list(report.vessels),
        "coiled_vessel_flow_before_ml_min": float(q0 * per_min),
        "coiled_vessel_flow_after_ml_min": float(q1 * per_min),
        "coil_residual_flow_fraction": float(q1 / q0) if q0 > 0 else 0.0,
        "hepatic_arterial_inflow_before_coils_ml_min": before * per_min,
        "hepatic_arterial_inflow_after_coils_ml_min": after * per_min,
        "hepatic_arterial_inflow_change_fraction": after / before - 1.0 if before > 0 else 0.0,
        "hepaticoenteric_flow_before_coils_ml_min": sum(report.bed_flow_before_m3s.values()) * per_min,
        "hepaticoenteric_flow_after_coils_ml_min": sum(report.bed_flow_after_m3s.values()) * per_min,
    }


def apply_coils(flow, scenario) -> dict:
    """Place ``scenario.procedure.coils`` in ``flow`` (:func:`place_coils`); their summary keys, {} without coils."""
    proc = scenario.procedure
    if not proc.coils:
        return {}
    return coil_summary(place_coils(flow, proc.coils, proc.coil_residual_flow_fraction))
