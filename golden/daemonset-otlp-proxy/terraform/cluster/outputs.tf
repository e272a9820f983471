output "region" {
  description = "AWS region of the cluster."
  value       = var.region
}

output "cluster_name" {
  description = "Name of the EKS cluster; ../workloads reads the cluster by this name."
  value       = data.aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "Endpoint of the Kubernetes API server."
  value       = data.aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64-encoded certificate authority of the Kubernetes API server."
  value       = data.aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_oidc_issuer_url" {
  description = "OIDC issuer URL of the cluster."
  value       = data.aws_eks_cluster.this.identity[0].oidc[0].issuer
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider, which the collector role trusts."
  value       = data.aws_iam_openid_connect_provider.this.arn
}

output "collector_role_name" {
  description = "Name of the collector's IAM role; ../workloads reads the role by this name."
  value       = aws_iam_role.collector.name
}

output "collector_role_arn" {
  description = "ARN of the collector's IAM role, the service account's eks.amazonaws.com/role-arn annotation."
  value       = aws_iam_role.collector.arn
}

output "collector_namespace" {
  description = "Namespace of the collector's service account."
  value       = var.collector_namespace
}

output "collector_service_account" {
  description = "Name of the collector's service account."
  value       = var.collector_service_account
}

output "adot_addon_version" {
  description = "Version of the ADOT add-on, which decides the OpenTelemetryCollector API version."
  value       = aws_eks_addon.adot.addon_version
}
