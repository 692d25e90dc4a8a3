"""Blood viscosity (Pries 1994) and vessel conductance laws."""

import math

import numpy as np
import pytest
from reference import pries_relative_viscosity

from sim.rheology import annulus_conductance, apparent_viscosity, poiseuille_conductance, relative_viscosity


@pytest.mark.parametrize("d_um, expected", [(10, 5.87), (20, 3.23), (50, 2.28), (100, 2.53), (200, 2.86),
                                            (1000, 3.20)])
def test_pries_check_values(d_um, expected):
    """[Pries1994] check values (derived) at H_D = 0.45, to 0.01."""
    assert abs(relative_viscosity(d_um * 1e-6) - expected) < 0.01


def test_pries_matches_printed_formula():
    d_um = np.geomspace(2.0, 3000.0, 200)
    for h in (0.0, 0.2, 0.45, 0.6):
        got = relative_viscosity(d_um * 1e-6, h)
        want = [pries_relative_viscosity(d, h) for d in d_um]
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_pries_plasma_limit_and_minimum():
    """No cells: only the (D/(D-1.1))^2 wall term remains; blood is thinnest near 50 um (Fahraeus-Lindqvist)."""
    d = np.array([5.0, 30.0, 400.0])
    np.testing.assert_allclose(relative_viscosity(d * 1e-6, 0.0), (d / (d - 1.1)) ** 2, rtol=1e-12)
    grid = np.linspace(10, 1000, 1000)
    assert 20 < grid[np.argmin(relative_viscosity(grid * 1e-6))] < 80


def test_pries_continuous_where_exponent_crosses_zero():
    """C(D) = 0 near D = 7.9 um makes the haematocrit ratio 0/0; the law stays smooth there."""
    d = np.linspace(7.0, 9.0, 20001)
    v = relative_viscosity(d * 1e-6, 0.3)
    assert np.all(np.isfinite(v))
    assert np.max(np.abs(np.diff(v))) < 1e-3


def test_apparent_viscosity_of_large_vessel_is_whole_blood():
    """Whole blood in large arteries: 3.5-4 mPa s ([TextbookPhysiology])."""
    assert 3.5e-3 < apparent_viscosity(5e-3) < 4.0e-3
    assert apparent_viscosity(5e-3, plasma_viscosity_pa_s=2.4e-3) == pytest.approx(2 * apparent_viscosity(5e-3))


def test_poiseuille_conductance():
    r, length, mu = 1e-3, 0.05, 3.5e-3
    assert poiseuille_conductance(r, length, mu) == pytest.approx(math.pi * r ** 4 / (8 * mu * length), rel=1e-15)
    g = poiseuille_conductance([1e-3, 2e-3], [0.05, 0.1], 3.5e-3)
    assert g[1] / g[0] == pytest.approx(8.0, rel=1e-14)


def test_annulus_limits():
    r, length, mu = 1e-3, 0.02, 3.5e-3
    open_tube = poiseuille_conductance(r, length, mu)
    assert annulus_conductance(r, 0.0, length, mu) == pytest.approx(open_tube, rel=1e-15)
    assert annulus_conductance(r, 1e-9, length, mu) == pytest.approx(open_tube, rel=0.1)
    assert annulus_conductance(r, r, length, mu) == 0.0
    assert annulus_conductance(r, 2 * r, length, mu) == 0.0
    # thin gap h: plane Poiseuille flow over the circumference, 2 pi R h^3 / (12 mu L)
    h = 1e-3 * r
    slit = 2 * math.pi * (r - h / 2) * h ** 3 / (12 * mu * length)
    assert annulus_conductance(r, r - h, length, mu) == pytest.approx(slit, rel=1e-3)
    ks = np.linspace(0.01, 0.99, 50)
    g = [annulus_conductance(r, k * r, length, mu) for k in ks]
    assert np.all(np.diff(g) < 0)


def test_annulus_against_velocity_profile():
    """Integrate the exact annular velocity profile numerically and compare."""
    r_out, r_in, length, mu, dp = 1e-3, 0.4e-3, 0.02, 3.5e-3, 100.0
    rr = np.linspace(r_in, r_out, 200001)
    u = dp / (4 * mu * length) * (r_out ** 2 - rr ** 2 + (r_out ** 2 - r_in ** 2) * np.log(rr / r_out)
                                  / math.log(r_out / r_in))
    q = np.trapezoid(2 * math.pi * rr * u, rr)
    assert annulus_conductance(r_out, r_in, length, mu) * dp == pytest.approx(q, rel=1e-8)


@pytest.mark.parametrize("call, match", [
    (lambda: relative_viscosity(1.0e-6), "1.1 um"),
    (lambda: relative_viscosity(1e-5, 1.0), "haematocrit"),
    (lambda: relative_viscosity(np.nan), "finite"),
    (lambda: apparent_viscosity(1e-4, plasma_viscosity_pa_s=0.0), "plasma_viscosity_pa_s"),
    (lambda: poiseuille_conductance(-1e-3, 0.01, 3e-3), "radius_m"),
    (lambda: poiseuille_conductance(1e-3, 0.0, 3e-3), "length_m"),
    (lambda: annulus_conductance(1e-3, -1e-4, 0.01, 3e-3), "inner_radius_m"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()
