"""The explorer page (Panel): controls, liver view, procedure replay, DSA, outcomes; case mode in a second tab.

``Explorer(scenario)`` is the app object: display it in Jupyter (it has
``__panel__``) or serve it with :func:`serve` (``embosim explore``). Work (liver
build, run, DSA) runs in a worker thread (:data:`EXECUTOR`) awaited by async
callbacks, so the page stays live; a status line shows the stage and the seconds
spent. Bad input shows its one-line message on the page (the scenario validation
of :mod:`sim.explore.controls`), never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
from bokeh.events import Tap

from .. import __version__
from ..catalogue import resolve_scenario
from ..endpoints import stop_reason_words
from ..scenario import Scenario, ScenarioError, load_scenario
from ..selection import assess_patient
from . import compute
from .cache import LiverCache
from .controls import CONTROLS, VOLUME_ENDPOINT, agent_kinds, control_values, ignored_controls, scenario_from_values
from .figures import DEFAULT_PHASE, DSA_PHASES, LIVER_WIDTH_PX, CurveFigure, DsaFigure, LiverFigure
from .scenario_toml import changes, scenario_to_toml

__all__ = ["EXECUTOR", "Explorer", "OUTCOMES", "is_local_address", "Worker", "free_port", "outcome_table", "page_url", "serve"]

log = logging.getLogger("sim.explore")

#: One worker thread for every session of the process: runs queue instead of competing for the cores.
EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embosim-explore")

#: Outcome rows of the table: summary key, label, unit (docs/outputs.md).
OUTCOMES: tuple[tuple[str, str, str], ...] = (
    ("sace_level", "SACE level", "-"),
    ("endpoint_reached", "endpoint reached", "-"),
    ("stop_reason", "stopped because", "-"),
    ("suspension_volume_ml", "suspension injected", "mL"),
    ("particle_volume_ml", "agent (settled)", "mL"),
    ("vials", "vials", "-"),
    ("lipiodol_volume_ml", "Lipiodol injected", "mL"),
    ("emulsion_volume_ml", "emulsion injected", "mL"),
    ("lipiodol_tumour_ml", "oil held by tumour", "mL"),
    ("lipiodol_normal_ml", "oil held by normal liver", "mL"),
    ("lipiodol_systemic_ml", "oil on to the lungs (hepatic veins)", "mL"),
    ("antegrade_flow_fraction", "antegrade flow left", "fraction"),
    ("sirt_tumour_dose_mean_gy", "tumour dose, perfused mean", "Gy"),
    ("sirt_tumour_d70_gy", "tumour D70", "Gy"),
    ("sirt_normal_liver_dose_mean_gy", "normal liver dose, perfused mean", "Gy"),
    ("sirt_normal_liver_dose_whole_gy", "normal liver dose, whole liver", "Gy"),
    ("sirt_lung_dose_gy", "lung dose", "Gy"),
    ("tumour_necrosis_fraction", "tumour necrosis", "fraction"),
    ("normal_necrosis_fraction", "normal liver necrosis", "fraction"),
    ("biliary_ischaemic_fraction", "biliary ischaemia", "fraction"),
    ("tumour_particle_fraction", "particles in tumour", "fraction"),
    ("nontarget_particle_fraction", "non-target particles", "fraction"),
    ("reflux_volume_ml", "reflux", "mL"),
    ("injection_time_min", "injection time", "min"),
    ("particles_injected", "particles injected", "count"),
)


def is_local_address(address: str) -> bool:
    """Whether binding ``address`` keeps the page on this machine: an IPv4 address in 127.0.0.0/8 however written
    (``127.1``), or a name that resolves to one (``localhost``, ``LOCALHOST``); any other interface serves it to the
    network (with a warning)."""
    import ipaddress
    import socket

    if not address.strip():
        return False
    try:
        resolved = socket.gethostbyname(address)  # what the server binds: names and short forms resolved
    except OSError:
        return False
    return ipaddress.ip_address(resolved).is_loopback


def _format(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4g}"


#: Rows that describe particles, left out when a run injected none (Lipiodol alone).
PARTICLE_OUTCOMES = frozenset({"sace_level", "endpoint_reached", "stop_reason", "suspension_volume_ml",
                               "particle_volume_ml", "vials", "tumour_particle_fraction", "nontarget_particle_fraction",
                               "reflux_volume_ml", "injection_time_min", "particles_injected"})


#: Labels of a Y-90 run's necrosis rows: the model's necrosis is ischaemic; the radiation's kill is read from the
#: doses above them (docs/sirt.md; review 12: "tumour necrosis 0.30" beside 517 Gy read as the model's answer).
Y90_LABELS = {"tumour_necrosis_fraction": "tumour necrosis, ischaemic only (radiation: the doses)",
              "normal_necrosis_fraction": "normal liver necrosis, ischaemic only (radiation: the doses)"}


def outcome_table(summary: dict, *, volume_endpoint: bool = False) -> pd.DataFrame:
    """The outcome table of a run summary: outcome, value (4 significant digits), unit, summary key (the rows of
    :data:`OUTCOMES` the summary has; no particle rows when it injected no particle; a Y-90 run's necrosis rows
    labelled ischaemic, :data:`Y90_LABELS`). With ``volume_endpoint`` (the page's volume endpoint: stasis within
    ``procedure.max_volume_ml``) the endpoint row reads that choice: reached when the volume was given or stasis came
    first (the summary's ``endpoint_reached`` is stasis's alone)."""
    skip = PARTICLE_OUTCOMES if summary.get("particles_injected", 1) == 0 else frozenset()
    labels = Y90_LABELS if "sirt_tumour_dose_mean_gy" in summary else {}
    values = {key: _format(summary[key]) for key, _, _ in OUTCOMES if key in summary}
    if "stop_reason" in values:  # in words, as the report and the figures say it (the key column names the key)
        values["stop_reason"] = stop_reason_words(summary["stop_reason"])
    if volume_endpoint and "endpoint_reached" in values:
        labels = {**labels, "endpoint_reached": "endpoint reached (the volume, or stasis first)"}
        reason = summary.get("stop_reason")
        values["endpoint_reached"] = ("True (the volume was given)" if reason == "max_volume" else
                                      "True (stasis before the volume)" if summary["endpoint_reached"] else
                                      f"False ({stop_reason_words(reason)})")
    rows = [(labels.get(key, label), values[key], unit, key) for key, label, unit in OUTCOMES
            if key in values and key not in skip]
    return pd.DataFrame(rows, columns=["outcome", "value", "unit", "summary key"])


def _literal_markdown(text: str) -> str:
    """``text`` shown as it is by a Markdown pane: every ASCII punctuation mark escaped (CommonMark), so that
    ``'#<n>'`` is not an HTML tag and ``tumours.*.x`` no emphasis."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", text)


def _message(exc: BaseException) -> str:
    """One line for the page: the key and what is allowed for bad input, the error's type and text otherwise."""
    if isinstance(exc, ScenarioError):
        return f"{exc.path}: {exc.message}" if exc.path else exc.message
    return f"internal error ({type(exc).__name__}: {exc}); details in the server log"


class Worker:
    """Runs work in :data:`EXECUTOR` and shows its stage, elapsed time and errors on the page."""

    def __init__(self):
        self.status = pn.pane.Markdown("", name="status", css_classes=["embosim-status"], margin=(0, 10))
        self.progress = pn.indicators.Progress(active=False, visible=False, width=200, bar_color="primary")
        self.error = pn.pane.Alert("", alert_type="danger", visible=False, css_classes=["embosim-error"])
        self.busy = False
        self._stage = ""
        self._started = 0.0
        self._ticker = None
        self._notice = ""  # a press refused while busy, said with the stage until it is done

    @contextlib.asynccontextmanager
    async def task(self, *buttons):
        """Mark the worker busy and ``buttons`` disabled while the block runs; an error in it is shown on the page
        (the server log has the traceback), not raised."""
        self.busy = True
        for button in buttons:
            button.disabled = True
        try:
            yield
        except Exception as exc:
            self.show_error(exc)
            self.done("")
        finally:
            self.busy = False
            for button in buttons:
                button.disabled = False

    def refused_while_busy(self, action: str) -> bool:
        """Whether the worker is busy; if so the status line says that ``action`` waits for it (pressed again then)."""
        if self.busy:
            self._notice = f"busy: press **{action}** again when this is done"
            self._tick()
        return self.busy

    def show_error(self, exc: BaseException) -> None:
        if not isinstance(exc, ScenarioError):
            log.exception("explorer: unexpected error", exc_info=exc)
        self.error.object = _literal_markdown(_message(exc))
        self.error.visible = True

    def clear_error(self) -> None:
        self.error.visible = False
        self.error.object = ""

    def _tick(self) -> None:
        notice = f" ({self._notice})" if self._notice else ""
        self.status.object = f"**{self._stage}** ... {time.perf_counter() - self._started:.0f} s{notice}"

    async def run(self, stage: str, fn, *args):
        """Await ``fn(*args)`` in the worker thread, showing ``stage`` and the seconds spent."""
        self._stage, self._started = stage, time.perf_counter()
        self._tick()
        self.progress.visible = self.progress.active = True
        if self._ticker is None and pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            self._ticker = pn.state.add_periodic_callback(self._tick, period=500)
        try:
            return await asyncio.get_running_loop().run_in_executor(EXECUTOR, fn, *args)
        finally:
            self.progress.visible = self.progress.active = False

    def done(self, text: str) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self._notice = ""
        self.status.object = text


def _widget(control, value, options=None):
    """The widget of a control, titled with its label, unit and key (``options``: a choice's, default the control's)."""
    if control.options is not None:
        return pn.widgets.Select(label=control.title, options=list(options or control.options), value=value, width=330)
    if control.numeric:  # a number typed as text, read on the server (:func:`_number`): a browser's
        # number field silently puts the old value back on text it cannot read; an out-of-range value gets the
        # scenario's message
        low, high = ("" if b is None else f"{b:g}" for b in control.bounds)
        return pn.widgets.TextInput(label=control.title, value=repr(float(value)), width=330,
                                    description=f"{control.key}: from {low or '-inf'} to {high or 'inf'}"
                                                + ("" if control.unit in ("1", "-") else f" {control.unit}"))
    return pn.widgets.TextInput(label=control.title, value=str(value), width=330)


def _number(key: str, text: str) -> float:
    """The number typed in the control of ``key`` (ScenarioError naming the key if it is none; non-finite numbers
    are left to the scenario's validation, which refuses them)."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        raise ScenarioError(f"type a number (got {text!r})" if text else "empty: type a number", path=key) from None


class Explorer:
    """The explorer app: one scenario, its controls, its run; case mode in a second tab.

    Parameters
    ----------
    scenario : Scenario, str or Path, optional
        The starting scenario (a file or shipped name; default: the default scenario).
    cache : LiverCache, optional
        Default: memory and the user cache folder.
    overrides : dict, optional
        Scenario updates applied to the starting scenario and to every case (e.g.
        ``{"liver.terminal_diameter_um": 300.0}``: coarser, faster livers for tests and demos).
    case_folders : sequence of str or Path
        Folders of an educator's own case files (``*.toml``), listed in case mode after the shipped cases
        (docs/explorer.md "Adding a case").

    Examples
    --------
    >>> from sim.explore import Explorer      # doctest: +SKIP
    >>> Explorer("main_pvt")                  # in Jupyter: the page in the notebook  # doctest: +SKIP
    """

    def __init__(self, scenario: Scenario | str | None = None, *, cache: LiverCache | None = None,
                 overrides: dict[str, Any] | None = None, case_folders: Sequence[str | Path] = ()):
        from .case_view import CaseView

        if not isinstance(scenario, Scenario):
            scenario = load_scenario(resolve_scenario(scenario))
        self.base = scenario.with_updates(overrides) if overrides else scenario
        self.cache = cache or LiverCache()
        self.worker = Worker()
        self.scenario = self.base        # the scenario of the liver view and the last run
        self.scene: compute.LiverScene | None = None
        self._scene_key = ""
        self.simulation: compute.Simulation | None = None
        self.run_scene: compute.RunScene | None = None
        self.dsa: compute.Angiograms | None = None
        self._scene_lock = asyncio.Lock()  # the liver view and DSA before: placed by a click or a run, one at a time
        values = control_values(self.base)
        options = {"agent.kind": agent_kinds(self.base)}
        self.widgets = {c.key: _widget(c, values[c.key], options.get(c.key)) for c in CONTROLS}
        self._numeric = {c.key: c.numeric for c in CONTROLS}
        self.ignored = pn.pane.Markdown("", css_classes=["embosim-ignored"], width=330)
        for key in ("procedure.endpoint", "agent.kind"):
            self.widgets[key].param.watch(lambda event: self._show_applicable(), "value")
        for widget in self.widgets.values():  # a red box follows the values (review 54: fixed, it still said "got -2")
            widget.param.watch(lambda event: self._recheck(), "value")
        self._show_applicable()
        self.liver_figure = LiverFigure()
        self.liver_figure.figure.on_event(Tap, self._on_tap)
        self.curve = CurveFigure()
        self.dsa_before = DsaFigure("dsa-before", "DSA before")
        self.dsa_after = DsaFigure("dsa-after", "DSA after")
        self.phase = pn.widgets.RadioButtonGroup(label="DSA phase", options=list(DSA_PHASES), value=DEFAULT_PHASE)
        self.phase.param.watch(lambda event: self._show_dsa(), "value")
        self.step = pn.widgets.IntSlider(label="Replay step (one per point of the curve)", start=0, end=1, value=0,
                                         width=360, disabled=True)
        self.step.param.watch(lambda event: self._show_step(event.new), "value")
        self.replay_button = pn.widgets.Button(label="Replay the procedure", disabled=True, width=180)
        self.replay_button.on_click(self._on_replay)
        self._replay = None
        self.run_button = pn.widgets.Button(label="Run", color="primary", width=300,
                                            css_classes=["embosim-run"])
        self.run_button.on_click(self._on_run)
        # under Run as well as at the top of the page, which a 1280 px window has scrolled away (review 54)
        self._refused = False  # the red box shows this tab's refusal (kept in step with the values: _recheck)
        self.run_message = pn.pane.Markdown("", css_classes=["embosim-run-message"], width=300,
                                            styles={"color": "#B00020"})
        self.download = pn.widgets.FileDownload(callback=self._scenario_file, filename="embosim-scenario.toml",
                                                label="Download this run's scenario (TOML)", width=300,
                                                color="success")
        self.table = pn.pane.DataFrame(pd.DataFrame(columns=["outcome", "value", "unit", "summary key"]), index=False,
                                       css_classes=["embosim-outcomes"], width=520)
        self.verdict = pn.pane.Markdown("", css_classes=["embosim-verdict"], width=520)
        self.replay_text = pn.pane.Markdown("", css_classes=["embosim-replay"], width=460)
        self.cases = CaseView(self.cache, self.worker, overrides=overrides, case_folders=case_folders)
        self.panel = self._layout()
        pn.state.onload(self.load)  # served: when the page has loaded; in a notebook: at once

    def __panel__(self):
        return self.panel

    def _repr_mimebundle_(self, include=None, exclude=None):  # Jupyter shows the page
        return self.panel._repr_mimebundle_(include, exclude)

    def _layout(self):
        sidebar = pn.Column(
            pn.pane.Markdown(f"**Started from:** {self.base.title}\n\n{self.base.description} The controls below "
                             "change it; **Run** runs them, and the download is the last run's scenario.", width=330),
            *self.widgets.values(), self.ignored, self.run_button, self.run_message, self.download, width=350)
        liver = pn.Column(pn.pane.Markdown("**Liver view** (AP; arteries coloured by flow, mL/min; click an artery "
                                           "to place the catheter)", width=LIVER_WIDTH_PX),
                          pn.pane.Bokeh(self.liver_figure.figure))  # (fixed widths: the flex box wraps only when needed)
        procedure = pn.Column(pn.pane.Bokeh(self.curve.figure), pn.Row(self.replay_button, self.replay_text),
                              self.step, self.phase,
                              pn.Row(pn.pane.Bokeh(self.dsa_before.figure), pn.pane.Bokeh(self.dsa_after.figure)))
        outcome = pn.FlexBox(pn.Column(pn.pane.Markdown("**Outcomes**"), self.table),
                             pn.Column(self.verdict), flex_wrap="wrap", sizing_mode="stretch_width")  # (verdict: its
        # Markdown opens with its heading)
        # the procedure column goes below the liver view when the window is too narrow for both (1280 px: review 36)
        explore = pn.Row(sidebar, pn.Column(pn.FlexBox(liver, procedure, flex_wrap="wrap", sizing_mode="stretch_width"),
                                            outcome, sizing_mode="stretch_width"), sizing_mode="stretch_width")
        # the status line and the error box above the tabs: both tabs report through them
        return pn.Column(pn.Row(self.worker.status, self.worker.progress), self.worker.error,
                         pn.Tabs(("Explore", explore), ("Case mode", self.cases.panel), dynamic=False))

    # -- callbacks -----------------------------------------------------------------

    def values(self, sections: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The values of the controls in use (control key -> value; ScenarioError for a number field holding none), of
        the scenario ``sections`` only if given. Controls the chosen agent does not use (greyed out) are left out:
        their keys keep the starting scenario's values, whatever the fields hold."""
        ignored = self._ignored()
        return {key: _number(key, w.value) if self._numeric[key] else w.value for key, w in self.widgets.items()
                if key not in ignored and (sections is None or key.split(".")[0] in sections)}

    def current_scenario(self) -> Scenario:
        """The scenario the controls describe (ScenarioError: what is wrong).

        The volume cap is the control's with the volume endpoint, the starting scenario's otherwise.
        """
        values = self.values()
        if values.get("procedure.endpoint") != VOLUME_ENDPOINT:
            values.pop("procedure.max_volume_ml", None)
        return scenario_from_values(self.base, values)

    def _recheck(self) -> None:
        """After a control changed while a refusal is shown: the message of the values now (cleared when they are
        all valid)."""
        if not (self._refused and self.worker.error.visible):  # (a case mode's red box is not this tab's)
            return
        try:
            self.current_scenario()
        except ScenarioError as exc:
            self.worker.show_error(exc)
            if self.run_message.object:
                self.run_message.object = f"**Not run**: {_literal_markdown(_message(exc))}"
            return
        self.worker.clear_error()
        self.run_message.object, self._refused = "", False

    def _ignored(self) -> dict[str, str]:
        """:func:`~.controls.ignored_controls` of the agent the page has chosen."""
        try:
            return ignored_controls(self.base.with_updates({"agent.kind": self.widgets["agent.kind"].value}))
        except ScenarioError:  # the page offers only the kinds the base takes (agent_kinds)
            return {}

    def _show_applicable(self) -> None:
        """Disable the controls the chosen agent does not use (said why); the volume cap is set by the page with the
        volume endpoint only, otherwise it shows the starting scenario's (a cap typed for the volume endpoint stays
        while another agent greys it out)."""
        ignored = self._ignored()
        for key, widget in self.widgets.items():
            widget.disabled = key in ignored
        self.ignored.object = "" if not ignored else f"*Greyed out: {next(iter(ignored.values()))}.*"
        volume = self.widgets["procedure.max_volume_ml"]
        if self.widgets["procedure.endpoint"].value != VOLUME_ENDPOINT:
            volume.disabled = True
            volume.value = repr(float(self.base.procedure.max_volume_ml))

    async def load(self) -> None:
        """Show the starting scenario's liver and baseline DSA (building the liver the first time)."""
        try:
            async with self._scene_lock:  # a click during the first view waits for it
                await self._show_liver(self.base)
            self.verdict.object = assess_patient(self.base).to_markdown()
            self.worker.done("Ready: change a control or click an artery, then **Run**.")
            # queued behind the page's liver, not awaited: the first Run after an installation then finds the
            # kernels compiled (a Run pressed meanwhile waits for it in the same queue, as it would have compiled)
            warming = asyncio.get_running_loop().run_in_executor(EXECUTOR, compute.warm_up_kernels)
            warming.add_done_callback(lambda done: done.exception() and log.warning(
                "kernel warm-up failed (the first run compiles them): %s", done.exception()))
        except Exception as exc:  # shown on the page; the server log has the traceback
            self.worker.show_error(exc)
            self.worker.done("")

    async def _show_liver(self, scenario: Scenario) -> None:
        """The liver view and the DSA before of ``scenario``'s catheter position, before any run from there."""
        stage = "loading the liver" if self.cache.cached(scenario) else \
            "building the liver (first time for this anatomy; cached afterwards)"
        liver = await self.worker.run(stage, self.cache.get, scenario)
        self.scene = await self.worker.run("placing the catheter", compute.liver_scene, liver, scenario)
        self._scene_key = compute.scene_key(scenario)
        self.run_scene = None  # a run's particles, flows and DSA after belong to the view they were drawn on
        self.step.disabled = self.replay_button.disabled = True
        self.replay_text.object = ""
        with pn.io.unlocked():
            self.liver_figure.show_liver(self.scene)
        try:
            self.dsa = await self.worker.run("virtual DSA before", compute.angiograms, self.scene)
        except BaseException:
            self._scene_key = ""  # no DSA before for this view: the next run makes both again
            raise
        self._show_dsa()

    async def _place(self) -> None:
        """After a click placed the catheter: the liver view and the DSA before from there (a run then reuses them)."""
        async with self._scene_lock:
            try:
                scenario = self.current_scenario()
            except ScenarioError as exc:  # a bad value in another control: the view stays where it was
                self.worker.show_error(exc)
                self._refused = True
                self.worker.status.object = (f"Catheter set to **{self.widgets['catheter.vessel'].value}**; the view "
                                             "follows once the value in the red box is fixed (then click again or Run).")
                return
            self.worker.clear_error()  # every control holds a valid value now (an earlier error box is stale)
            if compute.scene_key(scenario) == self._scene_key:
                return
            try:
                await self._show_liver(scenario)
            except Exception as exc:  # shown on the page; the server log has the traceback
                self.worker.show_error(exc)
                self.worker.done("")
                return
            self.worker.done(f"Catheter placed in **{scenario.catheter.vessel}**"
                             f"{compute.vessel_words(self.scene, scenario.catheter.vessel)}: the liver view and the DSA "
                             "before are from there; press **Run**.")  # (a synthetic one's size: review 54)

    def _on_tap(self, event) -> None:
        if self.scene is None:
            return
        vessel, line = compute.clicked_vessel(self.scene, event.x, event.y,
                                             self.scene.flow.scenario.catheter.outer_diameter_fr)
        if vessel is None:
            self.worker.status.object = line
            return
        if vessel.startswith("#") and not self._same_anatomy_as_view():
            self.worker.status.object = ("The view shows the liver before your change of its anatomy, whose synthetic "
                                         "vessels are others: press **Run** to see the new liver, then click "
                                         "(named arteries can be clicked now).")
            return
        self.widgets["catheter.vessel"].value = vessel
        self.worker.status.object = f"{line}: press **Run**."
        pn.state.execute(self._place)  # the view and DSA before from there (the tip too), while the trainee reaches for Run

    def _same_anatomy_as_view(self) -> bool:
        """Whether the anatomy controls describe the liver the view shows (a synthetic vessel '#<n>' is that liver's
        node n); the other controls do not enter (a bad value in one does not matter here); False when an anatomy
        control holds a bad value (the liver it describes is unknown)."""
        from ..simulation import ANATOMY_SECTIONS
        from ..sweep_spec import anatomy_key

        try:
            anatomy = scenario_from_values(self.base, self.values(ANATOMY_SECTIONS))
            return anatomy_key(anatomy) == anatomy_key(self.scene.liver.scenario)
        except ScenarioError:
            return False

    async def _on_run(self, event=None) -> None:
        if self.worker.refused_while_busy("Run"):
            return
        self.worker.clear_error()
        try:
            scenario = self.current_scenario()
        except ScenarioError as exc:
            self.worker.show_error(exc)
            # (review 51: "Done in 3.5 s" stayed above the refusal and the last run's results)
            self.worker.status.object = ("**Not run**: fix the value in the red box" + (
                "; the results below are still the last run's." if self.simulation is not None else "."))
            self.run_message.object, self._refused = f"**Not run**: {_literal_markdown(_message(exc))}", True
            return
        self.run_message.object, self._refused = "", False
        async with self.worker.task(self.run_button):
            await self.run(scenario, volume_endpoint=self.widgets["procedure.endpoint"].value == VOLUME_ENDPOINT)

    async def run(self, scenario: Scenario, *, volume_endpoint: bool = False) -> None:
        """Run ``scenario`` and update the page: table, verdict and curve first, then the liver view, then the DSA
        (``volume_endpoint``: the page's volume endpoint chose it, stasis within ``procedure.max_volume_ml``, which
        the table's endpoint row then reads)."""
        async with self._scene_lock:  # after a catheter placement under way (its view and DSA before are then reused)
            await self._run(scenario, volume_endpoint)

    async def _run(self, scenario: Scenario, volume_endpoint: bool = False) -> None:
        started = time.perf_counter()
        stage = "running the procedure" if self.cache.cached(scenario) else \
            "building the liver (first time for this anatomy; cached afterwards), then running"
        sim = await self.worker.run(stage, compute.simulate, scenario, self.cache)
        self.simulation, self.scenario = sim, scenario
        self.table.object = outcome_table(sim.result.summary, volume_endpoint=volume_endpoint)
        self.verdict.object = sim.verdict.to_markdown()
        ts = sim.result.timeseries
        with pn.io.unlocked():
            self.curve.show(ts)
        same_scene = self.scene is not None and self._scene_key == compute.scene_key(scenario)
        if not same_scene:  # the catheter, PVT or anatomy changed: a new liver view and DSA before
            self.scene = await self.worker.run("liver view", compute.liver_scene, self.cache.get(scenario), scenario)
            self._scene_key, self.dsa = compute.scene_key(scenario), None
        with pn.io.unlocked():
            self.liver_figure.show_liver(self.scene)
        self.run_scene = await self.worker.run("liver view after the run", compute.run_scene, self.scene, sim)
        self.step.end = max(1, len(ts))
        self.step.disabled = self.replay_button.disabled = False
        self.step.value = len(ts)
        self._show_step(len(ts))
        self.dsa = await self.worker.run("virtual DSA before and after", functools.partial(
            compute.angiograms, self.scene, self.run_scene, previous=self.dsa))
        self._show_dsa()
        self.worker.done(f"Done in {time.perf_counter() - started:.1f} s (liver "
                         f"{'from the cache' if sim.liver_cached else 'built and cached'}).")

    def _show_step(self, k: int) -> None:
        """Replay state after ``k`` time-series rows: the curve so far, the particles lodged so far, the flow."""
        if self.simulation is None or self.run_scene is None:
            return
        ts = self.simulation.result.timeseries
        k = min(max(k, 0), len(ts))
        with pn.io.unlocked():
            self._draw_step(ts, k)

    def _draw_step(self, ts, k: int) -> None:
        self.curve.show(ts, upto=k)
        particles = self.run_scene.particles
        if k == 0:
            shown = 0
        else:
            shown = int((particles["particle"] <= ts["particles"].iloc[k - 1]).sum())
        self.liver_figure.show_particles(particles, upto=shown)
        final = k >= len(ts)
        rows = self.run_scene.flow_rows  # the arteries' flow at each recorded row (None: only the final one)
        if final:
            flow = self.run_scene.flow_after
        elif rows is not None and k:
            flow = rows[k - 1]
        else:
            flow = self.scene.vessels["flow"].to_numpy()
        self.liver_figure.show_flow(flow)
        if k:
            row = ts.iloc[k - 1]
            summary = self.simulation.result.summary
            oil = float(summary.get("emulsion_volume_ml", 0.0)) if k > 1 or row["suspension_volume_ml"] > 0 else 0.0
            oil = oil if oil > 0 else 0.0  # (NaN or absent: no emulsion)
            particles = summary.get("particles_injected", 1) > 0  # (none: Lipiodol alone)
            given = (f"{oil:.1f} mL of Lipiodol emulsion" + (", then " if particles else " injected") if oil else "") + (
                "" if not particles else
                f"{row['suspension_volume_ml']:.2f} mL of particle suspension injected" if row["suspension_volume_ml"] > 0
                or not oil else "no particles yet")
            self.replay_text.object = (f"{given}, antegrade flow {100 * row['antegrade_flow_fraction']:.0f}% of baseline"
                                       + (" (end: arteries coloured by their final flow)" if final and rows is None
                                          else ""))
        else:
            self.replay_text.object = "before the first particle"

    def _on_replay(self, event=None) -> None:
        if self._replay is not None:
            self._replay.stop()
        self.step.value = 0

        def advance():
            if self.step.value >= self.step.end:
                self._replay.stop()
                self._replay = None
                return
            self.step.value += 1

        self._replay = pn.state.add_periodic_callback(advance, period=120)

    def _show_dsa(self) -> None:
        if self.dsa is None or self.scene is None:
            return
        before, after = self.dsa.frames(self.phase.value)
        extent, tumours, outlines = self.scene.extent, self.scene.tumours, self.scene.outlines
        with pn.io.unlocked():
            self.dsa_before.show(before, extent, tumours, outlines=outlines)
            self.dsa_after.show(after, extent, tumours, outlines=outlines, empty="run to see the DSA after")

    def toml(self) -> str:
        """The last run's scenario (the starting one before any run) as TOML that ``embosim run`` reproduces."""
        changed = changes(self.base, self.scenario)
        header = (f"Scenario from the embosim {__version__} explorer ('embosim explore').\n"
                  "Reproduce the run with: embosim run THIS_FILE.toml\n"
                  f"Started from: {self.base.title}\n"
                  + ("Changed on the page:\n" + "\n".join(f"  {line}" for line in changed) if changed
                     else "Not changed on the page"))
        scenario = self.scenario
        if changed:  # the file's own title and description say what it runs (review 12: report.md opened with the
            # starting scenario's "selective 100-300 um" over a lobar 300-500 um run)
            scenario = scenario.with_updates({
                "title": f"{self.base.title}, changed in the explorer",
                "description": f"Changed in the embosim explorer from '{self.base.title}': {'; '.join(changed)}."})
        return scenario_to_toml(scenario, header=header)

    def _scenario_file(self):
        return io.StringIO(self.toml())


def serve(scenario: Scenario | str | None = None, *, port: int = 0, address: str = "127.0.0.1", show: bool = True,
          threaded: bool = False, overrides: dict[str, Any] | None = None, cache: LiverCache | None = None,
          case_folders: Sequence[str | Path] = ()):
    """Serve the explorer on ``address:port`` (one :class:`Explorer` per browser session).

    Parameters
    ----------
    scenario : Scenario, str or Path, optional
    port : int
        0 picks a free port.
    address : str
        Interface to bind; 127.0.0.1 keeps the page on this machine.
    show : bool
        Open the browser.
    threaded : bool
        Serve from a background thread and return it (``.stop()`` ends it); else block.
    overrides, cache, case_folders :
        As for :class:`Explorer` (one cache shared by the sessions).
    """
    cache = cache or LiverCache()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(resolve_scenario(scenario))

    def page():
        return Explorer(scenario, cache=cache, overrides=overrides, case_folders=case_folders).panel

    port = free_port(address, port)
    origin = list(dict.fromkeys([f"{address}:{port}", f"127.0.0.1:{port}", f"localhost:{port}"])) \
        if is_local_address(address) else "*"
    return pn.serve({"/": page}, port=port, address=address, show=show, threaded=threaded, title="embosim explorer",
                    websocket_origin=origin, verbose=False)


def free_port(address: str = "127.0.0.1", port: int = 0) -> int:
    """``port`` if it can be bound on ``address`` now, else OSError; with ``port`` 0 a free port (the OS's choice).

    ``address``: an IPv4 address or a host name (socket.gaierror, an OSError, if it does not resolve). IPv6
    addresses are refused (ValueError): the page's server (Bokeh) checks websocket origins as ``host:port``;
    so is an empty one (every interface, unnamed).
    """
    import socket

    if ":" in address:
        raise ValueError("an IPv6 address cannot serve the page (Bokeh checks origins as host:port); "
                         "use 127.0.0.1, localhost or an IPv4 interface")
    if not address.strip():
        raise ValueError("an empty address binds every interface; name one (0.0.0.0 for all of them, with the warning)")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a closing socket is no obstacle
        probe.bind((address, port))
        return probe.getsockname()[1]


def page_url(address: str, port: int) -> str:
    """The page's URL on ``address:port`` (``localhost`` as 127.0.0.1)."""
    return f"http://{'127.0.0.1' if address == 'localhost' else address}:{port}/"
