"""The virtual angiogram from the saved frames: phases before and after, and the DSA movie of a run.

The frames are computed once when the run is written (:mod:`sim.angiography`
model, saved by :mod:`sim.runstate` as display opacity at 2 frames/s, then one
frame every 2 s in the venous washout, plus the phase times): drawing them needs
no flow solve.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fluoroscopy import phase_at
from .run import RunData, run_data
from .style import CATEGORY_COLOURS, display_name, line_width, new_axes, styled

__all__ = ["angiogram", "animate_angiogram", "frame"]

_ROWS = {"before": "baseline", "after": "end of embolisation"}


def frame(data: RunData, key: str, t: float) -> np.ndarray:
    """The saved frame (opacity 0-1, rows along z) of ``key`` ("before"/"after") nearest to time ``t``, s."""
    times = data["angiogram/times_s"]
    k = int(np.argmin(np.abs(times - t)))
    return data[f"angiogram/{key}"][k] / 255.0


def _keys(data: RunData) -> list[str]:
    return [k for k in _ROWS if f"angiogram/{k}" in data.arrays]


def _image(ax, data: RunData, key: str, t: float):
    from matplotlib.patches import Circle

    image = ax.imshow(frame(data, key, t), origin="lower", extent=data.meta["angiogram"]["extent_mm"], cmap="gray_r",
                      vmin=0.0, vmax=1.0, interpolation="antialiased")
    for centre, radius in zip(data["tumour/centre_mm"], data["tumour/radius_mm"]):
        ax.add_patch(Circle((centre[0], centre[2]), radius, fill=False, ec=CATEGORY_COLOURS["tumour"], lw=line_width(1.5),
                            ls="--"))
    return image


def _title(data: RunData) -> str:
    a = data.meta["angiogram"]
    rates = a.get("rates_ml_s", {"before": a["rate_ml_s"]})
    if len({f"{rate:.2f}" for rate in rates.values()}) == 1:  # one rate shown once (review 48: "2.93 then 2.93")
        shown = f"{next(iter(rates.values())):.2f} mL/s" + (f" ({' and '.join(rates)})" if len(rates) > 1 else "")
    else:
        shown = " then ".join(f"{rate:.2f} mL/s ({key})" for key, rate in rates.items())
    return f"Virtual DSA: {shown} for {a['duration_s']:g} s into {display_name(data.meta['catheter_vessel'])}"


@styled
def angiogram(source, ax=None, *, times_s=None):
    """Virtual digital subtraction angiogram before and after embolisation at the arterial, capillary and venous phases.

    Contrast (black) injected at the catheter tip (model: :mod:`sim.angiography`);
    the same injection and clock before and after, so slower filling, standing
    contrast and the fading tumour blush show directly.

    Parameters
    ----------
    source : RunData, RunResult or Liver
        A liver gives the baseline row only.
    ax : sequence of matplotlib Axes (rows x times), optional
    times_s : sequence of float, optional
        Frame times after the start of the injection, s (the nearest saved frame is
        drawn); default the baseline's arterial, capillary and venous phase times.
    style : {"slide", "paper"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = run_data(source)
    phases = data.meta["angiogram"]["phases_s"]
    times = list(phases.values()) if times_s is None else [float(t) for t in times_s]
    keys = _keys(data)
    own_figure = ax is None
    left, right, bottom, top = data.meta["angiogram"]["extent_mm"]
    panel_height_in = 4.2 * (top - bottom) / (right - left)  # a panel about 4.2 in wide on the slide canvas
    fig, axes = new_axes(ax, len(keys) * len(times), nrows=len(keys),
                         figsize=(4.8 * len(times) + 1.2, panel_height_in * len(keys) + 1.6))
    grid = np.array(axes, dtype=object).reshape(len(keys), len(times))
    saved = data["angiogram/times_s"]
    for r, key in enumerate(keys):
        for c, t in enumerate(times):
            axis = grid[r, c]
            image = _image(axis, data, key, t)
            shown = float(saved[np.argmin(np.abs(saved - t))])
            if r == 0 or not own_figure:
                axis.set_title(f"{phase_at(shown, phases)} phase, {shown:.1f} s")
            axis.set(xlabel="x (mm), patient's left \u2192",
                     ylabel=f"{_ROWS[key]}\nz, cranial (mm)" if c == 0 else "z, cranial (mm)")
            if own_figure and axis is not grid[0, 0]:
                # every frame has the same extent: one scale per row and column, labelled on the outer panels
                axis.sharex(grid[0, 0])
                axis.sharey(grid[0, 0])
    if own_figure:
        for axis in grid.ravel():
            axis.label_outer()
    fig.colorbar(image, ax=axes, label="contrast opacity (0-1)", shrink=0.8)
    fig.suptitle(_title(data))
    return fig


def animate_angiogram(source, path: str | Path, *, times_s=None, seed: int | None = None) -> Path:
    """Write the DSA movie of a run: baseline and end of embolisation side by side, from the saved frames.

    A fluoroscopy-like movie (:mod:`sim.figures.dsa`: grey background, catheter and tip,
    quantum noise, scale bar, at least 1280 px wide, the acquisition rate of
    :data:`sim.fluoroscopy.FRAME_RATE_HZ`) drawn from ``run_state.npz`` without simulating.

    Parameters
    ----------
    source : RunData, RunResult or Liver
    path : str or Path
        ``.mp4`` (H.264, small) or ``.gif`` (large: noise does not compress).
    times_s : sequence of float, optional
        Frame times, s; default the acquisition times to 3 s after the venous phase.
    seed : int, optional
        Seeds the quantum noise; default the run's seed.

    Returns
    -------
    Path
    """
    from .dsa import animate_saved

    return animate_saved(run_data(source), path, times_s=times_s, seed=seed)
