"""Conventional TACE: the Lipiodol-drug emulsion as a viscous liquid embolic (docs/tace.md).

A liquid is not a particle: it does not stop where it no longer fits, it fills
the vascular space downstream of the catheter tip, each part in proportion to the
flow that carries it there, and passes the terminal arterioles into the sinusoids
and on into the portal venules. This module is that transport (one implementation;
the particle transport is :mod:`sim.kernels.transport`) and its embolic effect:

1. **Emulsion** (:func:`emulsion_from_config`): Lipiodol mixed with an aqueous drug
   solution. The Lipiodol:aqueous ratio sets the emulsion type: 70% water-in-oil at
   2:1, 16% at 1:1 [Masada2017] (linear between, capped at the 70% the pumping
   technique reaches); water-in-oil emulsions carry the drug longer [Kan1997Emulsion].
   Viscosity: Taylor's intrinsic viscosity of a suspension of drops [Taylor1932] in
   the Krieger-Dougherty law [KriegerDougherty1959] for each type, weighted by the
   water-in-oil share, from Lipiodol's 25 mPa s at 37 C [LipiodolSmPC] and water's
   0.69 mPa s (model assumption: the aqueous phase has water's viscosity): the injected
   emulsion's (reported). In the microvessels the emulsion does not stay one (model
   assumption): its drops, 30-50 um [Masada2017], are wider than the sinusoids (about
   13 um [Debbaut2014]), so it breaks up at their entrance; the aqueous phase, miscible
   with plasma, goes on with the blood, and the oil fills the microvessels. The fill is
   the oil's volume and its embolic effect the oil's viscosity, whatever the emulsion
   type (review 37: with the mixture's, a 1:2 emulsion, thinner than blood, had none);
   the type sets how fast the drug leaves (:mod:`sim.pharmacokinetics`).
2. **Filling** (:func:`fill`), per compartment of the territory downstream of the tip:

   * the oil divides between the compartments in proportion to their arterial inflow;
     a compartment whose space is full takes no more and its share goes to those
     still open ("water filling": the volume per unit of flow rises until the oil is
     placed, :func:`water_fill`); what no compartment can hold passes the sinusoids to
     the hepatic veins (``systemic``: lung oil embolism, not simulated further);
   * in a tissue compartment the oil first fills the sinusoids (capacity
     ``lipiodol_sinusoid_capacity_ml_per_ml`` x its perfused volume: a necrotic core holds
     none), then overflows into its
     portal venules (trans-sinusoidal route, ``lipiodol_portal_capacity_ml_per_ml``);
   * the oil reaching a peribiliary plexus crosses it into the portal vein of its node
     [Kan2008Microcirculation] (trans-plexal route) and fills the portal venules of the
     tissue below that node in proportion to their capacity (model assumption: oil
     forced into the portal venules fills them by volume, whatever the portal flow,
     so it also fills them behind a portal thrombosis).
3. **Embolic effect** (:func:`apply_fill`): oil in a vessel raises its resistance by
   Lipiodol's viscosity over blood's (``EMBOLIC_VISCOSITY_RATIO``) over the filled share (model assumption: Poiseuille
   with the filled share in series): sinusoidal filling lowers the compartment's
   arterial terminal conductance, portal-venule filling its portal conductance. Normal
   sinusoids keep draining to the hepatic veins: after Lipiodol alone the flow in the
   terminal hepatic venules does not fall while that in the terminal portal venules does
   [Koda1999Microcirculation], and the liver tolerates even large doses because the
   arterioles keep flushing the sinusoids [Kan1993IodizedOil]. The tumour's vascular
   spaces keep their oil for months [Takayasu1993]: there the oil also closes the outflow
   (model assumption), over the compartment's tumour share. The plexus is a transit
   route: its arterial supply stays open (model assumption; the droplets, 30-50 um and
   deformable, cross it [Kan2008Microcirculation]).
4. **Washout** (:func:`retained_fraction`): the oil leaves normal liver with a half-life
   of days and stays in tumour for months (``lipiodol_*_half_life_d``); the embolic
   effect is transient, and the necrosis read-out takes the scenario's deficit duration
   (``outcomes``; a cTACE scenario sets ``agent.permanent = false``).

What is not simulated: the drug's pharmacology in the emulsion (plasma peak:
:mod:`sim.pharmacokinetics`), oil reaching non-target arteries downstream of the tip,
and the lung dose of the oil that passes to the hepatic veins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .kernels.liquid import sums_down
from .kernels.treewalk import subtree_sums
from .kernels.twoport import COMP_ART, COMP_HV, COMP_POR
from .network import Compartments
from .outcomes import viable_tumour_share
from .scenario import AgentConfig, Scenario
from .units import ML_M3

__all__ = ["Emulsion", "emulsion_from_config", "water_fill", "LipiodolFill", "fill", "apply_fill",
           "apply_fill_shares", "reapply_oil", "retained_fraction", "territory_capacity_ml", "LipiodolStage",
           "lipiodol_summary", "session_agents", "session_permanent", "oil_by_tissue", "water_in_oil_share",
           "LIPIODOL_VISCOSITY_PA_S", "AQUEOUS_VISCOSITY_PA_S", "PULMONARY_RISK_LIPIODOL_ML", "BLOOD_VISCOSITY_PA_S",
           "EMBOLIC_VISCOSITY_RATIO", "WATER_IN_OIL_POINTS", "RETENTION_DAY"]

#: Viscosity of Lipiodol at 37 C, Pa s [LipiodolSmPC] (25 mPa s; 34-48 mPa s at 20 C).
LIPIODOL_VISCOSITY_PA_S = 25e-3
#: Viscosity of the aqueous drug solution at 37 C, Pa s (water, 0.69 mPa s; model assumption: the drug and any
#: contrast in it do not change it much).
AQUEOUS_VISCOSITY_PA_S = 0.69e-3
#: Whole blood in arteries, Pa s: [TextbookPhysiology] (3.5-4 mPa s); the oil's embolic ratio takes it for sinusoids
#: and portal venules alike (model assumption: [Pries1994]'s in vivo law gives 7.0 mPa s at 10 um, 3.9-3.0 at 20-30 um;
#: docs/tace.md, "Embolic effect").
BLOOD_VISCOSITY_PA_S = 3.5e-3
#: Resistance factor of a vessel full of the oil (its viscosity over blood's, 7.1; module docstring, point 1).
EMBOLIC_VISCOSITY_RATIO = LIPIODOL_VISCOSITY_PA_S / BLOOD_VISCOSITY_PA_S
#: Lipiodol above which a session risks symptomatic pulmonary oil embolism, mL: [Chung1993PulmonaryOil] (6 of the 14
#: patients given more than 20 mL), [Chung1996TOCEComplications] (more than 20 mL a predisposing factor); a lower ROC
#: cut-off, 14.5 mL, in [POE2014RiskFactors]. A flag on the injected volume, as the sources count it.
PULMONARY_RISK_LIPIODOL_ML = 20.0
#: Water-in-oil share at two Lipiodol:aqueous ratios, [Masada2017]: (1:1, 16.03%), (2:1, 70.45%); capped at 70%.
WATER_IN_OIL_POINTS = ((1.0, 0.1603), (2.0, 0.7045))
#: Dispersed volume fraction at which drops jam (random close packing), dimensionless [KriegerDougherty1959].
MAX_PACKING = 0.64
#: Largest dispersed fraction the Krieger-Dougherty law is evaluated at (numerical guard below MAX_PACKING:
#: a concentrated emulsion's drops deform instead of jamming; model assumption).
MAX_DISPERSED = 0.6
#: Day at which the summary reports the oil retained (4 weeks: the CT follow-up of [Takayasu1993]).
RETENTION_DAY = 28.0

_TISSUE, _PERIBILIARY = 0, 1


@dataclass(frozen=True)
class Emulsion:
    """A Lipiodol-drug emulsion (SI units).

    Attributes
    ----------
    oil_m3, aqueous_m3 : float, m^3
        Lipiodol and aqueous drug solution injected.
    water_in_oil : float
        Share of the emulsion that is water-in-oil (the rest oil-in-water), 0-1.
    viscosity_pa_s : float, Pa s
    droplet_m : float, m
        Median droplet diameter.
    """

    oil_m3: float
    aqueous_m3: float
    water_in_oil: float
    viscosity_pa_s: float
    droplet_m: float

    @property
    def phase(self) -> str:
        """``"water-in-oil"`` or ``"oil-in-water"``: the type most of the emulsion has."""
        return "water-in-oil" if self.water_in_oil >= 0.5 else "oil-in-water"


def _krieger_dougherty(mu_continuous: float, mu_dispersed: float, phi: float) -> float:
    """Viscosity (Pa s) of drops (volume fraction ``phi``) in a continuous phase: Taylor's [eta] in Krieger-Dougherty."""
    lam = mu_dispersed / mu_continuous
    intrinsic = (1.0 + 2.5 * lam) / (1.0 + lam)  # [Taylor1932]
    phi = min(phi, MAX_DISPERSED)
    return mu_continuous * (1.0 - phi / MAX_PACKING) ** (-intrinsic * MAX_PACKING)


def water_in_oil_share(ratio: float) -> float:
    """Water-in-oil share of an emulsion of ``ratio`` mL Lipiodol per mL aqueous, 0-0.70 ([Masada2017], linear)."""
    (r1, w1), (r2, w2) = WATER_IN_OIL_POINTS
    return float(np.clip(w1 + (w2 - w1) * (ratio - r1) / (r2 - r1), 0.0, w2))


def emulsion_from_config(cfg: AgentConfig) -> Emulsion:
    """The emulsion of the scenario's ``[agent]`` (``kind = "lipiodol"``).

    Examples
    --------
    >>> from sim.scenario import AgentConfig
    >>> e = emulsion_from_config(AgentConfig(kind="lipiodol", lipiodol_volume_ml=10.0, lipiodol_to_aqueous_ratio=2.0))
    >>> e.phase, round(e.aqueous_m3 * 1e6, 2)
    ('water-in-oil', 5.0)
    """
    ratio = cfg.lipiodol_to_aqueous_ratio
    oil = cfg.lipiodol_volume_ml * ML_M3
    aqueous = oil / ratio
    phi_aqueous = aqueous / (oil + aqueous)
    w = water_in_oil_share(ratio)
    mu_wo = _krieger_dougherty(LIPIODOL_VISCOSITY_PA_S, AQUEOUS_VISCOSITY_PA_S, phi_aqueous)
    mu_ow = _krieger_dougherty(AQUEOUS_VISCOSITY_PA_S, LIPIODOL_VISCOSITY_PA_S, 1.0 - phi_aqueous)
    return Emulsion(oil_m3=oil, aqueous_m3=aqueous, water_in_oil=w, viscosity_pa_s=w * mu_wo + (1.0 - w) * mu_ow,
                    droplet_m=cfg.emulsion_droplet_um * 1e-6)


def water_fill(weights: np.ndarray, capacity: np.ndarray, volume: float) -> np.ndarray:
    """Place ``volume`` in proportion to ``weights``, each share capped at its ``capacity``; the rest goes on.

    Returns ``v`` with ``v_i = min(w_i t, K_i)`` and ``sum(v) = min(volume, sum(K over w > 0))``:
    the level ``t`` (volume per unit weight) rises until the volume is placed, and
    a full element passes its share on to those still open. O(n log n).

    Examples
    --------
    >>> water_fill(np.array([1.0, 1.0]), np.array([1.0, 10.0]), 4.0).tolist()
    [1.0, 3.0]
    """
    w = np.asarray(weights, np.float64)
    k = np.where(w > 0, np.asarray(capacity, np.float64), 0.0)
    if volume <= 0 or not w.sum() > 0:
        return np.zeros_like(w)
    if volume >= k.sum():
        return k.copy()
    open_ = np.flatnonzero(w > 0)
    level = k[open_] / w[open_]
    order = np.argsort(level, kind="stable")
    lv, kk, ww = level[order], k[open_][order], w[open_][order]
    full_before = np.concatenate([[0.0], np.cumsum(kk)[:-1]])  # capacity of the elements full below each level
    open_weight = ww.sum() - np.concatenate([[0.0], np.cumsum(ww)[:-1]])  # weight still filling at each level
    placed_at = full_before + lv * open_weight  # volume placed when the level reaches each breakpoint
    j = min(int(np.searchsorted(placed_at, volume)), lv.size - 1)  # the first breakpoint at or beyond the volume
    # (the last one when rounding puts the full capacity a hair below the volume)
    t = (volume - full_before[j]) / open_weight[j]
    return np.minimum(w * t, k)


@dataclass(frozen=True)
class LipiodolFill:
    """Where the oil went, per compartment (m^3) and in total.

    Attributes
    ----------
    sinusoid_m3, portal_m3 : ndarray of float64, shape (C,), m^3
        Oil in each tissue compartment's sinusoids and portal venules (0 elsewhere).
    sinusoid_capacity_m3, portal_capacity_m3 : ndarray of float64, shape (C,), m^3
    plexus_m3 : float, m^3
        Oil that crossed the peribiliary plexus into the portal venules (part of ``portal_m3``).
    systemic_m3 : float, m^3
        Oil that no compartment could hold: on through the sinusoids to the hepatic veins.
    injected_m3 : float, m^3
    territory : ndarray of bool, shape (C,)
        Tissue compartments downstream of the tip.
    """

    sinusoid_m3: np.ndarray
    portal_m3: np.ndarray
    sinusoid_capacity_m3: np.ndarray
    portal_capacity_m3: np.ndarray
    plexus_m3: float
    systemic_m3: float
    injected_m3: float
    territory: np.ndarray

    @property
    def deposited_m3(self) -> np.ndarray:
        """Oil held by each compartment, m^3."""
        return self.sinusoid_m3 + self.portal_m3


def fill(comps: Compartments, parent: np.ndarray, q: np.ndarray, in_territory: np.ndarray, volume_m3: float,
         sinusoid_capacity: float, portal_capacity: float) -> LipiodolFill:
    """Place ``volume_m3`` of oil in the territory (the rules of the module docstring).

    Parameters
    ----------
    comps : Compartments
    parent : ndarray of int64, shape (M,)
        Pedicle forest parents (preorder).
    q : ndarray of float64, shape (C, 4), m^3/s
        Compartment flows carrying the oil (with the injection).
    in_territory : ndarray of bool, shape (M,)
        Pedicle nodes fed through the catheterised vessel (:func:`sim.procedure.territory`).
    volume_m3 : float, m^3
        Oil injected.
    sinusoid_capacity, portal_capacity : float, m^3 per m^3 of tissue
    """
    parent = np.asarray(parent, np.int64)
    reached = np.asarray(in_territory, bool)[comps.node]
    tissue = (comps.kind == _TISSUE) & reached
    plexus = (comps.kind == _PERIBILIARY) & reached
    inflow = np.maximum(q[:, COMP_ART], 0.0)
    total = inflow[tissue].sum() + inflow[plexus].sum()
    s_cap = np.where(tissue, sinusoid_capacity * comps.perfused_volume_m3, 0.0)  # a necrotic core holds none
    p_cap = np.where(tissue, portal_capacity * comps.perfused_volume_m3, 0.0)
    zeros = np.zeros(comps.n)
    if not total > 0 or volume_m3 <= 0:  # no liver tissue downstream (a non-target artery): the oil goes on
        return LipiodolFill(zeros, zeros.copy(), s_cap, p_cap, 0.0, max(volume_m3, 0.0), max(volume_m3, 0.0), tissue)
    # trans-plexal route: the plexus' flow share enters the portal node and spreads over the capacity below it
    to_plexus = volume_m3 * np.where(plexus, inflow, 0.0) / total
    m = parent.shape[0]
    entering = np.bincount(comps.node, weights=to_plexus, minlength=m)
    below = np.empty(m)
    subtree_sums(parent, np.bincount(comps.node, weights=p_cap, minlength=m), below)
    per_capacity = np.zeros(m)
    np.divide(entering, below, out=per_capacity, where=below > 0)
    density = np.empty(m)
    sums_down(parent, per_capacity, density)
    plexus_oil = np.minimum(density[comps.node] * p_cap, p_cap)
    lost = to_plexus.sum() - plexus_oil.sum()  # no portal capacity below, or more than it holds: on to the veins
    # trans-arterial route: water filling of sinusoids, then portal venules
    arterial = volume_m3 - to_plexus.sum()
    held = water_fill(np.where(tissue, inflow, 0.0), s_cap + (p_cap - plexus_oil), arterial)
    sinusoid = np.minimum(held, s_cap)
    portal = plexus_oil + (held - sinusoid)
    systemic = lost + (arterial - held.sum())
    return LipiodolFill(sinusoid, portal, s_cap, p_cap, float(plexus_oil.sum()), float(max(systemic, 0.0)),
                        float(volume_m3), tissue)


def territory_capacity_ml(liver, scenario: Scenario) -> float:
    """Oil the catheter's territory holds, mL: what :func:`fill` places there when more is given than it can hold, on
    the flows :class:`LipiodolStage` meets (:func:`sim.procedure.catheter_territory`: coils in, the injection running):
    the sinusoids and portal venules (``agent.lipiodol_sinusoid_capacity_ml_per_ml`` +
    ``lipiodol_portal_capacity_ml_per_ml`` per mL of perfused tissue) of the tissue compartments the oil reaches
    (an arterial inflow, or portal venules below the peribiliary plexus). The volume a cTACE gives to stagnation
    (model assumption); more goes on to the lungs.

    Parameters
    ----------
    liver : CompiledLiver
    scenario : Scenario
        Its catheter and its agent's capacities.
    """
    from .procedure import catheter_territory

    placed, state, mask = catheter_territory(liver, scenario)
    comps, cfg = placed.compartments, scenario.agent
    whole_liver = (cfg.lipiodol_sinusoid_capacity_ml_per_ml + cfg.lipiodol_portal_capacity_ml_per_ml) * float(
        comps.perfused_volume_m3.sum())
    more = 1e6 * whole_liver + ML_M3  # m^3, a million times what the whole liver holds: every route full
    held = fill(comps, np.asarray(placed.forest.parent, np.int64), state.comp_q, mask, more,
                cfg.lipiodol_sinusoid_capacity_ml_per_ml, cfg.lipiodol_portal_capacity_ml_per_ml)
    return float(held.deposited_m3.sum()) / ML_M3


def oil_by_tissue(comps: Compartments, filled: LipiodolFill) -> tuple[float, float]:
    """Oil (m^3) held by viable tumour and by normal tissue: each compartment's oil split by its viable tumour's share
    of its perfused volume (a necrotic core holds none: :func:`fill`)."""
    tumour_share = viable_tumour_share(comps)
    oil = filled.deposited_m3
    return float((oil * tumour_share).sum()), float((oil * (1.0 - tumour_share)).sum())


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    out = np.zeros_like(whole)
    np.divide(part, whole, out=out, where=whole > 0)
    return np.clip(out, 0.0, 1.0)


def apply_fill(g_comp: np.ndarray, filled: LipiodolFill, viscosity_ratio: float, comps: Compartments) -> np.ndarray:
    """Lower the compartment conductances where the oil is (in place; ``g_comp`` of a FlowState, (C, 4)).

    Returns
    -------
    ndarray of float64, shape (C,)
        The factor applied to each arterial terminal (for the embolic load's open conductance);
        :func:`apply_fill_shares` of the fill's sinusoidal and portal-venule shares.
    """
    return apply_fill_shares(g_comp, _share(filled.sinusoid_m3, filled.sinusoid_capacity_m3),
                             _share(filled.portal_m3, filled.portal_capacity_m3), viscosity_ratio, viable_tumour_share(comps))


def apply_fill_shares(g_comp: np.ndarray, sinusoid_share: np.ndarray, portal_share: np.ndarray,
                      viscosity_ratio: float, tumour: np.ndarray) -> np.ndarray:
    """Lower the compartment conductances by the oil's filled shares (in place; ``g_comp`` (C, 4), shares (C,) in [0, 1]).

    A vessel share ``f`` filled with a liquid ``viscosity_ratio`` times as viscous as blood has
    the conductance ``g / (1 + f (ratio - 1))`` (Poiseuille, filled and open parts in series):
    the sinusoidal share acts on the arterial terminal, the portal-venule share on the portal
    terminal. The hepatic-venous terminal takes the sinusoidal factor over the compartment's
    ``tumour`` share only (its vascular spaces keep the oil), normal sinusoids draining freely
    ([Koda1999Microcirculation], [Kan1993IodizedOil]); the tumour and normal parts in parallel.
    Returns the factor applied to each arterial terminal.
    """
    extra = max(viscosity_ratio - 1.0, 0.0)
    arterial = 1.0 / (1.0 + sinusoid_share * extra)
    g_comp[:, COMP_ART] *= arterial
    g_comp[:, COMP_HV] *= 1.0 - tumour * (1.0 - arterial)
    g_comp[:, COMP_POR] /= 1.0 + portal_share * extra
    return arterial


def reapply_oil(g_comp: np.ndarray, run_state: dict, comps: Compartments) -> bool:
    """Put a finished cTACE session's oil back into ``g_comp`` (in place) from the run's saved fill shares
    (``RunResult.state["lipiodol_sinusoid_fill"]`` and ``["lipiodol_portal_fill"]``), as its Lipiodol phase put
    it; False (nothing changed) for a run without Lipiodol."""
    if "lipiodol_sinusoid_fill" not in run_state:
        return False
    apply_fill_shares(g_comp, np.clip(run_state["lipiodol_sinusoid_fill"], 0.0, 1.0),
                      np.clip(run_state["lipiodol_portal_fill"], 0.0, 1.0), EMBOLIC_VISCOSITY_RATIO,
                      viable_tumour_share(comps))
    return True


def retained_fraction(days, half_life_d: float):
    """Share of the deposited oil still there after ``days`` (first-order washout with ``half_life_d``)."""
    return np.exp(-math.log(2.0) * np.asarray(days, np.float64) / half_life_d)


class LipiodolStage:
    """The Lipiodol phase of a cTACE session, run by :func:`sim.procedure.run_procedure` before any particles.

    Call it with the liver, the flow state (catheter placed, injection on), the
    transport net and the embolic-load geometry: it fills the territory, writes the
    embolic effect into the state's conductances (and into the geometry's open bed
    conductances, so that particles which follow plug beds already slowed by the oil)
    and re-solves. The fill is kept in :attr:`filled`.
    """

    #: Label of the Lipiodol row of the time series.
    name = "lipiodol emulsion"

    def __init__(self, scenario: Scenario):
        self.cfg = scenario.agent
        self.emulsion = emulsion_from_config(self.cfg)
        self.filled: LipiodolFill | None = None

    def __call__(self, liver, state, net, geometry) -> None:
        from .kernels import twoport
        from .procedure import territory

        twoport.solve(state)  # the flows that carry the oil (injection on)
        mask, _ = territory(liver, state, net)
        self.filled = fill(liver.compartments, np.asarray(liver.forest.parent, np.int64), state.comp_q, mask,
                           self.emulsion.oil_m3, self.cfg.lipiodol_sinusoid_capacity_ml_per_ml,
                           self.cfg.lipiodol_portal_capacity_ml_per_ml)
        arterial = apply_fill(state.g_comp, self.filled, EMBOLIC_VISCOSITY_RATIO, liver.compartments)
        geometry.bed_g0[:arterial.shape[0]] *= arterial  # the compartments' beds: open means "with the oil" now
        twoport.solve(state)


    def withhold(self, liver, state, net) -> None:
        """Give no oil (the angiogram before it already met the endpoint: a later session into a vessel an earlier
        one left at its endpoint): :attr:`filled` is the territory's empty fill; the state is unchanged."""
        from .procedure import territory

        mask, _ = territory(liver, state, net)
        self.filled = fill(liver.compartments, np.asarray(liver.forest.parent, np.int64), state.comp_q, mask, 0.0,
                           self.cfg.lipiodol_sinusoid_capacity_ml_per_ml, self.cfg.lipiodol_portal_capacity_ml_per_ml)


def lipiodol_summary(comps: Compartments, stage: LipiodolStage, particle_agents: tuple[str, ...] = ()) -> dict:
    """Summary keys of the Lipiodol phase (docs/outputs.md); ``particle_agents`` names the particles that followed."""
    f, e, cfg = stage.filled, stage.emulsion, stage.cfg
    tissue = f.territory
    tumour_oil, normal_oil = oil_by_tissue(comps, f)  # oil lies in territory tissue only
    tumour_vol = float(comps.tumour_volume_m3[tissue].sum())
    normal_vol = float(comps.normal_volume_m3[tissue].sum())
    portal = _share(f.portal_m3, f.portal_capacity_m3)
    vol = np.where(tissue, comps.perfused_volume_m3, 0.0)
    t_vol = np.where(tissue, comps.tumour_volume_m3, 0.0)
    tumour_retained = float(retained_fraction(RETENTION_DAY, cfg.lipiodol_tumour_half_life_d))
    normal_retained = float(retained_fraction(RETENTION_DAY, cfg.lipiodol_normal_half_life_d))
    ratio = (tumour_oil / tumour_vol) / (normal_oil / normal_vol) if tumour_vol > 0 and normal_oil > 0 else float("nan")
    return {
        "agent": " then ".join((stage.name, *particle_agents)),
        "lipiodol_volume_ml": f.injected_m3 / ML_M3,
        "emulsion_volume_ml": (e.oil_m3 + e.aqueous_m3) / ML_M3,
        "emulsion_type": e.phase,
        "emulsion_water_in_oil_fraction": e.water_in_oil,
        "emulsion_viscosity_mPa_s": e.viscosity_pa_s * 1e3,
        "emulsion_droplet_um": e.droplet_m * 1e6,
        "lipiodol_tumour_ml": tumour_oil / ML_M3,
        "lipiodol_normal_ml": normal_oil / ML_M3,
        "lipiodol_portal_ml": float(f.portal_m3.sum()) / ML_M3,
        "lipiodol_plexus_route_ml": f.plexus_m3 / ML_M3,
        "lipiodol_systemic_ml": f.systemic_m3 / ML_M3,
        "lipiodol_pulmonary_risk": bool(f.injected_m3 / ML_M3 > PULMONARY_RISK_LIPIODOL_ML),
        "lipiodol_tumour_to_normal_ratio": float(ratio),
        "portal_opacification_fraction": float((vol * portal).sum() / vol.sum()) if vol.sum() > 0 else 0.0,
        "tumour_portal_opacification_fraction": float((t_vol * portal).sum() / t_vol.sum()) if t_vol.sum() > 0
        else float("nan"),
        "lipiodol_tumour_retained_28d_ml": tumour_retained * tumour_oil / ML_M3,
        "lipiodol_normal_retained_28d_ml": normal_retained * normal_oil / ML_M3,
    }


def session_agents(scenario: Scenario):
    """The agents of a session: ``(liquid, particle agents, whether particles follow)``.

    Without Lipiodol: ``(None, agent_sequence(...), True)``. With ``agent.kind = "lipiodol"``
    the first ``procedure.agent_sequence`` step follows the oil at once and later steps
    switch at their flow fractions; without steps the oil is given alone (``agents`` then
    holds a microsphere agent that only shapes the transport net).
    """
    from .agents import agent_from_config, particle_sequence

    cfg, steps = scenario.agent, scenario.procedure.agent_sequence
    if cfg.kind != "lipiodol":
        return None, particle_sequence(cfg, steps), True
    stage = LipiodolStage(scenario)
    if not steps:
        return stage, [(agent_from_config(cfg.model_copy(update={"kind": "microspheres"})), 1.0)], False
    return stage, particle_sequence(cfg, steps), True


def session_permanent(scenario: Scenario) -> bool:
    """Whether the session's embolic effect is permanent: Lipiodol alone is not (it washes out)."""
    cfg = scenario.agent
    return cfg.permanent and not (cfg.kind == "lipiodol" and not scenario.procedure.agent_sequence)
