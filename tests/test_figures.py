"""Figures: drawn from saved run folders (never re-simulated), every kind renders without warnings, lecture quality
(labels, palettes, density, noise), and the ``plot`` command."""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from colour_difference import ciede2000, srgb_to_lab

import sim
from sim import figures, runstate
from sim.catalogue import resolve_scenario
from sim.figures import arteries, strategies, style
from sim.figures.labels import text_box
from sim.scenario import ScenarioError

COARSE = {"liver.terminal_diameter_um": 250.0}
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-", ".svg": b"<?xml"}
METRICS = list(figures.DEFAULT_METRICS)
RUN_KINDS = [k for k in figures.KINDS if k not in figures.TABLE_KINDS + figures.SIRT_KINDS + figures.DRUG_KINDS]


def _result(name: str):
    return sim.run(sim.load_scenario(resolve_scenario(name)).with_updates(COARSE), progress=False)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Run folders of the default scenario (with its figures) and of the Michels III one, written by RunResult.write."""
    out = {}
    for name in ("bulky_segment5_net", "replaced_rha_michels3"):
        result = _result(name)
        folder = tmp_path_factory.mktemp(name)
        result.write(folder, figures=name == "bulky_segment5_net")
        out[name] = (result, folder)
    return out


@pytest.fixture(scope="module")
def runs(folders):
    return {name: figures.load_run(folder) for name, (_, folder) in folders.items()}


def _table(names, fractions, *, noise: bool = False) -> pd.DataFrame:
    """A table shaped like sim.compare's: label columns, a varied column, outcome means and 95% bounds."""
    rows = []
    for k, strategy in enumerate(names):
        for f in fractions:
            row = {"strategy": strategy, "session": "total", "tumours.0.arterial_fraction": f, "replicates": 3}
            for j, metric in enumerate(METRICS):
                mean = 1e-5 * k if noise else 0.1 + 0.2 * k + 0.3 * f + 0.05 * j
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
        figures.save_figure(fig, path.with_suffix(suffix), dpi=50)
    _check_file(path.with_suffix(suffix), suffix)
    return fig


# --- the saved run ----------------------------------------------------------------------


def test_run_folder_holds_a_modest_versioned_state(folders):
    result, folder = folders["bulky_segment5_net"]
    assert {p.name for p in folder.iterdir()} >= {runstate.FILE, "summary.json", "scenario.json",
                                                  *figures.RUN_FIGURES}
    for name in figures.RUN_FIGURES:
        _check_file(folder / name, ".png")
    size = (folder / runstate.FILE).stat().st_size
    assert 1e5 < size < 3e6  # coarse liver; about 3 MB for the default one (docs/outputs.md#run-state)
    arrays, meta = runstate.read(folder)
    assert meta["format_version"] == runstate.FORMAT_VERSION and meta["has_run"]
    # the saved counts agree with the run: every lodged particle is below the proper hepatic artery
    data = figures.load_run(folder)
    pha = list(data["trunk/edge_name"]).index("PHA")
    lodged = sum(int(result.state[k].sum()) for k in ("lodged_pedicle", "lodged_compartment", "lodged_trunk"))
    assert data["vessel/particles_below"][list(data["vessel/trunk_edge"]).index(pha)] == lodged > 0
    assert data["lodged/count"].sum() + result.state["lodged_trunk"].sum() == lodged
    n = result.summary["particles_injected"]
    assert data["deposition/diameter_um"].size + data["deposition/nontarget_diameter_um"].size \
        + data["deposition/suspended_diameter_um"].size == n
    assert data.summary["particles_injected"] == n and len(data.timeseries) == len(result.timeseries)
    times = data["angiogram/times_s"]
    assert data["angiogram/before"].shape == data["angiogram/after"].shape == (times.size, *data["angiogram/before"]
                                                                               .shape[1:])
    assert all(np.any(np.isclose(times, t)) for t in meta["angiogram"]["phases_s"].values())


def test_loading_and_drawing_a_run_imports_no_simulation_module(folders, tmp_path):
    folder = folders["bulky_segment5_net"][1]
    code = ("import sys, json; from sim import figures; data = figures.load_run(sys.argv[1]); "
            "[figures.save_figure(figures.figure(k, data), f'{sys.argv[2]}/{k}.png', dpi=40) "
            f"for k in {RUN_KINDS!r}]; "
            "figures.animate_angiogram(data, sys.argv[2] + '/a.gif', times_s=[0.5, 2.0]); "
            "print(json.dumps([m for m in ('sim.procedure', 'sim.flow', 'sim.anatomy', 'sim.simulation', "
            "'sim.angiography', 'numba') if m in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", code, str(folder), str(tmp_path)], capture_output=True, text=True,
                          timeout=300, check=True)
    assert json.loads(proc.stdout) == []
    assert len(list(tmp_path.glob("*.png"))) == len(RUN_KINDS)


@pytest.mark.parametrize("statement", ["import sim.results", "import sim", "import sim.figures",
                                       "import sim.runstate"])
def test_core_imports_load_no_matplotlib(statement):
    code = f"import sys; {statement}; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=120).stdout.strip() == "False"


def test_an_older_run_folder_is_refused_unless_rerun(folders, tmp_path, invoke):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(folders["replaced_rha_michels3"][1], old)
    (old / runstate.FILE).unlink()
    with pytest.raises(runstate.RunStateError, match="--rerun"):
        figures.load_run(old)
    result = invoke("plot", old, "--kind", "curve", "--out", tmp_path / "c.png")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "--rerun" in result.stderr
    arrays, meta = runstate.read(folders["replaced_rha_michels3"][1])
    runstate.save(old / runstate.FILE, {**arrays, "meta": np.asarray(json.dumps({**meta, "format_version": 0}))})
    with pytest.raises(runstate.RunStateError, match="format version 0; this embosim reads versions 1, 2"):
        figures.load_run(old)
    again = figures.load_run(old, rerun=True)  # re-runs scenario.json and checks it against summary.json
    assert again.summary["particles_injected"] == folders["replaced_rha_michels3"][0].summary["particles_injected"]
    summary = json.loads((old / "summary.json").read_text())
    (old / "summary.json").write_text(json.dumps({**summary, "particles_injected": 1}))
    with pytest.raises(ScenarioError, match="does not reproduce summary.json"):
        figures.load_run(old, rerun=True)


def _damage(folder, how: str) -> None:
    path = folder / runstate.FILE
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "corrupted":  # bytes zeroed inside a member: its CRC fails when the array is read
        path.write_bytes(data[:2000] + bytes(4000) + data[6000:])
    elif how == "array missing":
        arrays, meta = runstate.read(folder)
        runstate.save(path, {**{k: v for k, v in arrays.items() if k != "angiogram/after"},
                             "meta": np.asarray(json.dumps(meta))})
    elif how == "timeseries garbage":
        (folder / "timeseries.csv").write_text("garbage\n")
    elif how == "timeseries empty":
        (folder / "timeseries.csv").write_text("")
    elif how == "timeseries header only":
        (folder / "timeseries.csv").write_text(",".join(runstate.TIMESERIES_COLUMNS) + "\n")
    elif how == "timeseries text":  # a number edited into text
        lines = (folder / "timeseries.csv").read_text().splitlines()
        cells = lines[1].split(",")
        cells[runstate.TIMESERIES_COLUMNS.index("suspension_volume_ml")] = "3.7e-abc"
        (folder / "timeseries.csv").write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")


@pytest.mark.parametrize("how", ["truncated", "empty", "corrupted", "array missing", "timeseries garbage",
                                 "timeseries empty", "timeseries header only", "timeseries text"])
def test_a_damaged_run_folder_is_one_line_and_rerun_mends_it(folders, tmp_path, invoke, how):
    """Review 11: a truncated npz gave a BadZipFile traceback, an empty one click's bare "Aborted." (exit 1), a
    missing array a KeyError or an angiogram without its after row, a damaged timeseries.csv a KeyError."""
    import shutil

    folder = tmp_path / "run"
    shutil.copytree(folders["bulky_segment5_net"][1], folder)
    _damage(folder, how)
    with pytest.raises(runstate.RunStateError, match="--rerun"):
        figures.load_run(folder)
    result = invoke("plot", folder, "--kind", "angiogram", "--out", tmp_path / "a.png")
    _one_line_error(result, "--rerun")
    again = figures.load_run(folder, rerun=True)
    assert again.summary["particles_injected"] == folders["bulky_segment5_net"][0].summary["particles_injected"]


@pytest.mark.parametrize("summary", ["[]", "{}", "without sace_level"])
def test_a_damaged_summary_is_one_line_naming_the_folder(folders, tmp_path, invoke, summary):
    """Review 27: summary.json holding [] gave an AttributeError traceback, one key deleted a KeyError in the figure
    that read it (six kinds)."""
    import shutil

    folder = tmp_path / "run"
    shutil.copytree(folders["bulky_segment5_net"][1], folder)
    if summary == "without sace_level":
        kept = {k: v for k, v in json.loads((folder / "summary.json").read_text()).items() if k != "sace_level"}
        summary = json.dumps(kept)
    (folder / "summary.json").write_text(summary)
    with pytest.raises(ScenarioError, match="summary.json is damaged"):
        figures.load_run(folder)
    for kind in ("curve", "deposition"):
        _one_line_error(invoke("plot", folder, "--kind", kind, "--out", tmp_path / "a.png"), "summary.json is damaged")


def test_plot_of_a_file_inside_a_run_folder_names_the_folder(folders, tmp_path, invoke):
    """Review 28: embosim plot RUN/summary.json read the summary as a scenario and listed 60 unknown keys (5 kB)."""
    folder = folders["bulky_segment5_net"][1]
    result = invoke("plot", folder / "summary.json", "--kind", "curve", "--out", tmp_path / "c.png")
    _one_line_error(result, "a file of a run folder, not a scenario", f"give the folder ({folder})")


def test_timeseries_columns_are_what_a_run_writes(folders):
    assert tuple(folders["bulky_segment5_net"][0].timeseries.columns) == runstate.TIMESERIES_COLUMNS


# --- every kind renders ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bulky_segment5_net", "replaced_rha_michels3"])
@pytest.mark.parametrize("kind", RUN_KINDS)
def test_every_run_kind_renders_without_warnings(runs, kind, name, tmp_path):
    suffix = list(MAGIC)[figures.KINDS.index(kind) % 3]
    fig = _render(lambda: figures.figure(kind, runs[name]), tmp_path / kind, suffix)
    panels = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert panels and all(_labelled(a, "x") and _labelled(a, "y") for a in panels)  # units on every axis


def _labelled(ax, which: str) -> bool:
    """Whether the ``which`` ("x"/"y") axis of ``ax`` is labelled: by itself, or by a panel sharing it (a grid of
    panels on one scale labels its outer row and column)."""
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    return any(getattr(a, f"get_{which}label")() for a in shared.get_siblings(ax))


def test_the_angiogram_grid_shares_one_scale_labelled_on_its_outer_panels(runs):
    """Every frame has the same extent: the paper figure wrapped each panel's own axis labels onto 3-5 lines
    (review, session 27), so the panels share their axes and only the bottom row and first column carry labels
    and tick labels; the phase titles head the columns once."""
    fig = figures.angiogram(runs["bulky_segment5_net"], style="paper")
    grid = np.array([a for a in fig.axes if a.get_label() != "<colorbar>"], dtype=object).reshape(2, 3)
    assert all(_labelled(a, "x") and _labelled(a, "y") for a in grid.ravel())
    assert [bool(a.get_xlabel()) for a in grid.ravel()] == [False] * 3 + [True] * 3
    assert [bool(a.get_ylabel()) for a in grid.ravel()] == [True, False, False] * 2
    assert [bool(a.get_title()) for a in grid.ravel()] == [True] * 3 + [False] * 3
    assert [" ".join(a.get_ylabel().split()) for a in grid[:, 0]] == ["baseline z, cranial (mm)",
                                                                    "end of embolisation z, cranial (mm)"]
    assert not any(t.get_visible() and t.get_text() for t in grid[0, 1].get_xticklabels() + grid[0, 1].get_yticklabels())
    assert grid[1, 2].get_xlim() == grid[0, 0].get_xlim() and grid[1, 2].get_ylim() == grid[0, 0].get_ylim()
    # the vessel by its clinical name (review 48: "into replaced_RHA")
    replaced = figures.angiogram(runs["replaced_rha_michels3"])._suptitle.get_text()
    assert replaced.endswith("into replaced RHA") and "_" not in replaced
    for a in grid[1]:  # x labels on at most two lines, the arrow with its word
        assert a.get_xlabel().count("\n") <= 1 and not a.get_xlabel().endswith("\n\u2192")
    for a in grid[:, 0]:  # the row name and the axis: two lines, or three with "end of embolisation" broken once
        assert a.get_ylabel().count("\n") <= 2


@pytest.mark.parametrize("kind", figures.TABLE_KINDS)
@pytest.mark.parametrize("suffix", list(MAGIC))
def test_table_kinds_render_without_warnings(tables, kind, suffix, tmp_path):
    fig = _render(lambda: figures.figure(kind, tables[kind], style="paper"), tmp_path / kind, suffix)
    assert len(fig.axes) == len(METRICS)
    assert all(a.get_xlabel() and a.get_ylabel() for a in fig.axes)


def test_styles_change_the_text_size(runs):
    sizes = {s: figures.endpoint_curve(runs["bulky_segment5_net"], style=s).axes[0].xaxis.label.get_size()
             for s in figures.STYLES}
    assert sizes["slide"] > sizes["paper"]


@pytest.mark.parametrize("kind", RUN_KINDS)
def test_paper_figures_are_print_sized_with_lines_in_proportion(runs, kind):
    """The paper style draws at print size (5.2-7.2 in wide: 9 pt text prints at 9 pt), not on the slide's
    canvas; its lines are thinner in points, and no title or axis label is longer than its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    slide = figures.figure(kind, runs["bulky_segment5_net"])
    paper = figures.figure(kind, runs["bulky_segment5_net"], style="paper")
    assert 5.2 - 1e-9 <= paper.get_figwidth() <= 7.2 + 1e-9 < slide.get_figwidth()
    assert paper.get_figwidth() / slide.get_figwidth() == pytest.approx(paper.get_figheight() / slide.get_figheight())

    def widths(fig):  # of every line, collection and patch drawn (points)
        artists = [x for a in fig.axes for x in (*a.lines, *a.collections, *a.patches)]
        return sorted(w for x in artists for w in np.ravel(x.get_linewidth()) if w > 0)

    assert widths(paper) and max(widths(paper)) < max(widths(slide))
    renderer = FigureCanvasAgg(paper).get_renderer()
    paper.draw(renderer)
    for a in paper.axes:
        room = a.get_window_extent(renderer)
        assert a.title.get_window_extent(renderer).width <= room.width + 1, (kind, a.title.get_text())
        assert a.xaxis.label.get_window_extent(renderer).width <= room.width + 1, (kind, a.xaxis.label.get_text())
    with pytest.raises(ValueError, match="unknown style"):
        figures.endpoint_curve(runs["bulky_segment5_net"], style="poster")


# --- lecture quality ---------------------------------------------------------------------


def _labels(ax):
    return [t for t in ax.texts if type(t).__name__ == "Annotation"]


@pytest.mark.parametrize("make", [lambda d: figures.tree(d), lambda d: figures.before_after(d)], ids=["tree", "ba"])
def test_labels_are_clinical_names_that_do_not_overlap(runs, make, tmp_path):
    fig = make(runs["bulky_segment5_net"])
    figures.save_figure(fig, tmp_path / "f.png", dpi=50)
    renderer = fig.canvas.get_renderer()
    labels = _labels(fig.axes[0])
    texts = [t.get_text() for t in labels]
    assert len(labels) >= 15 and not any("_" in t for t in texts)
    assert {"right posterior HA", "proper HA", "segment 5 NET", "duodenum (GDA)", "aorta (schematic)",
            "portal vein"} <= set(texts)
    boxes = [text_box(t, renderer) for t in labels]
    frame = fig.axes[0].get_window_extent(renderer)
    assert all(frame.contains(b.x0, b.y0) and frame.contains(b.x1, b.y1) for b in boxes)
    overlapping = [(texts[i], texts[j]) for i, j in itertools.combinations(range(len(boxes)), 2)
                   if boxes[i].overlaps(boxes[j])]
    assert overlapping == []


def test_display_names():
    assert [style.display_name(n) for n in ("right_posterior", "segment5_net", "A5", "right_anterior_portal",
                                            "hcc_left", "replaced_RHA")] == \
        ["right posterior HA", "segment 5 NET", "A5", "right anterior PV", "HCC left", "replaced RHA"]


def test_sace_bands_are_distinct_light_to_dark():
    lab = [srgb_to_lab(figures.SACE_COLOURS[k]) for k in (1, 2, 3, 4)]
    assert all(ciede2000(a, b) > 10 for a, b in itertools.combinations(lab, 2))
    # distinct in lightness alone, so also for colour-blind viewers and in greyscale
    assert all(a[0] - b[0] > 10 for a, b in itertools.pairwise(lab))


def test_ciede2000_reproduces_published_pairs():
    # Sharma, Wu and Dalal (2005), test data pairs 1, 17 and 25
    assert ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert ciede2000((50, 2.5, 0), (73, 25, -18)) == pytest.approx(27.1492, abs=1e-4)
    assert ciede2000((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387)) == pytest.approx(1.2644, abs=1e-4)


def test_one_colour_per_strategy_across_figures(tables):
    from matplotlib.colors import to_hex

    from sim.strategies import STRATEGY_NAMES

    assert set(figures.STRATEGY_COLOURS) == set(STRATEGY_NAMES)
    bars = figures.comparison(tables["comparison"], METRICS).axes[0].patches
    lines = figures.arterialisation(tables["arterialisation"], METRICS).axes[0].get_lines()
    assert to_hex(bars[0].get_facecolor()) == to_hex(lines[0].get_color()) == figures.STRATEGY_COLOURS["selective"].lower()
    assert to_hex(bars[1].get_facecolor()) == to_hex(lines[1].get_color()) == figures.STRATEGY_COLOURS["lobar"].lower()


def test_noise_level_differences_show_as_no_difference(tables):
    fig = figures.comparison(_table(["selective", "lobar", "whole_liver"], [0.9], noise=True), METRICS)
    assert all(not a.patches for a in fig.axes)
    assert all(any(t.get_text().startswith("no difference") for t in a.texts) for a in fig.axes)
    real = figures.comparison(tables["comparison"], METRICS)
    assert all(len(a.patches) == 3 and not a.texts for a in real.axes)
    assert strategies.no_difference("x_fraction", [0.1, 0.1 + 5e-4]) and not strategies.no_difference(
        "x_fraction", [0.1, 0.11])


def test_comparison_draws_each_strategy_with_its_interval(tables):
    fig = figures.comparison(tables["comparison"], METRICS)
    table = tables["comparison"][tables["comparison"]["session"] == "total"]
    np.testing.assert_allclose([b.get_height() for b in fig.axes[0].patches], table[METRICS[0]])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["selective", "lobar", "staged bilobar"]
    assert fig.axes[0].get_ylabel() == "fraction of tumour volume"


def test_table_figures_of_single_runs_claim_no_interval(tables):
    """Review 48: ``embosim compare --replicates 1`` drew titles saying "mean and 95% interval/band"."""
    for kind in ("comparison", "arterialisation"):
        table = tables[kind]
        assert "(mean and 95% " in figures.figure(kind, table)._suptitle.get_text()
        single = figures.figure(kind, table.assign(replicates=1))._suptitle.get_text()
        assert "(one run each: no interval)" in single and "95%" not in single


def test_a_grouped_comparison_takes_rows_on_a_slide(tables):
    """Review 28: four outcomes over four values of three strategies made a slide canvas 31 in wide (its 12 pt ticks
    printed at 5 pt on a slide); a row is at most 1.5 slide widths."""
    from sim.figures.style import SLIDE_ROW_MAX_IN

    table = _table(["selective", "lobar", "whole_liver"], [0.5, 0.6, 0.7, 0.9])
    fig = figures.comparison(table, METRICS)
    assert fig.get_figwidth() <= SLIDE_ROW_MAX_IN + 0.5 and len({round(a.get_position().y0, 3) for a in fig.axes}) == 2
    assert fig.axes[0].get_xlabel() == "tumour arterial fraction\ntumours.0.arterial_fraction"


def test_comparison_keeps_the_place_of_a_strategy_whose_outcome_is_undefined(tables):
    """Review 28: a strategy whose outcome is NaN (a staged total's deposition ratio) lost its bar, its tick and its
    place in that panel only; it keeps its place and reads n/a."""
    table = tables["comparison"].copy()
    last = (table["strategy"] == "staged_bilobar") & (table["session"] == "total")
    table.loc[last, [METRICS[0], f"{METRICS[0]}_lo", f"{METRICS[0]}_hi"]] = np.nan
    axis = figures.comparison(table, METRICS).axes[0]
    assert axis.get_xlim() == (-0.5, 2.5)
    assert [t.get_position()[0] for t in axis.texts if t.get_text() == "n/a"] == [2.0]


def test_comparison_groups_the_bars_by_one_varied_key():
    """``embosim compare --vary agent.size_bin=...``: a group of bars per size, one bar per strategy in each."""
    table = _table(["selective", "lobar"], [0.5, 0.9]).rename(columns={"tumours.0.arterial_fraction": "agent.size_bin"})
    table["agent.size_bin"] = ["100-300", "300-500"] * 2
    fig = figures.comparison(table, METRICS)
    axis = fig.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["100-300", "300-500"]
    assert axis.get_xlabel() == "particle size (\u00b5m)\nagent.size_bin"
    bars = axis.patches
    assert len(bars) == 4  # selective's two sizes, then lobar's
    centres = [b.get_x() + b.get_width() / 2 for b in bars]
    assert centres[0] < centres[2] < centres[1] < centres[3]  # each size's bars side by side
    np.testing.assert_allclose([b.get_height() for b in bars], table[METRICS[0]])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["selective", "lobar"]
    assert "Strategies by particle size" in fig.get_suptitle()
    one = figures.comparison(table[table["strategy"] == "selective"], METRICS)  # one strategy: no legend needed
    assert not one.legends and one.get_suptitle().startswith("Selective by particle size")
    held = figures.comparison(table[table["agent.size_bin"] == "300-500"], METRICS)  # one value: held, in the title
    assert held.get_suptitle().endswith("compared (mean and 95% interval)\nagent.size_bin = 300-500")


def test_table_figures_refuse_a_second_varied_key_and_name_the_spread(tables):
    """Review 21: a second varied key made the arterialisation lines zigzag between its values; "no difference
    (all X)" named a mean no row had."""
    two_keys = tables["arterialisation"].assign(**{"agent.size_bin": ["40-120", "500-700"] * 4})
    with pytest.raises(ValueError, match="varies agent.size_bin besides tumours.0.arterial_fraction"):
        figures.arterialisation(two_keys, METRICS)
    table = _table(["selective", "lobar"], [0.9])
    table["normal_necrosis_fraction"] = [0.0013, 0.0018]  # within 0.1 percentage point
    fig = figures.comparison(table, ["normal_necrosis_fraction"])
    assert fig.axes[0].texts[0].get_text() == "no difference\nabove 0.1 percentage point\n(0.0013 to 0.0018)"
    assert len(figures.comparison(table, "normal_necrosis_fraction").axes) == 1  # one name, not its letters
    with pytest.raises(ValueError, match="at least one metric"):
        figures.comparison(table, [])


def test_arterialisation_plots_outcome_against_arterial_fraction(tables):
    lines = figures.arterialisation(tables["arterialisation"], METRICS).axes[0].get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_xdata(), [0.5, 0.7, 0.9, 1.0])


def test_table_figures_refuse_bad_tables(tables):
    with pytest.raises(ValueError, match="no column 'nope'"):
        figures.comparison(tables["comparison"], ["nope"])
    two_keys = tables["arterialisation"].assign(**{"catheter.rate_ml_min": [1.0, 2.0] * 4})
    with pytest.raises(ValueError, match="one row per strategy .and value of one varied key.*catheter.rate_ml_min"):
        figures.comparison(two_keys, METRICS)
    with pytest.raises(ValueError, match="no varied tumour arterial fraction"):
        figures.arterialisation(tables["comparison"].drop(columns="tumours.0.arterial_fraction"), METRICS)
    # a comparison without --vary holds the summary's arterial_fraction_baseline (the healthy liver's 0.2): not an axis
    plain = tables["comparison"].assign(arterial_fraction_baseline=0.2)
    plain = plain.drop(columns=[c for c in plain.columns if str(c).startswith("tumours.")])
    with pytest.raises(ValueError, match="no varied tumour arterial fraction"):
        figures.arterialisation(plain, METRICS)


def test_many_particles_are_drawn_as_density(runs, monkeypatch):
    from matplotlib.collections import PolyCollection

    data = runs["bulky_segment5_net"]
    assert data["lodged/xyz_mm"].shape[0] > arteries.HEXBIN_MIN_SITES
    hexbins = [c for c in figures.tree(data).axes[0].collections if isinstance(c, PolyCollection)]
    assert len(hexbins) == 1 and np.nansum(hexbins[0].get_array()) == data["lodged/count"].sum()
    monkeypatch.setattr(arteries, "HEXBIN_MIN_SITES", 10**9)
    assert not [c for c in figures.tree(data).axes[0].collections if isinstance(c, PolyCollection)]


def test_before_after_colours_the_end_by_flow_reduction(runs):
    from matplotlib.collections import LineCollection

    fig = figures.before_after(runs["bulky_segment5_net"])
    bars = [a.get_ylabel() for a in fig.axes if a.get_label() == "<colorbar>"]
    assert bars == ["arterial flow (mL/min)", "flow reduction (fraction of baseline)"]
    data = runs["bulky_segment5_net"]
    wide = data["vessel/diameter_um"] >= arteries.TREE_MIN_DIAMETER_UM
    lines = [c for c in fig.axes[1].collections if isinstance(c, LineCollection)]
    assert len(lines) == 1 and len(lines[0].get_segments()) == wide.sum()
    labels = [h.get_label() for h in fig.axes[1].get_legend_handles_labels()[0]]
    assert any(lab.startswith("infarcted parenchyma") for lab in labels)


def test_non_target_particles_are_shown_on_the_end_panel_only(runs):
    """Review 11: the baseline panel's bed labels carried the procedure's counts ("gallbladder (cystic a.): 5626
    particles" before any particle was injected)."""
    data = runs["replaced_rha_michels3"]
    counts = {k: n for k, n in data.summary["nontarget_particles_by_branch"].items() if n}
    assert counts  # the lobar injection sends particles down the cystic artery
    fig = figures.before_after(data)
    baseline = [t.get_text() for t in fig.axes[0].texts]
    end = [t.get_text() for t in fig.axes[2].texts] + [t.get_text() for t in fig.axes[1].texts]
    assert any(text.startswith("gallbladder") for text in baseline)
    assert not any("particles" in text for text in baseline)
    note = [text for text in end if text.startswith("particles beyond the liver:\n")]  # a line per branch
    assert len(note) == 1 and all(f"{n:,}" in note[0] for n in counts.values())


def test_non_target_beds_are_drawn_over_the_vessels_and_the_particles(runs):
    """Review 48: the beds' rings lay under the vessels, the infarct and the particles' density, and the gallbladder's
    vanished under a lobar run's particles."""
    from matplotlib.colors import to_hex

    from sim.figures.style import CATEGORY_COLOURS

    ax = figures.before_after(runs["replaced_rha_michels3"]).axes[1]
    rings = [line for line in ax.get_lines() if line.get_marker() == "o"
             and to_hex(line.get_markeredgecolor()) == to_hex(CATEGORY_COLOURS["non-target"])]
    assert rings
    under = max(c.get_zorder() for c in ax.collections if c.get_label() != "lodged particles")  # vessels, infarct, density
    assert min(r.get_zorder() for r in rings) > under
    assert all(r.get_markerfacecolor()[3] < 1.0 for r in rings)  # what lies under a ring shows through it


def test_portal_thrombus_is_drawn(tmp_path):
    data = figures.load_source("main_pvt", "tree")  # the liver only: no procedure needed
    assert not data.has_run
    fig = figures.tree(data)
    assert "thrombus (main portal vein)" in [t.get_text() for t in _labels(fig.axes[0])]
    with pytest.raises(ValueError, match="needs a run"):
        figures.tree(data, colour_by="occlusion")
    with pytest.raises(ValueError, match="unknown colour_by"):
        figures.tree(data, colour_by="speed")
    angio = figures.angiogram(data, times_s=[1.0, 5.0])
    panels = [a for a in angio.axes if a.get_label() != "<colorbar>"]
    assert len(panels) == 2 and "baseline" in panels[0].get_ylabel()


def test_tree_colourings(runs, tmp_path):
    for colour_by in ("flow", "pressure", "occlusion", "particles"):
        _render(lambda c=colour_by: figures.tree(runs["replaced_rha_michels3"], colour_by=c, labels=False),
                tmp_path / colour_by, ".png")
    with pytest.raises(ValueError, match="saved vessels from 150"):
        figures.tree(runs["replaced_rha_michels3"], min_diameter_um=100.0)


@pytest.mark.parametrize("name", ["bulky_segment5_net", "replaced_rha_michels3"])
def test_curve_keeps_the_sace_labels_off_the_stop_marker(runs, name):
    """Review 28: the stop marker (right edge) sat on its band's label; that label moves to the band's farther half."""
    from sim.figures.endpoint import STOP_MARKER_CLEARANCE

    data = runs[name]
    stop = float(data.timeseries["antegrade_flow_fraction"].iloc[-1])
    bounds = data.meta["sace_bounds"]
    for text in figures.endpoint_curve(data).axes[0].texts:
        if text.get_text().startswith("SACE "):
            level = "I II III IV".split().index(text.get_text().split()[1]) + 1
            low, high = bounds[level], bounds[level - 1]
            y = text.get_position()[1]
            if abs(0.5 * (low + high) - stop) >= STOP_MARKER_CLEARANCE:
                assert y == pytest.approx(0.5 * (low + high))
            else:
                assert y == pytest.approx(max(low + 0.25 * (high - low), low + 0.75 * (high - low),
                                              key=lambda v: abs(v - stop)))
                assert abs(y - stop) > abs(0.5 * (low + high) - stop)


def test_figures_write_micrometres_as_their_axes_do(runs):
    """Review 28: titles wrote the model's ASCII "um" (an agent's name) where the axes write "\u00b5m"; counts carry
    thousands separators."""
    fig = figures.deposition(runs["bulky_segment5_net"])
    title = fig.get_suptitle()
    assert title.endswith("microspheres 100-300 \u00b5m") and " um" not in title
    assert f"{runs['bulky_segment5_net'].summary['particles_injected']:,} particles" in title


def _legend_covers_a_curve(ax) -> bool:
    """Whether the curve legend of an endpoint curve covers a point of its flow or blush line (display space)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(ax.figure).draw()
    box = ax.get_legend().get_window_extent()
    curves = [line for line in ax.get_lines() if line.get_label() in ("antegrade flow", "tumour blush")]
    points = np.concatenate([ax.transData.transform(line.get_xydata()) for line in curves])
    inside = (points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)
    return bool(inside.any())


def test_curve_legend_and_title_of_a_run_stopped_before_its_endpoint(runs):
    """Review 48: a Y-90 run's flow stays near baseline, where the legend sat and hid the whole curve; its title read
    "endpoint stasis: injection stopped, activity delivered", as if stasis had been its end."""
    data = runs["bulky_segment5_net"]
    assert not _legend_covers_a_curve(figures.endpoint_curve(data).axes[0])  # a curve that falls: legend on top
    series = data.timeseries.copy()
    series["antegrade_flow_fraction"] = np.linspace(1.0, 0.89, len(series))
    series["tumour_blush_fraction"] = np.linspace(1.0, 0.97, len(series))
    summary = dict(data.summary, stop_reason="activity_delivered", sace_level=1)
    high = dataclasses.replace(data, timeseries=series, summary=summary)
    for style_name in figures.STYLES:
        ax = figures.endpoint_curve(high, style=style_name).axes[0]
        assert not _legend_covers_a_curve(ax)
        assert " ".join(ax.get_title().split()) == "Catheter in A5: stopped, activity delivered (stasis not reached)"


def test_curve_marks_the_stop_and_the_reflux(runs):
    data = runs["bulky_segment5_net"]
    series = data.timeseries.copy()
    series["reflux_fraction"] = np.where(np.arange(len(series)) >= len(series) // 2, 0.3, 0.0)
    ax = figures.endpoint_curve(dataclasses.replace(data, timeseries=series)).axes[0]
    stop = next(line for line in ax.get_lines() if line.get_label().startswith("stop: "))
    assert stop.get_xdata()[0] == pytest.approx(series["suspension_volume_ml"].iloc[-1])
    assert "reflux (share of injection)" in [line.get_label() for line in ax.get_lines()]
    onset = series["suspension_volume_ml"].iloc[len(series) // 2]
    assert any(np.allclose(line.get_xdata(), onset) for line in ax.get_lines())
    assert [t.get_text() for t in ax.texts] == ["SACE I", "SACE II", "SACE III", "SACE IV"]
    # words, not keys, and one SACE notation (review 11: "stopped on activity_delivered", "SACE 4" beside "SACE IV")
    assert stop.get_label() == "stop: endpoint reached (SACE IV)"
    assert ax.get_title() == "Catheter in A5, endpoint stasis: injection stopped, endpoint reached"
    assert ax.get_ylabel() == "fraction of baseline (reflux: of injection)"
    # the bands are the flow's SACE levels (review 17: a blush in the "SACE II" band had met the blush's level III)
    assert "SACE level of the antegrade flow (bands)" in [t.get_text() for leg in ax.artists for t in leg.get_texts()]
    plain = figures.endpoint_curve(data).axes[0]
    assert plain.get_ylabel() == "fraction of baseline"  # no reflux: no word of it


def test_depth_panel_marks_the_summary_wedge_median(runs):
    """Review 17: the panel counts every lodged particle (columns too), the summary's median the wedged ones only;
    a lecturer quoting the summary next to the histogram must find it marked and the two told apart."""
    data = runs["bulky_segment5_net"]
    ax = figures.deposition(data).axes[0]
    median = data.summary["lodging_generation_median"]
    # named as what it is, not the histogram's median (review 48: read as that, it sat near the 95th percentile)
    line = next(line for line in ax.get_lines()
                if line.get_label().startswith("median of the wedged particles only (summary)"))
    assert line.get_xdata()[0] == pytest.approx(median)
    assert "columns included" in ax.get_title()


def test_paper_titles_are_wrapped_once_from_their_text():
    """Review 17: a wrapped title was wrapped again line by line at the next pass ("antegrade flow / 8% of /
    baseline"); each pass now wraps the text as written."""
    from matplotlib.figure import Figure

    from sim.figures.style import style_context, wrap_to_fit

    with style_context("paper"):
        fig = Figure(figsize=(3.0, 2.5), layout="constrained")
        axes = fig.subplots(1, 2)
        axes[0].set_title("End: SACE IV, antegrade flow 8% of baseline after many particles")
        axes[1].set_ylabel("flow reduction (fraction of baseline)")
        wrap_to_fit(fig)
    for text in (axes[0].title, axes[1].yaxis.label):
        lines = text.get_text().split("\n")
        assert len(lines) > 1
        # greedy wrapping of the whole text: no line but the last could have taken the next line's first word
        for line, following in zip(lines, lines[1:]):
            assert len(line) + 1 + len(following.split()[0]) > max(len(x) for x in lines)


def test_paper_wrapping_stops_when_a_pass_changes_no_text(monkeypatch):
    """A word longer than its room cannot fit: it was wrapped again to the same lines at every pass and counted as a
    change, so the figure was laid out the maximum 8 times (the paper DSA figure); now the pass after the last
    change is the last one."""
    from matplotlib.figure import Figure

    from sim.figures.style import style_context, wrap_to_fit

    layouts = []
    draw = Figure.draw_without_rendering
    monkeypatch.setattr(Figure, "draw_without_rendering", lambda fig: (layouts.append(1), draw(fig)))
    with style_context("paper"):
        fig = Figure(figsize=(2.0, 2.0), layout="constrained")
        axes = fig.subplots(1, 2)
        axes[0].set_title("an electroencephalographically unfittable title")
        wrap_to_fit(fig)
    assert "\n" in axes[0].get_title()  # wrapped, its longest word alone on a line that still overflows
    assert axes[0].title.get_window_extent().width > axes[0].get_window_extent().width
    assert len(layouts) <= 3


def test_paper_wrapping_keeps_numbers_with_their_units_and_arrows_with_their_words():
    """Review 48: wrapped paper texts broke "527 / Gy", "(PHA = / 0)" and left the arrow of "patient's left ->" alone
    on a line under each panel; text that needs no wrapping keeps its plain spaces."""
    from matplotlib.figure import Figure

    from sim.figures.style import style_context, wrap_to_fit

    written = ["tumour mean dose 527 Gy, normal liver 0.75 mL/s and 35 % of the particles",
               "vessel generation counted from the hepatic artery (PHA = 0)", "x (mm), patient's left \u2192"]
    for width in (1.4, 1.7, 2.0, 2.5):
        with style_context("paper"):
            fig = Figure(figsize=(width * 2, 3.0), layout="constrained")
            axes = fig.subplots(1, 2)
            axes[0].set_title(written[0])
            axes[0].set_xlabel(written[1])
            axes[1].set_xlabel(written[2])
            axes[1].set_title("short")
            wrap_to_fit(fig)
        texts = [axes[0].get_title(), axes[0].get_xlabel(), axes[1].get_xlabel()]
        assert "\n" in texts[0]  # too long for these widths: wrapped
        for text, original in zip(texts, written, strict=True):
            assert text.split() == original.split()  # words kept, only line breaks and no-break spaces
            lines = text.split("\n")
            assert not any(line.split()[0] in ("Gy,", "mL/s", "%", "=", "0)", "\u2192") for line in lines[1:]), text
        assert axes[1].get_title() == "short"


def test_deposition_counts_every_particle(runs):
    from sim.figures.arteries import extent

    data = runs["replaced_rha_michels3"]
    fig = figures.deposition(data)
    counts = [bar.get_width() for bar in fig.axes[2].patches]
    assert sum(counts) == pytest.approx(data.summary["particles_injected"])
    # the summary's split, to the particle (review 17: the half-precision shares were off by 1-3 particles)
    assert counts[0] / data.summary["particles_injected"] == pytest.approx(data.summary["tumour_particle_fraction"],
                                                                           rel=1e-12)
    # the density map frames the liver and its lodging sites, not the tree figures' trunk and aorta below the
    # liver, which left it a third of its panel on paper (review 48)
    outline = data["segment/outline_mm"]
    bottom, top = fig.axes[3].get_ylim()
    assert bottom == pytest.approx(min(outline[:, 1].min(), data["lodged/xyz_mm"][:, 2].min()) - 8.0, abs=1e-3)
    assert bottom > extent(data)[2] + 10.0


def test_animated_angiogram_is_a_dsa_movie_from_the_saved_frames(runs, tmp_path):
    import imageio.v3 as iio

    data = runs["bulky_segment5_net"]
    path = figures.animate_angiogram(data, tmp_path / "dsa.gif", times_s=[0.5, 2.0, 4.0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dsa.gif"]  # written atomically: no temporary left
    assert path.read_bytes()[:6] == b"GIF89a"
    frames = iio.imread(path, index=None)
    assert frames.shape[0] == 3 and frames.shape[2] >= 1280  # legible on a projector
    with pytest.raises(ValueError, match=r"\.gif"):
        figures.animate_angiogram(data, tmp_path / "dsa.png")


def test_saved_dsa_frames_reproduce_the_live_thickness_and_draw_the_catheter(runs):
    from sim.fluoroscopy import DISPLAY_THICKNESS_M, opacity

    data = runs["bulky_segment5_net"]
    before, after = figures.panels_of_saved(data)
    times = data["angiogram/times_s"]
    k = len(times) // 3
    saved = data["angiogram/before"][k] / 255.0
    # the inverse of the display rule, to the 8-bit step of the saved opacity
    assert np.abs(opacity(before.thickness(float(times[k]))) - saved).max() <= 0.5 / 255 + 1e-9
    halfway = 0.5 * (times[k] + times[k + 1])
    between = before.thickness(float(halfway))
    lo = np.minimum(before.thickness(float(times[k])), before.thickness(float(times[k + 1])))
    assert np.all(between >= lo - 1e-12) and between.max() < 10 * DISPLAY_THICKNESS_M
    monitor = after.monitor(1280)
    assert monitor.shape[1] >= 1280 and monitor.catheter.max() > 0  # the catheter is drawn
    assert "end of embolisation" == after.label and "mL/s" in after.caption


def test_save_figure_refuses_other_formats(runs, tmp_path):
    with pytest.raises(ValueError, match="allowed extensions .png, .svg, .pdf"):
        figures.save_figure(figures.endpoint_curve(runs["bulky_segment5_net"]), tmp_path / "curve.jpg")


# --- the command ------------------------------------------------------------------------


def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("embosim: error: "), result.stderr
    assert all(f in lines[0] for f in fragments), lines[0]


@pytest.mark.parametrize("kind", RUN_KINDS)
def test_plot_draws_every_kind_from_a_run_folder(folders, invoke, kind, tmp_path):
    out = tmp_path / f"{kind}.svg"
    result = invoke("plot", folders["bulky_segment5_net"][1], "--kind", kind, "--out", out, "--style", "paper")
    assert result.exit_code == 0, result.output
    _check_file(out, ".svg")


def test_plot_help_lists_every_kind(invoke):
    result = invoke("plot", "--help")
    assert result.exit_code == 0
    assert all(kind in result.stdout for kind in figures.KINDS)
    assert all(option in result.stdout for option in ("--kind", "--out", "--animate", "--style", "--rerun"))


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
    assert invoke("plot", csv, "--kind", "comparison", "--out", tmp_path / "c.png").exit_code == 0  # bars by value
    for name in ("replicates", f"{METRICS[0]}_lo", "strategy", "tumours.0.arterial_fraction"):  # not outcomes
        _one_line_error(invoke("plot", csv, "--kind", "comparison", "--metrics", name, "--out", tmp_path / "c.png"),
                        "--metrics", f"no outcome '{name}'")
    tables["arterialisation"].assign(**{"catheter.rate_ml_min": [1.0, 2.0] * 4}).to_csv(csv, index=False)
    _one_line_error(invoke("plot", csv, "--kind", "comparison", "--out", tmp_path / "c.png"), "one row per strategy")


@pytest.mark.parametrize(("args", "fragments"), [
    (["--kind", "spaghetti"], ["--kind", "unknown kind 'spaghetti'", "angiogram"]),
    (["--kind", "curve", "--animate"], ["--animate", "only the angiogram"]),
    (["--kind", "tree", "--out", "tree.jpg"], ["--out", ".png, .svg, .pdf"]),
    (["--kind", "angiogram", "--animate", "--out", "a.png"], ["--out", ".gif", ".mp4"]),
    (["--kind", "tree", "--compare", "selective,lobar"], ["--compare", "--animate"]),
    (["--kind", "tree", "--style", "poster"], ["--style"]),
    ([], ["--kind"]),
], ids=["unknown_kind", "animate_other_kind", "bad_extension", "animation_not_movie", "compare_without_animate",
         "bad_style", "no_kind"])
def test_plot_bad_options_are_one_line_exit_2(invoke, args, fragments):
    _one_line_error(invoke("plot", *args), *fragments)


def test_plot_bad_sources_are_one_line_exit_2(invoke, tmp_path):
    _one_line_error(invoke("plot", tmp_path, "--kind", "curve"), str(tmp_path), "not a readable run folder")
    _one_line_error(invoke("plot", tmp_path / "missing.toml", "--kind", "curve"), "cannot read")
    _one_line_error(invoke("plot", tmp_path / "missing.csv", "--kind", "comparison"), "cannot read a comparison")


def test_plot_names_the_scenario_file_of_an_error_found_on_the_built_liver(tmp_path, invoke):
    path = tmp_path / "bad_tip.toml"
    path.write_text('[liver]\nterminal_diameter_um = 400.0\n[catheter]\nvessel = "#99999999"\n', encoding="utf-8")
    result = invoke("plot", path, "--kind", "curve", "--out", tmp_path / "c.png")
    _one_line_error(result, f"{path}: catheter.vessel: ")
    assert not (tmp_path / "c.png").exists()


def test_run_writes_its_figures_in_the_style_asked(invoke, tmp_path, write_scenario):
    path = write_scenario("[liver]\nterminal_diameter_um = 400.0\n")
    result = invoke("run", path, "--out", tmp_path / "out", "--quiet", "--style", "paper")
    assert result.exit_code == 0, result.output
    for name in figures.RUN_FIGURES:
        _check_file(tmp_path / "out" / name, ".png")
    _one_line_error(invoke("run", path, "--out", tmp_path / "other", "--style", "poster"), "--style")


def test_figures_take_a_run_folder_path_and_refuse_other_things(runs, tmp_path):
    """A run folder's path draws as :func:`load_run` does; anything else is one TypeError, not a deep AttributeError."""
    from sim.figures.run import run_data

    with pytest.raises(TypeError, match="a figure draws a RunData, a run folder's path"):
        figures.endpoint_curve(3.0)
    from sim.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="not a readable run folder"):
        run_data(str(tmp_path / "no_such_run"))


@pytest.mark.parametrize("style", ["slide", "paper"])
def test_no_label_covers_the_catheter_tip(runs, style):
    """Review 17: a vessel or thrombus label centred on its anchor hid the catheter tip beside it."""
    from matplotlib.transforms import Bbox

    from sim.figures.labels import text_box

    for name, data in runs.items():
        fig = figures.before_after(data, style=style)
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        marker = next(line for line in ax.get_lines() if line.get_label().startswith("catheter tip"))
        x, y = ax.transData.transform(data["catheter/tip_mm"][[0, 2]])
        half = 0.5 * marker.get_markersize() * renderer.points_to_pixels(1.0)
        tip = Bbox([[x - half, y - half], [x + half, y + half]])  # the whole marker, not its centre only
        labels = [t for t in ax.texts if hasattr(t, "xyann")]
        assert labels, name
        for label in labels:
            assert not text_box(label, renderer).overlaps(tip), (name, label.get_text())


def test_large_slide_canvases_draw_text_to_read_on_a_slide(runs):
    """Review 17: the 19 x 9.5 in before-after figure placed on a 13.33 x 7.5 in slide printed its 14 pt text at
    10 pt. A canvas larger than a slide both ways draws its text larger in proportion (a flat row of panels
    cannot); the layout still keeps the titles apart."""
    from sim.figures.style import SLIDE_HEIGHT_IN, SLIDE_WIDTH_IN, STYLES

    data = runs["bulky_segment5_net"]
    fig = figures.before_after(data)
    width, height = fig.get_size_inches()
    shrink = max(width / SLIDE_WIDTH_IN, height / SLIDE_HEIGHT_IN)  # placed on the slide at 1/shrink
    on_slide = fig.axes[0].xaxis.label.get_fontsize() / shrink
    assert on_slide >= 0.85 * STYLES["slide"]["axes.labelsize"]
    renderer = fig.canvas.get_renderer()
    suptitle = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes[:2]:
        assert not suptitle.overlaps(ax.title.get_window_extent(renderer))
    flat = figures.endpoint_curve(data)  # 9.5 x 6 in: placed at its size, the style's sizes
    assert flat.axes[0].xaxis.label.get_fontsize() == STYLES["slide"]["axes.labelsize"]


def test_a_figure_shows_in_a_notebook_without_pyplot(tables):
    """Review 23: a figure left as a Jupyter cell's value printed '<Figure size ...>' (no pyplot, no inline backend)."""
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        data, _ = shell.display_formatter.format(figures.comparison(tables["comparison"], METRICS))
    finally:
        InteractiveShell.clear_instance()
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_write_names_a_folder_argument_of_the_wrong_type(folders):
    result, _ = folders["replaced_rha_michels3"]
    for wrong in (None, 3):
        with pytest.raises(TypeError, match="out_dir: a folder path"):
            result.write(wrong)
