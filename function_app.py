"""Shuttle's Azure Functions app: registers the blueprints in functions/ and nothing else.

The solution definitions are loaded here so that a broken definition fails start-up
(indexing) with a message naming the file, flow and field.
"""

import azure.functions as func

from functions import console, control, flow_runs, monitor, record_upserts, reports, scheduler
from shared.flows.catalog import load_catalog
from shared.log_redaction import install_log_redaction
from shared.settings import get_settings

# First, so no record (ours or the HTTP libraries' wire traces) can carry a secret.
install_log_redaction()
load_catalog(get_settings().solution_ids)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(scheduler.bp)
app.register_functions(flow_runs.bp)
app.register_functions(record_upserts.bp)
app.register_functions(control.bp)
app.register_functions(monitor.bp)
app.register_functions(reports.bp)
app.register_functions(console.bp)
