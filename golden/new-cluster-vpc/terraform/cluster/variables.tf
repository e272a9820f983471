# Every default comes from blueprint new-cluster-vpc: the module applies with no -var and no edits.

variable "region" {
  description = "AWS region of the cluster and of every resource of this module."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "account_id" {
  description = "AWS account the resources belong to; the provider refuses to work in any other."
  type        = string
  default     = "210987654321"

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "The account id must be 12 digits."
  }
}

variable "cluster_name" {
  description = "Name of the EKS cluster."
  type        = string
  default     = "payments-tracing"

  validation {
    condition     = can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", var.cluster_name))
    error_message = "The cluster name must be 1 to 100 letters, digits, hyphens or underscores, starting with a letter or digit."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes version of the EKS control plane and the managed node groups."
  type        = string
  default     = "1.34"

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "The Kubernetes version must have the form 1.NN."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC created for the cluster."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "The VPC CIDR must be an IPv4 CIDR block."
  }
}

variable "private_subnet_cidrs" {
  description = "CIDR blocks of the private subnets, one per availability zone, in zone name order. The cluster and its nodes use these."
  type        = list(string)
  default     = ["10.42.0.0/20", "10.42.16.0/20", "10.42.32.0/20"]

  validation {
    condition     = length(var.private_subnet_cidrs) >= 2 && alltrue([for cidr in var.private_subnet_cidrs : can(cidrhost(cidr, 0))])
    error_message = "EKS needs private subnets in at least two availability zones, each an IPv4 CIDR block."
  }
}

variable "public_subnet_cidrs" {
  description = "CIDR blocks of the public subnets (NAT gateway and internet-facing load balancers), one per availability zone, in zone name order."
  type        = list(string)
  default     = ["10.42.128.0/20", "10.42.144.0/20", "10.42.160.0/20"]

  validation {
    condition     = length(var.public_subnet_cidrs) >= 2 && alltrue([for cidr in var.public_subnet_cidrs : can(cidrhost(cidr, 0))])
    error_message = "The public subnets must span at least two availability zones, each an IPv4 CIDR block."
  }
}

variable "endpoint_public_access" {
  description = "Whether the Kubernetes API endpoint is reachable from the internet."
  type        = bool
  default     = true
}

variable "endpoint_private_access" {
  description = "Whether the Kubernetes API endpoint is reachable from inside the VPC."
  type        = bool
  default     = true
}

variable "public_access_cidrs" {
  description = "CIDR blocks allowed to reach the public Kubernetes API endpoint."
  type        = list(string)
  default     = ["203.0.113.0/24"]

  validation {
    condition     = length(var.public_access_cidrs) > 0 && alltrue([for cidr in var.public_access_cidrs : can(cidrhost(cidr, 0))])
    error_message = "Give at least one IPv4 CIDR block."
  }
}

variable "cluster_log_types" {
  description = "Control plane log types sent to CloudWatch Logs."
  type        = list(string)
  default     = ["api", "audit", "authenticator"]

  validation {
    condition     = alltrue([for t in var.cluster_log_types : contains(["api", "audit", "authenticator", "controllerManager", "scheduler"], t)])
    error_message = "Log types are api, audit, authenticator, controllerManager and scheduler."
  }
}

variable "authentication_mode" {
  description = "How the cluster authenticates IAM principals: access entries only (API) or access entries and the aws-auth ConfigMap (API_AND_CONFIG_MAP)."
  type        = string
  default     = "API"

  validation {
    condition     = contains(["API", "API_AND_CONFIG_MAP"], var.authentication_mode)
    error_message = "The authentication mode must be API or API_AND_CONFIG_MAP."
  }
}

variable "node_groups" {
  description = "Managed node groups, keyed by node group name."
  type = map(object({
    ami_type       = string
    capacity_type  = string
    desired_size   = number
    disk_size      = number
    instance_types = list(string)
    max_size       = number
    min_size       = number
  }))
  default = {
    system = {
      ami_type       = "AL2023_x86_64_STANDARD"
      capacity_type  = "ON_DEMAND"
      desired_size   = 3
      disk_size      = 50
      instance_types = ["m6i.large", "m7i.large"]
      max_size       = 5
      min_size       = 2
    }
  }

  validation {
    condition     = alltrue([for g in values(var.node_groups) : g.min_size <= g.desired_size && g.desired_size <= g.max_size])
    error_message = "Each node group needs min_size <= desired_size <= max_size."
  }

  validation {
    condition     = alltrue([for g in values(var.node_groups) : contains(["ON_DEMAND", "SPOT"], g.capacity_type)])
    error_message = "The capacity type must be ON_DEMAND or SPOT."
  }
}

variable "collector_namespace" {
  description = "Namespace of the collector's service account; the IAM trust names it."
  type        = string
  default     = "observability"
}

variable "collector_service_account" {
  description = "Name of the collector's service account; the IAM trust names it."
  type        = string
  default     = "xray-collector"
}

variable "collector_role_name" {
  description = "Name of the IAM role the collector's pods assume."
  type        = string
  default     = "payments-tracing-xray-xray"
}

variable "collector_policy_arns" {
  description = "Managed policies attached to the collector's role. Tracing needs only AWSXRayDaemonWriteAccess."
  type        = list(string)
  default     = ["arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"]
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
  default     = "v0.151.0-eksbuild.1"

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+-eksbuild\\.[0-9]+$", var.adot_addon_version))
    error_message = "Add-on versions have the form v0.151.0-eksbuild.1."
  }
}

variable "tags" {
  description = "Tags put on every taggable resource."
  type        = map(string)
  default = {
    cost-center                    = "4711"
    team                           = "payments"
    "xray-blueprints.io/blueprint" = "new-cluster-vpc"
  }
}
