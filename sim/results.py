"""Results of one simulated procedure and how they are written to disk.

A :class:`RunResult` holds the flat summary (the keys are defined in
``docs/outputs.md``), the time series recorded at every step of the procedure,
the final per-element state and the provenance (version, scenario, seed). It is
written as ``summary.json``, ``timeseries.csv``, ``report.md``, ``scenario.json``,
``deposition.parquet`` (the per-vessel embolic load), ``run_state.npz`` (what figures and
the explorer draw, :mod:`sim.runstate`) and, optionally, figures (:mod:`sim.figures`,
imported only then: this module loads no matplotlib).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .io import atomic_write, staged_folder, write_text
from .scenario import Scenario

__all__ = ["RunResult", "SUMMARY_KEYS", "typed_columns"]

#: Keys every summary carries (docs/outputs.md defines each, with its unit).
SUMMARY_KEYS = (
    "sace_level", "antegrade_flow_fraction", "clearance_time_cycles", "particles_injected",
    "particle_volume_ml", "suspension_volume_ml", "tumour_particle_fraction",
    "tumour_to_normal_deposition_ratio", "tumour_necrosis_fraction", "normal_necrosis_fraction",
    "tumour_devascularised_fraction", "normal_ischaemic_fraction",
    "biliary_ischaemic_fraction", "nontarget_particle_fraction", "nontarget_particles_by_branch",
    "reflux_volume_ml", "arterial_fraction_baseline", "seed", "embosim_version",
    "occluded_vessels", "particles_per_occluded_vessel_mean", "particles_per_occluded_vessel_median",
    "largest_column_particles", "tumour_occluded_vessel_fraction", "injection_time_min", "vials",
)


def _jsonable(value: Any) -> Any:
    """JSON-safe value: numpy scalars to Python, non-finite floats to strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    return value


#: How :func:`_jsonable` writes the non-finite floats, and back.
_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def from_jsonable(summary: dict) -> dict:
    """A summary read back from ``summary.json``: the strings :func:`_jsonable` wrote for non-finite floats are
    floats again (a run that lodged nothing has a NaN median lodging generation; its figures test it with
    ``np.isfinite``)."""
    return {k: _NON_FINITE[v] if isinstance(v, str) and v in _NON_FINITE else v for k, v in summary.items()}


@dataclass
class RunResult:
    """Outcome of :func:`sim.run`.

    Attributes
    ----------
    scenario : Scenario
        The scenario that was run (with the seed actually used).
    summary : dict
        Flat metrics (``SUMMARY_KEYS`` at least), clinical units in the key names.
    timeseries : pandas.DataFrame
        One row per recorded step (injected volume, flow fraction, blush, SACE...).
    state : dict
        Final per-element arrays (lodged particles per vessel, compartment flows...), and ``load`` (the embolic
        load record, a dict), ``prior_load`` (the load the session started from: None or a dict) and ``course``
        (the normal-liver course over sessions, a :class:`sim.interval.Course`).
    report : str
        Markdown report (summary, patient selection, endpoint, outcomes).
    liver : object, optional
        The liver the run used (for figures); not written to disk.
    deposition : pandas.DataFrame, optional
        The per-vessel embolic load (:func:`sim.deposition.deposition_table`), written as
        ``deposition.parquet``.
    dvh : pandas.DataFrame, optional
        SIRT runs: the dose-volume table over compartments (:func:`sim.sirt_run.sirt_readouts`), written as
        ``dvh.csv``.
    """

    scenario: Scenario
    summary: dict[str, Any]
    timeseries: Any
    state: dict[str, np.ndarray] = field(default_factory=dict)
    report: str = ""
    liver: Any = None
    deposition: Any = None
    dvh: Any = None

    def write(self, out_dir: str | Path, *, figures: bool = True, force: bool = True,
              figure_style: str = "slide") -> list[Path]:
        """Write summary.json, timeseries.csv, report.md, scenario.json, deposition.parquet, run_state.npz, figures.

        The files are written into a staging folder that then becomes ``out_dir`` in
        one rename (:func:`sim.io.staged_folder`): a killed process leaves the earlier
        folder or the whole new one, and no file of an earlier run survives beside the
        new ones.

        Parameters
        ----------
        out_dir : str or Path
            Missing, empty, or holding an earlier run (``summary.json``).
        figures : bool
            Also write the run's figures (drawn from the saved state, as ``embosim plot`` does).
        force : bool
            Replace an earlier run in ``out_dir`` (else :class:`sim.io.OutputError`).
        figure_style : {"slide", "paper"}
            Text sizes of the figures (:data:`sim.figures.STYLES`).

        Returns
        -------
        list of Path
            The files written (in ``out_dir``; in a numbered sibling ``out_dir-1``...,
            with a warning, if another process filled ``out_dir`` meanwhile).

        Raises
        ------
        sim.io.OutputError
            ``out_dir`` cannot be written, holds an earlier run and ``force`` is false,
            or holds other files.
        """
        if not isinstance(out_dir, (str, os.PathLike)):
            raise TypeError(f"out_dir: a folder path (str or Path), not {type(out_dir).__name__}")
        out = Path(out_dir)
        with staged_folder(out, marker="summary.json", force=force) as stage:
            names = self._write_files(stage.path, figures=figures, style=figure_style)
        return [stage.final / name for name in names]

    def _write_files(self, out: Path, *, figures: bool, style: str) -> list[str]:
        """Write every output file into ``out`` (each atomically); their names."""
        write_text(out / "summary.json", json.dumps(_jsonable(self.summary), indent=2, sort_keys=True) + "\n")
        with atomic_write(out / "timeseries.csv") as tmp:
            self.timeseries.to_csv(tmp, index=False)
        write_text(out / "report.md", self.report)
        # with the seed used: re-running it re-creates this run
        write_text(out / "scenario.json", json.dumps(self.scenario.model_dump(mode="json"), indent=2) + "\n")
        names = ["summary.json", "timeseries.csv", "report.md", "scenario.json"]
        if self.deposition is not None:
            with atomic_write(out / "deposition.parquet") as tmp:
                self.deposition.to_parquet(tmp, index=False)
            names.append("deposition.parquet")
        if self.dvh is not None:
            with atomic_write(out / "dvh.csv") as tmp:
                self.dvh.to_csv(tmp, index=False)
            names.append("dvh.csv")
        from . import runstate

        arrays = runstate.extract(self)
        runstate.save(out / runstate.FILE, arrays)
        names.append(runstate.FILE)
        if figures:
            from .figures import RunData, write_run_figures

            data = RunData.from_arrays(self.summary, self.timeseries, arrays)
            names += [p.name for p in write_run_figures(data, out, style=style)]
        return names


def typed_columns(table, summaries):
    """``table`` (a pandas DataFrame of runs) with the integer and flag outcomes of ``summaries`` (run summaries, or
    table rows as dicts) as integer and boolean columns: pandas' nullable ``Int64`` and ``boolean`` where a value is
    missing (a failed run), which Parquet keeps.

    Without, a flag column is of objects and an integer one of floats (the SACE level 4 written 4.0; review 52: a
    comparison's ``replicates.csv`` wrote every count so). A column whose values are not all whole numbers keeps its
    floats (a staged strategy's particle-weighted SACE level).
    """
    kinds: dict[str, set[type]] = {}
    for row in summaries:
        for key, value in row.items():
            if value is not None and not (isinstance(value, float) and value != value):
                kinds.setdefault(key, set()).add(bool if isinstance(value, (bool, np.bool_)) else
                                                 int if isinstance(value, (int, np.integer)) else object)
    types = {}
    for name, column in table.items():
        kind = kinds.get(name)
        if kind not in ({bool}, {int}):
            continue
        present = column.dropna().to_numpy(dtype=float)
        if not np.all(present == np.round(present)) or kind == {bool} and not np.isin(present, (0.0, 1.0)).all():
            continue
        missing = bool(column.isna().any())
        types[name] = ("boolean" if missing else "bool") if kind == {bool} else ("Int64" if missing else "int64")
    return table.astype(types)

