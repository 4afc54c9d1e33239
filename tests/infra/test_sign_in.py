"""Issue 14: App Service Authentication with Microsoft Entra ID in front of the app
(authsettingsV2), on when an app registration is given: signed-in operators reach the app with
X-MS-CLIENT-PRINCIPAL, function keys keep working for machine clients (AllowAnonymous: the
Functions host still answers 401 without a key), no client secret (the app identity proves the
registration through a federated credential), SHUTTLE_AUTH_MODE=appservice only then. Both
dialects."""

from __future__ import annotations

from typing import Any

from tests.infra.iac import ROOT, Bicep, Terraform, bicep_expr, ref

FIC_SETTING = "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"
ROLES = ("Shuttle.Viewer", "Shuttle.Operator", "Shuttle.Admin")


def _check_auth_body(props: dict[str, Any], expr: Any) -> None:
    """The parts both dialects write literally; `expr` renders a dialect's expression."""
    validation = props["globalValidation"]
    # Not Return401/RedirectToLoginPage: those refuse a key-only machine client before the
    # Functions host sees its key.
    assert validation["unauthenticatedClientAction"] == "AllowAnonymous"
    assert validation["requireAuthentication"] is False
    assert "excludedPaths" not in validation
    assert props["httpSettings"]["requireHttps"] is True
    aad = props["identityProviders"]["azureActiveDirectory"]
    assert aad["registration"]["clientSecretSettingName"] == FIC_SETTING
    assert set(props["identityProviders"]) == {"azureActiveDirectory"}
    assert props["login"]["tokenStore"]["enabled"] is False
    assert expr(props["platform"]["enabled"]) == expr(aad["enabled"])


# ------------------------------------------------------------------------------------------------
# Bicep
# ------------------------------------------------------------------------------------------------


def test_bicep_authsettings_v2_on_the_app(bicep: Bicep) -> None:
    auth = bicep.one("Microsoft.Web/sites/config")
    assert auth.body["name"] == "authsettingsV2"
    assert auth.body["parent"] == bicep.one("Microsoft.Web/sites").symbol
    # Always declared: clearing authClientId turns sign-in off on the next deployment.
    assert auth.condition is None
    props = auth.properties
    _check_auth_body(props, bicep_expr)
    assert props["platform"]["enabled"] == "authEnabled"
    assert bicep_expr(bicep.variable("authEnabled")) == "!empty(authClientId)"
    registration = props["identityProviders"]["azureActiveDirectory"]["registration"]
    assert registration["clientId"] == "authClientId"
    assert registration["openIdIssuer"] == "authIssuer"
    assert bicep.variable("authIssuer") == (
        "${environment().authentication.loginEndpoint}${authTenantId}/v2.0"
    )
    validation = props["identityProviders"]["azureActiveDirectory"]["validation"]
    assert validation["allowedAudiences"] == "authAudiences"
    audiences = bicep.variable("authAudiences")["operator"]["operands"]
    assert bicep_expr(audiences["condition"]) == "empty(authAllowedAudiences)"
    assert audiences["true_value"] == ["api://${authClientId}"]


def test_bicep_sign_in_parameters(bicep: Bicep) -> None:
    assert bicep.parameter("authClientId")["default"] == ""
    assert bicep_expr(bicep.parameter("authTenantId")["default"]) == ("subscription().tenantId")
    assert bicep.parameter("authAllowedAudiences")["default"] == []
    for param in ("authClientId", "authTenantId", "authAllowedAudiences"):
        assert "description" in bicep.decorator_types(param)


def test_bicep_auth_mode_follows_sign_in(bicep: Bicep) -> None:
    settings = bicep.app_settings
    assert bicep_expr(settings["SHUTTLE_AUTH_MODE"]) == "conditional(authEnabled, appservice, keys)"
    identity = bicep.one("Microsoft.ManagedIdentity/userAssignedIdentities").symbol
    assert bicep_expr(settings[FIC_SETTING]) == f"{identity}.properties.clientId"


# ------------------------------------------------------------------------------------------------
# Terraform
# ------------------------------------------------------------------------------------------------


def test_terraform_authsettings_v2_on_the_app(tf: Terraform) -> None:
    _, auth = tf.azapi("Microsoft.Web/sites/config")
    assert auth["name"] == "authsettingsV2"
    assert ref(auth["parent_id"]) == "azapi_resource.function_app.id"
    assert "count" not in auth, "always declared, so clearing auth_client_id turns it off"
    props = auth["body"]["properties"]
    _check_auth_body(props, ref)
    assert ref(props["platform"]["enabled"]) == "local.auth_enabled"
    assert ref(tf.locals["auth_enabled"]) == 'var.auth_client_id != ""'
    aad = props["identityProviders"]["azureActiveDirectory"]
    assert ref(aad["registration"]["clientId"]) == "var.auth_client_id"
    assert ref(aad["registration"]["openIdIssuer"]) == "local.auth_issuer"
    assert tf.locals["auth_issuer"] == (
        "https://login.microsoftonline.com/${local.auth_tenant_id}/v2.0"
    )
    assert ref(tf.locals["auth_tenant_id"]) == (
        "coalesce(var.auth_tenant_id, data.azurerm_client_config.current.tenant_id)"
    )
    assert ref(aad["validation"]["allowedAudiences"]) == "local.auth_audiences"
    assert tf.locals["auth_audiences"] == (
        "${length(var.auth_allowed_audiences) > 0 ? var.auth_allowed_audiences"
        ' : ["api://${var.auth_client_id}"]}'
    )


def test_terraform_auth_mode_follows_sign_in(tf: Terraform) -> None:
    settings = tf.app_settings
    assert ref(settings["SHUTTLE_AUTH_MODE"]) == 'local.auth_enabled ? "appservice" : "keys"'
    assert ref(settings[FIC_SETTING]) == "azurerm_user_assigned_identity.app.client_id"
    assert tf.variables["auth_client_id"]["default"] == ""
    assert tf.variables["auth_tenant_id"]["default"] is None
    assert tf.variables["auth_allowed_audiences"]["default"] == []


# ------------------------------------------------------------------------------------------------
# The guide
# ------------------------------------------------------------------------------------------------


def test_deploy_guide_says_how_to_register_the_app_with_its_roles() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for role in ROLES:
        assert f"`{role}`" in guide, f"docs/deploy.md does not define the app role {role}"
    for needed in (
        "az ad app create",
        "appRoles",
        "federated-credential",
        "api://AzureADTokenExchange",
        "appRoleAssignedTo",
        "authClientId",
        "auth_client_id",
        "AllowAnonymous",
        "SHUTTLE_AUTH_MODE",
        "X-MS-CLIENT-PRINCIPAL",
        "x-functions-key",
    ):
        assert needed in guide, f"docs/deploy.md does not mention {needed}"
