"""What every connector's `SyncConnector` shares: it wraps one vendor client, and its health
check and close are the client's."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar


class _Client(Protocol):
    async def check(self) -> None: ...

    async def aclose(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Client)


class ClientSync(Generic[ClientT]):
    def __init__(self, client: ClientT) -> None:
        self.client = client

    async def check(self) -> None:
        await self.client.check()

    async def aclose(self) -> None:
        await self.client.aclose()
