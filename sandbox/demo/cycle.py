"""The demo's first full cycle: every mapped flow run once, in dependency order, through the
host's own HTTP API (`POST /api/flows/{id}/run`, then `GET /api/runs/{id}` until it ends).

Driven rather than left to the scheduler so the first cycle is clean: each solution is a
lane of its own (the lanes run side by side), its flows one after another, parents first;
a flow also waits for the flows of other lanes that create what it reads
(sandbox/demo/flows.py, cycle_waits). The verdict says whether only the deliberately bad
records failed (sandbox/demo/data.py, PLANNED_FAILURES).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("shuttle")

POLL_S = 0.5
RUN_TIMEOUT_S = 300.0  # one run of the demo's volume takes seconds; this is a hung run
BUSY_RETRY_S = 2.0  # a run of the flow is already in flight (a scheduled one): wait for it


class CycleAborted(Exception):
    """The host went away or was asked to stop while the cycle ran."""


@dataclass
class FlowResult:
    flow_id: str
    status: str = "waiting"  # waiting, queued, running, then the run's final status
    run_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    expected: list[str] = field(default_factory=list)  # planned bad records it rejected
    unexpected: list[str] = field(default_factory=list)  # why this flow fails the verdict

    @property
    def done(self) -> bool:
        return self.status not in ("waiting", "queued", "running")

    def count(self, name: str) -> int:
        return int(self.counts.get(name, 0))


@dataclass
class Cycle:
    results: list[FlowResult]
    aborted: str = ""

    @property
    def ok(self) -> bool:
        return not self.aborted and all(r.done and not r.unexpected for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def judge(result: FlowResult, planned: dict[str, set[str]]) -> None:
    """Fill `expected` and `unexpected`: only planned records may fail, none may wait."""
    allowed = planned.get(result.flow_id, set())
    if result.status in ("failed", "cancelled", "skipped"):
        result.unexpected.append(f"the run ended {result.status}: {result.message}".rstrip(": "))
    failing = [
        e
        for e in result.errors
        if e.get("category") != "conflict" and not str(e.get("message", "")).startswith("waiting:")
    ]
    for error in failing:
        record = str(error.get("record") or "")
        if record.lower() in allowed:
            result.expected.append(record)
        else:
            result.unexpected.append(
                f"record {record or '?'}: {error.get('category')} {error.get('field') or ''} "
                f"{error.get('message', '')}".strip()
            )
    unexplained = result.count("failed") - len(result.expected) - len(result.unexpected)
    if unexplained > 0:
        result.unexpected.append(f"{unexplained} more records failed")
    if result.count("pending"):
        result.unexpected.append(f"{result.count('pending')} records still wait")


class CycleDriver:
    """Runs `flow_ids` one after another through the API; `on_change` sees every update."""

    def __init__(
        self,
        api_url: str,
        flow_ids: Sequence[str],
        planned: dict[str, set[str]],
        on_change: Callable[[list[FlowResult]], None] = lambda results: None,
        stop: threading.Event | None = None,
        waits: dict[str, list[str]] | None = None,
    ) -> None:
        self.api_url = api_url
        self.results = [FlowResult(flow_id) for flow_id in flow_ids]
        self.planned = planned
        self.on_change = on_change
        self.stop = stop or threading.Event()
        self.waits = waits or {}
        self.ended = {flow_id: threading.Event() for flow_id in flow_ids}
        self.aborted = ""

    def run(self) -> Cycle:
        lanes: dict[str, list[FlowResult]] = {}
        for result in self.results:
            lanes.setdefault(result.flow_id.split(".", 1)[0], []).append(result)
        threads = [
            threading.Thread(target=self._lane, args=(lane,), name=f"demo-{name}")
            for name, lane in lanes.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return Cycle(self.results, aborted=self.aborted)

    def _lane(self, lane: list[FlowResult]) -> None:
        with httpx.Client(base_url=self.api_url, timeout=30.0) as api:
            try:
                for result in lane:
                    for other in self.waits.get(result.flow_id, []):
                        while not self.ended[other].wait(POLL_S):
                            self._wait(0)
                    self._wait(0)  # the other lane may have stopped the cycle meanwhile
                    self._run_one(api, result)
                    judge(result, self.planned)
                    self.ended[result.flow_id].set()
                    self.on_change(self.results)
            except CycleAborted as exc:
                self.aborted = self.aborted or str(exc)
                self.stop.set()
            except httpx.HTTPError as exc:  # the host stopped (Ctrl-C, SIGTERM) or broke
                self.aborted = self.aborted or f"the API did not answer: {exc}"
                log.warning("demo: the first cycle stopped early: %s", self.aborted)
                self.stop.set()  # the other lane stops too
            finally:
                for result in lane:  # nobody waits for a lane that is gone
                    self.ended[result.flow_id].set()

    def _wait(self, seconds: float) -> None:
        if self.stop.wait(seconds) or self.stop.is_set():
            raise CycleAborted(self.aborted or "stopped")

    def _run_one(self, api: httpx.Client, result: FlowResult) -> None:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            response = api.post(f"/flows/{result.flow_id}/run", json={})
            if response.status_code != 409 or time.monotonic() > deadline:
                break
            self._wait(BUSY_RETRY_S)  # the scheduler's run of it is in flight
        if response.status_code != 202:
            result.status = "failed"
            result.message = f"could not start a run: {response.status_code} {response.text[:300]}"
            return
        result.run_id = response.json()["run_id"]
        result.status = "queued"
        self.on_change(self.results)
        while True:
            self._wait(POLL_S)
            run = api.get(f"/runs/{result.run_id}").json()
            result.counts = dict(run.get("counts") or {})
            result.errors = list(run.get("errors") or [])
            result.message = str(run.get("message") or "")
            result.status = str(run.get("status") or "running")
            self.on_change(self.results)
            if result.done:
                return
            if time.monotonic() > deadline:
                result.status = "failed"
                result.message = f"did not end within {RUN_TIMEOUT_S:.0f} s"
                return

    def start_flows(self) -> list[str]:
        """After the first cycle (interactive demo): every flow on its short schedule."""
        refused = []
        with httpx.Client(base_url=self.api_url, timeout=30.0) as api:
            for result in self.results:
                response = api.post(f"/flows/{result.flow_id}/start")
                if response.status_code >= 400 and response.status_code != 409:
                    refused.append(f"{result.flow_id}: {response.status_code}")
        return refused
