"""Blood viscosity: embosim's Pries in vivo law against its check values ([Pries1994], derived).

Pries et al., Circ Res 1994;75:904, in vivo viscosity law, as implemented in
:mod:`sim.kernels.rheology` (the kernel every vessel conductance uses). The check
values of the relative apparent viscosity at discharge haematocrit 0.45 are derived
from the published equations of [Pries1994] and given to two decimals, so the
tolerance is half a unit of the last decimal. Large vessels: whole blood in large
arteries has 3.5-4 mPa s ([TextbookPhysiology]), which the law times the plasma
viscosity (1.2 mPa s, [Pries1994]) must reach: a check of two inputs' product, not a
simulation (labelled so since review 13).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.rheology import DEFAULT_PLASMA_VISCOSITY_PA_S, apparent_viscosity, relative_viscosity

from . import CaseResult, module_main, new_figure, publish, range_case

__all__ = ["CHECK_VALUES", "run"]

#: Derived from [Pries1994]: diameter (um) -> relative viscosity at H_D = 0.45.
CHECK_VALUES = {10.0: 5.87, 20.0: 3.23, 50.0: 2.28, 100.0: 2.53, 200.0: 2.86, 1000.0: 3.20}
#: Half a unit of the check values' last decimal.
TOLERANCE = 0.005
#: Proper hepatic artery diameter for the large-vessel value, m ([TextbookAnatomy]).
LARGE_VESSEL_M = 4.5e-3


def run(out_dir: str | Path, *, fast: bool = False) -> list[CaseResult]:
    """Evaluate the law at the check diameters (the case interface of :mod:`validation`; ``fast`` changes nothing)."""
    diameters = np.array(list(CHECK_VALUES))
    ours = relative_viscosity(diameters * 1e-6)
    results = [CaseResult(f"Pries relative viscosity at {d:g} um, H_D 0.45", float(v),
                          f"{ref:.2f} ([Pries1994], derived)", f"+/- {TOLERANCE:g}",
                          abs(v - ref) <= TOLERANCE, role="check")
               for d, v, ref in zip(diameters, ours, CHECK_VALUES.values())]
    large = float(apparent_viscosity(LARGE_VESSEL_M)[()] * 1e3)
    results.append(range_case(f"apparent viscosity in a {LARGE_VESSEL_M * 1e3:g} mm artery, mPa s", large, 3.5, 4.0,
                              "whole blood in large arteries, [TextbookPhysiology]",
                              f"plasma viscosity {DEFAULT_PLASMA_VISCOSITY_PA_S * 1e3:g} mPa s ([Pries1994]) x the "
                              "law's large-diameter limit: two published inputs multiplied, no simulation",
                              role="check"))
    fig, ax = new_figure(1, 1, size=(6, 4))
    d = np.geomspace(4e-6, 5e-3, 300)
    for h in (0.3, 0.45, 0.6):
        ax[0, 0].semilogx(d * 1e6, relative_viscosity(d, h), label=f"embosim, H_D {h:g}")
    ax[0, 0].plot(diameters, list(CHECK_VALUES.values()), "ks", mfc="none", label="check values (H_D 0.45)")
    ax[0, 0].set_xlabel("vessel diameter, um")
    ax[0, 0].set_ylabel("relative apparent viscosity")
    ax[0, 0].set_ylim(0, 12)
    ax[0, 0].legend(fontsize=8)
    return publish(fig, results, out_dir, "viscosity", "Pries 1994 in vivo viscosity law")


if __name__ == "__main__":
    raise SystemExit(module_main(run, __doc__.splitlines()[0], "viscosity"))
