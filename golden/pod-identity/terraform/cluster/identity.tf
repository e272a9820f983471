# The collector's IAM role. Its trust names exactly the collector's namespace and service account,
# the same ones the workloads module and the Kubernetes manifests create.

data "aws_iam_policy_document" "collector_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }

    # EKS Pod Identity tags the role session with the pod's cluster, namespace and service account;
    # only the collector of this cluster and account may assume the role, even if another
    # association names it by mistake.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/eks-cluster-name"
      values   = [var.cluster_name]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-namespace"
      values   = [var.collector_namespace]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-service-account"
      values   = [var.collector_service_account]
    }
  }
}

resource "aws_iam_role" "collector" {
  name               = var.collector_role_name
  assume_role_policy = data.aws_iam_policy_document.collector_assume.json
}

resource "aws_iam_role_policy_attachment" "collector" {
  for_each = toset(var.collector_policy_arns)

  role       = aws_iam_role.collector.name
  policy_arn = each.value
}

# Binds the role to the collector's service account; the EKS Pod Identity agent hands its
# credentials to the collector's pods.
resource "aws_eks_pod_identity_association" "collector" {
  cluster_name    = data.aws_eks_cluster.this.name
  namespace       = var.collector_namespace
  service_account = var.collector_service_account
  role_arn        = aws_iam_role.collector.arn
}
