"""SIRT dosimetry from a deposition (issue 16): the uniform limit is the partition model; DVH, D70, V100."""

from __future__ import annotations

import numpy as np
import pytest

from sim import dosimetry as dm
from sim.sirt_dose import dose_at_volume, doses_from_deposition, dvh, volume_at_dose
from sim.y90 import DOSE_GY_KG_PER_GBQ


def _uniform_deposition(activity_gbq, p: dm.Partition, n=50, seed=0):
    """Compartments of random masses (mixed tumour and normal parts), activity in proportion to mass with the
    tumour's concentration tn_ratio times the normal's, lung share LSF."""
    rng = np.random.default_rng(seed)
    m_t = rng.random(n) * (rng.random(n) < 0.4)
    m_n = rng.random(n)
    m_t *= p.tumour_mass_kg / m_t.sum()
    m_n *= p.normal_mass_kg / m_n.sum()
    a_t_share, a_n_share, lung_share = p.shares()
    a = activity_gbq * 1e9
    return m_t, m_n, a * a_t_share * m_t / m_t.sum(), a * a_n_share * m_n / m_n.sum(), a * lung_share


def test_uniform_deposition_reproduces_the_partition_model():
    p = dm.Partition(tumour_mass_kg=0.25, normal_mass_kg=1.1, tn_ratio=3.5, lung_shunt_fraction=0.07)
    m_t, m_n, a_t, a_n, a_l = _uniform_deposition(2.2, p)
    d = doses_from_deposition(a_t, a_n, m_t, m_n, lung_activity_bq=a_l)
    ref = dm.partition_doses(2.2, p)
    assert d.mean_tumour_gy == pytest.approx(ref.tumour_gy, rel=1e-12)
    assert d.mean_normal_gy == pytest.approx(ref.normal_gy, rel=1e-12)
    assert d.lung_gy == pytest.approx(ref.lung_gy, rel=1e-12)
    # uniform: every tumour part gets the same dose, so D70 = mean and V100 is all or nothing
    assert dose_at_volume(d.tumour_gy, m_t, 0.7) == pytest.approx(ref.tumour_gy, rel=1e-12)
    assert volume_at_dose(d.tumour_gy, m_t, 0.999 * ref.tumour_gy) == pytest.approx(1.0)
    assert volume_at_dose(d.tumour_gy, m_t, 1.001 * ref.tumour_gy) == 0.0


def test_dose_is_activity_over_mass_and_energy_is_conserved():
    a_t, a_n = np.array([1e8, 0.0, 3e8]), np.array([2e8, 5e7, 0.0])
    m_t, m_n = np.array([0.01, 0.0, 0.03]), np.array([0.02, 0.05, 0.01])
    d = doses_from_deposition(a_t, a_n, m_t, m_n)
    assert d.tumour_gy[0] == pytest.approx(DOSE_GY_KG_PER_GBQ * 0.1 / 0.01, rel=1e-12)
    # mass-weighted mean dose x mass = K x activity: the energy of the deposited activity
    total_gy_kg = d.mean_tumour_gy * m_t.sum() + d.mean_normal_gy * m_n.sum()
    assert total_gy_kg == pytest.approx(DOSE_GY_KG_PER_GBQ * (a_t.sum() + a_n.sum()) / 1e9, rel=1e-12)
    with pytest.raises(ValueError, match="without mass"):
        doses_from_deposition([1.0], [0.0], [0.0], [1.0])


def test_dvh_d70_v100_on_a_known_distribution():
    """Four equal masses at 50, 100, 150, 200 Gy: V100 = 0.75, D70 = 100 Gy (75% get at least 100), D25 = 200."""
    dose, mass = np.array([150.0, 50.0, 200.0, 100.0]), np.ones(4)
    idx, d, at_least = dvh(dose, mass)
    assert idx.tolist() == [1, 3, 0, 2]
    assert d.tolist() == [50.0, 100.0, 150.0, 200.0] and at_least.tolist() == [1.0, 0.75, 0.5, 0.25]
    assert volume_at_dose(dose, mass, 100.0) == 0.75
    assert dose_at_volume(dose, mass, 0.7) == 100.0 and dose_at_volume(dose, mass, 0.25) == 200.0
