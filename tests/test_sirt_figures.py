"""SIRT (issue 16): the MAA versus Y-90 comparison of a run, its saved arrays (run_state format 2) and the dose map,
DVH and MAA figures drawn from a run folder without re-simulating."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from matplotlib.lines import Line2D

import sim
from sim import figures, runstate
from sim.catalogue import resolve_scenario
from sim.kernels import transport as tk
from sim.sirt_compare import share_overlap, tumour_share_by_order
from sim.sirt_deposition import split_deposition
from sim.sirt_dose import TUMOUR_DVH_SHARE
from sim.sirt_workup import maa_workup, tumour_shunt_fractions

#: The shipped glass scenario at a twentieth of its activity on a coarse liver: seconds, not minutes.
FAST = {"agent.activity_gbq": 0.05, "liver.terminal_diameter_um": 250.0}


@pytest.fixture(scope="module")
def glass(tmp_path_factory):
    scenario = sim.load_scenario(resolve_scenario("sirt_glass_segment5")).with_updates(FAST)
    result = sim.run(scenario, progress=False)
    folder = tmp_path_factory.mktemp("sirt")
    result.write(folder)
    return result, folder


@pytest.fixture(scope="module")
def data(glass):
    return figures.load_run(glass[1])


# --- the comparison ----------------------------------------------------------------------


def test_share_overlap_and_order_windows_on_known_inputs():
    assert share_overlap([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 1.0
    assert share_overlap([1.0, 0.0], [0.0, 1.0]) == 0.0
    assert share_overlap([0.6, 0.4], [0.4, 0.6]) == pytest.approx(0.8)
    # ten particles: the first into a tumour compartment, the last into a normal vessel, one non-target
    fate = np.full(10, tk.FATE_COMPARTMENT)
    where = np.zeros(10, np.int64)
    where[5:] = 1
    fate[-1], where[-1] = tk.FATE_VESSEL, 0
    fate[3] = tk.FATE_NONTARGET
    first, last = tumour_share_by_order(fate, where, node_share=np.array([0.0]), comp_share=np.array([1.0, 0.25]),
                                        share=0.2)
    assert first == 1.0 and last == pytest.approx(0.125)


def test_split_deposition_conserves_the_amount_and_shunts_the_beds_only(glass):
    result, _ = glass
    comps = result.liver.compiled.compartments
    tissue = comps.kind == 0
    rng = np.random.default_rng(0)
    in_beds = np.where(tissue, rng.random(comps.n), 0.0)
    total = in_beds + np.where(tissue, rng.random(comps.n), 0.0)
    shunts = tumour_shunt_fractions(result.scenario)
    tumour, normal, lung = split_deposition(comps, in_beds, total, shunts)
    assert tumour.sum() + normal.sum() + lung.sum() == pytest.approx(total.sum(), rel=1e-12)
    assert lung.sum() > 0 and np.all(tumour >= 0) and np.all(normal >= 0)
    # what wedged above the beds never reaches a shunt: the lungs get the beds' share alone
    assert np.array_equal(split_deposition(comps, in_beds, in_beds + 5.0 * tissue, shunts)[2], lung)
    assert not split_deposition(comps, 0.0 * in_beds, total, shunts)[2].any()


def test_comparison_keys_follow_the_run_and_the_workup(glass):
    result, _ = glass
    s = result.summary
    # one T/N rule: the Y-90 one is the ratio of the partition model's mean doses
    assert s["sirt_y90_tn"] == pytest.approx(s["sirt_tumour_dose_mean_gy"] / s["sirt_normal_liver_dose_mean_gy"],
                                             rel=1e-9)
    # the MAA side is the work-up of the same scenario (same seed), read by the same rule: the plan's T/N and LSF
    workup = maa_workup(result.scenario, liver=result.liver)
    assert s["sirt_maa_tn"] == pytest.approx(workup.tn_ratio, rel=1e-12)
    assert s["sirt_maa_lung_shunt_fraction"] == pytest.approx(workup.lung_shunt_fraction, rel=1e-12)
    for key in ("sirt_maa_segment_shares", "sirt_y90_segment_shares"):
        assert len(s[key]) == 8 and sum(s[key]) == pytest.approx(1.0) and int(np.argmax(s[key])) == 4  # segment V
    assert 0.9 < s["sirt_maa_y90_segment_overlap"] <= 1.0 and 0.5 < s["sirt_maa_y90_compartment_overlap"] <= 1.0
    # a twentieth of the activity barely embolises (flow above 95%): the spheres go where the MAA went
    assert s["antegrade_flow_fraction"] > 0.95
    assert s["sirt_y90_tumour_share_first_tenth"] == pytest.approx(s["sirt_maa_tumour_share"], abs=0.05)
    assert s["sirt_y90_tn"] == pytest.approx(s["sirt_maa_tn"], rel=0.15)


def test_the_report_compares_maa_and_y90(glass):
    result, folder = glass
    report = (folder / "report.md").read_text(encoding="utf-8")
    s = result.summary
    assert "## SIRT: doses, and the MAA work-up against the Y-90" in report
    assert f"| T/N (tumour over perfused normal liver, per kg) | {s['sirt_maa_tn']:.3g} | {s['sirt_y90_tn']:.3g} |" \
        in report
    # the stop in words, never a raw key (review 49: "Stopped on **activity_delivered**"); the necrosis rows say they
    # are ischaemic only beside a tumour dose of hundreds of Gy
    assert s["stop_reason"] == "activity_delivered" and "Stopped: **activity delivered** (endpoint not reached)" in report
    assert "activity_delivered" not in report
    assert "| Tumour necrosis (expected, graded O2-deficit model: ischaemic only) |" in report


# --- the saved state ---------------------------------------------------------------------


def test_run_state_round_trip_keeps_the_sirt_arrays(glass, data):
    result, folder = glass
    arrays, meta = runstate.read(folder)
    assert meta["format_version"] == runstate.FORMAT_VERSION == 2
    saved = result.state["sirt"]
    np.testing.assert_allclose(arrays["sirt/tumour_dose_gy"], saved["tumour_dose_gy"], rtol=1e-6)
    np.testing.assert_allclose(arrays["sirt/normal_mass_g"], saved["normal_mass_kg"] * 1e3, rtol=1e-6)
    np.testing.assert_allclose(arrays["sirt/maa_tumour"], saved["maa_tumour"], rtol=1e-6)
    assert np.array_equal(arrays["sirt/perfused"], saved["perfused"])
    # the saved doses give the summary's means: the mass-weighted tumour dose, the perfused normal-liver dose
    s = result.summary
    d_t, m_t = (arrays[f"sirt/tumour_{k}"].astype(float) for k in ("dose_gy", "mass_g"))
    assert (d_t * m_t).sum() / m_t.sum() == pytest.approx(s["sirt_tumour_dose_mean_gy"], rel=1e-5)
    m_n = np.where(arrays["sirt/perfused"], arrays["sirt/normal_mass_g"], 0.0).astype(float)
    assert (arrays["sirt/normal_dose_gy"] * m_n).sum() / m_n.sum() == pytest.approx(
        s["sirt_normal_liver_dose_mean_gy"], rel=1e-5)
    # each sampled point carries its compartment's dose: tumour points the hotter on average
    dose, tumour = arrays["parenchyma/dose_gy"], arrays["parenchyma/tumour"]
    assert dose.shape == tumour.shape and np.all(np.isfinite(dose)) and dose[tumour].mean() > 1.5 * dose[~tumour
                                                                                                          & (dose > 0)].mean()
    assert data.has_sirt


def test_a_format_1_folder_still_loads_but_has_no_sirt_figures(glass, tmp_path, invoke):
    import shutil

    old = tmp_path / "v1"
    shutil.copytree(glass[1], old)
    arrays, meta = runstate.read(old)
    kept = {k: v for k, v in arrays.items() if not k.startswith("sirt/") and k != "parenchyma/dose_gy"}
    v1_meta = {k: v for k, v in meta.items() if k != "arrays"} | {"format_version": 1}  # format 1 listed no arrays
    runstate.save(old / runstate.FILE, {**kept, "meta": np.asarray(json.dumps(v1_meta))})
    loaded = figures.load_run(old)
    assert not loaded.has_sirt and loaded.meta["format_version"] == 1
    figures.figure("curve", loaded)  # the other figures still draw
    for kind in figures.SIRT_KINDS:
        with pytest.raises(ValueError, match="no SIRT doses"):
            figures.figure(kind, loaded)
    result = invoke("plot", old, "--kind", "dvh", "--out", tmp_path / "d.png")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "Y-90" in result.stderr


def test_sirt_figures_of_a_bland_run_say_it_is_not_a_y90_run(tmp_path, invoke):
    """Not "run the scenario again", which cannot give a bland run Y-90 doses (review)."""
    scenario = tmp_path / "bland.toml"
    scenario.write_text('[liver]\nterminal_diameter_um = 300.0\n[agent]\nsize_bin = "500-700"\n', encoding="utf-8")
    assert invoke("run", scenario, "--out", tmp_path / "run", "--quiet", "--no-figures").exit_code == 0
    for kind in figures.SIRT_KINDS:
        result = invoke("plot", tmp_path / "run", "--kind", kind, "--out", tmp_path / f"{kind}.png")
        assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert "this run's agent is microspheres" in result.stderr and "again" not in result.stderr


# --- the figures ---------------------------------------------------------------------------


def test_run_writes_the_sirt_figures(glass):
    for name in figures.SIRT_RUN_FIGURES:
        assert (glass[1] / name).read_bytes().startswith(b"\x89PNG")


def test_deposition_of_a_y90_run_sends_the_lung_shunt_to_the_lungs(data):
    """Review 48: the deposition figure showed tumour 39% and normal liver 61% of the spheres beside an MAA figure and
    summary with 3.9% in the lungs: the tumours' shunts take their share of the tumour's spheres to a lung row, so
    both figures and the summary agree."""
    fig = figures.deposition(data)
    ax = fig.axes[2]
    counts = dict(zip([t.get_text() for t in ax.get_yticklabels()], [bar.get_width() for bar in ax.patches],
                      strict=True))
    s = data.summary
    total = s["particles_injected"]
    assert counts["lung (tumour shunts)"] > 0
    assert counts["lung (tumour shunts)"] / total == pytest.approx(s["sirt_lung_shunt_fraction"], rel=1e-12)
    assert (counts["tumour"] + counts["lung (tumour shunts)"]) / total == pytest.approx(s["tumour_particle_fraction"])
    assert sum(counts.values()) == pytest.approx(total)
    line = next(line for line in fig.axes[0].get_lines() if "wedged" in line.get_label())
    assert "wedged particles only" in line.get_label()


@pytest.mark.parametrize("kind", ["dose", "dvh", "maa"])
def test_sirt_kinds_render_without_warnings(data, kind):
    assert kind in figures.SIRT_KINDS and kind in figures.KINDS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = figures.figure(kind, data)
        fig.canvas.draw()
    panels = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert panels and all(a.get_xlabel() and a.get_ylabel() for a in panels)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # every title inside the figure
    canvas.draw()
    renderer = canvas.get_renderer()
    for text in [fig._suptitle, *(a.title for a in panels)]:
        if text is not None and text.get_text():
            box = text.get_window_extent(renderer)
            assert fig.bbox.x0 - 1 <= box.x0 and box.x1 <= fig.bbox.x1 + 1, text.get_text()


def _texts(fig) -> list[str]:
    """Every title and axis label of ``fig`` (its colour bars' too), the suptitle first."""
    return [fig._suptitle.get_text() if fig._suptitle else ""] + [
        t.get_text() for a in fig.axes for t in (a.title, a.xaxis.label, a.yaxis.label)]


@pytest.mark.parametrize("kind", ["dose", "dvh", "maa", "angiogram"])
def test_paper_figures_keep_their_panels_and_whole_words(data, kind):
    """Review 28: on the paper canvas the dose map's titles and labels were wrapped over and over (each wrap narrowed
    the equal-aspect maps, which wrapped more) until its maps were 20 px wide, and words were split ("embo-lisation");
    the MAA scatter's log ticks read "6x10^-1"."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    slide, paper = figures.figure(kind, data), figures.figure(kind, data, style="paper")
    FigureCanvasAgg(paper).draw()
    for wrapped, written in zip(_texts(paper), _texts(slide), strict=True):
        assert wrapped.split() == written.split()  # line breaks only, between words
    renderer = paper.canvas.get_renderer()
    panels = [a for a in paper.axes if a.get_label() != "<colorbar>"]
    assert min(a.get_window_extent(renderer).width for a in panels) > 0.1 * paper.bbox.width  # collapsed: 0.013
    ticks = [t.get_text() for a in panels for t in a.get_xticklabels() + a.get_yticklabels()]
    assert not any("times" in t or "\u00d7" in t for t in ticks)


def test_the_maa_scatter_labels_its_log_minor_ticks_as_plain_numbers():
    """Its minor ticks (under a decade of range) read 0.5, 2, 5, 20 (not "6x10^-1"), the others unlabelled."""
    from sim.figures.sirt import _two_and_five

    assert [_two_and_five(v) for v in (0.2, 0.5, 0.6, 2.0, 3.0, 5.0, 20.0, 0.0)] == \
        ["0.2", "0.5", "", "2", "", "5", "20", ""]


def test_dvh_is_monotone_and_marks_the_summary_d70(data):
    fig = figures.dose_volume(data)
    ax = fig.axes[0]
    curves = {line.get_label().split(" (")[0]: line for line in ax.get_lines()}
    for region in ("viable tumour", "perfused normal liver"):
        x, y = (np.asarray(v, float) for v in curves[region].get_data())
        assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) <= 0) and y[0] == 100.0 and y[-1] == 0.0
    d70 = next(line for line in ax.get_lines() if line.get_label().startswith("tumour D70"))
    x, y = d70.get_data()
    assert float(x[0]) == pytest.approx(data.summary["sirt_tumour_d70_gy"], rel=1e-5)
    assert float(y[0]) == pytest.approx(100 * TUMOUR_DVH_SHARE)
    # the marker sits on the tumour curve: at D70 at least 70% of the tumour is dosed, just above it less
    tx, ty = (np.asarray(v, float) for v in curves["viable tumour"].get_data())
    assert ty[np.searchsorted(tx, x[0], side="left")] >= 100 * TUMOUR_DVH_SHARE - 1e-6
    assert ty[np.searchsorted(tx, x[0], side="right")] < 100 * TUMOUR_DVH_SHARE
    v100 = next(line for line in ax.get_lines() if line.get_label().startswith("tumour V100"))
    assert float(v100.get_data()[1][0]) == pytest.approx(100 * data.summary["sirt_tumour_v100"])
    assert isinstance(d70, Line2D)
    # the mean drawn is the perfused normal liver's, the region of its curve (review 48: "normal liver mean" read as
    # the whole normal liver's, a fifth of it here)
    mean = next(line for line in ax.get_lines() if "liver mean" in line.get_label())
    assert mean.get_label().startswith("perfused normal liver mean (")
    assert float(mean.get_xdata()[0]) == pytest.approx(data.summary["sirt_normal_liver_dose_mean_gy"])


def test_dose_map_colours_the_parenchyma_by_dose(data):
    fig = figures.dose_map(data)
    scatter = [c for c in fig.axes[0].collections if c.get_array() is not None and c.get_array().size > 100]
    assert scatter and float(np.max(scatter[0].get_array())) == pytest.approx(float(data["parenchyma/dose_gy"].max()),
                                                                              rel=1e-6)
    bars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    assert any("Gy" in a.get_ylabel() for a in bars)
    # the grey of the parenchyma under the colour scale's floor is named (review 48)
    from matplotlib.colors import to_hex

    from sim.figures.sirt import DOSE_FLOOR_GY, UNIRRADIATED_COLOUR

    cold = data["parenchyma/dose_gy"] < DOSE_FLOOR_GY
    greys = [c for c in fig.axes[0].collections if c.get_array() is None and len(c.get_offsets()) == cold.sum()]
    assert cold.any() and greys and to_hex(greys[0].get_facecolor()[0]) == to_hex(UNIRRADIATED_COLOUR)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert f"parenchyma under {DOSE_FLOOR_GY:g} Gy (dose map)" in legend


@pytest.mark.parametrize("kind", ["dose", "dvh", "maa"])
def test_plot_draws_the_sirt_kinds_from_the_run_folder(glass, invoke, kind, tmp_path):
    out = tmp_path / f"{kind}.svg"
    result = invoke("plot", glass[1], "--kind", kind, "--out", out, "--style", "paper")
    assert result.exit_code == 0, result.output
    assert out.read_bytes().lstrip().startswith(b"<?xml")


def test_drawing_the_sirt_figures_imports_no_simulation_module(glass, tmp_path):
    import subprocess
    import sys

    code = ("import sys, json; from sim import figures; data = figures.load_run(sys.argv[1]); "
            "[figures.save_figure(figures.figure(k, data), f'{sys.argv[2]}/{k}.png', dpi=40) for k in figures.SIRT_KINDS]; "
            "print(json.dumps([m for m in ('sim.procedure', 'sim.flow', 'sim.anatomy', 'sim.simulation', 'sim.sirt_run', "
            "'sim.sirt_workup', 'numba') if m in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", code, str(glass[1]), str(tmp_path)], capture_output=True, text=True,
                          timeout=300, check=True)
    assert json.loads(proc.stdout) == [] and len(list(tmp_path.glob("*.png"))) == len(figures.SIRT_KINDS)
