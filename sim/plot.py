"""Teaching figures of a liver, a run or a strategy comparison (matplotlib only; the core never imports this module).

Every figure function draws on ``ax`` (a new :class:`matplotlib.figure.Figure` when
``None``, so no display and no pyplot state are needed) and returns the Figure.
The liver and run figures take a :class:`~sim.results.RunResult`, a
:class:`~sim.anatomy.Liver` or a :class:`Scene` (the flow states of either,
solved once and shared by several figures); the comparison figures take the
table of :func:`sim.compare`.

Style: one look for every figure, readable on a slide (11 pt text, 12 pt
titles), the Okabe-Ito colour-blind-safe palette for categories and
perceptually uniform colour maps (viridis, cividis) for quantities, units on
every axis. Positions are the anteroposterior (AP) projection onto (x, z) in mm,
the patient's right on the image's left, as on an angiogram.

Large trees: a liver at the default resolution has about 3e5 arterial vessels.
They are drawn as one :class:`~matplotlib.collections.LineCollection` (never one
artist per vessel), and only vessels at least ``min_diameter_um`` wide are drawn
(default :data:`TREE_MIN_DIAMETER_UM`, 300 um: about 2e3 vessels, about the calibre
an angiogram resolves). Quantities of the vessels below the threshold still
show: flow reduction and particle counts of a drawn vessel include its whole
subtree, and lodging sites are drawn as dots wherever they are.
"""

from __future__ import annotations

import itertools
import json
import os
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np

from .io import atomic_write

__all__ = [
    "DEFAULT_METRICS",
    "FORMATS",
    "KINDS",
    "OKABE_ITO",
    "RUN_FIGURES",
    "SACE_COLOURS",
    "SCENARIO_FILE",
    "TABLE_KINDS",
    "TREE_MIN_DIAMETER_UM",
    "Scene",
    "angiogram",
    "animate_angiogram",
    "arterialisation",
    "before_after",
    "comparison",
    "deposition",
    "endpoint_curve",
    "figure",
    "load_run",
    "load_source",
    "load_table",
    "save_figure",
    "tree",
    "write_run_figures",
]

#: Okabe-Ito colour-blind-safe palette (Okabe and Ito 2008), in the order used for categories.
OKABE_ITO = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermilion": "#D55E00",
             "purple": "#CC79A7", "sky": "#56B4E9", "yellow": "#F0E442", "black": "#000000"}
#: Colour of each SACE level (Okabe-Ito).
SACE_COLOURS = {1: OKABE_ITO["green"], 2: OKABE_ITO["yellow"], 3: OKABE_ITO["orange"], 4: OKABE_ITO["vermilion"]}
#: Figure kinds of ``embosim plot --kind``.
KINDS = ("tree", "before-after", "curve", "deposition", "comparison", "arterialisation", "angiogram")
#: File formats :func:`save_figure` writes (by extension).
FORMATS = (".png", ".svg", ".pdf")
#: Narrowest vessel drawn in tree figures by default, um.
TREE_MIN_DIAMETER_UM = 300.0
#: Outcomes shown by the comparison figures by default (summary keys, docs/outputs.md).
DEFAULT_METRICS = ("tumour_necrosis_fraction", "normal_necrosis_fraction", "biliary_ischaemic_fraction",
                   "nontarget_particle_fraction")
#: Figures :func:`write_run_figures` writes next to summary.json (file name -> figure kind).
RUN_FIGURES = {"curve.png": "curve", "before_after.png": "before-after", "deposition.png": "deposition",
               "angiogram.png": "angiogram"}
#: The run's scenario (seed included), written by :func:`write_run_figures`; :func:`load_run` re-runs it.
SCENARIO_FILE = "scenario.json"

_NO_FLOW = "#BBBBBB"
_LIVER_LINE = "#777777"
_TUMOUR = OKABE_ITO["purple"]
_CATHETER = "#555555"
_SEGMENT_NAMES = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII")
#: Outline points per segment (a deterministic subsample of the tissue points).
_HULL_POINTS = 20_000
#: (title, unit) of summary keys shown in figures.
_METRICS = {
    "tumour_necrosis_fraction": ("tumour necrosis (expected)", "fraction of tumour volume"),
    "normal_necrosis_fraction": ("normal liver necrosis (expected)", "fraction of normal liver volume"),
    "tumour_devascularised_fraction": ("tumour devascularised", "fraction of tumour volume"),
    "normal_ischaemic_fraction": ("normal liver ischaemic", "fraction of normal liver volume"),
    "biliary_ischaemic_fraction": ("biliary ischaemia", "fraction of peribiliary volume"),
    "nontarget_particle_fraction": ("non-target particles", "fraction of particles injected"),
    "tumour_particle_fraction": ("particles in tumour", "fraction of particles injected"),
    "tumour_blush_fraction": ("remaining tumour blush", "fraction of baseline"),
    "antegrade_flow_fraction": ("antegrade flow at the stop", "fraction of baseline"),
    "tumour_to_normal_deposition_ratio": ("tumour:normal deposition", "ratio (per volume)"),
    "reflux_volume_ml": ("reflux", "suspension (mL)"),
    "suspension_volume_ml": ("suspension injected", "mL"),
    "particle_volume_ml": ("particles injected", "settled volume (mL)"),
    "clearance_time_cycles": ("contrast clearance", "cardiac cycles"),
    "sace_level": ("SACE level", "level (1-4)"),
    "lodging_generation_median": ("median lodging generation", "generation (PHA = 0)"),
}
_UNIT_SUFFIXES = {"_fraction": "fraction", "_ratio": "ratio", "_ml": "mL", "_cycles": "cardiac cycles",
                  "_s": "s", "_ml_min": "mL/min"}


# ---------------------------------------------------------------------------
# style and figure plumbing


def _halo() -> list:
    """Path effects of a white outline that keeps text readable over vessels."""
    import matplotlib.patheffects as pe

    return [pe.withStroke(linewidth=2.5, foreground="white")]


@contextmanager
def _style():
    """The embosim look (slide-size text, Okabe-Ito cycle), for the artists created inside."""
    import matplotlib
    from cycler import cycler

    with matplotlib.rc_context({
        "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10,
        "legend.fontsize": 9, "legend.frameon": False, "figure.titlesize": 13, "axes.spines.top": False,
        "axes.spines.right": False, "axes.prop_cycle": cycler(color=list(OKABE_ITO.values())),
        "image.cmap": "viridis", "figure.dpi": 100,
    }):
        yield


def _axes(ax, n: int = 1, *, figsize: tuple[float, float], nrows: int = 1) -> tuple:
    """(figure, list of n Axes): a new figure laid out in ``nrows`` rows, or the Axes given."""
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, -(-n // nrows), squeeze=False)).ravel().tolist()
        for extra in axes[n:]:
            extra.remove()
        return fig, axes[:n]
    axes = [ax] if isinstance(ax, Axes) else list(np.ravel(ax))
    if len(axes) != n:
        raise ValueError(f"this figure draws on {n} Axes; got {len(axes)}")
    return axes[0].figure, axes


def save_figure(fig, path: str | Path, *, dpi: float = 150.0) -> Path:
    """Write a figure to ``path``; the extension picks the format (``FORMATS``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
    dpi : float
        Resolution of a PNG (and of the images embedded in SVG and PDF), dots per inch.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        For another extension.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"cannot write {path.name!r}: allowed extensions {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:  # a killed process leaves no truncated figure
        fig.savefig(tmp, format=path.suffix.lower()[1:], dpi=dpi)
    return path


def _metric_label(metric: str) -> tuple[str, str]:
    """(title, unit) of an outcome column."""
    if metric in _METRICS:
        return _METRICS[metric]
    unit = next((u for suffix, u in _UNIT_SUFFIXES.items() if metric.endswith(suffix)), "value")
    return metric.replace("_", " "), unit


def _mm(xyz: np.ndarray) -> np.ndarray:
    """AP projection (x, z) in mm of positions in m, shape (..., 2)."""
    return np.asarray(xyz)[..., [0, 2]] * 1e3


def _is_result(source) -> bool:
    return hasattr(source, "summary") and hasattr(source, "timeseries")


# ---------------------------------------------------------------------------
# scene: the flow states a liver or run figure draws


class Scene:
    """A liver or a run prepared for drawing; the flow states are solved once.

    Parameters
    ----------
    source : RunResult or Liver

    Attributes
    ----------
    liver : Liver
    result : RunResult or None
    flow : LiverFlow
        Pre-procedure flow model with the scenario's catheter in place.
    final : LiverFlow or None
        The same at the end of the run (its occlusions applied).
    network : ArterialNetwork
        Arterial vessels of ``flow.liver`` (with the catheter tip node).
    native : dict of str to FlowState
        Solved native (injection-free) states: ``"baseline"`` and, for a run, ``"final"``.
    """

    def __init__(self, source):
        from .angiography import (
            ArterialNetwork,
            baseline_flow,
            final_flow,
            run_liver,
            solved_state,
        )

        self.result = source if _is_result(source) else None
        self.liver = run_liver(source) if self.result is not None else source
        self.flow = baseline_flow(self.liver, self.result.scenario if self.result is not None else None)
        self.final = final_flow(self.result) if self.result is not None else None
        self.network = ArterialNetwork(self.flow.liver)
        self.native = {"baseline": solved_state(self.flow, 0.0)}
        if self.final is not None:
            self.native["final"] = solved_state(self.final, 0.0)

    def require_run(self, what: str) -> None:
        """Raise ValueError naming ``what`` when the scene holds a liver only."""
        if self.result is None:
            raise ValueError(f"{what} needs a run result (sim.run), not a liver")

    @cached_property
    def view(self):
        """The AP field of view of every figure of this scene (:meth:`sim.angiography.View.around`)."""
        from .angiography import View

        return View.around(self.flow.liver)

    @cached_property
    def angiograms(self) -> dict:
        """Virtual DSA of each native state with one injection and view (label -> Angiogram)."""
        from .angiography import compare_angiograms

        flows = {"before": self.flow} if self.final is None else {"before": self.flow, "after": self.final}
        return dict(zip(flows, compare_angiograms(list(flows.values()), view=self.view)))

    @cached_property
    def particles_below(self) -> np.ndarray:
        """Particles lodged in each arterial vessel or anywhere downstream of it (count), shape (V,)."""
        from .kernels.treewalk import subtree_sums

        self.require_run("particle counts")
        st = self.result.state
        forest, trunk = self.flow.liver.forest, self.flow.liver.trunk
        own = st["lodged_pedicle"].astype(np.float64)
        np.add.at(own, self.flow.liver.compartments.node, st["lodged_compartment"])
        below = np.empty_like(own)
        subtree_sums(np.asarray(forest.parent, np.int64), own, below)
        at_node = np.zeros(trunk.n_nodes)
        at_node[forest.root_trunk_art] = below[forest.root_nodes]
        edges = self.network.trunk_vessels
        conns = trunk.edge_conns
        count: dict[int, float] = {}

        def downstream(e: int) -> float:  # the arterial trunk is a small DAG in the baseline direction
            if e not in count:
                end = conns[e, 1]
                count[e] = st["lodged_trunk"][e] + at_node[end] + sum(downstream(f) for f in edges
                                                                     if conns[f, 0] == end)
            return count[e]

        return np.concatenate([[downstream(e) for e in edges], below[self.network.pedicle_vessels]])

    def lodging_sites(self) -> np.ndarray:
        """Positions of vessels and compartments holding lodged particles, m, shape (k, 3)."""
        self.require_run("lodging sites")
        st = self.result.state
        forest = self.flow.liver.forest
        nodes = np.concatenate([np.flatnonzero(st["lodged_pedicle"] > 0),
                                self.flow.liver.compartments.node[st["lodged_compartment"] > 0]])
        return forest.xyz[np.unique(nodes)]


# ---------------------------------------------------------------------------
# tree


def _scene(source) -> Scene:
    """``source`` as a Scene (built once from a result or a liver)."""
    return source if isinstance(source, Scene) else Scene(source)


def _vessel_values(scene: Scene, which: str, colour_by: str, min_diameter_um: float):
    """Values to colour the vessels by, with their norm (spanning the drawn vessels at baseline), colour map and label."""
    from matplotlib.colors import LogNorm, Normalize

    from .units import ML_MIN_M3S, MMHG_PA

    net = scene.network
    drawn = net.vessel_diameter_m >= min_diameter_um * 1e-6
    if colour_by == "flow":
        def values(state):
            return np.abs(net.vessel_flows(state)) / ML_MIN_M3S

        base = values(scene.native["baseline"])[drawn]
        base = base[base > 0]
        return values(scene.native[which]), LogNorm(base.min(), base.max()), "viridis", "arterial flow (mL/min)"
    if colour_by == "pressure":
        def values(state):  # mean of the two ends, mmHg
            p = net.node_pressures(state) + scene.flow.liver.hepatic_vein_pressure_pa
            return 0.5 * (p[net.vessel_up] + p[net.vessel_down]) / MMHG_PA

        base = values(scene.native["baseline"])[drawn]
        return values(scene.native[which]), Normalize(np.nanmin(base), np.nanmax(base)), "cividis", \
            "arterial pressure (mmHg)"
    if colour_by == "occlusion":
        scene.require_run("colouring by occlusion")
        base = np.abs(net.vessel_flows(scene.native["baseline"]))
        now = np.abs(net.vessel_flows(scene.native[which]))
        loss = np.full(base.shape, np.nan)
        np.divide(base - now, base, out=loss, where=base > 0)
        return np.clip(loss, 0.0, 1.0), Normalize(0.0, 1.0), "viridis", "flow reduction (fraction of baseline)"
    if colour_by == "particles":
        if which != "final":
            raise ValueError("particle counts are drawn on the final state only")
        counts = scene.particles_below
        return counts, LogNorm(1.0, max(2.0, counts[drawn].max())), "viridis", "particles lodged in or below (count)"
    raise ValueError(f"unknown colour_by {colour_by!r}; allowed: flow, pressure, occlusion, particles")


def _line_widths(diameter_m: np.ndarray) -> np.ndarray:
    """Line width (points) of vessels of a given diameter: grows as diameter^0.6, 0.3-6 pt."""
    return np.clip(1.6 * (diameter_m * 1e3) ** 0.6, 0.3, 6.0)


def _draw_vessels(ax, scene: Scene, values: np.ndarray, norm, cmap: str, min_diameter_um: float) -> None:
    """The arterial vessels at least ``min_diameter_um`` wide as one LineCollection (widest on top)."""
    import matplotlib
    from matplotlib.collections import LineCollection
    from matplotlib.colors import LogNorm, to_rgba

    net = scene.network
    drawn = np.flatnonzero(net.vessel_diameter_m >= min_diameter_um * 1e-6)
    drawn = drawn[np.argsort(net.vessel_diameter_m[drawn], kind="stable")]
    segments = np.stack([_mm(net.xyz[net.vessel_up[drawn]]), _mm(net.xyz[net.vessel_down[drawn]])], axis=1)
    v = values[drawn]
    shown = np.isfinite(v) & ((v > 0) if isinstance(norm, LogNorm) else True)
    rgba = matplotlib.colormaps[cmap](norm(np.where(shown, v, norm.vmin)))
    rgba[~shown] = to_rgba(_NO_FLOW)
    ax.add_collection(LineCollection(segments, colors=rgba, linewidths=_line_widths(net.vessel_diameter_m[drawn]),
                                     capstyle="round", zorder=3))


def _segment_outlines(ax, liver) -> None:
    """Couinaud segments as the convex hulls of their tissue points in projection, labelled I-VIII."""
    from scipy.spatial import ConvexHull

    points = liver.compiled.points
    for s, name in enumerate(_SEGMENT_NAMES):
        xz = _mm(points.xyz[points.segment == s])
        if xz.shape[0] < 3:
            continue
        xz = xz[:: max(1, xz.shape[0] // _HULL_POINTS)]
        hull = xz[ConvexHull(xz).vertices]
        ax.fill(hull[:, 0], hull[:, 1], facecolor="none", edgecolor=_LIVER_LINE, lw=0.8, ls=(0, (4, 3)), zorder=1)
        centre = np.median(xz, axis=0)
        ax.text(centre[0], centre[1], name, color=_LIVER_LINE, fontsize=11, ha="center", va="center", zorder=8,
                fontweight="bold", path_effects=_halo())


def _tumour_outlines(ax, liver, *, labels: bool = True) -> None:
    """Tumours as dashed circles (projected spheres), named."""
    from matplotlib.patches import Circle

    tumours = liver.tumours
    for name, centre, radius in zip(tumours.names, tumours.centre_m, tumours.radius_m):
        x, z = _mm(centre)
        ax.add_patch(Circle((x, z), radius * 1e3, fill=False, ec=_TUMOUR, lw=1.8, ls="--", zorder=4))
        if labels:
            ax.text(x, z + radius * 1e3 + 2, name, color=_TUMOUR, fontsize=9, ha="center", va="bottom", zorder=8,
                    path_effects=_halo())


def _catheter(ax, scene: Scene) -> None:
    """The catheter's course through the named arteries and its tip."""
    liver = scene.flow.liver
    placement = scene.flow.catheter
    trunk, forest = liver.trunk, liver.forest
    course = [_mm(trunk.node_xyz[trunk.edge_conns[e]]) for e in placement.narrowed_trunk]
    course += [_mm(forest.xyz[[forest.parent[n], n]]) for n in placement.narrowed_pedicle]
    for part in course:
        ax.plot(part[:, 0], part[:, 1], color=_CATHETER, lw=1.2, ls=":", zorder=5)
    tip = trunk.node_xyz[placement.tip_trunk_node] if placement.tip_trunk_node >= 0 else \
        forest.xyz[placement.tip_pedicle_node]
    x, z = _mm(tip)
    ax.plot(x, z, marker="v", ms=10, color=OKABE_ITO["black"], mec="white", ls="none", zorder=7,
            label=f"catheter tip ({placement.vessel})")


def _vessel_labels(ax, scene: Scene) -> None:
    """Names of the named arteries in view, 60% along each, widest first, none within 7 mm of another."""
    from .network import EDGE_ARTERY

    trunk = scene.flow.liver.trunk
    left, right, bottom, top = (1e3 * v for v in scene.view.extent)
    placed: list[np.ndarray] = []
    for e in np.argsort(-np.nan_to_num(trunk.edge_radius_m), kind="stable"):
        name = trunk.edge_names[e]
        if trunk.edge_kind[e] != EDGE_ARTERY or name.endswith("_distal"):
            continue
        a, b = _mm(trunk.node_xyz[trunk.edge_conns[e]])
        here = a + 0.6 * (b - a)
        inside = left <= here[0] <= right and bottom <= here[1] <= top
        if inside and all(np.hypot(*(here - p)) > 7.0 for p in placed):
            placed.append(here)
            ax.text(here[0], here[1], name, fontsize=8, ha="center", va="center", zorder=8, path_effects=_halo())


def _frame_axes(ax, scene: Scene, title: str) -> None:
    """AP projection axes over the liver and its arteries: mm, equal aspect, R and L marked."""
    left, right, bottom, top = (1e3 * v for v in scene.view.extent)
    ax.set_aspect("equal")
    ax.set(xlim=(left, right), ylim=(bottom, top))
    ax.set(xlabel="x (mm), patient's left \u2192", ylabel="z, cranial (mm)", title=title)
    for x, letter, ha in ((0.01, "R", "left"), (0.99, "L", "right")):
        ax.text(x, 0.98, letter, transform=ax.transAxes, fontsize=12, fontweight="bold", ha=ha, va="top")


def _tree_panel(ax, scene: Scene, which: str, colour_by: str, min_diameter_um: float, labels: bool):
    """One AP tree panel; returns the (norm, cmap, label) used."""
    values, norm, cmap, label = _vessel_values(scene, which, colour_by, min_diameter_um)
    _segment_outlines(ax, scene.liver)
    _draw_vessels(ax, scene, values, norm, cmap, min_diameter_um)
    _tumour_outlines(ax, scene.liver, labels=labels)
    _catheter(ax, scene)
    if labels:
        _vessel_labels(ax, scene)
    if which == "final":  # dots that stand out on the colour map: vermilion on viridis' dark end, black on its light
        sites = _mm(scene.lodging_sites())
        dots = OKABE_ITO["black"] if colour_by in ("occlusion", "particles") else OKABE_ITO["vermilion"]
        ax.scatter(sites[:, 0], sites[:, 1], s=4, c=dots, lw=0, alpha=0.6, zorder=6, label="lodged particles")
    return norm, cmap, label


#: What a grey vessel means for each colouring.
_GREY_MEANS = {"flow": "no flow", "pressure": "cut off", "occlusion": "no flow at baseline",
               "particles": "no particle below"}


def _tree_legend(fig, ax, colour_by: str) -> None:
    """One legend below the figure: the markers of ``ax`` and the line styles of every tree panel."""
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color=_TUMOUR, ls="--", lw=1.8), Line2D([], [], color=_NO_FLOW, lw=2),
                Line2D([], [], color=_LIVER_LINE, ls=(0, (4, 3)), lw=0.8)]
    labels += ["tumour", _GREY_MEANS[colour_by], "Couinaud segment"]
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=9)


def _colourbar(fig, axes, norm, cmap: str, label: str) -> None:
    from matplotlib.cm import ScalarMappable

    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=label, shrink=0.8)


@_style()
def tree(source, ax=None, *, colour_by: str = "flow", state: str | None = None,
         min_diameter_um: float = TREE_MIN_DIAMETER_UM, labels: bool = True):
    """The arterial tree in AP projection, coloured by flow, pressure, occlusion or particle count.

    Line width grows with vessel diameter; Couinaud segments are outlined, tumours
    and the catheter (course and tip) marked, named arteries labelled, and after a
    run the lodging sites drawn as dots.

    Parameters
    ----------
    source : RunResult, Liver or Scene
    ax : matplotlib Axes, optional
    colour_by : {"flow", "pressure", "occlusion", "particles"}
        Native flow (mL/min, log scale), mean pressure (mmHg), flow reduction from
        baseline (including everything downstream), or particles lodged in or below
        each vessel. ``occlusion`` and ``particles`` need a run.
    state : {"baseline", "final"}, optional
        Flow state drawn; default ``"final"`` for a run, ``"baseline"`` for a liver.
    min_diameter_um : float
        Narrowest vessel drawn, um.
    labels : bool
        Name the arteries and tumours.

    Returns
    -------
    matplotlib.figure.Figure
    """
    scene = _scene(source)
    which = state or ("final" if scene.result is not None else "baseline")
    if which not in scene.native:
        raise ValueError(f"state {which!r} not available; allowed: {', '.join(scene.native)}")
    fig, (ax,) = _axes(ax, figsize=(8.5, 7.4))
    norm, cmap, label = _tree_panel(ax, scene, which, colour_by, min_diameter_um, labels)
    when = "end of embolisation" if which == "final" else "baseline"
    _frame_axes(ax, scene, f"Hepatic arteries ({when}), vessels \u2265 {min_diameter_um:g} \u00b5m")
    _tree_legend(fig, ax, colour_by)
    _colourbar(fig, [ax], norm, cmap, label)
    return fig


@_style()
def before_after(source, ax=None, *, colour_by: str = "flow", min_diameter_um: float = TREE_MIN_DIAMETER_UM):
    """The tree at baseline and at the end of the run side by side, on one colour scale.

    Parameters
    ----------
    source : RunResult or Scene (of a run)
    ax : sequence of two matplotlib Axes, optional
    colour_by : {"flow", "pressure", "occlusion"}
        As for :func:`tree` (particle counts exist at the end only: use :func:`tree`).
    min_diameter_um : float
        Narrowest vessel drawn, um.

    Returns
    -------
    matplotlib.figure.Figure
    """
    scene = _scene(source)
    scene.require_run("a before/after figure")
    fig, axes = _axes(ax, 2, figsize=(15.0, 7.6))
    summary = scene.result.summary
    titles = {"baseline": "Baseline",
              "final": f"End: SACE {summary['sace_level']}, flow {summary['antegrade_flow_fraction']:.0%} of baseline"}
    for axis, which in zip(axes, ("baseline", "final")):
        norm, cmap, label = _tree_panel(axis, scene, which, colour_by, min_diameter_um, labels=which == "baseline")
        _frame_axes(axis, scene, titles[which])
    _tree_legend(fig, axes[1], colour_by)
    _colourbar(fig, axes, norm, cmap, label)
    fig.suptitle(f"{scene.liver.scenario.title}: arteries \u2265 {min_diameter_um:g} \u00b5m")
    return fig


# ---------------------------------------------------------------------------
# curve and deposition


@_style()
def endpoint_curve(result, ax=None):
    """Antegrade flow and tumour blush against injected suspension volume, SACE bands shaded.

    The endpoint (where injection stopped, with its reason and SACE level) and the
    reflux (its share of the injection, and where it starts) are marked.

    Parameters
    ----------
    result : RunResult or Scene (of a run)
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    result = result.result if isinstance(result, Scene) else result
    fig, (ax,) = _axes(ax, figsize=(7.5, 4.8))
    proc = result.scenario.procedure
    bounds = [1.0, 1 - proc.slowed_flow_reduction, 1 - proc.sluggish_flow_reduction,
              1 - proc.stasis_flow_reduction, 0.0]
    for level in range(1, 5):
        ax.axhspan(bounds[level], bounds[level - 1], color=SACE_COLOURS[level], alpha=0.15, lw=0,
                   label=f"SACE {['I', 'II', 'III', 'IV'][level - 1]}")
    ts = result.timeseries
    volume = ts["suspension_volume_ml"].to_numpy(float)
    ax.plot(volume, ts["antegrade_flow_fraction"], color=OKABE_ITO["blue"], lw=2.2, label="antegrade flow")
    ax.plot(volume, ts["tumour_blush_fraction"], color=OKABE_ITO["purple"], lw=2.2, ls="--", label="tumour blush")
    reflux = ts["reflux_fraction"].to_numpy(float)
    if (reflux > 0).any():
        ax.plot(volume, reflux, color=OKABE_ITO["black"], lw=1.2, ls=":", label="reflux (share of injection)")
        ax.axvline(volume[np.argmax(reflux > 0)], color=OKABE_ITO["black"], lw=0.8, ls=":")
    summary = result.summary
    ax.plot(volume[-1], ts["antegrade_flow_fraction"].iloc[-1], marker="o", ms=9, color=OKABE_ITO["blue"],
            mec="black", ls="none", label=f"stop: {summary['stop_reason']} (SACE {summary['sace_level']})")
    ax.set(xlabel="injected suspension (mL)", ylabel="fraction (of baseline; of injection for reflux)",
           ylim=(0, 1.05), xlim=(0, max(volume[-1], 1e-9) * 1.04),
           title=f"Catheter in {result.scenario.catheter.vessel}: stopped on {summary['stop_reason']}")
    ax.legend(loc="upper right", ncol=2)
    return fig


def _lodged_particles(scene: Scene) -> dict[str, np.ndarray]:
    """Per lodged particle: generation, diameter (um) and tumour share; and the other particles' diameters by fate."""
    from .agents import agent_from_config
    from .kernels import transport as tk
    from .outcomes import lodging_generations, tumour_share_of_lodgings
    from .procedure import transport_net

    result = scene.result
    st = result.state
    liver = scene.flow.liver
    fate, where, diameter = st["particle_fate"], st["particle_where"], st["particle_diameter_m"]
    net, sink_names = transport_net(liver, scene.flow.state, scene.flow.catheter, result.scenario,
                                    agent_from_config(result.scenario.agent))
    generation = lodging_generations(fate, where, diameter, liver.forest.generation, liver.compartments.node,
                                     net.comp_feed_diam, net.murray_exponent, net.deformability)
    node_share, comp_share = tumour_share_of_lodgings(liver.compartments, np.asarray(liver.forest.parent, np.int64))
    in_vessel, in_comp, in_trunk = (fate == tk.FATE_VESSEL), (fate == tk.FATE_COMPARTMENT), (fate == tk.FATE_TRUNK)
    return {
        # named (trunk) vessels count as normal liver, as in the summary's tumour particle fraction
        "generation": np.concatenate([generation, liver.trunk.edge_generation[where[in_trunk]]]),
        "share": np.concatenate([node_share[where[in_vessel]], comp_share[where[in_comp]], np.zeros(in_trunk.sum())]),
        "diameter": np.concatenate([diameter[in_vessel], diameter[in_comp], diameter[in_trunk]]) * 1e6,
        "nontarget": diameter[fate == tk.FATE_NONTARGET] * 1e6,
        "suspended": diameter[fate == tk.FATE_SUSPENDED] * 1e6,
        "branches": np.array([sink_names[k] for k in where[fate == tk.FATE_NONTARGET]], dtype=object),
    }


@_style()
def deposition(source, ax=None):
    """Where the particles went: lodging generation and particle diameter by destination, and the totals.

    Tumour and normal liver are split as in the summary (a particle counts towards
    tumour with the viable tumour share of the tissue its vessel or compartment
    feeds); non-target particles are counted by branch.

    Parameters
    ----------
    source : RunResult or Scene (of a run)
    ax : sequence of three matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    scene = _scene(source)
    scene.require_run("a deposition figure")
    p = _lodged_particles(scene)
    fig, axes = _axes(ax, 3, figsize=(15.0, 4.6))
    colours = {"tumour": _TUMOUR, "normal liver": OKABE_ITO["blue"], "non-target": OKABE_ITO["vermilion"],
               "in suspension": _NO_FLOW}
    tumour, normal = p["share"], 1.0 - p["share"]

    gen = p["generation"]
    edges = np.arange(np.floor(gen.min()) if gen.size else 0, (np.ceil(gen.max()) if gen.size else 1) + 1.5)
    axes[0].hist([gen, gen], bins=edges, weights=[tumour, normal], stacked=True,
                 color=[colours["tumour"], colours["normal liver"]], label=["tumour", "normal liver"])
    axes[0].set(xlabel="lodging generation (PHA = 0)", ylabel="particles (count)", title="Depth of lodging")
    axes[0].legend()

    diam = [p["diameter"], p["diameter"], p["nontarget"], p["suspended"]]
    weights = [tumour, normal, np.ones(p["nontarget"].size), np.ones(p["suspended"].size)]
    every = np.concatenate(diam)
    bins = np.linspace(every.min(), every.max() + 1e-9, 21) if every.size else np.linspace(0, 1, 2)
    axes[1].hist(diam, bins=bins, weights=weights, stacked=True, color=list(colours.values()), label=list(colours))
    axes[1].set(xlabel="particle diameter (\u00b5m)", ylabel="particles (count)", title="Size by destination")
    axes[1].legend()

    names, counts = ["tumour", "normal liver"], [tumour.sum(), normal.sum()]
    branches, per_branch = np.unique(p["branches"].astype(str), return_counts=True)
    names += [f"non-target: {b}" for b in branches]
    counts += per_branch.tolist()
    names.append("in suspension")
    counts.append(p["suspended"].size)
    bar_colours = [colours["tumour"], colours["normal liver"]] + [colours["non-target"]] * branches.size + \
        [colours["in suspension"]]
    y = np.arange(len(names))[::-1]
    axes[2].barh(y, counts, color=bar_colours)
    axes[2].set_yticks(y, names)
    total = max(sum(counts), 1)
    for yy, c in zip(y, counts):
        axes[2].text(c, yy, f" {c:.0f} ({c / total:.0%})", va="center", fontsize=9)
    axes[2].set(xlabel="particles (count)", ylabel="destination", title="Where the particles went",
                xlim=(0, max(max(counts), 1) * 1.35))
    fig.suptitle(f"Particle deposition: {scene.result.summary['particles_injected']} particles, "
                 f"{scene.result.summary['agent']}")
    return fig


# ---------------------------------------------------------------------------
# strategy comparison


def _check_columns(table, columns) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"the table has no column {', '.join(map(repr, missing))}; "
                         f"columns: {', '.join(map(str, table.columns))}")


def _totals(table):
    """The rows of a strategy as a whole: a staged strategy's ``session`` rows dropped (``sim.strategies.TOTAL``)."""
    if "session" not in table.columns:
        return table
    from .strategies import TOTAL

    return table[table["session"].astype(str) == TOTAL]


def _interval(table, metric: str) -> np.ndarray | None:
    """Distances (2, n) from the mean down to ``<metric>_lo`` and up to ``<metric>_hi``; None without them."""
    if f"{metric}_lo" not in table.columns or f"{metric}_hi" not in table.columns:
        return None
    mean = table[metric].to_numpy(float)
    return np.clip(np.vstack([mean - table[f"{metric}_lo"].to_numpy(float),
                              table[f"{metric}_hi"].to_numpy(float) - mean]), 0.0, None)


@_style()
def comparison(table, metrics=DEFAULT_METRICS, ax=None, *, strategy: str = "strategy"):
    """Strategies side by side on the main outcomes, with their 95% intervals.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per strategy (:func:`sim.compare`): a ``strategy`` column, a column per
        outcome (mean) and, optionally, ``<outcome>_lo`` and ``<outcome>_hi`` bounds.
        With a ``session`` column only the ``total`` rows are drawn.
    metrics : sequence of str
        Outcome columns, one panel each.
    ax : matplotlib Axes or sequence of them (one per metric), optional
    strategy : str
        Column naming the strategy.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        A column is missing, or a strategy has several rows (filter the table, or
        draw it with :func:`arterialisation`).
    """
    metrics = list(metrics)
    _check_columns(table, [strategy, *metrics])
    table = _totals(table)
    if table[strategy].duplicated().any():
        raise ValueError(f"one row per {strategy} expected; filter the varied parameter or use arterialisation()")
    fig, axes = _axes(ax, len(metrics), figsize=(3.4 * len(metrics) + 0.4, 4.4))
    names = table[strategy].astype(str).tolist()
    colours = [list(OKABE_ITO.values())[k % len(OKABE_ITO)] for k in range(len(names))]
    x = np.arange(len(names))
    for axis, metric in zip(axes, metrics):
        axis.bar(x, table[metric].to_numpy(float), color=colours, yerr=_interval(table, metric), capsize=4,
                 error_kw={"lw": 1.2})
        axis.set_xticks(x, names, rotation=30, ha="right")
        title, unit = _metric_label(metric)
        axis.set(title=title, ylabel=unit, xlabel=strategy)
    fig.suptitle("Strategies compared (mean and 95% interval)")
    return fig


def _arterial_column(table, metrics) -> str:
    found = [c for c in table.columns if "arterial_fraction" in str(c) and c not in metrics
             and not str(c).endswith(("_lo", "_hi"))]
    if not found:
        raise ValueError("no varied arterial-fraction column (e.g. 'tumours.0.arterial_fraction'); pass x=")
    return found[0]


@_style()
def arterialisation(table, metrics=DEFAULT_METRICS, ax=None, *, x: str | None = None, strategy: str = "strategy"):
    """Outcomes of each strategy against the tumour's arterial fraction, with 95% bands.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`sim.compare` with the arterial fraction varied: one row per
        strategy and value; outcome columns with optional ``_lo``/``_hi`` bounds.
        With a ``session`` column only the ``total`` rows are drawn.
    metrics : sequence of str
        Outcome columns, one panel each.
    ax : matplotlib Axes or sequence of them (one per metric), optional
    x : str, optional
        The varied column; default the first column naming ``arterial_fraction``.
    strategy : str
        Column naming the strategy.

    Returns
    -------
    matplotlib.figure.Figure
    """
    metrics = list(metrics)
    x = _arterial_column(table, metrics) if x is None else x
    _check_columns(table, [strategy, x, *metrics])
    table = _totals(table)
    fig, axes = _axes(ax, len(metrics), figsize=(3.6 * len(metrics) + 0.4, 4.2))
    for axis, metric in zip(axes, metrics):
        for k, (name, rows) in enumerate(table.groupby(strategy, sort=False)):
            rows = rows.sort_values(x)
            colour = list(OKABE_ITO.values())[k % len(OKABE_ITO)]
            xs = rows[x].to_numpy(float)
            mean = rows[metric].to_numpy(float)
            axis.plot(xs, mean, marker="o", color=colour, lw=2, label=str(name))
            interval = _interval(rows, metric)
            if interval is not None:
                axis.fill_between(xs, mean - interval[0], mean + interval[1], color=colour, alpha=0.2, lw=0)
        title, unit = _metric_label(metric)
        axis.set(title=title, ylabel=unit, xlabel="tumour arterial fraction (1)")
    axes[0].legend(title=strategy)
    fig.suptitle("Outcomes against tumour arterialisation (mean and 95% band)")
    return fig


# ---------------------------------------------------------------------------
# virtual angiogram


def _angiogram_title(scene: Scene) -> str:
    injection = next(iter(scene.angiograms.values())).transit.injection
    return (f"Virtual DSA: {injection.rate_m3s * 1e6:.2f} mL/s for {injection.duration_s:g} s "
            f"into {scene.flow.catheter.vessel}")


def _angiogram_image(ax, angio, t: float, scene: Scene):
    """One frame (grey: opacity 0-1) with the tumours outlined; returns the image artist."""
    from .angiography import opacity

    left, right, bottom, top = angio.view.extent
    image = ax.imshow(opacity(angio.frame(t)), origin="lower", extent=(left * 1e3, right * 1e3, bottom * 1e3,
                                                                         top * 1e3),
                      cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="antialiased")
    _tumour_outlines(ax, scene.liver, labels=False)
    return image


def _phase_of(t: float, phases: dict[str, float]) -> str:
    """Name of the phase a time falls in (boundaries half-way between the phase times)."""
    names, times = list(phases), list(phases.values())
    cuts = [0.5 * (a + b) for a, b in itertools.pairwise(times)]
    return names[int(np.searchsorted(cuts, t))]


@_style()
def angiogram(source, ax=None, *, times_s=None):
    """Virtual digital subtraction angiogram before and after embolisation at the arterial, capillary and venous phases.

    Contrast (black) injected at the catheter tip; see :mod:`sim.angiography` for the
    model. The same injection and clock are used before and after, so slower filling,
    standing contrast and the fading tumour blush show directly.

    Parameters
    ----------
    source : RunResult, Liver or Scene
        A liver gives the baseline row only.
    ax : sequence of matplotlib Axes (rows x times), optional
    times_s : sequence of float, optional
        Frame times after the start of the injection, s; default the baseline's
        arterial, capillary and venous phase times (:func:`sim.angiography.phase_times`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .angiography import phase_times

    scene = _scene(source)
    angios = scene.angiograms
    phases = phase_times(angios["before"])
    times = list(phases.values()) if times_s is None else [float(t) for t in times_s]
    rows = {"before": "baseline", "after": "end of embolisation"}
    fig, axes = _axes(ax, len(angios) * len(times), nrows=len(angios), figsize=(4.2 * len(times) + 1.0,
                                                                               3.9 * len(angios) + 0.6))
    grid = np.array(axes, dtype=object).reshape(len(angios), len(times))
    for r, (key, angio) in enumerate(angios.items()):
        for c, t in enumerate(times):
            axis = grid[r, c]
            image = _angiogram_image(axis, angio, t, scene)
            axis.set_title(f"{_phase_of(t, phases)} phase, {t:.1f} s")
            axis.set(xlabel="x (mm), patient's left \u2192",
                     ylabel=f"{rows[key]}\nz, cranial (mm)" if c == 0 else "z, cranial (mm)")
    fig.colorbar(image, ax=axes, label="contrast opacity (0-1)", shrink=0.8)
    fig.suptitle(_angiogram_title(scene))
    return fig


def animate_angiogram(source, path: str | Path, *, fps: int = 8, dpi: int = 72, step_s: float = 0.25) -> Path:
    """Write a GIF of the virtual DSA through its arterial, capillary and venous phases.

    Frames every ``step_s`` up to 2 s after the capillary peak, then every
    4 ``step_s`` to 3 s after the venous phase; baseline and (for a run) end of
    embolisation side by side on one clock.

    Parameters
    ----------
    source : RunResult, Liver or Scene
    path : str or Path
        The ``.gif`` file.
    fps : int
        Frames per second of the GIF.
    dpi : int
        Resolution.
    step_s : float
        Time between frames in the arterial and capillary phases, s.

    Returns
    -------
    Path
    """
    from matplotlib.animation import FuncAnimation, PillowWriter

    from .angiography import opacity, phase_times

    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"cannot write {path.name!r}: an animation is a .gif")
    scene = _scene(source)
    angios = scene.angiograms
    phases = phase_times(angios["before"])
    times = np.concatenate([np.arange(0.0, phases["capillary"] + 2.0, step_s),
                            np.arange(phases["capillary"] + 2.0, phases["venous"] + 3.0, 4.0 * step_s)])
    with _style():
        fig, axes = _axes(None, len(angios), figsize=(4.6 * len(angios), 4.6))
        images = []
        for axis, (key, angio) in zip(axes, angios.items()):
            images.append(_angiogram_image(axis, angio, 0.0, scene))
            axis.set(title="baseline" if key == "before" else "end of embolisation",
                     xlabel="x (mm), patient's left \u2192", ylabel="z, cranial (mm)")
        clock = fig.suptitle("")

        def draw(k: int):
            for image, angio in zip(images, angios.values()):
                image.set_data(opacity(angio.frame(times[k])))
            clock.set_text(f"t = {times[k]:4.1f} s: {_phase_of(times[k], phases)} phase")
            return [*images, clock]

        animation = FuncAnimation(fig, draw, frames=len(times), blit=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:  # Pillow takes the format from the name: write a .gif, then move it
            gif = tmp.with_name(tmp.name + ".gif")
            try:
                animation.save(gif, writer=PillowWriter(fps=fps), dpi=dpi)
                os.replace(gif, tmp)
            finally:
                gif.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------------
# run folders


#: Figure function of each kind (``embosim plot --kind``).
_FIGURES = {"tree": tree, "before-after": before_after, "curve": endpoint_curve, "deposition": deposition,
            "comparison": comparison, "arterialisation": arterialisation, "angiogram": angiogram}
#: Kinds drawn from a comparison table rather than a liver or run.
TABLE_KINDS = ("comparison", "arterialisation")


def figure(kind: str, source):
    """The figure of a kind (``KINDS``) with its default options.

    Parameters
    ----------
    kind : str
    source : RunResult, Liver, Scene or pandas.DataFrame
        A comparison table for ``TABLE_KINDS``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if kind not in _FIGURES:
        raise ValueError(f"unknown figure kind {kind!r}; allowed: {', '.join(KINDS)}")
    return _FIGURES[kind](source)


def write_run_figures(result, out_dir: str | Path) -> list[Path]:
    """Write the run's key figures (``RUN_FIGURES``) into ``out_dir``.

    ``RunResult.write`` also writes ``SCENARIO_FILE`` (the scenario with the seed
    used), which lets :func:`load_run` re-create the run.

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out_dir)
    scene = Scene(result)
    return [save_figure(figure(kind, scene), out / name) for name, kind in RUN_FIGURES.items()]


def load_run(run_dir: str | Path):
    """Re-create the run written in ``run_dir`` by re-running its ``scenario.json`` (same seed, same result).

    The run is checked against the folder's ``summary.json`` (particles injected,
    stop reason, SACE level), so a folder written by another version of the model
    is refused rather than drawn wrongly.

    Raises
    ------
    ScenarioError
        No readable ``scenario.json`` or ``summary.json`` (not a run folder), or the
        re-run does not reproduce the summary.
    """
    from .scenario import ScenarioError, parse_scenario
    from .simulation import run

    run_dir = Path(run_dir)
    try:
        scenario_data = json.loads((run_dir / SCENARIO_FILE).read_text(encoding="utf-8"))
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"not a readable run folder: needs {SCENARIO_FILE} and summary.json as written by "
                            f"'embosim run' ({exc.__class__.__name__}: {exc})",
                            source=str(run_dir)) from None
    result = run(parse_scenario(scenario_data, source=str(run_dir / SCENARIO_FILE)), progress=False)
    keys = ("particles_injected", "stop_reason", "sace_level")
    if any(result.summary[k] != summary.get(k) for k in keys):
        raise ScenarioError(f"re-running {SCENARIO_FILE} does not reproduce summary.json "
                            f"({', '.join(f'{k} {result.summary[k]} vs {summary.get(k)}' for k in keys)}): "
                            "written by another version of embosim; run the scenario again", source=str(run_dir))
    return result


def load_table(path: str | Path):
    """A comparison table (``comparison.csv`` of ``embosim compare``, or a folder holding one).

    Raises
    ------
    ScenarioError
        Unreadable or not a CSV table.
    """
    import pandas as pd

    from .scenario import ScenarioError

    path = Path(path)
    csv = path / "comparison.csv" if path.is_dir() else path
    try:
        return pd.read_csv(csv)
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"cannot read a comparison table ({exc.__class__.__name__}: {exc})",
                            source=str(csv)) from None


def load_source(source: str | Path | None, kind: str):
    """What a figure kind is drawn from, given a path or a shipped scenario name.

    * ``TABLE_KINDS``: a comparison CSV or a folder holding ``comparison.csv``
      (``None``: ``embosim-compare``, the folder ``embosim compare`` writes by default);
    * a run folder (holding ``scenario.json``): the run, re-created by :func:`load_run`;
    * otherwise a scenario file or shipped name (``None``: the default scenario):
      its liver for ``tree`` (no procedure needed), else the run of the scenario.

    Raises
    ------
    ScenarioError
        Unreadable or invalid input, naming the file.
    """
    from .catalogue import resolve_scenario
    from .scenario import ScenarioError, load_scenario

    if kind in TABLE_KINDS:
        return load_table(Path(source) if source is not None else Path("embosim-compare"))
    if source is not None and Path(source).is_dir():
        return load_run(source)
    path = resolve_scenario(source)
    scenario = load_scenario(path)
    try:  # errors found on the built liver (a catheter vessel this anatomy lacks, say) name the file too
        if kind == "tree":
            from .anatomy import build_liver

            return build_liver(scenario)
        from .simulation import run

        return run(scenario, progress=False)
    except ScenarioError as exc:
        raise exc.with_source(str(path)) from None
