"""The O(N) two-port flow solver against the scipy sparse reference on a random pedicle liver.

embosim solves the dual-supply liver with an exact O(N) elimination
(:mod:`sim.kernels.twoport`, docs/flow.md); :mod:`sim.flow.reference` writes the same
liver as a general network (graph Laplacian) and solves it with
``scipy.sparse.linalg.spsolve``. Both must give the same pressures and flows to
rounding (tolerance 1e-9 relative to the largest value of each kind, as in
tests/test_flow_twoport.py), on a liver with a trunk cycle (collateral), an
extrahepatic feeder, a catheter injection and random occlusions (some of which cut
parts off: those must be NaN in both).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from sim.flow import LiverFlow
from sim.flow.reference import liver_network
from sim.kernels import twoport
from sim.testing import random_liver
from sim.units import MMHG_PA

from . import CaseResult, module_main, new_figure, publish

__all__ = ["compare", "run", "TOLERANCE", "TERMINALS"]

#: Relative tolerance of the agreement.
TOLERANCE = 1e-9
#: Terminals of the random liver, fast and full run.
TERMINALS = {True: 10_000, False: 100_000}
#: Share of pedicle vessel pairs occluded at random (arterial closed; portal closed in 30% of them).
OCCLUDED_SHARE = 0.05


def _occlude(st: twoport.FlowState, rng: np.random.Generator) -> None:
    nonroot = np.flatnonzero(st.parent >= 0)
    for k in rng.choice(nonroot, int(OCCLUDED_SHARE * nonroot.size), replace=False):
        twoport.set_pedicle_conductance(st, k, 0.0, st.g_por[k] if rng.random() < 0.7 else 0.0)


def compare(n_terminals: int, *, rng=0) -> dict:
    """Solve one random liver both ways.

    Returns
    -------
    dict
        ``pressure`` and ``flow``: (kernel, scipy) pairs of concatenated arrays (Pa,
        m^3/s; pressures relative to the hepatic veins); ``seconds``: (kernel,
        scipy) solve times; ``unknowns``: nodes of the general network.
    """
    rng = np.random.default_rng(rng)
    liver = random_liver(n_terminals, rng=rng, extrahepatic=True, collateral=True)
    st = LiverFlow(liver.compiled, liver.scenario, catheter=True).state
    _occlude(st, rng)
    started = time.perf_counter()
    twoport.solve(st)
    kernel_s = time.perf_counter() - started
    net = liver_network(st)
    started = time.perf_counter()
    sol = net.solve()
    scipy_s = time.perf_counter() - started
    nonroot = st.parent >= 0
    nt = st.trunk_p.shape[0]
    pressure = [(st.trunk_p, sol.pressure[:nt]), (st.art_p, sol.pressure[net.art_node]),
                (st.por_p, sol.pressure[net.por_node]), (st.comp_p, sol.pressure[net.comp_node])]
    flow = [(st.trunk_q, sol.flow[net.trunk_edges]), (st.art_q[nonroot], sol.flow[net.art_edges[nonroot]]),
            (st.por_q[nonroot], sol.flow[net.por_edges[nonroot]])]
    for col in range(net.comp_edges.shape[1]):
        has = net.comp_edges[:, col] >= 0
        flow.append((st.comp_q[has, col], sol.flow[net.comp_edges[has, col]]))
    joined = {kind: tuple(np.concatenate(side) for side in zip(*pairs))
              for kind, pairs in (("pressure", pressure), ("flow", flow))}
    return {**joined, "seconds": (kernel_s, scipy_s), "unknowns": net.n_nodes}


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """Largest difference over the largest reference magnitude; inf if the NaN (isolated) patterns differ."""
    if not np.array_equal(np.isnan(ours), np.isnan(reference)):
        return float("inf")
    ok = ~np.isnan(reference)
    return float(np.max(np.abs(ours[ok] - reference[ok])) / np.max(np.abs(reference[ok])))


def run(out_dir: str | Path, *, fast: bool = False) -> list[CaseResult]:
    """Compare on a random liver of 1e4 (fast) or 1e5 terminals (the case interface of :mod:`validation`)."""
    n = TERMINALS[fast]
    res = compare(n)
    kernel_s, scipy_s = res["seconds"]
    timing = (f"{res['unknowns']:,} unknowns; two-port solve {kernel_s * 1e3:.1f} ms, "
              f"scipy spsolve {scipy_s * 1e3:.0f} ms")
    isolated = int(np.isnan(res["pressure"][1]).sum())
    results = [
        CaseResult(f"{kind}, two-port vs scipy.sparse spsolve ({n:,} terminals), max relative error",
                   relative_error(*res[kind]), "0 (same linear system)", f"<= {TOLERANCE:g}",
                   relative_error(*res[kind]) <= TOLERANCE,
                   f"{timing}; {isolated} isolated nodes NaN in both" if kind == "pressure" else timing, role="check")
        for kind in ("pressure", "flow")
    ]
    fig, ax = new_figure(1, 2, size=(10, 4))
    ours, ref = res["pressure"]
    ok = ~np.isnan(ref)
    ax[0, 0].plot(ref[ok][::50] / MMHG_PA, ours[ok][::50] / MMHG_PA, ".", ms=2)
    ax[0, 0].set_xlabel("scipy reference pressure, mmHg above hepatic veins")
    ax[0, 0].set_ylabel("two-port pressure, mmHg")
    for kind in ("pressure", "flow"):
        ours, ref = res[kind]
        ok = ~np.isnan(ref)
        err = np.abs(ours[ok] - ref[ok]) / np.max(np.abs(ref[ok]))
        ax[0, 1].hist(np.log10(np.maximum(err, 1e-20)), bins=60, histtype="step", lw=2, label=kind)
    ax[0, 1].axvline(np.log10(TOLERANCE), color="k", ls=":", label=f"tolerance {TOLERANCE:g}")
    ax[0, 1].set_xlabel("log10(|error| / largest value); exact agreement at -20")
    ax[0, 1].set_ylabel("nodes or vessels")
    ax[0, 1].legend(fontsize=8)
    return publish(fig, results, out_dir, "reference_solver", f"O(N) two-port solver vs scipy.sparse: {timing}")


if __name__ == "__main__":
    raise SystemExit(module_main(run, __doc__.splitlines()[0], "reference_solver"))
