"""SIRT: the MAA work-up's T/N against the delivered Y-90's from the same catheter position (issue 16).

The shipped ``sirt_glass_segment5`` scenario (1 GBq of glass from A5; with ``fast`` a
coarser liver and a tenth of the activity) is run; the run routes the scenario's MAA
work-up on the same liver and reads both per compartment by one rule
(``sim.sirt_compare``). The ratio of the Y-90 T/N to the MAA T/N is compared with the one
published series read here ([Piasecki2015]: mean T/N 2.7 with MAA, 2.3 on Y-90
bremsstrahlung SPECT and 3.6 on Y-90 PET, i.e. Y-90 / MAA 0.85-1.33): validation, but
weak (nine lesions in three patients, resin spheres, two imaging methods that disagree
with each other more than with the MAA), and the model has none of the session-to-session
differences (catheter position, injection rate, vasospasm) the clinic blames most
([Keane2021Scout]). The lung shunt fractions of the two agents are compared with the
clinical direction only ([Torkian2022LSF]: the MAA lung shunt fraction overestimates the
Y-90 lung dose): both agents meet the same tumour shunt fractions in the tumour's beds, so
they differ by where the particles lodge, and the model's MAA (10-90 um, uniform: an
unverified range) wedges above the shunts more often than 20-30 um glass; the model has no
MAA breakdown or free pertechnetate, which reach the lungs in the clinic.
"""

from __future__ import annotations

from pathlib import Path

from . import FAST_TERMINAL_DIAMETER_UM, CaseResult, module_main, new_figure, publish, range_case

__all__ = ["run", "PUBLISHED_TN", "RATIO_RANGE"]

#: [Piasecki2015]: mean T/N of nine hypervascular metastases with MAA, Y-90 bremsstrahlung SPECT and Y-90 PET.
PUBLISHED_TN = {"MAA": 2.7, "Y-90 bremsstrahlung": 2.3, "Y-90 PET": 3.6}
#: Y-90 / MAA T/N over the two post-treatment imaging methods.
RATIO_RANGE = (PUBLISHED_TN["Y-90 bremsstrahlung"] / PUBLISHED_TN["MAA"], PUBLISHED_TN["Y-90 PET"] / PUBLISHED_TN["MAA"])
#: Y-90 / MAA lung shunt fraction of the clinical direction ([Torkian2022LSF]: the MAA overestimates; at most 1).
LSF_RATIO_RANGE = (0.0, 1.0)
#: Activity at treatment, GBq: the shipped one, a tenth with ``fast``.
ACTIVITY_GBQ = {True: 0.1, False: 1.0}


def run(out_dir: str | Path, *, fast: bool = False) -> list[CaseResult]:
    """Run the shipped glass scenario and compare its MAA and Y-90 T/N and lung shunt fractions."""
    import sim
    from sim.catalogue import resolve_scenario

    updates = {"agent.activity_gbq": ACTIVITY_GBQ[fast]}
    if fast:
        updates["liver.terminal_diameter_um"] = FAST_TERMINAL_DIAMETER_UM
    scenario = sim.load_scenario(resolve_scenario("sirt_glass_segment5")).with_updates(updates)
    s = sim.run(scenario, progress=False).summary
    ratio = s["sirt_y90_tn"] / s["sirt_maa_tn"]
    lsf_ratio = s["sirt_lung_shunt_fraction"] / s["sirt_maa_lung_shunt_fraction"]
    context = (f"T/N MAA {s['sirt_maa_tn']:.2f}, Y-90 {s['sirt_y90_tn']:.2f}; {s['sirt_spheres_delivered']:,} glass "
               f"spheres, antegrade flow {s['antegrade_flow_fraction']:.0%} at the end; weak: 9 lesions, resin")
    results = [
        range_case("Y-90 / MAA T/N from the same position (glass, A5)", ratio, *RATIO_RANGE,
                   "[Piasecki2015]: 2.3 (bremsstrahlung) and 3.6 (PET) over 2.7 (MAA)",
                   f"{context}. MAA and Y-90 follow the same flow rule in the model, so their ratio is near 1 by "
                   "construction (it departs from 1 only by size and embolisation): a check", role="check"),
        range_case("Y-90 / MAA lung shunt fraction", lsf_ratio, *LSF_RATIO_RANGE,
                   "[Torkian2022LSF]: the MAA lung shunt fraction overestimates the Y-90 lung dose (direction only)",
                   f"LSF MAA {s['sirt_maa_lung_shunt_fraction']:.1%}, Y-90 {s['sirt_lung_shunt_fraction']:.1%}"
                   + ("" if lsf_ratio <= LSF_RATIO_RANGE[1] else
                      "; the model's MAA (10-90 um, uniform) wedges above the tumour's shunts more often than the "
                      "glass, and it has no MAA breakdown or free pertechnetate")
                   + ". The model has no mechanism that lowers the Y-90 shunt below the MAA's, and its MAA wedging "
                   "above the shunts raises the ratio: at the shipped resolution it stays above 1 across procedure "
                   "seeds and livers (a systematic excess, not noise: the published direction reversed); on the fast "
                   "run's coarse liver it is about 1, inside the band by resolution, not by agreement",
                   role="validation"),
    ]
    fig, ax = new_figure(1, 1, size=(6.5, 4))
    a = ax[0, 0]
    names = list(PUBLISHED_TN) + ["embosim MAA", "embosim Y-90"]
    values = list(PUBLISHED_TN.values()) + [s["sirt_maa_tn"], s["sirt_y90_tn"]]
    a.bar(range(len(names)), values, color=["0.75"] * len(PUBLISHED_TN) + ["tab:blue", "tab:orange"])
    a.set_xticks(range(len(names)), names, rotation=20, fontsize=7)
    a.set_ylabel("tumour-to-normal ratio")
    a.set_title("published means ([Piasecki2015], grey) and embosim", fontsize=8)
    return publish(fig, results, out_dir, "sirt_maa_y90", "SIRT: MAA work-up vs Y-90 T/N from the same position")


if __name__ == "__main__":
    raise SystemExit(module_main(run, __doc__.splitlines()[0], "sirt_maa_y90"))
