"""Check that a change leaves every simulated output identical to the bit (for speed work that must not change results).

Run from the repository root, once on the old code and once on the new (e.g. with
``PYTHONPATH`` pointing at an export of main), then compare::

    PYTHONPATH=/tmp/main python scripts/compare_runs.py dump /tmp/old.pkl
    python scripts/compare_runs.py dump /tmp/new.pkl
    python scripts/compare_runs.py cmp /tmp/old.pkl /tmp/new.pkl    # exit 1 on any difference

The scenarios: the default (catheter A5), catheter in the RHA, in A8 and in a synthetic
pedicle vessel ``#n`` (a generation-3 node), main portal vein thrombosis, Michels III,
cTACE with segmental PVT and SIRT glass in segment 5 at 0.3 GBq. Every summary number
(except ``run_time_s``, the wall time), every time-series row and every array of the
run's final state is compared bit for bit (NaN included).
"""

from __future__ import annotations

import pickle
import sys
import time

import numpy as np

#: Summary keys that are wall-clock times, the only outputs allowed to differ.
WALL_CLOCK = {"run_time_s"}


def cases():
    """(name, scenario, updates); updates ``"SYN"`` = catheter in a synthetic vessel chosen on the built liver."""
    import sim
    from sim.catalogue import default_scenario_path

    default = sim.load_scenario(default_scenario_path())

    def shipped(name):
        return sim.load_scenario(f"scenarios/{name}.toml")

    return [("default_A5", default, None), ("cath_RHA", default, {"catheter.vessel": "RHA"}),
            ("cath_A8", default, {"catheter.vessel": "A8"}), ("cath_#synthetic", default, "SYN"),
            ("main_pvt", shipped("main_pvt"), None), ("michels3", shipped("replaced_rha_michels3"), None),
            ("ctace_segmental_pvt", shipped("ctace_segmental_pvt"), None),
            ("sirt_glass_s5", shipped("sirt_glass_segment5"), {"agent.activity_gbq": 0.3})]


def dump(out: str) -> None:
    """Run every case and pickle its summary, time series and final-state arrays to ``out``."""
    import sim

    print("sim from", sim.__file__, flush=True)
    results, livers = {}, {}
    for name, scenario, updates in cases():
        started = time.perf_counter()
        liver = livers.setdefault(id(scenario), None) or sim.build_liver(scenario, progress=False)
        livers[id(scenario)] = liver
        if updates == "SYN":
            forest = liver.compiled.forest
            nodes = np.flatnonzero((np.asarray(forest.parent) >= 0) & (np.asarray(forest.generation) == 3))
            updates = {"catheter.vessel": f"#{int(nodes[len(nodes) // 2])}"}
        run = sim.run(scenario.with_updates(updates) if updates else scenario, progress=False, liver=liver)
        results[name] = {"updates": updates, "summary": run.summary, "timeseries": run.timeseries,
                         "state": {k: np.asarray(v) for k, v in run.state.items() if isinstance(v, np.ndarray)}}
        print(name, updates, f"{time.perf_counter() - started:.1f} s", flush=True)
    with open(out, "wb") as fh:
        pickle.dump(results, fh)


def same(x, y) -> bool:
    """Equal to the bit: floats and arrays by their bytes (NaN equals NaN), containers element by element."""
    if isinstance(x, float) and isinstance(y, float):
        return np.float64(x).tobytes() == np.float64(y).tobytes()
    if isinstance(x, np.ndarray):
        if not isinstance(y, np.ndarray) or x.dtype != y.dtype or x.shape != y.shape:
            return False
        if x.dtype == object:
            return all(same(a, b) for a, b in zip(x.ravel(), y.ravel()))
        return x.tobytes() == y.tobytes()
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return isinstance(y, (list, tuple)) and len(x) == len(y) and all(same(a, b) for a, b in zip(x, y))
    if hasattr(x, "columns"):
        return list(x.columns) == list(y.columns) and all(same(x[c].to_numpy(), y[c].to_numpy()) for c in x.columns)
    return type(x) is type(y) and (x == y or (x != x and y != y))


def compare(old: str, new: str) -> int:
    """Print one line per case and every difference; 0 if all identical, else 1."""
    with open(old, "rb") as fh:
        a = pickle.load(fh)
    with open(new, "rb") as fh:
        b = pickle.load(fh)
    bad = 0
    for name, ra in a.items():
        rb = b[name]
        diffs = [f"summary {k}" for k in ra["summary"]
                 if k not in WALL_CLOCK and not same(ra["summary"][k], rb["summary"].get(k))]
        diffs += ["timeseries"] if not same(ra["timeseries"], rb["timeseries"]) else []
        diffs += [f"state {k}" for k in ra["state"] if not same(ra["state"][k], rb["state"].get(k))]
        bad += len(diffs)
        ts = ra["timeseries"]
        print(f"{name} {ra['updates']}: {len(ra['summary'])} summary keys, {ts.shape[0]} x {ts.shape[1]} time series, "
              f"{len(ra['state'])} state arrays: {'identical' if not diffs else 'DIFFERENT: ' + ', '.join(diffs)}")
    print("all identical to the bit" if bad == 0 else f"{bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "cmp":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        print(__doc__.split("\n\n")[1])
        sys.exit(2)
