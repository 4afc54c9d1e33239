"""What a live system says it has (its metadata), as the preflight (shared/preflight)
compares it with what the solutions need. Each connector's `metadata.py` reads its own."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str  # the system's own type name (Edm.String, String, TEXT, ...)
    max_length: int | None = None
    custom: bool = False


@dataclass(frozen=True)
class KeyInfo:
    name: str
    attributes: tuple[str, ...]
    status: str  # Dataverse EntityKeyIndexStatus: Pending, InProgress, Active, Failed


@dataclass
class ObjectInfo:
    name: str
    fields: dict[str, FieldInfo] = field(default_factory=dict)
    keys: list[KeyInfo] = field(default_factory=list)
    entity_set: str | None = None
    primary_id: str | None = None
