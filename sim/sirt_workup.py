"""The SIRT work-up: a Tc-99m MAA injection from the treatment catheter position (SI).

Macroaggregated albumin (MAA) particles, 10-90 um ([MAAWorkup]), a few hundred thousand
per injection (200 000-500 000, [MAAWorkup]), are routed on the fixed baseline flow field
(:func:`sim.procedure.route_fixed_field`): they do not embolise. Each lands in a terminal
compartment's bed, or wedges in a resolved vessel it does not fit. A share of those reaching
a tumour compartment's bed passes its arteriovenous shunts to the lungs: the compartment's tumour
share x the tumour's shunt fraction (:func:`tumour_shunt_fractions`); those wedged in a vessel
above stopped upstream of the shunts. The Y-90 run splits its spheres by the same rule
(:func:`sim.sirt_deposition.split_deposition`). The read-outs are the
clinical ones: the lung shunt fraction LSF = lung / (lung + liver) particles ([Torkian2022LSF])
and the tumour-to-normal ratio T/N of particle concentrations (particles per volume in viable
tumour over normal liver in the catheter's territory), compared with the published MAA T/N
([Piasecki2015]: mean 2.7 in hypervascular metastases).

Tumour shunt fraction (the share of a tumour's MAA that reaches the lungs), per tumour:
``tumours.shunt_fraction`` where the scenario gives it, else
``TUMOUR_SHUNT_BASE x vascularity / 0.7 x (PVT_SHUNT_FACTOR with portal vein thrombosis)``,
at most ``TUMOUR_SHUNT_MAX``. Model assumptions, each anchored: 0.10 gives a lung shunt
fraction of about 4-5% when 40-50% of the MAA reaches tumour, the median LSF of 5% (IQR 3-9%)
in [Bulman2021LSF]; shunting scales with the tumour's perfusion (0.7 is the default
``tumours.vascularity``); macrovascular (portal) invasion is an independent indicator of a
high LSF above 20% ([Kallini2017LSF]: positive likelihood ratio 2.28), taken as a doubling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .agents import Agent
from .units import UM_M

__all__ = ["MAA_DIAMETER_RANGE_M", "MAA_PARTICLES", "TUMOUR_SHUNT_BASE", "PVT_SHUNT_FACTOR", "TUMOUR_SHUNT_MAX",
           "WorkupResult", "maa_agent", "segments_perfused", "tumour_shunt_fractions",
           "maa_workup", "bsa_plan_gbq", "mird_plan_gbq"]

#: MAA particle diameters, m: 10-90 um ([MAAWorkup]); model assumption: uniform over the range.
MAA_DIAMETER_RANGE_M = (10.0 * UM_M, 90.0 * UM_M)
#: Particles per work-up injection ([MAAWorkup]: 200 000-500 000 typical).
MAA_PARTICLES = 400_000
#: Tumour shunt fraction at the default vascularity without PVT (model assumption, see the module notes).
TUMOUR_SHUNT_BASE = 0.10
#: Factor on the shunt fraction with portal vein thrombosis (model assumption anchored on [Kallini2017LSF]).
PVT_SHUNT_FACTOR = 2.0
#: Largest tumour shunt fraction (model assumption: some MAA always stays in the tumour's capillaries).
TUMOUR_SHUNT_MAX = 0.9
#: Default tumours.vascularity, the reference of the shunt scaling (sim.scenario.TumourConfig).
REFERENCE_VASCULARITY = 0.7
#: Deformability of MAA aggregates (model assumption: soft protein aggregates, as a hydrogel microsphere).
MAA_DEFORMABILITY = 0.2


@dataclass(frozen=True)
class WorkupResult:
    """The MAA work-up's read-outs.

    Attributes
    ----------
    n_particles : int
    lung_shunt_fraction : float
        Lung particles over lung + liver particles.
    tn_ratio : float
        Particle concentration in viable tumour over normal liver of the catheter's territory (NaN without both).
    tumour_fraction, normal_fraction, nontarget_fraction : float
        Shares of the injected particles in tumour (not shunted), normal liver, non-target branches.
    lung_particles_by_tumour : dict of str to float
        Expected particles shunted to the lungs through each tumour.
    shunt_fraction_by_tumour : dict of str to float
        The tumours' shunt fractions used.
    compartment_particles, compartment_bed_particles : ndarray of float64, (C,), optional
        Particles per tissue compartment before shunting: all (those wedged in resolved vessels and in peribiliary
        beds spread over the tissue below by volume), and those in its own bed
        (:func:`sim.sirt_deposition.compartment_amounts`): the MAA side of :mod:`sim.sirt_compare`.
    liver_volume_m3, tumour_volume_m3, perfused_volume_m3 : float, m^3
        The liver's tissue, its tumours (viable and necrotic) and the tissue of the catheter's territory at
        baseline: the volumes the planning methods take from CT and the MAA SPECT.
    perfused_tumour_volume_m3, perfused_normal_volume_m3 : float, m^3
        Viable tumour and normal liver of the catheter's territory: the partition model's tumour and normal
        compartments (:func:`sim.sirt_plan.workup_partition`).
    segments_perfused : int
        Couinaud segments with tissue in the catheter's territory (:func:`segments_perfused`): at most two is a
        segmental treatment (:func:`sim.dosimetry.check_plan`).
    """

    n_particles: int
    lung_shunt_fraction: float
    tn_ratio: float
    tumour_fraction: float
    normal_fraction: float
    nontarget_fraction: float
    lung_particles_by_tumour: dict
    shunt_fraction_by_tumour: dict
    compartment_particles: np.ndarray | None = None
    compartment_bed_particles: np.ndarray | None = None
    liver_volume_m3: float = float("nan")
    tumour_volume_m3: float = float("nan")
    perfused_volume_m3: float = float("nan")
    perfused_tumour_volume_m3: float = float("nan")
    perfused_normal_volume_m3: float = float("nan")
    segments_perfused: int = 8

    @property
    def perfused_share(self) -> float:
        """Perfused tissue over all liver tissue (the treated share of the BSA method)."""
        return self.perfused_volume_m3 / self.liver_volume_m3


def segments_perfused(liver, in_territory: np.ndarray | None) -> int:
    """Couinaud segments with a pedicle node in the catheter's territory (``in_territory``, bool (M,), over the
    compiled liver's pedicle nodes; all eight when omitted). Each pedicle subtree lies in one segment, so a catheter
    in a segmental artery A_k perfuses one segment, in the RHA four or five."""
    if in_territory is None:
        return 8
    return int(np.unique(liver.forest.segment[np.asarray(in_territory, bool)]).size)


def maa_agent(scenario) -> Agent:
    """The MAA particles as an :class:`~sim.agents.Agent` (uniform 10-90 um, soft, no embolic effect)."""
    lo, hi = MAA_DIAMETER_RANGE_M
    return Agent(name="Tc-99m MAA 10-90 um", diameter_range_m=(lo, hi), diameters_m=None,
                 deformability=MAA_DEFORMABILITY, particles_per_m3=1.0, contrast_dilution=0.0, permanent=False,
                 seal_porosity=scenario.agent.seal_porosity, vial_m3=1.0, aggregation=False)


def tumour_shunt_fractions(scenario) -> np.ndarray:
    """Shunt fraction of each of ``scenario.tumours`` (1): ``tumours.shunt_fraction`` where given, else the rule of
    the module notes."""
    pvt = PVT_SHUNT_FACTOR if scenario.portal.thrombosis != "none" else 1.0
    rule = [min(TUMOUR_SHUNT_BASE * t.vascularity / REFERENCE_VASCULARITY * pvt, TUMOUR_SHUNT_MAX)
            for t in scenario.tumours]
    return np.array([r if t.shunt_fraction is None else t.shunt_fraction for t, r in zip(scenario.tumours, rule)],
                    dtype=np.float64)


def maa_workup(scenario, *, liver=None, n_particles: int = MAA_PARTICLES, shunt_fractions=None,
               rng: np.random.Generator | None = None) -> WorkupResult:
    """Simulate the MAA work-up from ``scenario``'s catheter position.

    Parameters
    ----------
    scenario : Scenario
    liver : Liver, optional
        Built from ``scenario`` when omitted.
    n_particles : int
    shunt_fractions : sequence of float, optional
        One per tumour; :func:`tumour_shunt_fractions` when omitted.
    rng : numpy.random.Generator, optional
        Seeded from ``procedure.seed`` when omitted.
    """
    from .anatomy import build_liver
    from .coils import apply_coils
    from .flow.model import LiverFlow
    from .kernels import transport as tk
    from .outcomes import tissue_volumes
    from .procedure import route_fixed_field, territory, transport_net
    from .sirt_deposition import Distribution, compartment_amounts, split_deposition, tissue_masses, tn_ratio

    if rng is None:
        rng = np.random.default_rng(scenario.procedure.seed)
    if liver is None:
        liver = build_liver(scenario, progress=False)
    shunts = tumour_shunt_fractions(scenario) if shunt_fractions is None else np.asarray(shunt_fractions, float)
    if shunts.shape != (len(scenario.tumours),) or np.any((shunts < 0) | (shunts > 1)):
        raise ValueError(f"shunt_fractions: one value in [0, 1] per tumour ({len(scenario.tumours)}), got {shunts}")
    flow = LiverFlow(liver.compiled, scenario, catheter=True)
    apply_coils(flow, scenario)  # the work-up sees the coils of procedure.coils (placed at the mapping angiogram)
    agent = maa_agent(scenario)
    net, sinks = transport_net(flow.liver, flow.state, flow.catheter, scenario, agent)
    diameters = agent.sample_diameters(n_particles, rng=rng)
    ps = route_fixed_field(flow.liver, flow.state, net, len(sinks), diameters, rng)
    comps = flow.liver.compartments
    # one rule with the Y-90 run (sim.sirt_deposition.split_deposition): each tumour's shunt fraction of the MAA in its beds
    in_beds, total = compartment_amounts(flow.liver, ps.lodged_ped, ps.lodged_comp)
    tumour, normal, lung_by_comp = split_deposition(comps, in_beds, total, shunts)
    maa = Distribution(tumour, normal, float(lung_by_comp.sum()))
    in_territory, _ = territory(flow.liver, flow.state, net)
    tissue = comps.kind == 0
    inside = in_territory[comps.node]
    tn = tn_ratio(maa, *tissue_masses(comps), inside & tissue)
    viable, normal_volume = tissue_volumes(comps)
    names = [t.name for t in scenario.tumours]
    lung_by_tumour = {name: float(lung_by_comp[comps.tumour_id == i].sum()) for i, name in enumerate(names)}
    fate = ps.fate[:n_particles]
    return WorkupResult(n_particles=n_particles, lung_shunt_fraction=maa.lung_shunt_fraction, tn_ratio=float(tn),
                        tumour_fraction=float(tumour.sum()) / n_particles, normal_fraction=float(normal.sum()) / n_particles,
                        nontarget_fraction=float((fate == tk.FATE_NONTARGET).sum() / n_particles),
                        lung_particles_by_tumour=lung_by_tumour,
                        shunt_fraction_by_tumour=dict(zip(names, shunts.tolist())),
                        compartment_particles=total, compartment_bed_particles=in_beds,
                        liver_volume_m3=float(comps.volume_m3[tissue].sum()),
                        tumour_volume_m3=float((comps.tumour_volume_m3 + comps.necrotic_volume_m3)[tissue].sum()),
                        perfused_volume_m3=float(comps.volume_m3[tissue & inside].sum()),
                        perfused_tumour_volume_m3=float(viable[inside].sum()),
                        perfused_normal_volume_m3=float(normal_volume[inside].sum()),
                        segments_perfused=segments_perfused(flow.liver, in_territory))


def bsa_plan_gbq(scenario, workup: WorkupResult, *, height_m: float) -> float:
    """Resin activity (GBq) of the BSA method for the work-up's perfused share ([Kao2011BSA]).

    Body surface area from ``height_m`` and ``flow.body_mass_kg`` (Du Bois); tumour and liver volumes, perfused share
    and lung shunt fraction from the work-up (:func:`sim.dosimetry.bsa_activity_gbq`).
    """
    from .dosimetry import body_surface_area_m2, bsa_activity_gbq

    bsa = body_surface_area_m2(height_m, scenario.flow.body_mass_kg)
    return bsa_activity_gbq(bsa, workup.tumour_volume_m3, workup.liver_volume_m3,
                            lung_shunt_fraction=workup.lung_shunt_fraction, treated_fraction=workup.perfused_share)


def mird_plan_gbq(workup: WorkupResult, dose_gy: float) -> float:
    """Activity (GBq) of single-compartment MIRD for a mean dose ``dose_gy`` to the perfused tissue, lung shunt
    removed (:func:`sim.dosimetry.mird_activity_gbq`; tissue at 1.0 kg/L)."""
    from .dosimetry import TISSUE_DENSITY_KG_M3, mird_activity_gbq

    return mird_activity_gbq(dose_gy, workup.perfused_volume_m3 * TISSUE_DENSITY_KG_M3, workup.lung_shunt_fraction)
