# The collector's Kubernetes objects, the same as in ../../kubernetes/. Apply this module after
# ../cluster: the OpenTelemetryCollector's CRD comes from the ADOT add-on, and kubernetes_manifest
# needs it at plan time.

data "aws_eks_cluster" "this" {
  name = var.cluster_name
}

resource "kubernetes_namespace_v1" "collector" {
  metadata {
    name = var.collector_namespace
    labels = {
      "app.kubernetes.io/component"  = "collector"
      "app.kubernetes.io/instance"   = "xray"
      "app.kubernetes.io/managed-by" = "xray-blueprints"
      "app.kubernetes.io/name"       = "xray-collector"
      "app.kubernetes.io/part-of"    = "pod-identity"
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
      "app.kubernetes.io/part-of"    = "pod-identity"
      "app.kubernetes.io/version"    = "0.1.0"
    }
  }

  # The collector never calls the Kubernetes API, so its pods get no API token. AWS credentials come
  # from EKS Pod Identity (the association in ../cluster).
  automount_service_account_token = false
}

# The operator (ADOT add-on) turns this into the collector's statefulset and the Service
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
        "app.kubernetes.io/part-of"    = "pod-identity"
        "app.kubernetes.io/version"    = "0.1.0"
      }
    }
    spec = {
      config = {
        exporters = {
          awsxray = {
            index_all_attributes = false
            indexed_attributes   = ["aws.region"]
            region               = "us-west-2"
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
        }
        service = {
          extensions = ["health_check"]
          pipelines = {
            traces = {
              exporters  = ["awsxray"]
              processors = ["batch"]
              receivers  = ["awsxray"]
            }
          }
        }
      }
      env = [
        {
          name  = "AWS_REGION"
          value = "us-west-2"
        },
      ]
      image           = "ghcr.io/xray-blueprints/xray-collector:0.1.0"
      imagePullPolicy = "IfNotPresent"
      mode            = "statefulset"
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
      replicas = 3
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
}
