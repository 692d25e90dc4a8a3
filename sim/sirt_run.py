"""The SIRT read-outs of a Y-90 run: activity where the spheres lodged, doses, DVH table (SI inside).

From the spheres one procedure delivered (the exact sequence, :func:`sim.procedure.run_procedure`,
which stops at the prescribed activity's spheres) and each sphere's activity at treatment time
(:meth:`sim.agents.Agent.activity_per_sphere_bq`):

- a sphere in a compartment's bed deposits its activity in that compartment, split between its
  viable tumour and normal parts by volume (spheres do not reach a necrotic core);
- a sphere lodged in a resolved pedicle vessel, or in a peribiliary bed, irradiates the tissue
  that vessel (the node the bed hangs from) feeds, spread over its compartments by volume (local
  deposition: the betas' 2.5-4 mm mean range, [EANM2021], spans several terminal territories);
- of the spheres in the beds of a tumour's part of a compartment, the tumour's shunt fraction
  (:func:`sim.sirt_workup.tumour_shunt_fractions`) passes arteriovenous shunts to the lungs
  (counted after the procedure: their embolic effect is kept in the liver, a small
  overestimate at a few % of spheres); those wedged in a resolved vessel stopped upstream of
  the shunts (the MAA work-up's rule, :func:`sim.sirt_deposition.split_deposition`);
- spheres in a non-target branch or a named vessel are reported as activity there, not dosed.

Doses: :func:`sim.sirt_dose.doses_from_deposition`; masses at 1.0 kg/L ([ICRP89]). With ``sirt.dose_model = "kernel"``
each part is dosed with the activity whose local deposition gives the energy the Y-90 point kernel puts in it
(:mod:`sim.y90_kernel`: cross-fire, escape from the surface). The lobule-scale heterogeneity inside each part
(:mod:`sim.sirt_micro`) gives the ``sirt_*_fraction_under_*`` keys. The normal liver of the
read-outs are the catheter's territory (the partition model's perfused tumour and normal liver: a lobar treatment
is judged on the tumours it treats), with the whole liver's means beside them. Summary keys
(``sirt_*``, docs/outputs.md) and the DVH table (``dvh.csv``: one row per compartment part).
"""

from __future__ import annotations

import numpy as np

from .dosimetry import PartitionDoses, check_plan
from .sirt_deposition import compartment_amounts, split_deposition, tissue_masses
from .sirt_dose import TUMOUR_DOSE_THRESHOLD_GY, TUMOUR_DVH_SHARE, dose_at_volume, doses_from_deposition, dvh, volume_at_dose
from .sirt_micro import micro_readouts
from .sirt_workup import segments_perfused, tumour_shunt_fractions
from .y90 import DOSE_GY_KG_PER_GBQ, GBQ_BQ

__all__ = ["sirt_readouts", "nontarget_findings",
           "NONTARGET_FINDING_SHARE", "TUMOUR_DVH_SHARE",
           "TUMOUR_DOSE_THRESHOLD_GY"]


def _dosing_activity(model: str, liver, tumour_bq: np.ndarray, normal_bq: np.ndarray, m_t: np.ndarray,
                     m_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The activity each compartment part is dosed with (Bq): its own with local deposition; with the kernel, the
    activity whose local deposition gives the energy the part absorbs (its own less what escapes, plus cross-fire)."""
    if model == "local":
        return tumour_bq, normal_bq
    from .y90_kernel import kernel_compartment_doses

    d_t, d_n = kernel_compartment_doses(liver, tumour_bq, normal_bq)
    to_bq = GBQ_BQ / DOSE_GY_KG_PER_GBQ
    return d_t * m_t * to_bq, d_n * m_n * to_bq


#: Share of the delivered activity that, leaving through one non-target branch, is named among the findings, 1
#: (model assumption: a teaching threshold; smaller shares are in the summary's counts but not named).
NONTARGET_FINDING_SHARE = 0.01


def nontarget_findings(by_branch_bq: dict[str, float], delivered_bq: float) -> list[str]:
    """``info`` findings for the branches that took at least ``NONTARGET_FINDING_SHARE`` of the delivered activity.

    The cystic artery's says what the clinic sees: the gallbladder is irradiated, imaging changes are common and
    clinically significant radiation cholecystitis rare (0.8% of 133 patients, [Sag2014Gallbladder]); injecting
    distal to its origin, or embolising it first ([McWilliams2011Cystic]), avoids it.
    """
    out = []
    for name, bq in sorted(by_branch_bq.items(), key=lambda item: -item[1]):
        share = bq / delivered_bq if delivered_bq > 0 else 0.0
        if share < NONTARGET_FINDING_SHARE:
            continue
        text = f"info: {bq / GBQ_BQ:.2f} GBq ({share:.1%} of the activity) left through the {name} branch (non-target)"
        if name == "cystic":
            text += ("; the gallbladder is irradiated: imaging changes are common, clinically significant radiation "
                     "cholecystitis about 1%; inject distal to the cystic origin or embolise it first")
        out.append(text)
    return out


def sirt_readouts(scenario, liver, ps, n_injected: int, agent, in_territory: np.ndarray | None = None,
                  sink_names: tuple[str, ...] = ()) -> tuple[dict, "object", tuple[np.ndarray, np.ndarray]]:
    """The ``sirt_*`` summary keys, the DVH table (pandas) of a Y-90 run, and the activities its doses come from.

    Parameters
    ----------
    scenario : Scenario
    liver : CompiledLiver
        The liver the procedure ran on.
    ps : ProcedureState
        The procedure's final state (``lodged_ped``, ``lodged_comp``, ``lodged_trunk``, ``nontarget``).
    n_injected : int
        Spheres injected.
    agent : Agent
        The Y-90 agent.
    in_territory : bool (M,), optional
        Pedicle nodes fed through the catheter at baseline (:func:`sim.procedure.territory`): the tumour and normal
        liver of the mean doses, the D/V figures, the lobule fractions and the DVH are those of the territory (the
        partition model's perfused compartments); ``sirt_tumour_dose_whole_gy`` and
        ``sirt_normal_liver_dose_whole_gy`` are over all viable tumour and all normal liver. All nodes when omitted.
    sink_names : tuple of str
        The non-target branches, in the order of ``ps.nontarget`` (their activity's findings,
        :func:`nontarget_findings`).

    Returns
    -------
    (dict, pandas.DataFrame, (ndarray, ndarray))
        The summary keys, the DVH table, and the activity (Bq, (C,) each) each compartment's viable tumour and normal
        liver is dosed with: what lodged there (``local``) or its kernel equivalent (``kernel``); the doses of the
        figures (:func:`sim.sirt_compare.sirt_comparison`) come from them too.
    """
    import pandas as pd

    comps = liver.compartments
    per_sphere = agent.activity_per_sphere_bq()
    tumour, normal, lung = split_deposition(comps, *compartment_amounts(liver, ps.lodged_ped, ps.lodged_comp),
                                            tumour_shunt_fractions(scenario))
    tumour_bq, normal_bq, lung_bq = tumour * per_sphere, normal * per_sphere, float(lung.sum()) * per_sphere
    m_t, m_n_all = tissue_masses(comps)
    perfused = np.ones(comps.n, bool) if in_territory is None else np.asarray(in_territory, bool)[comps.node]
    m_t_all = m_t
    m_t, m_n = np.where(perfused, m_t_all, 0.0), np.where(perfused, m_n_all, 0.0)
    dose_t_bq, dose_n_bq = _dosing_activity(scenario.sirt.dose_model, liver, tumour_bq, normal_bq, m_t_all, m_n_all)
    whole = doses_from_deposition(dose_t_bq, dose_n_bq, m_t_all, m_n_all)
    d = doses_from_deposition(np.where(perfused, dose_t_bq, 0.0), np.where(perfused, dose_n_bq, 0.0), m_t, m_n,
                              lung_activity_bq=lung_bq)
    liver_bq = float(tumour_bq.sum() + normal_bq.sum())
    findings = check_plan(PartitionDoses(tumour_gy=d.mean_tumour_gy, normal_gy=d.mean_normal_gy, lung_gy=d.lung_gy,
                                         tumour_gbq=tumour_bq.sum() / GBQ_BQ, normal_gbq=normal_bq.sum() / GBQ_BQ,
                                         lung_gbq=lung_bq / GBQ_BQ),
                          prior_lung_gy=scenario.patient.prior_lung_dose_gy,
                          segments_perfused=segments_perfused(liver, in_territory))
    summary = {
        "sirt_activity_prescribed_gbq": agent.activity_bq / GBQ_BQ,
        "sirt_activity_delivered_gbq": n_injected * per_sphere / GBQ_BQ,
        "sirt_spheres_prescribed": float(agent.prescribed_spheres()),
        "sirt_spheres_delivered": int(n_injected),
        "sirt_activity_per_sphere_bq": per_sphere,
        "sirt_activity_liver_gbq": liver_bq / GBQ_BQ,
        "sirt_activity_lung_gbq": lung_bq / GBQ_BQ,
        "sirt_activity_nontarget_gbq": float(ps.nontarget.sum()) * per_sphere / GBQ_BQ,
        "sirt_activity_named_vessels_gbq": float(ps.lodged_trunk.sum()) * per_sphere / GBQ_BQ,
        "sirt_lung_shunt_fraction": lung_bq / (lung_bq + liver_bq) if lung_bq + liver_bq > 0 else 0.0,
        "sirt_lung_dose_gy": d.lung_gy,
        "sirt_tumour_dose_mean_gy": d.mean_tumour_gy,
        "sirt_normal_liver_dose_mean_gy": d.mean_normal_gy,
        "sirt_normal_liver_dose_whole_gy": whole.mean_normal_gy,
        "sirt_tumour_dose_whole_gy": whole.mean_tumour_gy,
        "sirt_tumour_d70_gy": dose_at_volume(d.tumour_gy, m_t, TUMOUR_DVH_SHARE) if m_t.sum() > 0 else float("nan"),
        "sirt_tumour_v100": volume_at_dose(d.tumour_gy, m_t, TUMOUR_DOSE_THRESHOLD_GY),
        "sirt_limit_findings": [f"{f.level}: {f.message}" for f in findings] + nontarget_findings(
            {name: float(ps.nontarget[k]) * per_sphere for k, name in enumerate(sink_names)}, n_injected * per_sphere),
        "sirt_dose_model": scenario.sirt.dose_model,
        "sirt_absorbed_energy_fraction": float((dose_t_bq.sum() + dose_n_bq.sum()) / (tumour_bq.sum() + normal_bq.sum()))
        if tumour_bq.sum() + normal_bq.sum() > 0 else 1.0,
        **micro_readouts(d.tumour_gy, m_t, d.normal_gy, m_n, per_sphere, scenario.sirt),
    }
    rows = []
    for region, dose, mass in (("tumour", d.tumour_gy, m_t), ("normal_liver", d.normal_gy, m_n)):
        idx, dose_sorted, at_least = dvh(dose, mass)
        rows.append(pd.DataFrame({"region": region, "compartment": idx, "mass_g": mass[idx] * 1e3,
                                  "dose_gy": dose_sorted, "mass_fraction_at_least": at_least}))
    return summary, pd.concat(rows, ignore_index=True), (dose_t_bq, dose_n_bq)
