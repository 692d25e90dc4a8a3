"""Y-90 dose point kernel (sim/y90_kernel.py): the published function, energy conservation, the local limit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from sim import y90_kernel as yk
from sim.y90 import DOSE_GY_KG_PER_GBQ, GBQ_BQ

RHO = 1000.0


def _loevinger_per_kg(r_m: float) -> float:
    """Loevinger's point-source function for E0 = 2.2785 MeV (nu = 18.6 (E0 - 0.036)^-1.37 cm^2/g, c = 1) in water,
    per kg and normalised to the energy inside 11 mm, written out here from the published form."""
    nu = 18.6 * (2.2785 - 0.036) ** -1.37  # cm^2/g
    x = r_m * 100.0  # g/cm^2 at 1 g/cm^3
    u = nu * x
    shape = 1.0 / u ** 2 if u < 1 else math.exp(1.0 - u) / u
    # integral of 4 pi x^2 shape dx up to u_c: (4 pi / nu^3) (1 + [2 - (u_c + 1) e^(1 - u_c)])
    u_c = nu * 1.1
    total = 4.0 * math.pi / nu ** 3 * (3.0 - (u_c + 1.0) * math.exp(1.0 - u_c))
    return shape / total * 1e3  # per g -> per kg


@pytest.mark.parametrize("r_mm", [0.3, 1.0, 1.6, 2.0, 4.0, 8.0, 10.9])
def test_kernel_is_loevingers_published_function(r_mm):
    assert yk.kernel_per_kg(r_mm * 1e-3) == pytest.approx(_loevinger_per_kg(r_mm * 1e-3), rel=1e-9)


def test_kernel_deposits_the_emitted_energy_in_an_infinite_medium():
    """The radial integral of the kernel over the cut-off sphere is 1 (the renormalised 0.8% tail included); a third
    of the energy (Loevinger's inner part) lies within 1 / (nu rho) = 1.63 mm; nothing beyond 11 mm."""
    total, _ = quad(lambda r: 4 * math.pi * r * r * RHO * float(yk.kernel_per_kg(r)), 0.0, yk.CUTOFF_M,
                    points=[1 / (yk.NU_M2_KG * RHO)], limit=200)
    assert total == pytest.approx(1.0, abs=1e-9)
    inner = 1.0 / (yk.NU_M2_KG * RHO)
    assert inner == pytest.approx(1.627e-3, rel=1e-3)
    assert float(yk.cumulative_fraction(inner)) == pytest.approx(1.0 / 3.0 / yk._F_CUT, rel=1e-12)
    assert yk.kernel_per_kg(11.5e-3) == 0.0
    for h in (1e-3, 2.5e-3, 6e-3):
        assert yk.voxel_kernel(h).sum() * RHO * h ** 3 == pytest.approx(1.0, abs=1e-12)


def _lattice(side_m: float, h: float) -> np.ndarray:
    g = (np.arange(int(round(side_m / h))) + 0.5) * h
    return np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)


def test_point_source_profile_follows_the_kernel():
    """One point source on a 1 mm grid: the dose 3-9 mm away is the kernel's (voxel averaging: within 3%); the dose
    over all voxels times their mass is the emitted energy."""
    h = 1e-3
    xyz = _lattice(31e-3, h)
    centre = np.argmin(np.linalg.norm(xyz - 15.5e-3, axis=1))
    activity = np.zeros(len(xyz))
    activity[centre] = 1e6
    dose = yk.grid_doses(xyz, activity, h)
    per_bq = DOSE_GY_KG_PER_GBQ / GBQ_BQ * 1e6
    r = np.linalg.norm(xyz - xyz[centre], axis=1)
    for target in (3e-3, 5e-3, 7e-3, 9e-3):
        on = np.flatnonzero(np.isclose(r, target))
        assert on.size and np.allclose(dose[on], per_bq * yk.kernel_per_kg(target), rtol=0.03)
    assert (dose * RHO * h ** 3).sum() == pytest.approx(per_bq, rel=1e-9)


def test_large_compartments_approach_local_deposition_small_ones_share_their_dose():
    """Two 40 mm halves of activity 1 and 3 (per volume): their doses are the local ones, exactly far from the
    interface and within 8% on average (betas escape the outer faces); in a 4 mm checkerboard of hot and cold cubes
    cross-fire evens the dose out."""
    h = 2e-3
    xyz = _lattice(80e-3, h)
    conc = np.where(xyz[:, 0] < 40e-3, 1.0, 3.0)
    local = conc * DOSE_GY_KG_PER_GBQ / GBQ_BQ / (RHO * h ** 3)  # Gy per unit activity per voxel
    dose = yk.grid_doses(xyz, conc, h)
    deep = np.all((xyz > 12e-3) & (xyz < 68e-3), axis=1) & (np.abs(xyz[:, 0] - 40e-3) > 12e-3)
    assert np.allclose(dose[deep], local[deep], rtol=1e-9)
    for half in (xyz[:, 0] < 40e-3, xyz[:, 0] >= 40e-3):
        assert dose[half].mean() == pytest.approx(local[half].mean(), rel=0.08)
        assert dose[half].mean() < local[half].mean()  # energy escapes the block's outer faces
    small = _lattice(40e-3, 1e-3)
    hot = ((small // 4e-3).astype(int).sum(axis=1) % 2) == 0
    d = yk.grid_doses(small, hot.astype(float), 1e-3)
    inner = np.all((small > 12e-3) & (small < 28e-3), axis=1)
    local_hot = DOSE_GY_KG_PER_GBQ / GBQ_BQ / (RHO * 1e-9)
    assert d[inner & hot].mean() < 0.75 * local_hot and d[inner & ~hot].mean() > 0.25 * local_hot


def test_memory_budget_coarsens_the_grid_and_keeps_the_energy(monkeypatch):
    """With a tiny budget the grid is coarsened (estimated before building) and the energy is still conserved."""
    xyz = _lattice(30e-3, 1e-3)
    activity = np.where(np.linalg.norm(xyz - 15e-3, axis=1) < 3e-3, 1.0, 0.0)
    fine = yk.grid_doses(xyz, activity, 1e-3)
    monkeypatch.setattr(yk, "MEMORY_BUDGET_BYTES", 5e6)
    coarse = yk.grid_doses(xyz, activity, 1e-3)
    assert yk._fft_bytes((31, 31, 31), 23) > 5e6  # the fine grid did not fit
    per_point = DOSE_GY_KG_PER_GBQ / GBQ_BQ * activity.sum() / (RHO * 1e-9)
    assert (fine.sum() / per_point) == pytest.approx(1.0, rel=0.02)
    assert (coarse.sum() / per_point) == pytest.approx(1.0, rel=0.1)
    assert not np.allclose(coarse, fine)
