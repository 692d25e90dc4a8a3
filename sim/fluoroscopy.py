"""Fluoroscopy-like rendering of virtual DSA frames as grey-level arrays (no plotting).

A :class:`~sim.angiography.Angiogram` frame (or one read back from a run folder) is a map of projected contrast thickness
(m). :class:`Fluoroscope` turns it into what a DSA monitor shows: contrast dark on a
mid-grey background (Beer-Lambert darkening of the backdrop with
:data:`DISPLAY_THICKNESS_M`; :func:`opacity` is the same rule for figures), a faint residual of the spine and soft
tissue that subtraction leaves (patient motion), the radiopaque catheter from where it
enters the field along the aorta to its tip (tip marker), quantum noise from a seeded
numpy Generator, and a scale bar instead of axes. Arrays are float32 in 0-1 (1 white),
row 0 at the top (cranial), column 0 on the patient's right (radiological convention).

Acquisition runs at :data:`FRAME_RATE_HZ` (:func:`frame_times`). Text (phase, time,
scale-bar length) belongs to the figure layer (:mod:`sim.figures.dsa`).

Model assumptions (display, not physics): the grey levels, noise and backdrop
amplitudes below are chosen to look like a clinical DSA monitor; the backdrop is a
synthetic body outline and lumbar spine (vertebral bodies and pedicles) at the
midline, just right of the aorta (where the catheter's arterial root is), not the
patient's anatomy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BACKGROUND_GREY", "DISPLAY_THICKNESS_M", "FRAME_RATE_HZ", "MIN_WIDTH_PX", "NOISE_SD", "Fluoroscope",
           "catheter_path", "frame_times", "opacity", "phase_at", "thickness_of_opacity"]

#: Projected thickness of undiluted contrast shown as opacity 1 - 1/e, m (display window).
DISPLAY_THICKNESS_M = 1.0e-3

#: Acquisition rate of the virtual DSA, frames/s. Model assumption: hepatic DSA series are
#: acquired at 2-4 frames/s (3 here); no primary source recorded.
FRAME_RATE_HZ = 3.0
#: Grey level of the subtracted background, 0-1 (model assumption: a mid-grey DSA window).
BACKGROUND_GREY = 0.62
#: Standard deviation of the quantum noise at the background level, grey levels (model assumption).
NOISE_SD = 0.025
#: Largest darkening by the residual spine and soft-tissue backdrop, grey levels (model assumption: faint).
BACKDROP_DEPTH = 0.10
#: Darkening of the grey level by the catheter shaft and by its tip marker (model assumption: radiopaque).
CATHETER_DARKENING, TIP_DARKENING = 0.45, 0.8
#: Smallest frame width, px (legible on a projector).
MIN_WIDTH_PX = 1280
#: Vertebral body width, height and disc gap, m (adult lumbar spine; model assumption of the backdrop).
_VERTEBRA_M = (0.045, 0.028, 0.009)
#: The aorta (where the catheter's arterial root is) lies this far to the patient's left of the midline, m
#: (model assumption of the backdrop: the abdominal aorta runs just left of the vertebral bodies).
_AORTA_LEFT_M = 0.015


def frame_times(duration_s: float, *, rate_hz: float = FRAME_RATE_HZ) -> np.ndarray:
    """Acquisition times of a DSA series from the start of the injection, s: 0, 1/rate, ... < ``duration_s``.

    Examples
    --------
    >>> frame_times(1.0).tolist()
    [0.0, 0.3333333333333333, 0.6666666666666666]
    """
    return np.arange(0.0, duration_s - 1e-9, 1.0 / rate_hz)


def opacity(thickness_m: np.ndarray) -> np.ndarray:
    """Display grey level 0-1 of a projected contrast thickness (Beer-Lambert with ``DISPLAY_THICKNESS_M``).

    Examples
    --------
    >>> [round(float(v), 3) for v in opacity(np.array([0.0, 1e-3, 5e-3]))]
    [0.0, 0.632, 0.993]
    """
    return -np.expm1(-np.asarray(thickness_m) / DISPLAY_THICKNESS_M)


def thickness_of_opacity(opacity_level: np.ndarray, *, levels: int = 255) -> np.ndarray:
    """Projected contrast thickness, m, of an opacity 0-1 stored with ``levels`` steps (inverse of :func:`opacity`).

    The top step (opaque) maps to the thickness half a step below it, so the result is finite.

    Examples
    --------
    >>> float(thickness_of_opacity(opacity(np.array(2e-4)))) == 2e-4
    True
    """
    level = np.clip(np.asarray(opacity_level, np.float64), 0.0, 1.0 - 0.5 / levels)
    return -DISPLAY_THICKNESS_M * np.log1p(-level)


def phase_at(t: float, phases: dict[str, float]) -> str:
    """Name of the phase a time falls in: boundaries half-way between the phase times (s).

    Examples
    --------
    >>> phase_at(5.0, {"arterial": 1.0, "capillary": 4.0, "venous": 20.0})
    'capillary'
    """
    names, times = list(phases), list(phases.values())
    cuts = [0.5 * (a + b) for a, b in zip(times[:-1], times[1:])]
    return names[int(np.searchsorted(cuts, t))]


def catheter_path(flow) -> np.ndarray:
    """The catheter as a polyline from the arterial root (aorta side) to the tip, m, shape (k, 3).

    Parameters
    ----------
    flow : LiverFlow
        Catheter placed: its trunk path (``narrowed_trunk``, root first) and, for a tip in
        a synthetic vessel, the pedicle nodes down to the tip.
    """
    trunk, forest, placement = flow.liver.trunk, flow.liver.forest, flow.catheter
    edges = list(placement.narrowed_trunk)
    points = [trunk.node_xyz[trunk.edge_conns[edges[0], 0]]] + [trunk.node_xyz[trunk.edge_conns[e, 1]] for e in edges]
    if placement.tip_pedicle_node >= 0:
        points += [forest.xyz[n] for n in placement.narrowed_pedicle[::-1]]
    return np.array(points)


def _segments_mask(shape, xy_px: np.ndarray, half_width_px: float) -> np.ndarray:
    """Pixels within ``half_width_px`` of a polyline given in pixel coordinates (column, row)."""
    rows, cols = np.indices(shape)
    mask = np.zeros(shape, bool)
    for (x0, y0), (x1, y1) in zip(xy_px[:-1], xy_px[1:]):
        lo_c, hi_c = int(max(0, min(x0, x1) - half_width_px - 1)), int(min(shape[1], max(x0, x1) + half_width_px + 2))
        lo_r, hi_r = int(max(0, min(y0, y1) - half_width_px - 1)), int(min(shape[0], max(y0, y1) + half_width_px + 2))
        if lo_c >= hi_c or lo_r >= hi_r:
            continue
        c, r = cols[lo_r:hi_r, lo_c:hi_c] + 0.5, rows[lo_r:hi_r, lo_c:hi_c] + 0.5
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        s = np.clip(((c - x0) * dx + (r - y0) * dy) / length2, 0.0, 1.0) if length2 > 0 else 0.0
        mask[lo_r:hi_r, lo_c:hi_c] |= np.hypot(c - x0 - s * dx, r - y0 - s * dy) <= half_width_px
    return mask


@dataclass(frozen=True)
class Fluoroscope:
    """The monitor of a virtual DSA: backdrop, catheter and scale bar of one view, at display size.

    Build with :meth:`for_angiogram`; :meth:`render` turns a thickness frame into grey levels.

    Attributes
    ----------
    shape : tuple of int
        (rows, columns) of a rendered frame, px.
    zoom : float
        Display pixels per view pixel.
    pixel_m : float
        Size of a display pixel in the patient, m.
    backdrop : ndarray of float32, shape ``shape``
        Grey level without contrast or catheter, 0-1.
    catheter : ndarray of float32, shape ``shape``
        Darkening by the catheter (shaft and tip marker), 0-1.
    catheter_px : ndarray of float64, shape (k, 2)
        The catheter path in display pixels (column, row), root first.
    scale_bar_m : float
        Length of the scale bar, m.
    scale_bar_px : tuple of int
        (row0, row1, col0, col1) of the bar.
    """

    shape: tuple[int, int]
    zoom: float
    pixel_m: float
    backdrop: np.ndarray
    catheter: np.ndarray
    catheter_px: np.ndarray
    scale_bar_m: float
    scale_bar_px: tuple[int, int, int, int]

    @classmethod
    def for_angiogram(cls, angiogram, flow, *, width_px: int = MIN_WIDTH_PX, scale_bar_m: float = 0.05) -> Fluoroscope:
        """The monitor of ``angiogram``'s view (an :class:`~sim.angiography.Angiogram`) with the catheter of ``flow``.

        Parameters
        ----------
        angiogram : Angiogram
        flow : LiverFlow
            The flow state the angiogram was computed from (catheter placed).
        width_px : int
            Smallest width of a frame, px.
        scale_bar_m : float
            Length of the scale bar, m.
        """
        view = angiogram.view
        return cls.for_view(view.shape, view.x0_m, view.z0_m, view.pixel_m, catheter_path(flow),
                            flow.scenario.catheter.outer_diameter_fr, width_px=width_px, scale_bar_m=scale_bar_m)

    @classmethod
    def for_view(cls, view_shape: tuple[int, int], x0_m: float, z0_m: float, view_pixel_m: float,
                 catheter_m: np.ndarray, catheter_fr: float, *, width_px: int = MIN_WIDTH_PX,
                 scale_bar_m: float = 0.05) -> Fluoroscope:
        """The monitor of a view given by its geometry (e.g. read back from a run folder).

        Parameters
        ----------
        view_shape : (int, int)
            (rows, columns) of the angiogram frames, px; row 0 at the bottom.
        x0_m, z0_m : float
            Patient coordinates of the frames' left and bottom edges, m.
        view_pixel_m : float
            Pixel size of the frames, m.
        catheter_m : ndarray, shape (k, 3)
            The catheter as a polyline from the arterial root to the tip (:func:`catheter_path`), m.
        catheter_fr : float
            Outer diameter of the catheter, French (1 Fr = 1/3 mm).
        width_px : int
            Smallest width of a frame, px.
        scale_bar_m : float
            Length of the scale bar, m.
        """
        rows, cols = view_shape
        zoom = max(1.0, width_px / cols)
        shape = (int(np.ceil(rows * zoom)), int(np.ceil(cols * zoom)))
        pixel_m = view_pixel_m / zoom
        # display pixel centres in the patient (x, z), row 0 at the top
        x = x0_m + (np.arange(shape[1]) + 0.5) * pixel_m
        z = z0_m + (shape[0] - np.arange(shape[0]) - 0.5) * pixel_m
        path = np.asarray(catheter_m, np.float64)
        backdrop = _backdrop(x - (path[0, 0] - _AORTA_LEFT_M), z, pixel_m)

        entry = path[:1].copy()
        entry[0, 2] = min(z[-1], path[:, 2].min()) - 0.05  # the catheter comes up the aorta from below the field
        path = np.vstack([entry, path])
        xy = np.column_stack([(path[:, 0] - x0_m) / pixel_m, (z[0] + 0.5 * pixel_m - path[:, 2]) / pixel_m])
        lumen = catheter_fr / 3.0e3  # m
        half = max(1.5, 0.5 * lumen / pixel_m)
        shaft = _segments_mask(shape, xy, half)
        tip = _segments_mask(shape, xy[-1:].repeat(2, axis=0), 2.5 * half)
        catheter = np.maximum(CATHETER_DARKENING * shaft, TIP_DARKENING * tip).astype(np.float32)

        bar = int(round(scale_bar_m / pixel_m))
        thick = max(4, shape[1] // 250)
        margin = max(20, shape[1] // 40)
        bar_px = (shape[0] - margin - thick, shape[0] - margin, shape[1] - margin - bar, shape[1] - margin)
        return cls(shape=shape, zoom=zoom, pixel_m=pixel_m, backdrop=backdrop, catheter=catheter,
                   catheter_px=xy[1:], scale_bar_m=scale_bar_m, scale_bar_px=bar_px)

    def render(self, thickness_m: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        """The monitor image of one frame.

        Parameters
        ----------
        thickness_m : ndarray of float64, shape ``view.shape``
            Projected contrast thickness (:meth:`Angiogram.frame`), m, row 0 at the bottom.
        rng : numpy.random.Generator, optional
            Draws the quantum noise; None renders without noise.

        Returns
        -------
        ndarray of float32, shape :attr:`shape`
            Grey level 0-1 (0 black), row 0 at the top.
        """
        from scipy.ndimage import zoom as resample

        display = resample(np.flipud(np.asarray(thickness_m, np.float64)),
                           (self.shape[0] / thickness_m.shape[0], self.shape[1] / thickness_m.shape[1]),
                           order=1, grid_mode=True, mode="nearest")[: self.shape[0], : self.shape[1]]
        grey = self.backdrop * np.exp(-np.clip(display, 0.0, None) / DISPLAY_THICKNESS_M) * (1.0 - self.catheter)
        if rng is not None:  # Poisson-like: the variance follows the detected signal
            grey = grey + NOISE_SD * np.sqrt(grey / BACKGROUND_GREY) * rng.standard_normal(self.shape)
        r0, r1, c0, c1 = self.scale_bar_px
        grey[r0:r1, c0:c1] = 1.0
        return np.clip(grey, 0.0, 1.0).astype(np.float32)


def _backdrop(x: np.ndarray, z: np.ndarray, pixel_m: float) -> np.ndarray:
    """Grey level of the residual spine and soft tissue at display pixels, 0-1.

    ``x`` (columns) from the patient's midline, ``z`` (rows) cranial, m.
    """
    from scipy.ndimage import gaussian_filter

    xx, zz = np.meshgrid(x, z)
    width, height, gap = _VERTEBRA_M
    # lumbar spine at the midline: vertebral bodies with discs between them, and their pedicles
    phase = np.mod(zz, height + gap)
    body = (np.abs(xx) < width / 2) & (phase < height)
    pedicles = (np.abs(np.abs(xx) - 0.35 * width) < 0.12 * width) & (np.abs(phase - 0.5 * height) < 0.2 * height)
    spine = 0.6 * body + 0.4 * pedicles
    # soft tissue: the abdomen, thicker towards the midline
    tissue = np.clip(1.0 - (xx / 0.17) ** 2, 0.0, 1.0)
    shade = gaussian_filter(0.55 * spine + 0.45 * tissue, 2.0e-3 / pixel_m)
    return (BACKGROUND_GREY * (1.0 - BACKDROP_DEPTH * shade / max(shade.max(), 1e-12))).astype(np.float32)
