"""The shipped scenario files: ``scenarios/`` in the repository, ``sim/scenarios/`` when installed.

The scenarios stay at the repository's top level; a wheel carries them as package
data of ``sim`` (``pyproject.toml`` maps ``sim.scenarios`` to ``scenarios/``), so
they are found with :mod:`importlib.resources` in an installed wheel and beside
the package in a source checkout or an editable install.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from importlib import resources
from pathlib import Path

__all__ = ["did_you_mean", "scenarios_dir", "sweeps_dir", "resolve_sweep_spec", "default_scenario_path", "list_scenarios",
           "resolve_scenario", "docs_dir", "list_docs", "resolve_doc"]

DEFAULT_SCENARIO = "bulky_segment5_net"


def scenarios_dir() -> Path:
    """Folder holding the shipped scenarios (sweep specs in its ``sweeps/`` subfolder).

    ``sim/scenarios/`` of an installed wheel, else ``scenarios/`` beside the ``sim``
    package (a source checkout or an editable install).
    """
    installed = Path(str(resources.files("sim") / "scenarios"))
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "scenarios"


def docs_dir() -> Path:
    """Folder holding the documentation pages (Markdown): ``sim/docs/`` of an installed wheel (package data), else
    ``docs/`` beside the ``sim`` package."""
    installed = installed_docs_dir()
    return installed if installed is not None else Path(__file__).resolve().parent.parent / "docs"


def installed_docs_dir() -> Path | None:
    """``sim/docs/`` of an installed wheel, or None in a source checkout (an editable install)."""
    installed = Path(str(resources.files("sim") / "docs"))
    return installed if installed.is_dir() else None


def list_docs() -> list[str]:
    """Names of the documentation pages (``scenario-reference``, ``outputs``...), sorted."""
    return sorted(p.stem for p in docs_dir().glob("*.md"))


def resolve_doc(name: str) -> Path:
    """The page ``name`` (with or without ``.md``).

    Raises
    ------
    ScenarioError
        No such page (naming the close ones, or all of them).
    """
    from .scenario import ScenarioError

    path = docs_dir() / f"{Path(name).stem}.md"
    if path.is_file():
        return path
    pages = list_docs()
    raise ScenarioError(f"no documentation page {name!r}; " + (did_you_mean(Path(name).stem, pages, n=3) or
                                                                 f"pages: {', '.join(pages)}"), path="page")


def did_you_mean(name: str, names, *, n: int = 1, prefix: str = "", suffix: str = "") -> str:
    """``"did you mean A or B?"`` for the (at most ``n``) ``names`` closest to a mistyped ``name``, each written between
    ``prefix`` and ``suffix`` (the rest of a dotted path); ``""`` when none is close. Names that start with ``name``
    come first (``rate`` -> ``rate_ml_min``), else :func:`difflib.get_close_matches` (cutoff 0.6): one rule for
    every message that suggests.

    Examples
    --------
    >>> did_you_mean("rate", ["vessel", "rate_ml_min"], prefix="catheter.")
    'did you mean catheter.rate_ml_min?'
    >>> did_you_mean("main_pvtt", ["main_pvt", "sirt_main_pvt", "default"], n=3)
    'did you mean main_pvt or sirt_main_pvt?'
    >>> did_you_mean("cathter", ["agent", "catheter"], suffix=".vessel")
    'did you mean catheter.vessel?'
    >>> did_you_mean("xyz", ["main_pvt"])
    ''
    """
    names = [str(candidate) for candidate in names]
    close = [candidate for candidate in names if candidate.startswith(name) and candidate != name][:n] or \
        difflib.get_close_matches(name, names, n=n, cutoff=0.6)
    return f"did you mean {' or '.join(prefix + candidate + suffix for candidate in close)}?" if close else ""


def sweeps_dir() -> Path:
    """Folder holding the shipped sweep specifications."""
    return scenarios_dir() / "sweeps"


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

    ``None`` gives the default scenario. An existing file wins; a folder is never a
    scenario file, so a shipped name still resolves when a folder of that name
    (say the ``--out`` of an earlier run) is in the working directory. A path that
    is neither is returned as is, so that loading it reports the unreadable file;
    a bare name that is neither raises instead, suggesting close shipped names.

    Raises
    ------
    ScenarioError
        A bare name that is no file and no shipped scenario (close ones suggested: :func:`did_you_mean`).
    """
    if name_or_path is None:
        return default_scenario_path()
    if not isinstance(name_or_path, (str, os.PathLike)):  # (pathlib's own TypeError named no argument)
        raise TypeError(f"a scenario is a file path or a shipped scenario's name (a str or Path), not "
                        f"{type(name_or_path).__name__}")
    path = Path(name_or_path)
    if path.is_file():
        return path
    bare = path.parent == Path(".")
    shipped = scenarios_dir() / (path.stem + ".toml")
    if bare and shipped.is_file():
        return shipped
    if bare and not path.exists():
        from .scenario import ScenarioError

        guess = did_you_mean(path.name.removesuffix(".toml"), [p.stem for p in scenarios_dir().glob("*.toml")], n=3)
        guess = f"{guess} " if guess else ""
        raise ScenarioError(f"cannot read the scenario file (no such file, and no shipped scenario of that name; "
                            f"{guess}'embosim scenarios' lists them)", source=str(path))
    return path


def resolve_sweep_spec(name_or_path: str | Path) -> Path:
    """A sweep specification file path, or the name of a shipped one (``scenarios/sweeps/``).

    A name that is neither an existing file nor a shipped spec is returned as a
    path, so that loading it reports the unreadable file.
    """
    path = Path(name_or_path)
    if path.exists():
        return path
    shipped = sweeps_dir() / (path.stem + ".toml")
    if path.parent == Path(".") and shipped.exists():
        return shipped
    return path
