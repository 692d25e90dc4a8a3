"""The explorer's parts without a browser: controls, TOML download, liver cache, cases and scoring, the CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
import urllib.request

import numpy as np
import pytest

import sim
from sim import angiography as ag
from sim.catalogue import list_scenarios, resolve_scenario
from sim.explore import compute
from sim.explore.app import outcome_table
from sim.explore.cache import LiverCache
from sim.explore.cases import (
    DEFENSIBLE_SELECTION_POINTS,
    GUT_BRANCHES,
    HARM_FLOOR,
    HARM_MARGIN,
    MAJOR_BILIARY_FRACTION,
    MAJOR_GUT_PARTICLE_SHARE,
    POINTS,
    Choice,
    case_files,
    load_case,
    load_cases,
    major_complication,
    score,
    segmental_breach,
    target_readouts,
)
from sim.explore.controls import (
    CONTROLS,
    VOLUME_ENDPOINT,
    agent_kinds,
    control_values,
    ignored_controls,
    scenario_from_values,
)
from sim.explore.scenario_toml import scenario_to_toml
from sim.scenario import SEGMENTS, AgentConfig, Scenario, ScenarioError, inapplicable_agent_keys, load_scenario, parse_scenario


def test_every_control_names_a_scenario_key_and_a_title_with_it():
    base = Scenario()
    values = control_values(base)
    assert set(values) == {c.key for c in CONTROLS}
    for control in CONTROLS:
        assert control.key in control.title
    assert scenario_from_values(base, values) == base


def test_controls_set_their_keys_and_every_tumour():
    base = load_scenario(resolve_scenario("high_disease_burden"))
    s = scenario_from_values(base, {"tumours.*.arterial_fraction": 0.6, "agent.size_bin": "300-500",
                                    "procedure.endpoint": VOLUME_ENDPOINT, "procedure.max_volume_ml": 4.0})
    assert all(t.arterial_fraction == 0.6 for t in s.tumours) and len(s.tumours) == 7
    assert s.agent.size_bin == "300-500"
    assert (s.procedure.endpoint, s.procedure.max_volume_ml) == ("stasis", 4.0)


def test_tumours_of_different_arterialisation_keep_theirs_until_the_control_changes():
    """Review of issue 18: the control showed the first tumour's 0.9 and every Run wrote it to all tumours, so a
    file's second tumour at 0.5 ran at 0.9 (tumour necrosis 0.800 on the page against 0.616 for the file)."""
    base = Scenario().with_updates({"tumours.0.arterial_fraction": 0.9})
    base = base.with_updates({"tumours": [base.tumours[0].model_dump(), {**base.tumours[0].model_dump(),
                                                                         "name": "second", "arterial_fraction": 0.5}]})
    values = control_values(base)
    assert values["tumours.*.arterial_fraction"] == 0.9
    assert scenario_from_values(base, values) == base  # as the page opened: the file's scenario
    s = scenario_from_values(base, {**values, "tumours.*.arterial_fraction": 0.7})
    assert [t.arterial_fraction for t in s.tumours] == [0.7, 0.7]


@pytest.mark.parametrize("values, key, words", [
    ({"catheter.rate_ml_min": -1.0}, "catheter.rate_ml_min", "greater than 0"),
    ({"catheter.vessel": "A9"}, "catheter.vessel", "unknown vessel"),
    ({"catheter.vessel": "replaced_RHA"}, "catheter.vessel", "no vessel 'replaced_RHA' in this anatomy"),
    ({"agent.contrast_dilution": float("nan")}, "agent.contrast_dilution", "finite"),
    ({"procedure.endpoint": VOLUME_ENDPOINT}, "procedure.max_volume_ml", "needs a volume"),
    ({"tumours.*.arterial_fraction": 1.5}, "tumours.*.arterial_fraction", "less than or equal to 1"),
])
def test_bad_control_values_are_the_scenario_files_errors(values, key, words):
    with pytest.raises(ScenarioError) as err:
        scenario_from_values(Scenario(), values)
    assert err.value.path == key and words in err.value.message


@pytest.mark.parametrize("name", ["bulky_segment5_net", "sirt_glass_segment5"])
def test_the_agent_control_offers_only_kinds_the_scenario_takes(name):
    from sim.explore.controls import agent_kinds

    base = load_scenario(resolve_scenario(name))
    kinds = agent_kinds(base)
    assert base.agent.kind in kinds
    for kind in kinds:  # each runs as it is
        assert scenario_from_values(base, {"agent.kind": kind}).agent.kind == kind
    refused = set(next(c for c in CONTROLS if c.key == "agent.kind").options) - set(kinds)
    assert refused == ({"y90_resin", "y90_glass"} if name == "bulky_segment5_net" else {"microspheres", "pva", "lipiodol"})
    for kind in refused:  # no activity_gbq control: the page would only ever show this error
        with pytest.raises(ScenarioError, match="activity_gbq"):
            scenario_from_values(base, {"agent.kind": kind})


def test_case_mode_offers_only_choices_a_case_takes_and_names_the_key_of_a_bad_one():
    from sim.explore.app import Worker
    from sim.explore.case_view import CaseView

    view = CaseView(LiverCache(disk=False), Worker())
    for widget, field in ((view.kind, "kind"), (view.size, "size_bin"), (view.endpoint, "endpoint")):
        for option in widget.options:
            widget.value = option
            assert getattr(view.choice(), field) == option
    view.kind.options = [*view.kind.options, "lipiodol"]
    view.kind.value = "lipiodol"
    with pytest.raises(ScenarioError) as err:
        view.choice()
    assert err.value.path == "agent.kind" and "'microspheres' or 'pva'" in err.value.message
    assert "lipiodol" in err.value.message and "pydantic" not in str(err.value)


def test_case_mode_refuses_an_artery_no_angiogram_has_shown_without_naming_the_hidden_anatomy():
    """Review of issue 18: typing RHA in the Michels III case showed the scenario's message, which names the variant
    and its replaced_RHA: the case's hidden element given away."""
    import asyncio

    from sim.explore.app import Worker
    from sim.explore.case_view import CaseView

    view = CaseView(LiverCache(disk=False), Worker())
    view.choose.value = "michels_replaced_rha"
    view.case = load_cases()["michels_replaced_rha"]  # as if started
    view.selection.value, view.vessel.value = "treat", "RHA"
    asyncio.run(view._on_submit())
    shown = view.worker.error.object.replace("\\", "")  # the page shows the message as literal markdown
    assert view.worker.error.visible and "'RHA' is not an artery this patient's angiograms have shown" in shown
    assert "catheter.vessel" in shown
    assert "Michels" not in shown and "replaced" not in shown and view.debrief.object == ""


def test_a_case_picked_in_the_list_but_not_started_is_not_debriefed():
    """Review 12: with one case started and another picked in the list, Submit scored the started case under the
    list's title. Take and Submit now wait for Start."""
    import asyncio

    from sim.explore.app import Worker
    from sim.explore.case_view import CaseView

    view = CaseView(LiverCache(disk=False), Worker())
    view.choose.value = "main_pvt"
    view.case = load_cases()["main_pvt"]  # as if started
    view.submit.disabled = view.take.disabled = False
    view.choose.value = "biliary_anastomosis"
    assert view.submit.disabled and view.take.disabled and "Start the case" in view.worker.status.object
    view.selection.value, view.vessel.value = "treat", "A5"
    for press in (view._on_submit, view._on_take):
        asyncio.run(press())
        assert view.debrief.object == "" and "press **Start the case** first" in view.worker.status.object
    view.choose.value = "main_pvt"  # back to the case on show
    assert not view.submit.disabled and not view.take.disabled


def test_a_hidden_replaced_artery_must_be_looked_for_on_a_diagnostic_angiogram():
    """Review of issue 18: in the Michels III case a trainee assuming normal anatomy typed A6 (or clicked the blank
    right lobe of the coeliac run, which picked hidden arteries) and scored 100 without finding the replaced RHA. Now
    only arteries an angiogram has shown can be chosen: the CHA run shows the left liver only; the SMA run shows the
    replaced RHA and its segments, and then A6 plays to the expert's debrief."""
    import asyncio

    from sim.explore.app import Worker
    from sim.explore.case_view import DIAGNOSTIC_VESSELS, CaseView

    view = CaseView(LiverCache(disk=False), Worker(), overrides={"liver.terminal_diameter_um": 300.0})
    view.choose.value = "michels_replaced_rha"
    # a previous case's answers (review 51: a decline and an endpoint carried over to the next case and were scored)
    blank = {w: w.value for w in (view.selection, view.kind, view.size, view.endpoint)}
    view.selection.value, view.endpoint.value, view.size.value = "decline", "sluggish", "300-500"
    assert view.vessel.disabled and view.endpoint.disabled  # a decline uses no treatment choice
    asyncio.run(view._on_start())
    assert {w: w.value for w in blank} == blank and not view.endpoint.disabled
    # the angiogram in the phase chosen, the capillary one first (the tumour blush), over the segment outlines
    capillary = view.angiogram.image.data["image"][0]
    np.testing.assert_array_equal(capillary, view.dsa.frames("capillary")[0])
    view.phase.value = "arterial"
    np.testing.assert_array_equal(view.angiogram.image.data["image"][0], view.dsa.frames("arterial")[0])
    assert len(view.angiogram.outlines.data["xs"]) == 8 and not np.array_equal(capillary, view.dsa.frames("arterial")[0])
    assert not view.worker.error.visible and set(view.run_from.options) == set(DIAGNOSTIC_VESSELS)
    assert {"CHA", "LHA", "A2"} <= view.shown and not {"A6", "replaced_RHA", "A5"} & view.seen
    # no catheter position until the trainee chooses one (review 54: the diagnostic CHA stood there, and a Submit
    # straight away treated from it)
    assert view.vessel.value == ""
    asyncio.run(view._on_submit())
    assert "empty: click an artery on the angiogram" in view.worker.error.object.replace("\\", "")
    assert view.debrief.object == "" and "Not submitted" in view.worker.status.object
    # a click on the right lobe picks nothing the coeliac run does not show
    a6 = view.scene.vessels[view.scene.vessels["vessel"] == "A6"].iloc[-1]
    assert compute.clicked_vessel(view.scene, a6.x1, a6.z1, 4.0, among=view.shown)[0] != "A6"
    view.selection.value, view.vessel.value = "treat", "A6"
    asyncio.run(view._on_submit())
    assert view.worker.error.visible and view.debrief.object == ""
    view.run_from.value = "SMA"
    asyncio.run(view._on_take())
    assert {"SMA", "replaced_RHA", "A6"} <= view.shown and "A2" in view.seen  # the earlier run's arteries stay seen
    assert compute.clicked_vessel(view.scene, 0.5 * (a6.x0 + a6.x1), 0.5 * (a6.z0 + a6.z1), 4.0, among=view.shown)[0] \
        is not None
    asyncio.run(view._on_submit())
    assert not view.worker.error.visible and "100 / 100 points" in view.debrief.object
    # the debrief is final: another answer waits for Start (review 54: a copied answer, resubmitted, scored 100)
    assert view.submit.disabled
    debriefed, view.vessel.value = view.debrief.object, "GDA"
    asyncio.run(view._on_submit())
    assert view.debrief.object == debriefed and "This case is debriefed" in view.worker.status.object
    view.phase.value = "venous"
    asyncio.run(view._on_start())  # the next play opens on the blank form, its angiogram in the capillary phase
    assert not view.submit.disabled and view.vessel.value == "" and view.phase.value == "capillary"


@pytest.mark.parametrize("name", [name for name, _ in list_scenarios()])
def test_toml_download_loads_back_to_the_same_scenario(name, tmp_path):
    scenario = load_scenario(resolve_scenario(name)).with_updates({"catheter.vessel": "#17", "agent.size_bin": "40-120"})
    text = scenario_to_toml(scenario, header="from the explorer\nsecond line")
    assert text.startswith("# from the explorer\n# second line\n")
    path = tmp_path / "s.toml"
    path.write_text(text)
    # the same scenario, but for what its agent kind does not use (a Y-90 product's size bin): not written
    unused = inapplicable_agent_keys(list(AgentConfig.model_fields), scenario.agent.kind)
    expected = scenario.with_updates({f"agent.{key}": getattr(AgentConfig(), key) for key in unused})
    assert load_scenario(path) == expected


def test_a_kind_change_resets_what_the_new_kind_does_not_use():
    """Review 20: the bead drug of the shipped DEB-TACE scenario stopped every other kind (the page offered only
    microspheres); a kind change now resets the keys the new kind does not use, as the scenario file would."""
    deb = load_scenario("deb_tace_lobar")
    assert set(agent_kinds(deb)) >= {"microspheres", "pva", "lipiodol"}
    oil = scenario_from_values(deb, {"agent.kind": "lipiodol"})
    assert oil.agent.kind == "lipiodol" and oil.agent.bead_doxorubicin_mg_per_ml == 0.0
    assert scenario_from_values(deb, {"agent.kind": "microspheres"}).agent.bead_doxorubicin_mg_per_ml == 25.0


class _Builds:
    """A stand-in build that counts its calls (the cache's behaviour does not depend on what a liver is)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, scenario):
        self.calls += 1
        return {"anatomy": scenario.anatomy.michels_type, "build": self.calls}


def test_cache_builds_each_anatomy_once_in_memory_and_on_disk(tmp_path):
    build = _Builds()
    cache = LiverCache(tmp_path, build=build)
    s = Scenario()
    first = cache.get(s)
    assert cache.get(s.with_updates({"catheter.vessel": "RHA", "agent.size_bin": "300-500",
                                     "portal.thrombosis": "main"})) is first
    assert build.calls == 1
    other = cache.get(s.with_updates({"anatomy.michels_type": "III", "catheter.vessel": "replaced_RHA"}))
    assert build.calls == 2 and other["anatomy"] == "III"
    fresh = LiverCache(tmp_path, build=build)  # a new process: from disk
    assert fresh.cached(s) and fresh.get(s) == first and build.calls == 2
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".pickle", ".pickle"]  # no temporary file left


def test_cache_rebuilds_a_damaged_file(tmp_path):
    build = _Builds()
    s = Scenario()
    LiverCache(tmp_path, build=build).get(s)
    (tmp_path / f"{LiverCache.key(s)}.pickle").write_bytes(b"truncated")
    assert LiverCache(tmp_path, build=build).get(s)["build"] == 2


def test_disk_cache_keeps_under_its_limit_dropping_the_least_recently_used(tmp_path, monkeypatch):
    """Review 32: the disk cache only grew (2.7 GB of livers of old builders on the test machine)."""
    import os

    from sim.explore.cache import CACHE_LIMIT_ENV, DISK_LIMIT_GB, disk_limit_bytes

    def big(scenario):  # a liver-sized stand-in: its pickle is about 1 MB
        return {"michels": scenario.anatomy.michels_type, "payload": bytes(1_000_000)}

    monkeypatch.setenv(CACHE_LIMIT_ENV, "0.0025")  # 2.5 MB: two livers
    old = tmp_path / ("0" * 32 + ".pickle")  # another builder's liver, never read again
    old.write_bytes(bytes(1_000_000))
    os.utime(old, (1, 1))
    cache = LiverCache(tmp_path, build=big)
    first = Scenario()
    cache.get(first)
    assert old.exists()  # 2 MB: under the limit
    cache.get(first.with_updates({"anatomy.michels_type": "II"}))
    assert not old.exists() and cache.cached(first)  # 3 MB: the stale file went first
    os.utime(tmp_path / f"{LiverCache.key(first)}.pickle", (2, 2))  # as if last used long ago
    LiverCache(tmp_path, build=big).get(first.with_updates({"anatomy.michels_type": "III"}))
    assert len(list(tmp_path.glob("*.pickle"))) == 2 and not LiverCache(tmp_path).cached(first)
    for bad in ("-1", "0", "nan", "lots"):  # the cache never fails on its setting
        monkeypatch.setenv(CACHE_LIMIT_ENV, bad)
        assert disk_limit_bytes() == DISK_LIMIT_GB * 1e9
    for unlimited in ("inf", "1e400"):  # review 34: int(inf) had stopped every liver build
        monkeypatch.setenv(CACHE_LIMIT_ENV, unlimited)
        assert disk_limit_bytes() == float("inf")
        LiverCache(tmp_path, build=big).get(first.with_updates({"anatomy.michels_type": "IV"}))
    assert len(list(tmp_path.glob("*.pickle"))) == 3


def test_cache_key_is_the_anatomy():
    s = Scenario()
    assert LiverCache.key(s) == LiverCache.key(s.with_updates({"catheter.vessel": "RHA", "procedure.seed": 3}))
    assert LiverCache.key(s) != LiverCache.key(s.with_updates({"tumours.0.arterial_fraction": 0.5}))
    assert LiverCache.key(s) != LiverCache.key(s.with_updates({"liver.seed": 1}))


def test_at_least_five_shipped_cases_load_with_their_scenarios_and_citations():
    cases = load_cases()
    assert len(cases) >= 5
    hidden = " ".join(c.hidden for c in cases.values())
    for element in ("Michels", "phrenic", "portal vein thrombosis", "biliary-enteric", "50%"):
        assert element.lower() in hidden.lower(), element
    for case in cases.values():
        assert "[" in case.expert.why  # cites the seed's principles


def test_a_case_citing_an_unknown_source_or_vessel_is_refused(tmp_path):
    text = case_files()[0].read_text()
    bad = tmp_path / "bad.toml"
    unknown = "NoSuchSource" + "2099"  # not written as a citation: tests/test_references.py checks every file's
    bad.write_text(text.replace("[SeedDeckUHS]", f"[{unknown}]"))
    with pytest.raises(ScenarioError, match=unknown):
        load_case(bad)
    bad.write_text(text + '\nnew_key = 1\n')
    with pytest.raises(ScenarioError, match="new_key"):
        load_case(bad)
    declined = next(p for p in case_files() if load_case(p).expert.selection == "decline").read_text()
    bad.write_text("decline_defensible = true\n" + declined)  # only a treating expert's case can mark it
    with pytest.raises(ScenarioError, match="decline_defensible"):
        load_case(bad)


def test_a_blank_unreadable_or_self_naming_case_is_refused(tmp_path):
    """Review 18: a blank title or summary passed (the length was checked before stripping), an empty why, stray
    name/source keys (overwritten silently) and a non-UTF-8 file (a raw UnicodeDecodeError)."""
    import re

    text = case_files()[0].read_text()
    bad = tmp_path / "bad.toml"
    for changed, key in [(re.sub(r'(?m)^title = .*$', 'title = "   "', text), "title"),
                         (re.sub(r'(?ms)^summary = """.*?"""', 'summary = """   """', text), "summary"),
                         (re.sub(r'(?ms)^why = """.*?"""', 'why = " "', text), "expert"),
                         ('name = "other"\n' + text, "name"), ('source = "x"\n' + text, "source")]:
        assert changed != text, key
        bad.write_text(changed)
        with pytest.raises(ScenarioError) as err:
            load_case(bad)
        assert (err.value.path or "").startswith(key), (key, err.value)
    bad.write_bytes(b"title = \xff\n")
    with pytest.raises(ScenarioError, match="cannot read the case"):
        load_case(bad)


def test_a_bad_case_is_refused_at_load_naming_its_own_key(tmp_path):
    """Review 31: vessels were not checked against the case's Michels type (every page then failed, blaming the
    trainee's catheter.vessel and listing the hidden variant), a bad citation in the summary was reported as
    expert.why, and a missing scenario named neither the key nor the file."""
    shipped = {p.stem: p.read_text() for p in case_files()}
    bad = tmp_path / "bad.toml"
    for text, key, words in [
            (shipped["michels_replaced_rha"].replace('vessel = "A6"', 'vessel = "RHA"'), "expert.vessel", "no vessel 'RHA'"),
            (shipped["phrenic_feeder"].replace('diagnostic_vessel = "CHA"', 'diagnostic_vessel = "replaced_RHA"'),
             "diagnostic_vessel", "no vessel 'replaced_RHA'"),
            (shipped["phrenic_feeder"].replace('diagnostic_vessel = "CHA"', 'diagnostic_vessel = "cha"'),
             "diagnostic_vessel", "unknown vessel 'cha'"),  # review 34: a typo was blamed on <updates>
            (shipped["phrenic_feeder"].replace('size_bin = "100-300"', 'size_bin = "900-1200"'), "expert.size_bin",
             "do not pass"),
            (shipped["phrenic_feeder"].replace("at the bare area", "at the bare area [NoSuchSource" + "2099]"),
             "summary", "NoSuchSource"),
            (shipped["phrenic_feeder"].replace("Extrahepatic supply:", "Extrahepatic supply [NoSuchSource" + "2099]:"),
             "hidden", "NoSuchSource"),
            (shipped["phrenic_feeder"].replace('scenario = "extrahepatic_phrenic_supply"', 'scenario = "nope.toml"'),
             "scenario", "nope.toml"),
            (shipped["phrenic_feeder"].replace('scenario = "extrahepatic_phrenic_supply"', 'scenario = "nope"'),
             "scenario", "no shipped scenario")]:
        assert text not in shipped.values(), key
        bad.write_text(text)
        with pytest.raises(ScenarioError, match=words) as err:
            load_case(bad)
        assert err.value.path == key and err.value.source == str(bad), (key, err.value)


def test_a_synthetic_expert_vessel_is_checked_on_the_built_liver(tmp_path, coarse_liver):
    from sim.explore.cases import check_vessels_on

    path = tmp_path / "synthetic.toml"
    path.write_text(next(p for p in case_files() if p.stem == "phrenic_feeder").read_text()
                    .replace('vessel = "A7"', 'vessel = "#99999999"'))
    case = load_case(path)  # the number of synthetic vessels is known on the built liver only
    with pytest.raises(ScenarioError, match="no synthetic vessel '#99999999'") as err:
        check_vessels_on(case, coarse_liver)
    assert err.value.path == "expert.vessel" and err.value.source == str(path)
    check_vessels_on(load_cases()["phrenic_feeder"], coarse_liver)  # A7 and the CHA exist


def test_an_educators_case_folder_is_listed_after_the_shipped_cases(tmp_path):
    """Review 31: cases could only be added inside the installed package, and a copied case with the same title
    silently hid the shipped one."""
    from sim.explore.cases import case_files as files

    text = next(p for p in case_files() if p.stem == "biliary_anastomosis").read_text()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "my_whipple.toml").write_text(text.replace('title = "', 'title = "My copy: '))
    # a scenario beside the case (its `scenario`), a hidden and an editor's file: not cases (review 34)
    (mine / "my_patient.toml").write_text('title = "my patient"\n[catheter]\nvessel = "A5"\n')
    (mine / ".hidden.toml").write_text("not = 'a case'\n")
    (mine / "#my_whipple.toml#.toml").write_text("")
    cases = load_cases([mine, mine / ".." / "mine"])  # the same folder twice: read once
    assert list(cases)[-1] == "my_whipple" and len(cases) == len(load_cases()) + 1
    assert list(load_cases(mine)) == list(cases)  # one folder as a bare path
    assert len({c.title for c in cases.values()}) == len(cases)
    (mine / "my_whipple.toml").write_text(text)  # the shipped case's title
    with pytest.raises(ScenarioError, match="the same title as .*biliary_anastomosis.toml") as err:
        load_cases([mine])
    assert err.value.path == "title" and err.value.source == str((mine / "my_whipple.toml").resolve())
    (mine / "my_whipple.toml").unlink()
    (mine / "biliary_anastomosis.toml").write_text(text.replace('title = "', 'title = "My copy: '))
    with pytest.raises(ScenarioError, match="the same name as"):
        load_cases([mine])
    for folder, words in ((tmp_path / "none", "no such folder"), (tmp_path, "no case file")):
        with pytest.raises(ScenarioError, match=words):
            files([folder])


def test_cli_explore_refuses_a_bad_case_folder_in_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text(next(p for p in case_files() if p.stem == "phrenic_feeder").read_text()
                                       .replace('vessel = "A7"', 'vessel = "RHA_nope"'))
    for folder, words in ((tmp_path, f"{tmp_path / 'bad.toml'}: expert.vessel: unknown vessel 'RHA_nope'"),
                          (tmp_path / "none", "no such folder")):
        proc = _embosim("explore", "--no-browser", "--cases", str(folder), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
        assert proc.wait(timeout=120) == 2
        err = proc.stderr.read()
        assert err.startswith("embosim: error:") and words in err and "Traceback" not in err, err
        assert "http://" not in proc.stdout.read()


def test_case_mode_offers_only_sizes_that_pass_the_cases_catheter():
    """Review 31: 900-1200 um was offered and always refused, with a message about catheter keys case mode lacks."""
    from sim.explore.cases import deliverable_sizes

    case = load_cases()["michels_replaced_rha"]
    assert "900-1200" not in deliverable_sizes(case, "microspheres")  # 720 um compressed, a 635 um lumen
    for kind in Choice.options("kind"):
        sizes = deliverable_sizes(case, kind)
        assert "100-300" in sizes, (kind, sizes)
        for size in Choice.options("size_bin"):  # each offered one runs, the others are refused
            choice = Choice(selection="treat", vessel="A6", kind=kind, size_bin=size)
            if size in sizes:
                case.scenario_for(choice)
            else:
                with pytest.raises(ScenarioError, match="do not pass"):
                    case.scenario_for(choice)


def test_debrief_points_never_round_up_to_full_marks_and_say_how_each_injection_ended():
    from sim.explore.case_view import debrief_markdown, points_text, shown_total, stop_text
    from sim.selection import assess_patient

    assert [points_text(x) for x in (99.96, 100.0, 25.0, 24.999999999999996, 0.04, 59.25, float("nan"))] == \
        ["99.9", "100", "25", "25", "0", "59.2", "n/a"]
    assert stop_text({"suspension_volume_ml": 1.0}) == ""  # the scored keys alone (case_scores.json): nothing to say
    case = load_cases()["phrenic_feeder"]
    expert = dict(_EXPERT_RUN, tumour_blush_fraction=0.36)
    yours = dict(expert, endpoint_reached=False, stop_reason="packed_to_tip", suspension_volume_ml=0.41)
    rows = score(case.expert, case.expert, yours, expert)
    text = debrief_markdown(case, case.expert, rows, assess_patient(case.base_scenario()), yours, expert)
    assert ("**The injection:** yours stopped before its endpoint (stasis): the particles packed back to the "
            "catheter tip, after 0.41 mL of suspension; the expert's reached its endpoint (stasis) after 3 mL") in text
    # the harm rows' factor is said with its value (review 51: below the expert on every harm and 3 of 10 points)
    half = dict(yours, tumour_necrosis_fraction=0.3)
    rows = score(case.expert, case.expert, half, expert)
    text = debrief_markdown(case, case.expert, rows, assess_patient(case.base_scenario()), half, expert)
    assert "times your tumour necrosis as a share of the expert's (50%)" in text
    assert rows[1].points == pytest.approx(0.5 * rows[1].out_of)
    assert "rounded down to a tenth; the total is the sum of the rows as shown" in text
    # the rows add up to the total (review 54: five rows rounded down were 0.4 under it)
    shown = [float(line.split("|")[4].split("/")[0]) for line in text.splitlines() if line.count("|") == 5
             and line.split("|")[4].strip()[:1].isdigit()]
    total = float(text.split("Debrief: ")[1].split(" /")[0])
    assert len(shown) == len(rows) and sum(shown) == pytest.approx(total)
    assert shown_total([10.06, 10.06, 10.06]) == 30.0 and points_text(shown_total([10.06] * 3)) == "30"
    # where the non-target particles went, by branch (review 51: "0.0786" without the cystic artery)
    assert "Where the non-target" not in text  # neither run sent any
    leaky = dict(half, nontarget_particles_by_branch={"cystic": 786, "GDA": 0}, particles_injected=10_000)
    text = debrief_markdown(case, case.expert, rows, assess_patient(case.base_scenario()), leaky, expert)
    assert ("**Where the non-target particles went** (share of the particles injected): yours: cystic 7.9%; "
            "the expert's: none.") in text


def test_relative_contraindications_make_declining_defensible():
    """The seed deck's relative contraindications (extrahepatic supply, burden over 50%, a biliary-enteric
    anastomosis) are weighed by the MDT: the cases with them mark declining defensible; the absolute ones do not."""
    cases = load_cases()
    assert {name for name, case in cases.items() if case.decline_defensible} == {
        "phrenic_feeder", "high_burden", "biliary_anastomosis"}


def test_target_tumour_readouts_are_the_summarys_for_a_single_tumour(coarse_scenario, coarse_liver):
    """With one tumour every tumour compartment is its own: the target's necrosis and blush are the summary's."""
    import sim

    result = sim.run(coarse_scenario, liver=coarse_liver, progress=False)
    (name,) = [t.name for t in coarse_scenario.tumours]
    assert 0.1 < result.summary["tumour_necrosis_fraction"] < 1.0
    target = target_readouts(result, name)
    for key in ("tumour_necrosis_fraction", "tumour_blush_fraction"):
        assert target[key] == pytest.approx(result.summary[key], rel=1e-12), key
    assert 0.0 < target["tumour_blush_fraction"] < 1.0


def test_a_case_with_an_unknown_target_tumour_is_refused(tmp_path):
    path = next(p for p in case_files() if p.stem == "high_burden")
    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text().replace('target_tumour = "seg8_net"', 'target_tumour = "seg9_net"'))
    with pytest.raises(ScenarioError, match="no tumour 'seg9_net'") as err:
        load_case(bad)
    assert err.value.path == "target_tumour"
    rows = score(Choice(selection="treat", vessel="A8"), Choice(selection="treat", vessel="A8"), _EXPERT_RUN, _EXPERT_RUN,
                 target_tumour="seg8_net")
    assert rows[1].item == "necrosis of the target tumour, seg8_net (fraction)"


def test_debrief_shows_each_runs_residual_blush():
    from sim.explore.case_view import debrief_markdown
    from sim.selection import assess_patient

    case = load_cases()["phrenic_feeder"]
    run = dict(_EXPERT_RUN, tumour_blush_fraction=0.36)
    rows = score(case.expert, case.expert, run, run)
    text = debrief_markdown(case, case.expert, rows, assess_patient(case.base_scenario()), run, run)
    assert "**Blush of the tumour at the end of the procedure:** yours 36% of its baseline; the expert's 36%" in text
    burden = load_cases()["high_burden"]
    text = debrief_markdown(burden, burden.expert, rows, assess_patient(burden.base_scenario()), run, run)
    assert "**Blush of the target tumour (seg8_net) at the end of the procedure:**" in text


_EXPERT_RUN = {"tumour_necrosis_fraction": 0.6, "normal_necrosis_fraction": 0.01, "biliary_ischaemic_fraction": 0.02,
               "nontarget_particle_fraction": 0.0, "suspension_volume_ml": 3.0, "particles_injected": 10_000,
               "nontarget_particles_by_branch": {}, "endpoint": "stasis", "endpoint_reached": True,
               "stop_reason": "endpoint"}


def _total(*args, **kwargs) -> float:
    return sum(r.points for r in score(*args, **kwargs))


def test_score_full_for_the_experts_choice_and_for_declining_with_the_expert():
    expert = Choice(selection="treat", vessel="A6")
    summary = _EXPERT_RUN
    assert _total(expert, expert, summary, summary) == sum(POINTS.values())
    decline = Choice(selection="decline")
    assert _total(decline, decline, None, None) == sum(POINTS.values())
    assert _total(expert, decline, summary, None) == 0
    assert _total(decline, expert, None, summary) == 0
    # a relative contraindication: declining is defensible, less than the expert's judgement, more than nothing
    assert _total(decline, expert, None, summary, decline_defensible=True) == DEFENSIBLE_SELECTION_POINTS
    assert 0 < DEFENSIBLE_SELECTION_POINTS < POINTS["selection"]


def test_score_falls_with_less_necrosis_and_more_harm():
    """Efficacy first: harms and volume score only as far as the tumour was treated; less suspension than the
    expert's is not penalised."""
    expert = Choice(selection="treat", vessel="A6")
    e = _EXPERT_RUN
    worse = dict(e, tumour_necrosis_fraction=0.3, normal_necrosis_fraction=0.02, suspension_volume_ml=6.0)
    rows = {r.item: r.points for r in score(expert, expert, worse, e)}
    allowed = HARM_MARGIN * 0.01 + HARM_FLOOR
    assert rows["tumour necrosis (fraction)"] == pytest.approx(POINTS["tumour_necrosis_fraction"] * 0.5)
    assert rows["normal liver necrosis (fraction)"] == pytest.approx(POINTS["normal_necrosis_fraction"] * 0.5 * allowed / 0.02)
    assert rows["biliary ischaemia (fraction)"] == pytest.approx(POINTS["biliary_ischaemic_fraction"] * 0.5)
    assert rows["suspension volume used (mL)"] == pytest.approx(POINTS["suspension_volume_ml"] * 0.5 * HARM_MARGIN * 3.0 / 6.0)
    less = {r.item: r.points for r in score(expert, expert, dict(e, suspension_volume_ml=1.0), e)}
    assert less["suspension volume used (mL)"] == POINTS["suspension_volume_ml"]
    # a harm however large is scored in proportion, not as a major complication, unless it is one of those
    big = {r.item: r.points for r in score(expert, expert, dict(e, normal_necrosis_fraction=0.30), e)}
    assert big["tumour necrosis (fraction)"] == POINTS["tumour_necrosis_fraction"]
    assert big["normal liver necrosis (fraction)"] == pytest.approx(POINTS["normal_necrosis_fraction"] * allowed / 0.30)


def test_major_complications_are_the_gut_and_the_ducts_behind_an_anastomosis():
    """Absolute criteria, not the expert's harm times a factor: the review found a lobar injection's few cystic
    particles (0.066 of them) scored as a major complication, below embolising the gut."""
    gut_share = {"GDA": 150, "RGA": 50}  # 2.0% of 10,000 particles
    e = _EXPERT_RUN
    assert major_complication(dict(e, nontarget_particles_by_branch=gut_share), False).startswith("gut embolised: 2%")
    assert MAJOR_GUT_PARTICLE_SHARE == 0.02 and set(gut_share) <= set(GUT_BRANCHES)
    assert major_complication(dict(e, nontarget_particles_by_branch={"GDA": 199}), False) == ""
    assert major_complication(dict(e, nontarget_particles_by_branch={"cystic": 660}), False) == ""  # not the gut
    ducts = dict(e, biliary_ischaemic_fraction=MAJOR_BILIARY_FRACTION)
    assert major_complication(ducts, True).startswith("bile ducts ischaemic")
    assert major_complication(ducts, False) == ""  # without an anastomosis: a harm, scored in proportion
    expert = Choice(selection="treat", vessel="A6")
    rows = score(expert, expert, dict(e, nontarget_particles_by_branch=gut_share), e)
    assert sum(r.points for r in rows) == 0 and rows[-1].item.startswith("major complication")
    # below a defensible decline
    assert _total(expert, expert, ducts, e, decline_defensible=True, biliary_enteric_anastomosis=True) \
        < _total(Choice(selection="decline"), expert, None, e, decline_defensible=True)


def test_segmental_treatment_where_the_burden_asks_for_it(coarse_liver):
    """The deck: 'For disease vol >50% - segmental treatments' [SeedDeckUHS]. Review 7 found a right lobar injection in
    the high-burden case scoring 69 of 100, the principle broken at no cost beyond its harms."""
    from sim.selection import assess_patient
    from sim.strategies import segments_fed

    assert segments_fed(coarse_liver, "RHA") == ("I", "V", "VI", "VII", "VIII")
    assert segments_fed(coarse_liver, "right_anterior") == ("V", "VIII") and segments_fed(coarse_liver, "A8") == ("VIII",)
    assert segments_fed(coarse_liver, "GDA") == ()
    assert len(segments_fed(coarse_liver, "#5")) == 1
    verdicts = {name: assess_patient(case.base_scenario()) for name, case in load_cases().items()}
    advice = segmental_breach(verdicts["high_burden"], coarse_liver, "RHA")
    assert advice.startswith("Disease burden 56")
    for vessel in ("A8", "A1", "#5", "GDA"):  # one segment or none: no breach
        assert segmental_breach(verdicts["high_burden"], coarse_liver, vessel) == "", vessel
    for vessel in ("right_anterior", "LHA", "PHA"):
        assert segmental_breach(verdicts["high_burden"], coarse_liver, vessel) == advice, vessel
    assert segmental_breach(verdicts["biliary_anastomosis"], coarse_liver, "RHA") == ""  # no such advice
    for name, case in load_cases().items():  # a case whose patient needs segmental treatment has a segmental expert
        if case.expert.selection == "treat":
            assert segmental_breach(verdicts[name], coarse_liver, case.expert.vessel) == "", name
    expert = Choice(selection="treat", vessel="A8")
    e = _EXPERT_RUN
    lobar = score(Choice(selection="treat", vessel="RHA"), expert, e, e, segmental_breach=advice)
    assert lobar[0].points == 0 and lobar[0].trainee == "treat from RHA: more than one segment, against the advice (below)"
    assert lobar[0].expert == "treat segmentally (A8)"
    assert sum(r.points for r in lobar) == sum(POINTS.values()) - POINTS["selection"]  # the outcomes still score
    assert _total(Choice(selection="treat", vessel="RHA"), expert, e, e) == sum(POINTS.values())  # no breach
    assert _total(Choice(selection="decline"), expert, None, e, decline_defensible=True, segmental_breach=advice) \
        == DEFENSIBLE_SELECTION_POINTS


@pytest.mark.parametrize("label, trainee, expected", [
    ("the GDA embolised: no tumour treated, every particle in the gut",
     {"tumour_necrosis_fraction": 0.0, "nontarget_particle_fraction": 1.0, "suspension_volume_ml": 1.0,
      "nontarget_particles_by_branch": {"GDA": 10_000}}, (0, 0)),
    ("the wrong lobe: the tumour untouched, the other lobe infarcted",
     {"tumour_necrosis_fraction": 3e-5, "normal_necrosis_fraction": 0.05}, (POINTS["selection"], POINTS["selection"] + 1)),
    ("a lobar run after a Whipple: the tumour treated, the bile ducts of the lobe ischaemic",
     {"biliary_ischaemic_fraction": 0.41, "nontarget_particle_fraction": 0.066, "normal_necrosis_fraction": 0.03,
      "suspension_volume_ml": 9.0, "nontarget_particles_by_branch": {"cystic": 660}}, (0, 0)),
])
def test_clearly_harmful_treatments_score_little_or_nothing(label, trainee, expected):
    """Issue 18's reviews: these choices scored 56-64 of 100, then 30-34 (the selection and a few harm points)."""
    expert = Choice(selection="treat", vessel="A6")
    e = dict(_EXPERT_RUN, biliary_ischaemic_fraction=0.026)
    total = _total(Choice(selection="treat", vessel="GDA"), expert, dict(e, **trainee), e, biliary_enteric_anastomosis=True)
    assert expected[0] <= total <= expected[1], label


def test_nearest_vessel_picks_the_clicked_artery_on_a_real_liver():
    import sim
    from sim.explore.compute import liver_scene, nearest_vessel

    s = Scenario().with_updates({"liver.terminal_diameter_um": 300.0})
    scene = liver_scene(sim.build_liver(s), s)
    for name in ("RHA", "A5", "GDA"):
        row = scene.vessels[scene.vessels["vessel"] == name].iloc[-1]
        assert nearest_vessel(scene, 0.5 * (row.x0 + row.x1), 0.5 * (row.z0 + row.z1), tolerance_mm=1.0) in (
            name, *scene.vessels["vessel"][scene.vessels["diameter_um"] > row.diameter_um])
    left, right, bottom, top = scene.extent
    assert nearest_vessel(scene, left - 50.0, top + 50.0) is None
    synthetic = scene.vessels[scene.vessels["vessel"].str.startswith("#")].iloc[-1]
    assert scenario_from_values(s, {"catheter.vessel": synthetic.vessel}).catheter.vessel == synthetic.vessel


def test_dsa_after_is_injected_as_the_runs_end_of_procedure_angiogram(coarse_scenario, coarse_liver):
    """The page's DSA after uses the run's own contrast run (rate and reflux of the summary), not the baseline's."""
    from sim.explore import compute

    cache = LiverCache(disk=False, build=lambda scenario: coarse_liver)
    scene = compute.liver_scene(coarse_liver, coarse_scenario)
    sim = compute.simulate(coarse_scenario, cache)
    dsa = compute.angiograms(scene, compute.run_scene(scene, sim))
    s = sim.result.summary
    before, after = dsa.before.transit, dsa.after.transit
    assert s["angiogram_rate_baseline_ml_s"] == pytest.approx(before.injection.rate_m3s / 1e-6, rel=1e-9)
    assert s["angiogram_rate_final_ml_s"] == pytest.approx(after.injection.rate_m3s / 1e-6, rel=1e-9)
    assert after.injection.rate_m3s < 0.2 * before.injection.rate_m3s  # after stasis: a gentle run, not the baseline's
    assert s["angiogram_reflux_ml"] == pytest.approx(after.reflux_ml, abs=1e-9)
    assert dsa.after.view == dsa.before.view


def _embosim(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-c", "import sim.cli; sim.cli.main()", *args], **kwargs)


def test_cli_explore_rejects_a_bad_scenario_in_one_line():
    proc = _embosim("explore", "no_such_scenario_xyz", "--no-browser", stderr=subprocess.PIPE, text=True)
    assert proc.wait(timeout=120) == 2
    assert "embosim: error:" in proc.stderr.read()


def test_cli_explore_refuses_a_port_in_use_or_a_bad_host_in_one_line():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args, words in ((["--port", str(port)], "Address already in use"),
                            (["--host", "no-such-host.invalid"], "cannot serve on no-such-host.invalid"),
                            (["--host", "::1"], "IPv6"), (["--host", ""], "empty address")):
            proc = _embosim("explore", "--no-browser", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert proc.wait(timeout=120) == 2, args
            err, out = proc.stderr.read(), proc.stdout.read()
            assert err.startswith("embosim: error:") and words in err and "Traceback" not in err, err
            assert "http://" not in out  # no URL printed for a page that is not served


def test_loopback_addresses_keep_the_page_local():
    """Review of issue 18: --host 127.0.0.2 (a loopback address) was warned as serving beyond this machine."""
    from sim.explore.app import is_local_address

    assert all(is_local_address(a) for a in ("127.0.0.1", "127.0.0.2", "127.255.255.254", "127.1", "localhost", "LOCALHOST"))
    assert not any(is_local_address(a) for a in ("0.0.0.0", "192.168.1.10", "no-such-host.invalid", ""))


def test_a_press_while_the_worker_is_busy_is_said_not_dropped_silently():
    """Review of issue 18: a Run pressed while a case was being scored (or Submit during a run) did nothing and said
    nothing; the press is still refused (one piece of work at a time) but the status line says so until it is done."""
    import asyncio

    from sim.explore.app import Worker
    from sim.explore.case_view import CaseView

    worker = Worker()
    view = CaseView(LiverCache(disk=False), worker)
    view.case = load_cases()["main_pvt"]
    view.selection.value = "decline"

    async def busy_then_submit():
        started = asyncio.Event()

        async def long_work():
            async with worker.task():
                started.set()
                await worker.run("running your procedure", time.sleep, 0.5)
                worker.done("done")
        work = asyncio.ensure_future(long_work())
        await started.wait()
        await view._on_submit()  # refused: busy
        said = worker.status.object
        await work
        return said

    said = asyncio.run(busy_then_submit())
    assert "busy: press **Submit and debrief** again when this is done" in said and "running your procedure" in said
    assert view.debrief.object == "" and worker.status.object == "done"
    # the re-review: Start during a Take or Submit let their results land in the new case (A6 'seen' unseen)
    view.choose.value = "michels_replaced_rha"
    worker.busy = True
    asyncio.run(view._on_start())
    assert view.case.name == "main_pvt" and "press **Start the case** again" in worker.status.object
    worker.busy = False


def test_error_box_shows_the_message_as_written():
    """The error box is Markdown: a message's '#<n>' must not become an HTML tag, nor '*' emphasis."""
    from markdown_it import MarkdownIt

    from sim.explore.app import Worker

    worker = Worker()
    message = "unknown vessel 'XYZ'; allowed: A5, replaced_RHA or a synthetic id '#<n>' (got 'XYZ'); *not* emphasis"
    worker.show_error(ScenarioError(message, path="tumours.*.arterial_fraction"))
    html = MarkdownIt().render(worker.error.object)
    assert "'#&lt;n&gt;'" in html and "<em>" not in html and "tumours.*.arterial_fraction" in html
    assert html.replace("&lt;", "<").replace("&gt;", ">").strip() == f"<p>tumours.*.arterial_fraction: {message}</p>"
    assert worker.error.visible


@pytest.fixture(scope="module")
def explorer():
    """The page's app object on a coarse liver (built when constructed, as in a notebook)."""
    from sim.explore.app import Explorer

    return Explorer(None, cache=LiverCache(disk=False), overrides={"liver.terminal_diameter_um": 300.0})


def test_a_click_shows_the_view_and_dsa_before_from_there_and_the_run_reuses_them():
    """A click on an artery places the catheter and shows at once the liver view (native flows with the catheter in
    place there) and the DSA before from there; the run then reuses both (only the run, its view and the DSA after are
    computed)."""
    import asyncio
    from types import SimpleNamespace

    from sim.explore.app import Explorer

    page = Explorer(None, cache=LiverCache(disk=False), overrides={"liver.terminal_diameter_um": 300.0})
    start_scene, start_dsa = page.scene, page.dsa
    vessels = start_scene.vessels
    row = vessels[vessels["vessel"] == "RHA"].iloc[-1]
    page._on_tap(SimpleNamespace(x=0.5 * (row["x0"] + row["x1"]), y=0.5 * (row["z0"] + row["z1"])))
    scene, dsa = page.scene, page.dsa  # (outside a server the placement has finished when the click returns)
    assert page.widgets["catheter.vessel"].value == "RHA" and scene.vessel == "RHA" and scene is not start_scene
    assert dsa.after is None and dsa.before is not start_dsa.before
    assert not np.array_equal(dsa.frames("capillary")[0], start_dsa.frames("capillary")[0])
    assert page.liver_figure.tip.data["x"] == [scene.tip[0]] and scene.tip != start_scene.tip
    assert not np.allclose(scene.vessels["flow"], vessels["flow"])  # the view's flows are the RHA injection's
    assert "Catheter placed in **RHA**" in page.worker.status.object
    page._on_tap(SimpleNamespace(x=0.5 * (row["x0"] + row["x1"]), y=0.5 * (row["z0"] + row["z1"])))
    assert page.scene is scene  # the same place again: nothing recomputed
    page.widgets["agent.size_bin"].value = "500-700"
    asyncio.run(page.run(page.current_scenario()))
    assert page.scene is scene and page.dsa.before is dsa.before and page.dsa.after is not None
    before, after = page.dsa.frames("capillary")
    assert before is dsa.frames("capillary")[0] and after is not None  # the DSA before's frame made once
    assert np.array_equal(before, ag.opacity(dsa.before.frame(dsa.phases["capillary"])).astype(np.float32))
    assert page.simulation.scenario.catheter.vessel == "RHA" and page.run_scene is not None
    # both frames over the liver's segment outlines (review 51: a segmental run's blush sat in an empty frame)
    assert all(len(f.outlines.data["xs"]) == len(scene.outlines) > 0 for f in (page.dsa_before, page.dsa_after))


def _midpoint(scene, vessel):
    from types import SimpleNamespace

    row = scene.vessels[scene.vessels["vessel"] == vessel].iloc[-1]
    return SimpleNamespace(x=0.5 * (row["x0"] + row["x1"]), y=0.5 * (row["z0"] + row["z1"]))


def test_a_click_takes_only_arteries_the_catheter_can_sit_in_and_says_why_not():
    """A click never places the catheter where a run would be refused: an artery no wider than the catheter wedges it
    (the status says so and nothing moves); a synthetic vessel of a liver the controls no longer describe (a changed
    tumour arterialisation renumbers them) is refused; a click while another control holds a bad value shows that
    value's message and leaves the view; a click on the catheter's own vessel moves nothing (issue 18's review)."""
    from sim.explore.app import Explorer
    from sim.units import FRENCH_M

    page = Explorer(None, cache=LiverCache(disk=False), overrides={"liver.terminal_diameter_um": 300.0})
    scene = page.scene
    width_um = page.base.catheter.outer_diameter_fr * FRENCH_M * 1e6
    v = scene.vessels
    narrow = [name for name, d in zip(v["vessel"], v["diameter_um"], strict=True) if d <= width_um
              and compute.nearest_vessel(scene, _midpoint(scene, name).x, _midpoint(scene, name).y,
                                         wider_than_um=width_um) is None]
    assert narrow  # most drawn arteries are narrower than a 2.7 Fr microcatheter
    page._on_tap(_midpoint(scene, narrow[0]))
    assert page.widgets["catheter.vessel"].value == "A5" and page.scene is scene
    assert "would wedge" in page.worker.status.object and narrow[0] in page.worker.status.object
    wide = next(name for name, d in zip(v["vessel"], v["diameter_um"], strict=True)
                if name.startswith("#") and d > 1.5 * width_um)
    placed, line = compute.clicked_vessel(scene, _midpoint(scene, wide).x, _midpoint(scene, wide).y,
                                          page.base.catheter.outer_diameter_fr)
    segment = SEGMENTS[int(scene.flow.liver.forest.segment[int(wide[1:])])]
    assert placed == wide and line.endswith(f"um branch in segment {segment})")  # review 51: "#161149" alone
    tip = dict(page.liver_figure.tip.data)
    page._on_tap(_midpoint(scene, "A5"))  # the catheter's own vessel: nothing moves, the tip marker included
    assert page.scene is scene and page.liver_figure.tip.data == tip
    page.widgets["tumours.*.arterial_fraction"].value = "0.5"  # a new liver, whose synthetic vessels are others
    page._on_tap(_midpoint(scene, wide))
    assert page.widgets["catheter.vessel"].value == "A5" and "anatomy" in page.worker.status.object
    page.widgets["catheter.rate_ml_min"].value = "-1"  # review: a bad value elsewhere let the click through
    page._on_tap(_midpoint(scene, wide))
    assert page.widgets["catheter.vessel"].value == "A5" and "anatomy" in page.worker.status.object
    page.widgets["catheter.rate_ml_min"].value = "1.0"
    page.widgets["tumours.*.arterial_fraction"].value = repr(page.base.tumours[0].arterial_fraction)
    page.widgets["catheter.rate_ml_min"].value = "-1"
    page._on_tap(_midpoint(scene, "RHA"))
    assert page.widgets["catheter.vessel"].value == "RHA" and page.scene is scene
    assert page.worker.error.visible and "catheter.rate_ml_min" in page.worker.error.object.replace("\\", "")
    assert "Catheter set to **RHA**" in page.worker.status.object
    page.widgets["catheter.rate_ml_min"].value = "1.0"
    page._on_tap(_midpoint(scene, "RHA"))
    assert page.scene.vessel == "RHA" and not page.worker.error.visible
    # review 36: a value fixed, then a click where the view already is: the red box went stale (still "got -1")
    page.widgets["catheter.rate_ml_min"].value = "-1"
    page._on_tap(_midpoint(page.scene, "RHA"))
    assert page.worker.error.visible
    page.widgets["catheter.rate_ml_min"].value = "1.0"
    page._on_tap(_midpoint(page.scene, "RHA"))
    assert page.scene.vessel == "RHA" and not page.worker.error.visible


def test_controls_an_agent_does_not_use_are_greyed_out_with_the_reason():
    """Review of issue 18: with Lipiodol alone, size, dilution, rate and endpoint changed nothing, silently; a Y-90
    product ignores the size."""
    base = load_scenario(resolve_scenario("bulky_segment5_net"))
    oil = ignored_controls(base.with_updates({"agent.kind": "lipiodol"}))
    assert set(oil) == {"agent.size_bin", "agent.contrast_dilution", "procedure.endpoint", "procedure.max_volume_ml"}
    assert "agent.lipiodol_volume_ml" in oil["agent.size_bin"]
    assert ignored_controls(base) == {}
    # glass: one flush, never stopped by the flow (review 36: its endpoint control stayed active, unexplained); resin's
    # contrast checks after each aliquot read the endpoint
    glass = load_scenario(resolve_scenario("sirt_glass_segment5"))
    assert set(ignored_controls(glass)) == {"agent.size_bin", "procedure.endpoint"}
    assert "one flush" in ignored_controls(glass)["procedure.endpoint"]
    resin = load_scenario(resolve_scenario("sirt_resin_lobar_bilobar_net"))
    assert set(ignored_controls(resin)) == {"agent.size_bin"}
    ctace = load_scenario(resolve_scenario("ctace_bulky_segment5_net"))
    assert set(ignored_controls(ctace)) == {"agent.size_bin"}
    # what the runs say: the ignored controls change no number
    def numbers(scenario):
        summary = sim.run(scenario.with_updates({"liver.terminal_diameter_um": 300.0}), progress=False).summary
        return {k: v for k, v in summary.items() if isinstance(v, float) and k != "run_time_s"}
    oil_run = base.with_updates({"agent.kind": "lipiodol"})
    one, other = numbers(oil_run), numbers(oil_run.with_updates({"agent.size_bin": "900-1200", "agent.contrast_dilution": 50.0,
                                                                 "procedure.endpoint": "sluggish"}))
    assert one.keys() == other.keys()  # the same to rounding (summation orders)
    np.testing.assert_allclose([one[k] for k in one], [other[k] for k in one], rtol=1e-9, equal_nan=True)


def test_outcome_table_shows_the_oil_and_the_doses_and_no_particle_rows_without_particles():
    oil = {"particles_injected": 0, "suspension_volume_ml": 0.0, "lipiodol_volume_ml": 5.0, "emulsion_volume_ml": 7.5,
           "tumour_necrosis_fraction": 0.3}
    table = outcome_table(oil)
    assert list(table["summary key"]) == ["lipiodol_volume_ml", "emulsion_volume_ml", "tumour_necrosis_fraction"]
    y90 = {"particles_injected": 10, "sirt_tumour_dose_mean_gy": 517.0, "sirt_lung_dose_gy": 1.9}
    assert {"sirt_tumour_dose_mean_gy", "sirt_lung_dose_gy", "particles_injected"} == set(outcome_table(y90)["summary key"])
    # review 12: beside the doses, a Y-90 run's necrosis says it is the ischaemic part only
    labels = dict(zip(outcome_table({**y90, "tumour_necrosis_fraction": 0.3})["summary key"],
                      outcome_table({**y90, "tumour_necrosis_fraction": 0.3})["outcome"]))
    assert labels["tumour_necrosis_fraction"] == "tumour necrosis, ischaemic only (radiation: the doses)"
    assert outcome_table(oil)["outcome"].iloc[-1] == "tumour necrosis"


def test_volume_endpoint_reads_reached_when_the_volume_was_given():
    """Review 36: with the page's volume endpoint (stasis within procedure.max_volume_ml) the table said "endpoint
    reached: False" when the chosen volume had been given."""
    run = {"particles_injected": 10, "endpoint_reached": False, "stop_reason": "max_volume"}
    rows = lambda summary, **kw: dict(zip(outcome_table(summary, **kw)["summary key"],  # noqa: E731
                                          outcome_table(summary, **kw)["value"]))
    assert rows(run)["endpoint_reached"] == "False"  # a stasis endpoint not reached within the cap
    assert rows(run, volume_endpoint=True)["endpoint_reached"] == "True (the volume was given)"
    stasis = {**run, "endpoint_reached": True, "stop_reason": "endpoint"}
    assert rows(stasis, volume_endpoint=True)["endpoint_reached"] == "True (stasis before the volume)"
    packed = {**run, "stop_reason": "packed_to_tip"}
    assert rows(packed, volume_endpoint=True)["endpoint_reached"] == "False (columns packed to the catheter tip)"
    assert rows(packed)["stop_reason"] == "columns packed to the catheter tip"  # words, not the key (review 49)


def test_the_curve_says_so_when_no_particle_was_injected():
    """Review 36: a Lipiodol run's endpoint curve was empty axes (both rows at 0 mL of suspension)."""
    import pandas as pd

    from sim.explore.figures import CurveFigure

    curve = CurveFigure()
    oil = pd.DataFrame({"suspension_volume_ml": [0.0, 0.0], "antegrade_flow_fraction": [1.0, 0.1],
                        "tumour_blush_fraction": [1.0, 0.2]})
    curve.show(oil)
    assert curve.note.data["text"] == ["No particle injected: antegrade flow 100% -> 10% of baseline"]
    curve.show(oil.assign(suspension_volume_ml=[0.0, 1.5]))
    assert curve.note.data["text"] == []


def test_text_in_a_number_field_is_refused_with_its_key_not_replaced_silently(explorer):
    """Review of issue 18: the browser's number fields put the old value back on "abc", "nan" or "0,5" without a word,
    and Run ran with it. The fields are text now, read on the server: every such value gets a message."""
    rate = explorer.widgets["catheter.rate_ml_min"]
    start = rate.value
    assert float(start) == explorer.base.catheter.rate_ml_min  # shown exactly: an untouched page is the file
    assert explorer.current_scenario() == explorer.base
    for text, words in (("abc", "type a number (got 'abc')"), ("0,5", "type a number (got '0,5')"), ("", "empty"),
                        ("nan", "finite number"), ("inf", "finite number"), ("-1", "greater than 0")):
        rate.value = text
        with pytest.raises(ScenarioError, match=re.escape(words)) as err:
            explorer.current_scenario()
        assert err.value.path == "catheter.rate_ml_min", text
    rate.value = " 2.5 "
    assert explorer.current_scenario().catheter.rate_ml_min == 2.5
    rate.value = start
    # the re-review: a field greyed out for the agent is not read (its key keeps the file's value)
    dilution, kind = explorer.widgets["agent.contrast_dilution"], explorer.widgets["agent.kind"]
    dilution.value = "abc"
    kind.value = "lipiodol"
    assert dilution.disabled and explorer.current_scenario().agent.contrast_dilution == explorer.base.agent.contrast_dilution
    kind.value = explorer.base.agent.kind
    with pytest.raises(ScenarioError, match="type a number"):
        explorer.current_scenario()
    dilution.value = repr(explorer.base.agent.contrast_dilution)


def test_volume_cap_is_set_with_the_volume_endpoint_only(explorer):
    volume, endpoint = explorer.widgets["procedure.max_volume_ml"], explorer.widgets["procedure.endpoint"]
    start = repr(float(explorer.base.procedure.max_volume_ml))
    assert endpoint.value == "stasis" and volume.disabled and volume.value == start
    endpoint.value = VOLUME_ENDPOINT
    assert not volume.disabled
    volume.value = "2"
    assert explorer.current_scenario().procedure.max_volume_ml == 2.0
    kind = explorer.widgets["agent.kind"]  # the re-review: greyed out for Lipiodol and back, the typed cap stays
    kind.value = "lipiodol"
    assert volume.disabled and volume.value == "2"
    kind.value = explorer.base.agent.kind
    assert not volume.disabled and explorer.current_scenario().procedure.max_volume_ml == 2.0
    endpoint.value = "sluggish"  # the cap that applies now is the starting scenario's, and the control says so
    assert volume.disabled and volume.value == start
    assert explorer.current_scenario().procedure.max_volume_ml == explorer.base.procedure.max_volume_ml
    endpoint.value = "stasis"


def test_download_names_the_changes_from_the_starting_scenario(explorer):
    scenario = explorer.base.with_updates({"catheter.vessel": "RHA", "agent.size_bin": "300-500"})
    explorer.scenario = scenario
    try:
        text = explorer.toml()
    finally:
        explorer.scenario = explorer.base
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert f"# Started from: {explorer.base.title}" in header
    assert header[header.index("# Changed on the page:") + 1:] == ['#   agent.size_bin = "300-500"',
                                                                   '#   catheter.vessel = "RHA"']
    loaded = parse_scenario(tomllib.loads(text), anatomy=False)
    # review 12: the file's title and description say what it runs (report.md and the CLI print them); the rest is
    # the page's scenario
    assert loaded.title == f"{explorer.base.title}, changed in the explorer"
    assert loaded.description.endswith('agent.size_bin = "300-500"; catheter.vessel = "RHA".')
    assert loaded.with_updates({"title": scenario.title, "description": scenario.description}) == scenario
    assert "# Not changed on the page" in explorer.toml()
    assert parse_scenario(tomllib.loads(explorer.toml()), anatomy=False) == explorer.base


def test_replay_draws_the_curve_on_the_whole_runs_axis():
    import pandas as pd

    from sim.explore.figures import CurveFigure

    ts = pd.DataFrame({"suspension_volume_ml": [0.5, 1.0, 2.0, 4.0], "antegrade_flow_fraction": [1.0, 0.8, 0.5, 0.1],
                       "tumour_blush_fraction": [1.0, 0.7, 0.4, 0.1]})
    curve = CurveFigure()
    curve.show(ts, upto=2)
    assert list(curve.source.data["volume"]) == [0.5, 1.0]
    assert (curve.figure.x_range.start, curve.figure.x_range.end) == (0.0, 4.0)


def test_a_typed_vessel_name_with_spaces_is_the_vessel():
    assert scenario_from_values(Scenario(), {"catheter.vessel": " A8 "}).catheter.vessel == "A8"


def test_status_line_and_error_box_show_in_both_tabs(explorer):
    import panel as pn

    tabs = explorer.panel.select(pn.Tabs)
    assert len(tabs) == 1
    inside = [obj for tab in tabs[0].objects for obj in tab.select()]
    for shown in (explorer.worker.status, explorer.worker.error, explorer.worker.progress):
        assert any(obj is shown for obj in explorer.panel.select()), shown.name
        assert not any(obj is shown for obj in inside), f"{shown.name} is inside one tab: the other never shows it"


@pytest.mark.slow
def test_cli_explore_serves_the_page_on_localhost(tmp_path):
    from sim.explore.app import free_port

    port = free_port()
    env = dict(os.environ, EMBOSIM_CACHE_DIR=str(tmp_path))
    proc = _embosim("explore", "--no-browser", "--port", str(port), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the explorer did not answer within 120 s"
                time.sleep(0.5)
        assert "embosim explorer" in page
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert f"http://127.0.0.1:{port}/" in proc.stdout.read()


def test_kernel_warm_up_runs_a_small_liver_once_per_process(monkeypatch):
    """The page's warm-up (queued after its first liver) runs the procedure once on a synthetic liver, then no more."""
    import sim.simulation
    from sim.explore import compute

    calls = []
    real_run = sim.simulation.run
    monkeypatch.setattr(sim.simulation, "run", lambda *a, **k: calls.append(k["liver"]) or real_run(*a, **k))
    monkeypatch.setattr(compute, "_KERNELS_WARM", False)
    assert compute.warm_up_kernels() is True
    assert compute.warm_up_kernels() is False
    assert len(calls) == 1 and calls[0].compiled.forest.n_nodes == 2 * 300 - 8


def test_replay_colours_the_arteries_by_the_flow_recorded_at_each_row(coarse_scenario, coarse_liver):
    """The run records the drawn arteries' native flow at every time-series row (changing no other output): the
    first row is the liver view's baseline, the last the final flow the view shows at the end, and the flow into
    the catheter's territory falls in between."""
    import sim
    from sim.explore import compute

    cache = LiverCache(disk=False, build=lambda scenario: coarse_liver)
    scene = compute.liver_scene(coarse_liver, coarse_scenario)
    run = compute.simulate(coarse_scenario, cache)
    plain = sim.run(coarse_scenario, liver=coarse_liver, progress=False)
    assert "watched_flow_m3s" not in plain.state
    assert {k: v for k, v in run.result.summary.items() if k != "run_time_s"} == \
        {k: v for k, v in plain.summary.items() if k != "run_time_s"}
    assert run.result.timeseries.equals(plain.timeseries)
    after = compute.run_scene(scene, run)
    rows = after.flow_rows
    assert rows.shape == (len(run.result.timeseries), len(scene.vessels))
    np.testing.assert_allclose(rows[0], scene.vessels["flow"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(rows[-1], after.flow_after, rtol=1e-9, atol=1e-12 * after.flow_after.max())
    tip = scene.vessels.index[scene.vessels["vessel"] == coarse_scenario.catheter.vessel][0]
    tip_flow = rows[:, scene.vessels.index.get_loc(tip)]
    assert tip_flow[-1] < 0.5 * tip_flow[0]  # embolised to stasis: the catheterised artery's flow falls
    assert np.all(np.diff(tip_flow) <= 1e-9 * tip_flow[0])  # and never rises


def test_watching_from_a_pedicle_tip_changes_no_output(coarse_scenario, coarse_liver):
    """A catheter in a synthetic pedicle artery switches its injection off and on through the 2-ports of its path (not
    the trunk's injection): recording the watched flows still leaves every array of the run's state, the time series
    and the summary as without it, to the bit, and the flow of the catheterised artery falls."""
    import sim
    from sim.explore import compute

    pedicle = compute.liver_scene(coarse_liver, coarse_scenario).vessels
    pedicle = pedicle[pedicle["vessel"].str.startswith("#")]
    vessel = pedicle.sort_values("diameter_um")["vessel"].iloc[-1]
    sc = coarse_scenario.with_updates({"catheter.vessel": vessel})
    scene = compute.liver_scene(coarse_liver, sc)
    run = compute.simulate(sc, LiverCache(disk=False, build=lambda scenario: coarse_liver))
    plain = sim.run(sc, liver=coarse_liver, progress=False)
    state = dict(run.result.state)
    assert state.pop("watched_flow_m3s").shape[0] == len(plain.timeseries)
    assert plain.state.keys() == state.keys()
    for key, value in plain.state.items():
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            np.testing.assert_array_equal(value.view(np.uint8), state[key].view(np.uint8), err_msg=key)
    assert plain.timeseries.equals(run.result.timeseries)
    for key, value in plain.summary.items():
        if key != "run_time_s":
            other = run.result.summary[key]
            assert value == other or (value != value and other != other), key
    tip_flow = compute.run_scene(scene, run).flow_rows[:, scene.vessels.index.get_loc(
        scene.vessels.index[scene.vessels["vessel"] == vessel][0])]
    assert tip_flow[-1] < 0.5 * tip_flow[0] and np.all(np.diff(tip_flow) <= 1e-9 * tip_flow[0])


@pytest.mark.parametrize("shown", [50, 4000])
def test_replay_shows_an_even_sample_of_the_lodged_particles_where_they_stopped(coarse_scenario, coarse_liver,
                                                                                monkeypatch, shown):
    """The replay places only the particles it shows: the even sample, in injection order, of every particle placed at
    a finite point, where they stopped, as when every particle is placed first (with a node at no finite point too)."""
    from dataclasses import replace

    from sim.explore import compute

    monkeypatch.setattr(compute, "MAX_PARTICLES_SHOWN", shown)
    cache = LiverCache(disk=False, build=lambda scenario: coarse_liver)
    scene = compute.liver_scene(coarse_liver, coarse_scenario)
    run = compute.simulate(coarse_scenario, cache)
    fate, where = run.result.state["particle_fate"], run.result.state["particle_where"]
    liver = scene.flow.liver
    xyz = liver.forest.xyz.copy()
    xyz[where[np.flatnonzero(fate == compute.FATE_VESSEL)[::7]]] = np.nan  # some lodged particles at no finite point
    counts = []
    for placed in (liver, replace(liver, forest=replace(liver.forest, xyz=xyz))):
        every = compute._lodged_xyz(placed, fate, where)
        lodged = np.flatnonzero(np.isfinite(every[:, 0]))
        counts.append(lodged.size)
        expected = lodged[np.unique(np.linspace(0, lodged.size - 1, min(lodged.size, shown)).astype(int))]
        number, at = compute._shown_particles(placed, fate, where)
        np.testing.assert_array_equal(number, expected)
        np.testing.assert_array_equal(at, every[expected])
        assert 0 < number.size <= shown and (number.size == shown) == (lodged.size >= shown)
    assert counts[1] < counts[0]
    particles = compute.run_scene(scene, run).particles
    np.testing.assert_array_equal(particles["particle"], compute._shown_particles(liver, fate, where)[0] + 1)


def test_a_lipiodol_run_replays_its_emulsion_not_zero_millilitres(explorer):
    """Review 36: a Lipiodol run's replay line read "0.00 mL injected" beside 7.5 mL of emulsion in the table, and its
    curve was blank (it says what the flow did instead)."""
    import asyncio

    scenario = explorer.base.with_updates({"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 3.0})
    asyncio.run(explorer.run(scenario))
    ts = explorer.simulation.result.timeseries
    explorer._draw_step(ts, len(ts))
    oil = explorer.simulation.result.summary["emulsion_volume_ml"]
    # (review 51: "then no particles yet" of a run that injects none)
    assert explorer.replay_text.object.startswith(f"{oil:.1f} mL of Lipiodol emulsion injected, antegrade flow")
    # where the oil went adds up to the oil given: the lungs' share is a row (review 51: 2.2 of 5 mL unaccounted for)
    table = explorer.table.object.set_index("summary key")["value"].astype(float)
    assert table["lipiodol_systemic_ml"] > 0
    assert table[["lipiodol_tumour_ml", "lipiodol_normal_ml", "lipiodol_systemic_ml"]].sum() == \
        pytest.approx(table["lipiodol_volume_ml"], rel=2e-3)
    assert explorer.curve.note.data["text"][0].startswith("No particle injected")
    asyncio.run(explorer.run(explorer.base))  # a bland run after it: no emulsion in its line, no note on its curve
    ts = explorer.simulation.result.timeseries
    explorer._draw_step(ts, len(ts))
    assert "emulsion" not in explorer.replay_text.object and "mL of particle suspension injected" in \
        explorer.replay_text.object
    assert explorer.curve.note.data["text"] == []
    # a Run refused for a bad value says so over the last run's results (review 51: "Done in 3.5 s" stayed)
    explorer.widgets["catheter.rate_ml_min"].value = "-1"
    asyncio.run(explorer._on_run())
    assert explorer.worker.error.visible and "the results below are still the last run's" in explorer.worker.status.object
    # said under Run too (review 54: at 1280 px the top of the page had scrolled away), and kept in step with the
    # values: another bad value replaces the message, a fixed one clears both
    said = explorer.run_message.object.replace("\\", "")  # (literal markdown)
    assert said.startswith("**Not run**: catheter.rate_ml_min") and "(got -1.0)" in said
    explorer.widgets["catheter.rate_ml_min"].value = "-2"
    assert "(got -2.0)" in explorer.run_message.object.replace("\\", "") and "2" in explorer.worker.error.object
    explorer.widgets["catheter.rate_ml_min"].value = "1.0"
    assert not explorer.worker.error.visible and explorer.run_message.object == ""


def test_every_named_artery_in_the_view_is_labelled(coarse_scenario, coarse_liver):
    """Review 36: the SMA leaves the view's bottom; its stub in the view had lost its label (placed at 60% of its
    length, outside the view)."""
    from sim.explore import compute

    scene = compute.liver_scene(coarse_liver, coarse_scenario)
    assert {"SMA", "coeliac", "CHA", "RHA", "LHA", "A5"} <= set(scene.labels["name"])
    left, right, bottom, top = scene.extent
    assert scene.labels["x"].between(left, right).all() and scene.labels["z"].between(bottom, top).all()


def test_artery_labels_are_placed_clear_of_each_other_the_numerals_and_the_tip(coarse_scenario, coarse_liver):
    """Review 36: the labels of neighbouring arteries (right_anterior, right_posterior, cystic) were drawn over each
    other and the segment numerals lost under the tree. Every label the view draws is inside the frame, clear of the
    others, of the numerals and of the catheter tip; the catheterised artery is labelled."""
    from sim.explore import compute
    from sim.explore.figures import LABEL_FONT_PX, LIVER_WIDTH_PX, SEGMENT_FONT_PX, TIP_PX, LiverFigure, text_box_px

    scene = compute.liver_scene(coarse_liver, coarse_scenario)
    view = LiverFigure()
    view.show_liver(scene)
    placed = view.labels.data
    left, right, bottom, top = scene.extent
    scale = LIVER_WIDTH_PX / (right - left)

    def box(x, z, w, h):
        return (x - left) * scale - w / 2, (z - bottom) * scale - h / 2, (x - left) * scale + w / 2, \
            (z - bottom) * scale + h / 2

    labels = [box(x, z, *text_box_px(n, LABEL_FONT_PX)) for x, z, n in zip(placed["x"], placed["z"], placed["name"])]
    others = [box(x, z, *text_box_px(n, SEGMENT_FONT_PX)) for x, z, n in
              zip(view.segments.data["x"], view.segments.data["z"], view.segments.data["name"])]
    others.append(box(*scene.tip, TIP_PX, TIP_PX))
    assert coarse_scenario.catheter.vessel in placed["name"] and len(placed["name"]) >= 0.8 * len(scene.labels)
    for i, a in enumerate(labels):
        assert a[0] >= 0 and a[1] >= 0 and a[2] <= LIVER_WIDTH_PX and a[3] <= (top - bottom) * scale
        for b in labels[i + 1:] + others:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (placed, a, b)


def test_label_placement_moves_a_label_off_a_taken_anchor_and_leaves_out_one_that_fits_nowhere():
    import pandas as pd

    from sim.explore.figures import place_labels

    along = ((50.0, 50.0),)
    labels = pd.DataFrame({"name": ["big", "small", "tiny"], "along": [along, along, along]})
    # a 100 x 100 mm frame drawn 100 px wide: 1 px a mm; "tiny" first, as the catheterised artery
    placed = place_labels(labels, (0.0, 100.0, 0.0, 100.0), 100.0, first="tiny")
    assert placed["name"][0] == "tiny" and (placed["x"][0], placed["z"][0]) == (50.0, 50.0)
    assert placed["z"][1] == 70.0  # 20 px up: at 12 px its 14 px high box would overlap the first
    crowded = place_labels(labels, (0.0, 100.0, 0.0, 100.0), 100.0, keep_clear=[(50.0, 50.0, 100.0, 100.0)])
    assert crowded == {"x": [], "z": [], "name": []}


def test_the_liver_views_colour_scale_is_the_same_for_every_scene(coarse_scenario, coarse_liver):
    """Review 36: the colour bar spanned each scene's own flows, so a colour meant another flow after a catheter
    move or a thrombosis; it is fixed."""
    from sim.explore import compute, controls
    from sim.explore.figures import FLOW_RANGE_ML_MIN, LiverFigure

    view = LiverFigure()
    for changes in ({}, {"portal.thrombosis": "main"}):
        scenario = controls.scenario_from_values(coarse_scenario, changes)
        view.show_liver(compute.liver_scene(coarse_liver, scenario))
        assert (view.colours.low, view.colours.high) == FLOW_RANGE_ML_MIN
