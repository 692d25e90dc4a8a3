"""Patient selection: every rule is flagged by a minimal scenario and not by the default."""

from __future__ import annotations

import doctest
import math
import re
from pathlib import Path

import pytest

import sim.selection
from sim.catalogue import default_scenario_path, scenarios_dir
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.selection import (
    ALTERNATIVE_SEVERITIES,
    RULES,
    Finding,
    Verdict,
    assess_patient,
    disease_burden_percent,
    tumour_lobes,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "patient-selection.md"


def _with_tumours(*segments: str, **extra) -> Scenario:
    tumours = [{"name": f"t{i}", "segment": s, "diameter_mm": 30.0} for i, s in enumerate(segments)]
    return Scenario.model_validate({"tumours": tumours, **extra})


#: rule id -> a minimal scenario that triggers it (one change from the default).
TRIGGERS = {
    "bilirubin": lambda: Scenario().with_updates({"patient.bilirubin_umol_l": 21.0}),
    "albumin": lambda: Scenario().with_updates({"patient.albumin_g_l": 29.0}),
    "ascites": lambda: Scenario().with_updates({"patient.ascites": True}),
    "ecog": lambda: Scenario().with_updates({"patient.ecog": 3}),
    "pvt_main": lambda: Scenario().with_updates({"portal.thrombosis": "main"}),
    "pvt_lobar": lambda: Scenario().with_updates({"portal.thrombosis": "RPV"}),
    "pvt_segmental": lambda: Scenario().with_updates({"portal.thrombosis": "P5"}),
    "grade_g3": lambda: Scenario().with_updates({"patient.tumour_grade": "G3", "patient.ki67_percent": 30.0}),
    "arterial_dissection": lambda: Scenario().with_updates({"patient.arterial_dissection": True}),
    "extrahepatic_supply": lambda: Scenario().with_updates({"patient.extrahepatic_supply_excluded": False}),
    "disease_burden": lambda: Scenario().with_updates({"patient.disease_burden_percent": 51.0}),
    "biliary_enteric_anastomosis": lambda: Scenario().with_updates({"patient.biliary_enteric_anastomosis": True}),
    "segmental_treatment": lambda: Scenario().with_updates({"patient.disease_burden_percent": 51.0}),
    "staged_bilobar": lambda: _with_tumours("VI", "III"),
    "lipiodol": lambda: Scenario().with_updates({"patient.biliary_enteric_anastomosis": True}),
    "octreotide": lambda: Scenario().with_updates({"patient.functional_tumour": True}),
    "extrahepatic_feeder": lambda: Scenario.model_validate({"tumours": [{"segment": "VII",
                                                                        "extrahepatic": {"arterial_fraction": 0.3}}]}),
}


def _rules(scenario: Scenario) -> set[str]:
    return {f.rule for f in assess_patient(scenario).findings}


def test_every_rule_has_a_trigger_case():
    assert set(TRIGGERS) == {rule.id for rule in RULES}


@pytest.mark.parametrize("rule", [r.id for r in RULES])
def test_rule_is_flagged_by_its_minimal_scenario(rule):
    verdict = assess_patient(TRIGGERS[rule]())
    found = [f for f in verdict.findings if f.rule == rule]
    assert len(found) == 1
    spec = next(r for r in RULES if r.id == rule)
    assert found[0].severity == spec.severity and found[0].source == spec.source and found[0].message
    assert verdict.eligible == (spec.severity != "absolute")
    assert rule not in _rules(Scenario())


@pytest.mark.parametrize("scenario", [Scenario(), load_scenario(default_scenario_path())], ids=["model", "file"])
def test_default_patient_is_eligible_without_findings(scenario):
    verdict = assess_patient(scenario)
    assert verdict.eligible and verdict.findings == ()
    assert verdict.headline == "Eligible (no contraindication found)"


@pytest.mark.parametrize(("updates", "flagged"), [
    ({"patient.bilirubin_umol_l": 20.0}, False),
    ({"patient.bilirubin_umol_l": 20.1}, True),
])
def test_bilirubin_threshold_is_strictly_above_20(updates, flagged):
    assert ("bilirubin" in _rules(Scenario().with_updates(updates))) is flagged


def test_thresholds_at_the_boundary_are_not_flagged():
    at_limits = Scenario().with_updates({"patient.albumin_g_l": 30.0, "patient.ecog": 2,
                                         "patient.ki67_percent": 20.0, "patient.disease_burden_percent": 50.0})
    assert _rules(at_limits) == set()


@pytest.mark.parametrize(("site", "rule"), [("main", "pvt_main"), ("RPV", "pvt_lobar"), ("LPV", "pvt_lobar"),
                                            ("P5", "pvt_segmental")])
def test_every_portal_thrombosis_is_absolute_by_default_and_advises_lipiodol(site, rule):
    """The seed lists PVT, main or segmental, as absolute: both rules are, each with its own message."""
    verdict = assess_patient(Scenario().with_updates({"portal.thrombosis": site}))
    assert not verdict.eligible
    assert {f.rule for f in verdict.findings} == {rule, "lipiodol"}
    if site == "main":  # the oil it names comes with its caution (review 53: main PVT contraindicates cTACE)
        (main,) = [f for f in verdict.findings if f.rule == "pvt_main"]
        assert "with caution" in main.message and "[Prajapati2017]" in main.message


def test_main_and_branch_thrombosis_say_what_depends_on_the_artery():
    main = assess_patient(Scenario().with_updates({"portal.thrombosis": "main"})).findings[0].message
    assert "whole liver depends on the hepatic artery" in main
    lobar = assess_patient(Scenario().with_updates({"portal.thrombosis": "RPV"})).findings[0].message
    assert "segments V, VI, VII, VIII" in lobar and "rest of the liver keeps its portal flow" in lobar
    assert "'tumour' lies in it" in lobar  # the default tumour is in segment V
    elsewhere = assess_patient(Scenario().with_updates({"portal.thrombosis": "P2"})).findings[0].message
    assert "segment II" in elsewhere and "no tumour lies in it" in elsewhere


def test_segmental_thrombosis_can_be_weighed_as_the_documented_alternative():
    scenario = Scenario().with_updates({"portal.thrombosis": "P5"})
    verdict = assess_patient(scenario, severities={"pvt_segmental": ALTERNATIVE_SEVERITIES["pvt_segmental"][0]})
    finding = verdict.findings[0]
    assert verdict.eligible and finding.rule == "pvt_segmental" and finding.severity == "relative"
    assert "[Prajapati2017]" in finding.source
    main = assess_patient(Scenario().with_updates({"portal.thrombosis": "main"}), severities={"pvt_segmental": "relative"})
    assert not main.eligible  # main PVT stays absolute
    with pytest.raises(ValueError, match="rule ids must be among"):
        assess_patient(scenario, severities={"pvt": "relative"})


def test_the_segmental_alternative_leaves_a_lobar_thrombosis_absolute():
    """Review 44: the alternative, from [Prajapati2017]'s 20 months with segmental thrombosis, had made a right portal
    vein thrombosis (the tumour inside it) a relative contraindication too, though the source puts lobar thrombosis
    with main (6.4 months); the old rule id is refused with what replaced it."""
    alternative = {"pvt_segmental": ALTERNATIVE_SEVERITIES["pvt_segmental"][0]}
    for site in ("RPV", "LPV"):
        verdict = assess_patient(Scenario().with_updates({"portal.thrombosis": site}), severities=alternative)
        assert not verdict.eligible and [f.rule for f in verdict.of_severity("absolute")] == ["pvt_lobar"]
    assert set(ALTERNATIVE_SEVERITIES) == {"pvt_segmental"}
    with pytest.raises(ValueError, match="pvt_lobar .*pvt_segmental"):
        assess_patient(Scenario(), severities={"pvt_branch": "relative"})


# --- advice that does not contradict itself -------------------------------------------------


def test_burden_above_50_with_bilobar_disease_gives_one_plan():
    """The seed's 'segmental above 50%' and 'lobar treatments 4-6 weeks apart' reconciled: lobes in turn, segmental."""
    verdict = assess_patient(_with_tumours("VI", "III", patient={"disease_burden_percent": 60.0}))
    assert {"segmental_treatment", "staged_bilobar"} <= {f.rule for f in verdict.findings}
    assert verdict.plan == {"catheter": "segmental", "sessions": "one lobe per session, 4-6 weeks apart"}
    advice = " ".join(f.message for f in verdict.of_severity("advice"))
    assert "lobar treatments" not in advice and "segmental" in advice and "one lobe per session" in advice


def test_bilobar_disease_below_50_percent_is_lobar_in_stages():
    verdict = assess_patient(_with_tumours("VI", "III"))
    assert verdict.plan == {"catheter": "lobar", "sessions": "one lobe per session, 4-6 weeks apart"}


@pytest.mark.parametrize("burden", [None, 60.0])
@pytest.mark.parametrize("segments", [("V",), ("VI", "III"), ("I", "II")])
@pytest.mark.parametrize("site", ["none", "main", "P5", "LPV"])
@pytest.mark.parametrize("flags", [{}, {"biliary_enteric_anastomosis": True, "functional_tumour": True,
                                        "extrahepatic_supply_excluded": False}])
def test_no_patient_gets_contradicting_advice(burden, segments, site, flags):
    scenario = _with_tumours(*segments, patient={"disease_burden_percent": burden, **flags},
                             portal={"thrombosis": site})
    verdict = assess_patient(scenario)
    plan = verdict.plan  # raises on a contradiction
    assert set(plan) <= {"catheter", "sessions", "agent", "cover"}
    if not verdict.eligible and verdict.of_severity("advice"):
        only_pvt = all(f.rule in ("pvt_main", "pvt_lobar", "pvt_segmental") for f in verdict.of_severity("absolute"))
        # review 15: with only the portal thrombosis excluding particles, the advice is for what remains
        heading = ("for the intra-arterial treatment that remains" if only_pvt else
                   "should the MDT treat despite the absolute contraindication")
        assert heading in verdict.to_text()


def test_a_contradicting_plan_is_refused():
    verdict = Verdict(findings=(Finding("a", "advice", "m", "s", (("catheter", "segmental"),)),
                                Finding("b", "advice", "m", "s", (("catheter", "lobar"),))),
                      disease_burden_percent=0.0, burden_computed=True)
    with pytest.raises(ValueError, match="contradicts itself on catheter"):
        _ = verdict.plan


# --- protocol items and what embosim can show --------------------------------------------


def test_functional_tumour_gets_octreotide_cover():
    verdict = assess_patient(Scenario().with_updates({"patient.functional_tumour": True}))
    assert [f.rule for f in verdict.findings] == ["octreotide"] and verdict.eligible
    assert "octreotide infusion from pre-admission" in verdict.findings[0].message
    assert verdict.plan == {"cover": "octreotide infusion as per protocol"}


def test_extrahepatic_feeder_is_to_be_embolised_or_excluded():
    fed = assess_patient(TRIGGERS["extrahepatic_feeder"]())
    message = next(f.message for f in fed.findings if f.rule == "extrahepatic_feeder")
    assert "inferior phrenic" in message and "embolise" in message and "[tumours.extrahepatic]" in message
    unexcluded = assess_patient(Scenario().with_updates({"patient.extrahepatic_supply_excluded": False}))
    message = next(f.message for f in unexcluded.findings if f.rule == "extrahepatic_feeder")
    assert "exclude it before treatment" in message


def test_lipiodol_advice_names_the_scenario_pair_that_shows_why():
    pvt = assess_patient(Scenario().with_updates({"portal.thrombosis": "P5"}))
    message = next(f.message for f in pvt.findings if f.rule == "lipiodol")
    assert "run ctace_segmental_pvt against segmental_pvt" in message and "anastomosis" not in message
    bilio = assess_patient(Scenario().with_updates({"patient.biliary_enteric_anastomosis": True}))
    message = next(f.message for f in bilio.findings if f.rule == "lipiodol")
    assert "run ctace_biliary_enteric_anastomosis against biliary_enteric_anastomosis" in message
    assert "not the anastomosis itself or the infection risk" in message and "segmental_pvt" not in message


def test_oil_based_scenario_pairs_are_shipped_and_differ_only_in_the_agent():
    for oil, bland in sim.selection.OIL_BASED_PAIRS.values():
        oil_s, bland_s = (load_scenario(scenarios_dir() / f"{name}.toml") for name in (oil, bland))
        assert oil_s.agent.kind == "lipiodol" and bland_s.agent.kind != "lipiodol"
        assert (oil_s.portal, oil_s.patient, oil_s.tumours) == (bland_s.portal, bland_s.patient, bland_s.tumours)


def test_functional_tumour_must_be_a_boolean():
    with pytest.raises(ScenarioError, match="patient.functional_tumour"):
        Scenario().with_updates({"patient.functional_tumour": "perhaps"})


def test_ki67_above_20_percent_is_g3_even_if_recorded_g2():
    verdict = assess_patient(Scenario().with_updates({"patient.tumour_grade": "G2", "patient.ki67_percent": 25.0}))
    assert [f.rule for f in verdict.findings] == ["grade_g3"]
    assert "Ki-67 25%" in verdict.findings[0].message


def test_modelled_extrahepatic_feeder_is_flagged_even_when_marked_excluded():
    scenario = Scenario.model_validate({"tumours": [{"segment": "VII", "extrahepatic": {"arterial_fraction": 0.3}}]})
    assert scenario.patient.extrahepatic_supply_excluded
    finding = assess_patient(scenario).findings[0]
    assert finding.rule == "extrahepatic_supply" and "inferior phrenic" in finding.message and "30%" in finding.message


def test_burden_is_sum_of_sphere_volumes_over_liver_volume():
    scenario = Scenario.model_validate({"liver": {"mass_kg": 2.0},
                                        "tumours": [{"name": "a", "diameter_mm": 80.0},
                                                    {"name": "b", "diameter_mm": 60.0, "segment": "II"}]})
    expected = 100.0 * math.pi / 6.0 * (8.0**3 + 6.0**3) / 2000.0
    assert disease_burden_percent(scenario) == pytest.approx(expected)
    assert assess_patient(scenario).burden_computed


def test_burden_is_not_overlap_corrected():
    same_place = {"segment": "VIII", "diameter_mm": 100.0}
    scenario = Scenario.model_validate({"liver": {"mass_kg": 1.2},
                                        "tumours": [{"name": "a", **same_place}, {"name": "b", **same_place}]})
    assert disease_burden_percent(scenario) == pytest.approx(2 * 100.0 * math.pi / 6.0 * 1000.0 / 1200.0)


def test_given_burden_overrides_the_tumours():
    scenario = _with_tumours("V", patient={"disease_burden_percent": 60.0})
    verdict = assess_patient(scenario)
    assert verdict.disease_burden_percent == 60.0 and not verdict.burden_computed
    assert {"disease_burden", "segmental_treatment"} <= {f.rule for f in verdict.findings}


@pytest.mark.parametrize(("segments", "bilobar"), [
    (("V", "VIII"), False),
    (("II", "III", "IV"), False),
    (("I", "VI"), False),
    (("I", "III"), False),
    (("IV", "V"), True),
    (("II", "VII", "I"), True),
])
def test_bilobar_means_tumours_in_both_lobes_with_caudate_in_neither(segments, bilobar):
    assert ("staged_bilobar" in _rules(_with_tumours(*segments))) is bilobar


def test_tumour_lobes_ignores_tumours_placed_by_centre():
    scenario = Scenario.model_validate({"tumours": [{"name": "a", "segment": "II"},
                                                    {"name": "b", "centre_mm": (10.0, 0.0, 0.0)}]})
    assert tumour_lobes(scenario) == {"right": (), "left": ("II",)}


def test_findings_are_ordered_by_severity_and_headline_counts_them():
    scenario = Scenario().with_updates({"patient.ascites": True, "patient.biliary_enteric_anastomosis": True,
                                        "patient.ecog": 4})
    verdict = assess_patient(scenario)
    assert [f.severity for f in verdict.findings] == ["absolute", "absolute", "relative", "advice"]
    assert verdict.headline == "Not eligible for liver-directed therapy (2 absolute contraindications)"
    for pvt in ("main", "P5"):  # a thrombosis leaves Y-90 or Lipiodol (their advice): particles are what it excludes
        headline = assess_patient(Scenario().with_updates({"portal.thrombosis": pvt})).headline
        assert headline.startswith("Not eligible for particle embolisation") and "liver-directed" not in headline
    both = assess_patient(Scenario().with_updates({"portal.thrombosis": "main", "patient.ecog": 4})).headline
    assert both == "Not eligible for liver-directed therapy (2 absolute contraindications)"
    relative_only = assess_patient(Scenario().with_updates({"patient.arterial_dissection": True}))
    assert relative_only.eligible
    assert relative_only.headline == "Eligible, with 1 relative contraindication for the MDT to weigh"


def test_renderings_carry_every_finding_with_rule_and_source():
    verdict = assess_patient(Scenario().with_updates({"portal.thrombosis": "main", "patient.ascites": True}))
    markdown, text = verdict.to_markdown(), verdict.to_text()
    assert markdown.startswith("## Patient selection\n") and "### Absolute contraindications" in markdown
    assert text.startswith("Patient selection\n") and "Absolute contraindications:" in text and "#" not in text
    for finding in verdict.findings:
        assert finding.message in markdown and finding.message in text
        assert f"({finding.rule}; {finding.source})" in text
    assert verdict.to_dict()["eligible"] is False
    assert [f["rule"] for f in verdict.to_dict()["findings"]] == [f.rule for f in verdict.findings]


def test_verdict_is_frozen():
    verdict = assess_patient(Scenario())
    with pytest.raises(AttributeError):
        verdict.findings = ()


def _documented_findings() -> dict[str, set[str]]:
    """The 'Shipped scenarios that show each rule' table of docs/patient-selection.md."""
    table = DOCS.read_text(encoding="utf-8").split("## Shipped scenarios that show each rule")[1]
    rows = {}
    for line in table.splitlines():
        cells = line.split("|")
        if len(cells) == 4 and "`" in cells[1]:
            for name in re.findall(r"`(\w+)`", cells[1]):
                rows[name] = set(re.findall(r"`(\w+)`", cells[2]))
    return rows


def test_docs_list_every_rule_and_the_shipped_scenarios_findings():
    text = DOCS.read_text(encoding="utf-8")
    assert all(f"| `{rule.id}` | {rule.severity} |" in text for rule in RULES)
    documented = _documented_findings()
    for path in sorted(scenarios_dir().glob("*.toml")):
        assert _rules(load_scenario(path)) == documented.get(path.stem, set()), path.stem


def test_doctests():
    assert doctest.testmod(sim.selection).failed == 0


def test_a_branch_thrombosis_does_not_claim_a_tumour_placed_by_coordinates_is_spared():
    """Review 15: a tumour placed by centre_mm (its segment known only once the liver is built) was left out, and
    the finding said the thrombosed segment held no tumour and a selective injection spared it."""
    placed = Scenario.model_validate({"tumours": [{"name": "t0", "centre_mm": [-20.0, 0.0, -40.0], "diameter_mm": 45.0}],
                                      "portal": {"thrombosis": "P5"}})
    message = assess_patient(placed).of_severity("absolute")[0].message
    assert "cannot be told from the scenario" in message and "spares it" not in message
    by_segment = assess_patient(_with_tumours("VI", portal={"thrombosis": "P5"})).of_severity("absolute")[0].message
    assert "no tumour lies in it" in by_segment
