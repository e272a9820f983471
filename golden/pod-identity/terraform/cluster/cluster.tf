# The cluster exists already: this module reads it and never changes it.
data "aws_eks_cluster" "this" {
  name = var.cluster_name
}
