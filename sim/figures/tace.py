"""TACE figures (a matplotlib leaf of sim.figures; the core never imports it): the drug over time.

:func:`drug` draws, from the summaries of drug-carrying sessions (DEB-TACE, cTACE; docs/outputs.md, drug keys),
the plasma doxorubicin curve (:func:`sim.pharmacokinetics.plasma_curve`) and the drug still held by the carriers in
the tumour and in normal liver, over 60 days.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .run import RunData, run_data
from .style import OKABE_ITO, is_wide, line_width, new_axes, styled

__all__ = ["drug"]

#: Lowest plasma concentration drawn, ng/mL (the log axis' floor: far below any effect).
PLASMA_FLOOR_NG_ML = 1e-2


def _summaries(source) -> dict[str, dict]:
    """label -> summary of ``source``: a run (RunData, RunResult or run folder; labelled by its agent) or a mapping of
    label -> run or summary dict."""
    if isinstance(source, Mapping) and not isinstance(source, RunData):
        return {str(label): (run if isinstance(run, Mapping) else run_data(run).summary) for label, run in source.items()}
    data = run_data(source)
    data.require_run("a drug figure")
    return {str(data.summary.get("agent", "session")): data.summary}


@styled
def drug(source, ax=None):
    """Plasma doxorubicin and the drug held by the carriers in tumour and normal liver against time.

    Parameters
    ----------
    source : RunData, RunResult, run folder, or mapping of label -> one of those or a summary dict
        Drug-carrying sessions (DEB-TACE beads, cTACE emulsion), one line colour each.
    ax : sequence of two matplotlib Axes, optional
    style : {"slide", "paper"}

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        A session that gave no drug (a bland one, or a cTACE that gave nothing).
    """
    from ..pharmacokinetics import TIME_GRID_S, plasma_curve, summary_releases
    from ..units import HOUR_S, NG_ML_KG_M3

    summaries = _summaries(source)
    for label, summary in summaries.items():
        if not summary.get("drug_delivered_mg"):
            raise ValueError(f"a drug figure needs a session that gave doxorubicin (DEB-TACE beads or cTACE); "
                             f"{label!r} gave none")
    fig, (plasma, tissue) = new_axes(ax, 2, figsize=(15.0, 6.0))
    t_s = TIME_GRID_S[1:]
    t = t_s / HOUR_S  # the axes' unit, h
    colours = list(OKABE_ITO.values())
    for k, (label, s) in enumerate(summaries.items()):
        colour = colours[k % len(colours)]
        plasma.loglog(t, np.maximum(plasma_curve(summary_releases(s), t_s) / NG_ML_KG_M3, PLASMA_FLOOR_NG_ML), color=colour,
                      lw=line_width(2.4), label=label)
        held = np.exp(-np.log(2.0) * t / s["drug_release_half_life_h"])
        tissue.semilogx(t, s["drug_tumour_mg"] * held, color=colour, lw=line_width(2.4), label=f"{label}: tumour")
        tissue.semilogx(t, s["drug_normal_mg"] * held, color=colour, lw=line_width(2.4), ls="--",
                        label=f"{label}: normal liver")
    plasma.set(ylim=(PLASMA_FLOOR_NG_ML, 1e4), xlabel="time after injection (h)", ylabel="plasma doxorubicin (ng/mL)",
               title="Plasma")
    tissue.set(xlabel="time after injection (h)", ylabel="held by the carriers (mg)", ylim=(0, None),
               title="Held in the liver")
    from matplotlib.lines import Line2D

    # one legend below: the sessions by colour (one session: the title names it), the tissues by line style
    handles = [Line2D([], [], color=colours[k % len(colours)], lw=line_width(2.4), label=label)
               for k, label in enumerate(summaries)] if len(summaries) > 1 else []
    handles += [Line2D([], [], color="black", lw=line_width(2.4), label="tumour (held)"),
                Line2D([], [], color="black", lw=line_width(2.4), ls="--", label="normal liver (held)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles) if is_wide(fig, panels=2) else 2,
               fontsize="small")
    only = next(iter(summaries)) if len(summaries) == 1 else "TACE"
    fig.suptitle(f"Doxorubicin after {only}: plasma and liver")
    return fig
