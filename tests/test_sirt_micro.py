"""Lobule-scale dose heterogeneity (sim/sirt_micro.py): Campbell's variance against a Monte Carlo of clustered
spheres, glass more heterogeneous than resin at the same mean dose, the uniform limit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from sim import sirt_micro as sm
from sim import y90_kernel as yk
from sim.scenario import SirtConfig

LOBULE_M3 = 1.25e-9


def _monte_carlo_cv2(cluster_size: int, density_per_m3: float, lobule_m3: float, seed: int) -> tuple[float, float]:
    """Squared CV and mean (as a share of the local dose) of lobule doses from clusters of ``cluster_size`` spheres at
    Poisson positions in a periodic 40 mm box, each lobule's dose averaged over a grid of points inside it (the kernel
    averaged over a sphere of a / 8 below that distance: a finite cell, as on any grid)."""
    rng = np.random.default_rng(seed)
    side = 40e-3
    clusters = rng.uniform(0.0, side, (rng.poisson(density_per_m3 / cluster_size * side ** 3), 3))
    a = (3.0 * lobule_m3 / (4.0 * np.pi)) ** (1.0 / 3.0)
    g = np.arange(-a, a + 1e-12, a / 3.0)
    offsets = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    offsets = offsets[np.linalg.norm(offsets, axis=1) <= a]
    centres = rng.uniform(0.0, side, (300, 3))
    points = ((centres[:, None, :] + offsets[None, :, :]) % side).reshape(-1, 3)
    pairs = cKDTree(points, boxsize=side).sparse_distance_matrix(cKDTree(clusters, boxsize=side), yk.CUTOFF_M,
                                                                  output_type="ndarray")
    eps = a / 8.0
    w = np.where(pairs["v"] < eps, yk.sphere_mean_per_kg(eps), yk.kernel_per_kg(np.maximum(pairs["v"], eps)))
    per_point = np.bincount(pairs["i"], weights=w * cluster_size, minlength=len(points))
    dose = per_point.reshape(len(centres), -1).mean(axis=1)  # energy share per kg, per decay of one sphere
    realised = len(clusters) * cluster_size / side ** 3
    return float(dose.var() / dose.mean() ** 2), float(dose.mean() / (realised / 1000.0))


@pytest.mark.parametrize(("cluster_size", "density"), [(1, 5.0e7), (8, 2.0e8)], ids=["poisson", "clusters_of_8"])
def test_campbell_variance_matches_a_monte_carlo_of_clustered_spheres(cluster_size, density):
    """CV^2 = Q / (n V_eff) (Q = cluster size for equal clusters) against 300 simulated lobules of 10 mm^3: within
    the Monte Carlo's own error (about 8% on a variance from 300 samples; 20% allowed); the mean is the local dose."""
    lobule = 10e-9
    cv2, mean_share = _monte_carlo_cv2(cluster_size, density, lobule, seed=3)
    predicted = cluster_size / (density * sm.effective_volume_m3(lobule))
    assert cv2 == pytest.approx(predicted, rel=0.2)
    assert mean_share == pytest.approx(1.0, abs=3 * np.sqrt(cv2 / 300))  # three standard errors


def test_glass_is_more_heterogeneous_than_resin_at_the_same_mean_dose():
    """Same mean dose, glass 2500 Bq vs resin 50 Bq per sphere: CV larger by sqrt(50) and more lobules under 30 Gy
    at a 60 Gy mean (resin: nearly none)."""
    mean = np.array([60.0])
    resin = sm.lobule_dose_cv(mean, 50.0, 53.0, LOBULE_M3)
    glass = sm.lobule_dose_cv(mean, 2500.0, 53.0, LOBULE_M3)
    assert glass[0] / resin[0] == pytest.approx(np.sqrt(50.0), rel=1e-12)
    under_resin, under_glass = sm.fraction_below(30.0, mean, resin)[0], sm.fraction_below(30.0, mean, glass)[0]
    assert under_resin < 0.01 < 0.2 < under_glass < 0.5
    # independent spheres (no clustering) are less heterogeneous than clustered ones
    assert sm.lobule_dose_cv(mean, 2500.0, 1.0, LOBULE_M3)[0] < glass[0]


def test_many_spheres_give_a_uniform_dose_and_no_dose_gives_every_lobule_under():
    mean = np.array([20.0, 45.0, 0.0])
    cv = sm.lobule_dose_cv(mean, 1e-6, 53.0, LOBULE_M3)  # spheres of a micro-becquerel: billions per lobule
    assert np.all(cv[:2] < 1e-3) and np.isinf(cv[2])
    assert sm.fraction_below(30.0, mean, cv).tolist() == pytest.approx([1.0, 0.0, 1.0], abs=1e-9)
    assert sm.fraction_below(30.0, mean, np.zeros(3)).tolist() == [1.0, 0.0, 1.0]
    # the lobule average smooths: a larger lobule has a larger effective volume
    assert sm.effective_volume_m3(10e-9) > sm.effective_volume_m3(1.25e-9) > sm.effective_volume_m3(0.1e-9)


def test_readouts_are_mass_weighted_over_compartment_parts():
    config = SirtConfig()
    normal_gy, normal_kg = np.array([10.0, 80.0, 0.0]), np.array([0.1, 0.3, 0.0])
    tumour_gy, tumour_kg = np.array([0.0, 300.0, 50.0]), np.array([0.0, 0.02, 0.02])
    out = sm.micro_readouts(tumour_gy, tumour_kg, normal_gy, normal_kg, 1500.0, config)
    cv_n = sm.lobule_dose_cv(normal_gy, 1500.0, config.sphere_cluster_dispersion, config.lobule_volume_mm3 * 1e-9)
    expected = (0.1 * sm.fraction_below(30.0, normal_gy[:1], cv_n[:1])[0]
                + 0.3 * sm.fraction_below(30.0, normal_gy[1:2], cv_n[1:2])[0]) / 0.4
    assert out["sirt_normal_liver_fraction_under_30gy"] == pytest.approx(expected, rel=1e-12)
    assert out["sirt_normal_liver_fraction_under_30gy"] <= out["sirt_normal_liver_fraction_under_40gy"]
    assert 0 < out["sirt_tumour_fraction_under_100gy"] < 1
    # the region's CV: between compartments and within each (E[D^2] = D^2 (1 + CV^2), mass-weighted)
    w = normal_kg[:2] / 0.4
    second = (w * normal_gy[:2] ** 2 * (1 + cv_n[:2] ** 2)).sum()
    mean = (w * normal_gy[:2]).sum()
    assert out["sirt_normal_liver_lobule_dose_cv"] == pytest.approx(np.sqrt(second - mean ** 2) / mean, rel=1e-12)
    cv_uniform = sm.micro_readouts(tumour_gy, tumour_kg, np.array([50.0, 50.0, 0.0]), normal_kg, 1500.0, config)
    assert cv_uniform["sirt_normal_liver_lobule_dose_cv"] == pytest.approx(
        sm.lobule_dose_cv(np.array([50.0]), 1500.0, 53.0, 1.25e-9)[0], rel=1e-12)  # one mean dose: its lobule CV
    assert set(out) == {"sirt_normal_liver_fraction_under_30gy", "sirt_normal_liver_fraction_under_40gy",
                        "sirt_normal_liver_lobule_dose_cv", "sirt_tumour_fraction_under_100gy",
                        "sirt_tumour_lobule_dose_cv"}
