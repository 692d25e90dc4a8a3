"""Run the shipped SIRT and TACE scenarios and write the numbers docs/sirt.md and docs/tace.md quote (generated).

Run ``python scripts/therapy_numbers.py`` from the repository root (about 5 minutes on one
core): it runs the shipped scenarios as shipped (seed from the file, shipped resolution)
and the work-ups and plans the docs compare them with, writes every quoted number to
``docs/data/therapy_numbers.json`` and replaces the blocks between the ``therapy:NAME``
markers of docs/sirt.md and docs/tace.md with their rendering. ``--check`` only reports
whether the files are up to date (exit 1 if not).

``tests/test_doc_numbers.py`` checks that each block is the rendering of the data, and
measures one sample afresh (the glass segmentectomy's work-up).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "docs" / "data" / "therapy_numbers.json"
#: Generated blocks: name -> the doc holding it.
BLOCKS = {"sirt-scenarios": ROOT / "docs" / "sirt.md", "sirt-maa-y90": ROOT / "docs" / "sirt.md",
          "sirt-maa-validation": ROOT / "docs" / "sirt.md",
          "sirt-resin": ROOT / "docs" / "sirt.md", "sirt-pvt": ROOT / "docs" / "sirt.md",
          "tace-deb": ROOT / "docs" / "tace.md", "tace-pvt": ROOT / "docs" / "tace.md",
          "tace-biliary": ROOT / "docs" / "tace.md", "tace-seed": ROOT / "docs" / "tace.md"}
#: The particle and cTACE scenarios docs/tace.md compares (the deck's rule "PVT or biliary-enteric anastomosis:
#: consider Lipiodol", and the seed case).
TACE_PAIRS = ("segmental_pvt", "ctace_segmental_pvt", "biliary_enteric_anastomosis", "ctace_biliary_enteric_anastomosis",
              "bulky_segment5_net", "ctace_bulky_segment5_net")
SIRT = ("sirt_glass_segment5", "sirt_high_lung_shunt", "sirt_resin_lobar_bilobar_net", "sirt_main_pvt")
#: Summary keys kept per run (the numbers the blocks quote).
KEYS = ("antegrade_flow_fraction", "clearance_time_cycles", "normal_ischaemic_fraction", "normal_function_loss_fraction",
        "tumour_necrosis_fraction", "particle_volume_ml", "particles_injected",
        "sirt_activity_per_sphere_bq", "sirt_spheres_delivered", "sirt_spheres_prescribed",
        "sirt_activity_delivered_gbq", "sirt_activity_prescribed_gbq", "sirt_aliquots_delivered", "sirt_stop_reason",
        "sirt_tumour_dose_mean_gy", "sirt_tumour_d70_gy", "sirt_tumour_dose_whole_gy", "sirt_normal_liver_dose_mean_gy",
        "sirt_normal_liver_dose_whole_gy", "sirt_lung_dose_gy", "sirt_lung_shunt_fraction", "sirt_limit_findings",
        "sirt_maa_tn", "sirt_y90_tn", "sirt_maa_lung_shunt_fraction", "sirt_maa_segment_shares",
        "sirt_y90_segment_shares", "sirt_maa_y90_segment_overlap", "sirt_maa_y90_compartment_overlap",
        "sirt_maa_tumour_share", "sirt_y90_tumour_share_first_tenth", "sirt_y90_tumour_share_last_tenth",
        "tumour_to_normal_deposition_ratio", "drug_delivered_mg", "drug_tumour_mg", "drug_normal_mg", "drug_nontarget_mg",
        "plasma_doxorubicin_peak_ng_ml", "plasma_doxorubicin_peak_time_h", "normal_necrosis_fraction",
        "biliary_ischaemic_fraction", "lipiodol_tumour_ml", "lipiodol_normal_ml", "lipiodol_systemic_ml")


def _kept(summary: dict) -> dict:
    out = {k: summary[k] for k in KEYS if k in summary}
    branches = summary.get("nontarget_particles_by_branch") or {}
    if "cystic" in branches and summary.get("particles_injected"):
        out["cystic_particle_fraction"] = branches["cystic"] / summary["particles_injected"]
    return {k: (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v) for k, v in out.items()}


def _workup(scenario, liver=None) -> dict:
    from sim.sirt_plan import workup_partition
    from sim.sirt_workup import maa_workup

    w = maa_workup(scenario, liver=liver)
    p = workup_partition(w)
    return {"lsf": w.lung_shunt_fraction, "tn": w.tn_ratio, "perfused_share": w.perfused_share,
            "segments": w.segments_perfused, "tumour_kg": p.tumour_mass_kg, "normal_kg": p.normal_mass_kg}


def tumour_inflows(result, liver) -> dict:
    """The tumour's arterial and portal inflow after the run, each over its baseline
    (:func:`sim.outcomes.tumour_inflow_ratios`)."""
    from sim.outcomes import tumour_inflow_ratios

    art, portal = tumour_inflow_ratios(liver.compiled.compartments, result.state["compartment_flow_baseline_m3s"],
                                       result.state["compartment_flow_final_m3s"])
    return {"tumour_arterial_inflow_ratio": art, "tumour_portal_inflow_ratio": portal}


def measure_glass_workup() -> dict:
    """The glass segmentectomy's MAA work-up (the sample tests/test_doc_numbers.py measures afresh)."""
    import sim
    from sim.catalogue import resolve_scenario

    return {f"sirt_glass_segment5.workup.{k}": v
            for k, v in _workup(sim.load_scenario(resolve_scenario("sirt_glass_segment5"))).items()}


def measure() -> dict:
    """Every quoted number, flat (``run.key``)."""
    import sim
    from sim.anatomy import build_liver
    from sim.catalogue import resolve_scenario
    from sim.dosimetry import body_surface_area_m2, partition_doses
    from sim.sirt_plan import workup_partition
    from sim.sirt_workup import bsa_plan_gbq, maa_workup
    from sim.validation import FAST_TERMINAL_DIAMETER_UM

    values: dict = {}

    def put(prefix: str, d: dict) -> None:
        values.update({f"{prefix}.{k}": v for k, v in d.items()})

    def load(name: str):
        return sim.load_scenario(resolve_scenario(name))

    for name in SIRT:
        s = load(name)
        liver = build_liver(s, progress=False)
        put(name, _kept(sim.run(s, liver=liver, progress=False).summary))
        put(f"{name}.workup", _workup(s, liver))
    values.update(measure_glass_workup())
    resin = load("sirt_resin_lobar_bilobar_net")
    w = maa_workup(resin)
    bsa = body_surface_area_m2(resin.patient.height_m, resin.flow.body_mass_kg)
    p = workup_partition(w)
    planned = resin.agent.activity_gbq
    delivered = values["sirt_resin_lobar_bilobar_net.sirt_activity_delivered_gbq"]
    put("sirt_resin_lobar_bilobar_net.plan", {
        "height_m": resin.patient.height_m, "mass_kg": resin.flow.body_mass_kg, "bsa_m2": bsa,
        "tumour_share": w.tumour_volume_m3 / w.liver_volume_m3, "bsa_gbq": bsa_plan_gbq(resin, w, height_m=resin.patient.height_m),
        **{f"planned_{k}": getattr(partition_doses(planned, p), k) for k in ("tumour_gy", "normal_gy", "lung_gy")},
        **{f"at_delivered_{k}": getattr(partition_doses(delivered, p), k) for k in ("tumour_gy", "normal_gy", "lung_gy")}})
    pvt = load("sirt_main_pvt")
    put("sirt_main_pvt.workup_without_pvt", _workup(pvt.with_updates({"portal.thrombosis": "none"})))
    put("main_pvt", _kept(sim.run(load("main_pvt"), progress=False).summary))
    fast = load("sirt_glass_segment5").with_updates({"agent.activity_gbq": 0.1,
                                                      "liver.terminal_diameter_um": FAST_TERMINAL_DIAMETER_UM})
    put("sirt_glass_segment5.fast", _kept(sim.run(fast, progress=False).summary))
    for name in TACE_PAIRS:
        s = load(name)
        liver = build_liver(s, progress=False)
        result = sim.run(s, liver=liver, progress=False)
        put(name, {**_kept(result.summary), **tumour_inflows(result, liver)})
    deb = load("deb_tace_lobar")
    deb_liver = build_liver(deb, progress=False)
    put("deb_tace_lobar", _kept(sim.run(deb, liver=deb_liver, progress=False).summary))
    put("deb_tace_lobar.300_500", _kept(sim.run(deb.with_updates({"agent.size_bin": "300-500"}), liver=deb_liver,
                                                progress=False).summary))
    drug_mg = values["deb_tace_lobar.drug_delivered_mg"]
    ctace = deb.with_updates({"agent.kind": "lipiodol", "agent.lipiodol_volume_ml": 10.0,
                              "agent.emulsion_doxorubicin_mg": round(drug_mg, 1), "agent.bead_doxorubicin_mg_per_ml": 0.0})
    put("deb_tace_lobar.ctace", {"emulsion_doxorubicin_mg": round(drug_mg, 1),
                                 **_kept(sim.run(ctace, liver=deb_liver, progress=False).summary)})
    return values


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def _segments(shares) -> str:
    from sim.sirt_compare import SEGMENT_NAMES

    return ", ".join(f"{n} {100 * s:.1f}" for n, s in zip(SEGMENT_NAMES, shares) if s >= 0.0005) + "%"


def _findings(findings) -> str:
    return "; ".join(f"`{f}`" for f in findings) if findings else "none"


def render_sirt_scenarios(v: dict) -> str:
    g, h = "sirt_glass_segment5.", "sirt_high_lung_shunt."
    return f"""| scenario | teaching point | run (`embosim run SCENARIO`, shipped resolution, batched delivery) |
|---|---|---|
| `sirt_glass_segment5` | 1 GBq of glass into segment V four days after calibration: {v[g + 'sirt_activity_per_sphere_bq']:.0f} Bq per sphere, {v[g + 'sirt_spheres_delivered'] / 1e6:.2f} million spheres | tumour {v[g + 'sirt_tumour_dose_mean_gy']:.0f} Gy mean (D70 {v[g + 'sirt_tumour_d70_gy']:.0f} Gy), the perfused segment's normal liver {v[g + 'sirt_normal_liver_dose_mean_gy']:.0f} Gy and all normal liver {v[g + 'sirt_normal_liver_dose_whole_gy']:.1f} Gy, lung {v[g + 'sirt_lung_dose_gy']:.1f} Gy (LSF {_pct(v[g + 'sirt_lung_shunt_fraction'])}), flow to {_pct(v[g + 'antegrade_flow_fraction'], 0)}; limit checks: {_findings(v[g + 'sirt_limit_findings'])} |
| `sirt_high_lung_shunt` | a hypervascular tumour shunting 60% of the spheres in its beds: the lung dose limit | LSF {_pct(v[h + 'sirt_lung_shunt_fraction'])}, lung {v[h + 'sirt_lung_dose_gy']:.1f} Gy, perfused normal liver {v[h + 'sirt_normal_liver_dose_mean_gy']:.0f} Gy; limit checks: {_findings(v[h + 'sirt_limit_findings'])}; tumour {v[h + 'sirt_tumour_dose_mean_gy']:.0f} Gy (the treated tumour; `sirt_tumour_dose_whole_gy` {v[h + 'sirt_tumour_dose_whole_gy']:.0f} Gy). The MAA work-up from the same position predicts an LSF of {_pct(v[h + 'workup.lsf'])} (lung {3.0 * v[h + 'workup.lsf'] * 49.73:.1f} Gy at 3 GBq): its larger aggregates wedge above the shunts (below) |
| `sirt_resin_lobar_bilobar_net` | resin, right lobar, BSA activity for bilobar midgut NET: lobar resin ends at slow flow before the planned activity; plan against delivered; the left lobe staged | see below |
| `sirt_main_pvt` | glass, right lobar, in main PVT: radioembolisation instead of TAE (the pair of `main_pvt`) | see below |

`sirt_glass_segment5` is the radiation segmentectomy case: a whole glass dose into one segment's artery, so that
the segment, tumour and normal tissue alike, receives an ablative dose (tumour {v[g + 'sirt_tumour_dose_mean_gy']:.0f} Gy mean) while the rest of the
liver is spared ({_pct(v[g + 'workup.perfused_share'], 0)} of the liver perfused, {v[g + 'workup.segments']} Couinaud segment{'s' if v[g + 'workup.segments'] != 1 else ''}: the 70 Gy normal-liver limit, a lobar and
whole-liver one, gives way to an `info` finding for a treatment of at most two segments,
`sim.dosimetry.SEGMENTAL_MAX_SEGMENTS`)."""


def render_sirt_maa_y90(v: dict) -> str:
    names = ("sirt_glass_segment5", "sirt_high_lung_shunt", "sirt_resin_lobar_bilobar_net")

    def row(label: str, fmt) -> str:
        return f"| {label} | " + " | ".join(fmt(n + ".") for n in names) + " |"

    g, r = "sirt_glass_segment5.", "sirt_resin_lobar_bilobar_net."
    lines = [
        "| | `sirt_glass_segment5` (1 GBq glass, A5) | `sirt_high_lung_shunt` (3 GBq glass, RHA, tumour shunt 0.6) "
        "| `sirt_resin_lobar_bilobar_net` (1.19 GBq resin planned, RHA) |",
        "|---|---|---|---|",
        row("T/N, MAA / Y-90", lambda n: f"{v[n + 'sirt_maa_tn']:.2f} / {v[n + 'sirt_y90_tn']:.2f}"),
        row("lung shunt fraction, MAA / Y-90",
            lambda n: f"{_pct(v[n + 'sirt_maa_lung_shunt_fraction'], 2)} / {_pct(v[n + 'sirt_lung_shunt_fraction'], 2)}"),
        row("per-segment shares, MAA / Y-90",
            lambda n: f"{_segments(v[n + 'sirt_maa_segment_shares'])} / {_segments(v[n + 'sirt_y90_segment_shares'])}"),
        row("segment overlap; compartment overlap",
            lambda n: f"{v[n + 'sirt_maa_y90_segment_overlap']:.3f}; {v[n + 'sirt_maa_y90_compartment_overlap']:.2f}"),
        row("tumour share: MAA; Y-90 first tenth; last tenth",
            lambda n: f"{_pct(v[n + 'sirt_maa_tumour_share'])}; {_pct(v[n + 'sirt_y90_tumour_share_first_tenth'])}; "
                      f"{_pct(v[n + 'sirt_y90_tumour_share_last_tenth'])}"),
        row("antegrade flow at the end", lambda n: _pct(v[n + 'antegrade_flow_fraction'], 0)),
    ]
    tn = [v[n + ".sirt_y90_tn"] / v[n + ".sirt_maa_tn"] for n in names]
    lsf = [v[n + ".sirt_lung_shunt_fraction"] / v[n + ".sirt_maa_lung_shunt_fraction"] for n in names]
    lines += ["", f"""In the model the MAA predicts where the Y-90 goes in the liver well for glass (the Y-90 T/N
{100 * (1 - tn[0]):.0f}% and {100 * (1 - tn[1]):.0f}% below the MAA's; segment shares overlap {v[g + 'sirt_maa_y90_segment_overlap']:.3f} in segment V) and less well for lobar resin (T/N
{100 * (1 - tn[2]):.0f}% lower), and the lung shunt less well: the Y-90 lung shunt fraction is {lsf[0]:.2f}, {lsf[1]:.2f} and {lsf[2]:.2f} times
the MAA's. Where they differ and why, in the model:

- **Size and number.** MAA (10-90 um, uniform) and glass (20-30 um) split alike at the
  bifurcations the flow decides, so the first spheres go where the MAA went (tumour share
  {_pct(v[g + 'sirt_y90_tumour_share_first_tenth'])} against {_pct(v[g + 'sirt_maa_tumour_share'])}). The larger aggregates wedge higher (in resolved vessels rather than beds) and
  4e5 particles over about 2.5e4 perfused compartment parts (tumour and normal) is some 16 per part: the
  per-compartment overlap ({v[g + 'sirt_maa_y90_compartment_overlap']:.2f}, {v['sirt_high_lung_shunt.sirt_maa_y90_compartment_overlap']:.2f}) is mostly the MAA's counting noise, as the figure's
  compartment panel shows (the MAA spreads along its axis far more than the Y-90).
- **Embolic effect.** The spheres load the vessels they lodge in (antegrade flow down to {_pct(v[g + 'antegrade_flow_fraction'], 0)} with
  {v[g + 'sirt_spheres_delivered'] / 1e6:.1f} million glass spheres in A5) and the flow-weighted split sends later spheres away from the beds
  that slowed: the tumour share falls from the first tenth of the spheres to the last by
  {100 * (v[g + 'sirt_y90_tumour_share_first_tenth'] - v[g + 'sirt_y90_tumour_share_last_tenth']):.1f} points (segment V glass). The MAA has no embolic effect. Resin at a lobar activity, which slows the
  flow to a quarter, moves more: the tumour share falls from {_pct(v[r + 'sirt_y90_tumour_share_first_tenth'])} to {_pct(v[r + 'sirt_y90_tumour_share_last_tenth'])}.
- **Shunting.** Both agents meet the same tumour shunt fraction (`tumours.shunt_fraction` or the
  vascularity rule) in the tumour's beds, by one rule (`sirt_deposition.split_deposition`): what wedged in a
  resolved vessel above stopped upstream of the shunts. The MAA's larger aggregates wedge there more
  often than 20-30 um glass, so fewer reach the shunts and the model's MAA lung shunt fraction is
  lower than the Y-90's. This disagrees with the clinic, where the MAA lung shunt fraction
  overestimates the Y-90 lung dose, partly from planar imaging ([Torkian2022LSF]): the model has no
  MAA breakdown or free pertechnetate (which reach the lungs) and takes the MAA sizes uniform over
  10-90 um (an unverified range, [MAAWorkup]); a plan made on the model's MAA under-predicts the
  lung dose the spheres then give (`sirt_high_lung_shunt`)."""]
    return "\n".join(lines)


def render_sirt_maa_validation(v: dict) -> str:
    g, f = "sirt_glass_segment5.", "sirt_glass_segment5.fast."
    tn = v[g + "sirt_y90_tn"] / v[g + "sirt_maa_tn"]
    lsf = v[g + "sirt_lung_shunt_fraction"] / v[g + "sirt_maa_lung_shunt_fraction"]
    lines = ["| comparison | embosim | published | role |", "|---|---|---|---|",
              f"| Y-90 / MAA T/N from the same position (glass, A5) | {tn:.3f} ({v[g + 'sirt_y90_tn']:.2f} / "
              f"{v[g + 'sirt_maa_tn']:.2f}); fast {v[f + 'sirt_y90_tn'] / v[f + 'sirt_maa_tn']:.3f} | 0.85-1.33: 2.3 "
              "(bremsstrahlung) and 3.6 (PET) over 2.7 (MAA), nine lesions ([Piasecki2015]) | check: inside, but by "
              "construction (MAA and Y-90 follow the same flow rule in the model, so their ratio departs from 1 only by "
              "size and embolisation) |",
              f"| Y-90 / MAA lung shunt fraction | {lsf:.3f} ({_pct(v[g + 'sirt_lung_shunt_fraction'])} / "
              f"{_pct(v[g + 'sirt_maa_lung_shunt_fraction'])}); fast "
              f"{v[f + 'sirt_lung_shunt_fraction'] / v[f + 'sirt_maa_lung_shunt_fraction']:.3f} | at most 1: the MAA "
              "lung shunt fraction overestimates the Y-90 lung dose ([Torkian2022LSF], direction only) | validation: "
              + ("inside, not in agreement" if lsf <= 1.0 else "disagrees") + ": the model has no mechanism that lowers "
              "the Y-90 shunt below the MAA's (no MAA breakdown or free pertechnetate), and its MAA wedges above the "
              "shunts more often than the glass, which raises the ratio (above 1 across seeds and livers at the shipped "
              "resolution; about 1 on the fast run's coarse liver); reported, not tuned |"]
    return "\n".join(lines)


def render_sirt_resin(v: dict) -> str:
    r, p = "sirt_resin_lobar_bilobar_net.", "sirt_resin_lobar_bilobar_net.plan."
    w = r + "workup."
    return f"""The patient of `bilobar_midgut_net` (tumours in VIII, VI, II, III; {_pct(v[p + 'tumour_share'])} of the liver), treated
with resin from the RHA at the activity of the BSA method ([Kao2011BSA]): `patient.height_m` {v[p + 'height_m']:.2f} m and
`flow.body_mass_kg` {v[p + 'mass_kg']:.0f} kg give {v[p + 'bsa_m2']:.2f} m^2; the MAA work-up (`sim.sirt_workup.maa_workup`) gives the
RHA's perfused share, {_pct(v[w + 'perfused_share'])}, and a lung shunt of {_pct(v[w + 'lsf'])} (no reduction), so A = (({v[p + 'bsa_m2']:.2f} - 0.2) + {v[p + 'tumour_share']:.3f}) x
{v[w + 'perfused_share']:.3f} = {v[p + 'bsa_gbq']:.2f} GBq (`sim.sirt_workup.bsa_plan_gbq`; `tests/test_sirt_scenarios.py` checks the file's
{v[r + 'sirt_activity_prescribed_gbq']:.2f} GBq against it). Resin is given in aliquots of 10% with a contrast check after each; the
scenario's stop is `procedure.endpoint = "near_stasis"` (model assumption for "stop at slow flow").

Run (`embosim run sirt_resin_lobar_bilobar_net`, shipped resolution): the injection stopped after
{v[r + 'sirt_aliquots_delivered']:.0f} aliquots (`sirt_stop_reason = "{v[r + 'sirt_stop_reason']}"`, flow {_pct(v[r + 'antegrade_flow_fraction'], 0)} of baseline, clearance
{v[r + 'clearance_time_cycles']:.1f} cardiac cycles): {v[r + 'sirt_activity_delivered_gbq']:.3f} of the planned {v[r + 'sirt_activity_prescribed_gbq']:.2f} GBq ({v[r + 'sirt_spheres_delivered'] / 1e6:.1f} of
{v[r + 'sirt_spheres_prescribed'] / 1e6:.1f} million spheres). Plan against delivered (partition model on the work-up: right-lobe
tumours {1000 * v[w + 'tumour_kg']:.0f} g, perfused normal liver {v[w + 'normal_kg']:.2f} kg, MAA T/N {v[w + 'tn']:.2f}):

| | planned, {v[r + 'sirt_activity_prescribed_gbq']:.2f} GBq | partition model at the delivered {v[r + 'sirt_activity_delivered_gbq']:.3f} GBq | delivered (run) |
|---|---|---|---|
| right-lobe tumour, mean | {v[p + 'planned_tumour_gy']:.0f} Gy | {v[p + 'at_delivered_tumour_gy']:.0f} Gy | {v[r + 'sirt_tumour_dose_mean_gy']:.1f} Gy (`sirt_tumour_dose_mean_gy`; {v[r + 'sirt_tumour_dose_whole_gy']:.1f} Gy over all tumours, the untreated left-lobe ones included: `sirt_tumour_dose_whole_gy`) |
| perfused normal liver, mean | {v[p + 'planned_normal_gy']:.0f} Gy | {v[p + 'at_delivered_normal_gy']:.0f} Gy | {v[r + 'sirt_normal_liver_dose_mean_gy']:.1f} Gy |
| lungs | {v[p + 'planned_lung_gy']:.2f} Gy | {v[p + 'at_delivered_lung_gy']:.2f} Gy | {v[r + 'sirt_lung_dose_gy']:.2f} Gy (LSF {_pct(v[r + 'sirt_lung_shunt_fraction'], 2)}) |

{_pct(v[r + 'cystic_particle_fraction'])} of the spheres went down the cystic artery, which arises from the RHA on this anatomy
(`nontarget_particles_by_branch`)."""


def render_sirt_pvt(v: dict) -> str:
    t, s = "main_pvt.", "sirt_main_pvt."
    w, wo = s + "workup.", s + "workup_without_pvt."
    return f"""| (shipped resolution) | `main_pvt` (100-300 um to stasis) | `sirt_main_pvt` (2.6 GBq glass) |
|---|---|---|
| antegrade flow at the end | {_pct(v[t + 'antegrade_flow_fraction'], 0)} | {_pct(v[s + 'antegrade_flow_fraction'], 0)} |
| `normal_ischaemic_fraction` | {v[t + 'normal_ischaemic_fraction']:.2f} | {v[s + 'normal_ischaemic_fraction']:.2g} |
| `normal_function_loss_fraction` | {v[t + 'normal_function_loss_fraction']:.2f} | {v[s + 'normal_function_loss_fraction']:.2g} |
| `tumour_necrosis_fraction` (ischaemic) | {v[t + 'tumour_necrosis_fraction']:.2f} | {v[s + 'tumour_necrosis_fraction']:.2g} (the tumour is killed by its dose instead: {v[s + 'sirt_tumour_dose_mean_gy']:.0f} Gy mean) |
| perfused normal liver dose | - | {v[s + 'sirt_normal_liver_dose_mean_gy']:.0f} Gy; limit checks: {_findings(v[s + 'sirt_limit_findings'])} (dose T/N {v[s + 'sirt_y90_tn']:.2f}: the buffer response sends the artery's flow to the normal liver) |
| lung shunt fraction | - | MAA {_pct(v[w + 'lsf'], 2)} ({_pct(v[wo + 'lsf'], 2)} without PVT; T/N {v[w + 'tn']:.2f} against {v[wo + 'tn']:.2f}); run {_pct(v[s + 'sirt_lung_shunt_fraction'], 2)}, lung {v[s + 'sirt_lung_dose_gy']:.1f} Gy (the tumour's shunt doubled by the PVT; the lobe's LSF rises less, since the tumour takes a smaller share of the flow) |

The necrosis read-outs are the ischaemic model's (docs/endpoints.md): radiation injury is
read from the doses, not from them. {_pct(v[s + 'cystic_particle_fraction'])} of the spheres went down the cystic artery, which
arises from the RHA on this anatomy: the non-target risk of a lobar injection proximal to it
(`nontarget_particles_by_branch`)."""


def _share(v: dict, run: str, part: str) -> str:
    return _pct(v[f"{run}drug_{part}_mg"] / v[f"{run}drug_delivered_mg"])


def render_tace_deb(v: dict) -> str:
    d, b, c = "deb_tace_lobar.", "deb_tace_lobar.300_500.", "deb_tace_lobar.ctace."
    return f"""`deb_tace_lobar` runs the lobar case (RHA, 100-300 um, 25 mg/mL, to sluggish flow; seed
0, shipped resolution): sluggish flow takes {v[d + 'particle_volume_ml']:.2f} mL of beads, so {v[d + 'drug_delivered_mg']:.1f} mg of
doxorubicin (less than a vial's 50 mg), of which {_share(v, d, 'tumour')} lies in the tumour (the beads'
tumour share), {_share(v, d, 'normal')} in normal liver and {_share(v, d, 'nontarget')} in non-target branches; the plasma peak is
{v[d + 'plasma_doxorubicin_peak_ng_ml']:.2g} ng/mL, {v[d + 'plasma_doxorubicin_peak_time_h'] / 24:.0f} days after the injection. With 300-500 um beads sluggish flow takes
{v[b + 'particle_volume_ml']:.2f} mL ({v[b + 'drug_delivered_mg']:.1f} mg, {_share(v, b, 'tumour')} in the tumour). A cTACE of the same {v[c + 'emulsion_doxorubicin_mg']:.1f} mg
from the RHA (10 mL of Lipiodol, no particles) peaks at {v[c + 'plasma_doxorubicin_peak_ng_ml']:.0f} ng/mL {60 * v[c + 'plasma_doxorubicin_peak_time_h']:.0f} minutes after the
injection, with {_share(v, c, 'tumour')} of the drug in the tumour and normal-liver necrosis {v[c + 'normal_necrosis_fraction']:.3f} (the
sinusoids keep draining, above)."""


def render_tace_pvt(v: dict) -> str:
    p, c = "segmental_pvt.", "ctace_segmental_pvt."
    return f"""With P5 thrombosed the segment V tumour draws its small portal share through the
collaterals, and its drainage runs into the portal venules. Particles close its
arteries (the tumour's arterial inflow to {_pct(v[p + 'tumour_arterial_inflow_ratio'], 0)} of baseline); its drainage then reverses
into supply and its portal inflow rises to {v[p + 'tumour_portal_inflow_ratio']:.1f} times baseline. Lipiodol fills the
portal venules behind the thrombus as well (through the sinusoids and the plexus), and
the tumour's vascular spaces keep their oil, so its portal inflow rises only to
{v[c + 'tumour_portal_inflow_ratio']:.1f} times baseline while the arterial inflow falls to {_pct(v[c + 'tumour_arterial_inflow_ratio'], 0)}: the oil embolises
the tumour's portal side, which particles cannot reach. (Inflows: into every
compartment, weighted by the viable tumour's share of it, positive portal inflow only,
after the run over before it.) This is the mechanism ultraselective cTACE relies on
[Miyayama2019Ultraselective]. In this case the tumour's portal share is small and
both kill the tumour (tumour necrosis {v[p + 'tumour_necrosis_fraction']:.2f} with particles, {v[c + 'tumour_necrosis_fraction']:.2f} with the oil),
and both infarct the segment's normal liver, which lives on its artery once its portal
branch is thrombosed (normal necrosis {v[p + 'normal_necrosis_fraction']:.3f} and {v[c + 'normal_necrosis_fraction']:.3f})."""


def render_tace_biliary(v: dict) -> str:
    p, c = "biliary_enteric_anastomosis.", "ctace_biliary_enteric_anastomosis."
    return f"""Bile ducts live on the peribiliary arterial plexus alone. Particles to stasis
occlude the arteries that feed the plexus: `biliary_ischaemic_fraction` {v[p + 'biliary_ischaemic_fraction']:.3f}.
Lipiodol crosses the plexus into the portal venules and leaves its arterioles open
(model assumption): {v[c + 'biliary_ischaemic_fraction']:.3f}, while the tumour is still embolised (tumour necrosis
{v[c + 'tumour_necrosis_fraction']:.2f} vs {v[p + 'tumour_necrosis_fraction']:.2f} with particles, which leave the tumour its portal supply)."""


def render_tace_seed(v: dict) -> str:
    p, c = "bulky_segment5_net.", "ctace_bulky_segment5_net."
    return f"""3 mL of Lipiodol then temporary 300-500 um particles to stasis. The oil fills the
segment, tumour first ({v[c + 'lipiodol_tumour_ml']:.2f} mL in the tumour, {v[c + 'lipiodol_normal_ml']:.1f} mL in normal liver, {v[c + 'lipiodol_systemic_ml']:.2f} mL on to
the hepatic veins), opacifies its portal venules and closes the tumour's portal side
(the tumour's portal inflow {v[c + 'tumour_portal_inflow_ratio']:.2f} of baseline vs {v[p + 'tumour_portal_inflow_ratio']:.2f} with bland particles, as above):
tumour necrosis {v[c + 'tumour_necrosis_fraction']:.2f} vs {v[p + 'tumour_necrosis_fraction']:.2f}. The price is normal liver: the oil in the normal
segment's portal venules and the particles after it leave it little supply, and normal
necrosis is {v[c + 'normal_necrosis_fraction']:.3f} vs {v[p + 'normal_necrosis_fraction']:.3f} (cTACE is known to injure the liver more than
bead-based TACE [Miyayama2020Strategy]; here the effect is read as permanent, see
Washout)."""


RENDER = {"sirt-scenarios": render_sirt_scenarios, "sirt-maa-y90": render_sirt_maa_y90,
          "sirt-maa-validation": render_sirt_maa_validation, "sirt-resin": render_sirt_resin,
          "sirt-pvt": render_sirt_pvt, "tace-deb": render_tace_deb, "tace-pvt": render_tace_pvt,
          "tace-biliary": render_tace_biliary, "tace-seed": render_tace_seed}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- therapy:{name}:begin (scripts/therapy_numbers.py) -->", f"<!-- therapy:{name}:end -->"


def render(name: str, values: dict) -> str:
    begin, end = markers(name)
    return f"{begin}\n{RENDER[name](values)}\n{end}"


def documented_block(text: str, name: str) -> str:
    """The block ``name`` as it stands in ``text``."""
    from sim.io import marked_block

    return marked_block(text, *markers(name))


def data_text(values: dict) -> str:
    return json.dumps(dict(sorted(values.items())), indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the docs and their data are up to date")
    parser.add_argument("--render-only", action="store_true", help="render the docs from the data file, measure nothing")
    args = parser.parse_args(argv)
    from sim.io import update_generated

    values = json.loads(DATA.read_text(encoding="utf-8")) if args.render_only else measure()
    command = "python scripts/therapy_numbers.py"
    status = 0 if args.render_only else update_generated(DATA, data_text(values), check=args.check, command=command)
    for doc in sorted(set(BLOCKS.values())):
        text = doc.read_text(encoding="utf-8")
        for name, where in BLOCKS.items():
            if where == doc:
                text = text.replace(documented_block(text, name), render(name, values))
        status = max(status, update_generated(doc, text, check=args.check, command=command))
    return status


if __name__ == "__main__":
    sys.exit(main())
