"""A sample app for the local host's tests: every trigger kind, recording what it saw.

Invocations are appended as JSON lines to the file named by SAMPLE_RECORD_FILE (read at
call time, so each test points it at its own file).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from typing import Any

import azure.functions as func
import sample_faults

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

_lock = threading.Lock()
_running = {"tick": 0, "consume": 0}


def record(kind: str, **fields: Any) -> None:
    path = os.environ.get("SAMPLE_RECORD_FILE")
    if not path:
        return
    with _lock, open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps({"kind": kind, **fields}) + "\n")


def _json(value: Any, status_code: int = 200) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(value), status_code=status_code, mimetype="application/json"
    )


@app.route(route="echo/{item_id}/{*rest}", methods=["POST", "PUT"])
async def echo(req: func.HttpRequest) -> func.HttpResponse:
    response = _json(
        {
            "method": req.method,
            "url": req.url,
            "route_params": dict(req.route_params),
            "params": dict(req.params),
            "header": req.headers.get("x-sample"),
            "body": req.get_body().decode(),
        },
        status_code=201,
    )
    response.headers["x-echo"] = "yes"
    return response


@app.route(route="items/{item_id:int}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"op": "get", "item_id": req.route_params["item_id"]})


@app.route(route="items/{item_id:int}", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
def delete_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"op": "delete", "item_id": req.route_params["item_id"]})


@app.route(route="secure", methods=["GET"])
def secure(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("secret")


@app.route(route="admin/stats", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_stats(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("stats")


@app.route(route="boom", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("boom (on purpose)")


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    if "health" in sample_faults.FAULTS:
        return func.HttpResponse("fault injected", status_code=503)
    return func.HttpResponse("ok")


@app.route(route="whoami", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def whoami(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return _json({"function": context.function_name, "invocation": context.invocation_id})


@app.route(route="enqueue", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@app.queue_output(
    arg_name="out", queue_name="%SAMPLE_OUTPUT_QUEUE%", connection="AzureWebJobsStorage"
)
def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode())
    return func.HttpResponse(status_code=202)


@app.timer_trigger(arg_name="timer", schedule="%SAMPLE_TIMER_SCHEDULE%")
async def tick(timer: func.TimerRequest) -> None:
    _running["tick"] += 1
    record("tick_start", t=time.monotonic(), running=_running["tick"], past_due=timer.past_due)
    try:
        await asyncio.sleep(float(os.environ.get("SAMPLE_TIMER_SLEEP", "0")))
    finally:
        _running["tick"] -= 1
        record("tick_end", t=time.monotonic())


@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=True)
def startup_tick(timer: func.TimerRequest) -> None:
    record("startup_tick", past_due=timer.past_due)


@app.queue_trigger(arg_name="msg", queue_name="%SAMPLE_QUEUE%", connection="AzureWebJobsStorage")
@app.queue_output(
    arg_name="out", queue_name="%SAMPLE_OUTPUT_QUEUE%", connection="AzureWebJobsStorage"
)
async def consume(msg: func.QueueMessage, out: func.Out[str]) -> None:
    body = msg.get_body().decode()
    _running["consume"] += 1
    record(
        "queue",
        id=msg.id,
        body=body,
        dequeue_count=msg.dequeue_count,
        running=_running["consume"],
    )
    try:
        if body.startswith("slow"):
            await asyncio.sleep(0.5)
        if body.startswith("fail"):
            raise RuntimeError(f"told to fail: {body}")
        out.set(f"processed:{body}")
    finally:
        _running["consume"] -= 1
