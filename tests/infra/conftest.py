"""Parsed IaC, once per session: pycep for infra/bicep, python-hcl2 for infra/terraform."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import SecretStr

from shared.settings import Settings
from tests.infra.iac import LOCAL_ONLY_SETTINGS, REPLACED_IN_AZURE, Bicep, Terraform


@pytest.fixture(scope="session")
def bicep() -> Bicep:
    return Bicep.load()


@pytest.fixture(scope="session")
def tf() -> Terraform:
    return Terraform.load()


@pytest.fixture(scope="session")
def secret_settings() -> set[str]:
    """The settings the app treats as secrets (SecretStr), except the local-only ones and the
    storage connection string (identity-based in Azure): each must be a Key Vault reference."""
    secret = {
        f.alias
        for f in Settings.model_fields.values()
        if f.alias and (f.annotation is SecretStr or SecretStr in get_args(f.annotation))
    }
    return secret - set(LOCAL_ONLY_SETTINGS) - set(REPLACED_IN_AZURE)
