"""TACE figures (a matplotlib leaf of sim.figures; the core never imports it): the drug over time.

:func:`drug` draws, from the summaries of drug-carrying sessions (DEB-TACE, cTACE; docs/outputs.md, drug keys),
the plasma doxorubicin curve (:func:`sim.pharmacokinetics.plasma_curve`) and the drug still held by the carriers in
the tumour and in normal liver, over 60 days.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .run import RunData, run_data
from .style import CATEGORY_COLOURS, OKABE_ITO, is_wide, line_width, new_axes, styled

__all__ = ["drug"]

#: Ratio of the plasma panel's top (the decade above the highest peak) to its bottom, at least: four decades, more
#: when a lower peak needs two decades under it. Model assumption (a choice of look): the rise, the peak and the
#: fall to a ten-thousandth of it.
PLASMA_RANGE_SHOWN = 1e4
#: Okabe-Ito hues of the tissues and non-target (``CATEGORY_COLOURS``), left out of the sessions' colours.
_TISSUE_HUES = ("blue", "purple", "vermilion")


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
    from ..pharmacokinetics import TIME_GRID_S, plasma_curve, plasma_peak, summary_releases
    from ..units import HOUR_S, NG_ML_KG_M3

    summaries = _summaries(source)
    for label, summary in summaries.items():
        if not summary.get("drug_delivered_mg"):
            raise ValueError(f"a drug figure needs a session that gave doxorubicin (DEB-TACE beads or cTACE); "
                             f"{label!r} gave none")
    fig, (plasma, tissue) = new_axes(ax, 2, figsize=(15.0, 6.0))
    t_s = TIME_GRID_S[1:]
    t = t_s / HOUR_S  # the axes' unit, h
    single = len(summaries) == 1
    # one session: the tissues in their category colours, the plasma black; several: a colour per session, none of
    # the tissues' (review 48: a single session's tumour was drawn in the normal liver's blue)
    colours = [OKABE_ITO["black"]] if single else [c for name, c in OKABE_ITO.items() if name not in _TISSUE_HUES]
    peaks_ng_ml = []
    for k, (label, s) in enumerate(summaries.items()):
        colour = colours[k % len(colours)]
        releases = summary_releases(s)
        curve = plasma_curve(releases, t_s) / NG_ML_KG_M3
        plasma.loglog(t, curve, color=colour, lw=line_width(2.4), label=label if single else "_session")
        peak, peak_s = plasma_peak(releases)  # on the grid from t = 0 (a bolus peaks at once)
        peaks_ng_ml.append(peak / NG_ML_KG_M3)
        when = f"at {peak_s / HOUR_S:.3g} h" if peak_s > 0 else "at injection"
        at = int(np.argmax(curve))  # the log time axis starts after t = 0: the marker at the highest point drawn
        plasma.plot(t[at], curve[at], marker="o", ms=line_width(9), color=colour, mec="black", ls="none",
                    label=f"peak {peak / NG_ML_KG_M3:.3g} ng/mL {when}" + ("" if single else f" ({label})"))
        held = np.exp(-np.log(2.0) * t / s["drug_release_half_life_h"])
        for part, key, dashes in (("tumour", "drug_tumour_mg", "-"), ("normal liver", "drug_normal_mg", "--")):
            tissue.semilogx(t, s[key] * held, color=CATEGORY_COLOURS[part] if single else colour, lw=line_width(2.4),
                            ls=dashes, label=f"{label}: {part}")
    # from the decade above the highest peak down four decades, and two below the lowest peak: the curves fill the
    # panel whatever the dose (a fixed 1e-2 to 1e4 ng/mL left a bead peak of 0.7 ng/mL in its lowest third)
    top = 10.0 ** np.ceil(np.log10(max(2.0 * max(peaks_ng_ml), 1e-300)))
    bottom = min(top / PLASMA_RANGE_SHOWN, 10.0 ** np.floor(np.log10(max(min(peaks_ng_ml) / 100.0, 1e-300))))
    plasma.set(ylim=(bottom, top), xlabel="time after injection (h)", ylabel="plasma doxorubicin (ng/mL)",
               title="Plasma")
    plasma.legend(loc="best", fontsize="small")  # the peaks (several sessions: their colours are named below)
    tissue.set(xlabel="time after injection (h)", ylabel="held by the carriers (mg)", ylim=(0, None),
               title="Held in the liver")
    from matplotlib.lines import Line2D

    # one legend below: the sessions by colour (one session: the title names it), the tissues by line style
    handles = [Line2D([], [], color=colours[k % len(colours)], lw=line_width(2.4), label=label)
               for k, label in enumerate(summaries)] if not single else []
    handles += [Line2D([], [], color=CATEGORY_COLOURS["tumour"] if single else "black", lw=line_width(2.4),
                       label="tumour (held)"),
                Line2D([], [], color=CATEGORY_COLOURS["normal liver"] if single else "black", lw=line_width(2.4),
                       ls="--", label="normal liver (held)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles) if is_wide(fig, panels=2) else 2,
               fontsize="small")
    if single:
        label, s = next(iter(summaries.items()))
        fig.suptitle(f"Doxorubicin after {label} ({s['drug_delivered_mg']:.3g} mg given): plasma and liver")
    else:
        fig.suptitle("Doxorubicin after TACE: plasma and liver")
    return fig
