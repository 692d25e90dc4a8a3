"""Figures of a run (matplotlib only, Agg-safe; the core never imports this module).

Each plotting function takes a result, draws on ``ax`` (a new figure when
``None``) and returns the Figure.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["endpoint_curve", "write_run_figures", "SACE_COLOURS"]

#: Okabe-Ito colour-blind-safe palette, by SACE level.
SACE_COLOURS = {1: "#009E73", 2: "#F0E442", 3: "#E69F00", 4: "#D55E00"}


def endpoint_curve(result, ax=None):
    """Antegrade flow and tumour blush against injected suspension volume, SACE bands shaded.

    Parameters
    ----------
    result : RunResult
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    else:
        fig = ax.figure
    proc = result.scenario.procedure
    bounds = [1.0, 1 - proc.slowed_flow_reduction, 1 - proc.sluggish_flow_reduction,
              1 - proc.stasis_flow_reduction, 0.0]
    for level in range(1, 5):
        ax.axhspan(bounds[level], bounds[level - 1], color=SACE_COLOURS[level], alpha=0.15, lw=0,
                   label=f"SACE {'I II III IV'.split()[level - 1]}")
    ts = result.timeseries
    ax.plot(ts["suspension_volume_ml"], ts["antegrade_flow_fraction"], color="#0072B2", lw=2,
            label="antegrade flow")
    ax.plot(ts["suspension_volume_ml"], ts["tumour_blush_fraction"], color="#CC79A7", lw=2, ls="--",
            label="tumour blush")
    reflux = ts["reflux_fraction"] > 0
    if reflux.any():
        ax.axvline(ts["suspension_volume_ml"][reflux].iloc[0], color="k", ls=":", label="reflux starts")
    ax.set(xlabel="injected suspension (mL)", ylabel="fraction of baseline", ylim=(0, 1.05),
           title=f"{result.scenario.catheter.vessel}: stopped on {result.summary['stop_reason']}")
    ax.legend(loc="upper right", fontsize="small", ncol=2)
    return fig


def write_run_figures(result, out_dir: str | Path) -> list[Path]:
    """Write the run's key figures as PNG into ``out_dir``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    path = out / "curve.png"
    fig = endpoint_curve(result)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return [path]
