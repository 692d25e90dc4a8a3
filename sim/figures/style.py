"""The one look of every embosim figure: palettes (one per meaning), text sizes, display names, saving.

Palettes: the Okabe-Ito colour-blind-safe colours (Okabe and Ito 2008) for
categories, each meaning one colour in every figure (tumour, normal liver,
non-target, each strategy); perceptually uniform colour maps (viridis, cividis,
magma) for quantities; SACE levels as a light-to-dark sequence from ColorBrewer's
colour-blind-safe YlOrBr (pairwise CIEDE2000 > 10, tested).

Styles: ``"slide"`` (default: 14 pt text for a projector) and ``"paper"`` (9 pt);
every figure function takes ``style=``.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

import numpy as np

from ..io import atomic_write

__all__ = ["CATEGORY_COLOURS", "FORMATS", "OKABE_ITO", "SACE_COLOURS", "SACE_ROMAN", "STRATEGY_COLOURS", "STYLES",
           "THERAPY_LABELS", "sace_label", "stop_reason_label",
           "display_name", "halo", "metric_label", "new_axes", "save_figure", "strategy_colour", "style_context", "styled"]

#: Okabe-Ito colour-blind-safe palette (Okabe and Ito 2008), in the order used for categories.
OKABE_ITO = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermilion": "#D55E00",
             "purple": "#CC79A7", "sky": "#56B4E9", "yellow": "#F0E442", "black": "#000000"}
#: What each category colour means, in every figure.
CATEGORY_COLOURS = {"tumour": OKABE_ITO["purple"], "normal liver": OKABE_ITO["blue"],
                    "non-target": OKABE_ITO["vermilion"], "in suspension": "#BBBBBB",
                    "catheter": "#333333", "portal vein": "#6F4E9B", "thrombus": "#7A1F1F",
                    "bile duct": OKABE_ITO["green"], "aorta": "#B03A2E", "liver outline": "#777777",
                    "infarct": "#8C510A", "lipiodol": "#F0E442",
                    "no flow": "#BBBBBB"}
#: Colour of each strategy (``sim.strategies.STRATEGY_NAMES``) in the comparison and arterialisation figures.
STRATEGY_COLOURS = {"superselective": OKABE_ITO["green"], "selective": OKABE_ITO["blue"],
                    "lobar": OKABE_ITO["orange"], "whole_liver": OKABE_ITO["vermilion"],
                    "staged_bilobar": OKABE_ITO["purple"]}
#: SACE level -> band colour (ColorBrewer YlOrBr, 4 of 5 classes: colour-blind safe, light to dark).
SACE_COLOURS = {1: "#FFFFD4", 2: "#FED98E", 3: "#FE9929", 4: "#CC4C02"}
#: File formats :func:`save_figure` writes (by extension).
FORMATS = (".png", ".svg", ".pdf")
#: matplotlib settings of each style.
STYLES = {
    "slide": {"font.size": 14, "axes.titlesize": 15, "axes.labelsize": 14, "xtick.labelsize": 12,
              "ytick.labelsize": 12, "legend.fontsize": 12, "figure.titlesize": 16},
    "paper": {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8,
              "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 11},
}
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
#: Why injection stopped (``stop_reason``, docs/outputs.md), as a figure says it.
_STOP_REASONS = {"endpoint": "endpoint reached", "max_volume": "maximum volume given", "reflux": "reflux",
                 "activity_delivered": "activity delivered", "packed_to_tip": "columns packed to the catheter tip"}
#: Therapies of ``embosim compare --therapies`` (the keys of ``sim.therapies.THERAPIES``) as clinicians write them.
THERAPY_LABELS = {"tae": "TAE", "ctace": "cTACE", "deb_tace": "DEB-TACE"}
#: SACE levels as the angiographic scale writes them.
SACE_ROMAN = ("I", "II", "III", "IV")


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


def stop_reason_label(reason: str) -> str:
    """Why injection stopped, in words (``stop_reason``; an unknown one: underscores to spaces)."""
    return _STOP_REASONS.get(reason, reason.replace("_", " "))


def sace_label(level) -> str:
    """``"SACE III"`` for level 3 (1-4)."""
    return f"SACE {SACE_ROMAN[int(level) - 1]}"


def strategy_colour(name: str, k: int) -> str:
    """The colour of a strategy (``STRATEGY_COLOURS``; an unknown name: the k-th Okabe-Ito colour)."""
    return STRATEGY_COLOURS.get(str(name).split(":")[0], list(OKABE_ITO.values())[k % len(OKABE_ITO)])


@contextmanager
def style_context(style: str):
    """The matplotlib settings of a style (``STYLES``) for the artists created inside."""
    import matplotlib
    from cycler import cycler

    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; allowed: {', '.join(STYLES)}")
    with matplotlib.rc_context({**_COMMON, **STYLES[style], "axes.prop_cycle": cycler(color=list(OKABE_ITO.values()))}):
        yield


def styled(function):
    """Decorator: the figure function takes ``style=`` ("slide" or "paper") and draws inside that style."""
    @wraps(function)
    def wrapper(*args, style: str = "slide", **kwargs):
        with style_context(style):
            return function(*args, **kwargs)

    return wrapper


def halo() -> list:
    """Path effects of a white outline that keeps text readable over vessels."""
    import matplotlib.patheffects as pe

    return [pe.withStroke(linewidth=3, foreground="white")]


def new_axes(ax, n: int = 1, *, figsize: tuple[float, float], nrows: int = 1) -> tuple:
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
    """Write a figure to ``path`` atomically; the extension picks the format (``FORMATS``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
    dpi : float
        Resolution of a PNG (and of the images embedded in SVG and PDF), dots per inch.

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


def metric_label(metric: str) -> tuple[str, str]:
    """(title, unit) of an outcome column."""
    if metric in _METRICS:
        return _METRICS[metric]
    unit = next((u for suffix, u in _UNIT_SUFFIXES.items() if metric.endswith(suffix)), "value")
    return metric.replace("_", " "), unit
