"""Imported with `--preload sample_preload`: makes /api/health answer 503."""

from __future__ import annotations

import sample_faults

sample_faults.FAULTS.add("health")
