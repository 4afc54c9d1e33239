"""Transport to the external systems: one client per system, built once per worker, with an
injectable httpx transport. Connectors speak wire formats and raise ConnectorError; they know
nothing of flows, bindings or runs."""
