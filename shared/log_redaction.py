"""Secrets never reach the logs: every log record is redacted when it is made, at any level,
from any logger (ours, httpx/httpcore's wire traces, the Azure SDKs'), before any handler
sees it.

What is redacted: cookie and authentication header values (Creatio's .ASPXAUTH, BPMCSRF,
BPMSESSIONID, UserName; Authorization, x-functions-key), bearer/basic credentials, values of
password/secret/token/key-like fields in JSON, dicts, query strings, form bodies and the
Intacct XML (<password>, <sessionid>), storage account keys and SAS signatures, and PEM
private keys. Installed by function_app.py (Functions start-up) and the local host's
logging set-up (sandbox/host/logs.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

REDACTED = "[redacted]"

# Headers whose whole value is a credential.
_HEADERS = (
    r"authorization|proxy-authorization|cookie|set-cookie|bpmcsrf|x-functions-key|"
    r"x-ms-client-principal|x-ms-token-[\w-]+|ocp-apim-subscription-key|x-api-key|api-key"
)
# Field names whose value is a credential (JSON, dict, form and query keys).
_KEYS = (
    r"[\w.-]*(?:password|passwd|pwd|secret|token|assertion|sessionid|session_id|api[_-]?key|"
    r"accountkey|sharedaccesssignature|credential)[\w.-]*|sig"
)
# Creatio's authentication cookies (also in a Cookie header echoed in another form).
_COOKIES = r"\.ASPXAUTH|BPMCSRF|BPMSESSIONID|BPMLOADER|UserName|ASP\.NET_SessionId|\.AspNet[\w.]*"

_Q = r"""(?P<q>['"])"""  # an opening quote; closed by (?P=q)
_QUOTED_VALUE = r"""b?(?P<vq>['"])(?P<value>(?:\\.|(?!(?P=vq)).)*)(?P=vq)"""

# Applied in the order they are added: (pattern, replacement function or `re.sub` template).
_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = []


def _rule(pattern: str, flags: int = re.IGNORECASE) -> Callable[..., Any]:
    def register(fn: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
        _RULES.append((re.compile(pattern, flags), fn))
        return fn

    return register


def _substitute(pattern: str, template: str, flags: int = re.IGNORECASE) -> None:
    """A rule whose replacement is a template: `\\g<name>` keeps that group."""
    _RULES.append((re.compile(pattern, flags), template))


def _keep_value_quotes(match: re.Match[str]) -> str:
    start, end = match.span("value")
    text = match.group(0)
    offset = match.start(0)
    return text[: start - offset] + REDACTED + text[end - offset :]


# PEM private keys (a certificate setting printed whole).
@_rule(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S)
def _pem(match: re.Match[str]) -> str:
    return f"-----BEGIN PRIVATE KEY-----{REDACTED}-----END PRIVATE KEY-----"


# Header pairs as httpcore logs them: (b'set-cookie', b'.ASPXAUTH=...; Path=/')
@_rule(rf"\(b?{_Q}(?:{_HEADERS})(?P=q),\s*{_QUOTED_VALUE}\)")
def _header_tuple(match: re.Match[str]) -> str:
    return _keep_value_quotes(match)


# Quoted keys in JSON or dict reprs: "UserPassword": "...", 'Authorization': 'Bearer ...'
@_rule(rf"b?{_Q}(?:{_HEADERS}|{_KEYS})(?P=q)\s*:\s*{_QUOTED_VALUE}")
def _quoted_pair(match: re.Match[str]) -> str:
    return _keep_value_quotes(match)


# Intacct XML credentials.
_substitute(
    r"<(?P<tag>password|sessionid|userpassword|senderpassword)>.*?</(?P=tag)>",
    rf"<\g<tag>>{REDACTED}</\g<tag>>",
    re.I | re.S,
)
# Header lines: "Authorization: Bearer ...", "Cookie: a=b; c=d"
_substitute(rf"(?P<name>\b(?:{_HEADERS})):[ \t]*(?P<value>[^\r\n'\"]+)", rf"\g<name>: {REDACTED}")
# Bearer / Basic credentials anywhere (a token has a digit or a symbol: "basic validation"
# stays as it is).
_substitute(
    r"\b(?P<scheme>bearer|basic)\s+(?=[\w.~+/=-]*[\d.~+/=-])[A-Za-z0-9._~+/=-]{12,}",
    rf"\g<scheme> {REDACTED}",
)
# Creatio cookies anywhere (e.g. a Cookie header built by hand).
_substitute(rf"(?P<name>(?<![\w.])(?:{_COOKIES}))=(?P<value>[^;,\s'\"&]+)", rf"\g<name>={REDACTED}")
# Query strings, form bodies, connection strings: password=..., client_secret=..., AccountKey=
_substitute(rf"(?P<name>(?<![\w.-])(?:{_KEYS}))=(?P<value>[^&;,\s'\"]+)", rf"\g<name>={REDACTED}")


def redact(text: str) -> str:
    """`text` with every credential it holds replaced by [redacted]."""
    for pattern, replace in _RULES:
        text = pattern.sub(replace, text)
    return text


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record's message (with its arguments merged in), traceback and stack."""
    if getattr(record, "shuttle_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not fit its format: leave it be
        return record
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record.shuttle_redacted = True
    return record


def install_log_redaction() -> None:
    """Redact every record from now on, whatever logger, level or handler (idempotent).

    A record factory, not a filter: a filter on the root logger never sees records that
    propagate from other loggers, and handlers come and go (the Functions worker's, pytest's).
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "shuttle_redacting", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(factory(*args, **kwargs))

    make_record.shuttle_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)
