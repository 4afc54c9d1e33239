"""ASP.NET route templates (`flows/{flow_id}`, `{id:int}`, `{id?}`, `{*rest}`) as regexes,
ordered the way the Functions host picks between templates that match the same path."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.host.errors import HostError

_PARAM = re.compile(r"\{(?P<body>[^{}]*)\}")
_NAME = re.compile(r"^(?P<star>\*{1,2})?(?P<name>[A-Za-z_][\w.-]*)")
# The few inline constraints worth enforcing (a wrong type would reach the handler otherwise);
# other constraints are accepted and ignored.
_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "alpha": r"[A-Za-z]+",
}

# Lower ranks win, segment by segment: literal, constrained parameter, parameter,
# optional parameter, catch-all (ASP.NET route precedence, simplified).
_LITERAL, _CONSTRAINED, _PLAIN, _OPTIONAL, _CATCH_ALL = range(5)


class RouteError(HostError, ValueError):
    """A route template this host cannot parse."""


@dataclass(frozen=True)
class RouteParam:
    name: str
    group: str
    catch_all: bool = False
    optional: bool = False
    default: str | None = None
    constraint: str | None = None


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    pattern: re.Pattern[str]
    params: tuple[RouteParam, ...]
    precedence: tuple[int, ...]

    def match(self, path: str) -> dict[str, str] | None:
        """`path` is the part after the route prefix ("" or "/a/b"); returns route params."""
        found = self.pattern.match(path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for param in self.params:
            value = found.group(param.group)
            if value is None or (param.catch_all and value == ""):
                if param.default is not None:
                    values[param.name] = param.default
                elif param.catch_all:
                    values[param.name] = ""
                continue
            values[param.name] = value
        return values


def _parse_param(body: str, template: str, group: str) -> RouteParam:
    match = _NAME.match(body)
    if match is None:
        raise RouteError(f"route {template!r}: cannot parse parameter {{{body}}}")
    rest = body[match.end() :]
    default: str | None = None
    if "=" in rest:
        rest, default = rest.split("=", 1)
    optional = rest.endswith("?")
    rest = rest.removesuffix("?")
    constraint = None
    for part in filter(None, rest.split(":")):
        name = part.split("(", 1)[0].lower()
        if name in _CONSTRAINTS:
            constraint = _CONSTRAINTS[name]
    return RouteParam(
        name=match["name"],
        group=group,
        catch_all=bool(match["star"]),
        optional=optional,
        default=default,
        constraint=constraint,
    )


def parse_template(template: str) -> RouteTemplate:
    segments = [s for s in template.strip().strip("/").split("/") if s != ""]
    regex = ""
    params: list[RouteParam] = []
    ranks: list[int] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        whole = _PARAM.fullmatch(segment)
        if whole is not None:
            param = _parse_param(whole["body"], template, f"p{len(params)}")
            params.append(param)
            if param.catch_all:
                if not last:
                    raise RouteError(f"route {template!r}: a catch-all must be the last segment")
                regex += f"(?:/(?P<{param.group}>.*))?"
                ranks.append(_CATCH_ALL)
            elif (param.optional or param.default is not None) and last:
                regex += f"(?:/(?P<{param.group}>{param.constraint or '[^/]+'}))?"
                ranks.append(_OPTIONAL)
            else:
                regex += f"/(?P<{param.group}>{param.constraint or '[^/]+'})"
                ranks.append(_CONSTRAINED if param.constraint else _PLAIN)
            continue
        # A literal segment, or a complex one such as "{name}.{ext}".
        piece, position, has_param = "/", 0, False
        for found in _PARAM.finditer(segment):
            piece += re.escape(segment[position : found.start()])
            param = _parse_param(found["body"], template, f"p{len(params)}")
            params.append(param)
            piece += f"(?P<{param.group}>{param.constraint or '[^/]+?'})"
            position, has_param = found.end(), True
        piece += re.escape(segment[position:])
        if "{" in piece.replace("\\{", "") or "}" in piece.replace("\\}", ""):
            raise RouteError(f"route {template!r}: unbalanced braces in {segment!r}")
        regex += piece
        ranks.append(_CONSTRAINED if has_param else _LITERAL)
    # ASP.NET matches case-insensitively and ignores one trailing slash.
    pattern = re.compile(f"^{regex}/?$", re.IGNORECASE)
    return RouteTemplate(template, pattern, tuple(params), tuple(ranks))


def precedence_key(route: RouteTemplate) -> tuple[int, ...]:
    # A template that ends where another continues with an optional parameter or a
    # catch-all ("files" vs "files/{*rest}") matches the bare path exactly, so it must win:
    # pad with a rank below "optional". Otherwise order only matters between templates
    # that can match the same path, and the per-segment ranks decide.
    return (*route.precedence, _PLAIN)
