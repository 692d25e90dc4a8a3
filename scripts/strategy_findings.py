"""Measure the strategy trends quoted in docs/strategies.md and the necrosis model's in docs/outputs.md, and write them there.

Run ``python scripts/strategy_findings.py`` from the repository root: it runs the
same comparisons as ``tests/test_strategies.py`` (shipped scenarios at
``liver.terminal_diameter_um = 150``, 3 replicates, root seed 0; the test asserts the
trends, this script records the values) and what the graded necrosis model teaches
(:func:`measure_necrosis`), writes every measured number to
``docs/data/strategy_findings.json`` and replaces the table between the ``findings``
markers of docs/strategies.md and the list between the ``necrosis`` markers of
docs/outputs.md with the rendering of those numbers. ``--check`` only reports whether
the files are up to date (exit 1 if not).

``tests/test_doc_numbers.py`` keeps them honest without the six minutes a full
measurement takes: each block must be the rendering of the JSON, and a sample of the
JSON (the groups in ``SAMPLED_GROUPS``) is measured afresh and must match it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import sim
from sim.strategies import STRATEGY_NAMES, run_strategies

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "strategies.md"
DATA = ROOT / "docs" / "data" / "strategy_findings.json"
BEGIN, END = "<!-- findings:begin (scripts/strategy_findings.py) -->", "<!-- findings:end -->"
COARSE = {"liver.terminal_diameter_um": 150.0}
#: The same on the command line (a one-value --vary; the necrosis block's commands).
COARSE_CLI = "--vary liver.terminal_diameter_um=150"
REPLICATES = 3
DEFAULT_STRATEGIES = ("superselective", "selective", "lobar", "lobar:stasis", "whole_liver", "staged_bilobar")
DEFAULT_METRICS = ("particle_volume_ml", "tumour_particle_fraction", "tumour_necrosis_fraction", "normal_necrosis_fraction",
                   "biliary_ischaemic_fraction", "normal_devascularised_fraction", "normal_ischaemic_fraction",
                   "lodging_generation_median")
ARTERIAL_METRICS = ("tumour_devascularised_fraction", "tumour_necrosis_fraction", "tumour_particle_fraction")
SIZE_METRICS = ("lodging_generation_median", "particle_volume_ml", "biliary_ischaemic_fraction")
BILOBAR_METRICS = ("biliary_ischaemic_fraction", "normal_ischaemic_fraction")
#: Tumour arterial fractions of the necrosis block's series (docs/outputs.md).
ARTERIAL_SERIES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: The second generated block: what the graded necrosis model teaches, in docs/outputs.md.
NECROSIS_DOC = ROOT / "docs" / "outputs.md"
NECROSIS_BEGIN, NECROSIS_END = "<!-- necrosis:begin (scripts/strategy_findings.py) -->", "<!-- necrosis:end -->"
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
    return _totals(raw, ("selective", "lobar"), ("normal_ischaemic_fraction", "normal_necrosis_fraction"), "main_pvt")


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


def measure_necrosis() -> dict[str, float]:
    """What the graded necrosis model teaches (docs/outputs.md), ``necrosis/<key>``: one selective run to stasis
    (seed 0) read through its tumour's and normal liver's flows, the same run with a 1 h deficit, and the tumour's
    arterial fraction from 0.5 to 1.0 (one seed each)."""
    from sim.outcomes import deliveries, portal_inflow, tissue_volumes

    scenario = _scenario()
    r = sim.run(scenario, rng=0, progress=False)
    healthy, base, now = (r.state[f"compartment_flow_{w}_m3s"] for w in ("healthy", "baseline", "final"))
    d = deliveries(healthy, base, now, scenario.outcomes)
    tumour, normal = tissue_volumes(r.liver.compiled.compartments)
    lost = normal * (d.art_now < scenario.outcomes.devascularised_fraction * d.art_healthy)  # its artery lost
    portal = portal_inflow(now), portal_inflow(base)
    out = {
        "necrosis/tumour_o2_ratio": float(np.sum(tumour * d.o2_now / d.o2_base) / tumour.sum()),
        "necrosis/tumour_arterial_inflow_ratio": float((tumour * d.art_now).sum() / (tumour * d.art_base).sum()),
        "necrosis/tumour_portal_inflow_ratio": float((tumour * portal[0]).sum() / (tumour * portal[1]).sum()),
        "necrosis/normal_artery_lost_o2_ratio": float(np.sum(lost * d.o2_now / d.o2_healthy) / lost.sum()),
    }
    for key in ("tumour_necrosis_fraction", "tumour_devascularised_fraction"):
        out[f"necrosis/{key}"] = r.summary[key]
    short = sim.run(scenario.with_updates({"outcomes.ischaemia_duration_h": 1.0}), rng=0, progress=False)
    out["necrosis/one_hour/tumour_necrosis_fraction"] = short.summary["tumour_necrosis_fraction"]
    raw = run_strategies(scenario, ["selective"], 1, rng=0, vary={"tumours.0.arterial_fraction": list(ARTERIAL_SERIES)})
    for a in ARTERIAL_SERIES:
        for key in ("tumour_necrosis_fraction", "tumour_devascularised_fraction"):
            out[f"necrosis/arterial_{a}/{key}"] = _mean(raw, key, **{"tumours.0.arterial_fraction": a})
    return out


#: Measurement groups, each a function returning its numbers by key.
GROUPS: dict[str, Callable[[], dict[str, float]]] = {
    "default": measure_default, "main_pvt": measure_main_pvt, "sizes": measure_sizes,
    "arterial": measure_arterial, "bilobar": measure_bilobar, "necrosis": measure_necrosis,
}
#: What tests/test_doc_numbers.py re-measures (the cheapest strategies of the default group).
SAMPLED_GROUPS: dict[str, Callable[[], dict[str, float]]] = {
    "default (superselective, selective)": lambda: measure_default(("superselective", "selective")),
    "necrosis": measure_necrosis,
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


def render_necrosis(v: dict[str, float]) -> str:
    """The necrosis block of docs/outputs.md (markers included) for the numbers ``v``."""
    n = lambda key: v[f"necrosis/{key}"]  # noqa: E731
    d = lambda s, m: v[f"default/{s}/{m}"]  # noqa: E731
    graded = ", ".join(f"{n(f'arterial_{a}/tumour_necrosis_fraction'):.2f}" for a in ARTERIAL_SERIES)
    threshold = ", ".join(f"{n(f'arterial_{a}/tumour_devascularised_fraction'):.2g}" for a in ARTERIAL_SERIES)
    strategies = ("superselective", "selective", "lobar")
    tumour = " / ".join(f"{d(s, 'tumour_necrosis_fraction'):.2f}" for s in strategies)
    normal = " / ".join(f"{100 * d(s, 'normal_necrosis_fraction'):.2g}%" for s in strategies)
    bullets = [
        f"Stasis kills most, not all, of an arterialised tumour: the tumour's O2 ratio falls to "
        f"{n('tumour_o2_ratio'):.2f} (arterial inflow {100 * n('tumour_arterial_inflow_ratio'):.0f}% of baseline, "
        f"portal inflow {n('tumour_portal_inflow_ratio'):.2f}x), and `tumour_necrosis_fraction` is "
        f"{n('tumour_necrosis_fraction'):.2f} (threshold read-out: {n('tumour_devascularised_fraction'):.2g}).",
        "Less arterialised tumours keep more of their supply from the portal vein and die less, smoothly: "
        "`embosim compare --strategies selective --replicates 1 --seed 0 --vary tumours.0.arterial_fraction=0.5:1.0:6 "
        f"{COARSE_CLI}` gives {graded} (threshold read-out: {threshold}).",
        f"`embosim compare --strategies superselective,selective,lobar --replicates {REPLICATES} --seed 0 {COARSE_CLI}`: "
        f"tumour necrosis {tumour}, normal necrosis {normal}. Superselective embolisation kills the tumour its feeder "
        "supplies (the most tumour-holding branch within half the segment, so not all of a bulky tumour) with less "
        "collateral injury than selective; lobar stops at sluggish flow and kills less tumour and more normal liver.",
        f"Normal liver with a patent portal vein that loses its artery keeps an O2 ratio of "
        f"{n('normal_artery_lost_o2_ratio'):.2f}, and little of it dies. With main portal vein thrombosis lobar "
        f"embolisation kills {100 * v['main_pvt/lobar/normal_necrosis_fraction']:.0f}% of the normal liver (patent: "
        f"{100 * d('lobar', 'normal_necrosis_fraction'):.2g}%), selective "
        f"{100 * v['main_pvt/selective/normal_necrosis_fraction']:.2g}%.",
        f"A deficit that lasts 1 h (`ischaemia_duration_h = 1`) kills "
        f"{100 * n('one_hour/tumour_necrosis_fraction'):.2g}% of the tumour: duration matters, and bland "
        "embolisation is permanent.",
    ]
    lines = [NECROSIS_BEGIN, ""] + ["* " + b for b in bullets]
    return "\n".join(lines + ["", NECROSIS_END])


def documented_block(text: str, begin: str = BEGIN, end: str = END) -> str:
    """A generated block as it stands in a doc's text (default: the findings of docs/strategies.md)."""
    from sim.io import marked_block

    return marked_block(text, begin, end)


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
    necrosis = NECROSIS_DOC.read_text(encoding="utf-8")
    new_necrosis = necrosis.replace(documented_block(necrosis, NECROSIS_BEGIN, NECROSIS_END), render_necrosis(values))
    command = "python scripts/strategy_findings.py"
    status = update_generated(DATA, data_text(values), check=args.check, command=command)
    status = max(status, update_generated(NECROSIS_DOC, new_necrosis, check=args.check, command=command))
    return max(status, update_generated(DOC, new_doc, check=args.check, command=command))


if __name__ == "__main__":
    sys.exit(main())
