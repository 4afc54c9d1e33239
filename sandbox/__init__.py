"""Local-only tooling: Azurite launcher, local Functions host, emulators, `shuttle` CLI.

Nothing here is deployed (see .funcignore); nothing in shared/ or functions/ imports it.
"""
