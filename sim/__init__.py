"""embosim: hemodynamic simulator of trans-arterial embolisation of the liver.

The public names are loaded lazily so that ``import sim`` stays fast and loads no
numba, scipy or matplotlib (see docs/architecture.md).

Examples
--------
>>> import sim
>>> scenario = sim.load_scenario(sim.default_scenario_path())   # doctest: +SKIP
>>> liver = sim.build_liver(scenario)                             # doctest: +SKIP
>>> flow = sim.solve_flow(liver)                                  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("embosim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

#: public name -> module that defines it
_LAZY = {
    "Scenario": "sim.scenario",
    "ScenarioError": "sim.scenario",
    "load_scenario": "sim.scenario",
    "default_scenario_path": "sim.catalogue",
    "list_scenarios": "sim.catalogue",
    "build_liver": "sim.anatomy",
    "Liver": "sim.anatomy",
    "solve_flow": "sim.flow",
    "run": "sim.simulation",
    "compare": "sim.strategies",
    "sweep": "sim.sweeps",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
