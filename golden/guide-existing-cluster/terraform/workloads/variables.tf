# Every default comes from blueprint guide-existing-cluster: the module applies with no -var and no edits.
# The values must match ../cluster's, which has the same defaults.

variable "region" {
  description = "AWS region of the cluster."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "account_id" {
  description = "AWS account of the cluster; the aws provider refuses to work in any other."
  type        = string
  default     = "123456789012"

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "The account id must be 12 digits."
  }
}

variable "cluster_name" {
  description = "Name of the EKS cluster the objects go to."
  type        = string
  default     = "k8s-production-cluster"
}

variable "collector_namespace" {
  description = "Namespace of the collector; ../cluster's IAM trust names it."
  type        = string
  default     = "aws-otel-eks"
}

variable "collector_service_account" {
  description = "Service account of the collector; ../cluster's IAM trust names it."
  type        = string
  default     = "aws-otel-collector"
}

variable "collector_role_name" {
  description = "Name of the collector's IAM role, created by ../cluster."
  type        = string
  default     = "EKS-ADOT-ServiceAccount-Role"
}
