"""The one look of every embosim figure: palettes (one per meaning), text sizes, display names, saving.

Palettes: the Okabe-Ito colour-blind-safe colours (Okabe and Ito 2008) for
categories, each meaning one colour in every figure (tumour, normal liver,
non-target, each strategy); perceptually uniform colour maps (viridis, cividis,
magma) for quantities; SACE levels as a light-to-dark sequence from ColorBrewer's
colour-blind-safe YlOrBr (pairwise CIEDE2000 > 10, tested).

Styles: ``"slide"`` (default: 14 pt text for a projector) and ``"paper"`` (9 pt text on a
canvas of print size, lines and markers in proportion: :data:`GEOMETRY`); every figure
function takes ``style=`` and sizes its canvas, lines and markers through :func:`canvas`,
:func:`line_width` and :func:`marker_area`.
"""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from pathlib import Path

import numpy as np

from ..io import atomic_write

__all__ = ["CATEGORY_COLOURS", "FORMATS", "GEOMETRY", "OKABE_ITO", "SACE_COLOURS", "STRATEGY_COLOURS", "STYLES",
           "THERAPY_LABELS", "canvas", "display_name", "empty_panel", "halo", "is_wide", "line_width", "marker_area",
           "metric_label", "new_axes", "panel_grid", "sace_label", "save_figure", "strategy_colour",
           "style_context", "styled", "wrap_to_fit"]

#: Okabe-Ito colour-blind-safe palette (Okabe and Ito 2008), in the order used for categories.
OKABE_ITO = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermilion": "#D55E00",
             "purple": "#CC79A7", "sky": "#56B4E9", "yellow": "#F0E442", "black": "#000000"}
#: What each category colour means, in every figure.
CATEGORY_COLOURS = {"tumour": OKABE_ITO["purple"], "normal liver": OKABE_ITO["blue"],
                    "non-target": OKABE_ITO["vermilion"], "in suspension": "#BBBBBB",
                    "catheter": "#333333", "portal vein": "#6F4E9B", "thrombus": "#7A1F1F",
                    "bile duct": OKABE_ITO["green"], "aorta": "#B03A2E", "liver outline": "#777777",
                    "infarct": "#8C510A", "lipiodol": "#F0E442",
                    "no flow": "#BBBBBB",
                    "lung": "#4D4D4D"}  # a neutral dark grey: orange is the Y-90 in the MAA figure, vermilion non-target
#: Colour of each strategy (``sim.strategies.STRATEGY_NAMES``) in the comparison and arterialisation figures.
STRATEGY_COLOURS = {"superselective": OKABE_ITO["green"], "selective": OKABE_ITO["blue"],
                    "lobar": OKABE_ITO["orange"], "whole_liver": OKABE_ITO["vermilion"],
                    "staged_bilobar": OKABE_ITO["purple"]}
#: SACE level -> band colour (ColorBrewer YlOrBr, 4 of 5 classes: colour-blind safe, light to dark).
SACE_COLOURS = {1: "#FFFFD4", 2: "#FED98E", 3: "#FE9929", 4: "#CC4C02"}
#: File formats :func:`save_figure` writes (by extension).
FORMATS = (".png", ".svg", ".pdf")
#: matplotlib settings of each style (the paper style's axes, ticks and pads thinned with its lines).
STYLES = {
    "slide": {"font.size": 14, "axes.titlesize": 15, "axes.labelsize": 14, "xtick.labelsize": 12,
              "ytick.labelsize": 12, "legend.fontsize": 12, "figure.titlesize": 16},
    "paper": {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "xtick.labelsize": 8,
              "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 10,
              "lines.linewidth": 1.0, "lines.markersize": 4.0, "axes.linewidth": 0.6, "patch.linewidth": 0.6,
              "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.minor.width": 0.4, "ytick.minor.width": 0.4,
              "xtick.major.size": 2.5, "ytick.major.size": 2.5, "xtick.minor.size": 1.5, "ytick.minor.size": 1.5,
              "xtick.major.pad": 2.0, "ytick.major.pad": 2.0, "axes.labelpad": 2.0, "axes.titlepad": 3.0,
              "legend.handlelength": 1.6, "legend.handletextpad": 0.4, "legend.columnspacing": 1.6,
              "legend.labelspacing": 0.3, "figure.constrained_layout.w_pad": 0.02,
              "figure.constrained_layout.h_pad": 0.02},
}
#: (canvas scale, narrowest and widest canvas in inches, line scale) of each style. Each figure function names
#: its slide canvas in inches; the paper style draws it at 0.4 of that size, 5.2-7.2 in wide (the 19 in
#: before-after figure at 7.2 in, a page width; the 9.5 in endpoint curve at 5.2 in, one and a half columns),
#: so its 9 pt text prints at 9 pt when the figure is placed at that width. Line widths (points) are 0.5 of
#: the slide's and marker areas (points^2) 0.25: on a canvas 0.4-0.55 as large they keep about the slide's
#: weight relative to the figure, a little heavier so that thin vessels still print. Model assumption (a
#: choice of look, no source): journals print figures 3.3-7.2 in wide with 6-9 pt text.
GEOMETRY = {"slide": (1.0, 0.0, 100.0, 1.0), "paper": (0.4, 5.2, 7.2, 0.5)}
_ACTIVE_STYLE: ContextVar[str] = ContextVar("embosim_figure_style", default="slide")
_COMMON = {"legend.frameon": False, "axes.spines.top": False, "axes.spines.right": False, "image.cmap": "viridis",
           "figure.dpi": 100}

#: Clinical names of the named vessels (anything else: underscores to spaces).
_DISPLAY = {
    "coeliac": "coeliac trunk", "CHA": "common HA", "PHA": "proper HA", "RHA": "right HA", "LHA": "left HA",
    "GDA": "GDA", "RGA": "right gastric a.", "LGA": "left gastric a.", "splenic": "splenic a.", "SMA": "SMA",
    "cystic": "cystic a.", "falciform": "falciform a.", "right_anterior": "right anterior HA",
    "right_posterior": "right posterior HA", "replaced_RHA": "replaced RHA", "replaced_LHA": "replaced LHA",
    "accessory_RHA": "accessory RHA", "accessory_LHA": "accessory LHA", "MPV": "main portal vein",
    "RPV": "right portal vein", "LPV": "left portal vein", "right_anterior_portal": "right anterior PV",
    "right_posterior_portal": "right posterior PV",
}
_ACRONYMS = {"net": "NET", "hcc": "HCC", "crc": "CRC", "pv": "PV", "ha": "HA", "pvt": "PVT"}
#: Therapies of ``embosim compare --therapies`` (the keys of ``sim.therapies.THERAPIES``) as clinicians write them.
THERAPY_LABELS = {"tae": "TAE", "ctace": "cTACE", "deb_tace": "DEB-TACE"}


def display_name(name: str) -> str:
    """A vessel's or tumour's name as a clinician writes it: no underscores, acronyms capitalised.

    Examples
    --------
    >>> display_name("right_posterior"), display_name("segment5_net"), display_name("A5")
    ('right posterior HA', 'segment 5 NET', 'A5')
    """
    if name in _DISPLAY:
        return _DISPLAY[name]
    words = re.sub(r"(?<=[a-z])(?=\d)", " ", name).replace("_", " ").split()
    return " ".join(_ACRONYMS.get(w.lower(), w) for w in words)


def sace_label(level) -> str:
    """``"SACE III"`` for level 3 (1-4)."""
    from ..endpoints import ROMAN

    return f"SACE {ROMAN[int(level)]}"


def strategy_colour(name: str, k: int) -> str:
    """The colour of a strategy (``STRATEGY_COLOURS``; an unknown name: the k-th Okabe-Ito colour)."""
    return STRATEGY_COLOURS.get(str(name).split(":")[0], list(OKABE_ITO.values())[k % len(OKABE_ITO)])


@contextmanager
def style_context(style: str):
    """The matplotlib settings of a style (``STYLES``) for the artists created inside, and its
    :data:`GEOMETRY` for :func:`canvas`, :func:`line_width` and :func:`marker_area`."""
    import matplotlib
    from cycler import cycler

    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; allowed: {', '.join(STYLES)}")
    token = _ACTIVE_STYLE.set(style)
    try:
        with matplotlib.rc_context({**_COMMON, **STYLES[style],
                                    "axes.prop_cycle": cycler(color=list(OKABE_ITO.values()))}):
            yield
    finally:
        _ACTIVE_STYLE.reset(token)


def canvas(width_in: float, height_in: float) -> tuple[float, float]:
    """Figure size (inches) in the active style of a figure whose slide canvas is ``width_in`` x ``height_in``."""
    scale, narrowest, widest, _ = GEOMETRY[_ACTIVE_STYLE.get()]
    scale = min(1.0, widest / width_in, max(scale, narrowest / width_in))
    return width_in * scale, height_in * scale


def line_width(points):
    """A line width (points; a number or an array) in the active style, given as the slide style draws it."""
    return points * GEOMETRY[_ACTIVE_STYLE.get()][3]


def marker_area(points2):
    """A scatter marker's area (points^2; a number or an array) in the active style, given as on a slide."""
    return points2 * GEOMETRY[_ACTIVE_STYLE.get()][3] ** 2


def styled(function):
    """Decorator: the figure function takes ``style=`` ("slide" or "paper") and draws inside that style; a
    paper figure's titles and axis labels are then wrapped to the room they have (:func:`wrap_to_fit`)."""
    @wraps(function)
    def wrapper(*args, style: str = "slide", **kwargs):
        show_in_notebooks()
        with style_context(style):
            fig = function(*args, **kwargs)
            micro_signs(fig)
            wrap_to_fit(fig)
            return fig

    return wrapper


_UM = re.compile(r"(\d) um\b")


def micro_signs(fig) -> None:
    """Write micrometres as the axes do (``300-500 \u00b5m``) in every text of ``fig``: the model's names (an agent's
    ``microspheres 300-500 um``, a scenario's title) are ASCII (review 28: "um" in titles, "\u00b5m" on axes)."""
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        written = text.get_text()
        if " um" in written:
            text.set_text(_UM.sub("\\1 \u00b5m", written))


def show_in_notebooks() -> None:
    """In IPython (Jupyter), show a figure left as a cell's value as a PNG, as pyplot's inline backend would (the
    figures never touch pyplot, so without this a notebook printed ``<Figure size ...>``; review 23)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return
    from matplotlib.figure import Figure

    formatter = shell.display_formatter.formatters["image/png"]
    if Figure not in formatter.type_printers:
        from IPython.core.pylabtools import print_figure

        formatter.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


#: The share of a text's first measured room that later passes of :func:`wrap_to_fit` keep at least.
ROOM_KEPT = 0.8
#: Spaces :func:`wrap_to_fit` never breaks a line at (each becomes a no-break space when a text is wrapped): between
#: a number and its unit ("527 Gy", "0.75 mL/s", "35 %"), around an equals sign ("PHA = 0") and before an arrow
#: ("patient's left \u2192"; review 48: the arrow stood alone on a line under each panel).
_KEPT_TOGETHER = (re.compile(r"(?<=\d) (?=(?:[A-Za-z\u00b5\u03bc]{1,3}(?:/[A-Za-z]{1,3})?|%)(?![A-Za-z]))"),
                  re.compile(r" (?==)|(?<==) "), re.compile(r" (?=[\u2190-\u2193])"))


def _glued(line: str) -> str:
    """``line`` with the spaces of :data:`_KEPT_TOGETHER` made no-break spaces (textwrap breaks only at ASCII
    whitespace)."""
    for pattern in _KEPT_TOGETHER:
        line = pattern.sub("\u00a0", line)
    return line


def wrap_to_fit(fig) -> None:
    """In the paper style, break each title and axis label of ``fig`` that is longer than its axes (the
    suptitle: the figure) into lines at word boundaries, in place. A figure whose layout is frozen keeps its
    text: :func:`sim.figures.labels.place_labels` calls this before it freezes the layout.

    The room is measured after a layout pass: an axes title and x label get the axes' width, a y label
    (a colour bar's too) the axes' height.
    """
    import textwrap

    from matplotlib.layout_engine import ConstrainedLayoutEngine

    if _ACTIVE_STYLE.get() != "paper" or not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        return  # a slide has room; a layout frozen around placed labels would not make room for more lines
    if not hasattr(fig.canvas, "get_renderer"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    originals: dict = {}  # each text as written: every pass wraps it afresh (a wrapped line is never wrapped again)
    first_room: dict = {}  # each text's room in the first pass

    def fit(text, room: float, along_height: bool = False) -> bool:
        """Wrap ``text`` until it fits ``room`` (pixels; at least ``ROOM_KEPT`` of its first pass's); whether it
        changed (a text that cannot fit, a word longer than its room, is wrapped again to the same lines: no change,
        no further pass)."""
        before = text.get_text()
        words = originals.setdefault(text, before)
        if not words or "$" in words:
            return False
        # more lines take room from the axes, and a narrower (equal-aspect) map or colour bar wraps more: without a
        # floor that feedback shrank a paper dose map to a few pixels (review 28)
        room = max(room, ROOM_KEPT * first_room.setdefault(text, room))
        lines = [_glued(line) for line in words.split("\n")]
        chars = max(len(line) for line in text.get_text().split("\n"))
        while chars > 8:
            box = text.get_window_extent(renderer)
            if (box.height if along_height else box.width) <= room:
                break
            longest = max(len(line) for line in text.get_text().split("\n"))  # the box is the longest line's
            chars = min(chars - 1, int(longest * room / (box.height if along_height else box.width)))
            text.set_text("\n".join(textwrap.fill(line, max(chars, 8), break_long_words=False) for line in lines))
        return text.get_text() != before

    for _ in range(8):  # more lines take room from the axes (an equal-aspect map narrows): measure again
        fig.draw_without_rendering()
        changed = False
        for ax in fig.axes:
            frame = ax.get_window_extent(renderer)
            changed |= fit(ax.title, frame.width)
            changed |= fit(ax.xaxis.label, frame.width)
            changed |= fit(ax.yaxis.label, frame.height, along_height=True)
        if fig._suptitle is not None:
            changed |= fit(fig._suptitle, fig.bbox.width)
        if not changed:
            break


def empty_panel(ax, text: str) -> None:
    """Mark a panel that has nothing to show (a run that injected or lodged nothing): ``text`` centred in it, the
    empty value axis without its ticks (matplotlib's default range for no data, -0.05 to 0.05, would read as data)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=OKABE_ITO["black"],
            fontsize="small", wrap=True)
    ax.set_yticks([])


def halo() -> list:
    """Path effects of a white outline that keeps text readable over vessels."""
    import matplotlib.patheffects as pe

    return [pe.withStroke(linewidth=line_width(3.0), foreground="white")]


def is_wide(fig, panels: int = 1) -> bool:
    """Whether each of a figure's ``panels`` side-by-side panels is at least 7 in wide (a slide canvas, or a
    page-wide paper one of one panel): a legend may spread into more columns or sit beside the plot."""
    return fig.get_figwidth() / panels >= 7.0


def panel_grid(n: int, panel_width_in: float | None = None) -> tuple[int, int]:
    """(rows, columns) of ``n`` side-by-side panels in the active style: one row on a slide (rows of about equal
    length when ``panel_width_in`` wide panels would make it wider than ``SLIDE_ROW_MAX_IN``), rows of two on
    paper (two panels share a page's width with 9 pt text)."""
    if _ACTIVE_STYLE.get() == "paper" and n > 2:
        return -(-n // 2), 2
    if panel_width_in is not None and n * panel_width_in > SLIDE_ROW_MAX_IN:
        rows = -(-n // max(1, int(SLIDE_ROW_MAX_IN // panel_width_in)))
        return rows, -(-n // rows)
    return 1, n


#: A 16:9 slide, inches (PowerPoint's and Keynote's default, 13.33 x 7.5 in). A slide canvas larger than this in
#: both directions is shrunk to fit when placed, so its text is drawn larger in proportion (by the lesser of
#: the two ratios, up to ``SLIDE_TEXT_SCALE_MAX``) and reads near the slide style's sizes (14 pt) on the slide;
#: a wide and flat one (a row of panels) has no height to spare for larger text and keeps them. Model
#: assumption (a choice of look): the 19 x 9.5 in before-after figure placed full width printed its 14 pt text
#: at 10 pt (review 17); now at 12 pt.
SLIDE_WIDTH_IN, SLIDE_HEIGHT_IN = 13.33, 7.5
SLIDE_TEXT_SCALE_MAX = 1.45
#: Widest row of panels on a slide canvas, inches (1.5 slide widths: placed on a slide its text prints at two
#: thirds of its size). Model assumption (a choice of look): a grouped comparison of 4 outcomes had grown to a row
#: 31 in wide whose 12 pt ticks printed at 5 pt (review 28); it now takes rows.
SLIDE_ROW_MAX_IN = 1.5 * SLIDE_WIDTH_IN


def _scale_slide_text(scale: float) -> None:
    """Every text size of the slide style times ``scale``, for the figure about to be drawn (inside its
    :func:`style_context`, which restores them)."""
    import matplotlib

    matplotlib.rcParams.update({key: value * scale for key, value in STYLES["slide"].items() if key.endswith("size")})


def new_axes(ax, n: int = 1, *, figsize: tuple[float, float], nrows: int = 1) -> tuple:
    """(figure, list of n Axes): a new figure laid out in ``nrows`` rows, or the Axes given.

    ``figsize`` is the slide canvas (inches); the figure takes the active style's (:func:`canvas`).
    """
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if ax is None:
        size = canvas(*figsize)
        scale = min(size[0] / SLIDE_WIDTH_IN, size[1] / SLIDE_HEIGHT_IN, SLIDE_TEXT_SCALE_MAX)
        if _ACTIVE_STYLE.get() == "slide" and scale > 1.0:
            _scale_slide_text(scale)
        fig = Figure(figsize=size, layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, -(-n // nrows), squeeze=False)).ravel().tolist()
        for extra in axes[n:]:
            extra.remove()
        return fig, axes[:n]
    axes = [ax] if isinstance(ax, Axes) else list(np.ravel(ax))
    if len(axes) != n:
        raise ValueError(f"this figure draws on {n} Axes; got {len(axes)}")
    return axes[0].figure, axes


def save_figure(fig, path: str | Path, *, dpi: float | None = None) -> Path:
    """Write a figure to ``path`` atomically; the extension picks the format (``FORMATS``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
    dpi : float, optional
        Resolution of a PNG (and of the images embedded in SVG and PDF), dots per inch; default 300 for a
        figure at most :data:`GEOMETRY`'s 7.2 in wide (every paper figure, and the few narrow slide ones) and
        150 for a wider one (the slide canvases of 9.5 in and more).

    Raises
    ------
    ValueError
        For another extension.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"cannot write {path.name!r}: allowed extensions {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if dpi is None:
        dpi = 300.0 if fig.get_figwidth() <= GEOMETRY["paper"][2] + 1e-9 else 150.0
    with atomic_write(path) as tmp:  # a killed process leaves no truncated figure
        fig.savefig(tmp, format=path.suffix.lower()[1:], dpi=dpi)
    return path


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
    "particle_volume_ml": ("embolic volume injected", "settled volume (mL)"),
    "clearance_time_cycles": ("contrast clearance", "cardiac cycles"),
    "sace_level": ("SACE level", "level (1-4)"),
    "lodging_generation_median": ("median lodging generation", "generation (PHA = 0)"),
    "particles_injected": ("particles injected", "count"),
    "particles_lodged_in_liver": ("particles lodged in the liver", "count"),
    "occluded_vessels": ("occluded vessels", "count"),
    "vials": ("vials used", "vials"),
    "injection_time_min": ("injection time", "min"),
}
_UNIT_SUFFIXES = {"_fraction": "fraction", "_ratio": "ratio", "_ml_min": "mL/min", "_ml": "mL",
                  "_cycles": "cardiac cycles", "_s": "s", "_min": "min", "_gy": "Gy", "_gbq": "GBq", "_mg": "mg"}


def metric_label(metric: str) -> tuple[str, str]:
    """(title, unit) of an outcome column."""
    if metric in _METRICS:
        return _METRICS[metric]
    unit = next((u for suffix, u in _UNIT_SUFFIXES.items() if metric.endswith(suffix)), "value")
    return metric.replace("_", " "), unit
