"""Teaching figures of a run, a liver or a strategy comparison (matplotlib; the core never imports this package).

One module per figure family, each figure a pure function of a loaded run
(:class:`RunData`, from :func:`load_run` of a run folder, or :func:`run_data` of a
``RunResult`` or ``Liver``) or of a comparison table:

* :mod:`.arteries`: :func:`tree`, :func:`before_after` (AP anatomy);
* :mod:`.endpoint`: :func:`endpoint_curve`;
* :mod:`.particles`: :func:`deposition`;
* :mod:`.strategies`: :func:`comparison`, :func:`arterialisation`;
* :mod:`.angio`: :func:`angiogram`, :func:`animate_angiogram` (from the saved frames);
* :mod:`.tace`: :func:`drug` (plasma and tissue doxorubicin over time, of DEB-TACE and cTACE runs);
* :mod:`.sirt`: :func:`dose_map`, :func:`dose_volume` (DVH), :func:`maa_comparison` (Y-90 runs);
* :mod:`.dsa`: fluoroscopy-like DSA stills and movies (GIF, MP4) of one run or several
  side by side (:func:`animate_run`, :func:`animate_compare`);
* :mod:`.style` (palettes, slide/paper styles, display names, saving),
  :mod:`.labels` (non-overlapping labels), :mod:`.run` (loading; no matplotlib),
  :mod:`.kinds` (``embosim plot --kind``).

Every figure function draws on ``ax`` (a new :class:`matplotlib.figure.Figure` when
``None``: no display, no pyplot state), takes ``style="slide"|"paper"`` and returns
the Figure. Names load lazily: ``import sim.figures`` and :func:`load_run` load no
matplotlib.
"""

from __future__ import annotations

import importlib

#: public name -> module of this package that defines it
_LAZY = {
    "RunData": "run", "load_run": "run", "run_data": "run", "load_source": "run", "load_table": "run",
    "TABLE_KINDS": "run", "SIRT_KINDS": "run", "DRUG_KINDS": "run",
    "KINDS": "kinds", "RUN_FIGURES": "kinds", "SIRT_RUN_FIGURES": "kinds", "DRUG_RUN_FIGURES": "kinds",
    "figure": "kinds", "write_run_figures": "kinds",
    "FORMATS": "style", "OKABE_ITO": "style", "SACE_COLOURS": "style", "STRATEGY_COLOURS": "style",
    "CATEGORY_COLOURS": "style", "STYLES": "style", "display_name": "style", "save_figure": "style",
    "TREE_MIN_DIAMETER_UM": "arteries", "tree": "arteries", "before_after": "arteries",
    "endpoint_curve": "endpoint", "deposition": "particles",
    "DEFAULT_METRICS": "strategies", "comparison": "strategies", "arterialisation": "strategies",
    "angiogram": "angio", "animate_angiogram": "angio",
    "dsa_frames": "dsa", "write_movie": "dsa", "write_still": "dsa", "animate_run": "dsa", "animate_compare": "dsa",
    "panels_of_run": "dsa", "panels_of_runs": "dsa", "panels_of_saved": "dsa", "animate_saved": "dsa",
    "animate_strategies": "dsa", "MOVIE_SUFFIXES": "dsa",
    "drug": "tace",
    "dose_map": "sirt", "dose_volume": "sirt", "maa_comparison": "sirt",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'sim.figures' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
