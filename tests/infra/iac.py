"""Offline readers for infra/bicep (pycep-parser) and infra/terraform (python-hcl2), and the tables
that say which Bicep thing is which Terraform thing.

Neither the bicep nor the terraform CLI runs here, so the tests read the source: pycep turns Bicep
into dicts whose expressions are nested operator/function dicts (rendered back to Bicep-like text
by `bicep_expr`), python-hcl2 turns HCL into dicts whose references stay `${...}` strings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
BICEP_DIR = ROOT / "infra" / "bicep"
TERRAFORM_DIR = ROOT / "infra" / "terraform"
LOCAL_SETTINGS = ROOT / "local.settings.example.json"

# ------------------------------------------------------------------------------------------------
# The contract with the app's settings
# ------------------------------------------------------------------------------------------------

# In local.settings.example.json but deliberately NOT set in Azure.
LOCAL_ONLY_SETTINGS = {
    # The local host's stand-in for function keys; in Azure the platform checks real function
    # keys, and a value here would suggest it protects something.
    "SHUTTLE_LOCAL_KEY": "local host only",
}
# In local.settings.example.json, expressed differently in Azure (and so absent as app settings).
REPLACED_IN_AZURE = {
    # Flex Consumption takes the runtime from functionAppConfig.runtime and rejects the setting.
    "FUNCTIONS_WORKER_RUNTIME": "functionAppConfig.runtime python 3.11",
    # A connection string needs an account key (keys are off); an empty value shadows the
    # identity-based settings below. The AzureWebJobsStorage__* settings replace it.
    "AzureWebJobsStorage": "AzureWebJobsStorage__accountName/__credential/__clientId",
}
# Set in Azure only.
IDENTITY_STORAGE_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
}
AZURE_ONLY_SETTINGS = IDENTITY_STORAGE_SETTINGS | {
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    # Read by App Service Authentication, not the app: the managed identity that proves the app
    # registration (federated credential) instead of a client secret.
    "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID",
}
# Settings of issues 13 (notifications) and 14 (sign-in) that the infrastructure sets. The app's
# side (shared/settings.py, local.settings.example.json) lands with those issues; until it has,
# local.settings.example.json may not list them yet, so the contract names them here.
NOTIFICATION_SETTINGS = {
    "SHUTTLE_SMTP_HOST",
    "SHUTTLE_SMTP_PORT",
    "SHUTTLE_SMTP_SECURITY",
    "SHUTTLE_SMTP_USERNAME",
    "SHUTTLE_SMTP_PASSWORD",
    "SHUTTLE_MAIL_FROM",
    "SHUTTLE_NOTIFY_MODE",
    "SHUTTLE_ADMIN_EMAIL",
    "SHUTTLE_CONNECTION_MONITOR_SCHEDULE",
}
SIGN_IN_SETTINGS = {"SHUTTLE_AUTH_MODE"}
# Every setting that is a Key Vault reference in Azure: the app's secrets (each a SecretStr in
# shared/settings.py, which conftest.py checks) and nothing else.
KEY_VAULT_SETTINGS = {
    "CREATIO_PASSWORD",
    "CREATIO_CLIENT_SECRET",
    "INTACCT_SENDER_PASSWORD",
    "INTACCT_USER_PASSWORD",
    "DATAVERSE_CLIENT_SECRET",
    # A PEM private key (issue 12 item 8).
    "DATAVERSE_CLIENT_CERT",
    "SHUTTLE_SMTP_PASSWORD",
}
# Never an app setting on Flex Consumption (or with identity-based storage).
FORBIDDEN_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "AzureWebJobsStorage",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_VNET_ROUTE_ALL",
    "APPINSIGHTS_INSTRUMENTATIONKEY",
    "SHUTTLE_LOCAL_KEY",
}

# ------------------------------------------------------------------------------------------------
# Bicep type <-> Terraform type
# ------------------------------------------------------------------------------------------------

# (kind, Bicep resource type, Terraform resource type). azapi resources are named
# "azapi_resource:<ARM type>", since the resource type alone does not say what they are.
KINDS: list[tuple[str, str, str]] = [
    (
        "identity",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "azurerm_user_assigned_identity",
    ),
    (
        "log_analytics",
        "Microsoft.OperationalInsights/workspaces",
        "azurerm_log_analytics_workspace",
    ),
    ("app_insights", "Microsoft.Insights/components", "azurerm_application_insights"),
    ("storage", "Microsoft.Storage/storageAccounts", "azurerm_storage_account"),
    (
        "deployment_container",
        "Microsoft.Storage/storageAccounts/blobServices/containers",
        "azurerm_storage_container",
    ),
    ("key_vault", "Microsoft.KeyVault/vaults", "azurerm_key_vault"),
    (
        "key_vault_secret",
        "Microsoft.KeyVault/vaults/secrets",
        "azapi_resource:Microsoft.KeyVault/vaults/secrets",
    ),
    ("public_ip", "Microsoft.Network/publicIPAddresses", "azurerm_public_ip"),
    ("nat_gateway", "Microsoft.Network/natGateways", "azurerm_nat_gateway"),
    ("nsg", "Microsoft.Network/networkSecurityGroups", "azurerm_network_security_group"),
    ("vnet", "Microsoft.Network/virtualNetworks", "azurerm_virtual_network"),
    ("subnet", "Microsoft.Network/virtualNetworks/subnets", "azurerm_subnet"),
    ("role_assignment", "Microsoft.Authorization/roleAssignments", "azurerm_role_assignment"),
    ("plan", "Microsoft.Web/serverfarms", "azurerm_service_plan"),
    ("function_app", "Microsoft.Web/sites", "azapi_resource:Microsoft.Web/sites"),
    ("private_dns_zone", "Microsoft.Network/privateDnsZones", "azurerm_private_dns_zone"),
    (
        "private_dns_zone_link",
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
        "azurerm_private_dns_zone_virtual_network_link",
    ),
    ("private_endpoint", "Microsoft.Network/privateEndpoints", "azurerm_private_endpoint"),
    (
        "diagnostic_setting",
        "Microsoft.Insights/diagnosticSettings",
        "azurerm_monitor_diagnostic_setting",
    ),
    (
        "publishing_credentials_policy",
        "Microsoft.Web/sites/basicPublishingCredentialsPolicies",
        "azapi_resource:Microsoft.Web/sites/basicPublishingCredentialsPolicies",
    ),
    ("site_config", "Microsoft.Web/sites/config", "azapi_resource:Microsoft.Web/sites/config"),
]
BICEP_KIND = {bicep: kind for kind, bicep, _ in KINDS}
TERRAFORM_KIND = {tf: kind for kind, _, tf in KINDS}

# A separate resource on one side, a property on the other (each asserted in the side's tests).
BICEP_ONLY_TYPES = {
    "Microsoft.Storage/storageAccounts/blobServices": "azurerm_storage_account.blob_properties",
    "Microsoft.Storage/storageAccounts/queueServices": "diagnostic setting target_resource_id",
    "Microsoft.Storage/storageAccounts/tableServices": "diagnostic setting target_resource_id",
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups": (
        "azurerm_private_endpoint.private_dns_zone_group"
    ),
}
TERRAFORM_ONLY_TYPES = {
    "azurerm_nat_gateway_public_ip_association": "natGateways properties.publicIpAddresses",
    "azurerm_subnet_nat_gateway_association": "subnet properties.natGateway",
    "azurerm_subnet_network_security_group_association": "subnet properties.networkSecurityGroup",
}

# Built-in role definitions: name (Terraform role_definition_name) -> id (Bicep).
ROLES = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}
ROLE_NAMES = {guid: name for name, guid in ROLES.items()}

# (principal, scope kind, role): the app identity's roles, and nothing else for it.
EXPECTED_APP_ROLES = {
    ("app", "storage", "Storage Blob Data Owner"),
    ("app", "storage", "Storage Queue Data Contributor"),
    ("app", "storage", "Storage Table Data Contributor"),
    ("app", "key_vault", "Key Vault Secrets User"),
    ("app", "app_insights", "Monitoring Metrics Publisher"),
}
EXPECTED_OPERATOR_ROLES = {("operator", "key_vault", "Key Vault Secrets Officer")}

# Bicep output -> Terraform output.
OUTPUTS = {
    "FUNCTION_APP_NAME": "function_app_name",
    "FUNCTION_APP_HOSTNAME": "function_app_default_hostname",
    "EGRESS_IP_ADDRESS": "egress_ip_address",
    "KEY_VAULT_NAME": "key_vault_name",
    "STORAGE_ACCOUNT_NAME": "storage_account_name",
    "AZURE_RESOURCE_GROUP": "resource_group_name",
}

# Bicep parameter -> Terraform variable where camelCase -> snake_case does not give it.
PARAMETER_RENAMES = {"storageSku": "storage_replication_type"}
BICEP_ONLY_PARAMETERS = {
    # Terraform leaves principal_type unset for the operator (whoever runs it may be a user or a
    # service principal); ARM needs it only to skip a directory lookup.
    "operatorPrincipalType",
}
TERRAFORM_ONLY_VARIABLES = {
    # Bicep deploys into the resource group and subscription of the deployment command.
    "subscription_id",
    "resource_group_name",
}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def local_settings() -> dict[str, str]:
    return json.loads(LOCAL_SETTINGS.read_text())["Values"]


def expected_azure_settings() -> set[str]:
    return (
        (set(local_settings()) | NOTIFICATION_SETTINGS | SIGN_IN_SETTINGS)
        - set(LOCAL_ONLY_SETTINGS)
        - set(REPLACED_IN_AZURE)
    ) | AZURE_ONLY_SETTINGS


# ------------------------------------------------------------------------------------------------
# Bicep
# ------------------------------------------------------------------------------------------------


def bicep_expr(node: Any) -> str:
    """Render a pycep expression back to Bicep-like text: `identity.properties.clientId`,
    `!empty(creatioPassword)`, `subscription_resource_id(Microsoft.Authorization/...)`."""
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, int | float):
        return str(node)
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "[" + ", ".join(bicep_expr(n) for n in node) + "]"
    if "operator" in node:
        op = node["operator"]
        operands = op.get("operands", {})
        if op["type"] == "property_accessor":
            return f"{bicep_expr(operands['operand_1'])}.{bicep_expr(operands['operand_2'])}"
        if op["type"] == "not":
            return "!" + bicep_expr(operands["bool_value"])
        inner = ", ".join(bicep_expr(v) for v in operands.values())
        return f"{op['type']}({inner})"
    if "function" in node:
        fn = node["function"]
        args = ", ".join(bicep_expr(v) for v in fn.get("parameters", {}).values() if v is not None)
        return f"{fn['type']}({args})"
    return json.dumps(node, sort_keys=True, default=str)


@dataclass
class BicepResource:
    symbol: str
    type: str
    existing: bool
    body: dict[str, Any]
    condition: str | None  # rendered `if (...)` condition, None when unconditional
    decorators: list[Any] = field(default_factory=list)

    @property
    def properties(self) -> dict[str, Any]:
        return self.body.get("properties", {})


@dataclass
class Bicep:
    doc: dict[str, Any]
    text: str

    @classmethod
    def load(cls, path: Path = BICEP_DIR / "main.bicep") -> Bicep:
        return cls(BicepParser().parse(file_path=path), path.read_text())

    @property
    def resources(self) -> dict[str, BicepResource]:
        out = {}
        for symbol, raw in self.doc["resources"].items():
            config = raw["config"]
            condition = None
            if set(config) == {"condition", "config"}:
                condition, config = bicep_expr(config["condition"]), config["config"]
            out[symbol] = BicepResource(
                symbol, raw["type"], raw["existing"], config, condition, raw["decorators"]
            )
        return out

    def resource(self, symbol: str) -> BicepResource:
        return self.resources[symbol]

    def of_type(self, type_: str, *, existing: bool = False) -> dict[str, BicepResource]:
        return {
            s: r for s, r in self.resources.items() if r.type == type_ and r.existing == existing
        }

    def one(self, type_: str) -> BicepResource:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
        return next(iter(found.values()))

    def variable(self, name: str) -> Any:
        return self.doc["variables"][name]["value"]

    def parameter(self, name: str) -> dict[str, Any]:
        return self.doc["parameters"][name]

    def literal(self, name: str) -> Any:
        """The value of a variable, or a parameter's default, named `name`."""
        if name in self.doc.get("variables", {}):
            return self.variable(name)
        return self.parameter(name).get("default")

    def decorator_types(self, param: str) -> set[str]:
        return {d["type"] for d in self.parameter(param)["decorators"]}

    @property
    def app_settings(self) -> dict[str, Any]:
        """The function app's siteConfig.appSettings as {name: value expression}."""
        (site,) = self.of_type("Microsoft.Web/sites").values()
        entries = site.properties["siteConfig"]["appSettings"]
        assert isinstance(entries, list), "appSettings should be a literal list"
        assert all(set(e) == {"name", "value"} for e in entries)
        names = [e["name"] for e in entries]
        assert len(names) == len(set(names)), "an app setting is listed twice"
        return {e["name"]: e["value"] for e in entries}

    def kinds(self) -> dict[str, int]:
        """How many of each kind the template declares (inline subnets count as subnets)."""
        counts: dict[str, int] = {}
        for r in self.resources.values():
            if r.existing or r.type in BICEP_ONLY_TYPES:
                continue
            kind = BICEP_KIND.get(r.type, f"unmapped:{r.type}")
            counts[kind] = counts.get(kind, 0) + 1
            if r.type == "Microsoft.Network/virtualNetworks":
                subnets = len(r.properties.get("subnets", []))
                counts["subnet"] = counts.get("subnet", 0) + subnets
        return counts


# ------------------------------------------------------------------------------------------------
# Terraform
# ------------------------------------------------------------------------------------------------

_HCL_OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)


def ref(value: Any) -> str:
    """`${azurerm_subnet.functions.id}` -> `azurerm_subnet.functions.id`: the expression of a
    value that is one interpolation; any other value as text."""
    text = str(value)
    if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
        return text[2:-1]
    return text


def block(value: Any) -> dict[str, Any]:
    """A nested block (python-hcl2 gives a list of one dict) as the dict."""
    if isinstance(value, list):
        assert len(value) == 1, f"expected one block, got {len(value)}"
        return value[0]
    return value


@dataclass
class Terraform:
    resources: dict[str, dict[str, dict[str, Any]]]
    data: dict[str, dict[str, dict[str, Any]]]
    locals: dict[str, Any]
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    text: str

    @classmethod
    def load(cls, directory: Path = TERRAFORM_DIR) -> Terraform:
        tf = cls({}, {}, {}, {}, {}, "")
        texts = []
        for path in sorted(directory.glob("*.tf")):
            texts.append(path.read_text())
            with path.open() as fh:
                doc = hcl2.load(fh, serialization_options=_HCL_OPTIONS)
            for entry in doc.get("resource", []):
                for type_, named in entry.items():
                    for name, body in named.items():
                        assert name not in tf.resources.get(type_, {}), f"{type_}.{name} twice"
                        tf.resources.setdefault(type_, {})[name] = body
            for entry in doc.get("data", []):
                for type_, named in entry.items():
                    tf.data.setdefault(type_, {}).update(named)
            for entry in doc.get("locals", []):
                for key in entry:
                    assert key not in tf.locals, f"local.{key} defined twice"
                tf.locals.update(entry)
            for entry in doc.get("variable", []):
                tf.variables.update(entry)
            for entry in doc.get("output", []):
                tf.outputs.update(entry)
        tf.text = "\n".join(texts)
        return tf

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return self.resources.get(type_, {})

    def one(self, type_: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
        return next(iter(found.items()))

    def azapi(self, arm_type: str) -> tuple[str, dict[str, Any]]:
        found = [
            (name, body)
            for name, body in self.of_type("azapi_resource").items()
            if str(body["type"]).split("@")[0] == arm_type
        ]
        assert len(found) == 1, f"expected one azapi_resource of {arm_type}, found {len(found)}"
        return found[0]

    @property
    def app_settings(self) -> dict[str, Any]:
        return self.locals["app_settings"]

    def instances(self, body: dict[str, Any]) -> int:
        """How many the resource declares; one switched on or off by a condition counts as on,
        as a Bicep `if` resource does."""
        if "for_each" in body:
            each = ref(body["for_each"])
            switched = re.fullmatch(r"var\.\w+ \? (local\.\w+) : \{\}", each)
            local = (switched.group(1) if switched else each).removeprefix("local.")
            return len(self.locals[local])
        if "count" in body:
            count = ref(body["count"])
            if re.fullmatch(r"var\.\w+ \? 1 : 0", count):
                return 1
            return int(count)
        return 1

    def kinds(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for type_, named in self.resources.items():
            if type_ in TERRAFORM_ONLY_TYPES:
                continue
            for body in named.values():
                key = type_
                if type_ == "azapi_resource":
                    key = f"azapi_resource:{str(body['type']).split('@')[0]}"
                kind = TERRAFORM_KIND.get(key, f"unmapped:{key}")
                counts[kind] = counts.get(kind, 0) + self.instances(body)
        return counts
