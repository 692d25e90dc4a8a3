"""The ``embosim`` command line (Typer).

Thin: each command parses its arguments, calls library functions and prints.
A new subcommand is one function decorated with ``@app.command()``; take the
scenario as ``scenario: ScenarioArg = None`` and load it with
:func:`_load_scenario`.

Bad input anywhere (a :class:`~sim.scenario.ScenarioError` from loading or from
deeper code, or a command-line usage error such as a bad ``--seed``) prints one
line ``embosim: error: <file>: <key path>: <what is allowed>`` on stderr and exits
with status 2, never a traceback. The one place that does this is
:class:`_EmbosimGroup`. Other exceptions are bugs and keep their traceback.

Heavy modules (the simulation, Numba kernels, plotting) are imported inside the
commands that need them, so ``embosim --help`` stays fast.
"""

from __future__ import annotations

import math
import numbers
import signal
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from typer.core import TyperGroup

from . import __version__
from .catalogue import (
    DEFAULT_SCENARIO,
    list_docs,
    list_scenarios,
    resolve_doc,
    resolve_scenario,
    resolve_sweep_spec,
    scenarios_dir,
    sweeps_dir,
)
from .io import check_output_folder, check_writable
from .limits import SizeWarning, allow_large, check_particles_size
from .scenario import Scenario, ScenarioError, load_scenario
from .selection import assess_patient
from .strategies import STRATEGY_NAMES

__all__ = ["app", "main"]

#: Exit status for bad input (as for command-line usage errors).
EXIT_BAD_INPUT = 2


def _click_class(name: str) -> type[Exception]:
    """A base class of ``typer.BadParameter`` by name: the click Typer uses (recent Typer vendors its own)."""
    return next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == name)


_ClickException = _click_class("ClickException")
_UsageError = _click_class("UsageError")


#: The scenario file the running command loaded: named in a ScenarioError raised later without a file
#: (anatomy-level checks on the built liver, the catheter's position on it).
_SCENARIO_FILE: ContextVar[str] = ContextVar("embosim_scenario_file", default="")


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Turn bad input into one line on stderr and exit status 2 (size warnings into one line too)."""
    token = _SCENARIO_FILE.set("")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", SizeWarning)
            shown = warnings.showwarning
            said: set[str] = set()

            def show(message, category, *args, **kwargs) -> None:  # a size warning as one line, each line once
                if issubclass(category, SizeWarning):
                    if str(message) not in said:  # (a sweep's points of one size say the same)
                        said.add(str(message))
                        typer.echo(f"embosim: warning: {message}", err=True)
                else:
                    shown(message, category, *args, **kwargs)

            warnings.showwarning = show
            yield
    except (ScenarioError, _ClickException) as exc:
        if isinstance(exc, ScenarioError):
            exc = exc.with_source(_SCENARIO_FILE.get())
        message = exc.format_message() if isinstance(exc, _ClickException) else str(exc)
        if isinstance(exc, _UsageError) and exc.ctx is not None:
            message += f" (see '{exc.ctx.command_path} --help')"
        typer.echo(f"embosim: error: {' '.join(message.split())}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except MemoryError as exc:  # past the size limits (--allow-large): no traceback either
        typer.echo(f"embosim: error: not enough memory for this step ({' '.join(str(exc).split()) or 'MemoryError'}); "
                   "the size limits refuse such steps before they start unless --allow-large is given", err=True)
        raise typer.Exit(1) from None
    finally:
        _SCENARIO_FILE.reset(token)


class _EmbosimGroup(TyperGroup):
    """The command group; parsing and running pass through :func:`_one_line_errors`.

    ``make_context`` parses the top-level options; ``invoke`` parses the
    subcommand's arguments and runs it.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> typer.Context:
        with _one_line_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: typer.Context) -> Any:
        with _one_line_errors():
            return super().invoke(ctx)


app = typer.Typer(
    name="embosim",
    cls=_EmbosimGroup,
    epilog="Scenario keys: embosim docs scenario-reference. Shipped scenarios: embosim scenarios. Pages: embosim docs.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ScenarioArg = Annotated[
    str | None,
    typer.Argument(
        help=f"Scenario TOML file, or the name of a shipped scenario (embosim scenarios). "
             f"Default: {DEFAULT_SCENARIO}.",
        show_default=False,
    ),
]


def _finite(low: float, high: float):
    """Option callback: a finite number from ``low`` to ``high`` (the options' own range check calls ``nan`` and
    ``inf`` out of range, naming a bound)."""
    def check(value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise typer.BadParameter(f"must be a finite number from {low:g} to {high:g} (got {value})")
        return value

    return check


def _whole(low: int, high: int):
    """Option callback: a whole number from ``low`` to ``high``, the value given named when it is outside (review 50:
    the range check's "Input should be greater than or equal to 10000" did not say what was given)."""
    def check(value: int | None) -> int | None:
        if value is not None and not low <= value <= high:
            raise typer.BadParameter(f"must be a whole number from {low} to {high} (got {value})")
        return value

    return check


def _version(value: bool) -> None:
    if value:
        typer.echo(f"embosim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Hemodynamic simulator of trans-arterial embolisation of the liver."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


def _load_scenario(scenario: str | None) -> tuple[Path, Scenario]:
    """Resolve a file or shipped name (``None``: the default) and load it."""
    path = resolve_scenario(scenario)
    config = load_scenario(path)
    _SCENARIO_FILE.set(str(path))
    return path, config


AllowLarge = Annotated[bool, typer.Option(
    "--allow-large", help="Run even when the size estimate (memory, time) is above the limits (embosim docs sweeps).")]


def _check_sizes(config: Scenario, path: Path, allowed: bool, *, procedure: bool = True) -> None:
    """Refuse a liver too large to build or, when the command runs the scenario's ``procedure``, too many particles,
    before anything is written (the build warns)."""
    from .anatomy.liver import check_build_size

    if procedure:
        check_particles_size(config, allow_large=allowed, source=str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SizeWarning)
        check_build_size(config, allow_large=allowed, source=str(path))


def _make_output_dir(out: Path) -> None:
    """Create the output folder up front and write a probe file, so an unwritable ``--out`` fails before the run."""
    check_writable(out, option="--out")


ForceOption = Annotated[bool, typer.Option("--force", help="Replace the earlier output in --out (all its files).")]


def _note_first_compile() -> None:
    """One line on stderr when the simulation's Numba kernels are not in their on-disk cache (the first run after
    installing, or after an edit of ``sim/kernels``): the run then compiles them first, which takes minutes."""
    from .kernels import is_cached
    from .kernels.transport import transport

    if not is_cached(transport):
        typer.echo("The Numba kernels are not compiled yet (first run after installing): compiling them first, about "
                   "two minutes on one core, once; later runs load them from their cache.", err=True)


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    """The scalar entries of a run summary, one per line (nested ones are in summary.json)."""
    lines = []
    for key, value in summary.items():
        if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
            lines.append(f"  {key}: {'n/a' if math.isnan(value) else format(value, '.4g')}")  # NaN: undefined
        elif isinstance(value, str | numbers.Number):
            lines.append(f"  {key}: {value}")
    return lines


@app.command()
def run(
    scenario: ScenarioArg = None,
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False, help="Folder for the outputs.")] = Path(
        "embosim-out"),
    seed: Annotated[int | None, typer.Option(min=0, help="Seed of the procedure (overrides procedure.seed).",
                                             show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Write the figures.")] = True,
    style: Annotated[Literal["slide", "paper"], typer.Option("--style", help=(
        "Figures for slides (large text) or paper (small text)."))] = "slide",
    force: ForceOption = False,
    allow_large_: AllowLarge = False,
) -> None:
    """Run a scenario and write its report, time series and figures."""
    path, config = _load_scenario(scenario)
    if seed is not None:
        config = config.with_updates({"procedure.seed": seed})
    _check_sizes(config, path, allow_large_)
    check_output_folder(out, marker="summary.json", force=force, create=False)
    typer.echo(f"Scenario: {config.title} ({path})")
    typer.echo(f"Patient selection: {assess_patient(config).headline} (details: embosim check-patient)")
    from .simulation import run as simulate  # heavy: anatomy, flow, Numba kernels

    _note_first_compile()
    with allow_large(allow_large_):
        result = simulate(config, rng=seed, progress=not quiet)
    written = result.write(out, figures=figures, force=force, figure_style=style)
    typer.echo(f"Wrote {len(written)} files to {written[0].parent if written else out}:")
    typer.echo("\n".join(f"  {p}" for p in written))
    typer.echo("Summary:")
    typer.echo("\n".join(_summary_lines(result.summary)))


@app.command()
def scenarios(name: Annotated[str | None, typer.Argument(
        help="A shipped scenario or sweep specification: print its TOML (to start your own: embosim scenarios main_pvt "
             "> my_case.toml; embosim scenarios size_arterialisation_catheter > my_sweep.toml).",
        show_default=False)] = None) -> None:
    """List the shipped scenarios (name and title) and sweep specifications, or print one's TOML file."""
    if name is not None:
        with _one_line_errors():
            path = scenarios_dir() / (Path(name).stem + ".toml")
            if not path.is_file():  # a shipped sweep specification of that name
                path = sweeps_dir() / (Path(name).stem + ".toml")
            if Path(name).parent != Path(".") or Path(name).suffix not in ("", ".toml") or not path.is_file():
                resolve_scenario(name)  # a bare name that is no shipped scenario: its message (close ones named)
                raise ScenarioError(f"no shipped scenario {name!r}; the names: embosim scenarios", path="NAME")
            typer.echo(path.read_text(encoding="utf-8"), nl=False)
        return
    rows = list_scenarios()
    width = max(len(name) for name, _ in rows)
    for name, title in rows:
        mark = "  (default)" if name == DEFAULT_SCENARIO else ""
        typer.echo(f"{name:<{width}}  {title}{mark}")
    specs = sorted(p.stem for p in sweeps_dir().glob("*.toml"))
    if specs:  # after the scenarios, so that a script reading name-title lines can stop at the blank line
        typer.echo(f"\nsweep specifications (embosim sweep NAME; embosim scenarios NAME prints one): {', '.join(specs)}")


@app.command()
def docs(page: Annotated[str | None, typer.Argument(help="A page, e.g. scenario-reference, outputs, sirt; none: "
                                                         "list them.", show_default=False)] = None) -> None:
    """Print a documentation page (Markdown; installed with the package), or list the pages."""
    with _one_line_errors():
        if page is None:
            typer.echo("\n".join(list_docs()))
            return
        typer.echo(resolve_doc(page).read_text(encoding="utf-8"))


@app.command("check-patient")
def check_patient(
    scenario: ScenarioArg = None,
    severity: Annotated[list[str] | None, typer.Option(
        metavar="RULE=SEVERITY", show_default=False,
        help="Weigh a rule differently from the seed, e.g. pvt_segmental=relative (documented alternatives: "
             "embosim docs patient-selection); repeatable.")] = None,
) -> None:
    """Check the scenario's patient against the selection rules (exit 0 whatever the verdict)."""
    pairs = [item.partition("=") for item in severity or []]
    try:
        if any(not sep for _, sep, _ in pairs):
            raise ValueError("expected RULE=SEVERITY")
        overrides = {rule.strip(): level.strip() for rule, _, level in pairs}
        if len(overrides) < len(pairs):  # (the last had silently won, review 27)
            twice = next(rule.strip() for k, (rule, _, _) in enumerate(pairs)
                         if rule.strip() in (r.strip() for r, _, _ in pairs[:k]))
            raise ValueError(f"rule {twice!r} given twice; give each rule once")
        assess_patient(Scenario(), severities=overrides)  # check the overrides before reading the scenario
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--severity'") from None
    _, config = _load_scenario(scenario)
    typer.echo(assess_patient(config, severities=overrides).to_text(), nl=False)


@app.command()
def plan(
    scenario: ScenarioArg = None,
    mird_gy: Annotated[float, typer.Option("--mird-gy", callback=_finite(1.0, 1000.0), help=(
        "Mean dose of the perfused tissue for the MIRD plan, Gy (model assumption 120 Gy, embosim docs sirt)."))] = 120.0,
    tumour_gy: Annotated[float, typer.Option("--tumour-gy", callback=_finite(1.0, 2000.0), help=(
        "Mean dose of the territory's viable tumour for the partition plan, Gy (model assumption 120 Gy)."))] = 120.0,
    particles: Annotated[int, typer.Option("--maa-particles", callback=_whole(10_000, 10_000_000), help=(
        "MAA particles of the simulated work-up, 10000 to 10000000."))] = 400_000,
    json_out: Annotated[Path | None, typer.Option("--json", dir_okay=False, help=(
        "Also write the plans as JSON to this file (written atomically)."))] = None,
) -> None:
    """Plan a Y-90 activity from a simulated MAA work-up: BSA, MIRD and partition model, with the lung and
    normal-liver limit checks (embosim docs sirt)."""
    path, config = _load_scenario(scenario)
    _check_sizes(config, path, False, procedure=False)  # the work-up's MAA only: no Y-90 is delivered (review 50)
    if json_out is not None:
        check_writable(json_out.parent if str(json_out.parent) else Path("."), option="--json")
    from .sirt_plan import plan_activities
    from .sirt_workup import maa_workup

    _note_first_compile()
    workup = maa_workup(config, n_particles=particles)
    plans = plan_activities(config, workup, mird_dose_gy=mird_gy, tumour_dose_gy=tumour_gy)
    typer.echo(f"Scenario: {config.title} ({path}); catheter {config.catheter.vessel}")
    typer.echo(f"MAA work-up ({particles} particles): T/N {workup.tn_ratio:.2f}, lung shunt "
               f"{workup.lung_shunt_fraction:.1%}, perfused {workup.perfused_share:.1%} of the liver in "
               f"{workup.segments_perfused} Couinaud segment{'s' if workup.segments_perfused != 1 else ''} "
               f"({workup.perfused_volume_m3 * 1e6:.0f} mL; viable tumour {workup.perfused_tumour_volume_m3 * 1e6:.0f} mL)")
    typer.echo(f"{'method':<10} {'GBq':>7} {'tumour Gy':>10} {'normal Gy':>10} {'lung Gy':>8}  checks")
    for p in plans:
        d = p.as_dict()
        checks = "; ".join(d["findings"]) or "pass"
        typer.echo(f"{p.method:<10} {d['activity_gbq']:>7.2f} {d['tumour_dose_gy']:>10.1f} "
                   f"{d['normal_liver_dose_gy']:>10.1f} {d['lung_dose_gy']:>8.2f}  {checks}")
    if json_out is not None:
        import json

        from .io import write_text

        record = {"scenario": str(path), "catheter": config.catheter.vessel, "maa_particles": particles,
                  "tn_ratio": workup.tn_ratio, "lung_shunt_fraction": workup.lung_shunt_fraction,
                  "perfused_share": workup.perfused_share, "segments_perfused": workup.segments_perfused,
                  "plans": [p.as_dict() for p in plans]}
        write_text(json_out, json.dumps(record, indent=2, allow_nan=True) + "\n")
        typer.echo(f"Wrote {json_out}")


def _compare_therapies(config, path, therapies: str, replicates: int, vary, seed, out: Path, quiet: bool,
                       force: bool) -> None:
    """``embosim compare --therapies``: the therapies of :mod:`sim.therapies` from the scenario's catheter."""
    from .strategies import format_table, summarise_replicates, write_comparison
    from .therapies import lipiodol_note, run_therapies, therapy_scenario

    names = [name.strip() for name in therapies.split(",") if name.strip()]
    if vary:
        raise typer.BadParameter("--therapies compares the agents on the scenario as it is and takes no --vary; "
                                 "write the change into the scenario file instead (e.g. [liver] "
                                 "terminal_diameter_um = 150 for a coarser, faster liver)", param_hint="'--therapies'")
    try:
        if not names or len(set(names)) != len(names):
            raise ScenarioError("give each therapy once, at least one")
        for name in names:
            therapy_scenario(config, name)
    except ScenarioError as exc:
        raise typer.BadParameter(exc.message, param_hint="'--therapies'") from None
    check_output_folder(out, marker="comparison.csv", force=force, create=False)
    typer.echo(f"Scenario: {config.title} ({path}); therapies from {config.catheter.vessel}")
    _note_first_compile()
    raw = run_therapies(config, names, replicates, rng=seed, progress=not quiet)
    table = summarise_replicates(raw)
    written = write_comparison(table, raw, config, out, root_seed=config.procedure.seed if seed is None else seed,
                               force=force)
    typer.echo(format_table(table), nl=False)
    if note := lipiodol_note(table):
        typer.echo(note)
    typer.echo(f"Wrote {', '.join(p.name for p in written)} to {written[0].parent}")


@app.command()
def compare(
    scenario: ScenarioArg = None,
    strategies: Annotated[str | None, typer.Option(
        help="Comma-separated strategies, each NAME or NAME:ENDPOINT (sluggish, near_stasis, stasis); "
             "embosim docs strategies. Default: all of " + ", ".join(STRATEGY_NAMES) + ".",
        show_default=False)] = None,
    replicates: Annotated[int, typer.Option(min=1, help="Runs per strategy, each with its own seed.")] = 5,
    vary: Annotated[list[str] | None, typer.Option(
        metavar="PATH=VALUES", show_default=False,
        help="Vary a scenario parameter: VALUES is START:STOP:N (N evenly spaced values, both ends included) or a "
             "list V1,V2,... (examples below); tumours.<field> varies every tumour; repeat for a grid.")] = None,
    tumour: Annotated[str | None, typer.Option(help="Name of the tumour the catheter positions target "
                                                   "(default: the first).", show_default=False)] = None,
    therapies: Annotated[str | None, typer.Option(
        help="Comma-separated therapies (tae, ctace, deb_tace) from the scenario's own catheter position, instead of "
             "strategies; embosim docs tace.", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Root seed of the replicates (default: procedure.seed).",
                                             show_default=False)] = None,
    interval_weeks: Annotated[float | None, typer.Option(
        show_default=False,
        help="Weeks between the sessions of staged_bilobar, 0-104 (default: the scenario's interval.weeks if set, "
             "else 6); embosim docs strategies.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False, help="Folder for the outputs.")] = Path(
        "embosim-compare"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    force: ForceOption = False,
    allow_large_: AllowLarge = False,
) -> None:
    """Compare treatment strategies on one liver: mean and 95% interval of every outcome.

    Examples: embosim compare --strategies selective,lobar --vary tumours.0.arterial_fraction=0.5:1.0:6

    embosim compare --strategies selective --vary agent.size_bin=40-120,100-300,300-500
    """
    from .strategies import (
        distinct_strategies,
        format_table,
        parse_vary,
        run_strategies,
        staged_interval,
        summarise_replicates,
        tumour_index,
        vary_grid,
        write_comparison,
    )

    path, config = _load_scenario(scenario)
    _check_sizes(config, path, allow_large_)
    if therapies is not None:
        given = [flag for flag, value in (("--strategies", strategies), ("--tumour", tumour),
                                          ("--interval-weeks", interval_weeks)) if value is not None]
        if given:  # they choose catheter positions; the therapies run from the scenario's own
            raise typer.BadParameter(f"--therapies compares agents from the scenario's catheter position; leave out "
                                     f"{', '.join(given)}", param_hint="'--therapies'")
        with allow_large(allow_large_):
            _compare_therapies(config, path, therapies, replicates, vary, seed, out, quiet, force)
        return
    if strategies is not None and not strategies.strip(", "):  # ("" ran every strategy, ",," was refused)
        raise typer.BadParameter("no strategy named; leave the option out for all of them", param_hint="'--strategies'")
    try:
        chosen = distinct_strategies([name for name in (strategies or ",".join(STRATEGY_NAMES)).split(",")
                                      if name.strip()])
    except ScenarioError as exc:
        raise typer.BadParameter(exc.message, param_hint="'--strategies'") from None
    try:
        staged_interval(config, interval_weeks)
    except ScenarioError as exc:
        raise typer.BadParameter(exc.message, param_hint="'--interval-weeks'") from None
    try:
        grid: dict[str, Any] = {}
        for spec in vary or []:
            varied, values = parse_vary(spec, allow_large=allow_large_)
            if varied in grid:
                raise ValueError(f"{varied} given twice; give each path once (several paths make a grid)")
            grid[varied] = values
        with warnings.catch_warnings():  # every varied scenario is valid and fits before anything runs
            warnings.simplefilter("ignore", SizeWarning)  # (the run warns)
            vary_grid(config, grid, runs_per_point=len(chosen) * replicates, allow_large=allow_large_)
    except ValueError as exc:  # ScenarioError is one
        raise typer.BadParameter(str(exc), param_hint="'--vary'") from None
    tumour_index(config, tumour)
    check_output_folder(out, marker="comparison.csv", force=force, create=False)
    typer.echo(f"Scenario: {config.title} ({path})")
    typer.echo(f"Patient selection: {assess_patient(config).headline} (details: comparison.md)")
    _note_first_compile()
    with allow_large(allow_large_):
        raw = run_strategies(config, chosen, replicates, vary=grid, tumour=tumour, rng=seed, progress=not quiet,
                             interval_weeks=interval_weeks)
    table = summarise_replicates(raw)
    written = write_comparison(table, raw, config, out, root_seed=config.procedure.seed if seed is None else seed,
                               force=force)
    typer.echo(format_table(table), nl=False)
    typer.echo(f"Wrote {', '.join(p.name for p in written)} to {written[0].parent}")


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a batch system's stop, ``timeout``) received during a sweep: stopped as a Ctrl-C is."""


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`_Terminated` in the main thread (the workers are stopped and the
    finished runs kept, as after Ctrl-C); the previous handler is restored after."""
    def stop(signum, frame):
        raise _Terminated()

    if threading.current_thread() is not threading.main_thread():  # (signals are set in the main thread only)
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command()
def sweep(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", show_default=False, help=(
        "Sweep specification (TOML; embosim docs sweeps), or the name of a shipped one, e.g. "
        "size_arterialisation_catheter."))],
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False, help="Folder for sweep.json, runs/, "
                                      "results.parquet and results.csv.")] = Path("embosim-sweep"),
    workers: Annotated[int | None, typer.Option(min=1, show_default=False, help="Local worker processes, or "
                                                "LocalCluster workers with --backend dask (default: every core).")
                       ] = None,
    scheduler: Annotated[str | None, typer.Option(metavar="ADDRESS", show_default=False, help="Dask scheduler "
                                                  "to run on, e.g. tcp://host:8786 (implies --backend dask).")
                         ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Finish the sweep in --out: run only the missing runs.")
                      ] = False,
    backend: Annotated[Literal["serial", "processes", "dask"] | None, typer.Option(
        show_default=False, help="Where runs execute (default: processes, or dask with --scheduler).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    allow_large_: AllowLarge = False,
) -> None:
    """Run a parameter sweep: one row per run in results.parquet and results.csv."""
    from .sweep_spec import load_sweep_spec, plan_sweep
    from .sweeps import WorkerDied, check_workers
    from .sweeps import sweep as run_sweep

    check_writable(out, option="--out", create=False)  # nothing written before the plan is checked
    check_workers(workers, option="--workers", backend=backend, client=scheduler)
    # every point and its size checked before anything is written
    spec = resolve_sweep_spec(spec)
    plan = plan_sweep(load_sweep_spec(spec), relative_to=spec.parent, source=str(spec), allow_large=allow_large_,
                      progress=not quiet)
    # (no folder made here: the sweep makes it once its runs can start; a bad --scheduler left an empty one, review 27)
    if scheduler is None and backend != "dask":  # (a cluster's workers compile on their own machines)
        _note_first_compile()
    try:
        with _terminate_as_interrupt():
            table = run_sweep(plan, backend=backend, workers=workers, client=scheduler, out=out, resume=resume,
                              progress=not quiet, allow_large=allow_large_)
    except KeyboardInterrupt as exc:  # every finished run is on disk (runs/): say how to go on
        terminated = isinstance(exc, _Terminated)
        typer.echo(f"embosim: {'terminated' if terminated else 'interrupted'}; {_sweep_go_on(out)}", err=True)
        raise typer.Exit(128 + (signal.SIGTERM if terminated else signal.SIGINT)) from None
    except WorkerDied as exc:
        typer.echo(f"embosim: error: {exc}; {_sweep_go_on(out)}", err=True)
        raise typer.Exit(1) from None
    failed = int(table["error"].notna().sum())
    typer.echo(f"{len(table)} runs ({failed} failed); wrote results.parquet, results.csv, sweep.json and runs/ "
               f"to {out}")
    if len(table) and failed == len(table):  # nothing to analyse: say why, and fail the command
        typer.echo(f"embosim: error: every run failed; the first: {table['error'].dropna().iloc[0]}", err=True)
        raise typer.Exit(1)


def _sweep_go_on(out: Path) -> str:
    """How to go on after a sweep stopped: resume, when it had started writing into ``out`` (review 52: the advice
    named a folder a sweep stopped before its runs never made)."""
    if (out / "sweep.json").exists():
        return f"the finished runs are kept in {out}: add --resume to the same command to run the rest"
    return f"it stopped before its runs started: nothing was written to {out}"


@app.command()
def plot(
    kind: Annotated[str, typer.Option("--kind", "-k", show_default=False, help=(
        "Figure: tree, before-after, curve, deposition, comparison, arterialisation or angiogram; for a Y-90 "
        "run also dose (dose map), dvh or maa (MAA work-up vs Y-90); for a DEB-TACE or cTACE run drug (plasma and "
        "liver doxorubicin over time) (embosim docs gallery)."))],
    source: Annotated[str | None, typer.Argument(metavar="RUN_DIR_OR_SCENARIO", show_default=False, help=(
        "A folder written by 'embosim run' (drawn from its run_state.npz, never re-simulated), a scenario file or "
        f"shipped name (default: {DEFAULT_SCENARIO}; tree draws its liver, the other kinds run it), or for "
        "comparison and arterialisation a comparison.csv or the folder of 'embosim compare' (default: "
        "embosim-compare)."))] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", dir_okay=False, show_default=False, help=(
        "File to write; the extension picks the format: .png, .svg or .pdf (.mp4 or .gif with --animate). "
        "Default: KIND.png (angiogram.mp4 with --animate)."))] = None,
    animate: Annotated[bool, typer.Option("--animate", help=(
        "With --kind angiogram: the DSA movie (baseline and end side by side, at least 1280 px) through the "
        "arterial, capillary and venous phases; MP4 is small, GIF large."))] = False,
    compare: Annotated[str | None, typer.Option("--compare", show_default=False, help=(
        "With --kind angiogram --animate and a scenario: strategies side by side, e.g. selective,lobar "
        "(single-position strategies; each is run on the scenario's liver)."))] = None,
    style: Annotated[Literal["slide", "paper"], typer.Option("--style", help=(
        "slide: large text for a projector; paper: small text for print."))] = "slide",
    rerun: Annotated[bool, typer.Option("--rerun", help=(
        "A run folder written by an older embosim (no run_state.npz of this format): re-run its scenario.json "
        "instead of refusing it."))] = False,
    metrics: Annotated[str | None, typer.Option("--metrics", show_default=False, help=(
        "With comparison or arterialisation: comma-separated outcomes of the table, one panel each, e.g. "
        "sace_level,vials (default: tumour and normal necrosis, biliary ischaemia, non-target particles; "
        "embosim docs outputs)."))] = None,
) -> None:
    """Draw a figure of a run, a scenario or a strategy comparison."""
    from . import figures

    if kind not in figures.KINDS:
        raise typer.BadParameter(f"unknown kind {kind!r}; allowed: {', '.join(figures.KINDS)}", param_hint="'--kind'")
    panels = None
    if metrics is not None:
        panels = [name.strip() for name in metrics.split(",")]
        if kind not in figures.TABLE_KINDS:
            raise typer.BadParameter(f"panels of a comparison table ({', '.join(figures.TABLE_KINDS)}), not of "
                                     f"{kind!r}", param_hint="'--metrics'")
        if "" in panels or len(set(panels)) != len(panels):
            raise typer.BadParameter("name each outcome once, at least one, no empty name", param_hint="'--metrics'")
    if animate and kind != "angiogram":
        raise typer.BadParameter(f"only the angiogram is animated, not {kind!r}", param_hint="'--animate'")
    if compare is not None and not animate:
        raise typer.BadParameter("strategies are compared in the DSA movie: add --kind angiogram --animate",
                                 param_hint="'--compare'")
    suffixes = figures.MOVIE_SUFFIXES if animate else figures.FORMATS
    out = Path(f"{kind}{suffixes[0]}") if out is None else out
    if out.suffix.lower() not in suffixes:
        raise typer.BadParameter(f"{out.name!r}: allowed extensions {', '.join(suffixes)}", param_hint="'--out'")
    _make_output_dir(out.parent)
    if compare is not None:
        if source is not None and Path(source).is_dir():
            raise typer.BadParameter("--compare runs the strategies: give a scenario, not a run folder",
                                     param_hint="RUN_DIR_OR_SCENARIO")
        _, scenario = _load_scenario(source)
        chosen = [name.strip() for name in compare.split(",") if name.strip()]
        typer.echo(f"Wrote {figures.animate_strategies(scenario, chosen, out)}")
        return
    data = figures.load_source(source, kind, rerun=rerun)
    if panels:  # an outcome has its interval's columns (not a label, a varied key, a bound or the replicates)
        outcomes = [str(c)[:-3] for c in data.columns if str(c).endswith("_lo") and f"{str(c)[:-3]}_hi" in data.columns]
        missing = [name for name in panels if name not in outcomes]
        if missing:
            raise typer.BadParameter(f"no outcome {', '.join(map(repr, missing))} in the table; allowed: "
                                     f"{', '.join(outcomes)}", param_hint="'--metrics'")
    if animate:
        written = figures.animate_angiogram(data, out)
    else:
        try:
            fig = figures.figure(kind, data, style=style, metrics=panels)
        except ValueError as exc:  # a table without the columns the figure needs; a liver for a run figure
            if isinstance(exc, ScenarioError):
                raise
            raise typer.BadParameter(str(exc), param_hint="RUN_DIR_OR_SCENARIO") from None
        written = figures.save_figure(fig, out)
    typer.echo(f"Wrote {written}")


@app.command()
def validate(
    fast: Annotated[bool, typer.Option("--fast", help="Coarser livers, fewer particles and replicates "
                                                     "(1-2 minutes on one core; its convergence checks compare a "
                                                     "coarser pair and may fail).")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False, help=(
        "Folder for validation.md, validation.csv and each case's figure and tables."))] = Path("embosim-validation"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    workers: Annotated[int, typer.Option(min=1, help=(
        "Processes running cases side by side (the results do not depend on it)."))] = 1,
    only: Annotated[list[str] | None, typer.Option("--case", help=(
        "Run only this case (repeat for more; default: every case): a case of embosim docs validation, by its key "
        "(analytic, hemodynamics, doxorubicin...; an unknown one lists them)."))] = None,
) -> None:
    """Compare embosim with analytic results and published data (embosim docs validation).

    Exit status 0 even where the literature disagrees (a finding, reported with
    its reason); 1 if a case failed with an error.
    """
    from .validation_runner import ValidationSuiteNotFound, load_runner

    try:
        runner = load_runner()
    except ValidationSuiteNotFound as exc:
        typer.echo(f"embosim: error: {exc}", err=True)
        raise typer.Exit(1) from None
    cases = runner.CASES
    if only:
        keys = [case.key for case in cases]
        unknown = [name for name in only if name not in keys]
        if unknown:
            raise typer.BadParameter(f"no validation case {unknown[0]!r}; the cases: {', '.join(keys)}",
                                     param_hint="'--case'")
        cases = tuple(case for case in cases if case.key in only)
    _make_output_dir(out)
    _note_first_compile()
    report = runner.run_all(out, fast=fast, echo=None if quiet else lambda line: typer.echo(line, err=True),
                            workers=workers, cases=cases)
    typer.echo(runner.format_table(report), nl=False)
    typer.echo(f"Wrote validation.md, validation.csv and {len(report.files) - 2} case files to {out}")
    if report.errors:
        raise typer.Exit(1)


@app.command()
def explore(
    scenario: ScenarioArg = None,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to serve on (0: a free one).")] = 0,
    host: Annotated[str, typer.Option(help="Interface to bind. Anything but localhost/127.x.x.x exposes the page "
                                          "(and the simulation) to the network: a warning is printed.")] = "127.0.0.1",
    browser: Annotated[bool, typer.Option("--browser/--no-browser", help="Open the page in the browser.")] = True,
    cases: Annotated[list[Path] | None, typer.Option("--cases", file_okay=False, help=(
        "A folder of your own case files (*.toml, docs/explorer.md 'Adding a case'), listed after the shipped "
        "cases; repeat for several."))] = None,
) -> None:
    """Explore a scenario in the browser: place the catheter, choose the agent, run, play the cases (embosim docs explorer)."""
    _, config = _load_scenario(scenario)
    from .explore.app import free_port, is_local_address, page_url, serve
    from .explore.cases import load_cases

    load_cases(cases or ())  # a bad case file is one line now, not a failure in every page the browser opens

    try:  # before the URL is printed: a port in use or an unknown interface is bad input, not a traceback
        port = free_port(host, port)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise typer.BadParameter(f"cannot serve on {host} port {port} ({reason})", param_hint="'--host'/'--port'") from None
    if not is_local_address(host):
        typer.echo(f"embosim: warning: --host {host} serves the explorer beyond this machine: anyone who can reach "
                   "it can run simulations on it (there is no login)", err=True)
    typer.echo(f"embosim explorer: {page_url(host, port)} (Ctrl-C stops it)")
    serve(config, port=port, address=host, show=browser, case_folders=cases or ())


def main() -> None:
    """Console script ``embosim``."""
    app(prog_name="embosim")


if __name__ == "__main__":  # python -m sim.cli
    main()
