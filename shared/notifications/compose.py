"""An Event as a message: subject, plain text and HTML, with every secret of the app
settings masked (error texts come from the systems and are masked already; this is the
last line of defence)."""

from __future__ import annotations

import html
import os
import socket
from dataclasses import dataclass

from shared.notifications.events import Event
from shared.settings import Settings

RUNBOOK = "docs/operations.md"
MAX_LISTED_ERRORS = 50  # record errors listed in one message; the run log has them all


def deployment_name() -> str:
    # Azure sets WEBSITE_SITE_NAME to the function app's name; locally the machine's name.
    return os.environ.get("WEBSITE_SITE_NAME") or f"{socket.gethostname()} (local)"


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str


class Redactor:
    """Masks the values of every secret app setting wherever they appear."""

    def __init__(self, settings: Settings) -> None:
        values = [value for value in settings.secret_values() if len(value) >= 4]
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted(set(values), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def subject(event: Event, deployment: str) -> str:
    where = " / ".join(
        p for p in (event.solution, event.flow_id and event.flow_id.split(".", 1)[-1]) if p
    )
    return _one_line(f"[Shuttle {deployment}] {where + ': ' if where else ''}{event.what}")[:250]


def compose(event: Event, deployment: str, redact: Redactor) -> Message:
    subj = redact(subject(event, deployment))
    facts = [("deployment", deployment)]
    for label, value in (
        ("solution", event.solution),
        ("flow", event.flow_id),
        ("run", event.run_id),
        ("system", event.system),
    ):
        if value:
            facts.append((label, value))
    facts += event.facts
    facts.append(("at", event.at.strftime("%Y-%m-%d %H:%M:%S UTC")))

    text = [event.what, ""]
    text += [f"{label}: {value}" for label, value in facts]
    rows = []
    if event.errors:
        shown = len(event.errors)
        more = event.errors_total - shown
        text += [
            "",
            f"Failed records ({event.errors_total}"
            + (f", first {shown} listed" if more > 0 else "")
            + "):",
        ]
        for e in event.errors:
            text.append(
                f"- {e.record or '(run)'} [{e.category.value}] "
                f"{e.field + ': ' if e.field else ''}{_one_line(e.message)}"
            )
            rows.append(e)
        if more > 0:
            text.append(f"... and {more} more: GET /api/runs/{event.run_id}")
    if event.details:
        text += ["", event.details]
    if event.todo:
        text += ["", f"What to do: {event.todo}"]
    if event.runbook:
        text.append(f"Runbook: {RUNBOOK} - {event.runbook}")
    body_text = redact("\n".join(text) + "\n")

    esc = html.escape
    parts = [f"<h2>{esc(event.what)}</h2>", "<table>"]
    parts += [f"<tr><th align='left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts]
    parts.append("</table>")
    if rows:
        parts.append(f"<h3>Failed records ({event.errors_total})</h3><table border='1'>")
        parts.append("<tr><th>record</th><th>category</th><th>field</th><th>message</th></tr>")
        for r in rows:
            cells = (r.record or "(run)", r.category.value, r.field or "", r.message)
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
        if event.errors_total > len(rows):
            parts.append(
                f"<p>... and {event.errors_total - len(rows)} more: "
                f"<code>GET /api/runs/{esc(event.run_id or '')}</code></p>"
            )
    if event.details:
        parts.append(f"<pre>{esc(event.details)}</pre>")
    if event.todo:
        parts.append(f"<p><b>What to do:</b> {esc(event.todo)}</p>")
    if event.runbook:
        parts.append(f"<p>Runbook: <code>{RUNBOOK}</code> &ndash; {esc(event.runbook)}</p>")
    body_html = redact("<html><body>" + "\n".join(parts) + "</body></html>")
    return Message(subject=subj, text=body_text, html=body_html)
