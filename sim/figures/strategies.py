"""Strategies compared: side by side, and against the tumour's arterial fraction (tables of :func:`sim.compare`)."""

from __future__ import annotations

import numpy as np

from .style import THERAPY_LABELS, line_width, metric_label, new_axes, panel_grid, strategy_colour, styled

__all__ = ["DEFAULT_METRICS", "NOISE_ABSOLUTE", "NOISE_RELATIVE", "arterialisation", "comparison", "no_difference",
           "strategy_labels"]

#: Outcomes shown by the comparison figures by default (summary keys, docs/outputs.md).
DEFAULT_METRICS = ("tumour_necrosis_fraction", "normal_necrosis_fraction", "biliary_ischaemic_fraction",
                   "nontarget_particle_fraction")
#: Differences between strategies below this (fraction outcomes: 0.1 percentage point) are noise. Model
#: assumption: far below what a trainee reads off a figure or a replicate interval resolves.
NOISE_ABSOLUTE = 1e-3
#: ... or below this share of the largest mean (outcomes that are not fractions).
NOISE_RELATIVE = 1e-3


#: Marker and dash of the k-th strategy's line (with its colour, so that lines that coincide stay told apart).
_MARKERS = ("o", "s", "^", "D", "v", "P")
_DASHES = ("-", "--", "-.", ":", (0, (6, 2, 1, 2)), (0, (1, 1)))


def no_difference(metric: str, means: np.ndarray) -> bool:
    """Whether the strategies' means of ``metric`` differ by no more than noise (``NOISE_*``)."""
    means = np.asarray(means, float)
    finite = means[np.isfinite(means)]
    if finite.size < 2:
        return False
    scale = np.max(np.abs(finite))
    tolerance = max(NOISE_ABSOLUTE if metric.endswith("_fraction") else 0.0, NOISE_RELATIVE * scale)
    return bool(np.ptp(finite) <= tolerance)


def _check_columns(table, columns) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"the table has no column {', '.join(map(repr, missing))}; "
                         f"columns: {', '.join(map(str, table.columns))}")


def _totals(table):
    """The rows of a strategy as a whole: a staged strategy's ``session`` rows dropped (``sim.strategies.TOTAL``)."""
    if "session" not in table.columns:
        return table
    from ..strategies import TOTAL

    return table[table["session"].astype(str) == TOTAL]


def _interval(table, metric: str) -> np.ndarray | None:
    """Distances (2, n) from the mean down to ``<metric>_lo`` and up to ``<metric>_hi``; None without them."""
    if f"{metric}_lo" not in table.columns or f"{metric}_hi" not in table.columns:
        return None
    mean = table[metric].to_numpy(float)
    return np.clip(np.vstack([mean - table[f"{metric}_lo"].to_numpy(float),
                              table[f"{metric}_hi"].to_numpy(float) - mean]), 0.0, None)


@styled
def comparison(table, metrics=DEFAULT_METRICS, ax=None, *, strategy: str = "strategy"):
    """Strategies side by side on the main outcomes, with their 95% intervals.

    A panel whose strategies differ by no more than noise (:func:`no_difference`)
    says "no difference" instead of drawing bars.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per strategy (:func:`sim.compare`): a ``strategy`` column, a column per
        outcome (mean) and, optionally, ``<outcome>_lo`` and ``<outcome>_hi`` bounds.
        With a ``session`` column only the ``total`` rows are drawn.
    metrics : sequence of str
        Outcome columns, one panel each.
    ax : matplotlib Axes or sequence of them (one per metric), optional
    strategy : str
        Column naming the strategy.
    style : {"slide", "paper"}

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        A column is missing, or a strategy has several rows (filter the table, or
        draw it with :func:`arterialisation`).
    """
    metrics = list(metrics)
    _check_columns(table, [strategy, *metrics])
    table = _totals(table)
    if table[strategy].duplicated().any():
        raise ValueError(f"one row per {strategy} expected; filter the varied parameter or use arterialisation()")
    rows, columns = panel_grid(len(metrics))
    fig, axes = new_axes(ax, len(metrics), nrows=rows, figsize=(4.2 * columns + 0.4, 5.6 * rows))
    names = table[strategy].astype(str).tolist()
    therapies = set(names) <= set(THERAPY_LABELS)  # embosim compare --therapies: agents from one catheter
    colours = [strategy_colour(name, k) for k, name in enumerate(names)]
    x = np.arange(len(names))
    for axis, metric in zip(axes, metrics):
        means = table[metric].to_numpy(float)
        title, unit = metric_label(metric)
        labels = strategy_labels(table, strategy)
        axis.set_xticks(x, [THERAPY_LABELS[n] if therapies else labels[n] for n in names], rotation=30, ha="right")
        axis.set(title=title, ylabel=unit, xlabel="therapy" if therapies else strategy)
        if no_difference(metric, means):
            axis.set_xlim(-0.5, len(names) - 0.5)
            axis.text(0.5, 0.5, f"no difference\n(all {np.nanmean(means):.3g})", transform=axis.transAxes,
                      ha="center", va="center", fontsize="large", color="#555555")
            continue
        axis.bar(x, means, color=colours, yerr=_interval(table, metric), capsize=4, error_kw={"lw": 1.2})
    fig.suptitle(f"{'Therapies' if therapies else 'Strategies'} compared (mean and 95% interval)")
    return fig


def strategy_labels(table, strategy: str = "strategy") -> dict[str, str]:
    """Each strategy's name as drawn: with its endpoint when the strategies stop at different endpoints (a lobar
    injection to sluggish flow beside a selective one to stasis differs in both; the figure must say so)."""
    names = table[strategy].astype(str)
    labels = {name: name.replace("_", " ") for name in names}
    if "endpoint" in table.columns and table["endpoint"].astype(str).nunique() > 1:
        endpoint = dict(zip(names, table["endpoint"].astype(str)))
        labels = {name: f"{label} (to {endpoint[name].replace('_', ' ')})" for name, label in labels.items()}
    return labels


def _arterial_column(table, metrics) -> str:
    """The varied tumour arterial fraction: a scenario key column (``tumours.<i or *>.arterial_fraction``), never
    a summary metric such as ``arterial_fraction_baseline`` (the healthy liver's arterial share)."""
    found = [c for c in table.columns if str(c).startswith("tumours.") and str(c).endswith(".arterial_fraction")
             and c not in metrics and table[c].nunique() > 1]
    if not found:
        raise ValueError("no varied tumour arterial fraction in the table: run the comparison with --vary "
                         "tumours.0.arterial_fraction=START:STOP:N (in Python, x= names another varied column)")
    return found[0]


@styled
def arterialisation(table, metrics=DEFAULT_METRICS, ax=None, *, x: str | None = None, strategy: str = "strategy"):
    """Outcomes of each strategy against the tumour's arterial fraction, with 95% bands.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`sim.compare` with the arterial fraction varied: one row per
        strategy and value; outcome columns with optional ``_lo``/``_hi`` bounds.
        With a ``session`` column only the ``total`` rows are drawn.
    metrics : sequence of str
        Outcome columns, one panel each.
    ax : matplotlib Axes or sequence of them (one per metric), optional
    x : str, optional
        The varied column; default the first varied ``tumours.<i>.arterial_fraction`` column.
    strategy : str
        Column naming the strategy.
    style : {"slide", "paper"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    metrics = list(metrics)
    x = _arterial_column(table, metrics) if x is None else x
    _check_columns(table, [strategy, x, *metrics])
    table = _totals(table)
    rows, columns = panel_grid(len(metrics))
    fig, axes = new_axes(ax, len(metrics), nrows=rows, figsize=(4.4 * columns + 0.4, 5.4 * rows))
    labels = strategy_labels(table, strategy)
    groups = list(table.groupby(strategy, sort=False))
    for axis, metric in zip(axes, metrics):
        for k, (name, rows) in enumerate(groups):
            rows = rows.sort_values(x)
            colour = strategy_colour(name, k)
            xs = rows[x].to_numpy(float)
            mean = rows[metric].to_numpy(float)
            # markers and dashes of their own, widest line first: a strategy equal to another stays visible
            axis.plot(xs, mean, marker=_MARKERS[k % len(_MARKERS)], ls=_DASHES[k % len(_DASHES)], color=colour,
                      lw=line_width(2.4 + 1.6 * (len(groups) - 1 - k) / max(len(groups) - 1, 1)),
                      markersize=6 + 3 * (len(groups) - 1 - k) / max(len(groups) - 1, 1), label=labels[str(name)],
                      zorder=2 + k)
            interval = _interval(rows, metric)
            if interval is not None:
                axis.fill_between(xs, mean - interval[0], mean + interval[1], color=colour, alpha=0.2, lw=0)
        title, unit = metric_label(metric)
        axis.set(title=title, ylabel=unit, xlabel="tumour arterial fraction (0-1)")
    axes[0].legend(title=strategy)
    fig.suptitle("Outcomes against tumour arterialisation (mean and 95% band)")
    return fig
