"""Angiographic endpoint thresholds against contrast clearance ([TIMIGrades]).

embosim grades the SACE level (Lewandowski et al., JVIR 2007;18:1249) from the
reduction of the native antegrade flow in the catheterised vessel, with thresholds
from [EndpointThresholds] (scenario ``[procedure]``: sluggish 0.6, near stasis 0.75, stasis
0.92), and reports the contrast clearance time of the territory (arterial lumen
volume downstream of the tip / native flow, in cardiac cycles of 0.8 s). Published
angiographic conventions ([TIMIGrades]): TIMI grade 3, normal flow, opacifies
within about one cardiac cycle; a common stasis definition is contrast not cleared
within 3-5 cardiac cycles. [EndpointThresholds] equates the two stasis definitions
("stasis at 90-95% or more (contrast not cleared in 3-5 cardiac cycles)").

From one run of the default scenario (A5 catheter, 100-300 um, to stasis) this
case compares the baseline clearance with TIMI 3, the clearance at the SACE IV
endpoint with the 3-5 cycle definition, and the flow reductions at which the
clearance passes 3 and 5 cycles with the stasis threshold. The TIMI wording and
the 3-5 cycle definition are conventions, not measurements: the tolerances are
their own ranges.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.endpoints import sace_level
from sim.simulation import run as simulate

from . import CaseResult, default_liver, module_main, new_figure, publish, range_case

__all__ = ["run", "reduction_at_clearance", "STASIS_CYCLES"]

#: [TIMIGrades]: contrast not cleared within 3-5 cardiac cycles.
STASIS_CYCLES = (3.0, 5.0)
#: SACE levels as written in the literature.
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
#: TIMI grade 3 (normal flow): opacification within about one cardiac cycle; the tolerance band, cycles.
TIMI3_CYCLES = (0.5, 2.0)


def reduction_at_clearance(timeseries, cycles: float) -> float:
    """Antegrade flow reduction at which the recorded clearance time first reaches ``cycles`` (interpolated)."""
    reduction = 1.0 - timeseries["antegrade_flow_fraction"].to_numpy()
    clearance = timeseries["clearance_time_cycles"].to_numpy()
    if clearance[-1] < cycles:
        return float("nan")
    k = int(np.argmax(clearance >= cycles))
    if k == 0:
        return float(reduction[0])
    return float(np.interp(cycles, clearance[k - 1:k + 1], reduction[k - 1:k + 1]))


def run(out_dir: str | Path, *, fast: bool = False, liver=None) -> list[CaseResult]:
    """Run the default scenario to stasis and compare its clearance times (the case interface of :mod:`validation`)."""
    liver = liver or default_liver(fast=fast)
    scenario = liver.scenario.with_updates({"procedure.endpoint": "stasis"})
    result = simulate(scenario, progress=False, liver=liver)
    s, ts, proc = result.summary, result.timeseries, scenario.procedure
    baseline = s["clearance_time_baseline_cycles"]
    resolution = (f"terminal diameter {scenario.liver.terminal_diameter_um:g} um: the lumen volume, hence the "
                  "clearance time, grows as the tree is resolved further (docs/validation.md, convergence)")
    reductions = {c: reduction_at_clearance(ts, c) for c in STASIS_CYCLES}
    levels = "-".join(dict.fromkeys(ROMAN[sace_level(1.0 - r, proc)] for r in reductions.values()))
    inconsistent = (f"with a baseline clearance of {baseline:.2f} cycles, clearance = baseline / (1 - reduction), "
                    f"so {STASIS_CYCLES[0]:g}-{STASIS_CYCLES[1]:g} cycles are reached at {reductions[3.0]:.0%}-"
                    f"{reductions[5.0]:.0%} flow reduction (SACE {levels} in embosim); at the stasis threshold "
                    f"{proc.stasis_flow_reduction:g} the clearance is {baseline / (1 - proc.stasis_flow_reduction):.0f}"
                    " cycles. The two stasis definitions of [EndpointThresholds] agree only for a baseline clearance of "
                    f"{STASIS_CYCLES[0] * (1 - proc.stasis_flow_reduction):.2f}-"
                    f"{STASIS_CYCLES[1] * (1 - proc.stasis_flow_reduction):.2f} cycles")
    results = [
        range_case("clearance time at baseline (before injection), cardiac cycles", baseline, *TIMI3_CYCLES,
                   "TIMI 3: about one cardiac cycle, [TIMIGrades]", resolution),
        CaseResult("clearance time at the SACE IV (stasis) endpoint, cardiac cycles", s["clearance_time_cycles"],
                   "not cleared within 3-5 cycles ([TIMIGrades])", f">= {STASIS_CYCLES[0]:g}",
                   bool(s["sace_level"] == 4 and s["clearance_time_cycles"] >= STASIS_CYCLES[0]),
                   f"stop: {s['stop_reason']}, antegrade flow {s['antegrade_flow_fraction']:.3f} of baseline"),
    ]
    for cycles, r in reductions.items():
        ok = bool(0.90 <= r <= 0.95)
        results.append(CaseResult(f"flow reduction at which clearance reaches {cycles:g} cycles", r,
                                  f"stasis at 90-95% flow reduction = contrast not cleared in 3-5 cycles ("
                                  f"[EndpointThresholds]; embosim stasis_flow_reduction {proc.stasis_flow_reduction:g})",
                                  "0.90-0.95", ok, "" if ok else inconsistent))
    fig, ax = new_figure(1, 1, size=(7, 4.5))
    a = ax[0, 0]
    edges = (0.0, proc.slowed_flow_reduction, proc.sluggish_flow_reduction, proc.stasis_flow_reduction, 1.0)
    for level, shade in zip(ROMAN, ("0.97", "0.92", "0.87", "0.8")):
        lo, hi = edges[level - 1], edges[level]
        a.axvspan(lo, hi, color=shade)
        a.text(0.5 * (lo + hi), 1.05 * baseline, f"SACE {ROMAN[level]}", ha="center", fontsize=8)
    a.axhspan(*STASIS_CYCLES, color="tab:red", alpha=0.15, label="not cleared in 3-5 cycles ([TIMIGrades])")
    r = np.linspace(0.0, 0.97, 200)
    a.semilogy(r, baseline / (1.0 - r), "k-", lw=1, label="baseline / (1 - reduction)")
    a.semilogy(1.0 - ts["antegrade_flow_fraction"], ts["clearance_time_cycles"], "o", ms=3,
               label="embosim run (recorded rows)")
    ticks = [1, 2, 3, 5, 10, 20, 50]
    a.set_yticks(ticks, [str(t) for t in ticks])
    a.minorticks_off()
    a.set_xlabel("antegrade flow reduction in the catheterised vessel")
    a.set_ylabel("contrast clearance time, cardiac cycles")
    a.legend(fontsize=8, loc="upper left")
    return publish(fig, results, out_dir, "endpoints", f"Endpoint thresholds and contrast clearance: {scenario.title}")


if __name__ == "__main__":
    raise SystemExit(module_main(run, __doc__.splitlines()[0], "endpoints"))
