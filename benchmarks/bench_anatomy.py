"""Benchmark: build livers of about 1e3, 1e4, 1e5 and 1e6 terminals (one core).

Run ``python benchmarks/bench_anatomy.py`` from the repository root. Each size runs
in its own subprocess (one thread) so that its peak memory (``ru_maxrss``, the
whole process) is its own: the process first builds a tiny liver to compile the
Numba kernels into a fresh cache (reported as ``warmup_s``, excluded from
``build_s``), then builds the liver of the default scenario at the terminal
diameter that gives about the target number of terminals. Results go to
``benchmarks/results/anatomy.json``; ``docs/performance.md`` summarises them.
Targets (issue 3): 1e5 terminals under 5 s, 1e6 under 60 s, under 4 GB.
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
from datetime import datetime, timezone
from pathlib import Path

TARGETS = (1_000, 10_000, 100_000, 1_000_000)
#: Terminals per (PHA radius / terminal radius)^g, measured on the default scenario
#: (leaves carry 1-2 terminal design flows, about 1 / 1.37 of the bound).
_LEAVES_PER_BOUND = 1.0 / 1.37
_PHA_DIAMETER_UM = 4500.0
RESULTS = Path(__file__).resolve().parent / "results" / "anatomy.json"


def terminal_diameter_um(terminals: int, exponent: float) -> float:
    """Terminal diameter giving about ``terminals`` terminal territories (Murray from the PHA)."""
    return _PHA_DIAMETER_UM * (terminals / _LEAVES_PER_BOUND) ** (-1.0 / exponent)


def measure(diameter_um: float) -> dict:
    """Build one liver in this process and report time, counts and peak memory."""
    from sim.anatomy import build_liver
    from sim.catalogue import default_scenario_path
    from sim.scenario import load_scenario

    scenario = load_scenario(default_scenario_path())
    t0 = time.perf_counter()
    build_liver(scenario.with_updates({"liver.terminal_diameter_um": 400.0}))
    warmup = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    liver = build_liver(scenario.with_updates({"liver.terminal_diameter_um": diameter_um}), allow_large=True)
    build = time.perf_counter() - t0
    c = liver.compiled
    return {"terminal_diameter_um": round(diameter_um, 2), "terminals": int((c.compartments.kind == 0).sum()),
            "pedicle_nodes": c.forest.n_nodes, "compartments": c.compartments.n,
            "tissue_points": int(c.points.xyz.shape[0]), "max_generation": int(c.forest.generation.max()),
            "build_s": round(build, 3), "warmup_s": round(warmup, 3), "rss_before_build_mb": round(rss_before, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_all(targets=TARGETS) -> dict:
    """Every size in its own single-threaded subprocess with a fresh Numba cache."""
    from sim.scenario import Scenario

    g = Scenario().liver.murray_exponent
    rows = []
    for n in targets:
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1", "NUMBA_CACHE_DIR": cache}
            out = subprocess.run([sys.executable, __file__, "--one", str(terminal_diameter_um(n, g))], env=env,
                                 check=True, capture_output=True, text=True)
        row = {"target_terminals": n, **json.loads(out.stdout.strip().splitlines()[-1])}
        print(json.dumps(row), flush=True)
        rows.append(row)
    import numba
    import numpy

    return {"benchmark": "anatomy: build_liver of the default scenario", "date": datetime.now(timezone.utc).isoformat(),
            "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                        "python": platform.python_version(), "numpy": numpy.__version__, "numba": numba.__version__},
            "threads": 1, "results": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--max", type=int, default=TARGETS[-1], help="largest target terminal count")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one)))
        return
    report = run_all(tuple(n for n in TARGETS if n <= args.max))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
