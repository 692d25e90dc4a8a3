"""SIRT figures of a Y-90 run (a matplotlib leaf of sim.figures): the dose map, the DVH, MAA versus Y-90.

Drawn from the ``sirt/`` arrays and ``parenchyma/dose_gy`` of ``run_state.npz`` (format 2,
docs/outputs.md#run-state) and the run's ``sirt_*`` summary keys; the read-outs
(D70, V100, the DVH itself) come from :mod:`sim.sirt_dose`, the same functions the run used.

* :func:`dose_map`: absorbed dose of the parenchyma (each sampled point its compartment's
  tumour or normal-liver dose, log colour scale in Gy) over the segments, tumours and
  arteries, beside the flow reduction at the end of the injection (the spheres' embolic effect);
* :func:`dose_volume`: cumulative DVH of the viable tumour and of the perfused normal liver,
  with D70 and V100 marked and the normal-liver limit (70 Gy) and the external-beam
  liver tolerance (35-40 Gy) for contrast;
* :func:`maa_comparison`: each segment's share of the MAA and of the Y-90 in the liver, and
  tumour, normal liver and lung of both with the T/N.
"""

from __future__ import annotations

import numpy as np

from ..dosimetry import NORMAL_LIVER_LIMIT_GY
from ..sirt_compare import SEGMENT_NAMES, segment_shares  # numpy only at import
from ..sirt_dose import TUMOUR_DOSE_THRESHOLD_GY, TUMOUR_DVH_SHARE, dose_at_volume, dvh, volume_at_dose
from ..y90 import DOSE_GY_KG_PER_GBQ
from .run import RunData, run_data
from .style import CATEGORY_COLOURS, OKABE_ITO, display_name, halo, is_wide, line_width, marker_area, new_axes, panel_grid, styled

__all__ = ["DOSE_FLOOR_GY", "EXTERNAL_BEAM_TOLERANCE_GY", "dose_map", "dose_volume", "maa_comparison"]

#: Lowest dose on the map's log scale, Gy (less is drawn as unirradiated).
DOSE_FLOOR_GY = 1.0
#: Mean liver dose above which external-beam radiotherapy risks radiation-induced liver disease, Gy (35-40 Gy,
#: [Hickey2015Radioembolization]): drawn on the DVH for contrast, not a radioembolisation limit.
EXTERNAL_BEAM_TOLERANCE_GY = (35.0, 40.0)
_MAA_COLOUR, _Y90_COLOUR = OKABE_ITO["sky"], OKABE_ITO["orange"]


def _require_sirt(data: RunData, what: str) -> None:
    data.require_run(what)
    if not data.has_sirt:
        if "sirt_activity_delivered_gbq" not in data.summary:  # not a Y-90 run: running it again changes nothing
            raise ValueError(f"{what} needs a Y-90 run (agent.kind y90_resin or y90_glass); this run's agent is "
                             f"{data.summary.get('agent', 'not Y-90')}")
        raise ValueError(f"{what} needs a Y-90 run saved by embosim with run_state format 2 or later; this Y-90 run "
                         "has no SIRT doses (an older version wrote it): run the scenario again")


def _masses(data: RunData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Perfused tumour and normal-liver doses (Gy) and masses (kg) per compartment (the summary's), float64."""
    perfused = data["sirt/perfused"]
    m_t = np.where(perfused, data["sirt/tumour_mass_g"].astype(np.float64) * 1e-3, 0.0)
    m_n = np.where(perfused, data["sirt/normal_mass_g"].astype(np.float64) * 1e-3, 0.0)
    return (data["sirt/tumour_dose_gy"].astype(np.float64), m_t, data["sirt/normal_dose_gy"].astype(np.float64), m_n)


@styled
def dose_map(source, ax=None, *, min_diameter_um: float | None = None):
    """Absorbed dose map (AP) beside the flow reduction at the end of the Y-90 injection.

    Left: every sampled parenchyma point coloured by its compartment's dose (tumour points by the
    tumour's, the rest by the normal liver's; log scale from ``DOSE_FLOOR_GY``), the arteries,
    segments, tumour outlines and catheter on top; the colour bar marks the normal-liver limit
    and 100 Gy. Right: the share of each vessel's baseline flow lost (as :func:`before_after`).

    Parameters
    ----------
    source : RunData or RunResult (of a Y-90 run)
    ax : sequence of two matplotlib Axes, optional
    min_diameter_um : float, optional
        Narrowest vessel drawn, um (default ``TREE_MIN_DIAMETER_UM``).
    style : {"slide", "paper"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib
    from matplotlib.colors import LogNorm

    from . import arteries as art
    from .labels import place_labels

    data = run_data(source)
    _require_sirt(data, "a dose map")
    width = art.TREE_MIN_DIAMETER_UM if min_diameter_um is None else min_diameter_um
    art._check_state(data, "final", width)
    fig, axes = new_axes(ax, 2, figsize=(19.0, 9.5))
    limits = art.extent(data)
    summary = data.summary
    ax = axes[0]
    dose = data["parenchyma/dose_gy"].astype(np.float64)
    xz = data["parenchyma/xyz_mm"][:, [0, 2]]
    top = max(float(dose.max()), 10.0 * DOSE_FLOOR_GY)
    norm = LogNorm(DOSE_FLOOR_GY, top)
    cold = dose < DOSE_FLOOR_GY
    ax.scatter(xz[cold, 0], xz[cold, 1], s=marker_area(7), marker="s", lw=0, color=UNIRRADIATED_COLOUR, zorder=0.6)
    hot = np.flatnonzero(~cold)
    hot = hot[np.argsort(dose[hot], kind="stable")]  # the highest doses on top
    cmap = matplotlib.colormaps["magma"]
    ax.scatter(xz[hot, 0], xz[hot, 1], s=marker_area(7), marker="s", lw=0, c=dose[hot], cmap=cmap, norm=norm, zorder=0.7)
    segments = art._segments(ax, data)
    drawn = np.flatnonzero(data["vessel/diameter_um"] >= width)
    _grey_vessels(ax, data, drawn)
    anchors = art.tumour_outlines(ax, data) + segments
    art._catheter(ax, data)
    art._frame(ax, limits, f"Absorbed dose: tumour {summary['sirt_tumour_dose_mean_gy']:.0f} Gy mean "
                           f"(D70 {summary['sirt_tumour_d70_gy']:.0f} Gy),\nperfused normal liver "
                           f"{summary['sirt_normal_liver_dose_mean_gy']:.0f} Gy mean")
    levels = [(level, text) for level, text in ((NORMAL_LIVER_LIMIT_GY, "normal-liver limit"),
                                                  (TUMOUR_DOSE_THRESHOLD_GY, "V100 threshold")) if DOSE_FLOOR_GY < level < top]
    beside = is_wide(fig, panels=2)  # the lines' names beside the bar; on a paper canvas there is no room: in its label
    label = "absorbed dose (Gy, local deposition per compartment)"
    if levels and not beside:
        label = label[:-1] + "; white lines: " + ", ".join(f"{level:g} Gy {text}" for level, text in levels) + ")"
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=[ax], shrink=0.8, label=label)
    from matplotlib.ticker import FormatStrFormatter

    bar.ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    for level, text in levels:
        bar.ax.axhline(level, color="white", lw=line_width(2.0))
        if beside:
            bar.ax.text(-0.3, level, f"{text} {level:g} Gy", transform=bar.ax.get_yaxis_transform(), ha="right",
                        va="center", fontsize="small", path_effects=halo())
    norm_r, cmap_r, label_r, _ = art._panel(axes[1], data, "final", "occlusion", width, limits)
    art._frame(axes[1], limits, f"End: antegrade flow {float(summary['antegrade_flow_fraction']):.0%} of baseline\n"
                                f"after {summary['sirt_spheres_delivered']:,} spheres")
    art._colourbar(fig, [axes[1]], norm_r, cmap_r, label_r)
    from matplotlib.lines import Line2D  # (review 28: the legend's grey "no flow" misread the dose map's arteries)

    art._legend(fig, axes, "occlusion", extra=[(Line2D([], [], color=DOSE_MAP_ARTERY_COLOUR, alpha=0.55,
                                                       lw=line_width(2)), "artery (dose map: not coloured)"),
                                               (Line2D([], [], marker="s", ms=line_width(9), color=UNIRRADIATED_COLOUR,
                                                       ls="none"), f"parenchyma under {DOSE_FLOOR_GY:g} Gy (dose map)")])
    fig.suptitle(f"{data.meta['title']}: {summary['sirt_activity_delivered_gbq']:.2f} GBq delivered, lung "
                 f"{summary['sirt_lung_dose_gy']:.1f} Gy (LSF {summary['sirt_lung_shunt_fraction']:.1%})")
    place_labels(ax, anchors)
    return fig


#: The dose map's arteries: dark grey, so that the dose colours stay its only colour scale.
DOSE_MAP_ARTERY_COLOUR = "#3A3A3A"
#: The dose map's parenchyma under :data:`DOSE_FLOOR_GY`: light grey, named in the legend (review 48: unexplained).
UNIRRADIATED_COLOUR = "#E4E4E4"


def _grey_vessels(ax, data: RunData, drawn: np.ndarray) -> None:
    """The arteries in dark grey (widest on top), so the dose colours stay the only colour scale."""
    from matplotlib.collections import LineCollection

    from .arteries import _line_widths

    drawn = drawn[np.argsort(data["vessel/diameter_um"][drawn], kind="stable")]
    ends = np.stack([data["vessel/up_mm"][drawn][:, [0, 2]], data["vessel/down_mm"][drawn][:, [0, 2]]], axis=1)
    ax.add_collection(LineCollection(ends, colors=DOSE_MAP_ARTERY_COLOUR, alpha=0.55,
                                     linewidths=0.6 * _line_widths(data["vessel/diameter_um"][drawn]), zorder=3))


def _step(dose_sorted: np.ndarray, at_least: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cumulative DVH as a step curve: volume share receiving at least each dose, from 0 Gy."""
    x = np.concatenate([[0.0], np.repeat(dose_sorted, 2)])
    y = np.concatenate([[1.0], np.ravel(np.column_stack([at_least, np.append(at_least[1:], 0.0)]))])
    return x, y


@styled
def dose_volume(source, ax=None):
    """Cumulative dose-volume histogram of the viable tumour and of the perfused normal liver.

    D70 (the dose at least 70% of the tumour receives) and V100 (the tumour share receiving at
    least 100 Gy) are marked as the summary reports them; the normal-liver limit
    (``NORMAL_LIVER_LIMIT_GY``, mean dose) and the external-beam liver tolerance
    (``EXTERNAL_BEAM_TOLERANCE_GY``) are drawn for reference, with the normal liver's mean dose.

    Parameters
    ----------
    source : RunData or RunResult (of a Y-90 run)
    ax : matplotlib Axes, optional
    style : {"slide", "paper"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = run_data(source)
    _require_sirt(data, "a DVH")
    fig, (ax,) = new_axes(ax, figsize=(10.5, 7.5))
    d_t, m_t, d_n, m_n = _masses(data)
    top = 1.0
    for label, dose, mass, colour in (("viable tumour", d_t, m_t, CATEGORY_COLOURS["tumour"]),
                                      ("perfused normal liver", d_n, m_n, CATEGORY_COLOURS["normal liver"])):
        if mass.sum() <= 0:
            continue
        _, dose_sorted, at_least = dvh(dose, mass)
        x, y = _step(dose_sorted, at_least)
        ax.plot(x, 100.0 * y, color=colour, lw=line_width(2.6), label=f"{label} ({mass.sum() * 1e3:.0f} g)")
        top = max(top, float(dose_sorted[-1]))
    d70 = dose_at_volume(d_t, m_t, TUMOUR_DVH_SHARE)
    v100 = volume_at_dose(d_t, m_t, TUMOUR_DOSE_THRESHOLD_GY)
    tumour = CATEGORY_COLOURS["tumour"]
    ax.plot([0, d70, d70], [100 * TUMOUR_DVH_SHARE] * 2 + [0], color=tumour, lw=line_width(1.2), ls=":")
    ax.plot(d70, 100 * TUMOUR_DVH_SHARE, marker="o", ms=line_width(10), color=tumour, mec="black", ls="none",
            label=f"tumour D{100 * TUMOUR_DVH_SHARE:.0f} = {d70:.0f} Gy")
    ax.plot([TUMOUR_DOSE_THRESHOLD_GY] * 2 + [0], [0, 100 * v100, 100 * v100], color=tumour, lw=line_width(1.2), ls="--")
    ax.plot(TUMOUR_DOSE_THRESHOLD_GY, 100 * v100, marker="s", ms=line_width(9), color=tumour, mec="black", ls="none",
            label=f"tumour V{TUMOUR_DOSE_THRESHOLD_GY:.0f} = {v100:.0%}")
    lo, hi = EXTERNAL_BEAM_TOLERANCE_GY
    ax.axvspan(lo, hi, color=OKABE_ITO["green"], alpha=0.18, lw=0,
               label=f"external-beam tolerance ({lo:g}-{hi:g} Gy, for contrast)")
    ax.axvline(NORMAL_LIVER_LIMIT_GY, color=OKABE_ITO["vermilion"], lw=line_width(1.6), ls="-.",
               label=f"normal-liver limit ({NORMAL_LIVER_LIMIT_GY:g} Gy mean; lobar, whole liver)")
    mean_n = data.summary["sirt_normal_liver_dose_mean_gy"]
    ax.axvline(mean_n, color=CATEGORY_COLOURS["normal liver"], lw=line_width(1.2), ls=":",
               label=f"perfused normal liver mean ({mean_n:.0f} Gy)")  # the curve's region (review 48)
    ax.set(xlabel="absorbed dose (Gy)", ylabel="volume receiving \u2265 the dose (% of region)",
           xlim=(0, 1.05 * max(top, NORMAL_LIVER_LIMIT_GY, TUMOUR_DOSE_THRESHOLD_GY)), ylim=(0, 102),
           title=f"Dose-volume histogram: {data.meta['title']}")
    # below the axes: the curves cross the whole panel (a legend inside hid the D70 marker)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2)
    return fig


@styled
def maa_comparison(source, ax=None):
    """MAA work-up versus the Y-90 delivered from the same catheter position.

    Left: each Couinaud segment's share of what lodged in liver tissue, MAA beside Y-90 (their
    overlap in the title). Middle: each compartment's concentration (relative to the liver's mean)
    under MAA against under Y-90, tumour and perfused normal-liver parts, with the line of
    agreement. Right: shares of tumour, normal liver, lung and non-target branches for both, with the T/N and the lung
    shunt fraction of each; the tumour share of the first and last tenth of the spheres injected
    beside the MAA's (the embolic effect) in the title.

    Parameters
    ----------
    source : RunData or RunResult (of a Y-90 run)
    ax : sequence of three matplotlib Axes, optional
    style : {"slide", "paper"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = run_data(source)
    _require_sirt(data, "an MAA versus Y-90 figure")
    rows, columns = panel_grid(3)
    fig, axes = new_axes(ax, 3, nrows=rows, figsize=(7.0 * columns, 7.0 * rows))
    s = data.summary
    d_t, m_t, d_n, m_n = _masses(data)
    m_t_all = data["sirt/tumour_mass_g"].astype(np.float64) * 1e-3
    m_n_all = data["sirt/normal_mass_g"].astype(np.float64) * 1e-3
    dist = {"MAA": {"tumour": data["sirt/maa_tumour"].astype(np.float64),
                    "normal": data["sirt/maa_normal"].astype(np.float64), "lung": float(data["sirt/maa_lung"]),
                    "non-target": s["sirt_maa_nontarget_fraction"] * s["sirt_maa_particles"]},
            "Y-90": {"tumour": d_t * m_t_all / DOSE_GY_KG_PER_GBQ, "normal": d_n * m_n_all / DOSE_GY_KG_PER_GBQ,
                     "lung": float(s["sirt_activity_lung_gbq"]),
                     "non-target": float(s["sirt_activity_nontarget_gbq"])}}  # MAA in particles, Y-90 in GBq
    colours = {"MAA": _MAA_COLOUR, "Y-90": _Y90_COLOUR}
    _segment_bars(axes[0], data, dist, colours, s["sirt_maa_y90_segment_overlap"])
    _concentrations(axes[1], dist, m_t, m_n, s["sirt_maa_y90_compartment_overlap"])
    _fates(axes[2], dist, {"MAA": s["sirt_maa_tn"], "Y-90": s["sirt_y90_tn"]},
           {"MAA": s["sirt_maa_lung_shunt_fraction"], "Y-90": s["sirt_lung_shunt_fraction"]})
    fig.suptitle(f"MAA work-up ({s['sirt_maa_particles']:,} particles, no embolic effect) vs Y-90 "
                 f"({s['sirt_spheres_delivered']:,} spheres) from {display_name(data.meta['catheter_vessel'])}\n"
                 f"tumour share of the particles reaching the liver (the lung shunt's included): MAA "
                 f"{s['sirt_maa_tumour_share']:.0%};\nY-90 spheres, first tenth {s['sirt_y90_tumour_share_first_tenth']:.0%}, "
                 f"last tenth {s['sirt_y90_tumour_share_last_tenth']:.0%}")
    return fig


def _segment_bars(ax, data: RunData, dist: dict, colours: dict, overlap: float) -> None:
    segment = data["sirt/segment"].astype(np.int64)
    shares = {name: segment_shares(d["tumour"] + d["normal"], segment) for name, d in dist.items()}
    shown = np.flatnonzero((shares["MAA"] > 0.001) | (shares["Y-90"] > 0.001))
    x = np.arange(shown.size)
    for k, name in enumerate(dist):
        bars = ax.bar(x + (k - 0.5) * 0.36, 100 * shares[name][shown], width=0.36, color=colours[name], label=name)
        ax.bar_label(bars, fmt="%.1f" if is_wide(ax.figure, panels=panel_grid(3)[1]) else "%.0f", fontsize="small", padding=2)
    ax.set_xticks(x, [SEGMENT_NAMES[i] for i in shown])
    ax.set(xlabel="Couinaud segment", ylabel="share of the liver deposition (%)", ylim=(0, 115),
           xlim=(-0.8, max(shown.size, 2) - 0.2), title=f"Per segment: overlap {_percent(overlap)}")
    ax.legend(loc="upper right")


def _percent(share: float) -> str:
    """A share as a percentage with one decimal, "n/a" when undefined (NaN: nothing deposited)."""
    return "n/a" if np.isnan(share) else f"{share:.1%}"


def _concentrations(ax, dist: dict, m_t: np.ndarray, m_n: np.ndarray, overlap: float) -> None:
    """Each compartment part's concentration relative to the liver mean, MAA (x) against Y-90 (y), log-log."""
    def relative(d: dict, part: str, mass: np.ndarray) -> np.ndarray:
        mean = (d["tumour"][m_t > 0].sum() + d["normal"][m_n > 0].sum()) / (m_t.sum() + m_n.sum())
        return np.divide(d[part], mass * mean, out=np.zeros_like(mass), where=(mass > 0) & (mean > 0))

    lo, hi = np.inf, 0.0
    for part, mass, colour, label in (("normal", m_n, CATEGORY_COLOURS["normal liver"], "perfused normal liver"),
                                      ("tumour", m_t, CATEGORY_COLOURS["tumour"], "viable tumour")):
        x, y = relative(dist["MAA"], part, mass), relative(dist["Y-90"], part, mass)
        ok = (mass > 0) & (x > 0) & (y > 0)
        if ok.any():
            ax.scatter(x[ok], y[ok], s=marker_area(10), color=colour, alpha=0.5, lw=0, label=f"{label} ({ok.sum()} compartments)")
            lo, hi = min(lo, x[ok].min(), y[ok].min()), max(hi, x[ok].max(), y[ok].max())
    if hi > 0:
        ax.plot([lo, hi], [lo, hi], color="black", lw=line_width(1.0), ls="--", label="agreement")
    from matplotlib.ticker import FormatStrFormatter, FuncFormatter

    ax.set(xscale="log", yscale="log", xlabel="MAA concentration (relative to the treated liver's mean)",
           ylabel="Y-90 concentration (relative)",
           title=f"Per compartment: overlap {_percent(overlap)}")
    for axis in (ax.xaxis, ax.yaxis):  # after the scale, which sets its own formatters ("6x10^-1")
        axis.set_major_formatter(FormatStrFormatter("%g"))
        axis.set_minor_formatter(FuncFormatter(_two_and_five))
    if not ax.get_legend_handles_labels()[0]:  # nothing deposited (no sphere given): no points to name
        return
    if is_wide(ax.figure, panels=panel_grid(3)[1]):
        ax.legend(loc="upper left", fontsize="small")
    else:  # a narrow panel: below its x label (inside, it covered the points and the y label)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), fontsize="small")


def _two_and_five(value: float, _position=None) -> str:
    """A log axis's minor tick label: 2 and 5 times a power of ten as plain numbers ("0.5", "2"), the rest unlabelled."""
    if not value > 0:
        return ""
    return f"{value:g}" if round(value / 10.0 ** np.floor(np.log10(value))) in (2, 5) else ""


def _fates(ax, dist: dict, tn: dict, lsf: dict) -> None:
    parts = ("tumour", "normal liver", "lung", "non-target")
    colours = [CATEGORY_COLOURS[part] for part in ("tumour", "normal liver", "lung", "non-target")]
    for row, (name, d) in enumerate(dist.items()):
        amounts = np.array([d["tumour"].sum(), d["normal"].sum(), d["lung"], d["non-target"]])
        share = amounts / amounts.sum() if amounts.sum() > 0 else amounts
        left = 0.0
        for part, colour, value in zip(parts, colours, share):
            ax.barh(row, 100 * value, left=100 * left, height=0.6, color=colour, label=part if row == 0 else None)
            if value > 0.1:  # (a white label wider than its bar spilled onto the white, review 28)
                ax.text(100 * (left + value / 2), row, f"{value:.0%}", ha="center", va="center", color="white",
                        fontweight="bold")
            left += value
        ax.text(102, row, f"T/N {tn[name]:.2f}\nLSF {lsf[name]:.1%}", va="center", fontsize="small")
    ax.set_yticks([0, 1], ["MAA\nwork-up", "Y-90\ndelivered"])
    ax.invert_yaxis()
    wide = is_wide(ax.figure, panels=panel_grid(3)[1])
    ax.set(xlabel="share of what lodged (%)", ylabel="agent", xlim=(0, 130), ylim=(1.9, -0.9 if wide else -1.3),
           title="Tumour, normal liver, lung, non-target")
    ax.legend(loc="upper center", ncol=4 if wide else 2, fontsize="small")  # (two rows on paper: room above)
