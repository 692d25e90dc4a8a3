"""The bibliography of embosim: ``sim/references.bib`` and the citation syntax.

Every number embosim takes from the literature cites a key of ``sim/references.bib``
as ``[Key]`` (e.g. ``[Carlisle1992]``) in code, docs, scenario ``source`` fields and
validation cases. A key is one word of letters and digits that starts with a capital
and has a digit (``Pries1994``, ``ICRP89``) or at least two capitals and a lower-case
letter (``SeedDeckUHS``, ``TextbookAnatomy``), so that ``[Key]`` is not mistaken for a
metavariable (``[SCENARIO]``), a type (``list[Path]``) or a Markdown link; text in
inline code (backticks) is never a citation.
"Derived" entries give the inputs they were derived from; "unverified" ones say so in
their ``note``.

``docs/references.md`` is generated from the bib::

    python -m sim.references            # rewrite docs/references.md
    python -m sim.references --check    # exit 1 if it is out of date

The parser reads the subset of BibTeX the file uses (``@type{key, field = {value},
...}``, braces nested, ``%`` comment lines) with the standard library only.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

__all__ = ["Entry", "CITATION", "parse_bib", "load_bibliography", "citations_in", "render_markdown", "main"]

#: A citation in text: ``[Key]`` not followed by ``(`` (a Markdown link).
CITATION = re.compile(r"\[([A-Z][A-Za-z0-9]*)\](?!\()")

_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,")
_FIELD = re.compile(r"\s*(\w+)\s*=\s*")


@dataclass(frozen=True)
class Entry:
    """One bibliography entry: its type (``article``, ``misc``, ...), key and fields (lower-case names)."""

    kind: str
    key: str
    fields: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        """A field's value without braces, or ``default``."""
        return self.fields.get(name, default)


def is_key(token: str) -> bool:
    """Whether a bracketed token is a citation key by the syntax (a digit, or two capitals and a lower case)."""
    if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", token):
        return False
    if any(c.isdigit() for c in token):
        return True
    return sum(c.isupper() for c in token) >= 2 and any(c.islower() for c in token)


#: Inline code (``code`` or `code`): never a citation.
_CODE_SPAN = re.compile(r"``[^`]*``|`[^`\n]*`")


def citations_in(text: str) -> list[str]:
    """The citation keys ``[Key]`` in ``text`` outside inline code, in order of appearance (repeats kept)."""
    return [m.group(1) for m in CITATION.finditer(_CODE_SPAN.sub(" ", text)) if is_key(m.group(1))]


def _braced(text: str, start: int) -> tuple[str, int]:
    """The content of the brace group opening at ``text[start]`` and the index after it."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    raise ValueError(f"unbalanced braces from offset {start}")


def parse_bib(text: str) -> dict[str, Entry]:
    """Entries of a BibTeX text by key.

    Raises
    ------
    ValueError
        Unbalanced braces, a field value that is not braced or a number, a key defined twice, or
        text outside any entry (e.g. the rest of an entry left behind by a bad merge).
    """
    text = "\n".join("" if line.lstrip().startswith("%") else line for line in text.splitlines())
    entries: dict[str, Entry] = {}
    pos = 0
    while (m := _ENTRY.search(text, pos)) is not None:
        if text[pos:m.start()].strip():
            raise ValueError(f"text outside any entry before @{m.group(1)}{{{m.group(2)}: "
                             f"{text[pos:m.start()].strip()[:60]!r}")
        kind, key = m.group(1).lower(), m.group(2)
        body, pos = _braced(text, text.index("{", m.start()))
        fields: dict[str, str] = {}
        i = body.index(",") + 1
        while (f := _FIELD.match(body, i)) is not None:
            name, j = f.group(1).lower(), f.end()
            if j < len(body) and body[j] == "{":
                value, i = _braced(body, j)
            else:
                v = re.match(r"[0-9]+", body[j:])
                if v is None:
                    raise ValueError(f"{key}: field {name!r} is neither braced nor a number")
                value, i = v.group(0), j + v.end()
            fields[name] = " ".join(value.replace("{", "").replace("}", "").split())
            i = body.find(",", i) + 1 if body.find(",", i) >= 0 else len(body)
        if key in entries:
            raise ValueError(f"citation key {key!r} defined twice")
        entries[key] = Entry(kind, key, fields)
    if text[pos:].strip():
        raise ValueError(f"text outside any entry at the end: {text[pos:].strip()[:60]!r}")
    return entries


def bib_path() -> Path:
    """``sim/references.bib`` (installed with the package)."""
    return Path(str(resources.files("sim") / "references.bib"))


def load_bibliography() -> dict[str, Entry]:
    """The entries of ``sim/references.bib`` by key."""
    return parse_bib(bib_path().read_text(encoding="utf-8"))


def _format(entry: Entry) -> str:
    """One Markdown list item for an entry."""
    parts = []
    if author := entry.get("author"):
        parts.append(author.rstrip(".") + ".")
    title = entry.get("title")
    parts.append(f"*{title}*." if title else "")
    venue = entry.get("journal") or entry.get("publisher") or entry.get("howpublished")
    detail = ", ".join(x for x in (venue, entry.get("series"), entry.get("year")) if x)
    if entry.get("volume"):
        detail += f";{entry.get('volume')}"
    if entry.get("pages"):
        detail += f":{entry.get('pages').replace('--', '-')}"
    if detail:
        parts.append(detail + ".")
    for name, label in (("doi", "doi:"), ("pmid", "PMID "), ("url", "")):
        if entry.get(name):
            parts.append(f"{label}{entry.get(name)}.")
    if entry.get("note"):
        parts.append(f"Note: {entry.get('note')}")
    return f"- **[{entry.key}]** " + " ".join(p for p in parts if p)


def render_markdown(entries: dict[str, Entry]) -> str:
    """``docs/references.md``: every entry, sorted by key."""
    lines = ["# References", "",
             "Generated from `sim/references.bib` by `python -m sim.references`; do not edit by hand.",
             "Code, docs, scenario `source` fields and the validation cases cite these as `[Key]`.",
             '"Derived" entries name the inputs they were computed from; "unverified" marks a commonly',
             "quoted value not confirmed in a primary source (a default or sweep range, never a tight",
             'tolerance); "(abstract)" means the number was read in the abstract.', ""]
    lines += [_format(entries[key]) for key in sorted(entries, key=str.lower)]
    return "\n".join(lines) + "\n"


def docs_path() -> Path:
    """``docs/references.md`` of the source checkout (an installed package's own copy, ``sim/docs``)."""
    from .catalogue import docs_dir

    return docs_dir() / "references.md"


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.references [--check] [--out FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m sim.references", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    parser.add_argument("--out", type=Path, default=None, help="file to write (default: docs/references.md)")
    args = parser.parse_args(argv)
    from .catalogue import installed_docs_dir
    from .io import update_generated

    return update_generated(Path(args.out or docs_path()), render_markdown(load_bibliography()), check=args.check,
                            command="python -m sim.references",
                            installed=args.out is None and installed_docs_dir() is not None)


if __name__ == "__main__":
    raise SystemExit(main())
