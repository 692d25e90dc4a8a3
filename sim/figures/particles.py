"""Where the particles went: depth and size by destination, the totals, and a density map."""

from __future__ import annotations

import numpy as np

from .run import run_data
from .style import CATEGORY_COLOURS, display_name, empty_panel, is_wide, line_width, new_axes, styled

__all__ = ["deposition"]

MAP_MARGIN_MM = 8.0  # mm around the liver and the lodging sites on the density map (as the tree figures' frame)


@styled
def deposition(source, ax=None):
    """Lodging generation and particle diameter by destination, where every particle went, and a density map.

    The depth panel counts every lodged particle at the vessel (or sub-resolution bed generation) that holds it,
    particles stacked on a column above a wedge included; the summary's ``lodging_generation_median`` counts
    the wedged particles only (the occlusion front) and is marked on it.

    Tumour and normal liver are split as in the summary (a particle counts towards
    tumour with the viable tumour share of the tissue its vessel or compartment
    feeds); non-target particles are counted by branch. The map shows the lodged
    particles' density (hexbin, log scale) over the segments and tumours.

    Parameters
    ----------
    source : RunData or RunResult (of a run)
    ax : sequence of four matplotlib Axes, optional
    style : {"slide", "paper"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.colors import LogNorm

    from .arteries import tumour_outlines

    data = run_data(source)
    data.require_run("a deposition figure")
    fig, axes = new_axes(ax, 4, nrows=2, figsize=(16.0, 11.0))
    colours = {k: CATEGORY_COLOURS[k] for k in ("tumour", "normal liver", "non-target", "in suspension")}
    tumour = data["deposition/tumour_share"].astype(float)
    normal = 1.0 - tumour
    gen = data["deposition/generation"].astype(float)
    edges = np.arange(np.floor(gen.min()) if gen.size else 0, (np.ceil(gen.max()) if gen.size else 1) + 1.5)
    axes[0].hist([gen, gen], bins=edges, weights=[tumour, normal], stacked=True,
                 color=[colours["tumour"], colours["normal liver"]], label=["tumour", "normal liver"])
    wedge_median = data.summary.get("lodging_generation_median")
    if wedge_median is not None and np.isfinite(wedge_median):  # the summary's median counts the wedged particles only
        axes[0].axvline(wedge_median, color="black", lw=line_width(1.4), ls="--",
                        label=f"median of the wedged particles only (summary): {wedge_median:.0f}")
    axes[0].set(xlabel="vessel generation (PHA = 0)", ylabel="particles (count)",
                title="Depth of lodging (columns included)")
    if not gen.size:
        empty_panel(axes[0], "No particle lodged in the liver")

    nontarget, suspended = (data[f"deposition/{k}_diameter_um"].astype(float) for k in ("nontarget", "suspended"))
    diam = [data["deposition/diameter_um"].astype(float)] * 2 + [nontarget, suspended]
    weights = [tumour, normal, np.ones(nontarget.size), np.ones(suspended.size)]
    every = np.concatenate(diam)
    bins = np.linspace(every.min(), every.max() + 1e-9, 21) if every.size else np.linspace(0, 1, 2)
    shown = [k for k in range(4) if k < 2 or diam[k].size]  # no legend entry for a destination no particle took
    axes[1].hist([diam[k] for k in shown], bins=bins, weights=[weights[k] for k in shown], stacked=True,
                 color=[list(colours.values())[k] for k in shown], label=[list(colours)[k] for k in shown])
    axes[1].set(xlabel="particle diameter (\u00b5m)", ylabel="particles (count)", title="Size by destination")
    if not every.size:
        empty_panel(axes[1], "No particles injected")
    # one legend below the panels for both histograms (the bars fill them)
    handles, labels = axes[1].get_legend_handles_labels()
    handles_0, labels_0 = axes[0].get_legend_handles_labels()
    handles += [h for h, label in zip(handles_0, labels_0) if label not in labels]
    labels += [label for label in labels_0 if label not in labels]
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels) if is_wide(fig, panels=2) else 3)

    summary = data.summary
    if summary and "tumour_particle_fraction" in summary:  # the summary's split (the per-particle shares are half
        in_tumour = summary["tumour_particle_fraction"] * summary["particles_injected"]  # precision: off by a few)
        split = [in_tumour, summary["particles_lodged_in_liver"] - in_tumour]
    else:
        split = [tumour.sum(), normal.sum()]
    names, counts, bar_colours = ["tumour", "normal liver"], split, [colours["tumour"], colours["normal liver"]]
    shunted = (summary or {}).get("sirt_lung_shunt_fraction")
    if shunted:  # Y-90: the tumours' arteriovenous shunts take part of what reached their beds on to the lungs
        lung = shunted * summary["particles_injected"]  # every sphere carries the same activity
        names, counts = ["tumour", "lung (tumour shunts)", "normal liver"], [split[0] - lung, lung, split[1]]
        bar_colours.insert(1, CATEGORY_COLOURS["lung"])
    branches, per_branch = np.unique(data["deposition/nontarget_branch"].astype(str), return_counts=True)
    names += [f"non-target: {display_name(b)}" for b in branches]
    counts += per_branch.tolist()
    names.append("in suspension")
    counts.append(suspended.size)
    bar_colours += [colours["non-target"]] * branches.size + [colours["in suspension"]]
    y = np.arange(len(names))[::-1]
    axes[2].barh(y, counts, color=bar_colours)
    axes[2].set_yticks(y, names)
    total = max(sum(counts), 1)
    for yy, c in zip(y, counts):
        axes[2].text(c, yy, f" {c:.0f} ({c / total:.0%})", va="center", fontsize="small")
    axes[2].set(xlabel="particles (count)", ylabel="destination", title="Where the particles went",
                xlim=(0, max(max(counts), 1) * 1.45))

    sites, count = data["lodged/xyz_mm"][:, [0, 2]], data["lodged/count"]
    outline, start = data["segment/outline_mm"], data["segment/outline_start"]
    # the liver and every lodging site, not the whole tree figure's frame (its trunk and aorta below the liver left
    # the map a third of its panel on paper: review 48)
    seen = np.vstack([outline, sites])
    (left, bottom), (right, top) = seen.min(axis=0) - MAP_MARGIN_MM, seen.max(axis=0) + MAP_MARGIN_MM
    for s in range(start.size - 1):
        hull = outline[start[s]:start[s + 1]]
        axes[3].fill(hull[:, 0], hull[:, 1], facecolor="none", edgecolor=CATEGORY_COLOURS["liver outline"], lw=line_width(0.8),
                     ls=(0, (4, 3)))
    if sites.shape[0]:
        density = axes[3].hexbin(sites[:, 0], sites[:, 1], C=count, reduce_C_function=np.sum, gridsize=40,
                                 cmap="viridis", norm=LogNorm(), mincnt=1, extent=(left, right, bottom, top))
        fig.colorbar(density, ax=axes[3], label="particles per hexagon (count)", shrink=0.8)
    else:
        axes[3].text(0.5, 0.5, "No particle lodged", transform=axes[3].transAxes, ha="center", va="center",
                     fontsize="small")
    tumour_outlines(axes[3], data)
    axes[3].set_aspect("equal")
    axes[3].set(xlim=(left, right), ylim=(bottom, top), xlabel="x (mm), patient's left \u2192",
                ylabel="z, cranial (mm)", title="Lodged particles (AP density)")
    fig.suptitle(f"Particle deposition: {data.summary['particles_injected']:,} particles, {data.summary['agent']}")
    return fig
