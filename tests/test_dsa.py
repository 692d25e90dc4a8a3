"""Fluoroscopy-like DSA frames (sim.fluoroscopy) and DSA movies (sim.figures.dsa)."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim import angiography as ag
from sim import fluoroscopy as fl


@pytest.fixture(scope="module")
def baseline(coarse_liver):
    """Baseline flow, its angiogram, phase times and monitor."""
    flow = ag.baseline_flow(coarse_liver)
    angio = ag.virtual_angiogram(flow, ag.default_injection(flow))
    return flow, angio, ag.phase_times(angio), fl.Fluoroscope.for_angiogram(angio, flow)


@pytest.fixture(scope="module")
def runs(coarse_scenario, coarse_liver):
    """Selective (A5) and lobar (RHA) embolisations to stasis on one liver."""
    base = coarse_scenario.with_updates({"procedure.endpoint": "stasis"})
    return {"selective": sim.run(base, progress=False, liver=coarse_liver),
            "lobar": sim.run(base.with_updates({"catheter.vessel": "RHA"}), progress=False, liver=coarse_liver)}


def _far_from_everything(scope, frame_thickness, distance_px=40):
    """Pixels far from contrast, catheter, scale bar and the image border."""
    from scipy.ndimage import binary_dilation

    busy = scope.catheter > 0
    r0, r1, c0, c1 = scope.scale_bar_px
    busy[r0:r1, c0:c1] = True
    clean = scope.render(frame_thickness)
    busy |= clean < scope.backdrop - 1e-3  # any contrast
    busy = binary_dilation(busy, iterations=distance_px)
    busy[:distance_px], busy[-distance_px:], busy[:, :distance_px], busy[:, -distance_px:] = True, True, True, True
    return ~busy


def test_frames_are_wide_and_reproducible(baseline):
    flow, angio, phases, scope = baseline
    assert scope.shape[1] >= fl.MIN_WIDTH_PX
    frame = angio.frame(phases["arterial"])
    a = scope.render(frame, rng=np.random.default_rng(7))
    b = scope.render(frame, rng=np.random.default_rng(7))
    c = scope.render(frame, rng=np.random.default_rng(8))
    assert a.shape == scope.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_background_grey_and_noise_are_within_bounds(baseline):
    flow, angio, phases, scope = baseline
    frame = angio.frame(phases["arterial"])
    quiet = _far_from_everything(scope, frame)
    assert quiet.mean() > 0.3
    clean = scope.render(frame)
    noisy = scope.render(frame, rng=np.random.default_rng(1))
    assert 0.5 < np.median(clean[quiet]) <= fl.BACKGROUND_GREY
    assert clean[quiet].min() > fl.BACKGROUND_GREY * (1 - fl.BACKDROP_DEPTH) - 1e-6  # the backdrop is faint
    assert clean[quiet].max() - clean[quiet].min() > 0.5 * fl.BACKDROP_DEPTH * fl.BACKGROUND_GREY  # but present
    noise = (noisy - clean)[quiet]
    assert abs(noise.mean()) < 0.1 * fl.NOISE_SD
    assert 0.85 * fl.NOISE_SD < noise.std() < 1.05 * fl.NOISE_SD


def test_vessels_are_darker_than_the_background_in_the_arterial_phase(baseline):
    flow, angio, phases, scope = baseline
    frame = angio.frame(phases["arterial"])
    transit = angio.transit
    # the display pixels of the opacified vessels' midpoints (those wider than 1 mm: clearly drawn)
    front, tail = transit.vessel_progress(phases["arterial"])
    filled = (front - tail > 0.9) & (transit.vessel_concentration > 0.5) & (transit.vessel_diameter_m > 1e-3)
    assert filled.sum() >= 3
    mid = 0.5 * (transit.vessel_start_m[filled] + transit.vessel_end_m[filled])
    view = angio.view
    cols = ((mid[:, 0] - view.x0_m) / scope.pixel_m).astype(int)
    rows = (scope.shape[0] - (mid[:, 2] - view.z0_m) / scope.pixel_m).astype(int)
    image = scope.render(frame, rng=np.random.default_rng(3))
    quiet = _far_from_everything(scope, frame)
    background = np.median(image[quiet])
    assert np.all(image[rows, cols] < background - 6 * fl.NOISE_SD)
    # before the injection nothing is dark but the catheter
    empty = scope.render(angio.frame(0.0))
    assert np.all(empty[scope.catheter == 0] >= scope.backdrop[scope.catheter == 0] - 1e-6)


def test_catheter_is_drawn_along_its_path_to_the_tip(baseline):
    flow, angio, phases, scope = baseline
    path = scope.catheter_px
    image = scope.render(angio.frame(0.0), rng=np.random.default_rng(5))  # no contrast yet
    inside = 0
    for (x0, y0), (x1, y1) in zip(path[:-1], path[1:]):
        for s in np.linspace(0.05, 0.95, 10):
            c, r = int(x0 + s * (x1 - x0)), int(y0 + s * (y1 - y0))
            if 0 <= r < scope.shape[0] and 0 <= c < scope.shape[1]:
                inside += 1
                assert image[r, c] < scope.backdrop[r, c] * (1 - fl.CATHETER_DARKENING) + 4 * fl.NOISE_SD
    assert inside >= 20
    tip_c, tip_r = path[-1].astype(int)
    assert image[tip_r, tip_c] < scope.backdrop[tip_r, tip_c] * (1 - fl.TIP_DARKENING) + 4 * fl.NOISE_SD
    # the tip is where the catheter's vessel is: A5 at the tip node
    tip = flow.liver.trunk.node_xyz[flow.catheter.tip_trunk_node]
    assert fl.catheter_path(flow)[-1] == pytest.approx(tip)


def test_frame_times_are_the_acquisition_rate():
    times = fl.frame_times(10.0)
    assert 2.0 <= fl.FRAME_RATE_HZ <= 4.0
    np.testing.assert_allclose(np.diff(times), 1.0 / fl.FRAME_RATE_HZ)
    assert times[0] == 0.0 and times[-1] < 10.0


def test_movies_are_written_atomically_and_readable(runs, tmp_path):
    import imageio.v3 as iio

    from sim.figures import dsa

    panels = dsa.panels_of_runs(runs)
    assert [p.label for p in panels] == ["baseline (A5)", "selective", "lobar"]
    times = np.arange(0.0, 2.0, 1.0 / fl.FRAME_RATE_HZ)
    frames = list(dsa.dsa_frames(panels, times_s=times, seed=4))
    assert len(frames) == times.size and frames[0].shape[1] >= 1280 and frames[0].shape[2] == 3
    again = next(dsa.dsa_frames(panels, times_s=times[:1], seed=4))
    np.testing.assert_array_equal(frames[0], again)  # same seed, same frame
    for suffix in (".gif", ".mp4"):
        path = dsa.write_movie(frames, tmp_path / f"compare{suffix}")
        read = iio.imread(path, index=None)
        assert read.shape[0] == len(frames) and read.shape[2] >= 1280
        assert abs(float(read[0, ..., :3].mean()) - float(frames[0].mean())) < 8.0  # the same picture, lossy codec
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare.gif", "compare.mp4"]  # no temporary left


def test_failed_movie_leaves_nothing(tmp_path):
    from sim.figures import dsa

    def broken():
        yield np.zeros((64, 64, 3), np.uint8)
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        dsa.write_movie(broken(), tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="a movie is one of .gif, .mp4"):
        dsa.write_movie([], tmp_path / "x.avi")
    assert list(tmp_path.iterdir()) == []


def test_end_of_procedure_panels_use_their_own_rates(runs):
    from sim.figures import dsa

    panels = dsa.panels_of_run(runs["selective"])
    before, after = (p.angiogram.transit.injection.rate_m3s for p in panels)
    summary = runs["selective"].summary
    assert before == pytest.approx(summary["angiogram_rate_baseline_ml_s"] * 1e-6, rel=1e-9)
    assert after == pytest.approx(summary["angiogram_rate_final_ml_s"] * 1e-6, rel=1e-9)
    assert after < before <= summary["catheter_max_rate_ml_s"] * 1e-6


def test_strategies_side_by_side_and_multi_position_strategies_refused(coarse_scenario, tmp_path, invoke,
                                                                        write_scenario):
    import imageio.v3 as iio

    from sim.figures import animate_strategies

    path = animate_strategies(coarse_scenario, ["selective", "lobar"], tmp_path / "s.gif", times_s=[1.0])
    frame = iio.imread(path, index=0)
    assert frame.shape[1] >= 3 * 800  # baseline, selective, lobar
    text = (sim.default_scenario_path().read_text(encoding="utf-8")
            .replace("terminal_diameter_um = 50.0", "terminal_diameter_um = 300.0", 1))
    result = invoke("plot", write_scenario(text), "--kind", "angiogram", "--animate", "--compare",
                    "selective,staged_bilobar", "--out", tmp_path / "w.mp4")
    assert result.exit_code == 2 and "single-position strategies" in result.output
    assert len(result.output.strip().splitlines()) == 1
