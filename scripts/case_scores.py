"""Play the explorer's shipped cases with the expert's and typical trainees' choices, and write the scores
docs/explorer.md quotes (generated).

Run ``python scripts/case_scores.py`` from the repository root (35 s on one core with the case livers
in the explorer's disk cache; building them the first time adds about a minute): it plays each choice of :data:`PLAN` as the
page's case tab does (:func:`sim.explore.compute.simulate` at the shipped resolution and seed, then
:func:`sim.explore.cases.debrief`), writes every score and what it was computed from to
``docs/data/case_scores.json`` and replaces the block between the ``case-scores`` markers of
docs/explorer.md with its rendering. ``--render-only`` renders the doc from the data file.

``tests/test_doc_numbers.py`` checks that the block is the rendering of the data, that every
stored score is :func:`sim.explore.cases.score` of the stored summaries, and plays one choice afresh.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "explorer.md"
DATA = ROOT / "docs" / "data" / "case_scores.json"
BEGIN, END = "<!-- case-scores:begin (scripts/case_scores.py) -->", "<!-- case-scores:end -->"
#: The choices played per case: "expert", "decline", or "VESSEL,KIND,SIZE,ENDPOINT" (the expert first).
PLAN = {
    "michels_replaced_rha": ["expert", "replaced_RHA,microspheres,100-300,stasis", "SMA,microspheres,100-300,stasis",
                             "GDA,microspheres,100-300,stasis", "A6,microspheres,100-300,sluggish", "decline"],
    "phrenic_feeder": ["expert", "A7,microspheres,100-300,sluggish", "RHA,microspheres,100-300,stasis", "decline"],
    "main_pvt": ["expert", "A5,microspheres,100-300,stasis", "RHA,microspheres,100-300,stasis"],
    "segmental_pvt": ["expert", "A5,microspheres,100-300,stasis"],
    "biliary_anastomosis": ["expert", "A5,microspheres,100-300,stasis", "A5,microspheres,40-120,stasis",
                            "RHA,microspheres,100-300,stasis", "decline"],
    "high_burden": ["expert", "RHA,microspheres,100-300,stasis", "right_anterior,microspheres,100-300,stasis",
                    "LHA,microspheres,100-300,stasis", "A7,microspheres,100-300,stasis", "A8,microspheres,100-300,sluggish",
                    "decline"],
}
#: Summary keys kept per run: what :func:`sim.explore.cases.score` reads.
SCORED_KEYS = ("tumour_necrosis_fraction", "normal_necrosis_fraction", "biliary_ischaemic_fraction",
               "nontarget_particle_fraction", "suspension_volume_ml", "particles_injected",
               "nontarget_particles_by_branch")


def choice_of(case, spec: str):
    """The :class:`~sim.explore.cases.Choice` a plan entry names."""
    from sim.explore.cases import Choice

    if spec == "expert":
        return case.expert
    if spec == "decline":
        return Choice(selection="decline")
    vessel, kind, size, endpoint = spec.split(",")
    return Choice(selection="treat", vessel=vessel, kind=kind, size_bin=size, endpoint=endpoint)


def play(case, spec: str, cache, runs: dict) -> dict:
    """One plan entry played as the case tab plays it; ``runs`` memoises the runs by scenario."""
    from sim.explore import compute
    from sim.explore.cases import debrief

    def run(choice):
        if choice.selection != "treat":
            return None
        key = json.dumps(choice.updates(), sort_keys=True)
        if key not in runs:
            runs[key] = compute.simulate(case.scenario_for(choice), cache).result
        return runs[key]

    choice = choice_of(case, spec)
    played = debrief(case, choice, run(choice), run(case.expert))
    kept = [None if s is None else {k: s[k] for k in SCORED_KEYS} for s in (played.trainee_summary,
                                                                           played.expert_summary)]
    return {"total": played.total, "rows": [[r.item, r.trainee, r.expert, r.points, r.out_of] for r in played.rows],
            "trainee_summary": kept[0], "expert_summary": kept[1],
            "segmental_breach": played.segmental_breach}


def measure() -> dict:
    from sim.explore.cache import LiverCache
    from sim.explore.cases import load_cases

    cases, cache = load_cases(), LiverCache()
    values = {}
    for name, plan in PLAN.items():
        runs: dict = {}
        values[name] = {spec: play(cases[name], spec, cache, runs) for spec in plan}
        print(name, {spec: round(v["total"], 1) for spec, v in values[name].items()}, flush=True)
    return values


def _label(spec: str, case_expert) -> str:
    if spec == "expert":
        return (f"the expert's: {case_expert.vessel}, {case_expert.size_bin} um to {case_expert.endpoint}"
                if case_expert.selection == "treat" else "the expert's: decline")
    if spec == "decline":
        return "decline"
    vessel, kind, size, endpoint = spec.split(",")
    return f"{vessel}, {size} um {'' if kind == 'microspheres' else kind + ' '}to {endpoint.replace('_', ' ')}"


def render_text(values: dict) -> str:
    from sim.explore.case_view import points_text, shown_total
    from sim.explore.cases import load_cases

    cases = load_cases()  # (points as the page shows them: rounded down to a tenth)
    lines = ["| case | choice | score | selection | tumour necrosis | normal liver | bile ducts | non-target | volume "
             "| note |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, played in values.items():
        for spec, v in played.items():
            rows = v["rows"]
            points = " | ".join(points_text(r[3]) for r in rows[:6])
            note = rows[6][1] if len(rows) > 6 else ("treated more than one segment against the advice"
                                                    if v["segmental_breach"] else "")
            lines.append(f"| {cases[name].title if spec == 'expert' else ''} | {_label(spec, cases[name].expert)} "
                         f"| **{points_text(shown_total(r[3] for r in rows))}** | {points} | {note} |")
    return "\n".join(lines)


def render(values: dict) -> str:
    return f"{BEGIN}\n{render_text(values)}\n{END}"


def documented_block(text: str) -> str:
    from sim.io import marked_block

    return marked_block(text, BEGIN, END)


def data_text(values: dict) -> str:
    return json.dumps(values, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render-only", action="store_true", help="render the doc from the data file only")
    args = parser.parse_args(argv)
    from sim.io import update_generated

    command = "python scripts/case_scores.py"
    values = json.loads(DATA.read_text(encoding="utf-8")) if args.render_only else measure()
    status = 0 if args.render_only else update_generated(DATA, data_text(values), check=False, command=command)
    text = DOC.read_text(encoding="utf-8")
    return max(status, update_generated(DOC, text.replace(documented_block(text), render(values)), check=False,
                                        command=command))


if __name__ == "__main__":
    sys.exit(main())
