"""Progress bars in Jupyter without ipywidgets: the text bar, no "IProgress not found" warning (review 23)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

#: A Jupyter kernel as tqdm.autonotebook recognises one (ipykernel's shell module loaded), without ipywidgets.
FAKE_KERNEL = textwrap.dedent("""
    import sys, types, warnings
    sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
    sys.modules["ipywidgets"] = None  # not installed
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: type("ZMQInteractiveShell", (), {})()
    sys.modules["IPython"] = ipython
    warnings.simplefilter("always")  # (an error would be swallowed: tqdm.autonotebook catches any exception)
""")


def _in_fake_kernel(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", FAKE_KERNEL + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_tqdm_auto_warns_in_a_kernel_without_ipywidgets():
    """The control: the fake kernel is one tqdm.auto takes for Jupyter, and it warns there."""
    out = _in_fake_kernel("from tqdm.auto import tqdm\n")
    assert out.returncode == 0 and "IProgress not found" in out.stderr


@pytest.mark.parametrize("code", [
    "from sim.progress import progress_bar\nbar = progress_bar(total=3, desc='x')\nbar.update(3)\nbar.close()\n"
    "import tqdm.std\nassert type(bar) is tqdm.std.tqdm\n",
    "import sim\nsim.build_liver(sim.load_scenario(None).with_updates({'liver.terminal_diameter_um': 600.0}))\n",
    "import sim.sweeps, sim.strategies, sim.procedure, sim.sweep_spec\n",  # none of them imports tqdm.auto
])
def test_embosim_bars_do_not_warn_in_a_kernel_without_ipywidgets(code):
    out = _in_fake_kernel(code)
    assert out.returncode == 0, out.stderr
    assert "IProgress" not in out.stderr
