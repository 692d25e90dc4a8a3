"""Liver anatomy: domain, Couinaud segments, named vessels, synthetic dual-supply trees.

:func:`build_liver` turns a scenario into a :class:`Liver`, whose ``compiled``
arrays (:class:`sim.network.CompiledLiver`) are what the flow and transport kernels
use; ``liver.graph`` is the same liver as a networkx DiGraph, built only when asked.
See ``docs/anatomy.md``.

Importing this package loads numba (the bisection kernel) but builds nothing.
"""

from .graph import from_graph, to_graph, write_graphml
from .liver import Liver, VesselRef, build_liver

__all__ = ["build_liver", "Liver", "VesselRef", "to_graph", "from_graph", "write_graphml"]
