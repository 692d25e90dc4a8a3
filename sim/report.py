"""The Markdown report of one run (``report.md``): what a trainee reads after ``embosim run``."""

from __future__ import annotations

import math

from .endpoints import ROMAN, stop_reason_words

__all__ = ["render_report"]


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a" if math.isnan(value) else "infinite"
        return f"{value:.3g}"
    return str(value)


_OUTCOMES = (
    ("SACE level at stop (embosim docs endpoints)", "sace_label", ""),
    ("Antegrade flow (fraction of baseline)", "antegrade_flow_fraction", ""),
    ("Contrast clearance time", "clearance_time_cycles", "cardiac cycles"),
    ("Particles injected", "particles_injected", ""),
    ("Settled agent volume", "particle_volume_ml", "mL"),
    ("Particle suspension volume (agent + contrast)", "suspension_volume_ml", "mL"),
    ("Vials of the product", "vials", "vials"),
    ("Particle injection time at the set rate", "injection_time_min", "min"),
    ("Occluded vessels (resolved, holding particles)", "occluded_vessels", ""),
    ("Particles per occluded vessel (mean)", "particles_per_occluded_vessel_mean", ""),
    ("Particles per occluded vessel (median)", "particles_per_occluded_vessel_median", ""),
    ("Longest column", "largest_column_particles", "particles"),
    ("Tumour share of the occluded vessels (mean)", "tumour_occluded_vessel_fraction",
     "fraction (each vessel: the viable tumour share of the tissue it feeds)"),
    ("Particles in tumour", "tumour_particle_fraction", "fraction of injected"),
    ("Tumour/normal deposition ratio (per volume, in the territory)", "tumour_to_normal_deposition_ratio", ""),
    ("Tumour necrosis (expected, graded O2-deficit model: ischaemic only)", "tumour_necrosis_fraction",
     "fraction of tumour volume"),
    ("Normal liver necrosis (expected, graded O2-deficit model: ischaemic only)", "normal_necrosis_fraction",
     "fraction of normal liver"),
    ("Tumour devascularised", "tumour_devascularised_fraction",
     "fraction of tumour volume (threshold read-out: total inflow below outcomes.devascularised_fraction)"),
    ("Tumour blush seen from the catheter (tumour in its territory)", "territory_blush_fraction",
     "of baseline hepatic arterial inflow"),
    ("Remaining tumour blush (all tumours, all arterial feeders)", "tumour_blush_fraction", "of baseline arterial inflow"),
    ("Normal liver that lost its arterial supply", "normal_devascularised_fraction", "fraction of normal liver"),
    ("Normal parenchyma ischaemic (O2 delivery, artery + portal)", "normal_ischaemic_fraction",
     "fraction of normal liver"),
    ("Bile duct (peribiliary) ischaemia", "biliary_ischaemic_fraction", "fraction of peribiliary volume"),
    ("Non-target particles (extrahepatic)", "nontarget_particle_fraction", "fraction of injected"),
    ("Reflux", "reflux_volume_ml", "mL of suspension"),
    ("Contrast run at the end (rate)", "angiogram_rate_final_ml_s", "mL/s (baseline run: {angiogram_rate_baseline_ml_s} mL/s)"),
    ("Contrast reflux in the end-of-procedure angiogram", "angiogram_reflux_ml", "mL of contrast"),
    ("Median lodging generation (from PHA = 0)", "lodging_generation_median", ""),
)


#: Outcomes that are shares of the injected particles: undefined when none was injected (Lipiodol alone), where the
#: summary holds 0 (review 49: "Particles in tumour 0" of no particle).
_PER_PARTICLE = frozenset({"tumour_particle_fraction", "nontarget_particle_fraction"})


def _value(key: str, s: dict) -> str:
    """The value cell of :data:`_OUTCOMES` row ``key``."""
    if key in _PER_PARTICLE and not s["particles_injected"]:
        return "n/a (no particle injected)"
    return _fmt(s[key])


def _unit(unit: str, s: dict) -> str:
    """A unit cell of :data:`_OUTCOMES`, its ``{key}`` fields filled with the summary's values."""
    return unit.format_map({key: _fmt(value) for key, value in s.items()}) if "{" in unit else unit


def _sirt_section(s: dict) -> list[str]:
    """Y-90 runs: the doses and the MAA work-up against the delivered spheres (docs/sirt.md)."""
    if "sirt_y90_tn" not in s:
        return []
    rows = (("T/N (tumour over perfused normal liver, per kg)", "sirt_maa_tn", "sirt_y90_tn"),
            ("Lung shunt fraction", "sirt_maa_lung_shunt_fraction", "sirt_lung_shunt_fraction"),
            ("Left the liver (non-target)", "sirt_maa_nontarget_fraction", "sirt_y90_nontarget_fraction"),
            ("Tumour share of what lodged in the liver", "sirt_maa_tumour_share", "sirt_y90_tumour_share_last_tenth"))
    lines = ["", "## SIRT: doses, and the MAA work-up against the Y-90", "",
             f"{_fmt(s['sirt_activity_delivered_gbq'])} GBq delivered: viable tumour {_fmt(s['sirt_tumour_dose_mean_gy'])}"
             f" Gy mean (D70 {_fmt(s['sirt_tumour_d70_gy'])} Gy, V100 {_fmt(s['sirt_tumour_v100'])}), perfused normal "
             f"liver {_fmt(s['sirt_normal_liver_dose_mean_gy'])} Gy (all normal liver "
             f"{_fmt(s['sirt_normal_liver_dose_whole_gy'])} Gy), lungs {_fmt(s['sirt_lung_dose_gy'])} Gy. "
             + ("Limit checks of the delivered doses, with the severity a plan would have had (the activity was "
                "given: embosim plan checks before): " + "; ".join(s["sirt_limit_findings"]) + "."
                if s["sirt_limit_findings"] else "No dose limit exceeded."), "",
             f"| from the same catheter | MAA work-up ({s['sirt_maa_particles']} particles) | Y-90 |", "|---|---|---|"]
    lines += [f"| {label} | {_fmt(s[maa])} | {_fmt(s[y90])} |" for label, maa, y90 in rows]
    lines += ["", f"Segment shares overlap {_fmt(s['sirt_maa_y90_segment_overlap'])}, compartment shares "
              f"{_fmt(s['sirt_maa_y90_compartment_overlap'])} (1 identical; per compartment mostly the MAA's counting "
              f"noise). The Y-90 tumour share is that of the last tenth of the spheres (the first tenth: "
              f"{_fmt(s['sirt_y90_tumour_share_first_tenth'])}): the MAA has no embolic effect, the spheres slow the "
              "beds they fill. The model has no change of catheter position or injection rate between the two "
              "sessions, which the clinic reports as the larger causes of disagreement (embosim docs sirt)."]
    return lines


def _tace_section(s: dict) -> list[str]:
    """TACE runs: the Lipiodol phase of a cTACE session and the drug of any loaded session (docs/tace.md)."""
    lines = []
    if "lipiodol_volume_ml" in s:
        lines += ["", "## Lipiodol (cTACE)", "",
                  f"{_fmt(s['lipiodol_volume_ml'])} mL of Lipiodol in {_fmt(s['emulsion_volume_ml'])} mL of "
                  f"{s['emulsion_type']} emulsion (droplets {_fmt(s['emulsion_droplet_um'])} um, viscosity "
                  f"{_fmt(s['emulsion_viscosity_mPa_s'])} mPa s){' before the particles' if s['particles_injected'] else ''}: "
                  "tumour "
                  f"{_fmt(s['lipiodol_tumour_ml'])} mL, normal liver {_fmt(s['lipiodol_normal_ml'])} mL (tumour/normal "
                  f"{_fmt(s['lipiodol_tumour_to_normal_ratio'])} per volume; of these two, "
                  f"{_fmt(s['lipiodol_portal_ml'])} mL in the portal venules, portal opacification "
                  f"{_fmt(s['portal_opacification_fraction'])} of the territory), systemic "
                  f"{_fmt(s['lipiodol_systemic_ml'])} mL; in the tumour after 28 days "
                  f"{_fmt(s['lipiodol_tumour_retained_28d_ml'])} mL."]
        # the territory full: a ratio of 1 is the model's limit, and the report says so (review 53)
        if abs(s.get("lipiodol_tumour_to_normal_ratio", 0.0) - 1.0) < 1e-6:
            lines[-1] += (" A tumour/normal ratio of 1 is the model's limit, not a finding: it gives tumour and normal "
                          "tissue the same oil capacity per mL and no tumour-specific retention during the injection, "
                          "so once the territory is full it cannot show the dense tumour opacification of a selective "
                          "cTACE (embosim docs tace).")
        if s.get("lipiodol_pulmonary_risk"):
            from .lipiodol import PULMONARY_RISK_LIPIODOL_ML  # (inside: importing the report loads no Numba)

            lines += ["", f"More than {PULMONARY_RISK_LIPIODOL_ML:g} mL of Lipiodol: a risk factor for symptomatic pulmonary "
                      "oil embolism, 2-5 days after the procedure ([Chung1993PulmonaryOil]: 6 of 14 patients given more; "
                      "[Chung1996TOCEComplications])."]
    if "drug_delivered_mg" in s:
        lines += ["", "## Drug", "",
                  f"{_fmt(s['drug_delivered_mg'])} mg delivered: tumour {_fmt(s['drug_tumour_mg'])} mg "
                  f"({_fmt(s['drug_tumour_fraction'])} of it), normal liver {_fmt(s['drug_normal_mg'])} mg, non-target "
                  f"and systemic {_fmt(s['drug_nontarget_mg'])} mg; release half-life "
                  f"{_fmt(s['drug_release_half_life_h'])} h; exposure tumour "
                  f"{_fmt(s['drug_tumour_exposure_mg_h_per_ml'])}, normal liver "
                  f"{_fmt(s['drug_normal_exposure_mg_h_per_ml'])} mg h/mL. Plasma doxorubicin: peak "
                  f"{_fmt(s['plasma_doxorubicin_peak_ng_ml'])} ng/mL at {_fmt(s['plasma_doxorubicin_peak_time_h'])} h, "
                  f"AUC {_fmt(s['plasma_doxorubicin_auc_ng_h_ml'])} ng h/mL."]
        if s["particles_injected"] and not s.get("lipiodol_volume_ml"):  # beads: the validation's disagreement
            lines[-1] += (" The beads' plasma peak is the model's weak point: it elutes first-order only, with no "
                          "release at injection, and its bead peak is more than 20 times below the published one "
                          "([Varela2007]: 79 ng/mL at 84 mg; embosim docs tace); the AUC agrees better.")
    return lines


def _stopped(s: dict, sc) -> str:
    """The line that says why and after what the injection stopped."""
    oil = f"{_fmt(s['lipiodol_volume_ml'])} mL of Lipiodol, then " if "lipiodol_volume_ml" in s else ""
    if oil and s["particles_injected"] == 0 and s["stop_reason"] == "max_volume":  # the oil alone, given by volume
        return (f"{_fmt(s['lipiodol_volume_ml'])} mL of Lipiodol given (by volume; no particles followed): SACE "
                f"{ROMAN[s['sace_level']]} after it, {100 * s['antegrade_flow_fraction']:.1f}% of the baseline antegrade flow "
                f"({'the endpoint met' if s['endpoint_reached'] else 'the endpoint not met'}).")
    reached = "" if s["stop_reason"] == "endpoint" else (  # ("endpoint reached (endpoint reached)": review 53)
        f" ({'endpoint reached' if s['endpoint_reached'] else 'endpoint not reached'})")
    text = (f"Stopped: **{stop_reason_words(s['stop_reason'])}**{reached} after {oil}"
            f"{s['particles_injected']} particles: {_fmt(s['particle_volume_ml'])} mL of spheres "
            f"({_fmt(s['vials'])} vials), {_fmt(s['suspension_volume_ml'])} mL of suspension, "
            f"{_fmt(s['injection_time_min'])} min at {sc.catheter.rate_ml_min:g} mL/min.")
    if s["stop_reason"] == "packed_to_tip":
        text += (" The columns of spheres reached the catheter tip: the exit a particle took from it was packed and "
                 "the vessel ahead of the tip full, so nothing more can be given from this position (what followed "
                 "could only reflux; the last particle, or cluster, stayed in suspension). "
                 f"The endpoint is read as it stands: SACE {ROMAN[s['sace_level']]} at "
                 f"{100 * s['antegrade_flow_fraction']:.2f}% of the baseline antegrade flow, the packed columns still "
                 f"leaking, with contrast clearing in {_fmt(s['clearance_time_cycles'])} cardiac cycles.")
    if s["stop_reason"] == "endpoint" and s["particles_injected"] == 0:
        text += (" The angiogram before anything was given already met the endpoint (a vessel an earlier session "
                 "left at it): nothing was injected.")
    if s.get("sirt_stopped_early"):
        text += (f" The Y-90 delivery stopped early ({stop_reason_words(s['sirt_stop_reason'])}): "
                 f"{_fmt(s['sirt_activity_delivered_gbq'])} of the {_fmt(s['sirt_activity_prescribed_gbq'])} GBq "
                 f"prescribed.")
    return text


def _of_reference(result) -> str:
    """For a later session (its first row's flow fraction is not 1): what that flow is of the endpoint's reference,
    the vessel before any session's embolic load (docs/endpoints.md); empty for a first session."""
    start = float(result.timeseries["antegrade_flow_fraction"].iloc[0])
    if start == 1.0:
        return ""
    return (f", {_fmt(start)} of its {_fmt(result.summary['antegrade_flow_reference_ml_min'])} mL/min before any "
            "session's embolic load (a later session: the reference of its endpoint, SACE level and blushes, whose "
            "'baseline' is this one)")


def render_report(result) -> str:
    """Markdown report of a :class:`~sim.results.RunResult`."""
    from .selection import assess_patient

    s = result.summary
    sc = result.scenario
    lines = [
        f"# {sc.title}",
        "",
        sc.description or "",
        "",
        f"Catheter in **{sc.catheter.vessel}**, {sc.catheter.outer_diameter_fr:g} Fr, "
        f"{sc.catheter.rate_ml_min:g} mL/min; agent **{s['agent']}**; endpoint **{sc.procedure.endpoint}**.",
        "",
        _stopped(s, sc),
        "",
        "## Outcomes",
        "",
        "| outcome | value | unit |",
        "|---|---|---|",
    ]
    lines += [f"| {label} | {_value(key, s)} | {_unit(unit, s)} |" for label, key, unit in _OUTCOMES]
    lines += ["", "## Non-target deposition by branch", ""]
    if s["nontarget_particles_by_branch"]:
        lines += ["| branch | particles |", "|---|---|"]
        lines += [f"| {name} | {count} |" for name, count in sorted(s["nontarget_particles_by_branch"].items())]
    else:
        lines.append("No particle left the liver.")
    lines += _sirt_section(s)
    lines += _tace_section(s)
    lines += [
        "",
        "## Baseline circulation",
        "",
        f"- Normal liver arterial fraction before the procedure: {_fmt(s['arterial_fraction_pre_procedure'])} (the "
        f"rest from the portal vein; {_fmt(s['arterial_fraction_baseline'])} in the healthy calibration, target "
        f"{sc.flow.normal_arterial_fraction:g}; a thrombosed portal vein and the arterial buffer response raise it).",
        f"- Antegrade flow in {sc.catheter.vessel} before injection: {_fmt(s['antegrade_flow_baseline_ml_min'])} mL/min"
        f"{_of_reference(result)}.",
        f"- Portal vein thrombosis: {sc.portal.thrombosis}.",
        "",
        assess_patient(sc).to_markdown(),  # its own "## Patient selection" heading
        "",
        "## Provenance",
        "",
        f"embosim {s['embosim_version']}, procedure seed {s['seed']}, anatomy seed {sc.liver.seed}, "
        f"run time {_fmt(s.get('run_time_s', float('nan')))} s; {s['lodgings']} lodgings, "
        f"{s['incremental_updates']} incremental flow updates. Definitions: embosim docs outputs.",
        "",
    ]
    return "\n".join(lines)
