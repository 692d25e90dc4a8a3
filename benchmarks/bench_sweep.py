"""Benchmark: sweep throughput on 1 and 2 local worker processes and on a 2-worker Dask LocalCluster.

Run ``python benchmarks/bench_sweep.py`` from the repository root. Every
configuration runs the same 40-run sweep (:data:`SPEC`: one liver of the default
scenario at 150 um terminals, two particle sizes x two catheter positions x two
injection rates x 5 seeds) into a fresh output folder, after a warm-up sweep on
the same workers that starts them and loads the Numba kernels from the on-disk
cache (``warmup_s``, excluded). Reported per configuration: wall time, runs per
minute, the runs' own time (``run_time_s`` summed) and the overhead per run,

    overhead = ((wall - liver build) * workers - sum of run times) / runs,

as a share of the mean run time, and ``busy_pct``, the share of the workers' time
spent in runs. Parallel efficiency is the 2-worker throughput over twice the
1-worker one: on a machine shared with other jobs it also falls when the runs
themselves slow down (``mean_run_s``), which ``busy_pct`` does not count. The serial backend (runs in this process) is the
reference without any pool. Results go to ``benchmarks/results/sweep.json``;
``docs/performance.md`` summarises them. Targets (issue 8): efficiency above 80%
at 2 workers, overhead under 5% of a run's time.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "sweep.json"
SPEC = {
    "title": "bench: 2 sizes x 2 catheter positions x 2 rates x 5 seeds on one liver",
    "base": "bulky_segment5_net",
    "seed": 8,
    "replicates": 5,
    "fixed": {"liver.terminal_diameter_um": 150.0},
    "parameters": {"agent.size_bin": ["100-300", "300-500"], "catheter.vessel": ["A5", "RHA"],
                   "catheter.rate_ml_min": [1.0, 2.0]},
}
#: Warm-up: 8 runs of another seed on the same workers.
WARMUP = {**SPEC, "seed": 9, "replicates": 1}


def liver_build_s() -> float:
    """Time of one build of the sweep's liver in this process (warm), s."""
    from sim.anatomy import build_liver
    from sim.sweep_spec import parse_sweep_spec, plan_sweep

    scenario = plan_sweep(parse_sweep_spec(SPEC)).scenario(0)
    build_liver(scenario)
    started = time.perf_counter()
    build_liver(scenario)
    return time.perf_counter() - started


def timed_sweep(spec: dict, **options) -> tuple[float, "object"]:
    """(wall time in s, table) of one sweep into a fresh output folder."""
    from sim.sweep import sweep
    from sim.sweep_spec import parse_sweep_spec

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        table = sweep(parse_sweep_spec(spec), out=Path(out) / "sweep", **options)
        return time.perf_counter() - started, table


def measure(label: str, build_s: float, *, cores: int, **options) -> dict:
    """Warm up, then time the sweep on ``cores`` workers; throughput and overhead per run."""
    warmup_s, _ = timed_sweep(WARMUP, **options)
    wall, table = timed_sweep(SPEC, **options)
    assert table["error"].isna().all(), table["error"].dropna().tolist()
    n = len(table)
    work = float(table["run_time_s"].sum())
    overhead = ((wall - build_s) * cores - work) / n
    row = {"configuration": label, "workers": cores, "runs": n, "warmup_s": round(warmup_s, 2),
           "wall_s": round(wall, 2), "runs_per_min": round(n / wall * 60.0, 1), "run_time_sum_s": round(work, 2),
           "mean_run_s": round(work / n, 3), "overhead_per_run_s": round(overhead, 4),
           "overhead_pct": round(100.0 * overhead / (work / n), 1),
           "busy_pct": round(100.0 * work / ((wall - build_s) * cores), 1)}
    print(json.dumps(row), flush=True)
    return row


def run_all() -> dict:
    """Serial, 1 and 2 local processes, and a 2-worker Dask LocalCluster, on the same sweep."""
    from dask.distributed import Client, LocalCluster

    load_before = os.getloadavg()
    build_s = liver_build_s()
    rows = [measure("serial (this process)", build_s, cores=1, backend="serial"),
            measure("processes, 1 worker", build_s, cores=1, backend="processes", workers=1),
            measure("processes, 2 workers", build_s, cores=2, backend="processes", workers=2)]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        rows.append(measure("dask LocalCluster, 2 workers", build_s, cores=2, client=client))
    one = rows[1]["runs_per_min"]
    efficiency = {row["configuration"]: round(100.0 * row["runs_per_min"] / (row["workers"] * one), 1)
                  for row in rows[2:]}
    print(json.dumps({"liver_build_s": round(build_s, 3), "parallel_efficiency_pct": efficiency}))
    return {"benchmark": "sweep throughput", "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]},
            "spec": SPEC, "liver_build_s": round(build_s, 3), "parallel_efficiency_pct": efficiency, "results": rows}


def main() -> None:
    report = run_all()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
