# The collector's IAM role. Its trust names exactly the collector's namespace and service account,
# the same ones the workloads module and the Kubernetes manifests create.

locals {
  # IAM condition keys spell the issuer without its https:// scheme.
  oidc_issuer = replace(aws_iam_openid_connect_provider.this.url, "https://", "")
}

data "aws_iam_policy_document" "collector_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.collector_namespace}:${var.collector_service_account}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
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
