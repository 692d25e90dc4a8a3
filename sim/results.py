"""Results of one simulated procedure and how they are written to disk.

A :class:`RunResult` holds the flat summary (the keys are defined in
``docs/outputs.md``), the time series recorded at every step of the procedure,
the final per-element state and the provenance (version, scenario, seed). It is
written as ``summary.json``, ``timeseries.csv``, ``report.md`` and, optionally,
figures.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .scenario import Scenario

__all__ = ["RunResult", "SUMMARY_KEYS"]

#: Keys every summary carries (docs/outputs.md defines each, with its unit).
SUMMARY_KEYS = (
    "sace_level", "antegrade_flow_fraction", "clearance_time_cycles", "particles_injected",
    "particle_volume_ml", "suspension_volume_ml", "tumour_particle_fraction",
    "tumour_to_normal_deposition_ratio", "tumour_necrosis_fraction", "normal_necrosis_fraction",
    "tumour_devascularised_fraction", "normal_ischaemic_fraction",
    "biliary_ischaemic_fraction", "nontarget_particle_fraction", "nontarget_particles_by_branch",
    "reflux_volume_ml", "arterial_fraction_baseline", "seed", "embosim_version",
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
    state : dict of ndarray
        Final per-element arrays (lodged particles per vessel, compartment flows...).
    report : str
        Markdown report (summary, patient selection, endpoint, outcomes).
    liver : object, optional
        The liver the run used (for figures); not written to disk.
    """

    scenario: Scenario
    summary: dict[str, Any]
    timeseries: Any
    state: dict[str, np.ndarray] = field(default_factory=dict)
    report: str = ""
    liver: Any = None

    def write(self, out_dir: str | Path, *, figures: bool = True) -> list[Path]:
        """Write summary.json, timeseries.csv, report.md (and figures) into ``out_dir``.

        Returns
        -------
        list of Path
            The files written.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        summary_path = out / "summary.json"
        summary_path.write_text(json.dumps(_jsonable(self.summary), indent=2, sort_keys=True) + "\n")
        written.append(summary_path)
        series_path = out / "timeseries.csv"
        self.timeseries.to_csv(series_path, index=False)
        written.append(series_path)
        report_path = out / "report.md"
        report_path.write_text(self.report)
        written.append(report_path)
        scenario_path = out / "scenario.json"  # with the seed used: re-running it re-creates this run
        scenario_path.write_text(json.dumps(self.scenario.model_dump(mode="json"), indent=2) + "\n")
        written.append(scenario_path)
        if figures:
            from .plot import write_run_figures

            written.extend(write_run_figures(self, out))
        return written
