"""Find the validation suite for ``embosim validate``.

The validation cases live in the repository's top-level ``validation/`` folder
(one module per case, ``validation/runner.py`` runs them; see
``docs/validation.md``) and install as the subpackage ``sim.validation``:
``pyproject.toml`` maps ``sim.validation`` to ``validation/`` (setuptools
``package-dir``), so a wheel carries them inside ``sim`` and an editable install
resolves ``sim.validation`` to the checkout's ``validation/``. No top-level
``validation`` package is installed, and nothing is added to ``sys.path``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["ValidationSuiteNotFound", "load_runner", "RUNNER_MODULE"]

#: The module that runs the suite (:func:`run_all`, :func:`format_table`).
RUNNER_MODULE = "sim.validation.runner"


class ValidationSuiteNotFound(RuntimeError):
    """``sim.validation`` cannot be imported (e.g. ``sim`` imported from a checkout that is not installed)."""


def load_runner() -> ModuleType:
    """Import ``sim.validation.runner``.

    Returns
    -------
    module
        ``sim.validation.runner`` (:func:`run_all`, :func:`format_table`).

    Raises
    ------
    ValidationSuiteNotFound
        ``sim.validation`` is not installed: ``sim`` was imported from a source tree
        without ``pip install`` (the ``sim.validation`` -> ``validation/`` mapping
        exists only in an installed package, wheel or editable).
    """
    try:
        return importlib.import_module(RUNNER_MODULE)
    except ModuleNotFoundError as exc:
        package = RUNNER_MODULE.rpartition(".")[0]
        if exc.name not in (package, RUNNER_MODULE):
            raise
        raise ValidationSuiteNotFound(
            f"the validation suite is not installed ({package} not found); install embosim with pip "
            "(pip install embosim-*.whl, or pip install -e <checkout> for a source checkout)") from None
