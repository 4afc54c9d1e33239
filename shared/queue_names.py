"""Queue names per deployment. Every queue's name starts with SHUTTLE_TABLE_PREFIX, as the
tables' do, so two deployments (or a demo killed mid-run and the next one) sharing a storage
account never take each other's messages.

The app builds a name from the setting's value (shared/storage/clients.py); the queue
triggers (functions/flow_runs.py, functions/record_upserts.py) name the same queue with an
app-setting expression the Functions host resolves, so both follow one setting."""

from __future__ import annotations

PREFIX_SETTING = "SHUTTLE_TABLE_PREFIX"


def queue_name(prefix: str, queue: str) -> str:
    """The deployment's name of `queue` (e.g. `flow-runs`); queue names allow lowercase
    letters, digits and hyphens, which is why shared/settings.py keeps the prefix lowercase."""
    return f"{prefix}-{queue}"


def trigger_queue_name(queue: str) -> str:
    """`queue_name` as a binding expression: the host replaces `%SETTING%` with its value, and
    a poison queue is `<that name>-poison`, so `queue_name(prefix, 'flow-runs-poison')` too."""
    return f"%{PREFIX_SETTING}%-{queue}"
