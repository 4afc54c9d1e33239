"""Preload module (`shuttle host --preload tests.support.failing_engine`): every run of this
process fails, as a sync engine with a bug would (poison-queue tests). It patches the real
engine, as tests/support/crashing_records.py patches the record worker: the product has no
hook for it."""

from typing import Any

from shared.engine.sync_engine import SyncEngine


async def _exploding(self: SyncEngine, ctx: Any) -> Any:
    raise RuntimeError(f"engine exploded on {ctx.run.id}")


SyncEngine.execute = _exploding  # type: ignore[method-assign]
