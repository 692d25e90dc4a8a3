"""Validation cases: embosim against analytic results and published numbers.

Each case module computes its quantities with embosim, compares them with a value
from ``../shared/REFERENCES.md`` (cited in the module) and returns a list of
:class:`CaseResult`; figures and tables go to an output folder.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CaseResult"]


@dataclass(frozen=True)
class CaseResult:
    """One comparison of an embosim value with a reference.

    Attributes
    ----------
    name : str
        What is compared (with its unit).
    embosim : float
        The model's value.
    reference : str
        The published or derived value, with its source.
    tolerance : str
        What counts as agreement.
    passed : bool
    note : str
        Why the model disagrees, or what the comparison does and does not show.
    """

    name: str
    embosim: float
    reference: str
    tolerance: str
    passed: bool
    note: str = ""
