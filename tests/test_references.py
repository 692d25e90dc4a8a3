"""Citations (issue 14): every ``[Key]`` in code, docs, scenarios and validation resolves in sim/references.bib.

The syntax is defined in :mod:`sim.references`. In Python files only strings and
comments are scanned (so that a type such as ``list[CaseResult]`` is not a citation);
Markdown, TOML and the bib itself are scanned whole.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from sim import references
from sim.references import citations_in, load_bibliography, parse_bib, render_markdown

ROOT = Path(__file__).resolve().parent.parent
#: Folders and files whose text may cite.
SCANNED = ["sim", "docs", "scenarios", "validation", "tests", "benchmarks", "scripts", "README.md"]
#: Notes outside the repository, which users do not have: never to be named in it.
FORBIDDEN_NAMES = ["REFERENCES" + ".md", "DESIGN" + ".md", "STYLE" + ".md"]
SHARED = "../" + "shared/"

_TEXT_TOKENS = {tokenize.STRING, tokenize.COMMENT} | (
    {tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE") else set())


def _files(suffixes: tuple[str, ...]) -> list[Path]:
    out = []
    for name in SCANNED:
        path = ROOT / name
        candidates = [path] if path.is_file() else path.rglob("*")
        out += [p for p in candidates if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts]
    return sorted(out)


def _citable_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return text
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return "\n".join(tok.string for tok in tokens if tok.type in _TEXT_TOKENS)


def test_parser_reads_fields_nested_braces_and_numbers():
    entries = parse_bib("% comment {\n@article{Key2001,\n  title = {A {B} c}, year = 2001,\n"
                        "  note = {x, y}}\n@misc{OtherKey, title = {t}}")
    assert entries["Key2001"].fields == {"title": "A B c", "year": "2001", "note": "x, y"}
    assert entries["Key2001"].kind == "article" and set(entries) == {"Key2001", "OtherKey"}
    with pytest.raises(ValueError, match="twice"):
        parse_bib("@misc{A1, title={x}}\n@misc{A1, title={y}}")
    with pytest.raises(ValueError, match="outside any entry"):
        parse_bib("@misc{A1, title={x}}\n  journal = {J}, year = {1986}}\n@misc{B2, title={y}}")


def test_citation_syntax():
    assert citations_in("see [Carlisle1992]; [SeedDeckUHS], [ICRP89]") == ["Carlisle1992", "SeedDeckUHS", "ICRP89"]
    assert citations_in("embosim run [SCENARIO]; list[Path]; [docs](x.md); [Key2001](url); [tumours]") == []


def test_every_bib_key_follows_the_syntax_and_has_a_title():
    bib = load_bibliography()
    assert len(bib) >= 50
    for key, entry in bib.items():
        assert citations_in(f"[{key}]") == [key], key
        assert entry.get("title"), key


def test_every_citation_resolves():
    bib = load_bibliography()
    missing = []
    for path in _files((".py", ".md", ".toml", ".bib")):
        for key in citations_in(_citable_text(path)):
            if key not in bib:
                missing.append(f"{path.relative_to(ROOT)}: [{key}]")
    assert not missing, "citation keys not in sim/references.bib:\n" + "\n".join(sorted(set(missing)))


def test_every_bib_entry_is_cited():
    """The other direction (review 45): every entry of sim/references.bib is cited somewhere but in the bib and the
    page generated from it, so that docs/references.md lists the sources embosim uses, not eight it never cites."""
    generated = {references.bib_path().resolve(), references.docs_path().resolve()}
    cited = set()
    for path in _files((".py", ".md", ".toml")):
        if path.resolve() not in generated:
            cited.update(citations_in(_citable_text(path)))
    uncited = sorted(set(load_bibliography()) - cited)
    assert not uncited, f"entries of sim/references.bib never cited: {uncited}"


def _param_sources(model, prefix=""):
    """(key, source) of every scenario parameter, walking nested section models."""
    from typing import get_args

    from pydantic import BaseModel

    for name, field in model.model_fields.items():
        extra = field.json_schema_extra or {}
        if "source" in extra:
            yield prefix + name, extra["source"]
        for candidate in (field.annotation, *get_args(field.annotation)):
            for inner in (candidate, *get_args(candidate)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    yield from _param_sources(inner, f"{prefix}{name}.")


def test_scenario_parameter_sources_cite_a_key_or_say_model_assumption():
    from sim.scenario import Scenario

    sources = dict(_param_sources(Scenario))
    assert len(sources) > 40
    bare = {k: s for k, s in sources.items()
            if s not in ("-", "") and not citations_in(s) and "model assumption" not in s}
    assert not bare, bare


def test_no_file_names_notes_outside_the_repository():
    """No tracked file mentions the notes users do not have (the citations moved into the bib)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    offenders = []
    for name in listed.stdout.splitlines():
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{name}: {n}" for n in FORBIDDEN_NAMES if n in text]
        offenders += [f"{name}: {SHARED}" for _ in [0] if SHARED in text]
    assert not offenders, "\n".join(offenders)


def test_docs_references_md_is_up_to_date():
    expected = render_markdown(load_bibliography())
    assert (ROOT / "docs" / "references.md").read_text(encoding="utf-8") == expected, (
        "docs/references.md is out of date: run python -m sim.references")
    assert references.main(["--check"]) == 0


def test_check_mode_fails_on_drift(tmp_path):
    out = tmp_path / "references.md"
    out.write_text("stale\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "sim.references", "--check", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "out of date" in proc.stderr


def test_generators_check_an_installed_packages_pages_and_refuse_to_write_them(tmp_path, monkeypatch, capsys):
    """Review 19: from a wheel, --check compared against a site-packages/docs that does not exist ("out of date")
    and writing ended in a traceback; an installed package checks its own sim/docs and writes only with --out."""
    import shutil

    from sim import catalogue, references, scenario_doc

    shipped = tmp_path / "sim_docs"
    shipped.mkdir()
    for page in ("references.md", "scenario-reference.md"):
        shutil.copy(catalogue.docs_dir() / page, shipped / page)
    monkeypatch.setattr(catalogue, "installed_docs_dir", lambda: shipped)
    monkeypatch.setattr(catalogue, "docs_dir", lambda: shipped)
    for module in (references, scenario_doc):
        assert module.main(["--check"]) == 0
        assert module.main([]) == 2
        assert "--out FILE" in capsys.readouterr().err
        out = tmp_path / f"{module.__name__}.md"
        assert module.main(["--out", str(out)]) == 0 and out.exists()
