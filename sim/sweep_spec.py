"""Sweep specifications: a TOML file -> a validated :class:`SweepSpec` -> a :class:`SweepPlan` of runs.

A sweep varies scenario parameters, addressed by their dotted scenario path
(``agent.size_bin``, ``tumours.0.arterial_fraction``), around a base scenario::

    title = "Particle size x arterialisation x catheter position"
    base = "bulky_segment5_net"          # shipped name, or a path relative to this file
    sampling = "grid"                    # "grid" | "random" | "latin_hypercube"
    replicates = 2                       # procedure seeds per parameter point
    seed = 20240611                      # master seed of the whole sweep

    [fixed]                              # the same value in every run
    "liver.terminal_diameter_um" = 150.0

    [parameters]
    "agent.size_bin" = ["40-120", "100-300", "300-500"]                # a list
    "tumours.0.arterial_fraction" = {start = 0.5, stop = 1.0, num = 6}    # a range (ends included)
    "catheter.rate_ml_min" = {distribution = "uniform", low = 0.5, high = 2.0}  # random / LHS only

Grid sampling takes every combination of the lists and ranges. Random and Latin
hypercube sampling draw ``samples`` points: each parameter maps a uniform
number u in [0, 1) through its quantile function (a list or range picks value
``floor(u * n)``, so lists are sampled evenly), the u coming from
``numpy.random.default_rng(seed)`` or :class:`scipy.stats.qmc.LatinHypercube`
seeded by it. Run ``i = point * replicates + replicate`` gets the procedure seed
``SeedSequence(seed).spawn(n_runs)[i].generate_state(1)[0]`` (:func:`run_seed`),
so every run is reproducible alone (``embosim run --seed``) and the sweep's
table does not depend on how or where it runs.

Every point is validated with :meth:`Scenario.with_updates` before any run
starts; an error names the parameter (:class:`SweepError`).
"""

from __future__ import annotations

import itertools
import json
import math
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    ValidationError,
    model_validator,
)

from .catalogue import DEFAULT_SCENARIO, did_you_mean, resolve_scenario, sweeps_dir
from .limits import SizeError, SizeEstimate, check_particles_size, check_size, count
from .scenario import Scenario, ScenarioError, check_agent_keys, load_scenario, scenario_fields

__all__ = [
    "RunTask",
    "SweepError",
    "SweepPlan",
    "SweepSpec",
    "anatomy_key",
    "check_plan_size",
    "estimate_plan",
    "load_sweep_spec",
    "parse_sweep_spec",
    "plan_sweep",
    "run_seed",
]


#: The scenario key the sweep sets itself for every run (:func:`run_seed`).
SEED_KEY = "procedure.seed"


class SweepError(ScenarioError):
    """Invalid sweep: one message naming the spec file, the key path (``parameters."agent.size_bin"``) and the fix."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: Upper bound of a sweep's counts (replicates, samples, a range's num): far above any sweep that can run (the
#: size limits refuse those first), and below what numpy's indices hold (1e20 replicates overflowed in planning
#: once the size check was overridden with --allow-large).
MAX_COUNT = 10**12


def check_distinct_values(values: Sequence[Any]) -> None:
    """Refuse a value given twice (``2`` and ``2.0`` alike, ``true`` apart from ``1``): a repeated value would
    weigh its runs twice in any grouping (``embosim compare``: merge its rows, counting each seed twice).

    Raises
    ------
    ValueError
        Naming the repeated value.
    """
    def normal(value: Any) -> Any:
        if isinstance(value, (bool, np.bool_)):
            return ("flag", bool(value))
        if isinstance(value, (int, float, np.number)):
            return ("number", float(value))
        return ("value", repr(value))

    seen: dict[Any, Any] = {}
    for value in values:
        key = normal(value)
        if key in seen:
            raise ValueError(f"{value!r} equals {seen[key]!r}, given before it: give each value once (a repeated "
                             "value would count its runs twice)")
        seen[key] = value


class _Discrete:
    """Lists and ranges: a finite set of values (``grid()``); random sampling picks value ``floor(u * n)``."""

    def quantile(self, u: np.ndarray) -> list[Any]:
        """Values at uniform numbers ``u`` in [0, 1): every value equally likely."""
        values = self.grid()
        index = np.minimum((u * len(values)).astype(np.int64), len(values) - 1)
        return [values[i] for i in index]


class ValueList(_Discrete, RootModel[Annotated[list[Any], Field(min_length=1)]]):
    """``[v1, v2, ...]``: the values as given."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="after")
    def _each_once(self) -> ValueList:
        check_distinct_values(self.root)
        return self

    def grid(self) -> list[Any]:
        return list(self.root)


class ValueRange(_Discrete, _Spec):
    """``{start, stop, num}``: ``num`` evenly spaced values, both ends included."""

    start: float = Field(allow_inf_nan=False)
    stop: float = Field(allow_inf_nan=False)
    num: int = Field(ge=1, le=MAX_COUNT, strict=True)

    @model_validator(mode="after")
    def _both_ends(self) -> ValueRange:
        if self.num == 1 and self.start != self.stop:  # linspace would keep start alone
            raise ValueError("num = 1 takes one value, but start and stop differ: give num >= 2, or a list [value]")
        if self.num > 1 and self.start == self.stop:  # one value counted num times
            raise ValueError(f"start equals stop, so its {self.num} values are one value counted {self.num} times: "
                             "give num = 1")
        return self

    def grid(self) -> list[Any]:
        return np.linspace(self.start, self.stop, self.num).tolist()


class _Distribution(_Spec):
    """A continuous distribution (``frozen()``: scipy's) on ``[low, high]``, sampled through its quantile function."""

    low: float | None = Field(None, allow_inf_nan=False)
    high: float | None = Field(None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> _Distribution:
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"low must be below high (got low={self.low}, high={self.high})")
        return self

    def quantile(self, u: np.ndarray) -> list[float]:
        return self.frozen().ppf(u).tolist()


class Uniform(_Distribution):
    """``{distribution = "uniform", low, high}``."""

    distribution: Literal["uniform"]
    low: float = Field(allow_inf_nan=False)
    high: float = Field(allow_inf_nan=False)

    def frozen(self):
        from scipy import stats

        return stats.uniform(loc=self.low, scale=self.high - self.low)


class LogUniform(Uniform):
    """``{distribution = "loguniform", low, high}``: uniform in log, ``0 < low < high``."""

    distribution: Literal["loguniform"]
    low: float = Field(gt=0, allow_inf_nan=False)

    def frozen(self):
        from scipy import stats

        return stats.loguniform(self.low, self.high)


class Normal(_Distribution):
    """``{distribution = "normal", mean, std}``, optionally truncated to ``[low, high]``."""

    distribution: Literal["normal"]
    mean: float = Field(allow_inf_nan=False)
    std: float = Field(gt=0, allow_inf_nan=False)

    def frozen(self):
        from scipy import stats

        low = -math.inf if self.low is None else (self.low - self.mean) / self.std
        high = math.inf if self.high is None else (self.high - self.mean) / self.std
        return stats.truncnorm(low, high, loc=self.mean, scale=self.std)


def _parameter_kind(value: Any) -> str | None:
    """The tag of a parameter's form: a list, a range, or the named distribution."""
    if isinstance(value, BaseModel):
        return getattr(value, "distribution", "range" if isinstance(value, ValueRange) else "values")
    if isinstance(value, list):
        return "values"
    if isinstance(value, dict):
        return value.get("distribution", "range")
    return None


_PARAMETER_FORMS = ("a list of values, a range {start, stop, num} or a distribution "
                    "{distribution = 'uniform' | 'normal' | 'loguniform', ...}")

Parameter = Annotated[
    Annotated[ValueList, Tag("values")] | Annotated[ValueRange, Tag("range")] | Annotated[Uniform, Tag("uniform")]
    | Annotated[Normal, Tag("normal")] | Annotated[LogUniform, Tag("loguniform")],
    Discriminator(_parameter_kind, custom_error_type="parameter_form", custom_error_message=_PARAMETER_FORMS),
]


class SweepSpec(_Spec):
    """A sweep: base scenario, fixed and varied parameters, sampling, replicates and master seed.

    Attributes
    ----------
    title : str
    base : str
        Scenario file (relative to the spec file) or shipped scenario name.
    fixed : dict of str to Any
        Scenario path -> value applied to the base in every run (not a table column).
    parameters : dict of str to Parameter
        Scenario path -> list, range or distribution (one table column each).
    sampling : {"grid", "random", "latin_hypercube"}
    samples : int or None
        Number of points drawn (random and Latin hypercube only).
    replicates : int
        Runs per point, each with its own procedure seed.
    seed : int
        Master seed: fixes the sampled points and every run's seed.
    """

    title: str = ""
    base: str = DEFAULT_SCENARIO
    fixed: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    sampling: Literal["grid", "random", "latin_hypercube"] = "grid"
    samples: int | None = Field(None, ge=1, le=MAX_COUNT, strict=True)
    replicates: int = Field(1, ge=1, le=MAX_COUNT, strict=True)
    seed: int = Field(ge=0, strict=True)

    @model_validator(mode="after")
    def _sampling_options(self) -> SweepSpec:
        if self.sampling == "grid":
            if self.samples is not None:
                raise ValueError("samples is for sampling = 'random' or 'latin_hypercube'; a grid takes every "
                                 "combination (drop samples)")
            for name, parameter in self.parameters.items():
                if isinstance(parameter, _Distribution):
                    raise SweepError("a distribution needs sampling = 'random' or 'latin_hypercube' (give a "
                                     "list or a range for a grid)", path=_parameter_path(name))
        elif self.samples is None:
            raise ValueError(f"sampling = '{self.sampling}' needs samples = <number of points>")
        for key in self.fixed:
            if key in self.parameters:  # the parameter's values would silently replace the fixed one
                raise SweepError("set in [fixed] and varied in [parameters]: keep one", path=f'fixed."{key}"')
        for where, keys in (("fixed", self.fixed), ("parameters", self.parameters)):
            if SEED_KEY in keys:  # each run's seed is the sweep's (run_seed): a seed set here would be overridden
                raise SweepError(f"each run's procedure seed comes from the sweep's seed (seed = {self.seed}, "
                                 f"replicates = {self.replicates}); set those instead", path=f'{where}."{SEED_KEY}"')
        if not self.parameters and not (self.sampling == "grid" and self.replicates > 1):
            raise SweepError("nothing to vary: give [parameters] (to repeat the base scenario with different seeds, "
                             "give replicates > 1 and no samples; one run is 'embosim run')", path="parameters")
        return self

    def n_points(self) -> int:
        """Number of points, counted without drawing them (a grid: the product of the lists' lengths)."""
        if self.sampling != "grid":
            return int(self.samples)
        return math.prod(len(p.root) if isinstance(p, ValueList) else p.num for p in self.parameters.values())

    def points(self) -> list[dict[str, Any]]:
        """Parameter values of every point, in sweep order."""
        names = list(self.parameters)
        if self.sampling == "grid":
            combos = itertools.product(*(p.grid() for p in self.parameters.values()))
            return [dict(zip(names, combo)) for combo in combos]
        u = self._unit_samples()
        columns = [p.quantile(u[:, k]) for k, p in enumerate(self.parameters.values())]
        return [{name: column[i] for name, column in zip(names, columns)} for i in range(self.samples)]

    def _unit_samples(self) -> np.ndarray:
        """(samples, parameters) uniform numbers in [0, 1): independent, or a Latin hypercube."""
        rng = np.random.default_rng(self.seed)
        d = len(self.parameters)
        if self.sampling == "random" or d == 0:
            return rng.random((self.samples, d))
        from scipy.stats import qmc

        return qmc.LatinHypercube(d, rng=rng).random(self.samples)


def _parameter_path(name: str) -> str:
    return f'parameters."{name}"'


def _error_path_and_message(err: dict[str, Any]) -> tuple[str, str]:
    """Key path (parameter names quoted) and message of one pydantic error; a SweepError raised by a validator
    keeps its own path."""
    raised = err.get("ctx", {}).get("error")
    if isinstance(raised, SweepError):
        return raised.path, raised.message
    loc = [str(part) for part in err["loc"]]
    if loc[:1] == ["parameters"] and len(loc) > 1:
        loc = [_parameter_path(loc[1]), *loc[3:]]  # drop the form tag pydantic inserts
    message = _unknown_key(loc) if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
    return ".".join(loc), message


def _unknown_key(loc: list[str]) -> str:
    """The message of an unknown key of a sweep specification: at the top level, the closest key and the allowed ones
    (review 50: "replicate: unknown key" named neither ``replicates`` nor the others)."""
    if len(loc) != 1:
        return "unknown key (the keys of a parameter: embosim docs sweeps)"
    allowed = list(SweepSpec.model_fields)
    guess = did_you_mean(loc[0], allowed)
    return f"unknown key ({f'{guess} ' if guess else ''}the allowed keys: {', '.join(allowed)}; embosim docs sweeps)"


def _spec_error(exc: ValidationError, source: str) -> SweepError:
    """One SweepError from pydantic's errors, naming the first one's key path."""
    messages = [_error_path_and_message(err) for err in exc.errors()]
    path, message = messages[0]
    more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
    return SweepError(message + more, path=path, source=source)


def parse_sweep_spec(data: Mapping[str, Any], *, source: str = "") -> SweepSpec:
    """Validate a sweep specification given as a dict (the parsed TOML).

    Raises
    ------
    SweepError
        Naming the key path, e.g. ``parameters."agent.size_bin"``.
    """
    data = dict(data)
    for section in ("fixed", "parameters"):
        if isinstance(data.get(section), Mapping):
            data[section] = _dotted(data[section])
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(exc, source) from None


def _is_section(path: str) -> bool:
    """Whether a dotted path names a scenario section that is always there (``agent``, ``flow.habr``,
    ``tumours``, ``tumours.0``), whose keys a TOML table may list, rather than a value (a number, a list, the
    segment-fraction table, an optional table such as ``tumours.0.extrahepatic``)."""
    def section(field) -> bool:
        kind = field.annotation
        if typing.get_origin(kind) in (list, tuple):
            kind = typing.get_args(kind)[0]
        return isinstance(kind, type) and issubclass(kind, BaseModel)  # (an optional one is a union: not a section)

    fields = scenario_fields(path)
    return bool(fields) and all(section(field) for field in fields)


def _dotted(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"agent": {"size_bin": v}}`` (TOML's reading of an unquoted ``agent.size_bin = v``) as
    ``{"agent.size_bin": v}``: a table under a scenario section's path is that section's keys; any other table is
    a value (a range, a distribution, the segment fractions) and stays whole."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and _is_section(path):
            flat.update(_dotted(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _shipped_hint(path: Path) -> str:
    """For a bare name that is no file: no shipped sweep specification has it, the close ones (review 50: "cannot read
    the sweep file (No such file or directory)" named none)."""
    if path.parent != Path("."):
        return ""
    guess = did_you_mean(path.name.removesuffix(".toml"), [p.stem for p in sweeps_dir().glob("*.toml")], n=3)
    return f"; no shipped sweep specification of that name{f' ({guess})' if guess else ''}; 'embosim scenarios' lists them"


def load_sweep_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep specification TOML file.

    Raises
    ------
    SweepError
        Unreadable file, invalid TOML, unknown key or invalid parameter form.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        shipped = _shipped_hint(path) if isinstance(exc, FileNotFoundError) else ""
        raise SweepError(f"cannot read the sweep file ({getattr(exc, 'strerror', None) or exc}{shipped})",
                         source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"invalid TOML ({exc})", source=str(path)) from None
    return parse_sweep_spec(data, source=str(path))


#: Size estimate of planning a sweep (:func:`estimate_plan`): validating a point and keying its anatomy took
#: 65 us on a quiet machine, 240 us in issue 14's test (1e6 points in 4 min) and 390-510 us in review 22's
#: (1e4 points of 1-4 parameters, 2026-12-06): 0.5 ms is used, so the 10-minute limit is not passed; a point's
#: values about 230 B (tracemalloc; 1 kB is used); a finished run's record 5.3 kB and its table row 0.4 kB
#: (6 kB is used). The runs themselves take their own time (seconds each, shown by the progress bar) and are
#: not limited.
_PLAN_SECONDS_PER_POINT = 5e-4
_PLAN_BYTES_PER_POINT = 1e3
_PLAN_BYTES_PER_RUN = 6e3
_BASE_MEMORY_BYTES = 3.2e8


def estimate_plan(spec: SweepSpec) -> SizeEstimate:
    """Estimated memory and time of planning ``spec`` and holding its results (no point is drawn).

    Examples
    --------
    >>> spec = parse_sweep_spec({"seed": 1, "replicates": 10**9})
    >>> estimate_plan(spec).too_large
    True
    """
    points = spec.n_points()
    runs = points * spec.replicates
    return SizeEstimate("the plan and results table (not the runs)", f"{count(points, 'point')} and {count(runs, 'run')}",
                        _BASE_MEMORY_BYTES + points * _PLAN_BYTES_PER_POINT + runs * _PLAN_BYTES_PER_RUN,
                        points * _PLAN_SECONDS_PER_POINT)


def check_plan_size(spec: SweepSpec, *, allow_large: bool | None = None, source: str = "") -> SizeEstimate:
    """Refuse (or warn about) a sweep too large to plan (:mod:`sim.limits`), before anything is drawn or written.

    Raises
    ------
    SizeError
        Naming ``replicates`` when the replicates alone are too many, else ``parameters`` or ``samples``.
    """
    estimate = estimate_plan(spec)
    key = "samples" if spec.sampling != "grid" else "parameters"
    alone = estimate_plan(spec.model_copy(update={"replicates": 1}))
    if estimate.too_large and not alone.too_large:
        key = "replicates"
    return check_size(estimate, path=key, fix=f"reduce {key}", source=source, allow_large=allow_large)


def run_seed(seed: int, index: int) -> int:
    """Procedure seed of run ``index``: ``SeedSequence(seed).spawn(n)[index].generate_state(1)[0]``.

    The same for any ``n > index`` (a spawned child is the root with ``spawn_key=(index,)``).

    Examples
    --------
    >>> run_seed(7, 3) == int(np.random.SeedSequence(7).spawn(4)[3].generate_state(1)[0])
    True
    """
    return int(np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1)[0])


def anatomy_key(scenario: Scenario) -> str:
    """The scenario sections that define its liver (``sim.simulation.ANATOMY_SECTIONS``), as canonical JSON."""
    from .simulation import ANATOMY_SECTIONS

    return json.dumps(scenario.model_dump(mode="json", include=set(ANATOMY_SECTIONS)), sort_keys=True)


class RunTask(NamedTuple):
    """One run of a sweep: what a worker needs (the scenario already holds the point's values)."""

    index: int
    point: int
    replicate: int
    parameters: dict[str, Any]
    seed: int
    scenario: Scenario


@dataclass(frozen=True)
class SweepPlan:
    """Every run of a validated sweep, and which runs share a liver.

    Attributes
    ----------
    spec : SweepSpec
    base : Scenario
        The base scenario with ``spec.fixed`` applied.
    points : tuple of dict
        Parameter values of each point.
    groups : tuple of int
        Anatomy group of each point: points with equal ``[liver]``, ``[anatomy]``,
        ``[[tumours]]`` and ``[flow]`` share a group, hence a liver.
    """

    spec: SweepSpec
    base: Scenario
    points: tuple[dict[str, Any], ...]
    groups: tuple[int, ...]

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.spec.replicates

    def group_of(self, index: int) -> int:
        return self.groups[index // self.spec.replicates]

    def order(self) -> list[int]:
        """Run indices grouped by anatomy (groups in order of first appearance), so a liver is needed once."""
        return sorted(range(self.n_runs), key=lambda i: (self.group_of(i), i))

    def scenario(self, point: int) -> Scenario:
        return self.base.with_updates(self.base.expand_updates(self.points[point]))

    def task(self, index: int) -> RunTask:
        point, replicate = divmod(index, self.spec.replicates)
        return RunTask(index=index, point=point, replicate=replicate, parameters=self.points[point],
                       seed=run_seed(self.spec.seed, index), scenario=self.scenario(point))

    def header(self) -> dict[str, Any]:
        """What identifies the sweep (``sweep.json``): the spec and the base scenario it resolved to."""
        return {"spec": self.spec.model_dump(mode="json"), "base_scenario": self.base.model_dump(mode="json"),
                "runs": self.n_runs}


def _resolve_base(base: str, relative_to: Path) -> Path:
    """The base scenario file: relative to the spec's folder, else a shipped name or a path."""
    local = relative_to / base
    return local if local.is_file() else resolve_scenario(base)


def _point_error(exc: ScenarioError, point: dict[str, Any], number: int, source: str) -> SweepError:
    """Name the parameter behind an invalid point (all of the point's values when no single one is)."""
    for name in point:
        if exc.path == name or exc.path.startswith(name + "."):
            return SweepError(exc.message, path=_parameter_path(name), source=source)
    values = ", ".join(f"{name}={value!r}" for name, value in point.items())
    detail = f"{exc.path}: {exc.message}" if exc.path else exc.message
    return SweepError(f"point {number} ({values}): {detail}", path="parameters", source=source)


#: Points from which planning shows a progress bar (about 2.5 s of validation).
_PLAN_BAR_POINTS = 10_000


def _base_scenario(spec: SweepSpec, relative_to: Path, source: str) -> Scenario:
    """The base scenario with ``fixed`` applied (a bad fixed value names ``fixed."<path>"``)."""
    try:
        base = load_scenario(_resolve_base(spec.base, relative_to))
    except ScenarioError as exc:
        raise SweepError(str(exc), path="base", source=source) from None
    try:
        fixed = base.with_updates(base.expand_updates(spec.fixed))
    except ScenarioError as exc:
        raise SweepError(exc.message, path=f'fixed."{exc.path}"', source=source) from None
    try:  # a fixed and a varied path that set one value ("tumours.x" and "tumours.0.x"): the fixed would be dropped
        base.expand_updates({**spec.fixed, **spec.parameters})
    except ScenarioError as exc:
        where = "parameters" if exc.path in spec.parameters else "fixed"
        raise SweepError(exc.message, path=f'{where}."{exc.path}"', source=source) from None
    _check_agent_keys(spec.fixed, fixed, "fixed", source)
    return fixed


def _check_agent_keys(updates: dict[str, Any], scenario: Scenario, table: str, source: str) -> None:
    """A fixed or varied ``agent.*`` key the scenario's agent kind does not use is refused, as in a scenario file
    (:func:`sim.scenario.check_agent_keys`), naming its table."""
    try:
        check_agent_keys(updates, scenario)
    except ScenarioError as exc:
        raise SweepError(exc.message, path=f'{table}."{exc.path}"', source=source) from None


def _check_liver(scenario: Scenario, point: dict[str, Any], spec: SweepSpec, source: str,
                 allow_large: bool | None) -> None:
    """The liver of one anatomy group fits the size limits; an error names the varied or fixed parameter."""
    from .anatomy.liver import check_build_size

    try:
        check_build_size(scenario, allow_large=allow_large)
    except SizeError as exc:
        raise _size_error(exc, point, spec, source) from None


def _size_error(exc: SizeError, point: dict[str, Any], spec: SweepSpec, source: str) -> SizeError:
    """A size error naming the parameter behind it: the varied or fixed one the check names, else the
    point's only parameter, else ``parameters`` or the base scenario's key; the message gives the point."""
    name = next((n for n in point if exc.path == n or exc.path.startswith(n + ".")), None)
    if name is None and exc.path not in spec.fixed and len(point) == 1:
        name = next(iter(point))
    if name is not None:
        path = _parameter_path(name)
    elif exc.path in spec.fixed:
        path = f'fixed."{exc.path}"'
    else:
        path = "parameters" if point else f"base scenario {exc.path}"
    values = ", ".join(f"{n}={v!r}" for n, v in point.items())
    return SizeError(f"{exc.message} (point {values})" if values else exc.message, path=path, source=source)


def plan_sweep(spec: SweepSpec, *, relative_to: str | Path = ".", source: str = "",
               allow_large: bool | None = None, progress: bool = False) -> SweepPlan:
    """Check the sweep's size, load the base scenario, apply ``fixed``, draw the points and validate every one.

    Parameters
    ----------
    spec : SweepSpec
    relative_to : str or Path
        Folder a relative ``base`` is resolved against (the spec file's).
    source : str
        Spec file named in errors.
    allow_large : bool, optional
        Plan even above the size limits (:func:`check_plan_size`, :mod:`sim.limits`);
        each group's liver is checked too (:func:`sim.anatomy.estimate_build`).
    progress : bool
        Show a progress bar while the points are validated.

    Returns
    -------
    SweepPlan

    Raises
    ------
    SweepError
        A fixed or varied parameter with an unknown path or an invalid value, named.
    ScenarioError
        The base scenario cannot be loaded.
    SizeError
        The sweep, or a liver of it, is above the size limits.
    TypeError
        ``spec`` is not a SweepSpec (a spec file's path: :func:`load_sweep_spec` reads it).
    """
    if not isinstance(spec, SweepSpec):
        raise TypeError(f"plan_sweep takes a SweepSpec (load_sweep_spec(path) reads a spec file; parse_sweep_spec(dict) "
                        f"a table), not {type(spec).__name__}")
    check_plan_size(spec, allow_large=allow_large, source=source)
    base = _base_scenario(spec, Path(relative_to), source)
    from .progress import progress_bar

    points = spec.points()
    keys: dict[str, int] = {}
    groups = []
    bar = progress_bar(points, desc="planning", unit="point", disable=not progress or len(points) < _PLAN_BAR_POINTS)
    for number, point in enumerate(bar):
        try:
            scenario = base.with_updates(base.expand_updates(point))
        except ScenarioError as exc:
            raise _point_error(exc, point, number, source) from None
        _check_agent_keys(point, scenario, "parameters", source)
        key = anatomy_key(scenario)
        if key not in keys:
            _check_liver(scenario, point, spec, source, allow_large)
        try:
            check_particles_size(scenario, allow_large=allow_large)
        except SizeError as exc:
            raise _size_error(exc, point, spec, source) from None
        groups.append(keys.setdefault(key, len(keys)))
    return SweepPlan(spec=spec, base=base, points=tuple(points), groups=tuple(groups))
