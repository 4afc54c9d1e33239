"""What the Creatio-Dynamics scenarios through the local host share: the Creatio, Dataverse
and identity emulators, the host's settings pointing at them (the sandbox CA trusted through
the environment, as the sandbox does), runs started over the host's HTTP API, and reads and
writes through the vendors' own APIs (Creatio OData, the Dataverse Web API)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.azurite import Azurite
from sandbox.emulators.identity import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT
from sandbox.tls import TRUST_VARIABLES
from tests.e2e.conftest import RunningHost, start_host, stop_host
from tests.e2e.runs import run_through
from tests.support.creatio import RunningCreatio, login
from tests.support.dataverse import RunningDataverse
from tests.support.engine import creatio_settings

SOLUTION = "creatio-dynamics"


def systems_env(creatio: RunningCreatio, dataverse: RunningDataverse) -> dict[str, str]:
    return {
        "SHUTTLE_SOLUTIONS": SOLUTION,
        **creatio_settings(creatio),
        "DATAVERSE_URL": dataverse.url,
        "DATAVERSE_AUTHORITY_HOST": dataverse.authority,
        "DATAVERSE_TENANT_ID": SANDBOX_TENANT,
        "DATAVERSE_CLIENT_ID": SANDBOX_CLIENT_ID,
        "DATAVERSE_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        **{name: dataverse.ca for name in TRUST_VARIABLES},
    }


def run(
    api: httpx.Client, flow: str, *, dry_run: bool = False, status: str | None = "succeeded"
) -> dict:
    """Start `flow` over the host's API, wait for its end, check how it ended (`status`
    None: any end)."""
    return run_through(api, f"{SOLUTION}.{flow}", dry_run=dry_run, status=status)


def writes(admin: Any) -> int:
    return sum(admin.stats()["writes"].values())


class Crm:
    """Creatio's OData API, as its users' tools see it (a forms-auth session)."""

    def __init__(self, creatio: RunningCreatio) -> None:
        self.http, _ = login(creatio.url)

    def get(self, entity: str, record_id: str) -> dict[str, Any]:
        response = self.http.get(f"/0/odata/{entity}({record_id})")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def where(self, entity: str, odata_filter: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/0/odata/{entity}", params={"$filter": odata_filter})
        assert response.status_code == 200, response.text
        return response.json()["value"]  # type: ignore[no-any-return]

    def one(self, entity: str, odata_filter: str) -> dict[str, Any]:
        (row,) = self.where(entity, odata_filter)
        return row

    def patch(self, entity: str, record_id: str, changes: dict[str, Any]) -> None:
        response = self.http.patch(f"/0/odata/{entity}({record_id})", json=changes)
        assert response.status_code in (200, 204), response.text

    def delete(self, entity: str, record_id: str) -> None:
        response = self.http.delete(f"/0/odata/{entity}({record_id})")
        assert response.status_code in (200, 204), response.text

    def close(self) -> None:
        self.http.close()


class Dynamics:
    """The Dataverse Web API, as a Dynamics user's tools see it (a bearer token)."""

    def __init__(self, dataverse: RunningDataverse) -> None:
        self.http = dataverse.http()

    def where(self, entity_set: str, odata_filter: str | None = None) -> list[dict[str, Any]]:
        params = {"$filter": odata_filter} if odata_filter else {}
        response = self.http.get(entity_set, params=params)
        assert response.status_code == 200, response.text
        return response.json()["value"]  # type: ignore[no-any-return]

    def one(self, entity_set: str, odata_filter: str) -> dict[str, Any]:
        (row,) = self.where(entity_set, odata_filter)
        return row

    def get(self, entity_set: str, record_id: str) -> dict[str, Any]:
        response = self.http.get(f"{entity_set}({record_id})")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def create(self, entity_set: str, values: dict[str, Any]) -> str:
        response = self.http.post(entity_set, json=values)
        assert response.status_code == 204, response.text
        return response.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")

    def patch(self, entity_set: str, record_id: str, changes: dict[str, Any]) -> None:
        response = self.http.patch(f"{entity_set}({record_id})", json=changes)
        assert response.status_code == 204, response.text

    def delete(self, entity_set: str, record_id: str) -> None:
        response = self.http.delete(f"{entity_set}({record_id})")
        assert response.status_code == 204, response.text

    def close(self) -> None:
        self.http.close()


# The module-scoped fixtures of the scenario modules (test_finance_dataverse_host,
# test_rules_dataverse_host) beside the emulators of tests/e2e/conftest.py: a module takes them
# by importing them; each is registered under its public name.


@pytest.fixture(scope="module", name="host")
def host_fixture(
    e2e_azurite: Azurite,
    tmp_path_factory: pytest.TempPathFactory,
    creatio: RunningCreatio,
    dataverse: RunningDataverse,
) -> Iterator[RunningHost]:
    running = start_host(
        e2e_azurite, tmp_path_factory.mktemp("host"), **systems_env(creatio, dataverse)
    )
    yield running
    stop_host(running)


@pytest.fixture(scope="module", name="crm")
def crm_fixture(creatio: RunningCreatio) -> Iterator[Crm]:
    client = Crm(creatio)
    yield client
    client.close()


@pytest.fixture(scope="module", name="dynamics")
def dynamics_fixture(dataverse: RunningDataverse) -> Iterator[Dynamics]:
    client = Dynamics(dataverse)
    yield client
    client.close()
