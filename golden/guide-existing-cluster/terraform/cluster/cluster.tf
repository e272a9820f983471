# The cluster exists already: this module reads it and never changes it.
data "aws_eks_cluster" "this" {
  name = var.cluster_name
}

# IRSA needs the cluster's IAM OIDC provider. For an existing cluster it must exist already
# (`eksctl utils associate-iam-oidc-provider --cluster <name> --approve` creates it); the plan fails
# with "no matching IAM OIDC provider" if it does not.
data "aws_iam_openid_connect_provider" "this" {
  url = data.aws_eks_cluster.this.identity[0].oidc[0].issuer
}
