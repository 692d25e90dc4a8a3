"""Liver anatomy: domain, Couinaud segments, named vessels, synthetic dual-supply trees.

:func:`build_liver` turns a scenario into a :class:`Liver`, whose ``compiled``
arrays (:class:`sim.network.CompiledLiver`) are what the flow and transport kernels
use; ``liver.graph`` is the same liver as a networkx DiGraph, built only when asked.
See ``docs/anatomy.md``.

The names below are imported on first use, so that the cheap geometry modules
(:mod:`~sim.anatomy.domain`, :mod:`~sim.anatomy.trunk`), which scenario validation
uses, load without numba or networkx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .graph import from_graph, to_graph, write_graphml
    from .liver import Liver, VesselRef, build_liver, estimate_build

__all__ = ["build_liver", "estimate_build", "Liver", "VesselRef", "to_graph", "from_graph", "write_graphml"]

_HOME = {"build_liver": "liver", "estimate_build": "liver", "Liver": "liver", "VesselRef": "liver",
         "to_graph": "graph", "from_graph": "graph", "write_graphml": "graph"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
