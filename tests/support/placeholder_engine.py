"""Preload module: runs read and write nothing (control-plane tests need no emulators)."""

from shared.engine import PlaceholderEngine, set_engine

set_engine(PlaceholderEngine())
