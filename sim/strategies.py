"""Treatment strategies and their comparison on one liver (``docs/strategies.md``).

A strategy is a catheter position and an angiographic endpoint, derived from where
a tumour lies in *this* liver's arteries (so Michels variants are followed):

* ``superselective``: the synthetic subsegmental feeder ``'#n'`` of the tumour
  (:func:`superselective_feeder`);
* ``selective``: the segmental artery ``A_k`` of the tumour's segment;
* ``lobar``: the lobar artery above ``A_k`` (RHA, LHA, or the replaced or
  accessory artery that feeds the segment in this anatomy; :func:`lobar_artery`);
* ``whole_liver``: the proper hepatic artery, or every hepatic arterial origin
  in turn when some segments are fed from elsewhere (:func:`hepatic_origins`);
* ``staged_bilobar``: the right lobar arteries, then the left ones in a second
  session ``interval_weeks`` later (6 by default): the first session's permanent
  occlusions persist but partly recanalise, its necrosis stays and the rest of the
  liver regenerates meanwhile (:mod:`sim.interval`).

:func:`compare` runs every strategy on the same liver with common random numbers
(one :class:`numpy.random.SeedSequence`, one child per replicate, shared by all
strategies) and tabulates the mean and a 95% t-interval of every numeric outcome.
:func:`run_strategies` gives the per-replicate rows and
:func:`summarise_replicates` turns them into that table.

Examples
--------
>>> import sim
>>> small = sim.Scenario().with_updates({"liver.terminal_diameter_um": 300.0})
>>> table = sim.compare(small, ["selective", "lobar"], replicates=2)     # doctest: +SKIP
>>> table[["strategy", "catheter", "tumour_devascularised_fraction"]]  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np

from .limits import SizeError, SizeEstimate, check_particles_size, check_size, count
from .network import EDGE_ARTERY
from .scenario import (
    MAX_INTERVAL_WEEKS,
    SEGMENTS,
    ProcedureConfig,
    Scenario,
    ScenarioError,
    check_agent_keys,
    require_scenario,
)
from .selection import LEFT_LOBE, RIGHT_LOBE

if TYPE_CHECKING:
    import pandas as pd

    from .anatomy import Liver
    from .results import RunResult

__all__ = [
    "DEFAULT_ENDPOINTS",
    "DEFAULT_STAGED_INTERVAL_WEEKS",
    "ENDPOINTS",
    "METRICS_EXCLUDED",
    "STRATEGY_NAMES",
    "SUPERSELECTIVE_MAX_SEGMENT_SHARE",
    "TOTAL",
    "Plan",
    "Strategy",
    "compare",
    "comparison_markdown",
    "distinct_strategies",
    "format_table",
    "hepatic_origins",
    "lobar_artery",
    "parse_vary",
    "plan_strategy",
    "run_strategies",
    "segments_fed",
    "staged_interval",
    "summarise_replicates",
    "superselective_feeder",
    "tumour_index",
    "tumour_segment",
    "vary_grid",
    "write_comparison",
]

#: The strategies, from the most to the least selective.
STRATEGY_NAMES: tuple[str, ...] = ("superselective", "selective", "lobar", "whole_liver", "staged_bilobar")
#: Endpoint of each strategy unless given as ``name:endpoint``. [SeedDeckUHS]: "endpoint sluggish
#: antegrade flow v stasis"; model assumption: stasis for a (super)selective injection, whose
#: territory is mostly tumour, sluggish flow for lobar and larger ones, to spare their normal liver.
DEFAULT_ENDPOINTS: dict[str, str] = {"superselective": "stasis", "selective": "stasis", "lobar": "sluggish",
                                     "whole_liver": "sluggish", "staged_bilobar": "sluggish"}
#: Weeks between the sessions of ``staged_bilobar`` unless given ([SeedDeckUHS]: bilobar disease, lobar
#: treatments 4-6 weeks apart; the upper end).
DEFAULT_STAGED_INTERVAL_WEEKS = 6.0
#: Largest share of its segment's tissue volume the superselective feeder may supply. Model
#: assumption: a subsegmental artery is at most the larger half of the segmental artery's first
#: division; the most tumour-holding branch within that bound is chosen.
SUPERSELECTIVE_MAX_SEGMENT_SHARE = 0.5
#: Endpoints a strategy may use (those of ``procedure.endpoint``).
ENDPOINTS: tuple[str, ...] = get_args(ProcedureConfig.model_fields["endpoint"].annotation)

#: Numeric summary keys that are provenance or work counters, not outcomes (left out of the table).
METRICS_EXCLUDED = frozenset({"seed", "run_time_s", "lodgings", "incremental_updates", "trunk_solves",
                              "full_solves", "patient_eligible"})
#: Outcomes of a multi-injection strategy that add up over its injections.
_SUMMED = ("particles_injected", "particle_volume_ml", "suspension_volume_ml", "particles_lodged_in_liver",
           "particles_in_suspension", "reflux_volume_ml", "sirt_activity_delivered_gbq", "sirt_spheres_delivered",
           # the oil and the drug given (until 2026-12-07 averaged over the injections)
           "lipiodol_volume_ml", "emulsion_volume_ml", "lipiodol_tumour_ml", "lipiodol_normal_ml", "lipiodol_portal_ml",
           "lipiodol_plexus_route_ml", "lipiodol_systemic_ml", "lipiodol_tumour_retained_28d_ml",
           "lipiodol_normal_retained_28d_ml", "drug_delivered_mg", "drug_at_once_mg", "drug_tumour_mg", "drug_normal_mg",
           "drug_nontarget_mg", "plasma_doxorubicin_auc_ng_h_ml")
#: Read-outs per volume of oil, averaged over a procedure's injections weighted by their Lipiodol.
_OIL_WEIGHTED = ("lipiodol_tumour_to_normal_ratio", "portal_opacification_fraction", "tumour_portal_opacification_fraction",
                 "emulsion_water_in_oil_fraction", "emulsion_viscosity_mPa_s", "emulsion_droplet_um")
#: Tissue damage outcomes: a session row gives what that session added, a total row the final state.
_DAMAGE = ("tumour_devascularised_fraction", "normal_ischaemic_fraction", "biliary_ischaemic_fraction",
           "tumour_necrosis_fraction", "normal_necrosis_fraction")
#: Label columns of every row, before the varied parameters and the outcomes.
_LABELS = ("strategy", "session", "catheter", "endpoint", "tumour", "segment")
#: Session label of a strategy's row as a whole (state after all its sessions).
TOTAL = "total"


# --- strategies and where they put the catheter -----------------------------------------


def distinct_strategies(strategies: Sequence[str | Strategy]) -> list[Strategy]:
    """Parse strategies (:meth:`Strategy.parse`), at least one, none twice.

    A strategy given twice (``selective,selective``, or ``selective`` and
    ``selective:stasis``, its default endpoint) would share its replicates' seeds
    and count each seed twice.

    Raises
    ------
    ScenarioError
        No strategy, an unknown one, or one given twice (path ``strategies``).
    """
    if isinstance(strategies, (str, Strategy)):  # one strategy given alone (review 16: "selective" read letter by letter)
        strategies = [strategies]
    parsed = [Strategy.parse(s) for s in strategies]
    if not parsed:
        raise ScenarioError("give at least one strategy", path="strategies")
    seen = set()
    for strategy in parsed:
        if strategy in seen:
            raise ScenarioError(f"strategy {strategy.label!r} given twice (with its default endpoint "
                                f"{strategy.endpoint!r} when none is written); give each strategy once",
                                path="strategies")
        seen.add(strategy)
    return parsed



@dataclass(frozen=True)
class Strategy:
    """A treatment strategy: a name from :data:`STRATEGY_NAMES` and an endpoint.

    Attributes
    ----------
    name : str
    endpoint : {"sluggish", "near_stasis", "stasis"}
        Angiographic endpoint of every injection (``procedure.endpoint``).
    """

    name: str
    endpoint: str

    def __post_init__(self) -> None:
        """Check the name and the endpoint (ScenarioError, path ``strategies``)."""
        if self.name not in STRATEGY_NAMES:
            raise ScenarioError(f"unknown strategy {self.name!r}; allowed: {', '.join(STRATEGY_NAMES)} "
                                "(optionally as name:endpoint)", path="strategies")
        if self.endpoint not in ENDPOINTS:
            raise ScenarioError(f"unknown endpoint {self.endpoint!r} of strategy {self.name!r}; allowed: "
                                f"{', '.join(ENDPOINTS)}", path="strategies")

    @classmethod
    def parse(cls, spec: str | Strategy) -> Strategy:
        """A strategy from ``"name"`` or ``"name:endpoint"`` (e.g. ``"lobar:stasis"``).

        Raises
        ------
        ScenarioError
            Unknown strategy or endpoint (path ``strategies``).
        """
        if isinstance(spec, Strategy):
            return spec
        name, _, endpoint = spec.strip().partition(":")
        return cls(name, endpoint or DEFAULT_ENDPOINTS.get(name, ""))

    @property
    def label(self) -> str:
        """``name``, or ``name:endpoint`` when the endpoint is not the strategy's default."""
        return self.name if self.endpoint == DEFAULT_ENDPOINTS[self.name] else f"{self.name}:{self.endpoint}"


@dataclass(frozen=True)
class Plan:
    """Where a strategy puts the catheter in one liver.

    Attributes
    ----------
    strategy : Strategy
    tumour : str
        Name of the tumour the positions are derived from.
    segment : str
        Couinaud segment holding most of that tumour.
    sessions : tuple of tuple of str
        Catheter vessels (named or ``'#n'``), injected in order; one inner tuple per
        session (procedure). Occlusions of every injection persist into the next.
    """

    strategy: Strategy
    tumour: str
    segment: str
    sessions: tuple[tuple[str, ...], ...]

    @property
    def catheter(self) -> str:
        """The positions in words: ``"RHA"``, ``"PHA + replaced_RHA"``, ``"RHA | LHA"`` (sessions)."""
        return " | ".join(" + ".join(session) for session in self.sessions)


def tumour_index(scenario: Scenario, tumour: str | None) -> int:
    """Index in ``scenario.tumours`` of the tumour named ``tumour`` (the first when ``None``).

    Raises
    ------
    ScenarioError
        No tumour of that name, or no tumour at all (path ``tumours``).
    """
    names = [t.name for t in scenario.tumours]
    if not names:
        raise ScenarioError("the strategies are derived from a tumour's position; this scenario has none",
                            path="tumours")
    if tumour is None:
        return 0
    if tumour not in names:
        raise ScenarioError(f"no tumour named {tumour!r}; tumours: {', '.join(names)}", path="tumours")
    return names.index(tumour)


def tumour_segment(liver: Liver, index: int) -> int:
    """Couinaud segment (0-7 for I-VIII) holding most of a tumour's tissue, in this liver.

    Parameters
    ----------
    liver : Liver
    index : int
        Index of the tumour in ``liver.scenario.tumours``.

    Returns
    -------
    int
        The segment with the most tissue points of the tumour (viable and necrotic).
    """
    points = liver.compiled.points
    counts = np.bincount(points.segment[points.tumour_id == index], minlength=len(SEGMENTS))
    return int(np.argmax(counts))


def superselective_feeder(liver: Liver, index: int) -> str:
    """The subsegmental synthetic artery ``'#n'`` feeding most of a tumour.

    Among the pedicle vessels of the tumour's segment whose subtree supplies at most
    :data:`SUPERSELECTIVE_MAX_SEGMENT_SHARE` of the segment's tissue volume, the one
    whose subtree holds the most of the tumour (ties: the smallest subtree).

    Returns
    -------
    str
        ``'#n'``, n the pedicle node whose incoming artery holds the tip.
    """
    from .kernels.treewalk import subtree_sums

    compiled = liver.compiled
    forest, points = compiled.forest, compiled.points
    parent = np.asarray(forest.parent, np.int64)
    leaf = compiled.compartments.node[points.compartment]
    volume, tumour = np.empty(forest.n_nodes), np.empty(forest.n_nodes)
    subtree_sums(parent, np.bincount(leaf, minlength=forest.n_nodes).astype(np.float64), volume)
    subtree_sums(parent, np.bincount(leaf[points.tumour_id == index],
                                     minlength=forest.n_nodes).astype(np.float64), tumour)
    segment = tumour_segment(liver, index)
    root = int(forest.root_nodes[np.flatnonzero(forest.segment[forest.root_nodes] == segment)[0]])
    candidates = np.flatnonzero((forest.segment == segment) & (parent >= 0)
                                & (volume <= SUPERSELECTIVE_MAX_SEGMENT_SHARE * volume[root]))
    if candidates.size == 0:
        raise ScenarioError(f"segment {SEGMENTS[segment]} has no subsegmental artery at this resolution; "
                            "lower it", path="liver.terminal_diameter_um")
    best = candidates[np.lexsort((volume[candidates], -tumour[candidates]))[0]]
    return f"#{best}"


def _ancestry(liver: Liver, vessel: str) -> list[str]:
    """Named arteries from ``vessel`` up to its root (coeliac or SMA), ``vessel`` first."""
    trunk = liver.compiled.trunk
    arteries = np.flatnonzero(trunk.edge_kind == EDGE_ARTERY)
    into = {int(trunk.edge_conns[e, 1]): int(e) for e in arteries}
    chain, edge = [], trunk.edge_index(vessel)
    while edge >= 0:
        chain.append(trunk.edge_names[edge])
        edge = into.get(int(trunk.edge_conns[edge, 0]), -1)
    return chain


def segments_fed(liver: Liver, vessel: str) -> tuple[str, ...]:
    """Couinaud segments (``"I"``-``"VIII"``) a catheter in ``vessel`` feeds: those whose segmental artery ``A_k`` is
    ``vessel`` or branches from it (the RHA: V-VIII, and I or IV where they leave it; an accessory LHA: II); a
    synthetic vessel ``#<n>``: its segment. Empty for an artery outside the liver (GDA, SMA, ...).

    Raises
    ------
    KeyError
        If the vessel does not exist in this anatomy (:meth:`Liver.vessel`).
    """
    ref = liver.vessel(vessel)
    if ref.kind == "pedicle":
        return (SEGMENTS[int(liver.compiled.forest.segment[ref.index])],)
    return tuple(segment for k, segment in enumerate(SEGMENTS, start=1) if vessel in _ancestry(liver, f"A{k}"))


def _generation(liver: Liver, vessel: str) -> int:
    trunk = liver.compiled.trunk
    return int(trunk.edge_generation[trunk.edge_index(vessel)])


def lobar_artery(liver: Liver, segment: int) -> str:
    """The lobar (generation 1) artery above a segment's artery ``A_k`` in this anatomy.

    RHA or LHA; in Michels III/IV the replaced RHA (from the SMA), in II/IV the
    replaced LHA (from the LGA); in V the accessory LHA for segment II and in VI the
    accessory RHA for segments VI-VII (the territories these arteries supply). The
    caudate artery A1 leaves the RHA, and A4 the RHA when
    ``anatomy.segment4_artery_origin = "RHA"``.
    """
    return next(v for v in _ancestry(liver, f"A{segment + 1}") if _generation(liver, v) == 1)


def hepatic_origins(liver: Liver) -> tuple[str, ...]:
    """The fewest catheter positions that reach every segment: the most proximal hepatic artery above each A_k.

    ``("PHA",)`` in Michels type I; ``("PHA", "replaced_RHA")`` in III, the two
    replaced arteries in IV, the PHA and the replaced LHA in II, the PHA and the
    accessory artery in V and VI. The PHA first, then the wider artery first.
    """
    return _in_order(liver, {next(v for v in reversed(_ancestry(liver, f"A{k}")) if _generation(liver, v) >= 0)
                             for k in range(1, len(SEGMENTS) + 1)})


def _in_order(liver: Liver, vessels) -> tuple[str, ...]:
    """Distinct vessels in injection order: proximal (lower generation) first, then the wider first."""
    trunk = liver.compiled.trunk
    return tuple(sorted(set(vessels), key=lambda v: (_generation(liver, v), -trunk.edge_radius_m[trunk.edge_index(v)])))


def _lobe_sessions(liver: Liver) -> tuple[tuple[str, ...], ...]:
    """Right lobar arteries (session 1), then the left ones not already injected (session 2)."""
    lobar = {s: lobar_artery(liver, k) for k, s in enumerate(SEGMENTS)}
    right = _in_order(liver, (lobar[s] for s in RIGHT_LOBE))
    left = _in_order(liver, (lobar[s] for s in LEFT_LOBE if lobar[s] not in right))
    return tuple(session for session in (right, left) if session)


def plan_strategy(strategy: str | Strategy, liver: Liver, *, tumour: str | None = None) -> Plan:
    """Catheter positions of a strategy in one liver.

    Parameters
    ----------
    strategy : str or Strategy
        ``"selective"``, ``"lobar:stasis"``, ... (:meth:`Strategy.parse`).
    liver : Liver
        The built liver (its scenario's anatomy and tumours).
    tumour : str, optional
        Name of the tumour to target; the first when omitted.

    Returns
    -------
    Plan

    Raises
    ------
    ScenarioError
        Unknown strategy or tumour, or a scenario without tumours.
    """
    strategy = Strategy.parse(strategy)
    t = tumour_index(liver.scenario, tumour)
    segment = tumour_segment(liver, t)
    sessions = {
        "superselective": lambda: ((superselective_feeder(liver, t),),),
        "selective": lambda: ((f"A{segment + 1}",),),
        "lobar": lambda: ((lobar_artery(liver, segment),),),
        "whole_liver": lambda: (hepatic_origins(liver),),
        "staged_bilobar": lambda: _lobe_sessions(liver),
    }[strategy.name]()
    return Plan(strategy, liver.scenario.tumours[t].name, SEGMENTS[segment], sessions)


# --- varied parameters ------------------------------------------------------------------


#: Size estimate of a --vary grid (:func:`estimate_grid`), measured with tracemalloc and timeit on the
#: default scenario: a grid point holds its values and its validated scenario (12 kB measured, 15 kB; validation
#: about 0.25 ms then, 0.4-0.5 ms for a sweep's point in review 22: 0.5 ms is used, as for sweeps), a run its
#: table row (about 4 kB). The liver builds and the runs themselves are estimated and shown by their own steps.
_GRID_BYTES_PER_POINT = 15e3
_GRID_SECONDS_PER_POINT = 5e-4
_GRID_BYTES_PER_RUN = 4e3
_BASE_MEMORY_BYTES = 3.2e8


def estimate_grid(points: int, runs: int = 0) -> SizeEstimate:
    """Estimated memory and time of building (and validating) a --vary grid of ``points`` points.

    Examples
    --------
    >>> estimate_grid(6, runs=150).too_large
    False
    >>> estimate_grid(2_000_000_000).too_large
    True
    """
    return SizeEstimate("--vary grid", f"{count(points, 'point')} and {count(runs, 'run')}",
                        _BASE_MEMORY_BYTES + points * _GRID_BYTES_PER_POINT + runs * _GRID_BYTES_PER_RUN,
                        points * _GRID_SECONDS_PER_POINT)


def parse_vary(spec: str, *, allow_large: bool | None = None) -> tuple[str, Sequence[Any]]:
    """Parse ``PATH=START:STOP:N`` into the path and N evenly spaced values (both ends included), or
    ``PATH=V1,V2,...`` into the path and those values.

    A listed value is read as TOML reads a value (``2`` an integer, ``0.5`` a number, ``true`` a flag, ``"a,b"``
    text that may hold a comma); anything else is text (``40-120``, ``III``), so categories such as
    ``agent.size_bin`` or ``anatomy.michels_type`` can be listed. A value given twice (``2,2.0``) is refused.
    N, or the number of values, is checked against the size limits (:func:`estimate_grid`, :mod:`sim.limits`)
    before any array is allocated; ``allow_large`` overrides them.

    Examples
    --------
    >>> path, values = parse_vary("tumours.0.arterial_fraction=0.5:1.0:6")
    >>> path, values.round(2).tolist()
    ('tumours.0.arterial_fraction', [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    >>> parse_vary("agent.size_bin=40-120,100-300,300-500")
    ('agent.size_bin', ['40-120', '100-300', '300-500'])
    >>> parse_vary("anatomy.michels_type=I, III")
    ('anatomy.michels_type', ['I', 'III'])
    >>> parse_vary('catheter.rate_ml_min=1,2.5')
    ('catheter.rate_ml_min', [1, 2.5])

    Raises
    ------
    ValueError
        Not of either form, N < 1, an empty or repeated listed value.
    SizeError
        N above the size limits (a ValueError too).
    """
    path, eq, grid = spec.partition("=")
    path = path.strip()
    form = "PATH=START:STOP:N or PATH=V1,V2,... (e.g. tumours.0.arterial_fraction=0.5:1.0:6, agent.size_bin=40-120,100-300)"
    if not (eq and path and grid.strip()):
        raise ValueError(f"{spec!r} is not {form}")
    if ":" not in grid:
        tokens = _split_list(grid)
        if any(token == "" for token in tokens):
            raise ValueError(f"{spec!r}: an empty value in the list; {form}")
        values = [_listed_value(token) for token in tokens]
        if any(isinstance(value, float) and not math.isfinite(value) for value in values):
            raise ValueError(f"{spec!r}: listed numbers must be finite")
        try:
            _check_distinct(path, values)
        except ScenarioError as exc:
            raise ValueError(f"{spec!r}: {exc.message}") from None
        check_size(estimate_grid(len(values), len(values)), path=path, fix="list fewer values", allow_large=allow_large)
        return path, values
    parts = grid.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise ValueError(f"{spec!r} is not {form}") from None
    if n < 1:
        raise ValueError(f"{spec!r}: N must be at least 1")
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise ValueError(f"{spec!r}: START and STOP must be finite numbers")
    if n > 1 and start == stop:
        raise ValueError(f"{spec!r}: START equals STOP, so its {n} values are one value counted {n} times; use N = 1")
    check_size(estimate_grid(n, n), path=path, fix="use a smaller N", allow_large=allow_large)
    return path, np.linspace(start, stop, n)


def _split_list(text: str) -> list[str]:
    """``V1,V2,...`` split at the commas outside quotes, each value stripped of spaces (quotes kept)."""
    tokens, current, quote = [], [], ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == ",":
            tokens.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    return [*tokens, "".join(current).strip()]


def _listed_value(token: str) -> Any:
    """One value of ``PATH=V1,V2,...``: a TOML number or flag as such, anything else as text."""
    import tomllib

    try:
        value = tomllib.loads(f"value = {token}")["value"]
    except tomllib.TOMLDecodeError:
        return token
    return value if isinstance(value, (bool, int, float, str)) else token


#: Scenario keys each strategy sets (:func:`_perform`), and what to do instead of varying them.
_SET_BY_STRATEGY = {
    "catheter.vessel": "compare catheter positions with --strategies (superselective,selective,lobar,...)",
    "procedure.endpoint": "give endpoints with --strategies NAME:ENDPOINT (selective:sluggish,selective:stasis)",
}


def _check_distinct(path: str, values: list[Any]) -> None:
    """:func:`sim.sweep_spec.check_distinct_values`, naming ``path``: a repeated value's rows would merge."""
    from .sweep_spec import check_distinct_values

    try:
        check_distinct_values(values)
    except ValueError as exc:
        raise ScenarioError(str(exc), path=path) from None


def _check_liver_once(scenario: Scenario, seen: set[str], allow_large: bool | None) -> None:
    """The build size of each distinct anatomy among the varied points (:func:`sim.anatomy.estimate_build`)."""
    from .anatomy.liver import check_build_size
    from .sweep_spec import anatomy_key

    key = anatomy_key(scenario)
    if key not in seen:
        seen.add(key)
        check_build_size(scenario, allow_large=allow_large)


def vary_grid(scenario: Scenario, vary: Mapping[str, Sequence[Any]] | None, *, runs_per_point: int = 1,
              allow_large: bool | None = None) -> list[tuple[dict[str, Any], Scenario]]:
    """Every combination of the varied values, with its scenario (validated up front).

    The grid's size is checked first (:func:`estimate_grid`, :mod:`sim.limits`), then
    each varied point's particles and each distinct liver's build.

    Parameters
    ----------
    scenario : Scenario
    vary : mapping of str to sequence, optional
        Dotted scenario path -> values, numbers or not (``{"agent.size_bin":
        ["40-120", "100-300"]}``); ``tumours.<field>`` varies every tumour.
    runs_per_point : int, optional
        Runs at each point (strategies x replicates), for the memory estimate.
    allow_large : bool, optional
        Build the grid even above the size limits.

    Returns
    -------
    list of (dict, Scenario)
        ``({path: value}, scenario with those values)``, the grid in row-major order;
        ``[({}, scenario)]`` without ``vary``.

    Raises
    ------
    ScenarioError
        An unknown path or a value out of range (naming the path); ``procedure.seed`` (the replicates'
        seeds come from the base scenario's).
    SizeError
        The grid is above the size limits (naming the varied paths).
    """
    from .sweep_spec import SEED_KEY

    vary = dict(vary or {})
    if SEED_KEY in vary:  # each replicate's seed comes from the base's: a varied one would be ignored
        raise ScenarioError(f"the replicates' procedure seeds come from the scenario's {SEED_KEY} (or --seed); vary "
                            "--replicates instead", path=SEED_KEY)
    for path, instead in _SET_BY_STRATEGY.items():  # each strategy sets them: a varied value would be ignored
        if path in vary:
            raise ScenarioError(f"each strategy sets {path}, so a varied one would be ignored; {instead}", path=path)
    for path, values in vary.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray, range)) or not len(values):
            raise ScenarioError(f"vary[{path!r}]: a non-empty sequence of values (a list, a range, an array), not "
                                f"{values!r}", path=path)
        _check_distinct(path, list(values))
    scenario.expand_updates(dict.fromkeys(vary))  # two varied paths must not set one value (tumours.x, tumours.0.x)
    n_points = math.prod(len(v) for v in vary.values())
    check_size(estimate_grid(n_points, n_points * runs_per_point), path=", ".join(vary) or "vary",
               fix="vary fewer values", allow_large=allow_large)
    points = []
    anatomies: set[str] = set()
    for values in itertools.product(*(list(v) for v in vary.values())):
        point = {path: value.item() if isinstance(value, np.generic) else value for path, value in zip(vary, values)}
        updates = scenario.expand_updates(point)
        try:
            varied = scenario.with_updates(updates)
            check_agent_keys(point, varied)  # a key this point's agent kind does not use: every run the same
            if vary:  # the particles and liver of a varied point (the base is the caller's to check)
                check_particles_size(varied, allow_large=allow_large)
                _check_liver_once(varied, anatomies, allow_large)
            points.append((point, varied))
        except SizeError as exc:
            raise SizeError(f"at {point}: {exc.message}", path=", ".join(point)) from None
        except ScenarioError as exc:  # name the varied path, not the internal source of with_updates
            raise ScenarioError(exc.message, path=exc.path or ", ".join(point)) from None
    return points


# --- running the plans -------------------------------------------------------------------


def _seed_sequence(scenario: Scenario, rng) -> np.random.SeedSequence:
    """The comparison's root SeedSequence: from ``rng``, or ``procedure.seed`` when ``None``."""
    from .simulation import check_rng

    check_rng(rng)
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2**63)))
    return np.random.SeedSequence(scenario.procedure.seed if rng is None else int(rng))


def _injection_seed(replicate: np.random.SeedSequence, k: int) -> int:
    """Seed of the k-th injection of a replicate: the same for every strategy (common random numbers)."""
    child = np.random.SeedSequence(replicate.entropy, spawn_key=(*replicate.spawn_key, k))
    return int(child.generate_state(1, np.uint32)[0])


def _healthy_flows(liver: Liver) -> np.ndarray:
    """Compartment flows (C, 4) of the calibrated healthy liver, m^3/s (the ischaemia reference)."""
    from .flow.model import LiverFlow
    from .simulation import healthy_compartment_flows

    return healthy_compartment_flows(LiverFlow(liver.compiled, liver.scenario))


def staged_interval(scenario: Scenario, interval_weeks: float | None = None) -> float:
    """Weeks between the sessions of a staged strategy.

    ``interval_weeks`` when given (``embosim compare --interval-weeks``), else the
    scenario's ``interval.weeks`` when set (a scenario file or ``--vary
    interval.weeks=...``), else :data:`DEFAULT_STAGED_INTERVAL_WEEKS`.

    Raises
    ------
    ScenarioError
        Not a finite number of weeks in [0, ``MAX_INTERVAL_WEEKS``] (path ``interval_weeks``).
    """
    if interval_weeks is None:
        weeks = scenario.interval.weeks
        return DEFAULT_STAGED_INTERVAL_WEEKS if weeks is None else float(weeks)
    try:
        weeks = float(interval_weeks)
    except (TypeError, ValueError):
        weeks = math.nan
    if not (math.isfinite(weeks) and 0.0 <= weeks <= MAX_INTERVAL_WEEKS):
        raise ScenarioError(f"the interval between staged sessions must be a number of weeks from 0 to "
                            f"{MAX_INTERVAL_WEEKS:g} (got {interval_weeks!r})", path="interval_weeks")
    return weeks


def _perform(plan: Plan, scenario: Scenario, liver: Liver, replicate: np.random.SeedSequence,
             interval_weeks: float = 0.0) -> list[list[RunResult]]:
    """Run every injection of a plan in order, each on the occlusions of all before it.

    The first injection of every session after the first comes ``interval_weeks`` after
    the previous session (``interval.weeks``, :mod:`sim.interval`); injections of one
    session follow each other at once.
    """
    from .simulation import run

    seeds = (_injection_seed(replicate, k) for k in itertools.count())
    prior, sessions = None, []
    for k, vessels in enumerate(plan.sessions):
        injections = []
        for i, vessel in enumerate(vessels):
            weeks = interval_weeks if k > 0 and i == 0 else 0.0
            step = scenario.with_updates({"catheter.vessel": vessel, "procedure.endpoint": plan.strategy.endpoint,
                                          "interval.weeks": weeks})
            prior = run(step, rng=next(seeds), progress=False, liver=liver, prior=prior)
            injections.append(prior)
        sessions.append(injections)
    return sessions


def _numeric(summary: Mapping[str, Any]) -> dict[str, float]:
    """The numeric outcomes of a run summary (bools as 0/1), provenance and counters left out."""
    return {k: float(v) for k, v in summary.items()
            if isinstance(v, (bool, int, float, np.number)) and k not in METRICS_EXCLUDED}


def _combine(runs: Sequence[RunResult]) -> dict[str, float]:
    """Outcomes of consecutive injections as one: sums, all endpoints reached, the course's plasma peak and oil per day
    (:func:`_course_readouts`), the oil's read-outs weighted by Lipiodol, particle-weighted means of the rest."""
    rows = [_numeric(r.summary) for r in runs]
    combined = {}
    # a key of some injections only (a Y-90 delivery's keys come with its batched first session: docs/outputs.md;
    # review 29: a staged Y-90 comparison raised a KeyError), or undefined (NaN) in some (a blush or deposition ratio
    # of a territory without tumour; review 30: the total was NaN), is combined over those that have a value
    for key in dict.fromkeys(k for row in rows for k in row):
        have = [row for row in rows if key in row and not math.isnan(row[key])] or [row for row in rows if key in row]
        values = np.array([row[key] for row in have])
        weights = np.array([row["particles_injected"] for row in have])
        weighted = weights > 0 if weights.sum() > 0 else np.ones(len(have), bool)  # injections that injected
        if key in _SUMMED:
            combined[key] = float(values.sum())
        elif key in _OIL_WEIGHTED and sum(row.get("lipiodol_volume_ml", 0.0) for row in have) > 0:
            combined[key] = float(np.average(values, weights=[row.get("lipiodol_volume_ml", 0.0) for row in have]))
        elif key == "endpoint_reached":
            combined[key] = float(values.min())
        else:
            combined[key] = float(np.average(values[weighted], weights=np.maximum(weights[weighted], 1.0)))
    if combined.get("drug_delivered_mg", 0.0) > 0:
        combined["drug_tumour_fraction"] = combined["drug_tumour_mg"] / combined["drug_delivered_mg"]
    combined.update(_course_readouts(runs))
    return combined


def _course_readouts(runs: Sequence[RunResult]) -> dict[str, float]:
    """What a course of injections gives the patient as a whole: each starts ``interval.weeks`` after the one before
    (0: the same day). The plasma curves add (:func:`sim.pharmacokinetics.course_plasma_peak`; the peak's time from
    the first injection), and a day's Lipiodol (each 24 h from the first injection) is summed for
    ``lipiodol_pulmonary_risk`` (the sources count the oil of a procedure): until 2026-12-07 both were averaged over
    the injections (reviews 41-43)."""
    from .pharmacokinetics import course_plasma_peak, summary_releases
    from .units import DAY_S, HOUR_S, HOURS_PER_WEEK, NG_ML_KG_M3

    out, start, drug, oil = {}, 0.0, [], {}
    for k, r in enumerate(runs):
        start += r.scenario.interval.elapsed_weeks * HOURS_PER_WEEK * HOUR_S if k else 0.0
        if "drug_delivered_mg" in r.summary:
            drug.append((start, summary_releases(r.summary)))
        if "lipiodol_volume_ml" in r.summary:
            day = int(start // DAY_S)  # the course's days, each 24 h from the first injection
            oil[day] = oil.get(day, 0.0) + r.summary["lipiodol_volume_ml"]
    if drug:
        peak, when = course_plasma_peak(drug)
        out["plasma_doxorubicin_peak_ng_ml"], out["plasma_doxorubicin_peak_time_h"] = peak / NG_ML_KG_M3, when / HOUR_S
    if oil:
        from .lipiodol import PULMONARY_RISK_LIPIODOL_ML  # (inside: sim.cli imports no Numba)

        out["lipiodol_pulmonary_risk"] = float(max(oil.values()) > PULMONARY_RISK_LIPIODOL_ML)
    return out


def _plan_rows(plan: Plan, sessions: list[list[RunResult]], liver: Liver, q_healthy: np.ndarray
               ) -> list[dict[str, Any]]:
    """The total row of a plan's runs, and one row per session when there are several."""
    from .outcomes import tissue_outcomes

    q_pre = sessions[0][0].state["compartment_flow_baseline_m3s"]
    thresholds = sessions[0][0].scenario.outcomes
    permanent = sessions[0][0].scenario.agent.permanent
    states = [tissue_outcomes(liver.compiled.compartments, q_healthy, q_pre, q, thresholds, permanent=permanent)
              for q in [q_pre] + [s[-1].state["compartment_flow_final_m3s"] for s in sessions]]
    for state, course in zip(states[1:], (s[-1].state["course"] for s in sessions)):  # dead tissue stays dead
        state.update({"tumour_necrosis_fraction": course.tumour_necrosis,
                      "normal_necrosis_fraction": course.normal_necrosis,
                      "normal_function_loss_fraction": course.function_loss,
                      "normal_function_loss_peak_fraction": course.function_loss_peak})
    labels = {"strategy": plan.strategy.label, "endpoint": plan.strategy.endpoint, "tumour": plan.tumour,
              "segment": plan.segment}
    total = {**labels, "session": TOTAL, "catheter": plan.catheter,
             **_combine([r for s in sessions for r in s]), **states[-1]}
    if len(sessions) == 1:
        return [total]
    rows = [total]
    for k, (vessels, runs) in enumerate(zip(plan.sessions, sessions), start=1):
        added = {key: states[k][key] - states[k - 1][key] for key in _DAMAGE}
        rows.append({**labels, "session": str(k), "catheter": " + ".join(vessels), **_combine(runs), **states[k],
                     **added})
    return rows


class _Livers:
    """One built liver per distinct anatomy (``[liver]``, ``[anatomy]``, ``[[tumours]]``, ``[flow]``)."""

    def __init__(self, *, progress: bool, allow_large: bool | None = None) -> None:
        self.progress = progress
        self.allow_large = allow_large
        self.built: dict[str, tuple[Liver, np.ndarray]] = {}

    def get(self, scenario: Scenario) -> tuple[Liver, np.ndarray]:
        """The liver of ``scenario`` and its healthy compartment flows."""
        from .anatomy import build_liver
        from .sweep_spec import anatomy_key

        key = anatomy_key(scenario)
        if key not in self.built:
            liver = build_liver(scenario, progress=self.progress, allow_large=self.allow_large,
                                check_catheter=False)  # (shared by catheter positions: each run checks its own)
            self.built[key] = (liver, _healthy_flows(liver))
        return self.built[key]


def run_strategies(scenario: Scenario, strategies: Sequence[str | Strategy] = STRATEGY_NAMES,
                   replicates: int = 5, *, vary: Mapping[str, Sequence[Any]] | None = None,
                   tumour: str | None = None, rng=None, progress: bool = False,
                   allow_large: bool | None = None, interval_weeks: float | None = None) -> pd.DataFrame:
    """Run every strategy on the same liver, ``replicates`` times each: one row per run.

    Parameters are those of :func:`compare`; ``allow_large`` runs grids and livers
    above the size limits (:mod:`sim.limits`).

    Returns
    -------
    pandas.DataFrame
        One row per (varied value, strategy, replicate, session): the label columns
        ``strategy, session, catheter, endpoint, tumour, segment``, the varied paths,
        ``replicate``, ``seed`` (of the replicate's first injection, for ``embosim run
        --seed``) and every numeric outcome (``docs/outputs.md``; session rows:
        ``docs/strategies.md``).
    """
    import pandas as pd

    from .progress import progress_bar
    from .results import typed_columns

    require_scenario(scenario, "sim.compare")

    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) or replicates < 1:
        raise ScenarioError(f"replicates must be an integer of at least 1 (got {replicates!r})", path="replicates")
    parsed = distinct_strategies(strategies)
    staged_interval(scenario, interval_weeks)  # a bad interval fails before anything runs
    grid = vary_grid(scenario, vary, runs_per_point=len(parsed) * replicates, allow_large=allow_large)
    tumour_index(scenario, tumour)
    children = _seed_sequence(scenario, rng).spawn(replicates)
    livers = _Livers(progress=progress, allow_large=allow_large)
    bar = progress_bar(total=len(grid) * len(parsed) * replicates, desc="comparing", disable=not progress)
    rows, summaries = [], []
    for point, point_scenario in grid:
        liver, q_healthy = livers.get(point_scenario)
        for strategy in parsed:
            plan = plan_strategy(strategy, liver, tumour=tumour)
            for r, child in enumerate(children):
                sessions = _perform(plan, point_scenario, liver, child, staged_interval(point_scenario, interval_weeks))
                summaries += [run.summary for session in sessions for run in session]  # (their integers and flags)
                extra = {**point, "replicate": r, "seed": _injection_seed(child, 0)}
                rows += [{**row, **extra} for row in _plan_rows(plan, sessions, liver, q_healthy)]
                bar.update()
    bar.close()
    table = typed_columns(pd.DataFrame(rows), summaries)
    first = [*_LABELS, *(vary or {}), "replicate", "seed"]
    return table[first + [c for c in table.columns if c not in first]]


def _t_interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval of the mean of the non-NaN values.

    Fewer than two values: NaN bounds. All values equal (infinite ones included):
    the interval is that value. Some, not all, infinite: NaN bounds.
    """
    from scipy import stats

    values = values[~np.isnan(values)]
    if values.size == 0:
        return (math.nan,) * 3
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan
    if np.all(values == values[0]):
        return mean, mean, mean
    if not np.isfinite(values).all():
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return mean, mean - half, mean + half


def summarise_replicates(raw: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% t-interval of every outcome over the replicates (:func:`run_strategies` rows).

    Returns
    -------
    pandas.DataFrame
        One row per (varied value, strategy, session), in the order of ``raw``:
        the label and varied columns, ``replicates`` and, for every outcome ``m``,
        ``m``, ``m_lo`` and ``m_hi``.
    """
    import pandas as pd

    keys = list(raw.columns[:raw.columns.get_loc("replicate")])
    metrics = list(raw.columns[raw.columns.get_loc("seed") + 1:])
    rows = []
    for key, group in raw.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key)) | {"replicates": len(group)}
        for metric in metrics:
            values = group[metric].to_numpy(float, na_value=np.nan)  # (nullable integers and flags: NA is NaN)
            row[metric], row[f"{metric}_lo"], row[f"{metric}_hi"] = _t_interval(values)
        rows.append(row)
    return pd.DataFrame(rows)


def compare(scenario: Scenario, strategies: Sequence[str | Strategy] = STRATEGY_NAMES, replicates: int = 5, *,
            vary: Mapping[str, Sequence[Any]] | None = None, tumour: str | None = None, rng=None,
            progress: bool = False, allow_large: bool | None = None,
            interval_weeks: float | None = None) -> pd.DataFrame:
    """Compare treatment strategies on one liver: mean and 95% interval of every outcome.

    Parameters
    ----------
    scenario : Scenario
        The patient: liver, anatomy, tumours, agent, injection and thresholds. The
        strategies replace ``catheter.vessel`` and ``procedure.endpoint``.
    strategies : sequence of str or Strategy
        Names from :data:`STRATEGY_NAMES`, optionally ``name:endpoint``.
    replicates : int
        Runs per strategy, each with its own seed; replicate r uses the same
        seeds for every strategy and varied value (common random numbers).
    vary : mapping of str to sequence, optional
        Scenario path -> values, e.g. ``{"tumours.0.arterial_fraction":
        np.linspace(0.5, 1.0, 6)}`` or ``{"agent.size_bin": ["40-120", "100-300"]}``;
        several paths give their full grid. One liver is built per distinct anatomy
        (a tumour parameter changes the tree).
    tumour : str, optional
        Name of the tumour the catheter positions target (default: the first).
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Root of the replicate seeds (spawned); ``None`` uses ``procedure.seed``.
    progress : bool
        Show a progress bar.
    allow_large : bool, optional
        Run a --vary grid or a liver above the size limits (:mod:`sim.limits`).
    interval_weeks : float, optional
        Weeks between the sessions of a staged strategy (:func:`staged_interval`:
        default the scenario's ``interval.weeks`` if it sets it, else 6).

    Returns
    -------
    pandas.DataFrame
        One row per strategy (and session of a staged strategy, and varied value):
        ``strategy, session, catheter, endpoint, tumour, segment``, the varied paths,
        ``replicates``, and for every numeric outcome ``m`` of ``docs/outputs.md``
        the mean ``m`` and the bounds ``m_lo``, ``m_hi`` of its 95% Student-t
        interval. Per-replicate rows: :func:`run_strategies`.

    Raises
    ------
    ScenarioError
        Unknown strategy, tumour or varied path, bad value, or fewer than one replicate;
        a grid or liver above the size limits (:class:`~sim.limits.SizeError`).

    See Also
    --------
    run_strategies, summarise_replicates, plan_strategy
    """
    return summarise_replicates(run_strategies(scenario, strategies, replicates, vary=vary, tumour=tumour,
                                               rng=rng, progress=progress, allow_large=allow_large,
                                               interval_weeks=interval_weeks))


# --- tables for people ---------------------------------------------------------------


#: Outcomes shown in the readable tables (all of them are in comparison.csv), with short headings.
SHOWN = (("tumour_particle_fraction", "tumour particles"), ("tumour_necrosis_fraction", "tumour necrosis"),
         ("normal_necrosis_fraction", "normal necrosis"), ("tumour_devascularised_fraction", "tumour devasc."),
         ("normal_ischaemic_fraction", "normal ischaemia"), ("biliary_ischaemic_fraction", "biliary ischaemia"),
         ("nontarget_particle_fraction", "non-target"), ("lodging_generation_median", "lodging gen."),
         ("suspension_volume_ml", "suspension mL"), ("sace_level", "SACE"))


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cell(value: float, lo: float, hi: float) -> str:
    """``mean [lo, hi]``; the mean alone without an interval (one replicate, or replicates that agree); "n/a" for an
    outcome undefined in every replicate (a NaN mean: the lodging generation of oil alone)."""
    if math.isnan(value):
        return "n/a"
    if math.isnan(lo) or lo == hi:
        return f"{value:.3g}"
    return f"{value:.3g} [{lo:.3g}, {hi:.3g}]"


def _table_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and string cells of the readable table (mean [95% interval])."""
    labels = ["strategy", "session", "catheter", "endpoint"]
    varied = list(table.columns[table.columns.get_loc("segment") + 1:table.columns.get_loc("replicates")])
    header = labels + varied + [title for _, title in SHOWN]
    cells = [[str(row[c]) for c in labels] + [_value(row[c]) for c in varied]
             + [_cell(row[m], row[f"{m}_lo"], row[f"{m}_hi"]) for m, _ in SHOWN]
             for _, row in table.iterrows()]
    return header, cells


def format_table(table: pd.DataFrame, *, markdown: bool = False) -> str:
    """The comparison as a readable table: Markdown, or aligned plain text.

    Shows the label and varied columns and the outcomes of :data:`SHOWN` as
    ``mean [lo, hi]``.
    """
    header, cells = _table_cells(table)
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        escaped = [[cell.replace("|", "\\|") for cell in row] for row in cells]  # "RHA | LHA": one cell
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in escaped]) + "\n"
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *cells]) + "\n"


def comparison_markdown(table: pd.DataFrame, scenario: Scenario, *, replicates: int, seed_note: str) -> str:
    """``comparison.md``: the readable table, how to read it, and the patient-selection verdict."""
    from .selection import assess_patient

    first = table.iloc[0]
    staged = ("Rows of session 1, 2 are the sessions of a staged strategy: their devascularisation and "
              "ischaemia are what that session added (negative where the weeks before it reopened more than it "
              "closed: recanalisation, docs strategies); its total row is the state after all sessions. "
              if (table["session"] != TOTAL).any() else "")
    from .therapies import THERAPIES, lipiodol_note

    therapies = set(table["strategy"].astype(str)) <= set(THERAPIES)  # embosim compare --therapies
    where = (f"Therapies (agents: embosim docs tace) from the scenario's catheter position, {first['catheter']}. Each therapy"
             if therapies else f"Catheter positions derived from tumour {first['tumour']!r} (segment {first['segment']}). "
             "Each strategy")
    cells = ("Cells: one run each, no interval (give --replicates 2 or more for intervals); every outcome is in "
             "comparison.csv" if replicates <= 1 else
             "Cells: mean [95% Student-t interval of the mean; none shown where the replicates agree]; every outcome, "
             "with its bounds, is in comparison.csv")
    how = (f"{where} on the same liver, {replicates} replicate(s) with common random numbers ({seed_note}). {cells} "
           f"(definitions: embosim docs outputs, embosim docs strategies). {staged}")
    return "\n".join([f"# {'Therapy' if therapies else 'Strategy'} comparison: {scenario.title}", "",
                      scenario.description or "", "", how.rstrip(), "", format_table(table, markdown=True),
                      *([note, ""] if (note := lipiodol_note(table) if therapies else "") else []),
                      assess_patient(scenario).to_markdown()])


def write_comparison(table: pd.DataFrame, raw: pd.DataFrame, scenario: Scenario, out_dir: str | Path, *,
                     root_seed: int, force: bool = True) -> list[Path]:
    """Write ``comparison.csv`` (the table), ``replicates.csv`` (the runs) and ``comparison.md`` into ``out_dir``.

    The three files are written into a staging folder that then becomes ``out_dir``
    in one rename (:func:`sim.io.staged_folder`): never a table of one comparison
    beside the report of another.

    Parameters
    ----------
    force : bool
        Replace an earlier comparison in ``out_dir`` (else :class:`sim.io.OutputError`).

    Returns
    -------
    list of Path
        The files written.
    """
    from .io import atomic_write, staged_folder, write_text

    out = Path(out_dir)
    names = ["comparison.csv", "replicates.csv", "comparison.md"]
    replicates = int(raw["replicate"].max()) + 1
    with staged_folder(out, marker=names[0], force=force) as stage:
        with atomic_write(stage.path / names[0]) as tmp:
            table.to_csv(tmp, index=False)
        with atomic_write(stage.path / names[1]) as tmp:
            raw.to_csv(tmp, index=False)
        write_text(stage.path / names[2], comparison_markdown(
            table, scenario, replicates=replicates,
            seed_note=f"root seed {root_seed}; replicates.csv gives each run's seed"))
    return [stage.final / name for name in names]
