"""Figure kinds of ``embosim plot --kind`` and the figures ``embosim run`` writes next to its summary."""

from __future__ import annotations

from pathlib import Path

from .angio import angiogram
from .arteries import before_after, tree
from .endpoint import endpoint_curve
from .particles import deposition
from .run import TABLE_KINDS, run_data
from .sirt import dose_map, dose_volume, maa_comparison
from .strategies import arterialisation, comparison
from .style import save_figure
from .tace import drug

__all__ = ["DRUG_RUN_FIGURES", "KINDS", "RUN_FIGURES", "SIRT_RUN_FIGURES", "figure", "write_run_figures"]

#: Figure function of each kind.
_FIGURES = {"tree": tree, "before-after": before_after, "curve": endpoint_curve, "deposition": deposition,
            "comparison": comparison, "arterialisation": arterialisation, "angiogram": angiogram,
            "dose": dose_map, "dvh": dose_volume, "maa": maa_comparison, "drug": drug}
#: Figure kinds of ``embosim plot --kind``.
KINDS = tuple(_FIGURES)
#: Figures :func:`write_run_figures` writes next to summary.json (file name -> figure kind).
RUN_FIGURES = {"curve.png": "curve", "before_after.png": "before-after", "deposition.png": "deposition",
               "angiogram.png": "angiogram"}
#: Figures :func:`write_run_figures` adds for a Y-90 run (``sim.figures.run.SIRT_KINDS``).
SIRT_RUN_FIGURES = {"dose.png": "dose", "dvh.png": "dvh", "maa.png": "maa"}
#: Figures :func:`write_run_figures` adds for a session that gave doxorubicin (``sim.figures.run.DRUG_KINDS``).
DRUG_RUN_FIGURES = {"drug.png": "drug"}


def figure(kind: str, source, *, style: str = "slide", metrics=None):
    """The figure of a kind (``KINDS``) with its default options.

    Parameters
    ----------
    kind : str
    source : RunData, RunResult, Liver or pandas.DataFrame
        A comparison table for ``TABLE_KINDS``.
    style : {"slide", "paper"}
    metrics : sequence of str, optional
        For ``TABLE_KINDS``: the outcome columns, one panel each (default ``DEFAULT_METRICS``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if kind not in _FIGURES:
        raise ValueError(f"unknown figure kind {kind!r}; allowed: {', '.join(KINDS)}")
    if metrics is not None:
        if kind not in TABLE_KINDS:
            raise ValueError(f"metrics are panels of a comparison table's figure ({', '.join(TABLE_KINDS)}), "
                             f"not of {kind!r}")
        return _FIGURES[kind](source, list(metrics), style=style)
    return _FIGURES[kind](source, style=style)


def write_run_figures(source, out_dir: str | Path, *, style: str = "slide") -> list[Path]:
    """Write the run's key figures (``RUN_FIGURES``, ``SIRT_RUN_FIGURES`` for a Y-90 run, ``DRUG_RUN_FIGURES`` for a
    session that gave doxorubicin) into ``out_dir``; the files written."""
    data = run_data(source)
    out = Path(out_dir)
    chosen = RUN_FIGURES | (SIRT_RUN_FIGURES if data.has_sirt else {}) | \
        (DRUG_RUN_FIGURES if (data.summary or {}).get("drug_delivered_mg") else {})
    return [save_figure(figure(kind, data, style=style), out / name) for name, kind in chosen.items()]
