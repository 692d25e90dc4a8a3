"""Embolic agents: particle size distributions, packing and suspension volumes.

An agent is described by the ``[agent]`` section of a scenario. This module turns
it into numbers the procedure uses: particle diameters (drawn with the scenario's
``numpy.random.Generator``), the smallest vessel a particle can enter, particles
per mL of settled agent and the suspension volume injected.

Notes
-----
Calibrated microspheres (tris-acryl gelatin, Embosphere) are modelled as uniform
in diameter over their nominal bin. This is the distribution under which the
packing numbers of [ParticlesPerMLDerived] were derived (random close packing
0.64: 1.9e6 particles/mL for 40-120 um, 1.2e5 for 100-300 um, 1.8e4 for 300-500 um,
5.5e3 for 500-700 um), so the two stay consistent.

Irregular PVA particles have a wider spread than their nominal bin
[MeritEmbosphereIFU]; model assumption: uniform over [0.7 x lower, 1.3 x upper] of the bin, and
half the deformability of a hydrated microsphere (PVA is stiffer and clumps).

Y-90 microspheres (:data:`Y90_PRODUCTS`, docs/sirt.md) carry their product data: resin
(SIR-Spheres) 32 +/- 10 um within 20-60 um ([SirtexSIRSpheres]), modelled as a log-normal of
median 32 um and log-SD 0.3 truncated to 20-60 um (mean 33.8, SD 8.6 um; model assumption:
the product's spread is right-skewed, a normal of 32 +/- 10 would put 11% below 20 um);
glass (TheraSphere) 20-30 um, uniform, mean 25 um ([WJH2015Y90]). Both are rigid compared
with a hydrogel sphere (deformability factor 0, model assumption: cross-linked resin and glass
do not compress). Each sphere's activity at calibration is the vial's activity over its
sphere count (resin 3 GBq / 44e6 = 68 Bq, glass 3 GBq / 1.2e6 = 2500 Bq), and decays with
Y-90 (:mod:`sim.y90`) until the treatment: the spheres needed for a prescribed activity are
``A / (a_cal x exp(-lambda t))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import y90
from .scenario import SIZE_BINS_UM, AgentConfig
from .units import ML_M3, UM_M

__all__ = ["Agent", "agent_from_config", "agent_sequence", "RANDOM_CLOSE_PACKING", "AGGREGATION_FREE_DILUTION",
           "Y90Product", "Y90_PRODUCTS", "particle_sequence"]

#: Volume fraction of settled spheres (random close packing), dimensionless.
#: Source: [ParticlesPerMLDerived] (derived particle counts use 0.64).
RANDOM_CLOSE_PACKING = 0.64
#: Contrast dilution (mL per mL of settled spheres) from which spheres do not aggregate: above 10x
#: dilution 300-500 um beads passed a 1.8 Fr microcatheter without aggregating [DCBeadAggregation2015].
AGGREGATION_FREE_DILUTION = 10.0
#: PVA spread around the nominal bin, as factors on its bounds (model assumption, see Notes).
PVA_SPREAD = (0.7, 1.3)
#: PVA deformability relative to a microsphere's (model assumption, see Notes).
PVA_DEFORMABILITY_FACTOR = 0.5


@dataclass(frozen=True)
class Y90Product:
    """Published data of a Y-90 microsphere product (SI units).

    Attributes
    ----------
    name : str
        Label for reports.
    diameter_range_m : tuple of float, m
        Smallest and largest sphere.
    diameter_lognormal : tuple of float or None
        (median in m, log-SD) of a log-normal truncated to ``diameter_range_m``; None: uniform over the range.
    density_kg_m3 : float, kg/m^3
        Density (specific gravity) of a sphere.
    vial_activity_bq : float, Bq
        Activity of the reference vial at calibration.
    spheres_per_vial : float
        Spheres in that vial.
    vial_activities_gbq : tuple of float, GBq
        The activities (at calibration) the product is sold in.
    """

    name: str
    diameter_range_m: tuple[float, float]
    diameter_lognormal: tuple[float, float] | None
    density_kg_m3: float
    vial_activity_bq: float
    spheres_per_vial: float
    vial_activities_gbq: tuple[float, ...]

    @property
    def activity_per_sphere_bq(self) -> float:
        """Activity of one sphere at calibration, Bq."""
        return self.vial_activity_bq / self.spheres_per_vial

    @property
    def spheres_per_gbq(self) -> float:
        """Spheres per GBq at calibration, 1/GBq."""
        return self.spheres_per_vial * y90.GBQ_BQ / self.vial_activity_bq


#: The Y-90 products by agent kind ([SirtexSIRSpheres], [WJH2015Y90], [Y90Microspheres]).
Y90_PRODUCTS: dict[str, Y90Product] = {
    # SIR-Spheres: 32 +/- 10 um (20-60 um), specific density up to 1.6 g/mL, 3.0 GBq +/- 10% at calibration in
    # 44 +/- 2.6 million spheres, one vial size (a dose is drawn from it) [SirtexSIRSpheres]; [WJH2015Y90].
    "y90_resin": Y90Product(name="Y-90 resin microspheres (SIR-Spheres)", diameter_range_m=(20.0 * UM_M, 60.0 * UM_M),
                            diameter_lognormal=(32.0 * UM_M, 0.3), density_kg_m3=1600.0, vial_activity_bq=3.0e9,
                            spheres_per_vial=44.0e6, vial_activities_gbq=(3.0,)),
    # TheraSphere: 20-30 um (mean 25), density 3.6 g/mL, 1.2 million spheres per 3 GBq (2500 Bq each at calibration),
    # vials of 3, 5, 7, 10, 15 and 20 GBq [WJH2015Y90]; [Y90Microspheres] (density 3.2).
    "y90_glass": Y90Product(name="Y-90 glass microspheres (TheraSphere)", diameter_range_m=(20.0 * UM_M, 30.0 * UM_M),
                            diameter_lognormal=None, density_kg_m3=3600.0, vial_activity_bq=3.0e9,
                            spheres_per_vial=1.2e6, vial_activities_gbq=(3.0, 5.0, 7.0, 10.0, 15.0, 20.0)),
}
#: Deformability of Y-90 spheres relative to a hydrogel microsphere's (model assumption: rigid, see Notes).
Y90_DEFORMABILITY_FACTOR = 0.0


@dataclass(frozen=True)
class Agent:
    """An embolic agent ready for the procedure (SI units).

    Attributes
    ----------
    name : str
        Label for reports (``"microspheres 100-300 um"``).
    diameter_range_m : tuple of float, m
        Bounds of the uniform diameter distribution (ignored when ``diameters_m`` is set).
    diameters_m : ndarray of float64 or None, m
        Custom agent: diameters drawn uniformly from this list.
    deformability : float
        A particle of diameter d enters a vessel of diameter >= (1 - deformability) d.
    particles_per_m3 : float, 1/m^3
        Particles per volume of settled agent.
    contrast_dilution : float
        Volume of contrast per volume of settled agent in the suspension.
    permanent : bool
        Whether occlusions persist into a later session.
    seal_porosity : float
        Porosity of a sphere compressed into a narrower lumen (the wedge's seal).
    vial_m3 : float, m^3
        Settled spheres per vial of the product.
    aggregation : bool
        Whether concentrated suspensions travel in clusters (:meth:`cluster_extra_mean`).
    diameter_lognormal : tuple of float or None
        (median in m, log-SD): diameters log-normal, truncated to ``diameter_range_m`` (Y-90 resin).
    y90 : Y90Product or None
        The Y-90 product, for radioactive agents.
    activity_bq : float or None, Bq
        Prescribed Y-90 activity at treatment time.
    treatment_delay_s : float, s
        Time from the product's calibration to the treatment.
    """

    name: str
    diameter_range_m: tuple[float, float]
    diameters_m: np.ndarray | None
    deformability: float
    particles_per_m3: float
    contrast_dilution: float
    permanent: bool
    seal_porosity: float
    vial_m3: float
    aggregation: bool
    diameter_lognormal: tuple[float, float] | None = None
    y90: Y90Product | None = None
    activity_bq: float | None = None
    treatment_delay_s: float = 0.0

    def sample_diameters(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` particle diameters (m) with the given generator."""
        return self.diameters_from_uniform(rng.random(n))

    def diameters_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Particle diameters (m) from uniform numbers in [0, 1), one each (inverse-CDF draw)."""
        if self.diameters_m is not None:
            return self.diameters_m[np.minimum((u * self.diameters_m.size).astype(np.int64), self.diameters_m.size - 1)]
        lo, hi = self.diameter_range_m
        if self.diameter_lognormal is not None:
            return _truncated_lognormal(np.asarray(u, dtype=np.float64), lo, hi, *self.diameter_lognormal)
        return lo + (hi - lo) * u

    def activity_per_sphere_bq(self) -> float:
        """Y-90 activity of one sphere at treatment time, Bq (the calibration activity decayed over the delay)."""
        if self.y90 is None:
            raise ValueError(f"{self.name} is not radioactive")
        return self.y90.activity_per_sphere_bq * float(y90.decay_factor(self.treatment_delay_s))

    def spheres_for_activity(self, activity_bq: float) -> float:
        """Spheres that carry ``activity_bq`` (Bq) at treatment time."""
        return activity_bq / self.activity_per_sphere_bq()

    def prescribed_spheres(self) -> float:
        """Spheres of the prescribed activity (``activity_bq``) at treatment time."""
        if self.activity_bq is None:
            raise ValueError(f"{self.name} has no prescribed activity")
        return self.spheres_for_activity(self.activity_bq)

    def min_vessel_diameter(self, particle_diameter_m):
        """Smallest vessel diameter (m) a particle can enter, given its deformability."""
        return (1.0 - self.deformability) * np.asarray(particle_diameter_m)

    def settled_volume_m3(self, n_particles) -> float:
        """Settled agent volume (m^3) holding ``n_particles`` particles."""
        return n_particles / self.particles_per_m3

    def suspension_volume_m3(self, n_particles) -> float:
        """Injected suspension volume (m^3): settled agent plus its contrast."""
        return self.settled_volume_m3(n_particles) * (1.0 + self.contrast_dilution)

    def cluster_extra_mean(self) -> float:
        """Mean number of extra particles travelling with each particle (Poisson), 0 without aggregation.

        The concentration of spheres in the suspension scales as 1 / (1 + dilution);
        at and above ``AGGREGATION_FREE_DILUTION`` there is none, below it the mean
        grows with the concentration's excess over that threshold,
        ``(1 + D_free) / (1 + D) - 1`` (model assumption: the simplest law that is 0
        at the cited threshold; 1.2 at 1:4, 0.1 at 1:9).
        """
        if not self.aggregation:
            return 0.0
        return max(0.0, (1.0 + AGGREGATION_FREE_DILUTION) / (1.0 + self.contrast_dilution) - 1.0)

    def particles_per_suspension_m3(self) -> float:
        """Particle concentration of the injected suspension, 1/m^3."""
        return self.particles_per_m3 / (1.0 + self.contrast_dilution)


def _mean_sphere_volume_uniform(lo: float, hi: float) -> float:
    """Mean volume (m^3) of spheres with diameter uniform on [lo, hi] (m)."""
    mean_d3 = (hi**4 - lo**4) / (4.0 * (hi - lo))
    return np.pi / 6.0 * mean_d3


def _truncated_lognormal(u: np.ndarray, lo: float, hi: float, median: float, sigma: float) -> np.ndarray:
    """Inverse CDF of a log-normal (median, log-SD ``sigma``) truncated to [lo, hi], at uniforms ``u`` in [0, 1)."""
    from scipy.special import ndtr, ndtri

    mu = np.log(median)
    a, b = ndtr((np.log(lo) - mu) / sigma), ndtr((np.log(hi) - mu) / sigma)
    return np.clip(np.exp(mu + sigma * ndtri(a + u * (b - a))), lo, hi)


def _mean_sphere_volume_lognormal(lo: float, hi: float, median: float, sigma: float) -> float:
    """Mean volume (m^3) of spheres with a truncated log-normal diameter (midpoint rule over 1e5 quantiles)."""
    u = (np.arange(100_000) + 0.5) / 100_000
    return float(np.mean(np.pi / 6.0 * _truncated_lognormal(u, lo, hi, median, sigma) ** 3))


def _y90_agent(cfg: AgentConfig) -> Agent:
    """The Agent of a Y-90 kind from its product data (:data:`Y90_PRODUCTS`)."""
    product = Y90_PRODUCTS[cfg.kind]
    lo, hi = product.diameter_range_m
    if product.diameter_lognormal is None:
        mean_volume = _mean_sphere_volume_uniform(lo, hi)
    else:
        mean_volume = _mean_sphere_volume_lognormal(lo, hi, *product.diameter_lognormal)
    per_m3 = RANDOM_CLOSE_PACKING / mean_volume
    return Agent(name=product.name, diameter_range_m=(lo, hi), diameters_m=None,
                 deformability=cfg.deformability * Y90_DEFORMABILITY_FACTOR, particles_per_m3=per_m3,
                 contrast_dilution=cfg.contrast_dilution, permanent=True, seal_porosity=cfg.seal_porosity,
                 vial_m3=product.spheres_per_vial / per_m3, aggregation=cfg.aggregation,
                 diameter_lognormal=product.diameter_lognormal, y90=product, activity_bq=cfg.activity_gbq * y90.GBQ_BQ,
                 treatment_delay_s=cfg.treatment_delay_h * y90.HOUR_S)


def agent_sequence(cfg: AgentConfig, steps) -> list[tuple[Agent, float]]:
    """The agents of a procedure with the antegrade flow fraction at which each starts.

    Parameters
    ----------
    cfg : AgentConfig
        The first agent (from flow fraction 1).
    steps : sequence of AgentStep
        Later agents; they share ``cfg``'s deformability, dilution and permanence.
    """
    out = [(agent_from_config(cfg), 1.0)]
    for step in steps:
        later = cfg.model_copy(update={"kind": step.kind, "size_bin": step.size_bin, "particles_per_ml": None,
                                       "diameters_um": None})
        out.append((agent_from_config(later), step.switch_at_flow_fraction))
    return out


def particle_sequence(cfg: AgentConfig, steps) -> list[tuple[Agent, float]]:
    """The particle agents of a session with the flow fraction at which each starts: :func:`agent_sequence`; for a
    cTACE (``kind = "lipiodol"``) the particles after the oil, ``steps``' (the first at once), none without steps."""
    if cfg.kind != "lipiodol":
        return agent_sequence(cfg, steps)
    if not steps:
        return []
    first = cfg.model_copy(update={"kind": steps[0].kind, "size_bin": steps[0].size_bin})
    return agent_sequence(first, steps[1:])


def agent_from_config(cfg: AgentConfig) -> Agent:
    """Build an :class:`Agent` from the scenario's ``[agent]`` section.

    Examples
    --------
    >>> from sim.scenario import AgentConfig
    >>> a = agent_from_config(AgentConfig(size_bin="100-300"))
    >>> round(a.particles_per_m3 * 1e-6, -3)    # particles per mL, [ParticlesPerMLDerived]: 1.2e5
    122000.0
    """
    if cfg.kind in Y90_PRODUCTS:
        return _y90_agent(cfg)
    lo_um, hi_um = SIZE_BINS_UM[cfg.size_bin]
    deformability = cfg.deformability
    diameters = None
    if cfg.kind == "custom":
        diameters = np.asarray(cfg.diameters_um, dtype=np.float64) * UM_M
        lo, hi = float(diameters.min()), float(diameters.max())
        mean_volume = float(np.mean(np.pi / 6.0 * diameters**3))
        name = f"custom ({lo / UM_M:.0f}-{hi / UM_M:.0f} um)"
    else:
        lo, hi = lo_um * UM_M, hi_um * UM_M
        if cfg.kind == "pva":
            lo, hi = lo * PVA_SPREAD[0], hi * PVA_SPREAD[1]
            deformability = cfg.deformability * PVA_DEFORMABILITY_FACTOR
        mean_volume = _mean_sphere_volume_uniform(lo, hi)
        name = f"{cfg.kind} {cfg.size_bin} um"
    per_m3 = cfg.particles_per_ml / ML_M3 if cfg.particles_per_ml else RANDOM_CLOSE_PACKING / mean_volume
    return Agent(name=name, diameter_range_m=(lo, hi), diameters_m=diameters, deformability=deformability,
                 particles_per_m3=per_m3, contrast_dilution=cfg.contrast_dilution, permanent=cfg.permanent,
                 seal_porosity=cfg.seal_porosity, vial_m3=cfg.vial_ml * ML_M3, aggregation=cfg.aggregation)
