"""Scenario files: shipped ones load, bad input gives one ScenarioError naming file and key."""

from __future__ import annotations

import json
import math
import tomllib

import pytest

import sim
from sim import scenario_doc
from sim.catalogue import scenarios_dir
from sim.scenario import NAMED_ARTERIES, Scenario, ScenarioError, load_scenario

SHIPPED = sorted(scenarios_dir().glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_loads_with_its_teaching_point(path):
    scenario = sim.load_scenario(path)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert scenario.title == raw["title"] and raw["description"] and raw["reference"]
    assert path.read_text(encoding="utf-8").startswith("# "), "open with a comment block stating the teaching point"
    assert "Teaching point" in path.read_text(encoding="utf-8")


def test_all_planned_scenarios_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {"bulky_segment5_net", "bilobar_midgut_net", "high_disease_burden", "main_pvt", "segmental_pvt",
            "biliary_enteric_anastomosis", "replaced_rha_michels3", "extrahepatic_phrenic_supply",
            "poorly_arterialised_tumour", "caudate_lesion", "small_particles_40_120",
            "large_particles_300_500"} <= names


def test_particle_size_scenarios_differ_from_the_default_only_in_agent_and_text():
    """Only the agent, the text and (for 40-120 um: 16x the particles per mL) the volume cap differ."""
    default = load_scenario(scenarios_dir() / "bulky_segment5_net.toml")
    for name, size_bin in (("small_particles_40_120", "40-120"), ("large_particles_300_500", "300-500")):
        other = load_scenario(scenarios_dir() / f"{name}.toml")
        assert other.agent.size_bin == size_bin
        assert other.with_updates({"agent.size_bin": "100-300", "title": default.title,
                                   "description": default.description,
                                   "procedure.max_volume_ml": default.procedure.max_volume_ml}) == default


def test_shipped_scenarios_set_what_their_name_says():
    load = {p.stem: load_scenario(p) for p in SHIPPED}
    assert load["main_pvt"].portal.thrombosis == "main"
    assert load["segmental_pvt"].portal.thrombosis not in ("none", "main")
    assert load["replaced_rha_michels3"].anatomy.michels_type == "III"
    assert load["replaced_rha_michels3"].catheter.vessel == "replaced_RHA"
    assert load["extrahepatic_phrenic_supply"].tumours[0].extrahepatic.artery == "inferior_phrenic"
    assert load["extrahepatic_phrenic_supply"].tumours[0].segment == "VII"
    assert load["poorly_arterialised_tumour"].tumours[0].arterial_fraction == 0.5
    assert (load["caudate_lesion"].tumours[0].segment, load["caudate_lesion"].catheter.vessel) == ("I", "A1")
    assert load["bilobar_midgut_net"].catheter.vessel in ("RHA", "LHA")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_tumours_fit_their_segment(path):
    scenario = load_scenario(path)
    liver_ml = scenario.liver.mass_kg * 1000.0
    for tumour in scenario.tumours:
        tumour_ml = math.pi / 6.0 * (tumour.diameter_mm / 10.0) ** 3
        assert tumour_ml < scenario.liver.segment_fractions[tumour.segment] * liver_ml


def test_bad_input_names_file_and_key(bad_scenario):
    path, key_path, words = bad_scenario
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert err.source == str(path)
    assert err.path == key_path
    assert words in str(err)
    assert str(err).startswith(f"{path}: {key_path}" if key_path else f"{path}: ")
    assert "\n" not in str(err)


def test_unreadable_file(unreadable_scenario):
    with pytest.raises(ScenarioError, match="cannot read the scenario file") as info:
        load_scenario(unreadable_scenario)
    assert info.value.source == str(unreadable_scenario)


def test_unknown_vessel_message_lists_the_arteries():
    with pytest.raises(ScenarioError) as info:
        Scenario().with_updates({"catheter.vessel": "A9"})
    assert all(name in str(info.value) for name in NAMED_ARTERIES)


@pytest.mark.parametrize("vessel", ["RHA", "A1", "replaced_RHA", "#12"])
def test_known_vessels_and_synthetic_ids_are_accepted(vessel):
    assert Scenario().with_updates({"catheter.vessel": vessel}).catheter.vessel == vessel


@pytest.mark.parametrize(("updates", "key_path"), [
    ({"catheter.speed": 1.0}, "catheter.speed"),
    ({"tumours.3.diameter_mm": 30.0}, "tumours.3.diameter_mm"),
    ({"tumours.0.diameter_mm": -1.0}, "tumours.0.diameter_mm"),
    ({"procedure.seed": "abc"}, "procedure.seed"),
])
def test_with_updates_bad_path_or_value(updates, key_path):
    with pytest.raises(ScenarioError) as info:
        Scenario().with_updates(updates)
    assert info.value.path == key_path


def test_with_updates_returns_a_new_validated_scenario():
    base = Scenario()
    changed = base.with_updates({"tumours.0.arterial_fraction": 0.6, "procedure.seed": 3})
    assert (changed.tumours[0].arterial_fraction, changed.procedure.seed) == (0.6, 3)
    assert base.tumours[0].arterial_fraction == 0.9


def test_committed_reference_matches_the_models():
    committed = scenario_doc.reference_path().read_text(encoding="utf-8")
    assert committed == scenario_doc.render_reference(), "run `python -m sim.scenario_doc` and commit the result"


def test_reference_lists_every_section_and_field_with_unit_and_source():
    text = scenario_doc.render_reference()
    sections = list(scenario_doc._sections(Scenario, ""))
    assert {path for path, _, _ in sections} >= {"liver", "anatomy", "tumours", "tumours.extrahepatic", "portal",
                                                 "flow", "flow.habr", "patient", "agent", "catheter", "procedure"}
    paths = {path for path, _, _ in sections}
    for path, model, _ in sections:
        assert f"## [{path}]" in text or f"## [[{path}]]" in text
        for name, field in model.model_fields.items():
            if f"{path}.{name}" in paths:
                continue  # a sub-section, checked as its own section
            assert f"| `{name}` |" in text
            assert field.json_schema_extra["unit"] and field.json_schema_extra["source"] in text
    assert "| `mass_kg` | number | `1.5` | kg | > 0.3, <= 5 |" in text


def test_reference_check_detects_a_stale_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "scenario-reference.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(scenario_doc, "reference_path", lambda: stale)
    assert scenario_doc.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert scenario_doc.main([]) == 0
    assert scenario_doc.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == scenario_doc.render_reference()


def test_json_schema_export(tmp_path, monkeypatch):
    monkeypatch.setattr(scenario_doc, "reference_path", lambda: tmp_path / "ref.md")
    schema_path = tmp_path / "scenario.schema.json"
    assert scenario_doc.main(["--schema", str(schema_path)]) == 0
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    assert {"liver", "tumours", "catheter", "procedure"} <= set(schema["properties"])
    assert schema["$defs"]["CatheterConfig"]["additionalProperties"] is False


@pytest.mark.parametrize("path", sorted(scenarios_dir().glob("*.toml")), ids=lambda p: p.stem)
def test_a_run_s_scenario_json_loads_back_to_the_same_scenario(path, tmp_path):
    """What a run folder's scenario.json holds (the scenario with its seed) is a scenario file too."""
    scenario = load_scenario(path).with_updates({"procedure.seed": 7})
    saved = tmp_path / "scenario.json"
    saved.write_text(json.dumps(scenario.model_dump(mode="json"), indent=2), encoding="utf-8")
    assert load_scenario(saved) == scenario


def test_shipped_scenarios_load_by_name_and_bad_json_is_one_error(tmp_path):
    assert load_scenario("main_pvt") == load_scenario(scenarios_dir() / "main_pvt.toml")
    bad = tmp_path / "scenario.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ScenarioError, match="holds one object"):
        load_scenario(bad)
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ScenarioError, match="invalid JSON"):
        load_scenario(bad)


# --- review 18: loose values, keys that do not apply, late failures ----------------------------


@pytest.mark.parametrize(("updates", "key"), [
    ({"tumours.0.centre_mm": [True, 0.0, 0.0]}, "tumours.0.centre_mm"),  # was (1, 0, 0) mm
    ({"tumours.0.centre_mm": ["0", "10", "1e1"]}, "tumours.0.centre_mm"),
    ({"liver.segment_fractions.I": "0.035"}, "liver.segment_fractions"),
    ({"patient.ascites": "yes"}, "patient.ascites"),  # was true
    ({"patient.ascites": 1}, "patient.ascites"),
])
def test_arrays_tables_and_flags_take_no_loose_values(updates, key):
    with pytest.raises(ScenarioError) as info:
        Scenario().with_updates(updates)
    assert info.value.path == key and ("valid number" in info.value.message or "true or false" in info.value.message)


def test_numbers_in_arrays_and_integers_for_floats_still_load():
    scenario = Scenario().with_updates({"tumours.0.centre_mm": [0, 10, -40], "patient.ascites": True})
    assert scenario.tumours[0].centre_mm == (0.0, 10.0, -40.0) and scenario.patient.ascites is True


@pytest.mark.parametrize(("text", "key"), [
    ('[agent]\nkind = "pva"\nbead_doxorubicin_mg_per_ml = 25.0\n', "agent.bead_doxorubicin_mg_per_ml"),  # ran bland
    ('[agent]\nkind = "microspheres"\ndiameters_um = [700.0, 800.0]\n', "agent.diameters_um"),  # drew 100-300 um
    ('[agent]\nkind = "y90_glass"\nactivity_gbq = 1.0\nsize_bin = "40-120"\n', "agent.size_bin"),
    ('[agent]\nkind = "microspheres"\nlipiodol_volume_ml = 8.0\n', "agent.lipiodol_volume_ml"),
    ('[agent]\nkind = "pva"\ntreatment_delay_h = 24.0\n', "agent.treatment_delay_h"),
])
def test_a_key_the_agent_does_not_use_is_refused(tmp_path, text, key):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.path == key and str(path) in str(info.value)


def test_the_explorer_toml_drops_keys_a_kind_change_left_unused():
    from sim.explore.scenario_toml import scenario_to_toml

    scenario = Scenario().with_updates({"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 8.0})
    text = scenario_to_toml(scenario.with_updates({"agent.kind": "microspheres"}))
    assert "lipiodol_volume_ml" not in text
    assert sim.scenario.parse_scenario(tomllib.loads(text)).agent.kind == "microspheres"


@pytest.mark.parametrize(("updates", "key", "fragment"), [
    ({"outcomes.normal_ischaemia_tolerance_h": 1e80}, "outcomes.normal_ischaemia_tolerance_h", "240"),  # OverflowError
    ({"outcomes.ischaemia_duration_h": 1e-300}, "outcomes.ischaemia_duration_h", "0.01"),
    ({"liver.segment_fractions": {"I": 1e-9, "II": 0.1, "III": 0.1, "IV": 0.1, "V": 0.1, "VI": 0.1, "VII": 0.2,
                                  "VIII": 0.3 - 1e-9}}, "liver.segment_fractions", "at least 0.001"),
    ({"flow.portal_inlet": "pressure", "flow.portal_pressure_mmHg": 50.0, "flow.arterial_pressure_mmHg": 30.0,
      "flow.portal_occlusion_pressure_mmHg": 60.0}, "flow", "below arterial_pressure_mmHg"),
])
def test_values_that_failed_after_the_build_are_refused_at_load(updates, key, fragment):
    with pytest.raises(ScenarioError) as info:
        Scenario().with_updates(updates)
    assert (info.value.path or "").startswith(key) and fragment in info.value.message


@pytest.mark.parametrize(("updates", "key"), [
    ({"flow.portal_occlusion_pressure_mmHg": 5.0}, "flow.portal_occlusion_pressure_mmHg"),
    ({"flow.hepatic_vein_pressure_mmHg": 9.5}, "flow.hepatic_vein_pressure_mmHg"),
    ({"procedure.slowed_flow_reduction": 0.9}, "procedure.sluggish_flow_reduction"),
    ({"procedure.stasis_flow_reduction": 0.5}, "procedure.stasis_flow_reduction"),
    ({"procedure.absent_blush_fraction": 0.9}, "procedure.minimal_blush_fraction"),
    ({"procedure.near_stasis_clearance_cycles": 99.0}, "procedure.near_stasis_clearance_cycles"),
    ({"interval.regenerated_max": 0.9, "interval.regenerated_slow_max": 0.5}, "interval.regenerated_slow_max"),
    ({"procedure.agent_sequence": [{"size_bin": "100-300", "switch_at_flow_fraction": 0.5},
                                   {"size_bin": "300-500", "switch_at_flow_fraction": 0.6}]},
     "procedure.agent_sequence.1.switch_at_flow_fraction"),
])
def test_a_rule_across_keys_names_a_full_key_path(updates, key):
    """Review 18: these messages named the section only ("procedure: ...") or no key at all."""
    with pytest.raises(ScenarioError) as info:
        Scenario().with_updates(updates)
    assert info.value.path == key, str(info.value)


def test_a_tumour_inside_another_is_refused_at_load():
    base = Scenario()
    first = {**base.tumours[0].model_dump(), "segment": None, "centre_mm": (-20.0, 0.0, -40.0)}
    second = {**first, "name": "b", "diameter_mm": 20.0, "centre_mm": (-25.0, 0.0, -40.0)}  # 5 mm off, 10 mm radius
    inside = base.model_dump()
    inside["tumours"] = [first, {**second, "centre_mm": (-20.0, 0.0, 0.0)}]
    assert len(sim.scenario.parse_scenario(inside).tumours) == 2  # apart: fine
    inside["tumours"] = [first, second]
    with pytest.raises(ScenarioError, match="lies inside tumour") as info:
        sim.scenario.parse_scenario(inside)
    assert info.value.path == "tumours.1.centre_mm"


def test_api_takes_a_scenario_and_says_how_to_load_a_name():
    for call, who in ((lambda v: sim.compare(v), "sim.compare"), (lambda v: sim.build_liver(v), "sim.build_liver")):
        with pytest.raises(TypeError, match=rf"{who} takes a Scenario; load one first: sim.load_scenario\('main_pvt'\)"):
            call("main_pvt")
        with pytest.raises(TypeError, match=rf"{who} takes a Scenario \(sim.load_scenario\), not NoneType"):
            call(None)
    with pytest.raises(TypeError, match="liver: a Liver"):
        sim.run(Scenario(), liver="x")
    with pytest.raises(TypeError, match="updates: a dict"):
        Scenario().with_updates([("catheter.vessel", "A8")])


def test_toml_errors_quote_their_line_and_a_byte_order_mark_loads(tmp_path):
    """Review 18: a duplicated key said "Cannot overwrite a value (at line 3, column 21)" without the key; a file
    an editor saved with a byte-order mark was "Invalid statement"."""
    dup = tmp_path / "dup.toml"
    dup.write_text('[agent]\nsize_bin = "40-120"\nsize_bin = "100-300"\n')
    with pytest.raises(ScenarioError, match='`size_bin = "100-300"`'):
        load_scenario(dup)
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b'\xef\xbb\xbf[agent]\nsize_bin = "40-120"\n')
    assert load_scenario(bom).agent.size_bin == "40-120"
    with pytest.raises(ScenarioError, match="no such file, and no shipped scenario of that name; 'embosim scenarios'"):
        load_scenario("nothing_like_this_at_all")


def test_review_23_api_contracts():
    """with_updates: tumours.<field> sets every tumour (as sweeps and compare do) and a non-str key is one TypeError;
    a SeedSequence of an integer records that integer, so scenario.json repeats the run."""
    import numpy as np

    from sim.simulation import _generator

    assert Scenario().with_updates({"tumours.arterial_fraction": 0.8}).tumours[0].arterial_fraction == 0.8
    with pytest.raises(TypeError, match="each key is a dotted scenario path"):
        Scenario().with_updates({1: 2})
    generator, recorded = _generator(Scenario(), np.random.SeedSequence(7))
    assert recorded.procedure.seed == 7 and generator.random() == np.random.default_rng(7).random()
    _, kept = _generator(Scenario(), np.random.SeedSequence(7).spawn(1)[0])
    assert kept.procedure.seed == Scenario().procedure.seed


@pytest.mark.parametrize(("updates", "key"), [
    ({"agent.size_bin": "900-1200"}, "agent.size_bin"),  # 720 um compressed, 635 um lumen: had been delivered
    ({"agent.kind": "custom", "agent.diameters_um": [1000.0]}, "agent.diameters_um"),
    ({"procedure.agent_sequence": [{"size_bin": "900-1200"}]}, "procedure.agent_sequence.0.size_bin"),
])
def test_particles_that_cannot_pass_the_catheter_are_refused(updates, key):
    with pytest.raises(ScenarioError, match="do not pass the 2.7 Fr microcatheter's 635 um lumen") as info:
        Scenario().with_updates(updates)
    assert info.value.path == key
    larger = Scenario().with_updates({"catheter.kind": "base", "catheter.outer_diameter_fr": 5.0})
    assert larger.with_updates(updates)  # a 5 Fr base catheter's 1,067 um lumen passes them compressed


def test_particles_that_pass_the_catheter_compressed_are_accepted():
    assert Scenario().with_updates({"agent.size_bin": "700-900"}).agent.size_bin == "700-900"  # 560 um compressed


def test_a_path_argument_of_the_wrong_type_is_one_typeerror_naming_it(tmp_path):
    """Review 23: pathlib's 'expected str, bytes or os.PathLike object, not int' named no argument."""
    with pytest.raises(TypeError, match="a scenario is a file path or a shipped scenario's name"):
        load_scenario(3)
    with pytest.raises(TypeError, match="spec: a sweep file's path"):
        sim.sweep(3)
    assert load_scenario(None).title == load_scenario(sim.default_scenario_path()).title
