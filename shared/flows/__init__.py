"""Flows: their definitions (solution files), their state machine and the API's view of them."""
