"""The shipped scenario catalogue: listing and resolving names and paths."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sim.catalogue import (
    default_scenario_path,
    list_scenarios,
    resolve_scenario,
    resolve_sweep_spec,
    scenarios_dir,
    sweeps_dir,
)
from sim.scenario import ScenarioError


def test_list_scenarios_gives_name_and_title_of_every_file():
    files = sorted(scenarios_dir().glob("*.toml"))
    rows = list_scenarios()
    assert [name for name, _ in rows] == [p.stem for p in files]
    for (_, title), path in zip(rows, files):
        assert title == tomllib.loads(path.read_text(encoding="utf-8"))["title"] != ""


def test_default_is_the_seed_case():
    assert default_scenario_path().is_file()
    assert default_scenario_path().stem == "bulky_segment5_net"
    assert resolve_scenario(None) == default_scenario_path()


def test_resolve_shipped_name_with_or_without_suffix(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    expected = scenarios_dir() / "main_pvt.toml"
    assert resolve_scenario("main_pvt") == expected
    assert resolve_scenario("main_pvt.toml") == expected


def test_resolve_prefers_an_existing_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "main_pvt.toml").write_text('title = "local"\n', encoding="utf-8")
    assert resolve_scenario("main_pvt.toml").resolve() == (tmp_path / "main_pvt.toml").resolve()


def test_resolve_unknown_returns_a_path_for_loading_to_report_and_refuses_a_bare_name(monkeypatch, tmp_path):
    """A path elsewhere is loading's to report; a bare name that is no file and no shipped scenario is refused here
    (one rule, with or without close names to suggest)."""
    monkeypatch.chdir(tmp_path)
    assert str(resolve_scenario("elsewhere/main_pvt.toml")) == "elsewhere/main_pvt.toml"
    with pytest.raises(ScenarioError, match="no shipped scenario of that name; 'embosim scenarios' lists them"):
        resolve_scenario("no_such_case")


def test_shipped_sweep_spec_resolves_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = resolve_sweep_spec("size_arterialisation_catheter")
    assert path == sweeps_dir() / "size_arterialisation_catheter.toml" and path.is_file()
    assert resolve_sweep_spec("nope.toml") == Path("nope.toml")


def test_a_sweep_name_that_is_no_file_names_the_shipped_ones(tmp_path, monkeypatch, invoke):
    """Review 50: `embosim sweep nosuch_sweep` said only "cannot read the sweep file (No such file or directory)"."""
    monkeypatch.chdir(tmp_path)
    close = invoke("sweep", "size_arterialisation", "--out", tmp_path / "out")
    assert close.exit_code == 2 and "Traceback" not in close.output
    assert "no shipped sweep specification of that name (did you mean size_arterialisation_catheter?)" in close.stderr
    far = invoke("sweep", "nothing_like_it", "--out", tmp_path / "out")
    assert far.exit_code == 2 and "did you mean" not in far.stderr and "'embosim scenarios' lists them" in far.stderr
    path = invoke("sweep", tmp_path / "sub" / "nothing.toml", "--out", tmp_path / "out")  # a path: no shipped names
    assert path.exit_code == 2 and "no shipped" not in path.stderr
    assert not (tmp_path / "out").exists()


def test_the_suggestion_rule_of_every_message():
    """One rule suggests a name for every mistyped one (scenario, sweep spec, docs page, key, parameter): its examples
    run as written."""
    import doctest

    import sim.catalogue

    assert doctest.testmod(sim.catalogue).attempted >= 3 and doctest.testmod(sim.catalogue).failed == 0
