"""Trigger functions: thin adapters between azure.functions and the shared library."""
