"""Compile embosim's Numba kernels into their disk cache, once, before parallel test workers start.

Each pytest-xdist worker would otherwise compile the same kernels at the same time (a few minutes each on a
fresh checkout). ``tests/conftest.py`` runs this script from the controller when the tests run on several
workers; alone: ``python tests/compile_kernels.py``. With the cache already warm it takes seconds.

What it runs, on coarse livers (300 um terminals): the default particle run and its run state (the
angiograms), a glass-sphere SIRT run (MAA work-up, batched delivery) and a conventional TACE run (lipiodol).
"""

from __future__ import annotations

import time

import sim
from sim import runstate

#: Shipped scenarios whose runs compile every kernel family the tests use.
SCENARIOS = ("default", "sirt_glass_segment5", "ctace_bulky_segment5_net")


def main() -> None:
    start = time.perf_counter()
    for name in SCENARIOS:
        path = sim.default_scenario_path() if name == "default" else name
        scenario = sim.load_scenario(path).with_updates({"liver.terminal_diameter_um": 300.0})
        result = sim.run(scenario, progress=False)
        runstate.extract(result)
    print(f"compile_kernels: Numba kernels compiled or loaded in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
