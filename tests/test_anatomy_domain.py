"""Liver domain, tissue points and Couinaud segments (sim.anatomy.domain)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.anatomy.domain import SHAPES, fit_segment_planes, liver_domain, quasi_random_points, sample_points
from sim.scenario import SEGMENTS, Scenario

FRACTIONS = Scenario().liver.segment_fractions


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_volume_matches_mass_and_monte_carlo(shape):
    domain = liver_domain(1.5, shape)
    assert domain.volume_m3 == pytest.approx(1.5e-3, rel=1e-12)  # 1.5 kg at 1.0 kg/L
    lo, hi = domain.bounds_m
    rng = np.random.default_rng(1)
    inside = domain.contains(lo + (hi - lo) * rng.random((400_000, 3))).mean()
    assert inside * np.prod(hi - lo) == pytest.approx(domain.volume_m3, rel=0.01)


def test_volume_scales_with_mass():
    assert liver_domain(1.8, "typical").volume_m3 == pytest.approx(1.8e-3, rel=1e-12)


def test_right_lobe_is_thicker_than_left_tip():
    d = liver_domain(1.5, "typical")
    assert d.contains(np.array([[-0.9 * d.right_m, 0.0, 0.0], [0.0, 0.0, 0.9 * d.cc_m]])).all()
    assert not d.contains(np.array([[0.9 * d.left_m, 0.0, 0.5 * d.cc_m]]))[0]


def test_points_are_inside_and_seeded():
    d = liver_domain(1.5, "typical")
    a = sample_points(d, 5000, np.random.default_rng(3))
    assert a.shape == (5000, 3) and d.contains(a).all()
    np.testing.assert_array_equal(a, sample_points(d, 5000, np.random.default_rng(3)))
    assert not np.array_equal(a, sample_points(d, 5000, np.random.default_rng(4)))


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_segment_fractions_match_targets_and_published_order(shape):
    d = liver_domain(1.5, shape)
    planes = fit_segment_planes(d, FRACTIONS)
    labels = planes.label(quasi_random_points(d))
    frac = np.bincount(labels, minlength=8) / labels.size
    np.testing.assert_allclose(frac, [FRACTIONS[s] for s in SEGMENTS], atol=2e-3)
    order = np.argsort(-frac)  # [HPB2014Segments]: VIII > VII > IV > V > III > VI > II > I
    assert [SEGMENTS[i] for i in order] == ["VIII", "VII", "IV", "V", "III", "VI", "II", "I"]


def test_segments_lie_where_couinaud_puts_them():
    d = liver_domain(1.5, "typical")
    planes = fit_segment_planes(d, FRACTIONS)
    pts = quasi_random_points(d)
    lab = planes.label(pts)
    centre = {SEGMENTS[s]: pts[lab == s].mean(axis=0) for s in range(8)}
    # right liver (V-VIII) to the patient's right (-x) of the left liver (II-IV)
    assert max(centre[s][0] for s in ("V", "VI", "VII", "VIII")) < min(centre[s][0] for s in ("II", "III", "IV"))
    # superior segments above their inferior partners (z cranial)
    for sup, inf in (("VII", "VI"), ("VIII", "V"), ("II", "III")):
        assert centre[sup][2] > centre[inf][2]
    # posterior sector behind the anterior one (y posterior); segment I posterior and central
    assert centre["VI"][1] > centre["V"][1] and centre["VII"][1] > centre["VIII"][1]
    assert centre["I"][1] > 0.3 * d.ap_m


def test_hilum_is_inside_the_liver():
    d = liver_domain(1.5, "typical")
    assert d.contains(fit_segment_planes(d, FRACTIONS).hilum_m(d)[None])[0]
