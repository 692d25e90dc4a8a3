"""The endpoint curve: antegrade flow and tumour blush against injected volume, SACE bands."""

from __future__ import annotations

import numpy as np

from ..endpoints import stop_reason_words
from .run import run_data
from .style import (
    CATEGORY_COLOURS,
    OKABE_ITO,
    SACE_COLOURS,
    display_name,
    line_width,
    new_axes,
    sace_label,
    styled,
)

__all__ = ["endpoint_curve"]

#: Least height (fraction of baseline) between a SACE band's label and the stop marker at the right edge before the
#: label moves to the band's other half. Model assumption (a choice of look): the marker's radius on a slide.
STOP_MARKER_CLEARANCE = 0.06


@styled
def endpoint_curve(source, ax=None):
    """Antegrade flow and tumour blush against injected suspension volume, SACE bands shaded and labelled.

    The bands are the SACE levels of the antegrade flow (their thresholds are the flow's; the blush has
    its own, docs/endpoints.md).

    The endpoint (where injection stopped, with its reason and SACE level) and the
    reflux (its share of the injection, and where it starts) are marked.

    Parameters
    ----------
    source : RunData or RunResult (of a run)
    ax : matplotlib Axes, optional
    style : {"slide", "paper"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = run_data(source)
    data.require_run("an endpoint curve")
    fig, (ax,) = new_axes(ax, figsize=(9.5, 6.0))
    bounds = data.meta["sace_bounds"]
    ts = data.timeseries
    volume = ts["suspension_volume_ml"].to_numpy(float)
    summary = data.summary
    nothing_injected = not volume[-1] > 0
    xmax = 1.04 * (volume[-1] if not nothing_injected else 1.0)  # mL; an axis of mL when nothing went in
    stop_y = float(ts["antegrade_flow_fraction"].iloc[-1])  # the stop marker sits at the right edge, at this height
    for level in range(1, 5):
        ax.axhspan(bounds[level], bounds[level - 1], color=SACE_COLOURS[level], lw=0, zorder=0)
        low, high = bounds[level], bounds[level - 1]  # the label mid-band, or in the half away from the stop marker
        label_y = 0.5 * (low + high)
        if abs(label_y - stop_y) < STOP_MARKER_CLEARANCE:  # (review 28: the marker sat on "SACE III")
            label_y = max((low + 0.25 * (high - low), low + 0.75 * (high - low)), key=lambda y: abs(y - stop_y))
        ax.text(0.995 * xmax, label_y, sace_label(level), ha="right",
                va="center", fontsize="small", fontweight="bold", color="white" if level == 4 else "#5A3A00",
                zorder=1)
    ax.plot(volume, ts["antegrade_flow_fraction"], color=OKABE_ITO["blue"], lw=line_width(2.6), label="antegrade flow")
    ax.plot(volume, ts["tumour_blush_fraction"], color=CATEGORY_COLOURS["tumour"], lw=line_width(2.6), ls="--",
            label="tumour blush")
    reflux = ts["reflux_fraction"].to_numpy(float)
    if (reflux > 0).any():
        ax.plot(volume, reflux, color=OKABE_ITO["black"], lw=line_width(1.4), ls=":", label="reflux (share of injection)")
        ax.axvline(volume[np.argmax(reflux > 0)], color=OKABE_ITO["black"], lw=line_width(0.9), ls=":")
    if _oil_first(ts):  # the liquid goes first, by volume of oil: its flow change (rows 0 -> 1) stands at 0 mL
        before, after = ts["antegrade_flow_fraction"].to_numpy(float)[:2]
        ax.annotate(f"Lipiodol{' first' if not nothing_injected else ''} "
                    f"({summary.get('lipiodol_volume_ml', float('nan')):g} mL of oil):\n"
                    f"flow {before:.0%} \u2192 {after:.0%}", xy=(0.0, 0.5 * (before + after)),
                    xytext=(0.04 * xmax, 0.5 * (before + after)), va="center", fontsize="small",
                    arrowprops={"arrowstyle": "->", "color": OKABE_ITO["black"], "lw": line_width(1.0)},
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9})
    if nothing_injected:
        ax.text(0.5, 0.6, _nothing_injected(summary), transform=ax.transAxes, ha="center", va="center",
                fontsize="small", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9}, wrap=True)
    ax.plot(volume[-1], ts["antegrade_flow_fraction"].iloc[-1], marker="o", ms=line_width(11), color=OKABE_ITO["blue"],
            mec="black", ls="none",
            label=f"stop: {stop_reason_words(summary['stop_reason'])} ({sace_label(summary['sace_level'])})")
    from matplotlib.patches import Patch

    ax.add_artist(ax.legend(handles=[Patch(color=SACE_COLOURS[2], label="SACE level of the antegrade flow (bands)")],
                            loc="lower left", frameon=True, framealpha=0.9, fontsize="small"))
    ax.set(xlabel="injected suspension (mL)",
           ylabel="fraction of baseline" + (" (reflux: of injection)" if (reflux > 0).any() else ""),
           ylim=(0, 1.05), xlim=(0, xmax), title=_title(data))
    curves = [ts[c].to_numpy(float) for c in ("antegrade_flow_fraction", "tumour_blush_fraction")]
    ax.legend(ncol=2, frameon=True, framealpha=0.9, **_legend_place(volume, curves, xmax))
    return fig


def _title(data) -> str:
    """Where the catheter was and why injection stopped; the endpoint set, and that it was not reached when the
    injection stopped for another reason (a Y-90 run stops when its activity is delivered, usually well before)."""
    summary = data.summary
    endpoint = str(summary["endpoint"]).replace("_", " ") if summary.get("endpoint") else ""
    reason = summary["stop_reason"]
    title = f"Catheter in {display_name(data.meta['catheter_vessel'])}"
    if reason == "endpoint" or not endpoint:
        return title + (f", endpoint {endpoint}" if endpoint else "") + f": injection stopped, {stop_reason_words(reason)}"
    return title + f": stopped, {stop_reason_words(reason)} ({endpoint} not reached)"


#: Fractions of baseline the curve legend covers at the top of the axes (``upper center``) and in the middle
#: (``center`` at :data:`LEGEND_MIDDLE`), with a little room. Model assumption (a choice of look): a legend of two
#: rows in the slide style on the 6 in tall canvas.
LEGEND_TOP = (0.8, 1.05)
LEGEND_MIDDLE = 0.42
LEGEND_MIDDLE_SPAN = (0.3, 0.55)


def _legend_place(volume: np.ndarray, curves: list[np.ndarray], xmax: float) -> dict:
    """Where the curve legend goes (``Axes.legend`` keywords): at the top, unless a curve passes there in the
    middle of the volume axis (a Y-90 run's flow stays near baseline), then in the middle, unless a curve passes
    there too, then wherever matplotlib finds least covered (review 48: the legend hid a Y-90 run's whole curve)."""
    middle = (volume >= 0.2 * xmax) & (volume <= 0.8 * xmax)
    if not middle.any():
        middle = np.ones_like(volume, dtype=bool)
    values = np.concatenate([c[middle] for c in curves])
    values = values[np.isfinite(values)]

    def clear(span: tuple[float, float]) -> bool:
        return not ((values >= span[0]) & (values <= span[1])).any()

    if clear(LEGEND_TOP):
        return {"loc": "upper center"}
    if clear(LEGEND_MIDDLE_SPAN):
        return {"loc": "center", "bbox_to_anchor": (0.5, LEGEND_MIDDLE / 1.05)}
    return {"loc": "best"}


def _oil_first(ts) -> bool:
    """Whether the time series opens with a cTACE's Lipiodol: its first two rows, before and after the oil (both at
    0 mL of suspension), name it."""
    agent = ts["agent"].astype(str)
    return len(ts) >= 2 and agent.iloc[0].startswith("lipiodol") and agent.iloc[1] == agent.iloc[0]


def _nothing_injected(summary: dict) -> str:
    """Why a run's curve has no volume axis to draw on: no particle went in."""
    if summary.get("stop_reason") == "endpoint":
        return ("No particles injected: the angiogram before the first particle\n"
                "already met the endpoint (an earlier session's load)")
    if summary.get("lipiodol_volume_ml"):
        return "No particles: Lipiodol alone"
    return "No particles injected"
