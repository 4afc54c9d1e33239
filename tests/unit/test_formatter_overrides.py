"""The formatter decides the layout: no Python file overrides it line by line (there were 824
such markers before), and whole-block overrides stay a handful, each with its reason."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Spelled in two parts so this file does not count itself.
LINE_OVERRIDE = "fmt: " + "skip"
BLOCK_OVERRIDE = "fmt: " + "off"


def python_sources() -> dict[str, str]:
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {name: (ROOT / name).read_text(encoding="utf-8") for name in tracked}


def test_no_line_overrides_the_formatter() -> None:
    assert [name for name, text in python_sources().items() if LINE_OVERRIDE in text] == []


def test_block_overrides_are_a_handful() -> None:
    blocks = sum(text.count(BLOCK_OVERRIDE) for text in python_sources().values())
    assert blocks <= 5
