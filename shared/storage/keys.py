"""Table keys from external ids: PartitionKey/RowKey refuse / \\ # ? and control characters,
and ERP ids may hold any of them."""

from __future__ import annotations

from urllib.parse import quote, unquote


def encode_key(value: str) -> str:
    return quote(value, safe="")


def decode_key(value: str) -> str:
    return unquote(value)
