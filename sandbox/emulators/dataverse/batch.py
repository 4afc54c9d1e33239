"""`$batch`: the multipart/mixed request parsed into calls, run in order (change sets
atomically) and answered as multipart/mixed."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from sandbox.emulators.dataverse.webapi import Call, Result, preferences, resolve_reference
from sandbox.emulators.dataverse.wire import EmulatedError, bad_request

MAX_OPERATIONS = 1000
API_PREFIX = "/api/data/v9.2/"
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


@dataclass
class Operation:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    operations: list[Operation] = field(default_factory=list)


Item = Operation | ChangeSet


def boundary_of(content_type: str) -> str:
    match = _BOUNDARY.search(content_type)
    if match is None or not content_type.lower().startswith("multipart/mixed"):
        raise bad_request(
            "The batch request must have a multipart/mixed content type with a boundary."
        )
    return match.group(1)


def _split(body: bytes, boundary: str) -> list[bytes]:
    text = body.replace(b"\r\n", b"\n")
    delimiter = b"--" + boundary.encode()
    pieces = text.split(delimiter)
    parts: list[bytes] = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        parts.append(piece.strip(b"\n"))
    return parts


def _headers_and_body(part: bytes) -> tuple[dict[str, str], bytes]:
    head, _, rest = part.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _operation(part: bytes) -> Operation:
    mime, rest = _headers_and_body(part)
    if mime.get("content-type", "").split(";")[0].strip().lower() != "application/http":
        raise bad_request("Each batch part must have Content-Type: application/http.")
    request_line, _, after = rest.partition(b"\n")
    words = request_line.decode("utf-8", "replace").split()
    if len(words) < 2:
        raise bad_request("A batch part has no request line.")
    headers, body = _headers_and_body(after) if after.strip() else ({}, b"")
    if after.startswith(b"\n"):  # no headers at all
        headers, body = {}, after[1:]
    return Operation(words[0].upper(), words[1], headers, body.strip(b"\n"), mime.get("content-id"))


def parse(body: bytes, content_type: str) -> list[Item]:
    items: list[Item] = []
    count = 0
    for part in _split(body, boundary_of(content_type)):
        mime, rest = _headers_and_body(part)
        if mime.get("content-type", "").lower().startswith("multipart/mixed"):
            change_set = ChangeSet()
            for inner in _split(rest, boundary_of(mime["content-type"])):
                operation = _operation(inner)
                if operation.method == "GET":
                    raise bad_request("GET requests are not allowed inside a change set.")
                if not operation.content_id:
                    # OData 4.0 §11.7.3: every request of a change set carries one.
                    raise bad_request("Content-ID header not present in a change set request.")
                change_set.operations.append(operation)
            count += len(change_set.operations)
            items.append(change_set)
        else:
            items.append(_operation(part))
            count += 1
    if count > MAX_OPERATIONS:
        raise bad_request(
            f"The number of requests in the batch ({count}) exceeds the maximum of "
            f"{MAX_OPERATIONS}.",
            "0x8005F103",
        )
    return items


def to_call(operation: Operation, base: str, references: dict[str, str]) -> Call:
    url = operation.url
    if url.startswith("$"):
        url = resolve_reference(url, references)
    parts = urlsplit(url)
    path = parts.path
    if API_PREFIX in path:
        path = path.split(API_PREFIX, 1)[1]
    return Call(
        method=operation.method,
        path=path.lstrip("/"),
        query=parse_qsl(parts.query, keep_blank_values=True),
        headers=operation.headers,
        body=operation.body,
        base=base,
        references=dict(references),
    )


def _response_part(result: Result, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"HTTP/1.1 {result.status} {_REASONS.get(result.status, '')}".rstrip()]
    headers = {"OData-Version": "4.0", **result.headers}
    content = result.content()
    if content:
        headers["Content-Type"] = "application/json; odata.metadata=minimal"
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += ["", content.decode("utf-8")]
    return "\r\n".join(lines)


Runner = Callable[[Call], Result]


def execute(
    items: list[Item],
    *,
    base: str,
    run: Runner,
    transaction: Callable[[], object],
    continue_on_error: bool,
) -> tuple[int, str, bytes]:
    """Run the batch; (overall status, content type, body)."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    out: list[str] = []
    failed = False
    for item in items:
        if isinstance(item, Operation):
            result = _run(item, base, {}, run)
            out.append(_response_part(result, item.content_id))
            failed = result.status >= 400
        else:
            out.append(_change_set(item, base, run, transaction))
            failed = out[-1].startswith("Content-Type: application/http")
        if failed and not continue_on_error:
            break
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in out) + f"--{boundary}--\r\n"
    status = 400 if failed and not continue_on_error else 200
    return status, f"multipart/mixed; boundary={boundary}", body.encode("utf-8")


def _run(operation: Operation, base: str, references: dict[str, str], run: Runner) -> Result:
    try:
        call = to_call(operation, base, references)
    except EmulatedError as error:  # a `$n` that names no earlier operation
        return Result(error.status, error.body())
    return run(call)


class _Rollback(Exception):
    def __init__(self, part: str) -> None:
        self.part = part


def _change_set(
    change_set: ChangeSet, base: str, run: Runner, transaction: Callable[[], object]
) -> str:
    """A change set's answer: a nested multipart of every result, or (after a rollback) the
    single failing result."""
    boundary = f"changesetresponse_{uuid.uuid4()}"
    references: dict[str, str] = {}
    parts: list[str] = []
    try:
        with transaction():  # type: ignore[attr-defined]
            for operation in change_set.operations:
                result = _run(operation, base, references, run)
                if result.status >= 400:
                    raise _Rollback(_response_part(result, operation.content_id))
                if operation.content_id and result.entity_url:
                    references[operation.content_id] = result.entity_url
                parts.append(_response_part(result, operation.content_id))
    except _Rollback as rollback:
        return rollback.part
    except EmulatedError as error:
        return _response_part(Result(error.status, error.body()), None)
    inner = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--"
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}"


__all__ = ["execute", "parse", "preferences"]
