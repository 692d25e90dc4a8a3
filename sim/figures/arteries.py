"""The liver in anteroposterior (AP) projection: the arterial tree, before and after embolisation.

Drawn from a :class:`~sim.figures.run.RunData`: the arteries at least
``min_diameter_um`` wide as one LineCollection (widest on top), the aorta
(schematic) with the coeliac trunk and SMA, the non-target beds (duodenum via
the GDA, gallbladder via the cystic artery, stomach, spleen, bowel), the portal
vein with any thrombus, the Couinaud segments, tumours, the catheter and its tip,
and after a run the lodged particles (density when many), the expected necrosis
of the parenchyma and the ischaemic bile ducts (peribiliary plexus). Positions in
mm, the patient's right on the image's left, as on an angiogram.
"""

from __future__ import annotations

import numpy as np

from .labels import place_labels
from .run import RunData, run_data
from .style import CATEGORY_COLOURS, OKABE_ITO, display_name, is_wide, line_width, marker_area, new_axes, sace_label, styled

__all__ = ["FLOW_REDUCTION_COLOURS", "HEXBIN_MIN_SITES", "TREE_MIN_DIAMETER_UM", "before_after", "tree"]

#: Narrowest vessel drawn in tree figures by default, um (about what an angiogram resolves).
TREE_MIN_DIAMETER_UM = 300.0
#: Lodging sites above which particles are drawn as a density (hexbin) rather than dots.
HEXBIN_MIN_SITES = 300
#: Flow reduction colour map, 0 (unchanged) to 1 (no flow left): Okabe-Ito blue, orange, vermilion.
FLOW_REDUCTION_COLOURS = (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["vermilion"])
#: Ischaemic bile duct sites drawn at most (an even subsample beyond: thousands of crosses hide the vessels).
BILIARY_MARKERS = 250
#: Filled share of a compartment's sinusoids (or portal venules) drawn as holding Lipiodol from this value.
LIPIODOL_SHOWN = 0.05
#: Expected necrotic share drawn as infarcted parenchyma from this value.
NECROSIS_SHOWN = 0.2
_SEGMENT_NAMES = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII")
#: Organ each non-target bed stands for (the artery that feeds it in brackets on the figure).
_BEDS = {"GDA": "duodenum", "cystic": "gallbladder", "RGA": "stomach", "LGA": "stomach", "splenic": "spleen",
         "SMA": "bowel", "falciform": "abdominal wall"}
#: Portal branch thrombosed for each ``portal.thrombosis`` site.
_THROMBOSED = {"main": "MPV"}
#: Schematic aorta: width, and how far it extends above the coeliac and below the SMA origin, mm.
_AORTA_MM = (22.0, 25.0, 20.0)
_MARGIN_MM = 8.0
_EDGE_ARTERY, _EDGE_PORTAL, _EDGE_LUMPED = 0, 1, 2
#: What a grey vessel means for each colouring.
_GREY_MEANS = {"flow": "no flow", "pressure": "cut off", "occlusion": "no flow at baseline",
               "particles": "no particle below"}


def _xz(xyz: np.ndarray) -> np.ndarray:
    return np.asarray(xyz)[..., [0, 2]]


def _node(data: RunData, name: str) -> np.ndarray | None:
    names = list(data["trunk/node_name"])
    return data["trunk/node_mm"][names.index(name)] if name in names else None


def extent(data: RunData) -> tuple[float, float, float, float]:
    """(left, right, bottom, top) mm of the tree figures: the liver, its arteries, the aorta and the near beds."""
    names = data["trunk/node_name"]
    far = np.isin(names, ["splenic_end", "systemic_veins", "MPV_inlet"])
    xz = np.vstack([_xz(data["parenchyma/xyz_mm"]), _xz(data["trunk/node_mm"][~far])])
    lo, hi = xz.min(axis=0) - _MARGIN_MM, xz.max(axis=0) + _MARGIN_MM
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def _vessel_values(data: RunData, which: str, colour_by: str, drawn: np.ndarray):
    """Values to colour the vessels by, their norm (spanning the drawn vessels at baseline), colour map and label."""
    from matplotlib.colors import LinearSegmentedColormap, LogNorm, Normalize

    if colour_by == "flow":
        base = np.abs(data["vessel/flow_baseline_ml_min"][drawn])
        base = base[base > 0]
        return (np.abs(data[f"vessel/flow_{which}_ml_min"]), LogNorm(base.min(), base.max()), "viridis",
                "arterial flow (mL/min)")
    if colour_by == "pressure":
        base = data["vessel/pressure_baseline_mmhg"][drawn]
        return (data[f"vessel/pressure_{which}_mmhg"], Normalize(np.nanmin(base), np.nanmax(base)), "cividis",
                "arterial pressure (mmHg)")
    if colour_by == "occlusion":
        data.require_run("colouring by occlusion")
        base = np.abs(data["vessel/flow_baseline_ml_min"]).astype(float)
        now = np.abs(data[f"vessel/flow_{which}_ml_min"]).astype(float)
        loss = np.full(base.shape, np.nan)
        np.divide(base - now, base, out=loss, where=base > 0)
        cmap = LinearSegmentedColormap.from_list("flow_reduction", FLOW_REDUCTION_COLOURS)
        return np.clip(loss, 0.0, 1.0), Normalize(0.0, 1.0), cmap, "flow reduction (fraction of baseline)"
    if colour_by == "particles":
        if which != "final":
            raise ValueError("particle counts are drawn on the final state only")
        counts = data["vessel/particles_below"].astype(float)
        return counts, LogNorm(1.0, max(2.0, counts[drawn].max())), "viridis", "particles lodged in or below (count)"
    raise ValueError(f"unknown colour_by {colour_by!r}; allowed: flow, pressure, occlusion, particles")


def _line_widths(diameter_um: np.ndarray) -> np.ndarray:
    """Line width (points) of vessels of a given diameter: grows as diameter^0.6, 0.4-7 pt on a slide
    (:func:`line_width` of the active style)."""
    return line_width(np.clip(1.8 * (diameter_um * 1e-3) ** 0.6, 0.4, 7.0))


def _draw_vessels(ax, data: RunData, drawn: np.ndarray, values, norm, cmap) -> None:
    import matplotlib
    from matplotlib.collections import LineCollection
    from matplotlib.colors import LogNorm, to_rgba

    drawn = drawn[np.argsort(data["vessel/diameter_um"][drawn], kind="stable")]
    segments = np.stack([_xz(data["vessel/up_mm"][drawn]), _xz(data["vessel/down_mm"][drawn])], axis=1)
    v = values[drawn]
    shown = np.isfinite(v) & ((v > 0) if isinstance(norm, LogNorm) else True)
    colour_map = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    rgba = colour_map(norm(np.where(shown, v, norm.vmin)))
    rgba[~shown] = to_rgba(CATEGORY_COLOURS["no flow"])
    ax.add_collection(LineCollection(segments, colors=rgba, linewidths=_line_widths(data["vessel/diameter_um"][drawn]),
                                     capstyle="round", zorder=3))


def _segments(ax, data: RunData) -> list:
    """Couinaud segments as outlines; anchors of their labels I-VIII."""
    outline, start = data["segment/outline_mm"], data["segment/outline_start"]
    colour = CATEGORY_COLOURS["liver outline"]
    anchors = []
    for s, name in enumerate(_SEGMENT_NAMES):
        hull = outline[start[s]:start[s + 1]]
        if hull.shape[0] < 3:
            continue
        ax.fill(hull[:, 0], hull[:, 1], facecolor="none", edgecolor=colour, lw=line_width(0.8), ls=(0, (4, 3)), zorder=1)
        centre = hull.mean(axis=0)
        anchors.append((centre[0], centre[1], name, "#555555"))
    return anchors


def tumour_outlines(ax, data: RunData) -> list:
    """Tumours as dashed circles (projected spheres); their label anchors."""
    from matplotlib.patches import Circle

    anchors = []
    for name, centre, radius in zip(data["tumour/name"], data["tumour/centre_mm"], data["tumour/radius_mm"]):
        x, z = _xz(centre)
        ax.add_patch(Circle((x, z), radius, fill=False, ec=CATEGORY_COLOURS["tumour"], lw=line_width(2.6), ls="--", zorder=5.5))
        anchors.append((x, z + radius, display_name(str(name)), CATEGORY_COLOURS["tumour"]))
    return anchors


def _catheter(ax, data: RunData) -> None:
    for part in data["catheter/course_mm"]:
        xz = _xz(part)
        ax.plot(xz[:, 0], xz[:, 1], color=CATEGORY_COLOURS["catheter"], lw=line_width(2.2), solid_capstyle="round", zorder=6)
    x, z = _xz(data["catheter/tip_mm"])
    ax.plot(x, z, marker="v", ms=line_width(11), color=CATEGORY_COLOURS["catheter"], mec="white", ls="none", zorder=7,
            label=f"catheter tip ({display_name(data.meta['catheter_vessel'])})")


def _aorta(ax, data: RunData) -> list:
    """The aorta (schematic: not part of the model) behind the coeliac trunk and SMA origins; label anchors."""
    from matplotlib.patches import Rectangle

    origins = [p for p in (_node(data, "coeliac_origin"), _node(data, "SMA_origin")) if p is not None]
    if not origins:
        return []
    width, above, below = _AORTA_MM
    x = float(np.mean([p[0] for p in origins]))
    top, bottom = max(p[2] for p in origins) + above, min(p[2] for p in origins) - below
    ax.add_patch(Rectangle((x - width / 2, bottom), width, top - bottom, facecolor=CATEGORY_COLOURS["aorta"],
                           alpha=0.18, edgecolor=CATEGORY_COLOURS["aorta"], lw=line_width(1.0), zorder=0.5))
    return [(x, top - 4.0, "aorta (schematic)", CATEGORY_COLOURS["aorta"])]


def _beds(ax, data: RunData, limits) -> list:
    """Non-target beds at the end of their arteries; label anchors (the particles that reached them are the final
    panel's note, :func:`_nontarget_note`)."""
    left, right, bottom, top = limits
    anchors = []
    for artery, organ in _BEDS.items():
        if f"{artery}_bed" not in list(data["trunk/edge_name"]):
            continue
        end = _node(data, f"{artery}_end")
        x, z = _xz(end)
        if not (left <= x <= right and bottom <= z <= top):
            continue
        # over the vessels, the infarct and the particles' density (review 48: under them the gallbladder's ring
        # vanished in a lobar Y-90 run), its light fill half transparent so that what lies under it shows
        ax.plot(x, z, marker="o", ms=line_width(16), mfc=(0.984, 0.890, 0.839, 0.5), mec=CATEGORY_COLOURS["non-target"],
                mew=line_width(1.5), ls="none", zorder=5.4)
        anchors.append((x, z, f"{organ} ({display_name(artery)})", CATEGORY_COLOURS["non-target"]))
    return anchors


def _nontarget_note(ax, data: RunData) -> None:
    """The particles that left the liver through each non-target branch during the procedure, in the panel's lower
    left corner (the end state's; nothing when none did)."""
    counts = (data.summary or {}).get("nontarget_particles_by_branch", {})
    shown = [f"{_BEDS.get(artery, 'bed')} ({display_name(artery)}) {int(n):,}" for artery, n in
             sorted(counts.items(), key=lambda item: -item[1]) if n] if isinstance(counts, dict) else []
    if shown:
        ax.text(0.01, 0.01, "particles beyond the liver:\n" + "\n".join(shown), transform=ax.transAxes, ha="left",
                va="bottom", color=CATEGORY_COLOURS["non-target"], fontsize="small", zorder=6,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 2})


def _portal(ax, data: RunData) -> list:
    """The named portal veins behind the arteries; a thrombosed branch dark and hatched. Label anchors."""
    names = list(data["trunk/edge_name"])
    site = data.meta.get("portal_thrombosis", "none")
    thrombosed = _THROMBOSED.get(site, site)
    anchors = []
    for e in np.flatnonzero(data["trunk/edge_kind"] == _EDGE_PORTAL):
        a, b = _xz(data["trunk/edge_up_mm"][e]), _xz(data["trunk/edge_down_mm"][e])
        width = float(np.clip(1.6 * data["trunk/edge_diameter_mm"][e], 2.0, 14.0))
        clot = names[e] == thrombosed
        ax.plot([a[0], b[0]], [a[1], b[1]], color=CATEGORY_COLOURS["thrombus" if clot else "portal vein"],
                alpha=0.85 if clot else 0.22, lw=line_width(width), solid_capstyle="round", zorder=1.5,
                ls=(0, (2, 1)) if clot else "-")
        if clot:
            mid = 0.5 * (a + b)
            anchors.append((mid[0], mid[1], f"thrombus ({display_name(names[e])})", CATEGORY_COLOURS["thrombus"]))
    if "MPV" in names:
        e = names.index("MPV")
        mid = 0.5 * (_xz(data["trunk/edge_up_mm"][e]) + _xz(data["trunk/edge_down_mm"][e]))
        anchors.append((mid[0], mid[1], "portal vein", CATEGORY_COLOURS["portal vein"]))
    return anchors


def _after_state(ax, data: RunData, colour_by: str, limits) -> None:
    """Infarcted parenchyma, ischaemic bile ducts and lodged particles (density when many)."""
    from matplotlib.colors import LogNorm

    necrosis = data["parenchyma/necrosis"]
    dead = necrosis >= NECROSIS_SHOWN
    if dead.any():
        xz = _xz(data["parenchyma/xyz_mm"][dead])
        # just under the particles' density (grey, half transparent: the infarct shows through it) and the vessels
        ax.scatter(xz[:, 0], xz[:, 1], s=marker_area(9), color=CATEGORY_COLOURS["infarct"], marker="s", lw=0,
                   alpha=0.75, zorder=2.7)
        ax.plot([], [], marker="s", ms=line_width(9), color=CATEGORY_COLOURS["infarct"], ls="none",
                label=f"infarcted parenchyma (expected necrosis \u2265 {NECROSIS_SHOWN:.0%})")
    if "parenchyma/lipiodol_sinusoid" in data.arrays:  # cTACE: where the oil went
        oil = np.asarray(data["parenchyma/lipiodol_sinusoid"], np.float64)
        portal = np.asarray(data["parenchyma/lipiodol_portal"], np.float64) > LIPIODOL_SHOWN
        shown = oil > LIPIODOL_SHOWN
        if shown.any():
            xz = _xz(data["parenchyma/xyz_mm"][shown])
            ax.scatter(xz[:, 0], xz[:, 1], s=marker_area(8 + 24 * np.clip(oil[shown], 0.0, 1.0)),
                       color=CATEGORY_COLOURS["lipiodol"], edgecolor="#5C4A00", lw=line_width(0.3), alpha=0.85, zorder=3.5,
                       label="Lipiodol in the sinusoids (dot size: filled share)")
        if portal.any():
            xz = _xz(data["parenchyma/xyz_mm"][portal])
            ax.scatter(xz[:, 0], xz[:, 1], s=marker_area(16), facecolor="none", edgecolor=CATEGORY_COLOURS["portal vein"],
                       lw=line_width(0.8), marker="D", alpha=0.8, zorder=3.6, label="Lipiodol in the portal venules")
    ducts = np.flatnonzero(data["biliary/ischaemic"])
    if ducts.size:
        step = -(-ducts.size // BILIARY_MARKERS)
        xz = _xz(data["biliary/xyz_mm"][ducts[::step]])
        ax.scatter(xz[:, 0], xz[:, 1], s=marker_area(14), color=CATEGORY_COLOURS["bile duct"], marker="x",
                   lw=line_width(0.9), alpha=0.9, zorder=5,
                   label="ischaemic bile duct (peribiliary plexus)" + (f", 1 in {step} shown" if step > 1 else ""))
    sites, count = _xz(data["lodged/xyz_mm"]), data["lodged/count"]
    if sites.shape[0] > HEXBIN_MIN_SITES:
        left, right, bottom, top = limits
        ax.hexbin(sites[:, 0], sites[:, 1], C=count, reduce_C_function=np.sum, gridsize=45, cmap="Greys",
                  norm=LogNorm(), mincnt=1, alpha=0.5, lw=0, zorder=2.8, extent=(left, right, bottom, top))
        ax.plot([], [], marker="h", ms=line_width(10), color="#555555", alpha=0.6, ls="none", label="lodged particles (density)")
    elif sites.shape[0]:
        dots = OKABE_ITO["black"] if colour_by in ("occlusion", "particles") else OKABE_ITO["vermilion"]
        ax.scatter(sites[:, 0], sites[:, 1], s=marker_area(6), c=dots, lw=0, alpha=0.7, zorder=6, label="lodged particles")


def _artery_labels(data: RunData, limits) -> list:
    """Label anchors of the named arteries in view, widest first, 60% along each."""
    left, right, bottom, top = limits
    names, kind = data["trunk/edge_name"], data["trunk/edge_kind"]
    anchors = []
    for e in np.argsort(-np.nan_to_num(data["trunk/edge_diameter_mm"]), kind="stable"):
        name = str(names[e])
        if kind[e] != _EDGE_ARTERY or name.endswith("_distal"):
            continue
        a, b = _xz(data["trunk/edge_up_mm"][e]), _xz(data["trunk/edge_down_mm"][e])
        here = a + 0.6 * (b - a)
        if left <= here[0] <= right and bottom <= here[1] <= top:
            anchors.append((here[0], here[1], display_name(name), "black"))
    return anchors


def _frame(ax, limits, title: str) -> None:
    left, right, bottom, top = limits
    ax.set_aspect("equal")
    ax.set(xlim=(left, right), ylim=(bottom, top), title=title, xlabel="x (mm), patient's left \u2192",
           ylabel="z, cranial (mm)")
    for x, letter, ha in ((0.01, "R", "left"), (0.99, "L", "right")):
        ax.text(x, 0.98, letter, transform=ax.transAxes, fontsize="x-large", fontweight="bold", ha=ha, va="top")


def _panel(ax, data: RunData, which: str, colour_by: str, min_diameter_um: float, limits) -> tuple:
    """One AP panel; returns (norm, cmap, colour label, label anchors)."""
    drawn = np.flatnonzero(data["vessel/diameter_um"] >= min_diameter_um)
    values, norm, cmap, label = _vessel_values(data, which, colour_by, drawn)
    segments = _segments(ax, data)
    anchors = _aorta(ax, data) + _portal(ax, data)
    _draw_vessels(ax, data, drawn, values, norm, cmap)
    arteries = _artery_labels(data, limits)
    tip = display_name(str(data.meta.get("catheter_vessel", "")))
    catheterised = [a for a in arteries if a[2] == tip]  # placed right after the tumours (review 28: left out on paper)
    anchors = tumour_outlines(ax, data) + catheterised + anchors + _beds(ax, data, limits)
    _catheter(ax, data)
    if which == "final":
        _after_state(ax, data, colour_by, limits)
        _nontarget_note(ax, data)
    return norm, cmap, label, anchors + [a for a in arteries if a[2] != tip] + segments


def _legend(fig, axes, colour_by: str, extra: tuple = ()) -> None:
    """One legend below the figure: the markers of every panel, the line styles and ``extra`` (handle, label)
    pairs."""
    from matplotlib.lines import Line2D

    handles, labels = [h for h, _ in extra], [label for _, label in extra]
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    handles += [Line2D([], [], color=CATEGORY_COLOURS["tumour"], ls="--", lw=line_width(2.2)),
                Line2D([], [], color=CATEGORY_COLOURS["no flow"], lw=line_width(2)),
                Line2D([], [], color=CATEGORY_COLOURS["portal vein"], lw=line_width(6), alpha=0.3),
                Line2D([], [], color=CATEGORY_COLOURS["liver outline"], ls=(0, (4, 3)), lw=line_width(0.8))]
    labels += ["tumour", _GREY_MEANS[colour_by], "portal vein", "Couinaud segment"]
    fig.legend(handles, labels, loc="outside lower center", ncol=3 if is_wide(fig) else 2, fontsize="small")


def _colourbar(fig, axes, norm, cmap, label: str) -> None:
    from matplotlib.cm import ScalarMappable

    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=label, shrink=0.8)


def _check_state(data: RunData, which: str, min_diameter_um: float) -> None:
    if which not in data.states:
        raise ValueError(f"state {which!r} not available; allowed: {', '.join(data.states)}")
    floor = data.meta["saved_min_diameter_um"]
    if min_diameter_um < floor:
        raise ValueError(f"min_diameter_um {min_diameter_um:g}: the run saved vessels from {floor:g} um")


@styled
def tree(source, ax=None, *, colour_by: str = "flow", state: str | None = None,
         min_diameter_um: float = TREE_MIN_DIAMETER_UM, labels: bool = True):
    """The arterial tree in AP projection, coloured by flow, pressure, flow reduction or particle count.

    Parameters
    ----------
    source : RunData, RunResult or Liver
    ax : matplotlib Axes, optional
    colour_by : {"flow", "pressure", "occlusion", "particles"}
        Native flow (mL/min, log scale), mean pressure (mmHg), flow reduction from
        baseline (including everything downstream), or particles lodged in or below
        each vessel. ``occlusion`` and ``particles`` need a run.
    state : {"baseline", "final"}, optional
        Flow state drawn; default ``"final"`` for a run, ``"baseline"`` for a liver.
    min_diameter_um : float
        Narrowest vessel drawn, um (at least the saved ``SAVED_MIN_DIAMETER_UM``).
    labels : bool
        Name the arteries, beds and tumours (placed so that none overlap).
    style : {"slide", "paper"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = run_data(source)
    which = state or ("final" if data.has_run else "baseline")
    _check_state(data, which, min_diameter_um)
    fig, (ax,) = new_axes(ax, figsize=(10.0, 9.0))
    limits = extent(data)
    norm, cmap, label, anchors = _panel(ax, data, which, colour_by, min_diameter_um, limits)
    when = "end of embolisation" if which == "final" else "baseline"
    _frame(ax, limits, f"Hepatic arteries ({when}), vessels \u2265 {min_diameter_um:g} \u00b5m")
    _legend(fig, [ax], colour_by)
    _colourbar(fig, [ax], norm, cmap, label)
    if labels:
        place_labels(ax, anchors)
    return fig


@styled
def before_after(source, ax=None, *, min_diameter_um: float = TREE_MIN_DIAMETER_UM, labels: bool = True):
    """Baseline flow beside the flow reduction at the end of the run.

    Left: native arterial flow before the first particle (log scale). Right: the
    share of each vessel's baseline flow lost at the end (its whole subtree
    counted), with the lodged particles, infarcted parenchyma and ischaemic bile
    ducts.

    Parameters
    ----------
    source : RunData or RunResult (of a run)
    ax : sequence of two matplotlib Axes, optional
    min_diameter_um : float
        Narrowest vessel drawn, um.
    labels : bool
        Name the arteries, beds and tumours on the baseline panel.
    style : {"slide", "paper"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = run_data(source)
    data.require_run("a before/after figure")
    _check_state(data, "final", min_diameter_um)
    fig, axes = new_axes(ax, 2, figsize=(19.0, 9.5))
    limits = extent(data)
    summary = data.summary
    norm, cmap, label, anchors = _panel(axes[0], data, "baseline", "flow", min_diameter_um, limits)
    _frame(axes[0], limits, "Baseline: arterial flow")
    _colourbar(fig, [axes[0]], norm, cmap, label)
    norm, cmap, label, _ = _panel(axes[1], data, "final", "occlusion", min_diameter_um, limits)
    _frame(axes[1], limits, f"End: {sace_label(summary['sace_level'])}, antegrade flow "
                            f"{float(summary['antegrade_flow_fraction']):.0%} of baseline")
    _colourbar(fig, [axes[1]], norm, cmap, label)
    _legend(fig, axes, "flow")
    fig.suptitle(f"{data.meta['title']}: arteries \u2265 {min_diameter_um:g} \u00b5m")
    if labels:
        place_labels(axes[0], anchors)
    return fig
