"""Parsed IaC, once per session: pycep for infra/bicep, python-hcl2 for infra/terraform."""

from __future__ import annotations

import pytest

from tests.infra.iac import (
    KEY_VAULT_SETTINGS,
    LOCAL_ONLY_SETTINGS,
    REPLACED_IN_AZURE,
    Bicep,
    Terraform,
)
from tests.support.app_settings import is_secret, settings_types


@pytest.fixture(scope="session")
def bicep() -> Bicep:
    return Bicep.load()


@pytest.fixture(scope="session")
def tf() -> Terraform:
    return Terraform.load()


def app_secret_settings() -> set[str]:
    """The settings the app treats as secrets (SecretStr), except the local-only ones and the
    storage connection string (identity-based in Azure)."""
    secret = {name for name, annotation in settings_types().items() if is_secret(annotation)}
    return secret - set(LOCAL_ONLY_SETTINGS) - set(REPLACED_IN_AZURE)


@pytest.fixture(scope="session")
def secret_settings() -> set[str]:
    """The settings that are Key Vault references in Azure: every secret of the app among them
    (test_parity.py checks that), and nothing that is not a secret."""
    return set(KEY_VAULT_SETTINGS)
