output "alert_policies" {
  description = "Alert policy display name (the Prometheus alert name) to id."
  value       = { for p in [google_monitoring_alert_policy.target_down, google_monitoring_alert_policy.api_absent, google_monitoring_alert_policy.error_rate, google_monitoring_alert_policy.latency, google_monitoring_alert_policy.circuit_breaker_open, google_monitoring_alert_policy.pipeline_stalled, google_monitoring_alert_policy.bus_lag, google_monitoring_alert_policy.network_unhealthy, google_monitoring_alert_policy.network_critical_finding, google_monitoring_alert_policy.empty_ticks_burst, google_monitoring_alert_policy.node_down, google_monitoring_alert_policy.model_down, google_monitoring_alert_policy.model_queue_backlog, google_monitoring_alert_policy.dead_letters] : p.display_name => p.id }
}

output "notification_channels" {
  description = "Severity to the notification channel ids its policies notify."
  value       = local.channels
}

output "incidents_topic" {
  description = "Topic Cloud Monitoring publishes incidents to (null without a pubsub channel)."
  value       = one(google_pubsub_topic.incidents[*].id)
}

output "log_metrics" {
  description = "Log-based metric names."
  value = [
    google_logging_metric.analysis_published.name, google_logging_metric.shard_unhealthy.name,
    google_logging_metric.analysis_health.name, google_logging_metric.critical_finding.name,
    google_logging_metric.empty_ticks_high.name,
  ]
}
