"""Tumour-to-normal deposition ratio against the MAA range for hypervascular metastases ([Piasecki2015]).

Piasecki 2015 (abstract): the tumour-to-normal (T/N) ratio of MAA uptake in
hypervascular liver metastases has mean 2.7, and Y-90 imaging gives 2.3-3.6; NET
metastases are typically 3-6 (range 1-15; unverified). The tolerance is the
published range 2.3-3.6.

embosim's ``tumour_to_normal_deposition_ratio`` (docs/outputs.md: particles per
viable tumour volume over particles per normal volume in the catheterised
territory) is read from full runs of the default scenario (A5, 100-300 um, to
stasis) over a small grid of the two tumour parameters that set it:
``vascularity`` (perfusion per volume relative to normal liver; default 0.7, set
from [Meijerink2009]'s HA perfusion > 50 mL/min/100 g) and ``arterial_fraction``
(default 0.9; NET 0.7-0.95, unverified). The MAA data set no parameter: this is
validation data.

A pure flow tracer would deposit in proportion to arterial perfusion, i.e. at
vascularity x arterial fraction / normal arterial fraction (0.2); the figure shows
that line. MAA is close to such a tracer (a few particles, no embolic effect),
while the bland embolisation ratio also reflects the flow redistribution as
vessels close. Since the embolic load (particles stack into leaky plugs, a
segment takes about 0.4 mL of spheres to stasis), most particles of a run to
stasis arrive late and stop on columns that grow upstream into arteries feeding
tumour and normal tissue alike, so the whole-procedure ratio falls below the
MAA range (1.6 against 2.6 with perfect seals): a disagreement of the quantity
compared (a tracer dose against a full embolic dose), reported, not tuned.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path

import numpy as np
from scipy import stats

from sim.simulation import run as simulate

from . import CaseResult, default_scenario, module_main, new_figure, publish, range_case

__all__ = ["grid", "run", "MAA_RANGE"]

#: [Piasecki2015]: T/N ratio range (Y-90 imaging) and MAA mean in hypervascular metastases.
MAA_RANGE, MAA_MEAN = (2.3, 3.6), 2.7
#: Grid of (vascularity, arterial fraction), and the livers' terminal diameter (um), fast and full run.
VASCULARITY = {True: (0.5, 0.7, 1.0), False: (0.5, 0.7, 1.0, 1.5)}
ARTERIAL_FRACTION = {True: (0.7, 0.9), False: (0.7, 0.8, 0.9, 1.0)}
TERMINAL_DIAMETER_UM = {True: 150.0, False: 80.0}


def grid(*, fast: bool = False) -> dict[str, np.ndarray]:
    """One run per grid point (a liver is built for each tumour).

    Returns
    -------
    dict
        ``vascularity``, ``arterial_fraction`` and ``ratio`` (T/N deposition), shape (K,).
    """
    base = default_scenario(terminal_diameter_um=TERMINAL_DIAMETER_UM[fast])
    points = list(product(VASCULARITY[fast], ARTERIAL_FRACTION[fast]))
    ratios = [simulate(base.with_updates({"tumours.0.vascularity": v, "tumours.0.arterial_fraction": a}),
                       progress=False).summary["tumour_to_normal_deposition_ratio"] for v, a in points]
    v, a = np.array(points).T
    return {"vascularity": v, "arterial_fraction": a, "ratio": np.array(ratios)}


def run(out_dir: str | Path, *, fast: bool = False) -> list[CaseResult]:
    """Run the grid and compare with the MAA range (the case interface of :mod:`validation`)."""
    g = grid(fast=fast)
    defaults = default_scenario().tumours[0]
    normal_af = default_scenario().flow.normal_arterial_fraction
    at_default = (g["vascularity"] == defaults.vascularity) & (g["arterial_fraction"] == defaults.arterial_fraction)
    inside = (g["ratio"] >= MAA_RANGE[0]) & (g["ratio"] <= MAA_RANGE[1])
    perfusion = g["vascularity"] * g["arterial_fraction"]
    within = ", ".join(f"({v:g}, {a:g})" for v, a in zip(g["vascularity"][inside], g["arterial_fraction"][inside]))
    tracer = defaults.vascularity * defaults.arterial_fraction / normal_af
    rho = float(stats.spearmanr(perfusion, g["ratio"]).statistic)
    results = [
        range_case(f"T/N deposition ratio at the defaults (vascularity {defaults.vascularity:g}, arterial fraction "
                   f"{defaults.arterial_fraction:g})", float(g["ratio"][at_default][0]), *MAA_RANGE,
                   f"[Piasecki2015]: MAA mean {MAA_MEAN:g}, Y-90 imaging 2.3-3.6",
                   f"pure-tracer arterial perfusion ratio {tracer:.2f}; grid points (vascularity, arterial fraction) "
                   f"inside the range: {within or 'none'}", role="validation"),
        CaseResult("rank correlation of T/N with tumour arterial perfusion (vascularity x arterial fraction)", rho,
                   "T/N follows arterial perfusion (MAA is a perfusion tracer; [Piasecki2015])", "> 0.8", rho > 0.8,
                   f"{g['ratio'].size} runs, T/N {g['ratio'].min():.2f}-{g['ratio'].max():.2f}", role="check"),
    ]
    fig, ax = new_figure(1, 1, size=(7, 4.5))
    a = ax[0, 0]
    a.axhspan(*MAA_RANGE, color="0.85", label="hypervascular metastases 2.3-3.6 ([Piasecki2015])")
    a.axhline(MAA_MEAN, color="0.5", ls=":", label=f"MAA mean {MAA_MEAN:g}")
    for af in ARTERIAL_FRACTION[fast]:
        mine = g["arterial_fraction"] == af
        line, = a.plot(g["vascularity"][mine], g["ratio"][mine], "o-", label=f"embosim, arterial fraction {af:g}")
        a.plot(g["vascularity"][mine], g["vascularity"][mine] * af / normal_af, "--", color=line.get_color(), lw=1)
    a.plot([], [], "k--", lw=1, label="pure tracer: arterial perfusion ratio")
    a.axvline(defaults.vascularity, color="k", lw=0.5)
    a.set_xlabel("tumour vascularity (perfusion per volume / normal liver)")
    a.set_ylabel("tumour-to-normal deposition ratio")
    a.legend(fontsize=7)
    return publish(fig, results, out_dir, "deposition",
                   f"T/N deposition, A5 100-300 um to stasis (terminal {TERMINAL_DIAMETER_UM[fast]:g} um)")


if __name__ == "__main__":
    raise SystemExit(module_main(run, __doc__.splitlines()[0], "deposition"))
