"""Make the sample DSA frames of ``docs/angiography.md`` (``docs/figures/dsa_*.jpg``), optionally a movie.

Run ``python scripts/make_dsa_figures.py [--movie PATH.mp4|PATH.gif]`` (about three
minutes on one core): the default scenario embolised to stasis from A5 (selective)
and from the RHA (lobar) on one liver, and the selective run with the angiogram
forced to 1.5 mL/s (``catheter.angiogram_rate_ml_s``) to show contrast reflux.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import sim
from sim.angiography import phase_times
from sim.figures import dsa

FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movie", type=Path, help="also write the selective/lobar movie (.mp4 or .gif)")
    args = parser.parse_args()
    scenario = sim.load_scenario(sim.default_scenario_path()).with_updates({"procedure.endpoint": "stasis"})
    liver = sim.build_liver(scenario, progress=False)
    selective = sim.run(scenario, progress=False, liver=liver)
    lobar = sim.run(scenario.with_updates({"catheter.vessel": "RHA"}), progress=False, liver=liver)
    forced = sim.run(scenario.with_updates({"catheter.angiogram_rate_ml_s": 1.5}), progress=False, liver=liver)
    seed = scenario.procedure.seed
    panels = dsa.panels_of_runs({"selective (A5), stasis": selective, "lobar (RHA), stasis": lobar})
    phases = phase_times(panels[0].angiogram)
    dsa.write_still(panels, FIGURES / "dsa_compare_arterial.jpg", 1.0, seed=seed)
    dsa.write_still(panels, FIGURES / "dsa_compare_capillary.jpg", phases["capillary"], seed=seed)
    dsa.write_still(dsa.panels_of_runs({"selective (A5), stasis, 1.5 mL/s": forced}), FIGURES / "dsa_reflux.jpg",
                    2.0, seed=seed)
    for name, run in (("selective", selective), ("lobar", lobar), ("forced 1.5 mL/s", forced)):
        s = run.summary
        print(f"{name}: rates {s['angiogram_rate_baseline_ml_s']:.2f} -> {s['angiogram_rate_final_ml_s']:.2f} mL/s "
              f"(catheter max {s['catheter_max_rate_ml_s']:.2f}), contrast reflux {s['angiogram_reflux_ml']:.2f} mL")
    if args.movie:
        dsa.write_movie(dsa.dsa_frames(panels, seed=seed), args.movie)


if __name__ == "__main__":
    main()
