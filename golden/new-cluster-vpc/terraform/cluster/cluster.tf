# The EKS cluster, its managed node groups and its IAM OIDC provider.

data "aws_partition" "current" {}

data "aws_iam_policy_document" "cluster_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name               = "payments-tracing-cluster"
  assume_role_policy = data.aws_iam_policy_document.cluster_assume.json
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

# One customer managed key encrypts the cluster's Kubernetes secrets and its CloudWatch log groups.
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:In a key policy the resource "*" is this key; the account keeps administering it, as in the default key policy.
  #checkov:skip=CKV_AWS_111:In a key policy the resource "*" is this key; the account keeps administering it, as in the default key policy.
  #checkov:skip=CKV_AWS_356:In a key policy the resource "*" is this key; the account keeps administering it, as in the default key policy.
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${var.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncryption"
    actions = [
      "kms:Decrypt*",
      "kms:Describe*",
      "kms:Encrypt*",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${data.aws_partition.current.partition}:logs:${var.region}:${var.account_id}:log-group:/aws/eks/${var.cluster_name}/cluster",
        "arn:${data.aws_partition.current.partition}:logs:${var.region}:${var.account_id}:log-group:/aws/vpc/${var.cluster_name}/flow-logs",
      ]
    }
  }
}

resource "aws_kms_key" "this" {
  description         = "Encrypts the Kubernetes secrets and the log groups of EKS cluster ${var.cluster_name}."
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json
}

# EKS writes control plane logs to this group. Created here, it is encrypted and expires its events,
# where the group EKS would create keeps them forever in plain text.
resource "aws_cloudwatch_log_group" "cluster" {
  name              = "/aws/eks/${var.cluster_name}/cluster"
  retention_in_days = 365
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_eks_cluster" "this" {
  #checkov:skip=CKV_AWS_39:The blueprint asks for a public API endpoint, limited to var.public_access_cidrs.
  #checkov:skip=CKV_AWS_37:The blueprint chooses the control plane log types (var.cluster_log_types).
  name                      = var.cluster_name
  version                   = var.kubernetes_version
  role_arn                  = aws_iam_role.cluster.arn
  enabled_cluster_log_types = var.cluster_log_types

  access_config {
    authentication_mode = var.authentication_mode
    # Whoever applies this module gets cluster admin through an access entry, so that the same
    # identity can apply ../workloads next.
    bootstrap_cluster_creator_admin_permissions = true
  }

  vpc_config {
    subnet_ids              = aws_subnet.private[*].id
    endpoint_private_access = var.endpoint_private_access
    endpoint_public_access  = var.endpoint_public_access
    public_access_cidrs     = var.public_access_cidrs
  }

  encryption_config {
    resources = ["secrets"]

    provider {
      key_arn = aws_kms_key.this.arn
    }
  }

  depends_on = [
    aws_cloudwatch_log_group.cluster,
    aws_iam_role_policy_attachment.cluster,
    aws_route_table_association.private,
  ]
}

data "aws_iam_policy_document" "node_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "payments-tracing-node"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
}

# AmazonEKSWorkerNodePolicy also grants eks-auth:AssumeRoleForPodIdentity, which the EKS Pod
# Identity agent on the nodes needs.
resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset([
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
  ])

  role       = aws_iam_role.node.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/${each.value}"
}

resource "aws_eks_node_group" "this" {
  for_each = var.node_groups

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = each.key
  version         = aws_eks_cluster.this.version
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = aws_subnet.private[*].id
  ami_type        = each.value.ami_type
  capacity_type   = each.value.capacity_type
  instance_types  = each.value.instance_types
  disk_size       = each.value.disk_size

  scaling_config {
    min_size     = each.value.min_size
    max_size     = each.value.max_size
    desired_size = each.value.desired_size
  }

  # The cluster autoscaler, not Terraform, owns the desired size once the group exists.
  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }

  depends_on = [aws_iam_role_policy_attachment.node]
}

# IRSA: pods exchange their projected service account token for the collector role's credentials.
# No thumbprint_list: IAM checks the EKS issuer's certificate against its own library of trusted root
# certificate authorities and ignores thumbprints for it, and aws provider 5.x makes the argument
# optional (the tls provider that would compute one is not needed).
resource "aws_iam_openid_connect_provider" "this" {
  url            = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
}
