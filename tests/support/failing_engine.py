"""Preload module: makes every run of this process fail (for poison-queue tests)."""

from shared.engine import set_engine
from tests.support.engines import FailingEngine

set_engine(FailingEngine())
