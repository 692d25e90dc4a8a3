"""Benchmark: how long Numba takes to compile the kernels on a fresh installation, and whether any kernel compiles twice.

Run ``python benchmarks/bench_compile.py`` from the repository root. Each step runs in a subprocess of its own
with an empty Numba cache (``NUMBA_CACHE_DIR`` in a temporary folder), single-threaded:

- ``run``: the default scenario on a coarse liver (300 um terminals), run once: what a first ``embosim run``
  adds for compiling (the liver build and the run themselves take about 1 s of it);
- ``view_run_view``: the explorer's order on a fresh cache: the angiogram of the liver view, the run, the
  angiogram after. Every kernel should compile once: a read-only array is another Numba type, so a kernel
  handed a read-only array in one place and a writable one in another compiles twice (``twice`` lists the
  kernels of ``sim.kernels`` that hold more than one compiled signature at the end);
- ``warm``: ``view_run_view`` again with the cache it filled (loading only);
- ``tests_warm_up``: ``tests/compile_kernels.py``, which the test suite's parallel workers wait for.

Results go to ``benchmarks/results/compile.json``; ``docs/performance.md`` summarises them.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "compile.json"

_PRELUDE = """
import json, sys
import sim
from sim import angiography as ag
scenario = sim.load_scenario(sim.default_scenario_path()).with_updates({"liver.terminal_diameter_um": 300.0})
liver = sim.build_liver(scenario)
"""
_VIEW = """
flow = ag.baseline_flow(liver)
ag.contrast_transit(flow, ag.default_injection(flow))
"""
_TWICE = """
import importlib, json, pkgutil, sim.kernels
twice = {}
for info in pkgutil.iter_modules(sim.kernels.__path__):
    module = importlib.import_module(f"sim.kernels.{info.name}")
    for name, value in vars(module).items():
        if getattr(value, "__module__", None) == module.__name__ and len(getattr(value, "signatures", ())) > 1:
            twice[f"{info.name}.{name}"] = len(value.signatures)
print(json.dumps(twice))
"""
STEPS = {
    "run": _PRELUDE + "sim.run(scenario, progress=False, liver=liver)\n" + _TWICE,
    "view_run_view": _PRELUDE + _VIEW + "sim.run(scenario, progress=False, liver=liver)\n" + _VIEW + _TWICE,
}


def timed(code: str | None, cache: str, script: Path | None = None) -> tuple[float, dict]:
    """(wall time, s; the kernels compiled more than once, or {}) of ``code`` (or ``script``) in a subprocess."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(script)] if script else [sys.executable, "-c", code]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    return wall, (json.loads(done.stdout.strip().splitlines()[-1]) if script is None else {})


def main() -> None:
    out: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                 "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                             "cpu": _cpu_name()}, "steps": {}}
    for name, code in STEPS.items():
        with tempfile.TemporaryDirectory() as cache:
            wall, twice = timed(code, cache)
            out["steps"][name] = {"wall_s": round(wall, 1), "twice": twice}
            if name == "view_run_view":
                warm, _ = timed(code, cache)
                out["steps"]["warm"] = {"wall_s": round(warm, 1)}
        print(name, out["steps"][name], flush=True)
    with tempfile.TemporaryDirectory() as cache:
        wall, _ = timed(None, cache, script=ROOT / "tests" / "compile_kernels.py")
        out["steps"]["tests_warm_up"] = {"wall_s": round(wall, 1)}
    print(json.dumps(out["steps"], indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


def _cpu_name() -> str:
    """The processor's model name (Linux), else :func:`platform.processor`."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
