"""Activity planning from the simulated MAA work-up: BSA, single-compartment MIRD and the partition model
(`embosim plan`, docs/sirt.md).

Each method takes its inputs from one simulated work-up (:func:`sim.sirt_workup.maa_workup`) from the scenario's
catheter, as the clinic takes them from CT volumes and the MAA SPECT/planar images:

- **BSA** (resin, [Kao2011BSA]): body surface area from ``patient.height_m`` and ``flow.body_mass_kg``, tumour and
  liver volumes, the perfused share and the lung-shunt bands (:func:`sim.sirt_workup.bsa_plan_gbq`);
- **MIRD** (glass): a mean dose to the perfused tissue, lung shunt removed (:func:`sim.sirt_workup.mird_plan_gbq`);
- **partition**: the activity giving the viable tumour of the territory its intended mean dose with the work-up's T/N
  and lung shunt (:func:`sim.dosimetry.partition_activity_gbq`), capped where that would pass the lung limits (30 Gy,
  50 Gy cumulative) or, in a lobar or whole-liver treatment, the normal liver's 70 Gy: the partition method chooses the
  activity within those limits ([PartitionMC2017]); an ``info`` finding gives the tumour dose it then reaches.

Every plan is then evaluated with the partition model (the three compartments' mean doses) and checked against the
lung limits (30 Gy one treatment, 50 Gy cumulative with ``patient.prior_lung_dose_gy``: refuse) and the normal-liver
limit (70 Gy: warn) by :func:`sim.dosimetry.check_plan`. A BSA plan at a lung shunt of 20% or more is refused by its
own bands, and for glass spheres (a resin method).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .dosimetry import (
    LUNG_LIMIT_CUMULATIVE_GY,
    LUNG_LIMIT_SINGLE_GY,
    NORMAL_LIVER_LIMIT_GY,
    SEGMENTAL_MAX_SEGMENTS,
    TISSUE_DENSITY_KG_M3,
    Partition,
    PartitionDoses,
    PlanFinding,
    PlanRefused,
    check_plan,
    partition_activity_gbq,
    partition_doses,
)
from .sirt_workup import WorkupResult, bsa_plan_gbq, mird_plan_gbq

__all__ = ["MethodPlan", "DEFAULT_MIRD_DOSE_GY", "DEFAULT_TUMOUR_DOSE_GY", "LEAST_CAPPED_SHARE", "plan_activities",
           "workup_partition"]

#: Mean dose to the perfused tissue of the MIRD plan, Gy (model assumption within the common 80-150 Gy glass range,
#: [VanRoekel2021Thesis]; the same value as the shipped sirt_main_pvt plan).
DEFAULT_MIRD_DOSE_GY = 120.0
#: Least share of its intended activity a capped partition plan may keep, else it is refused (model assumption: a plan
#: that gives the tumour under 1% of its intended dose is no plan).
LEAST_CAPPED_SHARE = 0.01
#: Mean dose to the viable tumour of the partition plan, Gy (model assumption: the same 120 Gy; the dose-response
#: literature puts 50% tumour control near 290 Gy for glass, [JNuclMed2020Y90]).
DEFAULT_TUMOUR_DOSE_GY = 120.0


@dataclass(frozen=True)
class MethodPlan:
    """One planning method's result.

    Attributes
    ----------
    method : str
        ``"bsa"``, ``"mird"`` or ``"partition"``.
    activity_gbq : float, GBq
        Activity to inject (NaN when the method refuses the patient).
    doses : PartitionDoses or None
        The partition model's mean doses at that activity (None when refused).
    findings : list of PlanFinding
        Limit checks that failed (level ``"refuse"`` or ``"warn"``) and notes (``"info"``: a limit that does not
        apply, a capped partition plan).
    """

    method: str
    activity_gbq: float
    doses: PartitionDoses | None
    findings: list[PlanFinding] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return any(f.level == "refuse" for f in self.findings)

    def as_dict(self) -> dict:
        d = self.doses
        return {"method": self.method, "activity_gbq": self.activity_gbq,
                "tumour_dose_gy": d.tumour_gy if d else math.nan, "normal_liver_dose_gy": d.normal_gy if d else math.nan,
                "lung_dose_gy": d.lung_gy if d else math.nan, "refused": self.refused,
                "findings": [f"{f.level}: {f.message}" for f in self.findings]}


def workup_partition(workup: WorkupResult) -> Partition:
    """The partition model of the catheter's territory from a work-up: its viable tumour and normal-liver masses (kg,
    1.0 kg/L), the work-up's T/N and lung shunt fraction."""
    return Partition(tumour_mass_kg=workup.perfused_tumour_volume_m3 * TISSUE_DENSITY_KG_M3,
                     normal_mass_kg=workup.perfused_normal_volume_m3 * TISSUE_DENSITY_KG_M3,
                     tn_ratio=workup.tn_ratio, lung_shunt_fraction=workup.lung_shunt_fraction)


def plan_activities(scenario, workup: WorkupResult, *, mird_dose_gy: float = DEFAULT_MIRD_DOSE_GY,
                    tumour_dose_gy: float = DEFAULT_TUMOUR_DOSE_GY) -> list[MethodPlan]:
    """The BSA, MIRD and partition plans of ``scenario``'s patient from ``workup``, each with its partition-model doses
    and limit checks (``patient.prior_lung_dose_gy`` counts against the cumulative lung limit).

    Parameters
    ----------
    scenario : Scenario
    workup : WorkupResult
        The MAA work-up from the scenario's catheter.
    mird_dose_gy : float, Gy
        Intended mean dose of the perfused tissue (MIRD).
    tumour_dose_gy : float, Gy
        Intended mean dose of the territory's viable tumour (partition).
    """
    # no viable tumour in the territory (T/N undefined): the plans still go to the normal liver and the lungs, whose
    # limits are checked on a tumour-free partition (the tumour's dose is NaN, not a pass by default)
    tumour_free = not math.isfinite(workup.tn_ratio)
    partition = workup_partition(workup) if not tumour_free else dataclasses.replace(
        workup_partition(dataclasses.replace(workup, tn_ratio=1.0)), tumour_mass_kg=0.0)
    prior = scenario.patient.prior_lung_dose_gy
    activities = {}
    refusals = {}
    if scenario.agent.kind == "y90_glass":  # the BSA method prescribes resin activity (its IFU's), not glass'
        refusals["bsa"] = PlanFinding("refuse", "resin_method", "the BSA method prescribes resin spheres' activity "
                                      "([Kao2011BSA]); glass is planned by dose: MIRD or partition")
    else:
        try:
            activities["bsa"] = bsa_plan_gbq(scenario, workup, height_m=scenario.patient.height_m)
        except PlanRefused as exc:
            refusals["bsa"] = PlanFinding("refuse", "lung_shunt_band", str(exc))
    activities["mird"] = mird_plan_gbq(workup, mird_dose_gy)
    capped = None
    if partition.tumour_mass_kg > 0:
        activities["partition"], capped = _within_limits(partition, tumour_dose_gy, prior, workup.segments_perfused)
        if capped is not None and capped.level == "refuse":
            refusals["partition"] = capped
    else:
        refusals["partition"] = PlanFinding("refuse", "no_tumour", "no viable tumour in the catheter's territory: "
                                            "the partition model needs one")
    plans = []
    for method in ("bsa", "mird", "partition"):
        if method in refusals:
            plans.append(MethodPlan(method, math.nan, None, [refusals[method]]))
            continue
        activity = activities[method]
        doses = partition_doses(activity, partition)
        if tumour_free:
            doses = dataclasses.replace(doses, tumour_gy=math.nan)
        findings = check_plan(doses, prior_lung_gy=prior, segments_perfused=workup.segments_perfused)
        if method == "partition" and capped is not None:
            findings = [capped, *findings]
        plans.append(MethodPlan(method, activity, doses, findings))
    return plans


def _within_limits(partition: Partition, tumour_gy: float, prior_lung_gy: float,
                   segments_perfused: int) -> tuple[float, PlanFinding | None]:
    """The partition plan's activity, GBq: the intended tumour dose's, at most what keeps the lung within its limits
    and, treating more than :data:`~sim.dosimetry.SEGMENTAL_MAX_SEGMENTS` segments, the normal liver within 70 Gy;
    with an ``info`` finding naming the limit when capped. Refused (a ``refuse`` finding, activity 0) when the limits
    leave less than :data:`LEAST_CAPPED_SHARE` of the intended activity (model assumption: that is no plan)."""
    target = partition_activity_gbq(partition, tumour_gy=tumour_gy)
    limits = []
    if partition.lung_shunt_fraction > 0:
        if LUNG_LIMIT_CUMULATIVE_GY - prior_lung_gy < LUNG_LIMIT_SINGLE_GY:
            name = f"cumulative lung limit ({LUNG_LIMIT_CUMULATIVE_GY:g} Gy with {prior_lung_gy:.2f} Gy before)"
        else:
            name = f"lung limit ({LUNG_LIMIT_SINGLE_GY:g} Gy)"
        room = min(LUNG_LIMIT_SINGLE_GY, LUNG_LIMIT_CUMULATIVE_GY - prior_lung_gy)
        limits.append((name, partition_activity_gbq(partition, lung_gy=room) if room > 0 else 0.0))
    if segments_perfused > SEGMENTAL_MAX_SEGMENTS and partition.normal_mass_kg > 0:
        limits.append((f"normal-liver limit ({NORMAL_LIVER_LIMIT_GY:g} Gy)",
                       partition_activity_gbq(partition, normal_gy=NORMAL_LIVER_LIMIT_GY)))
    name, most = min(limits, key=lambda limit: limit[1], default=("", math.inf))
    if target <= most:
        return target, None
    if most < LEAST_CAPPED_SHARE * target:
        return 0.0, PlanFinding("refuse", "partition_no_room", f"the {name} leaves {max(most, 0.0):.3f} GBq, under "
                                f"{LEAST_CAPPED_SHARE:.0%} of the {target:.2f} GBq for {tumour_gy:g} Gy to the tumour")
    activity = most * (1.0 - 1e-12)  # on the limit, not a rounding error over it
    reached = partition_doses(activity, partition).tumour_gy
    return activity, PlanFinding("info", "partition_capped", f"capped at the {name}: {activity:.2f} GBq instead of "
                                 f"{target:.2f} GBq, the tumour {reached:.0f} Gy instead of {tumour_gy:g} Gy")
