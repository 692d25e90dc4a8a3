"""Strategies compared: side by side, and against the tumour's arterial fraction (tables of :func:`sim.compare`)."""

from __future__ import annotations

import numpy as np

from .style import THERAPY_LABELS, line_width, metric_label, new_axes, panel_grid, strategy_colour, styled

__all__ = ["DEFAULT_METRICS", "NOISE_ABSOLUTE", "NOISE_RELATIVE", "arterialisation", "comparison", "no_difference",
           "strategy_labels", "varied_columns"]

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


def _spread_words(table, interval: str) -> str:
    """What the bars or lines show, for the title: the mean and its 95% ``interval`` ("interval", "band"), or one
    run each when every row is a single replicate (review 48: ``--replicates 1`` claimed intervals it had not)."""
    if "replicates" in table.columns and (table["replicates"].to_numpy(float) <= 1).all():
        return "one run each: no interval"
    return f"mean and 95% {interval}"


def _metric_list(metrics) -> list[str]:
    """The outcome columns to draw: one name or a sequence of names, at least one."""
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not metrics:
        raise ValueError("no outcome to draw: give at least one metric")
    return metrics


def varied_columns(table, metrics=()) -> list[str]:
    """The varied scenario keys of a comparison table: its dotted columns (``agent.size_bin``,
    ``tumours.0.arterial_fraction``; outcomes have no dots) that take more than one value."""
    return [str(c) for c in table.columns if "." in str(c) and c not in metrics and table[c].nunique(dropna=False) > 1]


def _held_keys(table, metrics) -> str:
    """The scenario keys the comparison set to one value (``--vary agent.size_bin=40-120``), for the title:
    ``"\nagent.size_bin = 40-120"``; empty when none."""
    held = [f"{c} = {_value_text(table[c].iloc[0])}" for c in table.columns
            if "." in str(c) and c not in metrics and table[c].nunique(dropna=False) == 1]
    return f"\n{', '.join(held)}" if held else ""


def _value_text(value) -> str:
    """A varied value as a tick label: numbers to 3 significant digits, names as written."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return str(value).replace("_", " ")
    return f"{float(value):.3g}"


def _no_difference_text(metric: str, means: np.ndarray) -> str:
    """What a "no difference" panel says: the noise level it applied and the range of the means."""
    finite = means[np.isfinite(means)]
    low, high = float(finite.min()), float(finite.max())
    if f"{low:.3g}" == f"{high:.3g}":
        return f"no difference\n(all {low:.3g})"
    noise = f"{NOISE_ABSOLUTE * 100:g} percentage point" if metric.endswith("_fraction") else f"{NOISE_RELATIVE:.1%}"
    return f"no difference\nabove {noise}\n({low:.3g} to {high:.3g})"


#: Clinical names of the scenario keys a comparison most often varies (any tumour's for ``tumours.*``).
_KEY_NAMES = {"agent.size_bin": "particle size", "agent.kind": "agent", "agent.contrast_dilution": "contrast dilution",
              "catheter.rate_ml_min": "injection rate", "tumours.*.arterial_fraction": "tumour arterial fraction",
              "tumours.*.diameter_mm": "tumour diameter", "portal.thrombosis": "portal vein thrombosis",
              "anatomy.michels_type": "Michels type", "procedure.max_volume_ml": "volume cap",
              "interval.weeks": "weeks between sessions"}


def _key_name(key: str) -> str:
    """The clinical name of a scenario key (:data:`_KEY_NAMES`), else the key."""
    parts = key.split(".")
    if parts[0] == "tumours":
        parts = ["tumours", "*", parts[-1]]
    return _KEY_NAMES.get(".".join(parts), key)


def _key_label(key: str) -> str:
    """A varied scenario key as an axis label: its clinical name and unit, and the key below (``particle size
    (\u00b5m)`` over ``agent.size_bin``), as the explorer's controls show them."""
    from ..scenario import key_unit

    unit = key_unit(key)
    name = _key_name(key)
    shown = {"-": "", "": "", "1": "" if "fraction" in name else "fraction", "um": "\u00b5m"}.get(unit, unit)
    label = f"{name} ({shown})" if shown else name
    return label if name == key else f"{label}\n{key}"  # the key on a line of its own (one line ran off the panel)


@styled
def comparison(table, metrics=DEFAULT_METRICS, ax=None, *, strategy: str = "strategy"):
    """Strategies side by side on the main outcomes, with their 95% intervals; with one varied scenario key
    (``embosim compare --vary agent.size_bin=40-120,100-300,300-500``), one group of bars per value.

    A panel whose bars differ by no more than noise (:func:`no_difference`)
    says "no difference" instead of drawing bars.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per strategy, or per strategy and value of one varied key (:func:`sim.compare`): a
        ``strategy`` column, a column per outcome (mean) and, optionally, ``<outcome>_lo`` and ``<outcome>_hi``
        bounds. With a ``session`` column only the ``total`` rows are drawn.
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
        A column is missing, no metric, or a strategy has several rows that one varied key does not tell apart
        (draw a selection of the rows).
    """
    metrics = _metric_list(metrics)
    _check_columns(table, [strategy, *metrics])
    table = _totals(table)
    varied = varied_columns(table, metrics)
    key = varied[0] if len(varied) == 1 else None
    if table.duplicated([strategy] if key is None else [strategy, key]).any():
        raise ValueError(f"one row per {strategy} (and value of one varied key) expected, but the table varies "
                         f"{' and '.join(varied) or 'nothing'}: a comparison figure groups its bars by one key; "
                         "compare with one --vary (in Python, draw a selection of the table's rows)")
    names = list(dict.fromkeys(table[strategy].astype(str)))
    values = list(dict.fromkeys(table[key])) if key is not None and table[strategy].duplicated().any() else [None]
    grouped = values != [None]
    width_per_panel = 4.2 if not grouped else max(4.2, 1.1 + 0.55 * len(values) * len(names))
    rows, columns = panel_grid(len(metrics), width_per_panel)
    fig, axes = new_axes(ax, len(metrics), nrows=rows, figsize=(width_per_panel * columns + 0.4, 5.6 * rows))
    therapies = set(names) <= set(THERAPY_LABELS)  # embosim compare --therapies: agents from one catheter
    labels = strategy_labels(table, strategy)
    shown = {name: THERAPY_LABELS[name] if therapies else labels[name] for name in names}
    colours = {name: strategy_colour(name, k) for k, name in enumerate(names)}
    bar_width = 0.8 / len(names) if grouped else 0.8
    for axis, metric in zip(axes, metrics):
        title, unit = metric_label(metric)
        axis.set(title=title, ylabel=unit)
        if grouped:
            axis.set_xticks(np.arange(len(values)), [_value_text(v) for v in values])
            axis.set_xlabel(_key_label(key))
        else:
            axis.set_xticks(np.arange(len(names)), [shown[n] for n in names], rotation=30, ha="right")
            axis.set_xlabel("therapy" if therapies else strategy)
        if no_difference(metric, table[metric].to_numpy(float)):
            axis.set_xlim(-0.5, (len(values) if grouped else len(names)) - 0.5)
            axis.text(0.5, 0.5, _no_difference_text(metric, table[metric].to_numpy(float)),
                      transform=axis.transAxes, ha="center", va="center", fontsize="large", color="#555555")
            continue
        for k, name in enumerate(names):
            mine = table[table[strategy].astype(str) == name]
            if grouped:
                order = [values.index(v) for v in mine[key]]
                x = np.asarray(order, float) + (k - (len(names) - 1) / 2.0) * bar_width
            else:
                x = np.array([k], float)
            mean = mine[metric].to_numpy(float)
            axis.bar(x, mean, width=bar_width, color=colours[name],
                     yerr=_interval(mine, metric), capsize=4, error_kw={"lw": 1.2}, label=shown[name])
            for at in x[np.isnan(mean)]:  # an outcome undefined for this strategy (e.g. a ratio of nothing): said
                axis.text(at, 0.0, "n/a", ha="center", va="bottom", fontsize="small", color="#555555",
                          transform=axis.get_xaxis_transform())
        axis.set_xlim(-0.5, (len(values) if grouped else len(names)) - 0.5)  # every strategy's place, drawn or not
    what = "Therapies" if therapies else "Strategies"
    if not grouped:
        what = f"{what} compared"
    else:
        what = f"{what} by {_key_name(key)}" if len(names) > 1 else f"{shown[names[0]].capitalize()} by {_key_name(key)}"
        drawn = next((axis for axis in axes if axis.get_legend_handles_labels()[0]), None)
        if len(names) > 1 and drawn is not None:
            fig.legend(*drawn.get_legend_handles_labels(), loc="outside lower center", ncol=min(len(names), 4))
    fig.suptitle(f"{what} ({_spread_words(table, 'interval')}){_held_keys(table, metrics)}")
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
    metrics = _metric_list(metrics)
    x = _arterial_column(table, metrics) if x is None else x
    _check_columns(table, [strategy, x, *metrics])
    table = _totals(table)
    others = [c for c in varied_columns(table, metrics) if c != x]
    if others:  # one line per strategy would zigzag between their values
        raise ValueError(f"the table varies {' and '.join(others)} besides {x}: one line per strategy needs one "
                         "varied key; compare with --vary of the arterial fraction alone (in Python, draw a "
                         "selection of the table's rows)")
    rows, columns = panel_grid(len(metrics), 4.4)
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
                      markersize=line_width(6 + 3 * (len(groups) - 1 - k) / max(len(groups) - 1, 1)), label=labels[str(name)],
                      zorder=2 + k)
            interval = _interval(rows, metric)
            if interval is not None:
                axis.fill_between(xs, mean - interval[0], mean + interval[1], color=colour, alpha=0.2, lw=0)
        title, unit = metric_label(metric)
        axis.set(title=title, ylabel=unit, xlabel="tumour arterial fraction (0-1)")
    axes[0].legend(title=strategy)
    fig.suptitle(f"Outcomes against tumour arterialisation ({_spread_words(table, 'band')}){_held_keys(table, metrics)}")
    return fig
