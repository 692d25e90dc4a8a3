"""Run every validation case and write one report: ``embosim validate [--fast] [--out DIR]``.

The cases (one module each in this package) run in a fixed order on shared inputs
(one liver of the default scenario, built once: terminal diameter 50 um, or 80 um
with ``fast``). Each writes its figure ``<case>.png`` and tables ``<case>.csv`` /
``<case>.md`` into the output folder; :func:`run_all` adds ``validation.md`` (the
report) and ``validation.csv`` (every comparison). A disagreement with the
literature is a finding, reported with its reason; a case that raises is an error,
reported and counted, and the other cases still run.

``python -m sim.validation.runner --docs`` runs the full validation and writes
``docs/validation.md`` with its figures in ``docs/figures/validation/`` (the
committed record of the last full run).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import sim

from . import (
    ROLES,
    TABLE_HEADER,
    CaseResult,
    analytic,
    convergence,
    default_liver,
    deposition,
    doxorubicin,
    embolic_load,
    endpoints,
    hemodynamics,
    lipiodol,
    lodging,
    markdown_table,
    morphometry,
    particle_split,
    reference_solver,
    sirt_maa_y90,
    sirt_stasis,
    sirt_workup,
    table_rows,
    viscosity,
)

__all__ = ["Case", "CaseOutcome", "ValidationReport", "CASES", "run_all", "format_table", "render_report", "main"]


class Shared:
    """Inputs several cases use, built on first use: the default scenario's liver."""

    def __init__(self, out_dir: Path, fast: bool):
        self.out_dir = out_dir
        self.fast = fast

    @cached_property
    def liver(self):
        """The default scenario's liver (terminal diameter 80 um with ``fast``, else 50 um)."""
        return default_liver(fast=self.fast)


@dataclass(frozen=True)
class Case:
    """One validation case: its module (figure ``<key>.png``), a title and how to run it on :class:`Shared`."""

    key: str
    title: str
    run: Callable[[Shared], list[CaseResult]]


CASES = (
    Case("analytic", "Analytic flow: Poiseuille tube, Murray tree, network with a cycle",
         lambda s: analytic.run(s.out_dir, fast=s.fast)),
    Case("reference_solver", "O(N) two-port solver against the scipy sparse reference",
         lambda s: reference_solver.run(s.out_dir, fast=s.fast)),
    Case("viscosity", "Pries in vivo viscosity check values", lambda s: viscosity.run(s.out_dir, fast=s.fast)),
    Case("hemodynamics", "Baseline dual supply, pressure cascade and HABR after main PVT",
         lambda s: hemodynamics.run(s.out_dir, liver=s.liver)),
    Case("morphometry", "Morphometry: Murray's law, branching exponent, diameter and length per generation, segments",
         lambda s: morphometry.run(s.out_dir, liver=s.liver)),
    Case("lodging", "Lodging depth of 100-300 um vs 40-120 um microspheres (full runs)",
         lambda s: lodging.run(s.out_dir, fast=s.fast, liver=s.liver)),
    Case("particle_split", "Particle split against flow split ([Bomberna2022])",
         lambda s: particle_split.run(s.out_dir, fast=s.fast, liver=s.liver)),
    Case("endpoints", "Endpoint thresholds against contrast clearance",
         lambda s: endpoints.run(s.out_dir, fast=s.fast, liver=s.liver)),
    Case("deposition", "Tumour-to-normal deposition ratio against MAA (vascularity x arterial fraction grid)",
         lambda s: deposition.run(s.out_dir, fast=s.fast)),
    Case("sirt_workup", "SIRT work-up: MAA tumour-to-normal ratio and lung shunt fraction",
         lambda s: sirt_workup.run(s.out_dir, fast=s.fast, liver=s.liver)),
    Case("sirt_maa_y90", "SIRT: MAA work-up vs delivered Y-90 T/N from the same position ([Piasecki2015])",
         lambda s: sirt_maa_y90.run(s.out_dir, fast=s.fast)),
    Case("sirt_stasis", "SIRT: premature stasis of resin against glass in lobar treatments (tumour burden 5-50%)",
         lambda s: sirt_stasis.run(s.out_dir, fast=s.fast)),
    Case("embolic_load", "Embolic load: volume to sluggish flow and stasis, particles per vessel, flow against volume",
         lambda s: embolic_load.run(s.out_dir, fast=s.fast, liver=s.liver)),
    Case("convergence", "Convergence: particle batches, recording chunks, tree resolution",
         lambda s: convergence.run(s.out_dir, fast=s.fast, liver=s.liver)),
    Case("lipiodol", "cTACE: portal opacification against Lipiodol volume ([Nakamura1988PortalOil])",
         lambda s: lipiodol.run(s.out_dir, fast=s.fast, liver=s.liver)),
    Case("doxorubicin", "TACE: plasma doxorubicin peak, DEB against cTACE ([Varela2007])",
         lambda s: doxorubicin.run(s.out_dir, fast=s.fast)),
)


@dataclass(frozen=True)
class CaseOutcome:
    """What one case returned (or the error it raised) and how long it took."""

    case: Case
    results: list[CaseResult]
    seconds: float
    error: str = ""


@dataclass
class ValidationReport:
    """Every case's outcome, with the run's settings."""

    outcomes: list[CaseOutcome]
    fast: bool
    seconds: float
    started: str
    files: list[Path] = field(default_factory=list)

    @property
    def errors(self) -> list[CaseOutcome]:
        """Cases that raised."""
        return [o for o in self.outcomes if o.error]

    def count(self, role: str) -> tuple[int, int]:
        """(passed, total) comparisons of one role."""
        rows = [r for o in self.outcomes for r in o.results if r.role == role]
        return sum(r.passed for r in rows), len(rows)


#: A worker process's :class:`Shared`, by output folder and ``fast`` (its liver built once per process).
_PROCESS_SHARED: dict[tuple[str, bool], Shared] = {}


def _run_case(case: Case, out_dir: Path, fast: bool, shared: Shared | None = None) -> tuple[list[CaseResult], float, str]:
    """Run one case: its results, its time (s) and the traceback of what it raised ("" if nothing: a broken case is
    reported and counted, the others still run). ``shared``: the run's :class:`Shared`; None in a worker process (its
    own, kept for the cases it runs next)."""
    if shared is None:
        shared = _PROCESS_SHARED.setdefault((str(out_dir), fast), Shared(out_dir, fast))
    t = time.perf_counter()
    try:
        return case.run(shared), time.perf_counter() - t, ""
    except Exception:  # noqa: BLE001 (reported with the case, see above)
        return [], time.perf_counter() - t, traceback.format_exc()


def run_all(out_dir: str | Path, *, fast: bool = False, echo: Callable[[str], None] | None = None,
            cases: tuple[Case, ...] = CASES, workers: int = 1) -> ValidationReport:
    """Run the cases, write ``validation.md`` and ``validation.csv`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Created if needed; receives every case's figure and tables and the report, all at once
        (an earlier validation there is replaced whole; a folder holding other files is refused).
    fast : bool, optional
        Coarser livers, fewer particles and replicates (1-2 minutes on one core).
    echo : callable, optional
        Receives one progress line per case (e.g. ``print``).
    cases : tuple of Case, optional
        Default: :data:`CASES`.
    workers : int, optional
        Processes running cases side by side (1: one after the other, in this process). Each case is seeded by
        itself, so the results do not depend on it; each worker builds the shared liver once.

    Returns
    -------
    ValidationReport
    """
    from sim.io import staged_folder

    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    outcomes = []
    # the report is written whole: a staging folder that replaces an earlier validation of out_dir in one
    # rename, so no figure or table of an earlier run survives beside the new ones
    with staged_folder(out_dir, marker="validation.md", force=True) as stage:
        if workers > 1 and len(cases) > 1:
            # loky's executor, as the sweeps' (joblib.Parallel would take over a sweep's executor in this process)
            from joblib.externals.loky import get_reusable_executor

            executor = get_reusable_executor(max_workers=min(workers, len(cases)))
            futures = [executor.submit(_run_case, case, stage.path, fast) for case in cases]
            runs = (future.result() for future in futures)
        else:
            shared = Shared(stage.path, fast)
            runs = (_run_case(case, stage.path, fast, shared) for case in cases)
        for i, (case, (results, seconds, error)) in enumerate(zip(cases, runs, strict=True), 1):
            outcome = CaseOutcome(case, results, seconds, error)
            outcomes.append(outcome)
            if echo is not None:
                passed = sum(r.passed for r in outcome.results)
                status = "ERROR" if outcome.error else f"{passed}/{len(outcome.results)} pass"
                echo(f"[{i:2d}/{len(cases)}] {case.key:<17} {status:<10} {outcome.seconds:6.1f} s")
                if outcome.error:
                    echo(outcome.error)
        report = ValidationReport(outcomes, fast, time.perf_counter() - t0, started)
        write_report(report, stage.path)
    final = Path(stage.final)
    report.files = sorted(p for p in final.iterdir() if p.suffix in (".md", ".csv", ".png"))
    return report


def format_table(report: ValidationReport, *, width: int = 60) -> str:
    """The comparisons as a plain-text table (case, embosim, reference, tolerance, pass), cells cut at ``width``."""

    def cut(text: str, n: int) -> str:
        return text if len(text) <= n else text[:n - 3] + "..."

    header = ("case", "embosim", "reference", "tolerance", "pass")
    rows = []
    for o in report.outcomes:
        rows.append((f"[{o.case.key}]", "", "", "", "ERROR" if o.error else ""))
        rows += [(cut(r.name, width), f"{r.embosim:.4g}", cut(r.reference, width), cut(r.tolerance, 24),
                  "yes" if r.passed else "NO") for r in o.results]
    widths = [max(len(row[k]) for row in (header, *rows)) for k in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + ["", _summary_line(report)]) + "\n"


def _summary_line(report: ValidationReport) -> str:
    parts = [f"{role}: {p}/{n} pass" for role in ROLES for p, n in [report.count(role)]]
    parts.append(f"errors: {len(report.errors)}")
    return f"{'; '.join(parts)} ({report.seconds:.0f} s, {'fast' if report.fast else 'full'} run)"


#: Calibrated parameters: (key path, scenario section model, validation data kept apart from it).
#: The default, unit and calibration source are read from the scenario model (one source of truth).
CALIBRATED = (
    ("flow.normal_arterial_fraction", "FlowConfig",
     "- (CT hepatic perfusion index 15-16% [Miles2000CTPerfusion] disagrees with the input: a calibration row)"),
    ("flow.total_flow_ml_min_kg", "FlowConfig",
     "- (CT perfusion 1.22-1.47 mL/min/mL [Miles2000CTPerfusion] disagrees with the input: a calibration row)"),
    ("flow.sinusoid_gradient_mmHg", "FlowConfig",
     "sinusoid vs portal venule (cat, [Cat1986SinusoidPressure]); arterial back-pressure 13.4 mmHg ([Ayuse1994])"),
    ("flow.habr.buffer_efficiency", "HabrConfig", "- (that PVT raises arterial dependence holds by construction: a check)"),
    ("flow.habr.max_arterial_ratio", "HabrConfig", "-"),
    ("tumours.vascularity", "TumourConfig", "MAA tumour-to-normal ratio 2.3-3.6 ([Piasecki2015])"),
    ("tumours.arterial_fraction", "TumourConfig", "(unverified: swept 0.7-1.0 against the MAA ratio)"),
    ("liver.murray_exponent", "LiverConfig",
     "cast radii and lengths per generation ([Debbaut2014]); the lodging depth's band is derived from the model's own "
     "rules ([LodgingDepthDerived]): a check"),
    ("liver.segment_fractions", "LiverConfig", "-"),
    ("agent.deformability", "AgentConfig",
     "- (the vessels 100-300 um spheres wedge in [JVIR2013Lodging] [RabbitMesenteryLodging] are inside the published "
     "spread for any deformability 0-0.2: no constraint; the in-tissue deformation published, 9-12% [JVIR2013Lodging] "
     "[InvestRadiol2006Deformation], is below the default: a disagreement)"),
    ("agent.seal_porosity", "AgentConfig",
     "- (particles per occluded vessel [JVIR2004Occlusion] is 1 for any seal porosity 0.05-0.5, a validation of "
     "the column length, not of this parameter; flow against volume [Sauret2018] is qualitative and the swine lobes "
     "per litre follow from the calibrated volume: checks)"),
    ("procedure.sluggish_flow_reduction", "ProcedureConfig",
     "- (the clearance times it implies are compared with [TIMIGrades] in rows whose band is the model's own: checks)"),
    ("procedure.stasis_flow_reduction", "ProcedureConfig",
     "- (the clearance at the SACE IV endpoint is required by the SACE rule itself: a check)"),
)


#: Heading text of the calibration table.
CALIBRATION_INTRO = ("What the model was calibrated to, and the validation data kept apart from it. The Murray anchors "
                     "of the trees (proper hepatic artery 4.5 mm, main portal vein 11 mm; docs/anatomy.md) are "
                     "calibrated too.")


def calibration_table() -> str:
    """Markdown table of :data:`CALIBRATED` with defaults and sources from ``sim.scenario``."""
    import sim.scenario as scenario_models

    rows = []
    for path, model, kept_apart in CALIBRATED:
        info = getattr(scenario_models, model).model_fields[path.rsplit(".", 1)[1]]
        extra = info.json_schema_extra
        rows.append([f"`{path}`", str(info.default), extra["unit"], extra["source"], kept_apart])
    header = ("parameter", "default", "unit", "calibrated to (source)", "validated against (not used to calibrate)")
    return markdown_table(header, rows)


PREAMBLE = """\
Each case computes a quantity with embosim, compares it with an analytic answer or a
published value and tolerance from `sim/references.bib` (the source is cited in
the case's module, `validation/<case>.py`), and writes a figure. Every comparison has a
role:

* **check**: an exact or numerical answer (closed-form flow, the scipy reference, a
  published formula, reproducibility, convergence), or a comparison that holds by the
  model's construction (a band derived from its own rules, a quantity that follows from a
  calibrated one): it shows the code does what the model says, and is no evidence;
* **calibration**: the value is a model input or was calibrated to this very datum (also when
  compared with another source); it shows only that the calibration worked, and is no evidence;
* **validation**: independent published data that set no parameter.

Where embosim disagrees with the literature the table says so and the note says why;
no parameter was tuned to make a case pass.

Run it with `embosim validate [--fast] [--workers N] [--case KEY] [--out DIR]` (exit status 0
whatever the agreement; 1 only if a case raised; `--workers` runs cases side by side, the
same results; `--case KEY`, repeatable, runs only those cases: the keys are the `module`
column of `validation.csv`). The cases live in the repository's top-level
`validation/` folder (one module per case, `validation/runner.py` runs them), which
installs as the subpackage `sim.validation` (a wheel carries it; an editable install
maps it to the checkout). `docs/validation.md` is this report for the
last full run, regenerated with `python -m sim.validation.runner --docs` from the
repository root.
"""


def render_report(report: ValidationReport, *, figure_prefix: str = "") -> str:
    """The Markdown report: settings, calibration, all comparisons, disagreements, one section per case."""
    mode = "fast (`embosim validate --fast`)" if report.fast else "full (`embosim validate`)"
    lines = ["# embosim validation", "", PREAMBLE,
             f"Run: {mode}, embosim {sim.__version__}, {report.started}. {_summary_line(report)}.", "",
             "## Calibrated parameters", "",
             CALIBRATION_INTRO, "", calibration_table(), "## All comparisons", ""]
    rows = [[o.case.key, *row] for o in report.outcomes for row in table_rows(o.results)]
    lines.append(markdown_table(("module", *TABLE_HEADER[:-1]), [row[:-1] for row in rows]))
    failed = [(o.case.key, r) for o in report.outcomes for r in o.results if not r.passed]
    lines += ["## Disagreements and why", ""]
    lines += [f"* **{key}: {r.name}** ({r.role}): embosim {r.embosim:.4g}, reference {r.reference}. {r.note}"
              for key, r in failed] or ["None."]
    lines.append("")
    for o in report.outcomes:
        lines += [f"## {o.case.title}", "", f"Module `validation/{o.case.key}.py`, {o.seconds:.1f} s.", ""]
        if o.error:
            lines += ["**Error**:", "", "```", o.error.rstrip(), "```", ""]
            continue
        lines += [f"![{o.case.key}]({figure_prefix}{o.case.key}.png)", ""]
        notes = [f"* {r.name}: {r.note}" for r in o.results if r.note and r.passed]
        lines += (["Notes:", "", *notes, ""] if notes else [])
    return "\n".join(lines)


def write_report(report: ValidationReport, out_dir: Path) -> list[Path]:
    """Write ``validation.md`` and ``validation.csv``; returns every file of ``out_dir`` the run wrote."""
    from sim.io import atomic_write, write_text

    write_text(out_dir / "validation.md", render_report(report))
    with atomic_write(out_dir / "validation.csv") as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("module", *TABLE_HEADER)]
                                 + [[o.case.key, *row] for o in report.outcomes for row in table_rows(o.results)])
    return sorted(p for p in out_dir.iterdir() if p.suffix in (".md", ".csv", ".png"))


#: Where ``--docs`` writes the report and its figures (relative to the repository root).
DOCS_REPORT, DOCS_FIGURES = Path("docs/validation.md"), Path("docs/figures/validation")


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.validation.runner [--fast] [--out DIR] [--workers N] [--docs]``; exit 1 only if a case raised."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="coarser livers, fewer particles and replicates")
    parser.add_argument("--out", default="embosim-validation", help="output folder")
    parser.add_argument("--workers", type=int, default=1, help="processes running cases side by side (default 1)")
    parser.add_argument("--docs", action="store_true",
                        help=f"write {DOCS_REPORT} and the figures in {DOCS_FIGURES} (run from the repository root)")
    args = parser.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="embosim-validation-")) if args.docs else Path(args.out)
    if args.workers < 1:
        parser.error(f"--workers: at least 1 (got {args.workers})")
    report = run_all(out, fast=args.fast, echo=print, workers=args.workers)
    print(format_table(report))
    if args.docs:
        DOCS_FIGURES.mkdir(parents=True, exist_ok=True)
        for o in report.outcomes:
            if not o.error:
                shutil.copy(out / f"{o.case.key}.png", DOCS_FIGURES / f"{o.case.key}.png")
        prefix = DOCS_FIGURES.relative_to(DOCS_REPORT.parent).as_posix() + "/"
        DOCS_REPORT.write_text(render_report(report, figure_prefix=prefix), encoding="utf-8")
        shutil.rmtree(out)
    return 1 if report.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
