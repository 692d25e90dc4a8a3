"""The explorer end to end in a real headless browser (Playwright driving Debian's Chromium).

The page is served in this process (``sim.explore.app.Explorer`` per session) on
a coarse liver (``liver.terminal_diameter_um = 300``) so that a build takes about a
second. Screenshots go to ``<pytest tmp>/screenshots`` (and to
``$EMBOSIM_SCREENSHOTS`` when set: ``docs/figures/`` is made that way).

Without Playwright or a Chromium the tests skip with the reason, except in CI
(``CI=true``), where they fail.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
COARSE = {"liver.terminal_diameter_um": 300.0}
#: Seconds allowed for the first page (a first Numba compile in a fresh environment takes a minute or two).
FIRST_PAGE_S = 600


def _chromium() -> str | None:
    given = os.environ.get("EMBOSIM_CHROMIUM")
    return given if given else next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def _no_browser(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs Chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("Playwright is not installed (pip install -e '.[test]')")
    exe = _chromium()
    if exe is None:
        _no_browser(f"no Chromium found ({', '.join(CHROMIUM_NAMES)} on PATH, or EMBOSIM_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The page on 127.0.0.1; yields (url, the Explorer of each session so far)."""
    import panel as pn

    from sim.explore.app import Explorer, free_port
    from sim.explore.cache import LiverCache

    cache = LiverCache(tmp_path_factory.mktemp("cache"))
    sessions = []

    def page():
        explorer = Explorer(None, cache=cache, overrides=COARSE)
        sessions.append(explorer)
        return explorer.panel

    port = free_port()
    thread = pn.serve({"/": page}, port=port, address="127.0.0.1", show=False, threaded=True, verbose=False,
                      websocket_origin=[f"127.0.0.1:{port}"])
    yield f"http://127.0.0.1:{port}/", sessions
    thread.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screenshots")
    copy = os.environ.get("EMBOSIM_SCREENSHOTS")

    def shot(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if copy:
            Path(copy).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(copy) / path.name)
        return path

    return shot


def _wait_text(page, text: str, timeout_s: float) -> None:
    page.get_by_text(text).first.wait_for(timeout=timeout_s * 1000)


def _wait(condition, timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _screen_point(canvas, extent, x_mm: float, z_mm: float) -> tuple[float, float]:
    """Page pixel of a position (mm) in a figure showing ``extent`` (no axes, borders or toolbar: the frame spans the
    canvas's width and its bottom, under any title)."""
    box = canvas.bounding_box()
    left, right, bottom, top = extent
    frame_height = box["width"] * (top - bottom) / (right - left)
    return (box["x"] + (x_mm - left) / (right - left) * box["width"],
            box["y"] + box["height"] - frame_height + (top - z_mm) / (top - bottom) * frame_height)


def _click_vessel(page, canvas, scene, vessel: str) -> None:
    """Click the middle of the drawn artery ``vessel`` of a liver scene shown in ``canvas``."""
    row = scene.vessels[scene.vessels["vessel"] == vessel].iloc[-1]
    page.mouse.click(*_screen_point(canvas, scene.extent, 0.5 * (row["x0"] + row["x1"]), 0.5 * (row["z0"] + row["z1"])))


def _numbers(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)
            and k != "run_time_s"}


@pytest.mark.slow
def test_explore_place_catheter_change_size_run_and_download(browser, server, shots, tmp_path):
    url, sessions = server
    page = browser.new_page(viewport={"width": 1500, "height": 1150})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    _wait_text(page, "Ready", FIRST_PAGE_S)
    explorer = sessions[-1]
    shots(page, "explorer_start")
    assert explorer.widgets["catheter.vessel"].value == "A5"

    # place the catheter by clicking the middle of the drawn RHA
    _click_vessel(page, page.locator("canvas").first, explorer.scene, "RHA")
    _wait(lambda: explorer.widgets["catheter.vessel"].value == "RHA", 20, "the click to place the catheter in RHA")
    _wait_text(page, "Catheter placed in RHA", 20)
    assert page.locator(".bk-input-group", has_text="catheter.vessel").first.locator("input").input_value() == "RHA"
    # the click alone shows the liver view and the DSA before from the RHA, which the run reuses
    _wait(lambda: explorer.scene.vessel == "RHA" and explorer.dsa is not None and explorer.dsa.after is None, 60,
          "the liver view and DSA before from the RHA")
    placed = explorer.scene
    _wait_text(page, "the DSA before are from there", 20)
    shots(page, "explorer_catheter_placed")

    # change the particle size and run
    page.locator(".bk-input-group", has_text="agent.size_bin").first.locator("select").select_option("300-500")
    _wait(lambda: explorer.widgets["agent.size_bin"].value == "300-500", 20, "the size change")
    page.locator("button", has_text="Run").first.click()
    _wait_text(page, "Done in", 300)
    sim = explorer.simulation
    assert sim.scenario.catheter.vessel == "RHA" and sim.scenario.agent.size_bin == "300-500"
    summary = sim.result.summary

    # the outcome table and the figures show this run
    table = page.locator(".embosim-outcomes table").inner_text()
    assert f"{summary['tumour_necrosis_fraction']:.4g}" in table
    assert f"{summary['suspension_volume_ml']:.4g}" in table
    assert len(explorer.curve.source.data["volume"]) == len(sim.result.timeseries) > 1
    assert len(explorer.liver_figure.particles.data["x"]) > 0
    assert len(explorer.dsa_after.image.data["image"]) == 1
    assert explorer.scene is placed
    shots(page, "explorer_run")

    # the replay draws the curve and lodges the particles row by row, then ends on the final state
    total = len(explorer.run_scene.particles)
    page.locator("button", has_text="Replay the procedure").click()
    _wait(lambda: 0 < explorer.step.value < explorer.step.end, 30, "the replay to start")
    assert len(explorer.liver_figure.particles.data["x"]) < total
    assert len(explorer.curve.source.data["volume"]) < len(sim.result.timeseries)
    _wait(lambda: explorer.step.value == explorer.step.end, 120, "the replay to end")
    # the last step is drawn by the step's watcher on the server thread, just after the value changes
    _wait(lambda: len(explorer.liver_figure.particles.data["x"]) == total, 20, "the last step's particles")

    # the downloaded scenario reproduces the numbers with embosim run
    with page.expect_download() as info:
        page.locator("button", has_text="Download").first.click()
    toml = tmp_path / "explored.toml"
    info.value.save_as(toml)
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", "import sim.cli; sim.cli.main()", "run", str(toml), "--out", str(out),
                           "--no-figures", "--quiet"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reproduced = _numbers(json.loads((out / "summary.json").read_text()))
    expected = _numbers(summary)
    assert reproduced.keys() == expected.keys()
    for key, value in expected.items():
        assert reproduced[key] == value or (math.isnan(value) and math.isnan(reproduced[key])), key

    # a bad value shows its message on the page, no traceback, no run
    rate = page.locator(".bk-input-group", has_text="catheter.rate_ml_min").first.locator("input")
    rate.fill("-1")
    rate.press("Enter")
    _wait(lambda: explorer.widgets["catheter.rate_ml_min"].value.strip() == "-1", 20, "the bad rate")
    page.locator("button", has_text="Run").first.click()
    _wait_text(page, "catheter.rate_ml_min: Input should be greater than 0", 30)
    assert page.get_by_text("Traceback").count() == 0
    assert explorer.simulation is sim
    shots(page, "explorer_bad_input")
    assert not errors, errors


@pytest.mark.slow
def test_case_played_to_its_debrief(browser, server, shots):
    url, sessions = server
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.goto(url)
    _wait_text(page, "Ready", FIRST_PAGE_S)
    explorer = sessions[-1]
    page.get_by_text("Case mode").click()
    cases = explorer.cases
    page.locator(".embosim-case-select select").select_option(label=cases.cases["michels_replaced_rha"].title)
    page.locator("button", has_text="Start the case").click()
    _wait_text(page, "Case ready", 300)
    assert len(cases.angiogram.image.data["image"]) == 1
    shots(page, "explorer_case_start")
    # the coeliac run shows no right liver (the hidden replaced RHA): look for it from the SMA, as in a work-up
    assert "A6" not in cases.shown
    page.locator(".embosim-case-run-from select").select_option("SMA")
    page.locator("button", has_text="Take the angiogram").click()
    _wait(lambda: "A6" in cases.shown, 120, "the SMA angiogram to show the replaced RHA's A6")
    _wait_text(page, "Angiogram from the SMA", 30)
    # the arterial phase shows the arteries to click (the capillary phase, shown first, the blush)
    page.locator(".embosim-case-phase").locator("button", has_text="arterial").click()
    _wait(lambda: cases.phase.value == "arterial", 20, "the arterial phase")
    _wait(lambda: np.array_equal(cases.angiogram.image.data["image"][0], cases.dsa.frames("arterial")[0]), 20,
          "the arterial frame")
    shots(page, "explorer_case_sma_run")
    # choose the catheter position by clicking A6 on that angiogram (the only figure of case mode)
    assert cases.vessel.value != "A6"
    _click_vessel(page, page.locator("canvas:visible").first, cases.scene, "A6")
    _wait(lambda: cases.vessel.value == "A6", 20, "the click on A6 to choose the catheter position")
    vessel = page.locator(".bk-input-group", has_text="catheter.vessel").last.locator("input")
    _wait(lambda: vessel.input_value() == "A6", 20, "the page's catheter field to show A6")
    page.locator("button", has_text="Submit and debrief").click()
    _wait_text(page, "Debrief:", 300)
    debrief = cases.debrief.object
    assert "Michels type III" in debrief and "[Michels1966]" in debrief
    # the expert's choice is the trainee's here: the same runs, full points, shown on the page
    assert _numbers(cases.trainee_summary) == _numbers(cases.expert_summary)
    assert "100 / 100 points" in debrief
    assert page.get_by_text("Debrief: 100 / 100 points").count() == 1
    assert page.get_by_text("Michels type III", exact=False).count() >= 1
    shots(page, "explorer_case_debrief")
