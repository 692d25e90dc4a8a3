"""Benchmark: SIRT batched delivery, spheres routed per second, and the SIRT scenarios' run times (one core).

Run ``python benchmarks/bench_sirt.py`` from the repository root (``--quick`` for a
tenth of the activities). On the default liver (terminal 50 um):

- router alone: spheres per second of :func:`sim.procedure.route_fixed_field` on the
  baseline field (no loading);
- end to end: :func:`sim.sirt_batch.deliver_batched` of the full activity (no stop:
  every sphere routed, loaded, flows updated per batch) for glass 3 GBq from A5
  (segmental) and resin 2 GBq from the RHA (lobar);
- ``sim.run`` wall time of each shipped ``scenarios/sirt_*.toml`` (liver build included).

Results go to ``benchmarks/results/sirt.json``; ``docs/performance.md`` summarises them.
Target (issue 16): a resin lobar activity (2-4e7 spheres) well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sirt.json"
CASES = {"glass_segmental": ("y90_glass", 3.0, "A5"), "resin_lobar": ("y90_resin", 2.0, "RHA")}


def delivery(kind: str, gbq: float, vessel: str) -> dict:
    import sim
    from sim.agents import agent_from_config
    from sim.procedure import route_fixed_field
    from sim.sirt_batch import deliver_batched, prepare

    s = sim.Scenario().with_updates({"agent.kind": kind, "agent.activity_gbq": gbq, "catheter.vessel": vessel,
                                     "procedure.max_volume_ml": 500.0})
    agent = agent_from_config(s.agent)
    liver = sim.build_liver(s, progress=False)
    rng = np.random.default_rng(0)
    compiled, state, net, geo, sinks = prepare(s, liver, agent)
    deliver_batched(compiled, state, net, geo, sinks, agent.sample_diameters(2000, rng=rng), rng)  # compile
    n = int(round(agent.prescribed_spheres()))
    d = agent.sample_diameters(n, rng=rng)
    compiled, state, net, geo, sinks = prepare(s, liver, agent)
    m = min(n, 4_000_000)
    t = time.perf_counter()
    route_fixed_field(compiled, state, net, len(sinks), d[:m], rng)
    router = time.perf_counter() - t
    t = time.perf_counter()
    r = deliver_batched(compiled, state, net, geo, sinks, d, rng)
    end = time.perf_counter() - t
    return {"kind": kind, "activity_gbq": gbq, "catheter": vessel, "spheres": n,
            "router_spheres_per_s": m / router, "end_to_end_s": end, "end_to_end_spheres_per_s": n / end,
            "batches": r.n_batches, "deferred": r.n_deferred, "final_flow_fraction": float(r.flow_fraction[-1])}


def scenario_run(path: Path) -> dict:
    import sim
    from sim.scenario import load_scenario

    t = time.perf_counter()
    r = sim.run(load_scenario(path), progress=False)
    s = r.summary
    return {"scenario": path.stem, "wall_s": time.perf_counter() - t, "spheres": s["sirt_spheres_delivered"],
            "stop_reason": s["sirt_stop_reason"], "sace_level": s["sace_level"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the activities, no scenario runs")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    scale = 0.1 if args.quick else 1.0
    out = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": args.quick, "delivery": {},
           "scenarios": []}
    for name, (kind, gbq, vessel) in CASES.items():
        out["delivery"][name] = delivery(kind, gbq * scale, vessel)
        print(name, json.dumps(out["delivery"][name]), flush=True)
    if not args.quick:
        for path in sorted(Path("scenarios").glob("sirt_*.toml")):
            out["scenarios"].append(scenario_run(path))
            print(json.dumps(out["scenarios"][-1]), flush=True)
    from sim.io import atomic_write

    with atomic_write(RESULTS) as tmp:
        tmp.write_text(json.dumps(out, indent=2) + "\n")
    print("wrote", RESULTS)


if __name__ == "__main__":
    main()
