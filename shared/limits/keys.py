"""Table keys for the shared limits: characters Table storage refuses in keys replaced."""

from __future__ import annotations

import re

_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f]")


def table_key(*parts: str | None) -> str:
    """One PartitionKey/RowKey out of its parts (None parts left out)."""
    return "|".join(_FORBIDDEN.sub("_", part) for part in parts if part)
