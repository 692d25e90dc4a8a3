"""Figures: every kind renders without warnings to PNG, SVG and PDF; run folders; the ``plot`` command."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim import plot
from sim.catalogue import resolve_scenario
from sim.cli import app
from sim.scenario import ScenarioError

COARSE = {"liver.terminal_diameter_um": 250.0}
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-", ".svg": b"<?xml"}
METRICS = list(plot.DEFAULT_METRICS)


def _run(name: str):
    scenario = sim.load_scenario(resolve_scenario(name)).with_updates(COARSE)
    return sim.run(scenario, progress=False)


@pytest.fixture(scope="module")
def scenes():
    """The default scenario and the Michels III one (replaced RHA from the SMA), each run and prepared."""
    return {name: plot.Scene(_run(name)) for name in ("bulky_segment5_net", "replaced_rha_michels3")}


def _table(strategies, fractions) -> pd.DataFrame:
    """A table shaped like sim.compare's: label columns, a varied column, outcome means and 95% bounds."""
    rows = []
    for k, strategy in enumerate(strategies):
        for f in fractions:
            row = {"strategy": strategy, "session": "total", "tumours.0.arterial_fraction": f, "replicates": 3}
            for j, metric in enumerate(METRICS):
                mean = 0.1 + 0.2 * k + 0.3 * f + 0.05 * j
                row |= {metric: mean, f"{metric}_lo": mean - 0.05, f"{metric}_hi": mean + 0.04}
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def tables():
    staged = pd.DataFrame([{**_table(["staged_bilobar"], [0.9]).iloc[0].to_dict(), "session": "1"}])
    return {"comparison": pd.concat([_table(["selective", "lobar", "staged_bilobar"], [0.9]), staged]),
            "arterialisation": _table(["selective", "lobar"], [0.5, 0.7, 0.9, 1.0])}


def _check_file(path, suffix: str) -> None:
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(MAGIC[suffix]), path
    if suffix == ".svg":
        assert b"<svg" in data[:2000]


def _render(make, path, suffix):
    """Draw and save with every warning an error; returns the figure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = make()
        plot.save_figure(fig, path.with_suffix(suffix), dpi=60)
    _check_file(path.with_suffix(suffix), suffix)
    return fig


@pytest.mark.parametrize("name", ["bulky_segment5_net", "replaced_rha_michels3"])
@pytest.mark.parametrize("kind", [k for k in plot.KINDS if k not in plot.TABLE_KINDS])
def test_every_run_kind_renders_without_warnings(scenes, kind, name, tmp_path):
    suffix = list(MAGIC)[plot.KINDS.index(kind) % 3]
    fig = _render(lambda: plot.figure(kind, scenes[name]), tmp_path / kind, suffix)
    panels = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert panels and all(a.get_xlabel() and a.get_ylabel() for a in panels)  # units on every axis


@pytest.mark.parametrize("kind", plot.TABLE_KINDS)
@pytest.mark.parametrize("suffix", list(MAGIC))
def test_table_kinds_render_without_warnings(tables, kind, suffix, tmp_path):
    fig = _render(lambda: plot.figure(kind, tables[kind]), tmp_path / kind, suffix)
    assert len(fig.axes) == len(plot.DEFAULT_METRICS)
    assert all(a.get_xlabel() and a.get_ylabel() for a in fig.axes)


def test_comparison_draws_each_strategy_with_its_interval(tables):
    fig = plot.comparison(tables["comparison"], METRICS)
    bars = fig.axes[0].patches
    table = tables["comparison"][tables["comparison"]["session"] == "total"]
    np.testing.assert_allclose([b.get_height() for b in bars], table[METRICS[0]])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == table["strategy"].tolist()
    assert fig.axes[0].get_ylabel() == "fraction of tumour volume"


def test_arterialisation_plots_outcome_against_arterial_fraction(tables):
    fig = plot.arterialisation(tables["arterialisation"], METRICS)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_xdata(), [0.5, 0.7, 0.9, 1.0])
    assert "arterial fraction" in fig.axes[0].get_xlabel()


def test_table_figures_refuse_bad_tables(tables):
    with pytest.raises(ValueError, match="no column 'nope'"):
        plot.comparison(tables["comparison"], ["nope"])
    with pytest.raises(ValueError, match="one row per strategy"):
        plot.comparison(tables["arterialisation"], METRICS)
    with pytest.raises(ValueError, match="arterial-fraction column"):
        plot.arterialisation(tables["comparison"].drop(columns="tumours.0.arterial_fraction"), METRICS)


def test_tree_of_a_liver_and_every_colouring(scenes, tmp_path):
    scene = scenes["bulky_segment5_net"]
    _render(lambda: plot.tree(scene.liver), tmp_path / "liver", ".png")
    for colour_by in ("flow", "pressure", "occlusion", "particles"):
        _render(lambda colour_by=colour_by: plot.tree(scene, colour_by=colour_by), tmp_path / colour_by, ".png")
    with pytest.raises(ValueError, match="needs a run"):
        plot.tree(scene.liver, colour_by="occlusion")
    with pytest.raises(ValueError, match="unknown colour_by"):
        plot.tree(scene, colour_by="speed")


def test_angiogram_of_a_liver_is_the_baseline_row(scenes):
    fig = plot.angiogram(scenes["bulky_segment5_net"].liver, times_s=[1.0, 5.0])
    panels = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert len(panels) == 2 and "baseline" in panels[0].get_ylabel()
    assert panels[0].get_title().endswith("1.0 s") and panels[1].get_title().endswith("5.0 s")


def test_curve_marks_the_stop_and_the_reflux(scenes):
    from dataclasses import replace

    result = scenes["bulky_segment5_net"].result
    series = result.timeseries.copy()
    series["reflux_fraction"] = np.where(np.arange(len(series)) >= len(series) // 2, 0.3, 0.0)
    ax = plot.endpoint_curve(replace(result, timeseries=series)).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    stop = next(line for line in ax.get_lines() if line.get_label().startswith("stop: endpoint"))
    assert stop.get_xdata()[0] == pytest.approx(series["suspension_volume_ml"].iloc[-1])
    assert "reflux (share of injection)" in labels
    onset = series["suspension_volume_ml"].iloc[len(series) // 2]
    assert any(np.allclose(line.get_xdata(), onset) for line in ax.get_lines())


def test_tree_draws_one_collection_of_the_vessels_above_the_threshold(scenes):
    from matplotlib.collections import LineCollection

    scene = scenes["bulky_segment5_net"]
    fig = plot.tree(scene, min_diameter_um=400.0)
    collections = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    assert len(collections) == 1
    wide = (scene.network.vessel_diameter_m >= 400e-6).sum()
    assert len(collections[0].get_segments()) == wide


def test_particle_counts_include_the_whole_subtree(scenes):
    scene = scenes["bulky_segment5_net"]
    state = scene.result.state
    lodged = state["lodged_pedicle"].sum() + state["lodged_compartment"].sum() + state["lodged_trunk"].sum()
    pha = scene.flow.liver.trunk.edge_index("PHA")
    counts = scene.particles_below
    assert counts[list(scene.network.trunk_vessels).index(pha)] == lodged > 0


def test_deposition_counts_every_particle(scenes):
    scene = scenes["replaced_rha_michels3"]
    fig = plot.deposition(scene)
    counts = [bar.get_width() for bar in fig.axes[2].patches]
    assert sum(counts) == pytest.approx(scene.result.summary["particles_injected"])
    tumour = counts[0] / scene.result.summary["particles_injected"]
    assert tumour == pytest.approx(scene.result.summary["tumour_particle_fraction"])


def test_animated_angiogram_is_a_gif(scenes, tmp_path):
    path = plot.animate_angiogram(scenes["bulky_segment5_net"], tmp_path / "dsa.gif", dpi=30, step_s=2.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dsa.gif"]  # written atomically: no temporary left
    assert path.read_bytes()[:6] == b"GIF89a"
    with pytest.raises(ValueError, match=r"\.gif"):
        plot.animate_angiogram(scenes["bulky_segment5_net"], tmp_path / "dsa.png")


def test_save_figure_refuses_other_formats(scenes, tmp_path):
    with pytest.raises(ValueError, match="allowed extensions .png, .svg, .pdf"):
        plot.save_figure(plot.endpoint_curve(scenes["bulky_segment5_net"]), tmp_path / "curve.jpg")


def test_run_folder_round_trip(scenes, tmp_path):
    result = scenes["bulky_segment5_net"].result
    written = result.write(tmp_path)
    assert {p.name for p in written} >= set(plot.RUN_FIGURES) | {plot.SCENARIO_FILE, "summary.json"}
    for name in plot.RUN_FIGURES:
        _check_file(tmp_path / name, ".png")
    again = plot.load_run(tmp_path)
    assert again.summary["particles_injected"] == result.summary["particles_injected"]
    np.testing.assert_array_equal(again.state["particle_where"], result.state["particle_where"])

    summary = json.loads((tmp_path / "summary.json").read_text())
    (tmp_path / "summary.json").write_text(json.dumps({**summary, "particles_injected": 1}))
    with pytest.raises(ScenarioError, match="does not reproduce summary.json"):
        plot.load_run(tmp_path)
    (tmp_path / plot.SCENARIO_FILE).unlink()
    with pytest.raises(ScenarioError, match="not a readable run folder"):
        plot.load_run(tmp_path)


# --- the command ------------------------------------------------------------------------




def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("embosim: error: "), result.stderr
    assert all(f in lines[0] for f in fragments), lines[0]


def test_plot_help_lists_every_kind(invoke):
    result = invoke("plot", "--help")
    assert result.exit_code == 0
    assert all(kind in result.stdout for kind in plot.KINDS)
    assert all(option in result.stdout for option in ("--kind", "--out", "--animate"))


def test_plot_writes_the_figure_of_a_scenario(invoke, tmp_path, write_scenario):
    path = write_scenario("[liver]\nterminal_diameter_um = 300.0\n")
    out = tmp_path / "figures" / "tree.svg"
    result = invoke("plot", path, "--kind", "tree", "--out", out)
    assert result.exit_code == 0, result.output
    _check_file(out, ".svg")


def test_plot_a_comparison_table(invoke, tables, tmp_path):
    csv = tmp_path / "comparison.csv"
    tables["arterialisation"].to_csv(csv, index=False)
    result = invoke("plot", tmp_path, "--kind", "arterialisation", "--out", tmp_path / "a.pdf")
    assert result.exit_code == 0, result.output
    _check_file(tmp_path / "a.pdf", ".pdf")
    _one_line_error(invoke("plot", csv, "--kind", "comparison", "--out", tmp_path / "c.png"), "one row per strategy")


@pytest.mark.parametrize(("args", "fragments"), [
    (["--kind", "spaghetti"], ["--kind", "unknown kind 'spaghetti'", "angiogram"]),
    (["--kind", "curve", "--animate"], ["--animate", "only the angiogram"]),
    (["--kind", "tree", "--out", "tree.jpg"], ["--out", ".png, .svg, .pdf"]),
    (["--kind", "angiogram", "--animate", "--out", "a.png"], ["--out", ".gif"]),
    ([], ["--kind"]),
], ids=["unknown_kind", "animate_other_kind", "bad_extension", "animation_not_gif", "no_kind"])
def test_plot_bad_options_are_one_line_exit_2(invoke, args, fragments):
    _one_line_error(invoke("plot", *args), *fragments)


def test_plot_bad_sources_are_one_line_exit_2(invoke, tmp_path):
    _one_line_error(invoke("plot", tmp_path, "--kind", "curve"), str(tmp_path), "not a readable run folder")
    _one_line_error(invoke("plot", tmp_path / "missing.toml", "--kind", "curve"), "cannot read")
    _one_line_error(invoke("plot", tmp_path / "missing.csv", "--kind", "comparison"), "cannot read a comparison")


def test_plot_names_the_scenario_file_of_an_error_found_on_the_built_liver(tmp_path):
    path = tmp_path / "bad_tip.toml"
    path.write_text('[liver]\nterminal_diameter_um = 400.0\n[catheter]\nvessel = "#99999999"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["plot", str(path), "--kind", "curve", "--out", str(tmp_path / "c.png")],
                                prog_name="embosim")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"embosim: error: {path}: catheter.vessel: "), result.stderr
    assert not (tmp_path / "c.png").exists()
