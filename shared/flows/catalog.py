"""Load and validate the solution definition files; a broken file fails start-up clearly."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shared.errors import DefinitionError, NotFoundError
from shared.flows.definitions import FlowDefinition, SolutionDefinition

SOLUTIONS_DIR = Path(__file__).resolve().parent.parent / "solutions"


@dataclass(frozen=True)
class CatalogEntry:
    solution: SolutionDefinition
    flow: FlowDefinition

    @property
    def flow_id(self) -> str:
        return f"{self.solution.id}.{self.flow.id}"


class Catalog:
    """The enabled solutions and their flows, addressed by "{solution}.{flow}"."""

    def __init__(self, solutions: Iterable[SolutionDefinition]) -> None:
        self.solutions = {s.id: s for s in solutions}
        self._entries = {
            f"{s.id}.{f.id}": CatalogEntry(s, f) for s in self.solutions.values() for f in s.flows
        }

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._entries)

    def get(self, flow_id: str) -> CatalogEntry:
        entry = self._entries.get(flow_id)
        if entry is None:
            raise NotFoundError(f"unknown flow '{flow_id}'", code="flow_not_found")
        return entry

    def in_solution(self, solution_id: str) -> list[CatalogEntry]:
        return [e for e in self._entries.values() if e.solution.id == solution_id]


def _describe_location(path: Path, raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic location such as ('flows', 3, 'interval_ms') into words."""
    parts = [str(path)]
    rest = list(loc)
    if len(rest) >= 2 and rest[0] == "flows" and isinstance(rest[1], int):
        flows = raw.get("flows") if isinstance(raw, dict) else None
        flow_raw = flows[rest[1]] if isinstance(flows, list) and rest[1] < len(flows) else None
        flow_id = flow_raw.get("id") if isinstance(flow_raw, dict) else None
        parts.append(f"flow '{flow_id}'" if flow_id else f"flow #{rest[1] + 1}")
        rest = rest[2:]
    if rest:
        parts.append("field '" + ".".join(str(p) for p in rest) + "'")
    return ": ".join(parts)


def load_solution_file(path: Path) -> SolutionDefinition:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DefinitionError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path}: not valid YAML: {exc}") from exc
    try:
        solution = SolutionDefinition.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"{_describe_location(path, raw, tuple(err['loc']))}: {err['msg']}"
            for err in exc.errors()
        ]
        raise DefinitionError("invalid solution definition\n" + "\n".join(lines)) from None
    if solution.id != path.stem:
        raise DefinitionError(f"{path}: field 'id': '{solution.id}' must match the file name")
    return solution


def load_catalog(solution_ids: Iterable[str], directory: Path = SOLUTIONS_DIR) -> Catalog:
    solutions = []
    for solution_id in solution_ids:
        path = directory / f"{solution_id}.yaml"
        if not path.exists():
            known = sorted(p.stem for p in directory.glob("*.yaml"))
            raise DefinitionError(
                f"SHUTTLE_SOLUTIONS names '{solution_id}', but {path} does not exist "
                f"(known: {', '.join(known)})"
            )
        solutions.append(load_solution_file(path))
    return Catalog(solutions)
