"""Validation cases: embosim against analytic results and published numbers.

One module per case. Each computes its quantities with embosim, compares them
with a value from ``sim/references.bib`` (cited as ``[Key]`` in the module; docs/references.md), writes a
figure and a table into an output folder and returns a list of
:class:`CaseResult`. :mod:`sim.validation.runner` runs them all (``embosim validate``;
``docs/validation.md``).

Every case module has the same entry point, ``run(out_dir, *, fast=False, liver=None)
-> list[CaseResult]`` (``liver`` only where the case uses the default scenario's
liver, which the runner then shares between cases): ``out_dir`` (str or Path) is
created if needed and receives ``<case>.png``, ``<case>.csv`` and ``<case>.md``;
``fast`` selects coarser livers, fewer particles and fewer replicates; a missing
``liver`` is built from the default scenario (:func:`default_liver`). Each module
also runs alone: ``python -m sim.validation.<case> --out DIR [--fast]``.

Every comparison says what kind of evidence it is (:data:`ROLES`), so that
calibration data and validation data stay apart: a model that reproduces the data
it was calibrated to shows only that the calibration worked.

The modules live in the repository's top-level ``validation/`` folder, next to
``sim/``, and install as ``sim.validation`` (``pyproject.toml`` maps the package to
this folder; no top-level ``validation`` package is installed). They import each
other relatively and ``sim`` absolutely.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CaseResult", "ROLES", "FAST_TERMINAL_DIAMETER_UM", "TABLE_HEADER", "range_case", "table_rows",
           "markdown_table", "write_table", "default_scenario", "default_liver", "new_figure", "save_figure",
           "publish", "module_main"]

#: What a comparison is evidence of: ``check`` (an exact or numerical answer: analytic flow,
#: the scipy reference, a published formula, reproducibility), ``calibration`` (the value is a
#: model input or was calibrated to this very datum: reported, not evidence) and ``validation``
#: (independent published data that set no parameter).
ROLES = ("check", "calibration", "validation")
#: Terminal diameter of the fast validation's livers, um (fine enough to stop 100 um particles).
FAST_TERMINAL_DIAMETER_UM = 80.0
#: Resolution of the validation figures (small PNGs for the repository), dots per inch.
FIGURE_DPI = 80


@dataclass(frozen=True)
class CaseResult:
    """One comparison of an embosim value with a reference.

    Attributes
    ----------
    name : str
        What is compared (with its unit).
    embosim : float
        The model's value.
    reference : str
        The published or derived value, with its source.
    tolerance : str
        What counts as agreement.
    passed : bool
    note : str
        Why the model disagrees, or what the comparison does and does not show.
    role : {"check", "calibration", "validation"}
        What kind of evidence the comparison is (:data:`ROLES`).
    """

    name: str
    embosim: float
    reference: str
    tolerance: str
    passed: bool
    note: str = ""
    role: str = ""

    def __post_init__(self) -> None:  # no default role: a row that forgot it must not become evidence
        if self.role not in ROLES:
            raise ValueError(f"{self.name}: role {self.role!r}; say which: {', '.join(ROLES)}")


def range_case(name: str, ours: float, lo: float, hi: float, source: str, note: str = "", *,
               role: str) -> CaseResult:
    """A comparison that passes when ``lo <= ours <= hi`` (a published range)."""
    return CaseResult(name, float(ours), f"{lo:g}-{hi:g} ({source})", "inside the range", bool(lo <= ours <= hi),
                      note, role)


#: Columns of every validation table.
TABLE_HEADER = ("case", "embosim", "reference", "tolerance", "pass", "role", "note")


def table_rows(results: Sequence[CaseResult]) -> list[list[str]]:
    """One row of text per comparison, in :data:`TABLE_HEADER` order."""
    return [[r.name, f"{r.embosim:.4g}", r.reference, r.tolerance, "yes" if r.passed else "NO", r.role, r.note]
            for r in results]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (``|`` inside cells escaped)."""
    lines = ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |"
             for row in [header, ["---"] * len(header), *rows]]
    return "\n".join(lines) + "\n"


def write_table(results: Sequence[CaseResult], out_dir: Path, stem: str) -> None:
    """Write ``<stem>.csv`` and ``<stem>.md`` into ``out_dir``, one row per comparison."""
    from sim.io import atomic_write, write_text

    rows = table_rows(results)
    with atomic_write(Path(out_dir) / f"{stem}.csv") as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([TABLE_HEADER, *rows])
    write_text(Path(out_dir) / f"{stem}.md", markdown_table(TABLE_HEADER, rows))


def default_scenario(*, fast: bool = False, terminal_diameter_um: float | None = None):
    """The shipped default scenario, at the fast resolution or a given terminal diameter."""
    from sim.catalogue import default_scenario_path
    from sim.scenario import load_scenario

    scenario = load_scenario(default_scenario_path())
    if terminal_diameter_um is None and fast:
        terminal_diameter_um = FAST_TERMINAL_DIAMETER_UM
    if terminal_diameter_um is not None:
        scenario = scenario.with_updates({"liver.terminal_diameter_um": terminal_diameter_um})
    return scenario


def default_liver(scenario=None, *, fast: bool = False):
    """Build the liver (``sim.anatomy.Liver``) of ``scenario``, by default the shipped default scenario.

    ``fast`` sets the terminal diameter to :data:`FAST_TERMINAL_DIAMETER_UM`.
    """
    from sim.anatomy import build_liver

    scenario = scenario or default_scenario()
    if fast:
        scenario = scenario.with_updates({"liver.terminal_diameter_um": FAST_TERMINAL_DIAMETER_UM})
    return build_liver(scenario, progress=False)


def new_figure(nrows: int, ncols: int, *, size: tuple[float, float]):
    """A matplotlib figure and axes on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=size, constrained_layout=True, squeeze=False)


def save_figure(fig, path: Path, title: str) -> None:
    """Give ``fig`` its title, write it as a small PNG and close it."""
    import matplotlib.pyplot as plt

    from sim.io import atomic_write

    fig.suptitle(title, fontsize=10)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi=FIGURE_DPI)
    plt.close(fig)


def publish(fig, results: list[CaseResult], out_dir: str | Path, stem: str, title: str) -> list[CaseResult]:
    """Write a case's figure (``<stem>.png``, titled) and tables into ``out_dir`` (created); return ``results``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out_dir / f"{stem}.png", title)
    write_table(results, out_dir, stem)
    return results


def module_main(run: Callable[..., list[CaseResult]], description: str, stem: str,
                argv: list[str] | None = None) -> int:
    """Command line of one case module: ``python -m sim.validation.<case> --out DIR [--fast]``.

    Prints the case's table; exit status 0 (a disagreement is a finding, not an error).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default="embosim-validation", help="output folder")
    parser.add_argument("--fast", action="store_true", help="coarser livers, fewer particles and replicates")
    args = parser.parse_args(argv)
    run(args.out, fast=args.fast)
    print((Path(args.out) / f"{stem}.md").read_text(encoding="utf-8"))
    return 0
