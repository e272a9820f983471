# The collector's Kubernetes objects, the same as in ../../kubernetes/. Apply this module after
# ../cluster: the OpenTelemetryCollector's CRD comes from the ADOT add-on, and kubernetes_manifest
# needs it at plan time.

data "aws_eks_cluster" "this" {
  name = var.cluster_name
}

# The role ../cluster created; its ARN goes into the service account's IRSA annotation.
data "aws_iam_role" "collector" {
  name = var.collector_role_name
}

resource "kubernetes_namespace_v1" "collector" {
  metadata {
    name = var.collector_namespace
    labels = {
      "app.kubernetes.io/component"  = "collector"
      "app.kubernetes.io/instance"   = "xray"
      "app.kubernetes.io/managed-by" = "xray-blueprints"
      "app.kubernetes.io/name"       = "xray-collector"
      "app.kubernetes.io/part-of"    = "new-cluster-vpc"
      "app.kubernetes.io/version"    = "0.1.0"
    }
  }
}

resource "kubernetes_service_account_v1" "collector" {
  metadata {
    name      = var.collector_service_account
    namespace = kubernetes_namespace_v1.collector.metadata[0].name
    labels = {
      "app.kubernetes.io/component"  = "collector"
      "app.kubernetes.io/instance"   = "xray"
      "app.kubernetes.io/managed-by" = "xray-blueprints"
      "app.kubernetes.io/name"       = "xray-collector"
      "app.kubernetes.io/part-of"    = "new-cluster-vpc"
      "app.kubernetes.io/version"    = "0.1.0"
    }
    annotations = {
      "eks.amazonaws.com/role-arn"               = data.aws_iam_role.collector.arn
      "eks.amazonaws.com/sts-regional-endpoints" = "true"
    }
  }

  # The collector never calls the Kubernetes API, so its pods get no API token. AWS credentials come
  # from IRSA's own projected token (the role-arn annotation above).
  automount_service_account_token = false
}

# The operator (ADOT add-on) turns this into the collector's deployment and the Service
# xray-collector.
resource "kubernetes_manifest" "collector" {
  manifest = {
    apiVersion = "opentelemetry.io/v1beta1"
    kind       = "OpenTelemetryCollector"
    metadata = {
      name      = "xray"
      namespace = kubernetes_namespace_v1.collector.metadata[0].name
      labels = {
        "app.kubernetes.io/component"  = "collector"
        "app.kubernetes.io/instance"   = "xray"
        "app.kubernetes.io/managed-by" = "xray-blueprints"
        "app.kubernetes.io/name"       = "xray-collector"
        "app.kubernetes.io/part-of"    = "new-cluster-vpc"
        "app.kubernetes.io/version"    = "0.1.0"
      }
    }
    spec = {
      autoscaler = {
        maxReplicas          = 6
        minReplicas          = 2
        targetCPUUtilization = 70
      }
      config = {
        exporters = {
          awsxray = {
            index_all_attributes = false
            indexed_attributes   = ["tenant", "http.route"]
            region               = "eu-west-1"
          }
        }
        extensions = {
          health_check = {
            endpoint = "0.0.0.0:13133"
          }
        }
        processors = {
          batch = {
            send_batch_max_size = 50
            send_batch_size     = 50
            timeout             = "1s"
          }
        }
        receivers = {
          awsxray = {
            endpoint  = "0.0.0.0:2000"
            transport = "udp"
          }
          otlp = {
            protocols = {
              grpc = {
                endpoint = "0.0.0.0:4317"
              }
              http = {
                endpoint = "0.0.0.0:4318"
              }
            }
          }
        }
        service = {
          extensions = ["health_check"]
          pipelines = {
            traces = {
              exporters  = ["awsxray"]
              processors = ["batch"]
              receivers  = ["awsxray", "otlp"]
            }
          }
        }
      }
      env = [
        {
          name  = "AWS_REGION"
          value = "eu-west-1"
        },
      ]
      image           = "ghcr.io/xray-blueprints/xray-collector:0.1.0"
      imagePullPolicy = "IfNotPresent"
      mode            = "deployment"
      podDisruptionBudget = {
        maxUnavailable = 1
      }
      podSecurityContext = {
        fsGroup      = 10001
        runAsGroup   = 10001
        runAsNonRoot = true
        runAsUser    = 10001
        seccompProfile = {
          type = "RuntimeDefault"
        }
      }
      ports = [
        {
          name     = "xray"
          port     = 2000
          protocol = "UDP"
        },
      ]
      replicas = 2
      resources = {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        requests = {
          cpu    = "100m"
          memory = "128Mi"
        }
      }
      securityContext = {
        allowPrivilegeEscalation = false
        capabilities = {
          drop = ["ALL"]
        }
        privileged             = false
        readOnlyRootFilesystem = true
        runAsGroup             = 10001
        runAsNonRoot           = true
        runAsUser              = 10001
        seccompProfile = {
          type = "RuntimeDefault"
        }
      }
      serviceAccount  = kubernetes_service_account_v1.collector.metadata[0].name
      upgradeStrategy = "none"
    }
  }

  # The operator's HorizontalPodAutoscaler writes spec.replicas through the scale subresource; the
  # cluster's value is taken as is instead of being reset at every apply.
  computed_fields = ["metadata.annotations", "metadata.labels", "spec.replicas"]
}
