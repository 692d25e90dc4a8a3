"""Labels that do not overlap: greedy placement around each anchor, in priority order."""

from __future__ import annotations

import numpy as np

from .style import halo, line_width, wrap_to_fit

__all__ = ["place_labels", "text_box"]

#: Offsets tried around an anchor, points on a slide (:func:`line_width` of the active style): the anchor
#: itself, then rings of 8 directions.
_RADII_PT = (0.0, 10.0, 18.0, 28.0, 40.0, 54.0)
_DIRECTIONS = [(np.cos(a), np.sin(a)) for a in np.deg2rad([90, 270, 0, 180, 45, 135, 315, 225])]


#: Clear space kept around each label, pixels.
_PAD_PX = 3.0
#: Marker-only lines with at most this many points (a catheter tip, the non-target beds' rings) are kept
#: clear of labels; denser ones are data clouds, not landmarks.
_LANDMARK_POINTS = 20


def _overlaps(box, boxes) -> bool:
    return any(box.padded(_PAD_PX).overlaps(other) for other in boxes)


def place_labels(ax, items, *, fontsize: float | None = None) -> list:
    """Place text labels near their anchors so that no two overlap; the axes' layout is frozen after.

    Call last, once everything else is drawn: the figure is laid out first (its
    constrained layout then fixed) so that label extents are final. Each label,
    in the order given (most important first), goes to the first offset around its
    anchor where its box lies inside the axes and overlaps no label already placed
    and no landmark marker (a marker-only line of a few points: the catheter tip);
    one moved off its anchor gets a thin leader line; one that fits nowhere is left
    out.

    Parameters
    ----------
    ax : matplotlib Axes
    items : iterable of (x, y, text, colour)
        Anchors in data coordinates.
    fontsize : float, optional
        Default the style's ``font.size`` minus 3.

    Returns
    -------
    list of matplotlib.text.Annotation
        The labels placed.
    """
    import matplotlib

    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):  # a bare Figure: measure text with the Agg renderer
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    wrap_to_fit(fig)  # (paper) long titles broken into lines while the layout can still make room
    fig.draw_without_rendering()
    fig.draw_without_rendering()  # twice: an equal-aspect map moves its decorations after the first pass
    if fig.get_layout_engine() is not None:
        fig.set_layout_engine("none")  # keep the positions the labels were fitted to
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    size = fontsize if fontsize is not None else matplotlib.rcParams["font.size"] - 3
    placed, boxes = [], _landmarks(ax, renderer)
    for x, y, text, colour in items:
        style = {"ha": "center", "va": "center", "fontsize": size, "color": colour, "zorder": 9,
                 "path_effects": halo(), "annotation_clip": False, "textcoords": "offset points"}
        label = ax.annotate(text, (x, y), xytext=(0, 0), **style)
        offset = _free_offset(label, renderer, frame, boxes)
        label.remove()
        if offset is None:
            continue
        # a leader heavy enough to follow among the vessels (review 48: at 0.3 pt on paper it was lost among them)
        arrow = {"arrowprops": {"arrowstyle": "-", "lw": line_width(1.0), "color": colour, "shrinkA": 0, "shrinkB": 3}} \
            if offset != (0.0, 0.0) else {}
        label = ax.annotate(text, (x, y), xytext=offset, **style, **arrow)
        boxes.append(text_box(label, renderer))
        placed.append(label)
    return placed


def _landmarks(ax, renderer) -> list:
    """Display boxes of the axes' few-point marker-only lines (a label covering the catheter tip hid it)."""
    from matplotlib.transforms import Bbox

    boxes = []
    for line in ax.get_lines():
        marker, points = line.get_marker(), np.asarray(line.get_xydata(), float)
        if line.get_linestyle() not in ("None", "none", "", " ") or marker in (None, "None", "none", "", " ") \
                or not 0 < points.shape[0] <= _LANDMARK_POINTS:
            continue
        half = 0.5 * line.get_markersize() * renderer.points_to_pixels(1.0)
        for x, y in ax.transData.transform(points[np.isfinite(points).all(axis=1)]):
            boxes.append(Bbox([[x - half, y - half], [x + half, y + half]]))
    return boxes


def text_box(label, renderer):
    """The display box of a label's text (without its leader line)."""
    from matplotlib.text import Text

    label.update_positions(renderer)
    return Text.get_window_extent(label, renderer)


def _free_offset(label, renderer, frame, boxes) -> tuple[float, float] | None:
    """The first offset (points) at which the label lies inside ``frame`` and overlaps none of ``boxes``."""
    for radius in map(line_width, _RADII_PT):
        for dx, dy in _DIRECTIONS[: 1 if radius == 0 else None]:
            label.xyann = (radius * dx, radius * dy)
            box = text_box(label, renderer)
            if frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1) and not _overlaps(box, boxes):
                return (float(radius * dx), float(radius * dy))
    return None
