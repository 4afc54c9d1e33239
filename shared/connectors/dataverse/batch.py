"""$batch wire format (api-facts §3.8): multipart/mixed requests with change sets, and the
multipart answer split back into one result per operation."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from shared.connectors.dataverse.exact_json import dumps_exact
from shared.connectors.dataverse.models import BatchOperation, ChangeSet

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


@dataclass
class RawAnswer:
    """One application/http part of the answer."""

    status: int
    headers: dict[str, str]
    body: bytes
    content_id: str | None


@dataclass
class RawChangeSet:
    """A change set's answer: every operation's, or (rolled back) only the failing one."""

    answers: list[RawAnswer]
    failed: bool


def _request(operation: BatchOperation, base: str, content_id: int | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    url = operation.url if operation.url.startswith("$") else f"{base}{operation.url}"
    lines += ["", f"{operation.method} {url} HTTP/1.1"]
    headers = dict(operation.headers)
    if operation.body is not None:
        headers.setdefault("Content-Type", "application/json; type=entry")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += ["", dumps_exact(operation.body) if operation.body is not None else ""]
    return "\r\n".join(lines)


def build(items: Sequence[BatchOperation | ChangeSet], base: str) -> tuple[str, bytes]:
    """(content type, body) of a $batch of `items`."""
    boundary = f"batch_{uuid.uuid4()}"
    parts: list[str] = []
    for item in items:
        if isinstance(item, ChangeSet):
            inner = f"changeset_{uuid.uuid4()}"
            body = "".join(
                f"--{inner}\r\n{_request(op, base, n)}\r\n"
                for n, op in enumerate(item.operations, start=1)
            )
            parts.append(
                f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n{body}--{inner}--"
            )
        else:
            parts.append(_request(item, base, None))
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    return f"multipart/mixed; boundary={boundary}", body.encode("utf-8")


def _split(body: bytes, boundary: str) -> list[bytes]:
    text = body.replace(b"\r\n", b"\n")
    pieces = text.split(b"--" + boundary.encode())
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        parts.append(piece.strip(b"\n"))
    return parts


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def _answer(part: bytes) -> RawAnswer:
    mime_block, _, http = part.partition(b"\n\n")
    mime = _headers(mime_block)
    status_line, _, rest = http.partition(b"\n")
    words = status_line.decode("utf-8", "replace").split()
    status = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
    header_block, _, body = rest.partition(b"\n\n")
    if rest.startswith(b"\n"):
        header_block, body = b"", rest[1:]
    return RawAnswer(status, _headers(header_block), body.strip(), mime.get("content-id"))


def boundary_of(content_type: str) -> str | None:
    match = _BOUNDARY.search(content_type)
    return match.group(1) if match else None


def parse(content_type: str, body: bytes) -> list[RawAnswer | RawChangeSet]:
    boundary = boundary_of(content_type)
    if boundary is None:
        raise ValueError("the $batch answer is not multipart/mixed")
    items: list[RawAnswer | RawChangeSet] = []
    for part in _split(body, boundary):
        mime_block, _, rest = part.partition(b"\n\n")
        mime = _headers(mime_block)
        inner = boundary_of(mime.get("content-type", ""))
        if mime.get("content-type", "").lower().startswith("multipart/mixed") and inner:
            items.append(RawChangeSet([_answer(p) for p in _split(rest, inner)], failed=False))
        else:
            items.append(_answer(part))
    return items
