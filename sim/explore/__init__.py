"""The interactive explorer (``embosim explore``): a Panel page over the simulation, and case mode.

Modules: :mod:`~sim.explore.controls` (controls -> validated scenario),
:mod:`~sim.explore.scenario_toml` (the download), :mod:`~sim.explore.cache` (livers
by anatomy key), :mod:`~sim.explore.compute` (what the page shows, as arrays),
:mod:`~sim.explore.figures` (Bokeh), :mod:`~sim.explore.cases` (case files and
scoring), :mod:`~sim.explore.case_view` and :mod:`~sim.explore.app` (the page).
``Explorer`` and ``serve`` load Panel on first use.
"""

from __future__ import annotations

__all__ = ["Explorer", "serve"]


def __getattr__(name: str):
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
