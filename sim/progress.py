"""Progress bars: tqdm's notebook widget in Jupyter when it can draw one, its text bar otherwise.

``tqdm.auto`` picks the notebook widget whenever IPython runs a kernel; without ipywidgets that widget
cannot be drawn and tqdm warns "IProgress not found" on every bar (review 23). ipywidgets is not an
embosim dependency, so without it the text bar is used, which Jupyter shows as cell output.
"""

from __future__ import annotations

import importlib.util

__all__ = ["progress_bar"]


def progress_bar(*args, **kwargs):
    """A tqdm bar (``tqdm.auto.tqdm``'s arguments): the notebook widget only where ipywidgets is installed."""
    if importlib.util.find_spec("ipywidgets") is None:
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm(*args, **kwargs)
