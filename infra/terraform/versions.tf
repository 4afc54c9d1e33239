terraform {
  required_version = ">= 1.9"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.42 brought rbac_authorization_enabled on azurerm_key_vault.
      version = ">= 4.42, < 5.0"
    }
    # The function app itself: azurerm_function_app_flex_consumption cannot set
    # keyVaultReferenceIdentity (Key Vault references with a user-assigned identity) and injects an
    # AzureWebJobsStorage setting that breaks identity-based host storage
    # (hashicorp/terraform-provider-azurerm #29693, #30732, PR #31439).
    azapi = {
      source  = "Azure/azapi"
      version = ">= 2.2, < 3.0"
    }
  }
}

provider "azurerm" {
  # Empty: taken from ARM_SUBSCRIPTION_ID (or az login's default subscription).
  subscription_id = var.subscription_id
  # Shared keys are off on the storage account: data-plane calls go with Entra ID.
  storage_use_azuread = true

  features {
    # private_networking closes the account's public endpoint: manage it through Resource Manager
    # only (containers by storage_account_id, no data-plane reads of the account's properties).
    storage {
      data_plane_available = false
    }
    key_vault {
      # Purge protection is on; never try to purge on destroy.
      purge_soft_delete_on_destroy    = false
      recover_soft_deleted_key_vaults = true
      recover_soft_deleted_secrets    = true
    }
  }
}

provider "azapi" {
  subscription_id = var.subscription_id
}
