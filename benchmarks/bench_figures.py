"""Benchmark: ``embosim plot RUN_DIR --kind KIND`` for every run kind, from a saved run folder (no simulation).

Run ``python benchmarks/bench_figures.py`` from the repository root. It runs the
default scenario once, writes its run folder (``run_state.npz`` size and the time
the extraction adds are reported), then times the command for each kind in a fresh
process (wall time: interpreter start, imports, loading the folder, drawing and
writing a 150 dpi PNG; best of 3) and its CPU time (user + system: what the figure
costs on an idle machine when other jobs share the cores). Results go to ``benchmarks/results/figures.json``;
``docs/performance.md`` summarises them. Target (issue 19): under 2 s per figure.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "figures.json"
KINDS = ("tree", "before-after", "curve", "deposition", "angiogram")
REPEATS = 3


def main() -> None:
    import sim
    from sim.catalogue import resolve_scenario

    result = sim.run(sim.load_scenario(resolve_scenario("bulky_segment5_net")), progress=False)
    embosim = shutil.which("embosim") or sys.exit("embosim is not on PATH (pip install -e .)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        started = time.perf_counter()
        result.write(folder, figures=False)
        write_s = time.perf_counter() - started
        record = {"run_state_mb": (folder / "run_state.npz").stat().st_size / 1e6, "write_s": write_s,
                  "plot_s": {}, "plot_cpu_s": {}, "load_average": os.getloadavg()[0]}
        for kind in KINDS:
            wall, cpu = [], []
            for _ in range(REPEATS):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                subprocess.run([embosim, "plot", str(folder), "--kind", kind, "--out", f"{tmp}/{kind}.png"],
                               check=True, capture_output=True)
                wall.append(time.perf_counter() - started)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            record["plot_s"][kind], record["plot_cpu_s"][kind] = min(wall), min(cpu)
            print(f"{kind}: {min(wall):.2f} s wall, {min(cpu):.2f} s CPU")
    record |= {"python": platform.python_version(), "machine": platform.machine(),
               "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"run_state.npz {record['run_state_mb']:.1f} MB; RunResult.write {write_s:.1f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
