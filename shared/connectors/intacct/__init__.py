"""Sage Intacct connector: the XML gateway (API 3.0) with sessions, several functions per
request, idempotent writes and a per-worker limit on requests in flight. Master data is
written with the generic create/update, documents with Intacct's legacy functions
(legacy.py), and AR aging is read as the object ARAGING (aging.py).

client = IntacctClient.from_settings()            # once per worker
row = await client.create("CUSTOMER", {"CUSTOMERID": "C-1", "NAME": "Acme"})
page = await client.query("CUSTOMER", ["RECORDNO", "NAME"], filter=fn.eq("NAME", "Acme"))
sync = IntacctSync(client)                          # the engine's SyncConnector
"""

from shared.connectors.intacct import functions
from shared.connectors.intacct.client import Call, IntacctClient, QueryPage
from shared.connectors.intacct.config import IntacctConfig
from shared.connectors.intacct.objects import OBJECTS, IntacctObject, derived_id
from shared.connectors.intacct.sync import IntacctSync

__all__ = [
    "OBJECTS",
    "Call",
    "IntacctClient",
    "IntacctConfig",
    "IntacctObject",
    "IntacctSync",
    "QueryPage",
    "derived_id",
    "functions",
]
