"""`shuttle demo`'s own start-up: demo data in the emulators this process started, and the
mapped scheduled flows of every solution on a one-minute schedule, started.

- `data`: the records (with special characters, and one record per solution that its
  mapping rejects);
- `seed`: loads them through each emulator's admin API (`/_emulator/seed`);
- `flows`: patches and starts the flows straight in Table storage (the host is not up yet);
- `service`: the `shuttle` service that runs all of it and prints where to look.
"""

from __future__ import annotations

import argparse
import contextlib

# Where `shuttle`'s emulator starters note what this process started: {system: base URL} on
# the parsed arguments. The demo takes each entry out as it seeds it, so it seeds only
# emulators of its own (never a system someone else runs) and each instance at most once.
STARTED_EMULATORS = "started_emulators"


def note_started(args: argparse.Namespace, system: str, url: str) -> None:
    vars(args).setdefault(STARTED_EMULATORS, {})[system] = url


def start_demo(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """The demo service for `SERVICES["demo"]`: runs after the emulators, before the host."""
    # Imported here: `shuttle dev` and `shuttle host` need none of the storage stack.
    from sandbox.demo.service import start_demo as run

    run(args, stack)


__all__ = ["STARTED_EMULATORS", "note_started", "start_demo"]
