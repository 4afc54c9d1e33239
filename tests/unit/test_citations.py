"""Comments and docstrings cite files inside the repository: no document outside it, and every
section of docs/wire-notes.md they name exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("shared", "functions", "sandbox", "tests", "bench", "docs", "infra")
TOP_LEVEL = ("function_app.py", "README.md", "Makefile", "pyproject.toml")
SUFFIXES = {".py", ".md", ".bicep", ".tf", ".yaml", ".js", ".html", ".css"}
# Documents that lived outside the repository (the design notes and the vendor fact sheet).
OUTSIDE = re.compile(r"DESIGN(\.md)? ?§|api-facts|/work/shared|\.\./shared/")
WIRE_CITE = re.compile(r"docs/wire-notes\.md:? ((?:[CDI]\d+(?:-[CDI]\d+)?(?:, | and |/)?)+)")
LABEL = re.compile(r"([CDI])(\d+)")
DOC_CITE = re.compile(r"\bdocs/[\w-]+\.md\b")


def _files() -> list[Path]:
    files = [ROOT / name for name in TOP_LEVEL]
    for folder in SCANNED:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    return [f for f in files if f != Path(__file__).resolve()]


def _labels() -> set[str]:
    text = (ROOT / "docs" / "wire-notes.md").read_text()
    return set(re.findall(r"^### ([CDI]\d+) ", text, flags=re.MULTILINE))


def cited_labels(text: str) -> set[str]:
    """Every wire-notes label a text cites, ranges ("C1-C8") expanded."""
    labels: set[str] = set()
    for match in WIRE_CITE.finditer(text):
        for part in re.split(r", | and |/", match.group(1)):
            ends = LABEL.findall(part)
            if len(ends) == 2 and ends[0][0] == ends[1][0]:
                first, last = int(ends[0][1]), int(ends[1][1])
                labels |= {f"{ends[0][0]}{n}" for n in range(first, last + 1)}
            else:
                labels |= {f"{kind}{n}" for kind, n in ends}
    return labels


def test_nothing_cites_a_document_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not found, "cite a file inside the repository instead:\n" + "\n".join(found)


def test_every_cited_wire_note_exists() -> None:
    labels = _labels()
    assert {"C1", "I1", "D1"} <= labels
    missing = {
        f"{path.relative_to(ROOT)}: {label}"
        for path in _files()
        for label in cited_labels(path.read_text(errors="replace"))
        if label not in labels
    }
    assert not missing, f"docs/wire-notes.md has no section for {sorted(missing)}"


def test_every_cited_doc_exists() -> None:
    missing = {
        f"{path.relative_to(ROOT)}: {cited}"
        for path in _files()
        for cited in DOC_CITE.findall(path.read_text(errors="replace"))
        if not (ROOT / cited).is_file()
    }
    assert not missing, f"cited documents that do not exist: {sorted(missing)}"


def test_ranges_and_lists_of_labels_are_read() -> None:
    text = "see docs/wire-notes.md D1-D3, D6 and docs/wire-notes.md I1 and I3"
    assert cited_labels(text) == {"D1", "D2", "D3", "D6", "I1", "I3"}
