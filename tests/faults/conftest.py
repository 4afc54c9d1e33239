"""The emulators of the fault suite, one of each for the module (reset per scenario)."""

from tests.support.emulator_fixtures import (  # noqa: F401 (fixtures)
    creatio_emulator,
    dataverse_emulator,
    intacct_emulator,
)
