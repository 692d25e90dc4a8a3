"""SIRT (issue 16): Y-90 resin and glass microspheres as agents, Y-90 decay, the activity keys and their validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from cli_helpers import assert_run_refused

from sim import y90
from sim.agents import Y90_PRODUCTS, agent_from_config
from sim.scenario import AgentConfig, ScenarioError, load_scenario

HOUR = 3600.0


def _agent(kind: str, activity_gbq: float = 3.0, delay_h: float = 0.0):
    return agent_from_config(AgentConfig(kind=kind, activity_gbq=activity_gbq, treatment_delay_h=delay_h))


def test_half_life_and_decay_law():
    """64.1 h [Y90Microspheres]; the decay factor is exponential (multiplicative over consecutive delays)."""
    assert y90.HALF_LIFE_S == pytest.approx(64.1 * HOUR)
    assert y90.decay_factor(y90.HALF_LIFE_S) == pytest.approx(0.5, rel=1e-12)
    assert y90.decay_factor(3 * y90.HALF_LIFE_S) == pytest.approx(0.125, rel=1e-12)
    t1, t2 = 17.3 * HOUR, 101.0 * HOUR
    assert y90.decay_factor(t1 + t2) == pytest.approx(y90.decay_factor(t1) * y90.decay_factor(t2), rel=1e-12)
    # 94% of the activity is gone within 11 days ([SirtexSIRSpheres]: "94% within 11 days")
    assert 1.0 - y90.decay_factor(11 * 24 * HOUR) == pytest.approx(0.94, abs=0.006)


def test_activity_per_sphere_and_spheres_per_vial_match_the_product_data():
    """Glass 2500 Bq per sphere, 1.2e6 per 3 GBq; resin 44e6 per 3 GBq, i.e. within the 40-80e6 range [WJH2015Y90]."""
    glass, resin = Y90_PRODUCTS["y90_glass"], Y90_PRODUCTS["y90_resin"]
    assert glass.activity_per_sphere_bq == pytest.approx(2500.0)
    assert 3.0 * glass.spheres_per_gbq == pytest.approx(1.2e6)
    assert 3.0 * resin.spheres_per_gbq == pytest.approx(44e6)
    assert 3e9 / 80e6 <= resin.activity_per_sphere_bq <= 3e9 / 40e6  # "about 50 Bq": 37.5-75 Bq
    assert glass.vial_activities_gbq == (3.0, 5.0, 7.0, 10.0, 15.0, 20.0) and resin.vial_activities_gbq == (3.0,)
    assert resin.density_kg_m3 == pytest.approx(1600.0) and 3200.0 <= glass.density_kg_m3 <= 3600.0


def test_decay_between_calibration_and_treatment_raises_the_sphere_count():
    """The same activity one half-life after calibration takes twice the spheres (glass: 2.4e6 for 3 GBq)."""
    at_calibration, one_half_life = _agent("y90_glass", 3.0, 0.0), _agent("y90_glass", 3.0, 64.1)
    assert at_calibration.prescribed_spheres() == pytest.approx(1.2e6)
    assert one_half_life.activity_per_sphere_bq() == pytest.approx(1250.0)
    assert one_half_life.prescribed_spheres() == pytest.approx(2.4e6)
    resin = _agent("y90_resin", 1.5, 24.0)
    assert resin.prescribed_spheres() == pytest.approx(22e6 / math.exp(-math.log(2) * 24.0 / 64.1))


@pytest.mark.parametrize(("kind", "lo", "hi", "mean", "sd"), [
    ("y90_resin", 20.0, 60.0, (30.0, 36.0), (7.0, 11.0)),   # 32 +/- 10 um within 20-60 [SirtexSIRSpheres]
    ("y90_glass", 20.0, 30.0, (24.5, 25.5), (2.0, 3.5)),    # 20-30 um, mean 25 [WJH2015Y90]
])
def test_diameter_distributions(kind, lo, hi, mean, sd):
    d = _agent(kind).sample_diameters(200_000, rng=np.random.default_rng(1)) * 1e6
    assert d.min() >= lo and d.max() <= hi
    assert mean[0] <= d.mean() <= mean[1] and sd[0] <= d.std() <= sd[1]
    assert np.median(d) == pytest.approx(32.0 if kind == "y90_resin" else 25.0, abs=1.0)


def test_glass_dose_mass_matches_the_published_110_mg():
    """4 million glass spheres weigh 110 mg [Reinders2019Ho]: the model's size and density give it within 15%."""
    a = _agent("y90_glass")
    d = a.sample_diameters(200_000, rng=np.random.default_rng(2))
    mass_mg = 4e6 * np.mean(math.pi / 6.0 * d**3) * a.y90.density_kg_m3 * 1e6
    assert mass_mg == pytest.approx(110.0, rel=0.15)


def test_y90_spheres_are_rigid_and_permanent():
    for kind in ("y90_resin", "y90_glass"):
        a = _agent(kind)
        assert a.deformability == 0.0 and a.permanent
        assert a.vial_m3 == pytest.approx(a.y90.spheres_per_vial / a.particles_per_m3)


def test_non_radioactive_agent_has_no_sphere_activity():
    with pytest.raises(ValueError, match="not radioactive"):
        agent_from_config(AgentConfig()).activity_per_sphere_bq()


BAD = [
    ("y90_without_activity", "[agent]\nkind = 'y90_glass'\n", "agent.activity_gbq", "needs activity_gbq"),
    ("activity_for_bland", "[agent]\nactivity_gbq = 2.0\n", "agent.activity_gbq", "Y-90 kinds"),
    ("activity_zero", "[agent]\nkind = 'y90_resin'\nactivity_gbq = 0.0\n", "agent.activity_gbq", "greater than 0"),
    ("activity_absurd", "[agent]\nkind = 'y90_glass'\nactivity_gbq = 50.0\n", "agent.activity_gbq",
     "less than or equal to 20"),
    ("activity_nan", "[agent]\nkind = 'y90_glass'\nactivity_gbq = nan\n", "agent.activity_gbq", "finite number"),
    ("delay_negative", "[agent]\nkind = 'y90_glass'\nactivity_gbq = 3.0\ntreatment_delay_h = -1.0\n",
     "agent.treatment_delay_h", "greater than or equal to 0"),
    ("delay_absurd", "[agent]\nkind = 'y90_glass'\nactivity_gbq = 3.0\ntreatment_delay_h = 1e6\n",
     "agent.treatment_delay_h", "less than or equal to 336"),
    ("y90_with_diameters", "[agent]\nkind = 'y90_resin'\nactivity_gbq = 2.0\ndiameters_um = [30.0]\n", "agent.diameters_um",
     "from the product"),
]


@pytest.mark.parametrize(("text", "key", "words"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_sirt_keys_one_line_exit_2(invoke, tmp_path, text, key, words):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert (info.value.path, words in info.value.message) == (key, True), str(info.value)
    assert_run_refused(invoke, path, tmp_path / "out", f"{key}: ", words)
