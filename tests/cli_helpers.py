"""Helpers the command-line tests share (imported by them; not a test module)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def console_script() -> str:
    """Path of the installed ``embosim`` console script (beside this interpreter, else on PATH)."""
    script = Path(sys.executable).parent / "embosim"
    found = str(script) if script.exists() else shutil.which("embosim")
    assert found, "the embosim console script is not installed (pip install -e .)"
    return found
