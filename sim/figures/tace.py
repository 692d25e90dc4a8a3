"""TACE figures (a matplotlib leaf of sim.figures; the core never imports it): the drug over time.

:func:`drug_figure` draws, from a session's summary (docs/outputs.md, drug keys), the
plasma doxorubicin curve (:func:`sim.pharmacokinetics.plasma_curve`) and the drug
still held by the carriers in the tumour and in normal liver, over 60 days.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["drug_figure"]


def drug_figure(summaries: dict[str, dict], path: str | Path, *, dpi: int = 100) -> Path:
    """Plasma doxorubicin and drug held in tissue against time, one line per labelled summary; written to ``path``.

    Raises
    ------
    ValueError
        A summary without drug keys (a bland session).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_write
    from ..pharmacokinetics import TIME_GRID_H, plasma_curve, summary_releases

    t = TIME_GRID_H[1:]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for label, s in summaries.items():
        if "drug_delivered_mg" not in s:
            raise ValueError(f"{label!r} carries no drug (no drug_delivered_mg in its summary)")
        line, = a.loglog(t, 1e3 * plasma_curve(summary_releases(s), t), label=label)
        held = np.exp(-np.log(2.0) * t / s["drug_release_half_life_h"])
        b.semilogx(t, s["drug_tumour_mg"] * held, color=line.get_color(), label=f"{label}: tumour")
        b.semilogx(t, s["drug_normal_mg"] * held, color=line.get_color(), ls="--", label=f"{label}: normal liver")
    a.set_ylim(1e-2, 1e4)
    a.set_xlabel("time after injection, h")
    a.set_ylabel("plasma doxorubicin, ng/mL")
    a.legend(fontsize=8)
    b.set_xlabel("time after injection, h")
    b.set_ylabel("doxorubicin held by the carriers, mg")
    b.legend(fontsize=8)
    fig.suptitle("TACE doxorubicin: plasma and tissue (sim.pharmacokinetics)", fontsize=10)
    path = Path(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return path
