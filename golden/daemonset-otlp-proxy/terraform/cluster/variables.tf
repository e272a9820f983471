# Every default comes from blueprint daemonset-otlp-proxy: the module applies with no -var and no edits.

variable "region" {
  description = "AWS region of the cluster and of every resource of this module."
  type        = string
  default     = "ap-southeast-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "account_id" {
  description = "AWS account the resources belong to; the provider refuses to work in any other."
  type        = string
  default     = "111122223333"

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "The account id must be 12 digits."
  }
}

variable "cluster_name" {
  description = "Name of the EKS cluster."
  type        = string
  default     = "shop-prod"

  validation {
    condition     = can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", var.cluster_name))
    error_message = "The cluster name must be 1 to 100 letters, digits, hyphens or underscores, starting with a letter or digit."
  }
}

variable "collector_namespace" {
  description = "Namespace of the collector's service account; the IAM trust names it."
  type        = string
  default     = "tracing"
}

variable "collector_service_account" {
  description = "Name of the collector's service account; the IAM trust names it."
  type        = string
  default     = "node-xray-collector"
}

variable "collector_role_name" {
  description = "Name of the IAM role the collector's pods assume."
  type        = string
  default     = "shop-prod-node-xray-xray"
}

variable "collector_policy_arns" {
  description = "Managed policies attached to the collector's role. Tracing needs only AWSXRayDaemonWriteAccess."
  type        = list(string)
  default     = ["arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"]
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of the collector's role."
  type        = string
  default     = "arn:aws:iam::111122223333:policy/platform-boundary"
}

variable "cert_manager_addon_version" {
  description = "Pinned version of the cert-manager EKS community add-on, which the ADOT add-on requires."
  type        = string
  default     = "v1.18.2-eksbuild.2"

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+-eksbuild\\.[0-9]+$", var.cert_manager_addon_version))
    error_message = "Add-on versions have the form v1.2.3-eksbuild.1."
  }
}

variable "adot_addon_version" {
  description = "Pinned version of the ADOT EKS add-on (the OpenTelemetry Operator)."
  type        = string
  default     = "v0.141.0-eksbuild.1"

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+-eksbuild\\.[0-9]+$", var.adot_addon_version))
    error_message = "Add-on versions have the form v0.151.0-eksbuild.1."
  }
}

variable "tags" {
  description = "Tags put on every taggable resource."
  type        = map(string)
  default = {
    "xray-blueprints.io/blueprint" = "daemonset-otlp-proxy"
  }
}
