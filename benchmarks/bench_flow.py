"""Benchmark: the O(N) two-port flow solve against scipy's sparse direct solve (one core).

Run ``python benchmarks/bench_flow.py`` from the repository root. For about 1e4,
1e5, 4e5, 1e6 and 4e6 vessel segments (arterial + portal; random pedicle livers
of ``sim.testing`` with 1/4 as many terminals), each size runs in its own
single-threaded subprocess so that its peak memory (``ru_maxrss``) is its own.
The subprocess first solves a tiny liver and runs the incremental update once,
compiling the kernels into a fresh Numba cache (``warmup_s``, excluded from
everything else), then measures:

* ``solve_s``: the full solve (elimination, trunk, back substitution), best of 5,
  and its three parts;
* ``scipy_s``: ``scipy.sparse.linalg.spsolve`` of the same network (the reference
  solver of ``sim.flow.reference``, Laplacian assembly excluded, ``assembly_s``),
  skipped when the previous size predicts more than ``SCIPY_LIMIT_S``; the
  largest relative difference of the pressures (``max_rel_diff``);
* ``lodging_us``: one incremental update per lodging (a random arterial pedicle
  vessel set to 0, the path refreshed, the trunk re-solved, the pressures at the
  lodging site recomputed), over 10,000 distinct lodgings (half the vessels at
  the smallest size) inside one @njit loop;
* ``state_mb`` (the kernel's arrays) and ``peak_rss_mb`` (the whole process).

Results go to ``benchmarks/results/flow.json``; ``docs/performance.md`` summarises
them. Targets (issue 4): >= 50x faster than scipy at 4e5 segments; 4e6 segments
in under 0.25 s on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

SEGMENTS = (10_000, 100_000, 400_000, 1_000_000, 4_000_000)
#: Skip scipy when the previous size predicts a solve longer than this, s.
SCIPY_LIMIT_S = 60.0
#: Assumed growth of scipy's solve time with size (time ~ N^growth) for that prediction.
SCIPY_GROWTH = 1.5
#: Lodgings timed per size.
LODGINGS = 10_000
RESULTS = Path(__file__).resolve().parent / "results" / "flow.json"


def _lodge_loop():
    """The incremental-update loop, compiled in the subprocess (as the transport kernel would call it)."""
    from numba import njit

    from sim.kernels import twoport

    @njit
    def lodge(st, nodes):
        acc = 0.0
        for k in nodes:
            twoport.set_pedicle_conductance(st, k, 0.0, st.g_por[k])
            twoport.solve_trunk(st)
            acc += twoport.node_pressures(st, k)[1]
        return acc

    return lodge


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(segments: int, scipy_solve: bool) -> dict:
    """Time one size in this process."""
    import numpy as np

    from sim.flow import LiverFlow
    from sim.flow.reference import liver_network
    from sim.kernels import twoport
    from sim.testing import random_liver

    lodge = _lodge_loop()
    t0 = time.perf_counter()
    tiny = random_liver(16, rng=0)
    tiny = LiverFlow(tiny.compiled, tiny.scenario)
    lodge(tiny.state, np.array([1], np.int64))
    warmup = time.perf_counter() - t0

    t0 = time.perf_counter()
    liver = random_liver(max(segments // 4, 8), rng=0)
    generate = time.perf_counter() - t0
    t0 = time.perf_counter()
    flow = LiverFlow(liver.compiled, liver.scenario)
    model = time.perf_counter() - t0
    st = flow.state
    forest, trunk = liver.compiled.forest, liver.compiled.trunk
    n_segments = 2 * int((forest.parent >= 0).sum()) + int(np.isfinite(trunk.edge_radius_m).sum())
    row = {"segments_target": segments, "segments": n_segments, "pedicle_nodes": forest.n_nodes,
           "terminals": int((liver.compiled.compartments.kind == 0).sum()), "compartments": liver.compiled.compartments.n,
           "max_depth": int(forest.generation.max() - 2), "warmup_s": round(warmup, 3), "generate_s": round(generate, 3),
           "model_s": round(model, 3), "solve_s": _best(lambda: twoport.solve(st)),
           "eliminate_s": _best(lambda: twoport.eliminate(st)), "trunk_s": _best(lambda: twoport.solve_trunk(st)),
           "substitute_s": _best(lambda: twoport.substitute(st))}
    twoport.solve(st)
    p_kernel = st.art_p.copy()
    if scipy_solve:
        t0 = time.perf_counter()
        net = liver_network(st)
        row["assembly_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        sol = net.solve()
        row["scipy_s"] = time.perf_counter() - t0
        row["speedup"] = row["scipy_s"] / row["solve_s"]
        ref = sol.pressure[net.art_node]
        row["max_rel_diff"] = float(np.max(np.abs(p_kernel - ref)) / np.max(np.abs(ref)))
        del net, sol
    candidates = np.flatnonzero(forest.parent >= 0)
    nodes = np.random.default_rng(1).choice(candidates, min(LODGINGS, candidates.size // 2), replace=False)
    t0 = time.perf_counter()
    lodge(st, nodes)
    row["lodgings"] = int(nodes.size)
    row["lodging_us"] = (time.perf_counter() - t0) / nodes.size * 1e6
    row["state_mb"] = sum(a.nbytes for a in st) / 2**20
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in row.items()}


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python benchmarks/bench_flow.py [--segments N ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, nargs="*", default=list(SEGMENTS), help="sizes (vessel segments)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-scipy", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, not args.no_scipy)))
        return 0
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", NUMBA_CACHE_DIR=tempfile.mkdtemp(prefix="embosim-bench-flow-"))
    rows = []
    last = None  # (segments, scipy seconds) of the last size scipy solved
    for segments in sorted(args.segments):
        predicted = 0.0 if last is None else last[1] * (segments / last[0]) ** SCIPY_GROWTH
        cmd = [sys.executable, __file__, "--one", str(segments)]
        if predicted > SCIPY_LIMIT_S:
            cmd.append("--no-scipy")
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        if "scipy_s" in row:
            last = (segments, row["scipy_s"])
        else:
            row["scipy_skipped"] = f"predicted {predicted:.0f} s > {SCIPY_LIMIT_S:.0f} s"
        rows.append(row)
        print(json.dumps(row), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    import numba
    import numpy
    import scipy

    RESULTS.write_text(json.dumps({
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.platform(),
        "python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
        "numba": numba.__version__, "cores_visible": os.cpu_count(), "threads": 1, "results": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
