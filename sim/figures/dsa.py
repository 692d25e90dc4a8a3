"""DSA movies and stills: fluoroscopy-like virtual angiograms with legible text, as GIF, MP4 or PNG.

Each panel is one contrast run (:mod:`sim.angiography`) rendered on a DSA monitor
(:class:`sim.fluoroscopy.Fluoroscope`: dark contrast on grey, faint spine, catheter and
tip, quantum noise, scale bar) at the acquisition rate (:data:`sim.fluoroscopy.FRAME_RATE_HZ`).
Panels share one clock, the baseline's phases and one field of view; the text gives the
panel's name, its injection (rate, duration, contrast reflux), the time, the phase and
the scale bar's length. Movies play in real time (frames per second = acquisition rate).

Functions
---------
:func:`panels_of_run` (baseline and end of embolisation of one run), :func:`panels_of_saved`
(the same read back from a run folder, no simulation),
:func:`panels_of_runs` (the end-of-procedure runs of several runs side by side, e.g.
strategies), :func:`dsa_frames` (RGB arrays), :func:`write_movie` (GIF or MP4, written
atomically), :func:`write_still` (PNG), :func:`animate_run`, :func:`animate_saved`,
:func:`animate_compare`, :func:`animate_strategies`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_write
from .style import display_name

__all__ = ["MOVIE_SUFFIXES", "Panel", "animate_compare", "animate_run", "animate_saved", "animate_strategies",
           "dsa_frames", "panels_of_run", "panels_of_runs", "panels_of_saved", "write_movie", "write_still"]

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
    caption : str
        The injection shown under the title (rate, duration, catheter, contrast reflux).
    thickness : callable
        ``thickness(t)``: projected contrast thickness (m) at ``t`` s after the start of
        the injection, shape of the view, row 0 at the bottom.
    monitor : callable
        ``monitor(width_px)``: the :class:`sim.fluoroscopy.Fluoroscope` of the view at that width.
    phases : dict of str to float
        Arterial, capillary and venous phase times, s.
    angiogram : Angiogram or None
        The live angiogram the panel shows (None for one read back from a run folder).
    """

    label: str
    caption: str
    thickness: Callable[[float], np.ndarray]
    monitor: Callable[[int], object]
    phases: dict
    angiogram: object = None

    @classmethod
    def of_angiogram(cls, label: str, angiogram, flow) -> Panel:
        """A panel of a live :class:`~sim.angiography.Angiogram` computed from ``flow`` (catheter placed)."""
        from ..angiography import phase_times
        from ..fluoroscopy import Fluoroscope

        transit = angiogram.transit
        caption = _caption(transit.injection.rate_m3s * 1e6, transit.injection.duration_s, flow.catheter.vessel,
                           transit.reflux_ml)
        return cls(label, caption, angiogram.frame, lambda width: Fluoroscope.for_angiogram(angiogram, flow,
                                                                                             width_px=width),
                   phase_times(angiogram), angiogram)


def _caption(rate_ml_s: float, duration_s: float, vessel: str, reflux_ml: float) -> str:
    return f"{rate_ml_s:.2f} mL/s x {duration_s:g} s via {display_name(vessel)}; contrast reflux {reflux_ml:.2f} mL"


def panels_of_saved(data) -> list[Panel]:
    """The baseline and end-of-embolisation panels of a run read back from its folder (no simulation).

    The saved frames (``run_state.npz``: opacity in 255 steps at the saved times) are turned
    back into contrast thickness (:func:`sim.fluoroscopy.thickness_of_opacity`) and
    interpolated linearly in time to the acquisition times.

    Parameters
    ----------
    data : RunData
        :func:`sim.figures.load_run` of a run folder (or :func:`sim.figures.run_data`).
    """
    from ..fluoroscopy import Fluoroscope, thickness_of_opacity

    meta, angio = data.meta, data.meta["angiogram"]
    times = np.asarray(data["angiogram/times_s"], np.float64)
    left, _, bottom, _ = (v * 1e-3 for v in angio["extent_mm"])
    path_m = np.asarray(data["catheter/path_mm"], np.float64) * 1e-3
    vessel, fr = meta["catheter_vessel"], meta["catheter_outer_diameter_fr"]
    rates = angio.get("rates_ml_s", {"before": angio["rate_ml_s"]})
    reflux = {"before": data.summary.get("angiogram_reflux_baseline_ml", float("nan")),
              "after": data.summary.get("angiogram_reflux_ml", float("nan"))}
    labels = {"before": f"baseline ({display_name(vessel)})", "after": "end of embolisation"}
    panels = []
    for key in ("before", "after"):
        if f"angiogram/{key}" not in data.arrays:
            continue
        frames = data[f"angiogram/{key}"]

        def thickness(t: float, frames=frames) -> np.ndarray:
            k = int(np.clip(np.searchsorted(times, t) - 1, 0, times.size - 2)) if times.size > 1 else 0
            w = 0.0 if times.size < 2 else float(np.clip((t - times[k]) / (times[k + 1] - times[k]), 0.0, 1.0))
            a = thickness_of_opacity(frames[k] / 255.0)
            return a if w == 0.0 else (1.0 - w) * a + w * thickness_of_opacity(frames[k + 1] / 255.0)

        shape = frames.shape[1:]
        panels.append(Panel(labels[key], _caption(rates.get(key, rates["before"]), angio["duration_s"], vessel,
                                                  reflux[key]),
                            thickness, lambda width, shape=shape: Fluoroscope.for_view(
                                shape, left, bottom, angio["pixel_mm"] * 1e-3, path_m, fr, width_px=width),
                            dict(angio["phases_s"])))
    return panels


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
    from ..angiography import View, default_injection, final_flow, native_tip_flow, start_flow, virtual_angiogram

    items = list(runs.items())
    if not items:
        raise ValueError("no runs to show: give at least one label -> run")
    panels: list[tuple[str, object, object]] = []
    for k, (label, run) in enumerate(items):
        if hasattr(run, "summary"):
            start = start_flow(run)
            if baseline and k == 0:
                panels.append((f"baseline ({display_name(run.scenario.catheter.vessel)})", start, default_injection(start)))
            end = final_flow(run)
            panels.append((label, end, default_injection(end, reference_tip_flow_m3s=native_tip_flow(start))))
        else:
            panels.append((label, run, default_injection(run)))
    view = View.around(panels[0][1].liver)
    return [Panel.of_angiogram(label, virtual_angiogram(f, i, view=view), f) for label, f, i in panels]


def _times(panels: Sequence[Panel], times_s) -> tuple[np.ndarray, dict[str, float]]:
    from ..fluoroscopy import frame_times

    phases = panels[0].phases
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

    from ..fluoroscopy import FRAME_RATE_HZ, MIN_WIDTH_PX, phase_at

    times, phases = _times(panels, times_s)
    n = len(panels)
    width = panel_width_px or max(_PANEL_MIN_PX, math.ceil(MIN_WIDTH_PX / n))
    scopes = [p.monitor(width) for p in panels]
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
        fig.text((k + 0.5) / n, 1.0 - 8 / height, panel.label, color="white", ha="center", va="top",
                 fontsize=font * 1.15, fontweight="bold")
        fig.text((k + 0.5) / n, 1.0 - 48 / height, panel.caption, color="white", ha="center", va="top",
                 fontsize=font * 0.8)
        ax.text(0.03, 0.97, "R", color="white", ha="left", va="top", fontsize=font * 1.4, fontweight="bold",
                transform=ax.transAxes)
        r0, _, c0, c1 = scope.scale_bar_px
        ax.text(0.5 * (c0 + c1), r0 - 6, f"{scope.scale_bar_m * 1e3:g} mm", color="white", ha="center",
                va="bottom", fontsize=font * 0.9)
    clock = fig.text(0.5, 1.0 - 80 / height, "", color="#ffd54f", ha="center", va="top", fontsize=font)

    for t in times:
        for image, panel, scope, rng in zip(images, panels, scopes, streams):
            image.set_data(scope.render(panel.thickness(float(t)), rng=rng))
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
                                            pixelformat="yuv420p", macro_block_size=2, quality=5,
                                            ffmpeg_log_level="error")  # not its notes on every movie
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


def animate_saved(data, path: str | Path, *, times_s=None, seed: int | None = None) -> Path:
    """Movie of a saved run's baseline and end-of-embolisation DSA side by side, from its folder (no simulation).

    ``data`` is :func:`sim.figures.load_run` of a run folder; the noise is seeded from the run's seed.
    """
    seed = int(data.summary.get("seed", 0)) if seed is None else seed
    return write_movie(dsa_frames(panels_of_saved(data), times_s=times_s, seed=seed), path)


def animate_strategies(scenario, strategies: Sequence[str], path: str | Path, *, times_s=None,
                       progress: bool = False) -> Path:
    """Side-by-side DSA movie of single-position strategies on one liver (``embosim plot --compare``).

    Each strategy (``"selective"``, ``"lobar:stasis"``, ...; :func:`sim.strategies.plan_strategy`)
    is run on the scenario's liver with the scenario's seed, and its end-of-embolisation run is
    shown beside the first strategy's baseline.

    Raises
    ------
    ScenarioError
        An unknown strategy, or one with several catheter positions (whole liver, staged):
        a DSA run is made from one catheter (path ``compare``).
    """
    from ..anatomy import build_liver
    from ..scenario import ScenarioError
    from ..simulation import run
    from ..strategies import Strategy, plan_strategy

    liver = build_liver(scenario, progress=progress)
    runs = {}
    for spec in strategies:
        strategy = Strategy.parse(spec)
        plan = plan_strategy(strategy, liver)
        if len(plan.sessions) != 1 or len(plan.sessions[0]) != 1:
            raise ScenarioError(f"strategy {strategy.label!r} injects from {sum(map(len, plan.sessions))} catheter "
                                "positions; a DSA movie compares single-position strategies (superselective, "
                                "selective, lobar)", path="compare")
        updates = {"catheter.vessel": plan.sessions[0][0], "procedure.endpoint": strategy.endpoint}
        runs[f"{strategy.label}: {plan.sessions[0][0]}, end"] = run(scenario.with_updates(updates), liver=liver,
                                                                    progress=progress)
    return animate_compare(runs, path, times_s=times_s)
