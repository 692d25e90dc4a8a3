"""Values kept for as long as an object lives: one dictionary per object, keyed by identity.

For derived data that depends only on large immutable inputs (a compiled liver, its tissue
points) and is reused by later work on the same object: the flow model's calibration
(:mod:`sim.flow.calibrated`), the DSA's projection of the tissue (:mod:`sim.angiography`), the tumour
share of lodgings (:func:`sim.outcomes.tumour_share_of_lodgings`), the flow state's topology
(:mod:`sim.flow.state`) and what a run derives from the pedicle forest alone (:mod:`sim.procedure`).
The objects need not be hashable (dataclasses holding arrays are not); the dictionary is
dropped when the object is collected, before its id can be reused.
"""

from __future__ import annotations

import threading
import weakref

__all__ = ["kept_for", "LOCK"]

_KEPT: dict[int, dict] = {}
#: Guards the dictionaries (the explorer works in a thread beside the page's).
LOCK = threading.RLock()


def kept_for(owner) -> dict:
    """The dictionary kept for ``owner`` (empty the first time), alive as long as ``owner`` is."""
    with LOCK:
        kept = _KEPT.get(id(owner))
        if kept is None:
            kept = _KEPT[id(owner)] = {}
            weakref.finalize(owner, _KEPT.pop, id(owner), None)
        return kept
