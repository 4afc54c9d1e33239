"""Faults a --preload module can switch on before the sample app is imported."""

from __future__ import annotations

FAULTS: set[str] = set()
