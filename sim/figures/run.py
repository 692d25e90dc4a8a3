"""A run (or a liver) as its figures see it: :class:`RunData`, loaded from a run folder by :func:`load_run`.

Loading reads ``summary.json``, ``timeseries.csv`` and ``run_state.npz``
(:mod:`sim.runstate`) with json, pandas and numpy only: no simulation module and
no matplotlib, so the browser explorer can use it too. Every figure is a pure
function of a ``RunData``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import runstate
from ..results import from_jsonable
from ..scenario import ScenarioError

__all__ = ["DRUG_KINDS", "SIRT_KINDS", "TABLE_KINDS", "RunData", "load_run", "load_source", "load_table", "run_data"]

#: Kinds drawn from a comparison table rather than a liver or run.
TABLE_KINDS = ("comparison", "arterialisation")
#: Kinds drawn from a Y-90 run only (its ``sirt/`` arrays, run_state format 2).
SIRT_KINDS = ("dose", "dvh", "maa")
#: Figure kinds of a session that gave doxorubicin (DEB-TACE, cTACE).
DRUG_KINDS = ("drug",)


@dataclass(frozen=True)
class RunData:
    """The saved state of one run (or of a liver before any procedure).

    Attributes
    ----------
    arrays : dict of str to ndarray
        The arrays of ``run_state.npz`` (keys, shapes and units: docs/outputs.md#run-state).
    meta : dict
        Its metadata: ``has_run``, ``title``, ``catheter_vessel``, ``portal_thrombosis``,
        ``sace_bounds``, ``angiogram`` (phase times, extent in mm, injection), versions.
    summary : dict or None
        ``summary.json`` (None for a liver).
    timeseries : pandas.DataFrame or None
        ``timeseries.csv`` (None for a liver).
    path : Path or None
        The run folder it was read from.
    """

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    summary: dict[str, Any] | None = None
    timeseries: Any = None
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def from_arrays(cls, summary, timeseries, arrays: dict[str, np.ndarray], path: Path | None = None) -> RunData:
        """From :func:`sim.runstate.extract` output (its ``"meta"`` JSON parsed)."""
        arrays = dict(arrays)
        meta = json.loads(str(arrays.pop("meta")))
        return cls(arrays=arrays, meta=meta, summary=summary, timeseries=timeseries, path=path)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    @property
    def has_run(self) -> bool:
        """Whether a procedure was run (else the liver's baseline only)."""
        return bool(self.meta["has_run"])

    def require_run(self, what: str) -> None:
        """Raise ValueError naming ``what`` when this holds a liver only."""
        if not self.has_run:
            raise ValueError(f"{what} needs a run result (sim.run or a run folder), not a liver")

    @property
    def has_sirt(self) -> bool:
        """Whether the run saved SIRT doses (a Y-90 run, format 2 or later)."""
        return "sirt/tumour_dose_gy" in self.arrays

    @property
    def states(self) -> tuple[str, ...]:
        """Flow states saved: ``("baseline",)`` or ``("baseline", "final")``."""
        return ("baseline", "final") if self.has_run else ("baseline",)

    @property
    def deposition(self):
        """The per-vessel load table (``deposition.parquet`` of the folder), or None."""
        if self.path is None or not (self.path / "deposition.parquet").exists():
            return None
        import pandas as pd

        return pd.read_parquet(self.path / "deposition.parquet")


def run_data(source) -> RunData:
    """``source`` as a :class:`RunData`: itself, a run folder's (a path: :func:`load_run`), or extracted from a
    RunResult or a Liver (uses the simulation)."""
    if isinstance(source, RunData):
        return source
    if isinstance(source, (str, Path)):
        return load_run(source)
    if not hasattr(source, "scenario"):
        raise TypeError(f"a figure draws a RunData, a run folder's path, a RunResult or a Liver, not "
                        f"{type(source).__name__}")
    arrays = runstate.extract(source)
    if hasattr(source, "summary"):
        return RunData.from_arrays(source.summary, source.timeseries, arrays)
    return RunData.from_arrays(None, None, arrays)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def load_run(run_dir: str | Path, *, rerun: bool = False) -> RunData:
    """The run saved in ``run_dir`` by ``embosim run`` (or ``RunResult.write``), without re-simulating.

    Parameters
    ----------
    run_dir : str or Path
    rerun : bool
        For a folder written by an older embosim (no ``run_state.npz`` of this format
        version): re-run its ``scenario.json`` (same seed) instead of refusing it; the run
        must reproduce the folder's ``summary.json`` (particles, stop reason, SACE level).

    Returns
    -------
    RunData

    Raises
    ------
    ScenarioError
        Not a run folder; an older format without ``rerun`` (:class:`sim.runstate.RunStateError`);
        a re-run that does not reproduce the summary.
    """
    run_dir = Path(run_dir)
    try:
        summary = _read_json(run_dir / "summary.json")
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"not a readable run folder: needs summary.json and {runstate.FILE} as written by "
                            f"'embosim run' ({exc.__class__.__name__})", source=str(run_dir)) from None
    summary = from_jsonable(_checked_summary(summary, run_dir))
    try:
        arrays, meta = runstate.read(run_dir)
        timeseries = _read_timeseries(run_dir)
    except runstate.RunStateError:
        if not rerun:
            raise
        return _rerun(run_dir, summary)
    if "sirt/tumour_dose_gy" in arrays:
        _checked_summary(summary, run_dir, SIRT_SUMMARY_KEYS)
    return RunData(arrays=arrays, meta=meta, summary=summary, timeseries=timeseries, path=run_dir)


#: The summary keys the figures of a run read (``summary.json``; docs/outputs.md), and those of a Y-90 run's.
RUN_SUMMARY_KEYS = ("agent", "antegrade_flow_fraction", "endpoint", "particles_injected", "particles_lodged_in_liver",
                    "sace_level", "stop_reason", "tumour_particle_fraction")
SIRT_SUMMARY_KEYS = ("sirt_activity_delivered_gbq", "sirt_lung_dose_gy", "sirt_lung_shunt_fraction",
                     "sirt_normal_liver_dose_mean_gy", "sirt_spheres_delivered", "sirt_tumour_d70_gy",
                     "sirt_tumour_dose_mean_gy")


def _checked_summary(summary, run_dir: Path, keys=RUN_SUMMARY_KEYS) -> dict:
    """``summary`` when it is a JSON object holding ``keys``; else a :class:`ScenarioError` naming the folder (review
    27: a damaged summary.json gave a KeyError or AttributeError traceback from the figure that read it)."""
    if not isinstance(summary, dict):
        raise ScenarioError(f"summary.json is damaged: a JSON object expected, not {type(summary).__name__}; "
                            f"{runstate.RERUN_HINT}", source=str(run_dir))
    missing = [key for key in keys if key not in summary]
    if missing:
        raise ScenarioError(f"summary.json is damaged: no {', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''}"
                            f" ({len(missing)} key(s) missing); {runstate.RERUN_HINT}", source=str(run_dir))
    return summary


def _read_timeseries(run_dir: Path):
    """The folder's ``timeseries.csv`` with every column of :data:`sim.runstate.TIMESERIES_COLUMNS`; a
    :class:`sim.runstate.RunStateError` when it is missing or damaged."""
    import pandas as pd

    path = run_dir / "timeseries.csv"
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:  # pandas' parser and empty-file errors are ValueErrors
        raise runstate.RunStateError(f"no readable timeseries.csv ({exc.__class__.__name__}); {runstate.RERUN_HINT}",
                                     source=str(run_dir)) from None
    missing = [c for c in runstate.TIMESERIES_COLUMNS if c not in table.columns]
    if missing:
        raise runstate.RunStateError(f"timeseries.csv is damaged: no column {', '.join(missing)}; {runstate.RERUN_HINT}",
                                     source=str(run_dir))
    if table.empty:  # a run records its first angiogram at least
        raise runstate.RunStateError(f"timeseries.csv is damaged: no rows; {runstate.RERUN_HINT}", source=str(run_dir))
    for column in runstate.TIMESERIES_COLUMNS:
        if column != "agent" and not pd.api.types.is_numeric_dtype(table[column]):
            raise runstate.RunStateError(f"timeseries.csv is damaged: column {column} holds text, not numbers; "
                                         f"{runstate.RERUN_HINT}", source=str(run_dir))
    return table


def _rerun(run_dir: Path, summary: dict) -> RunData:
    """Re-run the folder's ``scenario.json`` and check it against ``summary.json``."""
    from ..scenario import parse_scenario
    from ..simulation import run

    try:
        scenario_data = _read_json(run_dir / "scenario.json")
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"cannot re-run: no readable scenario.json ({exc.__class__.__name__})",
                            source=str(run_dir)) from None
    result = run(parse_scenario(scenario_data, source=str(run_dir / "scenario.json")), progress=False)
    keys = ("particles_injected", "stop_reason", "sace_level")
    if any(result.summary[k] != summary.get(k) for k in keys):
        raise ScenarioError(f"re-running scenario.json does not reproduce summary.json "
                            f"({', '.join(f'{k} {result.summary[k]} vs {summary.get(k)}' for k in keys)}): "
                            "written by another version of embosim, or a later session of a staged treatment "
                            "(sim.run(prior=...): its folder does not hold the earlier sessions); run the scenario "
                            "again", source=str(run_dir))
    return run_data(result)


def load_table(path: str | Path):
    """A comparison table (``comparison.csv`` of ``embosim compare``, or a folder holding one).

    Raises
    ------
    ScenarioError
        Unreadable or not a CSV table.
    """
    import pandas as pd

    path = Path(path)
    csv = path / "comparison.csv" if path.is_dir() else path
    try:
        return pd.read_csv(csv)
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"cannot read a comparison table ({exc.__class__.__name__}: {exc})",
                            source=str(csv)) from None


def load_source(source: str | Path | None, kind: str, *, rerun: bool = False):
    """What a figure kind is drawn from, given a path or a shipped scenario name.

    * ``TABLE_KINDS``: a comparison CSV or a folder holding ``comparison.csv``
      (``None``: ``embosim-compare``, the folder ``embosim compare`` writes by default);
    * a run folder: its saved state (:func:`load_run`; never re-simulated unless ``rerun``
      and the folder is of an older format);
    * otherwise a scenario file or shipped name (``None``: the default scenario):
      its liver for ``tree`` (no procedure needed), else the run of the scenario.

    Raises
    ------
    ScenarioError
        Unreadable or invalid input, naming the file.
    """
    from ..catalogue import resolve_scenario
    from ..scenario import load_scenario

    if kind in TABLE_KINDS:
        return load_table(Path(source) if source is not None else Path("embosim-compare"))
    if source is not None and Path(source).is_dir():
        return load_run(source, rerun=rerun)
    if source is not None and Path(source).is_file() and (Path(source).parent / runstate.FILE).is_file() \
            and Path(source).name != "scenario.json" and Path(source).suffix.lower() != ".toml":  # (review 28: a
        # summary.json was read as a scenario and 60 unknown keys listed; a scenario file kept there is one)
        raise ScenarioError(f"a file of a run folder, not a scenario: give the folder ({Path(source).parent})",
                            source=str(source))
    path = resolve_scenario(source)
    scenario = load_scenario(path)
    try:  # errors found on the built liver (a catheter vessel this anatomy lacks, say) name the file too
        if kind == "tree":
            from ..anatomy import build_liver

            return run_data(build_liver(scenario))
        from ..simulation import run

        return run_data(run(scenario, progress=False))
    except ScenarioError as exc:
        raise exc.with_source(str(path)) from None
