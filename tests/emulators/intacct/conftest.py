"""The session's Intacct emulator, reset before each test."""

from tests.support.intacct import intacct, intacct_server

__all__ = ["intacct", "intacct_server"]
