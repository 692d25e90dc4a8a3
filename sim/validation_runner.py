"""Find the repository's validation suite for ``embosim validate``.

The validation cases are the top-level ``validation/`` package of the embosim
repository (one module per case, ``validation/runner.py`` runs them; see
``docs/validation.md``). They compare the model with analytic results and the
literature, import ``sim`` like any user code would, and are not installed with
the ``sim`` package (a top-level package named ``validation`` must not land in
site-packages). They are found next to the ``sim`` package directory, which is
where they are in a source checkout and in an editable install
(``pip install -e .``).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["ValidationSuiteNotFound", "load_runner", "REPOSITORY_ROOT"]

#: The folder holding the ``sim`` package: the repository root in a checkout or an editable install.
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


class ValidationSuiteNotFound(RuntimeError):
    """The ``validation`` package is not next to ``sim`` (an installed wheel, not a checkout)."""


def load_runner() -> ModuleType:
    """Import ``validation.runner`` from the repository that holds this ``sim`` package.

    Returns
    -------
    module
        ``validation.runner`` (:func:`run_all`, :func:`format_table`).

    Raises
    ------
    ValidationSuiteNotFound
        No ``validation/runner.py`` beside the ``sim`` package, or another
        ``validation`` package shadows it.
    """
    runner = REPOSITORY_ROOT / "validation" / "runner.py"
    if not runner.is_file():
        raise ValidationSuiteNotFound(
            f"the validation suite is not installed with sim (looked for {runner}); run 'embosim validate' from an "
            "editable install of the embosim repository (pip install -e <checkout>)")
    if str(REPOSITORY_ROOT) not in sys.path:
        sys.path.insert(0, str(REPOSITORY_ROOT))
    module = importlib.import_module("validation.runner")
    if Path(module.__file__).resolve() != runner.resolve():
        raise ValidationSuiteNotFound(f"another 'validation' package ({module.__file__}) shadows {runner}")
    return module
