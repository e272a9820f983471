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
      "app.kubernetes.io/instance"   = "node-xray"
      "app.kubernetes.io/managed-by" = "xray-blueprints"
      "app.kubernetes.io/name"       = "xray-collector"
      "app.kubernetes.io/part-of"    = "daemonset-otlp-proxy"
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
      "app.kubernetes.io/instance"   = "node-xray"
      "app.kubernetes.io/managed-by" = "xray-blueprints"
      "app.kubernetes.io/name"       = "xray-collector"
      "app.kubernetes.io/part-of"    = "daemonset-otlp-proxy"
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

# The operator (ADOT add-on) turns this into the collector's daemonset and the Service
# node-xray-collector.
resource "kubernetes_manifest" "collector" {
  manifest = {
    apiVersion = "opentelemetry.io/v1beta1"
    kind       = "OpenTelemetryCollector"
    metadata = {
      name      = "node-xray"
      namespace = kubernetes_namespace_v1.collector.metadata[0].name
      labels = {
        "app.kubernetes.io/component"  = "collector"
        "app.kubernetes.io/instance"   = "node-xray"
        "app.kubernetes.io/managed-by" = "xray-blueprints"
        "app.kubernetes.io/name"       = "xray-collector"
        "app.kubernetes.io/part-of"    = "daemonset-otlp-proxy"
        "app.kubernetes.io/version"    = "0.1.0"
      }
    }
    spec = {
      config = {
        exporters = {
          awsxray = {
            index_all_attributes = true
            indexed_attributes   = []
            region               = "ap-southeast-2"
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
            timeout             = "2s"
          }
        }
        receivers = {
          awsxray = {
            endpoint = "0.0.0.0:2000"
            proxy_server = {
              endpoint = "0.0.0.0:2000"
              region   = "ap-southeast-2"
            }
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
          value = "ap-southeast-2"
        },
      ]
      image           = "ghcr.io/xray-blueprints/xray-collector@sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904e1e8bd1c6e7a5d7c2f3a1b0e"
      imagePullPolicy = "IfNotPresent"
      mode            = "daemonset"
      nodeSelector = {
        "kubernetes.io/os" = "linux"
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
          hostPort = 2000
          name     = "xray"
          port     = 2000
          protocol = "UDP"
        },
        {
          hostPort = 2000
          name     = "xray-proxy"
          port     = 2000
          protocol = "TCP"
        },
      ]
      resources = {
        limits = {
          cpu    = "500m"
          memory = "256Mi"
        }
        requests = {
          cpu    = "50m"
          memory = "64Mi"
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
      serviceAccount = kubernetes_service_account_v1.collector.metadata[0].name
      tolerations = [
        {
          effect   = "NoSchedule"
          operator = "Exists"
        },
      ]
      upgradeStrategy = "none"
    }
  }
}
