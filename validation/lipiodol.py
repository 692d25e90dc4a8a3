"""cTACE: portal-venule opacification against injected Lipiodol volume ([Nakamura1988PortalOil]).

[Nakamura1988PortalOil] reports how often the portal vein showed oil after cTACE with an
iodized oil-doxorubicin emulsion (17 mL of oil on average; 58 patients, 63 procedures in the three groups): "prominent portal
vein appearances" in 29% of procedures with up to 10 mL of Lipiodol, 67% with 10-20 mL,
86% above 20 mL. embosim's Lipiodol model
(:mod:`sim.lipiodol`) fills the territory downstream of the tip in proportion to flow,
sinusoids first, then the portal venules; no parameter of it was set from these rates
(its capacities are model assumptions), so the comparison is a validation.

A virtual population stands for the patients: the default liver with its segment V
tumour, the catheter at segmental, sectional, lobar and proper hepatic positions
(model assumption: the study's mix of positions is not reported), each with volumes
spread over the three ranges. A procedure "shows portal opacification" when at least
``VISIBLE_PORTAL_ML`` of oil lies in the portal venules (model assumption: a few cm of
opacified 1-2 mm portal branches); the study's "prominent" portal vein is a stricter
reading, so this threshold counts more procedures than the study would. The case compares the share of procedures with
opacification in each volume range with the published rate (tolerance +/- 20 points:
the study's groups are small and the population is not the study's), and checks that
portal filling never falls as the volume rises at any position.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.simulation import run as simulate

from . import CaseResult, default_liver, module_main, new_figure, publish

__all__ = ["run", "PUBLISHED_RATES", "VISIBLE_PORTAL_ML"]

#: (lower, upper] Lipiodol volume, mL, and the share of procedures with portal opacification [Nakamura1988PortalOil].
PUBLISHED_RATES = (((0.0, 10.0), 0.29), ((10.0, 20.0), 0.67), ((20.0, 30.0), 0.86))
#: Oil in the portal venules that shows as portal opacification, mL (model assumption, see the module docstring).
VISIBLE_PORTAL_ML = 0.1
#: Tolerance on a rate, absolute (the study's groups are small; the virtual population is not the study's).
RATE_TOLERANCE = 0.2
POSITIONS = ("A5", "A6", "A7", "A8", "A4", "right_anterior", "right_posterior", "RHA", "LHA", "PHA")
FAST_POSITIONS = ("A5", "right_anterior", "RHA", "PHA")


def _volumes(fast: bool) -> list[float]:
    per_bin = 2 if fast else 4
    return [lo + (hi - lo) * (k + 1) / per_bin for (lo, hi), _ in PUBLISHED_RATES for k in range(per_bin)]


def run(out_dir: str | Path, *, fast: bool = False, liver=None) -> list[CaseResult]:
    """Lipiodol-only sessions over catheter positions and volumes; opacification rates per volume range."""
    liver = liver or default_liver(fast=fast)
    positions = FAST_POSITIONS if fast else POSITIONS
    volumes = _volumes(fast)
    portal_ml = np.empty((len(positions), len(volumes)))
    for i, vessel in enumerate(positions):
        for j, volume in enumerate(volumes):
            scenario = liver.scenario.with_updates({"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": volume,
                                                    "catheter.vessel": vessel})
            portal_ml[i, j] = simulate(scenario, liver=liver, progress=False).summary["lipiodol_portal_ml"]
    visible = portal_ml >= VISIBLE_PORTAL_ML
    vol = np.asarray(volumes)
    results = []
    population = (f"{len(positions)} catheter positions ({', '.join(positions)}) x {len(vol) // 3} volumes per range; "
                  f"opacification = at least {VISIBLE_PORTAL_ML:g} mL of oil in the portal venules")
    for (lo, hi), rate in PUBLISHED_RATES:
        in_bin = (vol > lo) & (vol <= hi)
        ours = float(visible[:, in_bin].mean())
        label = f"up to {hi:g} mL" if lo == 0 else (f"{lo:g}-{hi:g} mL" if hi < 30 else f"above {lo:g} mL")
        ok = abs(ours - rate) <= RATE_TOLERANCE
        note = population if ok else (population + f"; disagrees by {ours - rate:+.0%}: " + (
            "the model opacifies earlier than reported: its sinusoidal capacity (a model assumption) fills a segment "
            "with a few mL, the study's mix of catheter positions (larger territories take more) is not known, and its "
            "'prominent' portal vein is a stricter reading than the model's 0.1 mL"
            if ours > rate else "the model opacifies later than reported") + " (docs/tace.md)")
        results.append(CaseResult(f"share of procedures with portal opacification, Lipiodol {label}", ours,
                                  f"{rate:.0%} ([Nakamura1988PortalOil])", f"+/- {RATE_TOLERANCE:.0%} (absolute)",
                                  bool(ok), note, "validation"))
    monotone = bool(np.all(np.diff(portal_ml, axis=1) >= -1e-12))
    results.append(CaseResult("portal oil never falls as the volume rises (every position)", float(monotone),
                              "1 (filling is monotone in volume)", "exactly 1", monotone,
                              "the fill is a monotone function of the volume by construction (water filling)",
                              "check"))
    fig, ax = new_figure(1, 2, size=(10, 4))
    a = ax[0, 0]
    for i, vessel in enumerate(positions):
        a.plot(vol, portal_ml[i], "o-", ms=3, label=vessel)
    a.axhline(VISIBLE_PORTAL_ML, color="k", ls=":", lw=1, label="visible")
    a.set_yscale("symlog", linthresh=0.01)
    a.set_xlabel("Lipiodol injected, mL")
    a.set_ylabel("oil in the portal venules, mL")
    a.legend(fontsize=7, ncol=2)
    b = ax[0, 1]
    x = np.arange(len(PUBLISHED_RATES))
    b.bar(x - 0.2, [rate for _, rate in PUBLISHED_RATES], 0.4, label="[Nakamura1988PortalOil]")
    b.bar(x + 0.2, [r.embosim for r in results[:3]], 0.4, label="embosim")
    b.set_xticks(x, ["<= 10 mL", "10-20 mL", "> 20 mL"])
    b.set_ylabel("share of procedures with portal opacification")
    b.set_ylim(0, 1)
    b.legend(fontsize=8)
    return publish(fig, results, out_dir, "lipiodol", "cTACE: portal opacification against Lipiodol volume")


if __name__ == "__main__":
    raise SystemExit(module_main(run, __doc__.splitlines()[0], "lipiodol"))
