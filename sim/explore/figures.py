"""Bokeh figures of the explorer, each fed by ColumnDataSources that the app updates in place.

Drawing only: the arrays come from :mod:`sim.explore.compute`. Every figure has a
fixed frame (``frame_width`` x ``frame_height`` pixels, no axes on the image
figures, no toolbar) so that a data position maps to one screen position; the
browser tests click vessels that way.
"""

from __future__ import annotations

import numpy as np
from bokeh.models import ColorBar, ColumnDataSource, FixedTicker, LogColorMapper, Range1d
from bokeh.palettes import Greys256, Viridis256
from bokeh.plotting import figure

__all__ = ["LiverFigure", "CurveFigure", "DsaFigure", "DSA_PHASES", "DEFAULT_PHASE", "OKABE_ITO", "FLOW_RANGE_ML_MIN",
           "place_labels"]

#: Colour-blind-safe colours (Okabe and Ito).
OKABE_ITO = {"orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442", "blue": "#0072B2",
             "vermilion": "#D55E00", "purple": "#CC79A7", "black": "#000000", "grey": "#999999"}
#: Liver view frame width, pixels (its height follows the field of view's aspect).
LIVER_WIDTH_PX = 560
#: DSA frame width, pixels (the explorer's two frames side by side; a case's single angiogram is wider).
DSA_WIDTH_PX = 330
#: The phases of a virtual DSA run (:meth:`sim.explore.compute.Angiograms.frames`), and the one shown first: the
#: capillary phase shows the tumour blush.
DSA_PHASES = ("arterial", "capillary", "venous")
DEFAULT_PHASE = "capillary"
#: The liver's Couinaud outlines on a DSA frame: faint, for orientation (a subtracted image shows no soft tissue).
DSA_OUTLINE = {"line_color": "#9A9A9A", "line_dash": "dashed", "line_width": 1, "line_alpha": 0.6}
#: The liver view's colour scale, native flow in mL/min (log): fixed, so that a colour means the same flow in every
#: run and scenario (model assumption; it spans the drawn arteries of the shipped livers, about 0.16 mL/min in the
#: smallest drawn to 860-1070 mL/min in the SMA; lower flows take the lowest colour, none is grey).
FLOW_RANGE_ML_MIN = (0.1, 1000.0)
#: Artery labels' font size, pixels. Bokeh draws text on the browser's canvas, which Python cannot measure: a
#: label's box is estimated at 0.6 em a character (about the widest of Helvetica's digits and lower case; its mean
#: is nearer 0.5) by 1.4 em (the line and the background's padding).
LABEL_FONT_PX = 10
_CHAR_EM, _HEIGHT_EM = 0.6, 1.4
#: Couinaud numerals' font size, pixels.
SEGMENT_FONT_PX = 14
#: Catheter tip marker size, pixels.
TIP_PX = 14
#: Offsets tried around a label's preferred anchor when no point along its artery is clear, pixels: up, down,
#: right, left, then the diagonals, at each distance.
_RING_PX = (12.0, 20.0)
_DIRECTIONS = ((0.0, 1.0), (0.0, -1.0), (1.0, 0.0), (-1.0, 0.0), (0.7, 0.7), (-0.7, 0.7), (0.7, -0.7), (-0.7, -0.7))


def _line_width(diameter_um: np.ndarray) -> np.ndarray:
    """Screen width of a vessel, pixels: grows as diameter^0.6, 0.6-7 px."""
    return np.clip(1.6 * (np.asarray(diameter_um) * 1e-3) ** 0.6, 0.6, 7.0)


def text_box_px(text: str, font_px: float) -> tuple[float, float]:
    """Estimated (width, height) in pixels of one line of ``text`` at ``font_px`` (see ``LABEL_FONT_PX``)."""
    return _CHAR_EM * font_px * len(text), _HEIGHT_EM * font_px


def place_labels(labels, extent, width_px: float, *, first: str | None = None, keep_clear=()) -> dict:
    """Where the liver view draws its artery labels: each at the first anchor where it overlaps nothing placed.

    Greedy, in the order of ``labels`` (``first`` before the others): a label goes to the first point
    along its artery (``along``) at which its box lies inside the frame and overlaps no label placed
    before it and none of ``keep_clear``; failing that, to the first offset around its preferred anchor
    (``_RING_PX``) that does; a label that fits nowhere is left out.

    Parameters
    ----------
    labels : pandas.DataFrame
        ``name`` and ``along`` (tuple of (x, z) mm, in order of preference), most important first
        (:class:`sim.explore.compute.LiverScene`).
    extent : tuple of float
        (left, right, bottom, top) of the frame, mm.
    width_px : float
        Frame width, pixels (the height follows the extent's aspect).
    first : str, optional
        A label placed before all others (the catheterised artery).
    keep_clear : iterable of (x, z, width_px, height_px)
        Boxes (centre in mm, size in pixels) no label may cover: the segment numerals, the catheter tip.

    Returns
    -------
    dict
        ``x``, ``z`` (mm) and ``name`` of the labels placed, as the view's label source takes them.
    """
    left, right, bottom, top = extent
    scale = width_px / (right - left)  # pixels per mm
    height_px = (top - bottom) * scale

    def box(x_mm, z_mm, w, h):
        cx, cy = (x_mm - left) * scale, (z_mm - bottom) * scale
        return cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h

    taken = [box(x, z, w, h) for x, z, w, h in keep_clear]
    order = sorted(range(len(labels)), key=lambda i: labels["name"].iloc[i] != first)  # stable: the rest as given
    out = {"x": [], "z": [], "name": []}
    for i in order:
        name, along = labels["name"].iloc[i], labels["along"].iloc[i]
        w, h = text_box_px(name, LABEL_FONT_PX)
        offsets_mm = [(r * dx / scale, r * dy / scale) for r in _RING_PX for dx, dy in _DIRECTIONS]
        candidates = list(along) + [(along[0][0] + dx, along[0][1] + dz) for dx, dz in offsets_mm]
        for x, z in candidates:
            b = box(x, z, w, h)
            inside = b[0] >= 0.0 and b[1] >= 0.0 and b[2] <= width_px and b[3] <= height_px
            if inside and not any(b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3] for o in taken):
                taken.append(b)
                out["x"].append(float(x))
                out["z"].append(float(z))
                out["name"].append(name)
                break
    return out


def _frame(extent, width: int, *, name: str, title: str | None = None, axes: bool = True):
    left, right, bottom, top = extent
    height = int(round(width * (top - bottom) / (right - left)))
    fig = figure(name=name, title=title, x_range=Range1d(left, right), y_range=Range1d(bottom, top),
                 frame_width=width, frame_height=height, tools="", toolbar_location=None,
                 min_border=0 if not axes else 40, match_aspect=False)
    fig.xgrid.visible = fig.ygrid.visible = False
    fig.axis.visible = axes
    fig.outline_line_color = None
    return fig


def _set_extent(fig, extent, width: int) -> None:
    left, right, bottom, top = extent
    fig.x_range.start, fig.x_range.end, fig.y_range.start, fig.y_range.end = left, right, bottom, top
    fig.frame_height = int(round(width * (top - bottom) / (right - left)))


class LiverFigure:
    """The liver view: Couinaud outlines, tumours, arteries coloured by flow, named labels, catheter, particles.

    Attributes
    ----------
    figure : bokeh Figure (name ``liver-view``)
    vessels, outlines, segments, tumours, labels, tip, particles : ColumnDataSource
    """

    def __init__(self, extent=(-100.0, 100.0, -80.0, 80.0)):
        self.vessels = ColumnDataSource(dict(x0=[], z0=[], x1=[], z1=[], flow=[], width=[], vessel=[]))
        self.outlines = ColumnDataSource(dict(xs=[], zs=[]))
        self.segments = ColumnDataSource(dict(x=[], z=[], name=[]))
        self.tumours = ColumnDataSource(dict(x=[], z=[], radius=[], name=[]))
        self.labels = ColumnDataSource(dict(x=[], z=[], name=[]))
        self.tip = ColumnDataSource(dict(x=[], z=[]))
        self.particles = ColumnDataSource(dict(x=[], z=[]))
        low, high = FLOW_RANGE_ML_MIN
        self.colours = LogColorMapper(palette=Viridis256, low=low, high=high, nan_color="#BBBBBB")
        fig = _frame(extent, LIVER_WIDTH_PX, name="liver-view", axes=False)
        fig.multi_line("xs", "zs", source=self.outlines, line_color="#777777", line_dash="dashed", line_width=1)
        fig.segment("x0", "z0", "x1", "z1", source=self.vessels, line_width="width",
                    line_color={"field": "flow", "transform": self.colours}, line_cap="round")
        # the numerals over the arteries (under them they were lost in the tree), on a pale ground
        fig.text("x", "z", text="name", source=self.segments, text_color="#444444", text_font_size=f"{SEGMENT_FONT_PX}px",
                 text_font_style="bold", text_align="center", text_baseline="middle", background_fill_color="white",
                 background_fill_alpha=0.55)
        fig.circle("x", "z", radius="radius", source=self.tumours, fill_color=None, line_color=OKABE_ITO["vermilion"],
                   line_dash="dashed", line_width=2)
        fig.scatter("x", "z", source=self.particles, size=3, color=OKABE_ITO["orange"], alpha=0.7)
        fig.text("x", "z", text="name", source=self.labels, text_font_size=f"{LABEL_FONT_PX}px", text_align="center",
                 text_baseline="middle", background_fill_color="white", background_fill_alpha=0.6)
        fig.scatter("x", "z", source=self.tip, marker="inverted_triangle", size=TIP_PX, color=OKABE_ITO["black"],
                    line_color="white")
        decades = [10.0 ** k for k in range(round(np.log10(low)), round(np.log10(high)) + 1)]
        # plain numbers at each decade (a trainee reads "100" sooner than 10^2); the bar a little narrower than the
        # frame so that its end labels are not cut off
        fig.add_layout(ColorBar(color_mapper=self.colours, orientation="horizontal", title="native flow (mL/min)",
                                height=8, width=LIVER_WIDTH_PX - 40, padding=4, title_text_font_size="10px",
                                major_label_text_font_size="9px", ticker=FixedTicker(ticks=decades),
                                major_label_overrides={d: f"{d:g}" for d in decades}), "above")
        self.figure = fig

    def show_liver(self, scene) -> None:
        """Draw a :class:`~sim.explore.compute.LiverScene` (flows before the run, no particles)."""
        _set_extent(self.figure, scene.extent, LIVER_WIDTH_PX)
        v = scene.vessels
        flow = v["flow"].to_numpy()
        self.vessels.data = dict(x0=v["x0"].to_numpy(), z0=v["z0"].to_numpy(), x1=v["x1"].to_numpy(),
                                 z1=v["z1"].to_numpy(), flow=np.where(flow > 0, flow, np.nan),
                                 width=_line_width(v["diameter_um"].to_numpy()), vessel=v["vessel"].tolist())
        self.outlines.data = dict(xs=[o[1] for o in scene.outlines], zs=[o[2] for o in scene.outlines])
        segments = dict(x=[float(np.median(o[1])) for o in scene.outlines],
                        z=[float(np.median(o[2])) for o in scene.outlines], name=[o[0] for o in scene.outlines])
        self.segments.data = segments
        t = scene.tumours
        self.tumours.data = dict(x=t["x"].to_numpy(), z=t["z"].to_numpy(), radius=t["radius"].to_numpy(),
                                 name=t["name"].tolist())
        clear = [(x, z, *text_box_px(name, SEGMENT_FONT_PX)) for x, z, name in
                 zip(segments["x"], segments["z"], segments["name"])]
        clear.append((scene.tip[0], scene.tip[1], TIP_PX, TIP_PX))
        self.labels.data = place_labels(scene.labels, scene.extent, LIVER_WIDTH_PX, first=scene.vessel, keep_clear=clear)
        self.tip.data = dict(x=[scene.tip[0]], z=[scene.tip[1]])
        self.particles.data = dict(x=[], z=[])

    def show_flow(self, flow: np.ndarray) -> None:
        """Recolour the drawn arteries by ``flow`` (mL/min, one per drawn artery; 0: no flow, grey)."""
        data = dict(self.vessels.data)
        data["flow"] = np.where(flow > 0, flow, np.nan)
        self.vessels.data = data

    def show_particles(self, particles, upto: int | None = None) -> None:
        """Lodged particles (x, z), the first ``upto`` rows (all when None)."""
        p = particles if upto is None else particles.iloc[:upto]
        self.particles.data = dict(x=p["x"].to_numpy(), z=p["z"].to_numpy())


class CurveFigure:
    """The endpoint curve: antegrade flow fraction and tumour blush against the suspension injected."""

    def __init__(self):
        self.source = ColumnDataSource(dict(volume=[], flow=[], blush=[]))
        self.thresholds = ColumnDataSource(dict(volume=[], level=[], name=[]))
        fig = figure(name="endpoint-curve", title="Endpoint curve", frame_width=360, frame_height=200,
                     x_axis_label="suspension injected (mL)", y_axis_label="fraction of baseline",
                     x_range=Range1d(0.0, 1.0), y_range=Range1d(0.0, 1.05), tools="", toolbar_location=None)
        fig.line("volume", "flow", source=self.source, line_width=2, color=OKABE_ITO["blue"],
                 legend_label="antegrade flow")
        fig.line("volume", "blush", source=self.source, line_width=2, color=OKABE_ITO["vermilion"], line_dash="dashed",
                 legend_label="tumour blush")
        fig.legend.location = "top_right"  # the curves fall from the top left: the top right is the free corner
        fig.legend.label_text_font_size = "10px"
        self.note = ColumnDataSource(dict(x=[], y=[], text=[]))
        fig.text("x", "y", text="text", source=self.note, text_align="center", text_baseline="middle",
                 text_color="#555555", text_font_size="11px")
        self.figure = fig

    def show(self, timeseries, upto: int | None = None) -> None:
        """Draw the first ``upto`` rows of a run's time series (all when None) on the whole run's volume axis, so
        that the replay draws the curve across a fixed axis. A run that injected no particle (Lipiodol alone, or a
        later session whose first angiogram met the endpoint) has no volume axis to draw on: a note says what the
        flow did instead."""
        volume = timeseries["suspension_volume_ml"]
        self.figure.x_range.end = float(volume.max()) if len(volume) and volume.max() > 0 else 1.0
        ts = timeseries if upto is None else timeseries.iloc[:upto]
        self.source.data = dict(volume=ts["suspension_volume_ml"].to_numpy(), flow=ts["antegrade_flow_fraction"].to_numpy(),
                                blush=ts["tumour_blush_fraction"].to_numpy())
        flow = timeseries["antegrade_flow_fraction"]
        if len(volume) and not volume.max() > 0:
            self.note.data = dict(x=[0.5], y=[0.5], text=[f"No particle injected: antegrade flow {flow.iloc[0]:.0%} "
                                                          f"-> {flow.iloc[-1]:.0%} of baseline"])
        else:
            self.note.data = dict(x=[], y=[], text=[])


class DsaFigure:
    """One virtual DSA frame (opacity 0-1, contrast dark) with the tumours outlined."""

    def __init__(self, name: str, title: str, extent=(-100.0, 100.0, -80.0, 80.0), *, width_px: int = DSA_WIDTH_PX):
        self.width_px = width_px
        self.image = ColumnDataSource(dict(image=[], x=[], y=[], dw=[], dh=[]))
        self.tumours = ColumnDataSource(dict(x=[], z=[], radius=[]))
        self.outlines = ColumnDataSource(dict(xs=[], zs=[]))
        self.blank = ColumnDataSource(dict(x=[], y=[], text=[]))
        fig = _frame(extent, width_px, name=name, title=title, axes=False)
        fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.image,
                  palette=tuple(reversed(Greys256)), level="image")
        fig.multi_line("xs", "zs", source=self.outlines, **DSA_OUTLINE)
        fig.circle("x", "z", radius="radius", source=self.tumours, fill_color=None, line_color=OKABE_ITO["vermilion"],
                   line_dash="dotted", line_width=1, line_alpha=0.7)
        fig.text("x", "y", text="text", source=self.blank, text_align="center", text_color="#777777")
        self.figure = fig

    def show(self, frame: np.ndarray | None, extent, tumours=None, *, outlines=(), empty: str = "") -> None:
        """Show ``frame`` over ``extent`` (mm) with the liver's Couinaud ``outlines`` (a scene's: name, x, z in mm)
        and the ``tumours`` circled; None shows ``empty`` as text."""
        _set_extent(self.figure, extent, self.width_px)
        self.outlines.data = dict(xs=[o[1] for o in outlines], zs=[o[2] for o in outlines])
        left, right, bottom, top = extent
        if frame is None:
            self.image.data = dict(image=[], x=[], y=[], dw=[], dh=[])
            self.blank.data = dict(x=[0.5 * (left + right)], y=[0.5 * (bottom + top)], text=[empty])
        else:
            self.image.data = dict(image=[frame], x=[left], y=[bottom], dw=[right - left], dh=[top - bottom])
            self.blank.data = dict(x=[], y=[], text=[])
        if tumours is not None:
            self.tumours.data = dict(x=tumours["x"].to_numpy(), z=tumours["z"].to_numpy(),
                                     radius=tumours["radius"].to_numpy())
