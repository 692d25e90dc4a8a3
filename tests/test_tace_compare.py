"""``embosim compare --therapies``: TAE, cTACE and DEB-TACE from one catheter position (sim/therapies.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.scenario import AgentConfig, Scenario, ScenarioError
from sim.therapies import THERAPIES, therapy_scenario


def test_therapies_change_the_agent_only():
    base = Scenario().with_updates({"catheter.vessel": "A8"})
    for name in THERAPIES:
        s = therapy_scenario(base, name)
        assert s.catheter == base.catheter and s.tumours == base.tumours and s.liver == base.liver
    assert therapy_scenario(base, "ctace").agent.kind == "lipiodol"
    assert therapy_scenario(base, "deb_tace").agent.bead_doxorubicin_mg_per_ml > 0
    with pytest.raises(ScenarioError, match="unknown therapy"):
        therapy_scenario(base, "sirt")


def test_a_therapy_replaces_the_scenarios_agent_whatever_it_was():
    """Review 11: from a cTACE scenario the bland and bead rows inherited its temporary particles (tumour necrosis
    0.13 against 0.79 with a 2 h occlusion), and a Y-90 scenario was refused for an activity the user never set."""
    import sim

    ctace = sim.load_scenario("ctace_bulky_segment5_net").with_updates({"agent.lipiodol_volume_ml": 3.0})
    assert not ctace.agent.permanent
    for source in (ctace, sim.load_scenario("sirt_glass_segment5")):
        for name in ("tae", "deb_tace"):
            agent = therapy_scenario(source, name).agent
            assert agent.permanent and agent.kind == "microspheres" and agent.size_bin == "100-300", (source, name)
            assert agent == therapy_scenario(Scenario(), name).agent  # nothing of the source's agent
        # the oil's volume is the territory's (run_therapies sets it), nothing of the source's 3 mL
        assert therapy_scenario(source, "ctace").agent.lipiodol_volume_ml == AgentConfig().lipiodol_volume_ml


def test_the_ctace_therapy_gives_the_oil_its_territory_holds():
    """Review 37: a fixed 5 mL of Lipiodol from a segmental catheter sent 44% of the oil, and 22 of the 50 mg, on to the
    lungs; the therapy now gives what the catheter's territory holds (to stagnation): more for a lobe than a segment.
    "Holds" is what the run's own fill keeps (review 39: it had been counted on the territory without the injection,
    with compartments the oil cannot reach): nothing goes on at that volume, and all of a half more does."""
    import sim
    from sim.anatomy import build_liver
    from sim.therapies import CAPACITY, lipiodol_note, run_therapies

    base = Scenario().with_updates({"liver.terminal_diameter_um": 300.0})
    liver = build_liver(base, progress=False)
    volumes = {}
    for vessel in ("A5", "RHA"):
        s = base.with_updates({"catheter.vessel": vessel})
        rows = run_therapies(s, ["tae", "ctace"], replicates=1, liver=liver)
        row = rows.iloc[1]
        volumes[vessel] = row["lipiodol_volume_ml"]
        assert row[CAPACITY] == pytest.approx(volumes[vessel], abs=0.005) and np.isnan(rows.iloc[0][CAPACITY])
        assert row["lipiodol_systemic_ml"] < 0.005 * volumes[vessel]
        more = sim.run(s.with_updates({"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 1.5 * volumes[vessel]}),
                       liver=liver, progress=False).summary
        assert more["lipiodol_systemic_ml"] == pytest.approx(0.5 * volumes[vessel], rel=0.01)
        assert "to stagnation" in lipiodol_note(rows)
    assert volumes["RHA"] > 2 * volumes["A5"]
    fixed = sim.run(base.with_updates({"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 5.0}), liver=liver,
                    progress=False).summary
    assert fixed["lipiodol_systemic_ml"] > 0.2 * 5.0  # what the fixed 5 mL did from A5


def test_a_ctace_capped_at_the_scenarios_most_says_it_is_short_of_stagnation():
    """Review 39: a territory holding more than the 30 mL a scenario allows got 30 mL silently."""
    from sim.therapies import CAPACITY, lipiodol_note

    table = pd.DataFrame({"strategy": ["tae", "ctace"], "lipiodol_volume_ml": [np.nan, 30.0], CAPACITY: [np.nan, 45.2]})
    assert "short of stagnation" in lipiodol_note(table) and "45.2 mL" in lipiodol_note(table)
    assert lipiodol_note(table.iloc[:1]) == ""


def test_cli_compare_therapies_runs_each_from_the_same_catheter(write_scenario, tmp_path, invoke):
    path = write_scenario("[liver]\nterminal_diameter_um = 300.0\n")
    out = tmp_path / "cmp"
    result = invoke("compare", path, "--therapies", "tae,ctace,deb_tace", "--replicates", 2, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "comparison.csv")
    assert list(table["strategy"]) == ["tae", "ctace", "deb_tace"]
    assert set(table["catheter"]) == {"A5"}
    raw = pd.read_csv(out / "replicates.csv")
    assert len(raw) == 6
    assert raw.groupby("replicate")["seed"].nunique().eq(1).all()  # common random numbers across therapies
    by = table.set_index("strategy")
    assert pd.isna(by.loc["tae", "drug_delivered_mg"]) and by.loc["deb_tace", "drug_delivered_mg"] > 0
    assert by.loc["ctace", "plasma_doxorubicin_peak_ng_ml"] > 10 * by.loc["deb_tace", "plasma_doxorubicin_peak_ng_ml"]
    # the report and the figure speak of therapies, as clinicians name them (review 11: "tae", "Strategies compared",
    # "Catheter positions derived from tumour")
    report = (out / "comparison.md").read_text()
    assert report.startswith("# Therapy comparison") and "from the scenario's catheter position, A5" in report
    assert "what the catheter's territory holds (to stagnation)" in report  # the cTACE's oil, said
    assert "what the catheter's territory holds (to stagnation)" in result.output
    from sim import figures
    from sim.figures.style import THERAPY_LABELS

    assert set(THERAPY_LABELS) == set(THERAPIES)
    fig = figures.comparison(table, ["tumour_necrosis_fraction"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["TAE", "cTACE", "DEB-TACE"]
    assert fig.axes[0].get_xlabel() == "therapy" and fig._suptitle.get_text().startswith("Therapies compared")


def test_cli_compare_bad_therapy_is_one_line(tmp_path, invoke):
    result = invoke("compare", "--therapies", "tae,radioembolisation", "--out", tmp_path / "x")
    assert result.exit_code == 2
    assert "unknown therapy 'radioembolisation'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("flags", [("--strategies", "selective,lobar"), ("--tumour", "segment5_net"),
                                   ("--interval-weeks", "4")])
def test_cli_compare_therapies_refuses_the_strategy_options(tmp_path, invoke, flags):
    """Review 10: --strategies with --therapies was ignored without a word (only the therapies ran)."""
    result = invoke("compare", "--therapies", "tae", *flags, "--out", tmp_path / "x")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.output
    assert f"leave out {flags[0]}" in result.stderr
    assert not (tmp_path / "x").exists()


def test_the_ctace_therapy_is_refused_where_no_liver_tissue_is_downstream():
    """Review 39: from the GDA the cTACE row silently got 0.01 mL of oil and 0 mg of drug."""
    from sim.anatomy import build_liver
    from sim.therapies import run_therapies

    base = Scenario().with_updates({"liver.terminal_diameter_um": 300.0, "catheter.vessel": "GDA"})
    with pytest.raises(ScenarioError, match="holds no liver tissue") as err:
        run_therapies(base, ["ctace"], replicates=1, liver=build_liver(base, progress=False))
    assert err.value.path == "catheter.vessel"


def test_the_injections_of_one_procedure_sum_their_oil_and_drug():
    """Reviews 40-42: two 15 mL cTACE injections of one procedure (a whole-liver strategy's origins) were combined as
    their mean, 15 mL, and not flagged, and their plasma peaks averaged. The oil and drug given add up, the flag reads
    a day's total, and the plasma curves add with the injections' times (sessions weeks apart barely overlap)."""
    from types import SimpleNamespace

    from sim.pharmacokinetics import plasma_peak, summary_releases
    from sim.strategies import _combine
    from sim.units import NG_ML_KG_M3

    def injection(oil_ml, tumour_mg, ratio, weeks=0.0):
        summary = {"particles_injected": 0, "lipiodol_volume_ml": oil_ml, "lipiodol_systemic_ml": 1.0,
                   "drug_delivered_mg": 25.0, "drug_at_once_mg": 1.0, "drug_release_half_life_h": 0.5,
                   "drug_tumour_mg": tumour_mg, "drug_tumour_fraction": tumour_mg / 25.0, "lipiodol_pulmonary_risk": False,
                   "lipiodol_tumour_to_normal_ratio": ratio, "antegrade_flow_fraction": 0.5}
        return SimpleNamespace(summary=summary, scenario=Scenario().with_updates({"interval.weeks": weeks}))

    one = injection(15.0, 5.0, 2.0)
    single_peak = plasma_peak(summary_releases(one.summary))[0] / NG_ML_KG_M3
    combined = _combine([one, injection(15.0, 5.0, 2.0)])
    assert combined["lipiodol_volume_ml"] == 30.0 and combined["lipiodol_systemic_ml"] == 2.0
    assert combined["drug_delivered_mg"] == 50.0 and combined["lipiodol_pulmonary_risk"] == 1.0
    assert combined["antegrade_flow_fraction"] == 0.5  # a state, not an amount: averaged
    assert combined["plasma_doxorubicin_peak_ng_ml"] == pytest.approx(2.0 * single_peak, rel=1e-9)  # at once: they add
    staged = _combine([one, injection(15.0, 5.0, 2.0, weeks=6.0)])  # a staged course's total
    assert staged["lipiodol_volume_ml"] == 30.0 and staged["lipiodol_pulmonary_risk"] == 0.0  # 15 mL a day
    assert staged["plasma_doxorubicin_peak_ng_ml"] == pytest.approx(single_peak, rel=1e-3)
    bigger_first, bigger_later = injection(15.0, 5.0, 2.0), injection(15.0, 5.0, 2.0, weeks=6.0)
    bigger_first.summary["drug_delivered_mg"] = bigger_later.summary["drug_delivered_mg"] = 50.0
    big_time = plasma_peak(summary_releases(bigger_first.summary))[1] / 3600.0
    first = _combine([bigger_first, injection(15.0, 5.0, 2.0, weeks=6.0)])
    assert first["plasma_doxorubicin_peak_time_h"] == pytest.approx(big_time, abs=0.01)
    later = _combine([one, bigger_later])  # the later session's peak, its time counted from the course's start
    assert later["plasma_doxorubicin_peak_time_h"] == pytest.approx(6 * 168.0 + big_time, abs=0.01)
    hours_apart = _combine([one, injection(15.0, 5.0, 2.0, weeks=8.0 / 168.0)])  # 8 h later: the same day
    assert hours_apart["lipiodol_pulmonary_risk"] == 1.0  # (review 43: only the same instant had counted)
    unequal = _combine([injection(5.0, 1.0, 1.0), injection(15.0, 15.0, 5.0)])
    assert unequal["drug_tumour_fraction"] == pytest.approx(16.0 / 50.0)  # the amounts' ratio, not the mean ratio
    assert unequal["lipiodol_tumour_to_normal_ratio"] == pytest.approx((5 * 1.0 + 15 * 5.0) / 20)  # oil-weighted
