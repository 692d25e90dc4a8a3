"""The embolisation benchmark's measuring functions run (they reach into kernel internals that can move).

benchmarks/ is not part of the test suite's timing, but its code must keep working: a renamed
kernel function once broke ``bench_embolisation.py`` without any test noticing. These run its
per-lodging profile and a short procedure on the shared coarse liver and check what they report.
"""

import importlib.util
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_embolisation", ROOT / "benchmarks" / "bench_embolisation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_per_lodging_profile_times_a_path_update_and_a_trunk_solve(bench, coarse_liver, coarse_scenario):
    out = bench._per_lodging_profile(coarse_liver, coarse_scenario)
    assert out["calls"] == bench.PROFILE_CALLS
    assert out["trunk_nodes"] >= coarse_liver.compiled.trunk.n_nodes  # with the catheter tip split in
    for key in ("path_update_us", "trunk_solve_us"):
        assert math.isfinite(out[key]) and out[key] > 0.0


def test_procedure_and_its_full_resolve_reference_take_the_same_paths(bench, coarse_liver, coarse_scenario):
    """As ``measure`` compares them: the incremental update and the full O(N) re-solve after every lodging."""
    import numpy as np

    sc = coarse_scenario.with_updates({"catheter.vessel": "RHA"})
    fast, elapsed, kernel = bench._procedure(coarse_liver, sc, max_particles=200)
    slow, _, _ = bench._procedure(coarse_liver, sc, max_particles=200, full_resolve=True)
    assert 0.0 < kernel <= elapsed
    assert fast.n_injected == slow.n_injected > 0
    assert int(fast.state.counters[1]) > 0  # lodgings counted
    np.testing.assert_array_equal(fast.state.where[:fast.n_injected], slow.state.where[:slow.n_injected])


def test_the_compile_benchmark_sees_a_kernel_compiled_for_a_read_only_array_too(tmp_path):
    """``bench_compile.py``'s check (kernels holding more than one compiled signature) names a kernel called with a
    writable and then a read-only array, and no other; the cache is a fresh folder."""
    import json
    import subprocess
    import sys

    spec = importlib.util.spec_from_file_location("bench_compile", ROOT / "benchmarks" / "bench_compile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = ("import numpy as np\nfrom sim.kernels import treewalk\nparent = np.array([-1, 0, 0, 1])\n"
             "treewalk.depths(parent, np.zeros(4, np.int64))\nparent.setflags(write=False)\n"
             "treewalk.depths(parent, np.zeros(4, np.int64))\n")
    _, twice = module.timed(calls + module._TWICE, str(tmp_path))
    assert twice == {"treewalk.depths": 2}
    assert json.loads(subprocess.run([sys.executable, "-c", module._TWICE], capture_output=True, text=True,
                                     check=True).stdout) == {}
