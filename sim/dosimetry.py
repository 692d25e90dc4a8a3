"""SIRT activity planning: the body-surface-area method, single-compartment MIRD and the partition model (SI).

The three methods in clinical use ([VanRoekel2021Thesis], [Kao2011BSA]), with local deposition
of Y-90 (:data:`sim.y90.DOSE_GY_KG_PER_GBQ`, K = 49.73 Gy kg/GBq: D = K A / m):

- **BSA method** (resin): A (GBq) = (BSA - 0.2) + V_tumour / (V_tumour + V_normal), BSA by the
  Du Bois formula 0.20247 x height (m)^0.725 x weight (kg)^0.425; a lobar treatment takes the
  lobe's share; the activity is reduced for lung shunting (:func:`lung_shunt_reduction`).
- **Single-compartment MIRD** (glass): the perfused liver mass m receives A (1 - LSF):
  D = K A (1 - LSF) / m.
- **Partition model**: tumour, normal liver and lung; the liver's share (1 - LSF) splits between
  tumour and normal liver in proportion to mass x concentration, the tumour's concentration
  being T/N times the normal liver's: A_T = A (1 - LSF) r m_T / (r m_T + m_N),
  A_N = A (1 - LSF) m_N / (r m_T + m_N), A_L = A LSF.

Limits (:func:`check_plan`): the lungs take at most 30 Gy in one treatment and 50 Gy
cumulative ([VanRoekel2021Thesis], [Torkian2022LSF]): above, the plan is refused. The normal
liver's limit, 70 Gy ([PartitionMC2017]: the partition model's limiting normal-liver dose),
warns (it depends on the liver's reserve, which the model does not know).

Masses: tissue density 1.0 kg/L ([ICRP89], as ``liver.mass_kg``).

Examples
--------
>>> p = Partition(tumour_mass_kg=0.2, normal_mass_kg=1.3, tn_ratio=3.0, lung_shunt_fraction=0.05)
>>> a = partition_activity_gbq(p, tumour_gy=150.0)
>>> round(partition_doses(a, p).tumour_gy, 6)
150.0
"""

from __future__ import annotations

from dataclasses import dataclass

from .y90 import DOSE_GY_KG_PER_GBQ

__all__ = ["Partition", "PartitionDoses", "PlanFinding", "PlanRefused", "body_surface_area_m2", "bsa_activity_gbq",
           "lung_shunt_reduction", "mird_dose_gy", "mird_activity_gbq", "partition_doses", "partition_activity_gbq",
           "check_plan", "enforce_plan", "LUNG_LIMIT_SINGLE_GY", "LUNG_LIMIT_CUMULATIVE_GY", "NORMAL_LIVER_LIMIT_GY",
           "SEGMENTAL_MAX_SEGMENTS", "SEGMENTECTOMY_MIN_GY", "LUNG_MASS_KG", "TISSUE_DENSITY_KG_M3"]

#: Lung dose limit of one treatment, Gy ([VanRoekel2021Thesis]; [Torkian2022LSF]).
LUNG_LIMIT_SINGLE_GY = 30.0
#: Cumulative lung dose limit over treatments, Gy ([VanRoekel2021Thesis]; [Torkian2022LSF]).
LUNG_LIMIT_CUMULATIVE_GY = 50.0
#: Mean normal-liver dose above which the plan warns, Gy ([PartitionMC2017]: the limiting normal-liver dose).
NORMAL_LIVER_LIMIT_GY = 70.0
#: Most Couinaud segments a segmental treatment perfuses. Radiation segmentectomy gives an ablative dose to at most
#: two segments, tumour and normal liver alike ([Lewandowski2018RadSeg]), so the normal-liver limit (a lobar and
#: whole-liver one, [PartitionMC2017]) does not apply to it. Counted in segments, not as a volume share: segments
#: differ in size (VIII is 26% of the default liver, up to 38% in [HPB2014Segments]; until 2026-12-06 a share of
#: 2/8 was used, which took a segment VIII treatment for a lobar one, review 13).
SEGMENTAL_MAX_SEGMENTS = 2
#: Least dose to the perfused volume of a radiation segmentectomy, Gy: glass, "190 Gy or more" ([Lewandowski2018RadSeg]).
#: A segmental plan below it is not ablative by that standard, and the plan says so (review 53: the default 120 Gy
#: MIRD plan of segment V read "ablative by intent" at 92 Gy).
SEGMENTECTOMY_MIN_GY = 190.0
#: Lung mass of the partition model, kg (model assumption: the conventional 1 kg of planning practice,
#: [PartitionMC2017] uses a MIRD-5 phantom; the patient's own lung mass is not modelled).
LUNG_MASS_KG = 1.0
#: Tissue density, kg/m^3 ([ICRP89]; the density behind liver.mass_kg).
TISSUE_DENSITY_KG_M3 = 1000.0
#: Du Bois body surface area coefficient and exponents (m^2, m, kg) ([VanRoekel2021Thesis]).
DU_BOIS = (0.20247, 0.725, 0.425)
#: Resin activity reduction by lung shunt fraction: (upper bound of the band, factor); above the last band
#: the treatment is refused ([SirtexLungShuntBands]; [Ward2015HPSF]: guideline reduction from 10%).
LUNG_SHUNT_BANDS = ((0.10, 1.0), (0.15, 0.8), (0.20, 0.6))


class PlanRefused(ValueError):
    """A plan that breaks a hard limit (lung dose, lung shunt band): the message says which and by how much."""


@dataclass(frozen=True)
class PlanFinding:
    """One limit check: ``level`` is "refuse", "warn" or "info" (a limit that does not apply, and why); ``rule`` a short
    name; ``message`` the sentence."""

    level: str
    rule: str
    message: str


@dataclass(frozen=True)
class Partition:
    """The three compartments of the partition model.

    Attributes
    ----------
    tumour_mass_kg, normal_mass_kg : float, kg
        Tumour and normal liver in the treated territory.
    tn_ratio : float
        Tumour-to-normal ratio of activity concentration (Bq/kg over Bq/kg).
    lung_shunt_fraction : float
        Share of the injected activity reaching the lungs, in [0, 1).
    lung_mass_kg : float, kg
    """

    tumour_mass_kg: float
    normal_mass_kg: float
    tn_ratio: float
    lung_shunt_fraction: float
    lung_mass_kg: float = LUNG_MASS_KG

    def __post_init__(self):
        if not (self.tumour_mass_kg >= 0 and self.normal_mass_kg > 0 and self.tn_ratio > 0 and self.lung_mass_kg > 0):
            raise ValueError("partition: masses must be positive (tumour may be 0) and tn_ratio > 0")
        if not 0.0 <= self.lung_shunt_fraction < 1.0:
            raise ValueError(f"partition: lung_shunt_fraction must be in [0, 1), got {self.lung_shunt_fraction}")

    def shares(self) -> tuple[float, float, float]:
        """Shares of the injected activity in tumour, normal liver and lung (sum 1)."""
        liver = 1.0 - self.lung_shunt_fraction
        weight = self.tn_ratio * self.tumour_mass_kg + self.normal_mass_kg
        return (liver * self.tn_ratio * self.tumour_mass_kg / weight, liver * self.normal_mass_kg / weight,
                self.lung_shunt_fraction)


@dataclass(frozen=True)
class PartitionDoses:
    """Mean absorbed doses (Gy) of the partition model's compartments and their activities (GBq)."""

    tumour_gy: float
    normal_gy: float
    lung_gy: float
    tumour_gbq: float
    normal_gbq: float
    lung_gbq: float


def partition_doses(activity_gbq: float, p: Partition) -> PartitionDoses:
    """Doses of the partition model for an injected activity (GBq at implantation)."""
    a_t, a_n, a_l = (activity_gbq * s for s in p.shares())
    k = DOSE_GY_KG_PER_GBQ
    tumour = k * a_t / p.tumour_mass_kg if p.tumour_mass_kg > 0 else 0.0
    return PartitionDoses(tumour_gy=tumour, normal_gy=k * a_n / p.normal_mass_kg, lung_gy=k * a_l / p.lung_mass_kg,
                          tumour_gbq=a_t, normal_gbq=a_n, lung_gbq=a_l)


def partition_activity_gbq(p: Partition, *, tumour_gy: float | None = None, normal_gy: float | None = None,
                           lung_gy: float | None = None) -> float:
    """Activity (GBq) that gives exactly one compartment its intended mean dose (give one of the three)."""
    given = [(d, m, s) for d, m, s in zip((tumour_gy, normal_gy, lung_gy),
                                          (p.tumour_mass_kg, p.normal_mass_kg, p.lung_mass_kg), p.shares())
             if d is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of tumour_gy, normal_gy, lung_gy")
    dose, mass, share = given[0]
    if share <= 0:
        raise ValueError("that compartment receives no activity (zero mass or zero lung shunt)")
    return dose * mass / (DOSE_GY_KG_PER_GBQ * share)


def mird_dose_gy(activity_gbq: float, mass_kg: float, lung_shunt_fraction: float = 0.0) -> float:
    """Single-compartment MIRD: mean dose (Gy) of the perfused mass, D = K A (1 - LSF) / m."""
    return DOSE_GY_KG_PER_GBQ * activity_gbq * (1.0 - lung_shunt_fraction) / mass_kg


def mird_activity_gbq(dose_gy: float, mass_kg: float, lung_shunt_fraction: float = 0.0) -> float:
    """Single-compartment MIRD: activity (GBq) for a mean dose of the perfused mass, A = D m / (K (1 - LSF))."""
    return dose_gy * mass_kg / (DOSE_GY_KG_PER_GBQ * (1.0 - lung_shunt_fraction))


def body_surface_area_m2(height_m: float, weight_kg: float) -> float:
    """Du Bois body surface area, m^2."""
    c, eh, ew = DU_BOIS
    return c * height_m**eh * weight_kg**ew


def lung_shunt_reduction(lung_shunt_fraction: float) -> float:
    """Factor on the BSA activity for the lung shunt fraction; :class:`PlanRefused` above the last band (20%)."""
    for upper, factor in LUNG_SHUNT_BANDS:
        if lung_shunt_fraction < upper:
            return factor
    raise PlanRefused(f"lung shunt fraction {lung_shunt_fraction:.1%} is at or above "
                      f"{LUNG_SHUNT_BANDS[-1][0]:.0%}: no resin treatment (BSA method)")


def bsa_activity_gbq(bsa_m2: float, tumour_volume_m3: float, liver_volume_m3: float, *,
                     lung_shunt_fraction: float = 0.0, treated_fraction: float = 1.0) -> float:
    """BSA-method activity (GBq) for resin spheres.

    Parameters
    ----------
    bsa_m2 : float, m^2
    tumour_volume_m3, liver_volume_m3 : float, m^3
        Tumour volume and total liver volume (tumour included).
    lung_shunt_fraction : float
        Reduces the activity (:func:`lung_shunt_reduction`).
    treated_fraction : float
        Share of the liver treated (a lobe's volume over the liver's; 1 for whole liver).
    """
    if not 0 <= tumour_volume_m3 < liver_volume_m3:
        raise ValueError("tumour volume must be in [0, liver volume)")
    whole = (bsa_m2 - 0.2) + tumour_volume_m3 / liver_volume_m3
    return whole * treated_fraction * lung_shunt_reduction(lung_shunt_fraction)


def check_plan(doses: PartitionDoses, *, prior_lung_gy: float = 0.0, segments_perfused: int = 8) -> list[PlanFinding]:
    """The limit checks of a plan: lung (refuse) and normal liver (warn); an empty list when all pass.

    Parameters
    ----------
    doses : PartitionDoses
    prior_lung_gy : float, Gy
        Lung dose of earlier treatments (``patient.prior_lung_dose_gy``), for the cumulative limit.
    segments_perfused : int
        Couinaud segments the catheter perfuses. At most ``SEGMENTAL_MAX_SEGMENTS`` (a segmental treatment,
        radiation segmentectomy) the perfused normal liver's dose is ablative by intent and its limit is not checked:
        an ``info`` finding says so.
    """
    out = []
    if doses.lung_gy > LUNG_LIMIT_SINGLE_GY:
        out.append(PlanFinding("refuse", "lung_single", f"lung dose {doses.lung_gy:.1f} Gy is above the "
                               f"{LUNG_LIMIT_SINGLE_GY:g} Gy limit of one treatment"))
    # a plan that adds nothing to the lungs (no shunt) is not refused for their earlier dose (review 43)
    if doses.lung_gy > 0 and prior_lung_gy + doses.lung_gy > LUNG_LIMIT_CUMULATIVE_GY:
        out.append(PlanFinding("refuse", "lung_cumulative", f"cumulative lung dose {prior_lung_gy + doses.lung_gy:.1f}"
                               f" Gy (earlier {prior_lung_gy:.1f} Gy) is above the {LUNG_LIMIT_CUMULATIVE_GY:g} Gy limit"))
    if doses.normal_gy > NORMAL_LIVER_LIMIT_GY and segments_perfused <= SEGMENTAL_MAX_SEGMENTS:
        counted = f"{segments_perfused} Couinaud segment{'s' if segments_perfused != 1 else ''}"
        intent = "ablative by intent" if doses.normal_gy >= SEGMENTECTOMY_MIN_GY else (
            f"below the {SEGMENTECTOMY_MIN_GY:g} Gy of an ablative radiation segmentectomy")
        out.append(PlanFinding("info", "segmental", f"perfused normal-liver dose {doses.normal_gy:.1f} Gy, {intent}: a "
                               f"segmental treatment ({counted} perfused, at most {SEGMENTAL_MAX_SEGMENTS}: "
                               f"radiation segmentectomy); the {NORMAL_LIVER_LIMIT_GY:g} Gy limit is that of lobar and "
                               "whole-liver treatment"))
    elif doses.normal_gy > NORMAL_LIVER_LIMIT_GY:
        out.append(PlanFinding("warn", "normal_liver", f"mean normal-liver dose {doses.normal_gy:.1f} Gy is above "
                               f"{NORMAL_LIVER_LIMIT_GY:g} Gy (radioembolisation-induced liver disease)"))
    return out


def enforce_plan(doses: PartitionDoses, *, prior_lung_gy: float = 0.0, segments_perfused: int = 8) -> list[PlanFinding]:
    """:func:`check_plan`, raising :class:`PlanRefused` on the first refusal; returns the other findings."""
    findings = check_plan(doses, prior_lung_gy=prior_lung_gy, segments_perfused=segments_perfused)
    refused = [f for f in findings if f.level == "refuse"]
    if refused:
        raise PlanRefused("; ".join(f.message for f in refused))
    return findings
