"""Runs through the local host's HTTP API, as the scenarios read them: wait for a run's end
(its counts must add up) and read its plan page by page."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import wait_for


def finished(api: httpx.Client, run_id: str, timeout: float = 120) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        run = api.get(f"/runs/{run_id}").json()
        return run if run["status"] != "running" else None

    run = wait_for(done, timeout, f"run {run_id} to finish")
    counts = run["counts"]  # type: ignore[index]
    assert counts["read"] == sum(
        counts[k] for k in ("created", "updated", "unchanged", "skipped", "failed", "pending")
    )
    return run  # type: ignore[return-value]


def run_through(
    api: httpx.Client, flow_id: str, *, dry_run: bool = False, status: str | None = "succeeded"
) -> dict[str, Any]:
    """Start `flow_id` over the host's API, wait for its end, check how it ended (`status`
    None: any end)."""
    body = {"dry_run": True} if dry_run else None
    started = api.post(f"/flows/{flow_id}/run", json=body)
    assert started.status_code == 202, started.text
    done = finished(api, started.json()["run_id"])
    assert status is None or done["status"] == status, (flow_id, done["status"], done["errors"])
    return done


def plan(api: httpx.Client, run_id: str, limit: int) -> tuple[dict[str, dict[str, Any]], int]:
    """Every item of the run's plan, asked for `limit` at a time; and how many pages."""
    items: dict[str, dict[str, Any]] = {}
    after: str | None = None
    pages = 0
    while True:
        params = {"limit": str(limit), **({"after": after} if after else {})}
        page = api.get(f"/runs/{run_id}/plan", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        pages += 1
        for item in body["items"]:
            assert item["record"] not in items
            items[item["record"]] = item
        if not body["truncated"]:
            return items, pages
        after = body["next"]


def decided(items: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """What a plan (or a run's outcomes) decided per record: to compare a dry run's with the
    real run's."""
    return {rid: (i["outcome"], i["action"], i["changes"], i["field"]) for rid, i in items.items()}
