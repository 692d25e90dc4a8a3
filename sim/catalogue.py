"""The shipped scenario files in ``scenarios/``."""

from __future__ import annotations

import tomllib
from pathlib import Path

__all__ = ["scenarios_dir", "default_scenario_path", "list_scenarios", "resolve_scenario"]

DEFAULT_SCENARIO = "bulky_segment5_net"


def scenarios_dir() -> Path:
    """Folder holding the shipped scenarios (``scenarios/`` beside the package)."""
    return Path(__file__).resolve().parent.parent / "scenarios"


def default_scenario_path() -> Path:
    """Path of the default scenario (the seed's bulky segment 5 NET)."""
    return scenarios_dir() / f"{DEFAULT_SCENARIO}.toml"


def list_scenarios() -> list[tuple[str, str]]:
    """(name, title) of every shipped scenario, sorted by name."""
    rows = []
    for path in sorted(scenarios_dir().glob("*.toml")):
        with path.open("rb") as fh:
            title = tomllib.load(fh).get("title", "")
        rows.append((path.stem, title))
    return rows


def resolve_scenario(name_or_path: str | Path | None) -> Path:
    """A file path, or the name of a shipped scenario (with or without ``.toml``).

    ``None`` gives the default scenario. A name that is neither an existing file
    nor a shipped scenario is returned as a path, so that loading it reports the
    unreadable file.
    """
    if name_or_path is None:
        return default_scenario_path()
    path = Path(name_or_path)
    if path.exists():
        return path
    shipped = scenarios_dir() / (path.stem + ".toml")
    if path.parent == Path(".") and shipped.exists():
        return shipped
    return path
