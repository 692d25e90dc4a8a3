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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scenario import SIZE_BINS_UM, AgentConfig
from .units import ML_M3, UM_M

__all__ = ["Agent", "agent_from_config", "agent_sequence", "RANDOM_CLOSE_PACKING", "AGGREGATION_FREE_DILUTION"]

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

    def sample_diameters(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` particle diameters (m) with the given generator."""
        return self.diameters_from_uniform(rng.random(n))

    def diameters_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Particle diameters (m) from uniform numbers in [0, 1), one each (inverse-CDF draw)."""
        if self.diameters_m is not None:
            return self.diameters_m[np.minimum((u * self.diameters_m.size).astype(np.int64), self.diameters_m.size - 1)]
        lo, hi = self.diameter_range_m
        return lo + (hi - lo) * u

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


def agent_from_config(cfg: AgentConfig) -> Agent:
    """Build an :class:`Agent` from the scenario's ``[agent]`` section.

    Examples
    --------
    >>> from sim.scenario import AgentConfig
    >>> a = agent_from_config(AgentConfig(size_bin="100-300"))
    >>> round(a.particles_per_m3 * 1e-6, -3)    # particles per mL, [ParticlesPerMLDerived]: 1.2e5
    122000.0
    """
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
