"""Numbers quoted in the docs are the code's: a quoted number that drifts from what the code produces fails here.

The docs' numbers are generated, never typed: docs/strategies.md's findings by
``scripts/strategy_findings.py`` (data in docs/data/strategy_findings.json) and
docs/validation.md by ``python -m sim.validation.runner --docs``. A full regeneration
takes minutes, so these tests check (1) that each generated block is exactly the
rendering of its data and (2) that a sample of the data, cheap enough for every CI run,
is what the code measures today.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest

from sim.validation import analytic, reference_solver, table_rows, viscosity

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    """The generator ``scripts/<name>.py`` as a module (the scripts are no package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def findings():
    return _script("strategy_findings")


def _data(script) -> dict:
    """The JSON data file a generator script renders its doc block from."""
    return json.loads(script.DATA.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def findings_data(findings):
    return _data(findings)


def test_strategy_findings_table_is_the_rendering_of_its_data(findings, findings_data):
    text = findings.DOC.read_text(encoding="utf-8")
    assert findings.documented_block(text) == findings.render(findings_data), (
        "docs/strategies.md's findings were edited by hand or not regenerated: run python scripts/strategy_findings.py")


def test_necrosis_block_is_the_rendering_of_its_data(findings, findings_data):
    text = findings.NECROSIS_DOC.read_text(encoding="utf-8")
    assert findings.documented_block(text, findings.NECROSIS_BEGIN, findings.NECROSIS_END) == \
        findings.render_necrosis(findings_data), (
            "docs/outputs.md's necrosis block was edited by hand or not regenerated: run python scripts/strategy_findings.py")


def test_strategy_findings_data_is_what_the_code_measures(findings, findings_data):
    for name, measure in findings.SAMPLED_GROUPS.items():
        fresh = measure()
        assert fresh, name
        for key, value in fresh.items():
            assert key in findings_data, f"{key} is measured but not in docs/data/strategy_findings.json"
            assert math.isclose(findings_data[key], value, rel_tol=1e-9, abs_tol=1e-12), (
                f"{key}: docs quote {findings_data[key]!r}, the code gives {value!r} "
                "(run python scripts/strategy_findings.py)")


def _validation_table() -> dict[tuple[str, str], list[str]]:
    """docs/validation.md's comparison table: (module, case) -> the other cells."""
    text = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == 7 and cells[0] not in ("module", "---"):
            rows[(cells[0], cells[1])] = cells[2:]
    return rows


def _same_number(quoted: str, fresh: str) -> bool:
    """Equal as printed, or both at round-off level (an exact check's error of order 1e-15 is machine noise)."""
    return quoted == fresh or max(abs(float(quoted)), abs(float(fresh))) < 1e-10


@pytest.mark.parametrize("case", [analytic, viscosity, reference_solver], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_validation_report_quotes_what_the_code_computes(case, tmp_path):
    documented = _validation_table()
    key = case.__name__.rsplit(".", 1)[-1]
    fresh = table_rows(case.run(tmp_path, fast=False))
    assert fresh
    for row in fresh:
        name, value = row[0], row[1]
        assert (key, name) in documented, f"docs/validation.md lacks the {key} row {name!r}: regenerate it"
        quoted = documented[(key, name)]
        assert _same_number(quoted[0], value), f"{key} {name!r}: docs say {quoted[0]}, the code gives {value}"
        assert quoted[1:] == row[2:-1], f"{key} {name!r}: reference, tolerance or verdict changed: regenerate"


def test_validation_summary_line_counts_the_table():
    text = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    rows = _validation_table().values()
    for role in ("check", "calibration", "validation"):
        of_role = [r for r in rows if r[-1] == role]
        passed = sum(r[-2] == "yes" for r in of_role)
        assert f"{role}: {passed}/{len(of_role)} pass" in text, role


#: Numbers quoted in prose, each a phrase whose number is formatted from the generated data (doc, phrase, value).
PROSE_QUOTES = [
    ("docs/strategies.md", "takes about {:.1f} mL of 100-300 um spheres",
     lambda strategy, validation: strategy["default/lobar:stasis/particle_volume_ml"]),
    ("docs/embolic-load.md", "it takes about\n{:.1f} mL of spheres",
     lambda strategy, validation: float(validation[("embolic_load", "lobar (RHA) 100-300 um spheres to near stasis, mL")][0])),
]


@pytest.mark.parametrize("doc, phrase, value", PROSE_QUOTES, ids=[q[1] for q in PROSE_QUOTES])
def test_numbers_quoted_in_prose_follow_the_generated_data(doc, phrase, value, findings_data):
    quoted = phrase.format(value(findings_data, _validation_table()))
    assert quoted in (ROOT / doc).read_text(encoding="utf-8"), f"{doc} should say {quoted!r} (the generated data)"


@pytest.fixture(scope="module")
def therapy():
    return _script("therapy_numbers")


@pytest.fixture(scope="module")
def therapy_data(therapy):
    return _data(therapy)


def test_therapy_blocks_are_the_rendering_of_their_data(therapy, therapy_data):
    for name, doc in therapy.BLOCKS.items():
        assert therapy.documented_block(doc.read_text(encoding="utf-8"), name) == therapy.render(name, therapy_data), (
            f"{doc.name}'s {name} block was edited by hand or not regenerated: run python scripts/therapy_numbers.py")


def test_therapy_data_is_what_the_code_measures(therapy, therapy_data):
    """The glass segmentectomy's MAA work-up, measured afresh (the rest takes minutes: the script)."""
    for key, value in therapy.measure_glass_workup().items():
        assert math.isclose(therapy_data[key], value, rel_tol=1e-9, abs_tol=1e-12), (
            f"{key}: docs quote {therapy_data[key]!r}, the code gives {value!r} (run python scripts/therapy_numbers.py)")


def test_sweep_example_block_is_the_rendering_of_its_data():
    module = _script("sweep_example")
    data = _data(module)
    assert module.documented_block(module.DOC.read_text(encoding="utf-8")) == module.render(data), (
        "docs/sweeps.md's example was edited by hand or not regenerated: run python scripts/sweep_example.py")


@pytest.fixture(scope="module")
def case_scores():
    return _script("case_scores")


def test_case_scores_block_is_the_rendering_of_its_data(case_scores):
    data = _data(case_scores)
    assert case_scores.documented_block(case_scores.DOC.read_text(encoding="utf-8")) == case_scores.render(data), (
        "docs/explorer.md's case scores were edited by hand or not regenerated: run python scripts/case_scores.py")
    assert set(data) == set(case_scores.PLAN) and all(list(data[n]) == case_scores.PLAN[n] for n in data)


def test_case_scores_are_the_scoring_of_their_stored_runs(case_scores):
    """Every stored score is ``score`` of the stored summaries: the scoring rules have not moved since the data."""
    from sim.explore.cases import load_cases, score

    cases = load_cases()
    for name, played in _data(case_scores).items():
        case = cases[name]
        patient = case.base_scenario().patient
        for spec, v in played.items():
            rows = score(case_scores.choice_of(case, spec), case.expert, v["trainee_summary"], v["expert_summary"],
                         decline_defensible=case.decline_defensible,
                         biliary_enteric_anastomosis=patient.biliary_enteric_anastomosis,
                         target_tumour=case.target_tumour, segmental_breach=v["segmental_breach"])
            assert [[r.item, r.trainee, r.expert, r.points, r.out_of] for r in rows] == v["rows"], (name, spec)
            assert sum(r.points for r in rows) == v["total"], (name, spec)


@pytest.mark.slow
def test_case_scores_sample_is_what_the_code_plays(case_scores, tmp_path):
    """The high-burden case's right lobar injection, played afresh (its liver built: about 10 s): the target tumour,
    the segmental advice and the harms, as the data has them."""
    from sim.explore.cache import LiverCache
    from sim.explore.cases import load_cases

    spec = "RHA,microspheres,100-300,stasis"
    fresh = case_scores.play(load_cases()["high_burden"], spec, LiverCache(tmp_path), {})
    assert _same_but_rounding(json.loads(json.dumps(fresh)), _data(case_scores)["high_burden"][spec]), (
        "the case's runs moved: run python scripts/case_scores.py")


def _same_but_rounding(fresh, stored) -> bool:
    """``fresh`` equals ``stored`` (nested dicts and lists), floats within 1e-9 relative: another processor's compiled
    kernels may round the last bit differently (seen: 0.7721059492068302 against ...303 on an AMD EPYC), counts and
    text exactly."""
    if isinstance(fresh, float) or isinstance(stored, float):
        return isinstance(fresh, int | float) and isinstance(stored, int | float) and math.isclose(
            fresh, stored, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(fresh, dict):
        return isinstance(stored, dict) and fresh.keys() == stored.keys() and all(
            _same_but_rounding(fresh[k], stored[k]) for k in fresh)
    if isinstance(fresh, list):
        return isinstance(stored, list) and len(fresh) == len(stored) and all(
            _same_but_rounding(a, b) for a, b in zip(fresh, stored, strict=True))
    return type(fresh) is type(stored) and fresh == stored


def test_same_but_rounding_tells_a_last_bit_from_a_change():
    stored = {"rows": [["normal liver", "0.0192", 5.350434482267665, 15]], "particles": 384509}
    assert _same_but_rounding({"rows": [["normal liver", "0.0192", 5.35043448226766, 15]], "particles": 384509}, stored)
    assert not _same_but_rounding({"rows": [["normal liver", "0.0192", 5.3505, 15]], "particles": 384509}, stored)
    assert not _same_but_rounding({"rows": [["normal liver", "0.0192", 5.350434482267665, 15]], "particles": 384510},
                                  stored)
    assert not _same_but_rounding({"rows": [["normal liver", "0.0193", 5.350434482267665, 15]], "particles": 384509},
                                  stored)
