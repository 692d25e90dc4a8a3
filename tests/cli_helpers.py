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


def assert_run_refused(invoke, path: Path, out: Path, key_prefix: str, words: str) -> None:
    """``embosim run path --out out`` exits 2 with one stderr line naming the file, the key (starting with
    ``key_prefix``) and ``words``, before writing anything."""
    result = invoke("run", path, "--out", out, "--quiet")
    lines = result.stderr.splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"embosim: error: {path}: {key_prefix}") and words in lines[0], lines[0]
    assert not out.exists()
