"""The product's log redaction: every credential form the three vendors' traffic and our own
settings can put into a log line is replaced, at any level, from any logger."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.log_redaction import REDACTED, install_log_redaction, redact

ROOT = Path(__file__).resolve().parents[2]

# (log text, the secrets in it, text that must survive)
CASES: list[tuple[str, list[str], list[str]]] = [
    (
        "receive_response_headers.complete return_value=(b'HTTP/1.1', 200, b'OK', "
        "[(b'date', b'Sat, 05 Dec'), (b'set-cookie', b'.ASPXAUTH=F77E95C0BB52; HttpOnly'), "
        "(b'set-cookie', b'BPMCSRF=fm3sfzUZQlKL; Path=/'), "
        "(b'Set-Cookie', b'BPMSESSIONID=43172a387e22; HttpOnly'), "
        "(b'set-cookie', b'UserName=83|117|112; Path=/')])",
        ["F77E95C0BB52", "fm3sfzUZQlKL", "43172a387e22", "83|117|112"],
        ["b'Sat, 05 Dec'", "200"],
    ),
    ("send: [(b'Cookie', b'BPMCSRF=abc123; .ASPXAUTH=def456')]", ["abc123", "def456"], []),
    ("BPMCSRF: fm3sfzUZQlKLjFFdwWDDBw", ["fm3sfzUZQlKLjFFdwWDDBw"], ["BPMCSRF"]),
    ("Cookie: .ASPXAUTH=abc; BPMSESSIONID=def", ["=abc", "=def"], []),
    ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0", ["eyJhbGciOi"], []),
    (
        "{'Authorization': 'Basic dXNlcjpwYXNzd29yZA==', 'Accept': 'json'}",
        ["dXNlcjpwYXNzd29yZA"],
        ["'Accept': 'json'"],
    ),
    ("token acquired: Bearer eyJ0eXAiOiJKV1QiLCJhbGci", ["eyJ0eXAiOiJKV1QiLCJhbGci"], []),
    (
        '{"UserName": "Supervisor", "UserPassword": "Sup3r-s3cret"}',
        ["Sup3r-s3cret"],
        ['"UserName": "Supervisor"'],
    ),
    ('{"access_token":"eyJ0eXAi.payload.sig","expires_in":3599}', ["eyJ0eXAi"], ["3599"]),
    (
        "grant_type=client_credentials&client_id=app&client_secret=s3cr3t-v4lue&scope=x",
        ["s3cr3t-v4lue"],
        ["client_id=app", "scope=x"],
    ),
    ("client_assertion=eyJhbGciOiJSUzI1NiJ9.abc.def&client_id=app", ["eyJhbGciOiJSUzI1NiJ9"], []),
    (
        "<login><userid>u</userid><password>p@ss&lt;word</password></login>"
        "<sessionid>SESS-98f7</sessionid>",
        ["p@ss", "SESS-98f7"],
        ["<userid>u</userid>"],
    ),
    (
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Eby8vdM02xNO==;Endpoint",
        ["Eby8vdM02xNO"],
        ["AccountName=acct"],
    ),
    (
        "https://acct.queue.core.windows.net/q?sv=2022&sig=abc%2Fdef&se=2026",
        ["abc%2Fdef"],
        ["sv=2022"],
    ),
    ("x-functions-key: 9f8e7d6c5b4a", ["9f8e7d6c5b4a"], []),
    (
        "[(b'x-functions-key', b'fk-abc-123'), (b'authorization', b'SharedKey acct:c2ln')]",
        ["fk-abc-123", "c2ln"],
        ["x-functions-key"],
    ),
    (
        "cert=-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"
        "-----BEGIN CERTIFICATE-----\nMIICpublic\n-----END CERTIFICATE-----",
        ["MIIEvQIBADANBg"],
        ["MIICpublic"],
    ),
    ("password=hunter2 for user admin", ["hunter2"], ["user admin"]),
    ("basic validation failed: bearer of the token unknown", [], ["basic validation failed"]),
    ("flow creatio-intacct.accounts-to-intacct: run 42 queued", [], ["run 42 queued"]),
]


@pytest.mark.parametrize(
    ("text", "secrets", "kept"), CASES, ids=[str(i) for i in range(len(CASES))]
)
def test_redact(text: str, secrets: list[str], kept: list[str]) -> None:
    clean = redact(text)
    for secret in secrets:
        assert secret not in clean, clean
    for part in kept:
        assert part in clean, clean
    assert (REDACTED in clean) == bool(secrets)


@pytest.fixture
def redacting() -> Iterator[None]:
    before = logging.getLogRecordFactory()
    install_log_redaction()
    install_log_redaction()  # twice: still one layer
    try:
        yield
    finally:
        logging.setLogRecordFactory(before)


def test_every_record_is_redacted_at_any_level(
    redacting: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("httpcore.http11")
    log.debug("headers %s", [(b"Set-Cookie", b".ASPXAUTH=debug-secret; Path=/")])
    logging.getLogger("shared.anything").error("login failed for %s", {"password": "err-secret"})
    try:
        raise RuntimeError("Authorization: Bearer exc-secret-token-value")
    except RuntimeError:
        logging.getLogger("azure.core").exception("call failed")
    text = caplog.text
    for secret in ("debug-secret", "err-secret", "exc-secret-token-value"):
        assert secret not in text
    assert text.count(REDACTED) >= 3 and "RuntimeError" in text


def test_function_app_start_up_installs_it() -> None:
    """A fresh interpreter that imports function_app (what the Functions worker does) logs
    a cookie trace with the value redacted."""
    code = (
        "import logging, sys; logging.basicConfig(stream=sys.stdout, level=logging.DEBUG)\n"
        "import function_app\n"
        "logging.getLogger('httpcore.http11').debug("
        "\"return_value=[(b'set-cookie', b'.ASPXAUTH=start-up-secret; Path=/')]\")\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "set-cookie" in out and "start-up-secret" not in out and REDACTED in out
