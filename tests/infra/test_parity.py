"""Bicep and Terraform declare the same things, and both carry every app setting the app reads."""

from __future__ import annotations

import pytest

from tests.infra.iac import (
    BICEP_ONLY_PARAMETERS,
    EXPECTED_APP_ROLES,
    EXPECTED_OPERATOR_ROLES,
    FORBIDDEN_SETTINGS,
    IDENTITY_STORAGE_SETTINGS,
    KINDS,
    LOCAL_ONLY_SETTINGS,
    OUTPUTS,
    PARAMETER_RENAMES,
    REPLACED_IN_AZURE,
    ROLE_NAMES,
    TERRAFORM_ONLY_VARIABLES,
    Bicep,
    Terraform,
    bicep_expr,
    expected_azure_settings,
    local_settings,
    ref,
    snake,
)
from tests.support.app_settings import setting_names


def test_local_settings_example_is_covered_by_the_allow_lists() -> None:
    values = set(local_settings())
    # The allow-lists only name settings that exist, and say why (see iac.py).
    assert set(LOCAL_ONLY_SETTINGS) <= values
    assert set(REPLACED_IN_AZURE) <= values
    assert LOCAL_ONLY_SETTINGS.keys() == {"SHUTTLE_LOCAL_KEY"}
    # The identity-based names are the ones the app itself reads (shared/settings.py).
    aliases = setting_names()
    assert {"AzureWebJobsStorage__accountName", "AzureWebJobsStorage__clientId"} <= aliases
    assert expected_azure_settings() >= IDENTITY_STORAGE_SETTINGS


@pytest.mark.parametrize("side", ["bicep", "terraform"])
def test_every_app_setting_is_set_except_the_local_only_ones(
    side: str, bicep: Bicep, tf: Terraform
) -> None:
    settings = set(bicep.app_settings if side == "bicep" else tf.app_settings)
    missing = expected_azure_settings() - settings
    assert not missing, f"{side} does not set {sorted(missing)}"
    unexpected = settings - expected_azure_settings()
    assert not unexpected, f"{side} sets {sorted(unexpected)}: add them to the contract in iac.py"
    assert not settings & (set(LOCAL_ONLY_SETTINGS) | FORBIDDEN_SETTINGS)


def test_both_declare_the_same_app_settings(bicep: Bicep, tf: Terraform) -> None:
    assert set(bicep.app_settings) == set(tf.app_settings)


def test_both_use_the_same_key_vault_secret_names(
    bicep: Bicep, tf: Terraform, secret_settings: set[str]
) -> None:
    bicep_names = {}
    for setting in secret_settings:
        var = bicep.app_settings[setting].rsplit("${", 1)[1].split("}")[0]
        bicep_names[setting] = bicep.literal(var)
    assert bicep_names == tf.locals["secret_names"]
    assert len(set(bicep_names.values())) == len(secret_settings)


def test_both_declare_the_same_resource_kinds_and_counts(bicep: Bicep, tf: Terraform) -> None:
    bicep_kinds, tf_kinds = bicep.kinds(), tf.kinds()
    assert not [k for k in bicep_kinds if k.startswith("unmapped:")], bicep_kinds
    assert not [k for k in tf_kinds if k.startswith("unmapped:")], tf_kinds
    assert bicep_kinds == tf_kinds
    assert set(bicep_kinds) == {kind for kind, _, _ in KINDS}


def _bicep_roles(bicep: Bicep) -> set[tuple[str, str, str]]:
    identity = bicep.one("Microsoft.ManagedIdentity/userAssignedIdentities").symbol
    kind_of = {bicep_type: kind for kind, bicep_type, _ in KINDS}
    out = set()
    for r in bicep.of_type("Microsoft.Authorization/roleAssignments").values():
        role = r.properties["roleDefinitionId"]["function"]["parameters"]
        guid = bicep.literal(role["resource_name_1"])
        principal = bicep_expr(r.properties["principalId"])
        who = "app" if principal == f"{identity}.properties.principalId" else "operator"
        out.add((who, kind_of[bicep.resource(r.body["scope"]).type], ROLE_NAMES[guid]))
    return out


def _terraform_roles(tf: Terraform) -> set[tuple[str, str, str]]:
    kind_of = {tf_type: kind for kind, _, tf_type in KINDS}
    out = set()
    for body in tf.of_type("azurerm_role_assignment").values():
        principal = ref(body["principal_id"])
        who = "app" if principal.startswith("azurerm_user_assigned_identity.") else "operator"
        out.add((who, kind_of[ref(body["scope"]).split(".")[0]], body["role_definition_name"]))
    return out


def test_both_grant_the_same_roles(bicep: Bicep, tf: Terraform) -> None:
    expected = EXPECTED_APP_ROLES | EXPECTED_OPERATOR_ROLES
    assert _bicep_roles(bicep) == expected
    assert _terraform_roles(tf) == expected


def test_both_have_the_same_outputs(bicep: Bicep, tf: Terraform) -> None:
    assert set(bicep.doc["outputs"]) == set(OUTPUTS)
    assert set(tf.outputs) == set(OUTPUTS.values())


def _comparable(value: object) -> bool:
    return isinstance(value, bool | int | str) and not str(value).startswith("${")


def test_both_take_the_same_parameters_with_the_same_defaults(bicep: Bicep, tf: Terraform) -> None:
    params = set(bicep.doc["parameters"]) - BICEP_ONLY_PARAMETERS
    as_variables = {PARAMETER_RENAMES.get(p, snake(p)): p for p in params}
    assert set(as_variables) == set(tf.variables) - TERRAFORM_ONLY_VARIABLES
    for variable, param in as_variables.items():
        b_param, t_var = bicep.parameter(param), tf.variables[variable]
        secure = "secure" in bicep.decorator_types(param)
        assert secure == bool(t_var.get("sensitive")), f"{param} / {variable}: secret on one side"
        b_default, t_default = b_param.get("default"), t_var.get("default")
        if param in PARAMETER_RENAMES or not (_comparable(b_default) and _comparable(t_default)):
            continue
        assert b_default == t_default, f"{param}={b_default!r} but {variable}={t_default!r}"
    # The one renamed default says the same thing in each dialect.
    replication = tf.variables["storage_replication_type"]["default"]
    assert bicep.parameter("storageSku")["default"] == f"Standard_{replication}"


def test_both_set_the_same_literal_setting_values(bicep: Bicep, tf: Terraform) -> None:
    names = set(bicep.doc["parameters"]) | set(bicep.doc["variables"])
    literals = {
        name: value
        for name, value in bicep.app_settings.items()
        if isinstance(value, str) and "${" not in value and value not in names
    }
    assert literals == {"AzureWebJobsStorage__credential": "managedidentity"}
    for name, value in literals.items():
        assert tf.app_settings[name] == value, name
