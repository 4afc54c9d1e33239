"""function_app registers what Azure needs: triggers, queues, schedules, auth levels, and an
OpenAPI document that describes exactly the HTTP functions it registers."""

from __future__ import annotations

import functools
import json

from openapi_spec_validator import validate

import function_app
from shared.access.caller import Role
from shared.api.openapi import ROUTES, build_openapi
from shared.messages import (
    FLOW_RUNS_POISON_QUEUE,
    FLOW_RUNS_QUEUE,
    RECORD_UPSERTS_POISON_QUEUE,
    RECORD_UPSERTS_QUEUE,
)


@functools.cache  # get_functions() re-registers blueprints: call it once per process
def registered() -> list:
    return list(function_app.app.get_functions())


def bindings() -> dict[str, dict]:
    return {
        f.get_function_name(): json.loads(f.get_function_json())["bindings"][0]
        for f in registered()
    }


def test_timer_and_queue_triggers() -> None:
    found = bindings()
    timer = found["scheduler_tick"]
    assert timer["type"] == "timerTrigger"
    assert timer["schedule"] == "%SHUTTLE_SCHEDULER_SCHEDULE%"
    # Each queue's name starts with the deployment's SHUTTLE_TABLE_PREFIX (shared/queue_names.py).
    prefixed = "%SHUTTLE_TABLE_PREFIX%-"
    assert found["flow_runs_worker"]["queueName"] == prefixed + FLOW_RUNS_QUEUE
    assert found["flow_runs_poison"]["queueName"] == prefixed + FLOW_RUNS_POISON_QUEUE
    assert FLOW_RUNS_POISON_QUEUE == "flow-runs-poison"
    assert found["record_upserts_worker"]["queueName"] == prefixed + RECORD_UPSERTS_QUEUE
    assert found["record_upserts_poison"]["queueName"] == prefixed + RECORD_UPSERTS_POISON_QUEUE
    assert f"{RECORD_UPSERTS_QUEUE}-poison" == RECORD_UPSERTS_POISON_QUEUE
    for name in (
        "flow_runs_worker",
        "flow_runs_poison",
        "record_upserts_worker",
        "record_upserts_poison",
    ):
        assert found[name]["connection"] == "AzureWebJobsStorage"


def test_every_http_function_is_function_level_and_described() -> None:
    http = {
        (method, "/" + b["route"])
        for b in bindings().values()
        if b["type"] == "httpTrigger"
        for method in b["methods"]
    }
    # The console's page, assets and redirect hold no data: anonymous, so a browser can load
    # them; everything else needs a key (SHUTTLE_AUTH_MODE=keys, the default).
    anonymous = {"console_page", "console_asset", "monitor_redirect"}
    for name, b in bindings().items():
        if b["type"] == "httpTrigger":
            assert b["authLevel"] == ("ANONYMOUS" if name in anonymous else "FUNCTION"), name
    described = {(r.method, r.path) for r in ROUTES}
    assert http == described


def test_openapi_document_is_valid_openapi_3_and_lists_every_route() -> None:
    spec = build_openapi()
    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema
    listed = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops}
    assert listed == {(r.method, r.path) for r in ROUTES}
    flow = spec["components"]["schemas"]["Flow"]["properties"]
    for field in (
        "id",
        "solution",
        "name",
        "kind",
        "source",
        "target",
        "state",
        "interval_ms",
        "shift_ms",
        "query_starts",
        "counter",
        "next_run_at",
        "last_run",
    ):
        assert field in flow, f"Flow lacks {field} (README.md, Control API)"
    run = spec["components"]["schemas"]["Run"]["properties"]
    for field in (
        "id",
        "flow_id",
        "kind",
        "status",
        "started_at",
        "finished_at",
        "window",
        "counts",
        "message",
        "errors",
    ):
        assert field in run, f"Run lacks {field} (README.md, Control API)"


# Routes that hold no data and change nothing: the console's static parts and this document.
UNGUARDED = {"console_page", "console_asset", "monitor_redirect", "get_openapi"}


def test_every_route_is_guarded_and_every_change_audited() -> None:
    """A route added without @guarded would be open to every signed-in person when App
    Service Authentication is in front (routes are anonymous to the host there)."""
    for function in registered():
        binding = json.loads(function.get_function_json())["bindings"][0]
        if binding["type"] != "httpTrigger":
            continue
        name = function.get_function_name()
        guard = getattr(function.get_user_function(), "shuttle_guard", None)
        if name in UNGUARDED:
            assert guard is None
            continue
        assert guard is not None, f"{name}: add @guarded(Role...) under its @bp.route"
        role, action = guard
        if set(binding["methods"]) - {"GET", "HEAD"}:
            assert action, f"{name} changes state: name its audit action in @guarded"
            assert role >= Role.OPERATOR, f"{name} changes state: viewers only read"
        else:
            assert action is None, f"{name} only reads: reads are not audited"
