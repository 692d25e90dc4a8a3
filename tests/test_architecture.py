"""docs/architecture.md (with docs/flow.md and docs/anatomy.md, which it defers to) names every module of sim."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("architecture.md", "flow.md", "anatomy.md")


def test_every_module_is_named_in_the_architecture_docs():
    """Review 45: sim/flow/errors.py was named nowhere. A module counts as named by its path (``sim/flow/errors.py``),
    its file name in backticks (``errors.py``) or, in its package's row, its name in backticks (``controls``)."""
    text = "\n".join((ROOT / "docs" / name).read_text(encoding="utf-8") for name in DOCS)
    missing = []
    for path in sorted((ROOT / "sim").rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        rel = path.relative_to(ROOT).as_posix()
        if rel in text or f"`{path.name}`" in text or f"`{path.stem}`" in text:
            continue
        missing.append(rel)
    assert not missing, f"modules docs/architecture.md does not name: {missing}"
