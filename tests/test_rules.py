"""The transport rules' size weight: its test without division gives the plain formula's weight to the bit."""

import numpy as np

from sim.kernels.rules import size_weight


def _plain(particle_d, vessel_d, deformability, onset):
    """The weight as specified, on arrays (numpy's IEEE operations, as the kernel's): 1 up to the onset ratio,
    linear to 0 at the ratio the particle cannot pass."""
    ratio = particle_d / vessel_d
    fit = 1.0 / (1.0 - deformability)
    return np.where(ratio <= onset, 1.0, np.where(ratio >= fit, 0.0, (fit - ratio) / (fit - onset)))


def test_size_weight_equals_the_plain_formula_bit_for_bit_near_the_onset():
    rng = np.random.default_rng(3)
    onset, deformability = 0.5, 0.2
    vessel = rng.uniform(20e-6, 2e-3, 200_000)
    # particles spread around the onset ratio, many within a few units of rounding of it
    ratio = onset * (1.0 + rng.choice([-1.0, 1.0], vessel.size) * rng.choice([1e-16, 1e-15, 1e-14, 1e-3, 0.5], vessel.size)
                     * rng.uniform(0.0, 4.0, vessel.size))
    particle = ratio * vessel
    particle[:50] = onset * vessel[:50]  # d / v rounding to the onset itself, or next to it
    particle[50:100] = np.nextafter(particle[:50], 0.0)
    particle[100:150] = np.nextafter(particle[:50], 1.0)
    got = np.array([size_weight(d, v, deformability, onset) for d, v in zip(particle, vessel, strict=True)])
    want = _plain(particle, vessel, deformability, onset)
    np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))
    assert (want == 1.0).mean() > 0.3 and ((want > 0.0) & (want < 1.0)).mean() > 0.2  # both sides exercised
    assert size_weight(80e-6, np.inf, deformability, onset) == 1.0  # no limit
    assert size_weight(80e-6, 100e-6, deformability, 0.0) == 1.0  # disabled
