"""Measure the strategy trends quoted in docs/strategies.md and write them there (the numbers are generated).

Run ``python scripts/strategy_findings.py`` from the repository root: it runs the
same comparisons as ``tests/test_strategies.py`` (shipped scenarios at
``liver.terminal_diameter_um = 150``, 3 replicates, root seed 0; the test asserts the
trends, this script records the values), writes every measured number to
``docs/data/strategy_findings.json`` and replaces the table between the ``findings``
markers of docs/strategies.md with the rendering of those numbers. ``--check`` only
reports whether both files are up to date (exit 1 if not).

``tests/test_doc_numbers.py`` keeps the two honest without the six minutes a full
measurement takes: the table must be the rendering of the JSON, and a sample of the
JSON (the groups in ``SAMPLED_GROUPS``) is measured afresh and must match it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

import sim
from sim.strategies import STRATEGY_NAMES, run_strategies

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "strategies.md"
DATA = ROOT / "docs" / "data" / "strategy_findings.json"
BEGIN, END = "<!-- findings:begin (scripts/strategy_findings.py) -->", "<!-- findings:end -->"
COARSE = {"liver.terminal_diameter_um": 150.0}
REPLICATES = 3
DEFAULT_STRATEGIES = ("superselective", "selective", "lobar", "lobar:stasis", "whole_liver", "staged_bilobar")
DEFAULT_METRICS = ("particle_volume_ml", "tumour_particle_fraction", "tumour_necrosis_fraction",
                   "biliary_ischaemic_fraction", "normal_devascularised_fraction", "normal_ischaemic_fraction",
                   "lodging_generation_median")
ARTERIAL_METRICS = ("tumour_devascularised_fraction", "tumour_necrosis_fraction", "tumour_particle_fraction")
SIZE_METRICS = ("lodging_generation_median", "particle_volume_ml", "biliary_ischaemic_fraction")
BILOBAR_METRICS = ("biliary_ischaemic_fraction", "normal_ischaemic_fraction")
#: Normal-liver function lost at the worst moment of a course (staged sessions: docs/strategies.md).
PEAK = "normal_function_loss_peak_fraction"


def _scenario(name: str | None = None, **updates):
    path = sim.default_scenario_path() if name is None else sim.catalogue.scenarios_dir() / f"{name}.toml"
    return sim.load_scenario(path).with_updates({**COARSE, **updates})


def _mean(raw: pd.DataFrame, metric: str, **where) -> float:
    rows = raw
    for column, value in where.items():
        rows = rows[rows[column] == value]
    return float(rows[metric].mean())


def _totals(raw: pd.DataFrame, strategies, metrics, prefix: str) -> dict[str, float]:
    return {f"{prefix}/{s}/{m}": _mean(raw, m, strategy=s, session="total") for s in strategies for m in metrics}


def measure_default(strategies=DEFAULT_STRATEGIES) -> dict[str, float]:
    """The default scenario (bulky segment V NET): every strategy's outcomes, ``default/<strategy>/<metric>``."""
    raw = run_strategies(_scenario(), list(strategies), REPLICATES, rng=0)
    return _totals(raw, strategies, DEFAULT_METRICS, "default")


def measure_main_pvt() -> dict[str, float]:
    """The main-PVT scenario, selective and lobar: ``main_pvt/<strategy>/<metric>``."""
    raw = run_strategies(_scenario("main_pvt"), ["selective", "lobar"], REPLICATES, rng=0)
    return _totals(raw, ("selective", "lobar"), ("normal_ischaemic_fraction",), "main_pvt")


def measure_sizes() -> dict[str, float]:
    """Selective to stasis with 40-120 and 300-500 um spheres: ``size_<bin>/selective/<metric>``."""
    out = {}
    for size_bin in ("40-120", "300-500"):
        raw = run_strategies(_scenario(**{"agent.size_bin": size_bin}), ["selective"], REPLICATES, rng=0)
        out |= _totals(raw, ("selective",), SIZE_METRICS, f"size_{size_bin}")
    return out


def measure_arterial() -> dict[str, float]:
    """Every strategy at tumour arterial fraction 0.5 and 1.0 (2 replicates): ``arterial_<a>/<strategy>/<metric>``."""
    raw = run_strategies(_scenario(), STRATEGY_NAMES, 2, rng=0, vary={"tumours.0.arterial_fraction": [0.5, 1.0]})
    return {f"arterial_{a}/{s}/{m}": _mean(raw, m, strategy=s, session="total", **{"tumours.0.arterial_fraction": a})
            for a in (0.5, 1.0) for s in STRATEGY_NAMES for m in ARTERIAL_METRICS}


def measure_bilobar() -> dict[str, float]:
    """Bilobar NET, portal vein patent and main PVT: staged sessions and whole liver, ``bilobar_<pvt>/<row>/<metric>``."""
    out = {}
    for thrombosis in ("none", "main"):
        raw = run_strategies(_scenario("bilobar_midgut_net", **{"portal.thrombosis": thrombosis}),
                             ["whole_liver", "staged_bilobar"], REPLICATES, rng=0)
        for metric in BILOBAR_METRICS:
            for session in ("1", "2"):
                out[f"bilobar_{thrombosis}/session{session}/{metric}"] = _mean(raw, metric, strategy="staged_bilobar",
                                                                               session=session)
            out[f"bilobar_{thrombosis}/whole_liver/{metric}"] = _mean(raw, metric, strategy="whole_liver")
        at_once = run_strategies(_scenario("bilobar_midgut_net", **{"portal.thrombosis": thrombosis}),
                                 ["staged_bilobar"], REPLICATES, rng=0, interval_weeks=0.0)
        out[f"bilobar_{thrombosis}/whole_liver/{PEAK}"] = _mean(raw, PEAK, strategy="whole_liver")
        out[f"bilobar_{thrombosis}/staged_6_weeks/{PEAK}"] = _mean(raw, PEAK, strategy="staged_bilobar", session="total")
        out[f"bilobar_{thrombosis}/staged_0_weeks/{PEAK}"] = _mean(at_once, PEAK, strategy="staged_bilobar",
                                                                   session="total")
    return out


#: Measurement groups, each a function returning its numbers by key.
GROUPS: dict[str, Callable[[], dict[str, float]]] = {
    "default": measure_default, "main_pvt": measure_main_pvt, "sizes": measure_sizes,
    "arterial": measure_arterial, "bilobar": measure_bilobar,
}
#: What tests/test_doc_numbers.py re-measures (the cheapest strategies of the default group).
SAMPLED_GROUPS: dict[str, Callable[[], dict[str, float]]] = {
    "default (superselective, selective)": lambda: measure_default(("superselective", "selective")),
}


def measure() -> dict[str, float]:
    """Every number the table quotes, by key."""
    values: dict[str, float] = {}
    for group in GROUPS.values():
        values |= group()
    return values


def _g(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.1e}"


def rows(v: dict[str, float]) -> list[tuple[str, str]]:
    """(trend, measured values) rows of the table, rendered from the numbers ``v``."""
    d = lambda s, m: v[f"default/{s}/{m}"]  # noqa: E731
    a = lambda s, m, x: v[f"arterial_{x}/{s}/{m}"]  # noqa: E731
    size = lambda b, m: v[f"size_{b}/selective/{m}"] if b != "100-300" else d("selective", m)  # noqa: E731
    bins = ("40-120", "100-300", "300-500")
    out = [
        ("spheres to the endpoint (mL, settled)",
         ", ".join(f"{s} {d(s, 'particle_volume_ml'):.3f}" for s in DEFAULT_STRATEGIES)),
        ("selective puts more particles in the tumour than lobar",
         f"tumour particle fraction: selective {d('selective', 'tumour_particle_fraction'):.2f} (A5, stasis), "
         f"lobar {d('lobar', 'tumour_particle_fraction'):.2f} (RHA, sluggish), superselective "
         f"{d('superselective', 'tumour_particle_fraction'):.2f}"),
        ("tumour necrosis (graded) by strategy",
         ", ".join(f"{s} {d(s, 'tumour_necrosis_fraction'):.2f}" for s in DEFAULT_STRATEGIES)),
        ("biliary ischaemia: selective (stasis) vs lobar (sluggish)",
         f"selective {_g(d('selective', 'biliary_ischaemic_fraction'))}, lobar "
         f"{_g(d('lobar', 'biliary_ischaemic_fraction'))}, lobar to stasis "
         f"{_g(d('lobar:stasis', 'biliary_ischaemic_fraction'))}, whole liver "
         f"{_g(d('whole_liver', 'biliary_ischaemic_fraction'))}"),
        ("normal liver devascularised (arterial inflow < 20% of healthy)",
         f"selective {_g(d('selective', 'normal_devascularised_fraction'))}, lobar (sluggish) "
         f"{_g(d('lobar', 'normal_devascularised_fraction'))}, lobar to stasis "
         f"{_g(d('lobar:stasis', 'normal_devascularised_fraction'))}"),
        ("normal-parenchyma ischaemia, patent portal vein vs main PVT",
         f"patent: selective {_g(d('selective', 'normal_ischaemic_fraction'))}, lobar "
         f"{_g(d('lobar', 'normal_ischaemic_fraction'))}; main PVT: selective "
         f"{_g(v['main_pvt/selective/normal_ischaemic_fraction'])}, lobar "
         f"{_g(v['main_pvt/lobar/normal_ischaemic_fraction'])}"),
    ]
    for metric, what in zip(ARTERIAL_METRICS, ("tumour devascularised (threshold)", "tumour necrosis (graded)",
                                               "tumour's share of particles")):
        out.append((f"tumour arterial fraction 0.5 vs 1.0: {what}",
                    ", ".join(f"{s} {a(s, metric, 0.5):.2f} vs {a(s, metric, 1.0):.2f}" for s in STRATEGY_NAMES)))
    out.append(("40-120 / 100-300 / 300-500 um, selective to stasis",
                "occlusion front (median generation) " + " / ".join(f"{size(b, 'lodging_generation_median'):.1f}"
                                                                    for b in bins)
                + "; spheres (mL) " + " / ".join(f"{size(b, 'particle_volume_ml'):.3f}" for b in bins)
                + "; biliary " + " / ".join(_g(size(b, "biliary_ischaemic_fraction")) for b in bins)))
    for thrombosis, label in (("none", "patent"), ("main", "main PVT")):
        for metric in BILOBAR_METRICS:
            b = lambda row: v[f"bilobar_{thrombosis}/{row}/{metric}"]  # noqa: E731, B023
            out.append((f"bilobar NET, portal vein {label}: {metric.replace('_', ' ')}, staged sessions vs whole liver",
                        f"{_g(b('session1'))} and {_g(b('session2'))} vs {_g(b('whole_liver'))}"))
        p = lambda row: v[f"bilobar_{thrombosis}/{row}/{PEAK}"]  # noqa: E731, B023
        out.append((f"bilobar NET, portal vein {label}: normal-liver function lost at its peak, whole liver vs "
                    "staged lobes 0 / 6 weeks apart",
                    f"{_g(p('whole_liver'))} vs {_g(p('staged_0_weeks'))} / {_g(p('staged_6_weeks'))}"))
    return out


def render(values: dict[str, float]) -> str:
    """The findings block of docs/strategies.md (markers included) for the numbers ``values``."""
    lines = [BEGIN, "", "| trend | measured (means of replicates) |", "|---|---|"]
    lines += [f"| {trend} | {measured} |" for trend, measured in rows(values)]
    return "\n".join(lines + ["", END])


def documented_block(text: str) -> str:
    """The findings block as it stands in the text of docs/strategies.md."""
    from sim.io import marked_block

    return marked_block(text, BEGIN, END)


def data_text(values: dict[str, float]) -> str:
    return json.dumps(dict(sorted(values.items())), indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the doc and its data are up to date")
    args = parser.parse_args(argv)
    from sim.io import update_generated

    values = measure()
    text = DOC.read_text(encoding="utf-8")
    new_doc = text.replace(documented_block(text), render(values))
    command = "python scripts/strategy_findings.py"
    status = update_generated(DATA, data_text(values), check=args.check, command=command)
    return max(status, update_generated(DOC, new_doc, check=args.check, command=command))


if __name__ == "__main__":
    sys.exit(main())
