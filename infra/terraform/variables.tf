# -----------------------------------------------------------------------------------------------
# Where, names and sizes
# -----------------------------------------------------------------------------------------------

variable "subscription_id" {
  description = "Subscription to deploy into; null = ARM_SUBSCRIPTION_ID or the Azure CLI's default."
  type        = string
  default     = null
}

variable "resource_group_name" {
  description = "Existing resource group to deploy into (az group create first)."
  type        = string
}

variable "environment_name" {
  description = "Environment name (dev, prod, ...): part of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,15}$", var.environment_name))
    error_message = "environment_name: 1-16 lowercase letters, digits or dashes."
  }
}

variable "name_prefix" {
  description = "Short prefix of every resource name: lowercase letters and digits."
  type        = string
  default     = "shuttle"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,7}$", var.name_prefix))
    error_message = "name_prefix: 2-8 lowercase letters or digits, starting with a letter."
  }
}

variable "location" {
  description = "Region of every resource (must offer Flex Consumption); null = the resource group's region."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "private_networking" {
  description = "Storage (blob, queue, table) and Key Vault reachable only through private endpoints in the virtual network, public network access denied. On unless a non-production environment turns it off (docs/deploy.md)."
  type        = bool
  default     = true
}

variable "vnet_address_prefix" {
  description = "Address space of the virtual network."
  type        = string
  default     = "10.40.0.0/16"
}

variable "app_subnet_prefix" {
  description = "Address range of the function app integration subnet (Flex Consumption: /27 or larger; /24 recommended)."
  type        = string
  default     = "10.40.0.0/24"
}

variable "private_endpoint_subnet_prefix" {
  description = "Address range of the subnet holding the private endpoints of storage and Key Vault (used when private_networking is on)."
  type        = string
  default     = "10.40.1.0/24"
}

variable "instance_memory_mb" {
  description = "Memory of each Flex Consumption instance, in MB."
  type        = number
  default     = 2048

  validation {
    condition     = contains([512, 2048, 4096], var.instance_memory_mb)
    error_message = "instance_memory_mb: 512, 2048 or 4096."
  }
}

variable "maximum_instance_count" {
  description = "Most instances the app scales out to. Lower it to protect rate-limited APIs."
  type        = number
  default     = 40

  validation {
    condition     = var.maximum_instance_count >= 1 && var.maximum_instance_count <= 1000
    error_message = "maximum_instance_count: 1 to 1000."
  }
}

variable "zone_redundant" {
  description = "Spread the plan over availability zones (only where Flex Consumption supports zones; needs zone-redundant storage)."
  type        = bool
  default     = false
}

variable "storage_replication_type" {
  description = "Replication of the storage account holding flow state, bindings, queues and the deployment package (GRS keeps a copy in the paired region; with zone_redundant use GZRS or ZRS)."
  type        = string
  default     = "GRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS", "RAGRS", "RAGZRS"], var.storage_replication_type)
    error_message = "storage_replication_type: LRS, ZRS, GRS, GZRS, RAGRS or RAGZRS."
  }
}

variable "log_retention_days" {
  description = "Days Log Analytics keeps the logs and traces."
  type        = number
  default     = 90
}

variable "nat_idle_timeout_minutes" {
  description = "Minutes an idle outbound flow stays open on the NAT gateway."
  type        = number
  default     = 10

  validation {
    condition     = var.nat_idle_timeout_minutes >= 4 && var.nat_idle_timeout_minutes <= 120
    error_message = "nat_idle_timeout_minutes: 4 to 120."
  }
}

variable "operator_principal_id" {
  description = "Object id that gets Key Vault Secrets Officer on the vault (sets and rotates secrets); null = whoever runs Terraform."
  type        = string
  default     = null
}

# -----------------------------------------------------------------------------------------------
# App settings (local.settings.example.json lists them all; README documents them)
# -----------------------------------------------------------------------------------------------

variable "solutions" {
  description = "SHUTTLE_SOLUTIONS: comma list of enabled solutions."
  type        = string
  default     = "creatio-intacct,creatio-dynamics"
}

variable "scheduler_schedule" {
  description = "SHUTTLE_SCHEDULER_SCHEDULE: NCRONTAB (six fields, seconds first) of the scheduler tick."
  type        = string
  default     = "*/15 * * * * *"
}

variable "table_prefix" {
  description = "SHUTTLE_TABLE_PREFIX: prefix of Shuttle's table and queue names (lowercase letters and digits)."
  type        = string
  default     = "shuttle"
}

variable "run_lease_seconds" {
  description = "SHUTTLE_RUN_LEASE_SECONDS: how long a run may go silent before it is recovered."
  type        = number
  default     = 600
}

variable "read_overlap_seconds" {
  description = "SHUTTLE_READ_OVERLAP_SECONDS: each incremental read starts this long before query starts."
  type        = number
  default     = 120

  validation {
    condition     = var.read_overlap_seconds >= 0 && var.read_overlap_seconds <= 86400
    error_message = "SHUTTLE_READ_OVERLAP_SECONDS must be between 0 and 86400."
  }
}

variable "page_size" {
  description = "SHUTTLE_PAGE_SIZE: records read per flow-runs message."
  type        = number
  default     = 500

  validation {
    condition     = var.page_size >= 1 && var.page_size <= 5000
    error_message = "SHUTTLE_PAGE_SIZE must be between 1 and 5000."
  }
}

variable "chunk_size" {
  description = "SHUTTLE_CHUNK_SIZE: records per record-upserts message, matched and written together."
  type        = number
  default     = 100

  validation {
    condition     = var.chunk_size >= 1 && var.chunk_size <= 500
    error_message = "SHUTTLE_CHUNK_SIZE must be between 1 and 500."
  }
}

variable "intacct_timezone" {
  description = "INTACCT_TIMEZONE: the Intacct company time zone, in which WHENMODIFIED is reported."
  type        = string
  default     = "America/Los_Angeles"
}

variable "intacct_max_in_flight" {
  description = "INTACCT_MAX_IN_FLIGHT: Intacct requests in flight for the company, all workers together (the Intacct default limit is 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.intacct_max_in_flight >= 1 && var.intacct_max_in_flight <= 50
    error_message = "INTACCT_MAX_IN_FLIGHT must be between 1 and 50."
  }
}

variable "creatio_timeout_seconds" {
  description = "CREATIO_TIMEOUT_SECONDS: how long one Creatio request may take before it is given up and retried."
  type        = number
  default     = 30

  validation {
    condition     = var.creatio_timeout_seconds >= 1 && var.creatio_timeout_seconds <= 900
    error_message = "CREATIO_TIMEOUT_SECONDS must be between 1 and 900."
  }
}

variable "intacct_timeout_seconds" {
  description = "INTACCT_TIMEOUT_SECONDS: how long one Intacct request may take; a hung call holds one of the company's few slots until then."
  type        = number
  default     = 30

  validation {
    condition     = var.intacct_timeout_seconds >= 1 && var.intacct_timeout_seconds <= 900
    error_message = "INTACCT_TIMEOUT_SECONDS must be between 1 and 900."
  }
}

variable "dataverse_timeout_seconds" {
  description = "DATAVERSE_TIMEOUT_SECONDS: how long one Dataverse request may take ($batch requests carry up to 100 records)."
  type        = number
  default     = 60

  validation {
    condition     = var.dataverse_timeout_seconds >= 1 && var.dataverse_timeout_seconds <= 900
    error_message = "DATAVERSE_TIMEOUT_SECONDS must be between 1 and 900."
  }
}

variable "dataverse_max_concurrency" {
  description = "DATAVERSE_MAX_CONCURRENCY: Dataverse concurrent requests per worker (service protection allows 52)."
  type        = number
  default     = 52

  validation {
    condition     = var.dataverse_max_concurrency >= 1 && var.dataverse_max_concurrency <= 52
    error_message = "DATAVERSE_MAX_CONCURRENCY must be between 1 and 52."
  }
}

variable "creatio_url" {
  description = "CREATIO_URL: the Creatio site, e.g. https://example.creatio.com."
  type        = string
  default     = ""
}

variable "creatio_auth" {
  description = "CREATIO_AUTH: forms (AuthService login) or oauth (client credentials)."
  type        = string
  default     = "forms"

  validation {
    condition     = contains(["forms", "oauth"], var.creatio_auth)
    error_message = "creatio_auth: forms or oauth."
  }
}

variable "creatio_username" {
  description = "CREATIO_USERNAME: forms login user."
  type        = string
  default     = ""
}

variable "creatio_identity_url" {
  description = "CREATIO_IDENTITY_URL: Creatio identity service (oauth)."
  type        = string
  default     = ""
}

variable "creatio_client_id" {
  description = "CREATIO_CLIENT_ID: Creatio OAuth client id."
  type        = string
  default     = ""
}

variable "intacct_endpoint" {
  description = "INTACCT_ENDPOINT: the Sage Intacct XML gateway."
  type        = string
  default     = "https://api.intacct.com/ia/xml/xmlgw.phtml"
}

variable "intacct_sender_id" {
  description = "INTACCT_SENDER_ID: Web Services sender id."
  type        = string
  default     = ""
}

variable "intacct_company_id" {
  description = "INTACCT_COMPANY_ID: Intacct company id."
  type        = string
  default     = ""
}

variable "intacct_entity_id" {
  description = "INTACCT_ENTITY_ID: Intacct entity id (optional)."
  type        = string
  default     = ""
}

variable "intacct_user_id" {
  description = "INTACCT_USER_ID: Intacct Web Services user."
  type        = string
  default     = ""
}

variable "dataverse_url" {
  description = "DATAVERSE_URL: the Dataverse environment, e.g. https://org.crm.dynamics.com."
  type        = string
  default     = ""
}

variable "dataverse_tenant_id" {
  description = "DATAVERSE_TENANT_ID: Entra tenant of the Dataverse app registration."
  type        = string
  default     = ""
}

variable "dataverse_client_id" {
  description = "DATAVERSE_CLIENT_ID: client id of the Dataverse app registration."
  type        = string
  default     = ""
}

variable "dataverse_authority_host" {
  description = "DATAVERSE_AUTHORITY_HOST: Entra authority host."
  type        = string
  default     = "https://login.microsoftonline.com"
}

# Secrets: the first apply writes them to Key Vault (empty when not given); afterwards Terraform
# ignores their value and operators rotate them in the vault. The app reads them by Key Vault
# reference.

variable "creatio_password" {
  description = "CREATIO_PASSWORD: initial value of the Key Vault secret."
  type        = string
  default     = ""
  sensitive   = true
}

variable "creatio_client_secret" {
  description = "CREATIO_CLIENT_SECRET: initial value of the Key Vault secret."
  type        = string
  default     = ""
  sensitive   = true
}

variable "intacct_sender_password" {
  description = "INTACCT_SENDER_PASSWORD: initial value of the Key Vault secret."
  type        = string
  default     = ""
  sensitive   = true
}

variable "intacct_user_password" {
  description = "INTACCT_USER_PASSWORD: initial value of the Key Vault secret."
  type        = string
  default     = ""
  sensitive   = true
}

variable "dataverse_client_secret" {
  description = "DATAVERSE_CLIENT_SECRET: initial value of the Key Vault secret."
  type        = string
  default     = ""
  sensitive   = true
}

variable "dataverse_client_cert" {
  description = "DATAVERSE_CLIENT_CERT: initial value of the Key Vault secret, the PEM (unencrypted private key + certificate); without it the app uses DATAVERSE_CLIENT_SECRET (docs/deploy.md)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "smtp_password" {
  description = "SHUTTLE_SMTP_PASSWORD: initial value of the Key Vault secret."
  type        = string
  default     = ""
  sensitive   = true
}

# -----------------------------------------------------------------------------------------------
# Notifications (docs/operations.md): the SMTP relay alerts go through and their defaults
# -----------------------------------------------------------------------------------------------

variable "smtp_host" {
  description = "SHUTTLE_SMTP_HOST: SMTP relay of alert e-mails; empty = no e-mail (webhooks still work)."
  type        = string
  default     = ""
}

variable "smtp_port" {
  description = "SHUTTLE_SMTP_PORT: SMTP port (587 with starttls, 465 with tls)."
  type        = number
  default     = 587

  validation {
    condition     = var.smtp_port >= 1 && var.smtp_port <= 65535
    error_message = "SHUTTLE_SMTP_PORT must be between 1 and 65535."
  }
}

variable "smtp_security" {
  description = "SHUTTLE_SMTP_SECURITY: starttls, tls (implicit TLS) or none (never across the internet)."
  type        = string
  default     = "starttls"

  validation {
    condition     = contains(["starttls", "tls", "none"], var.smtp_security)
    error_message = "SHUTTLE_SMTP_SECURITY: starttls, tls or none."
  }
}

variable "smtp_username" {
  description = "SHUTTLE_SMTP_USERNAME: SMTP login, if the relay needs one."
  type        = string
  default     = ""
}

variable "mail_from" {
  description = "SHUTTLE_MAIL_FROM: sender address of alerts."
  type        = string
  default     = ""
}

variable "notify_mode" {
  description = "SHUTTLE_NOTIFY_MODE: notification mode until an operator changes it through /api/settings/notifications."
  type        = string
  default     = "connection_failures"

  validation {
    condition = contains([
      "none",
      "connection_failures",
      "every_error",
      "connection_failures_and_full_daily",
      "connection_failures_and_error_daily",
      "error_daily",
      "full_daily",
    ], var.notify_mode)
    error_message = "SHUTTLE_NOTIFY_MODE: one of the seven modes in docs/operations.md."
  }
}

variable "admin_email" {
  description = "SHUTTLE_ADMIN_EMAIL: default admin address of alerts."
  type        = string
  default     = ""
}

variable "connection_monitor_schedule" {
  description = "SHUTTLE_CONNECTION_MONITOR_SCHEDULE: NCRONTAB (six fields, seconds first) of the connection monitor."
  type        = string
  default     = "0 */5 * * * *"
}

# -----------------------------------------------------------------------------------------------
# Sign-in: App Service Authentication with Microsoft Entra ID (docs/deploy.md, "Operator sign-in")
# -----------------------------------------------------------------------------------------------

variable "key_names" {
  description = "Names of function keys for the audit trail: name=fingerprint pairs, comma-separated; a fingerprint is the first 12 hex digits of the key's SHA-256 (the app never sees a key's name: README, Access and audit)."
  type        = string
  default     = ""
}

variable "auth_client_id" {
  description = "Client id of the Entra app registration operators sign in to (app roles Shuttle.Viewer, Shuttle.Operator, Shuttle.Admin); empty = no App Service Authentication, function keys only."
  type        = string
  default     = ""
}

variable "auth_tenant_id" {
  description = "Entra tenant of that app registration; null = the tenant Terraform runs in. The token issuer is https://login.microsoftonline.com/<tenant>/v2.0."
  type        = string
  default     = null
}

variable "auth_allowed_audiences" {
  description = "Audiences a bearer token may carry; empty = api://<auth_client_id>."
  type        = list(string)
  default     = []
}
