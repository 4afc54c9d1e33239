"""What the demo shows in the terminal while its first cycle runs, and the summary after it.

In a terminal: a live table (rich) of every flow with its run's status and counts, redrawn as
the runs move. In a pipe or a log: one line per flow as its run starts and ends (a live
table would only print its last frame there).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table

from sandbox.demo.cycle import Cycle, FlowResult

# read = created + updated + unchanged + skipped (by a filter) + failed (+ still waiting).
COLUMNS = ("read", "created", "updated", "unchanged", "skipped", "failed")
STYLES = {
    "succeeded": "green",
    "partial": "yellow",
    "failed": "bold red",
    "running": "cyan",
    "queued": "cyan",
    "waiting": "dim",
}


def flow_table(results: Sequence[FlowResult], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    # Flow ids stay whole (tests and readers match them); the note wraps instead.
    table.add_column(
        "flow", no_wrap=True, min_width=max((len(r.flow_id) for r in results), default=4)
    )
    table.add_column("run", no_wrap=True)
    for name in COLUMNS:
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    table.add_column("note")
    for result in results:
        style = STYLES.get(result.status, "")
        note = (
            "; ".join(result.unexpected)
            if result.unexpected
            else f"{len(result.expected)} planned bad record(s)"
            if result.expected
            else ""
        )
        table.add_row(
            result.flow_id,
            f"[{style}]{result.status}[/]" if style else result.status,
            *(str(result.count(name)) if result.counts else "" for name in COLUMNS),
            note[:160],
        )
    return table


class Progress:
    """`update` is called from the cycle's thread on every change."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.live: Live | None = None
        self._lock = threading.Lock()
        self._said: dict[str, str] = {}

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self.live = Live(console=self.console, refresh_per_second=4, transient=True)
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()

    def update(self, results: list[FlowResult]) -> None:
        with self._lock:
            if self.live is not None:
                done = sum(r.done for r in results)
                self.live.update(flow_table(results, f"first cycle: {done}/{len(results)} flows"))
                return
            for n, result in enumerate(results, 1):
                state = "running" if result.status in ("queued", "running") else result.status
                if self._said.get(result.flow_id) == state or state == "waiting":
                    continue
                self._said[result.flow_id] = state
                counts = ", ".join(f"{name} {result.count(name)}" for name in COLUMNS)
                tail = "" if state == "running" else f": {counts}"
                self.console.print(
                    f"[{n}/{len(results)}] {result.flow_id} {state}{tail}",
                    highlight=False,
                    soft_wrap=True,
                )


def summary(cycle: Cycle, console: Console, api: str, mail: Sequence[str], once: bool) -> None:
    """The per-flow table after the first full cycle, then where to look next."""
    console.print(flow_table(cycle.results, "Shuttle demo: first full cycle"), soft_wrap=True)
    expected = sum(len(r.expected) for r in cycle.results)
    if cycle.aborted:
        verdict = f"the cycle stopped early ({cycle.aborted})"
    elif cycle.ok:
        verdict = f"every flow ran; only the {expected} deliberately bad records failed"
    else:
        bad = [r.flow_id for r in cycle.results if r.unexpected or not r.done]
        verdict = "UNEXPECTED failures in: " + ", ".join(bad)
    lines = [
        f"Demo result: {verdict}",
        *(f"  {r.flow_id}: {why}" for r in cycle.results for why in r.unexpected),
        f"  console: {api}/console   (runs, errors, retry; open it in a browser)",
        *mail,
    ]
    if not once:
        lines.append("  the flows now run every minute; Ctrl-C stops everything")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)
