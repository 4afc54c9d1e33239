"""Queue messages: pydantic models, JSON text, base64 on the wire (the SDK policy does that)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

FLOW_RUNS_QUEUE = "flow-runs"
FLOW_RUNS_POISON_QUEUE = "flow-runs-poison"
RECORD_UPSERTS_QUEUE = "record-upserts"


class FlowRunMessage(BaseModel):
    """Asks the flow-runs worker to work on one run of one flow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = 1
    flow_id: str
    run_id: str
