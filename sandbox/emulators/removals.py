"""Metadata an emulator pretends not to have: objects and fields "not created yet" in the
emulated system, so tests can show what the preflight (shared/preflight) says about a system
that lacks something a solution needs, and that it passes once it is back.

Admin routes (under the fault layer's /_emulator prefix):
  GET    /_emulator/metadata                    what is removed now
  DELETE /_emulator/metadata/{object}           the whole object is gone from the metadata
  DELETE /_emulator/metadata/{object}/{field}   one field is gone
  POST   /_emulator/metadata/restore            everything back
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.emulators.knobs import ADMIN_PREFIX

METADATA_PREFIX = f"{ADMIN_PREFIX}/metadata"


class Removals:
    def __init__(self) -> None:
        self.objects: set[str] = set()
        self.fields: dict[str, set[str]] = {}

    def reset(self) -> None:
        self.objects = set()
        self.fields = {}

    def object_removed(self, name: str) -> bool:
        return name in self.objects

    def field_removed(self, object: str, field: str) -> bool:
        return object in self.objects or field in self.fields.get(object, set())

    def remove(self, object: str, field: str | None = None) -> None:
        if field is None:
            self.objects.add(object)
        else:
            self.fields.setdefault(object, set()).add(field)

    def view(self) -> dict[str, object]:
        return {
            "objects": sorted(self.objects),
            "fields": {k: sorted(v) for k, v in sorted(self.fields.items()) if v},
        }

    def routes(
        self,
        known: Callable[[str, str | None], bool],
        on_restore: Callable[[], None] | None = None,
        extra: Iterable[BaseRoute] = (),
    ) -> list[BaseRoute]:
        """`known(object, field)` says whether the emulator hosts it (unknown: 404)."""

        async def get(request: Request) -> Response:
            return JSONResponse(self.view())

        async def remove(request: Request) -> Response:
            object = request.path_params["object"]
            field = request.path_params.get("field")
            if not known(object, field):
                return JSONResponse({"error": f"no such object or field: {object} {field}"}, 404)
            self.remove(object, field)
            return JSONResponse(self.view())

        async def restore(request: Request) -> Response:
            self.reset()
            if on_restore is not None:
                on_restore()
            return JSONResponse(self.view())

        return [
            Route(METADATA_PREFIX, get, methods=["GET"]),
            Route(f"{METADATA_PREFIX}/restore", restore, methods=["POST"]),
            *extra,
            Route(f"{METADATA_PREFIX}/{{object}}", remove, methods=["DELETE"]),
            Route(f"{METADATA_PREFIX}/{{object}}/{{field}}", remove, methods=["DELETE"]),
        ]
