"""MAA versus Y-90 from the same catheter position: where the two distributions differ, and why (SI inside).

A Y-90 run (:mod:`sim.sirt_run`) also routes the work-up's Tc-99m MAA (:func:`sim.sirt_workup.maa_workup`, same
scenario, same liver, same catheter, its own seeded stream) and compares the two per-compartment distributions,
each split by one rule (:func:`sim.sirt_deposition.split_deposition`: by volume between viable tumour and normal liver,
each tumour's shunt fraction to the lungs) and read the same way:

- T/N: concentration (amount per kg) in all viable tumour over that in the normal liver of the catheter's
  territory, i.e. the ratio of the partition model's mean tumour and perfused normal-liver doses
  (``sirt_y90_tn`` equals ``sirt_tumour_dose_mean_gy / sirt_normal_liver_dose_mean_gy``);
- each Couinaud segment's share of what lodged in liver tissue, and their overlap
  (1 - half the L1 distance of the two share vectors: 1 identical, 0 disjoint);
- the lung shunt fraction, lung / (lung + liver), and the share of the injected particles that left through a
  non-target branch;
- the viable-tumour share of the liver-lodged Y-90 spheres among the first and last tenth injected, beside the
  MAA's: the MAA and the first spheres meet the same untouched field (their difference is size and number),
  the last spheres meet the field the earlier ones embolised (their difference from the first is the embolic
  effect).

Why they differ in the model: MAA (10-90 um, 4e5 particles, [MAAWorkup]) is routed on the fixed baseline field
(no embolic effect) and its larger aggregates wedge higher in the tree; the spheres (20-30 um glass or 20-60 um
resin, 1e6-4e7) load the vessels they lodge in, so late spheres are redirected from a tumour bed that slows down
(stasis, reflux; the flow-dependent split of :mod:`sim.kernels`). Not modelled, and in the clinic often larger:
a different catheter tip position or injection rate between the two sessions, vasospasm, MAA break-down and
the imaging (SPECT partial volume, [Keane2021Scout]). Published: mean T/N 2.7 with MAA, 2.3 (bremsstrahlung) and
3.6 (Y-90 PET) after treatment, nine lesions ([Piasecki2015]).
"""

from __future__ import annotations

import numpy as np

from .sirt_deposition import Distribution, compartment_amounts, split_deposition, tissue_masses, tn_ratio

__all__ = ["EARLY_LATE_SHARE", "SEGMENT_NAMES", "compartment_segments", "segment_shares",
           "share_overlap", "tumour_share_by_order", "sirt_comparison"]

#: Couinaud segments, in the order of ``TissuePoints.segment`` (0-7).
SEGMENT_NAMES = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII")
#: Share of the delivered spheres whose tumour share is read at the start and at the end of the injection.
EARLY_LATE_SHARE = 0.1


def compartment_segments(points, n_compartments: int) -> np.ndarray:
    """Couinaud segment (0-7) of each compartment: the one most of its tissue points lie in; -1 with no point, (C,)."""
    counts = np.bincount(points.compartment * len(SEGMENT_NAMES) + points.segment.astype(np.int64),
                         minlength=n_compartments * len(SEGMENT_NAMES)).reshape(n_compartments, len(SEGMENT_NAMES))
    return np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), -1).astype(np.int8)


def segment_shares(amount: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Each segment's share of ``amount`` (summed over the compartments with a segment), (8,); zeros when empty."""
    keep = segments >= 0
    per = np.bincount(segments[keep].astype(np.int64), weights=amount[keep], minlength=len(SEGMENT_NAMES))
    total = per.sum()
    return per / total if total > 0 else per


def share_overlap(p: np.ndarray, q: np.ndarray) -> float:
    """1 - half the L1 distance of two share vectors (each summing to 1): 1 identical, 0 disjoint; NaN when either is
    empty (all zeros: nothing deposited, e.g. a later session that gave no sphere)."""
    p, q = np.asarray(p), np.asarray(q)
    if not (p.sum() > 0 and q.sum() > 0):
        return float("nan")
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def tumour_share_by_order(fate: np.ndarray, where: np.ndarray, node_share: np.ndarray, comp_share: np.ndarray,
                          share: float = EARLY_LATE_SHARE) -> tuple[float, float]:
    """Viable-tumour share of the liver-lodged particles among the first and the last ``share`` of those injected.

    Parameters
    ----------
    fate, where : ndarray of int64, (P,)
        Per particle in injection order (:mod:`sim.kernels.transport` fates).
    node_share, comp_share : ndarray of float64
        Viable tumour share of the tissue a vessel feeds and of a compartment
        (:func:`sim.outcomes.tumour_share_of_lodgings`).
    share : float
        Share of the particles in each window, (0, 0.5].
    """
    from .kernels import transport as tk

    tumour = np.full(fate.shape, np.nan)
    vessel, comp = fate == tk.FATE_VESSEL, fate == tk.FATE_COMPARTMENT
    tumour[vessel] = node_share[where[vessel]]
    tumour[comp] = comp_share[where[comp]]
    n = max(1, int(round(share * fate.size)))

    def mean(part: np.ndarray) -> float:
        part = part[np.isfinite(part)]
        return float(part.mean()) if part.size else float("nan")

    return mean(tumour[:n]), mean(tumour[-n:])


def sirt_comparison(scenario, liver, flow_liver, ps, agent, in_territory: np.ndarray, fate: np.ndarray,
                    where: np.ndarray, dosing: tuple[np.ndarray, np.ndarray]) -> tuple[dict, dict]:
    """The MAA versus Y-90 summary keys and the per-compartment arrays figures need, for a Y-90 run.

    Parameters
    ----------
    scenario : Scenario
    liver : Liver
        The run's liver (the work-up is routed on it).
    flow_liver : CompiledLiver
        The liver with the catheter placed (``LiverFlow.liver``).
    ps : ProcedureState
        The procedure's final state (``lodged_ped``, ``lodged_comp``).
    agent : Agent
        The Y-90 agent.
    in_territory : ndarray of bool, (pedicle nodes,)
        Nodes fed through the catheter at baseline.
    fate, where : ndarray of int64, (P,)
        The delivered spheres' fates in injection order.
    dosing : (ndarray, ndarray)
        The activity (Bq, (C,) each) each compartment's viable tumour and normal liver is dosed with
        (:func:`sim.sirt_run.sirt_readouts`, with its ``sirt.dose_model``): ``sirt_y90_tn`` and the doses of the
        figures come from it, so they are the summary's.

    Returns
    -------
    (dict, dict)
        Summary keys (``sirt_maa_*``, ``sirt_y90_*``; docs/outputs.md) and the arrays kept in the run's state as
        ``state["sirt"]`` (per compartment: doses in Gy, masses in kg, MAA particles, segment, perfused).
    """
    from .kernels import transport as tk
    from .outcomes import tumour_share_of_lodgings
    from .sirt_dose import doses_from_deposition
    from .sirt_workup import maa_workup, tumour_shunt_fractions

    comps = flow_liver.compartments
    shunts = tumour_shunt_fractions(scenario)
    per_sphere = agent.activity_per_sphere_bq()
    tumour, normal, lung = split_deposition(comps, *compartment_amounts(flow_liver, ps.lodged_ped, ps.lodged_comp),
                                            shunts)
    y90 = Distribution(tumour * per_sphere, normal * per_sphere, float(lung.sum()) * per_sphere)
    workup = maa_workup(scenario, liver=liver)
    tumour, normal, lung = split_deposition(comps, workup.compartment_bed_particles, workup.compartment_particles,
                                            shunts)
    maa = Distribution(tumour, normal, float(lung.sum()))
    m_t, m_n = tissue_masses(comps)
    perfused = np.asarray(in_territory, bool)[comps.node] & (comps.kind == 0)
    segments = compartment_segments(flow_liver.points, comps.n)
    shares = {name: segment_shares(d.liver, segments) for name, d in (("maa", maa), ("y90", y90))}
    node_share, comp_share = tumour_share_of_lodgings(comps, np.asarray(flow_liver.forest.parent, np.int64))
    first, last = tumour_share_by_order(fate, where, node_share, comp_share)
    maa_lodged = workup.compartment_particles[comps.kind == 0]
    maa_tumour_share = float((workup.compartment_particles * comp_share).sum() / maa_lodged.sum()) \
        if maa_lodged.sum() > 0 else float("nan")
    summary = {
        "sirt_maa_particles": workup.n_particles,
        "sirt_maa_tn": tn_ratio(maa, m_t, m_n, perfused),
        "sirt_y90_tn": tn_ratio(Distribution(*dosing, y90.lung), m_t, m_n, perfused),
        "sirt_maa_lung_shunt_fraction": maa.lung_shunt_fraction,
        "sirt_maa_segment_shares": shares["maa"].tolist(),
        "sirt_y90_segment_shares": shares["y90"].tolist(),
        "sirt_maa_y90_segment_overlap": share_overlap(shares["maa"], shares["y90"]),
        "sirt_maa_y90_compartment_overlap": share_overlap(*(_shares(d.liver) for d in (maa, y90))),
        "sirt_maa_nontarget_fraction": workup.nontarget_fraction,
        "sirt_y90_nontarget_fraction": float(np.mean(fate == tk.FATE_NONTARGET)) if fate.size else 0.0,
        "sirt_maa_tumour_share": maa_tumour_share,
        "sirt_y90_tumour_share_first_tenth": first,
        "sirt_y90_tumour_share_last_tenth": last,
    }
    doses = doses_from_deposition(*dosing, m_t, m_n)
    arrays = {"tumour_dose_gy": doses.tumour_gy, "normal_dose_gy": doses.normal_gy, "tumour_mass_kg": m_t,
              "normal_mass_kg": m_n, "perfused": perfused, "segment": segments, "maa_tumour": maa.tumour,
              "maa_normal": maa.normal, "maa_lung": maa.lung}
    return summary, arrays


def _shares(amount: np.ndarray) -> np.ndarray:
    total = amount.sum()
    return amount / total if total > 0 else amount
