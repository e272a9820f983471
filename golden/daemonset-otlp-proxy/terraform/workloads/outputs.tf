output "xray_daemon_address" {
  description = "What applications using an X-Ray SDK set as AWS_XRAY_DAEMON_ADDRESS."
  value       = "node-xray-collector.${kubernetes_namespace_v1.collector.metadata[0].name}:2000"
}

output "collector_service" {
  description = "The Service the operator creates for the collector, in the collector's namespace."
  value       = "node-xray-collector"
}
