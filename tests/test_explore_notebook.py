"""The explorer inside a real Jupyter kernel (issue 18: "the same app object works inside Jupyter").

A notebook is executed by nbclient in an ipykernel subprocess, as Jupyter runs one: the
``Explorer`` object is a cell's last expression, so the notebook shows it through its
``_repr_mimebundle_`` (Panel's page: HTML and the Bokeh document to execute), then a cell
awaits its load and a run on the kernel's event loop, as the page's buttons do.
"""

from __future__ import annotations

import json

import nbformat
from nbclient import NotebookClient

CELLS = [
    "import panel as pn\npn.extension()",
    "import pathlib\nfrom sim.explore import Explorer\nfrom sim.explore.cache import LiverCache\n"
    "app = Explorer(overrides={'liver.terminal_diameter_um': 300.0}, cache=LiverCache(pathlib.Path({cache!r})))\n"
    "app",
    "await app.load()\nawait app.run(app.current_scenario())\n"
    "print(app.scene is not None, app.simulation.result.summary['particles_injected'], len(app.table.object))",
]


def test_explorer_displays_and_runs_in_a_jupyter_kernel(tmp_path):
    cells = [CELLS[0], CELLS[1].replace("{cache!r}", repr(str(tmp_path / "cache"))), CELLS[2]]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()

    shown = [o for o in nb.cells[1].outputs if o.output_type == "execute_result"]
    assert len(shown) == 1, "the Explorer, a cell's last expression, is displayed"
    data = shown[0]["data"]
    assert "application/vnd.holoviews_exec.v0+json" in data and "text/html" in data, sorted(data)
    assert "embosim-run" in json.dumps(data), "the page (its Run button) is in the displayed document"

    printed = "".join(o.get("text", "") for o in nb.cells[2].outputs if o.output_type == "stream" and o.name == "stdout")
    has_scene, particles, table_rows = printed.split()
    assert has_scene == "True", "the liver view was built in the kernel"
    assert int(particles) > 0, "the run injected particles"
    assert int(table_rows) > 0, "the outcome table was filled"
