"""A scenario as TOML text that loads back to the same scenario (the explorer's download).

Only the keys that differ from the defaults are written (a short file a trainee can
read), after a header naming where it came from. The text is checked on the way
out: parsing it gives a scenario equal to the one written, so ``embosim run`` on
the file reproduces the run (same seed, same numbers).
"""

from __future__ import annotations

import tomllib
from typing import Any

import tomli_w

from ..scenario import AgentConfig, Scenario, inapplicable_agent_keys, parse_scenario

__all__ = ["changes", "scenario_to_toml"]


def _drop_none(value: Any) -> Any:
    """TOML has no null: remove None values (their defaults are None, or the round-trip check catches it)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def scenario_to_toml(scenario: Scenario, *, header: str = "") -> str:
    """TOML text of ``scenario``: its keys that differ from the defaults, and a comment header.

    Parameters
    ----------
    scenario : Scenario
    header : str, optional
        Comment lines put first (each prefixed with ``# ``).

    Raises
    ------
    ValueError
        If the text would not load back to ``scenario`` (a value TOML cannot hold).

    Examples
    --------
    >>> text = scenario_to_toml(Scenario().with_updates({"agent.size_bin": "300-500"}))
    >>> "[agent]" in text and 'size_bin = "300-500"' in text
    True
    """
    data = _drop_none(scenario.model_dump(mode="json", exclude_defaults=True))
    unused = inapplicable_agent_keys(data.get("agent", {}), scenario.agent.kind)  # left by a kind change: ignored
    for key in unused:
        del data["agent"][key]
    defaults = AgentConfig()
    expected = scenario.with_updates({f"agent.{key}": getattr(defaults, key) for key in unused}) if unused else scenario
    body = tomli_w.dumps(data)
    if parse_scenario(tomllib.loads(body), anatomy=False) != expected:
        raise ValueError("the scenario does not survive a TOML round trip (a value TOML cannot hold)")
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    return "\n".join(lines) + ("\n\n" if lines else "") + body


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value of a dumped scenario (list items by index: ``tumours.0.arterial_fraction``)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in items:
        out.update(_flat(item, f"{prefix}.{key}" if prefix else key))
    return out


def changes(base: Scenario, scenario: Scenario) -> list[str]:
    """``key = value`` (TOML values) of every key whose value differs between ``base`` and ``scenario``, in
    ``scenario``'s order (a key ``base`` lacks, as a tumour added, counts as changed).

    Examples
    --------
    >>> changes(Scenario(), Scenario().with_updates({"agent.size_bin": "300-500"}))
    ['agent.size_bin = "300-500"']
    """
    old, new = _flat(base.model_dump(mode="json")), _flat(scenario.model_dump(mode="json"))
    return [f"{key} = {'null' if value is None else tomli_w.dumps({'v': value})[4:].strip()}"
            for key, value in new.items() if key not in old or old[key] != value]
