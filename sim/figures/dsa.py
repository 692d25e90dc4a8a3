"""DSA movies and stills: fluoroscopy-like virtual angiograms with legible text, as GIF, MP4 or PNG.

Each panel is one contrast run (:mod:`sim.angiography`) rendered on a DSA monitor
(:class:`sim.fluoroscopy.Fluoroscope`: dark contrast on grey, faint spine, catheter and
tip, quantum noise, scale bar) at the acquisition rate (:data:`sim.fluoroscopy.FRAME_RATE_HZ`).
Panels share one clock, the baseline's phases and one field of view; the text gives the
panel's name, its injection (rate, duration, contrast reflux), the time, the phase and
the scale bar's length. Movies play in real time (frames per second = acquisition rate).

Functions
---------
:func:`panels_of_run` (baseline and end of embolisation of one run),
:func:`panels_of_runs` (the end-of-procedure runs of several runs side by side, e.g.
strategies), :func:`dsa_frames` (RGB arrays), :func:`write_movie` (GIF or MP4, written
atomically), :func:`write_still` (PNG), :func:`animate_run`, :func:`animate_compare`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_write

__all__ = ["MOVIE_SUFFIXES", "Panel", "animate_compare", "animate_run", "dsa_frames", "panels_of_run",
           "panels_of_runs", "write_movie", "write_still"]

#: File types :func:`write_movie` writes.
MOVIE_SUFFIXES = (".gif", ".mp4")
#: Smallest width of one panel, px, and height of the text band above the panels, px.
_PANEL_MIN_PX, _BAND_PX = 800, 110
#: Seconds shown after the baseline's venous phase.
_TAIL_S = 3.0


@dataclass(frozen=True)
class Panel:
    """One contrast run to show.

    Attributes
    ----------
    label : str
        Panel title (e.g. ``"baseline"``, ``"lobar, end"``).
    angiogram : Angiogram
    flow : LiverFlow
        The state it was computed from (places the catheter).
    """

    label: str
    angiogram: object
    flow: object


def panels_of_run(result) -> list[Panel]:
    """The baseline and end-of-embolisation angiograms of a run, each at its own rate (:func:`panels_of_runs`)."""
    return panels_of_runs({"end of embolisation": result})


def panels_of_runs(runs: Mapping[str, object], *, baseline: bool = True) -> list[Panel]:
    """Side-by-side panels of several runs on one liver (e.g. strategies), on one view.

    Parameters
    ----------
    runs : mapping of str to RunResult or LiverFlow
        Label -> a run (its end-of-procedure angiogram, injection limited by its bed:
        :func:`sim.angiography.run_injections`) or a flow state with its catheter placed
        (its own :func:`sim.angiography.default_injection`).
    baseline : bool
        Start with the first run's baseline angiogram.
    """
    from ..angiography import (
        View,
        baseline_flow,
        default_injection,
        final_flow,
        native_tip_flow,
        run_liver,
        virtual_angiogram,
    )

    items = list(runs.items())
    if not items:
        raise ValueError("no runs to show: give at least one label -> run")
    panels: list[tuple[str, object, object]] = []
    for k, (label, run) in enumerate(items):
        if hasattr(run, "summary"):
            start = baseline_flow(run_liver(run), run.scenario)
            if baseline and k == 0:
                panels.append((f"baseline ({run.scenario.catheter.vessel})", start, default_injection(start)))
            end = final_flow(run)
            panels.append((label, end, default_injection(end, reference_tip_flow_m3s=native_tip_flow(start))))
        else:
            panels.append((label, run, default_injection(run)))
    view = View.around(panels[0][1].liver)
    return [Panel(label, virtual_angiogram(f, i, view=view), f) for label, f, i in panels]


def _times(panels: Sequence[Panel], times_s) -> tuple[np.ndarray, dict[str, float]]:
    from ..angiography import phase_times
    from ..fluoroscopy import frame_times

    phases = phase_times(panels[0].angiogram)
    times = frame_times(phases["venous"] + _TAIL_S) if times_s is None else np.asarray(times_s, float)
    return times, phases


def dsa_frames(panels: Sequence[Panel], *, times_s=None, seed: int = 0, panel_width_px: int | None = None):
    """RGB frames of the panels side by side with their text, one per acquisition time.

    Parameters
    ----------
    panels : sequence of Panel
        Same liver and view (:func:`panels_of_run`, :func:`panels_of_runs`).
    times_s : sequence of float, optional
        Times after the start of the injection, s; default the acquisition times
        (:func:`sim.fluoroscopy.frame_times`) to 3 s after the first panel's venous phase.
    seed : int
        Seeds the quantum noise (one child stream per panel): the same seed gives the same frames.
    panel_width_px : int, optional
        Width of one panel, px; default so that the frame is at least
        :data:`sim.fluoroscopy.MIN_WIDTH_PX` wide (each panel at least 800 px).

    Yields
    ------
    ndarray of uint8, shape (H, W, 3)
        W >= 1280.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..angiography import phase_at
    from ..fluoroscopy import FRAME_RATE_HZ, MIN_WIDTH_PX, Fluoroscope

    times, phases = _times(panels, times_s)
    n = len(panels)
    width = panel_width_px or max(_PANEL_MIN_PX, math.ceil(MIN_WIDTH_PX / n))
    scopes = [Fluoroscope.for_angiogram(p.angiogram, p.flow, width_px=width) for p in panels]
    rows, cols = scopes[0].shape
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]

    dpi = 100
    fig = Figure(figsize=(n * cols / dpi, (rows + _BAND_PX) / dpi), dpi=dpi, facecolor="black")
    canvas = FigureCanvasAgg(fig)
    height = rows + _BAND_PX
    images, font = [], max(14, cols // 45)
    for k, (panel, scope) in enumerate(zip(panels, scopes)):
        ax = fig.add_axes((k / n, 0.0, 1.0 / n, rows / height))
        ax.set_axis_off()
        images.append(ax.imshow(scope.backdrop, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest",
                                aspect="auto"))
        transit = panel.angiogram.transit
        injection = transit.injection
        fig.text((k + 0.5) / n, 1.0 - 8 / height, panel.label, color="white", ha="center", va="top",
                 fontsize=font * 1.15, fontweight="bold")
        fig.text((k + 0.5) / n, 1.0 - 48 / height,
                 f"{injection.rate_m3s * 1e6:.2f} mL/s x {injection.duration_s:g} s via {panel.flow.catheter.vessel}"
                 f"; contrast reflux {transit.reflux_ml:.2f} mL", color="white", ha="center", va="top",
                 fontsize=font * 0.8)
        ax.text(0.03, 0.97, "R", color="white", ha="left", va="top", fontsize=font * 1.4, fontweight="bold",
                transform=ax.transAxes)
        r0, _, c0, c1 = scope.scale_bar_px
        ax.text(0.5 * (c0 + c1), r0 - 6, f"{scope.scale_bar_m * 1e3:g} mm", color="white", ha="center",
                va="bottom", fontsize=font * 0.9)
    clock = fig.text(0.5, 1.0 - 80 / height, "", color="#ffd54f", ha="center", va="top", fontsize=font)

    for t in times:
        for image, panel, scope, rng in zip(images, panels, scopes, streams):
            image.set_data(scope.render(panel.angiogram.frame(float(t)), rng=rng))
        clock.set_text(f"t = {t:4.1f} s   {phase_at(float(t), phases)} phase   DSA {FRAME_RATE_HZ:g} frames/s, AP")
        canvas.draw()
        yield np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _even(frame: np.ndarray) -> np.ndarray:
    """Pad a frame to even height and width (H.264 needs them)."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)))


def write_movie(frames, path: str | Path, *, fps: float | None = None) -> Path:
    """Write frames as an animated GIF or an H.264 MP4, atomically (by the file's suffix).

    Parameters
    ----------
    frames : iterable of ndarray of uint8, shape (H, W, 3)
    path : str or Path
        ``.gif`` or ``.mp4``.
    fps : float, optional
        Playback rate, frames/s; default the acquisition rate (real time).

    Returns
    -------
    Path
    """
    import imageio.v2 as imageio

    from ..fluoroscopy import FRAME_RATE_HZ

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MOVIE_SUFFIXES:
        raise ValueError(f"cannot write {path.name!r}: a movie is one of {', '.join(MOVIE_SUFFIXES)}")
    fps = FRAME_RATE_HZ if fps is None else fps
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:  # the writers take the format from the name: write NAME.tmp.SUFFIX, then move it
        named = tmp.with_name(tmp.name + suffix)
        try:
            if suffix == ".gif":
                writer = imageio.get_writer(named, mode="I", duration=1000.0 / fps, loop=0)
            else:
                writer = imageio.get_writer(named, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                            pixelformat="yuv420p", macro_block_size=2, quality=5)
            count = 0
            try:  # closed explicitly: imageio's context manager leaves the writer (and ffmpeg) open on an error
                for frame in frames:
                    writer.append_data(_even(frame) if suffix == ".mp4" else frame)
                    count += 1
            finally:
                writer.close()
            if count == 0:
                raise ValueError(f"no frames to write to {path.name!r}")
            os.replace(named, tmp)
        finally:
            named.unlink(missing_ok=True)
    return path


def write_still(panels: Sequence[Panel], path: str | Path, t: float, *, seed: int = 0) -> Path:
    """One frame of the panels at time ``t`` (s) as a PNG or JPEG (by the suffix), atomically."""
    import imageio.v3 as iio

    path = Path(path)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise ValueError(f"cannot write {path.name!r}: a still is a .png, .jpg or .jpeg")
    frame = next(dsa_frames(panels, times_s=[t], seed=seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        iio.imwrite(tmp, frame, extension=path.suffix.lower())
    return path


def animate_run(result, path: str | Path, *, times_s=None, seed: int | None = None) -> Path:
    """Movie of a run's baseline and end-of-embolisation DSA side by side (noise seeded from the scenario)."""
    seed = result.scenario.procedure.seed if seed is None else seed
    return write_movie(dsa_frames(panels_of_run(result), times_s=times_s, seed=seed), path)


def animate_compare(runs: Mapping[str, object], path: str | Path, *, times_s=None, seed: int | None = None,
                    baseline: bool = True) -> Path:
    """Side-by-side movie of several runs (e.g. ``{"selective": run_a, "lobar": run_b}``; :func:`panels_of_runs`).

    The noise is seeded from the first run's scenario unless ``seed`` is given.
    """
    panels = panels_of_runs(runs, baseline=baseline)
    seed = next(iter(runs.values())).scenario.procedure.seed if seed is None else seed
    return write_movie(dsa_frames(panels, times_s=times_s, seed=seed), path)
