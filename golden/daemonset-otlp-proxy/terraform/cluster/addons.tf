# The EKS add-ons, in install order. The ADOT add-on installs the OpenTelemetry Operator, whose
# webhook certificate comes from cert-manager, so cert-manager must be ACTIVE first (depends_on).
# The add-on is used only for the operator (configuration_values "{}"): the collector itself is the
# OpenTelemetryCollector of ../workloads.

resource "aws_eks_addon" "cert_manager" {
  cluster_name                = data.aws_eks_cluster.this.name
  addon_name                  = "cert-manager"
  addon_version               = var.cert_manager_addon_version
  configuration_values        = "{}"
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
}

resource "aws_eks_addon" "adot" {
  cluster_name                = data.aws_eks_cluster.this.name
  addon_name                  = "adot"
  addon_version               = var.adot_addon_version
  configuration_values        = "{}"
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  depends_on = [aws_eks_addon.cert_manager]
}
