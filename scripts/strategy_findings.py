"""Measure the strategy trends quoted in docs/strategies.md and write them there (the numbers are generated).

Run ``python scripts/strategy_findings.py`` from the repository root: it runs the
same comparisons as ``tests/test_strategies.py`` (shipped scenarios at
``liver.terminal_diameter_um = 150``, 3 replicates, root seed 0; the test asserts the
trends, this script records the values) and replaces the table between the
``findings`` markers of docs/strategies.md. ``--check`` only reports whether the
file is up to date (exit 1 if not).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import sim
from sim.strategies import STRATEGY_NAMES, run_strategies

DOC = Path(__file__).resolve().parents[1] / "docs" / "strategies.md"
BEGIN, END = "<!-- findings:begin (scripts/strategy_findings.py) -->", "<!-- findings:end -->"
COARSE = {"liver.terminal_diameter_um": 150.0}
REPLICATES = 3


def _scenario(name: str | None = None, **updates):
    path = sim.default_scenario_path() if name is None else sim.catalogue.scenarios_dir() / f"{name}.toml"
    return sim.load_scenario(path).with_updates({**COARSE, **updates})


def _mean(raw: pd.DataFrame, metric: str, **where) -> float:
    rows = raw
    for column, value in where.items():
        rows = rows[rows[column] == value]
    return float(rows[metric].mean())


def _g(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.1e}"


def measure() -> list[tuple[str, str]]:
    """(trend, measured values) rows."""
    four = ["selective", "lobar", "lobar:stasis", "whole_liver", "staged_bilobar"]
    raw = run_strategies(_scenario(), four + ["superselective"], REPLICATES, rng=0)
    m = lambda metric, strategy, **w: _mean(raw, metric, strategy=strategy, session="total", **w)  # noqa: E731
    pvt = run_strategies(_scenario("main_pvt"), ["selective", "lobar"], REPLICATES, rng=0)
    small = run_strategies(_scenario(**{"agent.size_bin": "40-120"}), ["selective"], REPLICATES, rng=0)
    large = run_strategies(_scenario(**{"agent.size_bin": "300-500"}), ["selective"], REPLICATES, rng=0)
    art = run_strategies(_scenario(), STRATEGY_NAMES, 2, rng=0, vary={"tumours.0.arterial_fraction": [0.5, 1.0]})
    at = lambda metric, strategy, a: _mean(art, metric, strategy=strategy, session="total",  # noqa: E731
                                           **{"tumours.0.arterial_fraction": a})
    rows = [
        ("spheres to the endpoint (mL, settled)",
         ", ".join(f"{s} {m('particle_volume_ml', s):.3f}" for s in ["superselective"] + four)),
        ("selective puts more particles in the tumour than lobar",
         f"tumour particle fraction: selective {m('tumour_particle_fraction', 'selective'):.2f} (A5, stasis), "
         f"lobar {m('tumour_particle_fraction', 'lobar'):.2f} (RHA, sluggish), superselective "
         f"{m('tumour_particle_fraction', 'superselective'):.2f}"),
        ("tumour necrosis (graded) by strategy",
         ", ".join(f"{s} {m('tumour_necrosis_fraction', s):.2f}" for s in ["superselective"] + four)),
        ("biliary ischaemia: selective (stasis) vs lobar (sluggish)",
         f"selective {_g(m('biliary_ischaemic_fraction', 'selective'))}, lobar "
         f"{_g(m('biliary_ischaemic_fraction', 'lobar'))}, lobar to stasis "
         f"{_g(m('biliary_ischaemic_fraction', 'lobar:stasis'))}, whole liver "
         f"{_g(m('biliary_ischaemic_fraction', 'whole_liver'))}"),
        ("normal liver devascularised (arterial inflow < 20% of healthy)",
         f"selective {_g(m('normal_devascularised_fraction', 'selective'))}, lobar (sluggish) "
         f"{_g(m('normal_devascularised_fraction', 'lobar'))}, lobar to stasis "
         f"{_g(m('normal_devascularised_fraction', 'lobar:stasis'))}"),
        ("normal-parenchyma ischaemia, patent portal vein vs main PVT",
         f"patent: selective {_g(m('normal_ischaemic_fraction', 'selective'))}, lobar "
         f"{_g(m('normal_ischaemic_fraction', 'lobar'))}; main PVT: selective "
         f"{_g(_mean(pvt, 'normal_ischaemic_fraction', strategy='selective'))}, lobar "
         f"{_g(_mean(pvt, 'normal_ischaemic_fraction', strategy='lobar'))}"),
        ("tumour arterial fraction 0.5 vs 1.0: tumour devascularised (threshold)",
         ", ".join(f"{s} {at('tumour_devascularised_fraction', s, 0.5):.2f} vs "
                   f"{at('tumour_devascularised_fraction', s, 1.0):.2f}" for s in STRATEGY_NAMES)),
        ("tumour arterial fraction 0.5 vs 1.0: tumour necrosis (graded)",
         ", ".join(f"{s} {at('tumour_necrosis_fraction', s, 0.5):.2f} vs "
                   f"{at('tumour_necrosis_fraction', s, 1.0):.2f}" for s in STRATEGY_NAMES)),
        ("tumour arterial fraction 0.5 vs 1.0: tumour's share of particles",
         ", ".join(f"{s} {at('tumour_particle_fraction', s, 0.5):.2f} vs "
                   f"{at('tumour_particle_fraction', s, 1.0):.2f}" for s in STRATEGY_NAMES)),
        ("40-120 / 100-300 / 300-500 um, selective to stasis",
         "occlusion front (median generation) "
         f"{_mean(small, 'lodging_generation_median'):.1f} / {m('lodging_generation_median', 'selective'):.1f} / "
         f"{_mean(large, 'lodging_generation_median'):.1f}; spheres (mL) {_mean(small, 'particle_volume_ml'):.3f} / "
         f"{m('particle_volume_ml', 'selective'):.3f} / {_mean(large, 'particle_volume_ml'):.3f}; biliary "
         f"{_g(_mean(small, 'biliary_ischaemic_fraction'))} / {_g(m('biliary_ischaemic_fraction', 'selective'))} / "
         f"{_g(_mean(large, 'biliary_ischaemic_fraction'))}"),
    ]
    for thrombosis in ("none", "main"):
        bil = run_strategies(_scenario("bilobar_midgut_net", **{"portal.thrombosis": thrombosis}),
                             ["whole_liver", "staged_bilobar"], REPLICATES, rng=0)
        bil0 = run_strategies(_scenario("bilobar_midgut_net", **{"portal.thrombosis": thrombosis}),
                              ["staged_bilobar"], REPLICATES, rng=0, interval_weeks=0.0)
        peak = "normal_function_loss_peak_fraction"
        rows.append((f"bilobar NET, portal vein {'patent' if thrombosis == 'none' else 'main PVT'}: normal-liver "
                     "function lost at its peak, whole liver vs staged lobes 0 / 6 weeks apart",
                     f"{_g(_mean(bil, peak, strategy='whole_liver'))} vs "
                     f"{_g(_mean(bil0, peak, strategy='staged_bilobar', session='total'))} / "
                     f"{_g(_mean(bil, peak, strategy='staged_bilobar', session='total'))}"))
        for metric in ("biliary_ischaemic_fraction", "normal_ischaemic_fraction"):
            sessions = [_mean(bil, metric, strategy="staged_bilobar", session=s) for s in ("1", "2")]
            rows.append((f"bilobar NET, portal vein {'patent' if thrombosis == 'none' else 'main PVT'}: "
                         f"{metric.replace('_', ' ')}, staged sessions vs whole liver",
                         f"{_g(sessions[0])} and {_g(sessions[1])} vs {_g(_mean(bil, metric, strategy='whole_liver'))}"))
    return rows


def render(rows: list[tuple[str, str]]) -> str:
    lines = [BEGIN, "", "| trend | measured (means of replicates) |", "|---|---|"]
    lines += [f"| {trend} | {values} |" for trend, values in rows]
    return "\n".join(lines + ["", END])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that docs/strategies.md is up to date")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    new = head + render(measure()) + tail
    if args.check:
        print("up to date" if new == text else "docs/strategies.md differs from a fresh measurement")
        return 0 if new == text else 1
    DOC.write_text(new, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
