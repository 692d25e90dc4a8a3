"""Size limits: a cheap estimate of memory and time before anything large is allocated.

Every step whose size follows from user input estimates its peak memory and its
time first, by arithmetic on the input alone, and:

* refuses (:class:`SizeError`, a :class:`~sim.scenario.ScenarioError` naming the
  key) above :data:`MAX_MEMORY_BYTES` or :data:`MAX_SECONDS`, unless large sizes
  are allowed (``allow_large=True`` in Python, ``--allow-large`` on the command
  line, or the :func:`allow_large` context);
* warns (:class:`SizeWarning`) above :data:`WARN_MEMORY_BYTES` or :data:`WARN_SECONDS`.

The estimates (calibrated on the benchmarks in ``benchmarks/results``):

* a liver build, :func:`sim.anatomy.estimate_build` (terminals and tissue points);
* a sweep plan, :func:`sim.sweep_spec.estimate_plan` (points and runs);
* a ``compare --vary`` grid, :func:`sim.strategies.estimate_grid`;
* the particles of a procedure, :func:`estimate_particles` (checked by the command
  line, for every sweep point and every ``--vary`` point; ``sim.run`` itself does not).

Examples
--------
>>> from sim.limits import SizeEstimate, check_size
>>> small = SizeEstimate("liver build", "1e3 terminals", 4e8, 0.3)
>>> check_size(small, path="liver.terminal_diameter_um") is small
True
>>> huge = SizeEstimate("liver build", "3e7 terminals", 3.2e10, 550.0)
>>> check_size(huge, path="liver.terminal_diameter_um")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sim.limits.SizeError: liver.terminal_diameter_um: liver build of 3e7 terminals would need about 29.8 GiB and 9.2 min, ...
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .scenario import ScenarioError

__all__ = ["MAX_MEMORY_BYTES", "MAX_SECONDS", "WARN_MEMORY_BYTES", "WARN_SECONDS", "SizeError", "SizeEstimate",
           "SizeWarning", "allow_large", "check_particles_size", "check_size", "count", "estimate_particles"]

GIB = 2.0 ** 30


def _physical_memory() -> float:
    """Physical memory of this machine, bytes (infinite where the OS does not say)."""
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return float("inf")


#: Refuse above this estimated peak memory: 4 GiB (the 1e6-terminal liver, 2.3 GB, fits with room;
#: benchmarks/results/anatomy.json), or half of this machine's memory if that is less.
MAX_MEMORY_BYTES: float = min(4.0 * GIB, 0.5 * _physical_memory())
#: Refuse above this estimated time, s: 10 minutes of work before the first result.
MAX_SECONDS: float = 600.0
#: Warn above this estimated peak memory, bytes.
WARN_MEMORY_BYTES: float = 1.0 * GIB
#: Warn above this estimated time, s.
WARN_SECONDS: float = 60.0

_ALLOW_LARGE: ContextVar[bool] = ContextVar("embosim_allow_large", default=False)


class SizeError(ScenarioError):
    """A step estimated above the size limits; the message names the key, the estimate and the override."""


class SizeWarning(UserWarning):
    """A step estimated above the warning limits (it runs, but takes long or much memory)."""


def _bytes(n: float) -> str:
    if n >= 1024 * GIB:
        return f"{n / (1024 * GIB):.3g} TiB"
    return f"{n / GIB:.3g} GiB" if n >= 0.1 * GIB else f"{n / 2 ** 20:.3g} MiB"


def count(n: float, noun: str = "") -> str:
    """A count in two significant digits, ``1.4e5``, ``30``, with its noun (plural unless 1)."""
    if noun:
        return f"{count(n)} {noun}{'' if n == 1 else 's'}"
    if n < 1e5 and float(n).is_integer():
        return str(int(n))
    return f"{n:.2g}".replace("e+0", "e").replace("e+", "e")


def _duration(s: float) -> str:
    if s < 60:
        return f"{s:.2g} s"
    if s < 3600:
        return f"{s / 60:.2g} min"
    if s < 86400 * 2:
        return f"{s / 3600:.2g} h"
    return f"{s / 86400:.2g} days"


@dataclass(frozen=True)
class SizeEstimate:
    """Estimated peak memory and time of one step.

    Attributes
    ----------
    what : str
        The step (``"liver build"``, ``"the plan and results table (not the runs)"`` of a sweep).
    detail : str
        What drives the size (``"about 1.4e5 terminals, 2.2e6 tissue points"``).
    memory_bytes : float
        Estimated peak memory of the process, bytes.
    seconds : float
        Estimated time of the step, s.
    """

    what: str
    detail: str
    memory_bytes: float
    seconds: float

    @property
    def too_large(self) -> bool:
        """Above the refusal limits."""
        return self.memory_bytes > MAX_MEMORY_BYTES or self.seconds > MAX_SECONDS

    @property
    def large(self) -> bool:
        """Above the warning limits."""
        return self.memory_bytes > WARN_MEMORY_BYTES or self.seconds > WARN_SECONDS

    def describe(self) -> str:
        """One phrase: the step, its drivers and the estimate."""
        return f"{self.what} of {self.detail} would need about {_bytes(self.memory_bytes)} and " \
               f"{_duration(self.seconds)}"


#: Bytes per injected particle the procedure holds (sim/procedure.py: diameter, agent, suspension and sphere
#: volume, fate, lodging site, reflux and stack flags, flow after lodging: 58 bytes), rounded up. Its arrays
#: grow on demand up to the particles in ``procedure.max_volume_ml`` of suspension: the estimate is that
#: bound, reached when no endpoint stops the injection first (particles too small to lodge, for instance).
_BYTES_PER_PARTICLE = 64.0
#: Particles injected per second by the exact sequence, every lodging followed by an O(depth) update and a
#: trunk solve (docs/performance.md: about 4e4-1e5/s at 1e5 terminals, the lower end taken); the time
#: bound is reached only if every particle is injected (no endpoint before max_volume_ml).
_PARTICLES_PER_SECOND = 4e4
_BASE_MEMORY_BYTES = 3.2e8
#: Y-90 runs take the batched delivery (sim/sirt_delivery.py): spheres per second of a whole run (delivery, summary,
#: read-outs; measured 2.3e7 resin spheres from the RHA in 176 s under a load average of 5-7, docs/performance.md), and
#: bytes per sphere: the per-sphere arrays kept (diameter 8, fate 8, lodging site 8, reflux and stack flags 2: 26
#: bytes; 4e7 resin spheres are 1.0 GB) and the summary's temporaries (measured peak 2.3 GB for 2.9e7 prescribed,
#: 2.3e7 delivered), rounded up.
_SPHERES_PER_SECOND_BATCHED = 1.3e5
_BYTES_PER_SPHERE_BATCHED = 80.0


def estimate_particles(scenario) -> tuple[SizeEstimate, str]:
    """Estimated memory and time (at most) of the particles of one procedure, from the scenario alone.

    The bound: every particle of ``procedure.max_volume_ml`` of the suspension with the
    highest particle concentration among ``[agent]`` and ``procedure.agent_sequence``
    (settled particles per mL / (1 + contrast dilution)) injected before any endpoint.

    Returns
    -------
    SizeEstimate
    str
        The key that sets the count: ``agent.particles_per_ml`` if given,
        ``agent.diameters_um`` for a custom agent, else ``procedure.max_volume_ml``.

    Examples
    --------
    >>> from sim.scenario import Scenario
    >>> est, key = estimate_particles(Scenario())
    >>> est.detail, key
    ('up to 5.6e5 particles (if no endpoint stops it before 50 mL)', 'procedure.max_volume_ml')
    """
    from .agents import agent_sequence

    agents = agent_sequence(scenario.agent, scenario.procedure.agent_sequence)
    per_ml = max(agent.particles_per_suspension_m3() for agent, _ in agents) * 1e-6
    n = scenario.procedure.max_volume_ml * per_ml
    key = ("agent.particles_per_ml" if scenario.agent.particles_per_ml is not None else
           "agent.diameters_um" if scenario.agent.kind == "custom" else "procedure.max_volume_ml")
    first = agents[0][0]
    if first.y90 is not None:  # SIRT: the prescribed activity's spheres at most, delivered in batches
        if first.prescribed_spheres() < n:
            n, key = first.prescribed_spheres(), "agent.activity_gbq"
        if len(agents) == 1:
            return SizeEstimate("batched Y-90 delivery", f"up to {count(n, 'sphere')}",
                                _BASE_MEMORY_BYTES + _BYTES_PER_SPHERE_BATCHED * n,
                                n / _SPHERES_PER_SECOND_BATCHED), key
    return SizeEstimate("procedure", f"up to {count(n, 'particle')} (if no endpoint stops it before "
                        f"{scenario.procedure.max_volume_ml:g} mL)", _BASE_MEMORY_BYTES + _BYTES_PER_PARTICLE * n,
                        n / _PARTICLES_PER_SECOND), key


def check_particles_size(scenario, *, allow_large: bool | None = None, source: str = "") -> SizeEstimate:
    """Refuse (or warn about) a procedure with too many particles to hold (:func:`estimate_particles`).

    Raises
    ------
    SizeError
        Naming the key that sets the count.
    """
    estimate, key = estimate_particles(scenario)
    fix = ("lower agent.activity_gbq or procedure.max_volume_ml" if key == "agent.activity_gbq" else
           "lower procedure.max_volume_ml, raise agent.contrast_dilution or use larger particles")
    return check_size(estimate, path=key, source=source, allow_large=allow_large, fix=fix)


@contextmanager
def allow_large(enabled: bool = True) -> Iterator[None]:
    """Within this block, steps above the size limits run (with a warning) instead of being refused.

    For code that calls a step without an ``allow_large`` keyword of its own
    (``sim.run`` builds its liver inside).
    """
    token = _ALLOW_LARGE.set(enabled)
    try:
        yield
    finally:
        _ALLOW_LARGE.reset(token)


def check_size(estimate: SizeEstimate, *, path: str, fix: str = "", source: str = "",
               allow_large: bool | None = None) -> SizeEstimate:
    """Refuse or warn according to the limits.

    Parameters
    ----------
    estimate : SizeEstimate
    path : str
        Key path named in the error (``liver.terminal_diameter_um``).
    fix : str
        What to change instead (``"raise liver.terminal_diameter_um"``).
    source : str
        File named in the error.
    allow_large : bool, optional
        Run above the limits (warning only). Default: the :func:`allow_large` context, else False.

    Returns
    -------
    SizeEstimate
        ``estimate``, for chaining.

    Raises
    ------
    SizeError
        Above the limits and not allowed.
    """
    allowed = _ALLOW_LARGE.get() if allow_large is None else allow_large
    limits = f"limits {_bytes(MAX_MEMORY_BYTES)} and {_duration(MAX_SECONDS)}"
    if estimate.too_large and not allowed:
        hint = f"{fix}, or " if fix else ""
        raise SizeError(f"{estimate.describe()}, above the {limits}; {hint}pass --allow-large "
                        f"(Python: allow_large=True) to run it anyway", path=path, source=source)
    if estimate.large:
        where = ": ".join(p for p in (source, path) if p)
        warnings.warn(SizeWarning(f"{where}: {estimate.describe()}"), stacklevel=3)
    return estimate
