"""Errors of the flow solvers."""

from __future__ import annotations

__all__ = ["FlowInputError"]


class FlowInputError(ValueError):
    """A network the flow solver cannot solve as given: the message names the element and what is allowed.

    Examples: no pressure boundary, a connected part without one, a missing or
    non-positive radius or length, a negative conductance, an injection into a
    part cut off from every boundary.
    """
