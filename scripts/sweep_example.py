"""Run the shipped example sweep and write what docs/sweeps.md says of it: its figure and its numbers (generated).

Run ``python scripts/sweep_example.py`` from the repository root (72 runs: about 5 minutes on
2 worker processes here), or ``--results FOLDER`` to read a finished sweep's folder instead of
running it (``embosim sweep size_arterialisation_catheter --out FOLDER``). It draws
docs/figures/sweep_example.png (:func:`draw`), writes the quoted numbers to
docs/data/sweep_example.json and replaces the block between the ``sweep-example`` markers of
docs/sweeps.md with their rendering. ``tests/test_doc_numbers.py`` checks the block is the
rendering of the data.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "sweeps.md"
DATA = ROOT / "docs" / "data" / "sweep_example.json"
FIGURE = ROOT / "docs" / "figures" / "sweep_example.png"
BEGIN, END = "<!-- sweep-example:begin (scripts/sweep_example.py) -->", "<!-- sweep-example:end -->"
SPEC = "size_arterialisation_catheter"
SIZES = ("40-120", "100-300", "300-500")
ARTERIAL = "tumours.0.arterial_fraction"
#: The figure's rows: summary column and label.
METRICS = {"tumour_necrosis_fraction": "tumour necrosis", "tumour_particle_fraction": "particles in tumour"}


def draw(table: pd.DataFrame):
    """Means of the seeds (bars: their range) of each metric against the tumour's arterial fraction, per size and
    catheter position."""
    import matplotlib.pyplot as plt

    means = (table.groupby(["catheter.vessel", "agent.size_bin", ARTERIAL])[list(METRICS)].agg(["mean", "min", "max"]))
    fig, axes = plt.subplots(2, 2, figsize=(8, 5.5), sharex=True, sharey="row", layout="constrained")
    for col, vessel in enumerate(["A5", "RHA"]):
        for size in SIZES:
            part = means.loc[(vessel, size)]
            for row, (metric, label) in enumerate(METRICS.items()):
                m = part[metric]
                axes[row, col].errorbar(m.index, m["mean"], yerr=[m["mean"] - m["min"], m["max"] - m["mean"]],
                                        marker="o", capsize=3, label=f"{size} um")
                axes[row, col].set_ylabel(f"{label} (fraction)" if col == 0 else "")
        axes[0, col].set_title(f"catheter in {vessel}")
        axes[1, col].set_xlabel("tumour arterial fraction")
    axes[1, 1].legend(title="microspheres", loc="upper left")
    return fig


def measure(table: pd.DataFrame) -> dict:
    """The numbers the doc quotes, from the sweep's table."""
    a5, rha = table[table["catheter.vessel"] == "A5"], table[table["catheter.vessel"] == "RHA"]
    stops = {f"{v}|{s}|{r}": int(n) for (v, s, r), n in
             table.groupby(["catheter.vessel", "agent.size_bin", "stop_reason"]).size().items()}
    cystic = rha["nontarget_cystic"] / rha["particles_injected"]
    by_af = table.groupby(ARTERIAL)
    out = {"runs": len(table), "points": int(table["point"].nunique()), "seeds": int(table["replicate"].nunique()),
           "sace4_runs": int((table["sace_level"] == 4).sum()), "stops": stops,
           "a5_tumour_share": [float(a5["tumour_particle_fraction"].min()), float(a5["tumour_particle_fraction"].max())],
           "rha_tumour_share": [float(rha["tumour_particle_fraction"].min()),
                                float(rha["tumour_particle_fraction"].max())],
           "rha_cystic_share": [float(cystic.min()), float(cystic.max())],
           "necrosis_by_af": {f"{af:.1f}": [float(g["tumour_necrosis_fraction"].min()),
                                             float(g["tumour_necrosis_fraction"].max())] for af, g in by_af},
           "devascularised_by_af": {f"{af:.1f}": [float(g["tumour_devascularised_fraction"].min()),
                                                   float(g["tumour_devascularised_fraction"].max())] for af, g in by_af},
           "packed_flow": [float(x) for x in table.loc[table["stop_reason"] == "packed_to_tip",
                                                       "antegrade_flow_fraction"].agg(["min", "max"])]
           if (table["stop_reason"] == "packed_to_tip").any() else None}
    slowest = table[(table["catheter.vessel"] == "RHA") & (table["agent.size_bin"] == "40-120")]
    out["run_time"] = {"total_s": float(table["run_time_s"].sum()), "rha_40_120_s": float(slowest["run_time_s"].sum()),
                       "rha_40_120_runs": len(slowest),
                       "rha_40_120_particles": float(slowest["particles_injected"].mean())}
    return out


def _pct(lo_hi) -> str:
    lo, hi = (f"{100 * x:.0f}" for x in lo_hi)
    return f"{lo}%" if lo == hi else f"{lo}-{hi}%"


def _run_time(t: dict) -> str:
    """How long the example's runs took (``run_time_s``, one core each, this project's machine), and what took most."""
    return (f"Its runs took {t['total_s'] / 60:.0f} minutes of run time on this project's 2-core machine (one core a "
            f"run), {t['rha_40_120_s'] / t['total_s']:.0%} of it the {t['rha_40_120_runs']} lobar runs of 40-120 um "
            f"spheres ({t['rha_40_120_particles']:,.0f} particles each to stasis, about "
            f"{t['rha_40_120_s'] / t['rha_40_120_runs']:.0f} s a run); the speed of sweeps in general: "
            "docs/performance.md, Sweeps.")


def render_text(v: dict) -> str:
    a5_300 = {k.split("|")[2]: n for k, n in v["stops"].items() if k.startswith("A5|300-500|")}
    packed = a5_300.get("packed_to_tip", 0)
    nec = v["necrosis_by_af"]
    dev = v["devascularised_by_af"]
    zero_upto = max((af for af, (lo, hi) in dev.items() if hi == 0.0), default=None)
    packed_text = (f" The exceptions: {packed} of the {sum(a5_300.values())} runs of 300-500 um spheres from A5 pack "
                   f"the segmental artery back to the catheter tip with {_pct(v['packed_flow'])} of the flow left "
                   "(`stop_reason = \"packed_to_tip\"`, SACE III: the porous columns still leak; docs/outputs.md)."
                   if packed else "")
    return f"""`scenarios/sweeps/size_arterialisation_catheter.toml` embolises the seed case (bulky
segment 5 NET) with three microsphere sizes, for tumours whose hepatic arterial share
of inflow runs from 50% to 100%, from the segment 5 artery (A5, selective) or the right
hepatic artery (RHA, lobar): {v['points']} points x {v['seeds']} seeds = {v['runs']} runs on 6 livers, at 150 um
terminal vessels (the base's 50 um is the production resolution). {_run_time(v['run_time'])}

![Tumour necrosis and tumour share of particles against tumour arterial fraction, per microsphere size, catheter in A5 and RHA](figures/sweep_example.png)

Points are means of the {v['seeds']} seeds, bars their range. {v['sace4_runs']} of the {v['runs']} runs end in stasis (SACE IV).{packed_text}
From A5, {_pct(v['a5_tumour_share'])} of the particles lodge in tumour, more as the tumour is more
arterialised and the spheres smaller; from the RHA {_pct(v['rha_tumour_share'])} (the tumour is a small part of the right
lobe's territory) and {_pct(v['rha_cystic_share'])} leave through the cystic artery. Tumour necrosis (graded,
`docs/outputs.md`) rises smoothly with the arterial fraction, whatever the particles or the catheter:
{', '.join(f'{_pct(nec[af])} at {af}' for af in nec)}. The threshold read-out, tumour devascularisation (viable
tumour whose total inflow, arterial + portal, falls below 20% of its baseline), stays 0 up to an arterial fraction
of {zero_upto} (the tumour's own portal share keeps it above the threshold) and jumps to {_pct(dev['1.0'])} at 1.0.

The figure is `draw` in `scripts/sweep_example.py` (a `pandas` group-by of `results.parquet` and
matplotlib), which also writes these numbers."""


def render(values: dict) -> str:
    return f"{BEGIN}\n{render_text(values)}\n{END}"


def documented_block(text: str) -> str:
    from sim.io import marked_block

    return marked_block(text, BEGIN, END)


def data_text(values: dict) -> str:
    return json.dumps(values, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="a finished sweep's folder (default: run the sweep now)")
    parser.add_argument("--render-only", action="store_true", help="render the doc from the data file only")
    args = parser.parse_args(argv)
    from sim.io import update_generated

    command = "python scripts/sweep_example.py"
    if args.render_only:
        values = json.loads(DATA.read_text(encoding="utf-8"))
    else:
        if args.results is not None:
            table = pd.read_parquet(args.results / "results.parquet")
        else:
            import sim
            from sim.catalogue import resolve_sweep_spec

            with tempfile.TemporaryDirectory() as folder:
                table = sim.sweep(resolve_sweep_spec(SPEC), out=Path(folder) / "sweep", workers=2)
        values = measure(table)
        draw(table).savefig(FIGURE, dpi=80)
        print(f"wrote {FIGURE}")
        update_generated(DATA, data_text(values), check=False, command=command)
    text = DOC.read_text(encoding="utf-8")
    return update_generated(DOC, text.replace(documented_block(text), render(values)), check=False, command=command)


if __name__ == "__main__":
    sys.exit(main())
