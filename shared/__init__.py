"""Shuttle's library: everything the Functions triggers call. No azure.functions imports here."""
