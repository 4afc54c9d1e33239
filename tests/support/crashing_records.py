"""Preload module: the record worker crashes on any record named "Crash me" (every delivery),
as a worker with a bug would; the rest of the pipeline is the real one."""

from typing import Any

from shared.engine import upsert

_sync = upsert.RecordSync.sync


async def _crashing(self: upsert.RecordSync, message: Any) -> Any:
    if (message.values or {}).get("Name") == "Crash me":
        raise RuntimeError("record worker crashed")
    return await _sync(self, message)


upsert.RecordSync.sync = _crashing  # type: ignore[method-assign]
