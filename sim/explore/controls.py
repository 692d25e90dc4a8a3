"""The explorer's controls: which scenario key each sets, its unit, and the scenario they give.

One :class:`Control` per control of the page. Its label, unit and allowed values
come from the scenario model (:mod:`sim.scenario`: ``param()`` metadata and the
``Literal`` types), so the page cannot drift from the scenario reference. The
values of the controls become a scenario through :meth:`Scenario.with_updates`
and :func:`sim.scenario.check_catheter_vessel`: the validation of a scenario file,
with the same messages.

Two controls are not one key each:

* ``tumours.*.arterial_fraction`` sets the arterial fraction of every tumour once changed from
  the first tumour's, which it shows; unchanged, each tumour keeps its own.
* ``procedure.endpoint = "volume"`` (a fixed volume) is written as
  ``procedure.endpoint = "stasis"`` with ``procedure.max_volume_ml`` the volume:
  the injection stops at that volume, or at stasis if it comes first.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Any

from ..agents import Y90_PRODUCTS
from ..scenario import (
    AgentConfig,
    AnatomyConfig,
    CatheterConfig,
    PortalConfig,
    ProcedureConfig,
    Scenario,
    ScenarioError,
    TumourConfig,
    agent_kind_updates,
    check_catheter_vessel,
)

__all__ = ["CONTROLS", "Control", "VOLUME_ENDPOINT", "agent_kinds", "control_values", "ignored_controls",
           "scenario_from_values"]

#: The endpoint choice that stops at a fixed suspension volume (``procedure.max_volume_ml``).
VOLUME_ENDPOINT = "volume"


@dataclass(frozen=True)
class Control:
    """One control of the page.

    Attributes
    ----------
    key : str
        Scenario key it sets (dotted; ``tumours.*`` sets every tumour).
    label : str
        What it is, in words.
    unit : str
        Unit of the value (``-`` for names).
    options : tuple of str, or None
        Allowed values of a choice; None for a number or free text.
    bounds : tuple of float, or None
        (low, high) of a number, from the model's constraints.
    """

    key: str
    label: str
    unit: str
    options: tuple[str, ...] | None = None
    bounds: tuple[float | None, float | None] | None = None

    @property
    def numeric(self) -> bool:
        """Whether the control holds a number (typed as text on the page, read by the server)."""
        return self.options is None and self.bounds is not None

    @property
    def title(self) -> str:
        """Widget title: label, unit and the key it sets."""
        unit = {"-": "", "1": " (fraction)"}.get(self.unit, f" ({self.unit})")
        return f"{self.label}{unit} \u00b7 {self.key}"


def _field(model, name: str):
    return model.model_fields[name]


def _unit(model, name: str) -> str:
    return (_field(model, name).json_schema_extra or {}).get("unit", "-")


def _literal(model, name: str) -> tuple[str, ...]:
    """The allowed values of a ``Literal`` field (``X | None`` included)."""
    annotation = _field(model, name).annotation
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Literal:
            return tuple(typing.get_args(arg))
    raise TypeError(f"{model.__name__}.{name} is not a Literal")


def _bounds(model, name: str) -> tuple[float | None, float | None]:
    """(low, high) of a number field from its pydantic constraints (None: unbounded)."""
    low = high = None
    for m in _field(model, name).metadata:
        for attr in ("gt", "ge"):
            low = getattr(m, attr, None) if getattr(m, attr, None) is not None else low
        for attr in ("lt", "le"):
            high = getattr(m, attr, None) if getattr(m, attr, None) is not None else high
    return low, high


def _choice(model, name: str, key: str, label: str, extra: tuple[str, ...] = ()) -> Control:
    return Control(key, label, _unit(model, name), options=_literal(model, name) + extra)


def _number(model, name: str, key: str, label: str) -> Control:
    return Control(key, label, _unit(model, name), bounds=_bounds(model, name))


#: The controls, in page order.
CONTROLS: tuple[Control, ...] = (
    Control("catheter.vessel", "Catheter vessel (click a vessel)", _unit(CatheterConfig, "vessel")),
    Control("agent.kind", "Agent", "-", options=tuple(k for k in _literal(AgentConfig, "kind") if k != "custom")),
    _choice(AgentConfig, "size_bin", "agent.size_bin", "Size range"),
    _number(AgentConfig, "contrast_dilution", "agent.contrast_dilution", "Dilution, contrast per agent"),
    _number(CatheterConfig, "rate_ml_min", "catheter.rate_ml_min", "Injection rate"),
    _choice(ProcedureConfig, "endpoint", "procedure.endpoint", "Endpoint", extra=(VOLUME_ENDPOINT,)),
    _number(ProcedureConfig, "max_volume_ml", "procedure.max_volume_ml", "Volume cap"),
    _number(TumourConfig, "arterial_fraction", "tumours.*.arterial_fraction", "Tumour arterialisation"),
    _choice(PortalConfig, "thrombosis", "portal.thrombosis", "Portal vein thrombosis"),
    _choice(AnatomyConfig, "michels_type", "anatomy.michels_type", "Michels type"),
)

_BY_KEY = {c.key: c for c in CONTROLS}


def control_values(scenario: Scenario) -> dict[str, Any]:
    """The value of every control for ``scenario`` (the page's starting state).

    ``tumours.*.arterial_fraction`` shows the first tumour's; changed, it sets all of them
    (:func:`scenario_from_values`).
    """
    values: dict[str, Any] = {}
    for control in CONTROLS:
        section, _, name = control.key.rpartition(".")
        owner = scenario.tumours[0] if section == "tumours.*" else getattr(scenario, section)
        values[control.key] = getattr(owner, name)
    return values


def ignored_controls(scenario: Scenario) -> dict[str, str]:
    """The controls ``scenario``'s agent does not use, each with the reason (the page disables them).

    Lipiodol alone (no ``procedure.agent_sequence`` of particles after it) is dosed by
    ``agent.lipiodol_volume_ml``: the particles' size, dilution and endpoint play no part (the rate
    does, a little: the injection is part of the flow the oil follows); with particles after it, their
    sizes are the sequence's (:func:`sim.lipiodol.session_agents`). A Y-90 product sets its own
    sphere size, and glass, given in one flush, is never stopped by the endpoint (docs/sirt.md).
    """
    agent = scenario.agent
    if agent.kind == "lipiodol" and not scenario.procedure.agent_sequence:
        why = (f"Lipiodol alone is dosed by agent.lipiodol_volume_ml ({agent.lipiodol_volume_ml:g} mL in this "
               "scenario); size, dilution and endpoint apply to particles")
        keys = ("agent.size_bin", "agent.contrast_dilution", "procedure.endpoint", "procedure.max_volume_ml")
        return dict.fromkeys(keys, why)
    if agent.kind == "lipiodol":  # the particles after the oil are procedure.agent_sequence's
        first = scenario.procedure.agent_sequence[0]
        return {"agent.size_bin": f"after the oil come procedure.agent_sequence's particles ({first.kind} "
                                  f"{first.size_bin} um first)"}
    if agent.kind in Y90_PRODUCTS:
        ignored = {"agent.size_bin": f"the {agent.kind} product sets its sphere size"}
        if agent.kind == "y90_glass":  # one flush of the whole dose, never stopped by the flow (docs/sirt.md)
            ignored["procedure.endpoint"] = ("glass is given in one flush of the whole activity, never stopped by the "
                                             "flow: the SACE level and the curve say what flow it left")
        return ignored
    return {}


def agent_kinds(base: Scenario) -> tuple[str, ...]:
    """The ``agent.kind`` choices that ``base`` takes with no other key changed (the page offers only these).

    The Y-90 kinds need ``agent.activity_gbq``, which has no control: they are offered when ``base`` is a
    Y-90 scenario (which has it), and then the kinds without an activity are not.
    """
    kinds = []
    for kind in _BY_KEY["agent.kind"].options:
        try:
            base.with_updates(agent_kind_updates(base, kind))
        except ScenarioError:
            continue
        kinds.append(kind)
    return tuple(kinds)


def scenario_from_values(base: Scenario, values: dict[str, Any]) -> Scenario:
    """The scenario the controls describe: ``base`` with their values, validated as a scenario file.

    Parameters
    ----------
    base : Scenario
        The scenario the page started from (keys without a control keep its values).
    values : dict
        Control key -> value (missing keys keep ``base``'s).

    Raises
    ------
    ScenarioError
        The key and what is allowed, as for a scenario file.
    """
    updates: dict[str, Any] = {}
    for key, value in values.items():
        value = value.strip() if isinstance(value, str) else value  # a typed vessel name with a stray space
        if key not in _BY_KEY:
            raise ScenarioError("no such control", path=key)
        if key == "procedure.endpoint" and value == VOLUME_ENDPOINT:
            updates[key] = "stasis"
        elif key.startswith("tumours.*."):
            name = key.removeprefix("tumours.*.")
            if base.tumours and value == getattr(base.tumours[0], name):
                continue  # as the control showed it: every tumour keeps its own (they may differ)
            updates.update({f"tumours.{i}.{name}": value for i in range(len(base.tumours))})
        elif key == "agent.kind" and value != base.agent.kind:  # what the new kind does not use: its defaults
            updates = {**agent_kind_updates(base, value), **updates}
        else:
            updates[key] = value
    if values.get("procedure.endpoint") == VOLUME_ENDPOINT and "procedure.max_volume_ml" not in values:
        raise ScenarioError("the volume endpoint needs a volume", path="procedure.max_volume_ml")
    try:
        scenario = base.with_updates(updates)
    except ScenarioError as exc:  # a value of the every-tumour control names that control's key
        every = re.sub(r"^tumours\.\d+\.", "tumours.*.", exc.path)
        raise (ScenarioError(exc.message, path=every) if every in _BY_KEY else exc) from None
    check_catheter_vessel(scenario)
    return scenario
